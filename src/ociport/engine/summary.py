"""An image's total size and platforms, for listings (``images ls``): one walk over its
documents, sizes taken from descriptors, no blob checked or read but documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ociport.content.helpers import ContentDocuments
from ociport.content.interfaces import ReadableContent
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.walk import config_platform, is_attestation, walk_image

__all__ = ["ImageSummary", "describe_image", "summarize_image"]

_IMAGE_CONFIGS = frozenset({mt.OCI_IMAGE_CONFIG, mt.DOCKER_CONFIG})


@dataclass(frozen=True, slots=True)
class ImageSummary:
    """What a listing shows of an image.

    :ivar size: bytes the image takes in the store: its manifest, config and layers,
        or for an index the index(es) and every manifest present with its config and
        layers; a blob shared by several manifests counts once. Taken from the
        descriptors (a blob the store lacks by mistake still counts; ``content verify``
        finds those); manifests absent on purpose (platforms left out of an import)
        do not.
    :ivar platforms: ``os/arch[/variant]`` of its image manifests, in index order,
        each once, attestations left out; from the image config where a descriptor
        names none; empty when none is known (an artifact).
    """

    size: int
    platforms: tuple[str, ...]


class _Documents:
    """The store's documents; every other blob is taken as present (no request per
    layer: sizes come from descriptors)."""

    def __init__(self, content: ReadableContent) -> None:
        self._documents = ContentDocuments(content)

    def has(self, digest: Digest) -> bool:
        return True

    def read_document(self, descriptor: Descriptor) -> bytes:
        return self._documents.read_document(descriptor)


def summarize_image(content: ReadableContent, root: Descriptor) -> ImageSummary:
    """The total size and platforms of the image ``root`` in ``content``.

    Reads the root and the manifests it reaches, and the config of a manifest whose
    descriptor names no platform. An index child the store lacks (a platform left
    out of an import) or cannot read adds nothing: its config and layers are unknown.
    """
    documents = _Documents(content)
    graph = walk_image(root, documents, tolerate_missing=True, tolerate_errors=True)
    unreadable = {desc.digest for desc, _ in graph.errors}
    size = sum(d.size for digest, d in graph.blobs.items() if digest not in unreadable)
    platforms: dict[str, None] = {}
    for desc, manifest in graph.manifests:
        if is_attestation(desc) or manifest.config.media_type not in _IMAGE_CONFIGS:
            continue
        if desc.platform is not None:
            platforms[str(desc.platform)] = None
            continue
        named = config_platform(documents, manifest.config)
        if named is not None:
            platforms[named] = None
    return ImageSummary(size, tuple(platforms))


def describe_image(
    content: ReadableContent, name: str, root: Descriptor
) -> dict[str, Any]:
    """Descriptor, manifests (platform, config, layers), total size in bytes and
    missing content of the image ``root`` named ``name``, as JSON data
    (``images inspect``).

    :raises MissingContentError, FormatError: a manifest it needs is absent or bad.
    """
    documents = ContentDocuments(content)
    graph = walk_image(root, documents)
    manifests = []
    for desc, manifest in graph.manifests:
        manifests.append(
            {
                "descriptor": desc.to_json(),
                "platform": str(desc.platform)
                if desc.platform
                else config_platform(documents, manifest.config),
                "config": manifest.config.to_json(),
                "layers": [layer.to_json() for layer in manifest.layers],
            }
        )
    return {
        "name": name,
        "descriptor": root.to_json(),
        "manifests": manifests,
        "size": sum(d.size for d in graph.blobs.values()),
        "missing": [
            {"descriptor": d.to_json(), "referencedBy": str(parent)}
            for d, parent in graph.missing
        ],
    }
