"""Plugin: registers the ``oci-archive`` driver (OCI image layout in a tar)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ociport.plugins import hookimpl

if TYPE_CHECKING:
    from ociport.drivers.registry import DriverRegistry


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add :class:`~ociport.drivers.oci_archive.OciArchiveDriver` (imported here:
    plugin modules load at every start-up, drivers only when a command needs them)."""
    from ociport.drivers.oci_archive import OciArchiveDriver

    registry.add(OciArchiveDriver)
