"""Leases: the blobs a running import (or any writer) relies on, which gc must spare.

An import skips blobs the store already has and names its images only at the end, so
between its first look at the store and its names, the blobs it relies on are
referenced by nothing. A lease records them, as containerd's leases do, in a small
object of the store that every process and machine sharing the store sees:
``leases/<id>.json``::

    {"id": "...", "purpose": "import", "owner": "<host>-<pid>",
     "created": 1764600000.0, "expires": 1764600900.0,
     "digests": ["sha256:...", ...]}

The protocol, on a local disk as on S3 (no blob mtimes involved):

1. A writer creates its lease before it looks at the store, and **holds** a digest
   (adds it to the lease) *before* it relies on that blob being present: before
   skipping a blob the store has, and before committing or naming anything.
2. Every hold, and gc's deletion phase, run under the store's ``index.json`` lock. So
   a gc either read the lease after the hold (and spares the digest), or finished
   deleting before the hold (and the writer's check after the hold sees the blob gone
   and writes it again). :meth:`Lease.hold` returns only once the hold is visible.
3. The writer removes its lease after its names are published (or after a failure,
   once its own unnamed blobs are removed).
4. A lease is live until ``expires`` (renewed every :data:`RENEW_EVERY` seconds while
   its process runs) plus :data:`CLOCK_SKEW`; a lease of a dead process of this machine
   is dead at once. gc ignores, and removes, leases that are not live.

:class:`LeaseFiles` is the capability a store offers (the fsspec store does); stores
without it rely on gc's grace period alone.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from ociport.errors import InvalidDigestError
from ociport.oci.digest import Digest
from ociport.processes import is_dead, owner_token
from ociport.streams.fsinfo import modified_time
from ociport.streams.location import Location

__all__ = [
    "CLOCK_SKEW",
    "LEASE_TTL",
    "RENEW_EVERY",
    "Lease",
    "LeaseFiles",
    "LeaseRecord",
    "LeasingStore",
    "lease_for",
]


#: Seconds a lease lives without renewal (15 minutes).
LEASE_TTL: Final = 900.0
#: Seconds between renewals of a live lease by its process.
RENEW_EVERY: Final = 300.0
#: Seconds of disagreement between machines' clocks that a lease tolerates.
CLOCK_SKEW: Final = 120.0


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """One lease as read from the store.

    :ivar id: the lease id (the object is ``leases/<id>.json``).
    :ivar purpose: what holds it (``"import"``, ``"convert"``).
    :ivar owner: the owning process (:func:`~ociport.processes.owner_token`).
    :ivar created: POSIX seconds.
    :ivar expires: POSIX seconds; renewed while the owner runs.
    :ivar digests: the blobs it holds.
    """

    id: str
    purpose: str
    owner: str
    created: float
    expires: float
    digests: frozenset[Digest]

    def live(self, now: float) -> bool:
        """Whether gc must respect the lease at ``now`` (POSIX seconds)."""
        return now <= self.expires + CLOCK_SKEW and not is_dead(self.owner)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "id": self.id,
                "purpose": self.purpose,
                "owner": self.owner,
                "created": self.created,
                "expires": self.expires,
                "digests": sorted(str(d) for d in self.digests),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def parse(cls, raw: bytes, lease_id: str) -> LeaseRecord | None:
        """The record in ``raw``; ``None`` when it is not one (gc treats such an
        object as abandoned once it is older than its grace period)."""
        try:
            doc: Any = json.loads(raw)
            digests = frozenset(Digest.parse(d) for d in doc["digests"])
            return cls(
                lease_id,
                str(doc.get("purpose", "")),
                str(doc["owner"]),
                float(doc["created"]),
                float(doc["expires"]),
                digests,
            )
        except (ValueError, KeyError, TypeError, InvalidDigestError):
            return None


class LeaseFiles:
    """The leases of one store: objects under ``<root>/leases/``.

    :param root: the store root.
    :param locked: the store's ``index.json`` lock (a context manager factory); holds
        and gc's deletions run under it.
    :param write: writes an object whole (atomically: readers see the old or the new
        bytes), the store's own.
    :param guard: wraps every filesystem step (the store's: remote errors become
        :class:`~ociport.errors.StorageError`).
    """

    def __init__(
        self,
        root: Location,
        locked: Callable[[], AbstractContextManager[object]],
        write: Callable[[Location, bytes], None],
        guard: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._dir = root.join("leases")
        self.locked = locked
        self._write = write
        self._guard = guard

    def _object(self, lease_id: str) -> Location:
        return self._dir.join(f"{lease_id}.json")

    def create(self, purpose: str, *, ttl: float = LEASE_TTL) -> Lease:
        """A new lease holding nothing yet, written to the store."""
        now = time.time()
        record = LeaseRecord(
            uuid.uuid4().hex, purpose, owner_token(), now, now + ttl, frozenset()
        )
        self.store(record)
        import logging  # only for writes: short commands do without it

        logging.getLogger(__name__).debug("lease %s (%s) created", record.id, purpose)
        return Lease(self, record, ttl)

    def store(self, record: LeaseRecord) -> None:
        """Write ``record`` (creating or replacing its object)."""
        target = self._object(record.id)
        with self._guard():
            if self._dir.is_local:
                self._dir.fs.makedirs(self._dir.path, exist_ok=True)
            self._write(target, record.to_json())

    def remove(self, lease_id: str) -> None:
        """Remove a lease's object; a no-op when it is gone."""
        target = self._object(lease_id)
        with self._guard(), contextlib.suppress(FileNotFoundError):
            target.fs.rm_file(target.path)

    def records(self) -> list[tuple[str, float | None, LeaseRecord | None]]:
        """Every lease object: ``(id, modified, record)``, where ``modified`` is the
        object's POSIX mtime (when the filesystem gives one) and ``record`` is ``None``
        for an object that is not a lease record (a torn write on a filesystem without
        atomic replace)."""
        try:
            with self._guard():
                found = self._dir.fs.find(self._dir.path, detail=True, maxdepth=1)
        except FileNotFoundError:
            return []
        result = []
        for path, details in sorted(found.items()):
            name = path.rsplit("/", 1)[-1]
            if details.get("type") != "file" or not name.endswith(".json"):
                continue
            try:
                with self._guard():
                    raw = self._dir.fs.cat_file(path)
            except FileNotFoundError:
                continue  # released meanwhile
            lease_id = name.removesuffix(".json")
            result.append(
                (lease_id, modified_time(details), LeaseRecord.parse(raw, lease_id))
            )
        return result

    def live(self) -> list[LeaseRecord]:
        """The records of the leases gc must respect now (:meth:`LeaseRecord.live`)."""
        now = time.time()
        return [r for _, _, r in self.records() if r is not None and r.live(now)]


class Lease:
    """A live lease of this process; renews itself on a daemon thread until released.

    A context manager: ``with files.create("import") as lease: lease.hold(...)``;
    leaving the block releases it.
    """

    def __init__(self, files: LeaseFiles, record: LeaseRecord, ttl: float) -> None:
        self._files = files
        self._record = record
        self._ttl = ttl
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._abandoned = False
        self._renewer = threading.Thread(
            target=self._renew_loop, name="ociport-lease", daemon=True
        )
        self._renewer.start()

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def digests(self) -> frozenset[Digest]:
        """What the lease holds."""
        return self._record.digests

    def hold(self, digests: Iterable[Digest]) -> None:
        """Add ``digests`` to the lease, under the store's lock: once this returns, a
        gc that has not already deleted them spares them (check presence *after*)."""
        new = frozenset(digests) - self._record.digests
        if not new:
            return
        with self._files.locked(), self._mutex:
            self._record = self._renewed(self._record.digests | new)
            self._files.store(self._record)

    def _renewed(self, digests: frozenset[Digest]) -> LeaseRecord:
        r = self._record
        return LeaseRecord(
            r.id, r.purpose, r.owner, r.created, time.time() + self._ttl, digests
        )

    def _renew_loop(self) -> None:
        while not self._stop.wait(min(RENEW_EVERY, self._ttl / 3)):
            with self._mutex, contextlib.suppress(Exception):
                if not self._stop.is_set():
                    self._record = self._renewed(self._record.digests)
                    self._files.store(self._record)

    def release(self) -> None:
        """Stop renewing and remove the lease (best effort: an unreachable store lets
        it expire instead)."""
        self._stop.set()
        with self._mutex, contextlib.suppress(Exception):
            if not self._abandoned:
                self._files.remove(self._record.id)

    def abandon(self) -> None:
        """Stop renewing and leave the lease to expire (its store stopped answering:
        removing it would wait as long again); gc removes it then."""
        self._abandoned = True
        self._stop.set()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@runtime_checkable
class LeasingStore(Protocol):
    """A content store with leases (an optional capability)."""

    @property
    def leases(self) -> LeaseFiles: ...


@contextlib.contextmanager
def lease_for(store: object, purpose: str) -> Iterator[Lease | None]:
    """A lease on ``store`` for the block; ``None`` when the store has no leases."""
    if not isinstance(store, LeasingStore):
        yield None
        return
    with store.leases.create(purpose) as lease:
        yield lease
