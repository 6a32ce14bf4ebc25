"""``ExportPlan.reencode_layers``: layers a format cannot hold, re-encoded for one export
(read once, diff ID checked, spooled to a temporary file, served by ``plan.content``)."""

from __future__ import annotations

import gzip
import io
import json
import random
import tracemalloc
from pathlib import Path

import pluggy
import pytest
import zstandard

import ociport
from ociport.content.helpers import read_blob, write_blob
from ociport.content.interfaces import ContentStore
from ociport.drivers.kit import ExportPlan, PlatformSelection
from ociport.engine.exporting import plan_export
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_REF_NAME, Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Manifest, dump_json
from ociport.testing import layer_tar

READER = "docker load"
ZSTD_CHUNKED = "io.github.containers.zstd-chunked.manifest-checksum"


@pytest.fixture
def content(store: ociport.ImageStore) -> ContentStore:
    return store.content


def _put(
    store: ContentStore, media_type: str, data: bytes, **fields: object
) -> Descriptor:
    desc = Descriptor(media_type, Digest.of(data), len(data), **fields)  # type: ignore[arg-type]
    write_blob(store, io.BytesIO(data), desc)
    return desc


def _image(
    store: ContentStore, layers: list[tuple[Descriptor, bytes]]
) -> tuple[Descriptor, Manifest]:
    """An image of ``layers`` (descriptor, uncompressed tar), its config listing their
    diff IDs; returns the entry to export and the manifest."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": [str(Digest.of(t)) for _, t in layers],
        },
    }
    manifest = Manifest.build(
        _put(store, mt.OCI_IMAGE_CONFIG, dump_json(config)), [d for d, _ in layers]
    )
    root = _put(store, mt.OCI_IMAGE_MANIFEST, manifest.raw)
    return root.with_annotations({ANNOTATION_REF_NAME: "example.com/x:1"}), manifest


def _plan(store: ContentStore, entry: Descriptor, **options: bool) -> ExportPlan:
    plan, _ = plan_export(store, [entry], PlatformSelection(), **options)
    return plan


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def test_only_layers_outside_accepted_are_reencoded_once(content: ContentStore) -> None:
    plain, packed, gzipped = (layer_tar(b"%d" % i * 100) for i in range(3))
    a = _put(content, mt.OCI_LAYER_TAR, plain)
    b = _put(
        content,
        mt.OCI_LAYER_TAR_ZSTD,
        _zstd(packed),
        annotations={ZSTD_CHUNKED: "x", "keep": "y"},
    )
    c = _put(content, mt.OCI_LAYER_TAR_GZIP, gzip.compress(gzipped))
    entry, manifest = _image(
        content, [(a, plain), (b, packed), (c, gzipped), (b, packed)]
    )
    plan = _plan(content, entry)
    view = plan.content

    loadable = plan.reencode_layers(manifest, ("gzip", None), reader=READER)

    new = loadable.layers[1]
    assert loadable.layers == (a, new, c, new)
    assert (new.media_type, dict(new.annotations)) == (
        mt.OCI_LAYER_TAR_GZIP,
        {"keep": "y"},
    )
    assert (loadable.media_type, loadable.config) == (
        manifest.media_type,
        manifest.config,
    )
    assert json.loads(loadable.raw)["layers"][1] == new.to_json()
    data = read_blob(plan.content, new, max_size=1 << 20)  # verified against ``new``
    assert data[:2] == b"\x1f\x8b" and gzip.decompress(data) == packed
    assert plan.content.info(new.digest).size == new.size == len(data)
    assert plan.notes == [
        f"layer {b.digest} is zstd: written gzip-compressed, which docker load reads"
    ]
    # Asked again (another entry showing the same manifest): the same, no new note.
    assert plan.reencode_layers(manifest, ("gzip", None), reader=READER) == loadable
    assert len(plan.notes) == 1
    # Everything else still comes from the export's view.
    assert read_blob(plan.content, manifest.config) == read_blob(view, manifest.config)
    plan.close()
    with pytest.raises(ociport.BlobNotFoundError):
        plan.content.open_blob(new)


def test_a_manifest_the_format_holds_is_returned_as_it_is(
    content: ContentStore,
) -> None:
    tar = layer_tar(b"z")
    entry, manifest = _image(
        content, [(_put(content, mt.OCI_LAYER_TAR_ZSTD, _zstd(tar)), tar)]
    )
    plan = _plan(content, entry)
    view = plan.content
    assert plan.reencode_layers(manifest, ("zstd", "gzip"), reader=READER) is manifest
    assert plan.content is view and plan.notes == []


def test_reencoding_as_uncompressed_gives_the_diff_ids(content: ContentStore) -> None:
    tars = [layer_tar(b"one"), layer_tar(b"two")]
    layers = [
        (_put(content, mt.OCI_LAYER_TAR_ZSTD, _zstd(tars[0])), tars[0]),
        (_put(content, mt.OCI_LAYER_TAR_GZIP, gzip.compress(tars[1])), tars[1]),
    ]
    entry, manifest = _image(content, layers)
    plan = _plan(content, entry)
    plain = plan.reencode_layers(manifest, (None,), reader="a tar reader")
    assert [(d.media_type, d.digest) for d in plain.layers] == [
        (mt.OCI_LAYER_TAR, Digest.of(t)) for t in tars
    ]
    assert plan.notes[1] == (
        f"layer {layers[1][0].digest} is gzip: written uncompressed, which a tar "
        "reader reads"
    )


def test_layers_the_export_leaves_out_stay_as_they_are(content: ContentStore) -> None:
    tar = layer_tar(b"foreign")
    foreign = _put(content, mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD, _zstd(tar))
    entry, manifest = _image(content, [(foreign, tar)])
    skipped = _plan(content, entry, skip_non_distributable=True)
    assert skipped.reencode_layers(manifest, ("gzip",), reader=READER) is manifest
    kept = _plan(content, entry)
    [layer] = kept.reencode_layers(manifest, ("gzip",), reader=READER).layers
    assert layer.media_type == mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP


def test_a_corrupt_stored_layer_is_refused(content: ContentStore) -> None:
    tar = layer_tar(b"the stored bytes change behind the store's back")
    layer = _put(content, mt.OCI_LAYER_TAR_ZSTD, _zstd(tar))
    entry, manifest = _image(content, [(layer, tar)])
    other = zstandard.ZstdCompressor(level=19).compress(tar)  # same tar, other bytes
    assert other != _zstd(tar)
    path = f"{content.location.path}/blobs/sha256/{layer.digest.encoded}"
    content.location.fs.pipe_file(path, other)
    plan = _plan(content, entry)
    with pytest.raises((ociport.DigestMismatchError, ociport.SizeMismatchError)):
        plan.reencode_layers(manifest, ("gzip", None), reader=READER)


def test_memory_stays_bounded(tmp_path: Path, pm: pluggy.PluginManager) -> None:
    """A layer of 48 MiB is re-encoded in a few buffers' worth of memory
    (4 MiB reads, 4 MiB read-ahead before and after decompression): neither the tar nor
    the new blob is ever held whole."""
    content = ociport.open_store(str(tmp_path / "store"), pm=pm).content
    tar = layer_tar(random.Random(7).randbytes(48 << 20))  # incompressible
    layer = _put(content, mt.OCI_LAYER_TAR_ZSTD, _zstd(tar))
    entry, manifest = _image(content, [(layer, tar)])
    del tar
    plan = _plan(content, entry)
    tracemalloc.start()
    try:
        [new] = plan.reencode_layers(manifest, ("gzip",), reader=READER).layers
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 << 20, f"peak {peak} bytes"
    hasher = Digest.of(b"").hasher()
    with plan.content.open_blob(new, verify=True) as stream, gzip.open(stream) as plain:
        while chunk := plain.read(1 << 20):
            hasher.update(chunk)
    assert hasher.digest() == Digest.parse(
        json.loads(read_blob(content, manifest.config))["rootfs"]["diff_ids"][0]
    )
    plan.close()
