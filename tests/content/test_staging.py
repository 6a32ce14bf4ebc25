"""The staging area: small blobs wait in memory (bounded), large ones in the store's
ingest area; nothing is visible before commit, and commit writes only what is needed."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest

import ociport
from helpers import ROOT, snapshot
from ociport.content.fsstore import FsspecContentStore
from ociport.content.staging import SMALL_BLOB, SMALL_BLOB_BUDGET, StagingArea
from ociport.oci.digest import Digest
from ociport.testing.stores import new_memory_store, remove_store

HELLO = ROOT / "examples" / "hello.oci-archive.tar"


@pytest.fixture
def store() -> Iterator[FsspecContentStore]:
    made = new_memory_store()
    yield made
    remove_store(made)


class _CountingStore:
    """A store that counts the writers it opens."""

    def __init__(self, inner: FsspecContentStore) -> None:
        self.inner = inner
        self.writers = 0

    def writer(self, **options: Any) -> Any:
        self.writers += 1
        return self.inner.writer(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _stage(area: StagingArea, data: bytes) -> Digest:
    digest = Digest.of(data)
    area.add(digest, len(data), io.BytesIO(data), where="test")
    return digest


def test_small_blobs_wait_in_memory_and_only_needed_ones_are_written(
    store: FsspecContentStore,
) -> None:
    counting = _CountingStore(store)
    with StagingArea(counting) as area:  # type: ignore[arg-type]
        digests = [_stage(area, f"tiny {i}\n".encode()) for i in range(500)]
        assert counting.writers == 0
        assert list(store.walk()) == []
        assert area.has(digests[7]) and area.size_of(digests[7]) == len(b"tiny 7\n")
        committed = area.commit(digests[:3])
    assert counting.writers == 3
    assert sorted(i.digest for i in committed) == sorted(digests[:3])
    assert sorted(i.digest for i in store.walk()) == sorted(digests[:3])


def test_the_memory_for_small_blobs_is_bounded(store: FsspecContentStore) -> None:
    counting = _CountingStore(store)
    blob_count = SMALL_BLOB_BUDGET // SMALL_BLOB + 3
    with StagingArea(counting) as area:  # type: ignore[arg-type]
        for i in range(blob_count):
            _stage(area, i.to_bytes(4, "big") * (SMALL_BLOB // 4))
        # Past the budget, blobs go to the store's ingest area (unpublished) instead.
        assert counting.writers == 3
        assert list(store.walk()) == []


def test_a_stream_of_many_tiny_unneeded_blobs_writes_none_of_them(
    tmp_path: Any,
) -> None:
    """A one-pass import stages every member; the thousands no image needs never touch
    the store (it used to create, fsync and delete a file for each)."""
    out = io.BytesIO()
    with tarfile.open(HELLO) as source, tarfile.open(fileobj=out, mode="w") as tar:
        for member in source:
            tar.addfile(member, source.extractfile(member) if member.isfile() else None)
        for i in range(2000):
            data = f"tiny blob {i}\n".encode()
            info = tarfile.TarInfo(f"blobs/sha256/{hashlib.sha256(data).hexdigest()}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    image_store = ociport.open_store(str(tmp_path / "store"))
    counting = _CountingStore(image_store.content)  # type: ignore[arg-type]
    image_store.content = counting  # type: ignore[assignment]
    result = image_store.import_image(io.BytesIO(out.getvalue()))
    assert result.blobs_committed == 3
    assert counting.writers == 3
    before = snapshot(image_store)
    image_store.import_image(io.BytesIO(out.getvalue()))
    assert counting.writers == 3 and snapshot(image_store) == before
