"""Compression: detect gzip, bzip2, xz or zstd from magic bytes, decompress, and
compress layers deterministically.

``docker load`` accepts compressed archives, and so does ociport; detection looks at the
bytes, never at a file name.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Callable
from typing import IO, Any, Final, cast

from ociport.errors import FormatError

__all__ = [
    "LAYER_COMPRESSION",
    "Compressor",
    "detect_compression",
    "label_mismatch",
    "open_decompressed",
]

_MAGIC: Final = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
#: The compression each (distributable) layer media type announces.
LAYER_COMPRESSION: Final[dict[str, str | None]] = {
    "application/vnd.oci.image.layer.v1.tar": None,
    "application/vnd.docker.image.rootfs.diff.tar": None,
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
}
#: Read-ahead of the buffered readers wrapped around sources (4 MiB).
BUFFER_SIZE: Final = 4 << 20


def detect_compression(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"``, ``"zstd"`` or ``None`` for the first bytes."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def label_mismatch(media_type: str, head: bytes) -> str | None:
    """A sentence when a layer's bytes are not compressed as its media type says.

    :param head: the layer's first bytes (8 suffice).
    :returns: ``None`` when they agree or the media type names no compression rule.
    """
    if media_type not in LAYER_COMPRESSION or not head:
        return None
    said, found = LAYER_COMPRESSION[media_type], detect_compression(head)
    if said == found:
        return None
    return f"labelled {media_type} but its bytes are {found or 'uncompressed'}"


class Compressor:
    """Compresses a stream of bytes as it is fed, deterministically: the same input gives
    the same output (gzip with mtime 0, no file name, level 9; zstd level 3), so a layer
    compressed twice gets one digest.

    Memory stays bounded by the compressor's window, whatever the input size.

    :param kind: ``"gzip"``, ``"zstd"``, or ``None`` to pass bytes through unchanged.
    :param write: called with each piece of compressed output, in order.
    :raises ValueError: another ``kind`` (bzip2, xz: no layer is written in those).
    """

    def __init__(self, kind: str | None, write: Callable[[bytes], object]) -> None:
        if kind not in (None, "gzip", "zstd"):
            raise ValueError(f"cannot compress layers with {kind}")
        self._write = write
        self._kind = kind
        if kind == "gzip":
            self._gzip = gzip.GzipFile(fileobj=self, mode="wb", mtime=0, filename="")
        elif kind == "zstd":
            import zstandard

            self._zstd = zstandard.ZstdCompressor().compressobj()

    def write(self, data: bytes) -> int:
        """The sink of the internal ``GzipFile`` (not for callers: use :meth:`feed`)."""
        self._write(data)
        return len(data)

    def feed(self, data: bytes) -> None:
        """Compress ``data`` (uncompressed bytes, any length)."""
        if self._kind == "gzip":
            self._gzip.write(data)
        elif self._kind == "zstd":
            self._write(self._zstd.compress(data))
        else:
            self._write(data)

    def close(self) -> None:
        """Write what the compressor still holds and the stream's trailer."""
        if self._kind == "gzip":
            self._gzip.close()
        elif self._kind == "zstd":
            self._write(self._zstd.flush())

    def flush(self) -> None:
        """Nothing to do (``GzipFile`` flushes its sink)."""


def open_decompressed(stream: IO[bytes]) -> tuple[io.BufferedReader, str | None]:
    """Wrap ``stream`` so that reads give uncompressed bytes, without consuming it.

    :returns: a large-buffered reader (``peek`` works) and the compression found.
    """
    buffered = (
        stream
        if isinstance(stream, io.BufferedReader)
        else io.BufferedReader(cast(io.RawIOBase, stream), BUFFER_SIZE)
    )
    kind = detect_compression(buffered.peek(8)[:8])
    if kind is None:
        return buffered, None
    inner: Any
    if kind == "gzip":
        inner = gzip.GzipFile(fileobj=buffered, mode="rb")
    elif kind == "bzip2":
        inner = bz2.BZ2File(buffered, "rb")
    elif kind == "xz":
        inner = lzma.LZMAFile(buffered, "rb")  # noqa: SIM115 - returned, closed by the caller
    else:
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(
            buffered, read_across_frames=True
        )
    return io.BufferedReader(_Decompressed(inner, kind), BUFFER_SIZE), kind


class _Decompressed(io.RawIOBase):
    r"""A decompressing reader whose failures are :class:`FormatError`\ s that say what
    went wrong (the libraries raise a bare ``EOFError`` on a truncated stream)."""

    def __init__(self, inner: Any, kind: str) -> None:
        super().__init__()
        self._inner = inner
        self._kind = kind

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return int(self._inner.readinto(buffer))
        except EOFError as exc:
            raise FormatError(
                f"the {self._kind}-compressed archive is truncated"
            ) from exc
        except _corrupt_errors() as exc:
            raise FormatError(f"corrupt {self._kind} data: {exc}") from exc
        except OSError as exc:
            if self._kind != "bzip2" or exc.errno is not None:
                raise
            # bz2 reports bad data as a plain OSError("Invalid data stream").
            raise FormatError(f"corrupt bzip2 data: {exc}") from exc

    def close(self) -> None:
        self._inner.close()
        super().close()


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    """What the decompressors raise on bad data (``OSError`` in general is left alone:
    it is the source failing, not the data)."""
    import zlib

    import zstandard

    return (gzip.BadGzipFile, zlib.error, lzma.LZMAError, zstandard.ZstdError)
