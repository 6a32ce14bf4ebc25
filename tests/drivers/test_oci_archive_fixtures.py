"""oci-archive import/export against real archives, checked by skopeo, umoci and
oci-image-tool: the tool fixtures (``TOOL``, written by the tools themselves; see
``tests/fixtures/make-tool-fixtures.sh``) and, where it is present, the external corpus
(``PUBLIC``; those cases are marked ``corpus``).

Expected names, root digests and blob sets are derived here from each fixture's own
``index.json`` and blobs (read with :mod:`tarfile`), never copied from ociport's output.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import platform
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ociport
from helpers import PUBLIC, TOOL, need_tool, snapshot
from ociport import FormatError, ImportNaming, MissingContentError

IMAGE_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"
BASE = "example.org/imported"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = {OCI_INDEX, DOCKER_LIST}
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"

TOOL_ARCHIVES = [
    TOOL / "sample.oci-archive.tar",
    TOOL / "multiarch.oci-archive.tar",
    *sorted((TOOL / "ctr").glob("*.ctr.tar")),
]
PUBLIC_ARCHIVES = [
    *sorted((PUBLIC / "podman").glob("oci-*.tar.gz")),
    *sorted((PUBLIC / "dive").glob("test-oci-*.tar")),
    PUBLIC / "stereoscope" / "valid-oci.tar",
    PUBLIC / "oras-go" / "hello-world.tar",
    PUBLIC / "oras-go" / "hello-world-prefixed-path.tar",
]
VALID_ARCHIVES = TOOL_ARCHIVES + PUBLIC_ARCHIVES
SAMPLE = TOOL / "sample.oci-archive.tar"
MULTIARCH = TOOL / "multiarch.oci-archive.tar"
PARTIAL = TOOL / "ctr" / "multiarch-default-platform.ctr.tar"
NESTED = TOOL / "ctr" / "nested-index.ctr.tar"
HELLO = PUBLIC / "oras-go" / "hello-world.tar"
HOST_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
}.get(platform.machine().lower())


def _ids(path: Path) -> str:
    return path.name


# -- reading a fixture independently of ociport ----------------------------------------


@dataclass
class Archive:
    """What a fixture archive holds, read with the standard library."""

    index_raw: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def entries(self) -> list[dict[str, Any]]:
        return json.loads(self.index_raw)["manifests"] or []

    def doc(self, digest: str) -> dict[str, Any]:
        return json.loads(self.blobs[digest])

    def needed(
        self, roots: list[dict[str, Any]], want: tuple[str, str] | None = None
    ) -> tuple[set[str], list[str]]:
        """Digests reachable from ``roots`` and present, and the absent index children.

        :param want: ``(os, architecture)``: only manifests of that platform.
        """
        seen: set[str] = set()
        missing: list[str] = []

        def visit(desc: dict[str, Any]) -> None:
            if desc["digest"] in seen:
                return
            seen.add(desc["digest"])
            doc = self.doc(desc["digest"])
            if "manifests" in doc:
                for child in doc["manifests"]:
                    plat = child.get("platform")
                    if (
                        want
                        and child["mediaType"] not in INDEX_TYPES
                        and (plat is None or (plat["os"], plat["architecture"]) != want)
                    ):
                        continue
                    if child["digest"] in self.blobs:
                        visit(child)
                    else:
                        missing.append(child["digest"])
                return
            for blob in [doc["config"], *doc.get("layers", [])]:
                assert blob["digest"] in self.blobs, "fixture itself is incomplete"
                seen.add(blob["digest"])

        for root in roots:
            visit(root)
        return seen, missing


def _open_tar(path: Path | bytes) -> tarfile.TarFile:
    if isinstance(path, bytes):
        return tarfile.open(fileobj=io.BytesIO(path))
    return tarfile.open(path, "r:*")


def read_archive(path: Path | bytes) -> Archive:
    """The index.json and blobs of an archive (a path, maybe compressed, or bytes)."""
    index_raw = b""
    blobs: dict[str, bytes] = {}
    with _open_tar(path) as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name.removeprefix("./")
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if name == "index.json":
                index_raw = data
            elif name.startswith("blobs/"):
                _, algorithm, encoded = name.split("/")
                blobs[f"{algorithm}:{encoded}"] = data
    return Archive(index_raw, blobs)


def ctr_name(entry: dict[str, Any], base: str = BASE) -> str:
    """The store name ``ctr images import`` rules give an index.json entry."""
    annotations = entry.get("annotations") or {}
    if annotations.get(IMAGE_NAME):
        return str(annotations[IMAGE_NAME])
    ref_name = annotations.get(REF_NAME)
    if ref_name and not any(c in ref_name for c in "/:@"):
        return f"{base}:{ref_name}"
    if ref_name:
        return str(ref_name)
    return f"{base}@{entry['digest']}"


def store_digests(store: ociport.ImageStore) -> set[str]:
    return {str(info.digest) for info in store.content.walk()}


def member_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


# -- import: names, digests, content ---------------------------------------------------


@pytest.mark.parametrize("path", VALID_ARCHIVES, ids=_ids)
def test_import_names_roots_and_content(store: ociport.ImageStore, path: Path) -> None:
    archive = read_archive(path)
    result = store.import_image(str(path), naming=ImportNaming(base_name=BASE))

    expected = [(ctr_name(e), e["digest"]) for e in archive.entries]
    assert [(i.name, str(i.target.digest)) for i in result.images] == expected
    assert {(i.name, str(i.target.digest)) for i in store.images()} == set(expected)
    for image, entry in zip(result.images, archive.entries, strict=True):
        assert image.target.media_type == entry["mediaType"]
        assert image.target.size == entry["size"] == len(archive.blobs[entry["digest"]])
        assert (
            hashlib.sha256(archive.blobs[entry["digest"]]).hexdigest()
            == entry["digest"][7:]
        )

    unnamed = [
        e
        for e in archive.entries
        if not {IMAGE_NAME, REF_NAME} & set(e.get("annotations") or {})
    ]
    for entry in unnamed:
        assert any(f"{BASE}@{entry['digest']}" in note for note in result.notes)
    if not unnamed:
        assert result.notes == []

    needed, missing = archive.needed(archive.entries)
    assert store_digests(store) == needed
    assert sorted(str(d.digest) for d, _ in result.missing) == sorted(missing)
    assert result.blobs_committed == len(needed)
    assert result.bytes_committed == sum(len(archive.blobs[d]) for d in needed)
    for digest in needed:
        desc = ociport.Descriptor(
            "", ociport.Digest.parse(digest), len(archive.blobs[digest])
        )
        with store.content.open_blob(desc, verify=True) as stream:
            assert stream.read() == archive.blobs[digest]


@pytest.mark.corpus
def test_partial_multi_platform_reports_missing_children(
    store: ociport.ImageStore,
) -> None:
    # oras-go's hello-world is ctr's single-platform export of an 11-platform list.
    archive = read_archive(HELLO)
    (root,) = archive.entries
    children = archive.doc(root["digest"])["manifests"]
    absent = [c["digest"] for c in children if c["digest"] not in archive.blobs]
    assert len(children) == 11 and len(absent) == 10

    result = store.import_image(str(HELLO))

    assert [i.name for i in result.images] == ["docker.io/library/hello-world:latest"]
    assert sorted(str(d.digest) for d, _ in result.missing) == sorted(absent)
    assert all(str(parent) == root["digest"] for _, parent in result.missing)
    assert {str(d.platform) for d, _ in result.missing} >= {
        "linux/386",
        "linux/arm64/v8",
    }


def test_default_base_name_is_dated(store: ociport.ImageStore) -> None:
    before = datetime.date.today().isoformat()
    result = store.import_image(str(SAMPLE))
    after = datetime.date.today().isoformat()
    assert result.images[0].name in {f"import-{before}:1.0", f"import-{after}:1.0"}


@pytest.mark.corpus
def test_docker_v25_archive_is_not_an_oci_archive(store: ociport.ImageStore) -> None:
    # Docker 25's save of an untagged image: index.json has "manifests": null and only
    # manifest.json points at the image; for oci-archive that is a clear FormatError.
    path = PUBLIC / "ggcr" / "tarball" / "hello-world-v25.tar"
    assert json.loads(read_archive(path).index_raw)["manifests"] is None
    before = snapshot(store)
    with pytest.raises(FormatError, match=r"index\.json"):
        store.import_image(str(path), format="oci-archive")
    assert snapshot(store) == before


# -- platform selection, --index-name, --digests ---------------------------------------


def test_select_one_platform(store: ociport.ImageStore) -> None:
    archive = read_archive(MULTIARCH)
    result = store.import_image(str(MULTIARCH), platforms=["linux/arm64"])
    needed, _ = archive.needed(archive.entries, want=("linux", "arm64"))
    assert [str(i.target.digest) for i in result.images] == [
        archive.entries[0]["digest"]
    ]
    assert store_digests(store) == needed
    children = archive.doc(archive.entries[0]["digest"])["manifests"]
    amd64 = [c["digest"] for c in children if c["platform"]["architecture"] == "amd64"]
    arm64 = [c["digest"] for c in children if c["platform"]["architecture"] == "arm64"]
    assert arm64[0] in needed and amd64[0] not in needed
    assert len(needed) < len(archive.blobs)


def test_all_platforms(store: ociport.ImageStore) -> None:
    archive = read_archive(MULTIARCH)
    store.import_image(str(MULTIARCH), all_platforms=True)
    assert store_digests(store) == set(archive.blobs)


@pytest.mark.parametrize("path", [PARTIAL, HELLO], ids=_ids)
def test_all_platforms_on_partial_index_names_missing_child(
    store: ociport.ImageStore, path: Path
) -> None:
    archive = read_archive(path)
    _, absent = archive.needed(archive.entries)
    before = snapshot(store)
    with pytest.raises(MissingContentError) as caught:
        store.import_image(str(path), all_platforms=True)
    assert str(caught.value.digest) in absent
    assert str(caught.value.digest) in str(caught.value)
    assert snapshot(store) == before


def test_platform_selection_on_partial_index(store: ociport.ImageStore) -> None:
    archive = read_archive(PARTIAL)
    children = archive.doc(archive.entries[0]["digest"])["manifests"]
    present = [c for c in children if c["digest"] in archive.blobs]
    absent = [c for c in children if c["digest"] not in archive.blobs]
    assert len(present) == len(absent) == 1
    have = "{os}/{architecture}".format(**present[0]["platform"])
    lack = "{os}/{architecture}".format(**absent[0]["platform"])

    before = snapshot(store)
    with pytest.raises(MissingContentError) as caught:
        store.import_image(str(PARTIAL), platforms=[lack])
    assert str(caught.value.digest) == absent[0]["digest"]
    assert snapshot(store) == before

    store.import_image(str(PARTIAL), platforms=[have])
    assert present[0]["digest"] in store_digests(store)
    assert store_digests(store) == archive.needed(archive.entries)[0]


@pytest.mark.parametrize("path", [MULTIARCH, NESTED], ids=_ids)
def test_index_name_keeps_whole_index(store: ociport.ImageStore, path: Path) -> None:
    archive = read_archive(path)
    whole = f"sha256:{hashlib.sha256(archive.index_raw).hexdigest()}"
    result = store.import_image(str(path), index_name="example.org/whole:all")
    assert [(i.name, str(i.target.digest)) for i in result.images] == [
        ("example.org/whole:all", whole)
    ]
    assert [i.name for i in store.images()] == ["example.org/whole:all"]
    desc = ociport.Descriptor(
        OCI_INDEX, ociport.Digest.parse(whole), len(archive.index_raw)
    )
    with store.content.open_blob(desc, verify=True) as stream:
        assert stream.read() == archive.index_raw
    needed, _ = archive.needed(archive.entries)
    assert store_digests(store) == needed | {whole}


def test_digest_names(store: ociport.ImageStore) -> None:
    root = read_archive(SAMPLE).entries[0]["digest"]
    result = store.import_image(str(SAMPLE), naming=ImportNaming(BASE, digests=True))
    assert sorted(i.name for i in result.images) == sorted(
        [f"{BASE}:1.0", f"{BASE}@{root}"]
    )
    assert {i.name for i in store.images()} == {f"{BASE}:1.0", f"{BASE}@{root}"}
    assert {str(i.target.digest) for i in store.images()} == {root}


@pytest.mark.corpus
def test_skip_digest_for_named(store: ociport.ImageStore) -> None:
    naming = ImportNaming(BASE, digests=True, skip_digest_for_named=True)
    named = store.import_image(
        str(PUBLIC / "podman" / "oci-registry-name.tar.gz"), naming=naming
    )
    assert [i.name for i in named.images] == ["example.com/empty:latest"]
    unnamed_path = PUBLIC / "podman" / "oci-unnamed.tar.gz"
    root = read_archive(unnamed_path).entries[0]["digest"]
    unnamed = store.import_image(str(unnamed_path), naming=naming)
    assert [i.name for i in unnamed.images] == [f"{BASE}@{root}"]
    assert {i.name for i in store.images()} == {
        "example.com/empty:latest",
        f"{BASE}@{root}",
    }


# -- export and round trips without external tools -------------------------------------


@pytest.mark.parametrize("path", VALID_ARCHIVES, ids=_ids)
def test_round_trip_and_byte_identical_reexport(
    store: ociport.ImageStore, pm: Any, tmp_path: Path, path: Path
) -> None:
    archive = read_archive(path)
    names = unique(
        [
            i.name
            for i in store.import_image(str(path), naming=ImportNaming(BASE)).images
        ]
    )
    first = tmp_path / "first.tar"
    result = store.export_images(names, str(first))
    data = first.read_bytes()

    members = member_names(data)
    assert members[:2] == ["oci-layout", "index.json"]
    exported = read_archive(data)
    needed, missing = archive.needed(archive.entries)
    assert {*exported.blobs} == needed
    assert sorted(str(d.digest) for d, _ in result.missing) == sorted(missing)
    assert [e["digest"] for e in exported.entries] == [
        str(store.get(n).target.digest) for n in names
    ]
    for entry, name in zip(exported.entries, names, strict=True):
        assert entry["annotations"][IMAGE_NAME] == name
        assert entry["annotations"][REF_NAME] == name

    again = io.BytesIO()
    store.export_images(names, again)
    assert again.getvalue() == data

    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=pm)
    reimported = fresh.import_image(str(first))
    assert [(i.name, i.target.digest) for i in reimported.images] == [
        (n, store.get(n).target.digest) for n in names
    ]
    assert store_digests(fresh) == needed
    second = tmp_path / "second.tar"
    fresh.export_images(names, str(second))
    assert second.read_bytes() == data


# -- streams ---------------------------------------------------------------------------


def test_import_from_open_file(store: ociport.ImageStore) -> None:
    archive = read_archive(MULTIARCH)
    with MULTIARCH.open("rb") as stream:
        result = store.import_image(stream, naming=ImportNaming(BASE))
    assert [(i.name, str(i.target.digest)) for i in result.images] == [
        (f"{BASE}:multi", archive.entries[0]["digest"])
    ]
    assert store_digests(store) == set(archive.blobs)


@pytest.mark.parametrize(
    "path", [SAMPLE, PUBLIC / "podman" / "oci-name-only.tar.gz", HELLO], ids=_ids
)
def test_import_from_pipe(store: ociport.ImageStore, path: Path) -> None:
    archive = read_archive(path)
    with subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert not proc.stdout.seekable()
        result = store.import_image(proc.stdout, naming=ImportNaming(BASE))
    assert proc.returncode == 0
    assert [(i.name, str(i.target.digest)) for i in result.images] == [
        (ctr_name(e), e["digest"]) for e in archive.entries
    ]
    assert store_digests(store) == archive.needed(archive.entries)[0]


def test_export_into_bytesio_equals_file(
    store: ociport.ImageStore, tmp_path: Path
) -> None:
    store.import_image(str(NESTED))
    names = [i.name for i in store.images()]
    sink = io.BytesIO()
    store.export_images(names, sink)
    path = tmp_path / "out.tar"
    store.export_images(names, str(path))
    assert sink.getvalue() == path.read_bytes()
    assert {*read_archive(sink.getvalue()).blobs} == set(read_archive(NESTED).blobs)


# -- external tools --------------------------------------------------------------------


def run(*argv: str | Path) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, check=False, timeout=120
    )
    assert done.returncode == 0, f"{argv}: {done.stderr.decode(errors='replace')}"
    return done


def sha256_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def layout_entries(directory: Path) -> list[dict[str, Any]]:
    return json.loads((directory / "index.json").read_bytes())["manifests"]


def layout_blobs(directory: Path) -> set[str]:
    return {f"sha256:{p.name}" for p in (directory / "blobs" / "sha256").iterdir()}


def extract(data: bytes, directory: Path) -> Path:
    directory.mkdir()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(directory, filter="data")
    return directory


def host_child(archive: Archive, index_digest: str) -> dict[str, Any] | None:
    for child in archive.doc(index_digest)["manifests"]:
        plat = child.get("platform") or {}
        if (
            plat.get("os") == "linux"
            and plat.get("architecture") == HOST_ARCH
            and not plat.get("variant")
        ):
            return child
    return None


@pytest.mark.tools
@pytest.mark.parametrize("path", VALID_ARCHIVES, ids=_ids)
def test_skopeo_reads_every_export(
    local_store: ociport.ImageStore, tmp_path: Path, path: Path
) -> None:
    need_tool("skopeo")
    archive = read_archive(path)
    local_store.import_image(str(path), naming=ImportNaming(BASE))
    names = unique([i.name for i in local_store.images()])

    for n, name in enumerate(names):
        root = local_store.get(name).target
        digest = str(root.digest)
        one = tmp_path / f"one-{n}.tar"
        local_store.export_images([name], str(one))
        # With a single index.json entry skopeo takes it whatever its media type.
        raw = run("skopeo", "inspect", "--raw", f"oci-archive:{one}").stdout
        assert sha256_of(raw) == digest

        copy = tmp_path / f"copy-{n}"
        is_index = root.media_type in INDEX_TYPES
        nested = is_index and any(
            c["mediaType"] in INDEX_TYPES for c in archive.doc(digest)["manifests"]
        )
        if nested:
            # skopeo 1.9 cannot copy an index of indexes ("Unexpectedly received a
            # manifest list instead of a manifest for a single image"); inspect above
            # covered the root, and its child index is exported and copied on its own.
            continue
        complete = not is_index or not archive.needed([root.to_json()])[1]
        expected, flags = root.to_json(), ["--all"] if is_index else []
        if is_index and not complete:
            # A partial index cannot be copied with --all (children are absent, as in
            # the source); skopeo copies the host's platform, which must be present.
            child = host_child(archive, digest)
            if child is None or child["digest"] not in archive.blobs:
                continue
            expected, flags = child, []
        run(
            "skopeo",
            "copy",
            "-q",
            "--preserve-digests",
            *flags,
            f"oci-archive:{one}",
            f"oci:{copy}:c",
        )
        assert [e["digest"] for e in layout_entries(copy)] == [expected["digest"]]
        assert layout_blobs(copy) == archive.needed([expected])[0]

    # All images in one archive, found by their full ref names. skopeo 1.9 looks ref
    # names up only among OCI media types: Docker-typed entries were checked above.
    both = tmp_path / "all.tar"
    local_store.export_images(names, str(both))
    for name in names:
        root = local_store.get(name).target
        if root.media_type not in (OCI_MANIFEST, OCI_INDEX):
            continue
        raw = run("skopeo", "inspect", "--raw", f"oci-archive:{both}:{name}").stdout
        assert sha256_of(raw) == str(root.digest)


@pytest.mark.tools
@pytest.mark.parametrize(
    ("path", "tag"),
    [(SAMPLE, "1.0"), (MULTIARCH, "multi")],
    ids=["sample", "multiarch"],
)
def test_skopeo_tag_style_ref_names(
    local_store: ociport.ImageStore, tmp_path: Path, path: Path, tag: str
) -> None:
    need_tool("skopeo")
    root = read_archive(path).entries[0]["digest"]
    (image,) = local_store.import_image(str(path), naming=ImportNaming(BASE)).images
    out = tmp_path / "tag.tar"
    local_store.export_images([image.name], str(out), ref_name_style="tag")
    assert read_archive(out).entries[0]["annotations"][REF_NAME] == tag
    raw = run("skopeo", "inspect", "--raw", f"oci-archive:{out}:{tag}").stdout
    assert sha256_of(raw) == root
    copy = tmp_path / "copy"
    flags = ["--all"] if path == MULTIARCH else []
    run(
        "skopeo",
        "copy",
        "-q",
        "--preserve-digests",
        *flags,
        f"oci-archive:{out}:{tag}",
        f"oci:{copy}:{tag}",
    )
    assert [e["digest"] for e in layout_entries(copy)] == [root]


@pytest.mark.tools
def test_skopeo_reads_the_store(local_store: ociport.ImageStore) -> None:
    need_tool("skopeo")
    local_store.import_image(str(SAMPLE), naming=ImportNaming(BASE))
    local_store.import_image(str(MULTIARCH), naming=ImportNaming(BASE))
    root = local_store.content.location.path
    sample = read_archive(SAMPLE)
    for name, archive in (
        (f"{BASE}:1.0", sample),
        (f"{BASE}:multi", read_archive(MULTIARCH)),
    ):
        raw = run("skopeo", "inspect", "--raw", f"oci:{root}:{name}").stdout
        assert sha256_of(raw) == archive.entries[0]["digest"]
    info = json.loads(run("skopeo", "inspect", f"oci:{root}:{BASE}:1.0").stdout)
    manifest = sample.doc(sample.entries[0]["digest"])
    assert info["Digest"] == sample.entries[0]["digest"]
    assert info["Layers"] == [layer["digest"] for layer in manifest["layers"]]


@pytest.mark.tools
def test_skopeo_written_archive_of_our_export_imports_back(
    local_store: ociport.ImageStore, pm: Any, tmp_path: Path
) -> None:
    need_tool("skopeo")
    root = read_archive(MULTIARCH).entries[0]["digest"]
    local_store.import_image(str(MULTIARCH), naming=ImportNaming(BASE))
    ours = tmp_path / "ours.tar"
    local_store.export_images([f"{BASE}:multi"], str(ours), ref_name_style="tag")
    theirs = tmp_path / "theirs.tar"
    run(
        "skopeo",
        "copy",
        "-q",
        "--all",
        "--preserve-digests",
        f"oci-archive:{ours}:multi",
        f"oci-archive:{theirs}:again",
    )
    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=pm)
    result = fresh.import_image(str(theirs), naming=ImportNaming(BASE))
    assert [(i.name, str(i.target.digest)) for i in result.images] == [
        (f"{BASE}:again", root)
    ]


def _oci_image_tool_supports(archive: Archive, digest: str, depth: int = 0) -> bool:
    if digest not in archive.blobs:
        return False
    doc = archive.doc(digest)
    if "manifests" in doc:
        return (
            depth == 0
            and doc.get("mediaType") == OCI_INDEX
            and all(
                _oci_image_tool_supports(archive, child["digest"], 1)
                for child in doc["manifests"]
            )
        )
    return doc.get("mediaType", OCI_MANIFEST) == OCI_MANIFEST and all(
        layer["mediaType"] != ZSTD_LAYER for layer in doc["layers"]
    )


def _oci_manifests(archive: Archive) -> list[str]:
    """Every OCI image manifest an archive holds that umoci/oci-image-tool can check."""
    found = []
    for digest, data in archive.blobs.items():
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            continue
        if (
            isinstance(doc, dict)
            and doc.get("schemaVersion") == 2
            and doc.get("mediaType", OCI_MANIFEST) == OCI_MANIFEST
            and "config" in doc
            and "layers" in doc
        ):
            found.append(digest)
    return sorted(found)


# Archives holding only Docker media types are left out: neither tool implements them
# (umoci: "not implemented: application/vnd.docker.distribution.manifest.v2+json").
OCI_TYPED_ARCHIVES = [
    p for p in VALID_ARCHIVES if p.exists() and _oci_manifests(read_archive(p))
]


@pytest.mark.tools
@pytest.mark.parametrize("path", OCI_TYPED_ARCHIVES, ids=_ids)
def test_umoci_and_oci_image_tool_accept_extracted_export(
    local_store: ociport.ImageStore, tmp_path: Path, path: Path
) -> None:
    need_tool("umoci")
    need_tool("oci-image-tool")
    local_store.import_image(str(path), naming=ImportNaming(BASE))
    names = unique([i.name for i in local_store.images()])
    sink = io.BytesIO()
    local_store.export_images(names, sink)
    layout = extract(sink.getvalue(), tmp_path / "layout")
    exported = read_archive(sink.getvalue())

    # oci-image-tool 1.0.0-rc1 validates a named root and what it references; it rejects
    # Docker media types, nested indexes, zstd layers ("invalid descriptor MediaType")
    # and an index whose children are partly absent, so only roots without those are
    # given to it by name (the manifests of the others are checked one by one below).
    for name in names:
        if not _oci_image_tool_supports(
            exported, str(local_store.get(name).target.digest)
        ):
            continue
        run(
            "oci-image-tool",
            "validate",
            "--type",
            "image",
            "--ref",
            f"name={name}",
            layout,
        )

    # umoci 0.4.7 implements only OCI image manifests and refuses an index with several
    # manifests ("tag is ambiguous"); oci-image-tool 1.0.0-rc1 rejects zstd layers
    # ("invalid descriptor MediaType"). So every OCI manifest in the export (index
    # children included) gets an entry of its own in a copy of index.json, and each
    # tool checks what it supports: manifest, config and layer digests and sizes.
    manifests = _oci_manifests(exported)
    assert manifests
    entries = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": d,
            "size": len(exported.blobs[d]),
            "annotations": {REF_NAME: f"m{n}"},
        }
        for n, d in enumerate(manifests)
    ]
    (layout / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": entries})
    )
    for n, digest in enumerate(manifests):
        layers = exported.doc(digest)["layers"]
        stat = run("umoci", "stat", "--json", "--image", f"{layout}:m{n}").stdout
        history = json.loads(stat)["history"]
        assert [h["layer"]["digest"] for h in history if h.get("layer")] == [
            layer["digest"] for layer in layers
        ]
        if not any(layer["mediaType"] == ZSTD_LAYER for layer in layers):
            run(
                "oci-image-tool",
                "validate",
                "--type",
                "image",
                "--ref",
                f"name=m{n}",
                layout,
            )


@pytest.mark.tools
def test_tools_reject_a_tampered_export(
    local_store: ociport.ImageStore, tmp_path: Path
) -> None:
    # The tool checks above can fail: a flipped layer byte is caught.
    need_tool("umoci")
    need_tool("oci-image-tool")
    archive = read_archive(SAMPLE)
    local_store.import_image(str(SAMPLE), naming=ImportNaming(BASE))
    sink = io.BytesIO()
    local_store.export_images([f"{BASE}:1.0"], sink, ref_name_style="tag")
    layout = extract(sink.getvalue(), tmp_path / "layout")
    run("oci-image-tool", "validate", "--type", "image", "--ref", "name=1.0", layout)
    layer = archive.doc(archive.entries[0]["digest"])["layers"][0]["digest"]
    blob = layout / "blobs" / "sha256" / layer[7:]
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    failed = subprocess.run(
        [
            "oci-image-tool",
            "validate",
            "--type",
            "image",
            "--ref",
            "name=1.0",
            str(layout),
        ],
        capture_output=True,
        check=False,
    )
    assert failed.returncode != 0
