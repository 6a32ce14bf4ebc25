"""Layers re-encoded in another compression for one export, for formats whose readers
take only some compressions (``docker load`` before Docker 23 reads no zstd layer).

A layer is read once, front to back: its stored bytes are verified against its digest,
decompressed, hashed to check its diff ID, and compressed again into one anonymous
temporary file shared by every layer of the export (in the temporary directory,
``TMPDIR``; the system removes it when it is closed, or when the process dies). A tar
member states its size before its bytes, so the new blob must exist whole before the
format writes it: the file is that buffer, and the one extra read is the format copying
it out. Memory stays bounded by the (de)compressors' buffers, whatever the layer size.
"""

from __future__ import annotations

import io
import tempfile
import threading
from dataclasses import dataclass, replace
from typing import IO, Any, BinaryIO, cast

from ociport.content.interfaces import BlobInfo, ReadableContent
from ociport.errors import FormatError, UnsupportedMediaTypeError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import CHUNK_SIZE, Digest, Hasher, VerifyingReader
from ociport.streams.compression import BUFFER_SIZE, Compressor, open_decompressed

__all__ = ["ReencodedContent"]


@dataclass(frozen=True, slots=True)
class _Spooled:
    """A re-encoded blob: ``size`` bytes at ``offset`` of the spool file."""

    digest: Digest
    offset: int
    size: int


class ReencodedContent:
    """Readable content: ``base``, plus layers re-encoded by :meth:`reencode`.

    Serves :meth:`open_blob` and :meth:`info` for the new blobs and passes every other
    digest to ``base``. Thread-safe for reading; :meth:`reencode` is called by one
    thread. :meth:`close` releases the spool file (readers opened before fail after).

    :param base: where the original layers are read (an export's view of the store).
    """

    def __init__(self, base: ReadableContent) -> None:
        self.base = base
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._blobs: dict[Digest, _Spooled] = {}
        self._done: dict[tuple[Digest, str | None], _Spooled] = {}

    def reencode(
        self,
        layer: Descriptor,
        diff_id: Digest,
        compression: str | None,
        *,
        media_type: str,
    ) -> Descriptor:
        """``layer`` compressed as ``compression`` instead (``None``: uncompressed).

        Reads the layer once (whatever its compression: gzip, zstd, bzip2, xz or none)
        and checks, while re-encoding, that its stored bytes match its digest and size
        and its uncompressed bytes match ``diff_id``. The same layer asked for twice is
        re-encoded once.

        :param diff_id: the layer's uncompressed digest, from the image config.
        :param media_type: the new descriptor's media type.
        :returns: ``layer`` with ``media_type`` and the new bytes' sha256 digest and
            size in bytes; :meth:`open_blob` serves it.
        :raises FormatError: the layer decompresses to another digest than ``diff_id``,
            or its compressed data is corrupt or truncated.
        :raises DigestMismatchError, SizeMismatchError: the stored layer is corrupt.
        :raises BlobNotFoundError: ``base`` lacks the layer.
        :raises UnsupportedMediaTypeError: ``compression`` is not one layers are
            written in (``bzip2``, ``xz``).
        """
        key = (layer.digest, compression)
        spooled = self._done.get(key)
        if spooled is None:
            spooled = self._spool(layer, diff_id, compression)
            self._done[key] = spooled
            self._blobs.setdefault(spooled.digest, spooled)
        return replace(
            layer, media_type=media_type, digest=spooled.digest, size=spooled.size
        )

    def _spool(
        self, layer: Descriptor, diff_id: Digest, compression: str | None
    ) -> _Spooled:
        plain, packed = diff_id.hasher(), Hasher("sha256")
        spool = self._spool_file()
        offset = -1

        def out(data: bytes) -> None:
            nonlocal offset
            packed.update(data)
            with self._lock:  # readers of other blobs move the file's position
                end = spool.seek(0, io.SEEK_END)
                offset = end if offset < 0 else offset
                spool.write(data)

        try:
            compressor = Compressor(compression, out)
        except ValueError as exc:
            raise UnsupportedMediaTypeError(
                f"{compression}-compressed layer", member=str(layer.digest)
            ) from exc
        with self.base.open_blob(layer, verify=True) as stored:
            raw = io.BufferedReader(_Raw(stored), BUFFER_SIZE)
            reader, _ = open_decompressed(raw)
            while chunk := reader.read(CHUNK_SIZE):
                plain.update(chunk)
                compressor.feed(chunk)
            # What a decompressor leaves (padding after the last frame) is read too,
            # so that the stored bytes are verified whole.
            while raw.read(CHUNK_SIZE):
                pass
        compressor.close()
        if plain.digest() != diff_id:
            raise FormatError(
                f"layer {layer.digest} decompresses to {plain.digest()}, not its "
                f"diff ID {diff_id}"
            )
        with self._lock:
            spool.flush()
            offset = spool.seek(0, io.SEEK_END) if offset < 0 else offset
        return _Spooled(packed.digest(), offset, packed.size)

    def _spool_file(self) -> IO[bytes]:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="ociport-reencoded-")  # noqa: SIM115 - closed by close()
        return self._file

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        """As :meth:`Provider.open_blob`: a re-encoded blob, else ``base``'s."""
        spooled = self._blobs.get(descriptor.digest)
        if spooled is None or self._file is None:
            return self.base.open_blob(descriptor, verify=verify)
        stream = io.BufferedReader(_Slice(self._file, self._lock, spooled))
        if verify:
            return cast(
                BinaryIO, VerifyingReader(stream, spooled.digest, descriptor.size)
            )
        return cast(BinaryIO, stream)

    def info(self, digest: Digest) -> BlobInfo:
        """As :meth:`InfoProvider.info`: a re-encoded blob, else ``base``'s."""
        spooled = self._blobs.get(digest)
        if spooled is None:
            return self.base.info(digest)
        return BlobInfo(digest, spooled.size)

    def close(self) -> None:
        """Delete the spool file (idempotent)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._blobs.clear()
            self._done.clear()


class _Raw(io.RawIOBase):
    """A raw stream over a reader that only has ``read`` (a verifying reader), so that
    it can be buffered."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Slice(io.RawIOBase):
    """One blob of the spool file, with a position of its own (readers share the file
    under a lock)."""

    def __init__(self, file: IO[bytes], lock: threading.Lock, blob: _Spooled) -> None:
        super().__init__()
        self._file = file
        self._lock = lock
        self._blob = blob
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._blob.size - self._position)
        if want <= 0:
            return 0
        with self._lock:
            self._file.seek(self._blob.offset + self._position)
            data = self._file.read(want)
        if len(data) != want:
            raise OSError(f"the spool file of {self._blob.digest} is cut short")
        buffer[:want] = data
        self._position += want
        return want
