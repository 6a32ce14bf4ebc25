"""Plugin: registers the ``oci`` driver (OCI image layout directory)."""

from __future__ import annotations

from ociport.drivers.oci_layout import OciLayoutDriver
from ociport.drivers.registry import DriverRegistry
from ociport.plugins import hookimpl


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add :class:`~ociport.drivers.oci_layout.OciLayoutDriver`."""
    registry.add(OciLayoutDriver)
