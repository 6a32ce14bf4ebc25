"""Hook implementation: the ``docker`` driver (registries, skopeo's ``docker://``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ociport import hookimpl

if TYPE_CHECKING:
    from ociport.drivers.kit import DriverRegistry

# The driver is imported in the hook, when a command needs drivers; httpx only when a
# registry is used: a plugin module is loaded at every start-up, so it stays light.


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add :class:`~ociport_registry.driver.RegistryDriver`."""
    from ociport_registry.driver import RegistryDriver

    registry.add(RegistryDriver)
