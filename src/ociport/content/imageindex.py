"""The store root as an OCI image layout: ``oci-layout`` and a locked ``index.json``.

Updates of ``index.json`` are read-modify-write under a lock on ``index.json.lock``, so
two processes updating at once lose no name:

- local and NFS paths: ``flock`` on the lock file (filelock); the new ``index.json`` is
  written to a temporary file, fsynced and renamed over the old one;
- object stores (S3) and other filesystems: the lock object protocol of
  :mod:`ociport.content.locks` (exclusive create with ``If-None-Match``, backoff, stale
  locks broken after :data:`~ociport.content.locks.STALE_AFTER` seconds); the holder
  checks the lock is still its own right before the single PUT of the new ``index.json``
  and starts over otherwise. Before the first lock on a store, a process checks once
  that the server honours conditional writes and refuses the store when it does not
  (:func:`~ociport.content.locks.check_conditional_writes`), unless told the store has a
  single writer.

Either way a reader never sees a half-written file, and threads of one process also
share a per-path lock.

A store on an object store is never given a bucket: a missing bucket is an error that
names it (:class:`~ociport.errors.StorageNotFoundError`), for reads and creation alike.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from ociport.content.locks import STALE_AFTER, ObjectLock, check_conditional_writes
from ociport.errors import FormatError, StoreNotFoundError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.manifest import Index, dump_json, parse_json
from ociport.streams.location import Location
from ociport.streams.storage_errors import Role, bucket_of, describe_error

__all__ = ["LayoutIndexFile", "read_oci_layout"]

_LOCKS: Final[dict[str, threading.Lock]] = {}
_LOCKS_MUTEX: Final = threading.Lock()
_OCI_LAYOUT_DOC: Final = dump_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION})


def read_oci_layout(raw: bytes, *, where: str) -> None:
    """Check an ``oci-layout`` file (image-spec ``image-layout.md``).

    :raises FormatError: when it is not JSON or does not declare version ``1.0.0``.
    """
    doc = parse_json(raw, limit=64 << 10, where=where)
    version = doc.get("imageLayoutVersion")
    if version != mt.OCI_LAYOUT_VERSION:
        raise FormatError(
            f"imageLayoutVersion is {version!r}, expected {mt.OCI_LAYOUT_VERSION!r}",
            member=where,
        )


def _kind(target: Location) -> str | None:
    """``"file"``, ``"directory"`` or ``None`` when nothing is there (a path below a
    file names nothing either); every other failure of the filesystem is raised."""
    try:
        return str(target.fs.info(target.path).get("type"))
    except (FileNotFoundError, NotADirectoryError):
        return None


def _process_lock(key: str) -> threading.Lock:
    with _LOCKS_MUTEX:
        return _LOCKS.setdefault(key, threading.Lock())


class LayoutIndexFile:
    """``index.json`` and ``oci-layout`` at the root of a store.

    :param root: the store root; created, with an empty index, when missing.
    :param stale_after: seconds after which an object-store lock counts as abandoned.
    :param create: create a missing store (never a missing bucket).
    :param single_writer: skip the check that the server honours conditional writes
        (the user vouches that one process at a time writes).
    :param role: what the root is, for messages (``"destination"`` for an exported
        layout).
    """

    def __init__(
        self,
        root: Location,
        *,
        stale_after: float = STALE_AFTER,
        create: bool = True,
        single_writer: bool = False,
        role: Role = "store",
    ) -> None:
        self._root = root
        self._index = root.join("index.json")
        self._layout = root.join("oci-layout")
        self._lock = root.join("index.json.lock")
        self._stale_after = stale_after
        self._single_writer = single_writer
        self._role: Role = role
        #: Whether this object created the layout (a new store).
        self.created = False
        self._ensure(create)

    @contextlib.contextmanager
    def locked(self) -> Iterator[ObjectLock | None]:
        """Hold the lock; yields the object lock on object stores (check ``held()``
        before writing), ``None`` where ``flock`` holds."""
        with _process_lock(self._index.url):
            if self._root.is_local:
                import filelock  # writers only: not at a listing's start-up

                with filelock.FileLock(self._lock.path):
                    yield None
            else:
                if not self._single_writer:
                    check_conditional_writes(self._root)
                with ObjectLock(
                    self._lock, stale_after=self._stale_after, store=self._root
                ) as lock:
                    yield lock

    def _ensure(self, create: bool) -> None:
        fs = self._root.fs
        # info(), not isfile()/exists(): those answer False for any error, so a server
        # that does not answer would be asked again (and waited for) before failing.
        if _kind(self._root) == "file":
            raise FormatError("is a file, not an image store", location=self._root.url)
        if _kind(self._index) is not None and _kind(self._layout) is not None:
            return
        bucketed = bucket_of(self._root) is not None
        if bucketed:
            self._check_bucket()
        if not create:
            raise StoreNotFoundError(self._root.url)
        if not bucketed:  # s3fs's makedirs would create a missing bucket
            try:
                fs.makedirs(self._root.path, exist_ok=True)
            except (NotADirectoryError, FileExistsError) as exc:
                raise FormatError(
                    "cannot be created: a directory above it is a file",
                    location=self._root.url,
                ) from exc
        with self.locked():
            if not fs.exists(self._layout.path):
                self.write(self._layout, _OCI_LAYOUT_DOC)
                self.created = True
            if not fs.exists(self._index.path):
                self.write(self._index, Index.build([]).raw)
                self.created = True

    def _check_bucket(self) -> None:
        """Raise :class:`~ociport.errors.StorageNotFoundError` naming the bucket when it
        does not exist (S3: one HEAD request; other object stores: not checked here)."""
        head = getattr(self._root.fs, "call_s3", None)
        if head is None:
            return
        try:
            head("head_bucket", Bucket=bucket_of(self._root))
        except FileNotFoundError as exc:
            raise describe_error(exc, self._root, self._role) from exc

    def write(self, target: Location, data: bytes, *, durable: bool = True) -> None:
        """Replace the object ``target`` with ``data`` atomically (readers see the old
        or the new bytes: one PUT on an object store, a renamed temporary file on a
        disk, fsynced first when ``durable``)."""
        if not target.is_local:
            target.fs.pipe_file(target.path, data)
            return
        temp = f"{target.path}.{uuid.uuid4().hex}.tmp"
        try:
            with open(temp, "wb") as out:
                out.write(data)
                out.flush()
                if durable:
                    os.fsync(out.fileno())
            os.replace(temp, target.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def remove(self) -> None:
        """Remove ``oci-layout``, ``index.json`` and the lock (the caller holds the
        lock and checked that nothing else is in the store), then the root directory
        when it is empty."""
        for target in (self._layout, self._index):
            with contextlib.suppress(FileNotFoundError):
                target.fs.rm_file(target.path)
        if self._root.is_local:
            with contextlib.suppress(OSError):
                os.unlink(self._lock.path)
            for sub in ("blobs/sha256", "blobs/sha512", "blobs", "ingest", "leases"):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(self._root.path, sub))
            with contextlib.suppress(OSError):
                os.rmdir(self._root.path)

    def read_index(self) -> tuple[Descriptor, ...]:
        """The entries of ``index.json``.

        :raises FormatError: when the file is not a valid index.
        """
        raw = self._index.fs.cat_file(
            self._index.path, start=0
        )  # one GET on S3, no HEAD
        return Index.parse(raw, where=self._index.url).manifests

    def update_index(
        self, change: Callable[[list[Descriptor]], Sequence[Descriptor]]
    ) -> tuple[Descriptor, ...]:
        """Replace the entries with ``change(entries)`` under the lock; returns them.

        ``change`` must be a pure function of the entries: on an object store it runs
        again, on fresh entries, when the lock was broken as stale before the write.

        :raises TimeoutError: the object-store lock was not acquired in time.
        """
        while True:
            with self.locked() as lock:
                entries = list(self.read_index())
                new = tuple(change(entries))
                if lock is None or lock.held():
                    self.write(self._index, Index.build(new).raw)
                    return new
