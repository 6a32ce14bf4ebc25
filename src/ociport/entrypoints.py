"""The entry points of one group, remembered between runs while the import path is unchanged.

Asking :mod:`importlib.metadata` for them costs about 40 ms at every start (it imports
the ``email`` package and reads every installed distribution), more than the rest of a
short command such as ``ociport images ls``. The answer is therefore kept in a cache
file, ``$XDG_CACHE_HOME/ociport/entry-points-<key>.json`` (``~/.cache`` when
``XDG_CACHE_HOME`` is unset or not an absolute path, as the XDG base directory
specification asks; ``<key>`` names the interpreter and the group), and used while the
fingerprint of the import path matches: the entries of ``sys.path`` that hold
distributions, in order, each directory with the names of its ``*.dist-info``/
``*.egg-info`` entries and the modification time of each one's ``entry_points.txt``,
each file (a zip archive: a wheel, a zipapp) with its modification time and size.
Installing, upgrading or removing a distribution changes these; so does editing an
installed distribution's entry points; running from another directory does not.
importlib.metadata stays the source of truth: the cache holds its last answer
and nothing else. A cache that cannot be read or written is ignored (the answer is
then read again at each start).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, Final, NamedTuple

__all__ = ["EntryPoint", "cached_entry_points", "read_entry_points"]

#: The cache file's format; a file of another format is ignored and rewritten.
_FORMAT: Final = 1
#: Name suffixes of the metadata directories of installed distributions.
_METADATA_SUFFIXES: Final = (".dist-info", ".egg-info")


class EntryPoint(NamedTuple):
    """One entry point and the installed distribution that declares it.

    :ivar name: the entry point's name (for ociport, the plugin name).
    :ivar value: ``module`` or ``module:attribute``.
    :ivar distribution: the distribution's ``Name`` metadata field.
    :ivar version: the distribution's version.
    """

    name: str
    value: str
    distribution: str
    version: str


def read_entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` of every installed distribution, in the order of
    :func:`importlib.metadata.distributions` (the first on ``sys.path`` first; a
    distribution installed twice appears twice, as it does there)."""
    import importlib.metadata

    found = []
    for dist in importlib.metadata.distributions():
        for entry in dist.entry_points:
            if entry.group == group:
                found.append(
                    EntryPoint(
                        entry.name, entry.value, dist.metadata["Name"], dist.version
                    )
                )
    return found


def cached_entry_points(group: str, *, refresh: bool = False) -> list[EntryPoint]:
    """:func:`read_entry_points`, from the cache file while the import path's
    fingerprint matches, else read again and the cache file rewritten.

    :param refresh: read again whatever the cache says (after a cached entry point
        failed to load).
    """
    path = _cache_path(group)
    fingerprint = _fingerprint()
    if not refresh:
        cached = _load(path, fingerprint)
        if cached is not None:
            return cached
    found = read_entry_points(group)
    _store(path, fingerprint, found)
    return found


def _cache_path(group: str) -> str:
    """The cache file of this interpreter and ``group`` (named by a CRC-32 of both:
    only a name, and zlib is cheaper to load than hashlib)."""
    import zlib

    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        # Relative is invalid (XDG base directories): it would scatter caches over
        # whatever directories ociport runs in.
        base = os.path.join(os.path.expanduser("~"), ".cache")
    key = zlib.crc32("\0".join((sys.executable, group)).encode())
    return os.path.join(base, "ociport", f"entry-points-{key:08x}.json")


def _mtime(path: str) -> int:
    """``path``'s modification time in nanoseconds, ``-1`` when it cannot be read."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _fingerprint() -> list[Any]:
    """What the installed distributions' entry points depend on (module docstring)."""
    parts: list[Any] = []
    for entry in sys.path:
        directory = entry or "."
        if os.path.isfile(directory):
            # A zip archive: the distributions in it change with it.
            with contextlib.suppress(OSError):
                status = os.stat(directory)
                parts.extend([entry, [status.st_mtime_ns, status.st_size]])
            continue
        names: list[str] = []
        with contextlib.suppress(OSError), os.scandir(directory) as items:
            names = sorted(
                item.name for item in items if item.name.endswith(_METADATA_SUFFIXES)
            )
        # A directory without distributions (a script's folder, the working
        # directory of ``python -m``) leaves no trace: running from elsewhere keeps
        # the cache; one that gains a distribution enters the fingerprint.
        if names:
            parts.append(entry)
            parts.extend(
                [name, _mtime(os.path.join(directory, name, "entry_points.txt"))]
                for name in names
            )
    return parts


def _load(path: str, fingerprint: list[Any]) -> list[EntryPoint] | None:
    """The cached entry points, or ``None`` when the file is missing, unreadable, of
    another format or made for another fingerprint."""
    try:
        with open(path, encoding="utf-8") as file:
            doc = json.load(file)
        if doc.get("format") != _FORMAT or doc.get("fingerprint") != fingerprint:
            return None
        return [EntryPoint(**entry) for entry in doc["entry_points"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _store(path: str, fingerprint: list[Any], found: list[EntryPoint]) -> None:
    """Write the cache file atomically (a temporary file renamed over it); failures
    are ignored: the cache is an optimisation only."""
    doc = {
        "format": _FORMAT,
        "fingerprint": fingerprint,
        "entry_points": [entry._asdict() for entry in found],
    }
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "w", encoding="utf-8") as file:
            json.dump(doc, file)
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temp)
