"""Descriptor and Platform: JSON round trips, validation, platform matching."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ociport.errors import InvalidDescriptorError, InvalidDigestError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_REF_NAME, Descriptor, Platform
from ociport.oci.digest import Digest

DIGEST = Digest.of(b"content")


def full_json() -> dict[str, Any]:
    return {
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "digest": str(DIGEST),
        "size": 7,
        "urls": ["https://example.com/layer"],
        "annotations": {ANNOTATION_REF_NAME: "example.com/app:1", "x": "y"},
        "platform": {
            "architecture": "arm64",
            "os": "linux",
            "os.version": "10.0",
            "os.features": ["win32k"],
            "variant": "v8",
        },
        "artifactType": "application/vnd.example+json",
        "data": "Y29udGVudA==",
    }


def test_from_json_reads_every_field() -> None:
    d = Descriptor.from_json(full_json())
    assert d.media_type == mt.OCI_IMAGE_MANIFEST
    assert d.digest == DIGEST
    assert d.size == 7
    assert d.urls == ("https://example.com/layer",)
    assert dict(d.annotations) == {ANNOTATION_REF_NAME: "example.com/app:1", "x": "y"}
    assert d.platform == Platform("linux", "arm64", "v8", "10.0", ("win32k",))
    assert d.artifact_type == "application/vnd.example+json"
    assert d.data == b"content"
    assert d.ref_name == "example.com/app:1"


def test_json_round_trip_keeps_keys_and_order() -> None:
    doc = full_json()
    out = Descriptor.from_json(doc).to_json()
    assert out == doc
    assert list(out) == [
        "mediaType",
        "digest",
        "size",
        "urls",
        "annotations",
        "platform",
        "artifactType",
        "data",
    ]
    assert list(out["platform"]) == [
        "architecture",
        "os",
        "os.version",
        "os.features",
        "variant",
    ]
    assert json.loads(json.dumps(out)) == doc


def test_minimal_descriptor_leaves_empty_fields_out() -> None:
    d = Descriptor(mt.OCI_LAYER_TAR, DIGEST, 7)
    assert d.to_json() == {
        "mediaType": mt.OCI_LAYER_TAR,
        "digest": str(DIGEST),
        "size": 7,
    }
    assert d.ref_name is None
    assert Descriptor.from_json(d.to_json()) == d


def test_missing_media_type_becomes_empty() -> None:
    d = Descriptor.from_json({"digest": str(DIGEST), "size": 1})
    assert d.media_type == ""
    assert "mediaType" not in d.to_json()


def test_annotations_are_read_only_copies() -> None:
    source = {"a": "1"}
    d = Descriptor(mt.OCI_LAYER_TAR, DIGEST, 7, annotations=source)
    source["a"] = "2"
    assert d.annotations["a"] == "1"
    with pytest.raises(TypeError):
        d.annotations["b"] = "3"  # type: ignore[index]
    changed = d.with_annotations({"b": "3"})
    assert dict(changed.annotations) == {"b": "3"}
    assert dict(d.annotations) == {"a": "1"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"size": "7"}, "size"),
        ({"size": True}, "size"),
        ({"size": None}, "size"),
        ({"size": -1}, "size"),
        ({"digest": 5}, "digest"),
        ({"mediaType": 5}, "mediaType"),
        ({"annotations": ["a"]}, "annotations"),
        ({"annotations": {"a": 1}}, "annotations"),
        ({"urls": "https://x"}, "urls"),
        ({"urls": ["https://x", 1]}, "urls"),
        ({"platform": "linux/amd64"}, "platform"),
        ({"platform": {"os": "linux"}}, "architecture"),
        ({"platform": {"architecture": "amd64"}}, "os"),
        ({"artifactType": 3}, "artifactType"),
        ({"data": "not base64!"}, "data"),
    ],
)
def test_bad_fields_are_rejected(change: dict[str, Any], field: str) -> None:
    doc = {**full_json(), **change}
    with pytest.raises(InvalidDescriptorError) as caught:
        Descriptor.from_json(doc)
    assert caught.value.field == field


def test_missing_digest_and_non_object() -> None:
    doc = full_json()
    del doc["digest"]
    with pytest.raises(InvalidDescriptorError):
        Descriptor.from_json(doc)
    with pytest.raises(InvalidDescriptorError):
        Descriptor.from_json(["not", "an", "object"])


@pytest.mark.parametrize("digest", ["sha256:../../x", "sha256:" + "A" * 64, "md5:abc"])
def test_bad_digest_is_an_invalid_digest(digest: str) -> None:
    with pytest.raises(InvalidDigestError):
        Descriptor.from_json({**full_json(), "digest": digest})


def test_negative_size_rejected_on_construction() -> None:
    with pytest.raises(InvalidDescriptorError):
        Descriptor(mt.OCI_LAYER_TAR, DIGEST, -5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("Linux/AMD64", Platform("linux", "amd64")),
        ("linux/x86_64", Platform("linux", "amd64")),
        ("linux/aarch64", Platform("linux", "arm64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
        ("linux/armhf", Platform("linux", "arm", "v7")),
        ("linux/arm/v6", Platform("linux", "arm", "v6")),
        ("Linux/ARM/V7", Platform("linux", "arm", "v7")),
        ("windows/amd64", Platform("windows", "amd64")),
        (" linux/386 ", Platform("linux", "386")),
        ("linux/i686", Platform("linux", "386")),
    ],
)
def test_platform_parse_normalises(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["linux", "linux/", "/amd64", "linux/arm/v7/x", "", "//"]
)
def test_platform_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidDescriptorError):
        Platform.parse(text)


def test_platform_str() -> None:
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"
    assert str(Platform("linux", "amd64")) == "linux/amd64"


@pytest.mark.parametrize(
    ("selector", "image", "result"),
    [
        ("linux/amd64", Platform("linux", "amd64"), True),
        ("linux/amd64", Platform("linux", "x86_64"), True),
        ("linux/amd64", Platform("linux", "arm64"), False),
        ("linux/amd64", Platform("windows", "amd64"), False),
        ("linux/arm64", Platform("linux", "arm64", "v8"), True),
        ("linux/arm64/v8", Platform("linux", "arm64"), True),
        ("linux/arm64/v8", Platform("linux", "aarch64"), True),
        ("linux/arm/v7", Platform("linux", "arm"), True),
        ("linux/arm/v6", Platform("linux", "arm"), False),
        ("linux/arm/v6", Platform("linux", "arm", "v6"), True),
        ("linux/arm", Platform("linux", "arm", "v5"), True),
        ("linux/arm/v7", Platform("linux", "arm", "v6"), False),
    ],
)
def test_platform_matches(selector: str, image: Platform, result: bool) -> None:
    assert Platform.parse(selector).matches(image) is result


def test_platform_json_round_trip_and_host() -> None:
    doc = {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763"}
    assert Platform.from_json(doc).to_json() == doc
    host = Platform.host()
    assert host.os and host.architecture
    assert host == host.normalized()
    with pytest.raises(InvalidDescriptorError):
        Platform.from_json({"os": "linux", "architecture": "amd64", "os.features": "x"})
