"""Walking an image's descriptor graph: selection, missing content, loops, reach."""

from __future__ import annotations

from typing import Any

import pytest

from ociport.errors import FormatError, MissingContentError, ReferenceLoopError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, dump_json
from ociport.oci.walk import PlatformSelection, reachable, walk_image

REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"


class FakeProvider:
    """Blobs by digest, unverified: a document need not hash to its digest."""

    def __init__(self) -> None:
        self.blobs: dict[Digest, bytes] = {}

    def put(self, media_type: str, data: bytes, **fields: Any) -> Descriptor:
        digest = Digest.of(data)
        self.blobs[digest] = data
        return Descriptor(media_type, digest, len(data), **fields)

    def read_document(self, descriptor: Descriptor) -> bytes:
        return self.blobs[descriptor.digest]

    def has(self, digest: Digest) -> bool:
        return digest in self.blobs

    def drop(self, *descriptors: Descriptor) -> None:
        for d in descriptors:
            del self.blobs[d.digest]

    def manifest(
        self, name: str, *, layer_type: str = mt.OCI_LAYER_TAR_GZIP, **fields: Any
    ) -> tuple[Descriptor, Descriptor, Descriptor]:
        """A manifest with one config and one layer: (manifest, config, layer)."""
        config = self.put(mt.OCI_IMAGE_CONFIG, dump_json({"name": name}))
        layer = self.put(layer_type, f"layer of {name}".encode())
        doc = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_MANIFEST,
            "config": config.to_json(),
            "layers": [layer.to_json()],
        }
        subject = fields.pop("subject", None)
        if subject is not None:
            doc["subject"] = subject.to_json()
        return self.put(mt.OCI_IMAGE_MANIFEST, dump_json(doc), **fields), config, layer

    def index(self, children: list[Descriptor]) -> Descriptor:
        return self.put(mt.OCI_IMAGE_INDEX, Index.build(children).raw)

    def walk(
        self, root: Descriptor, selection: PlatformSelection = PlatformSelection()
    ) -> Any:
        return walk_image(root, self, selection)


def on(d: Descriptor, platform: str | None = None, **annotations: str) -> Descriptor:
    return Descriptor(
        d.media_type,
        d.digest,
        d.size,
        annotations=annotations,
        platform=Platform.parse(platform) if platform else None,
    )


@pytest.fixture
def p() -> FakeProvider:
    return FakeProvider()


def two_platforms(
    p: FakeProvider,
) -> tuple[Descriptor, dict[str, tuple[Descriptor, ...]]]:
    amd = p.manifest("amd64")
    arm = p.manifest("arm64")
    root = p.index([on(amd[0], "linux/amd64"), on(arm[0], "linux/arm64/v8")])
    return root, {"amd64": amd, "arm64": arm}


def test_single_manifest(p: FakeProvider) -> None:
    manifest, config, layer = p.manifest("one")
    graph = p.walk(manifest)
    assert list(graph.blobs) == [manifest.digest, config.digest, layer.digest]
    assert [d.digest for d, _ in graph.manifests] == [manifest.digest]
    assert graph.manifests[0][1].config == config
    assert graph.missing == []


def test_default_takes_present_children_and_reports_missing(p: FakeProvider) -> None:
    root, parts = two_platforms(p)
    p.drop(parts["arm64"][0])
    graph = p.walk(root)
    assert set(graph.blobs) == {root.digest, *(d.digest for d in parts["amd64"])}
    assert [(d.digest, parent) for d, parent in graph.missing] == [
        (parts["arm64"][0].digest, root.digest)
    ]
    assert graph.missing[0][0].platform == Platform("linux", "arm64", "v8")


def test_default_with_no_child_present(p: FakeProvider) -> None:
    root, parts = two_platforms(p)
    p.drop(parts["amd64"][0], parts["arm64"][0])
    with pytest.raises(FormatError, match="no manifest present"):
        p.walk(root)


def test_all_platforms_requires_every_child(p: FakeProvider) -> None:
    root, parts = two_platforms(p)
    graph = p.walk(root, PlatformSelection(all_platforms=True))
    assert len(graph.manifests) == 2
    p.drop(parts["arm64"][0])
    with pytest.raises(MissingContentError) as caught:
        p.walk(root, PlatformSelection(all_platforms=True))
    assert caught.value.digest == parts["arm64"][0].digest
    assert caught.value.needed_by == root.digest


def test_explicit_platforms(p: FakeProvider) -> None:
    root, parts = two_platforms(p)
    arm_only = PlatformSelection(platforms=(Platform.parse("linux/arm64"),))
    graph = p.walk(root, arm_only)
    assert set(graph.blobs) == {root.digest, *(d.digest for d in parts["arm64"])}
    assert graph.missing == []
    both = PlatformSelection(
        platforms=(Platform.parse("linux/arm64"), Platform.parse("linux/amd64"))
    )
    assert len(p.walk(root, both).manifests) == 2
    with pytest.raises(FormatError):
        p.walk(root, PlatformSelection(platforms=(Platform.parse("linux/s390x"),)))
    p.drop(parts["arm64"][0])
    with pytest.raises(MissingContentError) as caught:
        p.walk(root, arm_only)
    assert caught.value.digest == parts["arm64"][0].digest


def test_attestations_follow_their_subject(p: FakeProvider) -> None:
    amd, arm = p.manifest("amd64"), p.manifest("arm64")
    att_amd = p.manifest("attestation amd64")
    att_arm = p.manifest("attestation arm64")

    def attestation(m: Descriptor, subject: Descriptor) -> Descriptor:
        return on(
            m,
            "unknown/unknown",
            **{
                REFERENCE_TYPE: "attestation-manifest",
                REFERENCE_DIGEST: str(subject.digest),
            },
        )

    root = p.index(
        [
            on(amd[0], "linux/amd64"),
            on(arm[0], "linux/arm64"),
            attestation(att_amd[0], amd[0]),
            attestation(att_arm[0], arm[0]),
        ]
    )
    amd_only = PlatformSelection(platforms=(Platform.parse("linux/amd64"),))
    graph = p.walk(root, amd_only)
    assert [d.digest for d, _ in graph.manifests] == [amd[0].digest, att_amd[0].digest]
    # An attestation that is absent is reported, not an error.
    p.drop(att_amd[0])
    graph = p.walk(root, amd_only)
    assert [d.digest for d, _ in graph.manifests] == [amd[0].digest]
    assert [d.digest for d, _ in graph.missing] == [att_amd[0].digest]
    # Attestations are no platform: --all-platforms takes every real one and reports it.
    graph = p.walk(root, PlatformSelection(all_platforms=True))
    assert [d.digest for d, _ in graph.manifests] == [
        amd[0].digest,
        arm[0].digest,
        att_arm[0].digest,
    ]
    assert [d.digest for d, _ in graph.missing] == [att_amd[0].digest]
    p.drop(arm[0])
    with pytest.raises(MissingContentError):
        p.walk(root, PlatformSelection(all_platforms=True))


def test_nested_index(p: FakeProvider) -> None:
    inner_root, parts = two_platforms(p)
    root = p.index([inner_root])
    graph = p.walk(root)
    assert list(graph.blobs)[:2] == [root.digest, inner_root.digest]
    assert len(graph.manifests) == 2
    arm_only = PlatformSelection(platforms=(Platform.parse("linux/arm64"),))
    graph = p.walk(root, arm_only)
    assert [d.digest for d, _ in graph.manifests] == [parts["arm64"][0].digest]


def test_same_manifest_twice_is_not_a_loop(p: FakeProvider) -> None:
    manifest, _, _ = p.manifest("twice")
    root = p.index([on(manifest, "linux/amd64"), on(manifest, "linux/arm64")])
    assert len(p.walk(root).blobs) == 4


def test_reference_loop(p: FakeProvider) -> None:
    # Content addressing rules out a real loop; an unverified source can claim one.
    looping = Digest.of(b"claimed")
    self_ref = Descriptor(mt.OCI_IMAGE_INDEX, looping, 100)
    p.blobs[looping] = Index.build([self_ref]).raw
    with pytest.raises(ReferenceLoopError) as caught:
        p.walk(self_ref)
    assert caught.value.digest == looping
    a, b = Digest.of(b"a"), Digest.of(b"b")
    desc_a, desc_b = (Descriptor(mt.OCI_IMAGE_INDEX, d, 1) for d in (a, b))
    p.blobs[a] = Index.build([desc_b]).raw
    p.blobs[b] = Index.build([desc_a]).raw
    with pytest.raises(ReferenceLoopError):
        p.walk(desc_a)
    assert isinstance(caught.value, FormatError)


def test_missing_root(p: FakeProvider) -> None:
    absent = Descriptor(mt.OCI_IMAGE_MANIFEST, Digest.of(b"absent"), 6)
    with pytest.raises(MissingContentError) as caught:
        p.walk(absent)
    assert caught.value.needed_by == "index.json"


@pytest.mark.parametrize("drop", [1, 2], ids=["config", "layer"])
def test_missing_config_or_layer(p: FakeProvider, drop: int) -> None:
    parts = p.manifest("partial")
    p.drop(parts[drop])
    root = p.index([on(parts[0], "linux/amd64")])
    with pytest.raises(MissingContentError) as caught:
        p.walk(root)
    assert caught.value.digest == parts[drop].digest
    assert caught.value.needed_by == parts[0].digest
    assert str(parts[drop].digest) in str(caught.value)


def test_missing_non_distributable_layer_is_tolerated(p: FakeProvider) -> None:
    manifest, config, layer = p.manifest("foreign", layer_type=mt.DOCKER_FOREIGN_LAYER)
    p.drop(layer)
    graph = p.walk(manifest)
    assert set(graph.blobs) == {manifest.digest, config.digest}
    assert [(d.digest, parent) for d, parent in graph.missing] == [
        (layer.digest, manifest.digest)
    ]
    other, _, nd_layer = p.manifest(
        "nd", layer_type=mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP
    )
    assert nd_layer.digest in p.walk(other).blobs


def test_reachable_follows_children_layers_and_subjects(p: FakeProvider) -> None:
    root, parts = two_platforms(p)
    signature = p.manifest("signature", subject=root)
    found = reachable([signature[0]], p)
    expected = {root.digest, *(d.digest for ds in parts.values() for d in ds)}
    assert found == {*(d.digest for d in signature), *expected}
    assert reachable([root], p) == expected


def test_reachable_tolerates_missing_but_not_garbage(p: FakeProvider) -> None:
    root, parts = two_platforms(p)
    p.drop(parts["arm64"][0], parts["amd64"][2])
    found = reachable([root], p)
    assert found == {root.digest, parts["amd64"][0].digest, parts["amd64"][1].digest}
    assert reachable([], p) == set()
    # A present but malformed manifest hides what it references: collection must stop
    # rather than treat that content as unreferenced.
    broken = p.put(mt.OCI_IMAGE_MANIFEST, b'{"schemaVersion":2,"config":"nope"}')
    with pytest.raises(FormatError):
        reachable([root, broken], p)


def test_selection_records_skipped_and_taken_children(p: FakeProvider) -> None:
    root, parts = two_platforms(p)
    arm = PlatformSelection((Platform.parse("linux/arm64"),))
    graph = p.walk(root, arm)
    assert [d.digest for d, _ in graph.skipped] == [parts["amd64"][0].digest]
    assert [d.digest for d in graph.children[root.digest]] == [parts["arm64"][0].digest]
    assert [d.digest for d, _ in graph.indexes] == [root.digest]


def test_tolerant_walk_records_what_it_cannot_read(p: FakeProvider) -> None:
    manifest, _config, layer = p.manifest("one")
    broken = p.put(mt.OCI_IMAGE_MANIFEST, b'{"schemaVersion": 2}')
    root = p.index([manifest, broken])
    p.drop(layer)
    with pytest.raises(MissingContentError):
        p.walk(root)
    graph = walk_image(root, p, tolerate_missing=True, tolerate_errors=True)
    assert [d.digest for d, _ in graph.missing] == [layer.digest]
    assert [d.digest for d, _ in graph.errors] == [broken.digest]
    assert "config" in graph.errors[0][1]


def test_subjects_are_walked_only_when_asked(p: FakeProvider) -> None:
    image, config, layer = p.manifest("image")
    signature = p.manifest("signature", subject=image)[0]
    assert image.digest not in p.walk(signature).blobs
    graph = walk_image(signature, p, subjects=True)
    assert {image.digest, config.digest, layer.digest} <= set(graph.blobs)
