"""validate_image: an image's closure is present, sound, and its configs match its layers."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from ociport.content.fsstore import FsspecContentStore
from ociport.content.helpers import ContentDocuments, read_blob, write_blob
from ociport.errors import (
    DigestMismatchError,
    FormatError,
    MissingContentError,
    SizeMismatchError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Manifest, dump_json
from ociport.oci.validate import check_diff_ids, validate_image
from ociport.oci.walk import PlatformSelection, walk_image
from ociport.testing.factories import random_image
from ociport.testing.stores import new_memory_store, remove_store, tamper_layout_blob


@pytest.fixture
def store() -> Iterator[FsspecContentStore]:
    made = new_memory_store()
    yield made
    remove_store(made)


def _first_manifest(store: FsspecContentStore, root: Descriptor) -> Manifest:
    return walk_image(root, ContentDocuments(store)).manifests[0][1]


def test_a_whole_image_validates(store: FsspecContentStore) -> None:
    root = random_image(store, layers=3, platforms=["linux/amd64", "linux/arm64"])
    graph = validate_image(store, root, PlatformSelection(all_platforms=True))
    assert len(graph.manifests) == 2
    assert len(graph.blobs) == 1 + 2 * (1 + 1 + 3)


def test_an_absent_layer_is_missing(store: FsspecContentStore) -> None:
    root = random_image(store)
    layer = _first_manifest(store, root).layers[0]
    store.delete(layer.digest)
    with pytest.raises(MissingContentError) as caught:
        validate_image(store, root)
    assert caught.value.digest == layer.digest


def test_an_absent_platform_is_allowed_unless_required(
    store: FsspecContentStore,
) -> None:
    root = random_image(store, platforms=["linux/amd64", "linux/arm64"])
    child = walk_image(root, ContentDocuments(store)).manifests[1][0]
    store.delete(child.digest)
    graph = validate_image(store, root)
    assert [d.digest for d, _ in graph.missing] == [child.digest]
    with pytest.raises(MissingContentError):
        validate_image(store, root, PlatformSelection(all_platforms=True))


def test_a_corrupt_layer_fails_the_hash(store: FsspecContentStore) -> None:
    root = random_image(store)
    layer = _first_manifest(store, root).layers[-1]
    tamper_layout_blob(store, layer.digest, b"\1" * layer.size)
    with pytest.raises(DigestMismatchError):
        validate_image(store, root)
    validate_image(store, root, hash_blobs=False)  # sizes still agree


def test_a_blob_of_the_wrong_size(store: FsspecContentStore) -> None:
    root = random_image(store)
    layer = _first_manifest(store, root).layers[0]
    tamper_layout_blob(store, layer.digest, b"\1" * (layer.size + 1))
    with pytest.raises(SizeMismatchError):
        validate_image(store, root, hash_blobs=False)


def _put(store: FsspecContentStore, media_type: str, data: bytes) -> Descriptor:
    desc = Descriptor(media_type, Digest.of(data), len(data))
    write_blob(store, io.BytesIO(data), desc)
    return desc


def test_diff_ids_must_match_the_layers(store: FsspecContentStore) -> None:
    manifest = _first_manifest(store, random_image(store, layers=2))
    config = json.loads(read_blob(store, manifest.config))
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:1]
    short = _put(store, mt.OCI_IMAGE_CONFIG, dump_json(config))
    raw = Manifest.build(short, manifest.layers).raw
    root = _put(store, mt.OCI_IMAGE_MANIFEST, raw)
    with pytest.raises(FormatError, match="1 diff IDs for 2 layers"):
        validate_image(store, root)


def test_an_uncompressed_layer_is_its_own_diff_id() -> None:
    layer = Descriptor(mt.OCI_LAYER_TAR, Digest.of(b"layer"), 5)
    check_diff_ids({"rootfs": {"diff_ids": [str(layer.digest)]}}, [layer])
    with pytest.raises(FormatError, match="does not match diff ID"):
        check_diff_ids({"rootfs": {"diff_ids": [str(Digest.of(b"x"))]}}, [layer])
    gzipped = Descriptor(mt.OCI_LAYER_TAR_GZIP, layer.digest, 5)
    check_diff_ids({"rootfs": {"diff_ids": [str(Digest.of(b"x"))]}}, [gzipped])
