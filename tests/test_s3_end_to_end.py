"""ociport against real S3 servers (moto and Ceph RGW on 127.0.0.1): the CLI in a
subprocess importing from S3 into an S3 store, exporting a layout to S3, storage options
from flags, the environment and the Python API; the S3 store, once downloaded, read by
skopeo. Bytes read by a random-access import and unsigned reads are counted by moto's
request log, so those two tests run on moto only."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ociport
from helpers import TOOL, need_tool
from ociport.content.helpers import write_blob
from ociport.engine.naming import ImportNaming
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index
from ociport.testing.factories import name_image, random_image
from s3server import S3Server, S3Service

pytestmark = pytest.mark.s3

MULTIARCH = TOOL / "multiarch.oci-archive.tar"
BASE = "example.com/fixture"


def _run(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m ociport ARGS`` with the test's environment (fake AWS credentials)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    result = subprocess.run(
        [sys.executable, "-m", "ociport", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def _archive_blobs(path: Path) -> dict[str, bytes]:
    """``{digest: bytes}`` of every blob member of an OCI archive on disk."""
    with tarfile.open(path) as tar:
        return {
            "sha256:" + m.name.rsplit("/", 1)[-1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile() and m.name.startswith("blobs/sha256/")
        }


def _needed(blobs: dict[str, bytes], root: str, arch: str) -> set[str]:
    """The digests one platform of a multi-platform root needs: index, manifest, config,
    layers."""
    index = json.loads(blobs[root])
    [child] = [m for m in index["manifests"] if m["platform"]["architecture"] == arch]
    manifest = json.loads(blobs[child["digest"]])
    return {root, child["digest"], manifest["config"]["digest"]} | {
        layer["digest"] for layer in manifest["layers"]
    }


def _store_digests(fs: Any, root: str) -> set[str]:
    return {"sha256:" + p.rsplit("/", 1)[-1] for p in fs.find(f"{root}/blobs/sha256")}


@dataclass
class Imported:
    """What the module's CLI import from S3 into an S3 store produced."""

    endpoint: str
    bucket: str
    fs: Any
    name: str
    digest: str


@pytest.fixture(scope="module")
def imported(s3_service: S3Service) -> Iterator[Imported]:
    """``ociport --store s3://B/store import s3://B/multiarch.tar`` (arm64 only)."""
    import s3fs

    endpoint = s3_service.endpoint
    fs = s3fs.S3FileSystem(endpoint_url=endpoint)
    bucket = f"ociport-e2e-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    fs.put_file(str(MULTIARCH), f"{bucket}/multiarch.tar")
    result = _run(
        "--store",
        f"s3://{bucket}/store",
        "--storage-option",
        f"endpoint_url={endpoint}",
        "import",
        f"s3://{bucket}/multiarch.tar",
        "--source-option",
        f"endpoint_url={endpoint}",
        "--platform",
        "linux/arm64",
        "--base-name",
        BASE,
    )
    name, digest = result.stdout.strip().split("\t")
    yield Imported(endpoint, bucket, fs, name, digest)


def test_cli_import_from_s3_into_s3_store(imported: Imported) -> None:
    """The S3 store holds the name and exactly the arm64 image's blobs; no ingest
    object, lock or unfinished upload is left behind."""
    fs, bucket = imported.fs, imported.bucket
    assert imported.name == f"{BASE}:multi"
    index = json.loads(fs.cat_file(f"{bucket}/store/index.json"))
    assert [
        (m["annotations"]["org.opencontainers.image.ref.name"], m["digest"])
        for m in index["manifests"]
    ] == [(imported.name, imported.digest)]
    blobs = _archive_blobs(MULTIARCH)
    assert _store_digests(fs, f"{bucket}/store") == _needed(
        blobs, imported.digest, "arm64"
    )
    keys = {p[len(bucket) + 1 :] for p in fs.find(f"{bucket}/store")}
    assert {k for k in keys if not k.startswith("store/blobs/")} == {
        "store/index.json",
        "store/oci-layout",
    }
    assert fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []) == []


def test_cli_export_layout_to_s3(imported: Imported) -> None:
    """``ociport export s3://B/out/ NAME --format oci`` writes an OCI layout in S3."""
    fs, bucket, endpoint = imported.fs, imported.bucket, imported.endpoint
    _run(
        "--store",
        f"s3://{bucket}/store",
        "--storage-option",
        f"endpoint_url={endpoint}",
        "export",
        f"s3://{bucket}/out/",
        imported.name,
        "--format",
        "oci",
        "--dest-option",
        f"endpoint_url={endpoint}",
    )
    assert json.loads(fs.cat_file(f"{bucket}/out/oci-layout")) == {
        "imageLayoutVersion": "1.0.0"
    }
    entries = Index.parse(
        fs.cat_file(f"{bucket}/out/index.json"), where="out"
    ).manifests
    assert [(e.ref_name, str(e.digest)) for e in entries] == [
        (imported.name, imported.digest)
    ]
    for digest in _store_digests(fs, f"{bucket}/out"):
        data = fs.cat_file(f"{bucket}/out/blobs/sha256/{digest[7:]}")
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    assert _store_digests(fs, f"{bucket}/out") == _store_digests(fs, f"{bucket}/store")


def _download(imported: Imported, prefix: str, local: Path) -> Path:
    """Copy ``s3://B/PREFIX`` to ``local``, as ``aws s3 sync`` would."""
    imported.fs.get(f"{imported.bucket}/{prefix}", str(local), recursive=True)
    return local


def test_downloaded_store_is_a_layout_ociport_reads(
    imported: Imported, tmp_path: Path
) -> None:
    local = _download(imported, "store", tmp_path / "copy")
    store = ociport.open_store(str(local))
    assert [(i.name, str(i.target.digest)) for i in store.images()] == [
        (imported.name, imported.digest)
    ]
    assert store.verify() == []


@pytest.mark.tools
def test_downloaded_store_and_export_are_read_by_skopeo(
    imported: Imported, tmp_path: Path
) -> None:
    skopeo = need_tool("skopeo")
    test_cli_export_layout_to_s3(imported)
    for prefix in ("store", "out"):
        local = _download(imported, prefix, tmp_path / prefix)
        reference = f"oci:{local}:{imported.name}"
        raw = subprocess.run(
            [skopeo, "inspect", "--raw", reference], check=True, capture_output=True
        ).stdout
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == imported.digest
        shown = json.loads(
            subprocess.run(
                [
                    skopeo,
                    "--override-os",
                    "linux",
                    "--override-arch",
                    "arm64",
                    "inspect",
                    reference,
                ],
                check=True,
                capture_output=True,
            ).stdout
        )
        blobs = _archive_blobs(MULTIARCH)
        needed = _needed(blobs, imported.digest, "arm64")
        assert shown["Architecture"] == "arm64"
        assert set(shown["Layers"]) <= needed


def _big_archive(tmp_path: Path) -> tuple[Path, str]:
    """A two-platform archive: linux/amd64 with one 8 MiB layer, linux/arm64 small."""
    store = ociport.open_store(str(tmp_path / "build"))
    big = random_image(
        store.content, layers=1, layer_size=8 << 20, seed=1, platforms=["linux/amd64"]
    )
    small = random_image(
        store.content, layers=2, layer_size=4096, seed=2, platforms=["linux/arm64"]
    )
    children = [
        d
        for root in (big, small)
        for d in Index.parse(
            store.content.open_blob(root).read(), where="build"
        ).manifests
    ]
    index = Index.build(children)
    root = Descriptor(mt.OCI_IMAGE_INDEX, Digest.of(index.raw), len(index.raw))
    write_blob(store.content, io.BytesIO(index.raw), root)
    name_image(store.content, "example.com/big:1", root)
    path = tmp_path / "big.tar"
    store.export_images(["example.com/big:1"], str(path))
    return path, str(root.digest)


def test_random_access_import_reads_only_needed_bytes(
    s3_server: S3Server, moto_bucket: str, tmp_path: Path
) -> None:
    """Importing the small platform of an archive in S3 downloads the tar headers, the
    documents and the needed blobs (measured at the server: moto only), not the 8 MiB
    layer."""
    s3_bucket, s3_endpoint = moto_bucket, s3_server.endpoint
    path, root = _big_archive(tmp_path)
    import s3fs

    s3fs.S3FileSystem(endpoint_url=s3_endpoint).put_file(
        str(path), f"{s3_bucket}/big.tar"
    )
    mark = s3_server.mark()
    _run(
        "--store",
        str(tmp_path / "store"),
        "import",
        f"s3://{s3_bucket}/big.tar",
        "--source-option",
        f"endpoint_url={s3_endpoint}",
        "--platform",
        "linux/arm64",
    )
    gets = [
        r
        for r in s3_server.since(mark)
        if r.method == "GET" and r.path == f"/{s3_bucket}/big.tar"
    ]
    served = sum(r.sent for r in gets)
    blobs = _archive_blobs(path)
    needed = sum(len(blobs[d]) for d in _needed(blobs, root, "arm64"))
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        layout = sum(m.size for m in members if m.name in ("index.json", "oci-layout"))
    sniff = 64 << 10  # the format detection's one ranged read of the head
    allowance = 1024 * len(members)  # a header block (and slack) per member
    archive_size = path.stat().st_size
    print(
        f"\narchive {archive_size} B, {len(members)} members; needed blobs {needed} B, "
        f"index.json+oci-layout {layout} B; served {served} B in {len(gets)} GETs"
    )
    assert needed + layout <= served <= needed + layout + sniff + 8 + allowance
    assert served < archive_size // 20
    store = ociport.open_store(str(tmp_path / "store"))
    assert {str(i.digest) for i in store.content.walk()} == _needed(
        blobs, root, "arm64"
    )


def test_api_with_storage_options(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    """open_store, import_image and export_images with ``storage_options``."""
    options = {"endpoint_url": s3_endpoint}
    store = ociport.open_store(f"s3://{s3_bucket}/api-store", storage_options=options)
    result = store.import_image(
        str(MULTIARCH), platforms=["linux/amd64"], naming=ImportNaming(BASE)
    )
    [image] = result.images
    store.export_images(
        [image.name], f"s3://{s3_bucket}/api.tar", storage_options=options
    )
    local = ociport.open_store(str(tmp_path / "local"))
    again = local.import_image(
        f"s3://{s3_bucket}/api.tar", storage_options=options, platforms=["linux/amd64"]
    )
    assert [(i.name, i.target.digest) for i in again.images] == [
        (image.name, image.target.digest)
    ]
    assert {i.digest for i in local.content.walk()} == {
        i.digest for i in store.content.walk()
    }
    reopened = ociport.open_store(
        f"s3://{s3_bucket}/api-store", storage_options=options
    )
    assert [i.name for i in reopened.images()] == [image.name]


def test_endpoint_and_credentials_from_the_environment(
    s3_endpoint: str, s3_bucket: str
) -> None:
    """No storage option at all: botocore takes ``AWS_ENDPOINT_URL`` and the keys from
    the environment."""
    import s3fs

    s3fs.S3FileSystem(endpoint_url=s3_endpoint).put_file(
        str(MULTIARCH), f"{s3_bucket}/m.tar"
    )
    env = {"AWS_ENDPOINT_URL": s3_endpoint}
    store = f"s3://{s3_bucket}/env-store"
    _run(
        "--store",
        store,
        "import",
        f"s3://{s3_bucket}/m.tar",
        "--platform",
        "linux/amd64",
        "--base-name",
        BASE,
        env=env,
    )
    listed = _run("--store", store, "images", "ls", "-q", env=env).stdout.split()
    assert listed == [f"{BASE}:multi"]


def test_anonymous_read_of_a_public_bucket(
    s3_server: S3Server, moto_bucket: str, tmp_path: Path
) -> None:
    """``--source-option anon=true`` reads a public object without signing requests
    (and moto refuses the same unsigned reads of a private object; the request log
    that shows no request was signed is moto's)."""
    import s3fs

    s3_bucket, s3_endpoint = moto_bucket, s3_server.endpoint
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint)
    fs.put_file(str(MULTIARCH), f"{s3_bucket}/private.tar")
    fs.put_file(str(MULTIARCH), f"{s3_bucket}/public.tar")
    fs.chmod(f"{s3_bucket}/public.tar", acl="public-read")
    anonymous = s3fs.S3FileSystem(
        endpoint_url=s3_endpoint, anon=True, skip_instance_cache=True
    )
    with pytest.raises(PermissionError):
        anonymous.cat_file(f"{s3_bucket}/private.tar")
    mark = s3_server.mark()
    _run(
        "--store",
        str(tmp_path / "store"),
        "import",
        f"s3://{s3_bucket}/public.tar",
        "--source-option",
        f"endpoint_url={s3_endpoint}",
        "--source-option",
        "anon=true",
        "--platform",
        "linux/amd64",
        "--base-name",
        BASE,
    )
    reads = [r for r in s3_server.since(mark) if r.path == f"/{s3_bucket}/public.tar"]
    assert reads and not any(r.signed for r in reads)
