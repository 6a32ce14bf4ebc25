"""What a remote filesystem's error means, in one line: which side failed (the store, the
source or the destination), its URL, the cause, and the hint that fits.

s3fs turns botocore's errors into ``OSError`` subclasses and keeps botocore's
``ClientError`` as the ``__cause__``; the message alone is often useless (Ceph RGW sends
no ``<Message>``, so a missing bucket reads ``None`` and a failed conditional write
``[Errno 22] None``). The functions here look at the whole exception chain for the S3
error code and HTTP status instead:

- :func:`service_error` finds them;
- :func:`is_precondition_failed` and :func:`is_conflict` classify a failed conditional
  write (``If-None-Match: *``) for the object-store lock;
- :func:`describe_error` and :func:`storage_errors` turn a library error into a
  :class:`~ociport.errors.StorageError`; a server that stopped answering (a connect or
  read timeout, a connection closed without an answer) is named with the timeout in
  force;
- :func:`is_unresponsive` tells such a failure apart, so that clean-up does not wait
  for the same server again.

Local paths (and ``memory://``) are left alone: their ``OSError`` already names the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

from ociport.errors import (
    ConditionalWritesError,
    OciportError,
    StorageError,
    StorageNotFoundError,
    StoragePermissionError,
)
from ociport.streams.location import Location

__all__ = [
    "Role",
    "ServiceError",
    "bucket_of",
    "describe_error",
    "endpoint_of",
    "is_conflict",
    "is_precondition_failed",
    "is_remote",
    "is_unresponsive",
    "refuse_unconditional",
    "service_error",
    "storage_errors",
]

#: Which side of an operation a location is.
Role = Literal["store", "source", "destination"]

#: The command-line flag that passes storage options to each side.
_FLAG: Final = {
    "store": "--storage-option",
    "source": "--source-option",
    "destination": "--dest-option",
}
#: Modules whose exceptions are a remote filesystem's (botocore's connection errors are
#: not OSErrors).
_LIBRARIES: Final = (
    "botocore",
    "aiobotocore",
    "aiohttp",
    "s3fs",
    "gcsfs",
    "adlfs",
    "urllib3",
    "requests",
    "fsspec",
)
#: The attribute that marks an exception as already attributed to a side.
_SIDE: Final = "_ociport_side"
_CREDENTIAL_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
        "403",
    }
)

#: Exception classes (by name, anywhere in the chain and its MROs) of a connection
#: attempt that got no answer in time: botocore's, urllib3's, aiohttp's.
_CONNECT_TIMEOUTS: Final = frozenset(
    {"ConnectTimeoutError", "ConnectTimeout", "ConnectionTimeoutError"}
)
#: ... of an answer that did not come in time (botocore's ``ReadTimeoutError``, aiohttp's
#: socket timeouts, fsspec's ``FSTimeoutError``, the built-in ``TimeoutError``).
_READ_TIMEOUTS: Final = frozenset(
    {
        "ReadTimeoutError",
        "ReadTimeout",
        "ServerTimeoutError",
        "SocketTimeoutError",
        "FSTimeoutError",
        "TimeoutError",
    }
)
#: ... of a connection the server closed before answering.
_CLOSED: Final = frozenset(
    {"ConnectionClosedError", "ServerDisconnectedError", "RemoteDisconnected"}
)
#: ... of a connection that failed (refused, no route, DNS).
_UNREACHABLE: Final = frozenset(
    {
        "EndpointConnectionError",
        "ClientConnectorError",
        "ConnectionError",
        "ConnectionRefusedError",
    }
)


@dataclass(frozen=True, slots=True)
class ServiceError:
    """What the server said, from botocore's ``ClientError`` in an exception chain.

    :ivar code: the S3 error code (``NoSuchBucket``, ``PreconditionFailed``, ``403``).
    :ivar status: the HTTP status.
    :ivar message: the server's ``<Message>``, when it sent one.
    :ivar operation: botocore's operation name (``PutObject``), when known.
    :ivar bucket: the ``<BucketName>`` of the error, when the server sent one.
    """

    code: str | None
    status: int | None
    message: str | None
    operation: str | None
    bucket: str | None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def service_error(exc: BaseException) -> ServiceError | None:
    """The S3 error in ``exc`` or its causes (botocore's ``ClientError.response``)."""
    for link in _chain(exc):
        response: Any = getattr(link, "response", None)
        if not isinstance(response, dict) or not isinstance(
            response.get("Error"), dict
        ):
            continue
        error = response["Error"]
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.get("Code")
        message = error.get("Message")
        return ServiceError(
            str(code) if code is not None else None,
            int(status) if isinstance(status, int) else None,
            str(message) if message not in (None, "", "None") else None,
            getattr(link, "operation_name", None),
            error.get("BucketName"),
        )
    return None


def is_precondition_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed ``If-None-Match: *`` write: the key exists.

    s3fs raises :class:`FileExistsError` only when the server names the condition (AWS,
    MinIO, moto); Ceph RGW answers 412 ``PreconditionFailed`` without it and s3fs raises
    ``OSError(EINVAL)``. Any 412 means "exists".
    """
    if isinstance(exc, FileExistsError):
        return True
    found = service_error(exc)
    return found is not None and (
        found.code == "PreconditionFailed" or found.status == 412
    )


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` says "try again": ``409 ConditionalRequestConflict`` (AWS, for
    conditional writes racing on one key), another 409, or s3fs's ``EBUSY``
    (``OperationAborted``, ``SlowDown``, 503)."""
    found = service_error(exc)
    if found is not None and (
        found.code in ("ConditionalRequestConflict", "OperationAborted")
        or found.status in (409, 503)
    ):
        return True
    return isinstance(exc, OSError) and exc.errno == errno.EBUSY


def is_remote(location: Location) -> bool:
    """Whether errors of ``location`` get described: not a local path, not memory."""
    if location.is_local:
        return False
    protocols = location.fs.protocol
    names = (protocols,) if isinstance(protocols, str) else tuple(protocols)
    return "memory" not in names


def bucket_of(location: Location) -> str | None:
    """The bucket (container) of a location on an object store, else ``None``."""
    if location.is_local:
        return None
    split = getattr(location.fs, "split_path", None)
    if split is None:
        return None
    try:
        bucket = split(location.path)[0]
    except (TypeError, ValueError, IndexError):
        return None
    return str(bucket) or None


def endpoint_of(location: Location) -> str:
    """The server a location talks to, for messages (``http://127.0.0.1:7480``)."""
    fs: Any = location.fs
    client = getattr(fs, "_s3", None)
    meta = getattr(client, "meta", None)
    endpoint = getattr(meta, "endpoint_url", None)
    if endpoint:
        return str(endpoint)
    for options in (
        getattr(fs, "client_kwargs", None),
        getattr(fs, "storage_options", None),
    ):
        if isinstance(options, dict) and options.get("endpoint_url"):
            return str(options["endpoint_url"])
    if getattr(fs, "endpoint_url", None):
        return str(fs.endpoint_url)
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return f"the default {protocol} endpoint"


def _server(location: Location) -> str:
    """``the S3 endpoint http://127.0.0.1:7480``, or ``the default s3 endpoint``."""
    endpoint = endpoint_of(location)
    if endpoint.startswith("the "):
        return endpoint
    protocols = location.fs.protocol
    protocol = protocols if isinstance(protocols, str) else protocols[0]
    name = "S3" if protocol in ("s3", "s3a") else protocol
    return f"the {name} endpoint {endpoint}"


def _timeout_of(location: Location, name: str) -> str:
    """`` within 20 s``: botocore's ``connect_timeout`` or ``read_timeout`` of the
    location's client, or ``""`` when unknown."""
    fs: Any = location.fs
    config = getattr(getattr(getattr(fs, "_s3", None), "meta", None), "config", None)
    value = getattr(config, name, None)
    if value is None:
        options = getattr(fs, "config_kwargs", None)
        value = options.get(name) if isinstance(options, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return f" within {value:g} s"


def _from_library(exc: BaseException) -> bool:
    if isinstance(exc, OciportError):
        return False
    if isinstance(exc, OSError):
        return True
    return any(
        type(link).__module__.split(".")[0] in _LIBRARIES for link in _chain(exc)
    )


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for link in _chain(exc) for cls in type(link).__mro__}


def is_unresponsive(exc: BaseException) -> bool:
    """Whether ``exc`` (a :class:`~ociport.errors.StorageError` or a remote
    filesystem's own error) says that the server could not be reached or stopped
    answering: a connection refused, timed out or closed without an answer, or an
    answer that did not come in time.

    Clean-up on that server after such a failure (deleting a lease, taking the lock to
    undo a change) would wait as long again, for each request: skip it and leave the
    leftovers to ``content gc``.
    """
    if service_error(exc) is not None:
        return False  # the server answered
    library = any(
        type(link).__module__.split(".")[0] in _LIBRARIES for link in _chain(exc)
    )
    unanswered = _CONNECT_TIMEOUTS | _READ_TIMEOUTS | _CLOSED | _UNREACHABLE
    return library and bool(_class_names(exc) & unanswered)


def _credentials_hint(role: Role) -> str:
    flag = _FLAG[role]
    hint = (
        "check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        f"(or AWS_PROFILE), or {flag} key=... {flag} secret=..."
    )
    if role == "source":
        hint += f"; a public object reads with {flag} anon=true"
    return hint


def describe_error(
    exc: BaseException, location: Location, role: Role, *, subject: str = ""
) -> StorageError:
    """A :class:`~ociport.errors.StorageError` for a remote filesystem's error.

    :param exc: what the library raised (set it as the ``__cause__`` when raising).
    :param location: the store root, source or destination that failed.
    :param role: which of the three it is.
    :param subject: what was being done, put before the reason
        (``lock object s3://b/images/index.json.lock``).
    """
    url = location.url
    bucket = bucket_of(location)
    found = service_error(exc)
    code = found.code if found else None
    names = _class_names(exc)
    flag = _FLAG[role]
    cls: type[StorageError] = StorageError
    hint = ""
    if code == "NoSuchBucket" or (
        found is not None
        and found.status == 404
        and found.operation in ("HeadBucket", "ListObjectsV2", "ListObjects")
    ):
        name = found.bucket if found and found.bucket else bucket
        reason = f"bucket {name!r} does not exist"
        cls = StorageNotFoundError
        hint = (
            "check the URL"
            if role == "source"
            else f"ociport never creates buckets: create it first (aws s3 mb s3://{name})"
        )
    elif code in ("NoSuchKey", "404") or (
        found is None and isinstance(exc, FileNotFoundError)
    ):
        missing = exc.filename if isinstance(exc, OSError) and exc.filename else None
        text = str(exc)
        if missing is None and text and "/" in text and " " not in text:
            missing = text  # s3fs: FileNotFoundError("bucket/key")
        if missing is not None and str(missing).strip("/") == location.path.strip("/"):
            missing = None  # the URL already names it (a source, a destination)
        reason = f"no such object {missing}" if missing else "no such object"
        cls = StorageNotFoundError
        hint = "check the URL" if role != "store" else ""
    elif (
        code in _CREDENTIAL_CODES
        or isinstance(exc, PermissionError)
        or (found is not None and found.status == 403)
    ):
        detail = f" ({code})" if code and code != "403" else ""
        reason = f"access denied{detail}"
        cls = StoragePermissionError
        hint = _credentials_hint(role)
    elif "NoCredentialsError" in names:
        reason = "no credentials found"
        cls = StoragePermissionError
        hint = _credentials_hint(role)
    elif "PartialCredentialsError" in names:
        reason = f"incomplete credentials ({exc})"
        cls = StoragePermissionError
        hint = _credentials_hint(role)
    elif names & _CONNECT_TIMEOUTS:
        limit = _timeout_of(location, "connect_timeout")
        reason = f"cannot connect to {endpoint_of(location)}: no answer{limit}"
        hint = (
            "check that the server is up and reachable from here (firewall, VPN, "
            f"proxy), and AWS_ENDPOINT_URL or {flag} endpoint_url=..."
        )
    elif names & _READ_TIMEOUTS:
        limit = _timeout_of(location, "read_timeout")
        reason = f"{_server(location)} did not answer{limit}"
        hint = (
            "check that the server is up and not overloaded; a slow server needs a "
            f"longer {flag} config_kwargs.read_timeout=SECONDS"
        )
    elif names & _CLOSED:
        reason = f"{_server(location)} closed the connection without answering"
        hint = "check that the server is up and not overloaded"
    elif names & _UNREACHABLE:
        reason = f"cannot connect to {endpoint_of(location)}"
        hint = f"check AWS_ENDPOINT_URL or {flag} endpoint_url=..."
    elif found is not None:
        parts = [found.code] if found.code and found.code != str(found.status) else []
        parts += [f"HTTP {found.status}"] if found.status else []
        during = f" to {found.operation}" if found.operation else ""
        message = f": {found.message}" if found.message else ""
        reason = (
            f"the server answered {', '.join(parts) or 'an error'}{during}{message}"
        )
    else:
        text = str(exc)
        useless = text in ("", "None") or text.endswith("] None")
        reason = type(exc).__name__ if useless else f"{type(exc).__name__}: {text}"
    if subject:
        reason = f"{subject}: {reason}"
    return cls(url=url, role=role, reason=reason, hint=hint)


@contextlib.contextmanager
def storage_errors(location: Location | Any, role: Role) -> Iterator[None]:
    """Turn a remote filesystem's errors raised in the block into a
    :class:`~ociport.errors.StorageError` for ``location`` in ``role``.

    Errors ociport raised on purpose (a :class:`~ociport.errors.StorageError` from an
    inner block included) pass unchanged. When ``location`` is not a remote
    :class:`~ociport.streams.location.Location` (a local path, ``memory://``, a stream),
    errors pass unchanged too, but marked as this side's, so that an outer block does
    not claim them: a local store's "disk full" during an import from S3 is not the
    source's.
    """
    remote = isinstance(location, Location) and is_remote(location)
    try:
        yield
    except Exception as exc:
        if isinstance(exc, OciportError) or getattr(exc, _SIDE, None) is not None:
            raise
        if not remote or not _from_library(exc):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(exc, _SIDE, role)
            raise
        raise describe_error(exc, location, role) from exc


def refuse_unconditional(
    location: Location, reason: str, *, option: str
) -> ConditionalWritesError:
    """The error for a store whose server does not honour ``If-None-Match: *``."""
    endpoint = endpoint_of(location)
    return ConditionalWritesError(
        url=location.url,
        role="store",
        reason=(
            f"the server at {endpoint} does not honour conditional writes "
            f"(If-None-Match: *): {reason}; without them concurrent updates of "
            "index.json can lose names"
        ),
        hint=(
            f"if only one process at a time writes to this store, pass "
            f"--storage-option {option}=true to accept the risk"
        ),
        endpoint=endpoint,
    )
