"""The plugin manager: entry-point autoload, blocking, duplicate names, hook checks."""

from __future__ import annotations

import subprocess
import sys
import types

import pluggy
import pytest
import sample_plugin
from fakedist import (
    FakeDistribution,
    builtin_entry_points,
    install,
    ociport_distribution,
    sample_distribution,
)

from ociport import hookimpl
from ociport.builtin import fsspec_store, oci_archive
from ociport.drivers.oci_archive import OciArchiveDriver
from ociport.drivers.registry import DriverRegistry
from ociport.errors import DuplicateDriverError, PluginError, UnknownDriverError
from ociport.plugins import (
    driver_registry,
    get_plugin_manager,
    list_plugins,
    make_plugin_manager,
)


def _registered(pm: pluggy.PluginManager) -> set[str]:
    return {name for name, plugin in pm.list_name_plugin() if plugin is not None}


def _module(
    name: str, monkeypatch: pytest.MonkeyPatch, **hooks: object
) -> types.ModuleType:
    """An importable plugin module ``name`` holding ``hooks``."""
    module = types.ModuleType(name)
    for attr, value in hooks.items():
        setattr(module, attr, value)
    monkeypatch.setitem(sys.modules, name, module)
    return module


class _OtherOciArchive(OciArchiveDriver):
    """A different driver class that takes the built-in's name."""

    summary = "a replacement oci-archive driver"


# -- autoload --------------------------------------------------------------------------


def test_autoload_registers_the_builtin_entry_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch, [ociport_distribution()])
    pm = make_plugin_manager()
    assert _registered(pm) == set(builtin_entry_points())
    assert pm.get_plugin("oci-archive") is oci_archive
    assert pm.get_plugin("fsspec-store") is fsspec_store
    assert "oci-archive" in driver_registry(pm).names()


def test_autoload_registers_a_third_party_plugin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    pm = make_plugin_manager()
    assert pm.get_plugin("sample-archive") is sample_plugin
    registry = driver_registry(pm)
    assert registry.get("sample-archive") is sample_plugin.SampleArchiveDriver
    assert registry.get("oci-archive") is OciArchiveDriver


def test_entry_points_of_other_groups_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = FakeDistribution("not-ours", "1.0", {})
    other._files["entry_points.txt"] = "[pytest11]\nsample = sample_plugin\n"
    install(monkeypatch, [ociport_distribution(), other])
    assert _registered(make_plugin_manager()) == set(builtin_entry_points())


def test_list_plugins_names_each_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    infos = {info.name: info for info in list_plugins(make_plugin_manager())}
    assert sorted(infos) == sorted([*builtin_entry_points(), "sample-archive"])
    sample = infos["sample-archive"]
    assert (sample.module, sample.distribution, sample.version) == (
        "sample_plugin",
        "ociport-sample",
        "0.3.0",
    )
    assert infos["oci-archive"].distribution == "ociport"
    assert infos["oci-archive"].module == "ociport.builtin.oci_archive"
    assert [i.name for i in list_plugins(make_plugin_manager())] == sorted(infos)


def test_get_plugin_manager_is_built_once() -> None:
    assert get_plugin_manager() is get_plugin_manager()


def test_importing_ociport_loads_no_plugins() -> None:
    code = (
        "import sys\n"
        "import ociport, ociport.api, ociport.cli\n"
        "from ociport.plugins import get_plugin_manager\n"
        "print(get_plugin_manager.cache_info().currsize)\n"
        "print(sorted(m for m in sys.modules if m.startswith('ociport.builtin.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:2] == ["0", "[]"]


# -- blocking and turning autoload off -------------------------------------------------


def test_blocked_argument_skips_a_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    pm = make_plugin_manager(blocked=["sample-archive"])
    assert pm.is_blocked("sample-archive")
    assert "sample-archive" not in _registered(pm)
    with pytest.raises(UnknownDriverError) as info:
        driver_registry(pm).get("sample-archive")
    assert info.value.name == "sample-archive"
    assert "oci-archive" in info.value.known


def test_env_blocklist_skips_plugins_builtins_included(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    monkeypatch.setenv("OCIPORT_DISABLE_PLUGINS", "sample-archive, oci-archive,")
    pm = make_plugin_manager()
    assert pm.is_blocked("sample-archive") and pm.is_blocked("oci-archive")
    assert _registered(pm) == set(builtin_entry_points()) - {"oci-archive"}


def test_env_blocklist_adds_to_the_blocked_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    monkeypatch.setenv("OCIPORT_DISABLE_PLUGINS", "sample-archive")
    pm = make_plugin_manager(blocked=["fsspec-store"])
    assert _registered(pm) == set(builtin_entry_points()) - {"fsspec-store"}


def test_blocking_every_driver_is_a_plugin_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch, [ociport_distribution()])
    drivers_only = [name for name in builtin_entry_points() if name != "fsspec-store"]
    pm = make_plugin_manager(blocked=drivers_only)
    with pytest.raises(
        PluginError, match="no drivers registered; is ociport installed"
    ):
        driver_registry(pm)


def test_env_disables_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    monkeypatch.setenv("OCIPORT_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = make_plugin_manager()
    assert _registered(pm) == set()
    with pytest.raises(PluginError, match="no drivers registered"):
        driver_registry(pm)


def test_autoload_argument_off(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    pm = make_plugin_manager(autoload=False)
    assert _registered(pm) == set()
    pm.register(oci_archive, name="oci-archive")
    assert driver_registry(pm).names() == ["oci-archive"]


def test_specs_are_present_without_any_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, [])
    pm = make_plugin_manager()
    hooks = {name for name in vars(pm.hook) if name.startswith("ociport_")}
    assert {"ociport_register_drivers", "ociport_open_content_store"} <= hooks
    assert all(getattr(pm.hook, name).spec is not None for name in hooks)


# -- duplicate driver names ------------------------------------------------------------


def test_two_plugins_with_one_driver_name_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl
    def ociport_register_drivers(registry: DriverRegistry) -> None:
        registry.add(_OtherOciArchive)

    _module(
        "clash_plugin", monkeypatch, ociport_register_drivers=ociport_register_drivers
    )
    clash = FakeDistribution("ociport-clash", "1.0", {"clash": "clash_plugin"})
    install(monkeypatch, [ociport_distribution(), clash])
    pm = make_plugin_manager()
    with pytest.raises(DuplicateDriverError) as info:
        driver_registry(pm)
    error = info.value
    assert isinstance(error, PluginError)
    assert error.name == "oci-archive"
    assert {str(error.existing), str(error.new)} == {
        "OciArchiveDriver",
        "_OtherOciArchive",
    }
    assert "oci-archive" in str(error)


@pytest.mark.parametrize(
    "replacer_first", [True, False], ids=["replacer-first", "builtin-first"]
)
def test_replace_true_wins_in_either_order(
    monkeypatch: pytest.MonkeyPatch, replacer_first: bool
) -> None:
    @hookimpl
    def ociport_register_drivers(registry: DriverRegistry) -> None:
        registry.add(_OtherOciArchive, replace=True)

    _module(
        "replace_plugin", monkeypatch, ociport_register_drivers=ociport_register_drivers
    )
    replacer = FakeDistribution("ociport-replace", "1.0", {"replace": "replace_plugin"})
    dists = [replacer, ociport_distribution()]
    install(monkeypatch, dists if replacer_first else dists[::-1])
    registry = driver_registry(make_plugin_manager())
    assert registry.get("oci-archive") is _OtherOciArchive
    assert registry.names().count("oci-archive") == 1


def test_registry_add_rules() -> None:
    registry = DriverRegistry()
    registry.add(OciArchiveDriver)
    registry.add(OciArchiveDriver)  # the same class again is not a clash
    with pytest.raises(DuplicateDriverError):
        registry.add(_OtherOciArchive)
    assert registry.get("oci-archive") is OciArchiveDriver
    registry.add(_OtherOciArchive, replace=True)
    assert registry.get("oci-archive") is _OtherOciArchive
    registry.add(OciArchiveDriver)  # a replaced name stays with its replacement
    assert registry.drivers() == [_OtherOciArchive]


# -- hook validation -------------------------------------------------------------------


def test_check_pending_rejects_a_misspelled_hook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @hookimpl
    def ociport_register_driver(
        registry: DriverRegistry,
    ) -> None:  # "driver" for "drivers"
        raise AssertionError("never called")

    module = _module(
        "typo_plugin", monkeypatch, ociport_register_driver=ociport_register_driver
    )
    typo = FakeDistribution("ociport-typo", "1.0", {"typo": "typo_plugin"})
    install(monkeypatch, [ociport_distribution(), typo])
    with pytest.raises(
        pluggy.PluginValidationError, match="ociport_register_driver"
    ) as info:
        make_plugin_manager()
    assert info.value.plugin is module


def test_check_pending_can_be_avoided_by_blocking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @hookimpl
    def ociport_register_driver(registry: DriverRegistry) -> None:
        raise AssertionError("never called")

    _module("typo_plugin", monkeypatch, ociport_register_driver=ociport_register_driver)
    typo = FakeDistribution("ociport-typo", "1.0", {"typo": "typo_plugin"})
    install(monkeypatch, [ociport_distribution(), typo])
    monkeypatch.setenv("OCIPORT_DISABLE_PLUGINS", "typo")
    assert "typo" not in _registered(make_plugin_manager())


def test_an_unknown_hook_argument_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    @hookimpl
    def ociport_register_drivers(registry: DriverRegistry, drivers: object) -> None:
        raise AssertionError("never called")

    _module(
        "badarg_plugin", monkeypatch, ociport_register_drivers=ociport_register_drivers
    )
    bad = FakeDistribution("ociport-badarg", "1.0", {"badarg": "badarg_plugin"})
    install(monkeypatch, [ociport_distribution(), bad])
    with pytest.raises(pluggy.PluginValidationError, match="drivers"):
        make_plugin_manager()


def test_unprefixed_functions_are_not_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    def register_drivers(registry: DriverRegistry) -> None:
        raise AssertionError("never called")

    _module("plain_plugin", monkeypatch, register_drivers=register_drivers)
    plain = FakeDistribution("ociport-plain", "1.0", {"plain": "plain_plugin"})
    install(monkeypatch, [ociport_distribution()])
    builtin_drivers = driver_registry(make_plugin_manager()).names()
    install(monkeypatch, [ociport_distribution(), plain])
    pm = make_plugin_manager()
    assert "plain" in _registered(pm)
    assert driver_registry(pm).names() == builtin_drivers


# -- broken plugins ----------------------------------------------------------------


def test_a_plugin_that_does_not_import_is_named_with_the_way_around(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = FakeDistribution("ociport-broken", "2.1", {"broken": "ociport_no_such"})
    install(monkeypatch, [ociport_distribution(), broken])
    with pytest.raises(PluginError) as raised:
        make_plugin_manager(cached=True)
    message = str(raised.value)
    assert "plugin 'broken' (ociport-broken 2.1) cannot be loaded" in message
    assert "ociport_no_such" in message
    assert "OCIPORT_DISABLE_PLUGINS=broken" in message
    monkeypatch.setenv("OCIPORT_DISABLE_PLUGINS", "broken")
    assert make_plugin_manager(cached=True).get_plugin("oci-archive") is oci_archive


def test_a_plugin_whose_drivers_do_not_import_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @hookimpl
    def ociport_register_drivers(registry: DriverRegistry) -> None:
        import ociport_missing_driver_module  # type: ignore[import-not-found]  # noqa: F401

    plugin = _module(
        "half_installed",
        monkeypatch,
        ociport_register_drivers=ociport_register_drivers,
    )
    pm = make_plugin_manager(autoload=False)
    pm.register(oci_archive, name="oci-archive")
    pm.register(plugin, name="half")
    with pytest.raises(PluginError) as raised:
        driver_registry(pm)
    message = str(raised.value)
    assert "plugin 'half' (half_installed) cannot be loaded" in message
    assert "ociport_missing_driver_module" in message
