"""The HTTP transport of ociport's S3 clients: two waits that no timeout covers, closed,
so that a server that stops answering fails instead of hanging.

s3fs talks to S3 through aiobotocore, and aiobotocore through aiohttp, which starts the
read timeout (botocore's ``read_timeout``) only once a request's body has gone out:

- botocore asks for ``Expect: 100-continue`` on every PUT with a file-like body
  (``PutObject``, ``UploadPart``), and aiohttp waits for the server's interim
  ``100 Continue`` before it sends the body, without any limit: a server that accepted
  the connection and then froze hangs the upload forever. :func:`no_expect_session`
  returns aiobotocore's HTTP session without that header: the body goes out at once,
  as for any other request, and the read timeout covers the answer;
- a server that stops reading a body: once the TCP buffers are full, the write waits
  forever. :func:`user_timeout_socket` makes connections with ``TCP_USER_TIMEOUT``
  (Linux): the kernel drops a connection whose data has gone unacknowledged for that
  long, and the request fails (and is retried).

:func:`http_config` returns both as entries of botocore's client config (s3fs's
``config_kwargs``), as far as the installed aiobotocore takes them.
"""

from __future__ import annotations

import functools
import socket
from typing import Any

__all__ = ["http_config", "no_expect_session", "user_timeout_socket"]


@functools.cache
def no_expect_session() -> type[Any] | None:
    """aiobotocore's aiohttp session class with ``send`` dropping the
    ``Expect: 100-continue`` header, or ``None`` without aiobotocore. One class per
    process (fsspec's instance cache compares filesystem options by their text)."""
    try:
        from aiobotocore.httpsession import AIOHTTPSession
    except ImportError:
        return None

    class NoExpectSession(AIOHTTPSession):  # type: ignore[misc]
        """aiobotocore's aiohttp session, sending no ``Expect: 100-continue``."""

        async def send(self, request: Any) -> Any:
            if "Expect" in request.headers:  # botocore's headers: case-insensitive
                del request.headers["Expect"]
            return await super().send(request)

    # Found as ociport.streams.s3http.NoExpectSession (see __getattr__): filesystems
    # whose options hold it can be pickled.
    NoExpectSession.__qualname__ = "NoExpectSession"
    return NoExpectSession


def __getattr__(name: str) -> Any:
    """``NoExpectSession``: the class :func:`no_expect_session` makes on first use
    (aiobotocore is imported only then)."""
    if name == "NoExpectSession" and no_expect_session() is not None:
        return no_expect_session()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def user_timeout_socket(milliseconds: int, address: tuple[Any, ...]) -> socket.socket:
    """A new TCP socket for aiohttp's ``socket_factory`` (``address`` is one
    ``getaddrinfo`` entry) whose sent data may stay unacknowledged for at most
    ``milliseconds`` before the kernel drops the connection (``TCP_USER_TIMEOUT``)."""
    family, kind, protocol = address[:3]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, milliseconds)
    except OSError:
        sock.close()
        raise
    return sock


@functools.cache
def _accepted(option: str) -> bool:
    """Whether the installed aiobotocore's client config takes ``option``
    (``http_session_cls`` and ``connector_args["socket_factory"]`` are recent)."""
    try:
        from aiobotocore.config import AioConfig
    except ImportError:
        return False
    trial: dict[str, Any] = (
        {"http_session_cls": no_expect_session()}
        if option == "http_session_cls"
        else {"connector_args": {"socket_factory": socket.socket}}
    )
    try:
        AioConfig(**trial)
    except Exception:  # botocore's TypeError or ParamValidationError
        return False
    return True


def http_config(read_timeout: float | None) -> dict[str, Any]:
    """Entries for botocore's client config (s3fs's ``config_kwargs``) that close the
    two waits of the module docstring: ``http_session_cls`` (no ``Expect`` header)
    and ``connector_args`` with a ``socket_factory`` whose ``TCP_USER_TIMEOUT`` is
    ``read_timeout`` seconds (none when it is ``None``, or off Linux). Entries the
    installed aiobotocore does not take are left out: ``{}`` without aiobotocore."""
    entries: dict[str, Any] = {}
    if _accepted("http_session_cls"):
        entries["http_session_cls"] = no_expect_session()
    if (
        read_timeout
        and hasattr(socket, "TCP_USER_TIMEOUT")
        and _accepted("socket_factory")
    ):
        factory = functools.partial(user_timeout_socket, int(read_timeout * 1000))
        entries["connector_args"] = {"socket_factory": factory}
    return entries
