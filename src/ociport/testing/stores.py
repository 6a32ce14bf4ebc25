"""Making, observing and corrupting content stores behind their back, for the suites."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ociport.content.fsstore import FsspecContentStore
from ociport.content.interfaces import ContentStore
from ociport.oci.digest import Digest
from ociport.streams.location import Location

__all__ = ["new_memory_store", "remove_store", "store_state", "tamper_layout_blob"]


def new_memory_store() -> FsspecContentStore:
    """An empty :class:`FsspecContentStore` at a unique ``memory://`` root.

    The in-memory filesystem is shared by the whole process: pair every call with
    :func:`remove_store`.
    """
    return FsspecContentStore(
        Location.from_url(f"memory://ociport-testing-{uuid.uuid4().hex}")
    )


def remove_store(store: ContentStore) -> None:
    """Delete everything under the root of an fsspec-rooted store (no-op otherwise)."""
    location = getattr(store, "location", None)
    if isinstance(location, Location) and location.fs.exists(location.path):
        location.fs.rm(location.path, recursive=True)


def store_state(store: ContentStore) -> list[Any]:
    """Everything observable about ``store``: blobs, ``index.json`` and, for a store
    rooted on fsspec, every file with its size (temporary ingest files included).

    Two equal states mean an operation left the store exactly as it was.
    """
    state: list[Any] = [
        sorted((str(i.digest), i.size) for i in store.walk()),
        [d.to_json() for d in store.read_index()],
    ]
    location = getattr(store, "location", None)
    if isinstance(location, Location) and location.fs.exists(location.path):
        files = location.fs.find(location.path, detail=True)
        state.append(
            sorted(
                (p, d.get("size")) for p, d in files.items() if not p.endswith(".lock")
            )
        )
    return state


def tamper_layout_blob(store: ContentStore, digest: Digest, data: bytes) -> None:
    """Overwrite ``blobs/<alg>/<encoded>`` under the root of an fsspec-rooted store.

    Skips the calling test when ``store`` does not keep its blobs that way.
    """
    location = getattr(store, "location", None)
    if not isinstance(location, Location):
        pytest.skip("store has no fsspec location; override the tamper hook")
    path = location.join("blobs", digest.algorithm, digest.encoded)
    if not path.fs.exists(path.path):
        pytest.skip(
            "store does not keep blobs/<alg>/<encoded>; override the tamper hook"
        )
    path.fs.pipe_file(path.path, data)
