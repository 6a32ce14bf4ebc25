"""Plugin: registers the ``oci-archive`` driver (OCI image layout in a tar)."""

from __future__ import annotations

from ociport.drivers.oci_archive import OciArchiveDriver
from ociport.drivers.registry import DriverRegistry
from ociport.plugins import hookimpl


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add :class:`~ociport.drivers.oci_archive.OciArchiveDriver`."""
    registry.add(OciArchiveDriver)
