"""The ``oci-archive`` driver: an OCI image layout (image-spec ``image-layout.md``) in a tar.

Import reads the tar once, front to back, whatever the member order: each
``blobs/<alg>/<encoded>`` member is checked against the digest its name gives and staged;
``oci-layout`` and ``index.json`` are read whole (capped). Once the stream ends, the roots
are selected and walked, and only the blobs they need are committed.

Export writes ``oci-layout`` and ``index.json`` first, then every reachable blob once,
sorted by name, each verified against its digest while it is copied.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from typing import IO, Final

from ociport import mediatypes as mt
from ociport.compression import label_mismatch, open_decompressed
from ociport.content.helpers import ProgressCallback, exists, read_blob, write_blob
from ociport.content.imageindex import read_oci_layout
from ociport.content.interfaces import ContentStore, Provider
from ociport.content.staging import StagingArea
from ociport.descriptor import ANNOTATION_IMAGE_NAME, Descriptor
from ociport.digest import Digest
from ociport.drivers.base import ImageDriver, ImportReport, ImportRequest
from ociport.drivers.tarblobs import add_blob_member, blob_member_name
from ociport.errors import (
    DocumentTooLargeError,
    FormatError,
    InvalidDigestError,
    RefNameNotFoundError,
)
from ociport.location import Location
from ociport.manifest import Index, dump_json
from ociport.sources import open_sink
from ociport.tario import TarMember, TarWriter, iter_members, peek_member_names
from ociport.walk import ImageGraph, walk_image

__all__ = ["OciArchiveDriver", "blob_member_digest"]

_LAYOUT_CAP: Final = 64 << 10


def blob_member_digest(name: str) -> Digest | None:
    """The digest named by a ``blobs/<alg>/<encoded>`` member, ``None`` for ``blobs/...``
    directories and members outside ``blobs/``.

    :raises FormatError: a name under ``blobs/`` that is not exactly a valid digest path
        (``blobs/sha256/../../x``, upper-case hex, an unknown algorithm).
    """
    parts = name.split("/")
    if parts[0] != "blobs" or len(parts) == 1:
        return None
    if len(parts) == 2 and parts[1] in ("sha256", "sha512"):
        return None
    if len(parts) != 3:
        raise FormatError("member name is not blobs/<algorithm>/<encoded>", member=name)
    try:
        return Digest(parts[1], parts[2])
    except InvalidDigestError as exc:
        raise FormatError(f"member name is not a valid digest path: {exc}", member=name) from exc


def _read_member(member: TarMember, limit: int) -> bytes:
    if member.size > limit:
        raise DocumentTooLargeError(member.size, limit, member=member.name)
    return member.stream.read()


def _label_notes(graph: ImageGraph, staging: StagingArea) -> list[str]:
    notes = []
    for desc, manifest in graph.manifests:
        for layer in manifest.layers:
            problem = label_mismatch(layer.media_type, staging.head(layer.digest))
            if problem:
                notes.append(
                    f"layer {layer.digest} of manifest {desc.digest} is {problem}; "
                    "'ociport convert' fixes the label"
                )
    return notes


@contextlib.contextmanager
def _opened(source: IO[bytes] | Location) -> Iterator[IO[bytes]]:
    if isinstance(source, Location):
        with source.fs.open(source.path, "rb", block_size=4 << 20) as raw:
            stream, _ = open_decompressed(raw)
            yield stream
    else:
        stream, _ = open_decompressed(source)
        yield stream


class OciArchiveDriver(ImageDriver):
    """OCI image layout in a tar archive (skopeo's ``oci-archive:`` transport)."""

    name = "oci-archive"
    summary = "OCI image layout in a tar archive (skopeo oci-archive:, ctr export)"
    accepts_stream = True

    @classmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        if head is None:
            return False
        names = peek_member_names(head)
        return any(n in ("oci-layout", "index.json") or n.startswith("blobs/") for n in names)

    def import_image(
        self, source: IO[bytes] | Location, store: ContentStore, request: ImportRequest
    ) -> ImportReport:
        label = source.url if isinstance(source, Location) else "archive"
        with _opened(source) as stream, StagingArea(
            store, max_document=request.max_document, progress=request.progress
        ) as staging:
            layout_raw, index_raw, others = self._stage_members(stream, staging, request, label)
            if layout_raw is None:
                raise FormatError("no oci-layout member: not an OCI image layout", location=label)
            read_oci_layout(layout_raw, where="oci-layout")
            if index_raw is None:
                raise FormatError("no index.json member", location=label)
            index = Index.parse(index_raw, where="index.json")
            roots = self._roots(index, request, label, docker="manifest.json" in others)
            extra: dict[Digest, bytes] = {}
            if request.whole_index:
                whole = Descriptor(mt.OCI_IMAGE_INDEX, Digest.of(index_raw), len(index_raw))
                extra[whole.digest] = index_raw
                roots = [whole]
            report = ImportReport()
            # Walk every root before committing anything: a failure in any of them
            # must leave the store untouched.
            graphs = [self._walk(root, staging, extra, request) for root in roots]
            for graph in graphs:
                report.roots.append(graph.root)
                report.missing.extend(graph.missing)
                report.notes.extend(_label_notes(graph, staging))
                report.committed.extend(staging.commit(graph.blobs))
            for digest, raw in extra.items():
                write_blob(store, io.BytesIO(raw), Descriptor(mt.OCI_IMAGE_INDEX, digest, len(raw)))
        return report

    def _stage_members(
        self, stream: IO[bytes], staging: StagingArea, request: ImportRequest, label: str
    ) -> tuple[bytes | None, bytes | None, set[str]]:
        layout_raw = index_raw = None
        others: set[str] = set()
        for member in iter_members(stream, label=label):
            if member.name == "oci-layout":
                layout_raw = _read_member(member, _LAYOUT_CAP)
            elif member.name == "index.json":
                index_raw = _read_member(member, request.max_document)
            else:
                digest = blob_member_digest(member.name)
                if digest is None or member.type == b"5":
                    others.add(member.name)
                    continue
                if not member.is_file:
                    raise FormatError("blob member is not a regular file", location=label, member=member.name)
                staging.add(digest, member.size, member.stream, where=member.name)
        return layout_raw, index_raw, others

    @staticmethod
    def _roots(
        index: Index, request: ImportRequest, label: str, *, docker: bool = False
    ) -> list[Descriptor]:
        roots = list(index.manifests)
        if not roots:
            hint = "; it has a Docker manifest.json: use --format docker-archive" if docker else ""
            raise FormatError(f"index.json lists no images{hint}", location=label)
        if request.ref_name is None:
            return roots
        chosen = [
            r
            for r in roots
            if request.ref_name in (r.ref_name, r.annotations.get(ANNOTATION_IMAGE_NAME))
        ]
        if not chosen:
            available = sorted({r.ref_name or "" for r in roots} - {""})
            raise RefNameNotFoundError(request.ref_name, available)
        return chosen

    @staticmethod
    def _walk(
        root: Descriptor, staging: StagingArea, extra: dict[Digest, bytes], request: ImportRequest
    ) -> ImageGraph:
        def read(desc: Descriptor) -> bytes:
            return extra.get(desc.digest) or staging.read_document(desc)

        def has(digest: Digest) -> bool:
            return digest in extra or staging.has(digest)

        return walk_image(root, read, has, request.selection)

    def export_image(
        self,
        store: Provider,
        entries: Sequence[Descriptor],
        target: IO[bytes] | Location,
        *,
        progress: ProgressCallback | None = None,
        extra_members: Sequence[tuple[str, bytes]] = (),
    ) -> list[tuple[Descriptor, Digest]]:
        if isinstance(target, Location):
            with open_sink(target.url) as sink:
                return self.export_image(
                    store, entries, sink, progress=progress, extra_members=extra_members
                )
        blobs: dict[Digest, Descriptor] = {}
        missing: list[tuple[Descriptor, Digest]] = []
        for entry in entries:
            graph = walk_image(
                entry,
                lambda d: read_blob(store, d),
                lambda digest: exists(store, digest),  # type: ignore[arg-type]
            )
            for digest, desc in graph.blobs.items():
                blobs.setdefault(digest, desc)
            missing.extend(graph.missing)
        tar = TarWriter(target)
        tar.add_bytes("oci-layout", dump_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}))
        tar.add_bytes("index.json", Index.build(entries).raw)
        for name, data in sorted(extra_members):
            tar.add_bytes(name, data)
        tar.add_directory("blobs")
        for algorithm in sorted({d.algorithm for d in blobs}):
            tar.add_directory(f"blobs/{algorithm}")
        for digest in sorted(blobs, key=str):
            add_blob_member(tar, store, blobs[digest], blob_member_name(blobs[digest]), progress)
        tar.close()
        return missing
