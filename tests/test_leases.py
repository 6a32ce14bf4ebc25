"""Leases: gc never robs an import of blobs it re-uses, on a local disk and on S3
(moto and Ceph RGW); a failed import leaves nothing behind; what dead writers left is
recognised and removed."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy
import pytest

import ociport
from ociport.content.leases import LeaseRecord, LeasingStore
from ociport.engine import importing
from ociport.oci.validate import validate_image
from ociport.processes import owner_token
from ociport.testing.factories import name_image, random_image

HOUR = 3600.0
NAME = "example.com/app:1"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def archive(tmp_path: Path, pm: pluggy.PluginManager) -> Path:
    """An OCI archive of one image with three 1 MiB layers (staged through the store
    rather than in memory) and its small documents."""
    source = ociport.open_store(str(tmp_path / "source"), pm=pm)
    root = random_image(source.content, layers=3, layer_size=1 << 20, seed=11)
    name_image(source.content, NAME, root)
    path = tmp_path / "app.tar"
    source.export_images([NAME], str(path))
    return path


def _age(store: ociport.ImageStore, seconds: float) -> None:
    blobs = Path(store.content.location.path) / "blobs" / "sha256"
    then = time.time() - seconds
    for blob in blobs.iterdir():
        os.utime(blob, (then, then))


def _unnamed_again(store: ociport.ImageStore, archive: Path) -> None:
    """Import the archive, then remove the name: its blobs stay, referenced by none."""
    store.import_image(str(archive))
    store.remove([NAME])


def _assert_complete(store: ociport.ImageStore) -> None:
    image = store.get(NAME)
    validate_image(store.content, image.target)
    assert store.export_images([NAME], io.BytesIO()).missing == []
    assert store.verify() == [] and store.verify_images() == []


class _NonSeekable(io.RawIOBase):
    """A pipe: read once, no seek."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._stream.readinto(buffer)


# -- gc during an import that re-uses aged, unreferenced blobs -------------------------


@pytest.mark.parametrize("grace", [HOUR, 0.0], ids=["default-grace", "grace-0"])
def test_gc_during_a_streamed_import_spares_reused_blobs(
    local_store: ociport.ImageStore,
    archive: Path,
    pm: pluggy.PluginManager,
    grace: float,
) -> None:
    _unnamed_again(local_store, archive)
    _age(local_store, 2 * HOUR)
    other = ociport.open_store(local_store.content.location.path, pm=pm)
    runs: list[ociport.GcResult] = []
    read = [0]

    def progress(count: int) -> None:
        read[0] += count
        # A gc at every read once the first layer went by, as the import streams on.
        if read[0] > 1.5 * (1 << 20) and len(runs) < 50:
            runs.append(other.gc(grace=grace))

    stream = _NonSeekable(archive.read_bytes())
    local_store.import_image(stream, progress=progress)  # type: ignore[arg-type]
    assert runs and sum(r.kept_leased for r in runs) > 0, "the lease held blobs"
    _assert_complete(local_store)


def test_gc_between_walk_and_commit_makes_the_import_read_them_again(
    local_store: ociport.ImageStore,
    archive: Path,
    pm: pluggy.PluginManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A random-access import relies on blobs the store has from its walk on; a gc
    that deletes them before the import's lease holds them makes the import stage them
    again from the source, never name an incomplete image."""
    _unnamed_again(local_store, archive)
    other = ociport.open_store(local_store.content.location.path, pm=pm)
    removed: list[int] = []
    stage_needed = importing.SourceReader.stage_needed

    def stage_then_gc(self: importing.SourceReader, graphs: Any) -> None:
        stage_needed(self, graphs)
        if not removed:
            removed.append(len(other.gc(grace=0).removed))

    monkeypatch.setattr(importing.SourceReader, "stage_needed", stage_then_gc)
    result = local_store.import_image(str(archive))
    assert removed and removed[0] >= 5, "the gc deleted the re-used blobs"
    assert result.blobs_committed >= 5, "the import wrote them again"
    _assert_complete(local_store)


def _worker_script(
    store: str, options: dict[str, str], archive: Path, worker: int, rounds: int
) -> str:
    return f"""
import sys, ociport
from ociport.oci.validate import validate_image
store = ociport.open_store({store!r}, storage_options={options!r})
for n in range({rounds}):
    name = "example.com/w{worker}:%d" % n
    result = store.import_image({str(archive)!r}, index_name=name)
    image = store.get(name)
    validate_image(store.content, image.target)  # complete when the import exits 0
    store.remove([name])
print("ok")
"""


def _gc_loop_script(store: str, options: dict[str, str], until: Path) -> str:
    return f"""
import os, ociport
store = ociport.open_store({store!r}, storage_options={options!r})
runs = 0
while not os.path.exists({str(until)!r}) or runs == 0:
    store.gc(grace=0)
    runs += 1
print(runs)
"""


def _race(
    store_url: str, options: dict[str, str], archive: Path, tmp_path: Path
) -> None:
    """Imports re-using unreferenced blobs while gc --grace 0 runs in a loop."""
    done = tmp_path / "done"
    collector = subprocess.Popen(
        [sys.executable, "-c", _gc_loop_script(store_url, options, done)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _worker_script(store_url, options, archive, i, 4)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    try:
        outcomes = [w.communicate(timeout=600) for w in workers]
    finally:
        done.touch()
        gc_out, gc_err = collector.communicate(timeout=600)
    for worker, (out, err) in zip(workers, outcomes, strict=True):
        assert worker.returncode == 0 and out.strip() == "ok", err
    assert collector.returncode == 0, gc_err
    assert int(gc_out) > 1, "gc ran while the imports did"


def test_concurrent_imports_and_gc_on_a_local_store(
    local_store: ociport.ImageStore, archive: Path, tmp_path: Path
) -> None:
    _unnamed_again(local_store, archive)
    url = local_store.content.location.path
    _race(url, {}, archive, tmp_path)
    assert local_store.verify() == []


@pytest.mark.s3
def test_concurrent_imports_and_gc_on_s3(
    s3_bucket: str, s3_endpoint: str, archive: Path, tmp_path: Path
) -> None:
    url = f"s3://{s3_bucket}/store"
    options = {"endpoint_url": s3_endpoint}
    store = ociport.open_store(url, storage_options=options)
    _unnamed_again(store, archive)
    _race(url, options, archive, tmp_path)
    assert store.verify() == []


# -- leases themselves -----------------------------------------------------------------


def _store_with_orphans(
    store: ociport.ImageStore, archive: Path
) -> tuple[LeasingStore, set[ociport.Digest]]:
    _unnamed_again(store, archive)
    assert isinstance(store.content, LeasingStore)
    return store.content, {info.digest for info in store.content.walk()}


def test_a_live_lease_holds_its_blobs_and_release_frees_them(
    local_store: ociport.ImageStore, archive: Path
) -> None:
    content, orphans = _store_with_orphans(local_store, archive)
    with content.leases.create("import") as lease:
        lease.hold(orphans)
        result = local_store.gc(grace=0)
        assert result.removed == [] and result.kept_leased == len(orphans)
        files = list((Path(content.location.path) / "leases").iterdir())
        assert [f.name for f in files] == [f"{lease.id}.json"]
        record = json.loads(files[0].read_text())
        assert record["owner"] == owner_token() and record["purpose"] == "import"
        assert set(record["digests"]) == {str(d) for d in orphans}
    assert not list((Path(content.location.path) / "leases").iterdir())
    assert set(local_store.gc(grace=0).removed) == orphans


@pytest.mark.parametrize("why", ["dead owner", "expired", "not a lease"])
def test_leases_of_dead_writers_are_ignored_and_removed(
    local_store: ociport.ImageStore, archive: Path, why: str
) -> None:
    content, orphans = _store_with_orphans(local_store, archive)
    now = time.time()
    owner = owner_token(_dead_pid()) if why == "dead owner" else owner_token()
    expires = now - 3 * HOUR if why == "expired" else now + HOUR
    record = LeaseRecord("abandoned", "import", owner, now, expires, frozenset(orphans))
    raw = record.to_json() if why != "not a lease" else b'{"half": '
    leases = Path(content.location.path) / "leases"
    leases.mkdir(exist_ok=True)
    (leases / "abandoned.json").write_bytes(raw)
    if why == "not a lease":  # a torn object is trusted for the grace period
        assert local_store.gc(grace=HOUR).leases_removed == 0
        then = now - 2 * HOUR
        os.utime(leases / "abandoned.json", (then, then))
    result = local_store.gc(grace=0)
    assert set(result.removed) == orphans and result.kept_leased == 0
    assert result.leases_removed == 1
    assert not (leases / "abandoned.json").exists()


def test_ingest_files_of_dead_processes_go_without_grace(
    local_store: ociport.ImageStore, pm: pluggy.PluginManager
) -> None:
    ingest = Path(local_store.content.location.path) / "ingest"
    ingest.mkdir(exist_ok=True)
    dead = ingest / f"{'a' * 32}.{owner_token(_dead_pid())}.0"
    live = ingest / f"{'b' * 32}.{owner_token()}.0"
    foreign = ingest / f"{'c' * 32}.0000zzzz-1.0"  # another machine: grace applies
    for path in (dead, live, foreign):
        path.write_bytes(b"half a layer")
    assert local_store.gc().ingests_removed == 1
    assert not dead.exists() and live.exists() and foreign.exists()
    # The next writer of a store clears them too, without a gc.
    dead.write_bytes(b"half a layer")
    fresh = ociport.open_store(local_store.content.location.path, pm=pm)
    random_image(fresh.content, seed=3)
    assert not dead.exists() and live.exists() and foreign.exists()


# -- a failed import leaves nothing behind ---------------------------------------------


class _FailAfter:
    """A plugin whose ``ociport_blob_committed`` fails at the ``n``-th commit."""

    def __init__(self, n: int) -> None:
        self.n = n

    @ociport.hookimpl
    def ociport_blob_committed(self, store: object, info: object) -> None:
        self.n -= 1
        if self.n == 0:
            raise ociport.ContentError("the disk is full")


@pytest.fixture
def snapshot_of() -> Callable[[ociport.ImageStore], dict[str, bytes]]:
    def snapshot(store: ociport.ImageStore) -> dict[str, bytes]:
        root = Path(store.content.location.path)
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "index.json.lock"
        }

    return snapshot


@pytest.mark.parametrize("fail_at", [1, 3])
def test_failure_during_commit_removes_what_the_import_committed(
    local_store: ociport.ImageStore,
    archive: Path,
    pm: pluggy.PluginManager,
    snapshot_of: Callable[[ociport.ImageStore], dict[str, bytes]],
    fail_at: int,
) -> None:
    before = snapshot_of(local_store)
    pm.register(_FailAfter(fail_at))
    with pytest.raises(ociport.ContentError, match="disk is full"):
        local_store.import_image(str(archive))
    assert snapshot_of(local_store) == before


def test_failure_writing_index_json_removes_the_new_blobs(
    local_store: ociport.ImageStore,
    archive: Path,
    snapshot_of: Callable[[ociport.ImageStore], dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    random_image(local_store.content, seed=4)  # an unnamed blob that must stay
    before = snapshot_of(local_store)

    def disk_full(change: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local_store.content, "update_index", disk_full)
    with pytest.raises(OSError, match="No space"):
        local_store.import_image(str(archive))
    assert snapshot_of(local_store) == before


def test_failure_keeps_blobs_another_import_holds(
    local_store: ociport.ImageStore,
    archive: Path,
    pm: pluggy.PluginManager,
) -> None:
    content = local_store.content
    assert isinstance(content, LeasingStore)
    graph_blobs = set()
    with content.leases.create("import") as other:
        source = ociport.open_store(str(archive.parent / "source"), pm=pm)
        graph_blobs = {info.digest for info in source.content.walk()}
        other.hold(graph_blobs)  # another import relies on them
        pm.register(_FailAfter(len(graph_blobs)))
        with pytest.raises(ociport.ContentError):
            local_store.import_image(str(archive))
        assert {info.digest for info in content.walk()} == graph_blobs
