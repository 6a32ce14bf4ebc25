"""Referrers (signatures, SBOMs, attestations) travel with their images: import from
layouts and archives, listing, gc, verify, export and re-import, with skopeo and umoci
reading the results.

The inputs are built here: a base image copied by skopeo from the repository's example
archive (made by umoci and skopeo), then referrers written byte for byte in the shapes
``oras attach`` (an artifact manifest with ``artifactType``, the empty config
``application/vnd.oci.empty.v1+json`` carried in ``data``, an ``index.json`` entry with
the manifest's artifact type and annotations), cosign (a signature manifest tagged
``sha256-<hex>.sig``, no ``subject``) and Docker buildx (attestation manifests in the
image index, ``vnd.docker.reference.type: attestation-manifest``) write them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pluggy
import pytest

import ociport
from helpers import PUBLIC, ROOT, need_tool
from ociport.builtin import oci_layout
from ociport.content.fsstore import FsspecContentStore
from ociport.engine.naming import ImportNaming
from ociport.errors import ImageNotFoundError, InvalidDigestError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.referrers import (
    ANNOTATION_FILTERS_APPLIED,
    ANNOTATION_REFERRER_TAG,
    Referrer,
    export_entry,
    follow_referrers,
    parse_link_tag,
    referrers_index,
)
from ociport.streams.location import Location
from ociport.testing.factories import random_image

SAMPLE = ROOT / "examples" / "hello.oci-archive.tar"
NAME = "example.com/app:v1"
BASE_NAME = ImportNaming().base_name
EMPTY = b"{}"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
SPDX = "application/spdx+json"
NOTATION = "application/vnd.cncf.notary.signature"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def dump(doc: dict[str, Any]) -> bytes:
    """JSON as Go's encoding/json writes it (oras, cosign, buildx): compact."""
    return json.dumps(doc, separators=(",", ":")).encode()


class Layout:
    """An OCI image layout directory that tests add blobs and entries to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def put(self, data: bytes, media_type: str) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (self.path / "blobs" / "sha256" / digest).write_bytes(data)
        return {
            "mediaType": media_type,
            "digest": f"sha256:{digest}",
            "size": len(data),
        }

    @property
    def index(self) -> dict[str, Any]:
        return json.loads((self.path / "index.json").read_text())  # type: ignore[no-any-return]

    def add_entry(self, entry: dict[str, Any]) -> None:
        index = self.index
        index["manifests"].append(entry)
        (self.path / "index.json").write_bytes(dump(index))

    def entry(self, name: str) -> dict[str, Any]:
        for entry in self.index["manifests"]:
            if (
                entry.get("annotations", {}).get("org.opencontainers.image.ref.name")
                == name
            ):
                return entry  # type: ignore[no-any-return]
        raise KeyError(name)

    def attach(
        self,
        subject: dict[str, Any],
        artifact_type: str,
        payload: bytes,
        *,
        listed: bool = True,
        created: str = "2024-05-01T10:00:00Z",
    ) -> dict[str, Any]:
        """What ``oras attach --oci-layout --artifact-type T DIR@SUBJECT file`` writes:
        the file as a layer titled by its name, the empty config (with ``data``), the
        subject, a creation annotation; ``index.json`` gets an unnamed entry with the
        manifest's artifact type and annotations (``listed``)."""
        layer = self.put(payload, artifact_type)
        layer["annotations"] = {"org.opencontainers.image.title": "artifact.json"}
        self.put(EMPTY, "application/vnd.oci.empty.v1+json")
        annotations = {"org.opencontainers.image.created": created}
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": artifact_type,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": EMPTY_DIGEST,
                "size": 2,
                "data": base64.b64encode(EMPTY).decode(),
            },
            "layers": [layer],
            "subject": {k: subject[k] for k in ("mediaType", "digest", "size")},
            "annotations": annotations,
        }
        desc = self.put(dump(manifest), MANIFEST)
        if listed:
            self.add_entry(
                {**desc, "annotations": annotations, "artifactType": artifact_type}
            )
        return desc

    def cosign_sign(self, subject: dict[str, Any]) -> dict[str, Any]:
        """A cosign signature of ``subject`` under cosign's tag scheme: a simple
        signing payload layer, a config listing it as diff ID, tagged
        ``sha256-<hex>.sig`` (no ``subject`` field)."""
        payload = dump(
            {
                "critical": {
                    "identity": {"docker-reference": "example.com/app"},
                    "image": {"docker-manifest-digest": subject["digest"]},
                    "type": "cosign container image signature",
                },
                "optional": None,
            }
        )
        layer = self.put(payload, "application/vnd.dev.cosign.simplesigning.v1+json")
        layer["annotations"] = {"dev.cosignproject.cosign/signature": "MEUCIQDx"}
        config = {
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
            "config": {},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": self.put(
                dump(config), "application/vnd.oci.image.config.v1+json"
            ),
            "layers": [layer],
        }
        desc = self.put(dump(manifest), MANIFEST)
        tag = subject["digest"].replace(":", "-") + ".sig"
        self.add_entry(
            {**desc, "annotations": {"org.opencontainers.image.ref.name": tag}}
        )
        return desc


def skopeo_layout(path: Path, name: str = NAME) -> Layout:
    """A layout holding the example image as ``name``, written by skopeo."""
    skopeo = need_tool("skopeo")
    subprocess.run(
        [skopeo, "copy", "--quiet", f"oci-archive:{SAMPLE}", f"oci:{path}:{name}"],
        check=True,
    )
    return Layout(path)


def tar_layout(layout: Path, archive: Path) -> Path:
    """``layout`` as an OCI archive (GNU tar's member order, as ``tar -C DIR .``)."""
    with tarfile.open(archive, "w") as tar:
        for child in sorted(layout.iterdir()):
            tar.add(child, arcname=child.name)
    return archive


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Layout, dict[str, Any], dict[str, Any]]:
    """A layout with an image, its SBOM and the SBOM's signature (unnamed entries)."""
    layout = skopeo_layout(tmp_path / "signed")
    image = layout.entry(NAME)
    sbom = layout.attach(image, SPDX, b'{"spdxVersion":"SPDX-2.3"}')
    signature = layout.attach(sbom, NOTATION, b"signature-bytes")
    return layout, sbom, signature


@pytest.fixture
def pm(pm: pluggy.PluginManager) -> pluggy.PluginManager:
    """The built-ins, the layout driver among them."""
    pm.register(oci_layout, name="oci")
    return pm


def open_at(path: Path, pm: pluggy.PluginManager) -> ociport.ImageStore:
    return ociport.open_store(str(path), pm=pm)


def digests(descriptors: list[Any]) -> set[str]:
    return {str(d.digest) for d in descriptors}


def unnamed_entries(index: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e
        for e in index["manifests"]
        if "org.opencontainers.image.ref.name" not in e.get("annotations", {})
    ]


def test_image_sbom_and_signature_travel_together(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    layout, sbom, signature = signed
    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{layout.path}")

    assert [i.name for i in result.images] == [NAME]
    assert digests(result.referrers) == {sbom["digest"], signature["digest"]}
    assert [i.name for i in store.images()] == [NAME]  # referrers are no images
    listed = store.referrers(NAME)
    assert [str(d.digest) for d in listed] == [sbom["digest"]]
    assert listed[0].artifact_type == SPDX
    assert listed[0].annotations == {
        "org.opencontainers.image.created": "2024-05-01T10:00:00Z"
    }
    assert [str(d.digest) for d in store.referrers(sbom["digest"])] == [
        signature["digest"]
    ]
    # Recorded as unnamed index.json entries, as oras writes them.
    index_file = tmp_path / "store" / "index.json"
    stored = json.loads(index_file.read_text())
    assert {e["digest"] for e in unnamed_entries(stored)} == {
        sbom["digest"],
        signature["digest"],
    }
    before = index_file.read_bytes()
    assert store.import_image(f"oci:{layout.path}").blobs_committed == 0
    assert index_file.read_bytes() == before  # each referrer listed once

    gc = store.gc(grace=0)
    assert gc.referrers_removed == 0
    for desc in (sbom, signature):
        assert store.content.info(ociport_digest(desc)).size == desc["size"]
    assert store.verify() == [] and store.verify_images() == []

    archive = tmp_path / "out.tar"
    exported = store.export_images([NAME], str(archive))
    assert digests(exported.referrers) == {sbom["digest"], signature["digest"]}
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        written = json.loads(member.read())
    assert [e["digest"] for e in unnamed_entries(written)] == [
        e["digest"] for e in unnamed_entries(stored)
    ]
    sbom_entry = next(e for e in written["manifests"] if e["digest"] == sbom["digest"])
    assert sbom_entry["artifactType"] == SPDX

    elsewhere = open_at(tmp_path / "elsewhere", pm)
    again = elsewhere.import_image(str(archive))
    assert digests(again.referrers) == {sbom["digest"], signature["digest"]}
    assert [str(d.digest) for d in elsewhere.referrers(NAME)] == [sbom["digest"]]


def ociport_digest(desc: dict[str, Any]) -> ociport.Digest:
    return ociport.Digest.parse(desc["digest"])


def test_skopeo_and_umoci_read_the_store_and_the_exports(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    skopeo, umoci = need_tool("skopeo"), need_tool("umoci")
    layout, _, _ = signed
    store = open_at(tmp_path / "store", pm)
    store.import_image(f"oci:{layout.path}")
    store.export_images([NAME], f"oci:{tmp_path / 'out-layout'}")
    store.export_images([NAME], str(tmp_path / "out.tar"))
    targets = [
        f"oci:{tmp_path / 'store'}:{NAME}",
        f"oci:{tmp_path / 'out-layout'}:{NAME}",
        f"oci-archive:{tmp_path / 'out.tar'}:{NAME}",
    ]
    for target in targets:
        inspected = subprocess.run(
            [skopeo, "inspect", "--raw", target], check=True, capture_output=True
        )
        assert "config" in json.loads(inspected.stdout)
        copy = tmp_path / f"copy-{len(list(tmp_path.glob('copy-*')))}"
        subprocess.run([skopeo, "copy", "--quiet", target, f"oci:{copy}:x"], check=True)
    for directory in ("store", "out-layout"):
        listed = subprocess.run(
            [umoci, "ls", "--layout", str(tmp_path / directory)],
            check=True,
            capture_output=True,
            text=True,
        )
        assert listed.stdout.split() == [NAME]


def test_referrers_only_as_blobs_are_found(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    """oras attach into a layout whose index.json another tool rewrote: the SBOM and its
    signature are blobs no entry lists; from a layout, a seekable archive and a pipe."""
    layout = skopeo_layout(tmp_path / "layout")
    sbom = layout.attach(layout.entry(NAME), SPDX, b"{}", listed=False)
    signature = layout.attach(sbom, NOTATION, b"sig", listed=False)
    archive = tar_layout(layout.path, tmp_path / "layout.tar")
    expected = {sbom["digest"], signature["digest"]}
    for position, source in enumerate(
        [f"oci:{layout.path}", str(archive), io.BytesIO(archive.read_bytes())]
    ):
        store = open_at(tmp_path / f"store-{position}", pm)
        if isinstance(source, io.BytesIO):
            source = _Pipe(source)  # type: ignore[assignment]
        result = store.import_image(source)  # type: ignore[arg-type]
        assert digests(result.referrers) == expected, source


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, as a pipe."""

    def __init__(self, inner: io.BytesIO) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def test_cosign_tags_are_referrers_not_images(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    layout = skopeo_layout(tmp_path / "layout")
    image = layout.entry(NAME)
    signature = layout.cosign_sign(image)
    tag = image["digest"].replace(":", "-") + ".sig"

    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{layout.path}")
    assert [i.name for i in result.images] == [NAME]
    assert digests(result.referrers) == {signature["digest"]}
    listed = store.referrers(NAME)
    assert [str(d.digest) for d in listed] == [signature["digest"]]
    assert listed[0].artifact_type == "application/vnd.oci.image.config.v1+json"
    assert store.verify_images() == []

    out = tmp_path / "out"
    store.export_images([NAME], f"oci:{out}")
    entry = Layout(out).entry(tag)  # written back under cosign's tag
    assert entry["digest"] == signature["digest"]
    inspected = subprocess.run(  # where cosign and skopeo look for it
        [need_tool("skopeo"), "inspect", "--raw", f"oci:{out}:{tag}"],
        check=True,
        capture_output=True,
    )
    assert hashlib.sha256(inspected.stdout).hexdigest() == signature["digest"][7:]
    again = open_at(tmp_path / "again", pm)
    assert digests(again.import_image(f"oci:{out}").referrers) == {signature["digest"]}
    assert [i.name for i in again.images()] == [NAME]


def test_referrers_tag_schema_index_lists_referrers(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    """A registry without the referrers API keeps an index of a subject's referrers
    tagged ``sha256-<hex>`` (distribution-spec); copied to a layout it is an entry."""
    layout = skopeo_layout(tmp_path / "layout")
    image = layout.entry(NAME)
    sbom = layout.attach(image, SPDX, b"{}", listed=False)
    fallback = {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [{**sbom, "artifactType": SPDX}],
    }
    desc = layout.put(dump(fallback), INDEX)
    tag = image["digest"].replace(":", "-")
    layout.add_entry(
        {**desc, "annotations": {"org.opencontainers.image.ref.name": tag}}
    )
    # A manifest under such a tag lists nothing: it is an image like any other.
    odd = "sha256-" + "f" * 64
    layout.add_entry(
        {**image, "annotations": {"org.opencontainers.image.ref.name": odd}}
    )
    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{layout.path}")
    assert [i.name for i in result.images] == [NAME, f"{BASE_NAME}:{odd}"]
    assert digests(result.referrers) == {sbom["digest"]}


def test_no_referrers(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    layout, _, _ = signed
    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{layout.path}", referrers=False)
    assert result.referrers == []
    assert "2 referrer(s) not imported (--no-referrers)" in result.notes
    assert store.referrers(NAME) == []
    store.import_image(f"oci:{layout.path}")
    exported = store.export_images([NAME], f"oci:{tmp_path / 'out'}", referrers=False)
    assert exported.referrers == []
    assert unnamed_entries(Layout(tmp_path / "out").index) == []


def test_artifact_type_filter(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    """--artifact-type picks the image's direct referrers; the SBOM's signature
    comes with the SBOM."""
    layout, sbom, signature = signed
    vex = layout.attach(layout.entry(NAME), "application/vex+json", b"{}")
    store = open_at(tmp_path / "store", pm)
    store.import_image(f"oci:{layout.path}")
    assert digests(store.referrers(NAME)) == {sbom["digest"], vex["digest"]}
    assert digests(store.referrers(NAME, artifact_types=[SPDX])) == {sbom["digest"]}
    exported = store.export_images(
        [NAME], f"oci:{tmp_path / 'out'}", artifact_types=[SPDX]
    )
    assert digests(exported.referrers) == {sbom["digest"], signature["digest"]}


def test_referrers_of_unknown_image(tmp_path: Path, pm: pluggy.PluginManager) -> None:
    store = open_at(tmp_path / "store", pm)
    with pytest.raises(ImageNotFoundError):
        store.referrers("example.com/none:1")
    with pytest.raises(InvalidDigestError):
        store.referrers("sha256:abc")


def test_gc_keeps_referrers_of_named_images_only(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    skopeo = need_tool("skopeo")
    layout, sbom, signature = signed
    store = open_at(tmp_path / "store", pm)
    store.import_image(f"oci:{layout.path}")
    store.import_image(f"oci:{layout.path}:{NAME}", naming=None)
    store.tag(NAME, "example.com/app:other")
    store.remove([NAME])
    assert store.gc(grace=0).referrers_removed == 0  # still named: other
    assert digests(store.referrers("example.com/app:other")) == {sbom["digest"]}

    store.remove(["example.com/app:other"])
    assert store.gc(grace=0, dry_run=True).referrers_removed == 2
    result = store.gc(grace=0)
    assert result.referrers_removed == 2
    removed = {str(d) for d in result.removed}
    assert {sbom["digest"], signature["digest"], EMPTY_DIGEST} <= removed
    assert store.content.read_index() == ()
    assert list(store.content.walk()) == []
    # The store is still a layout skopeo reads (no dangling entry).
    store.import_image(f"oci:{layout.path}")
    subprocess.run(
        [skopeo, "inspect", "--raw", f"oci:{tmp_path / 'store'}:{NAME}"],
        check=True,
        capture_output=True,
    )


def test_gc_keeps_a_signature_of_a_kept_sbom_only(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    """An orphan signature (its SBOM gone) goes; the image and the SBOM stay."""
    layout, sbom, signature = signed
    store = open_at(tmp_path / "store", pm)
    store.import_image(f"oci:{layout.path}")
    store.content.update_index(
        lambda entries: [e for e in entries if str(e.digest) != sbom["digest"]]
    )
    result = store.gc(grace=0)
    assert result.referrers_removed == 1
    assert signature["digest"] in {str(d) for d in result.removed}
    assert store.referrers(NAME) == []
    assert [i.name for i in store.images()] == [NAME]
    assert store.verify_images() == []


def test_a_long_chain_of_referrers_is_kept_and_collected(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    """A signature of a signature of ... of an image, 40 deep: gc walks subjects one
    after another (no nesting limit of indexes applies), keeps the chain while the
    image is named and removes all of it once it is not."""
    layout = skopeo_layout(tmp_path / "layout")
    chain = [layout.entry(NAME)]
    for position in range(40):
        chain.append(layout.attach(chain[-1], NOTATION, b"sig-%d" % position))
    store = open_at(tmp_path / "store", pm)
    assert len(store.import_image(f"oci:{layout.path}").referrers) == 40

    kept = store.gc(grace=0)
    assert (kept.referrers_removed, kept.removed) == (0, [])
    assert digests(store.referrers(chain[-2]["digest"])) == {chain[-1]["digest"]}
    assert store.verify_images() == []
    exported = store.export_images([NAME], str(tmp_path / "out.tar"))
    assert len(exported.referrers) == 40

    store.remove([NAME])
    gone = store.gc(grace=0)
    assert gone.referrers_removed == 40
    assert {d["digest"] for d in chain} <= {str(d) for d in gone.removed}
    assert store.content.read_index() == ()


def test_a_named_referrer_is_listed_and_exported_with_its_subject(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    """An SBOM that also has a name is still a referrer of its image, as the
    referrers API lists every manifest with that subject, tagged or not."""
    layout, sbom, signature = signed
    layout.add_entry(
        {**sbom, "annotations": {"org.opencontainers.image.ref.name": "sbom:v1"}}
    )
    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{layout.path}")
    assert sorted(i.name for i in result.images) == [NAME, "sbom:v1"]
    listed = store.referrers(NAME)
    assert [str(d.digest) for d in listed] == [sbom["digest"]]
    assert listed[0].artifact_type == SPDX and listed[0].ref_name is None
    assert digests(store.referrers("sbom:v1")) == {signature["digest"]}

    archive = tmp_path / "out.tar"
    exported = store.export_images([NAME], str(archive))
    assert digests(exported.referrers) == {sbom["digest"], signature["digest"]}
    elsewhere = open_at(tmp_path / "elsewhere", pm)
    again = elsewhere.import_image(str(archive))
    assert [i.name for i in again.images] == [NAME]
    assert digests(elsewhere.referrers(NAME)) == {sbom["digest"]}
    assert store.gc(grace=0).removed == []


def test_a_referrer_entry_written_twice_is_listed_once(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    """Another tool appended the SBOM's entry to the store's index.json again (once
    with other annotations): the referrers API lists each manifest once."""
    layout, sbom, _ = signed
    store = open_at(tmp_path / "store", pm)
    store.import_image(f"oci:{layout.path}")
    store_layout = Layout(tmp_path / "store")
    entry = next(
        e for e in store_layout.index["manifests"] if e["digest"] == sbom["digest"]
    )
    store_layout.add_entry(entry)
    store_layout.add_entry({**entry, "annotations": {"x": "y"}})
    listed = store.referrers(NAME)
    assert [str(d.digest) for d in listed] == [sbom["digest"]]
    assert len(referrers_index(listed).manifests) == 1
    text = run_cli(tmp_path, "images", "referrers", NAME)
    assert text.returncode == 0, text.stderr
    assert len(text.stdout.splitlines()) == 1
    assert len(store.export_images([NAME], str(tmp_path / "o.tar")).referrers) == 2


def test_referrers_of_an_image_the_store_has_are_imported_alone(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    """A layout holding only an SBOM and its signature (delivered apart from the image,
    already in the store): both are imported and listed; a referrer of a manifest the
    store lacks is still left out with a note."""
    image = skopeo_layout(tmp_path / "image").entry(NAME)
    store = open_at(tmp_path / "store", pm)
    store.import_image(f"oci:{tmp_path / 'image'}")
    only = Layout(tmp_path / "only")
    (only.path / "blobs" / "sha256").mkdir(parents=True)
    (only.path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (only.path / "index.json").write_bytes(dump({"schemaVersion": 2, "manifests": []}))
    sbom = only.attach(image, SPDX, b'{"spdxVersion":"SPDX-2.3"}')
    signature = only.attach(sbom, NOTATION, b"sig")
    stranger = {"mediaType": MANIFEST, "digest": "sha256:" + "0" * 64, "size": 9}
    only.attach(stranger, SPDX, b"{}")

    result = store.import_image(f"oci:{only.path}")
    assert result.images == []
    assert digests(result.referrers) == {sbom["digest"], signature["digest"]}
    assert any("1 referrer(s)" in note for note in result.notes)
    assert digests(store.referrers(NAME)) == {sbom["digest"]}
    assert store.gc(grace=0).removed == []
    assert store.verify_images() == []


def test_gc_removes_the_entry_of_a_referrer_whose_manifest_was_deleted(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
) -> None:
    """Deleted by hand: verify names it, gc removes the entry and the blobs only it
    held, and the store verifies again (no command could remove the entry else)."""
    layout, sbom, signature = signed
    store = open_at(tmp_path / "store", pm)
    store.import_image(f"oci:{layout.path}")
    store.content.delete(ociport_digest(signature))
    problems = store.verify_images()
    assert [name for name, _ in problems] == [f"referrer {signature['digest']}"]

    assert store.gc(grace=0, dry_run=True).referrers_removed == 1
    result = store.gc(grace=0)
    assert result.referrers_removed == 1
    assert digests(store.referrers(sbom["digest"])) == set()
    assert store.verify_images() == [] and store.verify() == []
    assert digests(store.referrers(NAME)) == {sbom["digest"]}


def test_layout_and_archive_agree_on_unnamed_entries(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    """Referrers follow their subject; another unnamed root is an image named by its
    digest, with a note, whichever the format."""
    layout = skopeo_layout(tmp_path / "layout")
    sbom = layout.attach(layout.entry(NAME), SPDX, b"{}")
    other = FsspecContentStore(Location.from_url(str(layout.path)))
    extra = random_image(other, seed=7)
    layout.add_entry(extra.to_json())
    archive = tar_layout(layout.path, tmp_path / "layout.tar")
    seen = []
    for position, source in enumerate([f"oci:{layout.path}", str(archive)]):
        store = open_at(tmp_path / f"store-{position}", pm)
        result = store.import_image(source)
        names = sorted(i.name for i in result.images)
        assert names[0] == NAME and names[1].endswith(f"@{extra.digest}")
        assert any(f"image {extra.digest} has no name" in n for n in result.notes)
        assert digests(result.referrers) == {sbom["digest"]}
        seen.append((names, sorted(digests(result.referrers))))
    assert seen[0] == seen[1]


def test_referrer_with_missing_content_is_left_with_a_note(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    layout = skopeo_layout(tmp_path / "layout")
    sbom = layout.attach(layout.entry(NAME), SPDX, b"lost")
    (layout.path / "blobs" / "sha256" / hashlib.sha256(b"lost").hexdigest()).unlink()
    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{layout.path}")
    assert [i.name for i in result.images] == [NAME]
    assert result.referrers == []
    assert any(n.startswith(f"referrer {sbom['digest']}") for n in result.notes)


def test_ref_selects_one_image_and_its_referrers(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    layout = skopeo_layout(tmp_path / "layout")
    skopeo_layout(tmp_path / "layout", "example.com/app:v2")
    first = layout.attach(layout.entry(NAME), SPDX, b"{}")
    # The same example image under two names: one SBOM serves both.
    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{layout.path}:example.com/app:v2")
    assert [i.name for i in result.images] == ["example.com/app:v2"]
    assert digests(result.referrers) == {first["digest"]}


# -- multi-platform: buildx attestations, platform-filtered exports ----------------------


def buildx_index(tmp_path: Path) -> tuple[Layout, dict[str, Any], dict[str, str]]:
    """A layout holding a two-platform index with a buildx attestation manifest per
    platform, named NAME; returns it, the index entry and the platform manifests'
    digests by platform."""
    path = tmp_path / "multi"
    content = FsspecContentStore(Location.from_url(str(path)))
    layout = Layout(path)
    base = random_image(content, platforms=["linux/amd64", "linux/arm64"], seed=3)
    index = json.loads((path / "blobs" / "sha256" / base.digest.encoded).read_bytes())
    children = list(index["manifests"])
    by_platform = {}
    for child in index["manifests"]:
        platform = f"{child['platform']['os']}/{child['platform']['architecture']}"
        by_platform[platform] = child["digest"]
        statement = dump({"_type": "https://in-toto.io/Statement/v0.1"})
        layer = layout.put(statement, "application/vnd.in-toto+json")
        layer["annotations"] = {
            "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"
        }
        config = {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": layout.put(
                dump(config), "application/vnd.oci.image.config.v1+json"
            ),
            "layers": [layer],
        }
        desc = layout.put(dump(manifest), MANIFEST)
        children.append(
            {
                **desc,
                "annotations": {
                    "vnd.docker.reference.digest": child["digest"],
                    "vnd.docker.reference.type": "attestation-manifest",
                },
                "platform": {"architecture": "unknown", "os": "unknown"},
            }
        )
    root = layout.put(dump({**index, "manifests": children}), INDEX)
    (path / "index.json").write_bytes(
        dump(
            {
                "schemaVersion": 2,
                "mediaType": INDEX,
                "manifests": [
                    {**root, "annotations": {"org.opencontainers.image.ref.name": NAME}}
                ],
            }
        )
    )
    return layout, root, by_platform


def test_platform_filtered_export_carries_the_referrers_of_the_platforms_kept(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    layout, root, by_platform = buildx_index(tmp_path)
    amd = {"mediaType": MANIFEST, "digest": by_platform["linux/amd64"], "size": 0}
    arm = {"mediaType": MANIFEST, "digest": by_platform["linux/arm64"], "size": 0}
    sizes = {
        e["digest"]: e["size"]
        for e in json.loads(
            (layout.path / "blobs" / "sha256" / root["digest"][7:]).read_bytes()
        )["manifests"]
    }
    amd["size"], arm["size"] = sizes[amd["digest"]], sizes[arm["digest"]]
    amd_sbom = layout.attach(amd, SPDX, b'{"arch":"amd64"}')
    arm_sbom = layout.attach(arm, SPDX, b'{"arch":"arm64"}')
    index_signature = layout.attach(root, NOTATION, b"sig")

    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{layout.path}")
    assert digests(result.referrers) == {
        amd_sbom["digest"],
        arm_sbom["digest"],
        index_signature["digest"],
    }
    assert digests(store.referrers(NAME)) == {index_signature["digest"]}
    assert digests(store.referrers(amd["digest"])) == {amd_sbom["digest"]}

    exported = store.export_images(
        [NAME], f"oci:{tmp_path / 'amd'}", platforms=["linux/amd64"]
    )
    # The filtered index is new: the index's signature stays behind.
    assert digests(exported.referrers) == {amd_sbom["digest"]}
    again = open_at(tmp_path / "again", pm)
    imported = again.import_image(f"oci:{tmp_path / 'amd'}")
    assert digests(imported.referrers) == {amd_sbom["digest"]}
    graph = again.inspect(NAME)
    kinds = sorted(m["platform"] or "" for m in graph["manifests"])
    assert kinds == ["linux/amd64", "unknown/unknown"]  # the attestation came along

    whole = store.export_images([NAME], str(tmp_path / "all.tar"))
    assert len(whole.referrers) == 3


# -- CLI ------------------------------------------------------------------------------


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    return subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ociport"),
            "--store",
            str(tmp_path / "store"),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_cli_images_referrers(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    layout, sbom, signature = signed
    imported = run_cli(tmp_path, "import", "--json", f"oci:{layout.path}")
    assert imported.returncode == 0, imported.stderr
    assert len(json.loads(imported.stdout)["referrers"]) == 2

    text = run_cli(tmp_path, "images", "referrers", NAME)
    assert text.returncode == 0, text.stderr
    digest, artifact_type, size, annotations = text.stdout.strip().split("\t")
    assert (digest, artifact_type, int(size)) == (sbom["digest"], SPDX, sbom["size"])
    assert annotations == "org.opencontainers.image.created=2024-05-01T10:00:00Z"

    as_json = run_cli(tmp_path, "images", "referrers", "--json", sbom["digest"])
    index = json.loads(as_json.stdout)
    assert index["mediaType"] == INDEX and index["schemaVersion"] == 2
    assert [m["digest"] for m in index["manifests"]] == [signature["digest"]]
    assert index["manifests"][0]["artifactType"] == NOTATION
    assert "annotations" not in index

    filtered = json.loads(
        run_cli(
            tmp_path, "images", "referrers", "--json", "--artifact-type", "x/y", NAME
        ).stdout
    )
    assert filtered["manifests"] == []
    assert filtered["annotations"] == {ANNOTATION_FILTERS_APPLIED: "artifactType"}

    ls = run_cli(tmp_path, "images", "ls", "-q")
    assert ls.stdout.split() == [NAME]

    missing = run_cli(tmp_path, "images", "referrers", "example.com/none:1")
    assert missing.returncode != 0
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "Traceback" not in missing.stderr


def test_cli_import_export_no_referrers(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    layout, _, _ = signed
    imported = run_cli(tmp_path, "import", "--no-referrers", f"oci:{layout.path}")
    assert imported.returncode == 0, imported.stderr
    assert "2 referrer(s) not imported (--no-referrers)" in imported.stderr
    assert run_cli(tmp_path, "images", "referrers", NAME).stdout == ""
    again = run_cli(tmp_path, "import", f"oci:{layout.path}")
    assert again.returncode == 0, again.stderr
    assert "note: 2 referrer(s) (signatures, SBOMs, attestations) imported" in (
        again.stderr
    )
    out = tmp_path / "out.tar"
    exported = run_cli(tmp_path, "export", "--json", str(out), NAME)
    assert len(json.loads(exported.stdout)["referrers"]) == 2
    bare = run_cli(tmp_path, "export", "--json", "--no-referrers", str(out), NAME)
    assert json.loads(bare.stdout)["referrers"] == []
    both = run_cli(
        tmp_path, "export", "--no-referrers", "--artifact-type", SPDX, str(out), NAME
    )
    assert both.returncode == 2 and "exclude each other" in both.stderr


def test_cli_docker_archive_says_referrers_are_left_out(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    layout, _, _ = signed
    assert run_cli(tmp_path, "import", f"oci:{layout.path}").returncode == 0
    exported = run_cli(
        tmp_path, "export", "--json", f"docker-archive:{tmp_path / 'd.tar'}", NAME
    )
    if exported.returncode != 0 and "plugin" in exported.stderr:
        pytest.skip("the docker-archive plugin is not installed")
    assert exported.returncode == 0, exported.stderr
    notes = json.loads(exported.stdout)["notes"]
    assert any("2 referrer(s)" in n and "cannot hold them" in n for n in notes)


# -- a real layout with referrers, when the public corpus is there ----------------------


@pytest.mark.corpus
def test_regclient_testrepo(tmp_path: Path, pm: pluggy.PluginManager) -> None:
    """regclient's test repository: tagged artifacts, unnamed SBOMs of v3, a
    referrers-tag index; v3 comes with its two SBOMs."""
    source = PUBLIC / "regclient" / "testrepo"
    if not source.is_dir():
        pytest.skip("the public fixture corpus is not there")
    copy = tmp_path / "testrepo"
    shutil.copytree(source, copy)
    store = open_at(tmp_path / "store", pm)
    result = store.import_image(f"oci:{copy}:v3")
    assert result.images[0].name.endswith(":v3")
    sboms = store.referrers(
        result.images[0].name, artifact_types=["application/example.sbom"]
    )
    assert len(sboms) >= 2
    assert store.verify_images() == []


# -- the OCI rules, on their own --------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("sha256-" + "a" * 64 + ".sig", ("sha256:" + "a" * 64, ".sig")),
        ("sha256-" + "b" * 64 + ".att", ("sha256:" + "b" * 64, ".att")),
        ("sha256-" + "c" * 64 + ".sbom", ("sha256:" + "c" * 64, ".sbom")),
        ("sha256-" + "d" * 64, ("sha256:" + "d" * 64, "")),
        ("sha512-" + "e" * 128 + ".sig", ("sha512:" + "e" * 128, ".sig")),
        ("sha256-" + "a" * 63 + ".sig", None),  # too short
        ("sha256-" + "A" * 64 + ".sig", None),  # upper case
        ("sha256-" + "a" * 64 + ".meta", None),
        ("v1.0", None),
        ("example.com/app:sha256-" + "a" * 64 + ".sig", None),
        (None, None),
    ],
)
def test_parse_link_tag(tag: str | None, expected: tuple[str, str] | None) -> None:
    link = parse_link_tag(tag)
    if expected is None:
        assert link is None
    else:
        assert link is not None
        assert (str(link.subject), link.suffix) == expected
        assert link.is_referrers_index == (expected[1] == "")


def _referrer(n: int, subject: int, artifact_type: str = SPDX) -> Referrer:
    desc = Descriptor(MANIFEST, Digest.of(b"%d" % n), 10, artifact_type=artifact_type)
    return Referrer(desc, Digest.of(b"%d" % subject))


def test_follow_referrers_recursively_with_a_filter() -> None:
    image = Digest.of(b"0")
    sbom, signature = _referrer(1, 0), _referrer(2, 1, NOTATION)
    vex, loop_a, loop_b = (
        _referrer(3, 0, "application/vex+json"),
        _referrer(4, 5),
        _referrer(5, 4),
    )
    reached = {image}
    taken = follow_referrers(
        reached,
        [signature, loop_a, vex, sbom, loop_b],  # a signature listed before its SBOM
        lambda r: {r.descriptor.digest},
        [SPDX],
    )
    assert taken == [sbom, signature]
    assert reached == {image, sbom.descriptor.digest, signature.descriptor.digest}
    incomplete = follow_referrers({image}, [sbom, signature], lambda r: None)
    assert incomplete == []


def test_referrers_index_and_export_entry() -> None:
    tagged = Descriptor(
        MANIFEST,
        Digest.of(b"s"),
        5,
        annotations={ANNOTATION_REFERRER_TAG: "sha256-" + "a" * 64 + ".sig", "k": "v"},
        artifact_type="application/vnd.oci.image.config.v1+json",
    )
    index = json.loads(referrers_index([tagged]).raw)
    assert index == {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [
            {
                "mediaType": MANIFEST,
                "digest": str(tagged.digest),
                "size": 5,
                "annotations": {"k": "v"},
                "artifactType": "application/vnd.oci.image.config.v1+json",
            }
        ],
    }
    filtered = json.loads(referrers_index([], [SPDX]).raw)
    assert filtered["annotations"] == {ANNOTATION_FILTERS_APPLIED: "artifactType"}
    written = export_entry(tagged)
    assert written.ref_name == "sha256-" + "a" * 64 + ".sig"
    assert ANNOTATION_REFERRER_TAG not in written.annotations


# -- any store, no external tool -------------------------------------------------------


def test_referrers_in_any_store(
    store: ociport.ImageStore, tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    """The same flow into a local and an in-memory store, from a layout built here."""
    path = tmp_path / "layout"
    image = random_image(FsspecContentStore(Location.from_url(str(path))), seed=11)
    layout = Layout(path)
    layout.add_entry(
        image.with_annotations({"org.opencontainers.image.ref.name": NAME}).to_json()
    )
    sbom = layout.attach(image.to_json(), SPDX, b"{}")
    signature = layout.attach(sbom, NOTATION, b"sig")
    result = store.import_image(f"oci:{path}")
    assert digests(result.referrers) == {sbom["digest"], signature["digest"]}
    assert digests(store.referrers(NAME)) == {sbom["digest"]}
    assert store.gc(grace=0).removed == []
    assert store.verify_images() == []
    store.remove([NAME])
    assert store.gc(grace=0).referrers_removed == 2
    assert store.content.read_index() == ()


def test_export_into_an_existing_layout_twice_lists_each_referrer_once(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    layout = skopeo_layout(tmp_path / "layout")
    image = layout.entry(NAME)
    layout.attach(image, SPDX, b"{}")
    layout.cosign_sign(image)
    store = open_at(tmp_path / "store", pm)
    store.import_image(f"oci:{layout.path}")
    out = tmp_path / "out"
    store.export_images([NAME], f"oci:{out}")
    first = Layout(out).index["manifests"]
    store.export_images([NAME], f"oci:{out}")
    again = Layout(out).index["manifests"]
    assert len(first) == 3
    assert sorted(map(json.dumps, again)) == sorted(map(json.dumps, first))


def test_inspect_marks_referrers(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]], pm: pluggy.PluginManager
) -> None:
    layout, sbom, signature = signed
    records = ociport.inspect_source(f"oci:{layout.path}", pm=pm)
    subjects = {r["descriptor"]["digest"]: r.get("subject") for r in records}
    assert subjects[sbom["digest"]] == layout.entry(NAME)["digest"]
    assert subjects[signature["digest"]] == sbom["digest"]
    assert subjects[layout.entry(NAME)["digest"]] is None


def test_cli_gc_and_verify_name_referrers(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    layout, _, _ = signed
    assert run_cli(tmp_path, "import", f"oci:{layout.path}").returncode == 0
    blob = (
        tmp_path
        / "store"
        / "blobs"
        / "sha256"
        / hashlib.sha256(b"signature-bytes").hexdigest()
    )
    blob.unlink()
    verify = run_cli(tmp_path, "content", "verify", "--json")
    assert verify.returncode != 0
    incomplete = json.loads(verify.stdout)["incomplete"]
    assert any("referrer sha256:" in json.dumps(item) for item in incomplete)
    assert run_cli(tmp_path, "images", "rm", NAME).returncode == 0
    gc = run_cli(tmp_path, "content", "gc", "--json", "--grace", "0")
    assert gc.returncode == 0, gc.stderr
    assert json.loads(gc.stdout)["removed"]["referrers"] == 2


def test_referrers_in_a_store_and_a_layout_on_s3(
    signed: tuple[Layout, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    pm: pluggy.PluginManager,
    s3_server: Any,
    moto_bucket: str,
) -> None:
    """A store on S3 records, lists and collects referrers; a layout exported to S3
    (listed with one request per blob folder) imports again with them."""
    layout, sbom, signature = signed
    options = {"endpoint_url": s3_server.endpoint}
    store = ociport.open_store(
        f"s3://{moto_bucket}/store", storage_options=options, pm=pm
    )
    store.import_image(f"oci:{layout.path}")
    assert digests(store.referrers(NAME)) == {sbom["digest"]}
    store.export_images(
        [NAME], f"oci:s3://{moto_bucket}/layout", storage_options=options
    )
    local = open_at(tmp_path / "local", pm)
    again = local.import_image(
        f"oci:s3://{moto_bucket}/layout", storage_options=options
    )
    assert digests(again.referrers) == {sbom["digest"], signature["digest"]}
    # Only as blobs: found by listing the layout's blobs on S3.
    s3 = Location.from_url(f"s3://{moto_bucket}/layout", options)
    index = json.loads(s3.fs.cat_file(s3.join("index.json").path))
    index["manifests"] = [
        m for m in index["manifests"] if m not in unnamed_entries(index)
    ]
    assert len(index["manifests"]) == 1
    s3.fs.pipe_file(s3.join("index.json").path, dump(index))
    blobs_only = open_at(tmp_path / "blobs-only", pm).import_image(
        f"oci:s3://{moto_bucket}/layout", storage_options=options
    )
    assert digests(blobs_only.referrers) == {sbom["digest"], signature["digest"]}
    store.remove([NAME])
    assert store.gc(grace=0).referrers_removed == 2
    assert store.content.read_index() == ()
