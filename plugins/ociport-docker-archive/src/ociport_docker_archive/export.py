"""Writing what ``docker load`` reads: ``manifest.json`` (alone, or a whole Docker archive).

``manifest.json`` lists, per image manifest, its config and layer files and its
``RepoTags`` in Docker's familiar form (``alpine:3``), as ``docker save`` and
``ctr images export`` write it. A multi-platform image is represented by the manifest of
one platform, as the export plan chooses it (the one asked for, else this machine's).

A Docker archive is written in the layout ``docker save`` used before Docker 25 and
skopeo still writes: ``manifest.json``, ``repositories``, ``<config>.json``, one
``<digest>.tar`` per layer, and a ``<id>/`` directory per layer (``VERSION``, ``json``,
``layer.tar`` as a link) for loaders that predate ``manifest.json``.

Layers are written only in compressions every ``docker load`` reads: gzip or none.
Docker before 23 (Debian's 20.10) fails on a zstd layer ("invalid tar header") and
skopeo refuses it, so the plan re-encodes zstd layers as gzip on the way
(:meth:`~ociport.drivers.kit.ExportPlan.reencode_layers`): the uncompressed tar, and so
the config's diff IDs and the image ID, stay the same; ``manifest.json`` lists the new
files, and a note names each layer re-encoded.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Final

from ociport.drivers.kit import (
    ANNOTATION_IMAGE_NAME,
    Descriptor,
    ExportPlan,
    InvalidReferenceError,
    Manifest,
    Reference,
    TarWriter,
    add_blob_member,
    detect_compression,
    dump_json,
    familiar_name,
)

__all__ = ["ImageView", "image_views", "manifest_json", "write_docker_archive"]

_SUFFIX: Final = {None: ".tar", "gzip": ".tar.gz"}
#: The layer compressions every ``docker load`` (and skopeo) reads, the one to
#: re-encode others into first.
LAYER_COMPRESSIONS: Final = ("gzip", None)


@dataclass(slots=True)
class ImageView:
    """One manifest as ``docker load`` sees it, with every name that points at it."""

    manifest: Manifest
    tags: list[str] = field(default_factory=list)


def _docker_tag(name: str) -> str | None:
    try:
        ref = Reference.parse(name)
    except InvalidReferenceError:
        return None
    return familiar_name(f"{ref.name}:{ref.tag}") if ref.tag else None


def image_views(
    plan: ExportPlan, choose: Callable[[Descriptor], Manifest | None]
) -> list[ImageView]:
    """The manifests ``choose`` picks for the plan's entries (one view per digest, in
    order) with their tags; entries it gives ``None`` for are left out."""
    views: dict[str, ImageView] = {}
    for entry in plan.entries:
        manifest = choose(entry)
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


def write_docker_archive(plan: ExportPlan, sink: IO[bytes]) -> None:
    """Write the plan's entries as a Docker archive that ``docker load`` and skopeo
    read: one platform per image, layers gzip-compressed or uncompressed (zstd ones are
    re-encoded as gzip, with a note in ``plan.notes``).

    :raises FormatError: an entry keeps several platforms, or has none for the one
        asked for (see :meth:`~ociport.drivers.kit.ExportPlan.single_manifest`); a
        layer to re-encode does not decompress to its diff ID.
    :raises DigestMismatchError: a stored blob is corrupt.
    """

    def loadable(entry: Descriptor) -> Manifest:
        return plan.reencode_layers(
            plan.single_manifest(entry), LAYER_COMPRESSIONS, reader="docker load"
        )

    views = image_views(plan, loadable)
    names: dict[str, str] = {}
    blobs: dict[str, Descriptor] = {}

    def path(desc: Descriptor) -> str:
        if desc.digest.encoded not in names:
            is_json = desc.media_type.endswith("json")
            suffix = ".json" if is_json else _SUFFIX.get(_head(plan, desc), ".tar")
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
        add_blob_member(tar, plan.content, blobs[member], member, plan.progress)
    tar.close()


def _head(plan: ExportPlan, desc: Descriptor) -> str | None:
    with plan.content.open_blob(desc) as stream:
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
