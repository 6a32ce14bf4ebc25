"""Bad archives get a specific error and leave the store exactly as it was.

Every crafted archive is built with :mod:`tarfile` from the members of the real
``sample.oci-archive.tar`` (made by skopeo). The store already holds that image, and
most crafted archives start with a blob the store does not have, so that a failed import
has both kinds of work to undo: a staged new blob and a re-verified existing one.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

import ociport
from helpers import TOOL, snapshot
from ociport import (
    DigestMismatchError,
    DocumentTooLargeError,
    FormatError,
    ImportNaming,
    InvalidDigestError,
    MissingContentError,
    OciportError,
    SizeMismatchError,
)
from ociport.oci.manifest import MAX_DOCUMENT_SIZE

SAMPLE = TOOL / "sample.oci-archive.tar"
BASE = "example.org/seeded"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
#: A blob the seeded store does not have: staged first, so failures must discard it.
FRESH = b"a blob that is not in the store yet\n" * 64


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def blob_name(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/")


def blob(data: bytes) -> Member:
    return Member(blob_name(digest_of(data)), data)


def sample_members() -> list[Member]:
    """The regular-file members of the sample archive, in archive order."""
    with tarfile.open(SAMPLE) as tar:
        return [
            Member(m.name, tar.extractfile(m).read())  # type: ignore[union-attr]
            for m in tar
            if m.isfile()
        ]


def build(members: list[Member], *, fresh: bool = True) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in ([blob(FRESH)] if fresh else []) + members:
            info = tarfile.TarInfo(member.name)
            info.type = member.type
            info.linkname = member.linkname
            info.mode = 0o644
            info.size = len(member.data) if member.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(member.data) if info.size else None)
    return out.getvalue()


class Sample:
    """The sample archive's parts, and ways to change them."""

    def __init__(self) -> None:
        self.members = sample_members()
        self.index = self.doc("index.json")
        self.manifest_digest = self.index["manifests"][0]["digest"]
        self.manifest = self.doc(blob_name(self.manifest_digest))

    def get(self, name: str) -> bytes:
        return next(m.data for m in self.members if m.name == name)

    def doc(self, name: str) -> Any:
        return json.loads(self.get(name))

    def with_member(self, name: str, data: bytes | None) -> list[Member]:
        """The members with ``name`` replaced (or dropped when ``data`` is None)."""
        out = []
        for member in self.members:
            if member.name != name:
                out.append(member)
            elif data is not None:
                out.append(replace(member, data=data))
        return out

    def with_index(
        self, manifests: list[dict[str, Any]], base: list[Member] | None = None
    ) -> list[Member]:
        raw = json.dumps({"schemaVersion": 2, "manifests": manifests}).encode()
        members = base if base is not None else self.members
        return [replace(m, data=raw) if m.name == "index.json" else m for m in members]

    def with_manifest(self, manifest_raw: bytes) -> list[Member]:
        """A new manifest blob as the only image (the old one stays, unreferenced)."""
        entry = {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(manifest_raw),
            "size": len(manifest_raw),
        }
        return self.with_index([entry], [*self.members, blob(manifest_raw)])


@pytest.fixture(scope="module")
def sample() -> Sample:
    return Sample()


@pytest.fixture
def seeded(store: ociport.ImageStore) -> ociport.ImageStore:
    store.import_image(str(SAMPLE), naming=ImportNaming(BASE))
    assert [i.name for i in store.images()] == [f"{BASE}:1.0"]
    return store


def reject(
    store: ociport.ImageStore,
    tmp_path: Path,
    data: bytes,
    error: type[Exception],
    match: str | None = None,
    **options: Any,
) -> Exception:
    """Import ``data`` from a stream and from a file: both raise ``error`` and change
    nothing (no name, no blob, no temporary file)."""
    before = snapshot(store)
    names = [i.name for i in store.images()]
    with pytest.raises(error, match=match) as from_stream:
        store.import_image(io.BytesIO(data), format="oci-archive", **options)
    assert snapshot(store) == before
    path = tmp_path / "bad.tar"
    path.write_bytes(data)
    with pytest.raises(error, match=match):
        store.import_image(str(path), **options)
    assert snapshot(store) == before
    assert [i.name for i in store.images()] == names
    return from_stream.value


def test_crafted_archives_are_sound_otherwise(
    seeded: ociport.ImageStore, sample: Sample, pm: Any, tmp_path: Path
) -> None:
    # The builder itself makes importable archives: errors below come from the change.
    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=pm)
    result = fresh.import_image(
        io.BytesIO(build(sample.members)), naming=ImportNaming(BASE)
    )
    assert [str(i.target.digest) for i in result.images] == [sample.manifest_digest]
    assert seeded.import_image(
        io.BytesIO(build(sample.members)), naming=ImportNaming(BASE)
    ).images


# -- truncation ------------------------------------------------------------------------


def _offsets(data: bytes, name: str) -> tarfile.TarInfo:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmember(name)


def test_truncated_inside_existing_blob(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    data = SAMPLE.read_bytes()
    layer = sample.manifest["layers"][0]
    info = _offsets(data, blob_name(layer["digest"]))
    assert info.size > 1024
    cut = data[: info.offset_data + info.size // 2]
    error = reject(seeded, tmp_path, cut, FormatError, match="truncated")
    assert not isinstance(error, DigestMismatchError)


def test_truncated_inside_new_blob(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    data = build(sample.members)
    info = _offsets(data, blob_name(digest_of(FRESH)))
    reject(
        seeded,
        tmp_path,
        data[: info.offset_data + info.size // 2],
        FormatError,
        match="truncated",
    )


def test_truncated_inside_header(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    data = build(sample.members)
    info = _offsets(data, "index.json")
    reject(seeded, tmp_path, data[: info.offset + 100], FormatError, match="truncated")


@pytest.mark.parametrize(
    "fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"]
)
def test_huge_member_with_truncated_data(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path, fmt: int
) -> None:
    # A member over 8 GiB needs a PAX size record (or GNU base-256); only 4 KiB follow.
    head = b""
    for member in sample.members:
        if not member.name.startswith("blobs/"):
            small = tarfile.TarInfo(member.name)
            small.size = len(member.data)
            head += small.tobuf(fmt, "utf-8", "surrogateescape") + member.data
            head += b"\0" * (-len(member.data) % 512)
    info = tarfile.TarInfo(blob_name(digest_of(b"huge")))
    info.size = 8 * 2**30 + 1
    header = info.tobuf(fmt, "utf-8", "surrogateescape")
    if fmt == tarfile.PAX_FORMAT:
        assert b"size=8589934593" in header
    data = head + header + b"x" * 4096
    reject(seeded, tmp_path, data, FormatError, match="truncated")


# -- blobs that are not what they claim ------------------------------------------------


def test_existing_blob_with_wrong_bytes(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    """A stream is read whole, so the corrupt copy is caught even though the store has
    the blob; a seekable file is read selectively, so the copy the store already holds
    (verified when it was committed) is used and the corrupt one is never read."""
    layer = sample.manifest["layers"][0]["digest"]
    data = bytearray(sample.get(blob_name(layer)))
    data[len(data) // 2] ^= 0xFF
    archive = build(sample.with_member(blob_name(layer), bytes(data)))
    before = snapshot(seeded)
    with pytest.raises(DigestMismatchError) as error:
        seeded.import_image(io.BytesIO(archive), format="oci-archive")
    assert str(error.value.expected) == layer
    assert snapshot(seeded) == before
    path = tmp_path / "bad.tar"
    path.write_bytes(archive)
    result = seeded.import_image(str(path), naming=ImportNaming(BASE))
    assert [i.name for i in result.images] == [f"{BASE}:1.0"]
    assert not seeded.verify()


def with_layer(sample: Sample, data: bytes, digest: str, size: int) -> list[Member]:
    """The sample image with one more layer, not in the seeded store, whose member
    holds ``data`` and whose descriptor says ``digest`` and ``size``."""
    manifest = json.loads(json.dumps(sample.manifest))
    manifest["layers"].append({"mediaType": LAYER_TAR, "digest": digest, "size": size})
    return [
        *sample.with_manifest(json.dumps(manifest).encode()),
        Member(blob_name(digest), data),
    ]


def test_needed_new_blob_with_wrong_bytes(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    claimed = digest_of(b"something else")
    members = with_layer(sample, FRESH, claimed, len(FRESH))
    error = reject(seeded, tmp_path, build(members), DigestMismatchError)
    assert str(error.expected) == claimed  # type: ignore[attr-defined]
    assert str(error.actual) == digest_of(FRESH)  # type: ignore[attr-defined]


def test_unneeded_blob_with_wrong_bytes_in_a_stream(
    seeded: ociport.ImageStore, sample: Sample
) -> None:
    # A stream is read whole and every blob member is checked, needed or not (a seekable
    # file is read selectively, so there an unneeded member is never read).
    bogus = Member(blob_name(digest_of(b"something else")), FRESH)
    before = snapshot(seeded)
    with pytest.raises(DigestMismatchError) as error:
        seeded.import_image(io.BytesIO(build([bogus, *sample.members])))
    assert str(error.value.expected) == digest_of(b"something else")
    assert snapshot(seeded) == before


def test_manifest_size_differs_from_descriptor(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    entry = dict(
        sample.index["manifests"][0], size=sample.index["manifests"][0]["size"] + 1
    )
    error = reject(
        seeded, tmp_path, build(sample.with_index([entry])), SizeMismatchError
    )
    assert error.expected == entry["size"]  # type: ignore[attr-defined]
    assert error.actual == entry["size"] - 1  # type: ignore[attr-defined]


def test_layer_size_differs_from_descriptor(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    manifest = json.loads(json.dumps(sample.manifest))
    manifest["layers"].append(
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest_of(FRESH),
            "size": len(FRESH) - 1,
        }
    )
    data = build(sample.with_manifest(json.dumps(manifest).encode()))
    reject(seeded, tmp_path, data, SizeMismatchError)


# -- names and digests that would escape the layout ------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "blobs/sha256/../../x",
        "blobs/sha256/" + "A" * 64,
        "blobs/sha256/abc",
        "blobs/md5/" + "0" * 32,
        "/blobs/sha256/" + hashlib.sha256(FRESH).hexdigest(),
        "../blobs/sha256/" + hashlib.sha256(FRESH).hexdigest(),
        "/etc/passwd",
    ],
    ids=[
        "dotdot",
        "uppercase",
        "short",
        "algorithm",
        "absolute",
        "parent",
        "absolute-outside",
    ],
)
def test_member_name_escaping_layout(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path, name: str
) -> None:
    error = reject(
        seeded, tmp_path, build([*sample.members, Member(name, FRESH)]), FormatError
    )
    assert error.member == name  # type: ignore[attr-defined]


def test_uppercase_digest_of_real_blob(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    layer = sample.manifest["layers"][0]["digest"]
    upper = "blobs/sha256/" + layer[7:].upper()
    members = [
        replace(m, name=upper) if m.name == blob_name(layer) else m
        for m in sample.members
    ]
    reject(seeded, tmp_path, build(members), FormatError, match="digest")


def test_descriptor_digest_escaping_in_index(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    entry = dict(sample.index["manifests"][0], digest="sha256:../../x")
    error = reject(seeded, tmp_path, build(sample.with_index([entry])), FormatError)
    assert isinstance(error.__cause__, InvalidDigestError) or "sha256:../../x" in str(
        error
    )


def test_descriptor_digest_escaping_in_manifest(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    manifest = json.loads(json.dumps(sample.manifest))
    manifest["layers"][0]["digest"] = "sha256:../../../etc/passwd"
    reject(
        seeded,
        tmp_path,
        build(sample.with_manifest(json.dumps(manifest).encode())),
        FormatError,
    )


# -- malformed and oversized documents -------------------------------------------------


def test_malformed_index_json(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    data = build(
        sample.with_member("index.json", b'{"schemaVersion": 2, "manifests": [')
    )
    reject(seeded, tmp_path, data, FormatError, match="malformed JSON")


@pytest.mark.parametrize(
    "raw",
    [b'{"schemaVersion": 2, "config": ', b"this is not JSON at all", b'["a", "list"]'],
    ids=["cut", "text", "list"],
)
def test_malformed_manifest(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path, raw: bytes
) -> None:
    error = reject(seeded, tmp_path, build(sample.with_manifest(raw)), FormatError)
    # A small document is never reported as "too large".
    assert not isinstance(error, DocumentTooLargeError)
    assert digest_of(raw) in str(error)


def test_index_json_over_default_cap(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    raw = sample.get("index.json")
    padded = raw + b" " * (MAX_DOCUMENT_SIZE + 1 - len(raw))
    error = reject(
        seeded,
        tmp_path,
        build(sample.with_member("index.json", padded)),
        DocumentTooLargeError,
    )
    assert error.limit == MAX_DOCUMENT_SIZE  # type: ignore[attr-defined]
    assert error.member == "index.json"  # type: ignore[attr-defined]


def test_index_json_over_given_cap(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    raw = sample.get("index.json")
    padded = raw + b" " * (3000 - len(raw))
    error = reject(
        seeded,
        tmp_path,
        build(sample.with_member("index.json", padded)),
        DocumentTooLargeError,
        max_document=2048,
    )
    assert error.limit == 2048  # type: ignore[attr-defined]


def test_manifest_over_given_cap(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    raw = json.dumps(sample.manifest).encode() + b" " * 1200
    reject(
        seeded,
        tmp_path,
        build(sample.with_manifest(raw)),
        DocumentTooLargeError,
        max_document=1024,
    )


# -- the layout itself -----------------------------------------------------------------


def test_missing_oci_layout(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    reject(
        seeded,
        tmp_path,
        build(sample.with_member("oci-layout", None)),
        FormatError,
        match="oci-layout",
    )


@pytest.mark.parametrize(
    "layout",
    [b'{"imageLayoutVersion":"2.0.0"}', b'{"imageLayoutVersion":1}', b"{}", b"1.0.0"],
    ids=["2.0.0", "number", "empty", "not-json"],
)
def test_wrong_oci_layout(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path, layout: bytes
) -> None:
    data = build(sample.with_member("oci-layout", layout))
    reject(seeded, tmp_path, data, FormatError, match="imageLayoutVersion|JSON")


def test_missing_index_json(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    reject(
        seeded,
        tmp_path,
        build(sample.with_member("index.json", None)),
        FormatError,
        match="index.json",
    )


def test_index_referencing_itself(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    # An index cannot list its own digest (that would need a sha256 fixed point), so a
    # crafted loop names a blob with a digest its bytes do not have. Whatever check
    # fires first, it must be a clear ociport error and the store must not change.
    claimed = digest_of(b"the index claims to be this")
    loop = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_INDEX, "digest": claimed, "size": 200}],
        }
    ).encode()
    entry = {"mediaType": OCI_INDEX, "digest": claimed, "size": len(loop)}
    members = sample.with_index(
        [entry], [*sample.members, Member(blob_name(claimed), loop)]
    )
    error = reject(seeded, tmp_path, build(members), OciportError)
    assert isinstance(error, DigestMismatchError | FormatError)


# -- missing content -------------------------------------------------------------------


def test_selected_manifest_missing_layer(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    absent = digest_of(b"this layer is in neither the archive nor the store")
    manifest = json.loads(json.dumps(sample.manifest))
    manifest["layers"].append(
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": absent,
            "size": 50,
        }
    )
    raw = json.dumps(manifest).encode()
    error = reject(
        seeded, tmp_path, build(sample.with_manifest(raw)), MissingContentError
    )
    assert str(error.digest) == absent  # type: ignore[attr-defined]
    assert absent in str(error)
    assert str(error.needed_by) == digest_of(raw)  # type: ignore[attr-defined]


def test_selected_manifest_missing_config(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    absent = digest_of(b"a config nobody has")
    manifest = json.loads(json.dumps(sample.manifest))
    manifest["config"] = dict(manifest["config"], digest=absent, size=19)
    error = reject(
        seeded,
        tmp_path,
        build(sample.with_manifest(json.dumps(manifest).encode())),
        MissingContentError,
    )
    assert str(error.digest) == absent  # type: ignore[attr-defined]


def test_second_image_missing_layer_commits_nothing(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path
) -> None:
    # The first image is complete and brings new blobs; the second is broken. Nothing
    # of the first may be published either.
    config = json.loads(sample.get(blob_name(sample.manifest["config"]["digest"])))
    config["author"] = "someone else"
    config_raw = json.dumps(config).encode()
    good = json.loads(json.dumps(sample.manifest))
    good["config"] = dict(
        good["config"], digest=digest_of(config_raw), size=len(config_raw)
    )
    good_raw = json.dumps(good).encode()
    absent = digest_of(b"missing layer of the second image")
    bad = json.loads(json.dumps(sample.manifest))
    bad["layers"].append(
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": absent,
            "size": 7,
        }
    )
    bad_raw = json.dumps(bad).encode()
    entries = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(good_raw),
            "size": len(good_raw),
            "annotations": {"org.opencontainers.image.ref.name": "good"},
        },
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(bad_raw),
            "size": len(bad_raw),
            "annotations": {"org.opencontainers.image.ref.name": "bad"},
        },
    ]
    members = sample.with_index(
        entries, [*sample.members, blob(config_raw), blob(good_raw), blob(bad_raw)]
    )
    error = reject(seeded, tmp_path, build(members), MissingContentError)
    assert str(error.digest) == absent  # type: ignore[attr-defined]


# -- members of the wrong kind ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        (tarfile.SYMTYPE, "../../../etc/passwd"),
        (tarfile.SYMTYPE, "index.json"),
        (tarfile.LNKTYPE, "oci-layout"),
    ],
    ids=["symlink-outside", "symlink-inside", "hardlink"],
)
def test_blob_member_is_a_link(
    seeded: ociport.ImageStore, sample: Sample, tmp_path: Path, kind: bytes, target: str
) -> None:
    layer = blob_name(sample.manifest["layers"][0]["digest"])
    members = [
        Member(layer, b"", kind, target) if m.name == layer else m
        for m in sample.members
    ]
    match = "points outside the layout" if "/etc/" in target else "not a regular file"
    error = reject(seeded, tmp_path, build(members), FormatError, match=match)
    assert error.member == layer  # type: ignore[attr-defined]


# -- the command line ------------------------------------------------------------------

BadArchive = Callable[[Sample], bytes]


def _truncated(sample: Sample) -> bytes:
    data = build(sample.members)
    return data[: _offsets(data, "index.json").offset + 100]


def _corrupt(sample: Sample) -> bytes:
    corrupt = FRESH[:-1] + b"!"
    return build(with_layer(sample, corrupt, digest_of(FRESH), len(FRESH)), fresh=False)


def _escaping(sample: Sample) -> bytes:
    return build([*sample.members, Member("blobs/sha256/../../x", FRESH)])


@pytest.mark.parametrize(
    "make", [_truncated, _corrupt, _escaping], ids=["truncated", "corrupt", "escaping"]
)
def test_cli_reports_one_line(
    local_store: ociport.ImageStore, sample: Sample, tmp_path: Path, make: BadArchive
) -> None:
    local_store.import_image(str(SAMPLE), naming=ImportNaming(BASE))
    before = snapshot(local_store)
    bad = tmp_path / "bad.tar"
    bad.write_bytes(make(sample))
    root = local_store.content.location.path
    argv = [sys.executable, "-m", "ociport", "--store", root, "import", str(bad)]

    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ociport: error: ")
    assert "Traceback" not in done.stderr
    assert snapshot(local_store) == before

    debug = subprocess.run(
        [*argv[:3], "--debug", *argv[3:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1] == lines[0]
    assert snapshot(local_store) == before
