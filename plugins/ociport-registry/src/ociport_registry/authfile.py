"""Writing credential files (containers-auth.json(5)): what ``ociport login`` stores
and ``ociport logout`` removes, as ``podman login``/``logout`` and ``skopeo login``/
``logout`` do.

A credential file is a JSON object whose ``auths`` maps a key (``HOST[:PORT]``, or
``HOST[:PORT]/NAMESPACE...`` for a part of a registry) to ``{"auth": BASE64}``, the
base64 of ``USER:PASSWORD``. Everything else in the file (other entries, ``credHelpers``,
``credsStore``, keys of other tools) is kept as it is. The file is replaced atomically
(a temporary file in its directory, renamed over it) with mode ``0600``; its directory
is created (mode ``0700``) when missing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ociport_registry.credentials import normalized_key
from ociport_registry.errors import CredentialsFileError

__all__ = ["remove_all_credentials", "remove_credentials", "store_credentials"]


def store_credentials(path: Path, key: str, username: str, password: str) -> None:
    """Store ``USER:PASSWORD`` for ``key`` in ``path`` (created when missing), replacing
    the entry of that key, and any entry another tool wrote for it in another spelling
    (``https://KEY/v1/``).

    :raises CredentialsFileError: the file cannot be read, is not a credentials file
        (JSON whose ``auths`` is an object), or cannot be written.
    """
    pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    def edit(auths: dict[str, Any]) -> bool:
        for other in _spellings(auths, key):
            del auths[other]
        auths[key] = {"auth": pair}
        return True

    _modify(path, edit)


def remove_credentials(path: Path, key: str) -> bool:
    """Remove the entry of ``key`` (in any spelling) from ``path``.

    :returns: whether there was one (a missing file has none).
    :raises CredentialsFileError: as :func:`store_credentials`.
    """
    found: list[str] = []

    def edit(auths: dict[str, Any]) -> bool:
        found.extend(_spellings(auths, key))
        for other in found:
            del auths[other]
        return bool(found)

    _modify(path, edit)
    return bool(found)


def remove_all_credentials(path: Path) -> bool:
    """Remove every ``auths`` entry of ``path`` (credential helpers it names are left
    alone).

    :returns: whether there were any.
    :raises CredentialsFileError: as :func:`store_credentials`.
    """
    found: list[str] = []

    def edit(auths: dict[str, Any]) -> bool:
        found.extend(auths)
        auths.clear()
        return bool(found)

    _modify(path, edit)
    return bool(found)


def _spellings(auths: dict[str, Any], key: str) -> list[str]:
    """The entries of ``auths`` that stand for ``key``."""
    return [other for other in auths if normalized_key(other) == key]


def _modify(path: Path, edit: Callable[[dict[str, Any]], bool]) -> None:
    """Read ``path``, let ``edit`` change its ``auths``, and write it back when ``edit``
    says it changed something."""
    try:
        document: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        document = {}
    except OSError as exc:
        raise _error(path, f"cannot be read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise _error(path, f"is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _error(path, "is not a credentials file (not a JSON object)")
    auths = document.setdefault("auths", {})
    if not isinstance(auths, dict):
        raise _error(path, "is not a credentials file (its auths is no object)")
    if edit(auths):
        _write(path, document)


def _write(path: Path, document: dict[str, Any]) -> None:
    """Replace ``path`` with ``document``, atomically, mode 0600."""
    data = json.dumps(document, indent="\t").encode() + b"\n"
    directory = path.parent
    temporary = None
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600: the secret is never readable by
        # others, not even before the rename.
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        raise _error(path, f"cannot be written: {exc.strerror or exc}") from exc
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _error(path: Path, problem: str) -> CredentialsFileError:
    return CredentialsFileError(str(path), problem)
