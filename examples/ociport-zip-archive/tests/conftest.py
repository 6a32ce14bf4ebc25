"""Fixtures for the oci-zip plugin's tests: a plugin manager with exactly the built-ins
plus this plugin."""

from __future__ import annotations

import pluggy
import pytest
from ociport_zip_archive import plugin as zip_plugin

import ociport
from ociport.builtin import fsspec_store, oci_archive


@pytest.fixture
def zip_pm() -> pluggy.PluginManager:
    """The built-in store and oci-archive driver, plus this plugin; nothing autoloaded,
    so other installed plugins stay out of the way (docs/hooks.md, "To test a plugin
    without installing it")."""
    pm = ociport.make_plugin_manager(autoload=False)
    pm.register(fsspec_store, name="fsspec-store")
    pm.register(oci_archive, name="oci-archive")
    pm.register(zip_plugin, name="oci-zip")
    return pm
