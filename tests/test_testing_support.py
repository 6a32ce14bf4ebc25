"""ociport.testing's factories and fixtures: reproducible, valid images."""

# The fixtures are imported so that pytest finds them; tests take them as arguments.
# ruff: noqa: F811

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable

from ociport.content.fsstore import FsspecContentStore
from ociport.content.helpers import read_blob
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.manifest import Index, Manifest
from ociport.testing import layer_tar, name_image, random_image, store_state
from ociport.testing.fixtures import (  # noqa: F401
    file_content_store,
    memory_content_store,
    random_image_factory,
)


def test_layer_tar_is_deterministic_and_readable() -> None:
    blob = layer_tar(b"payload", name="dir/file")
    assert blob == layer_tar(b"payload", name="dir/file")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        [member] = tar.getmembers()
        assert (member.name, member.mtime, member.uid, member.mode) == (
            "dir/file",
            0,
            0,
            0o644,
        )
        assert tar.extractfile(member).read() == b"payload"  # type: ignore[union-attr]


def test_random_image_is_reproducible(
    memory_content_store: FsspecContentStore, file_content_store: FsspecContentStore
) -> None:
    a = random_image(memory_content_store, layers=3, seed=4)
    b = random_image(file_content_store, layers=3, seed=4)
    assert a == b
    assert store_state(memory_content_store)[0] == store_state(file_content_store)[0]
    assert random_image(file_content_store, seed=5).digest != a.digest
    # Idempotent: the same seed writes nothing new.
    before = store_state(file_content_store)[:2]
    random_image(file_content_store, layers=3, seed=4)
    assert store_state(file_content_store)[:2] == before


def test_random_image_is_a_valid_image(
    memory_content_store: FsspecContentStore,
) -> None:
    root = random_image(memory_content_store, layers=2, layer_size=3000, seed=1)
    assert root.media_type == mt.OCI_IMAGE_MANIFEST
    manifest = Manifest.parse(read_blob(memory_content_store, root))
    assert manifest.digest == root.digest
    config = json.loads(read_blob(memory_content_store, manifest.config))
    assert config["rootfs"]["diff_ids"] == [
        str(layer.digest) for layer in manifest.layers
    ]
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert [layer.media_type for layer in manifest.layers] == [mt.OCI_LAYER_TAR] * 2
    payloads = []
    for layer in manifest.layers:
        data = read_blob(memory_content_store, layer, max_size=layer.size)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            [member] = tar.getmembers()
            payloads.append(tar.extractfile(member).read())  # type: ignore[union-attr]
    assert [len(p) for p in payloads] == [3000, 3000]
    assert payloads[0] != payloads[1]


def test_random_image_with_platforms(
    memory_content_store: FsspecContentStore,
    random_image_factory: Callable[..., Descriptor],
) -> None:
    root = random_image_factory(
        memory_content_store, seed=2, platforms=["linux/amd64", "linux/arm/v7"]
    )
    assert root.media_type == mt.OCI_IMAGE_INDEX
    index = Index.parse(read_blob(memory_content_store, root))
    assert [c.platform for c in index.manifests] == [
        Platform("linux", "amd64"),
        Platform("linux", "arm", "v7"),
    ]
    configs = []
    for child in index.manifests:
        manifest = Manifest.parse(read_blob(memory_content_store, child))
        configs.append(json.loads(read_blob(memory_content_store, manifest.config)))
    assert [(c["architecture"], c.get("variant")) for c in configs] == [
        ("amd64", None),
        ("arm", "v7"),
    ]
    assert configs[0]["rootfs"]["diff_ids"] != configs[1]["rootfs"]["diff_ids"]


def test_name_image_replaces_by_name(memory_content_store: FsspecContentStore) -> None:
    first = random_image(memory_content_store, seed=1)
    second = random_image(memory_content_store, seed=2)
    name_image(memory_content_store, "example.com/a:1", first)
    name_image(memory_content_store, "example.com/b:1", first)
    entry = name_image(memory_content_store, "example.com/a:1", second)
    assert entry.ref_name == "example.com/a:1"
    assert sorted(
        (d.ref_name, d.digest) for d in memory_content_store.read_index()
    ) == [
        ("example.com/a:1", second.digest),
        ("example.com/b:1", first.digest),
    ]
