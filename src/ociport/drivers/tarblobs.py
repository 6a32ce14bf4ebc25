"""Copying blobs from a store into a tar archive, verified while they are copied."""

from __future__ import annotations

from collections.abc import Callable

from ociport.content.helpers import ProgressCallback, copy_stream
from ociport.content.interfaces import ReadableContent
from ociport.oci.descriptor import Descriptor
from ociport.streams.tario import TarWriter

__all__ = ["add_blob_member", "blob_member_name"]


def blob_member_name(descriptor: Descriptor) -> str:
    """``blobs/<algorithm>/<encoded>``: where an OCI image layout keeps a blob."""
    return f"blobs/{descriptor.digest.algorithm}/{descriptor.digest.encoded}"


def add_blob_member(
    tar: TarWriter,
    store: ReadableContent,
    descriptor: Descriptor,
    name: str,
    progress: ProgressCallback | None = None,
) -> None:
    """Stream one blob into ``tar`` as member ``name``, hashing it on the way.

    :raises BlobNotFoundError: the store lacks the blob.
    :raises DigestMismatchError, SizeMismatchError: the stored bytes are corrupt; the
        member is already (partly) written, so the caller must discard the archive.
    """
    hasher = descriptor.digest.hasher()

    def copy(write: Callable[[memoryview], object]) -> int:
        with store.open_blob(descriptor) as stream:
            return copy_stream(
                stream,
                write,
                descriptor.size,
                hasher=hasher,
                progress=progress,
                where=name,
            )

    tar.add_stream(name, descriptor.size, copy)
    hasher.verify(descriptor.digest, descriptor.size, name)
