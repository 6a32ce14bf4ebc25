"""Garbage collection: reachability, grace period, dry run, and an import running meanwhile."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ociport
from ociport.content.helpers import write_blob
from ociport.oci.descriptor import ANNOTATION_REF_NAME
from ociport.oci.manifest import dump_json
from ociport.testing.factories import name_image, random_image

HOUR = 3600.0


def _age(store: ociport.ImageStore, seconds: float) -> None:
    """Make every blob of a local store ``seconds`` old."""
    blobs = Path(store.content.location.path) / "blobs" / "sha256"
    then = time.time() - seconds
    for blob in blobs.iterdir():
        os.utime(blob, (then, then))


def _orphan(store: ociport.ImageStore, data: bytes) -> ociport.Digest:
    desc = ociport.Descriptor(
        "application/octet-stream", ociport.Digest.of(data), len(data)
    )
    write_blob(store.content, io.BytesIO(data), desc)
    return desc.digest


def test_unreferenced_old_blobs_go_referenced_stay(
    local_store: ociport.ImageStore,
) -> None:
    root = random_image(
        local_store.content, seed=1, platforms=["linux/amd64", "linux/arm64"]
    )
    name_image(local_store.content, "example.com/keep:1", root)
    orphan = _orphan(local_store, b"nobody points at me")
    _age(local_store, 2 * HOUR)
    kept = {info.digest for info in local_store.content.walk()} - {orphan}
    dry = local_store.gc(dry_run=True)
    assert dry.removed == [orphan]
    assert orphan in {info.digest for info in local_store.content.walk()}
    result = local_store.gc()
    assert result.removed == [orphan]
    assert result.bytes_removed == len(b"nobody points at me")
    assert {info.digest for info in local_store.content.walk()} == kept
    assert not local_store.verify()


def test_young_unreferenced_blobs_are_spared(local_store: ociport.ImageStore) -> None:
    orphan = _orphan(local_store, b"an import in flight committed me")
    result = local_store.gc(grace=HOUR)
    assert result.removed == [] and result.kept_young == 1
    assert local_store.gc(grace=0).removed == [orphan]


def test_removing_a_name_frees_its_blobs(local_store: ociport.ImageStore) -> None:
    a = random_image(local_store.content, seed=2)
    b = random_image(local_store.content, seed=3)
    name_image(local_store.content, "example.com/a:1", a)
    name_image(local_store.content, "example.com/b:1", b)
    _age(local_store, 2 * HOUR)
    local_store.remove(["example.com/a:1"])
    removed = set(local_store.gc().removed)
    assert a.digest in removed and b.digest not in removed
    assert local_store.export_images(["example.com/b:1"], io.BytesIO()).missing == []


def test_subject_of_a_named_referrer_is_kept(local_store: ociport.ImageStore) -> None:
    subject = random_image(local_store.content, seed=4)
    empty = b"{}"
    config = ociport.Descriptor(
        "application/vnd.oci.empty.v1+json", ociport.Digest.of(empty), 2
    )
    write_blob(local_store.content, io.BytesIO(empty), config)
    raw = dump_json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/example.sbom",
            "config": config.to_json(),
            "layers": [],
            "subject": subject.to_json(),
        }
    )
    referrer = ociport.Descriptor(
        "application/vnd.oci.image.manifest.v1+json", ociport.Digest.of(raw), len(raw)
    )
    write_blob(local_store.content, io.BytesIO(raw), referrer)
    local_store.content.update_index(
        lambda entries: [
            *entries,
            referrer.with_annotations({ANNOTATION_REF_NAME: "example.com/sbom:1"}),
        ]
    )
    _age(local_store, 2 * HOUR)
    assert local_store.gc().removed == []


def test_gc_while_another_process_imports(
    local_store: ociport.ImageStore, tmp_path: Path
) -> None:
    source_store = ociport.open_store(str(tmp_path / "source"), pm=local_store.pm)
    root = random_image(source_store.content, layers=6, layer_size=4 << 20, seed=5)
    name_image(source_store.content, "example.com/big:1", root)
    archive = tmp_path / "big.tar"
    source_store.export_images(["example.com/big:1"], str(archive))
    store_path = local_store.content.location.path
    importer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ociport",
            "--store",
            store_path,
            "import",
            str(archive),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rounds = 0
    while importer.poll() is None or rounds == 0:
        local_store.gc()  # default grace: an hour
        rounds += 1
    out, err = importer.communicate()
    assert importer.returncode == 0, err
    assert "example.com/big:1" in out
    assert rounds > 1
    local_store.gc()
    assert local_store.get("example.com/big:1").target.digest == root.digest
    assert local_store.export_images(["example.com/big:1"], io.BytesIO()).missing == []
    assert not local_store.verify()


@pytest.mark.parametrize("grace", ["90", "30m", "1h", "2d"])
def test_cli_grace_durations(local_store: ociport.ImageStore, grace: str) -> None:
    _orphan(local_store, b"x")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ociport",
            "--store",
            local_store.content.location.path,
            "content",
            "gc",
            "--dry-run",
            "--grace",
            grace,
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "would remove 0 blob(s)" in run.stderr


def test_abandoned_ingest_files_are_removed(local_store: ociport.ImageStore) -> None:
    ingest = Path(local_store.content.location.path) / "ingest"
    ingest.mkdir(exist_ok=True)
    old, fresh = ingest / "dead-process.0.1", ingest / "live-process.0.2"
    old.write_bytes(b"half a layer")
    fresh.write_bytes(b"a layer being written")
    then = time.time() - 2 * HOUR
    os.utime(old, (then, then))
    assert local_store.gc(dry_run=True).ingests_removed == 1
    assert old.exists()
    assert local_store.gc().ingests_removed == 1
    assert not old.exists() and fresh.exists()


def test_corrupt_manifest_stops_collection(local_store: ociport.ImageStore) -> None:
    root = random_image(local_store.content, seed=7)
    name_image(local_store.content, "example.com/damaged:1", root)
    _age(local_store, 2 * HOUR)
    blob = (
        Path(local_store.content.location.path)
        / "blobs"
        / "sha256"
        / root.digest.encoded
    )
    data = bytearray(blob.read_bytes())
    data[-2] ^= 0x01
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    before = {info.digest for info in local_store.content.walk()}
    with pytest.raises(ociport.OciportError):
        local_store.gc()
    assert {info.digest for info in local_store.content.walk()} == before


def test_large_manifest_written_by_another_tool_is_followed(
    local_store: ociport.ImageStore,
) -> None:
    root = random_image(local_store.content, seed=8)
    raw = json_with_padding(local_store, root, 5 << 20)
    big = ociport.Descriptor(root.media_type, ociport.Digest.of(raw), len(raw))
    write_blob(local_store.content, io.BytesIO(raw), big)
    name_image(local_store.content, "example.com/big-manifest:1", big)
    _age(local_store, 2 * HOUR)
    assert local_store.gc().removed == [root.digest]  # only the original manifest


def json_with_padding(
    store: ociport.ImageStore, root: ociport.Descriptor, size: int
) -> bytes:
    """The manifest of ``root`` with an annotation making it ``size`` bytes or more."""
    import json

    from ociport.content.helpers import read_blob

    doc = json.loads(read_blob(store.content, root))
    doc["annotations"] = {"padding": "x" * size}
    return json.dumps(doc).encode()
