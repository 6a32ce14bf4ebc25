"""The ``oci`` driver: an OCI image layout directory (image-spec ``image-layout.md``) on any
fsspec location (``/path``, ``s3://bucket/prefix``, ``memory://...``).

Import reads ``oci-layout`` and ``index.json``, selects roots and platforms, and opens
only the blobs the selection needs; a layout may lack blobs of unselected platforms.
Blob files that are symbolic links or not regular files are refused.

Export writes into a new or existing layout (like skopeo's ``oci:DIR:NAME``): blobs
already there are skipped, the others are written concurrently, each verified, and
``index.json`` is updated last, atomically, adding or replacing names.
"""

from __future__ import annotations

import concurrent.futures
import io
from collections.abc import Sequence
from typing import IO, Final

from ociport.content.fsstore import FsspecContentStore
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
from ociport.engine.selection import select_roots
from ociport.errors import (
    BlobNotFoundError,
    DocumentTooLargeError,
    FormatError,
    UnsupportedSourceError,
)
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index
from ociport.oci.walk import ImageGraph, walk_image
from ociport.streams.location import Location

__all__ = ["LayoutReader", "OciLayoutDriver"]

#: Blobs written at once on export.
EXPORT_THREADS: Final = 4
_LAYOUT_CAP: Final = 64 << 10


class LayoutReader:
    """Reads files and blobs of a layout, refusing links and non-regular blob files.

    :ivar opened: paths of the blob files opened so far, in order.
    """

    def __init__(self, root: Location) -> None:
        self.root = root
        self.opened: list[str] = []

    def blob_path(self, digest: Digest) -> str:
        """The path of a blob (``digest`` is validated, so the path stays in the layout)."""
        return self.root.join("blobs", digest.algorithm, digest.encoded).path

    def has(self, digest: Digest) -> bool:
        """Whether the blob file exists.

        :raises FormatError: it exists but is a symbolic link or not a regular file.
        """
        path = self.blob_path(digest)
        try:
            details = self.root.fs.info(path)
        except FileNotFoundError:
            return False
        if details.get("islink") or details.get("type") != "file":
            raise FormatError(
                "blob is not a regular file", location=self.root.url, member=path
            )
        return True

    def open(self, desc: Descriptor) -> IO[bytes]:
        """Open a blob file for reading (unverified: the caller hashes what it reads)."""
        if not self.has(desc.digest):
            raise BlobNotFoundError(desc.digest)
        path = self.blob_path(desc.digest)
        self.opened.append(path)
        return self.root.fs.open(path, "rb", block_size=4 << 20)  # type: ignore[no-any-return]

    def read_document(self, desc: Descriptor, limit: int) -> bytes:
        """A whole manifest or index, checked against its digest and size.

        :raises DocumentTooLargeError: the descriptor's size exceeds ``limit``.
        :raises DigestMismatchError, SizeMismatchError: the file is not that blob.
        """
        if desc.size > limit:
            raise DocumentTooLargeError(desc.size, limit, member=str(desc.digest))
        with self.open(desc) as stream:
            data = stream.read(desc.size + 1)
        hasher = desc.digest.hasher()
        hasher.update(data)
        hasher.verify(desc.digest, desc.size, self.blob_path(desc.digest))
        return data

    def read_file(self, name: str, limit: int) -> bytes:
        """``oci-layout`` or ``index.json``, capped at ``limit`` bytes.

        :raises FormatError: missing or not a regular file.
        :raises DocumentTooLargeError: larger than ``limit``.
        """
        location = self.root.join(name)
        try:
            details = location.fs.info(location.path)
        except FileNotFoundError as exc:
            raise FormatError(
                f"no {name}: not an OCI image layout", location=self.root.url
            ) from exc
        if details.get("islink") or details.get("type") != "file":
            raise FormatError(f"{name} is not a regular file", location=self.root.url)
        if int(details.get("size") or 0) > limit:
            raise DocumentTooLargeError(int(details["size"]), limit, member=name)
        return location.fs.cat_file(location.path)  # type: ignore[no-any-return]


class OciLayoutDriver(ImageDriver):
    """OCI image layout directory (skopeo's ``oci:`` transport)."""

    name = "oci"
    summary = "OCI image layout directory, local or remote (skopeo oci:)"
    accepts_stream = False

    @classmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        if location is None:
            return False
        return bool(location.fs.isfile(location.join("oci-layout").path))

    def import_image(
        self, source: IO[bytes] | Location, store: ContentStore, request: ImportRequest
    ) -> ImportReport:
        reader = _layout_reader(source)
        read_oci_layout(reader.read_file("oci-layout", _LAYOUT_CAP), where="oci-layout")
        index_raw = reader.read_file("index.json", request.max_document)
        index = Index.parse(index_raw, where="index.json")
        roots, notes = select_roots(
            index, request.ref_name, reader.root.url, named_only=True
        )
        if request.whole_index:
            whole = Descriptor(
                index.media_type or "application/vnd.oci.image.index.v1+json",
                Digest.of(index_raw),
                len(index_raw),
            )
            roots = [whole]
        graphs = [self._walk(root, reader, request, index_raw) for root in roots]
        report = ImportReport(notes=notes)
        with StagingArea(
            store, max_document=request.max_document, progress=request.progress
        ) as staging:
            for graph in graphs:
                for digest, desc in graph.blobs.items():
                    if request.whole_index and digest == Digest.of(index_raw):
                        continue
                    if not exists(store, digest):
                        with reader.open(desc) as stream:
                            staging.add(
                                digest,
                                desc.size,
                                stream,
                                where=reader.blob_path(digest),
                            )
            for graph in graphs:
                report.roots.append(graph.root)
                report.missing.extend(graph.missing)
                report.committed.extend(staging.commit(graph.blobs))
        if request.whole_index:
            write_blob(store, io.BytesIO(index_raw), roots[0])
        return report

    def inspect(
        self, source: IO[bytes] | Location, *, max_document: int
    ) -> SourceContents:
        reader = _layout_reader(source)
        read_oci_layout(reader.read_file("oci-layout", _LAYOUT_CAP), where="oci-layout")
        index = Index.parse(
            reader.read_file("index.json", max_document), where="index.json"
        )

        def size_of(digest: Digest) -> int | None:
            if not reader.has(digest):
                return None
            return int(reader.root.fs.size(reader.blob_path(digest)))

        return SourceContents(
            list(index.manifests),
            lambda d: reader.read_document(d, max_document),
            reader.has,
            size_of,
        )

    @staticmethod
    def _walk(
        root: Descriptor, reader: LayoutReader, request: ImportRequest, index_raw: bytes
    ) -> ImageGraph:
        whole = Digest.of(index_raw) if request.whole_index else None

        def read(desc: Descriptor) -> bytes:
            if desc.digest == whole:
                return index_raw
            return reader.read_document(desc, request.max_document)

        def has(digest: Digest) -> bool:
            return digest == whole or reader.has(digest)

        return walk_image(root, read, has, request.selection)

    def export_image(
        self,
        store: ReadableContent,
        entries: Sequence[Descriptor],
        target: IO[bytes] | Location,
        *,
        progress: ProgressCallback | None = None,
        extra_members: Sequence[tuple[str, bytes]] = (),
    ) -> list[tuple[Descriptor, Digest]]:
        if not isinstance(target, Location):
            raise UnsupportedSourceError(
                self.name, "a stream (a layout is a directory)"
            )
        created = not target.fs.exists(target.path)
        if not created and target.fs.exists(target.join("oci-layout").path):
            read_oci_layout(
                LayoutReader(target).read_file("oci-layout", _LAYOUT_CAP),
                where="oci-layout",
            )
        try:
            return self._export(store, entries, FsspecContentStore(target), progress)
        except BaseException:
            # A layout this export created goes away whole; an existing one keeps its
            # index.json (no name was added) and at most some verified blobs.
            if created and target.fs.exists(target.path):
                target.fs.rm(target.path, recursive=True)
            raise
        finally:
            _remove_empty_ingest(target)

    @staticmethod
    def _export(
        store: ReadableContent,
        entries: Sequence[Descriptor],
        layout: FsspecContentStore,
        progress: ProgressCallback | None,
    ) -> list[tuple[Descriptor, Digest]]:
        blobs: dict[Digest, Descriptor] = {}
        missing: list[tuple[Descriptor, Digest]] = []
        for entry in entries:
            graph = walk_image(
                entry, lambda d: read_blob(store, d), lambda d: exists(store, d)
            )
            for digest, desc in graph.blobs.items():
                blobs.setdefault(digest, desc)
            missing.extend(graph.missing)
        todo = [d for d in blobs.values() if not _present(layout, d)]
        with concurrent.futures.ThreadPoolExecutor(EXPORT_THREADS) as pool:
            for _ in pool.map(lambda d: _copy(store, layout, d, progress), todo):
                pass
        names = {e.ref_name for e in entries}
        layout.update_index(
            lambda current: (
                [e for e in current if e.ref_name not in names] + list(entries)
            )
        )
        return missing


def _layout_reader(source: IO[bytes] | Location) -> LayoutReader:
    if not isinstance(source, Location):
        raise UnsupportedSourceError("oci", "a stream (a layout is a directory)")
    if not source.fs.isdir(source.path):
        raise FormatError(
            "not a directory: an OCI image layout is one", location=source.url
        )
    return LayoutReader(source)


def _present(layout: FsspecContentStore, desc: Descriptor) -> bool:
    try:
        return layout.info(desc.digest).size == desc.size
    except BlobNotFoundError:
        return False


def _copy(
    store: ReadableContent,
    layout: FsspecContentStore,
    desc: Descriptor,
    progress: ProgressCallback | None,
) -> None:
    with store.open_blob(desc) as stream:
        write_blob(
            layout, stream, desc, ingest_id=f"export-{desc.digest}", progress=progress
        )


def _remove_empty_ingest(root: Location) -> None:
    ingest = root.join("ingest")
    try:
        if not ingest.fs.ls(ingest.path):
            ingest.fs.rmdir(ingest.path)
    except (FileNotFoundError, OSError):
        pass
