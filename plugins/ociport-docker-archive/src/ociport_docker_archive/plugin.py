"""Hook implementations: the ``docker-archive`` driver and ``manifest.json`` in OCI archives."""

from __future__ import annotations

from collections.abc import Sequence

from ociport.drivers.kit import (
    DriverRegistry,
    ExportPlan,
    blob_member_name,
    hookimpl,
)
from ociport_docker_archive.driver import DockerArchiveDriver
from ociport_docker_archive.export import image_views, manifest_json


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add :class:`~ociport_docker_archive.driver.DockerArchiveDriver`."""
    registry.add(DockerArchiveDriver)


@hookimpl
def ociport_archive_members(
    driver_name: str, plan: ExportPlan
) -> Sequence[tuple[str, bytes]]:
    """``manifest.json`` for OCI archive exports, so ``docker load`` reads them too."""
    if driver_name != "oci-archive":
        return []
    views = image_views(plan, plan.manifest_for)
    if not views:
        return []
    return [("manifest.json", manifest_json(views, blob_member_name))]
