"""The oci driver (OCI image layout directories): suite, real layouts, selective reads."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import ociport
from helpers import PUBLIC, TOOL, need_tool, snapshot
from ociport.builtin import oci_layout
from ociport.drivers.oci_layout import LayoutReader, OciLayoutDriver
from ociport.oci.referrers import parse_link_tag
from ociport.testing import ImageDriverSuite
from ociport.testing.conformance import Target, new_targets


class TestOciLayoutDriverSuite(ImageDriverSuite):
    @pytest.fixture
    def driver_cls(self) -> type[OciLayoutDriver]:
        return OciLayoutDriver

    @pytest.fixture(params=["path", "memory"])
    def target_factory(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Callable[[], Target]:
        return new_targets(request.param, tmp_path)


@pytest.fixture
def layout_store(local_store: ociport.ImageStore) -> ociport.ImageStore:
    local_store.pm.register(oci_layout, name="oci")
    return local_store


def _copy_layout(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for path in dst.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dst


@pytest.mark.parametrize(
    "layout",
    [
        TOOL / "oci-umoci",
        TOOL / "oci-multiarch",
        TOOL / "oci-zstd",
        TOOL / "oci-uncompressed",
        PUBLIC / "regclient" / "testrepo",
        PUBLIC / "stereoscope" / "multiplatform_oci_dir",
        PUBLIC / "stereoscope" / "valid_oci_dir",
        PUBLIC / "notation-go" / "oci-layout",
        PUBLIC / "trivy" / "test.oci",
        PUBLIC / "trivy" / "test_image_tag.oci",
        PUBLIC / "ggcr" / "layout" / "test_index",
        PUBLIC / "ggcr" / "layout" / "test_index_one_image",
        PUBLIC / "ggcr" / "layout" / "test_index_media_type",
    ],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_real_layouts_import(layout_store: ociport.ImageStore, layout: Path) -> None:
    index = json.loads((layout / "index.json").read_text())
    result = layout_store.import_image(str(layout))
    imported = {str(i.target.digest) for i in result.images}
    names = [
        m.get("annotations", {}).get("org.opencontainers.image.ref.name")
        for m in index["manifests"]
    ]
    # Entries tagged sha256-<hex>.sig|.att|.sbom are referrers, and indexes tagged
    # sha256-<hex> list referrers: no images.
    named = [
        m
        for m, name in zip(index["manifests"], names, strict=True)
        if name and not _links_referrers(name, m["mediaType"])
    ]
    expected = {m["digest"] for m in (named or index["manifests"])}
    assert imported == expected
    assert not layout_store.verify()


def _links_referrers(tag: str, media_type: str) -> bool:
    link = parse_link_tag(tag)
    if link is None:
        return False
    return not link.is_referrers_index or media_type.endswith("index.v1+json")


@pytest.mark.corpus
def test_only_the_selected_image_is_read(
    layout_store: ociport.ImageStore, tmp_path: Path
) -> None:
    layout = PUBLIC / "regclient" / "testrepo"
    reader_paths: list[str] = []
    original = LayoutReader.open_blob

    def counting(self: LayoutReader, desc: ociport.Descriptor):  # type: ignore[no-untyped-def]
        stream = original(self, desc)
        reader_paths.append(desc.digest.encoded)
        return stream

    LayoutReader.open_blob = counting  # type: ignore[method-assign]
    try:
        result = layout_store.import_image(
            str(layout), ref_name="b1", platforms=["linux/arm64"]
        )
    finally:
        LayoutReader.open_blob = original  # type: ignore[method-assign]
    needed = {d.encoded for d in _graph_digests(layout_store, result.images[0])}
    assert needed <= set(reader_paths)
    # Beyond those, telling images from referrers reads manifests and indexes (small),
    # never a config or a layer.
    for encoded in set(reader_paths) - needed:
        document = json.loads((layout / "blobs" / "sha256" / encoded).read_bytes())
        assert "manifests" in document or "layers" in document, encoded


def _graph_digests(
    store: ociport.ImageStore, image: ociport.Image
) -> set[ociport.Digest]:
    return {info.digest for info in store.content.walk()}


def test_partial_layout_imports_present_platform(
    layout_store: ociport.ImageStore, tmp_path: Path
) -> None:
    layout = _copy_layout(TOOL / "oci-multiarch", tmp_path / "partial")
    index = json.loads((layout / "index.json").read_text())
    root = index["manifests"][0]["digest"].split(":")[1]
    children = json.loads((layout / "blobs" / "sha256" / root).read_text())["manifests"]
    arm = next(c for c in children if c["platform"]["architecture"] == "arm64")
    (layout / "blobs" / "sha256" / arm["digest"].split(":")[1]).unlink()
    result = layout_store.import_image(str(layout))
    assert [d.digest for d, _ in result.missing] == [
        ociport.Digest.parse(arm["digest"])
    ]
    with pytest.raises(ociport.MissingContentError):
        layout_store.import_image(str(layout), all_platforms=True)


def test_symlinked_blob_is_rejected(
    layout_store: ociport.ImageStore, tmp_path: Path
) -> None:
    layout = _copy_layout(TOOL / "oci-umoci", tmp_path / "linked")
    blobs = layout / "blobs" / "sha256"
    victim = max(blobs.iterdir(), key=lambda p: p.stat().st_size)
    outside = tmp_path / "outside"
    victim.rename(outside)
    victim.symlink_to(outside)
    before = snapshot(layout_store)
    with pytest.raises(ociport.FormatError, match="not a regular file"):
        layout_store.import_image(str(layout), ref_name="1.0")
    assert snapshot(layout_store) == before


@pytest.mark.tools
def test_export_into_existing_layout_adds_and_replaces(
    layout_store: ociport.ImageStore, tmp_path: Path
) -> None:
    skopeo = need_tool("skopeo")
    layout_store.import_image(
        str(TOOL / "oci-umoci"), naming=ociport.ImportNaming("example.com/u")
    )
    target = tmp_path / "out"
    layout_store.export_images(["example.com/u:base"], str(target), format="oci")
    base_blobs = {
        p.name: p.stat().st_mtime_ns for p in (target / "blobs" / "sha256").iterdir()
    }
    layout_store.export_images(
        ["example.com/u:1.0", "example.com/u:base"], str(target), format="oci"
    )
    after = {
        p.name: p.stat().st_mtime_ns for p in (target / "blobs" / "sha256").iterdir()
    }
    assert {k: after[k] for k in base_blobs} == base_blobs, (
        "existing blobs are not rewritten"
    )
    names = [
        m["annotations"]["org.opencontainers.image.ref.name"]
        for m in json.loads((target / "index.json").read_text())["manifests"]
    ]
    assert sorted(names) == ["example.com/u:1.0", "example.com/u:base"]
    for name in names:
        raw = subprocess.run(
            [skopeo, "inspect", "--raw", f"oci:{target}:{name}"],
            check=True,
            capture_output=True,
        ).stdout
        assert ociport.Digest.of(raw) == layout_store.get(name).target.digest
    assert not (target / "ingest").exists()


@pytest.mark.tools
def test_exported_layout_passes_umoci(
    layout_store: ociport.ImageStore, tmp_path: Path
) -> None:
    umoci = need_tool("umoci")
    layout_store.import_image(
        str(TOOL / "oci-umoci"), naming=ociport.ImportNaming("example.com/u")
    )
    target = tmp_path / "out"
    layout_store.export_images(["example.com/u:1.0"], str(target), format="oci")
    run = subprocess.run(
        [umoci, "stat", "--image", f"{target}:example.com/u:1.0"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "layer1" in run.stdout


def test_wrong_layout_version_is_refused(
    layout_store: ociport.ImageStore, tmp_path: Path
) -> None:
    layout = _copy_layout(TOOL / "oci-umoci", tmp_path / "v2")
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"2.0.0"}')
    with pytest.raises(ociport.FormatError, match="imageLayoutVersion"):
        layout_store.import_image(str(layout))
    layout_store.import_image(
        str(TOOL / "oci-umoci"), naming=ociport.ImportNaming("example.com/u")
    )
    with pytest.raises(ociport.FormatError, match="imageLayoutVersion"):
        layout_store.export_images(["example.com/u:1.0"], str(layout), format="oci")


@pytest.mark.corpus
@pytest.mark.parametrize(
    "bad",
    [
        "test_bad_index_json.oci",
        "test_no_valid_manifests.oci",
        "test_index_json_dir.oci",
        "test_invalid_oci_image.oci",
    ],
)
def test_broken_trivy_layouts(layout_store: ociport.ImageStore, bad: str) -> None:
    before = snapshot(layout_store)
    with pytest.raises(ociport.OciportError):
        layout_store.import_image(str(PUBLIC / "trivy" / bad), format="oci")
    assert snapshot(layout_store) == before
