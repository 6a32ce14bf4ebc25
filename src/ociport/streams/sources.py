"""Resolving what users pass as a source or a sink: a path, an fsspec URL, a stream or ``-``."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import io
import os
import stat
import sys
import uuid
from collections.abc import Iterator, Mapping
from typing import IO, Any, BinaryIO

from ociport.streams.address import ImageAddress
from ociport.streams.compression import open_decompressed
from ociport.streams.location import Location

__all__ = [
    "Sink",
    "Source",
    "describe",
    "open_sink",
    "open_source",
    "open_uncompressed",
    "remove_stale_temporaries",
    "resolve",
]

#: What import accepts: a path or URL (``"-"`` for stdin) or a readable binary stream.
Source = str | os.PathLike[str] | IO[bytes] | BinaryIO
#: What export accepts: a path or URL (``"-"`` for stdout) or a writable binary stream.
Sink = str | os.PathLike[str] | IO[bytes] | BinaryIO


def resolve(
    target: Source | Location | ImageAddress,
    storage_options: Mapping[str, Any] | None = None,
) -> Location | IO[bytes] | ImageAddress:
    """A :class:`Location` for a path or URL (or a location), the stream itself for a
    stream or ``-``, an image address with ``storage_options`` as its options.

    ``-`` stands for stdin; :func:`open_sink` maps it to stdout.
    """
    if isinstance(target, ImageAddress):
        return ImageAddress(target.transport, target.reference, storage_options or {})
    if isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        if text == "-":
            return sys.stdin.buffer
        return Location.from_url(text, storage_options)
    return target


def describe(target: Source | Location | ImageAddress) -> str:
    """A short label for messages: the URL, ``-``, the address, or the stream's name."""
    if isinstance(target, Location | ImageAddress):
        return str(target)
    if isinstance(target, str | os.PathLike):
        return os.fspath(target)
    return str(getattr(target, "name", "<stream>"))


@contextlib.contextmanager
def open_source(target: Location | IO[bytes]) -> Iterator[IO[bytes]]:
    """Open a location for reading, or pass a stream through (left open)."""
    if isinstance(target, Location):
        with target.fs.open(target.path, "rb", block_size=4 << 20) as stream:
            yield stream
    else:
        yield target


@contextlib.contextmanager
def open_uncompressed(target: Location | IO[bytes]) -> Iterator[IO[bytes]]:
    """Open a location or pass a stream through (left open), undoing gzip, xz or zstd
    compression of the whole stream (what one-pass tar readers read from).

    :raises FormatError: a compressed stream that cannot be decompressed.
    """
    with open_source(target) as raw:
        yield open_decompressed(raw)[0]


@contextlib.contextmanager
def open_sink(
    target: Sink | Location, storage_options: Mapping[str, Any] | None = None
) -> Iterator[IO[bytes]]:
    """Open a path, URL or location for writing, or pass a stream (``-``: stdout)
    through.

    A path or URL is written to a temporary name beside it and renamed into place only
    when the block ends without an exception, so a failed export leaves no partial file.
    """
    if isinstance(target, Location):
        with _atomic_file(target) as stream:
            yield stream
        return
    if isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        if text == "-":
            out = sys.stdout.buffer
            yield out
            out.flush()
            return
        location = Location.from_url(text, storage_options)
        with _atomic_file(location) as stream:
            yield stream
        return
    yield target
    with contextlib.suppress(AttributeError, io.UnsupportedOperation, ValueError):
        target.flush()


@contextlib.contextmanager
def _atomic_file(location: Location) -> Iterator[IO[bytes]]:
    if location.is_local:
        with _local_file(location.path) as stream:
            yield stream
        return
    # Object stores: the upload completes only on commit (s3fs completes or aborts the
    # multipart upload); discard must run outside the file's own context manager.
    stream = location.fs.open(location.path, "wb", autocommit=False)
    try:
        yield stream
        stream.close()
        stream.commit()
    except BaseException:
        stream.discard()
        raise


@contextlib.contextmanager
def _local_file(path: str) -> Iterator[IO[bytes]]:
    """A regular file appears whole or not at all (temporary name, then rename); a link
    is followed to the file it names; a FIFO or device is written in place."""
    real = os.path.realpath(path)
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    if mode is not None and not stat.S_ISREG(mode):
        with open(real, "wb") as stream:
            yield stream
        return
    directory, name = os.path.split(real)
    remove_stale_temporaries(directory, name)
    temp = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "wb") as stream:
            # Held while the file is written: a temporary nobody holds is a dead
            # process's leftover (see remove_stale_temporaries).
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield stream
        os.replace(temp, real)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def remove_stale_temporaries(directory: str, name: str) -> list[str]:
    """Remove the temporary files (``.NAME.<hex>.tmp``) of exports to ``NAME`` that
    died (killed, power cut): those whose ``flock`` no process holds.

    :returns: the paths removed.
    """
    removed = []
    for entry in glob.glob(
        os.path.join(glob.escape(directory), f".{glob.escape(name)}.*.tmp")
    ):
        try:
            with open(entry, "rb") as stream:
                fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(entry)
                removed.append(entry)
        except (BlockingIOError, FileNotFoundError, IsADirectoryError):
            continue  # being written now, or gone already
    return removed
