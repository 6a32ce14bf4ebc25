"""The plugin manager: hook markers, entry-point loading, blocking, driver lookup.

Built-in drivers and the default store are plugins too, loaded from the ``ociport``
entry-point group of ociport's own distribution, exactly like third-party plugins.

Environment:

- ``OCIPORT_DISABLE_PLUGINS=a,b``: entry-point names not to load (built-ins included);
- ``OCIPORT_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points at all.

The process-wide manager (:func:`get_plugin_manager`, which the command line and the
API use) finds the entry points through :mod:`ociport.entrypoints`, whose cache spares
each start the cost of :mod:`importlib.metadata`; other managers ask importlib.metadata
directly, through pluggy.
"""

from __future__ import annotations

import functools
import importlib
import os
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pluggy

from ociport import hookspecs
from ociport.drivers.registry import DriverRegistry
from ociport.entrypoints import EntryPoint, cached_entry_points
from ociport.errors import PluginError

if TYPE_CHECKING:
    import click

__all__ = [
    "PROJECT",
    "PluginInfo",
    "driver_registry",
    "get_plugin_manager",
    "hookimpl",
    "list_plugins",
    "make_plugin_manager",
    "plugin_commands",
]

#: pluggy project name and entry-point group.
PROJECT: Final = "ociport"
hookimpl = pluggy.HookimplMarker(PROJECT)

_REGISTRIES: Final[weakref.WeakKeyDictionary[pluggy.PluginManager, DriverRegistry]] = (
    weakref.WeakKeyDictionary()
)
_COMMANDS: Final[
    weakref.WeakKeyDictionary[pluggy.PluginManager, dict[str, click.Command]]
] = weakref.WeakKeyDictionary()
#: For managers loaded from cached entry points: plugin name -> (distribution, version)
#: (pluggy's ``list_plugin_distinfo`` knows only the plugins it loaded itself).
_DISTRIBUTIONS: Final[
    weakref.WeakKeyDictionary[pluggy.PluginManager, dict[str, tuple[str, str]]]
] = weakref.WeakKeyDictionary()


def make_plugin_manager(
    *, autoload: bool = True, blocked: Iterable[str] = (), cached: bool = False
) -> pluggy.PluginManager:
    """A plugin manager with ociport's hook specs and, unless disabled, every plugin of
    the ``ociport`` entry-point group.

    :param autoload: load entry points (off also with ``OCIPORT_DISABLE_PLUGIN_AUTOLOAD``).
    :param blocked: entry-point names not to load (added to ``OCIPORT_DISABLE_PLUGINS``).
    :param cached: find the entry points through :mod:`ociport.entrypoints`' cache
        rather than asking importlib.metadata (the same plugins, found faster).
    :raises pluggy.PluginValidationError: a plugin implements an unknown hook or one with
        wrong arguments.
    :raises ImportError: a plugin's module cannot be imported.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    env_blocked = os.environ.get("OCIPORT_DISABLE_PLUGINS", "")
    for name in [*blocked, *env_blocked.split(",")]:
        if name.strip():
            pm.set_blocked(name.strip())
    if autoload and not os.environ.get("OCIPORT_DISABLE_PLUGIN_AUTOLOAD"):
        if cached:
            _load_cached_entry_points(pm)
        else:
            pm.load_setuptools_entrypoints(PROJECT)
    pm.check_pending()
    return pm


def _load_cached_entry_points(pm: pluggy.PluginManager) -> None:
    """Register the plugins of the cached entry points, as pluggy's
    ``load_setuptools_entrypoints`` does (the first of a name wins; blocked names are
    skipped). When a cached entry point no longer loads (a distribution changed in a
    way the fingerprint missed), the entry points are read again once."""
    distributions = _DISTRIBUTIONS.setdefault(pm, {})
    for refresh in (False, True):
        entry = None
        try:
            for entry in cached_entry_points(PROJECT, refresh=refresh):
                if pm.has_plugin(entry.name) or pm.is_blocked(entry.name):
                    continue
                pm.register(_load(entry), name=entry.name)
                distributions[entry.name] = (entry.distribution, entry.version)
            return
        except (ImportError, AttributeError) as exc:
            if refresh:
                if entry is None:
                    raise
                origin = f"{entry.distribution} {entry.version}"
                raise _broken(entry.name, origin, exc) from exc


def _broken(name: str, origin: str, exc: BaseException) -> PluginError:
    """The error of a plugin whose code cannot be loaded, saying how to go without."""
    return PluginError(
        f"plugin {name!r} ({origin}) cannot be loaded: {exc}; "
        f"OCIPORT_DISABLE_PLUGINS={name} runs without it"
    )


def _module_of(plugin: object) -> str:
    """The module a plugin is (or its class's name), for messages."""
    return str(getattr(plugin, "__name__", type(plugin).__name__))


def _load(entry: EntryPoint) -> object:
    """The object an entry point's ``module[:attribute.path]`` value names."""
    module, _, attributes = entry.value.partition(":")
    found: object = importlib.import_module(module.strip())
    for attribute in filter(None, attributes.strip().split(".")):
        found = getattr(found, attribute)
    return found


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide default plugin manager, built on first use from the cached
    entry points."""
    return make_plugin_manager(cached=True)


def _distributions(pm: pluggy.PluginManager) -> list[tuple[object, str, str]]:
    """``(plugin, distribution, version)`` of each plugin loaded from an entry point."""
    found: list[tuple[object, str, str]] = [
        (plugin, dist.metadata["Name"], dist.version)
        for plugin, dist in pm.list_plugin_distinfo()
    ]
    for name, (dist_name, version) in _DISTRIBUTIONS.get(pm, {}).items():
        plugin = pm.get_plugin(name)
        if plugin is not None:
            found.append((plugin, dist_name, version))
    return found


def driver_registry(pm: pluggy.PluginManager) -> DriverRegistry:
    """The drivers registered by ``pm``'s plugins, collected once per manager.

    :raises PluginError: no driver is registered at all.
    """
    registry = _REGISTRIES.get(pm)
    if registry is None:
        registry = DriverRegistry()
        # Each plugin in turn (pluggy's order: the last registered first), so that
        # one whose driver modules do not import is named.
        for impl in reversed(pm.hook.ociport_register_drivers.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue  # wraps the call; registers nothing itself
            arguments = {"registry": registry}
            try:
                impl.function(*(arguments[name] for name in impl.argnames))
            except ImportError as exc:
                raise _broken(impl.plugin_name, _module_of(impl.plugin), exc) from exc
        if not registry.names():
            raise PluginError("no drivers registered; is ociport installed?")
        _REGISTRIES[pm] = registry
    return registry


def plugin_commands(
    pm: pluggy.PluginManager, reserved: Iterable[str] = ()
) -> dict[str, click.Command]:
    """The commands ``pm``'s plugins add to the command line
    (:func:`~ociport.hookspecs.ociport_cli_commands`), by name, collected once per
    manager.

    :param reserved: the built-in command names, which no plugin may take.
    :raises PluginError: a result that is not a named click command, or a name that is
        reserved or added twice (naming the plugins).
    """
    found = _COMMANDS.get(pm)
    if found is not None:
        return found
    import click

    taken = set(reserved)
    found = {}
    owners: dict[str, str] = {}
    hook = pm.hook.ociport_cli_commands
    for impl in hook.get_hookimpls():  # in registration order
        if impl.hookwrapper or impl.wrapper:
            continue  # wraps the call; adds nothing
        results = impl.function()
        if not isinstance(results, Iterable):
            raise PluginError(
                f"plugin {impl.plugin_name}: ociport_cli_commands returned "
                f"{results!r}, not a sequence of click commands"
            )
        for command in results:
            if not isinstance(command, click.Command) or not command.name:
                raise PluginError(
                    f"plugin {impl.plugin_name} added a command line command that "
                    f"is not a named click command: {command!r}"
                )
            name = command.name
            if name in taken:
                raise PluginError(
                    f"plugin {impl.plugin_name} adds the command {name!r}, which is "
                    "a built-in command's name"
                )
            if name in found:
                raise PluginError(
                    f"plugins {owners[name]} and {impl.plugin_name} both add the "
                    f"command {name!r}; block one with OCIPORT_DISABLE_PLUGINS"
                )
            found[name] = command
            owners[name] = impl.plugin_name
    _COMMANDS[pm] = found
    return found


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A registered plugin and the distribution that provides it."""

    name: str
    module: str
    distribution: str | None
    version: str | None


def list_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every registered plugin with its distribution, sorted by name."""
    dists = {
        id(plugin): (name, version) for plugin, name, version in _distributions(pm)
    }
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        module = getattr(plugin, "__name__", type(plugin).__name__)
        dist_name, version = dists.get(id(plugin)) or distribution_of(module)
        infos.append(PluginInfo(name, module, dist_name, version))
    return sorted(infos, key=lambda info: info.name)


def distribution_of(
    module: str, pm: pluggy.PluginManager | None = None
) -> tuple[str | None, str | None]:
    """The installed distribution providing ``module``: that of a plugin of ``pm`` from the
    same top-level package, else the one the import system maps the package to."""
    import importlib.metadata

    top = module.split(".", 1)[0]
    for plugin, name, version in _distributions(pm) if pm is not None else ():
        if getattr(plugin, "__name__", "").split(".", 1)[0] == top:
            return name, version
    names = importlib.metadata.packages_distributions().get(top) or []
    if not names:
        return None, None
    try:
        return names[0], importlib.metadata.version(names[0])
    except importlib.metadata.PackageNotFoundError:
        return names[0], None
