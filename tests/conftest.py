"""Shared fixtures: a plugin manager with the built-ins only, stores, fixture paths."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

import ociport
from ociport.builtin import fsspec_store, oci_archive
from ociport.plugins import make_plugin_manager


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A plugin manager with exactly the built-in plugins, whatever is installed."""
    manager = make_plugin_manager(autoload=False)
    manager.register(fsspec_store, name="fsspec-store")
    manager.register(oci_archive, name="oci-archive")
    return manager


@pytest.fixture(params=["file", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The root of an empty store, on local disk and in memory."""
    if request.param == "file":
        yield str(tmp_path / "store")
    else:
        url = f"memory://ociport-test-{uuid.uuid4().hex}"
        yield url
        import fsspec

        fs = fsspec.filesystem("memory")
        if fs.exists(url):
            fs.rm(url, recursive=True)


@pytest.fixture
def store(store_url: str, pm: pluggy.PluginManager) -> ociport.ImageStore:
    """An empty image store (file and memory variants)."""
    return ociport.open_store(store_url, pm=pm)


@pytest.fixture
def local_store(tmp_path: Path, pm: pluggy.PluginManager) -> ociport.ImageStore:
    """An empty image store on local disk (for tests that run external tools on it)."""
    return ociport.open_store(str(tmp_path / "store"), pm=pm)
