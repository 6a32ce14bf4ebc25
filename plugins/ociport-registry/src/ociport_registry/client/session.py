"""RegistrySession: HTTP to one repository of one registry (distribution-spec), with
authentication, bounded retries, and one clear error for every failure.

Requests that can be repeated (no body, or a body held in memory, and not part of an
upload) are retried on a connection failure, ``429 Too Many Requests`` (after its
``Retry-After``, capped) and ``5xx``, at most :data:`RETRIES` times; then, and for any
other unexpected status, a :class:`~ociport_registry.errors.RegistryError` names the
registry, the repository, what was asked for, the status and the registry's error code.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Final

import httpx

from ociport_registry.client.auth import RegistryAuth
from ociport_registry.errors import (
    RegistryAuthError,
    RegistryError,
    RegistryNotFoundError,
    RegistryUnavailableError,
)
from ociport_registry.options import RegistryOptions
from ociport_registry.reference import RegistryReference

__all__ = ["RETRIES", "RegistrySession", "header", "header_number"]

#: Further attempts of a request that can be repeated.
RETRIES: Final = 3
#: Longest wait for a ``Retry-After``, and the first back-off, in seconds.
MAX_RETRY_AFTER: Final = 30.0
_BACKOFF: Final = 0.5
#: Seconds to connect, and to wait for each read or write of a request.
TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: A request whose body cannot be sent twice (an upload's) starts with a token that
#: lives at least this many more seconds: a 401 in its middle could not be answered.
TOKEN_MARGIN: Final = 120.0
#: How much of an error answer is read for its message.
_ERROR_BODY_CAP: Final = 64 << 10
_USER_AGENT: Final = "ociport-registry"


class RegistrySession:
    """One repository of one registry: ``/v2/<name>/...`` URLs, authentication and
    error handling over one :class:`httpx.Client` (threads may share a session).

    :param reference: the image; its registry and repository are the session's.
    :param options: TLS verification and credentials.
    :param push: ask for tokens that allow pushing too (``pull,push``).
    :param pull_too: other repositories of the registry the tokens must allow pulling
        from (to mount their blobs).
    :param scopes: the token scopes to ask for instead of the repository's (``[]``
        for none: a token for ``GET /v2/`` alone, as a login check asks).
    :param transport: an httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        reference: RegistryReference,
        options: RegistryOptions,
        *,
        push: bool = False,
        pull_too: Sequence[str] = (),
        scopes: Sequence[str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.reference = reference
        self.options = options
        actions = "pull,push" if push else "pull"
        if scopes is None:
            scopes = [f"repository:{reference.repository}:{actions}"]
            scopes += [f"repository:{other}:pull" for other in pull_too]
        self.auth = RegistryAuth(
            options.credentials,
            scopes,
            registry=reference.registry,
            repository=reference.repository,
        )
        self.client = httpx.Client(
            auth=self.auth,
            verify=options.tls_verify,
            follow_redirects=True,  # httpx drops Authorization on another host
            timeout=TIMEOUT,
            headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"},
            transport=transport,
        )
        self._base: str | None = None
        self._base_lock = threading.Lock()

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def __enter__(self) -> RegistrySession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """``https://HOST`` or, when TLS is not verified and the registry does not
        speak it, ``http://HOST`` (found once, on first use)."""
        with self._base_lock:
            if self._base is None:
                self._base = self._find_base()
            return self._base

    def url(self, kind: str, reference: str = "") -> str:
        """The URL of ``/v2/<name>/<kind>/<reference>`` (``manifests``, ``blobs``,
        ``blobs/uploads/``)."""
        return f"{self.base_url}/v2/{self.reference.repository}/{kind}/{reference}"

    def join(self, location: str) -> str:
        """An upload's ``Location`` (absolute or relative to the registry) as a URL.

        :raises RegistryError: it is not a URL.
        """
        try:
            return str(httpx.URL(self.base_url).join(location))
        except httpx.InvalidURL as exc:
            reason = f"the registry gave a Location that is no URL: {location!r}"
            raise self.error(RegistryError, reason) from exc

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        expect: Collection[int] = (200,),
        headers: Mapping[str, str] | None = None,
        content: bytes | Iterator[bytes] | None = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        """Send a request; the answer when its status is one of ``expect``.

        :param what: what is asked for, for messages (``manifest v1``).
        :param stream: leave the body unread (the caller reads and closes it).
        :param content: the body: bytes, or pieces sent as they come (then the
            request cannot be repeated: pass ``retry=False``).
        :param retry: the request may be repeated (not a step of an upload).
        :raises RegistryError: any other status, after the retries; or no answer.
        """
        if params:
            # Added to the query the URL has (an upload's Location carries state);
            # httpx's own params argument would replace it.
            url = str(httpx.URL(url).copy_merge_params(params))
        attempts = 1 + (RETRIES if retry else 0)
        attempt = 0
        while True:
            attempt += 1
            request = self.client.build_request(
                method, url, headers=headers, content=content
            )
            if not isinstance(content, bytes | None):
                self._renew_expiring_token()
            try:
                response = self.client.send(request, stream=True)
                if response.status_code in expect and not stream:
                    response.read()
            except httpx.StreamError as exc:  # a 401 in the middle of a streamed body
                reason = f"{what}: the registry asked to authenticate again mid-request"
                raise self.error(RegistryAuthError, reason) from exc
            except httpx.TransportError as exc:
                if attempt < attempts:
                    time.sleep(_BACKOFF * 2.0 ** (attempt - 1))
                    continue
                raise self.unreachable(exc, what) from exc
            except httpx.HTTPError as exc:  # too many redirects, a malformed URL
                raise self.error(RegistryError, f"{what}: {exc}") from exc
            if response.status_code in expect:
                return response
            body = _error_body(response)
            if response.status_code in _RETRY_STATUSES and attempt < attempts:
                time.sleep(_delay(response, attempt))
                continue
            raise self._refused(response, body, what, attempt)

    def unreachable(self, exc: httpx.TransportError, what: str) -> RegistryError:
        """The error for a request that got no (whole) answer."""
        url = exc.request.url if _has_request(exc) else self.reference.api_host
        text = str(exc) or type(exc).__name__
        hint = ""
        if isinstance(exc, httpx.TimeoutException):
            reason = f"{what}: no answer from {url} in time ({text})"
        elif isinstance(exc, httpx.ConnectError):
            reason = f"{what}: cannot connect to {url}: {text}"
            if self.options.tls_verify and _looks_like_tls(text):
                hint = "for a registry without TLS or a verified certificate, pass "
                hint += "tls_verify=false"
        else:
            reason = f"{what}: the connection to {url} broke: {text}"
        return self.error(RegistryUnavailableError, reason, hint=hint)

    def error(
        self,
        cls: type[RegistryError],
        reason: str,
        status: int | None = None,
        code: str = "",
        hint: str = "",
    ) -> RegistryError:
        """A ``cls`` naming this session's registry and repository."""
        reference = self.reference
        return cls(reference.registry, reference.repository, reason, status, code, hint)

    def _refused(
        self, response: httpx.Response, body: bytes, what: str, attempts: int
    ) -> RegistryError:
        status = response.status_code
        code, message = _error_code(body)
        detail = f"HTTP {status}" + (f" {code}" if code else "")
        detail += f": {message}" if message else ""
        cls: type[RegistryError] = RegistryError
        hint = ""
        if status == 401:
            cls = RegistryAuthError
            given = self.options.credentials is not None
            reason = f"{what}: " + (
                "the credentials were rejected" if given else "authentication required"
            )
            hint = (
                "check the user name and password"
                if given
                else "give credentials with creds=USER:PASSWORD, or store them "
                "with podman login or docker login"
            )
        elif status == 403:
            cls, reason = RegistryAuthError, f"{what}: access denied"
        elif status == 404:
            cls = RegistryNotFoundError
            reason = (
                "repository not found"
                if code == "NAME_UNKNOWN"
                else f"{what} not found"
            )
        elif status in _RETRY_STATUSES:
            cls = RegistryUnavailableError
            tries = f", {attempts} attempts" if attempts > 1 else ""
            busy = "too many requests" if status == 429 else "the registry failed"
            reason = f"{what}: {busy}{tries}"
        else:
            reason = f"{what}: refused"
        return self.error(cls, f"{reason} ({detail})", status, code, hint)

    def _renew_expiring_token(self) -> None:
        """Get a new token now when the one in use is about to expire (see
        :data:`TOKEN_MARGIN`)."""
        if self.auth.expires_within(TOKEN_MARGIN):
            self.auth.forget_token()
            self.request("GET", f"{self.base_url}/v2/", what="authentication")

    def _find_base(self) -> str:
        host = self.reference.api_host
        if self.options.tls_verify:
            return f"https://{host}"
        # As skopeo with --tls-verify=false: HTTPS without checking the certificate
        # when the registry speaks it, else plain HTTP.
        try:
            self.client.get(f"https://{host}/v2/", auth=None).close()
        except httpx.HTTPError:
            return f"http://{host}"
        return f"https://{host}"


def header(response: httpx.Response, name: str) -> str:
    """A header of an answer, ``""`` when absent."""
    return str(response.headers.get(name, "")).strip()


def header_number(response: httpx.Response, name: str) -> int:
    """A header holding a whole number, ``0`` when absent or not a number."""
    value = header(response, name)
    return int(value) if value.isdigit() else 0


def _error_body(response: httpx.Response) -> bytes:
    """The start of an error answer (its JSON error list), the rest discarded."""
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= _ERROR_BODY_CAP:
                break
    except httpx.HTTPError:
        pass  # an error answer cut short: its status still counts
    finally:
        response.close()
    return data[:_ERROR_BODY_CAP]


def _error_code(body: bytes) -> tuple[str, str]:
    """The first error's ``code`` and ``message`` (distribution-spec "Error Codes")."""
    try:
        errors = json.loads(body)["errors"]
        first = errors[0]
        return str(first.get("code") or ""), str(first.get("message") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return "", ""


def _delay(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before the next attempt: ``Retry-After`` (seconds or a date,
    capped at :data:`MAX_RETRY_AFTER`), else an exponential back-off."""
    backoff = _BACKOFF * 2.0 ** (attempt - 1)
    value = header(response, "Retry-After")
    if not value:
        return backoff
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = float(when.timestamp()) - time.time()
        except (TypeError, ValueError):
            seconds = backoff
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 (a property that raises when unset)
    except RuntimeError:
        return False
    return True


def _looks_like_tls(text: str) -> bool:
    return any(word in text.upper() for word in ("SSL", "TLS", "CERTIFICATE"))
