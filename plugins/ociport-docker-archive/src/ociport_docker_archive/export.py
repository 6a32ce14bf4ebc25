"""Writing what ``docker load`` reads: ``manifest.json`` (alone, or a whole Docker archive).

``manifest.json`` lists, per image manifest, its config and layer files and its
``RepoTags`` in Docker's familiar form (``alpine:3``), as ``docker save`` and
``ctr images export`` write it. A multi-platform image is represented by the manifest of
one platform: the one asked for, else this machine's.

A Docker archive is written in the layout ``docker save`` used before Docker 25 and
skopeo still writes: ``manifest.json``, ``repositories``, ``<config>.json``, one
``<digest>.tar`` per layer, and a ``<id>/`` directory per layer (``VERSION``, ``json``,
``layer.tar`` as a link) for loaders that predate ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Final

from ociport.content.helpers import ProgressCallback, exists, read_blob
from ociport.content.interfaces import ReadableContent
from ociport.drivers.tarblobs import add_blob_member
from ociport.errors import FormatError, InvalidReferenceError
from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME, Descriptor, Platform
from ociport.oci.manifest import Index, Manifest, dump_json, parse_document
from ociport.oci.reference import Reference
from ociport.streams.compression import detect_compression
from ociport.streams.tario import TarWriter
from ociport_docker_archive.names import familiar_name

__all__ = ["ImageView", "image_views", "manifest_json", "write_docker_archive"]

_SUFFIX: Final = {None: ".tar", "gzip": ".tar.gz", "zstd": ".tar.zst"}


@dataclass(slots=True)
class ImageView:
    """One manifest as ``docker load`` sees it, with every name that points at it."""

    manifest: Manifest
    tags: list[str] = field(default_factory=list)


def _single_manifest(
    store: ReadableContent, root: Descriptor, platform: Platform
) -> Manifest | None:
    document = parse_document(
        read_blob(store, root), root.media_type, where=str(root.digest)
    )
    if isinstance(document, Manifest):
        return document
    if not isinstance(document, Index):
        return None
    for child in document.manifests:
        matches = child.platform is None or platform.matches(child.platform)
        if matches and exists(store, child.digest):
            found = _single_manifest(store, child, platform)
            if found is not None:
                return found
    return None


def _docker_tag(name: str) -> str | None:
    try:
        ref = Reference.parse(name)
    except InvalidReferenceError:
        return None
    return familiar_name(f"{ref.name}:{ref.tag}") if ref.tag else None


def image_views(
    store: ReadableContent, entries: Sequence[Descriptor], platform: Platform | None
) -> list[ImageView]:
    """The manifests behind ``entries`` (one per digest, in order) with their tags.

    Entries with no manifest for the platform (artifacts, other platforms only) are left
    out.
    """
    chosen = platform or Platform.host()
    views: dict[str, ImageView] = {}
    for entry in entries:
        manifest = _single_manifest(store, entry, chosen)
        if manifest is None:
            continue
        view = views.setdefault(str(manifest.digest), ImageView(manifest))
        tag = _docker_tag(entry.annotations.get(ANNOTATION_IMAGE_NAME, ""))
        if tag and tag not in view.tags:
            view.tags.append(tag)
    return list(views.values())


def manifest_json(
    views: Sequence[ImageView], path: Callable[[Descriptor], str]
) -> bytes:
    """``manifest.json`` for ``views``; ``path`` names each config or layer member."""
    return dump_json(
        [  # type: ignore[arg-type]
            {
                "Config": path(view.manifest.config),
                "RepoTags": view.tags,
                "Layers": [path(layer) for layer in view.manifest.layers],
            }
            for view in views
        ]
    )


def _layer_ids(layers: Sequence[Descriptor]) -> list[str]:
    """Deterministic legacy layer ids: each hashes its parent's id and its own digest."""
    ids, parent = [], ""
    for layer in layers:
        parent = hashlib.sha256(f"{parent} {layer.digest}".encode()).hexdigest()
        ids.append(parent)
    return ids


def write_docker_archive(
    store: ReadableContent,
    entries: Sequence[Descriptor],
    sink: IO[bytes],
    *,
    platform: Platform | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """Write ``entries`` as a Docker archive that ``docker load`` and skopeo read.

    :raises FormatError: an entry has no image manifest for the platform.
    :raises DigestMismatchError: a stored blob is corrupt.
    """
    views = image_views(store, entries, platform)
    if len(views) < len({e.digest for e in entries}):
        raise FormatError(
            "some images have no manifest for the platform; pass --platform"
        )
    names: dict[str, str] = {}
    blobs: dict[str, Descriptor] = {}

    def path(desc: Descriptor) -> str:
        if desc.digest.encoded not in names:
            is_json = desc.media_type.endswith("json")
            suffix = ".json" if is_json else _SUFFIX.get(_head(store, desc), ".tar")
            names[desc.digest.encoded] = f"{desc.digest.encoded}{suffix}"
            blobs[names[desc.digest.encoded]] = desc
        return names[desc.digest.encoded]

    tar = TarWriter(sink)
    tar.add_bytes("manifest.json", manifest_json(views, path))
    tar.add_bytes("repositories", _repositories(views))
    written: set[str] = set()
    for view in views:
        _legacy_dirs(tar, view, path, written)
    for member in sorted(blobs):
        add_blob_member(tar, store, blobs[member], member, progress)
    tar.close()


def _head(store: ReadableContent, desc: Descriptor) -> str | None:
    with store.open_blob(desc) as stream:
        return detect_compression(stream.read(8))


def _repositories(views: Sequence[ImageView]) -> bytes:
    repos: dict[str, dict[str, str]] = {}
    for view in views:
        ids = _layer_ids(view.manifest.layers)
        for tag in view.tags:
            repo, _, tag_name = tag.rpartition(":")
            if ids:
                repos.setdefault(repo, {})[tag_name] = ids[-1]
    return dump_json(repos)


def _legacy_dirs(
    tar: TarWriter,
    view: ImageView,
    path: Callable[[Descriptor], str],
    written: set[str],
) -> None:
    parent = None
    for layer, layer_id in zip(
        view.manifest.layers, _layer_ids(view.manifest.layers), strict=True
    ):
        if layer_id in written:
            parent = layer_id
            continue
        written.add(layer_id)
        meta = {
            "id": layer_id,
            **({"parent": parent} if parent else {}),
            "created": "1970-01-01T00:00:00Z",
        }
        tar.add_directory(layer_id)
        tar.add_bytes(f"{layer_id}/VERSION", b"1.0")
        tar.add_bytes(f"{layer_id}/json", dump_json(meta))
        tar.add_link(f"{layer_id}/layer.tar", f"../{path(layer)}", tarfile.SYMTYPE)
        parent = layer_id
