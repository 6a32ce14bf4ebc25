"""ociport plugin for Docker archives (``docker save`` / ``docker load``).

Installing this distribution registers the ``docker-archive`` format through the
``ociport`` entry-point group and adds Docker's ``manifest.json`` to OCI archive exports.
"""

from __future__ import annotations

from ociport_docker_archive.driver import DockerArchiveDriver

__all__ = ["DockerArchiveDriver"]
