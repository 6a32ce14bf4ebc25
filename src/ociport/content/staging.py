"""StagingArea: the blobs of one import, verified and durable but not yet published.

A single-pass import meets blobs before it knows which of them the selected images need,
and it may meet a fatal problem (a truncated archive, a bad document) after many blobs.
So every blob is written and checked as it streams past (:meth:`BlobWriter.prepare`), and
only once the whole source was read and the selection resolved does the import publish
the blobs it needs (:meth:`StagingArea.commit`); the rest is discarded. A failed import
leaves the store exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Final

from ociport.content.helpers import ProgressCallback, copy_stream, exists, read_blob
from ociport.content.interfaces import BlobInfo, BlobWriter, ContentStore
from ociport.descriptor import Descriptor
from ociport.digest import Digest
from ociport.errors import BlobExistsError, BlobNotFoundError, DocumentTooLargeError
from ociport.manifest import MAX_DOCUMENT_SIZE

__all__ = ["StagingArea"]

#: Total bytes of JSON documents kept in memory for one import (256 MiB).
DOCUMENT_BUDGET: Final = 256 << 20


class StagingArea:
    """Verified, unpublished blobs of one import; a context manager that discards them.

    :param store: where blobs go.
    :param max_document: largest blob kept in memory as a possible JSON document.
    :param progress: called with byte counts as data is read.
    """

    def __init__(
        self,
        store: ContentStore,
        *,
        max_document: int = MAX_DOCUMENT_SIZE,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._store = store
        self._max_document = max_document
        self._progress = progress
        self._writers: dict[Digest, BlobWriter] = {}
        self._sizes: dict[Digest, int] = {}
        self._in_store: set[Digest] = set()
        self._documents: dict[Digest, bytes] = {}
        self._budget = DOCUMENT_BUDGET

    def add(self, digest: Digest, size: int, stream: IO[bytes], *, where: str) -> None:
        """Read ``size`` bytes from ``stream``, check they hash to ``digest``, stage them.

        A blob already committed in the store, or already staged, is still read and
        checked (the archive must be sound) but not written again.

        :raises DigestMismatchError, SizeMismatchError: the bytes are not ``digest``.
        :raises FormatError: ``stream`` ended early.
        """
        keep = size <= self._max_document and size <= self._budget
        captured = bytearray() if keep else None

        def capture(chunk: memoryview) -> None:
            if captured is not None:
                captured.extend(chunk)

        if digest in self._sizes or exists(self._store, digest):
            hasher = digest.hasher()
            copy_stream(stream, capture, size, hasher=hasher, progress=self._progress, where=where)
            hasher.verify(digest, size, where)
            if digest not in self._sizes:
                self._in_store.add(digest)
                self._sizes[digest] = size
        else:
            writer = self._store.writer(ingest_id=f"staging-{id(self):x}-{digest}")
            try:
                def sink(chunk: memoryview) -> None:
                    writer.write(chunk)
                    capture(chunk)

                copy_stream(stream, sink, size, progress=self._progress, where=where)
                writer.prepare(size, digest)
            except BaseException:
                writer.abort()
                raise
            self._writers[digest] = writer
            self._sizes[digest] = size
        if captured is not None and captured.lstrip()[:1] == b"{":
            self._documents[digest] = bytes(captured)
            self._budget -= size

    def has(self, digest: Digest) -> bool:
        """Whether ``digest`` was staged or is already committed in the store."""
        return digest in self._sizes or exists(self._store, digest)

    def size_of(self, digest: Digest) -> int | None:
        """The byte count of a staged blob, else ``None``."""
        return self._sizes.get(digest)

    def read_document(self, descriptor: Descriptor) -> bytes:
        """The bytes of a manifest, index or config that was staged or is in the store.

        :raises BlobNotFoundError: when neither staged nor committed.
        :raises DocumentTooLargeError: when staged but too large to be a document.
        """
        digest = descriptor.digest
        if digest in self._documents:
            return self._documents[digest]
        if digest in self._writers:
            raise DocumentTooLargeError(self._sizes[digest], self._max_document, member=str(digest))
        if digest in self._in_store or exists(self._store, digest):
            return read_blob(self._store, descriptor, max_size=self._max_document)
        raise BlobNotFoundError(digest)

    def commit(self, digests: Iterable[Digest]) -> list[BlobInfo]:
        """Publish the staged blobs among ``digests``; returns those newly committed."""
        committed = []
        for digest in sorted(set(digests)):
            writer = self._writers.pop(digest, None)
            if writer is None:
                continue
            try:
                committed.append(writer.commit())
            except BlobExistsError:
                pass
        return committed

    def abort(self) -> None:
        """Discard every blob not committed."""
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.abort()

    def __enter__(self) -> StagingArea:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()
