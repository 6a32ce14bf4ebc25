"""The local filesystem of plain paths, with fsspec imported only when a command needs it.

Importing fsspec costs more than all the rest of a short command (``ociport images
ls``): it imports asyncio, ssl and importlib.metadata. Yet such a command only reads a
store: ``info`` of a few paths, ``cat_file`` of ``index.json``, ``open(..., "rb")`` of
a few blobs, and ``find`` of the blob directories (``content ls``). :class:`LocalFiles`
answers those four with plain ``os`` calls, giving exactly what fsspec's
``LocalFileSystem`` gives, and hands every other call (and any of these with arguments
it does not handle) to fsspec's ``LocalFileSystem``, imported on first use.
:meth:`Location.from_url <ociport.streams.location.Location.from_url>` uses it for
plain local paths without storage options.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from typing import IO, Any, Final

__all__ = ["LOCAL_FILES", "LocalFiles", "absolute_path", "is_local_filesystem"]

#: The URL prefixes that fsspec reads as a protocol, so not a plain path.
_PROTOCOL_MARKERS: Final = ("://", "::")
_LOCAL_PREFIXES: Final = ("file:", "local:", "data:")


def absolute_path(text: str) -> str | None:
    """``text`` as fsspec's ``LocalFileSystem`` names a plain local path (absolute, in
    POSIX form, ``~`` expanded, no trailing ``/``, not normalised further), or
    ``None`` when ``text`` is a URL or this is not a POSIX system (fsspec then
    decides)."""
    if os.sep != "/" or text.startswith(_LOCAL_PREFIXES):
        return None
    if any(marker in text for marker in _PROTOCOL_MARKERS):
        return None
    if text.startswith("~"):
        text = os.path.expanduser(text)
    elif not text.startswith("/"):
        if text.startswith("./"):
            text = text[2:]
        elif text == ".":
            text = ""
        text = f"{os.getcwd()}/{text}"
    return text.rstrip("/") or "/"


def is_local_filesystem(fs: object) -> bool:
    """Whether ``fs`` is the local filesystem: :class:`LocalFiles` or, when fsspec is
    loaded, its ``LocalFileSystem``."""
    if isinstance(fs, LocalFiles):
        return True
    local = sys.modules.get("fsspec.implementations.local")
    return local is not None and isinstance(fs, local.LocalFileSystem)


class LocalFiles:
    """fsspec's ``LocalFileSystem``, imported on first use; ``info``, ``cat_file``,
    ``open(path, "rb")`` and the one-level ``find`` of absolute paths are answered
    without it (module docstring).
    Use the shared instance :data:`LOCAL_FILES`."""

    protocol: Final = ("file", "local")

    def __getattr__(self, name: str) -> Any:
        return getattr(_fsspec_local(), name)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """As fsspec: ``name``, ``size`` (bytes, of the target for a symbolic link),
        ``type`` (``file``, ``directory`` or ``other``), ``created``, ``islink``,
        ``mode``, ``uid``, ``gid``, ``mtime``, ``ino``, ``nlink``, and ``destination``
        for a link.

        :raises FileNotFoundError: nothing at ``path``.
        """
        if kwargs or not _plain(path):
            return _fsspec_local().info(path, **kwargs)  # type: ignore[no-any-return]
        out = os.stat(path, follow_symlinks=False)
        link = stat.S_ISLNK(out.st_mode)
        if link:
            out = os.stat(path, follow_symlinks=True)
        if stat.S_ISDIR(out.st_mode):
            kind = "directory"
        elif stat.S_ISREG(out.st_mode):
            kind = "file"
        else:
            kind = "other"
        return _details(path, out, kind, out.st_size, link)

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        """As fsspec; answered here for the listing of one directory's files with
        their details (``maxdepth=1, detail=True``: ``{path: info}``, sorted by path,
        everything that is not a directory, a symbolic link's ``type`` being
        ``other``; ``{}`` for a path that cannot be listed, ``{path: info}`` for a
        file)."""
        if maxdepth != 1 or withdirs or not detail or kwargs or not _plain(path):
            return _fsspec_local().find(path, maxdepth, withdirs, detail, **kwargs)
        try:
            top = self.info(path)
        except OSError:
            return {}
        if top["type"] != "directory":
            return {path: top}
        found = {}
        try:
            with os.scandir(path) as items:
                for item in items:
                    with contextlib.suppress(FileNotFoundError):
                        details = _entry_details(item)
                        if details["type"] != "directory":
                            found[details["name"]] = details
        except OSError:
            return {}
        return dict(sorted(found.items()))

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        """The bytes of ``path`` from ``start`` to ``end`` (negative: from the end of
        the file, as in a slice), as fsspec reads them.

        :raises FileNotFoundError: no file at ``path``.
        """
        if kwargs or not _plain(path):
            return _fsspec_local().cat_file(path, start, end, **kwargs)  # type: ignore[no-any-return]
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if start is not None:
                file.seek(start if start >= 0 else max(0, size + start))
            if end is None:
                return file.read()
            if end < 0:
                end = size + end
            return file.read(end - file.tell())

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[bytes]:
        """``path`` opened for reading (``block_size`` is accepted and, as by fsspec
        for local files, unused); other modes and options go to fsspec.

        :raises FileNotFoundError: no file at ``path``.
        """
        if mode == "rb":
            kwargs.pop("block_size", None)
        if mode != "rb" or kwargs or not _plain(path):
            return _fsspec_local().open(path, mode, **kwargs)  # type: ignore[no-any-return]
        return open(path, "rb")

    def __repr__(self) -> str:
        return "LocalFiles()"

    def __eq__(self, other: object) -> bool:
        # Stateless: every instance is the same filesystem, so locations on it stay
        # equal through copies, as they do on fsspec's (whose instances are cached).
        return isinstance(other, LocalFiles)

    def __hash__(self) -> int:
        return hash(LocalFiles)

    def __reduce__(self) -> str:
        """Pickled and copied as the shared instance :data:`LOCAL_FILES`."""
        return "LOCAL_FILES"


def _plain(path: object) -> bool:
    """Whether ``path`` is an absolute POSIX path string that needs no stripping."""
    return (
        isinstance(path, str)
        and os.sep == "/"
        and path.startswith("/")
        and (path == "/" or not path.endswith("/"))
    )


def _details(
    path: str, out: os.stat_result, kind: str, size: int, link: bool
) -> dict[str, Any]:
    """An fsspec ``info`` record."""
    result: dict[str, Any] = {
        "name": path,
        "size": size,
        "type": kind,
        "created": getattr(out, "st_birthtime", out.st_ctime),
        "islink": link,
    }
    for field in ("mode", "uid", "gid", "mtime", "ino", "nlink"):
        result[field] = getattr(out, f"st_{field}")
    if link:
        result["destination"] = os.readlink(path)
    return result


def _entry_details(entry: os.DirEntry[str]) -> dict[str, Any]:
    """The ``info`` record fsspec gives for a directory entry: the entry's own kind
    (a symbolic link is ``other``) and status, with the size of a link's target
    (``0`` for a dangling link)."""
    out = entry.stat(follow_symlinks=False)
    link = entry.is_symlink()
    if entry.is_dir(follow_symlinks=False):
        kind = "directory"
    elif entry.is_file(follow_symlinks=False):
        kind = "file"
    else:
        kind = "other"
    size = out.st_size
    if link:
        try:
            size = entry.stat(follow_symlinks=True).st_size
        except OSError:
            size = 0
    return _details(entry.path, out, kind, size, link)


def _fsspec_local() -> Any:
    """fsspec's (shared, cached) ``LocalFileSystem`` instance."""
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem()


#: The one :class:`LocalFiles` instance (locations compare equal through it).
LOCAL_FILES: Final = LocalFiles()
