"""Free functions over the narrowest content role, after containerd's ``helpers.go``."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Final

from ociport.content.interfaces import BlobInfo, InfoProvider, Ingester, Provider
from ociport.descriptor import Descriptor
from ociport.digest import CHUNK_SIZE, Digest, Hasher
from ociport.errors import (
    BlobExistsError,
    BlobNotFoundError,
    DocumentTooLargeError,
    FormatError,
)

__all__ = [
    "STORED_DOCUMENT_LIMIT",
    "ProgressCallback",
    "copy_blob",
    "copy_stream",
    "exists",
    "read_blob",
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

    One reusable 4 MiB buffer: memory does not depend on the blob's size.

    :param hasher: fed every byte on the way.
    :returns: the number of bytes moved.
    :raises FormatError: when ``source`` ends before ``size`` bytes (a truncated archive).
    """
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    moved = 0
    readinto = getattr(source, "readinto", None)
    while size is None or moved < size:
        want = CHUNK_SIZE if size is None else min(CHUNK_SIZE, size - moved)
        if readinto is not None:
            n = readinto(view[:want])
            chunk = view[:n]
        else:
            data = source.read(want)
            n = len(data)
            chunk = memoryview(data)
        if not n:
            if size is None:
                break
            raise FormatError(f"unexpected end of data after {moved} of {size} bytes", member=where or None)
        if hasher is not None:
            hasher.update(chunk)
        sink(chunk)
        moved += n
        if progress is not None:
            progress(n)
    return moved


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
        raise DocumentTooLargeError(descriptor.size, max_size, member=str(descriptor.digest))
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
    with ingester.writer(ingest_id=ingest_id or str(descriptor.digest), expected=descriptor) as w:
        copy_stream(source, w.write, descriptor.size, progress=progress, where=str(descriptor.digest))
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
