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
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Final

from ociport.content.helpers import ProgressCallback, exists, read_blob, write_blob
from ociport.content.imageindex import read_oci_layout
from ociport.content.interfaces import ContentStore, ReadableContent
from ociport.content.staging import StagingArea
from ociport.drivers.base import (
    ImageDriver,
    ImportReport,
    ImportRequest,
    SourceContents,
)
from ociport.drivers.tarblobs import add_blob_member, blob_member_name
from ociport.engine.selection import select_roots
from ociport.errors import (
    DocumentTooLargeError,
    FormatError,
    InvalidDigestError,
    SizeMismatchError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, dump_json
from ociport.oci.walk import ImageGraph, walk_image
from ociport.streams.compression import (
    detect_compression,
    label_mismatch,
    open_decompressed,
)
from ociport.streams.location import Location
from ociport.streams.ranged import RangeReader
from ociport.streams.sources import open_sink
from ociport.streams.tario import (
    TarHeader,
    TarMember,
    TarWriter,
    index_members,
    iter_members,
    peek_member_names,
)

__all__ = ["OciArchiveDriver", "blob_member_digest"]

_LAYOUT_CAP: Final = 64 << 10
#: Blobs of a seekable archive staged at once: two hash on two cores where one cannot.
STAGE_THREADS: Final = 2
#: The same for an archive on S3 or HTTP, where each ranged request waits on the network.
REMOTE_STAGE_THREADS: Final = 4


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
        raise FormatError(
            f"member name is not a valid digest path: {exc}", member=name
        ) from exc


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


def _opener(
    reader: RangeReader, header: TarHeader, document: bytes | None
) -> Callable[[], IO[bytes]]:
    """Opens a member's bytes: from memory for a document the walk already read."""

    def open_member() -> IO[bytes]:
        if document is not None:
            return io.BytesIO(document)
        return reader.stream(header.offset, header.size)

    return open_member


def _blob_digest(name: str, kind: bytes, label: str) -> Digest | None:
    """The digest a ``blobs/`` member carries, ``None`` for other members.

    :raises FormatError: a name escaping the layout, or a blob that is not a file.
    """
    if name.startswith("/") or ".." in name.split("/"):
        raise FormatError("member name escapes the layout", location=label, member=name)
    digest = blob_member_digest(name)
    if digest is None or kind == tarfile.DIRTYPE:
        return None
    if kind not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
        raise FormatError(
            "blob member is not a regular file", location=label, member=name
        )
    return digest


def _roots(
    layout_raw: bytes | None,
    index_raw: bytes | None,
    others: set[str],
    request: ImportRequest,
    label: str,
) -> tuple[list[Descriptor], dict[Digest, bytes]]:
    """The roots to import, and blobs made here (the whole index with ``--index-name``).

    :raises FormatError: missing or bad ``oci-layout``/``index.json``, no images.
    :raises RefNameNotFoundError: the requested ref name is not in the index.
    """
    if layout_raw is None:
        raise FormatError(
            "no oci-layout member: not an OCI image layout", location=label
        )
    read_oci_layout(layout_raw, where="oci-layout")
    if index_raw is None:
        raise FormatError("no index.json member", location=label)
    index = Index.parse(index_raw, where="index.json")
    if not index.manifests:
        hint = (
            "; it has a Docker manifest.json: use --format docker-archive"
            if "manifest.json" in others
            else ""
        )
        raise FormatError(f"index.json lists no images{hint}", location=label)
    if request.whole_index:
        whole = Descriptor(mt.OCI_IMAGE_INDEX, Digest.of(index_raw), len(index_raw))
        return [whole], {whole.digest: index_raw}
    roots, _ = select_roots(index, request.ref_name, label, named_only=False)
    return roots, {}


def _walk(
    root: Descriptor,
    extra: dict[Digest, bytes],
    read: Callable[[Descriptor], bytes],
    has: Callable[[Digest], bool],
    size_of: Callable[[Digest], int | None],
    request: ImportRequest,
) -> ImageGraph:
    """Walk ``root``, checking every blob's size in the archive against its descriptor."""
    graph = walk_image(
        root,
        lambda desc: extra[desc.digest] if desc.digest in extra else read(desc),
        lambda digest: digest in extra or has(digest),
        request.selection,
    )
    for digest, desc in graph.blobs.items():
        actual = len(extra[digest]) if digest in extra else size_of(digest)
        if actual is not None and actual != desc.size:
            raise SizeMismatchError(desc.size, actual, str(digest))
    return graph


def _commit(
    store: ContentStore,
    staging: StagingArea,
    graphs: list[ImageGraph],
    extra: dict[Digest, bytes],
) -> ImportReport:
    """Publish what the walked roots need; every root was walked first, so a failure in
    any of them has left the store untouched."""
    report = ImportReport()
    for graph in graphs:
        report.roots.append(graph.root)
        report.missing.extend(graph.missing)
        report.notes.extend(_label_notes(graph, staging))
        report.committed.extend(staging.commit(graph.blobs))
    for digest, raw in extra.items():
        write_blob(
            store, io.BytesIO(raw), Descriptor(mt.OCI_IMAGE_INDEX, digest, len(raw))
        )
    return report


@dataclass(slots=True)
class _ArchiveIndex:
    """The members of a seekable archive, from its headers."""

    reader: RangeReader
    blobs: dict[Digest, TarHeader] = field(default_factory=dict)
    layout: dict[str, TarHeader] = field(default_factory=dict)
    others: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, reader: RangeReader, label: str) -> _ArchiveIndex:
        index = cls(reader)
        for header in index_members(reader.read_at, reader.size, label=label):
            if header.name in ("oci-layout", "index.json"):
                index.layout[header.name] = header
                continue
            digest = _blob_digest(header.name, header.type, label)
            if digest is None:
                index.others.add(header.name)
            else:
                index.blobs[digest] = header
        return index

    def member(self, name: str, limit: int) -> bytes | None:
        header = self.layout.get(name)
        if header is None:
            return None
        if header.size > limit:
            raise DocumentTooLargeError(header.size, limit, member=name)
        return self.reader.read_at(header.offset, header.size)

    def read_document(self, desc: Descriptor, limit: int) -> bytes:
        header = self.blobs[desc.digest]
        if header.size > limit:
            raise DocumentTooLargeError(header.size, limit, member=header.name)
        data = self.reader.read_at(header.offset, header.size)
        hasher = desc.digest.hasher()
        hasher.update(data)
        hasher.verify(desc.digest, header.size, header.name)
        return data

    def size_of(self, digest: Digest) -> int | None:
        header = self.blobs.get(digest)
        return header.size if header is not None else None


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
        return any(
            n in ("oci-layout", "index.json") or n.startswith("blobs/") for n in names
        )

    def import_image(
        self, source: IO[bytes] | Location, store: ContentStore, request: ImportRequest
    ) -> ImportReport:
        label = source.url if isinstance(source, Location) else "archive"
        if isinstance(source, Location):
            with RangeReader(source) as reader:
                if detect_compression(reader.read_at(0, 8)) is None:
                    return self._import_indexed(reader, store, request, label)
        with (
            _opened(source) as stream,
            StagingArea(
                store, max_document=request.max_document, progress=request.progress
            ) as staging,
        ):
            layout_raw, index_raw, others = self._stage_members(
                stream, staging, request, label
            )
            roots, extra = _roots(layout_raw, index_raw, others, request, label)
            graphs = [
                _walk(
                    root,
                    extra,
                    staging.read_document,
                    staging.has,
                    staging.size_of,
                    request,
                )
                for root in roots
            ]
            return _commit(store, staging, graphs, extra)

    def _import_indexed(
        self,
        reader: RangeReader,
        store: ContentStore,
        request: ImportRequest,
        label: str,
    ) -> ImportReport:
        """Random access: index the headers, read the documents, then only the blobs
        the selection needs."""
        archive = _ArchiveIndex.build(reader, label)
        roots, extra = _roots(
            archive.member("oci-layout", _LAYOUT_CAP),
            archive.member("index.json", request.max_document),
            archive.others,
            request,
            label,
        )

        documents: dict[
            Digest, bytes
        ] = {}  # read for the walk: staged without a re-read

        def read(desc: Descriptor) -> bytes:
            if desc.digest in archive.blobs:
                data = documents[desc.digest] = archive.read_document(
                    desc, request.max_document
                )
                return data
            return read_blob(store, desc, max_size=request.max_document)

        def has(digest: Digest) -> bool:
            return digest in archive.blobs or exists(store, digest)

        graphs = [
            _walk(root, extra, read, has, archive.size_of, request) for root in roots
        ]
        with StagingArea(
            store, max_document=request.max_document, progress=request.progress
        ) as staging:
            todo: dict[Digest, tuple[Digest, int, Callable[[], IO[bytes]], str]] = {}
            for graph in graphs:
                for digest in graph.blobs:
                    needed = archive.blobs.get(digest)
                    if (
                        needed is not None
                        and digest not in todo
                        and not staging.has(digest)
                    ):
                        opener = _opener(reader, needed, documents.get(digest))
                        todo[digest] = (digest, needed.size, opener, needed.name)
            threads = STAGE_THREADS if reader.is_local else REMOTE_STAGE_THREADS
            staging.add_many(list(todo.values()), threads=threads)
            return _commit(store, staging, graphs, extra)

    def inspect(
        self, source: IO[bytes] | Location, *, max_document: int
    ) -> SourceContents:
        label = source.url if isinstance(source, Location) else "archive"
        if isinstance(source, Location):
            reader = RangeReader(source)
            if detect_compression(reader.read_at(0, 8)) is None:
                archive = _ArchiveIndex.build(reader, label)
                index_raw = archive.member("index.json", max_document)
                roots, _ = _roots(
                    archive.member("oci-layout", _LAYOUT_CAP),
                    index_raw,
                    archive.others,
                    ImportRequest(),
                    label,
                )
                return SourceContents(
                    roots,
                    lambda d: archive.read_document(d, max_document),
                    archive.blobs.__contains__,
                    archive.size_of,
                    close=reader.close,
                )
            reader.close()
        with _opened(source) as stream:
            return self._inspect_stream(stream, max_document, label)

    @staticmethod
    def _inspect_stream(
        stream: IO[bytes], max_document: int, label: str
    ) -> SourceContents:
        """One pass: documents kept, other blobs only counted (never hashed or stored)."""
        files: dict[str, bytes] = {}
        sizes: dict[Digest, int] = {}
        documents: dict[Digest, bytes] = {}
        others: set[str] = set()
        for member in iter_members(stream, label=label):
            if member.name in ("oci-layout", "index.json"):
                files[member.name] = _read_member(member, max_document)
                continue
            digest = _blob_digest(member.name, member.type, label)
            if digest is None:
                others.add(member.name)
                continue
            sizes[digest] = member.size
            if member.size <= max_document:
                data = member.stream.read()
                if data.lstrip()[:1] == b"{":
                    documents[digest] = data
        roots, _ = _roots(
            files.get("oci-layout"),
            files.get("index.json"),
            others,
            ImportRequest(),
            label,
        )

        def read(desc: Descriptor) -> bytes:
            if desc.digest not in documents:
                raise FormatError("not a JSON document", member=str(desc.digest))
            data = documents[desc.digest]
            hasher = desc.digest.hasher()
            hasher.update(data)
            hasher.verify(desc.digest, desc.size, str(desc.digest))
            return data

        return SourceContents(roots, read, sizes.__contains__, sizes.get)

    def _stage_members(
        self,
        stream: IO[bytes],
        staging: StagingArea,
        request: ImportRequest,
        label: str,
    ) -> tuple[bytes | None, bytes | None, set[str]]:
        layout_raw = index_raw = None
        others: set[str] = set()
        for member in iter_members(stream, label=label):
            if member.name == "oci-layout":
                layout_raw = _read_member(member, _LAYOUT_CAP)
            elif member.name == "index.json":
                index_raw = _read_member(member, request.max_document)
            else:
                digest = _blob_digest(member.name, member.type, label)
                if digest is None:
                    others.add(member.name)
                else:
                    staging.add(digest, member.size, member.stream, where=member.name)
        return layout_raw, index_raw, others

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
                return self.export_image(
                    store, entries, sink, progress=progress, extra_members=extra_members
                )
        blobs: dict[Digest, Descriptor] = {}
        missing: list[tuple[Descriptor, Digest]] = []
        for entry in entries:
            graph = walk_image(
                entry,
                lambda d: read_blob(store, d),
                lambda digest: exists(store, digest),
            )
            for digest, desc in graph.blobs.items():
                blobs.setdefault(digest, desc)
            missing.extend(graph.missing)
        tar = TarWriter(target)
        tar.add_bytes(
            "oci-layout", dump_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION})
        )
        tar.add_bytes("index.json", Index.build(entries).raw)
        for name, data in sorted(extra_members):
            tar.add_bytes(name, data)
        tar.add_directory("blobs")
        for algorithm in sorted({d.algorithm for d in blobs}):
            tar.add_directory(f"blobs/{algorithm}")
        for digest in sorted(blobs, key=str):
            add_blob_member(
                tar, store, blobs[digest], blob_member_name(blobs[digest]), progress
            )
        tar.close()
        return missing
