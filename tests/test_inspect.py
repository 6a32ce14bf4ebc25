"""Inspecting sources without importing: archives, layouts, streams; metadata only."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pluggy
import pytest

import ociport
from helpers import PUBLIC, TOOL
from ociport.builtin import oci_layout
from ociport.streams.ranged import RangeReader


@pytest.fixture
def layout_pm(pm: pluggy.PluginManager) -> pluggy.PluginManager:
    pm.register(oci_layout, name="oci")
    return pm


def test_archive_lists_platforms_and_sizes(layout_pm: pluggy.PluginManager) -> None:
    records = ociport.inspect_source(
        str(TOOL / "multiarch.oci-archive.tar"), pm=layout_pm
    )
    assert [r["names"] for r in records] == [["multi"]]
    platforms = sorted(m["platform"] for m in records[0]["manifests"])
    assert platforms == ["linux/amd64", "linux/arm64"]
    assert all(m["size"] > 19550 for m in records[0]["manifests"])
    assert records[0]["missing"] == []


def test_seekable_archive_reads_only_metadata(
    layout_pm: pluggy.PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = TOOL / "multiarch.oci-archive.tar"
    read: list[int] = []
    original = RangeReader.read_at

    def counting(self: RangeReader, offset: int, n: int) -> bytes:
        data = original(self, offset, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(RangeReader, "read_at", counting)
    ociport.inspect_source(str(path), pm=layout_pm)
    with tarfile.open(path) as tar:
        layer_bytes = sum(m.size for m in tar.getmembers() if m.size > 10_000)
    assert layer_bytes > 0
    assert sum(read) < path.stat().st_size - layer_bytes


@pytest.mark.corpus
def test_partial_index_reports_missing(layout_pm: pluggy.PluginManager) -> None:
    (record,) = ociport.inspect_source(
        str(PUBLIC / "oras-go" / "hello-world.tar"), pm=layout_pm
    )
    assert len(record["manifests"]) == 1
    assert len(record["missing"]) == 10
    assert {m["referencedBy"] for m in record["missing"]} == {
        record["descriptor"]["digest"]
    }


@pytest.mark.corpus
def test_stream_and_file_agree(layout_pm: pluggy.PluginManager) -> None:
    path = PUBLIC / "podman" / "oci-registry-name.tar.gz"
    from_file = ociport.inspect_source(str(path), pm=layout_pm)
    with open(path, "rb") as stream:
        from_stream = ociport.inspect_source(stream, pm=layout_pm)
    assert from_file == from_stream
    assert from_file[0]["names"] == ["example.com/empty:latest"]


@pytest.mark.corpus
def test_layout_directory(layout_pm: pluggy.PluginManager) -> None:
    records = ociport.inspect_source(
        str(PUBLIC / "regclient" / "testrepo"), pm=layout_pm
    )
    index = json.loads((PUBLIC / "regclient" / "testrepo" / "index.json").read_text())
    assert [r["descriptor"]["digest"] for r in records] == [
        m["digest"] for m in index["manifests"]
    ]
    b1 = next(r for r in records if "b1" in r["names"])
    assert sorted(m["platform"] for m in b1["manifests"]) == [
        "linux/amd64",
        "linux/arm/v6",
        "linux/arm/v7",
        "linux/arm64",
    ]


def test_inspect_changes_nothing_and_stores_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ociport",
            "--store",
            str(store),
            "inspect",
            "--json",
            str(TOOL / "sample.oci-archive.tar"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)[0]["names"] == ["1.0"]
    assert not store.exists()


def test_bad_source_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        data = b"not json"
        info = tarfile.TarInfo("index.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        layout = b'{"imageLayoutVersion":"1.0.0"}'
        info = tarfile.TarInfo("oci-layout")
        info.size = len(layout)
        tar.addfile(info, io.BytesIO(layout))
    run = subprocess.run(
        [sys.executable, "-m", "ociport", "inspect", str(bad)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert run.stderr.startswith("ociport: error: ")
    assert len(run.stderr.splitlines()) == 1
