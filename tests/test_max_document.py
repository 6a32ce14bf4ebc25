"""--max-document: the cap on JSON documents is the user's, in both directions."""

from __future__ import annotations

import io
import json

import pytest

import ociport
from ociport.content.helpers import read_blob, write_blob
from ociport.testing.factories import name_image, random_image


def _big_manifest_archive(store: ociport.ImageStore) -> bytes:
    root = random_image(store.content, seed=11)
    doc = json.loads(read_blob(store.content, root))
    doc["annotations"] = {"padding": "x" * (5 << 20)}
    raw = json.dumps(doc).encode()
    big = ociport.Descriptor(root.media_type, ociport.Digest.of(raw), len(raw))
    write_blob(store.content, io.BytesIO(raw), big)
    name_image(store.content, "example.com/big:1", big)
    out = io.BytesIO()
    store.export_images(["example.com/big:1"], out)
    return out.getvalue()


def test_raising_the_cap_admits_a_large_manifest(
    store: ociport.ImageStore, tmp_path: object
) -> None:
    archive = _big_manifest_archive(store)
    fresh = ociport.open_store(f"memory://max-document-{id(archive)}", pm=store.pm)
    with pytest.raises(ociport.DocumentTooLargeError):
        fresh.import_image(io.BytesIO(archive))
    result = fresh.import_image(io.BytesIO(archive), max_document=8 << 20)
    assert result.images[0].name == "example.com/big:1"
    with pytest.raises(ociport.DocumentTooLargeError):
        fresh.import_image(io.BytesIO(archive), max_document=1 << 20)
