"""The names a Docker 25+ archive gives its images in ``index.json``.

Since Docker 25, ``docker save`` writes an OCI image layout beside ``manifest.json``:
``oci-layout``, ``index.json`` and ``blobs/sha256/<hex>`` members (manifests, configs,
layers), with ``manifest.json``'s ``Config`` and ``Layers`` naming those members. Each
``index.json`` entry names its image twice: ``io.containerd.image.name``, the full name
(``docker.io/library/busybox:latest``), and ``org.opencontainers.image.ref.name``, the
tag (``latest``). ``manifest.json``'s ``RepoTags`` is ``null`` when an image is saved by
ID, and with some Docker 25+ versions, while ``index.json`` still names it: these names
are then the only ones the archive has.

An entry is matched to a ``manifest.json`` image by config digest: ``manifest.json``
records no manifest digest, and the manifest the driver builds is not the one Docker
saved, so the config blob is what both files name. An entry that is an image index (as
Docker's containerd image store saves) matches through each child manifest the archive
holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from ociport.drivers.kit import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    BlobNotFoundError,
    Descriptor,
    Digest,
    DigestMismatchError,
    FormatError,
    Index,
    InvalidReferenceError,
    Manifest,
    SizeMismatchError,
    is_tag,
    normalize_name,
)
from ociport.drivers.kit import mediatypes as mt

__all__ = ["NAMING_KEYS", "ReadDocument", "full_name", "index_names"]

#: The annotations of an ``index.json`` entry that name its image, copied as they are
#: to the image's root so that the engine names it as it names an OCI archive's entry.
NAMING_KEYS: Final = (ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME)
#: How deeply image indexes may nest below an ``index.json`` entry.
_MAX_DEPTH: Final = 4
#: A document that is absent, malformed, too large or not the bytes its descriptor
#: names: it names nothing. (Storage errors still propagate.)
_UNREADABLE: Final = (
    BlobNotFoundError,
    DigestMismatchError,
    FormatError,
    SizeMismatchError,
)

#: Reads a staged document, checked against its descriptor.
ReadDocument = Callable[[Descriptor], bytes]


def index_names(raw: bytes, read: ReadDocument) -> dict[Digest, list[dict[str, str]]]:
    """``config digest -> naming annotations`` of the ``index.json`` entries that reach
    that config, in ``index.json`` order, each set once.

    Each set holds some of :data:`NAMING_KEYS` (``{"io.containerd.image.name":
    "docker.io/library/busybox:latest", "org.opencontainers.image.ref.name":
    "latest"}``). Entries without a naming annotation are left out, and so are the
    manifests the archive lacks or that cannot be read (they name nothing here; the
    import reads what ``manifest.json`` lists).

    :param raw: the bytes of ``index.json``.
    :param read: reads a manifest or index the archive holds.
    :raises FormatError: ``index.json`` is not an image index.
    """
    found: dict[Digest, list[dict[str, str]]] = {}
    for entry in Index.parse(raw, where="index.json").manifests:
        names = {k: v for k in NAMING_KEYS if (v := entry.annotations.get(k))}
        if not names:
            continue
        for config in _configs(entry, read, _MAX_DEPTH):
            listed = found.setdefault(config, [])
            if names not in listed:
                listed.append(names)
    return found


def _configs(descriptor: Descriptor, read: ReadDocument, depth: int) -> list[Digest]:
    """The config digests of the manifests ``descriptor`` reaches and the archive holds."""
    is_index = descriptor.media_type in mt.INDEX_MEDIA_TYPES
    if not is_index and descriptor.media_type not in (*mt.MANIFEST_MEDIA_TYPES, ""):
        return []  # an artifact, a layer: no image config to match
    where = str(descriptor.digest)
    try:
        raw = read(descriptor)
        if not is_index:
            return [Manifest.parse(raw, where=where).config.digest]
        children = Index.parse(raw, where=where).manifests
    except _UNREADABLE:
        return []
    if depth == 0:
        return []
    return [config for c in children for config in _configs(c, read, depth - 1)]


def full_name(annotations: Mapping[str, str]) -> str | None:
    """The full reference naming annotations give, normalised as ``RepoTags`` are:
    ``io.containerd.image.name``, else a ref name that is more than a tag; ``None``
    when neither is there or valid."""
    name = annotations.get(ANNOTATION_IMAGE_NAME)
    if not name:
        name = annotations.get(ANNOTATION_REF_NAME)
        if not name or is_tag(name):
            return None
    try:
        return normalize_name(name)
    except InvalidReferenceError:
        return None
