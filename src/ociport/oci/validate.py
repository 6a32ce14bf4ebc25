"""Checking that an image is whole and sound, after go-containerregistry's ``validate``.

Used by ``content verify`` (every named image) and by the conformance suites (every
image a driver round-trips).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ociport.content.helpers import ContentDocuments
from ociport.content.interfaces import ReadableContent
from ociport.errors import FormatError, SizeMismatchError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import CHUNK_SIZE
from ociport.oci.manifest import Manifest, parse_json
from ociport.oci.walk import (
    DocumentProvider,
    ImageGraph,
    PlatformSelection,
    walk_image,
)

__all__ = ["check_diff_ids", "check_image_config", "validate_image"]

_IMAGE_CONFIGS: Final = frozenset({mt.OCI_IMAGE_CONFIG, mt.DOCKER_CONFIG})
_PLAIN_LAYERS: Final = frozenset({mt.OCI_LAYER_TAR, mt.DOCKER_LAYER_TAR})


def validate_image(
    content: ReadableContent,
    root: Descriptor,
    selection: PlatformSelection = PlatformSelection(),
    *,
    hash_blobs: bool = True,
) -> ImageGraph:
    """Check the closure of ``root`` in ``content``.

    Every referenced blob is present with its descriptor's size (the manifests an
    index lists may be absent unless ``selection`` requires them: a store may hold some
    platforms of an image), every blob hashes to its digest (with ``hash_blobs``), and
    each image config lists one ``rootfs.diff_ids`` entry per layer.

    :returns: the walk of the image.
    :raises MissingContentError: a required blob is absent.
    :raises SizeMismatchError, DigestMismatchError: a blob is not what its descriptor
        says.
    :raises FormatError: a malformed document, or diff IDs that do not match the layers.
    """
    documents = ContentDocuments(content)
    graph = walk_image(root, documents, selection)
    for digest, desc in graph.blobs.items():
        size = content.info(digest).size
        if size != desc.size:
            raise SizeMismatchError(desc.size, size, str(digest))
        if hash_blobs:
            with content.open_blob(desc, verify=True) as stream:
                while stream.read(CHUNK_SIZE):
                    pass
    for desc, manifest in graph.manifests:
        check_image_config(documents, desc, manifest)
    return graph


def check_image_config(
    documents: DocumentProvider, desc: Descriptor, manifest: Manifest
) -> None:
    """An image manifest's config lists one diff ID per layer (:func:`check_diff_ids`);
    artifacts, whose config is no image config, pass.

    :raises FormatError: naming the manifest and its config.
    """
    if manifest.config.media_type not in _IMAGE_CONFIGS:
        return
    config = parse_json(
        documents.read_document(manifest.config), where=str(manifest.config.digest)
    )
    where = f"manifest {desc.digest} (config {manifest.config.digest})"
    check_diff_ids(config, manifest.layers, where=where)


def check_diff_ids(
    config: Mapping[str, Any], layers: Sequence[Descriptor], *, where: str = ""
) -> None:
    """An image config that lists ``rootfs.diff_ids`` lists one per layer, and an
    uncompressed layer's diff ID is its own digest (image-spec ``config.md``). A config
    without ``rootfs`` (some artifacts use the image config type) is not checked.

    :param config: the parsed image config.
    :param where: the manifest, for the message.
    :raises FormatError: naming the mismatch.
    """
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        return  # no rootfs at all: nothing to hold the layers against
    if len(diff_ids) != len(layers):
        raise FormatError(
            f"image config lists {len(diff_ids)} diff IDs for {len(layers)} layers",
            member=where or None,
        )
    for diff_id, layer in zip(diff_ids, layers, strict=True):
        if layer.media_type in _PLAIN_LAYERS and diff_id != str(layer.digest):
            raise FormatError(
                f"layer {layer.digest} does not match diff ID {diff_id}",
                member=where or None,
            )
