"""FsspecContentStore: the shared suite on disk and in memory, plus layout details."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ociport.content.fsstore import FsspecContentStore
from ociport.errors import DigestMismatchError
from ociport.oci.descriptor import ANNOTATION_REF_NAME, Descriptor
from ociport.oci.digest import Digest
from ociport.streams.location import Location
from ociport.testing import ContentStoreSuite
from ociport.testing.stores import new_memory_store, remove_store


class TestFsspecFileContentStore(ContentStoreSuite):
    @pytest.fixture
    def content_store(self, tmp_path: Path) -> FsspecContentStore:
        return FsspecContentStore(Location.from_url(str(tmp_path / "store")))


class TestFsspecMemoryContentStore(ContentStoreSuite):
    @pytest.fixture
    def content_store(self) -> Iterator[FsspecContentStore]:
        store = new_memory_store()
        yield store
        remove_store(store)


@pytest.fixture(params=["file", "memory"])
def fs_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[FsspecContentStore]:
    if request.param == "file":
        yield FsspecContentStore(Location.from_url(str(tmp_path / "store")))
    else:
        store = new_memory_store()
        yield store
        remove_store(store)


def _files(store: FsspecContentStore, under: str) -> list[str]:
    top = store.location.join(under)
    if not top.fs.exists(top.path):
        return []
    return [p for p in top.fs.find(top.path) if not p.endswith(".lock")]


def test_new_store_is_an_oci_layout(fs_store: FsspecContentStore) -> None:
    fs, root = fs_store.location.fs, fs_store.location.path
    assert fs.cat_file(f"{root}/oci-layout") == b'{"imageLayoutVersion":"1.0.0"}'
    assert fs_store.read_index() == ()
    assert b'"schemaVersion":2' in fs.cat_file(f"{root}/index.json")


def test_ingest_files_vanish_on_abort(fs_store: FsspecContentStore) -> None:
    data = b"in flight"
    with fs_store.writer(ingest_id="temp") as writer:
        writer.write(data)
        pending = _files(fs_store, "ingest")
        assert len(pending) == 1
        assert _files(fs_store, "blobs") == []
    assert _files(fs_store, "ingest") == []
    assert _files(fs_store, "blobs") == []


def test_ingest_files_vanish_on_mismatch(fs_store: FsspecContentStore) -> None:
    with fs_store.writer(ingest_id="bad") as writer:
        writer.write(b"abc")
        with pytest.raises(DigestMismatchError):
            writer.commit(3, Digest.of(b"abd"))
        assert _files(fs_store, "ingest") == []
    assert _files(fs_store, "blobs") == []


def test_blob_file_appears_only_on_commit(fs_store: FsspecContentStore) -> None:
    data = b"published by rename"
    digest = Digest.of(data)
    final = fs_store.location.join("blobs", "sha256", digest.encoded)
    with fs_store.writer(ingest_id="publish") as writer:
        writer.write(data)
        writer.prepare(len(data), digest)
        assert not final.fs.exists(final.path)
        assert len(_files(fs_store, "ingest")) == 1
        writer.commit()
        assert final.fs.cat_file(final.path) == data
    assert _files(fs_store, "ingest") == []
    assert _files(fs_store, "blobs") == [final.path]


def test_walk_skips_foreign_files(fs_store: FsspecContentStore) -> None:
    fs, root = fs_store.location.fs, fs_store.location.path
    fs.makedirs(f"{root}/blobs/sha256", exist_ok=True)
    fs.pipe_file(f"{root}/blobs/sha256/not-a-digest", b"x")
    fs.pipe_file(f"{root}/blobs/sha256/{'A' * 64}", b"x")
    assert list(fs_store.walk()) == []


def _entry(name: str) -> Descriptor:
    data = name.encode()
    return Descriptor(
        "application/vnd.oci.image.manifest.v1+json",
        Digest.of(data),
        len(data),
        annotations={ANNOTATION_REF_NAME: name},
    )


def _add_names(root: str, prefix: str, count: int) -> None:
    store = FsspecContentStore(Location.from_url(root))
    for i in range(count):
        entry = _entry(f"example.com/{prefix}:{i}")
        store.update_index(lambda entries, entry=entry: [*entries, entry])


def _names(store: FsspecContentStore) -> set[str | None]:
    return {d.ref_name for d in store.read_index()}


def test_concurrent_index_updates_from_threads(fs_store: FsspecContentStore) -> None:
    root = fs_store.location.url
    threads = [
        threading.Thread(target=_add_names, args=(root, f"thread{t}", 15))
        for t in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _names(fs_store) == {
        f"example.com/thread{t}:{i}" for t in range(6) for i in range(15)
    }


def test_concurrent_index_updates_from_processes(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    store = FsspecContentStore(Location.from_url(root))
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_add_names, args=(root, f"proc{p}", 20))
        for p in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * 4
    assert _names(store) == {
        f"example.com/proc{p}:{i}" for p in range(4) for i in range(20)
    }


@pytest.mark.s3
class TestFsspecS3ContentStore(ContentStoreSuite):
    """The suite on moto and on Ceph RGW (the ``s3_bucket`` fixture of
    tests/conftest.py)."""

    @pytest.fixture
    def content_store(self, s3_endpoint: str, s3_bucket: str) -> FsspecContentStore:
        options = {"endpoint_url": s3_endpoint}
        return FsspecContentStore(Location.from_url(f"s3://{s3_bucket}/store", options))
