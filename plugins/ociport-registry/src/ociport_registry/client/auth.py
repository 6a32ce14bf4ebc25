"""Registry authentication: anonymous, basic, and bearer tokens obtained from the
``WWW-Authenticate`` challenge (the token protocol of Docker's registry, which the
distribution-spec defers to), as an :class:`httpx.Auth` flow.

A request is sent with what is already known (a token for its scope, or basic
credentials once the registry asked for them). On a 401 the challenge says what to do:
``Basic`` resends the request with the credentials; ``Bearer realm=...,service=...``
asks the realm for a token for the session's scopes (with the credentials, when there
are any, else anonymously), caches it per scope until it expires, and resends the
request once. A second 401 is left for the caller to report.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import httpx

from ociport_registry.credentials import Credentials
from ociport_registry.errors import RegistryAuthError

__all__ = ["Challenge", "RegistryAuth", "parse_challenges"]

#: Seconds a token lives when the token service does not say (its spec's default).
_DEFAULT_TOKEN_LIFETIME: Final = 60
#: Renew a token this many seconds before it expires.
_EXPIRY_MARGIN: Final = 5
_TOKEN: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SCHEME: Final = re.compile(rf"[\s,]*({_TOKEN})(?:\s+|$)")
_PARAM: Final = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*,?')


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header (RFC 7235).

    :ivar scheme: ``basic`` or ``bearer`` (lower case).
    :ivar params: its parameters (``realm``, ``service``, ``scope``), keys lower case.
    """

    scheme: str
    params: Mapping[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """The challenges of a ``WWW-Authenticate`` header, in order."""
    challenges = []
    position = 0
    while scheme := _SCHEME.match(header, position):
        position = scheme.end()
        params = {}
        while param := _PARAM.match(header, position):
            value = param[2]
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[param[1].lower()] = value
            position = param.end()
        challenges.append(Challenge(scheme[1].lower(), params))
    return challenges


class RegistryAuth(httpx.Auth):
    """Authentication for one registry and one set of scopes, shared by threads.

    :param credentials: the user's, or ``None`` for anonymous access.
    :param scopes: the token scopes to ask for (``repository:library/busybox:pull``);
        one token serves them all.
    :param registry: the registry's host, for messages.
    :param repository: the repository, for messages.
    """

    def __init__(
        self,
        credentials: Credentials | None,
        scopes: Sequence[str],
        *,
        registry: str,
        repository: str,
    ) -> None:
        self.credentials = credentials
        self.scopes = tuple(scopes)
        self.registry = registry
        self.repository = repository
        self._basic = False
        self._token: tuple[str, float] | None = None  # (token, monotonic expiry)
        self._lock = threading.Lock()
        self._fetching = threading.Lock()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        self._authorize(request)
        sent = request.headers.get("Authorization")
        response = yield request
        if response.status_code != 401:
            return
        challenge = _first_usable(str(response.headers.get("WWW-Authenticate", "")))
        if challenge is None:
            return
        if challenge.scheme == "basic":
            if self.credentials is None or sent == self.credentials.basic():
                return  # nothing (more) to offer: the 401 stands
            self._basic = True
        else:
            # One thread asks for a token while the others wait, then use it.
            with self._fetching:
                if not self._renewed_since(sent):
                    token_response = yield self._token_request(challenge)
                    token_response.read()
                    self._keep_token(token_response, challenge)
        self._authorize(request)
        yield request

    def _renewed_since(self, sent: str | None) -> bool:
        """Whether another request got a fresh token since this one was sent (threads
        share the cache): then that one is tried rather than asking again."""
        token = self._token
        if token is None or token[1] <= time.monotonic():
            return False
        return sent != f"Bearer {token[0]}"

    def expires_within(self, seconds: float) -> bool:
        """Whether the bearer token in use expires within ``seconds`` (``False`` when
        there is none: basic or anonymous access)."""
        token = self._token
        return token is not None and token[1] - time.monotonic() < seconds

    def forget_token(self) -> None:
        """Drop the bearer token: the next request gets a new one."""
        with self._lock:
            self._token = None

    def _authorize(self, request: httpx.Request) -> None:
        token = self._token
        if token is not None and token[1] > time.monotonic():
            request.headers["Authorization"] = f"Bearer {token[0]}"
        elif self._basic and self.credentials is not None:
            request.headers["Authorization"] = self.credentials.basic()

    def _token_request(self, challenge: Challenge) -> httpx.Request:
        """The request for a token to the challenge's realm (a GET, as Docker's token
        protocol defines it), carrying the credentials when there are any."""
        realm = challenge.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise self._error(f"the registry's token realm {realm!r} is not a URL")
        scopes = list(self.scopes)
        extra = challenge.params.get("scope")
        if extra and not any(_covers(scope, extra) for scope in scopes):
            scopes.append(extra)
        params = [("scope", scope) for scope in scopes]
        if "service" in challenge.params:
            params.insert(0, ("service", challenge.params["service"]))
        headers = {}
        if self.credentials is not None:
            headers["Authorization"] = self.credentials.basic()
        return httpx.Request(
            "GET", realm, params=httpx.QueryParams(tuple(params)), headers=headers
        )

    def _keep_token(self, response: httpx.Response, challenge: Challenge) -> None:
        realm = challenge.params.get("realm", "")
        if response.status_code in (401, 403):
            raise self._error(
                f"the token service {realm} refused the "
                + ("credentials" if self.credentials else "anonymous request")
                + f" (HTTP {response.status_code})",
                "check the user name and password" if self.credentials else "",
                response.status_code,
            )
        try:
            answer = response.json()
            token = answer.get("token") or answer.get("access_token")
            lifetime = float(answer.get("expires_in") or _DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            token = None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise self._error(
                f"the token service {realm} gave no token "
                f"(HTTP {response.status_code})",
                status=response.status_code,
            )
        expiry = time.monotonic() + max(lifetime - _EXPIRY_MARGIN, 1)
        with self._lock:
            self._token = (token, expiry)

    def _error(
        self, reason: str, hint: str = "", status: int | None = None
    ) -> RegistryAuthError:
        return RegistryAuthError(
            self.registry, self.repository, reason, status, hint=hint
        )


def _covers(scope: str, other: str) -> bool:
    """Whether ``scope`` (``repository:NAME:pull,push``) grants all ``other`` asks."""
    resource, _, actions = scope.rpartition(":")
    other_resource, _, other_actions = other.rpartition(":")
    return resource == other_resource and set(other_actions.split(",")) <= set(
        actions.split(",")
    )


def _first_usable(header: str) -> Challenge | None:
    """The first challenge of a scheme this flow answers (bearer or basic)."""
    for challenge in parse_challenges(header):
        if challenge.scheme in ("bearer", "basic"):
            return challenge
    return None
