"""Manifest and Index documents: raw bytes, digests, validation, media-type sniffing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ociport.errors import DocumentTooLargeError, FormatError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import (
    MAX_DOCUMENT_SIZE,
    Index,
    Manifest,
    dump_json,
    parse_document,
    parse_json,
)

CONFIG = Descriptor(mt.OCI_IMAGE_CONFIG, Digest.of(b"{}"), 2)
LAYER = Descriptor(mt.OCI_LAYER_TAR_GZIP, Digest.of(b"layer"), 5)


def manifest_doc(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "config": CONFIG.to_json(),
        "layers": [LAYER.to_json()],
        **extra,
    }


def test_manifest_keeps_raw_bytes_and_digests_them() -> None:
    # Pretty-printed with odd spacing: a re-serialisation would change the digest.
    raw = json.dumps(manifest_doc(), indent=3).encode() + b"\n"
    manifest = Manifest.parse(raw)
    assert manifest.raw is raw
    assert manifest.digest == Digest.of(raw)
    assert manifest.digest != Digest.of(dump_json(manifest_doc()))
    assert manifest.config == CONFIG
    assert manifest.layers == (LAYER,)
    assert manifest.blobs() == (CONFIG, LAYER)
    assert manifest.media_type == mt.OCI_IMAGE_MANIFEST


def test_manifest_optional_fields() -> None:
    subject = Descriptor(mt.OCI_IMAGE_MANIFEST, Digest.of(b"s"), 1)
    raw = dump_json(
        manifest_doc(
            subject=subject.to_json(),
            artifactType="application/vnd.example",
            annotations={"a": "b"},
            layers=None,
        )
    )
    manifest = Manifest.parse(raw)
    assert manifest.subject == subject
    assert manifest.artifact_type == "application/vnd.example"
    assert dict(manifest.annotations) == {"a": "b"}
    assert manifest.layers == ()


def test_docker_manifest_parses() -> None:
    raw = dump_json(manifest_doc(mediaType=mt.DOCKER_MANIFEST_V2))
    assert Manifest.parse(raw).media_type == mt.DOCKER_MANIFEST_V2


@pytest.mark.parametrize(
    "doc",
    [
        manifest_doc(schemaVersion=1),
        manifest_doc(schemaVersion="2"),
        {k: v for k, v in manifest_doc().items() if k != "schemaVersion"},
        {k: v for k, v in manifest_doc().items() if k != "config"},
        manifest_doc(config={"digest": "sha256:../../x", "size": 1}),
        manifest_doc(config="sha256:abc"),
        manifest_doc(layers={"digest": str(LAYER.digest)}),
        manifest_doc(layers=[{"size": 1}]),
        manifest_doc(annotations=["a"]),
        manifest_doc(mediaType=5),
        manifest_doc(artifactType=["a"]),
    ],
)
def test_bad_manifests_are_format_errors(doc: dict[str, Any]) -> None:
    with pytest.raises(FormatError):
        Manifest.parse(dump_json(doc), where="blobs/sha256/x")


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe{}", b'{"schemaVersion": 2,}']
)
def test_malformed_json_is_a_format_error(raw: bytes) -> None:
    with pytest.raises(FormatError) as caught:
        parse_json(raw, where="index.json")
    assert caught.value.member == "index.json"
    assert "index.json" in str(caught.value)


def test_oversized_document() -> None:
    raw = dump_json({"schemaVersion": 2, "pad": "x" * 100})
    assert parse_json(raw, limit=len(raw))["schemaVersion"] == 2
    with pytest.raises(DocumentTooLargeError) as caught:
        parse_json(raw, limit=len(raw) - 1)
    assert (caught.value.size, caught.value.limit) == (len(raw), len(raw) - 1)
    assert isinstance(caught.value, FormatError)
    # Parsing takes any length: the readers (archive members, store reads) enforce the
    # configured cap, so --max-document can raise it.
    huge = dump_json(manifest_doc(pad="x" * MAX_DOCUMENT_SIZE))
    assert len(Manifest.parse(huge).raw) > MAX_DOCUMENT_SIZE


def test_deeply_nested_json_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="nests too deeply"):
        parse_json(b"[" * 100_000)


def test_index_parse_and_manifests_null() -> None:
    child = Descriptor(
        mt.OCI_IMAGE_MANIFEST, Digest.of(b"m"), 1, platform=Platform("linux", "amd64")
    )
    raw = dump_json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_INDEX,
            "manifests": [child.to_json()],
        }
    )
    index = Index.parse(raw)
    assert index.manifests == (child,)
    assert index.raw is raw and index.digest == Digest.of(raw)
    empty = Index.parse(b'{"schemaVersion":2,"manifests":null}')
    assert empty.manifests == ()
    assert Index.parse(b'{"schemaVersion":2}').manifests == ()
    with pytest.raises(FormatError):
        Index.parse(b'{"schemaVersion":2,"manifests":{}}')
    with pytest.raises(FormatError):
        Index.parse(b'{"schemaVersion":1,"manifests":[]}')


def test_index_build_serialises_what_it_keeps() -> None:
    child = Descriptor(mt.OCI_IMAGE_MANIFEST, Digest.of(b"m"), 1)
    index = Index.build([child], annotations={"k": "v"})
    assert json.loads(index.raw) == {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_INDEX,
        "manifests": [child.to_json()],
        "annotations": {"k": "v"},
    }
    again = Index.parse(index.raw)
    assert again.manifests == index.manifests
    assert again.digest == index.digest
    assert b" " not in Index.build([]).raw


def test_dump_json_is_compact_utf8() -> None:
    assert dump_json({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()


def index_raw(**extra: Any) -> bytes:
    return dump_json({"schemaVersion": 2, "manifests": [], **extra})


@pytest.mark.parametrize(
    ("raw", "media_type", "kind"),
    [
        (dump_json(manifest_doc()), mt.OCI_IMAGE_MANIFEST, Manifest),
        (dump_json(manifest_doc()), "", Manifest),
        (dump_json(manifest_doc()), "application/octet-stream", Manifest),
        (
            dump_json({k: v for k, v in manifest_doc().items() if k != "mediaType"}),
            "",
            Manifest,
        ),
        (index_raw(mediaType=mt.OCI_IMAGE_INDEX), "", Index),
        (index_raw(), "", Index),
        (index_raw(mediaType=mt.DOCKER_MANIFEST_LIST), "", Index),
        (index_raw(), mt.OCI_IMAGE_INDEX, Index),
        (b'{"architecture":"amd64","os":"linux"}', mt.OCI_IMAGE_CONFIG, type(None)),
        (b'{"schemaVersion":2,"whatever":1}', "", type(None)),
        (b'{"schemaVersion":1,"fsLayers":[]}', "", type(None)),
        (b"\x1f\x8b\x08\x00 binary layer", mt.OCI_LAYER_TAR_GZIP, type(None)),
        (b"{not json", "", type(None)),
        (b"", "", type(None)),
    ],
)
def test_parse_document_sniffs(raw: bytes, media_type: str, kind: type) -> None:
    assert type(parse_document(raw, media_type)) is kind


def test_parse_document_with_a_non_string_media_type() -> None:
    with pytest.raises(FormatError, match="mediaType"):
        parse_document(index_raw(mediaType=["x"]), "")
    with pytest.raises(FormatError, match="mediaType"):
        parse_document(dump_json(manifest_doc(mediaType={"a": 1})), "")
    assert parse_document(b'{"schemaVersion":2,"mediaType":5}', "") is None


def test_parse_document_trusts_the_announced_type() -> None:
    with pytest.raises(FormatError):
        parse_document(index_raw(), mt.OCI_IMAGE_MANIFEST)
    with pytest.raises(FormatError):
        parse_document(b"{broken", mt.OCI_IMAGE_INDEX)
