"""The errors a registry causes, each naming the registry and the repository.

::

    OciportError
    └─ RegistryError                          .registry .repository .reason .status
       │                                      .code .hint
       ├─ RegistryAuthError(PermissionError)  401, 403, a token the realm refused
       ├─ RegistryNotFoundError(LookupError)  404: repository, manifest or blob
       └─ RegistryUnavailableError(ConnectionError)
                                              429 and 5xx after bounded retries,
                                              no connection, no answer in time
    CredentialsFileError                      .path .problem
                                              a credentials file login or logout
                                              cannot read, parse or write
    NotLoggedInError(LookupError)             .key .hint
                                              logout or login --get-login: no
                                              credentials stored for the registry

A registry's message is one line: ``registry HOST, repository REPO: REASON; HINT``.
"""

from __future__ import annotations

from ociport.drivers.kit import OciportError

__all__ = [
    "CredentialsFileError",
    "NotLoggedInError",
    "RegistryAuthError",
    "RegistryError",
    "RegistryNotFoundError",
    "RegistryUnavailableError",
]


class RegistryError(OciportError):
    """A registry refused or failed a request (distribution-spec "Error Codes").

    :ivar registry: the registry's host (``127.0.0.1:5000``, ``docker.io``).
    :ivar repository: the repository (``library/busybox``), ``""`` for the registry.
    :ivar reason: what went wrong, with the HTTP status and the registry's error code.
    :ivar status: the HTTP status, ``None`` when there was no answer.
    :ivar code: the registry's error code (``MANIFEST_UNKNOWN``), or ``""``.
    :ivar hint: what to check, or ``""``.
    """

    def __init__(
        self,
        registry: str,
        repository: str,
        reason: str,
        status: int | None = None,
        code: str = "",
        hint: str = "",
    ) -> None:
        self.registry = registry
        self.repository = repository
        self.reason = reason
        self.status = status
        self.code = code
        self.hint = hint
        where = f"registry {registry}" + (
            f", repository {repository}" if repository else ""
        )
        super().__init__(f"{where}: {reason}" + (f"; {hint}" if hint else ""))

    def __reduce__(self) -> tuple[object, ...]:
        return (
            type(self),
            (
                self.registry,
                self.repository,
                self.reason,
                self.status,
                self.code,
                self.hint,
            ),
        )


class RegistryAuthError(RegistryError, PermissionError):
    """Authentication is required, the credentials were rejected, or access is denied
    (HTTP 401, 403)."""


class RegistryNotFoundError(RegistryError, LookupError):
    """The repository, manifest or blob does not exist (HTTP 404)."""


class RegistryUnavailableError(RegistryError, ConnectionError):
    """No usable answer: no connection, none in time, or HTTP 429 or 5xx after the
    bounded retries."""


class CredentialsFileError(OciportError):
    """A credentials file (``auth.json``, Docker's ``config.json``) that ``ociport
    login`` or ``logout`` cannot read, parse or write: nothing was changed.

    :ivar path: the file.
    :ivar problem: what is wrong with it (``is not JSON: ...``).
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"credentials file {path} {problem}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.problem))


class NotLoggedInError(OciportError, LookupError):
    """No credentials are stored for a registry (``podman logout``'s "not logged
    into").

    :ivar key: the registry, or the registry and namespace (``quay.io/team``).
    :ivar hint: where else credentials for it are, or ``""``.
    """

    def __init__(self, key: str, hint: str = "") -> None:
        self.key = key
        self.hint = hint
        super().__init__(f"not logged into {key}" + (f"; {hint}" if hint else ""))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.key, self.hint))
