"""Eight ``ociport import`` processes into one S3 store at once, on moto and on Ceph RGW:
every process succeeds and every name is kept (the index.json lock object at work; RGW
answers a lost race with a 412 that names no condition)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import ociport
from helpers import TOOL

pytestmark = pytest.mark.s3

ARCHIVES = [TOOL / "sample.oci-archive.tar", TOOL / "multiarch.oci-archive.tar"]
PROCESSES = 8


def test_concurrent_cli_imports_into_one_s3_store(
    s3_endpoint: str, s3_bucket: str
) -> None:
    url = f"s3://{s3_bucket}/store"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ociport",
                "--store",
                url,
                "--storage-option",
                f"endpoint_url={s3_endpoint}",
                "import",
                "--base-name",
                f"example.com/p{n}",
                str(ARCHIVES[n % len(ARCHIVES)]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(PROCESSES)
    ]
    expected: set[str] = set()
    failures = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        if proc.returncode != 0:
            failures.append(err.strip())
        expected |= {line.split("\t")[0] for line in out.splitlines()}
    assert failures == []
    assert len(expected) >= PROCESSES  # each process named at least one image
    assert all(f"example.com/p{n}" in " ".join(expected) for n in range(PROCESSES))
    store = ociport.open_store(url, storage_options={"endpoint_url": s3_endpoint})
    assert {image.name for image in store.images()} == expected
    assert store.verify() == []
    fs, root = store.content.location.fs, store.content.location.path
    keys = {path[len(root) + 1 :] for path in fs.find(root)}
    assert {k for k in keys if not k.startswith("blobs/")} == {
        "index.json",
        "oci-layout",
    }
    uploads = fs.call_s3("list_multipart_uploads", Bucket=s3_bucket)
    assert uploads.get("Uploads", []) == []
