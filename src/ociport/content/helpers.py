"""Free functions over the narrowest content role, after containerd's ``helpers.go``."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Final

from ociport.content.interfaces import (
    BlobInfo,
    InfoProvider,
    Ingester,
    Provider,
    ReadableContent,
)
from ociport.errors import (
    BlobExistsError,
    BlobNotFoundError,
    DocumentTooLargeError,
    FormatError,
)
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import CHUNK_SIZE, Digest, Hasher
from ociport.streams.background import submit

__all__ = [
    "STORED_DOCUMENT_LIMIT",
    "ContentDocuments",
    "ProgressCallback",
    "copy_blob",
    "copy_stream",
    "exists",
    "read_blob",
    "verified",
    "write_blob",
]

#: Called with the number of bytes just moved.
ProgressCallback = Callable[[int], None]


def copy_stream(
    source: IO[bytes],
    sink: Callable[[memoryview], object],
    size: int | None,
    *,
    hasher: Hasher | None = None,
    progress: ProgressCallback | None = None,
    where: str = "",
) -> int:
    """Move ``size`` bytes (or all, when ``None``) from ``source`` into ``sink``.

    Reusable buffers of at most 4 MiB, so memory does not depend on the blob's size.
    Past one chunk there are two: while one chunk is hashed and written, the next is
    read into the other on a worker thread (file reads, hashing and writes all release
    the GIL, so they overlap). ``source`` is never read past ``size`` bytes.

    :param hasher: fed every byte on the way.
    :returns: the number of bytes moved.
    :raises FormatError: when ``source`` ends before ``size`` bytes (a truncated archive).
    """
    read = _chunk_reader(source)
    # Read ahead only into our own buffers: a source without readinto makes a new bytes
    # object per chunk, and made on worker threads those pile up in per-thread arenas.
    ahead = hasattr(source, "readinto") and (size is None or size > CHUNK_SIZE)
    capacity = CHUNK_SIZE if size is None else min(CHUNK_SIZE, size)
    buffers = [memoryview(bytearray(capacity)) for _ in range(2 if ahead else 1)]
    want = _want(size, 0)
    chunk = read(buffers[0][:want]) if want else _EMPTY
    moved = 0
    while chunk:
        moved += len(chunk)
        want = _want(size, moved)
        spare = buffers[-1] if chunk.obj is buffers[0].obj else buffers[0]
        following = submit(read, spare[:want]) if ahead and want else None
        try:
            _deliver(chunk, sink, hasher)
        except BaseException:
            if following is not None:
                following.exception()  # wait: no read may still run once we return
            raise
        if progress is not None:
            progress(len(chunk))
        if following is not None:
            chunk = following.result()
        else:
            chunk = read(spare[:want]) if want else _EMPTY
    if size is not None and moved < size:
        raise FormatError(
            f"unexpected end of data after {moved} of {size} bytes",
            member=where or None,
        )
    return moved


_EMPTY: Final = memoryview(b"")


def _want(size: int | None, moved: int) -> int:
    return CHUNK_SIZE if size is None else min(CHUNK_SIZE, size - moved)


def _chunk_reader(source: IO[bytes]) -> Callable[[memoryview], memoryview]:
    """``read(buffer)``: the next bytes of ``source``, at most ``len(buffer)``; read into
    ``buffer`` when the source has ``readinto``, else a view of what ``read`` returned
    (no copy either way)."""
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        return lambda buffer: buffer[: readinto(buffer)]
    return lambda buffer: memoryview(source.read(len(buffer)))


def _deliver(
    chunk: memoryview, sink: Callable[[memoryview], object], hasher: Hasher | None
) -> None:
    if hasher is None:
        sink(chunk)
    else:  # hashed on a worker thread while written; both end before this returns
        hasher.update_during(chunk, lambda: sink(chunk))


#: Largest document read whole from a store by default (64 MiB). Stored content was
#: verified on the way in, possibly under a raised ``--max-document`` or by another
#: tool; the tighter 4 MiB cap guards reading untrusted archives.
STORED_DOCUMENT_LIMIT: Final = 64 << 20


def read_blob(
    provider: Provider, descriptor: Descriptor, *, max_size: int = STORED_DOCUMENT_LIMIT
) -> bytes:
    """Read a whole blob, verified: for manifests, indexes and configs, never layers.

    :raises DocumentTooLargeError: when the descriptor's size exceeds ``max_size``.
    :raises BlobNotFoundError, DigestMismatchError, SizeMismatchError: as named.
    """
    if descriptor.size > max_size:
        raise DocumentTooLargeError(
            descriptor.size, max_size, member=str(descriptor.digest)
        )
    with provider.open_blob(descriptor, verify=True) as stream:
        return stream.read()


def write_blob(
    ingester: Ingester,
    source: IO[bytes],
    descriptor: Descriptor,
    *,
    ingest_id: str | None = None,
    progress: ProgressCallback | None = None,
) -> BlobInfo:
    """Stream ``descriptor.size`` bytes from ``source`` into a verified blob.

    Idempotent: a blob that is already committed counts as success.

    :raises DigestMismatchError, SizeMismatchError: nothing was published.
    :raises FormatError: ``source`` ended early.
    """
    with ingester.writer(
        ingest_id=ingest_id or str(descriptor.digest), expected=descriptor
    ) as w:
        copy_stream(
            source,
            w.write,
            descriptor.size,
            progress=progress,
            where=str(descriptor.digest),
        )
        try:
            return w.commit(descriptor.size, descriptor.digest)
        except BlobExistsError:
            return BlobInfo(descriptor.digest, descriptor.size)


def copy_blob(
    source: Provider, destination: Ingester, descriptor: Descriptor
) -> BlobInfo:
    """Copy one blob between stores, verified on the way."""
    with source.open_blob(descriptor) as stream:
        return write_blob(destination, stream, descriptor)


def exists(info_provider: InfoProvider, digest: Digest) -> bool:
    """Whether ``digest`` is committed."""
    try:
        info_provider.info(digest)
    except BlobNotFoundError:
        return False
    return True


def verified(descriptor: Descriptor, data: bytes, where: str) -> bytes:
    """``data``, once checked to be the blob ``descriptor`` names.

    :raises DigestMismatchError, SizeMismatchError: it is not; naming ``where``.
    """
    hasher = descriptor.digest.hasher()
    hasher.update(data)
    hasher.verify(descriptor.digest, descriptor.size, where)
    return data


class ContentDocuments:
    """A store seen as a :class:`~ociport.oci.walk.DocumentProvider`, for walks.

    :param content: the store (or any provider with ``info``).
    :param max_size: cap on a document's size in bytes.
    """

    __slots__ = ("content", "max_size")

    def __init__(
        self, content: ReadableContent, max_size: int = STORED_DOCUMENT_LIMIT
    ) -> None:
        self.content = content
        self.max_size = max_size

    def has(self, digest: Digest) -> bool:
        """Whether the blob is committed."""
        return exists(self.content, digest)

    def read_document(self, descriptor: Descriptor) -> bytes:
        """The verified bytes of a document (see :func:`read_blob`)."""
        return read_blob(self.content, descriptor, max_size=self.max_size)
