"""Reproducible test images written into a content store (after ggcr's ``random``)."""

from __future__ import annotations

import io
import random
import tarfile
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ociport.content.helpers import write_blob
from ociport.content.interfaces import ImageIndexStore, Ingester
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_REF_NAME, Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, dump_json

__all__ = ["attach_artifact", "layer_tar", "name_image", "random_image"]


def layer_tar(payload: bytes, *, name: str = "data.bin") -> bytes:
    """An uncompressed layer: a tar holding one file with ``payload``.

    Every header field is fixed (mtime 0, uid/gid 0, mode 0644, ustar format), so the
    same payload always gives the same bytes and so the same digest.

    :param payload: the file's content.
    :param name: the file's path inside the layer.
    :returns: the layer blob.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _put(store: Ingester, media_type: str, data: bytes, **fields: Any) -> Descriptor:
    descriptor = Descriptor(media_type, Digest.of(data), len(data), **fields)
    write_blob(store, io.BytesIO(data), descriptor)
    return descriptor


def _image_manifest(
    store: Ingester,
    rng: random.Random,
    layers: int,
    layer_size: int,
    platform: Platform,
) -> Descriptor:
    layer_descriptors = []
    for i in range(layers):
        blob = layer_tar(rng.randbytes(layer_size), name=f"layer-{i}/data.bin")
        layer_descriptors.append(_put(store, mt.OCI_LAYER_TAR, blob))
    config = {
        "architecture": platform.architecture,
        "os": platform.os,
        **({"variant": platform.variant} if platform.variant else {}),
        "config": {},
        # Uncompressed layers: each diff ID is the layer's own digest.
        "rootfs": {
            "type": "layers",
            "diff_ids": [str(d.digest) for d in layer_descriptors],
        },
        "history": [
            {"created_by": f"ociport.testing layer {i}"} for i in range(layers)
        ],
    }
    config_descriptor = _put(store, mt.OCI_IMAGE_CONFIG, dump_json(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "config": config_descriptor.to_json(),
        "layers": [d.to_json() for d in layer_descriptors],
    }
    return _put(store, mt.OCI_IMAGE_MANIFEST, dump_json(manifest))


def random_image(
    store: Ingester,
    *,
    layers: int = 2,
    layer_size: int = 1024,
    seed: int = 0,
    platforms: Sequence[str] | None = None,
) -> Descriptor:
    """Write a random but reproducible image into ``store`` and return its root.

    Layers are real uncompressed tars of incompressible random bytes; the config lists
    their diff IDs in ``rootfs.diff_ids``. The same arguments always give the same
    digests. Writes are idempotent, so calling twice with one seed is harmless.

    :param store: where the blobs go (the ``.content`` of an image store).
    :param layers: number of layers per manifest.
    :param layer_size: bytes of random payload in each layer (the layer blob is a
        little larger: tar headers and padding).
    :param seed: selects the random bytes.
    :param platforms: ``os/arch[/variant]`` strings; when given, one manifest per
        platform (each with its own layers) under an image index.
    :returns: the descriptor of the manifest, or of the index when ``platforms`` is
        given (its children carry their ``platform``).
    """
    if not platforms:
        rng = random.Random(f"ociport:{seed}")
        return _image_manifest(
            store, rng, layers, layer_size, Platform("linux", "amd64")
        )
    children = []
    for text in platforms:
        platform = Platform.parse(text)
        rng = random.Random(f"ociport:{seed}:{platform}")
        manifest = _image_manifest(store, rng, layers, layer_size, platform)
        children.append(
            Descriptor(
                manifest.media_type, manifest.digest, manifest.size, platform=platform
            )
        )
    index = Index.build(children)
    return _put(store, mt.OCI_IMAGE_INDEX, index.raw)


def attach_artifact(
    store: Ingester, subject: Descriptor, artifact_type: str, payload: bytes
) -> Descriptor:
    """Write an artifact manifest that refers to ``subject`` (image-spec 1.1
    ``subject``), as ``oras attach --artifact-type`` writes one: ``payload`` as its one
    layer (of media type ``artifact_type``, titled ``payload``), the empty config
    ``{}`` (``application/vnd.oci.empty.v1+json``, its bytes also in ``data``) and a
    fixed ``org.opencontainers.image.created`` annotation.

    :returns: the manifest's descriptor as a store lists a referrer: media type, digest,
        size, ``artifactType`` and the manifest's annotations.
    """
    layer = _put(
        store,
        artifact_type,
        payload,
        annotations={"org.opencontainers.image.title": "payload"},
    )
    empty = replace(_put(store, mt.OCI_EMPTY, b"{}"), data=b"{}")
    annotations = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "artifactType": artifact_type,
        "config": empty.to_json(),
        "layers": [layer.to_json()],
        "subject": Descriptor(
            subject.media_type, subject.digest, subject.size
        ).to_json(),
        "annotations": annotations,
    }
    return _put(
        store,
        mt.OCI_IMAGE_MANIFEST,
        dump_json(manifest),
        annotations=annotations,
        artifact_type=artifact_type,
    )


def name_image(store: ImageIndexStore, name: str, root: Descriptor) -> Descriptor:
    """Name ``root`` in the store's ``index.json`` (replacing an entry of that name).

    :param store: the content store whose ``index.json`` lists named images.
    :param name: the full reference, stored as ``org.opencontainers.image.ref.name``.
    :param root: the image's root descriptor, e.g. from :func:`random_image`.
    :returns: the entry written.
    """
    entry = root.with_annotations({**root.annotations, ANNOTATION_REF_NAME: name})
    store.update_index(
        lambda entries: [*(e for e in entries if e.ref_name != name), entry]
    )
    return entry
