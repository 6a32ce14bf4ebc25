"""The object-store blob writer: upload to the final key, complete only once verified.

On an object store (S3 through s3fs) a blob whose digest is known in advance is
written straight to ``blobs/<alg>/<encoded>`` through a file opened with
``autocommit=False``: the bytes go into a multipart upload that stays invisible until
:meth:`ObjectBlobWriter.commit` completes it, and :meth:`ObjectBlobWriter.abort` (or a
size or digest mismatch) aborts it. No partial or unverified object is ever visible,
and no copy is needed afterwards (the ingest path's ``mv`` is a server-side copy plus a
delete on S3). A process killed mid-write leaves an incomplete multipart upload:
never visible as an object, and aborted by ``content gc`` once older than its grace
period (or by a bucket lifecycle rule, ``AbortIncompleteMultipartUpload``).

Not every fsspec backend honours ``autocommit=False`` (``memory://`` publishes at once);
:func:`honours_deferred_commit` finds out, and the store falls back to the ingest path
(``content/writer.py``) where it does not.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import IO, Any, Final

from ociport.content.interfaces import BlobInfo
from ociport.content.writer import WriterLifecycle
from ociport.errors import BlobExistsError, ContentError, DigestMismatchError
from ociport.oci.digest import Digest, Hasher
from ociport.processes import owner_token
from ociport.streams.location import Location

__all__ = ["ObjectBlobWriter", "honours_deferred_commit", "part_size"]

#: Smallest upload part: S3 wants 5 MiB or more for every part but the last.
PART_SIZE: Final = 8 << 20
#: S3 accepts at most 10,000 parts; stay below, so that a blob of any size fits.
_MAX_PARTS: Final = 9000

_honoured: dict[type[Any], bool] = {}
_honoured_mutex = threading.Lock()


def part_size(size: int) -> int:
    """The upload part size for a blob of ``size`` bytes: 8 MiB, or more (whole MiB)
    when the blob would otherwise need more than 9,000 parts. It is also the memory
    each writer buffers."""
    needed = -(-max(size, 0) // _MAX_PARTS)
    return max(PART_SIZE, -(-needed // (1 << 20)) << 20)


def _discard(upload: IO[bytes]) -> None:
    """Abort an upload. Never inside the file's own ``with`` block: s3fs's exit would
    then try to upload the discarded buffer and fail. The file is marked closed
    afterwards so that its ``close`` (at garbage collection) does not try either. An
    upload that is gone already (``NoSuchUpload``: ``content gc`` aborted it as stale)
    is as discarded as it gets."""
    with contextlib.suppress(FileNotFoundError):
        upload.discard()  # type: ignore[attr-defined]
    with contextlib.suppress(AttributeError):
        upload.closed = True  # type: ignore[misc]


def _probe(location: Location) -> bool:
    fs = location.fs
    # Named as ingest files are (``<key>.<owner>.<n>``): gc spares it while we live.
    name = f"probe-{uuid.uuid4().hex}.{owner_token()}.0"
    key = location.join("ingest", name).path
    try:
        upload = fs.open(key, "wb", autocommit=False)
    except (TypeError, ValueError, NotImplementedError):
        return False
    try:
        upload.write(b"ociport: does this backend defer the commit?")
        upload.close()
        visible = bool(fs.exists(key))
    finally:
        _discard(upload)
    if visible:
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(key)
    return not visible


def honours_deferred_commit(location: Location) -> bool:
    """Whether the filesystem of ``location`` keeps a file opened with
    ``autocommit=False`` invisible after ``close()`` until ``commit()`` (s3fs: yes;
    ``memory://``: no).

    Found out once per filesystem class and process, by writing, closing, looking for
    and discarding a small probe object under ``ingest/`` (four requests on S3).
    """
    cls = type(location.fs)
    with _honoured_mutex:
        known = _honoured.get(cls)
    if known is None:
        known = _probe(location)
        with _honoured_mutex:
            _honoured[cls] = known
    return known


class ObjectBlobWriter(WriterLifecycle):
    """Writes one blob of known digest to its final key on an object store.

    Lifecycle: :meth:`write` feeds the hash and the upload (parts of
    :func:`part_size` bytes go up as they fill); :meth:`prepare` checks size and digest,
    then closes the file, uploading the last part; :meth:`commit` looks for the key (an
    existing blob raises :class:`~ociport.errors.BlobExistsError`) and completes the
    upload; :meth:`abort`, a mismatch or a failure discards it instead.

    :param final: the blob's key, named by the expected digest.
    :param expected: the digest the bytes must have (the key's).
    :param size_hint: the expected size, to choose the part size (0 when unknown).
    :param release: called exactly once when the writer is finished.
    :param guard: see :class:`~ociport.content.writer.WriterLifecycle`.
    :raises OSError: from fsspec, when the upload cannot be opened.
    """

    def __init__(
        self,
        final: Location,
        expected: Digest,
        size_hint: int,
        release: Callable[[], None],
        *,
        guard: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        super().__init__(release, guard)
        self._final = final
        self._expected = expected
        self._hasher = Hasher(expected.algorithm)
        self._upload: IO[bytes] = final.fs.open(
            final.path, "wb", autocommit=False, block_size=part_size(size_hint)
        )
        self._writing = True
        self._prepared: Digest | None = None

    @property
    def digest(self) -> Digest:
        return self._hasher.digest()

    @property
    def offset(self) -> int:
        return self._hasher.size

    def write(self, data: bytes | memoryview) -> int:
        if not self._writing:
            raise ContentError("write after prepare, commit or abort")
        self._hasher.update(data)
        with self._guard():
            self._upload.write(data)
        return len(data)

    def prepare(
        self, size: int | None = None, expected: Digest | None = None
    ) -> Digest:
        """Check size and digest, then upload the last part (nothing is visible yet).

        :raises DigestMismatchError: the bytes are not ``expected`` or not the digest
            the writer was opened for (its key); the upload is aborted.
        :raises SizeMismatchError: ``size`` is wrong; the upload is aborted.
        """
        if self._prepared is not None:
            return self._prepared
        try:
            actual = self._hasher.digest()
            self._hasher.verify(expected or self._expected, size)
            if actual != self._expected:
                raise DigestMismatchError(self._expected, actual)
            self._writing = False
            with self._guard():
                self._upload.close()
        except BaseException:
            self.abort()
            raise
        self._prepared = actual
        return actual

    def commit(
        self, size: int | None = None, expected: Digest | None = None
    ) -> BlobInfo:
        """Prepare if needed, then complete the upload: the blob appears whole.

        :raises BlobExistsError: the blob was already there; the upload is aborted.
        """
        digest = self.prepare(size, expected)
        try:
            with self._guard():
                if self._final.fs.exists(self._final.path):
                    raise BlobExistsError(digest)
                self._upload.commit()  # type: ignore[attr-defined]
        except BaseException:
            self.abort()
            raise
        self._finish()
        return BlobInfo(digest, self._hasher.size)

    def abort(self) -> None:
        """Abort the upload (a no-op after commit or abort)."""
        if self._done:
            return
        self._writing = False
        try:
            with self._guard():
                _discard(self._upload)
        finally:
            self._finish()
