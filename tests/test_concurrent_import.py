"""Several processes importing into one store at once lose no name and no blob."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import ociport
from helpers import PUBLIC, TOOL

ARCHIVES = [
    TOOL / "sample.oci-archive.tar",
    TOOL / "multiarch.oci-archive.tar",
    PUBLIC / "podman" / "oci-registry-name.tar.gz",
    PUBLIC / "dive" / "test-oci-gzip-image.tar",
    PUBLIC / "oras-go" / "hello-world.tar",
    TOOL / "ctr" / "two-images.ctr.tar",
]


@pytest.mark.corpus
def test_parallel_cli_imports_keep_every_name(tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ociport",
                "--store",
                str(store_path),
                "import",
                "--base-name",
                f"example.com/p{n}",
                str(archive),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for round_ in range(2)
        for n, archive in enumerate(ARCHIVES, start=round_ * len(ARCHIVES))
    ]
    expected: set[str] = set()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        expected |= {line.split("\t")[0] for line in out.splitlines()}
    store = ociport.open_store(str(store_path))
    assert {image.name for image in store.images()} == expected
    # Tag-only ref names are named after each process's own base name: both rounds'
    # names must be there, whatever order the processes finished in.
    assert {
        "example.com/p0:1.0",
        "example.com/p6:1.0",
        "example.com/p1:multi",
        "example.com/p7:multi",
    } <= expected
    assert not store.verify()
    for image in store.images():
        assert store.inspect(image.name)["manifests"], image.name
    leftovers = (
        list((store_path / "ingest").glob("*"))
        if (store_path / "ingest").exists()
        else []
    )
    assert leftovers == []
