"""ociport plugin for container registries (OCI distribution-spec).

Installing this distribution registers the ``docker`` format through the ``ociport``
entry-point group: ``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`` (skopeo's syntax) as a
source of ``import`` and ``inspect`` and a destination of ``export``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ociport_registry.driver import RegistryDriver
    from ociport_registry.errors import (
        CredentialsFileError,
        NotLoggedInError,
        RegistryAuthError,
        RegistryError,
        RegistryNotFoundError,
        RegistryUnavailableError,
    )

__all__ = [
    "CredentialsFileError",
    "NotLoggedInError",
    "RegistryAuthError",
    "RegistryDriver",
    "RegistryError",
    "RegistryNotFoundError",
    "RegistryUnavailableError",
]

_HOMES = {
    "CredentialsFileError": "ociport_registry.errors",
    "NotLoggedInError": "ociport_registry.errors",
    "RegistryDriver": "ociport_registry.driver",
    "RegistryAuthError": "ociport_registry.errors",
    "RegistryError": "ociport_registry.errors",
    "RegistryNotFoundError": "ociport_registry.errors",
    "RegistryUnavailableError": "ociport_registry.errors",
}


def __getattr__(name: str) -> Any:
    """The driver and the errors on first use: the package is imported at every
    start-up (its plugin module is an entry point), httpx only when a registry is."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
