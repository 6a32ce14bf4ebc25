"""The images of a Docker archive: from ``manifest.json``, or from ``repositories`` alone.

``manifest.json`` (Docker 1.10 and later) lists each image's config and layer files and
its ``RepoTags``. An image whose ``RepoTags`` are ``null`` or empty takes the names a
Docker 25+ archive's ``index.json`` gives it (:mod:`~ociport_docker_archive.index_names`);
where ``RepoTags`` name it, they win. Older archives have only ``repositories``
(``{repo: {tag: layer id}}``) and a ``<id>/json`` per layer chained by ``parent``; the
config is then the archive's ``<hex>.json`` whose ``rootfs.diff_ids`` match the layers,
or is rebuilt from the top layer's ``json`` as ``docker load`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ociport.drivers.kit import (
    ANNOTATION_IMAGE_NAME,
    Digest,
    FormatError,
    InvalidReferenceError,
    dump_json,
    normalize_name,
    parse_json,
)
from ociport_docker_archive.index_names import ReadDocument, full_name, index_names
from ociport_docker_archive.reader import ArchiveContents

__all__ = ["DockerImage", "find_images"]

_CONFIG_NAME: Final = re.compile(r"(?:sha256:)?[0-9a-f]{64}(?:\.json)?")
_CONFIG_KEYS: Final = (
    "architecture",
    "os",
    "variant",
    "author",
    "created",
    "config",
    "container_config",
)


@dataclass(slots=True)
class DockerImage:
    """One image of the archive.

    :ivar config: digest of the config blob.
    :ivar layers: digests of the layer blobs, base first.
    :ivar names: normalised references from ``RepoTags`` (may be empty).
    :ivar top_id: the legacy id of the top layer, when the archive has one.
    :ivar config_raw: config bytes built here (legacy archives), to be written.
    :ivar index_annotations: without ``RepoTags``, the naming annotations of the
        ``index.json`` entries for this image (Docker 25+), one set per entry.
    """

    config: Digest
    layers: list[Digest]
    names: list[str] = field(default_factory=list)
    top_id: str | None = None
    config_raw: bytes | None = None
    index_annotations: list[dict[str, str]] = field(default_factory=list)

    def root_annotations(self) -> list[dict[str, str]]:
        """The annotations of the image's roots, one root per set: each ``RepoTags``
        name as ``io.containerd.image.name``, else the ``index.json`` entries' naming
        annotations as they are (the engine names those as in an OCI archive);
        empty when the archive names the image nowhere."""
        tagged = [{ANNOTATION_IMAGE_NAME: name} for name in self.names]
        return tagged or [dict(a) for a in self.index_annotations]

    def full_names(self) -> list[str]:
        """The normalised references naming the image: its ``RepoTags``, else the full
        names its ``index.json`` entries give."""
        if self.names:
            return list(self.names)
        found = (full_name(a) for a in self.index_annotations)
        return list(dict.fromkeys(name for name in found if name))


def _list_of_str(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormatError(f"{what} is not a list of strings", member="manifest.json")
    return value


def _names(tags: list[str], notes: list[str]) -> list[str]:
    names = []
    for tag in tags:
        try:
            names.append(normalize_name(tag))
        except InvalidReferenceError:
            notes.append(f"RepoTags entry {tag!r} is not a valid reference; ignored")
    return names


def _from_manifest_json(
    contents: ArchiveContents, notes: list[str]
) -> list[DockerImage]:
    raw = contents.metadata["manifest.json"]
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"malformed JSON: {exc}", member="manifest.json") from exc
    if not isinstance(doc, list) or not doc:
        raise FormatError("lists no images", member="manifest.json")
    images = []
    for entry in doc:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise FormatError("entry without a Config path", member="manifest.json")
        layers = _list_of_str(entry.get("Layers"), "Layers")
        top = (
            layers[-1].split("/", 1)[0]
            if layers and layers[-1].endswith("/layer.tar")
            else None
        )
        images.append(
            DockerImage(
                config=contents.resolve(entry["Config"]),
                layers=[contents.resolve(layer) for layer in layers],
                names=_names(_list_of_str(entry.get("RepoTags"), "RepoTags"), notes),
                top_id=top,
            )
        )
    return images


def _repositories(contents: ArchiveContents) -> dict[str, str]:
    """``normalised name -> top layer id`` from the ``repositories`` file."""
    raw = contents.metadata.get("repositories")
    if raw is None:
        return {}
    doc = parse_json(raw, where="repositories")
    found = {}
    for repo, tags in doc.items():
        if not isinstance(tags, dict):
            raise FormatError(
                f"{repo!r} does not map tags to ids", member="repositories"
            )
        for tag, layer_id in tags.items():
            try:
                found[normalize_name(f"{repo}:{tag}")] = str(layer_id)
            except InvalidReferenceError:
                continue
    return found


def _check_agreement(
    images: list[DockerImage], contents: ArchiveContents, notes: list[str]
) -> None:
    by_name = {name: image.top_id for image in images for name in image.full_names()}
    for name, layer_id in sorted(_repositories(contents).items()):
        if name not in by_name or (
            by_name[name] is not None and by_name[name] != layer_id
        ):
            notes.append(
                f"repositories and manifest.json disagree on {name}; manifest.json wins"
            )


def _legacy_chain(contents: ArchiveContents, top: str) -> list[str]:
    chain, layer_id = [], top
    while layer_id:
        if layer_id in chain:
            raise FormatError(
                f"layer {layer_id} is its own ancestor", member=f"{layer_id}/json"
            )
        raw = contents.metadata.get(f"{layer_id}/json")
        if raw is None:
            raise FormatError(
                "legacy layer metadata missing", member=f"{layer_id}/json"
            )
        chain.append(layer_id)
        layer_id = str(parse_json(raw, where=f"{layer_id}/json").get("parent") or "")
    return chain[::-1]


def _legacy_config(
    contents: ArchiveContents,
    chain: list[str],
    layers: list[Digest],
    documents: Mapping[str, dict[str, Any]],
) -> tuple[Digest | None, bytes | None]:
    diff_ids = [str(d) for d in layers]
    for name, doc in documents.items():
        rootfs = doc.get("rootfs")
        if isinstance(rootfs, dict) and rootfs.get("diff_ids") == diff_ids:
            return contents.files[name], None
    top = parse_json(contents.metadata[f"{chain[-1]}/json"], where=f"{chain[-1]}/json")
    config: dict[str, Any] = {k: top[k] for k in _CONFIG_KEYS if k in top}
    config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    return None, dump_json(config)


def _from_repositories(
    contents: ArchiveContents, documents: Mapping[str, dict[str, Any]]
) -> list[DockerImage]:
    by_top: dict[str, list[str]] = {}
    for name, layer_id in _repositories(contents).items():
        by_top.setdefault(layer_id, []).append(name)
    if not by_top:
        raise FormatError("archive has neither manifest.json nor repositories entries")
    images = []
    for top, names in sorted(by_top.items()):
        chain = _legacy_chain(contents, top)
        layers = [contents.resolve(f"{layer_id}/layer.tar") for layer_id in chain]
        config, raw = _legacy_config(contents, chain, layers, documents)
        digest = config or Digest.of(raw or b"")
        images.append(DockerImage(digest, layers, sorted(names), top, raw))
    return images


def _names_from_index(
    images: Sequence[DockerImage],
    contents: ArchiveContents,
    read: ReadDocument,
    notes: list[str],
) -> None:
    """Give the images without ``RepoTags`` the names ``index.json`` gives them, and note
    the names it gives images whose ``RepoTags`` lack them (``RepoTags`` win, as with
    ``docker load``). Without ``index.json`` (before Docker 25), nothing changes."""
    raw = contents.metadata.get("index.json")
    if raw is None or not images:
        return
    try:
        by_config = index_names(raw, read)
    except FormatError as exc:
        if any(not image.names for image in images):
            notes.append(f"index.json not read for image names: {exc}")
        return
    for image in images:
        given = by_config.get(image.config, [])
        if not image.names:
            image.index_annotations = [dict(a) for a in given]
            continue
        for name in dict.fromkeys(full_name(a) for a in given):
            if name and name not in image.names:
                notes.append(
                    f"index.json names image {image.config} {name}, which its "
                    "RepoTags in manifest.json do not; RepoTags win"
                )


def find_images(
    contents: ArchiveContents,
    documents: Mapping[str, dict[str, Any]],
    read_document: ReadDocument | None = None,
) -> tuple[list[DockerImage], list[str]]:
    """The images of the archive and notes for the user.

    :param documents: staged JSON files that may be configs, by member name.
    :param read_document: reads a staged manifest or index, checked against its
        descriptor: for the names of a Docker 25+ archive's ``index.json``
        (``None``: names come from ``manifest.json`` and ``repositories`` only).
    :raises FormatError: no usable ``manifest.json`` or ``repositories``, or a member
        they name is missing.
    """
    notes: list[str] = []
    if "manifest.json" in contents.metadata:
        images = _from_manifest_json(contents, notes)
        if read_document is not None:
            _names_from_index(images, contents, read_document, notes)
        _check_agreement(images, contents, notes)
        return images, notes
    return _from_repositories(contents, documents), notes


def config_candidates(contents: ArchiveContents) -> list[str]:
    """Member names that may hold a legacy archive's image config."""
    return sorted(n for n in contents.files if _CONFIG_NAME.fullmatch(n))
