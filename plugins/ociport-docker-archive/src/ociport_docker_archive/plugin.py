"""Hook implementations: the ``docker-archive`` driver and ``manifest.json`` in OCI archives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ociport import hookimpl

if TYPE_CHECKING:
    from ociport.drivers.kit import DriverRegistry, ExportPlan

# The driver and the toolkit are imported in the hooks, when a command needs them: a
# plugin module is loaded at every start-up, so it stays light.


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add :class:`~ociport_docker_archive.driver.DockerArchiveDriver`."""
    from ociport_docker_archive.driver import DockerArchiveDriver

    registry.add(DockerArchiveDriver)


@hookimpl
def ociport_archive_members(
    driver_name: str, plan: ExportPlan
) -> Sequence[tuple[str, bytes]]:
    """``manifest.json`` for OCI archive exports, so ``docker load`` reads them too."""
    if driver_name != "oci-archive":
        return []
    from ociport.drivers.kit import blob_member_name
    from ociport_docker_archive.export import image_views, manifest_json

    views = image_views(plan, plan.manifest_for)
    if not views:
        return []
    return [("manifest.json", manifest_json(views, blob_member_name))]
