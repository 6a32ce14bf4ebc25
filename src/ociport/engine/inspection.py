"""Describing what a source holds, without importing: images, platforms, sizes, gaps.

The walk is tolerant: an absent child, config or layer is listed as missing rather than
raised, since telling what is missing is the point of inspecting.
"""

from __future__ import annotations

import json
from typing import Any

from ociport.drivers.base import SourceContents
from ociport.errors import OciportError
from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME, Descriptor, Platform
from ociport.oci.manifest import Index, Manifest, parse_document

__all__ = ["describe_source"]


def describe_source(contents: SourceContents) -> list[dict[str, Any]]:
    """One JSON-ready record per root of ``contents``.

    Each record has ``names`` (ref name and containerd image name, when given), the root
    ``descriptor``, its ``manifests`` (platform, media type, config, layers, size in
    bytes of what is present) and ``missing`` (descriptors the source lacks, each with
    the digest that referenced it).
    """
    return [_describe_root(contents, root) for root in contents.roots]


def _describe_root(contents: SourceContents, root: Descriptor) -> dict[str, Any]:
    record: dict[str, Any] = {
        "names": sorted(
            {
                n
                for n in (root.ref_name, root.annotations.get(ANNOTATION_IMAGE_NAME))
                if n
            }
        ),
        "descriptor": root.to_json(),
        "manifests": [],
        "missing": [],
    }
    _visit(contents, root, None, record, set())
    return record


def _missing(
    record: dict[str, Any], desc: Descriptor, parent: Descriptor | None
) -> None:
    record["missing"].append(
        {
            "descriptor": desc.to_json(),
            "referencedBy": str(parent.digest) if parent else "index.json",
        }
    )


def _visit(
    contents: SourceContents,
    desc: Descriptor,
    parent: Descriptor | None,
    record: dict[str, Any],
    seen: set[str],
) -> None:
    if str(desc.digest) in seen:
        return
    seen.add(str(desc.digest))
    if not contents.has(desc.digest):
        _missing(record, desc, parent)
        return
    try:
        document = parse_document(
            contents.read(desc), desc.media_type, where=str(desc.digest)
        )
    except OciportError as exc:
        record.setdefault("errors", []).append(f"{desc.digest}: {exc}")
        return
    if isinstance(document, Index):
        for child in document.manifests:
            _visit(contents, child, desc, record, seen)
    elif isinstance(document, Manifest):
        record["manifests"].append(_describe_manifest(contents, desc, document, record))


def _describe_manifest(
    contents: SourceContents,
    desc: Descriptor,
    manifest: Manifest,
    record: dict[str, Any],
) -> dict[str, Any]:
    size = desc.size
    for blob in manifest.blobs():
        if contents.has(blob.digest):
            size += blob.size
        else:
            _missing(record, blob, desc)
    return {
        "digest": str(desc.digest),
        "mediaType": manifest.media_type or desc.media_type,
        "platform": str(desc.platform)
        if desc.platform
        else _config_platform(contents, manifest.config),
        "artifactType": manifest.artifact_type or desc.artifact_type,
        "config": manifest.config.to_json(),
        "layers": [layer.to_json() for layer in manifest.layers],
        "size": size,
    }


def _config_platform(contents: SourceContents, config: Descriptor) -> str | None:
    if not contents.has(config.digest):
        return None
    try:
        doc = json.loads(contents.read(config))
        return str(Platform(doc["os"], doc["architecture"], doc.get("variant")))
    except (OciportError, ValueError, KeyError, TypeError):
        return None
