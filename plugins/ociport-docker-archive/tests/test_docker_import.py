"""Importing real ``docker save`` archives: names, layer counts, digests, bad input."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from docker_helpers import PUBLIC, TOOL, archive_manifest, store_state

import ociport
from ociport.content.helpers import read_blob
from ociport.drivers.kit import normalize_name
from ociport.oci import mediatypes as mt
from ociport.oci.manifest import Manifest

MANIFEST_JSON_ARCHIVES = [
    *sorted((PUBLIC / "osv-scalibr" / "docker-save").glob("*.tar")),
    PUBLIC / "dive" / "test-docker-image.tar",
    PUBLIC / "dive" / "test-kaniko-image.tar",
    *sorted((PUBLIC / "ggcr" / "mutate").glob("*.tar")),
    PUBLIC / "ggcr" / "tarball" / "test_bundle.tar",
    PUBLIC / "ggcr" / "tarball" / "test_image_1.tar",
    PUBLIC / "ggcr" / "tarball" / "test_image_2.tar",
    PUBLIC / "ggcr" / "tarball" / "test_link.tar",
    PUBLIC / "ggcr" / "tarball" / "test_load_manifest.tar",
    PUBLIC / "trivy" / "alpine-310.tar.gz",
    *sorted((PUBLIC / "podman").glob("docker-*.tar.xz")),
    PUBLIC / "containers-image" / "docker-archive" / "almostempty.tar",
    TOOL / "sample.docker-archive.tar",
    TOOL / "base.docker-archive.tar",
]


def _manifest(store: ociport.ImageStore, image: ociport.Image) -> Manifest:
    return Manifest.parse(read_blob(store.content, image.target))


@pytest.mark.parametrize("path", MANIFEST_JSON_ARCHIVES, ids=lambda p: p.name)
def test_import_gives_names_and_layers_of_manifest_json(
    store: ociport.ImageStore, path: Path
) -> None:
    expected = archive_manifest(path)
    result = store.import_image(
        str(path), naming=ociport.ImportNaming(base_name="import")
    )
    by_name = {image.name: image for image in result.images}
    for entry in expected:
        tags = entry.get("RepoTags") or []
        layers = entry["Layers"]
        assert isinstance(layers, list)
        if not tags:
            unnamed = [i for i in result.images if i.name.startswith("import@sha256:")]
            assert unnamed, "an image without RepoTags is imported under a digest name"
            assert any("no name" in note for note in result.notes)
            continue
        for tag in tags:  # type: ignore[union-attr]
            image = by_name[normalize_name(tag)]
            manifest = _manifest(store, image)
            assert len(manifest.layers) == len(layers)
            assert image.target.media_type == mt.DOCKER_MANIFEST_V2
    assert not store.verify()


@pytest.mark.corpus
def test_layer_counts_described_by_sources(store: ociport.ImageStore) -> None:
    cases = {
        PUBLIC / "dive" / "test-docker-image.tar": (
            "docker.io/library/dive-test:latest",
            14,
        ),
        PUBLIC / "dive" / "test-kaniko-image.tar": (
            "docker.io/library/dive-test:kaniko-latest",
            14,
        ),
        PUBLIC / "ggcr" / "mutate" / "whiteout_image.tar": (None, 3),
        PUBLIC / "osv-scalibr" / "docker-save" / "basic.tar": (
            "docker.io/library/basic:latest",
            2,
        ),
        PUBLIC / "trivy" / "alpine-310.tar.gz": ("docker.io/library/alpine:3.10", 1),
    }
    for path, (name, layers) in cases.items():
        result = store.import_image(str(path))
        image = result.images[0] if name is None else store.get(name)
        assert len(_manifest(store, image).layers) == layers, path.name


@pytest.mark.corpus
def test_kaniko_gzip_layers_are_labelled_from_magic_bytes(
    store: ociport.ImageStore,
) -> None:
    result = store.import_image(str(PUBLIC / "dive" / "test-kaniko-image.tar"))
    manifest = _manifest(store, result.images[0])
    assert {layer.media_type for layer in manifest.layers} == {mt.DOCKER_LAYER}


def test_same_digest_as_ctr_import(store: ociport.ImageStore) -> None:
    """ctr images import of the same archive produced this manifest (tool/ctr fixture)."""
    with tarfile.open(TOOL / "ctr" / "sample-from-docker-archive.ctr.tar") as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    ctr_digest = index["manifests"][0]["digest"]
    result = store.import_image(str(TOOL / "sample.docker-archive.tar"))
    assert {str(i.target.digest) for i in result.images} == {ctr_digest}
    assert sorted(i.name for i in result.images) == [
        "example.com/fixtures/sample:1.0",
        "example.com/fixtures/sample:latest",
    ]


@pytest.mark.corpus
def test_import_twice_gives_same_digest(tmp_path: Path, docker_pm: object) -> None:
    digests = []
    for n in range(2):
        store = ociport.open_store(str(tmp_path / f"s{n}"), pm=docker_pm)  # type: ignore[arg-type]
        result = store.import_image(str(PUBLIC / "dive" / "test-docker-image.tar"))
        digests.append(result.images[0].target.digest)
    assert digests[0] == digests[1]


def test_oci_manifests_on_request(store: ociport.ImageStore) -> None:
    result = store.import_image(
        str(TOOL / "sample.docker-archive.tar"), oci_manifests=True
    )
    manifest = _manifest(store, result.images[0])
    assert result.images[0].target.media_type == mt.OCI_IMAGE_MANIFEST
    assert manifest.config.media_type == mt.OCI_IMAGE_CONFIG
    assert {layer.media_type for layer in manifest.layers} == {mt.OCI_LAYER_TAR}


@pytest.mark.corpus
def test_two_images_sharing_a_linked_layer(store: ociport.ImageStore) -> None:
    result = store.import_image(str(PUBLIC / "podman" / "docker-two-images.tar.xz"))
    assert sorted(i.name for i in result.images) == [
        "example.com/empty/but:different",
        "example.com/empty:latest",
    ]
    first, second = (_manifest(store, i) for i in result.images)
    assert first.layers[0].digest == second.layers[0].digest


@pytest.mark.corpus
def test_repositories_only_archive(store: ociport.ImageStore) -> None:
    result = store.import_image(str(PUBLIC / "ggcr" / "tarball" / "no_manifest.tar"))
    assert [i.name for i in result.images] == ["docker.io/bazel/v1/tarball:test_image"]
    manifest = _manifest(store, result.images[0])
    config = json.loads(read_blob(store.content, manifest.config))
    assert config["rootfs"]["diff_ids"] == [str(manifest.layers[0].digest)]


@pytest.mark.corpus
def test_docker_25_archive_without_tags(store: ociport.ImageStore) -> None:
    path = PUBLIC / "ggcr" / "tarball" / "hello-world-v25.tar"
    result = store.import_image(str(path))
    assert len(result.images) == 1
    assert result.images[0].name.startswith("import-")
    assert "@sha256:" in result.images[0].name


@pytest.mark.corpus
def test_null_manifest_json_is_an_error(store: ociport.ImageStore) -> None:
    before = store_state(store)
    with pytest.raises(ociport.FormatError, match="no images"):
        store.import_image(str(PUBLIC / "ggcr" / "tarball" / "null_manifest.tar"))
    assert store_state(store) == before


def _archive(members: dict[str, bytes | tuple[str, bytes]]) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, value in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, tuple):
                info.type, info.linkname = value[0].encode(), value[1].decode()
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    out.seek(0)
    return out


def _layer() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    return out.getvalue()


def _config(layer: bytes) -> bytes:
    diff_id = ociport.Digest.of(layer)
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [str(diff_id)]},
        }
    ).encode()


def test_link_cycle_is_an_error_and_store_unchanged(store: ociport.ImageStore) -> None:
    layer = _layer()
    manifest = [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["a/layer.tar"]}]
    source = _archive(
        {
            "c.json": _config(layer),
            "a/layer.tar": ("2", b"../b/layer.tar"),
            "b/layer.tar": ("2", b"../a/layer.tar"),
            "manifest.json": json.dumps(manifest).encode(),
        }
    )
    before = store_state(store)
    with pytest.raises(ociport.FormatError, match="cycle"):
        store.import_image(source, format="docker-archive")
    assert store_state(store) == before


def test_link_chain_and_hardlink_resolve(store: ociport.ImageStore) -> None:
    layer = _layer()
    manifest = [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["a/layer.tar"]}]
    source = _archive(
        {
            "c.json": _config(layer),
            "real.tar": layer,
            "b/layer.tar": ("1", b"real.tar"),
            "a/layer.tar": ("2", b"../b/layer.tar"),
            "manifest.json": json.dumps(manifest).encode(),
        }
    )
    result = store.import_image(source, format="docker-archive")
    manifest_doc = _manifest(store, result.images[0])
    assert manifest_doc.layers[0].digest == ociport.Digest.of(layer)


def test_diff_id_mismatch_is_an_error(store: ociport.ImageStore) -> None:
    layer = _layer()
    manifest = [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l.tar"]}]
    source = _archive(
        {
            "c.json": _config(b"other"),
            "l.tar": layer,
            "manifest.json": json.dumps(manifest).encode(),
        }
    )
    before = store_state(store)
    with pytest.raises(ociport.FormatError, match="diff ID"):
        store.import_image(source, format="docker-archive")
    assert store_state(store) == before


def test_repositories_disagreeing_with_manifest_json_warns(
    store: ociport.ImageStore,
) -> None:
    layer = _layer()
    manifest = [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["abc/layer.tar"]}]
    source = _archive(
        {
            "c.json": _config(layer),
            "abc/layer.tar": layer,
            "manifest.json": json.dumps(manifest).encode(),
            "repositories": json.dumps({"x": {"2": "abc"}}).encode(),
        }
    )
    result = store.import_image(source, format="docker-archive")
    assert [i.name for i in result.images] == ["docker.io/library/x:1"]
    assert any("disagree" in note and "x:2" in note for note in result.notes)


def test_stdin_like_stream_is_detected(store: ociport.ImageStore) -> None:
    with open(TOOL / "sample.docker-archive.tar", "rb") as stream:
        result = store.import_image(stream)
    assert len(result.images) == 2


@pytest.mark.parametrize(
    "path",
    [
        TOOL / "sample.docker-archive.tar",
        PUBLIC / "podman" / "docker-two-images.tar.xz",
        PUBLIC / "ggcr" / "tarball" / "no_manifest.tar",
    ],
    ids=lambda p: p.name,
)
def test_inspect_matches_import_and_stores_nothing(
    store: ociport.ImageStore, path: Path
) -> None:
    before = store_state(store)
    records = ociport.inspect_source(str(path), pm=store.pm)
    assert store_state(store) == before
    result = store.import_image(str(path))
    inspected = {
        (name, r["descriptor"]["digest"]) for r in records for name in r["names"]
    }
    imported = {(i.name, str(i.target.digest)) for i in result.images}
    assert {(normalize_name(n), d) for n, d in inspected} == imported
    assert all(not r["missing"] for r in records)
