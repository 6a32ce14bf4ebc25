"""Media type constants, named after what the OCI image-spec and Docker call them.

Sources: image-spec ``media-types.md`` and ``layer.md``; Docker's image manifest v2,
schema 2 specification.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_LAYER",
    "DOCKER_LAYER_TAR",
    "DOCKER_MANIFEST_LIST",
    "DOCKER_MANIFEST_V2",
    "INDEX_MEDIA_TYPES",
    "MANIFEST_MEDIA_TYPES",
    "NON_DISTRIBUTABLE_LAYERS",
    "OCI_EMPTY",
    "OCI_IMAGE_CONFIG",
    "OCI_IMAGE_INDEX",
    "OCI_IMAGE_MANIFEST",
    "OCI_LAYER_NONDISTRIBUTABLE_TAR",
    "OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP",
    "OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD",
    "OCI_LAYER_TAR",
    "OCI_LAYER_TAR_GZIP",
    "OCI_LAYER_TAR_ZSTD",
    "OCI_LAYOUT_VERSION",
    "layer_media_type",
]

OCI_IMAGE_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_IMAGE_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_IMAGE_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
OCI_LAYER_TAR: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_TAR_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDISTRIBUTABLE_TAR: Final = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar"
)
OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP: Final = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
)
OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD: Final = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
)

DOCKER_MANIFEST_V2: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = (
    "application/vnd.docker.distribution.manifest.list.v2+json"
)
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR: Final = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_FOREIGN_LAYER: Final = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

#: Media types whose documents list child manifests (``manifests``).
INDEX_MEDIA_TYPES: Final = frozenset({OCI_IMAGE_INDEX, DOCKER_MANIFEST_LIST})
#: Media types whose documents name a config and layers.
MANIFEST_MEDIA_TYPES: Final = frozenset({OCI_IMAGE_MANIFEST, DOCKER_MANIFEST_V2})
#: Layers that registries and archives may leave out (image-spec ``layer.md``).
NON_DISTRIBUTABLE_LAYERS: Final = frozenset(
    {
        OCI_LAYER_NONDISTRIBUTABLE_TAR,
        OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD,
        DOCKER_FOREIGN_LAYER,
    }
)

#: The only ``imageLayoutVersion`` of image-spec ``image-layout.md``.
OCI_LAYOUT_VERSION: Final = "1.0.0"

_LAYER_TYPES: Final = {
    (None, False): DOCKER_LAYER_TAR,
    ("gzip", False): DOCKER_LAYER,
    # Docker schema 2 has no zstd layer type; containerd writes the OCI one there too.
    ("zstd", False): OCI_LAYER_TAR_ZSTD,
    (None, True): OCI_LAYER_TAR,
    ("gzip", True): OCI_LAYER_TAR_GZIP,
    ("zstd", True): OCI_LAYER_TAR_ZSTD,
}


def layer_media_type(compression: str | None, *, oci: bool) -> str | None:
    """The layer media type for a compression (``None``, ``"gzip"``, ``"zstd"``) in OCI
    (``oci=True``) or Docker schema 2 manifests; ``None`` for compressions no manifest
    type names (bzip2, xz)."""
    return _LAYER_TYPES.get((compression, oci))
