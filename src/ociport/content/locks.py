"""ObjectLock: mutual exclusion between processes and machines on an object store (S3).

S3 has no ``flock`` and no rename, but it has exclusive create: a PUT with
``If-None-Match: *`` fails (412) when the key exists, which s3fs exposes as
``open(path, "xb")`` raising :class:`FileExistsError`. The protocol:

1. **Acquire**: create ``<name>.lock`` with ``"xb"``; its body is a fresh random token
   (with host, pid and time, for people who look). When the key exists, read its
   body, sleep with exponential backoff (20 ms doubling up to 0.5 s, with jitter) and
   try again; give up with :class:`TimeoutError` after ``timeout`` seconds.
2. **Break a stale lock**: a waiter that has seen the *same* body for ``stale_after``
   seconds (default 30, counted on its own monotonic clock, so clocks that disagree
   between machines do not matter) re-reads the lock and, if it still has that body,
   deletes it, then tries again. A crashed holder thus delays others by ``stale_after``.
3. **Hold**: before writing what the lock protects, the holder checks with
   :meth:`ObjectLock.held` that the lock still carries its token (it may have been
   broken as stale while the holder stalled); if not, it starts over.
4. **Release**: delete the lock if it still carries the token.

Risk: a holder that stalls for more than ``stale_after`` seconds *between* its
:meth:`~ObjectLock.held` check and its write landing (a paused VM, a PUT hanging in the
network) can overwrite the update of the process that broke its lock; and a stale break
has a window of one round trip between re-reading and deleting. Both need a stall of
``stale_after`` seconds while an update holds the lock for a few round trips. The
backend must honour exclusive create (AWS S3, MinIO and moto do; a server ignoring
``If-None-Match`` makes the lock useless); local and NFS paths use ``flock`` instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import time
import uuid
from typing import Final

from ociport.streams.location import Location

__all__ = ["ACQUIRE_TIMEOUT", "STALE_AFTER", "ObjectLock"]

#: Seconds a waiter watches an unchanged lock before breaking it as stale.
STALE_AFTER: Final = 30.0
#: Seconds a waiter tries before giving up with TimeoutError.
ACQUIRE_TIMEOUT: Final = 300.0
_FIRST_DELAY: Final = 0.02
_MAX_DELAY: Final = 0.5


class ObjectLock:
    """An exclusive lock held as the object ``target`` (e.g. ``index.json.lock``).

    A context manager: ``with ObjectLock(loc) as lock: ...; if lock.held(): write()``.

    :param target: the lock object's location.
    :param stale_after: seconds after which an unchanged lock counts as abandoned.
    :param timeout: seconds to wait for the lock before :class:`TimeoutError`.
    """

    def __init__(
        self,
        target: Location,
        *,
        stale_after: float = STALE_AFTER,
        timeout: float = ACQUIRE_TIMEOUT,
    ) -> None:
        self._target = target
        self._stale_after = stale_after
        self._timeout = timeout
        self._body = json.dumps(
            {
                "token": uuid.uuid4().hex,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "time": time.time(),
            }
        ).encode()
        #: How many stale locks this lock broke while acquiring (for tests and logs).
        self.broken = 0

    def _read(self) -> bytes | None:
        try:
            # start=0: one ranged GET (s3fs sends a HEAD first for a whole-file read).
            return self._target.fs.cat_file(self._target.path, start=0)  # type: ignore[no-any-return]
        except FileNotFoundError:
            return None

    def _try_create(self) -> bool:
        try:
            with self._target.fs.open(self._target.path, "xb") as out:
                out.write(self._body)
        except FileExistsError:
            return False
        return True

    def acquire(self) -> None:
        """Take the lock, waiting and breaking a stale one as the protocol says.

        :raises TimeoutError: not acquired within ``timeout`` seconds.
        """
        deadline = time.monotonic() + self._timeout
        delay = _FIRST_DELAY
        seen: bytes | None = None
        seen_since = 0.0
        while not self._try_create():
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError(
                    f"lock {self._target.url} not acquired in {self._timeout:g} s"
                )
            current = self._read()
            if current is None:
                continue  # released meanwhile: try again at once
            if current != seen:
                seen, seen_since = current, now
            elif now - seen_since >= self._stale_after:
                self._break(current)
                seen = None
                continue
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, _MAX_DELAY)

    def _break(self, stale: bytes) -> None:
        if self._read() == stale:
            with contextlib.suppress(FileNotFoundError):
                self._target.fs.rm_file(self._target.path)
            self.broken += 1

    def held(self) -> bool:
        """Whether the lock object still carries this lock's token (one read)."""
        return self._read() == self._body

    def release(self) -> None:
        """Delete the lock object if it is still this lock's."""
        if self.held():
            with contextlib.suppress(FileNotFoundError):
                self._target.fs.rm_file(self._target.path)

    def __enter__(self) -> ObjectLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
