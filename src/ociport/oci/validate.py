"""Checking that an image is whole and sound, after go-containerregistry's ``validate``.

Used by ``content verify`` (every named image) and by the conformance suites (every
image a driver round-trips).
"""

from __future__ import annotations

from ociport.content.helpers import ContentDocuments
from ociport.content.interfaces import ReadableContent
from ociport.errors import FormatError, SizeMismatchError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import CHUNK_SIZE
from ociport.oci.manifest import Manifest, parse_json
from ociport.oci.walk import ImageGraph, PlatformSelection, walk_image

__all__ = ["validate_image"]

_IMAGE_CONFIGS = frozenset({mt.OCI_IMAGE_CONFIG, mt.DOCKER_CONFIG})


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
        _check_diff_ids(documents, desc, manifest)
    return graph


def _check_diff_ids(
    documents: ContentDocuments, desc: Descriptor, manifest: Manifest
) -> None:
    if manifest.config.media_type not in _IMAGE_CONFIGS:
        return  # an artifact: its config is not an image config
    config = parse_json(
        documents.read_document(manifest.config), where=str(manifest.config.digest)
    )
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(manifest.layers):
        count = len(diff_ids) if isinstance(diff_ids, list) else "no"
        raise FormatError(
            f"manifest {desc.digest} has {len(manifest.layers)} layers but its config "
            f"lists {count} diff IDs",
            member=str(manifest.config.digest),
        )
