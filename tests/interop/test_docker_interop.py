"""``docker save`` -> ``ociport import`` -> ``ociport export`` -> ``docker load``, on a
private dockerd (Debian's docker.io 20.10).

After the load, into a daemon without images, the daemon must hold exactly the saved
images: same IDs (config digests), same names, same ``RootFS.Layers``, config and every
other field ``docker image inspect`` shows but the local ones (``LOCAL_FIELDS``), and
``docker run --network none`` must print what the original image printed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from interop_engines import (
    PLATFORMS,
    Built,
    DockerDaemon,
    assemble_index,
    comparable,
    ociport_cli,
    ociport_round_trip,
)

import ociport
from ociport.oci.descriptor import Platform
from ociport.testing import name_image, random_image

pytestmark = pytest.mark.interop

EXPORT_FORMATS = ["oci-archive", "docker-archive"]
SAVE_CASES = ["one-image", "several-images", "several-tags", "by-id", "gzipped"]
MULTI = "example.com/ociport-test/multi:1"
SYNTHETIC = "example.com/ociport-test/synthetic:1"
ZSTD = "docker.io/ociport-test/a:zstd"


def check_loaded(
    docker: DockerDaemon, built: Built, expected: dict[str, list[str]]
) -> None:
    """The daemon holds exactly ``expected`` (image ID -> names), each image as built."""
    assert docker.image_ids() == set(expected)
    for image_id, names in expected.items():
        info = docker.inspect(image_id)
        assert sorted(info["RepoTags"]) == sorted(names)
        assert comparable(info) == comparable(built.inspect[image_id])
        output = docker.run_image(names[0] if names else image_id)
        assert output == built.output[image_id]


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
@pytest.mark.parametrize("case", SAVE_CASES)
def test_docker_save_round_trip(
    docker: DockerDaemon,
    docker_images: Built,
    case: str,
    export_format: str,
    tmp_path: Path,
) -> None:
    saved = docker_images.saves[case]
    exported = ociport_round_trip(saved.path, tmp_path, export_format)
    docker.remove_all_images()
    docker.load(exported)
    check_loaded(docker, docker_images, saved.expected)


@pytest.fixture(scope="module")
def multi_platform_store(
    docker_images: Built, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A store where ``MULTI`` is an index of the amd64 and the arm64 images Docker
    built (imported with ``--oci``; the configs, so the IDs, stay the same)."""
    store = tmp_path_factory.mktemp("docker-multi") / "store"
    ociport_cli(
        "--store", store, "import", "--oci", docker_images.saves["platforms"].path
    )
    members = {
        p: f"docker.io/ociport-test/platform:{p.split('/')[1]}" for p in PLATFORMS
    }
    assemble_index(store, MULTI, members)
    return store


def host_platform() -> str:
    host = Platform.host()
    platform = f"{host.os}/{host.architecture}"
    if platform not in PLATFORMS:
        pytest.skip(f"this machine ({platform}) is neither of {PLATFORMS}")
    return platform


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
@pytest.mark.parametrize("platform", [*PLATFORMS, None], ids=str)
def test_docker_loads_one_platform(
    docker: DockerDaemon,
    docker_images: Built,
    multi_platform_store: Path,
    platform: str | None,
    export_format: str,
    tmp_path: Path,
) -> None:
    """``ociport export --platform P`` of a two-platform image: Docker loads P's image
    (without ``--platform``, the one of this machine)."""
    expected_platform = platform or host_platform()
    options = ["--platform", platform] if platform else []
    out = tmp_path / "multi.tar"
    ociport_cli(
        "--store",
        multi_platform_store,
        "export",
        "--format",
        export_format,
        *options,
        out,
        MULTI,
    )
    docker.remove_all_images()
    docker.load(out)
    image_id = docker_images.ids[expected_platform]
    check_loaded(docker, docker_images, {image_id: [MULTI]})
    assert docker.inspect(image_id)["Architecture"] == expected_platform.split("/")[1]
    assert docker.run_image(MULTI) == f"{expected_platform}\n"


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding ``SYNTHETIC``: ``random_image`` for three platforms (data layers,
    no binary: Docker can load and describe it, not run it)."""
    path = tmp_path_factory.mktemp("docker-synthetic") / "store"
    store = ociport.open_store(str(path))
    platforms = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    name_image(
        store.content, SYNTHETIC, random_image(store.content, platforms=platforms)
    )
    return path


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
@pytest.mark.parametrize("platform", ["linux/arm/v7", "linux/arm64"])
def test_docker_loads_a_synthetic_platform(
    docker: DockerDaemon,
    synthetic_store: Path,
    platform: str,
    export_format: str,
    tmp_path: Path,
) -> None:
    """A platform with a variant (``linux/arm64`` matches ``linux/arm64/v8``)."""
    out = tmp_path / "synthetic.tar"
    ociport_cli(
        "--store",
        synthetic_store,
        "export",
        "--format",
        export_format,
        "--platform",
        platform,
        out,
        SYNTHETIC,
    )
    manifests = ociport_inspect(synthetic_store, SYNTHETIC)["manifests"]
    (manifest,) = [
        m
        for m in manifests
        if Platform.parse(platform).matches(Platform.parse(m["platform"]))
    ]
    wanted = Platform.parse(manifest["platform"])
    docker.remove_all_images()
    docker.load(out)
    image_id = manifest["config"]["digest"]
    assert docker.image_ids() == {image_id}
    info = docker.inspect(image_id)
    assert info["RepoTags"] == [SYNTHETIC]
    assert (info["Os"], info["Architecture"], info.get("Variant")) == (
        wanted.os,
        wanted.architecture,
        wanted.variant,
    )
    # Uncompressed layers: each diff ID is the layer's digest.
    assert info["RootFS"]["Layers"] == [d["digest"] for d in manifest["layers"]]


def ociport_inspect(store: Path, name: str) -> dict[str, Any]:
    return ociport.open_store(str(store)).inspect(name)


def test_docker_loads_an_image_converted_to_zstd(
    docker: DockerDaemon, docker_images: Built, tmp_path: Path
) -> None:
    """``ociport convert NAME NEW --compression zstd``, then ``export --format
    docker-archive``: Docker 20.10 reads no zstd layer ("invalid tar header"), so the
    archive holds them gzip-compressed (a note per layer) and ``docker load`` gives back
    the image as built (same ID, so the same diff IDs; same config; ``docker run``
    prints the same), from a file and from a pipe."""
    store = tmp_path / "store"
    ociport_cli("--store", store, "import", docker_images.saves["one-image"].path)
    ociport_cli(
        "--store",
        store,
        "convert",
        "docker.io/ociport-test/a:1",
        ZSTD,
        "--compression",
        "zstd",
    )
    converted = ociport_inspect(store, ZSTD)["manifests"][0]
    assert {layer["mediaType"] for layer in converted["layers"]} == {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    }
    out = tmp_path / "zstd.tar"
    exported = ociport_cli(
        "--store", store, "export", "--format", "docker-archive", out, ZSTD
    )
    assert exported.stderr.count("is zstd: written gzip-compressed") == len(
        converted["layers"]
    )
    expected = {docker_images.ids["a"]: ["ociport-test/a:zstd"]}
    docker.remove_all_images()
    docker.load(out)
    check_loaded(docker, docker_images, expected)

    # ociport export - NAME | docker load
    docker.remove_all_images()
    command = [sys.executable, "-m", "ociport", "--store", str(store), "export"]
    with subprocess.Popen(
        [*command, "--format", "docker-archive", "-", ZSTD], stdout=subprocess.PIPE
    ) as producer:
        loaded = subprocess.run(
            [str(docker.docker), "load"],
            stdin=producer.stdout,
            env=docker.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert (producer.returncode, loaded.returncode) == (0, 0), loaded.stderr
    check_loaded(docker, docker_images, expected)
