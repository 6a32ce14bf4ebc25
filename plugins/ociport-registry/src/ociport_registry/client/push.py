"""Writing to a registry: blobs and manifests (distribution-spec "Pushing blobs",
"Pushing a blob monolithically", "Pushing a blob in chunks", "Pushing Manifests").

A blob is read from its stream once, in pieces of :data:`PIECE_SIZE` bytes sent as they
are read (memory does not grow with its size, nor with the chunk size), and hashed as
they pass; the last piece is held back until the hash proves the bytes are the blob.
Small blobs go in one ``PUT``, larger ones in ``PATCH`` chunks of :data:`CHUNK_SIZE`
bytes (or the registry's ``OCI-Chunk-Min-Length``) and a closing ``PUT``. On any
failure the upload is cancelled (``DELETE``): the registry never holds a wrong blob.

A chunk that fails (``416 Requested Range Not Satisfiable``, a connection broken in
the middle of the ``PATCH``, ``429`` or ``5xx``) is not the end of the upload: the
registry is asked where the upload stands (``GET`` of the upload's URL, its ``Range``
header, distribution-spec "Pushing a blob in chunks") and the bytes are sent again from
there, at most :data:`CHUNK_RETRIES` times per chunk. A registry that cannot say
(the upload unknown or invalid, no ``Range``), or a closing ``PUT`` whose answer was
lost for a blob the registry then does not have, makes the upload start again from
scratch, once. Sending bytes again needs the blob's stream again: it is rewound when it
can seek, else opened again (``reopen``) and read up to the offset; a stream that can do
neither ends the upload with the first failure, as before.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Final

import httpx

from ociport.drivers.kit import Descriptor, FormatError, OciportError
from ociport_registry.client.session import RegistrySession, header, header_number
from ociport_registry.errors import (
    RegistryError,
    RegistryNotFoundError,
    RegistryUnavailableError,
)

__all__ = [
    "CHUNK_RETRIES",
    "CHUNK_SIZE",
    "PIECE_SIZE",
    "UploadSession",
    "blob_exists",
    "put_manifest",
    "start_upload",
    "upload_blob",
]

#: Blobs up to this size go in one ``PUT``; larger ones in ``PATCH`` chunks this size.
CHUNK_SIZE: Final = 32 << 20
#: Bytes read from the blob's stream and sent at a time.
PIECE_SIZE: Final = 1 << 20
#: Times a failed chunk is sent again from where the registry says the upload stands.
CHUNK_RETRIES: Final = 3
_BACKOFF: Final = 0.5
_OCTET_STREAM: Final = "application/octet-stream"
#: An upload status's ``Range``: ``0-<last byte>`` (distribution-spec), sometimes with
#: the ``bytes=`` of a range request.
_RANGE: Final = re.compile(r"(?:bytes=)?0-([0-9]+)")
#: Registry error codes of an upload it no longer has, or no longer accepts.
_LOST_CODES: Final = frozenset({"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"})


def blob_exists(session: RegistrySession, descriptor: Descriptor) -> bool:
    """``HEAD /v2/<name>/blobs/<digest>``: whether the repository has the blob
    (distribution-spec "Checking if content exists in the registry").

    :raises RegistryError: refused or unreachable.
    """
    response = session.request(
        "HEAD",
        session.url("blobs", str(descriptor.digest)),
        what=f"blob {descriptor.digest}",
        expect=(200, 404),
    )
    return response.status_code == 200


@dataclass(frozen=True, slots=True)
class UploadSession:
    """An upload the registry opened: where to send the bytes, and the smallest chunk
    it takes (``OCI-Chunk-Min-Length``, ``0`` when it does not say)."""

    location: str
    min_chunk: int


def start_upload(
    session: RegistrySession, descriptor: Descriptor, *, mount_from: str | None = None
) -> UploadSession | None:
    """``POST /v2/<name>/blobs/uploads/``; with ``mount_from``, asking the registry to
    mount the blob from that repository of its own instead ("Mounting a blob from
    another repository").

    :returns: the upload, or ``None`` when the blob was mounted (``201``): a registry
        that cannot mount it opens an upload (``202``).
    :raises RegistryError: refused or unreachable.
    """
    what = f"upload of blob {descriptor.digest}"
    if mount_from is None:
        return _opened(_post(session, what), session, what)
    mount = {"mount": str(descriptor.digest), "from": mount_from}
    started = _post(session, what, mount)
    return None if started.status_code == 201 else _opened(started, session, what)


def upload_blob(
    session: RegistrySession,
    descriptor: Descriptor,
    stream: IO[bytes],
    upload: UploadSession | None = None,
    *,
    reopen: Callable[[], IO[bytes]] | None = None,
) -> None:
    """Upload ``descriptor``'s bytes from ``stream`` (read, not closed) to ``upload``
    (a new one by default): one ``PUT`` with the bytes for blobs up to
    :data:`CHUNK_SIZE` bytes (distribution-spec "Pushing a blob monolithically",
    POST then PUT), else ``PATCH`` chunks with ``Content-Range`` and a closing ``PUT``
    ("Pushing a blob in chunks"). A failed chunk is resumed where the registry says
    the upload stands, a lost upload started again once (see the module's
    documentation).

    :param reopen: opens the blob's bytes again from their start (closed here), for a
        ``stream`` that cannot seek back when bytes must be sent again.
    :raises DigestMismatchError, SizeMismatchError: the stream is not the blob; the
        upload is cancelled.
    :raises FormatError: the stream ends before the blob's size; the upload is
        cancelled.
    :raises RegistryError: refused or unreachable; a chunk that failed
        :data:`CHUNK_RETRIES` more times, or an upload lost twice (or once, when the
        bytes cannot be read again): :class:`RegistryUnavailableError`. The upload is
        cancelled.
    """
    what = f"upload of blob {descriptor.digest}"
    body = _BlobBody(stream, descriptor, reopen)
    location = upload.location if upload else None
    min_chunk = upload.min_chunk if upload else 0
    restarted = False
    try:
        while True:
            if location is None:
                opened = _opened(_post(session, what), session, what)
                location, min_chunk = opened.location, opened.min_chunk
            try:
                _send_all(session, location, body, max(CHUNK_SIZE, min_chunk), what)
                return
            except _UploadLostError as lost:
                location = lost.location
                if restarted or not body.can_rewind():
                    reason = (
                        "the registry lost the upload again after starting over: "
                        + lost.reason
                        if restarted
                        else "the upload can neither be resumed nor started over "
                        "(the blob's stream cannot be read again): " + lost.reason
                    )
                    raise session.error(
                        RegistryUnavailableError, f"{what}: {reason}"
                    ) from lost.__cause__
                restarted = True
                _cancel(session, location, what)
                body.rewind(0)
                location = None
    except (OciportError, OSError):
        if location is not None:
            _cancel(session, location, what)
        raise
    finally:
        body.close()


def put_manifest(
    session: RegistrySession, reference: str, descriptor: Descriptor, raw: bytes
) -> httpx.Response:
    """``PUT /v2/<name>/manifests/<reference>`` (a tag, or the digest) with the
    manifest's own bytes and media type (distribution-spec "Pushing Manifests").

    :returns: the registry's answer (its ``OCI-Subject`` header says that it lists
        the manifest among its subject's referrers itself).
    :raises RegistryError: refused (a blob or child it names is missing: HTTP 400
        ``MANIFEST_BLOB_UNKNOWN``) or unreachable; or the registry says it stored
        other bytes (its ``Docker-Content-Digest`` differs).
    """
    what = f"manifest {reference}"
    response = session.request(
        "PUT",
        session.url("manifests", reference),
        what=what,
        expect=(201,),
        headers={"Content-Type": descriptor.media_type},
        content=raw,
    )
    stored = header(response, "Docker-Content-Digest")
    if stored and stored != str(descriptor.digest):
        raise session.error(
            RegistryError, f"{what}: stored as {stored}, not {descriptor.digest}"
        )
    return response


class _UploadLostError(Exception):
    """The registry cannot resume the upload at ``location``: start it again."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(reason)
        self.location = location
        self.reason = reason


def _send_all(
    session: RegistrySession, location: str, body: _BlobBody, chunk: int, what: str
) -> None:
    """Send the blob from ``body``'s offset: chunks, each resumed where the registry
    says it stands when it fails, then the closing ``PUT``.

    :raises _UploadLostError: the registry cannot resume the upload, or does not have
        the blob after a closing ``PUT`` whose answer was lost.
    """
    size = body.descriptor.size
    failures = 0
    while size > chunk and body.offset < size:
        try:
            location = _patch(session, location, body, chunk, what)
            failures = 0
        except RegistryError as exc:
            if _lost(exc):
                raise _UploadLostError(location, _why(exc, what)) from exc
            if not _resumable(exc):
                raise
            failures += 1
            if failures > CHUNK_RETRIES:
                raise session.error(
                    RegistryUnavailableError,
                    f"{what}: the chunk at byte {body.offset} failed "
                    f"{failures} times, the last time: {_why(exc, what)}",
                ) from exc
            if exc.status != 416:  # else the registry only has less than was sent
                time.sleep(_BACKOFF * 2.0 ** (failures - 1))
            location, offset = _upload_status(session, location, what)
            body.rewind(offset, location)
    try:
        body.send(
            session,
            "PUT",
            location,
            size - body.offset,
            what=what,
            expect=(201,),
            params={"digest": str(body.descriptor.digest)},
        )
    except RegistryError as exc:
        if not _resumable(exc) and not _lost(exc):
            raise
        # The answer may be what was lost: the registry may have the blob.
        if not blob_exists(session, body.descriptor):
            raise _UploadLostError(location, _why(exc, what)) from exc


def _patch(
    session: RegistrySession, location: str, body: _BlobBody, chunk: int, what: str
) -> str:
    """Send the next chunk of the blob; the upload's next location."""
    count = min(chunk, body.descriptor.size - body.offset)
    content_range = f"{body.offset}-{body.offset + count - 1}"
    answer = body.send(
        session,
        "PATCH",
        location,
        count,
        what=what,
        expect=(202,),
        headers={"Content-Range": content_range},
    )
    return _location(answer, session, what)


def _upload_status(
    session: RegistrySession, location: str, what: str
) -> tuple[str, int]:
    """``GET`` of the upload's URL (distribution-spec "Pushing a blob in chunks"):
    its next location and how many bytes the registry has (its ``Range``,
    ``0-<last byte>``; ``0-0`` is read as none, the answer registries give before the
    first byte).

    :raises _UploadLostError: the registry no longer has the upload, or does not say
        how much of it it has.
    :raises RegistryError: unreachable, or any other refusal.
    """
    try:
        answer = session.request("GET", location, what=what, expect=(200, 204))
    except RegistryError as exc:
        if _lost(exc) or isinstance(exc, RegistryNotFoundError):
            raise _UploadLostError(location, _why(exc, what)) from exc
        raise
    found = _RANGE.fullmatch(header(answer, "Range"))
    if found is None:
        reason = "it does not say how much of it it has (no Range)"
        raise _UploadLostError(location, reason)
    last = int(found[1])
    next_location = (
        _location(answer, session, what) if header(answer, "Location") else location
    )
    return next_location, last + 1 if last else 0


def _why(exc: RegistryError, what: str) -> str:
    """A registry error's reason without the ``what`` it starts with."""
    return exc.reason.removeprefix(what).removeprefix(":").strip()


def _resumable(exc: RegistryError) -> bool:
    """A chunk failure the registry can tell the way on from: 416, no (whole)
    answer, 429, 5xx."""
    return exc.status == 416 or isinstance(exc, RegistryUnavailableError)


def _lost(exc: RegistryError) -> bool:
    """The registry no longer has the upload, or will not go on with it."""
    return exc.code in _LOST_CODES


def _cancel(session: RegistrySession, location: str, what: str) -> None:
    """``DELETE`` the upload, as far as the registry answers."""
    with contextlib.suppress(RegistryError):
        session.request(
            "DELETE", location, what=what, expect=(202, 204, 404), retry=False
        )


class _BlobBody:
    """A blob's bytes, read from a stream in pieces and hashed as they pass (once:
    bytes read again to be sent again are not hashed again).

    :param stream: the blob's bytes (not closed here).
    :param descriptor: the blob; its digest and size are checked before the last
        piece is given out.
    :param reopen: opens the bytes again from their start, when ``stream`` cannot
        seek back (streams it opens are closed here).
    """

    def __init__(
        self,
        stream: IO[bytes],
        descriptor: Descriptor,
        reopen: Callable[[], IO[bytes]] | None = None,
    ) -> None:
        self.stream = stream
        self.descriptor = descriptor
        self.hasher = descriptor.digest.hasher()
        self.offset = 0
        self.hashed = 0
        self._reopen = reopen
        self._opened: IO[bytes] | None = None
        self._start = _position(stream)
        if descriptor.size == 0:
            self._verify()

    def can_rewind(self) -> bool:
        """Whether the bytes can be read again from an earlier offset."""
        return self._start is not None or self._reopen is not None

    def rewind(self, offset: int, location: str = "") -> None:
        """Go back to ``offset`` (at most the current one), to send from there again.

        :raises _UploadLostError: (for the upload at ``location``) the bytes cannot
            be read again, or ``offset`` is beyond what was read.
        """
        if offset > self.offset:
            reason = f"it has {offset} bytes, more than the {self.offset} sent"
            raise _UploadLostError(location, reason)
        if offset == self.offset:
            return
        if self._start is not None:
            self.stream.seek(self._start + offset)
        elif self._reopen is not None:
            self.close()
            self._opened = self.stream = self._reopen()
            self._skip(offset)
        else:
            reason = f"the registry has {offset} of the {self.offset} bytes sent"
            raise _UploadLostError(location, reason)
        self.offset = offset

    def close(self) -> None:
        """Close the stream opened again, if any."""
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    def send(
        self,
        session: RegistrySession,
        method: str,
        url: str,
        count: int,
        *,
        what: str,
        expect: tuple[int, ...],
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request whose body is the next ``count`` bytes (streamed, so the
        request is never repeated)."""
        return session.request(
            method,
            url,
            what=what,
            expect=expect,
            headers={
                **(headers or {}),
                "Content-Type": _OCTET_STREAM,
                "Content-Length": str(count),
            },
            params=params,
            content=self._pieces(count),
            retry=False,
        )

    def _pieces(self, count: int) -> Iterator[bytes]:
        left = count
        while left:
            data = self._read(min(PIECE_SIZE, left))
            if self.offset + len(data) > self.hashed:
                self.hasher.update(data[self.hashed - self.offset :])
                self.hashed = self.offset + len(data)
                if self.hashed == self.descriptor.size:
                    self._verify()
            left -= len(data)
            self.offset += len(data)
            yield data

    def _skip(self, count: int) -> None:
        """Read ``count`` bytes of a stream opened again, without sending them."""
        left = count
        while left:
            left -= len(self._read(min(PIECE_SIZE, left)))

    def _read(self, count: int) -> bytes:
        data = self.stream.read(count)
        if not data:
            raise FormatError(
                f"blob {self.descriptor.digest} ends before its "
                f"{self.descriptor.size} bytes"
            )
        return data

    def _verify(self) -> None:
        where = f"blob {self.descriptor.digest}"
        self.hasher.verify(self.descriptor.digest, self.descriptor.size, where)


def _position(stream: IO[bytes]) -> int | None:
    """Where a stream that can seek is, ``None`` for one that cannot."""
    try:
        return stream.tell() if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _post(
    session: RegistrySession, what: str, mount: Mapping[str, str] | None = None
) -> httpx.Response:
    """Open an upload (``202``), or mount a blob (``201``)."""
    return session.request(
        "POST",
        session.url("blobs", "uploads/"),
        what=what,
        expect=(201, 202) if mount else (202,),
        params=mount,
    )


def _opened(
    response: httpx.Response, session: RegistrySession, what: str
) -> UploadSession:
    return UploadSession(
        _location(response, session, what),
        header_number(response, "OCI-Chunk-Min-Length"),
    )


def _location(response: httpx.Response, session: RegistrySession, what: str) -> str:
    """An upload answer's ``Location``, as a URL."""
    location = header(response, "Location")
    if not location:
        raise session.error(RegistryError, f"{what}: the registry gave no Location")
    return session.join(location)
