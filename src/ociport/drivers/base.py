"""The ImageDriver interface: one driver per archive or layout format."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, ClassVar

from ociport.content.helpers import ProgressCallback
from ociport.content.interfaces import BlobInfo, ContentStore, ReadableContent
from ociport.errors import UnsupportedSourceError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.walk import PlatformSelection
from ociport.streams.location import Location

__all__ = ["ImageDriver", "ImportReport", "ImportRequest", "SourceContents"]


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """What to take from a source.

    :ivar selection: which platforms of multi-platform images.
    :ivar ref_name: take only the root with this ref name (or image name).
    :ivar whole_index: keep the source's ``index.json`` as one image index (containerd's
        ``--index-name``) instead of one image per entry.
    :ivar max_document: cap for a JSON document, in bytes.
    :ivar progress: called with byte counts as data is read.
    :ivar oci_manifests: where a driver builds manifests itself (Docker archives have
        none), build OCI manifests rather than Docker schema 2 ones.
    """

    selection: PlatformSelection = field(default_factory=PlatformSelection)
    ref_name: str | None = None
    whole_index: bool = False
    max_document: int = 4 << 20
    progress: ProgressCallback | None = None
    oci_manifests: bool = False


@dataclass(slots=True)
class ImportReport:
    """What an import did.

    :ivar roots: the imported roots, each with the annotations its source gave it.
    :ivar missing: content the source lacked and the selection allowed to skip, with the
        digest that referenced it.
    :ivar committed: blobs newly committed to the store.
    :ivar notes: things worth telling the user.
    """

    roots: list[Descriptor] = field(default_factory=list)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    committed: list[BlobInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SourceContents:
    """A source's metadata, for inspection without importing.

    :ivar roots: the entries of the source's ``index.json`` (or synthesised roots).
    :ivar read: returns a document's verified bytes (manifests, indexes, configs).
    :ivar has: whether the source holds a blob.
    :ivar size_of: a held blob's size in bytes, else ``None``.
    :ivar close: releases the source (a no-op by default).
    """

    roots: list[Descriptor]
    read: Callable[[Descriptor], bytes]
    has: Callable[[Digest], bool]
    size_of: Callable[[Digest], int | None]
    close: Callable[[], None] = lambda: None


class ImageDriver(ABC):
    """Reads and writes one image format.

    Drivers are registered by class (see :class:`~ociport.drivers.registry.DriverRegistry`)
    and instantiated per operation; they hold no global state. ``name`` follows the
    skopeo/containers-image transport names (``oci``, ``oci-archive``, ``docker-archive``).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    #: Whether sources and targets may be streams (tar formats), not only locations.
    accepts_stream: ClassVar[bool]

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        """Cheaply tell whether a source is in this format.

        :param head: the first bytes (at least 64 KiB when available) of an uncompressed
            stream source, else ``None``.
        :param location: the source location when it is a path or URL, else ``None``.
        """

    @abstractmethod
    def import_image(
        self, source: IO[bytes] | Location, store: ContentStore, request: ImportRequest
    ) -> ImportReport:
        """Import the roots of ``source`` into ``store``.

        Every blob the selected roots need is committed before this returns, and nothing
        is committed when it raises. Naming the roots in the store is the caller's job.

        :raises FormatError: malformed source (truncated, bad JSON, bad member name).
        :raises DigestMismatchError, SizeMismatchError: a blob is not what its name says.
        :raises MissingContentError: a selected manifest lacks content.
        :raises RefNameNotFoundError: ``request.ref_name`` is not in the source.
        :raises UnsupportedSourceError: a stream given to a driver that needs a location.
        """

    def inspect(
        self, source: IO[bytes] | Location, *, max_document: int
    ) -> SourceContents:
        """Read a source's metadata: roots, documents, which blobs it holds.

        Reads only headers and documents where the source is seekable; a stream is read
        once without storing anything.

        :raises UnsupportedSourceError: the driver cannot inspect (the default).
        :raises FormatError: as for import.
        """
        raise UnsupportedSourceError(self.name, "inspection without import")

    @abstractmethod
    def export_image(
        self,
        store: ReadableContent,
        entries: Sequence[Descriptor],
        target: IO[bytes] | Location,
        *,
        progress: ProgressCallback | None = None,
        extra_members: Sequence[tuple[str, bytes]] = (),
    ) -> list[tuple[Descriptor, Digest]]:
        """Write ``entries`` (the target's ``index.json`` entries, annotated) and every
        blob they reach to ``target``.

        :param extra_members: ``(name, data)`` files that plugins contribute through
            ``ociport_archive_members`` (Docker's ``manifest.json``); tar formats write
            them after ``index.json``, before the blobs, and other formats may ignore them.

        :returns: content that was absent from the store and left out (partial images).
        :raises MissingContentError: a manifest's config or layer is absent.
        :raises DigestMismatchError: a stored blob is corrupt.
        """
