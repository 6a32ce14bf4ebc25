"""The driver contract (v2): a driver knows one format and nothing else.

The engine (:mod:`ociport.engine`) owns every job, once for every format; a driver only
reads and writes its format, as go-containerregistry's ``layout``/``tarball`` packages
do and as containerd's importer only reads an archive into the content store.

Import (and ``inspect``), for every format:

1. **Detection.** :meth:`ImageDriver.sniff` looks at the first bytes or the location.
2. **Open.** :meth:`ImageDriver.open_source` returns an :class:`ImageSource`: the
   roots the source holds (descriptors with the annotations its format gives them),
   plus a :class:`SourceProvider` for their content. A stream is read once, front to
   back: the driver hands each blob to ``context.stage`` (a
   :class:`~ociport.content.staging.StagingArea`: verified and durable, not visible)
   and returns the staging area as the provider. A seekable or remote source reads
   only headers and documents here; its provider opens blobs on demand, so only what
   the selection needs is ever read. A format without manifests of its own
   (``docker-archive``) builds them here, stages them like any blob and says so
   (:attr:`ImageSource.rebuilds_manifests`).
3. **The engine's part.** Select roots (ref name, whole index), walk them with the
   platform selection, check sizes, stage what is still needed through the provider,
   commit (firing ``ociport_blob_committed`` per blob), name, report notes. With
   ``inspect`` the stage only hashes, and nothing is committed.
4. **Close.** The engine closes the source (:meth:`ImageSource.close`).

Export: the engine plans (names, the platform-filtered or whole index, the blob set,
files from plugins) into an :class:`~ociport.drivers.plan.ExportPlan`, opens the
target (atomically, for paths and URLs) and calls :meth:`ImageDriver.write`, which only
lays the bytes out.

A driver whose transport names images rather than files (:attr:`ImageDriver.addressed`:
a registry's ``docker://HOST/REPO:TAG``) is never given a path or stream: the engine
calls :meth:`ImageDriver.open_address` and :meth:`ImageDriver.write_address` with an
:class:`~ociport.streams.address.ImageAddress` instead, and the rest is the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, ClassVar, Protocol

from ociport.content.helpers import ProgressCallback
from ociport.errors import UnsupportedSourceError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest

if TYPE_CHECKING:
    from ociport.content.staging import StagingArea
    from ociport.drivers.plan import ExportPlan
    from ociport.streams.address import ImageAddress
    from ociport.streams.location import Location

__all__ = ["ImageDriver", "ImageSource", "SourceContext", "SourceProvider"]


class SourceProvider(Protocol):
    """The content of a source, in the spirit of containerd's ``content.Provider``."""

    def has(self, digest: Digest) -> bool:
        """Whether the source holds the blob."""

    def size_of(self, digest: Digest) -> int | None:
        """The size in bytes of a blob the source holds, else ``None``."""

    def read_document(self, descriptor: Descriptor) -> bytes:
        """A whole manifest, index or config, verified against ``descriptor``.

        :raises DocumentTooLargeError: larger than the context's ``max_document``.
        :raises DigestMismatchError, SizeMismatchError: not the bytes named.
        :raises BlobNotFoundError: the source lacks it.
        """

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        """A stream of the blob's bytes (the engine verifies while it copies; the
        caller closes the stream). Not called for blobs already staged.

        :raises BlobNotFoundError: the source lacks it.
        """


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What the engine gives a driver opening a source.

    :ivar stage: where a one-pass read puts blobs, verified and invisible until the
        engine commits the ones the selection needs (hash-only for ``inspect``).
    :ivar max_document: cap on a JSON document, in bytes.
    :ivar label: the source, for messages (a URL, ``-``, a stream's name).
    :ivar oci_manifests: formats that build manifests build OCI ones rather than
        Docker schema 2 ones.
    :ivar progress: called with counts of bytes read that are not staged (``stage``
        reports each blob it reads itself, for every driver).
    """

    stage: StagingArea
    max_document: int
    label: str
    oci_manifests: bool = False
    progress: ProgressCallback | None = None


@dataclass(slots=True)
class ImageSource:
    """What a source holds, as :meth:`ImageDriver.open_source` found it.

    :ivar roots: the images, in source order, each with the annotations the format
        gives it (``org.opencontainers.image.ref.name``, ``io.containerd.image.name``).
    :ivar provider: the source's content (often ``context.stage`` for streams).
    :ivar index_document: the bytes of the source's own ``index.json``, for importing it
        whole (``--index-name``); ``None`` when the format has none.
    :ivar notes: things worth telling the user.
    :ivar rebuilds_manifests: the manifests were built by the driver, so their digests
        differ from those of the images that were saved (``docker save`` archives).
    :ivar blob_threads: how many blobs the engine may read from the provider at once.
    :ivar list_blobs: every blob the source holds, as ``(digest, size in bytes)``, for
        finding referrers no ``index.json`` entry lists (image-spec 1.1 ``subject``:
        a layout may hold a signature only as a blob); ``None`` when the format keeps
        no such blobs.
    :ivar on_close: releases what the source holds open.
    """

    roots: list[Descriptor]
    provider: SourceProvider
    index_document: bytes | None = None
    notes: list[str] = field(default_factory=list)
    rebuilds_manifests: bool = False
    blob_threads: int = 1
    list_blobs: Callable[[], Iterable[tuple[Digest, int]]] | None = None
    on_close: Callable[[], None] = lambda: None

    def close(self) -> None:
        """Release the source."""
        self.on_close()

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ImageDriver(ABC):
    """Reads and writes one image format.

    Registered by class (:class:`~ociport.drivers.registry.DriverRegistry`) and
    instantiated per job; holds no state. ``name`` follows skopeo's transport names
    (``oci``, ``oci-archive``, ``docker-archive``).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    #: Whether sources and targets may be streams (tar formats), not only locations.
    accepts_stream: ClassVar[bool]
    #: Whether a round trip keeps manifest digests (``False`` where the format has no
    #: manifests and they are rebuilt on import).
    preserves_digests: ClassVar[bool] = True
    #: Whether the format holds referrers (signatures, SBOMs: image-spec 1.1
    #: ``subject``) as unnamed ``index.json`` entries: :meth:`write` then writes
    #: ``plan.referrers`` too; otherwise the engine leaves them out with a note.
    holds_referrers: ClassVar[bool] = False
    #: Whether the transport names images rather than files (``docker://HOST/REPO``):
    #: the engine then calls :meth:`open_address` and :meth:`write_address`, never
    #: :meth:`sniff`, and ``TRANSPORT:`` is followed by one address, not PATH[:REF].
    addressed: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        """Cheaply tell whether a source is in this format.

        :param head: the first bytes (64 KiB when there are that many), decompressed,
            of a file or stream source; ``None`` for a directory.
        :param location: the source location when it is a path or URL, else ``None``.
        """

    @abstractmethod
    def open_source(
        self, source: IO[bytes] | Location, context: SourceContext
    ) -> ImageSource:
        """Read what ``source`` holds (see the module docstring for the lifecycle).

        :param source: a location, or an uncompressed stream (drivers with
            ``accepts_stream``).
        :raises FormatError: malformed source (truncated, bad JSON, bad member name).
        :raises DigestMismatchError, SizeMismatchError: a staged blob is not what its
            name says.
        :raises UnsupportedSourceError: a kind of source the driver cannot read.
        """

    @abstractmethod
    def write(self, plan: ExportPlan, target: IO[bytes] | Location) -> None:
        """Lay out ``plan.entries`` and ``plan.blobs`` in this format (and
        ``plan.referrers``, as unnamed ``index.json`` entries, in formats that
        :attr:`holds_referrers`: :meth:`ExportPlan.index_entries` lists both).

        Read blobs from ``plan.content`` (verified while copied: see
        :func:`~ociport.drivers.kit.add_blob_member`). Drivers with ``accepts_stream``
        get a write-only stream (the engine opened a path or URL atomically; do not
        seek, a pipe or an object store cannot); others get the location, and the
        engine removes it when it did not exist and the driver raises. Files from
        plugins (``plan.members``) are written where the format has room for them
        (after ``index.json`` in tar formats) and may be left out elsewhere.

        :raises MissingContentError, DigestMismatchError: a blob is absent or corrupt.
        :raises FormatError: the plan cannot be written in this format.
        """

    def open_address(
        self, address: ImageAddress, context: SourceContext
    ) -> ImageSource:
        """As :meth:`open_source`, for an :attr:`addressed` driver: read what
        ``address`` names (only its documents here; the provider reads blobs on
        demand).

        :raises UnsupportedSourceError: the driver is not addressed.
        """
        raise UnsupportedSourceError(self.name, f"an image address ({address})")

    def write_address(self, plan: ExportPlan, address: ImageAddress) -> None:
        """As :meth:`write`, for an :attr:`addressed` driver: store ``plan`` at
        ``address``, blobs before the documents that name them.

        :raises UnsupportedSourceError: the driver is not addressed.
        """
        raise UnsupportedSourceError(self.name, f"an image address ({address})")
