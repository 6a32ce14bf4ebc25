"""Describing what a source holds, without importing: images, platforms, sizes, gaps.

The driver opens the source as for an import, but its staging area only hashes
(nothing is written), and the walk is tolerant: an absent child, config or layer is
listed as missing rather than raised, since telling what is missing is the point.
"""

from __future__ import annotations

from typing import IO, Any

from ociport.content.staging import StagingArea
from ociport.drivers.base import ImageDriver
from ociport.engine.importing import ImportRequest, open_image_source
from ociport.engine.referrers import classify_roots
from ociport.engine.selection import root_names, select_roots
from ociport.engine.sourcereader import SourceReader
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Manifest
from ociport.oci.walk import config_platform, walk_image
from ociport.streams.address import ImageAddress
from ociport.streams.location import Location

__all__ = ["describe_source"]


def describe_source(
    driver: ImageDriver,
    source: IO[bytes] | Location | ImageAddress,
    *,
    max_document: int,
    label: str,
    ref_name: str | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready record per root of ``source``.

    Each record has ``names`` (ref name and containerd image name, when given), the root
    ``descriptor``, its ``manifests`` (platform, media type, config, layers, size in
    bytes of what is present), ``missing`` (descriptors the source lacks, each with
    the digest that referenced it), when a document is unreadable, ``errors``, and for a
    root that is a referrer (imported with the image it refers to, not as an image:
    :func:`~ociport.engine.referrers.classify_roots`) its ``subject`` digest.

    :param ref_name: describe only the roots with this ref name or image name.
    :raises FormatError: the source itself is malformed.
    :raises RefNameNotFoundError: ``ref_name`` names no root; lists the names there are.
    """
    request = ImportRequest(max_document=max_document)
    with (
        StagingArea(None, max_document=max_document) as survey,
        open_image_source(driver, source, survey, request, label) as opened,
    ):
        reader = SourceReader(opened, survey)
        roots = (
            opened.roots
            if ref_name is None
            else select_roots(opened.roots, ref_name)[0]
        )
        _, referrers = classify_roots(roots, reader)
        subjects = {r.descriptor.digest: r.subject for r in referrers}
        records = [_describe_root(reader, root) for root in roots]
        for record, root in zip(records, roots, strict=True):
            if root.digest in subjects:
                record["subject"] = str(subjects[root.digest])
        return records


def _describe_root(reader: SourceReader, root: Descriptor) -> dict[str, Any]:
    graph = walk_image(root, reader, tolerate_missing=True, tolerate_errors=True)
    record: dict[str, Any] = {
        "names": sorted(set(root_names(root))),
        "descriptor": root.to_json(),
        "manifests": [
            _describe_manifest(reader, desc, manifest)
            for desc, manifest in graph.manifests
        ],
        "missing": [_missing(desc, parent) for desc, parent in graph.missing],
    }
    if graph.errors:
        record["errors"] = [f"{desc.digest}: {text}" for desc, text in graph.errors]
    return record


def _missing(desc: Descriptor, parent: Digest) -> dict[str, Any]:
    referenced_by = "index.json" if parent == desc.digest else str(parent)
    return {"descriptor": desc.to_json(), "referencedBy": referenced_by}


def _describe_manifest(
    reader: SourceReader, desc: Descriptor, manifest: Manifest
) -> dict[str, Any]:
    present = [blob.size for blob in manifest.blobs() if reader.has(blob.digest)]
    return {
        "digest": str(desc.digest),
        "mediaType": manifest.media_type or desc.media_type,
        "platform": str(desc.platform)
        if desc.platform
        else config_platform(reader, manifest.config),
        "artifactType": manifest.artifact_type or desc.artifact_type,
        "config": manifest.config.to_json(),
        "layers": [layer.to_json() for layer in manifest.layers],
        "size": desc.size + sum(present),
    }
