"""Hook implementations: the ``docker`` driver (registries, skopeo's ``docker://``) and
the ``login`` and ``logout`` commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ociport import hookimpl

if TYPE_CHECKING:
    import click

    from ociport.drivers.kit import DriverRegistry

# The driver is imported in the hook, when a command needs drivers; httpx only when a
# registry is used: a plugin module is loaded at every start-up, so it stays light.


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add :class:`~ociport_registry.driver.RegistryDriver`."""
    from ociport_registry.driver import RegistryDriver

    registry.add(RegistryDriver)


# optionalhook: an ociport without this hook (before 0.2's command hook) still loads
# the plugin, without the commands.
@hookimpl(optionalhook=True)
def ociport_cli_commands() -> Sequence[click.Command]:
    """``ociport login`` and ``ociport logout`` (:mod:`ociport_registry.cli`)."""
    from ociport_registry.cli import login, logout

    return [login, logout]
