"""StagingArea: the blobs of one import, verified and durable but not yet published.

A single-pass import meets blobs before it knows which of them the selected images need,
and it may meet a fatal problem (a truncated archive, a bad document) after many blobs.
So every blob is written and checked as it streams past (:meth:`BlobWriter.prepare`), and
only once the whole source was read and the selection resolved does the import publish
the blobs it needs (:meth:`StagingArea.commit`); the rest is discarded. A failed import
leaves the store exactly as it was.

Without a store the area only hashes (``inspect``): blobs are checked and measured,
small JSON documents kept, and nothing is written.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Final

from ociport.content.helpers import ProgressCallback, copy_stream, exists, read_blob
from ociport.content.interfaces import BlobInfo, BlobWriter, ContentStore
from ociport.content.leases import Lease
from ociport.content.progress import ProgressCounter, ProgressLike
from ociport.errors import (
    BlobExistsError,
    BlobNotFoundError,
    DocumentTooLargeError,
    FormatError,
)
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest, Hasher
from ociport.oci.manifest import MAX_DOCUMENT_SIZE

__all__ = ["StagingArea"]

_ids = itertools.count()

#: Total bytes of JSON documents kept in memory for one import (256 MiB).
DOCUMENT_BUDGET: Final = 256 << 20
#: Blobs up to this size (256 KiB) are staged in memory, not in the store: a file
#: created, fsynced and removed per tiny blob would dominate an archive of many.
SMALL_BLOB: Final = 256 << 10
#: Total bytes of small blobs held in memory for one import (32 MiB).
SMALL_BLOB_BUDGET: Final = 32 << 20


class _Capture:
    """Keeps the first bytes of a blob, and all of it when it may be a JSON document."""

    __slots__ = ("data", "head")

    def __init__(self, keep_all: bool) -> None:
        self.data: bytearray | None = bytearray() if keep_all else None
        self.head = b""

    def add(self, chunk: memoryview) -> None:
        if len(self.head) < 16:
            self.head += bytes(chunk[: 16 - len(self.head)])
        if self.data is not None:
            self.data.extend(chunk)


class StagingArea:
    """Verified, unpublished blobs of one import; a context manager that discards them.

    :param store: where blobs go; ``None`` to only hash (inspection).
    :param max_document: largest blob kept in memory as a possible JSON document.
    :param progress: told of each blob as it begins and of its bytes as they are read
        (a :class:`~ociport.content.progress.Progress`, or a callable taking byte
        counts).
    :param on_commit: called with each blob :meth:`commit` publishes, as it does.
    :param lease: the import's lease (:mod:`ociport.content.leases`): a blob the store
        has is held before the area relies on it, so that gc spares it.
    """

    def __init__(
        self,
        store: ContentStore | None,
        *,
        max_document: int = MAX_DOCUMENT_SIZE,
        progress: ProgressLike | None = None,
        on_commit: Callable[[BlobInfo], object] | None = None,
        lease: Lease | None = None,
    ) -> None:
        self._store = store
        self._lease = lease
        self._on_commit = on_commit
        self._max_document = max_document
        self._progress = ProgressCounter.wrap(progress)
        self._writers: dict[Digest, BlobWriter] = {}
        self._sizes: dict[Digest, int] = {}
        self._heads: dict[Digest, bytes] = {}
        self._documents: dict[Digest, bytes] = {}
        self._small: dict[Digest, bytes] = {}
        self._budget = DOCUMENT_BUDGET
        self._small_budget = SMALL_BLOB_BUDGET
        # Blobs may be staged from several threads at once (add_many).
        self._mutex = threading.Lock()

    def add(self, digest: Digest, size: int, stream: IO[bytes], *, where: str) -> None:
        """Read ``size`` bytes from ``stream``, check they hash to ``digest``, stage them.

        A blob already committed in the store, or already staged, is still read and
        checked (the archive must be sound) but not written again.

        :raises DigestMismatchError, SizeMismatchError: the bytes are not ``digest``.
        :raises FormatError: ``stream`` ended early.
        """
        self._stage(stream, size, where, digest)

    def add_unknown(self, size: int, stream: IO[bytes], *, where: str) -> Digest:
        """Stage ``size`` bytes whose digest is not known in advance (a Docker archive's
        ``<id>/layer.tar``); returns the sha256 digest computed while writing.

        :raises FormatError: ``stream`` ended early.
        """
        return self._stage(stream, size, where, None)

    def _stage(
        self, stream: IO[bytes], size: int, where: str, digest: Digest | None
    ) -> Digest:
        with self._mutex:
            small = self._store is not None and size <= min(
                SMALL_BLOB, self._small_budget
            )
            if small:
                self._small_budget -= size  # reserved before the bytes arrive
        document = size <= self._max_document and size <= self._budget
        captured = _Capture(document or small)
        progress = self._ticker(digest, size, where)
        if small or self._store is None or (digest is not None and self._reuse(digest)):
            hasher = digest.hasher() if digest is not None else Hasher()
            copy_stream(
                stream,
                captured.add,
                size,
                hasher=hasher,
                progress=progress,
                where=where,
            )
            if digest is None:
                digest = hasher.digest()
            hasher.verify(digest, size, where)
            with self._mutex:
                self._sizes.setdefault(digest, size)
                if small and captured.data is not None:
                    self._small.setdefault(digest, bytes(captured.data))
        else:
            digest = self._write(stream, size, where, digest, captured, progress)
        with self._mutex:
            self._heads[digest] = captured.head
            if (
                document
                and captured.data is not None
                and captured.data.lstrip()[:1] == b"{"
            ):
                self._documents[digest] = bytes(captured.data)
                self._budget -= size
        return digest

    def add_many(
        self,
        blobs: Sequence[tuple[Digest, int, Callable[[], IO[bytes]], str]],
        *,
        threads: int,
    ) -> None:
        """Stage independent blobs ``(digest, size, open_stream, where)`` on up to
        ``threads`` threads at once (hashing one blob cannot use two cores; two blobs can).

        Every blob is staged or the first error is raised once all have finished; the
        streams are opened on the worker threads and closed there.
        """

        def stage(item: tuple[Digest, int, Callable[[], IO[bytes]], str]) -> None:
            digest, size, open_stream, where = item
            with open_stream() as stream:
                self._stage(stream, size, where, digest)

        ordered = sorted(
            blobs, key=lambda item: -item[1]
        )  # big ones first: even finish
        if threads <= 1 or len(ordered) <= 1:
            for item in ordered:
                stage(item)
            return
        with concurrent.futures.ThreadPoolExecutor(
            threads, thread_name_prefix="ociport-stage"
        ) as pool:
            futures = [pool.submit(stage, item) for item in ordered]
        for future in futures:
            future.result()

    def _reuse(self, digest: Digest) -> bool:
        """Whether a blob need not be written: staged already, or committed in the store
        (and then held by the lease first, so that a concurrent gc spares it)."""
        if digest in self._sizes:
            return True
        assert self._store is not None
        if not exists(self._store, digest):
            return False
        if self._lease is None:
            return True
        self.hold([digest])
        return exists(self._store, digest)  # gone if a gc deleted it before the hold

    def _write(
        self,
        stream: IO[bytes],
        size: int,
        where: str,
        expected: Digest | None,
        captured: _Capture,
        progress: ProgressCallback | None,
    ) -> Digest:
        # With the digest known the store may write straight to the final key (S3):
        # held first, so that gc spares the upload (and the blob once committed).
        known = Descriptor("", expected, size) if expected is not None else None
        if (
            known is not None
            and self._lease is not None
            and getattr(self._store, "direct_writes", False)
        ):
            self.hold([known.digest])
        writer = self._writer(known)
        try:

            def sink(chunk: memoryview) -> None:
                writer.write(chunk)
                captured.add(chunk)

            copy_stream(stream, sink, size, progress=progress, where=where)
            digest = writer.prepare(size, expected)
        except BaseException:
            writer.abort()
            raise
        with self._mutex:
            duplicate = self.has(
                digest
            )  # only when the digest was not known in advance
            if not duplicate:
                self._writers[digest] = writer
                self._sizes[digest] = size
            else:
                self._sizes.setdefault(digest, size)
        if duplicate:
            writer.abort()
        return digest

    @property
    def progress(self) -> ProgressCounter | None:
        """The import's progress report (counting the bytes reported), if any."""
        return self._progress

    def _ticker(
        self, digest: Digest | None, size: int, where: str
    ) -> ProgressCallback | None:
        """Announce a blob to the progress report; its byte-count callback."""
        if self._progress is None:
            return None
        return self._progress.ticker(str(digest) if digest else where, size)

    def _writer(self, expected: Descriptor | None) -> BlobWriter:
        assert self._store is not None
        return self._store.writer(
            ingest_id=f"staging-{id(self):x}-{next(_ids)}", expected=expected
        )

    def head(self, digest: Digest) -> bytes:
        """The first bytes (up to 16) of a blob staged by this area, for magic numbers."""
        return self._heads.get(digest, b"")

    def staged(self, digest: Digest) -> bool:
        """Whether ``digest`` went through this area (staged, or checked and found in
        the store)."""
        return digest in self._sizes

    def blob_sizes(self) -> list[tuple[Digest, int]]:
        """Every blob that went through this area, with its size in bytes."""
        with self._mutex:
            return list(self._sizes.items())

    def has(self, digest: Digest) -> bool:
        """Whether ``digest`` was staged or is already committed in the store."""
        return digest in self._sizes or (
            self._store is not None and exists(self._store, digest)
        )

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        """A committed blob's bytes; staged ones are not readable until committed.

        :raises BlobNotFoundError: not committed in the store.
        """
        if self._store is None or not exists(self._store, descriptor.digest):
            raise BlobNotFoundError(descriptor.digest)
        return self._store.open_blob(descriptor)

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
        staged_only = digest in self._small or self._store is None
        if digest in self._writers or (staged_only and digest in self._sizes):
            size = self._sizes[digest]
            head = self._heads.get(digest, b"")
            if size <= self._max_document and head.lstrip()[:1] != b"{":
                raise FormatError("blob is not a JSON object", member=str(digest))
            raise DocumentTooLargeError(size, self._max_document, member=str(digest))
        if self._store is not None and exists(self._store, digest):
            return read_blob(self._store, descriptor, max_size=self._max_document)
        raise BlobNotFoundError(digest)

    def hold(self, digests: Iterable[Digest]) -> None:
        """Hold ``digests`` in the lease (if any) before they are written or relied on."""
        if self._lease is not None:
            self._lease.hold(digests)

    def protect(self, digests: Iterable[Digest]) -> list[Digest]:
        """Hold ``digests`` in the lease, then check that each is staged here or
        committed in the store; returns those that are neither (a gc removed them
        before the hold), forgotten so that :meth:`add` writes them again."""
        wanted = sorted(set(digests))
        self.hold(wanted)
        gone = [
            digest
            for digest in wanted
            if digest not in self._writers
            and digest not in self._small
            and self._store is not None
            and not exists(self._store, digest)
        ]
        with self._mutex:
            for digest in gone:
                self._sizes.pop(digest, None)
        return gone

    def commit(self, digests: Iterable[Digest]) -> list[BlobInfo]:
        """Publish the staged blobs among ``digests``; returns those newly committed."""
        committed = []
        for digest in sorted(set(digests)):
            writer = self._writers.pop(digest, None)
            data = self._small.pop(digest, None)
            info = None
            if writer is not None:
                with contextlib.suppress(BlobExistsError):  # another import was first
                    info = writer.commit()
            elif data is not None:
                info = self._commit_small(digest, data)
            if info is not None:
                committed.append(info)
                if self._on_commit is not None:
                    self._on_commit(info)
        return committed

    def _commit_small(self, digest: Digest, data: bytes) -> BlobInfo | None:
        """Write and publish a blob held in memory; ``None`` when it exists already."""
        assert self._store is not None
        if exists(self._store, digest):
            return None
        with self._writer(Descriptor("", digest, len(data))) as writer:
            writer.write(data)
            try:
                return writer.commit(len(data), digest)
            except BlobExistsError:
                return None

    def abort(self) -> None:
        """Discard every blob not committed."""
        writers, self._writers = self._writers, {}
        self._small.clear()
        for writer in writers.values():
            writer.abort()

    def __enter__(self) -> StagingArea:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()
