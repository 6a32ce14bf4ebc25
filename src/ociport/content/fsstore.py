"""FsspecContentStore: a content store that is an OCI image layout on any fsspec filesystem.

Two write paths, chosen per writer by :meth:`FsspecContentStore.writer`:

- **direct** (:class:`~ociport.content.objectwriter.ObjectBlobWriter`): the expected
  digest is known and the backend is an object store that honours ``autocommit=False``
  (S3): upload to the final key, complete the upload only once verified;
- **ingest** (:class:`~ociport.content.writer.FsspecBlobWriter`): everything else, that is
  local disks and NFS (a temporary file in ``ingest/``, fsync, rename: no slower than a
  plain write), an unknown digest (the key is not known until the end), and backends
  that publish at ``close()`` (``memory://``).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, BinaryIO, Final, cast, final

from ociport.content.imageindex import LayoutIndexFile
from ociport.content.interfaces import BlobInfo, BlobWriter
from ociport.content.locks import STALE_AFTER
from ociport.content.objectwriter import ObjectBlobWriter, honours_deferred_commit
from ociport.content.writer import FsspecBlobWriter, IngestLocks
from ociport.errors import BlobNotFoundError, InvalidDigestError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest, VerifyingReader
from ociport.streams.location import Location

__all__ = ["FsspecContentStore"]

_ALGORITHMS: Final = ("sha256", "sha512")
_counter = itertools.count()


def _timestamp(details: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "created"):
        value = details.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
    return None


@final
class FsspecContentStore:
    """Blobs at ``blobs/<algorithm>/<encoded>``, names in ``index.json``, on fsspec.

    The root is a valid OCI image layout that skopeo (``oci:DIR``), umoci and
    oci-image-tool read directly. A blob appears under ``blobs/`` only after its size and
    digest were checked (see the module docstring for the two write paths).

    :param location: the store root; created with ``oci-layout`` and an empty
        ``index.json`` when missing.
    :param direct_writes: write blobs of known digest straight to their final key;
        ``None`` (default): on object stores whose backend honours ``autocommit=False``
        (probed once per filesystem class), never on local paths.
    :param stale_after: seconds after which an ``index.json.lock`` on an object store
        counts as abandoned (:mod:`ociport.content.locks`).
    :param create: create a missing store; else raise
        :class:`~ociport.errors.StoreNotFoundError` (read-only commands never create one,
        nor an S3 bucket).
    """

    def __init__(
        self,
        location: Location,
        *,
        direct_writes: bool | None = None,
        stale_after: float = STALE_AFTER,
        create: bool = True,
    ) -> None:
        self._location = location
        self._index = LayoutIndexFile(location, stale_after=stale_after, create=create)
        self._locks = IngestLocks()
        self._direct = False if location.is_local else direct_writes

    @property
    def direct_writes(self) -> bool:
        """Whether blobs of known digest go straight to their final key (probes once)."""
        if self._direct is None:
            self._direct = honours_deferred_commit(self._location)
        return self._direct

    @property
    def location(self) -> Location:
        return self._location

    def __repr__(self) -> str:
        return f"FsspecContentStore({self._location.url!r})"

    def _blob(self, digest: Digest) -> Location:
        # ``digest`` is a parsed Digest: its fields cannot hold "/" or "..".
        return self._location.join("blobs", digest.algorithm, digest.encoded)

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        path = self._blob(descriptor.digest)
        try:
            stream = path.fs.open(path.path, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(descriptor.digest) from exc
        if verify:
            return cast(
                BinaryIO, VerifyingReader(stream, descriptor.digest, descriptor.size)
            )
        return cast(BinaryIO, stream)

    def info(self, digest: Digest) -> BlobInfo:
        path = self._blob(digest)
        try:
            details = path.fs.info(path.path)
        except FileNotFoundError as exc:
            raise BlobNotFoundError(digest) from exc
        return BlobInfo(digest, int(details["size"]), _timestamp(details))

    def writer(
        self, *, ingest_id: str, expected: Descriptor | None = None
    ) -> BlobWriter:
        """A writer on the direct path when ``expected`` is given and
        :attr:`direct_writes` holds, else on the ingest path.

        :raises IngestLockedError: a live writer of this store holds ``ingest_id``.
        """
        self._locks.acquire(ingest_id)

        def release() -> None:
            self._locks.release(ingest_id)

        try:
            if expected is not None and self.direct_writes:
                final = self._blob(expected.digest)
                return ObjectBlobWriter(final, expected.digest, expected.size, release)
            key = hashlib.sha256(ingest_id.encode()).hexdigest()[:32]
            temp = self._location.join(
                "ingest", f"{key}.{os.getpid()}.{next(_counter)}"
            )
            algorithm = expected.digest.algorithm if expected else "sha256"
            return FsspecBlobWriter(temp, self._blob, release, algorithm)
        except BaseException:
            release()
            raise

    def walk(self, *, algorithm: str | None = None) -> Iterator[BlobInfo]:
        for alg in (algorithm,) if algorithm else _ALGORITHMS:
            top = self._location.join("blobs", alg)
            try:
                found = top.fs.find(top.path, detail=True, maxdepth=1)
            except FileNotFoundError:
                continue
            for path, details in sorted(found.items()):
                if details.get("type") != "file":
                    continue
                try:
                    digest = Digest(alg, path.rsplit("/", 1)[-1])
                except InvalidDigestError:
                    continue
                yield BlobInfo(digest, int(details["size"]), _timestamp(details))

    def remove_stale_ingests(self, cutoff: float, *, dry_run: bool = False) -> int:
        """Remove temporary ingest files last written before ``cutoff`` (a POSIX time):
        what a process that died mid-import left behind. Returns how many there were."""
        ingest = self._location.join("ingest")
        try:
            found = ingest.fs.find(ingest.path, detail=True)
        except FileNotFoundError:
            return 0
        stale = [p for p, d in found.items() if (_timestamp(d) or cutoff) < cutoff]
        for path in stale if not dry_run else ():
            with contextlib.suppress(FileNotFoundError):
                ingest.fs.rm_file(path)
        return len(stale)

    def delete(self, digest: Digest) -> None:
        path = self._blob(digest)
        # Object stores (S3) delete a missing key without complaint: look first.
        if not path.fs.exists(path.path):
            raise BlobNotFoundError(digest)
        try:
            path.fs.rm_file(path.path)
        except FileNotFoundError as exc:
            raise BlobNotFoundError(digest) from exc

    def read_index(self) -> tuple[Descriptor, ...]:
        return self._index.read_index()

    def update_index(
        self, change: Callable[[list[Descriptor]], Sequence[Descriptor]]
    ) -> tuple[Descriptor, ...]:
        return self._index.update_index(change)
