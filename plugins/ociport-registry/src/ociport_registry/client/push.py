"""Writing to a registry: blobs and manifests (distribution-spec "Pushing blobs",
"Pushing a blob monolithically", "Pushing a blob in chunks", "Pushing Manifests").

A blob is read from its stream once, in pieces of :data:`PIECE_SIZE` bytes sent as they
are read (memory does not grow with its size, nor with the chunk size), and hashed as
they pass; the last piece is held back until the hash proves the bytes are the blob.
Small blobs go in one ``PUT``, larger ones in ``PATCH`` chunks of :data:`CHUNK_SIZE`
bytes (or the registry's ``OCI-Chunk-Min-Length``) and a closing ``PUT``. On any
failure the upload is cancelled (``DELETE``): the registry never holds a wrong blob.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Final

import httpx

from ociport.drivers.kit import Descriptor, FormatError, OciportError
from ociport_registry.client.session import RegistrySession, header, header_number
from ociport_registry.errors import RegistryError

__all__ = [
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
_OCTET_STREAM: Final = "application/octet-stream"


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
) -> None:
    """Upload ``descriptor``'s bytes from ``stream`` (read, not closed) to ``upload``
    (a new one by default): one ``PUT`` with the bytes for blobs up to
    :data:`CHUNK_SIZE` bytes (distribution-spec "Pushing a blob monolithically",
    POST then PUT), else ``PATCH`` chunks with ``Content-Range`` and a closing ``PUT``
    ("Pushing a blob in chunks").

    :raises DigestMismatchError, SizeMismatchError: the stream is not the blob; the
        upload is cancelled.
    :raises FormatError: the stream ends before the blob's size; the upload is
        cancelled.
    :raises RegistryError: refused or unreachable; the upload is cancelled.
    """
    what = f"upload of blob {descriptor.digest}"
    upload = upload or _opened(_post(session, what), session, what)
    location = upload.location
    chunk = max(CHUNK_SIZE, upload.min_chunk)
    body = _BlobBody(stream, descriptor)
    try:
        if descriptor.size > chunk:
            while body.offset < descriptor.size:
                location = _patch(session, location, body, chunk, what)
        left = descriptor.size - body.offset
        body.send(
            session,
            "PUT",
            location,
            left,
            what=what,
            expect=(201,),
            params={"digest": str(descriptor.digest)},
        )
    except (OciportError, OSError):
        with contextlib.suppress(RegistryError):
            session.request(
                "DELETE", location, what=what, expect=(202, 204, 404), retry=False
            )
        raise


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


class _BlobBody:
    """A blob's bytes, read once from a stream in pieces and hashed as they pass.

    :param stream: the blob's bytes (not closed here).
    :param descriptor: the blob; its digest and size are checked before the last
        piece is given out.
    """

    def __init__(self, stream: IO[bytes], descriptor: Descriptor) -> None:
        self.stream = stream
        self.descriptor = descriptor
        self.hasher = descriptor.digest.hasher()
        self.offset = 0
        if descriptor.size == 0:
            self._verify()

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
            data = self.stream.read(min(PIECE_SIZE, left))
            if not data:
                raise FormatError(
                    f"blob {self.descriptor.digest} ends before its "
                    f"{self.descriptor.size} bytes"
                )
            self.hasher.update(data)
            left -= len(data)
            self.offset += len(data)
            if self.offset == self.descriptor.size:
                self._verify()
            yield data

    def _verify(self) -> None:
        where = f"blob {self.descriptor.digest}"
        self.hasher.verify(self.descriptor.digest, self.descriptor.size, where)


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
