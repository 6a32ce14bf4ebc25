"""Helpers shared by tests: fixture paths, store snapshots, external tools."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from ociport_fixtures import PUBLIC, ROOT, TOOL

import ociport

__all__ = ["PUBLIC", "ROOT", "TOOL", "need_tool", "snapshot"]


def snapshot(store: ociport.ImageStore) -> dict[str, str]:
    """Every file under the store root (temporary ingest files included) with its
    sha256: two equal snapshots mean the store did not change at all."""
    location = store.content.location
    fs = location.fs
    state = {}
    for path in sorted(fs.find(location.path)):
        if path.endswith(".lock"):
            continue
        state[path[len(location.path) :]] = hashlib.sha256(
            fs.cat_file(path)
        ).hexdigest()
    return state


def need_tool(name: str) -> str:
    """The path of an external tool, skipping the test when it is not installed
    (the README's test command installs them, so CI never skips)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path
