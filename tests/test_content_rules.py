"""Content rules from the field's bug reports: attestations are no platform, a missing
platform names what there is, configs must match their layers, links stay inside the
layout, a member twice must be the same, member names are normalised."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

import ociport
from helpers import ROOT, snapshot
from ociport.oci.manifest import dump_json

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


class Archive:
    """The example archive's members, to change and write back."""

    def __init__(self) -> None:
        with tarfile.open(HELLO) as tar:
            self.files = {
                m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar
                if m.isfile()
            }
        self.index = json.loads(self.files["index.json"])
        self.manifest_entry = self.index["manifests"][0]
        self.manifest = json.loads(self.blob(self.manifest_entry["digest"]))
        self.extra: list[tarfile.TarInfo] = []

    def blob(self, digest: str) -> bytes:
        return self.files[f"blobs/sha256/{digest[7:]}"]

    def put(self, data: bytes, media_type: str, **fields: object) -> dict[str, object]:
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        self.files[f"blobs/sha256/{digest[7:]}"] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data), **fields}

    def with_roots(self, *roots: dict[str, object]) -> Archive:
        self.files["index.json"] = dump_json({**self.index, "manifests": list(roots)})
        return self

    def tar(self, rename: dict[str, str] | None = None) -> io.BytesIO:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in self.files.items():
                info = tarfile.TarInfo((rename or {}).get(name, name))
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            for info in self.extra:
                tar.addfile(info)
        out.seek(0)
        return out


@pytest.fixture
def store(tmp_path: Path) -> ociport.ImageStore:
    return ociport.open_store(str(tmp_path / "store"))


def _index_of_hello(archive: Archive, *extra: dict[str, object]) -> Archive:
    amd64 = {
        **{k: v for k, v in archive.manifest_entry.items() if k != "annotations"},
        "platform": {"os": "linux", "architecture": "amd64"},
    }
    raw = dump_json(
        {"schemaVersion": 2, "mediaType": INDEX, "manifests": [amd64, *extra]}
    )
    root = archive.put(raw, INDEX, annotations={REF_NAME: "example.com/rules/multi:1"})
    return archive.with_roots(root)


def test_an_absent_attestation_is_no_missing_platform(
    store: ociport.ImageStore,
) -> None:
    archive = Archive()
    digest = archive.manifest_entry["digest"]
    attestation = {
        "mediaType": MANIFEST,
        "digest": f"sha256:{hashlib.sha256(b'absent').hexdigest()}",
        "size": 6,
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": digest,
        },
    }
    result = store.import_image(
        _index_of_hello(archive, attestation).tar(), all_platforms=True
    )
    assert [str(d.digest) for d, _ in result.missing] == [attestation["digest"]]


def test_an_unknown_platform_names_the_ones_there_are(
    store: ociport.ImageStore,
) -> None:
    before = snapshot(store)
    with pytest.raises(ociport.FormatError) as caught:
        store.import_image(_index_of_hello(Archive()).tar(), platforms=["linux/s390x"])
    assert "linux/s390x" in str(caught.value) and "it has linux/amd64" in str(
        caught.value
    )
    assert snapshot(store) == before


def test_layers_and_diff_ids_must_agree(store: ociport.ImageStore) -> None:
    """Docker 25's layerless docker save: a manifest without the config's layers."""
    archive = Archive()
    layerless = dump_json({**archive.manifest, "layers": []})
    entry = archive.put(
        layerless, MANIFEST, annotations={REF_NAME: "example.com/r/x:1"}
    )
    before = snapshot(store)
    with pytest.raises(ociport.FormatError) as caught:
        store.import_image(archive.with_roots(entry).tar())
    message = str(caught.value)
    assert "diff IDs for 0 layers" in message
    assert (
        entry["digest"] in message and archive.manifest["config"]["digest"] in message
    )
    assert snapshot(store) == before


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
@pytest.mark.parametrize("how", ["file", "stream"])
def test_links_out_of_the_layout_are_refused(
    store: ociport.ImageStore, tmp_path: Path, kind: bytes, how: str
) -> None:
    archive = Archive()
    link = tarfile.TarInfo("notes/evil")
    link.type = kind
    link.linkname = "../../../etc/passwd" if kind == tarfile.SYMTYPE else "/etc/passwd"
    archive.extra.append(link)
    path = tmp_path / "links.tar"
    path.write_bytes(archive.tar().getvalue())
    with pytest.raises(ociport.FormatError, match="points outside the layout"):
        store.import_image(str(path) if how == "file" else archive.tar())


@pytest.mark.parametrize("how", ["file", "stream"])
def test_a_member_twice_must_be_the_same(
    store: ociport.ImageStore, tmp_path: Path, how: str
) -> None:
    archive = Archive()
    renamed = dump_json({**archive.index, "annotations": {"note": "another index"}})
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        members = [("index.json", renamed), *archive.files.items()]
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "twice.tar"
    path.write_bytes(out.getvalue())
    source = str(path) if how == "file" else io.BytesIO(out.getvalue())
    with pytest.raises(ociport.FormatError, match="twice"):
        store.import_image(source)


def test_member_names_are_normalised(store: ociport.ImageStore) -> None:
    archive = Archive()
    rename = {
        name: ("./" + name.replace("blobs/sha256/", "blobs//sha256/./"))
        for name in archive.files
    }
    result = store.import_image(archive.tar(rename))
    assert [image.name for image in result.images] == ["example.com/ociport/hello:1.0"]
