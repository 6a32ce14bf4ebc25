"""Manifests synthesised for Docker archives, byte for byte as ``ctr images import`` builds them.

A ``docker save`` archive has no manifest, only config and layer files. The manifest
built here is deterministic (compact JSON, keys in the order containerd writes them), so
importing the same archive twice, or with ctr, gives the same digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ociport.drivers.kit import (
    Descriptor,
    UnsupportedMediaTypeError,
    detect_compression,
    dump_json,
)
from ociport.drivers.kit import mediatypes as mt

__all__ = [
    "DOCKER_LAYER_TAR",
    "build_manifest",
    "config_media_type",
    "layer_media_type",
]

#: Docker's media type of an uncompressed layer.
DOCKER_LAYER_TAR: Final = "application/vnd.docker.image.rootfs.diff.tar"

_LAYER_TYPES: Final = {
    (None, False): DOCKER_LAYER_TAR,
    ("gzip", False): mt.DOCKER_LAYER,
    ("zstd", False): mt.OCI_LAYER_TAR_ZSTD,
    (None, True): mt.OCI_LAYER_TAR,
    ("gzip", True): mt.OCI_LAYER_TAR_GZIP,
    ("zstd", True): mt.OCI_LAYER_TAR_ZSTD,
}


def layer_media_type(head: bytes, *, oci: bool, where: str = "") -> str:
    """The media type of a layer from its first bytes (magic numbers, not names).

    :raises UnsupportedMediaTypeError: bzip2 or xz layers, which no manifest type names.
    """
    compression = detect_compression(head)
    try:
        return _LAYER_TYPES[(compression, oci)]
    except KeyError:
        raise UnsupportedMediaTypeError(
            f"{compression}-compressed layer", member=where or None
        ) from None


def config_media_type(*, oci: bool) -> str:
    """The config media type for Docker (``oci=False``) or OCI manifests."""
    return mt.OCI_IMAGE_CONFIG if oci else mt.DOCKER_CONFIG


def build_manifest(
    config: Descriptor, layers: Sequence[Descriptor], *, oci: bool
) -> bytes:
    """A Docker schema 2 (or, with ``oci``, an OCI) image manifest."""
    return dump_json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_MANIFEST if oci else mt.DOCKER_MANIFEST_V2,
            "config": config.to_json(),
            "layers": [layer.to_json() for layer in layers],
        }
    )
