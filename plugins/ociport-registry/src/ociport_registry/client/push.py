"""Writing to a registry: blobs and manifests (distribution-spec "Pushing blobs",
"Pushing a blob monolithically", "Pushing a blob in chunks", "Pushing Manifests").

A blob is read from its stream once, in chunks of at most :data:`CHUNK_SIZE` bytes
(memory does not grow with its size), hashed as it is read, and the upload is completed
(``PUT ...?digest=``) only once the bytes proved to be the blob; otherwise, or on any
failure, the upload is cancelled (``DELETE``), so the registry never holds a wrong blob.
"""

from __future__ import annotations

import contextlib
from typing import IO, Final

import httpx

from ociport.drivers.kit import Descriptor, FormatError, OciportError
from ociport_registry.client.session import RegistrySession, header, header_number
from ociport_registry.errors import RegistryError

__all__ = ["CHUNK_SIZE", "blob_exists", "put_manifest", "upload_blob"]

#: Blobs up to this size go in one ``PUT``; larger ones in ``PATCH`` chunks this size
#: (or the registry's ``OCI-Chunk-Min-Length``, when larger).
CHUNK_SIZE: Final = 16 << 20
_OCTET_STREAM: Final = "application/octet-stream"


def blob_exists(session: RegistrySession, descriptor: Descriptor) -> bool:
    """``HEAD /v2/<name>/blobs/<digest>``: whether the repository has the blob.

    :raises RegistryError: refused or unreachable.
    """
    response = session.request(
        "HEAD",
        session.url("blobs", str(descriptor.digest)),
        what=f"blob {descriptor.digest}",
        expect=(200, 404),
    )
    return response.status_code == 200


def upload_blob(
    session: RegistrySession, descriptor: Descriptor, stream: IO[bytes]
) -> None:
    """Upload ``descriptor``'s bytes from ``stream`` (read, not closed): ``POST`` an
    upload, then one ``PUT`` with the bytes (small blobs) or ``PATCH`` chunks with
    ``Content-Range`` and a closing ``PUT``.

    :raises DigestMismatchError, SizeMismatchError: the stream is not the blob; the
        upload is cancelled.
    :raises FormatError: the stream ends before the blob's size; the upload is
        cancelled.
    :raises RegistryError: refused or unreachable; the upload is cancelled.
    """
    what = f"upload of blob {descriptor.digest}"
    started = session.request(
        "POST", session.url("blobs", "uploads/"), what=what, expect=(202,)
    )
    location = _location(started, session, what)
    chunk = max(CHUNK_SIZE, header_number(started, "OCI-Chunk-Min-Length"))
    try:
        if descriptor.size <= chunk:
            data = _read(stream, descriptor.size, descriptor)
            _verify(descriptor, data)
        else:
            location = _patch_chunks(session, location, descriptor, stream, chunk)
            data = b""
        session.request(
            "PUT",
            location,
            what=what,
            expect=(201,),
            params={"digest": str(descriptor.digest)},
            headers={"Content-Type": _OCTET_STREAM},
            content=data,
            retry=False,
        )
    except (OciportError, OSError):
        with contextlib.suppress(RegistryError):
            session.request(
                "DELETE", location, what=what, expect=(202, 204, 404), retry=False
            )
        raise


def put_manifest(
    session: RegistrySession, reference: str, descriptor: Descriptor, raw: bytes
) -> None:
    """``PUT /v2/<name>/manifests/<reference>`` (a tag, or the digest) with the
    manifest's own bytes and media type.

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


def _patch_chunks(
    session: RegistrySession,
    location: str,
    descriptor: Descriptor,
    stream: IO[bytes],
    chunk: int,
) -> str:
    """Send the blob in ``PATCH`` chunks, hashing them; the location to complete the
    upload at.

    :raises DigestMismatchError, SizeMismatchError: the bytes are not the blob.
    """
    what = f"upload of blob {descriptor.digest}"
    hasher = descriptor.digest.hasher()
    offset = 0
    while offset < descriptor.size:
        data = _read(stream, min(chunk, descriptor.size - offset), descriptor)
        hasher.update(data)
        answer = session.request(
            "PATCH",
            location,
            what=what,
            expect=(202,),
            headers={
                "Content-Type": _OCTET_STREAM,
                "Content-Range": f"{offset}-{offset + len(data) - 1}",
            },
            content=data,
            retry=False,
        )
        location = _location(answer, session, what)
        offset += len(data)
    hasher.verify(descriptor.digest, descriptor.size, what)
    return location


def _verify(descriptor: Descriptor, data: bytes) -> None:
    hasher = descriptor.digest.hasher()
    hasher.update(data)
    hasher.verify(descriptor.digest, descriptor.size, f"blob {descriptor.digest}")


def _read(stream: IO[bytes], count: int, descriptor: Descriptor) -> bytes:
    """Exactly ``count`` bytes of the blob.

    :raises FormatError: the stream ends first.
    """
    parts = []
    left = count
    while left:
        data = stream.read(left)
        if not data:
            raise FormatError(
                f"blob {descriptor.digest} ends before its {descriptor.size} bytes"
            )
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def _location(response: httpx.Response, session: RegistrySession, what: str) -> str:
    """An upload answer's ``Location``, as a URL."""
    location = header(response, "Location")
    if not location:
        raise session.error(RegistryError, f"{what}: the registry gave no Location")
    return session.join(location)
