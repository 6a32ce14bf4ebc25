"""Logging in to a registry: what ``ociport login`` and ``ociport logout`` do, as
``podman login``/``logout`` and ``skopeo login``/``logout`` do.

A login names a *key*: a registry (``HOST[:PORT]``; ``https://HOST/...`` is taken as
``HOST``) or a part of one (``HOST/NAMESPACE``, whose credentials then serve only the
repositories below it). The credentials are checked first, against the registry's
API root (distribution-spec "Determining support", ``GET /v2/``, answering its
``WWW-Authenticate`` challenge with basic authentication or a bearer token from its
token service), and stored only when the registry accepts them, in the first
credential file of the read order (:func:`~ociport_registry.credentials.auth_files`:
``--authfile``, else ``REGISTRY_AUTH_FILE``, else
``$XDG_RUNTIME_DIR/containers/auth.json``), which is where podman and skopeo write
them and where every later pull or push looks first.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from ociport.drivers.kit import InvalidReferenceError, Reference
from ociport_registry.credentials import (
    Credentials,
    auth_files,
    find_credentials,
    normalized_key,
)
from ociport_registry.errors import CredentialsFileError
from ociport_registry.options import RegistryOptions
from ociport_registry.reference import RegistryReference

__all__ = ["LoginKey", "check_credentials", "login_file", "stored_credentials"]

_HOST: Final = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?::[0-9]+)?|\[[0-9A-Fa-f:.]+\](?::[0-9]+)?"
)


@dataclass(frozen=True, slots=True)
class LoginKey:
    """What a login is for.

    :ivar key: the credential file's entry key (``127.0.0.1:5000``, ``quay.io/team``).
    :ivar registry: the registry's host (and port) alone.
    """

    key: str
    registry: str

    @classmethod
    def parse(cls, text: str) -> LoginKey:
        """``HOST[:PORT][/NAMESPACE...]``, or a URL (``https://HOST/v1/``: its host),
        as podman reads the argument of ``login`` and ``logout``.

        :raises InvalidReferenceError: not a registry, or a repository with a tag or a
            digest.
        """
        given = text.strip()
        if given.startswith(("https://", "http://")):
            given = urlsplit(given).netloc
        key = normalized_key(given)
        registry, slash, _ = key.partition("/")
        if not _HOST.fullmatch(registry):
            raise InvalidReferenceError(
                text, "write a registry, HOST[:PORT] or HOST[:PORT]/NAMESPACE"
            )
        if slash:
            try:
                parsed = Reference.parse(key)
            except InvalidReferenceError as exc:
                raise InvalidReferenceError(text, str(exc)) from exc
            if parsed.tag or parsed.digest or parsed.name != key:
                raise InvalidReferenceError(
                    text,
                    "a login is for a registry or a namespace, without a tag "
                    "or a digest",
                )
        return cls(key, registry)

    @property
    def repository(self) -> str:
        """The namespace below the registry, ``""`` for the whole registry."""
        return self.key.partition("/")[2]


def login_file(
    auth_file: str | None = None, environ: Mapping[str, str] = os.environ
) -> Path:
    """The credential file ``login`` writes and ``logout`` edits: the first one the
    credentials are read from (podman's choice: ``--authfile``, else
    ``REGISTRY_AUTH_FILE``, else ``$XDG_RUNTIME_DIR/containers/auth.json``, else on
    Linux ``/run/containers/$UID/auth.json``).

    :raises CredentialsFileError: ``XDG_RUNTIME_DIR`` names a directory that does not
        exist (podman refuses it too: a typo would hide the credentials).
    """
    path = auth_files(auth_file, environ)[0]
    runtime = environ.get("XDG_RUNTIME_DIR")
    given = auth_file or environ.get("REGISTRY_AUTH_FILE")
    if not given and runtime and not Path(runtime).is_dir():
        raise CredentialsFileError(
            str(path),
            f"cannot be used: XDG_RUNTIME_DIR names {runtime}, which does not exist "
            "(create it, or unset XDG_RUNTIME_DIR)",
        )
    return path


def stored_credentials(
    login: LoginKey, auth_file: str | None = None
) -> Credentials | None:
    """The credentials a pull from ``login``'s registry (or namespace) would use, from
    any file of the read order (``None``: none, or ``auth_file`` does not exist yet).

    :raises RegistryAuthError: a credential file or helper that cannot be read.
    """
    if auth_file is not None and not Path(auth_file).exists():
        return None
    return find_credentials(login.registry, login.repository, auth_file=auth_file)


def check_credentials(
    login: LoginKey, credentials: Credentials, *, tls_verify: bool = True
) -> None:
    """Whether the registry accepts ``credentials``: ``GET /v2/`` (distribution-spec
    "Determining support") answering its challenge, basic or a bearer token (for no
    repository scope, as podman's login check asks).

    :raises RegistryAuthError: the registry or its token service refused them.
    :raises RegistryUnavailableError: no answer (after the bounded retries).
    :raises RegistryError: any other refusal.
    """
    from ociport_registry.client.session import RegistrySession

    reference = RegistryReference(login.registry, "", None, None)
    options = RegistryOptions(tls_verify, credentials)
    with RegistrySession(reference, options, scopes=[]) as session:
        session.request("GET", f"{session.base_url}/v2/", what="login")


def read_password_stdin() -> str:
    """The password piped on stdin (``--password-stdin``): everything read, one final
    line break removed (``docker login`` does the same)."""
    data = sys.stdin.read()
    for ending in ("\r\n", "\n"):
        if data.endswith(ending):
            return data[: -len(ending)]
    return data
