"""FsspecContentStore: a content store that is an OCI image layout on any fsspec filesystem.

Two write paths, chosen per writer by :meth:`FsspecContentStore.writer`:

- **direct** (:class:`~ociport.content.objectwriter.ObjectBlobWriter`): the expected
  digest is known and the backend is an object store that honours ``autocommit=False``
  (S3): upload to the final key, complete the upload only once verified;
- **ingest** (:class:`~ociport.content.writer.FsspecBlobWriter`): everything else, that is
  local disks and NFS (a temporary file in ``ingest/``, fsync, rename: no slower than a
  plain write), an unknown digest (the key is not known until the end), and backends
  that publish at ``close()`` (``memory://``).

On a remote filesystem every failure of the store (its methods, its writers, the streams
:meth:`~FsspecContentStore.open_blob` returns) is a :class:`~ociport.errors.StorageError`
that names the store, the cause and a hint (:mod:`ociport.streams.storage_errors`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import IO, Any, BinaryIO, Final, cast, final

from ociport.content.imageindex import LayoutIndexFile
from ociport.content.interfaces import BlobInfo, BlobWriter
from ociport.content.leases import LeaseFiles
from ociport.content.locks import STALE_AFTER
from ociport.content.objectwriter import ObjectBlobWriter, honours_deferred_commit
from ociport.content.writer import FsspecBlobWriter, IngestLocks
from ociport.errors import BlobNotFoundError, InvalidDigestError, OciportError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest, VerifyingReader
from ociport.processes import is_dead, is_local, owner_token
from ociport.streams.fsinfo import modified_time
from ociport.streams.location import Location
from ociport.streams.storage_errors import Role, bucket_of, storage_errors

__all__ = ["FsspecContentStore"]

_ALGORITHMS: Final = ("sha256", "sha512")
_counter = itertools.count()


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
        :class:`~ociport.errors.StoreNotFoundError` (read-only commands never create one;
        no command creates an S3 bucket).
    :param single_writer: on an object store, do not require the server to honour
        conditional writes (the storage option ``ociport_single_writer=true``: the user
        vouches that one process at a time writes; see :mod:`ociport.content.locks`).
    :param role: what this layout is to the operation, for error messages: ``"store"``,
        or ``"destination"`` for a layout being exported.
    :raises ConditionalWritesError: creating or updating a store whose server ignores
        ``If-None-Match`` (unless ``single_writer``).
    :raises StorageError: a remote filesystem failed (credentials, a missing bucket).
    """

    def __init__(
        self,
        location: Location,
        *,
        direct_writes: bool | None = None,
        stale_after: float = STALE_AFTER,
        create: bool = True,
        single_writer: bool = False,
        role: Role = "store",
    ) -> None:
        self._location = location
        self._role: Role = role
        self._buckets = bucket_of(location) is not None
        with self._described():
            self._index = LayoutIndexFile(
                location,
                stale_after=stale_after,
                create=create,
                single_writer=single_writer,
                role=role,
            )
        self._locks = IngestLocks()
        self._direct = False if location.is_local else direct_writes
        self._leases = LeaseFiles(
            location,
            self._index.locked,
            functools.partial(self._index.write, durable=False),
            self._described,
        )
        self._pruned = False

    def _described(self) -> AbstractContextManager[None]:
        """Remote filesystem errors in the block become StorageErrors of this store."""
        return storage_errors(self._location, self._role)

    @property
    def direct_writes(self) -> bool:
        """Whether blobs of known digest go straight to their final key (probes once)."""
        if self._direct is None:
            with self._described():
                self._direct = honours_deferred_commit(self._location)
        return self._direct

    @property
    def location(self) -> Location:
        return self._location

    @property
    def leases(self) -> LeaseFiles:
        """The store's leases (:mod:`ociport.content.leases`)."""
        return self._leases

    def __repr__(self) -> str:
        return f"FsspecContentStore({self._location.url!r})"

    def _blob(self, digest: Digest) -> Location:
        # ``digest`` is a parsed Digest: its fields cannot hold "/" or "..".
        return self._location.join("blobs", digest.algorithm, digest.encoded)

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        path = self._blob(descriptor.digest)
        with self._described():
            try:
                raw = path.fs.open(path.path, "rb")
            except FileNotFoundError as exc:
                raise BlobNotFoundError(descriptor.digest) from exc
        stream = cast(IO[bytes], _DescribedStream(raw, self._described))
        if verify:
            return cast(
                BinaryIO, VerifyingReader(stream, descriptor.digest, descriptor.size)
            )
        return cast(BinaryIO, stream)

    def info(self, digest: Digest) -> BlobInfo:
        path = self._blob(digest)
        with self._described():
            try:
                details = path.fs.info(path.path)
            except FileNotFoundError as exc:
                raise BlobNotFoundError(digest) from exc
        return BlobInfo(digest, int(details["size"]), modified_time(details))

    def writer(
        self, *, ingest_id: str, expected: Descriptor | None = None
    ) -> BlobWriter:
        """A writer on the direct path when ``expected`` is given and
        :attr:`direct_writes` holds, else on the ingest path.

        :raises IngestLockedError: a live writer of this store holds ``ingest_id``.
        """
        self._locks.acquire(ingest_id)
        if not self._pruned:  # the first writer clears what dead writers left
            self._pruned = True
            with contextlib.suppress(OSError, OciportError):
                self.remove_stale_ingests(0.0)

        def release() -> None:
            self._locks.release(ingest_id)

        guard = self._described
        try:
            with self._described():
                if expected is not None and self.direct_writes:
                    final = self._blob(expected.digest)
                    return ObjectBlobWriter(
                        final, expected.digest, expected.size, release, guard=guard
                    )
                key = hashlib.sha256(ingest_id.encode()).hexdigest()[:32]
                temp = self._location.join(
                    "ingest", f"{key}.{owner_token()}.{next(_counter)}"
                )
                algorithm = expected.digest.algorithm if expected else "sha256"
                return FsspecBlobWriter(
                    temp,
                    self._blob,
                    release,
                    algorithm,
                    guard=guard,
                    directories=not self._buckets,
                )
        except BaseException:
            release()
            raise

    def walk(self, *, algorithm: str | None = None) -> Iterator[BlobInfo]:
        for alg in (algorithm,) if algorithm else _ALGORITHMS:
            top = self._location.join("blobs", alg)
            try:
                with self._described():
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
                yield BlobInfo(digest, int(details["size"]), modified_time(details))

    def remove_stale_ingests(self, cutoff: float, *, dry_run: bool = False) -> int:
        """Remove temporary ingest files that writers which died mid-import left
        behind. Their names carry the writer's :func:`~ociport.processes.owner_token`:
        a file of a dead process of this machine goes at once, one of a live process
        here or of a process holding a live lease stays, and any other (another
        machine's, or nameless) goes once last written before ``cutoff`` (a POSIX
        time). Returns how many there were."""
        ingest = self._location.join("ingest")
        try:
            with self._described():
                found = ingest.fs.find(ingest.path, detail=True)
        except FileNotFoundError:
            return 0
        leased = None
        stale = []
        for path, details in found.items():
            owner = _ingest_owner(path)
            alive = _local_writer_alive(owner)
            if alive is not None:
                if not alive:
                    stale.append(path)
                continue
            if (modified_time(details) or cutoff) >= cutoff:
                continue
            if leased is None:
                leased = {record.owner for record in self._leases.live()}
            if owner not in leased:
                stale.append(path)
        for path in stale if not dry_run else ():
            with self._described(), contextlib.suppress(FileNotFoundError):
                ingest.fs.rm_file(path)
        return len(stale)

    def ingest_at_work(self, key: str, lease_owners: Collection[str]) -> bool:
        """Whether ``key`` (a path in the store, or an object key on S3) is an ingest
        file, or the incomplete upload of one, whose writer is still at work: a live
        process of this machine, or a process holding a live lease (``lease_owners``:
        the leases' owner tokens). ``False`` for any other key. :func:`collect_garbage
        <ociport.engine.gc.collect_garbage>` spares such uploads whatever their age."""
        folder, _, name = key.rpartition("/")
        if folder.rpartition("/")[2] != "ingest":
            return False
        owner = _ingest_owner(name)
        alive = _local_writer_alive(owner)
        if alive is not None:
            return alive
        return owner is not None and owner in lease_owners

    def delete(self, digest: Digest) -> None:
        path = self._blob(digest)
        with self._described():
            # Object stores (S3) delete a missing key without complaint: look first.
            if not path.fs.exists(path.path):
                raise BlobNotFoundError(digest)
            try:
                path.fs.rm_file(path.path)
            except FileNotFoundError as exc:
                raise BlobNotFoundError(digest) from exc

    def remove_if_unused(self) -> bool:
        """Remove the store when this object created it and it is still empty: no
        names, no blobs, no leases (so a failed first import leaves no store behind).
        Returns whether it was removed."""
        if not self._index.created:
            return False
        with self._described(), self._index.locked():
            if self._index.read_index() or self._leases.records():
                return False
            if next(self.walk(), None) is not None:
                return False
            self._index.remove()
        return True

    def read_index(self) -> tuple[Descriptor, ...]:
        with self._described():
            return self._index.read_index()

    def update_index(
        self, change: Callable[[list[Descriptor]], Sequence[Descriptor]]
    ) -> tuple[Descriptor, ...]:
        with self._described():
            return self._index.update_index(change)


def _ingest_owner(path: str) -> str | None:
    """The owner token in an ingest file's name (``<key>.<owner>.<n>``), if any."""
    parts = path.rsplit("/", 1)[-1].split(".")
    return parts[1] if len(parts) == 3 else None


def _local_writer_alive(owner: str | None) -> bool | None:
    """Whether the process of an owner token of this machine lives; ``None`` for
    another machine's token or none (only leases and age can tell then)."""
    if owner is None or not is_local(owner):
        return None
    return not is_dead(owner)


class _DescribedStream:
    """A blob stream whose read errors are the store's (described on a remote one)."""

    def __init__(
        self, stream: IO[bytes], described: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self._stream = stream
        self._described = described

    def read(self, n: int = -1) -> bytes:
        with self._described():
            return self._stream.read(n)

    def readinto(self, buffer: memoryview | bytearray) -> int:
        with self._described():
            return self._stream.readinto(buffer)  # type: ignore[attr-defined, no-any-return]

    def seek(self, offset: int, whence: int = 0) -> int:
        with self._described():
            return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._stream.seekable()

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _DescribedStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
