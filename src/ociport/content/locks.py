"""ObjectLock: mutual exclusion between processes and machines on an object store (S3).

S3 has no ``flock`` and no rename, but it has exclusive create: a PUT with
``If-None-Match: *`` fails with 412 ``PreconditionFailed`` when the key exists (s3fs's
``open(path, "xb")``). The protocol:

1. **Acquire**: create ``<name>.lock`` exclusively; its body is a fresh random token
   (with host, pid and time, for people who look). When the key exists, read its body,
   sleep with exponential backoff (20 ms doubling up to 0.5 s, with jitter) and try
   again; give up with :class:`~ociport.errors.LockTimeoutError` after ``timeout``
   seconds. What counts as "exists" is any 412, whether or not the server names the
   failed condition: s3fs raises :class:`FileExistsError` when it does (AWS, MinIO,
   moto) and ``OSError(EINVAL)`` when it does not (Ceph RGW 16). A 409
   ``ConditionalRequestConflict`` (AWS: conditional writes racing on one key) or another
   "busy" answer means try again after the backoff.
2. **Our own lock**: when the body read back is our own token, we hold the lock: our PUT
   landed but its answer was lost, and the client's retry of it got the 412.
3. **Break a stale lock**: a waiter that has seen the *same* body for ``stale_after``
   seconds (default 30, counted on its own monotonic clock, so clocks that disagree
   between machines do not matter) re-reads the lock and, if it still has that body,
   deletes it, then tries again. A crashed holder thus delays others by ``stale_after``.
4. **Hold**: before writing what the lock protects, the holder checks with
   :meth:`ObjectLock.held` that the lock still carries its token (it may have been
   broken as stale while the holder stalled); if not, it starts over.
5. **Release**: delete the lock if it still carries the token.

Risk: a holder that stalls for more than ``stale_after`` seconds *between* its
:meth:`~ObjectLock.held` check and its write landing (a paused VM, a PUT hanging in the
network) can overwrite the update of the process that broke its lock; and a stale break
has a window of one round trip between re-reading and deleting. Both need a stall of
``stale_after`` seconds while an update holds the lock for a few round trips.

**The server must honour exclusive create.** One that ignores ``If-None-Match`` lets
every process "acquire" at once and silently loses names, so
:func:`check_conditional_writes` probes each store once per process (an exclusive create
of a probe key, twice: the second must fail) and refuses the store otherwise, unless the
user accepts the risk with the storage option ``ociport_single_writer=true``. By backend:
AWS S3, MinIO, Ceph RGW (16.2 tested) and moto honour it; Google Cloud Storage's
S3-compatible XML API does not take ``If-None-Match`` and is refused; other servers and
filesystems (gcsfs, whose ``"xb"`` is gcsfs's business) are probed. The probe catches a
server that ignores the header, not a filesystem that checks for the key and then
writes (fsspec leaves ``"x"`` to each backend). Local and NFS paths use ``flock``
instead, and ``memory://`` lives in one process, where the per-path thread lock of
:mod:`ociport.content.imageindex` already serialises updates.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import posixpath
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Final

from ociport.errors import LockTimeoutError, OciportError
from ociport.processes import hostname
from ociport.streams.location import SINGLE_WRITER_OPTION, Location
from ociport.streams.storage_errors import (
    describe_error,
    is_conflict,
    is_precondition_failed,
    is_remote,
    refuse_unconditional,
    service_error,
    storage_errors,
)

__all__ = [
    "ACQUIRE_TIMEOUT",
    "STALE_AFTER",
    "ObjectLock",
    "check_conditional_writes",
]

#: Seconds a waiter watches an unchanged lock before breaking it as stale.
STALE_AFTER: Final = 30.0
#: Seconds a waiter tries before giving up with LockTimeoutError.
ACQUIRE_TIMEOUT: Final = 300.0
_FIRST_DELAY: Final = 0.02
_MAX_DELAY: Final = 0.5


class _Outcome(enum.Enum):
    CREATED = "created"
    EXISTS = "exists"
    BUSY = "busy"


def _create_exclusive(target: Location, body: bytes) -> _Outcome:
    """One exclusive create of ``target``; raises what the filesystem raised for any
    answer but "created", "exists" (412) and "busy, try again" (409)."""
    try:
        with target.fs.open(target.path, "xb") as out:
            out.write(body)
    except Exception as exc:
        if is_precondition_failed(exc):
            return _Outcome.EXISTS
        if is_conflict(exc):
            return _Outcome.BUSY
        raise
    return _Outcome.CREATED


class ObjectLock:
    """An exclusive lock held as the object ``target`` (e.g. ``index.json.lock``).

    A context manager: ``with ObjectLock(loc) as lock: ...; if lock.held(): write()``.
    Failures of the filesystem raise :class:`~ociport.errors.StorageError` naming the
    lock object, the store and the cause.

    :param target: the lock object's location.
    :param stale_after: seconds after which an unchanged lock counts as abandoned.
    :param timeout: seconds to wait for the lock before
        :class:`~ociport.errors.LockTimeoutError`.
    :param store: the store the lock protects, for messages (default: ``target``'s
        parent).
    """

    def __init__(
        self,
        target: Location,
        *,
        stale_after: float = STALE_AFTER,
        timeout: float = ACQUIRE_TIMEOUT,
        store: Location | None = None,
    ) -> None:
        self._target = target
        self._store = store or Location(target.fs, posixpath.dirname(target.path))
        self._stale_after = stale_after
        self._timeout = timeout
        self._body = json.dumps(
            {
                "token": uuid.uuid4().hex,
                "host": hostname(),
                "pid": os.getpid(),
                "time": time.time(),
            }
        ).encode()
        #: How many stale locks this lock broke while acquiring (for tests and logs).
        self.broken = 0

    @contextlib.contextmanager
    def _described(self, doing: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            if not is_remote(self._store) or isinstance(exc, OciportError):
                raise
            raise describe_error(
                exc,
                self._store,
                "store",
                subject=f"{doing} lock object {self._target.url}",
            ) from exc

    def _read(self) -> bytes | None:
        with self._described("reading"):
            try:
                # start=0: one ranged GET (s3fs sends a HEAD first for a whole read).
                return self._target.fs.cat_file(self._target.path, start=0)  # type: ignore[no-any-return]
            except FileNotFoundError as exc:
                found = service_error(exc)
                if found is not None and found.code == "NoSuchBucket":
                    raise
                return None

    def _try_create(self) -> _Outcome:
        with self._described("creating"):
            return _create_exclusive(self._target, self._body)

    def acquire(self) -> None:
        """Take the lock, waiting and breaking a stale one as the protocol says.

        :raises LockTimeoutError: not acquired within ``timeout`` seconds.
        :raises StorageError: the filesystem failed (the lock object is named).
        """
        deadline = time.monotonic() + self._timeout
        delay = _FIRST_DELAY
        seen: bytes | None = None
        seen_since = 0.0
        while True:
            outcome = self._try_create()
            if outcome is _Outcome.CREATED:
                return
            now = time.monotonic()
            if now >= deadline:
                raise self._timed_out(seen)
            if outcome is _Outcome.EXISTS:
                current = self._read()
                if current == self._body:
                    return  # our create landed; the answer to it was lost
                if current is None:  # released meanwhile: try again soon
                    time.sleep(_FIRST_DELAY * random.uniform(0.5, 1.5))
                    continue
                if current != seen:
                    seen, seen_since = current, now
                elif now - seen_since >= self._stale_after:
                    self._break(current)
                    seen = None
                    continue
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, _MAX_DELAY)

    def _timed_out(self, seen: bytes | None) -> LockTimeoutError:
        holder = ""
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            doc = json.loads(seen or b"")
            when = time.strftime("%H:%M:%S UTC", time.gmtime(float(doc["time"])))
            holder = f" (held by pid {doc['pid']} on {doc['host']} since {when})"
        return LockTimeoutError(
            url=self._store.url,
            role="store",
            reason=(
                f"lock object {self._target.url} not acquired in "
                f"{self._timeout:g} s{holder}"
            ),
            hint=(
                "another process is updating the store; a lock left unchanged for "
                f"{self._stale_after:g} s is broken as abandoned"
            ),
            lock_url=self._target.url,
        )

    def _break(self, stale: bytes) -> None:
        if self._read() == stale:
            with self._described("breaking"), contextlib.suppress(FileNotFoundError):
                self._target.fs.rm_file(self._target.path)
            self.broken += 1

    def held(self) -> bool:
        """Whether the lock object still carries this lock's token (one read)."""
        return self._read() == self._body

    def release(self) -> None:
        """Delete the lock object if it is still this lock's."""
        if self.held():
            with self._described("deleting"), contextlib.suppress(FileNotFoundError):
                self._target.fs.rm_file(self._target.path)

    def __enter__(self) -> ObjectLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


# -- the conditional-write probe -----------------------------------------------------

_verified: set[tuple[str, str, str]] = set()
_verified_mutex: Final = threading.Lock()


def _store_key(root: Location) -> tuple[str, str, str]:
    fs = root.fs
    options = getattr(fs, "storage_options", {}) or {}
    return (
        type(fs).__qualname__,
        repr(sorted(options.items(), key=lambda item: str(item[0]))),
        root.path,
    )


def check_conditional_writes(root: Location) -> None:
    """Make sure the server of the store at ``root`` honours exclusive create, once per
    store and process: create a probe key under ``ingest/`` exclusively, then again
    (which must fail with 412), then delete it. Three requests on S3.

    Does nothing for local paths and ``memory://``.

    :raises ConditionalWritesError: the server ignored or rejected ``If-None-Match``
        (the message names the endpoint; the storage option
        ``ociport_single_writer=true`` skips this check).
    :raises StorageError: the probe failed otherwise (credentials, a missing bucket).
    """
    if not is_remote(root):
        return
    key = _store_key(root)
    with _verified_mutex:
        if key in _verified:
            return
    probe = root.join("ingest", f"probe-conditional-{uuid.uuid4().hex}")
    with storage_errors(root, "store"):
        try:
            try:
                first = _create_exclusive(probe, b"ociport: exclusive create probe")
            except (TypeError, ValueError, NotImplementedError) as exc:
                raise refuse_unconditional(
                    root,
                    f"its filesystem cannot create a file exclusively "
                    f"({type(exc).__name__}: {exc})",
                    option=SINGLE_WRITER_OPTION,
                ) from exc
            except OSError as exc:
                found = service_error(exc)
                if found is None or found.status not in (400, 501):
                    raise
                raise refuse_unconditional(
                    root,
                    f"it rejected the header ({found.code}, HTTP {found.status})",
                    option=SINGLE_WRITER_OPTION,
                ) from exc
            if first is _Outcome.EXISTS:
                raise refuse_unconditional(
                    root,
                    "the exclusive create of a new key failed with 412",
                    option=SINGLE_WRITER_OPTION,
                )
            second = _Outcome.BUSY
            for _ in range(5):
                second = _create_exclusive(probe, b"ociport: second exclusive create")
                if second is not _Outcome.BUSY:
                    break
                time.sleep(0.1)
            if second is _Outcome.CREATED:
                raise refuse_unconditional(
                    root,
                    "a second exclusive create of the same key succeeded",
                    option=SINGLE_WRITER_OPTION,
                )
        finally:
            # Best effort: a probe key left behind is an old ingest file to content gc.
            with contextlib.suppress(OSError):
                probe.fs.rm_file(probe.path)
    with _verified_mutex:
        _verified.add(key)
