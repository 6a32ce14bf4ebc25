"""Worker threads that let the data path hash and flush while it reads and writes.

hashlib releases the GIL while it hashes a large buffer, and file writes and ``fsync``
release it too; handing one of them to a worker thread makes them overlap on a machine
with two or more cores instead of adding up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["submit"]

#: A read-ahead and a hash for each of up to four copies running at once (an import
#: from S3 stages four blobs at a time): with fewer, read-aheads waiting on the network
#: hold up the hashes queued behind them.
_WORKERS: Final = 8

_T = TypeVar("_T")
_pool: ThreadPoolExecutor | None = None


def submit(fn: Callable[..., _T], /, *args: object) -> Future[_T]:
    """Run ``fn(*args)`` on one of this process's worker threads (started on first use)."""
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor  # ~20 ms: not at start-up

        _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="ociport-io")
    return _pool.submit(fn, *args)


def _forget_pool() -> None:
    """A forked child inherits the pool object but none of its threads: start afresh."""
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)
