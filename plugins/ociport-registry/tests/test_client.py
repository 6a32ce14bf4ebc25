"""The distribution-spec client against scripted answers (httpx.MockTransport): the
bearer-token flow, retries with Retry-After, the error for each status, and digests
checked while reading. The real registry tests cover the rest."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from ociport_registry import referrers
from ociport_registry.client import pull, push, session
from ociport_registry.client.auth import parse_challenges
from ociport_registry.client.session import RegistrySession
from ociport_registry.credentials import Credentials
from ociport_registry.errors import (
    RegistryAuthError,
    RegistryError,
    RegistryNotFoundError,
    RegistryUnavailableError,
)
from ociport_registry.options import RegistryOptions
from ociport_registry.reference import RegistryReference

import ociport
from ociport.errors import DigestMismatchError, InvalidReferenceError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest

MANIFEST = json.dumps(
    {"schemaVersion": 2, "mediaType": mt.OCI_IMAGE_MANIFEST, "layers": []}
).encode()
MANIFEST_DIGEST = str(Digest.of(MANIFEST))
REALM = "https://auth.example/token"
CHALLENGE = (
    f'Bearer realm="{REALM}",service="registry.example",scope="repository:app:pull"'
)
Handler = Callable[[httpx.Request], httpx.Response]


def _session(
    handler: Handler, credentials: Credentials | None = None
) -> RegistrySession:
    reference = RegistryReference.parse("//registry.example/app:v1")
    return RegistrySession(
        reference,
        RegistryOptions(True, credentials),
        transport=httpx.MockTransport(handler),
    )


def _manifest() -> httpx.Response:
    return httpx.Response(
        200,
        content=MANIFEST,
        headers={
            "Content-Type": mt.OCI_IMAGE_MANIFEST,
            "Docker-Content-Digest": MANIFEST_DIGEST,
        },
    )


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds the client slept, instead of sleeping."""
    slept: list[float] = []
    monkeypatch.setattr(session.time, "sleep", slept.append)
    return slept


def test_challenges_are_parsed() -> None:
    [bearer] = parse_challenges(CHALLENGE)
    assert bearer.scheme == "bearer"
    assert dict(bearer.params) == {
        "realm": REALM,
        "service": "registry.example",
        "scope": "repository:app:pull",
    }
    basic, other = parse_challenges('Basic realm="a \\"b\\", c", Negotiate')
    assert (basic.scheme, dict(basic.params), other.scheme) == (
        "basic",
        {"realm": 'a "b", c'},
        "negotiate",
    )


@pytest.mark.parametrize("credentials", [None, Credentials("me", "pw:d")])
def test_bearer_tokens_are_fetched_once_per_scope(
    credentials: Credentials | None,
) -> None:
    token_requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(REALM):
            token_requests.append(request)
            return httpx.Response(200, json={"token": "T1", "expires_in": 300})
        if request.headers.get("Authorization") != "Bearer T1":
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        return _manifest()

    with _session(handler, credentials) as client:
        for _ in range(3):
            descriptor, raw = pull.fetch_manifest(client, "v1", max_size=1 << 20)
    assert (str(descriptor.digest), raw) == (MANIFEST_DIGEST, MANIFEST)
    [token] = token_requests
    assert token.url.params.get_list("scope") == ["repository:app:pull"]
    assert token.url.params["service"] == "registry.example"
    expected = credentials.basic() if credentials else None
    assert token.headers.get("Authorization") == expected


def test_a_refused_token_is_an_auth_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(REALM):
            return httpx.Response(401)
        return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})

    with (
        _session(handler, Credentials("me", "bad")) as client,
        pytest.raises(
            RegistryAuthError,
            match=f"the token service {REALM} refused the credentials",
        ),
    ):
        pull.fetch_manifest(client, "v1", max_size=1 << 20)


def test_too_many_requests_waits_as_told(waits: list[float]) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "2"}), _manifest()])
    with _session(lambda request: next(answers)) as client:
        pull.fetch_manifest(client, "v1", max_size=1 << 20)
    assert waits == [2.0]


def test_server_errors_are_retried_a_bounded_number_of_times(
    waits: list[float],
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            503, json={"errors": [{"code": "UNAVAILABLE", "message": "busy"}]}
        )

    with _session(handler) as client, pytest.raises(RegistryUnavailableError) as caught:
        pull.fetch_manifest(client, "v1", max_size=1 << 20)
    assert len(calls) == 1 + session.RETRIES and len(waits) == session.RETRIES
    assert str(caught.value) == (
        "registry registry.example, repository app: manifest v1: the registry failed, "
        "4 attempts (HTTP 503 UNAVAILABLE: busy)"
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, RegistryAuthError),
        (403, RegistryAuthError),
        (404, RegistryNotFoundError),
        (400, RegistryError),
    ],
)
def test_each_status_has_its_error(status: int, error: type[RegistryError]) -> None:
    with (
        _session(lambda request: httpx.Response(status)) as client,
        pytest.raises(error) as caught,
    ):
        pull.fetch_manifest(client, "v1", max_size=1 << 20)
    assert caught.value.status == status
    assert str(caught.value).startswith("registry registry.example, repository app: ")


def test_a_manifest_not_the_one_the_registry_names_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = _manifest()
        answer.headers["Docker-Content-Digest"] = "sha256:" + "0" * 64
        return answer

    with _session(handler) as client, pytest.raises(DigestMismatchError):
        pull.fetch_manifest(client, "v1", max_size=1 << 20)


def test_a_manifest_asked_for_by_digest_must_be_that_digest() -> None:
    wanted = "sha256:" + "1" * 64
    with (
        _session(lambda request: _manifest()) as client,
        pytest.raises(DigestMismatchError),
    ):
        pull.fetch_manifest(client, wanted, max_size=1 << 20)


def test_a_blob_is_checked_as_it_streams() -> None:
    blob = b"x" * 300_000
    descriptor = Descriptor("application/octet-stream", Digest.of(blob), len(blob))
    corrupt = blob[:-1] + b"y"

    for body, error in ((blob, None), (corrupt, DigestMismatchError)):
        client = _session(lambda request, body=body: httpx.Response(200, content=body))
        with client, pull.open_blob(client, descriptor) as stream:
            if error is None:
                assert stream.read() == blob
            else:
                with pytest.raises(error):
                    stream.read()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("//busybox", ("docker.io", "library/busybox", "latest", None)),
        ("//127.0.0.1:5000/a/b:v1", ("127.0.0.1:5000", "a/b", "v1", None)),
        (
            "//localhost/app@sha256:" + "2" * 64,
            ("localhost", "app", None, "sha256:" + "2" * 64),
        ),
    ],
)
def test_references(
    address: str, expected: tuple[str, str, str | None, str | None]
) -> None:
    reference = RegistryReference.parse(address)
    digest = str(reference.digest) if reference.digest else None
    assert (reference.registry, reference.repository, reference.tag, digest) == expected


def test_docker_hub_is_reached_at_its_api_host() -> None:
    assert RegistryReference.parse("//busybox").api_host == "registry-1.docker.io"


def test_a_reference_needs_its_slashes() -> None:
    with pytest.raises(InvalidReferenceError, match="docker://HOST"):
        RegistryReference.parse("busybox")


def _upload_registry(sent: list[str], tokens: list[str] | None = None) -> Handler:
    """A registry taking uploads (and, with ``tokens``, asking for bearer tokens that
    expire at once: each is given out once, in order)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(REALM):
            assert tokens
            return httpx.Response(200, json={"token": tokens.pop(0), "expires_in": 10})
        if tokens is not None and "Authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        request.read()  # a streamed body is read (and checked) here
        sent.append(f"{request.method} {request.headers.get('Authorization', '')}")
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": "/v2/app/blobs/uploads/u1"})
        if request.method == "PUT":
            return httpx.Response(201)
        return httpx.Response(204 if request.method == "DELETE" else 200)

    return handler


def test_a_token_about_to_expire_is_renewed_before_an_upload_body() -> None:
    blob = b"layer bytes"
    descriptor = Descriptor("application/octet-stream", Digest.of(blob), len(blob))
    sent: list[str] = []
    with _session(_upload_registry(sent, ["T1", "T2"])) as client:
        push.upload_blob(client, descriptor, io.BytesIO(blob))
    assert sent == ["POST Bearer T1", "GET Bearer T2", "PUT Bearer T2"]


def test_an_upload_whose_bytes_are_not_the_blob_is_cancelled() -> None:
    blob = b"a" * (3 * push.PIECE_SIZE // 2)
    descriptor = Descriptor("application/octet-stream", Digest.of(blob), len(blob))
    sent: list[str] = []
    with _session(_upload_registry(sent)) as client, pytest.raises(DigestMismatchError):
        push.upload_blob(client, descriptor, io.BytesIO(blob[:-1] + b"b"))
    assert sent == ["POST ", "DELETE "]  # the PUT never completed


def test_a_redirect_to_blob_storage_does_not_carry_the_registrys_token() -> None:
    blob = b"stored elsewhere"
    descriptor = Descriptor("application/octet-stream", Digest.of(blob), len(blob))
    seen_by_storage: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(REALM):
            return httpx.Response(200, json={"token": "T1", "expires_in": 300})
        if request.url.host == "storage.example":
            seen_by_storage.append(request.headers.get("Authorization"))
            return httpx.Response(200, content=blob)
        if request.headers.get("Authorization") != "Bearer T1":
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        return httpx.Response(
            307, headers={"Location": "https://storage.example/b?s=1"}
        )

    with _session(handler) as client, pull.open_blob(client, descriptor) as stream:
        assert stream.read() == blob
    assert seen_by_storage == [None]


class _BreaksAfter(httpx.SyncByteStream):
    """A body that gives ``data`` and then loses the connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise httpx.ReadError("connection reset by peer")


def _from(start: int, blob: bytes, **body: Any) -> httpx.Response:
    """A 206 answer for ``bytes=START-``; ``body`` as for httpx.Response."""
    content_range = f"bytes {start}-{len(blob) - 1}/{len(blob)}"
    return httpx.Response(206, headers={"Content-Range": content_range}, **body)


@pytest.mark.parametrize("honours_range", [True, False])
def test_a_broken_blob_download_is_resumed(honours_range: bool) -> None:
    blob = bytes(range(256)) * 1000
    descriptor = Descriptor("application/octet-stream", Digest.of(blob), len(blob))
    ranges: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked = request.headers.get("Range")
        ranges.append(asked)
        start = int(asked[len("bytes=") : -1]) if asked else 0
        if len(ranges) < 3:  # the first two answers break off after 100 kB
            broken = _BreaksAfter(blob[start : start + 100_000])
            return (
                _from(start, blob, stream=broken)
                if asked
                else httpx.Response(200, stream=broken)
            )
        if not honours_range:
            return httpx.Response(200, content=blob)
        return _from(start, blob, content=blob[start:])

    with _session(handler) as client, pull.open_blob(client, descriptor) as stream:
        assert stream.read() == blob
    assert ranges == [None, "bytes=100000-", "bytes=200000-"]


def test_a_blob_download_that_keeps_breaking_is_an_error() -> None:
    blob = b"z" * 10_000
    descriptor = Descriptor("application/octet-stream", Digest.of(blob), len(blob))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_BreaksAfter(b""))

    with (
        _session(handler) as client,
        pull.open_blob(client, descriptor) as stream,
        pytest.raises(RegistryUnavailableError, match=r"connection .* broke"),
    ):
        stream.read()


def test_the_referrers_api_is_used_where_the_registry_has_it() -> None:
    subject = Digest.of(b"subject")
    sbom = Descriptor(
        mt.OCI_IMAGE_MANIFEST, Digest.of(b"sbom"), 4, artifact_type="x/sbom"
    )
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        listed = [sbom.to_json()] if request.url.path.endswith(str(subject)) else []
        index = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_INDEX,
            "manifests": listed,
        }
        return httpx.Response(
            200, json=index, headers={"Content-Type": mt.OCI_IMAGE_INDEX}
        )

    with _session(handler) as client:
        roots, documents = referrers.referrer_roots(client, [subject])
    [root] = roots
    assert root.ref_name == f"sha256-{subject.encoded}"
    listed = ociport.Index.parse(documents[root.digest]).manifests
    assert [(d.digest, d.artifact_type) for d in listed] == [(sbom.digest, "x/sbom")]
    assert asked == [f"/v2/app/referrers/{subject}", f"/v2/app/referrers/{sbom.digest}"]


def test_a_registry_that_lists_referrers_itself_gets_no_tag_index() -> None:
    subject = Descriptor(mt.OCI_IMAGE_MANIFEST, Digest.of(b"subject"), 7)
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_MANIFEST,
            "artifactType": "x/sbom",
            "config": {
                "mediaType": mt.OCI_EMPTY,
                "digest": str(Digest.of(b"{}")),
                "size": 2,
            },
            "layers": [],
            "subject": subject.to_json(),
        }
    ).encode()
    referrer = Descriptor(mt.OCI_IMAGE_MANIFEST, Digest.of(raw), len(raw))
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        return httpx.Response(201, headers={"OCI-Subject": str(subject.digest)})

    with _session(handler) as client:
        referrers.push_referrers(client, [referrer], {referrer.digest: raw})
    assert sent == [f"PUT /v2/app/manifests/{referrer.digest}"]


def test_an_answer_cut_short_is_retried_then_an_error(waits: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_BreaksAfter(b'{"tags": ['))

    with _session(handler) as client, pytest.raises(RegistryUnavailableError):
        pull.list_tags(client)
    assert len(waits) == session.RETRIES


def test_endless_redirects_are_a_registry_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": str(request.url)})

    with _session(handler) as client, pytest.raises(RegistryError, match="redirect"):
        pull.fetch_manifest(client, "v1", max_size=1 << 20)


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [
        ("Wed, 21 Oct 2099 07:28:00 GMT", session.MAX_RETRY_AFTER),  # a date, capped
        ("3600", session.MAX_RETRY_AFTER),
        ("soon", 0.5),  # not a number or a date: the back-off
    ],
)
def test_retry_after_is_capped(
    waits: list[float], retry_after: str, waited: float
) -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": retry_after}), _manifest()]
    )
    with _session(lambda request: next(answers)) as client:
        pull.fetch_manifest(client, "v1", max_size=1 << 20)
    assert waits == [waited]
