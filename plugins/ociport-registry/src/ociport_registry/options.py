"""RegistryOptions: the ``KEY=VALUE`` options a ``docker://`` source or destination takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ociport.drivers.kit import InvalidLocationError
from ociport_registry.credentials import Credentials

__all__ = ["RegistryOptions"]

_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no"})
_KNOWN: Final = ("tls_verify", "creds", "authfile")


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """How to reach a registry (skopeo's ``--tls-verify``, ``--creds`` and
    ``--authfile``).

    :ivar tls_verify: require HTTPS with a verified certificate; ``False`` also
        accepts plain HTTP and unverified certificates (for this registry only).
    :ivar credentials: user name and password given, or ``None``: then those stored
        for the registry are used (:func:`~ociport_registry.credentials.find_credentials`),
        else none (anonymous access).
    :ivar auth_file: the one credential file to read (instead of ``auth.json`` and
        Docker's ``config.json``).
    """

    tls_verify: bool = True
    credentials: Credentials | None = None
    auth_file: str | None = None

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], where: str) -> RegistryOptions:
        """Read ``tls_verify=true|false``, ``creds=USER:PASSWORD`` and
        ``authfile=PATH``.

        :param where: the source or destination, for messages.
        :raises InvalidLocationError: an unknown option or a malformed value.
        """
        unknown = sorted(set(options) - set(_KNOWN))
        if unknown:
            raise InvalidLocationError(
                where,
                f"unknown option {', '.join(unknown)}: a registry takes "
                f"{', '.join(_KNOWN)}",
            )
        creds = options.get("creds")
        auth_file = options.get("authfile")
        return cls(
            _boolean(options.get("tls_verify", True), where),
            None if creds is None else _credentials(creds, where),
            None if auth_file is None else str(auth_file),
        )


def _credentials(value: Any, where: str) -> Credentials:
    """``USER:PASSWORD`` (skopeo's ``--creds``; the password may hold colons)."""
    username, colon, password = str(value).partition(":")
    if not username or not colon:
        raise InvalidLocationError(where, "creds must be USER:PASSWORD")
    return Credentials(username, password)


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise InvalidLocationError(
        where, f"tls_verify must be true or false, not {value!r}"
    )
