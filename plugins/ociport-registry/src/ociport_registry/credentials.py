"""Credentials for a registry: given (``creds=USER:PASSWORD``), or found where skopeo,
podman and Docker keep them (``auth.json``, Docker's ``config.json``).

Files are read in containers-auth.json(5)'s order: the one named by ``authfile=`` or
``REGISTRY_AUTH_FILE`` alone when given; else ``$XDG_RUNTIME_DIR/containers/auth.json``
(on Linux without ``XDG_RUNTIME_DIR``, ``/run/containers/$UID/auth.json``),
``$XDG_CONFIG_HOME/containers/auth.json`` (``~/.config``), then Docker's
``$DOCKER_CONFIG/config.json`` (``~/.docker``). In a file, ``auths`` entries are keyed by
registry (``registry.example``, ``https://index.docker.io/v1/`` for Docker Hub) or, in
``auth.json``, by a repository or namespace in it (``registry.example/team``), the most
specific first; an entry holds ``auth``, the base64 of ``USER:PASSWORD``. A file's
credential helper for the registry (``credHelpers``, else ``credsStore``) is asked
first, as Docker does: ``docker-credential-NAME get`` with the registry's server name on
its input answers ``{"Username": ..., "Secret": ...}``. The first file with credentials
for the image wins.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ociport_registry.errors import RegistryAuthError

__all__ = ["Credentials", "auth_files", "find_credentials", "normalized_key"]

#: The names Docker Hub goes by in credential files.
_DOCKER_HUB: Final = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
#: The server name credential helpers know Docker Hub by.
_DOCKER_HUB_SERVER: Final = "https://index.docker.io/v1/"
#: Seconds a credential helper may take (one that asks the user waits for them).
_HELPER_TIMEOUT: Final = 60
_HELPER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password (skopeo's ``--creds USER:PASSWORD``)."""

    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        """The ``Authorization`` header value for HTTP basic authentication."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


def auth_files(
    auth_file: str | None = None, environ: Mapping[str, str] = os.environ
) -> list[Path]:
    """The credential files to read, in order (see the module's documentation); the
    first is the one ``ociport login`` writes, as ``podman login`` does."""
    given = auth_file or environ.get("REGISTRY_AUTH_FILE")
    if given:
        return [Path(given)]
    home = Path(environ.get("HOME") or Path.home())
    files = []
    if environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    elif sys.platform.startswith("linux"):
        # Where podman and skopeo keep them when the session has no runtime directory.
        files.append(Path(f"/run/containers/{os.getuid()}/auth.json"))
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    files.append(config / "containers" / "auth.json")
    docker = Path(environ.get("DOCKER_CONFIG") or home / ".docker")
    files.append(docker / "config.json")
    return files


def find_credentials(
    registry: str,
    repository: str,
    *,
    auth_file: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Credentials | None:
    """The stored credentials for an image in ``registry``'s ``repository``, or
    ``None`` (anonymous access).

    :raises RegistryAuthError: a credential file that cannot be read or parsed,
        ``auth_file`` that does not exist, or a credential helper it names that is not
        installed or fails.
    """
    for path in auth_files(auth_file, environ):
        document = _read(path, registry, repository, required=auth_file is not None)
        helper = _helper(document, registry)
        if helper is not None:
            found = _ask_helper(helper, registry, repository, path)
            if found is not None:
                return found
        auths = _auths(document)
        for key in _keys(registry, repository):
            if key in auths:
                return _decode(auths[key], path, registry, repository)
    return None


def _read(
    path: Path, registry: str, repository: str, *, required: bool
) -> dict[str, Any]:
    """A credential file's JSON object (empty when the file does not exist)."""
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        if required:
            raise _error(registry, repository, path, "does not exist") from None
        return {}
    except (OSError, ValueError) as exc:
        raise _error(registry, repository, path, f"cannot be read: {exc}") from exc
    return document if isinstance(document, dict) else {}


def _auths(document: Mapping[str, Any]) -> dict[str, Any]:
    """A file's ``auths``, keyed by registry or repository without a scheme."""
    auths = document.get("auths")
    if not isinstance(auths, dict):
        return {}
    return {normalized_key(str(key)): value for key, value in auths.items()}


def _helper(document: Mapping[str, Any], registry: str) -> str | None:
    """The credential helper a file names for ``registry``: its ``credHelpers``
    entry, else its ``credsStore``."""
    helpers = document.get("credHelpers")
    if isinstance(helpers, dict):
        names = _DOCKER_HUB if registry in _DOCKER_HUB else {registry}
        for key, helper in helpers.items():
            if normalized_key(str(key)) in names and isinstance(helper, str):
                return helper
    store = document.get("credsStore")
    return store if isinstance(store, str) and store else None


def _ask_helper(
    helper: str, registry: str, repository: str, path: Path
) -> Credentials | None:
    """Run ``docker-credential-HELPER get`` for the registry (Docker's credential
    helper protocol); ``None`` when it has no credentials for it (or only an
    identity token, which is not supported)."""
    name = f"docker-credential-{helper}"
    program = shutil.which(name) if _HELPER_NAME.fullmatch(helper) else None
    if program is None:
        raise _error(registry, repository, path, f"names {name}, not installed")
    server = _DOCKER_HUB_SERVER if registry in _DOCKER_HUB else registry
    try:
        answer = subprocess.run(
            [program, "get"],
            input=server,
            capture_output=True,
            text=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _error(registry, repository, path, f"names {name}: {exc}") from exc
    if answer.returncode != 0:
        output = (answer.stderr or answer.stdout).strip()
        if "not found" in output.lower():
            return None  # the helpers' "credentials not found in native keychain"
        raise _error(
            registry, repository, path, f"names {name}, which failed: {output}"
        )
    try:
        found = json.loads(answer.stdout)
        username, secret = str(found["Username"]), str(found["Secret"])
    except (ValueError, KeyError, TypeError) as exc:
        problem = f"names {name}, which answered no credentials"
        raise _error(registry, repository, path, problem) from exc
    return None if username == "<token>" else Credentials(username, secret)


def _keys(registry: str, repository: str) -> Iterator[str]:
    """The entry keys that apply, the most specific first."""
    names = sorted(_DOCKER_HUB) if registry in _DOCKER_HUB else [registry]
    parts = repository.split("/")
    for end in range(len(parts), 0, -1):
        for name in names:
            yield "/".join([name, *parts[:end]])
    yield from names


def normalized_key(key: str) -> str:
    """A credential file's entry key as the registry (and namespace) it stands for:
    ``https://index.docker.io/v1/`` -> ``docker.io`` (Docker Hub goes by one name);
    ``http://h:5000`` -> ``h:5000``; ``h/team`` stays."""
    for scheme in ("https://", "http://"):
        key = key.removeprefix(scheme)
    key = key.rstrip("/")
    for suffix in ("/v1", "/v2"):
        key = key.removesuffix(suffix)
    host, slash, rest = key.partition("/")
    return ("docker.io" if host in _DOCKER_HUB else host) + slash + rest


def _decode(
    entry: Any, path: Path, registry: str, repository: str
) -> Credentials | None:
    encoded = entry.get("auth") if isinstance(entry, dict) else None
    if not encoded:
        return None  # an identity token or a helper's entry: not supported
    try:
        pair = base64.b64decode(str(encoded), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _error(
            registry, repository, path, "holds an auth that is not base64"
        ) from exc
    username, colon, password = pair.partition(":")
    if not colon:
        raise _error(registry, repository, path, "holds an auth without USER:PASSWORD")
    return Credentials(username, password)


def _error(
    registry: str, repository: str, path: Path, problem: str
) -> RegistryAuthError:
    return RegistryAuthError(registry, repository, f"credentials file {path} {problem}")
