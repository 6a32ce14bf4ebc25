"""A stand-in for the staging area that only hashes: inspecting an archive stores nothing.

It offers what :func:`~ociport_docker_archive.reader.read_archive` and the manifest
planning use (``add``, ``add_unknown``, ``head``, ``size_of``, ``read_document``,
``has``), keeping sizes, magic bytes and small JSON documents; other bytes are hashed
and dropped, so memory does not grow with the archive.
"""

from __future__ import annotations

from typing import IO, Final

from ociport.content.helpers import copy_stream
from ociport.errors import BlobNotFoundError, DigestMismatchError, FormatError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest, Hasher

__all__ = ["Survey"]

_HEAD: Final = 16


class Survey:
    """Digests, sizes, magic bytes and JSON documents of an archive's files.

    :param max_document: the largest file kept whole as a possible JSON document.
    """

    def __init__(self, max_document: int) -> None:
        self._max_document = max_document
        self._sizes: dict[Digest, int] = {}
        self._heads: dict[Digest, bytes] = {}
        self._documents: dict[Digest, bytes] = {}

    def add(self, digest: Digest, size: int, stream: IO[bytes], *, where: str) -> None:
        """Hash ``size`` bytes and check they are ``digest``."""
        found = self.add_unknown(size, stream, where=where)
        if found != digest:
            raise DigestMismatchError(digest, found, where)

    def add_unknown(self, size: int, stream: IO[bytes], *, where: str) -> Digest:
        """Hash ``size`` bytes; returns their sha256 digest."""
        hasher = Hasher()
        keep = bytearray() if size <= self._max_document else None
        head = bytearray()

        def sink(chunk: memoryview) -> None:
            if len(head) < _HEAD:
                head.extend(chunk[: _HEAD - len(head)])
            if keep is not None:
                keep.extend(chunk)

        copy_stream(stream, sink, size, hasher=hasher, where=where)
        digest = hasher.digest()
        self._sizes[digest] = size
        self._heads[digest] = bytes(head)
        if keep is not None and keep.lstrip()[:1] == b"{":
            self._documents[digest] = bytes(keep)
        return digest

    def head(self, digest: Digest) -> bytes:
        """The first bytes of a file."""
        return self._heads.get(digest, b"")

    def size_of(self, digest: Digest) -> int | None:
        """A file's size, if seen."""
        return self._sizes.get(digest)

    def has(self, digest: Digest) -> bool:
        """Whether a file with this digest was seen."""
        return digest in self._sizes

    def read_document(self, descriptor: Descriptor) -> bytes:
        """A kept JSON document.

        :raises BlobNotFoundError: never seen.
        :raises FormatError: seen but not kept (not JSON, or too large).
        """
        if descriptor.digest in self._documents:
            return self._documents[descriptor.digest]
        if descriptor.digest in self._sizes:
            raise FormatError("not a JSON document", member=str(descriptor.digest))
        raise BlobNotFoundError(descriptor.digest)
