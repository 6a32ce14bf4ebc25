"""Paths and helpers shared by the docker-archive plugin's tests."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from ociport_fixtures import PUBLIC, ROUNDTRIP, TOOL

import ociport

__all__ = ["PUBLIC", "ROUNDTRIP", "TOOL", "archive_manifest", "store_state"]


def archive_manifest(path: Path) -> list[dict[str, object]]:
    """The manifest.json of a (possibly compressed) Docker archive, read with tarfile."""
    with tarfile.open(path, "r:*") as tar:
        member = next(
            m for m in tar.getmembers() if m.name.lstrip("./") == "manifest.json"
        )
        data = tar.extractfile(member)
        assert data is not None
        return json.loads(data.read())  # type: ignore[no-any-return]


def store_state(store: ociport.ImageStore) -> dict[str, str]:
    """Every file of the store with its sha256 (lock files aside)."""
    location = store.content.location
    fs = location.fs
    return {
        p[len(location.path) :]: hashlib.sha256(fs.cat_file(p)).hexdigest()
        for p in sorted(fs.find(location.path))
        if not p.endswith(".lock")
    }
