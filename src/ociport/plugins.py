"""The plugin manager: hook markers, entry-point loading, blocking, driver lookup.

Built-in drivers and the default store are plugins too, loaded from the ``ociport``
entry-point group of ociport's own distribution, exactly like third-party plugins.

Environment:

- ``OCIPORT_DISABLE_PLUGINS=a,b``: entry-point names not to load (built-ins included);
- ``OCIPORT_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points at all.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import pluggy

from ociport import hookspecs
from ociport.drivers.registry import DriverRegistry
from ociport.errors import PluginError

__all__ = [
    "PROJECT",
    "PluginInfo",
    "driver_registry",
    "get_plugin_manager",
    "hookimpl",
    "list_plugins",
    "make_plugin_manager",
]

#: pluggy project name and entry-point group.
PROJECT: Final = "ociport"
hookimpl = pluggy.HookimplMarker(PROJECT)

_REGISTRIES: Final[weakref.WeakKeyDictionary[pluggy.PluginManager, DriverRegistry]] = (
    weakref.WeakKeyDictionary()
)


def make_plugin_manager(
    *, autoload: bool = True, blocked: Iterable[str] = ()
) -> pluggy.PluginManager:
    """A plugin manager with ociport's hook specs and, unless disabled, every plugin of
    the ``ociport`` entry-point group.

    :param autoload: load entry points (off also with ``OCIPORT_DISABLE_PLUGIN_AUTOLOAD``).
    :param blocked: entry-point names not to load (added to ``OCIPORT_DISABLE_PLUGINS``).
    :raises pluggy.PluginValidationError: a plugin implements an unknown hook or one with
        wrong arguments.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    env_blocked = os.environ.get("OCIPORT_DISABLE_PLUGINS", "")
    for name in [*blocked, *env_blocked.split(",")]:
        if name.strip():
            pm.set_blocked(name.strip())
    if autoload and not os.environ.get("OCIPORT_DISABLE_PLUGIN_AUTOLOAD"):
        pm.load_setuptools_entrypoints(PROJECT)
    pm.check_pending()
    return pm


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide default plugin manager, built on first use."""
    return make_plugin_manager()


def driver_registry(pm: pluggy.PluginManager) -> DriverRegistry:
    """The drivers registered by ``pm``'s plugins, collected once per manager.

    :raises PluginError: no driver is registered at all.
    """
    registry = _REGISTRIES.get(pm)
    if registry is None:
        registry = DriverRegistry()
        pm.hook.ociport_register_drivers(registry=registry)
        if not registry.names():
            raise PluginError("no drivers registered; is ociport installed?")
        _REGISTRIES[pm] = registry
    return registry


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A registered plugin and the distribution that provides it."""

    name: str
    module: str
    distribution: str | None
    version: str | None


def list_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every registered plugin with its distribution, sorted by name."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        module = getattr(plugin, "__name__", type(plugin).__name__)
        if dist is None:
            dist_name, version = distribution_of(module)
        else:
            dist_name, version = dist.metadata["Name"], dist.version
        infos.append(PluginInfo(name, module, dist_name, version))
    return sorted(infos, key=lambda info: info.name)


def distribution_of(
    module: str, pm: pluggy.PluginManager | None = None
) -> tuple[str | None, str | None]:
    """The installed distribution providing ``module``: that of a plugin of ``pm`` from the
    same top-level package, else the one the import system maps the package to."""
    top = module.split(".", 1)[0]
    for plugin, dist in pm.list_plugin_distinfo() if pm is not None else ():
        if getattr(plugin, "__name__", "").split(".", 1)[0] == top:
            return dist.metadata["Name"], dist.version
    names = importlib.metadata.packages_distributions().get(top) or []
    if not names:
        return None, None
    try:
        return names[0], importlib.metadata.version(names[0])
    except importlib.metadata.PackageNotFoundError:
        return names[0], None
