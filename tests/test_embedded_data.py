"""Descriptors that carry their blob in ``data`` (image-spec 1.1 "Embedded content"):
a blob absent from the source is stored from ``data`` once it matches the digest."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pluggy
import pytest

import ociport
from ociport.builtin import oci_layout
from ociport.oci.descriptor import ANNOTATION_REF_NAME
from ociport.oci.manifest import dump_json
from ociport.testing.factories import name_image, random_image

NAME = "example.com/embedded:1"


@pytest.fixture
def layout_pm(pm: pluggy.PluginManager) -> pluggy.PluginManager:
    pm.register(oci_layout, name="oci")
    return pm


def _layout_without_config(
    tmp_path: Path, pm: pluggy.PluginManager, data: bytes | None
) -> tuple[Path, ociport.Digest]:
    """An OCI layout whose manifest embeds its config in ``data`` (``data`` given:
    those bytes instead of the config's) and whose ``blobs/`` lacks the config."""
    layout = tmp_path / "layout"
    source = ociport.open_store(str(layout), pm=pm)
    root = random_image(source.content, seed=21)
    manifest = json.loads(
        (layout / "blobs" / "sha256" / root.digest.encoded).read_bytes()
    )
    config_digest = ociport.Digest.parse(manifest["config"]["digest"])
    config_file = layout / "blobs" / "sha256" / config_digest.encoded
    embedded = config_file.read_bytes() if data is None else data
    manifest["config"]["data"] = base64.b64encode(embedded).decode()
    raw = dump_json(manifest)
    new = ociport.Digest.of(raw)
    (layout / "blobs" / "sha256" / new.encoded).write_bytes(raw)
    (layout / "blobs" / "sha256" / root.digest.encoded).unlink()
    config_file.unlink()
    descriptor = ociport.Descriptor(root.media_type, new, len(raw))
    name_image(source.content, NAME, descriptor)
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"][ANNOTATION_REF_NAME] == NAME
    return layout, config_digest


def test_absent_blob_is_stored_from_descriptor_data(
    store: ociport.ImageStore, tmp_path: Path, layout_pm: pluggy.PluginManager
) -> None:
    layout, config = _layout_without_config(tmp_path, layout_pm, None)
    result = store.import_image(str(layout), format="oci")
    assert [image.name for image in result.images] == [NAME]
    assert store.content.info(config).size > 0
    assert store.verify() == [] and store.verify_images() == []


def test_descriptor_data_that_is_not_the_blob_is_refused(
    store: ociport.ImageStore, tmp_path: Path, layout_pm: pluggy.PluginManager
) -> None:
    layout, config = _layout_without_config(
        tmp_path, layout_pm, b'{"not": "the config"}'
    )
    before = list(store.content.walk())
    with pytest.raises(ociport.ContentError, match=str(config)):
        store.import_image(str(layout), format="oci")
    assert list(store.content.walk()) == before and store.images() == []
