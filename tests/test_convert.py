"""ociport convert: media types, recompression, mislabelled layers, diff ID checks."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

import ociport
from helpers import TOOL
from ociport.content.helpers import read_blob, write_blob
from ociport.oci import mediatypes as mt
from ociport.oci.manifest import Manifest
from ociport.testing.factories import name_image


def _layout_archive(layout: Path) -> io.BytesIO:
    """An OCI archive holding a layout directory's files, built in memory."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in sorted(layout.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(layout)))
    out.seek(0)
    return out


def _manifest(store: ociport.ImageStore, name: str) -> Manifest:
    return Manifest.parse(read_blob(store.content, store.get(name).target))


@pytest.fixture
def mislabelled(store: ociport.ImageStore) -> str:
    result = store.import_image(
        _layout_archive(TOOL / "oci-uncompressed-mislabelled"),
        naming=ociport.ImportNaming("example.com/mis"),
    )
    assert any("labelled" in note and "uncompressed" in note for note in result.notes)
    return result.images[0].name


def test_mislabelled_layers_are_reported_and_relabelled(
    store: ociport.ImageStore, mislabelled: str
) -> None:
    result = store.convert(mislabelled, "example.com/fixed:1")
    original = _manifest(store, mislabelled)
    fixed = _manifest(store, "example.com/fixed:1")
    assert [r.reason for r in result.relabelled] == ["mislabelled"] * len(
        original.layers
    )
    assert [layer.digest for layer in fixed.layers] == [
        layer.digest for layer in original.layers
    ]
    assert {layer.media_type for layer in fixed.layers} == {mt.OCI_LAYER_TAR}
    assert fixed.config == original.config
    assert not store.verify()


@pytest.mark.parametrize(
    ("compression", "fmt", "manifest_type", "layer_type"),
    [
        ("gzip", "docker", mt.DOCKER_MANIFEST_V2, mt.DOCKER_LAYER),
        ("zstd", "oci", mt.OCI_IMAGE_MANIFEST, mt.OCI_LAYER_TAR_ZSTD),
    ],
)
def test_recompression_round_trip_keeps_diff_ids(
    store: ociport.ImageStore,
    mislabelled: str,
    compression: str,
    fmt: str,
    manifest_type: str,
    layer_type: str,
) -> None:
    store.convert(
        mislabelled, "example.com/c:1", compression=compression, manifest_format=fmt
    )  # type: ignore[arg-type]
    squeezed = _manifest(store, "example.com/c:1")
    assert store.get("example.com/c:1").target.media_type == manifest_type
    assert {layer.media_type for layer in squeezed.layers} == {layer_type}
    store.convert(
        "example.com/c:1",
        "example.com/plain:1",
        compression="none",
        manifest_format="oci",
    )
    plain = _manifest(store, "example.com/plain:1")
    original = _manifest(store, mislabelled)
    assert [layer.digest for layer in plain.layers] == [
        layer.digest for layer in original.layers
    ]
    assert not store.verify()


def test_zstd_makes_a_docker_manifest_oci(
    store: ociport.ImageStore, mislabelled: str
) -> None:
    store.convert(mislabelled, "example.com/d:1", manifest_format="docker")
    assert store.get("example.com/d:1").target.media_type == mt.DOCKER_MANIFEST_V2
    store.convert("example.com/d:1", "example.com/z:1", compression="zstd")
    assert store.get("example.com/z:1").target.media_type == mt.OCI_IMAGE_MANIFEST
    with pytest.raises(ociport.FormatError, match="zstd"):
        store.convert(
            "example.com/d:1",
            "example.com/never:1",
            compression="zstd",
            manifest_format="docker",
        )


def test_conversion_is_deterministic(
    store: ociport.ImageStore, mislabelled: str
) -> None:
    a = store.convert(mislabelled, "example.com/a:1", compression="gzip")
    b = store.convert(mislabelled, "example.com/b:1", compression="gzip")
    assert a.root.digest == b.root.digest


def test_wrong_diff_id_is_an_error(store: ociport.ImageStore, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(TOOL / "oci-uncompressed", layout)
    index = json.loads((layout / "index.json").read_text())
    manifest_path = (
        layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    )
    manifest = json.loads(manifest_path.read_bytes())
    config_path = (
        layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]
    )
    config = json.loads(config_path.read_bytes())
    config["rootfs"]["diff_ids"][0] = "sha256:" + "0" * 64
    raw_config = json.dumps(config).encode()
    config_path.unlink()
    new_config = ociport.Digest.of(raw_config)
    (layout / "blobs" / "sha256" / new_config.encoded).write_bytes(raw_config)
    manifest["config"].update(digest=str(new_config), size=len(raw_config))
    raw_manifest = json.dumps(manifest).encode()
    manifest_path.unlink()
    new_manifest = ociport.Digest.of(raw_manifest)
    (layout / "blobs" / "sha256" / new_manifest.encoded).write_bytes(raw_manifest)
    index["manifests"][0].update(digest=str(new_manifest), size=len(raw_manifest))
    (layout / "index.json").write_text(json.dumps(index))
    # Import refuses such an image (its configs are checked against its layers)...
    with pytest.raises(ociport.FormatError, match="does not match diff ID"):
        store.import_image(_layout_archive(layout))
    # ...so put it in the store blob by blob, as another tool might have.
    for path in (layout / "blobs" / "sha256").iterdir():
        data = path.read_bytes()
        desc = ociport.Descriptor("", ociport.Digest.of(data), len(data))
        write_blob(store.content, io.BytesIO(data), desc)
    root = ociport.Descriptor(mt.OCI_IMAGE_MANIFEST, new_manifest, len(raw_manifest))
    name = "example.com/bad:1"
    name_image(store.content, name, root)
    names_before = [i.name for i in store.images()]
    with pytest.raises(ociport.FormatError, match="diff ID"):
        store.convert(name, "example.com/never:1", compression="gzip")
    assert [i.name for i in store.images()] == names_before
