"""The ``docker-archive`` driver: ``docker save`` archives in, ``docker load`` archives out.

A Docker archive has no manifests: :meth:`DockerArchiveDriver.open_source` stages every
file, finds the images (``manifest.json``, else ``repositories``), builds a manifest
for each, byte for byte as ``ctr images import`` does, and stages it like any other
blob; the engine does the rest. Images are named by ``RepoTags``, or, where those are
``null`` or empty, by the entries of a Docker 25+ archive's ``index.json`` for the same
config (so the engine names them as it names that archive read as ``oci-archive``).
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import IO, Any

from ociport.drivers.kit import (
    Descriptor,
    Digest,
    ExportPlan,
    ImageDriver,
    ImageSource,
    Location,
    Manifest,
    OciportError,
    SourceContext,
    StagingArea,
    UnsupportedMediaTypeError,
    check_diff_ids,
    detect_compression,
    open_uncompressed,
    parse_json,
    peek_members,
    verified,
)
from ociport.drivers.kit import mediatypes as mt
from ociport_docker_archive.export import write_docker_archive
from ociport_docker_archive.images import DockerImage, config_candidates, find_images
from ociport_docker_archive.reader import (
    ArchiveContents,
    looks_like_docker,
    read_archive,
)

__all__ = ["DockerArchiveDriver"]


def _empty_index(raw: bytes | None) -> bool:
    if raw is None:
        return False
    try:
        return not json.loads(raw).get("manifests")
    except (ValueError, AttributeError):
        return False


class DockerArchiveDriver(ImageDriver):
    """``docker save`` archives: legacy (Docker < 25), Docker 25+ and ``repositories``-only."""

    name = "docker-archive"
    summary = "docker save / docker load archive (skopeo docker-archive:)"
    accepts_stream = True
    preserves_digests = False

    @classmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        if head is None:
            return False
        members = peek_members(head)
        if "oci-layout" in members or "index.json" in members:
            # Docker 25 writes an OCI layout too; it is a Docker archive to read when
            # its index.json lists nothing (an image saved by ID) and manifest.json
            # says what is there.
            return "manifest.json" in members and _empty_index(
                members.get("index.json")
            )
        return any(looks_like_docker(n) for n in members)

    def open_source(
        self, source: IO[bytes] | Location, context: SourceContext
    ) -> ImageSource:
        stage = context.stage
        with open_uncompressed(source) as stream:
            contents = read_archive(
                stream, stage, label=context.label, max_document=context.max_document
            )
        images, notes = find_images(
            contents, _documents(contents, stage), lambda d: _read(stage, d)
        )
        roots = []
        for image in images:
            manifest = _stage_manifest(image, stage, context.oci_manifests)
            named = [manifest.with_annotations(a) for a in image.root_annotations()]
            roots += named or [manifest]
        return ImageSource(roots, stage, notes=notes, rebuilds_manifests=True)

    def write(self, plan: ExportPlan, target: IO[bytes] | Location) -> None:
        assert not isinstance(target, Location), "the engine opens stream targets"
        write_docker_archive(plan, target)


def _documents(contents: ArchiveContents, stage: StagingArea) -> dict[str, Any]:
    """The archive's files that may be configs of a legacy archive, parsed."""
    documents = {}
    for name in config_candidates(contents):
        digest = contents.files[name]
        size = stage.size_of(digest) or 0
        with contextlib.suppress(OciportError, json.JSONDecodeError):
            documents[name] = parse_json(
                stage.read_document(Descriptor("", digest, size))
            )
    return documents


def _read(stage: StagingArea, descriptor: Descriptor) -> bytes:
    """A staged document, checked against ``descriptor`` (its size too)."""
    data = stage.read_document(descriptor)
    return verified(descriptor, data, str(descriptor.digest))


def _stage(stage: StagingArea, descriptor: Descriptor, raw: bytes, what: str) -> None:
    stage.add(descriptor.digest, len(raw), io.BytesIO(raw), where=what)


def _layer(stage: StagingArea, digest: Digest, oci: bool) -> Descriptor:
    """A layer's descriptor, its media type from its magic bytes (not its name)."""
    compression = detect_compression(stage.head(digest))
    media_type = mt.layer_media_type(compression, oci=oci)
    if media_type is None:
        raise UnsupportedMediaTypeError(
            f"{compression}-compressed layer", member=str(digest)
        )
    return Descriptor(media_type, digest, stage.size_of(digest) or 0)


def _stage_manifest(image: DockerImage, stage: StagingArea, oci: bool) -> Descriptor:
    """Build and stage the image's manifest (and a legacy archive's rebuilt config),
    byte for byte as ``ctr images import`` builds it."""
    media_type = mt.OCI_IMAGE_CONFIG if oci else mt.DOCKER_CONFIG
    raw_config = image.config_raw
    if raw_config is None:
        size = stage.size_of(image.config) or 0
        config = Descriptor(media_type, image.config, size)
        raw_config = stage.read_document(config)
    else:
        config = Descriptor(media_type, image.config, len(raw_config))
        _stage(stage, config, raw_config, "image config (rebuilt)")
    layers = [_layer(stage, digest, oci) for digest in image.layers]
    check_diff_ids(parse_json(raw_config, where=str(image.config)), layers)
    manifest_type = mt.OCI_IMAGE_MANIFEST if oci else mt.DOCKER_MANIFEST_V2
    raw = Manifest.build(config, layers, media_type=manifest_type).raw
    manifest = Descriptor(manifest_type, Digest.of(raw), len(raw))
    _stage(stage, manifest, raw, "image manifest (built)")
    return manifest
