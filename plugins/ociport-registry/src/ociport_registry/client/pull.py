"""Reading from a registry: manifests and blobs (distribution-spec "Pulling manifests",
"Pulling blobs", "Checking if content exists in the registry").

Documents (manifests, indexes, configs) are read whole, capped, and checked against
their digest; layers are streamed
(:class:`~ociport_registry.client.blobstream.BlobReader`), hashed as they pass when
asked to, so memory does not grow with their size.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from typing import IO, Final

import httpx

from ociport.drivers.kit import (
    Descriptor,
    Digest,
    DigestMismatchError,
    DocumentTooLargeError,
    Index,
    UnsupportedMediaTypeError,
    verified,
)
from ociport.drivers.kit import mediatypes as mt
from ociport_registry.client.blobstream import BlobReader
from ociport_registry.client.session import RegistrySession, header, header_number
from ociport_registry.errors import RegistryError, RegistryNotFoundError

__all__ = [
    "MANIFEST_ACCEPT",
    "explain_missing",
    "fetch_manifest",
    "fetch_referrers",
    "head_manifest",
    "iter_tags",
    "list_tags",
    "open_blob",
    "read_blob",
]

#: Every manifest and index media type ociport reads, for ``Accept``.
MANIFEST_ACCEPT: Final = ", ".join(
    [
        mt.OCI_IMAGE_INDEX,
        mt.OCI_IMAGE_MANIFEST,
        mt.DOCKER_MANIFEST_LIST,
        mt.DOCKER_MANIFEST_V2,
    ]
)
_DOCUMENT_TYPES: Final = mt.INDEX_MEDIA_TYPES | mt.MANIFEST_MEDIA_TYPES
#: Size of the buffer between the HTTP stream and a blob's reader.
_BUFFER: Final = 1 << 20


def fetch_manifest(
    session: RegistrySession,
    reference: str,
    *,
    max_size: int,
    expected: Descriptor | None = None,
) -> tuple[Descriptor, bytes]:
    """``GET /v2/<name>/manifests/<reference>`` (a tag or a digest), with every
    manifest and index media type in ``Accept`` (distribution-spec "Pulling
    manifests").

    :param max_size: cap on the manifest's size, in bytes.
    :param expected: the descriptor that named it, when there is one: the bytes must
        be that blob.
    :returns: the manifest's descriptor (media type from ``Content-Type``, else the
        document's ``mediaType``; digest of the bytes read, in the algorithm of the
        digest asked for) and its bytes.
    :raises RegistryError: refused, absent, unreachable.
    :raises DocumentTooLargeError: larger than ``max_size``.
    :raises DigestMismatchError, SizeMismatchError: not the bytes asked for, or not
        those the registry's ``Docker-Content-Digest`` names.
    :raises UnsupportedMediaTypeError: not a manifest or index ociport reads (Docker
        schema 1).
    """
    what = f"manifest {reference}"
    response = session.request(
        "GET",
        session.url("manifests", reference),
        what=what,
        headers={"Accept": MANIFEST_ACCEPT},
        stream=True,
    )
    raw = _read_capped(response, max_size, what)
    media_type = _media_type(response, raw, what)
    asked = expected.digest if expected is not None else _digest_or_none(reference)
    algorithm = asked.algorithm if asked is not None else "sha256"
    descriptor = Descriptor(media_type, Digest.of(raw, algorithm), len(raw))
    if expected is not None:
        verified(expected, raw, what)
    elif asked is not None and asked != descriptor.digest:
        raise DigestMismatchError(asked, descriptor.digest, what)
    _check_registry_digest(response, descriptor.digest, what)
    return descriptor, raw


def head_manifest(session: RegistrySession, reference: str) -> Descriptor | None:
    """``HEAD /v2/<name>/manifests/<reference>``: the manifest's descriptor from the
    headers (``Content-Type``, ``Docker-Content-Digest``, ``Content-Length`` in
    bytes), or ``None`` when the registry does not have it (or does not say its
    digest) (distribution-spec "Checking if content exists in the registry").

    :raises RegistryError: refused or unreachable.
    """
    response = session.request(
        "HEAD",
        session.url("manifests", reference),
        what=f"manifest {reference}",
        headers={"Accept": MANIFEST_ACCEPT},
        expect=(200, 404),
    )
    digest = _digest_or_none(header(response, "Docker-Content-Digest"))
    if response.status_code == 404 or digest is None:
        return None
    media_type = header(response, "Content-Type").split(";")[0].strip()
    return Descriptor(media_type, digest, header_number(response, "Content-Length"))


def list_tags(session: RegistrySession, limit: int = 20) -> list[str]:
    """The first ``limit`` tags of the repository (distribution-spec "Listing Tags").

    :raises RegistryNotFoundError: the repository does not exist (``NAME_UNKNOWN``).
    :raises RegistryError: refused or unreachable.
    """
    return list(itertools.islice(iter_tags(session, page=limit), limit))


def iter_tags(session: RegistrySession, *, page: int = 1000) -> Iterator[str]:
    """Every tag of the repository, ``page`` at a time, following the ``Link`` header
    to the next page (distribution-spec "Listing Tags").

    :raises RegistryNotFoundError: the repository does not exist (``NAME_UNKNOWN``).
    :raises RegistryError: refused or unreachable.
    """
    url: str | None = session.url("tags", "list")
    params: dict[str, str] | None = {"n": str(page)}
    while url is not None:
        response = session.request("GET", url, what="tag list", params=params)
        try:
            tags = json.loads(response.content)["tags"] or []
        except (ValueError, KeyError, TypeError):
            return
        yield from (str(tag) for tag in tags)
        following = response.links.get("next", {}).get("url")
        url, params = (session.join(following), None) if following else (None, None)


def fetch_referrers(
    session: RegistrySession, subject: Digest
) -> list[Descriptor] | None:
    """``GET /v2/<name>/referrers/<digest>``: the manifests that name ``subject`` as
    theirs (distribution-spec "Listing Referrers"), or ``None`` when the registry has
    no referrers API (then the referrers tag schema applies).

    :raises RegistryError: refused or unreachable.
    """
    what = f"referrers of {subject}"
    response = session.request(
        "GET",
        session.url("referrers", str(subject)),
        what=what,
        headers={"Accept": mt.OCI_IMAGE_INDEX},
        expect=(200, 404),
    )
    if response.status_code == 404:
        return None
    return list(Index.parse(response.content, where=what).manifests)


def explain_missing(
    session: RegistrySession, error: RegistryNotFoundError
) -> RegistryError:
    """The error to report for a manifest the registry does not have: that the
    repository does not exist (a registry says ``MANIFEST_UNKNOWN`` for both), else
    ``error`` with the tags the repository has as its hint."""
    try:
        tags = list_tags(session)
    except RegistryNotFoundError as missing:
        return missing
    except RegistryError:
        return error
    if not tags:
        return error
    hint = "the repository has " + ", ".join(tags)
    return session.error(type(error), error.reason, error.status, error.code, hint=hint)


def read_blob(
    session: RegistrySession, descriptor: Descriptor, *, max_size: int
) -> bytes:
    """A whole small blob (a config), checked against ``descriptor``
    (distribution-spec "Pulling blobs").

    :param max_size: cap on its size, in bytes.

    :raises DocumentTooLargeError: ``descriptor`` says it is larger than ``max_size``.
    :raises DigestMismatchError, SizeMismatchError: not the bytes named.
    :raises RegistryError: refused, absent, unreachable.
    """
    what = f"blob {descriptor.digest}"
    if descriptor.size > max_size:
        raise DocumentTooLargeError(descriptor.size, max_size, member=what)
    response = session.request(
        "GET", session.url("blobs", str(descriptor.digest)), what=what, stream=True
    )
    return verified(descriptor, _read_capped(response, max_size, what), what)


def open_blob(
    session: RegistrySession, descriptor: Descriptor, *, verify: bool = True
) -> IO[bytes]:
    """``GET /v2/<name>/blobs/<digest>``, streamed (distribution-spec "Pulling
    blobs"; redirects to blob storage are followed, without the registry's
    ``Authorization``). The caller closes it.

    :param verify: hash while reading and raise at the end when the bytes are not
        ``descriptor``'s (leave it to a caller that hashes them itself).
    :raises RegistryError: refused, absent, unreachable; or, while reading, the
        connection broke and could not be resumed (:class:`BlobReader`).
    :raises DigestMismatchError, SizeMismatchError: while reading, with ``verify``.
    """
    url = session.url("blobs", str(descriptor.digest))
    response = session.request(
        "GET", url, what=f"blob {descriptor.digest}", stream=True
    )
    reader = BlobReader(session, url, response, descriptor, verify=verify)
    return io.BufferedReader(reader, _BUFFER)


def _read_capped(response: httpx.Response, max_size: int, what: str) -> bytes:
    """A streamed answer's whole body, refused past ``max_size`` bytes; closed."""
    parts = []
    total = 0
    try:
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > max_size:
                raise DocumentTooLargeError(total, max_size, member=what)
            parts.append(chunk)
    finally:
        response.close()
    return b"".join(parts)


def _media_type(response: httpx.Response, raw: bytes, what: str) -> str:
    """The manifest's media type: ``Content-Type``, else its ``mediaType`` field."""
    media_type = header(response, "Content-Type").split(";")[0].strip()
    if media_type not in _DOCUMENT_TYPES:
        try:
            field = json.loads(raw).get("mediaType")
        except (ValueError, AttributeError):
            field = None
        if isinstance(field, str):
            media_type = field
    if media_type not in _DOCUMENT_TYPES:
        raise UnsupportedMediaTypeError(media_type or "(none)", member=what)
    return media_type


def _digest_or_none(text: str) -> Digest | None:
    if ":" not in text:
        return None
    try:
        return Digest.parse(text)
    except ValueError:
        return None


def _check_registry_digest(response: httpx.Response, digest: Digest, what: str) -> None:
    """The registry's ``Docker-Content-Digest``, when it gives one in the same
    algorithm, names the bytes read."""
    claimed = _digest_or_none(header(response, "Docker-Content-Digest"))
    same_algorithm = claimed is not None and claimed.algorithm == digest.algorithm
    if same_algorithm and claimed != digest:
        raise DigestMismatchError(claimed, digest, what)
