"""The module the ``oci-zip`` entry point names: its hook implementations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ociport import hookimpl

if TYPE_CHECKING:
    from ociport.drivers.kit import DriverRegistry


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add the ``oci-zip`` format (the driver imported only when drivers are needed)."""
    from ociport_zip_archive.driver import ZipArchiveDriver

    registry.add(ZipArchiveDriver)
