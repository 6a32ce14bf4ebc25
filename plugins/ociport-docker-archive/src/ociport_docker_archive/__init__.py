"""ociport plugin for Docker archives (``docker save`` / ``docker load``).

Installing this distribution registers the ``docker-archive`` format through the
``ociport`` entry-point group and adds Docker's ``manifest.json`` to OCI archive exports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ociport_docker_archive.driver import DockerArchiveDriver

__all__ = ["DockerArchiveDriver"]


def __getattr__(name: str) -> Any:
    """``DockerArchiveDriver`` on first use: the package is imported at every start-up (its
    plugin module is an entry point), the driver only when a command needs it."""
    if name == "DockerArchiveDriver":
        return importlib.import_module(
            "ociport_docker_archive.driver"
        ).DockerArchiveDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
