"""A real S3 HTTP server for tests: moto in server mode on 127.0.0.1, counting bytes.

It is moto's own WSGI application (what ``ThreadedMotoServer`` and the ``moto_server``
command run) behind a thin middleware that records every request: method, key, Range
header and the number of body bytes sent back. Tests use that to measure what a client
really downloaded, for clients in this process and in subprocesses alike.
"""

from __future__ import annotations

import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

#: Fake credentials: moto accepts any; they keep botocore from looking elsewhere.
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
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


class _Recorder:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.log: list[Request] = []
        self.mutex = threading.Lock()

    def __call__(
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
