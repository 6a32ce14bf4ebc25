"""Plugin: registers the ``oci`` driver (OCI image layout directory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ociport.plugins import hookimpl

if TYPE_CHECKING:
    from ociport.drivers.registry import DriverRegistry


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add :class:`~ociport.drivers.oci_layout.OciLayoutDriver` (imported here:
    plugin modules load at every start-up, drivers only when a command needs them)."""
    from ociport.drivers.oci_layout import OciLayoutDriver

    registry.add(OciLayoutDriver)
