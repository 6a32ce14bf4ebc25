"""Ranged reads from a seekable location: what random-access archive import reads through.

On S3 and HTTP every read is one ranged request of exactly the bytes asked for (fsspec's
read-ahead cache is off), so an import that reads the tar headers, the documents and the
selected blobs transfers those bytes and no others.
"""

from __future__ import annotations

from typing import IO, Any

from ociport.location import Location

__all__ = ["RangeReader"]


class RangeReader:
    """``read_at(offset, n)`` over a file of a location; a context manager that closes it.

    :param location: the file; opened without read-ahead caching.
    """

    def __init__(self, location: Location) -> None:
        options: dict[str, Any] = {} if location.is_local else {"cache_type": "none"}
        self._file: IO[bytes] = location.fs.open(location.path, "rb", **options)
        self.size: int = location.fs.size(location.path)
        self.bytes_read = 0

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer only at the end of the file)."""
        self._file.seek(offset)
        data = self._file.read(n)
        self.bytes_read += len(data)
        return data

    def readinto_at(self, offset: int, buffer: memoryview) -> int:
        """Fill the front of ``buffer`` with the bytes at ``offset``; returns the count.

        Blobs are copied through here: no new bytes object per chunk, so memory stays
        flat even when the reads run on a worker thread.
        """
        self._file.seek(offset)
        readinto = getattr(self._file, "readinto", None)
        if readinto is not None:
            n = int(readinto(buffer))
        else:  # a filesystem whose files lack readinto
            data = self._file.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.bytes_read += n
        return n

    def stream(self, offset: int, size: int) -> IO[bytes]:
        """A read-only stream over ``size`` bytes at ``offset``."""
        return _Slice(self, offset, size)  # type: ignore[return-value]

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Slice:
    def __init__(self, reader: RangeReader, offset: int, size: int) -> None:
        self._reader = reader
        self._position = offset
        self._end = offset + size

    def read(self, n: int = -1) -> bytes:
        remaining = self._end - self._position
        n = remaining if n < 0 else min(n, remaining)
        if n <= 0:
            return b""
        data = self._reader.read_at(self._position, n)
        self._position += len(data)
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:
        view = memoryview(buffer)[: max(0, self._end - self._position)]
        if not len(view):
            return 0
        n = self._reader.readinto_at(self._position, view)
        self._position += n
        return n

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def __enter__(self) -> _Slice:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
