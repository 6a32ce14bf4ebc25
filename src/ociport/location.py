"""Location: an fsspec filesystem plus a path on it, the only place storage options enter."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

__all__ = ["Location"]


@dataclass(frozen=True, slots=True)
class Location:
    """A path on an fsspec filesystem (local disk, NFS mount, ``memory://``, ``s3://``).

    :ivar fs: the filesystem instance.
    :ivar path: the path in that filesystem's own form (no protocol for local paths).
    """

    fs: fsspec.AbstractFileSystem
    path: str

    @classmethod
    def from_url(
        cls, url: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
    ) -> Location:
        """Resolve a local path or fsspec URL.

        :param url: ``/data/store``, ``file:///...``, ``memory://x``, ``s3://bucket/p``.
        :param storage_options: keyword arguments for the filesystem (``anon``,
            ``endpoint_url``, ...).
        :raises ImportError: when the protocol's package (e.g. s3fs) is not installed;
            fsspec's message names it.
        """
        fs, path = url_to_fs(os.fspath(url), **dict(storage_options or {}))
        return cls(fs, path.rstrip("/") or path)

    @property
    def is_local(self) -> bool:
        """Whether this is a path on the local filesystem (rename and flock work)."""
        return isinstance(self.fs, LocalFileSystem)

    @property
    def url(self) -> str:
        """The location as a URL-ish string for messages (``s3://b/p``, ``/p``)."""
        return self.fs.unstrip_protocol(self.path) if not self.is_local else self.path

    def join(self, *parts: str) -> Location:
        """A location below this one; ``parts`` must be trusted relative paths."""
        return Location(self.fs, posixpath.join(self.path, *parts))

    def __str__(self) -> str:
        return self.url
