"""The docker-archive driver on the driver contract: the shared conformance suite (in its
digest-rebuilding mode), and the choices the engine makes for every format reaching
this one too (platforms, ref names, commit hooks)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pluggy
import pytest
from docker_helpers import store_state
from ociport_docker_archive.driver import DockerArchiveDriver
from ociport_docker_archive.reader import METADATA_BUDGET

import ociport
from ociport.content.helpers import read_blob
from ociport.oci.manifest import Index, Manifest
from ociport.testing import ImageDriverSuite
from ociport.testing.conformance import Target, new_targets
from ociport.testing.factories import name_image, random_image

MULTI = "example.com/contract/multi:1.0"
SINGLE = "example.com/contract/single:1.0"


class TestDockerArchiveDriverSuite(ImageDriverSuite):
    @pytest.fixture
    def driver_cls(self) -> type[DockerArchiveDriver]:
        return DockerArchiveDriver

    @pytest.fixture(params=["path", "stream"])
    def target_factory(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Callable[[], Target]:
        return new_targets(request.param, tmp_path, ".tar")


@pytest.fixture
def multi(store: ociport.ImageStore) -> ociport.ImageStore:
    """A store holding a two-platform image and a single-platform one."""
    root = random_image(
        store.content, seed=21, platforms=["linux/amd64", "linux/arm64"]
    )
    name_image(store.content, MULTI, root)
    name_image(store.content, SINGLE, random_image(store.content, seed=22))
    return store


def _config_of(store: ociport.ImageStore, name: str, arch: str) -> str:
    index = Index.parse(read_blob(store.content, store.get(name).target))
    [child] = [
        c for c in index.manifests if c.platform and c.platform.architecture == arch
    ]
    return str(Manifest.parse(read_blob(store.content, child)).config.digest)


def _manifest_json(path: Path) -> list[dict[str, object]]:
    with tarfile.open(path) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_export_honours_the_platform(
    multi: ociport.ImageStore, tmp_path: Path, arch: str
) -> None:
    out = tmp_path / "out.tar"
    multi.export_images(
        [MULTI], str(out), format="docker-archive", platforms=[f"linux/{arch}"]
    )
    [entry] = _manifest_json(out)
    assert entry["Config"] == f"{_config_of(multi, MULTI, arch).split(':')[1]}.json"


def test_all_platforms_is_one_clear_error(
    multi: ociport.ImageStore, tmp_path: Path
) -> None:
    out = tmp_path / "out.tar"
    with pytest.raises(ociport.FormatError, match="pass one --platform"):
        multi.export_images(
            [MULTI], str(out), format="docker-archive", all_platforms=True
        )
    assert not out.exists()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ociport",
            "--store",
            str(multi.content.location.path),
            "export",
            "--format",
            "docker-archive",
            "--all-platforms",
            str(out),
            MULTI,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "linux/amd64, linux/arm64" in line and "--platform" in line
    assert not out.exists()


def test_unknown_ref_name_is_an_error_listing_the_names(
    multi: ociport.ImageStore, tmp_path: Path, docker_pm: pluggy.PluginManager
) -> None:
    out = tmp_path / "out.tar"
    multi.export_images([SINGLE], str(out), format="docker-archive")
    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=docker_pm)
    before = store_state(fresh)
    with pytest.raises(ociport.RefNameNotFoundError) as caught:
        fresh.import_image(str(out), ref_name="example.com/contract/nope:1")
    assert list(caught.value.available) == [SINGLE]
    assert store_state(fresh) == before
    [image] = fresh.import_image(str(out), ref_name=SINGLE).images
    assert image.name == SINGLE


class _Recorder:
    def __init__(self) -> None:
        self.committed: list[ociport.Digest] = []

    @ociport.hookimpl
    def ociport_blob_committed(self, info: ociport.BlobInfo) -> None:
        self.committed.append(info.digest)


def test_blob_committed_fires_for_every_blob_including_the_built_manifest(
    multi: ociport.ImageStore, tmp_path: Path, docker_pm: pluggy.PluginManager
) -> None:
    out = tmp_path / "out.tar"
    multi.export_images([SINGLE], str(out), format="docker-archive")
    recorder = _Recorder()
    docker_pm.register(recorder, name="recorder")
    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=docker_pm)
    result = fresh.import_image(str(out))
    stored = sorted(info.digest for info in fresh.content.walk())
    assert sorted(recorder.committed) == stored
    assert result.images[0].target.digest in recorder.committed
    assert result.blobs_committed == len(stored)
    fresh.import_image(str(out))
    assert len(recorder.committed) == len(stored)  # nothing new, nothing reported


def test_metadata_files_have_a_budget(store: ociport.ImageStore) -> None:
    """Many large ``<id>/json`` members (a legacy archive's layer metadata) are refused
    once they would hold more than the budget in memory."""
    out = io.BytesIO()
    doc = b'{"id": "' + b"x" * (3 << 20) + b'"}'
    with tarfile.open(fileobj=out, mode="w") as tar:
        for i in range(METADATA_BUDGET // len(doc) + 2):
            info = tarfile.TarInfo(f"{i:064x}/json")
            info.size = len(doc)
            tar.addfile(info, io.BytesIO(doc))
    before = store_state(store)
    with pytest.raises(ociport.FormatError, match="metadata files of more than"):
        store.import_image(io.BytesIO(out.getvalue()), format="docker-archive")
    assert store_state(store) == before
