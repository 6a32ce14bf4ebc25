"""Docker archives hold only layers ``docker load`` reads: an image converted to zstd is
exported with its layers re-encoded as gzip (same diff IDs, so the same image ID), to a
file and to a pipe, with a note per layer; a layer whose bytes are not its diff ID is
refused before anything is written."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from docker_helpers import store_state

import ociport
from ociport.content.helpers import read_blob, write_blob
from ociport.oci import mediatypes as mt
from ociport.oci.manifest import Manifest, dump_json
from ociport.testing import layer_tar, name_image, random_image

PLAIN = "example.com/zstd/plain:1"
ZSTD = "example.com/zstd/app:1"


@pytest.fixture
def zstd_store(store: ociport.ImageStore) -> ociport.ImageStore:
    """A store holding ``ZSTD``: three random layers, converted to zstd."""
    name_image(store.content, PLAIN, random_image(store.content, seed=31, layers=3))
    store.convert(PLAIN, ZSTD, compression="zstd")
    return store


def _manifest(store: ociport.ImageStore, name: str) -> Manifest:
    return Manifest.parse(read_blob(store.content, store.get(name).target))


def _check_loadable(archive: bytes, store: ociport.ImageStore) -> list[str]:
    """The Docker archive holds ``ZSTD`` as ``docker load`` reads it: the stored config
    (so the image ID), and one gzip layer file per layer, named by its digest, whose
    uncompressed bytes are the config's diff ID. Returns the layer files."""
    stored = _manifest(store, ZSTD)
    assert {layer.media_type for layer in stored.layers} == {mt.OCI_LAYER_TAR_ZSTD}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        files = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
        links = {m.name: m.linkname for m in tar.getmembers() if m.issym()}
    [entry] = json.loads(files["manifest.json"])
    assert entry["RepoTags"] == [ZSTD]
    config_raw = files[entry["Config"]]
    assert hashlib.sha256(config_raw).hexdigest() == stored.config.digest.encoded
    diff_ids = json.loads(config_raw)["rootfs"]["diff_ids"]
    assert len(entry["Layers"]) == len(diff_ids) == 3
    for name, diff_id in zip(entry["Layers"], diff_ids, strict=True):
        data = files[name]
        assert data[:2] == b"\x1f\x8b", f"{name} is not gzip"
        assert name == f"{hashlib.sha256(data).hexdigest()}.tar.gz"
        assert f"sha256:{hashlib.sha256(gzip.decompress(data)).hexdigest()}" == diff_id
    assert not [n for n in files if n.endswith(".zst")]
    assert sorted(target.removeprefix("../") for target in links.values()) == sorted(
        entry["Layers"]
    )
    return list(entry["Layers"])


def _notes_expected(store: ociport.ImageStore) -> list[str]:
    return [
        f"layer {layer.digest} is zstd: written gzip-compressed, which docker load reads"
        for layer in _manifest(store, ZSTD).layers
    ]


def test_zstd_layers_are_written_gzip_compressed(
    zstd_store: ociport.ImageStore, tmp_path: Path
) -> None:
    out = tmp_path / "app.tar"
    before = store_state(zstd_store)
    result = zstd_store.export_images([ZSTD], str(out), format="docker-archive")
    layer_files = _check_loadable(out.read_bytes(), zstd_store)
    assert result.notes == _notes_expected(zstd_store)
    assert store_state(zstd_store) == before  # re-encoded for the archive only
    # The same bytes convert --compression gzip gives: one gzip encoding per layer.
    zstd_store.convert(ZSTD, "example.com/zstd/gzip:1", compression="gzip")
    gzip_layers = _manifest(zstd_store, "example.com/zstd/gzip:1").layers
    assert [f"{d.digest.encoded}.tar.gz" for d in gzip_layers] == layer_files
    # ociport reads it back as the same image (same config, checked diff IDs).
    again = ociport.open_store(str(tmp_path / "again"), pm=zstd_store.pm)
    [image] = again.import_image(str(out)).images
    assert image.name == ZSTD
    assert (
        _manifest(again, ZSTD).config.digest
        == _manifest(zstd_store, ZSTD).config.digest
    )


def test_a_stream_export_to_a_pipe_is_loadable_too(
    zstd_store: ociport.ImageStore, tmp_path: Path
) -> None:
    """``ociport export - NAME | docker load``: the CLI and the installed plugin, stdout
    a pipe (no seeking back), the notes on stderr; the same bytes as a file export."""
    cli = [sys.executable, "-m", "ociport", "--store", zstd_store.content.location.path]
    run = subprocess.run(
        [*cli, "export", "--format", "docker-archive", "-", ZSTD],
        capture_output=True,  # stdout is a pipe
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
    _check_loadable(run.stdout, zstd_store)
    notes = [
        line.removeprefix("ociport: note: ")
        for line in run.stderr.decode().splitlines()
        if line.startswith("ociport: note: layer ")
    ]
    assert notes == _notes_expected(zstd_store)
    out = tmp_path / "file.tar"
    zstd_store.export_images([ZSTD], str(out), format="docker-archive")
    assert run.stdout == out.read_bytes()


def _put(store: ociport.ImageStore, media_type: str, data: bytes) -> Any:
    desc = ociport.Descriptor(media_type, ociport.Digest.of(data), len(data))
    write_blob(store.content, io.BytesIO(data), desc)
    return desc


def test_a_layer_that_is_not_its_diff_id_is_refused_before_writing(
    store: ociport.ImageStore, tmp_path: Path
) -> None:
    """The diff ID is checked while the layer is re-encoded: a zstd layer whose tar is
    not the one the config names fails the export, and no archive appears."""
    tar = layer_tar(b"what the layer holds\n")
    layer = _put(store, mt.OCI_LAYER_TAR_ZSTD, zstandard.ZstdCompressor().compress(tar))
    wrong = ociport.Digest.of(layer_tar(b"what the config says\n"))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [str(wrong)]},
    }
    manifest = Manifest.build(
        _put(store, mt.OCI_IMAGE_CONFIG, dump_json(config)), [layer]
    )
    name_image(store.content, ZSTD, _put(store, mt.OCI_IMAGE_MANIFEST, manifest.raw))
    out = tmp_path / "never.tar"
    with pytest.raises(ociport.FormatError, match=f"not its diff ID {wrong}"):
        store.export_images([ZSTD], str(out), format="docker-archive")
    assert list(tmp_path.iterdir()) == [tmp_path / "store"]
