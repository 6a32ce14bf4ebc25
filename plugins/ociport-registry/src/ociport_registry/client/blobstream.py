"""BlobReader: a blob's body as a stream, hashed as it is read, resumed with ``Range``
where the connection breaks (distribution-spec "Pulling blobs": a registry may answer
a ranged ``GET`` with ``206 Partial Content``)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx

from ociport.drivers.kit import Descriptor, SizeMismatchError
from ociport_registry.client.session import RETRIES, RegistrySession, header
from ociport_registry.errors import RegistryError

__all__ = ["BlobReader"]


class BlobReader(io.RawIOBase):
    """The body of a blob's answer as a raw stream.

    When the connection breaks, the rest is asked for again (``Range: bytes=N-``), at
    most :data:`~ociport_registry.client.session.RETRIES` times; a registry that
    ignores the range sends the whole blob again and the bytes already read are
    skipped. The bytes given out are the blob's, in order, whatever happened.

    :param session: the repository's session.
    :param url: the blob's URL (asked again when resuming).
    :param response: the streamed answer to the first request; closed with the reader.
    :param descriptor: the blob; it is never read past its size, and with ``verify``
        its digest and size are checked at the end.
    """

    def __init__(
        self,
        session: RegistrySession,
        url: str,
        response: httpx.Response,
        descriptor: Descriptor,
        *,
        verify: bool,
    ) -> None:
        super().__init__()
        self._session = session
        self._url = url
        self._response = response
        self._chunks = response.iter_bytes()
        self._pending = memoryview(b"")
        self._descriptor = descriptor
        self._what = f"blob {descriptor.digest}"
        self._hasher = descriptor.digest.hasher() if verify else None
        self._read = 0
        self._resumed = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if not self._pending and not self._next_chunk():
            return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        if self._hasher is not None:
            self._hasher.update(self._pending[:count])
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        self._response.close()
        super().close()

    def _next_chunk(self) -> bool:
        """Take the next chunk of the body; ``False`` at its end (checked then)."""
        while not self._pending and not self._done:
            try:
                chunk = next(self._chunks, None)
            except httpx.TransportError as exc:
                self._resume(exc)
                continue
            if chunk is None:
                self._done = True
                if self._hasher is not None:
                    size = self._descriptor.size
                    self._hasher.verify(self._descriptor.digest, size, self._what)
                return False
            self._read += len(chunk)
            if self._read > self._descriptor.size:
                raise SizeMismatchError(self._descriptor.size, self._read, self._what)
            self._pending = memoryview(chunk)
        return bool(self._pending)

    def _resume(self, broken: httpx.TransportError) -> None:
        """Ask for the rest of the blob after the connection broke.

        :raises RegistryUnavailableError: it broke too often.
        """
        self._response.close()
        if self._resumed >= RETRIES:
            raise self._session.unreachable(broken, self._what) from broken
        self._resumed += 1
        response = self._session.request(
            "GET",
            self._url,
            what=self._what,
            headers={"Range": f"bytes={self._read}-"},
            expect=(200, 206),
            stream=True,
        )
        self._response = response
        if response.status_code == 200:  # the range ignored: the whole blob again
            self._chunks = _skip(response.iter_bytes(), self._read)
            return
        start = header(response, "Content-Range").removeprefix("bytes ").split("-")[0]
        if start != str(self._read):
            response.close()
            raise self._session.error(
                RegistryError,
                f"{self._what}: asked to resume at byte {self._read}, the registry "
                f"answered Content-Range {header(response, 'Content-Range')!r}",
            )
        self._chunks = response.iter_bytes()


def _skip(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    """``chunks`` without their first ``count`` bytes."""
    for chunk in chunks:
        if count >= len(chunk):
            count -= len(chunk)
            continue
        yield chunk[count:]
        yield from chunks
        return
