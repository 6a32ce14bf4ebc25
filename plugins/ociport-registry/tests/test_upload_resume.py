"""Chunked uploads that fail on the way, against a scripted registry
(httpx.MockTransport) that keeps what it receives: a chunk answered 416, or whose
connection breaks, is resumed where the registry says the upload stands (GET of the
upload's URL, its Range); a registry that lost the upload makes it start over once;
the retries are bounded and end in one clear error."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO

import httpx
import pytest
from ociport_registry.client import push, session
from ociport_registry.client.session import RegistrySession
from ociport_registry.errors import RegistryUnavailableError
from ociport_registry.options import RegistryOptions
from ociport_registry.reference import RegistryReference

from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest

CHUNK = 1000
BLOB = bytes(range(256)) * 10  # 2560 bytes: chunks of 1000, 1000, 560
DESCRIPTOR = Descriptor("application/octet-stream", Digest.of(BLOB), len(BLOB))


class _Registry:
    """Takes chunked uploads as distribution does (a PATCH must start where the
    upload stands, else 416), and fails the PATCHes as ``script`` says, in order:

    - ``"ok"``: take the chunk;
    - ``"short"``: answer 202 but keep only half of it (a chunk lost on the way);
    - ``"break"``: keep half of it, then break the connection;
    - ``"lose"``: break the connection and forget the upload (404 from then on).

    ``put`` says the same of the closing PUT (``"ok"``, or ``"break-after"``: store
    the blob, then break the connection before answering).
    """

    def __init__(self, *script: str, put: str = "ok") -> None:
        self.script = list(script)
        self.put = put
        self.received = bytearray()
        self.known = False
        self.uploads = 0
        self.blob: bytes | None = None
        self.log: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        method = request.method
        self.log.append(method)
        location = {"Location": f"/v2/app/blobs/uploads/u{self.uploads}"}
        if method == "POST":
            self.uploads += 1
            self.received = bytearray()
            self.known = True
            return httpx.Response(
                202, headers={"Location": f"/v2/app/blobs/uploads/u{self.uploads}"}
            )
        if method == "HEAD":
            return httpx.Response(200 if self.blob is not None else 404)
        if method == "DELETE":
            self.known = False
            return httpx.Response(204)
        if not self.known or not request.url.path.endswith(f"u{self.uploads}"):
            return _upload_unknown()
        if method == "GET":
            last = max(len(self.received) - 1, 0)
            return httpx.Response(204, headers={"Range": f"0-{last}", **location})
        if method == "PATCH":
            start = int(request.headers["Content-Range"].split("-")[0])
            if start != len(self.received):
                request.read()
                self.log[-1] = "PATCH 416"
                return httpx.Response(416)
            action = self.script.pop(0) if self.script else "ok"
            self.log[-1] = f"PATCH {action}"
            data = b"".join(request.stream)  # type: ignore[union-attr]
            if action == "ok":
                self.received += data
            elif action == "short":
                self.received += data[: len(data) // 2]
            elif action == "break":
                self.received += data[: len(data) // 2]
                raise httpx.WriteError("connection reset by peer")
            else:
                self.known = False
                raise httpx.WriteError("connection reset by peer")
            return httpx.Response(202, headers=location)
        assert method == "PUT"
        self.received += b"".join(request.stream)  # type: ignore[union-attr]
        if bytes(self.received) != BLOB:
            return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID"}]})
        self.blob = bytes(self.received)
        if self.put == "break-after":
            raise httpx.ReadError("connection reset by peer")
        return httpx.Response(201)


def _upload_unknown() -> httpx.Response:
    error = {"code": "BLOB_UPLOAD_UNKNOWN", "message": "blob upload unknown"}
    return httpx.Response(404, json={"errors": [error]})


class _OneWay(io.RawIOBase):
    """A stream that cannot seek (a pipe, a blob from another registry)."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self.inner.readinto(buffer)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(push, "CHUNK_SIZE", CHUNK)
    monkeypatch.setattr(push, "PIECE_SIZE", 300)
    yield


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(session.time, "sleep", slept.append)
    return slept


def _upload(
    registry: _Registry, stream: IO[bytes] | None = None, *, reopen: bool = False
) -> None:
    reference = RegistryReference.parse("//registry.example/app:v1")
    opened: list[IO[bytes]] = []

    def again() -> IO[bytes]:
        opened.append(_OneWay(BLOB))
        return opened[-1]

    with RegistrySession(
        reference, RegistryOptions(True), transport=httpx.MockTransport(registry)
    ) as client:
        push.upload_blob(
            client,
            DESCRIPTOR,
            stream if stream is not None else io.BytesIO(BLOB),
            reopen=again if reopen else None,
        )
    assert all(stream.closed for stream in opened)


@pytest.mark.parametrize(
    "stream", ["seekable", "reopened"], ids=["seekable", "reopened"]
)
def test_a_chunk_answered_416_resumes_where_the_registry_stands(
    stream: str, waits: list[float]
) -> None:
    registry = _Registry("short")
    if stream == "seekable":
        _upload(registry)
    else:
        _upload(registry, _OneWay(BLOB), reopen=True)
    assert registry.blob == BLOB
    assert registry.log == [
        "POST",
        "PATCH short",  # 202, but only 500 bytes arrived
        "PATCH 416",  # the next chunk starts at 1000
        "GET",  # Range: 0-499
        "PATCH ok",  # 500-1499
        "PATCH ok",
        "PATCH ok",
        "PUT",
    ]
    assert waits == []  # a 416 is answered at once


def test_a_connection_broken_mid_chunk_resumes(waits: list[float]) -> None:
    registry = _Registry("ok", "break")
    _upload(registry)
    assert registry.blob == BLOB
    assert registry.log == [
        "POST",
        "PATCH ok",
        "PATCH break",  # 500 of the second chunk's bytes arrived
        "GET",
        "PATCH ok",  # 1500-2499
        "PATCH ok",
        "PUT",
    ]
    assert waits == [0.5]


def test_a_registry_that_lost_the_upload_starts_over_once(waits: list[float]) -> None:
    registry = _Registry("ok", "lose")
    _upload(registry, _OneWay(BLOB), reopen=True)
    assert registry.blob == BLOB
    assert registry.log == [
        "POST",
        "PATCH ok",
        "PATCH lose",
        "GET",  # 404 BLOB_UPLOAD_UNKNOWN
        "DELETE",
        "POST",
        "PATCH ok",
        "PATCH ok",
        "PATCH ok",
        "PUT",
    ]
    assert registry.uploads == 2


def test_an_upload_lost_twice_is_one_error(waits: list[float]) -> None:
    registry = _Registry("lose", "lose")
    with pytest.raises(
        RegistryUnavailableError,
        match=r"^registry registry\.example, repository app: upload of blob "
        r"sha256:\w+: the registry lost the upload again after starting over: "
        r"not found \(HTTP 404 BLOB_UPLOAD_UNKNOWN: blob upload unknown\)$",
    ):
        _upload(registry)
    assert registry.uploads == 2 and registry.blob is None
    assert registry.log[-1] == "DELETE"


def test_a_chunk_that_keeps_failing_ends_after_bounded_retries(
    waits: list[float],
) -> None:
    registry = _Registry(*["break"] * 10)
    with pytest.raises(
        RegistryUnavailableError,
        match=r"upload of blob sha256:\w+: the chunk at byte \d+ failed 4 times, "
        r"the last time: the connection to \S+ broke: connection reset by peer$",
    ):
        _upload(registry)
    assert registry.log.count("PATCH break") == push.CHUNK_RETRIES + 1
    assert waits == [0.5, 1.0, 2.0]
    assert registry.log[-1] == "DELETE" and registry.blob is None


def test_a_stream_that_cannot_be_read_again_ends_with_the_first_failure() -> None:
    registry = _Registry("short")
    with pytest.raises(
        RegistryUnavailableError,
        match=r"the upload can neither be resumed nor started over \(the blob's "
        r"stream cannot be read again\): the registry has 500 of the \d+ bytes sent$",
    ):
        _upload(registry, _OneWay(BLOB))
    assert registry.log[-1] == "DELETE"


def test_a_closing_put_whose_answer_was_lost_checks_the_blob(
    waits: list[float],
) -> None:
    registry = _Registry(put="break-after")
    _upload(registry)
    assert registry.blob == BLOB
    assert registry.log[-2:] == ["PUT", "HEAD"]
    assert registry.uploads == 1


def test_a_small_blob_whose_put_broke_starts_over_once(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    monkeypatch.setattr(push, "CHUNK_SIZE", len(BLOB))  # one PUT
    registry = _Registry()
    sent: list[int] = []
    original = registry.__call__

    def breaks_first_put(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and not sent:
            sent.append(1)
            request.read()
            raise httpx.WriteError("connection reset by peer")
        return original(request)

    reference = RegistryReference.parse("//registry.example/app:v1")
    with RegistrySession(
        reference,
        RegistryOptions(True),
        transport=httpx.MockTransport(breaks_first_put),
    ) as client:
        push.upload_blob(client, DESCRIPTOR, io.BytesIO(BLOB))
    assert registry.blob == BLOB
    assert registry.log == ["POST", "HEAD", "DELETE", "POST", "PUT"]
