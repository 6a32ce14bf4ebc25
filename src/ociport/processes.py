"""Which process owns a temporary thing (an ingest file, a lease, an export being
built), and whether that process is gone.

An owner token is ``<host>-<pid>``, where ``<host>`` is the first 8 hex digits of the
SHA-256 of the host name: a pid means nothing on another machine sharing the directory
(NFS) or the bucket (S3). Only a process of this machine can be known to be dead;
everything else counts as alive (callers then fall back to an expiry or a grace
period, the safe direction). A reused pid likewise counts as alive.
"""

from __future__ import annotations

import hashlib
import os
from typing import Final

__all__ = ["HOST", "hostname", "is_dead", "is_local", "owner_token"]


def hostname() -> str:
    """This machine's host name, as ``socket.gethostname()`` gives it (from
    ``uname`` where there is one, sparing short commands the socket module)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


#: This machine, as owner tokens carry it.
HOST: Final = hashlib.sha256(hostname().encode()).hexdigest()[:8]


def owner_token(pid: int | None = None) -> str:
    """``<host>-<pid>`` for ``pid`` (default: this process)."""
    return f"{HOST}-{os.getpid() if pid is None else pid}"


def is_local(token: str) -> bool:
    """Whether ``token`` names a process of this machine (whose fate is known)."""
    return token.partition("-")[0] == HOST


def is_dead(token: str) -> bool:
    """Whether the process ``token`` names ran on this machine and is gone.

    ``False`` for a token of another machine, a live process (of any user) and a string
    that is not a token.
    """
    host, _, pid = token.partition("-")
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False
