"""The ``docker-archive`` driver: ``docker save`` archives in, ``docker load`` archives out."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Final

from ociport.content.helpers import ProgressCallback, write_blob
from ociport.content.interfaces import ContentStore, ReadableContent
from ociport.content.staging import StagingArea
from ociport.drivers.base import (
    ImageDriver,
    ImportReport,
    ImportRequest,
    SourceContents,
)
from ociport.errors import FormatError, OciportError, UnsupportedSourceError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME, Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import parse_json
from ociport.streams.compression import open_decompressed
from ociport.streams.location import Location
from ociport.streams.sources import open_sink
from ociport.streams.tario import peek_members
from ociport_docker_archive.export import write_docker_archive
from ociport_docker_archive.images import DockerImage, config_candidates, find_images
from ociport_docker_archive.manifests import (
    build_manifest,
    config_media_type,
    layer_media_type,
)
from ociport_docker_archive.reader import ArchiveContents, read_archive
from ociport_docker_archive.survey import Survey

__all__ = ["DockerArchiveDriver"]


@contextlib.contextmanager
def _opened(source: IO[bytes] | Location) -> Iterator[IO[bytes]]:
    if isinstance(source, Location):
        with source.fs.open(source.path, "rb", block_size=4 << 20) as raw:
            yield open_decompressed(raw)[0]
    else:
        yield open_decompressed(source)[0]


_DOCKER_MEMBER: Final = re.compile(
    r"manifest\.json|repositories|(?:sha256:)?[0-9a-f]{64}(?:\.json|\.tar(?:\.gz|\.zst)?)?"
    r"|[0-9a-f]{64}/(?:VERSION|json|layer\.tar)?"
)


def _empty_index(raw: bytes | None) -> bool:
    if raw is None:
        return False
    try:
        return not json.loads(raw).get("manifests")
    except (ValueError, AttributeError):
        return False


def _looks_like_docker(name: str) -> bool:
    return bool(_DOCKER_MEMBER.fullmatch(name))


class DockerArchiveDriver(ImageDriver):
    """``docker save`` archives: legacy (Docker < 25), Docker 25+ and ``repositories``-only.

    :param oci: on import, build OCI manifests instead of Docker schema 2 ones.
    """

    name = "docker-archive"
    summary = "docker save / docker load archive (skopeo docker-archive:)"
    accepts_stream = True

    def __init__(self, *, oci: bool = False) -> None:
        self.oci = oci

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
        return any(_looks_like_docker(n) for n in members)

    def import_image(
        self, source: IO[bytes] | Location, store: ContentStore, request: ImportRequest
    ) -> ImportReport:
        if request.whole_index:
            raise UnsupportedSourceError(
                self.name, "--index-name (a Docker archive has no index)"
            )
        label = source.url if isinstance(source, Location) else "archive"
        oci = self.oci or request.oci_manifests
        with (
            _opened(source) as stream,
            StagingArea(
                store, max_document=request.max_document, progress=request.progress
            ) as staging,
        ):
            contents = read_archive(
                stream, staging, label=label, max_document=request.max_document
            )
            images, notes = find_images(contents, _documents(contents, staging))
            if request.ref_name is not None:
                images = [i for i in images if request.ref_name in i.names]
            planned = [_Planned.of(image, staging, oci) for image in images]
            report = ImportReport(notes=notes)
            for plan in planned:
                blobs = [plan.config.digest, *(d.digest for d in plan.layers)]
                report.committed.extend(staging.commit(blobs))
                for desc, raw in plan.documents():
                    write_blob(store, io.BytesIO(raw), desc)
                report.roots.extend(plan.roots())
        return report

    def inspect(
        self, source: IO[bytes] | Location, *, max_document: int
    ) -> SourceContents:
        label = source.url if isinstance(source, Location) else "archive"
        survey = Survey(max_document)
        with _opened(source) as stream:
            contents = read_archive(
                stream, survey, label=label, max_document=max_document
            )
        images, _ = find_images(contents, _documents(contents, survey))
        planned = [_Planned.of(image, survey, self.oci) for image in images]
        made = {desc.digest: raw for plan in planned for desc, raw in plan.documents()}

        def read(desc: Descriptor) -> bytes:
            return (
                made[desc.digest] if desc.digest in made else survey.read_document(desc)
            )

        def size_of(digest: Digest) -> int | None:
            return len(made[digest]) if digest in made else survey.size_of(digest)

        roots = [root for plan in planned for root in plan.roots()]
        return SourceContents(
            roots, read, lambda d: d in made or survey.has(d), size_of
        )

    def export_image(
        self,
        store: ReadableContent,
        entries: Sequence[Descriptor],
        target: IO[bytes] | Location,
        *,
        progress: ProgressCallback | None = None,
        extra_members: Sequence[tuple[str, bytes]] = (),
    ) -> list[tuple[Descriptor, Digest]]:
        if isinstance(target, Location):
            with open_sink(target.url) as sink:
                return self.export_image(store, entries, sink, progress=progress)
        write_docker_archive(store, entries, target, progress=progress)
        return []


_Area = StagingArea | Survey


def _documents(contents: ArchiveContents, area: _Area) -> dict[str, dict[str, Any]]:
    """The archive's files that may be configs of a legacy archive, parsed."""
    documents = {}
    for name in config_candidates(contents):
        digest = contents.files[name]
        size = area.size_of(digest) or 0
        with contextlib.suppress(OciportError, json.JSONDecodeError):
            documents[name] = parse_json(
                area.read_document(Descriptor("", digest, size))
            )
    return documents


@dataclass(frozen=True, slots=True)
class _Planned:
    """One image's config, layers and synthesised manifest."""

    image: DockerImage
    config: Descriptor
    layers: list[Descriptor]
    manifest: Descriptor
    manifest_raw: bytes

    @classmethod
    def of(cls, image: DockerImage, area: _Area, oci: bool) -> _Planned:
        media_type = config_media_type(oci=oci)
        if image.config_raw is not None:
            config = Descriptor(media_type, image.config, len(image.config_raw))
            config_doc = parse_json(image.config_raw)
        else:
            config = Descriptor(
                media_type, image.config, area.size_of(image.config) or 0
            )
            config_doc = parse_json(area.read_document(config), where=str(image.config))
        layers = [
            Descriptor(
                layer_media_type(area.head(d), oci=oci, where=str(d)),
                d,
                area.size_of(d) or 0,
            )
            for d in image.layers
        ]
        _check_diff_ids(config_doc, layers)
        raw = build_manifest(config, layers, oci=oci)
        manifest_type = mt.OCI_IMAGE_MANIFEST if oci else mt.DOCKER_MANIFEST_V2
        return cls(
            image,
            config,
            layers,
            Descriptor(manifest_type, Digest.of(raw), len(raw)),
            raw,
        )

    def documents(self) -> list[tuple[Descriptor, bytes]]:
        """Blobs made here: the manifest, and a legacy archive's rebuilt config."""
        made = [(self.manifest, self.manifest_raw)]
        if self.image.config_raw is not None:
            made.append((self.config, self.image.config_raw))
        return made

    def roots(self) -> list[Descriptor]:
        """One root per name (containerd's ``io.containerd.image.name``), or one unnamed."""
        names = self.image.names
        return [
            self.manifest.with_annotations({ANNOTATION_IMAGE_NAME: n}) for n in names
        ] or [self.manifest]


def _check_diff_ids(config: dict[str, Any], layers: list[Descriptor]) -> None:
    """A config must list one diff ID per layer; an uncompressed layer's is its digest."""
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        raise FormatError("image config has no rootfs.diff_ids")
    if len(diff_ids) != len(layers):
        raise FormatError(
            f"image config lists {len(diff_ids)} diff IDs for {len(layers)} layers"
        )
    for diff_id, layer in zip(diff_ids, layers, strict=True):
        plain = layer.media_type in (
            mt.OCI_LAYER_TAR,
            "application/vnd.docker.image.rootfs.diff.tar",
        )
        if plain and diff_id != str(layer.digest):
            raise FormatError(f"layer {layer.digest} does not match diff ID {diff_id}")
