"""ociport plugin for Docker archives (``docker save`` / ``docker load``).

Installing this distribution registers the ``docker-archive`` format through the
``ociport`` entry-point group and adds Docker's ``manifest.json`` to OCI archive exports.
"""

from __future__ import annotations

from ociport_docker_archive.driver import DockerArchiveDriver
from ociport_docker_archive.names import familiar_name, normalize_name

__all__ = ["DockerArchiveDriver", "familiar_name", "normalize_name"]
