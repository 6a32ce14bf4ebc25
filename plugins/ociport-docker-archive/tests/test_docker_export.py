"""Exports for docker load: Docker archives and manifest.json in OCI archives, read back by
the real tools (skopeo; containerd where it is installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pluggy
import pytest
from docker_helpers import PUBLIC, ROUNDTRIP, TOOL

import ociport


def _skopeo() -> str:
    path = shutil.which("skopeo")
    if path is None:
        pytest.skip("skopeo is not installed")
    return path


def _members(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def _json_member(path: Path, name: str) -> object:
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile(name))  # type: ignore[arg-type]


@pytest.fixture
def filled(store: ociport.ImageStore) -> ociport.ImageStore:
    store.import_image(str(TOOL / "sample.docker-archive.tar"))
    store.import_image(str(PUBLIC / "trivy" / "alpine-310.tar.gz"))
    store.import_image(
        str(TOOL / "multiarch.oci-archive.tar"),
        naming=ociport.ImportNaming("example.com/multi"),
    )
    return store


@pytest.mark.corpus
def test_docker_archive_is_read_by_skopeo(
    filled: ociport.ImageStore, tmp_path: Path
) -> None:
    skopeo = _skopeo()
    out = tmp_path / "out.tar"
    names = ["example.com/fixtures/sample:1.0", "docker.io/library/alpine:3.10"]
    filled.export_images(names, str(out), format="docker-archive")
    manifest = _json_member(out, "manifest.json")
    assert [e["RepoTags"] for e in manifest] == [
        ["example.com/fixtures/sample:1.0"],
        ["alpine:3.10"],
    ]  # type: ignore[index,union-attr]
    for name, ref in (
        ("example.com/fixtures/sample:1.0", "example.com/fixtures/sample:1.0"),
        ("alpine", "alpine:3.10"),
    ):
        raw = subprocess.run(
            [skopeo, "inspect", "--config", "--raw", f"docker-archive:{out}:{ref}"],
            check=True,
            capture_output=True,
        ).stdout
        image = filled.get(name if ":" in name else "docker.io/library/alpine:3.10")
        config = filled.inspect(image.name)["manifests"][0]["config"]
        assert ociport.Digest.of(raw) == ociport.Digest.parse(config["digest"])
    dest = tmp_path / "copied"
    subprocess.run(
        [skopeo, "copy", f"docker-archive:{out}:alpine:3.10", f"oci:{dest}:alpine"],
        check=True,
        capture_output=True,
    )
    reimported = ociport.open_store(str(tmp_path / "s2"), pm=filled.pm)
    result = reimported.import_image(str(out))
    assert sorted(i.name for i in result.images) == sorted(names)
    assert {str(i.target.digest) for i in result.images} == {
        str(filled.get(n).target.digest) for n in names
    }


@pytest.mark.corpus
def test_docker_archive_export_is_deterministic(
    filled: ociport.ImageStore, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    for out in (a, b):
        filled.export_images(
            ["docker.io/library/alpine:3.10"], str(out), format="docker-archive"
        )
    assert a.read_bytes() == b.read_bytes()
    assert _members(a)[:2] == ["manifest.json", "repositories"]


@pytest.mark.corpus
def test_oci_archive_gets_manifest_json(
    filled: ociport.ImageStore, tmp_path: Path
) -> None:
    skopeo = _skopeo()
    out = tmp_path / "oci.tar"
    # skopeo's oci transports find only OCI media types by ref name, so the image
    # exported here is the OCI-manifest one of the multi-platform fixture.
    filled.export_images(
        ["example.com/multi:multi"], str(out), platforms=["linux/arm64"]
    )
    assert _members(out)[:3] == ["oci-layout", "index.json", "manifest.json"]
    docker_view = json.loads(
        subprocess.run(
            [skopeo, "inspect", "--config", "--raw", f"docker-archive:{out}"],
            check=True,
            capture_output=True,
        ).stdout
    )
    assert docker_view["architecture"] == "arm64"
    index = json.loads(
        subprocess.run(
            [skopeo, "inspect", "--raw", f"oci-archive:{out}:example.com/multi:multi"],
            check=True,
            capture_output=True,
        ).stdout
    )
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["arm64"]
    plain = tmp_path / "plain.tar"
    filled.export_images(
        ["example.com/fixtures/sample:1.0"], str(plain), extra_members=False
    )
    assert "manifest.json" not in _members(plain)


@pytest.mark.corpus
def test_manifest_json_follows_platform_choice(
    filled: ociport.ImageStore, tmp_path: Path
) -> None:
    name = "example.com/multi:multi"
    index = json.loads(
        ociport.content.helpers.read_blob(filled.content, filled.get(name).target)
    )  # type: ignore[attr-defined]
    by_arch = {m["platform"]["architecture"]: m["digest"] for m in index["manifests"]}
    for arch in ("amd64", "arm64"):
        out = tmp_path / f"{arch}.tar"
        filled.export_images([name], str(out), platforms=[f"linux/{arch}"])
        entry = _json_member(out, "manifest.json")[0]  # type: ignore[index]
        child = json.loads(
            _tar_read(out, f"blobs/sha256/{by_arch[arch].split(':')[1]}")
        )
        assert (
            entry["Config"] == f"blobs/sha256/{child['config']['digest'].split(':')[1]}"
        )


def _tar_read(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


def test_without_the_plugin_core_still_works(
    core_pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    store = ociport.open_store(str(tmp_path / "s"), pm=core_pm)
    store.import_image(str(TOOL / "sample.oci-archive.tar"))
    name = store.images()[0].name
    out = tmp_path / "o.tar"
    store.export_images([name], str(out))
    assert "manifest.json" not in _members(out)
    with pytest.raises(ociport.UnknownDriverError):
        store.export_images([name], str(tmp_path / "d.tar"), format="docker-archive")


@pytest.mark.corpus
@pytest.mark.skipif(os.geteuid() != 0, reason="containerd needs root")
def test_containerd_imports_our_archives(
    filled: ociport.ImageStore, tmp_path: Path
) -> None:
    if not (shutil.which("containerd") and shutil.which("ctr")):
        pytest.skip("containerd is not installed")
    ours = tmp_path / "ours.tar"
    filled.export_images(["example.com/fixtures/sample:1.0"], str(ours))
    docker = tmp_path / "docker.tar"
    filled.export_images(
        ["docker.io/library/alpine:3.10"], str(docker), format="docker-archive"
    )
    back = tmp_path / "back.tar"
    run = subprocess.run(
        [
            "bash",
            str(ROUNDTRIP),
            str(ours),
            str(docker),
            str(back),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "example.com/fixtures/sample:1.0" in run.stdout
    assert "docker.io/library/alpine:3.10" in run.stdout
    again = ociport.open_store(str(tmp_path / "again"), pm=filled.pm)
    result = again.import_image(str(back))
    digests = {i.name: i.target.digest for i in result.images}
    assert (
        digests["example.com/fixtures/sample:1.0"]
        == filled.get("example.com/fixtures/sample:1.0").target.digest
    )
    assert (
        digests["docker.io/library/alpine:3.10"]
        == filled.get("docker.io/library/alpine:3.10").target.digest
    )
