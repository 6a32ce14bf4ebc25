"""Fixtures for the docker-archive plugin's tests: a plugin manager with exactly the
built-ins plus this plugin, and stores."""

from __future__ import annotations

from pathlib import Path

import ociport_fixtures
import pluggy
import pytest
from ociport_docker_archive import plugin as docker_plugin

import ociport
from ociport.builtin import fsspec_store, oci_archive
from ociport.plugins import make_plugin_manager


def pytest_configure(config: pytest.Config) -> None:
    # The repository's conftest.py does this too; this one counts when the tests run
    # from this plugin's directory (its own pytest configuration).
    ociport_fixtures.install(config)


@pytest.fixture
def core_pm() -> pluggy.PluginManager:
    """Built-in plugins only: what a user without this plugin has."""
    pm = make_plugin_manager(autoload=False)
    pm.register(fsspec_store, name="fsspec-store")
    pm.register(oci_archive, name="oci-archive")
    return pm


@pytest.fixture
def docker_pm(core_pm: pluggy.PluginManager) -> pluggy.PluginManager:
    """Built-ins plus the docker-archive plugin."""
    core_pm.register(docker_plugin, name="docker-archive")
    return core_pm


@pytest.fixture
def store(tmp_path: Path, docker_pm: pluggy.PluginManager) -> ociport.ImageStore:
    """An empty local store with the plugin."""
    return ociport.open_store(str(tmp_path / "store"), pm=docker_pm)
