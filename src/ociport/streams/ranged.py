"""Ranged reads from a seekable location: what random-access archive import reads through.

On S3 and HTTP every read is one ranged request of exactly the bytes asked for (fsspec's
read-ahead cache is off), so an import that reads the tar headers, the documents and the
selected blobs transfers those bytes and no others. A blob's slice is fetched in windows
of up to :data:`REMOTE_WINDOW` bytes, never past its end: one request per 16 MiB rather
than one per 4 MiB buffer of the copy. Every byte of every request is received by
fsspec's single event-loop thread, so fewer, larger requests leave it less to do; against
Ceph RGW on two cores that made a 512 MiB import from S3 20 % faster (bench/README.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO, Any, Final

from ociport.streams.location import Location

__all__ = ["REMOTE_WINDOW", "RangeReader"]

#: Bytes one ranged request of a remote slice fetches (at most; never past the slice).
REMOTE_WINDOW: Final = 16 << 20


class RangeReader:
    """``read_at(offset, n)`` over a file of a location; a context manager that closes it.

    :param location: the file; opened without read-ahead caching.
    """

    def __init__(self, location: Location) -> None:
        options: dict[str, Any] = {} if location.is_local else {"cache_type": "none"}
        self.location = location
        self._options = options
        self._mutex = threading.Lock()
        self._file: IO[bytes] = location.fs.open(location.path, "rb", **options)
        self.size: int = location.fs.size(location.path)
        self.is_local = location.is_local
        self.bytes_read = 0

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer only at the end of the file)."""
        self._file.seek(offset)
        data = self._file.read(n)
        self.bytes_read += len(data)
        return data

    def stream(self, offset: int, size: int) -> IO[bytes]:
        """A read-only stream over ``size`` bytes at ``offset`` with its own file handle,
        so that several slices can be read at once from different threads (remotely in
        requests of up to :data:`REMOTE_WINDOW` bytes)."""
        window = 0 if self.is_local else REMOTE_WINDOW
        return _Slice(self.location, self._options, offset, size, self._count, window)  # type: ignore[return-value]

    def _count(self, n: int) -> None:
        with self._mutex:
            self.bytes_read += n

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Slice:
    """Bytes ``[offset, offset + size)`` of a file, read through a handle of its own
    (opened on first read, closed with the slice or at its end).

    With a ``window``, each read of the handle fetches up to that many bytes (one
    request on S3), which later reads are served from.
    """

    def __init__(
        self,
        location: Location,
        options: dict[str, Any],
        offset: int,
        size: int,
        count: Callable[[int], None],
        window: int = 0,
    ) -> None:
        self.location = location
        self._options = options
        self._position = offset  # of the next byte handed out
        self._end = offset + size
        self._count = count
        self._window = window
        self._fetched = memoryview(b"")  # fetched, not yet handed out
        self._file: IO[bytes] | None = None

    def _handle(self) -> IO[bytes]:
        if self._file is None:
            self._file = self.location.fs.open(
                self.location.path, "rb", **self._options
            )
        self._file.seek(self._position)
        return self._file

    def _take(self, n: int) -> memoryview:
        """Up to ``n`` bytes from the window, fetching the next one when it is empty."""
        if not self._fetched:
            want = min(self._window, self._end - self._position)
            self._fetched = memoryview(self._handle().read(want))
            self._count(len(self._fetched))
        piece, self._fetched = self._fetched[:n], self._fetched[n:]
        self._position += len(piece)
        return piece

    def read(self, n: int = -1) -> bytes:
        remaining = self._end - self._position
        n = remaining if n < 0 else min(n, remaining)
        if n <= 0:
            self.close()
            return b""
        if self._window:
            parts = []
            while n > 0 and (piece := self._take(n)):
                parts.append(bytes(piece))
                n -= len(piece)
            return b"".join(parts)
        data = self._handle().read(n)
        self._position += len(data)
        self._count(len(data))
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:
        view = memoryview(buffer)[: max(0, self._end - self._position)]
        if not len(view):
            self.close()
            return 0
        if self._window:
            piece = self._take(len(view))
            view[: len(piece)] = piece
            return len(piece)
        handle = self._handle()
        readinto = getattr(handle, "readinto", None)
        if readinto is not None:
            n = int(readinto(view))
        else:  # a filesystem whose files lack readinto
            data = handle.read(len(view))
            n = len(data)
            view[:n] = data
        self._position += n
        self._count(n)
        return n

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._fetched = memoryview(b"")
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> _Slice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
