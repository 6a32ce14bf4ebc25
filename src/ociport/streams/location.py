"""Location: an fsspec filesystem plus a path on it, the only place storage options enter."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import fsspec
from fsspec.core import split_protocol, url_to_fs
from fsspec.implementations.local import LocalFileSystem

from ociport.errors import InvalidLocationError

__all__ = ["OCIPORT_OPTIONS", "SINGLE_WRITER_OPTION", "Location", "split_options"]

#: Protocols whose filesystems cache listings by default (a store shared with other
#: clients must not trust them).
_LISTINGS_CACHED: Final = frozenset({"s3", "s3a"})
#: The storage option that accepts a store whose server ignores conditional writes
#: (``If-None-Match``), for single-writer use (:mod:`ociport.content.locks`).
SINGLE_WRITER_OPTION: Final = "ociport_single_writer"
#: Storage options that are ociport's own: never passed to the fsspec filesystem.
OCIPORT_OPTIONS: Final = frozenset({SINGLE_WRITER_OPTION})


def split_options(
    storage_options: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(fsspec's options, ociport's own options)`` of a storage-option mapping."""
    options = dict(storage_options or {})
    own = {key: options.pop(key) for key in OCIPORT_OPTIONS if key in options}
    return options, own


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
        cls,
        url: str | os.PathLike[str],
        storage_options: Mapping[str, Any] | None = None,
    ) -> Location:
        """Resolve a local path or fsspec URL.

        :param url: ``/data/store``, ``file:///...``, ``memory://x``, ``s3://bucket/p``.
        :param storage_options: keyword arguments for the filesystem (``anon``,
            ``endpoint_url``, ...). On S3, ``use_listings_cache`` defaults to ``False``:
            s3fs would otherwise answer ``exists``, ``info`` and listings from listings it
            made earlier and miss blobs and names that another client wrote since.
            Credentials and the endpoint may also come from the environment
            (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...), through botocore.
            ociport's own options (:data:`OCIPORT_OPTIONS`) are left out.
        :raises ImportError: when the protocol's package (e.g. s3fs) is not installed;
            fsspec's message names it.
        :raises InvalidLocationError: an unknown protocol, or options the filesystem
            rejects.
        """
        text = os.fspath(url)
        options = split_options(storage_options)[0]
        if split_protocol(text)[0] in _LISTINGS_CACHED:
            options.setdefault("use_listings_cache", False)
        try:
            fs, path = url_to_fs(text, **options)
        except (ValueError, TypeError) as exc:
            # fsspec's "Protocol not known", or options the filesystem does not take.
            raise InvalidLocationError(text, str(exc)) from exc
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
