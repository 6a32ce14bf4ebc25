"""The content store's roles as Protocols, after containerd's ``core/content/content.go``.

Lifecycle of a blob: a :class:`BlobWriter` from :meth:`Ingester.writer` receives bytes and
hashes them as they pass. :meth:`BlobWriter.prepare` checks size and digest and makes the
bytes durable without publishing them; :meth:`BlobWriter.commit` publishes them under
``blobs/<algorithm>/<encoded>``. Until commit nothing is visible to :class:`Provider`,
:class:`InfoProvider` or :meth:`Manager.walk`, and leaving the writer's ``with`` block
without a commit aborts it. Named images are the entries of the store's ``index.json``,
read and updated through :class:`ImageIndexStore`.

Third-party stores implement these protocols; nothing needs to be inherited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest

if TYPE_CHECKING:
    from ociport.streams.location import Location

__all__ = [
    "BlobInfo",
    "BlobWriter",
    "ContentStore",
    "ImageIndexStore",
    "InfoProvider",
    "Ingester",
    "Manager",
    "Provider",
    "ReadableContent",
    "ReadableImages",
]


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What the store knows of a committed blob.

    :ivar digest: the blob's digest.
    :ivar size: its length in bytes.
    :ivar created_at: commit time as a POSIX timestamp (seconds), when the backend
        records one.
    """

    digest: Digest
    size: int
    created_at: float | None = None


@runtime_checkable
class Provider(Protocol):
    """Reads committed blobs."""

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        """Open a committed blob for reading; the caller closes the stream.

        Only ``descriptor.digest`` selects the blob; ``descriptor.size`` is checked when
        ``verify`` is true.

        :param verify: hash while reading; reading to the end raises
            :class:`~ociport.errors.DigestMismatchError` or
            :class:`~ociport.errors.SizeMismatchError` on corrupt content.
        :raises BlobNotFoundError: when no such blob is committed.
        """
        ...


@runtime_checkable
class InfoProvider(Protocol):
    """Answers what is committed."""

    def info(self, digest: Digest) -> BlobInfo:
        """Size and commit time of a blob.

        :raises BlobNotFoundError: when no such blob is committed.
        """
        ...


class BlobWriter(Protocol):
    """An ingest in progress; a context manager that aborts unless committed."""

    @property
    def digest(self) -> Digest:
        """Digest of the bytes written so far."""
        ...

    @property
    def offset(self) -> int:
        """Number of bytes written so far."""
        ...

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data``; returns the number of bytes written."""
        ...

    def prepare(
        self, size: int | None = None, expected: Digest | None = None
    ) -> Digest:
        """Check size and digest and make the bytes durable, without publishing.

        The first phase of a two-phase commit: an import prepares every blob of an
        archive and commits them only once the whole archive was read and checked.

        :raises SizeMismatchError, DigestMismatchError: the ingest is aborted first.
        """
        ...

    def commit(
        self, size: int | None = None, expected: Digest | None = None
    ) -> BlobInfo:
        """Check (unless prepared) and publish the blob.

        :raises SizeMismatchError, DigestMismatchError: nothing was published.
        :raises BlobExistsError: the blob was already committed; this ingest was
            discarded (callers that only want the blob present treat this as success).
        """
        ...

    def abort(self) -> None:
        """Discard the ingest; a no-op after commit or abort."""
        ...

    def __enter__(self) -> BlobWriter: ...

    def __exit__(self, *exc_info: object) -> None: ...


@runtime_checkable
class Ingester(Protocol):
    """Creates writers."""

    def writer(
        self, *, ingest_id: str, expected: Descriptor | None = None
    ) -> BlobWriter:
        """Start an ingest.

        :param ingest_id: caller's key for the ingest; two live writers in one process
            may not share it.
        :param expected: the blob's descriptor when known, which lets a backend publish
            by completing an upload rather than copying.
        :raises IngestLockedError: another live writer holds ``ingest_id``.
        """
        ...


@runtime_checkable
class Manager(Protocol):
    """Lists and deletes committed blobs."""

    def walk(self, *, algorithm: str | None = None) -> Iterator[BlobInfo]:
        """Yield every committed blob (of one algorithm when given), in no fixed order."""
        ...

    def delete(self, digest: Digest) -> None:
        """Remove a committed blob.

        :raises BlobNotFoundError: when no such blob is committed.
        """
        ...


@runtime_checkable
class ImageIndexStore(Protocol):
    """The store's ``index.json``: its named images."""

    def read_index(self) -> tuple[Descriptor, ...]:
        """The current entries of ``index.json``."""
        ...

    def update_index(
        self, change: Callable[[list[Descriptor]], Sequence[Descriptor]]
    ) -> tuple[Descriptor, ...]:
        """Atomically replace the entries with ``change(current_entries)``.

        The read-modify-write is serialised against every other process updating the
        same store, so no concurrent update is lost. ``change`` may be called more than
        once (on a retried conditional write) and must not have side effects.
        """
        ...


@runtime_checkable
class ReadableContent(Provider, InfoProvider, Protocol):
    """What an export reads from: blobs and whether they exist (a store, or a view of
    one)."""


@runtime_checkable
class ReadableImages(ReadableContent, Protocol):
    """What an export plans from: blobs, and the ``index.json`` entries that list the
    images and referrers (a store, or a source being copied straight to a
    destination)."""

    def read_index(self) -> tuple[Descriptor, ...]:
        """The entries: named images, and referrers as unnamed entries."""
        ...


@runtime_checkable
class ContentStore(
    Provider, InfoProvider, Ingester, Manager, ImageIndexStore, Protocol
):
    """All roles together: what drivers import into and export from."""

    @property
    def location(self) -> Location:
        """Where the store lives."""
        ...
