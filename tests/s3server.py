"""A real S3 HTTP server for tests: moto in server mode on 127.0.0.1, counting bytes.

It is moto's own WSGI application (what ``ThreadedMotoServer`` and the ``moto_server``
command run) behind a thin middleware that records every request: method, key, Range
header and the number of body bytes sent back. Tests use that to measure what a client
really downloaded, for clients in this process and in subprocesses alike (which is why
the byte-count tests run on moto only: Ceph RGW, the other S3 server of the tests, has
no such hook).

The middleware can also misbehave on purpose, per bucket (:meth:`S3Server.faults`):
ignore ``If-None-Match`` (a server without conditional writes), answer a failed
conditional write the way Ceph RGW 16 does (412 without ``<Condition>`` or
``<Message>``), lose the answer to a PUT it carried out (the client retries), or refuse
conditional PUTs with 409 ``ConditionalRequestConflict`` (AWS, for racing writes).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

#: Fake credentials: moto accepts any; tests/rgw/start-rgw.sh gives its user these keys;
#: they keep botocore from looking elsewhere. No session token: RGW would check it.
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/ociport-tests/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/ociport-tests/aws-credentials",
}


@dataclass(frozen=True, slots=True)
class Request:
    """One request the server answered.

    :ivar method: ``GET``, ``PUT``, ``HEAD``, ...
    :ivar path: ``/bucket/key`` (URL-decoded), without the query.
    :ivar query: the raw query string (``uploads``, ``partNumber=1&uploadId=...``).
    :ivar range: the Range header, or ``None``.
    :ivar sent: body bytes sent back.
    :ivar signed: whether the request carried an Authorization header (``anon=True``
        clients send none).
    """

    method: str
    path: str
    query: str
    range: str | None
    sent: int
    signed: bool


@dataclass(slots=True)
class Faults:
    """How the server misbehaves for one bucket (see the module docstring).

    :ivar ignore_if_none_match: drop the ``If-None-Match`` header of every request.
    :ivar like_rgw: answer 412 without ``<Condition>`` and ``<Message>``.
    :ivar lose: carry out this many conditional PUTs of keys ending in ``suffix``, then
        answer each with 500 instead of its real answer (botocore retries).
    :ivar conflict: answer this many conditional PUTs of keys ending in ``suffix`` with
        409 ``ConditionalRequestConflict`` without carrying them out.
    :ivar suffix: which keys ``lose`` and ``conflict`` apply to.
    """

    ignore_if_none_match: bool = False
    like_rgw: bool = False
    lose: int = 0
    conflict: int = 0
    suffix: str = ".lock"


def _error(code: str, bucket: str, message: str | None = None) -> bytes:
    text = f"<Message>{message}</Message>" if message else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>{text}'
        f"<BucketName>{bucket}</BucketName><RequestId>tx0</RequestId></Error>"
    ).encode()


class _Recorder:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.log: list[Request] = []
        self.mutex = threading.Lock()
        self.faults: dict[str, Faults] = {}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        path = urllib.parse.unquote(environ.get("PATH_INFO", ""))
        with self.mutex:
            faults = self.faults.get(path.split("/")[1] if path.count("/") else "")
        if faults is not None:
            yield from self._misbehave(faults, path, environ, start_response)
            return
        yield from self._record(environ, start_response)

    def _misbehave(
        self,
        faults: Faults,
        path: str,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterator[bytes]:
        bucket = path.split("/")[1]
        conditional = (
            environ["REQUEST_METHOD"] == "PUT" and "HTTP_IF_NONE_MATCH" in environ
        )
        if faults.ignore_if_none_match:
            environ.pop("HTTP_IF_NONE_MATCH", None)
        targeted = conditional and path.endswith(faults.suffix)
        with self.mutex:
            conflict = targeted and faults.conflict > 0
            lose = targeted and not conflict and faults.lose > 0
            faults.conflict -= conflict
            faults.lose -= lose
        if conflict:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            yield from _answer(
                start_response,
                "409 Conflict",
                _error(
                    "ConditionalRequestConflict",
                    bucket,
                    "A conflicting operation is in progress",
                ),
            )
            return
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            captured.update(status=status, headers=headers)

        body = b"".join(self._record(environ, capture))
        status, headers = captured["status"], captured["headers"]
        if lose:
            status, headers, body = (
                "500 Internal Server Error",
                [],
                _error("InternalError", bucket, "We encountered an internal error"),
            )
        elif faults.like_rgw and status.startswith("412"):
            headers, body = [], _error("PreconditionFailed", bucket)
        yield from _answer(start_response, status, body, headers)

    def _record(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        body = self.app(environ, start_response)
        sent = 0
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            request = Request(
                environ["REQUEST_METHOD"],
                urllib.parse.unquote(environ.get("PATH_INFO", "")),
                environ.get("QUERY_STRING", ""),
                environ.get("HTTP_RANGE"),
                sent,
                "HTTP_AUTHORIZATION" in environ,
            )
            with self.mutex:
                self.log.append(request)


def _answer(
    start_response: Callable[..., Any],
    status: str,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> Iterator[bytes]:
    kept = [(k, v) for k, v in headers or [] if k.lower() != "content-length"]
    if not headers:
        kept = [("Content-Type", "application/xml")]
    start_response(status, [*kept, ("Content-Length", str(len(body)))])
    yield body


def new_bucket(endpoint: str) -> str:
    """Create a new, empty bucket on the S3 server at ``endpoint``; returns its name."""
    import s3fs

    name = f"ociport-{uuid.uuid4().hex[:16]}"
    s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True).mkdir(name)
    return name


@dataclass(frozen=True)
class S3Service:
    """One of the S3 servers of the tests (the ``s3_service`` fixture).

    :ivar name: ``moto`` or ``rgw``.
    :ivar endpoint: ``http://127.0.0.1:PORT``.
    :ivar moto: the moto server (request log, faults), or ``None`` for RGW.
    """

    name: str
    endpoint: str
    moto: S3Server | None


class S3Server:
    """moto's S3 on ``127.0.0.1`` on a free port; start with :meth:`start`.

    :ivar endpoint: ``http://127.0.0.1:PORT``, once started.
    """

    def __init__(self) -> None:
        self._recorder = _Recorder(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    def start(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._server = make_server("127.0.0.1", port, self._recorder, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def requests(self) -> list[Request]:
        """Every request answered so far, in order of completion."""
        with self._recorder.mutex:
            return list(self._recorder.log)

    def mark(self) -> int:
        """A position in the request log, for :meth:`since`."""
        with self._recorder.mutex:
            return len(self._recorder.log)

    def since(self, mark: int) -> list[Request]:
        """The requests answered after :meth:`mark` returned ``mark``."""
        with self._recorder.mutex:
            return list(self._recorder.log[mark:])

    @contextlib.contextmanager
    def faults(self, bucket: str, **faults: Any) -> Iterator[Faults]:
        """Misbehave for requests to ``bucket`` inside the block (see :class:`Faults`);
        yields the faults, whose counters show what is left."""
        chosen = Faults(**faults)
        with self._recorder.mutex:
            self._recorder.faults[bucket] = chosen
        try:
            yield chosen
        finally:
            with self._recorder.mutex:
                self._recorder.faults.pop(bucket, None)
