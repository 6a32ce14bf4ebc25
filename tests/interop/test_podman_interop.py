"""``podman save`` (every format) -> ``ociport import`` -> ``ociport export`` ->
``podman load``, on a private vfs storage (Debian's podman 4.3).

After the load, into a storage without images, Podman must hold exactly the saved images:
same IDs, same names, same ``RootFS.Layers``, config and every other field
``podman image inspect`` shows but the local ones (``LOCAL_FIELDS``), and the files read
through ``podman image mount`` (Podman cannot run containers here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_engines import (
    PLATFORMS,
    PODMAN_FORMATS,
    Built,
    Podman,
    assemble_index,
    comparable,
    ociport_cli,
    ociport_round_trip,
)

pytestmark = pytest.mark.interop

EXPORT_FORMATS = ["oci-archive", "docker-archive"]
MULTI = "localhost/ociport-test/multi:1"


def check_loaded(
    podman: Podman,
    built: Built,
    case: str,
    expected: dict[str, list[str]],
    *,
    same_manifest: bool,
) -> None:
    """Podman holds exactly ``expected`` (image ID -> names), each image as built; with
    ``same_manifest``, also as Podman loaded it from its own archive of ``case``."""
    assert podman.image_ids() == set(expected)
    for image_id, names in expected.items():
        info = podman.inspect(image_id)
        assert sorted(info["RepoTags"]) == sorted(names)
        assert comparable(info, manifest=False) == comparable(
            built.inspect[image_id], manifest=False
        )
        if same_manifest:
            assert comparable(info) == comparable(built.reloaded[case][image_id])
        for path, data in built.files.get(image_id, {}).items():
            assert podman.read_file(image_id, path) == data


def same_family(case: str, export_format: str) -> bool:
    """Whether ``podman save`` of ``case`` and ociport's export are both OCI or both
    Docker archives (an OCI manifest then travels unchanged, and Podman builds the same
    manifest for the same Docker archive contents)."""
    docker = case in ("docker-archive", "multi-image", "platforms")
    return docker == (export_format == "docker-archive")


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
@pytest.mark.parametrize("case", PODMAN_FORMATS)
def test_podman_save_round_trip(
    podman: Podman,
    podman_images: Built,
    case: str,
    export_format: str,
    tmp_path: Path,
) -> None:
    saved = podman_images.saves[case]
    exported = ociport_round_trip(saved.path, tmp_path, export_format)
    podman.remove_all_images()
    podman.load(exported)
    check_loaded(
        podman,
        podman_images,
        case,
        saved.expected,
        same_manifest=same_family(case, export_format),
    )


@pytest.fixture(scope="module")
def multi_platform_store(
    podman_images: Built, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A store where ``MULTI`` is an index of the amd64 and arm64 images Podman built."""
    store = tmp_path_factory.mktemp("podman-multi") / "store"
    ociport_cli("--store", store, "import", podman_images.saves["platforms"].path)
    members = {
        p: f"localhost/ociport-test/platform:{p.split('/')[1]}" for p in PLATFORMS
    }
    assemble_index(store, MULTI, members)
    return store


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_podman_loads_one_platform(
    podman: Podman,
    podman_images: Built,
    multi_platform_store: Path,
    platform: str,
    export_format: str,
    tmp_path: Path,
) -> None:
    out = tmp_path / "multi.tar"
    ociport_cli(
        "--store",
        multi_platform_store,
        "export",
        "--format",
        export_format,
        "--platform",
        platform,
        out,
        MULTI,
    )
    podman.remove_all_images()
    podman.load(out)
    image_id = podman_images.ids[platform]
    check_loaded(
        podman,
        podman_images,
        "platforms",
        {image_id: [MULTI]},
        same_manifest=same_family("platforms", export_format),
    )
    assert podman.inspect(image_id)["Architecture"] == platform.split("/")[1]
