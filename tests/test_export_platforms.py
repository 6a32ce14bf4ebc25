"""Platform-filtered export: new index, --keep-index, --all-platforms, foreign layers."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

import ociport
from helpers import PUBLIC, TOOL, need_tool, snapshot
from ociport.content.helpers import write_blob
from ociport.oci import mediatypes as mt
from ociport.oci.manifest import dump_json

NAME = "example.com/multi:multi"


@pytest.fixture
def multi(store: ociport.ImageStore) -> ociport.ImageStore:
    store.import_image(
        str(TOOL / "multiarch.oci-archive.tar"),
        naming=ociport.ImportNaming("example.com/multi"),
    )
    return store


def _index(archive: bytes, digest: str) -> dict[str, object]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile(f"blobs/sha256/{digest.split(':')[1]}")
        assert member is not None
        return json.load(member)  # type: ignore[no-any-return]


def _blob_names(archive: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {n for n in tar.getnames() if n.startswith("blobs/sha256/")}


def test_one_platform_gets_a_new_complete_index(
    multi: ociport.ImageStore, tmp_path: Path
) -> None:
    before = snapshot(multi)
    out = io.BytesIO()
    result = multi.export_images([NAME], out, platforms=["linux/arm64"])
    assert snapshot(multi) == before, "the filtered index lives only in the export"
    entry = result.entries[0]
    assert entry.digest != multi.get(NAME).target.digest
    index = _index(out.getvalue(), str(entry.digest))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["arm64"]  # type: ignore[index]
    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=multi.pm)
    imported = fresh.import_image(io.BytesIO(out.getvalue()), all_platforms=True)
    assert not imported.missing
    assert imported.images[0].target.digest == entry.digest


def test_keep_index_is_partial_and_says_so(
    multi: ociport.ImageStore, tmp_path: Path
) -> None:
    out = io.BytesIO()
    result = multi.export_images(
        [NAME], out, platforms=["linux/arm64"], keep_index=True
    )
    assert result.entries[0].digest == multi.get(NAME).target.digest
    assert any("partial" in note for note in result.notes)
    assert [d.platform.architecture for d, _ in result.missing if d.platform] == [
        "amd64"
    ]
    full = io.BytesIO()
    multi.export_images([NAME], full)
    assert _blob_names(out.getvalue()) < _blob_names(full.getvalue())
    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=multi.pm)
    with pytest.raises(ociport.MissingContentError):
        fresh.import_image(io.BytesIO(out.getvalue()), all_platforms=True)
    assert fresh.import_image(io.BytesIO(out.getvalue())).missing


def test_absent_platform_is_an_error(multi: ociport.ImageStore) -> None:
    with pytest.raises(ociport.FormatError, match="s390x"):
        multi.export_images([NAME], io.BytesIO(), platforms=["linux/s390x"])


@pytest.mark.corpus
def test_all_platforms_refuses_a_partial_image(store: ociport.ImageStore) -> None:
    result = store.import_image(str(PUBLIC / "oras-go" / "hello-world.tar"))
    name = result.images[0].name
    with pytest.raises(ociport.MissingContentError):
        store.export_images([name], io.BytesIO(), all_platforms=True)
    partial = store.export_images([name], io.BytesIO())
    assert len(partial.missing) == 10


def test_skip_non_distributable_leaves_foreign_layers_out(
    store: ociport.ImageStore,
) -> None:
    content = store.content
    foreign = b"foreign layer bytes"
    config = dump_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    )
    descs = []
    for media_type, data in (
        (mt.OCI_IMAGE_CONFIG, config),
        (mt.OCI_LAYER_NONDISTRIBUTABLE_TAR, foreign),
    ):
        desc = ociport.Descriptor(media_type, ociport.Digest.of(data), len(data))
        write_blob(content, io.BytesIO(data), desc)
        descs.append(desc)
    manifest = dump_json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_MANIFEST,
            "config": descs[0].to_json(),
            "layers": [descs[1].to_json()],
        }
    )
    root = ociport.Descriptor(
        mt.OCI_IMAGE_MANIFEST, ociport.Digest.of(manifest), len(manifest)
    )
    write_blob(content, io.BytesIO(manifest), root)
    content.update_index(
        lambda entries: [
            *entries,
            root.with_annotations(
                {"org.opencontainers.image.ref.name": "example.com/f:1"}
            ),
        ]
    )
    with_foreign, without = io.BytesIO(), io.BytesIO()
    store.export_images(["example.com/f:1"], with_foreign)
    result = store.export_images(
        ["example.com/f:1"], without, skip_non_distributable=True
    )
    layer_member = f"blobs/sha256/{descs[1].digest.encoded}"
    assert layer_member in _blob_names(with_foreign.getvalue())
    assert layer_member not in _blob_names(without.getvalue())
    assert [d.digest for d, _ in result.missing] == [descs[1].digest]


@pytest.mark.tools
def test_filtered_archive_copies_with_skopeo(
    multi: ociport.ImageStore, tmp_path: Path
) -> None:
    skopeo = need_tool("skopeo")
    out = tmp_path / "arm.tar"
    multi.export_images([NAME], str(out), platforms=["linux/arm64"])
    run = subprocess.run(
        [
            skopeo,
            "copy",
            "--all",
            f"oci-archive:{out}:{NAME}",
            f"oci:{tmp_path / 'copy'}:x",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
