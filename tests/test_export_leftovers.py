"""Exports appear only when complete, and the leftovers of killed exports are cleaned up
by the next export to the same destination."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import pytest

import ociport
from helpers import ROOT
from ociport.content.fsstore import FsspecContentStore
from ociport.processes import HOST

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
NAME = "example.com/ociport/hello:1.0"


@pytest.fixture
def store(tmp_path: Path) -> ociport.ImageStore:
    made = ociport.open_store(str(tmp_path / "store"))
    made.import_image(str(HELLO))
    return made


def test_a_new_layout_appears_only_when_complete(
    store: ociport.ImageStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "layout"
    seen: list[bool] = []
    update_index = FsspecContentStore.update_index

    def watching(self: FsspecContentStore, change: Any) -> None:
        seen.append(target.exists())  # index.json is the last thing written
        update_index(self, change)

    monkeypatch.setattr(FsspecContentStore, "update_index", watching)
    store.export_images([NAME], str(target), format="oci")
    assert seen == [False]
    assert (target / "index.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _temp_dir(tmp_path: Path, host: str, pid: int) -> Path:
    path = tmp_path / f".layout.{host}-{pid}-{'0' * 32}.tmp"
    (path / "blobs").mkdir(parents=True)
    return path


def test_dead_builders_leftovers_are_removed(
    store: ociport.ImageStore, tmp_path: Path
) -> None:
    dead = _temp_dir(tmp_path, HOST, 2**31 - 2)
    alive = _temp_dir(tmp_path, HOST, os.getpid())
    elsewhere = _temp_dir(tmp_path, "0badc0de", 2**31 - 2)
    store.export_images([NAME], str(tmp_path / "layout"), format="oci")
    assert not dead.exists()
    assert alive.exists() and elsewhere.exists()  # a live export; another machine's


def test_stale_temporary_archives_are_removed(
    store: ociport.ImageStore, tmp_path: Path
) -> None:
    stale = tmp_path / ".out.tar.1111.tmp"
    stale.write_bytes(b"half an archive of a killed export")
    busy = tmp_path / ".out.tar.2222.tmp"
    busy.write_bytes(b"an export running now")
    with open(busy, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        store.export_images([NAME], str(tmp_path / "out.tar"))
        assert not stale.exists()
        assert busy.exists()
    assert (tmp_path / "out.tar").is_file()


def test_a_failed_layout_export_leaves_nothing(
    store: ociport.ImageStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(self: FsspecContentStore, change: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FsspecContentStore, "update_index", failing)
    with pytest.raises(OSError, match="No space left"):
        store.export_images([NAME], str(tmp_path / "layout"), format="oci")
    assert [p.name for p in tmp_path.iterdir()] == ["store"]
