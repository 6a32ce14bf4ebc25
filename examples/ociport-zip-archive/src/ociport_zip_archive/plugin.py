"""The module the ``oci-zip`` entry point names: its hook implementations."""

from __future__ import annotations

from ociport.drivers.kit import DriverRegistry, hookimpl
from ociport_zip_archive.driver import ZipArchiveDriver


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add the ``oci-zip`` format."""
    registry.add(ZipArchiveDriver)
