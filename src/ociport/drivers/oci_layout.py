"""The ``oci`` driver: an OCI image layout directory (image-spec ``image-layout.md``) on any
fsspec location (``/path``, ``s3://bucket/prefix``, ``memory://...``).

Reading opens ``oci-layout`` and ``index.json``, then only the blobs the engine asks for
(a layout may lack those of unselected platforms); links and special files are refused.

Export writes into a new or existing layout (like skopeo's ``oci:DIR:NAME``): blobs
already there are skipped, the others are written concurrently, each verified, and
``index.json`` is updated last, atomically, adding or replacing names, and adding the
referrers as unnamed entries (once each).
"""

from __future__ import annotations

import concurrent.futures
from typing import IO, Final

from ociport.content.fsstore import FsspecContentStore
from ociport.content.helpers import verified, write_blob
from ociport.content.imageindex import read_oci_layout
from ociport.drivers.base import ImageDriver, ImageSource, SourceContext
from ociport.drivers.layout import LAYOUT_FILE_CAP, parse_layout, read_threads
from ociport.drivers.plan import ExportPlan
from ociport.errors import (
    BlobNotFoundError,
    DocumentTooLargeError,
    FormatError,
    InvalidDigestError,
    UnsupportedSourceError,
)
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.streams.location import Location

__all__ = ["LayoutReader", "OciLayoutDriver"]

#: Blobs written at once on export.
EXPORT_THREADS: Final = 4


class LayoutReader:
    """The files and blobs of a layout (a :class:`~ociport.drivers.kit.SourceProvider`),
    refusing links and non-regular files.

    :param root: the layout directory.
    :param max_document: cap on a document read with :meth:`read_document`, in bytes.
    """

    def __init__(self, root: Location, max_document: int = LAYOUT_FILE_CAP) -> None:
        self.root = root
        self.max_document = max_document

    def blob_path(self, digest: Digest) -> str:
        """The path of a blob (``digest`` is validated, so the path stays in the layout)."""
        return self.root.join("blobs", digest.algorithm, digest.encoded).path

    def _size(self, path: str) -> int | None:
        """A regular file's size, ``None`` when absent.

        :raises FormatError: it is a symbolic link or not a regular file.
        """
        try:
            details = self.root.fs.info(path)
        except FileNotFoundError:
            return None
        if details.get("islink") or details.get("type") != "file":
            raise FormatError("not a regular file", location=self.root.url, member=path)
        return int(details.get("size") or 0)

    def has(self, digest: Digest) -> bool:
        """Whether the blob file exists (a link or special file raises FormatError)."""
        return self._size(self.blob_path(digest)) is not None

    def size_of(self, digest: Digest) -> int | None:
        """The size of a blob file, ``None`` when there is none."""
        return self._size(self.blob_path(digest))

    def open_blob(self, desc: Descriptor) -> IO[bytes]:
        """Open a blob file for reading (unverified: the caller hashes what it reads)."""
        if not self.has(desc.digest):
            raise BlobNotFoundError(desc.digest)
        path = self.blob_path(desc.digest)
        return self.root.fs.open(path, "rb", block_size=4 << 20)  # type: ignore[no-any-return]

    def read_document(self, desc: Descriptor) -> bytes:
        """A whole manifest or index, checked against its digest and size.

        :raises DocumentTooLargeError: the descriptor's size exceeds the cap.
        :raises DigestMismatchError, SizeMismatchError: the file is not that blob.
        """
        if desc.size > self.max_document:
            raise DocumentTooLargeError(
                desc.size, self.max_document, member=str(desc.digest)
            )
        with self.open_blob(desc) as stream:
            data = stream.read(desc.size + 1)
        return verified(desc, data, self.blob_path(desc.digest))

    def blob_sizes(self) -> list[tuple[Digest, int]]:
        """Every regular blob file of the layout, as ``(digest, size in bytes)``;
        files whose names are not digests are passed over."""
        found = []
        for algorithm in ("sha256", "sha512"):
            folder = self.root.join("blobs", algorithm).path
            try:
                listing = self.root.fs.ls(folder, detail=True)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for details in listing:
                name = str(details["name"]).rstrip("/").rsplit("/", 1)[-1]
                if details.get("type") != "file" or details.get("islink"):
                    continue
                try:
                    found.append((Digest(algorithm, name), int(details["size"])))
                except InvalidDigestError:
                    continue
        return found

    def read_file(self, name: str, limit: int) -> bytes:
        """``oci-layout`` or ``index.json``, capped at ``limit`` bytes.

        :raises FormatError: missing or not a regular file.
        :raises DocumentTooLargeError: larger than ``limit``.
        """
        path = self.root.join(name).path
        size = self._size(path)
        if size is None:
            raise FormatError(
                f"no {name}: not an OCI image layout", location=self.root.url
            )
        if size > limit:
            raise DocumentTooLargeError(size, limit, member=name)
        return self.root.fs.cat_file(path)  # type: ignore[no-any-return]


class OciLayoutDriver(ImageDriver):
    """OCI image layout directory (skopeo's ``oci:`` transport)."""

    name = "oci"
    summary = "OCI image layout directory, local or remote (skopeo oci:)"
    accepts_stream = False
    holds_referrers = True

    @classmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        if location is None:
            return False
        return bool(location.fs.isfile(location.join("oci-layout").path))

    def open_source(
        self, source: IO[bytes] | Location, context: SourceContext
    ) -> ImageSource:
        reader = _layout_reader(source, context.max_document)
        index_raw = reader.read_file("index.json", context.max_document)
        index = parse_layout(
            reader.read_file("oci-layout", LAYOUT_FILE_CAP), index_raw, reader.root.url
        )
        return ImageSource(
            list(index.manifests),
            reader,
            index_document=index_raw,
            blob_threads=read_threads(reader.root),
            list_blobs=reader.blob_sizes,
        )

    def write(self, plan: ExportPlan, target: IO[bytes] | Location) -> None:
        if not isinstance(target, Location):
            raise UnsupportedSourceError(
                self.name, "a stream (a layout is a directory)"
            )
        if target.fs.exists(target.join("oci-layout").path):
            read_oci_layout(
                LayoutReader(target).read_file("oci-layout", LAYOUT_FILE_CAP),
                where="oci-layout",
            )
        # On failure an existing layout keeps its index.json (no name was added) and
        # at most some verified blobs; the engine removes one this export created.
        try:
            # An exported layout normally has one writer: its index.json lock does not
            # insist on conditional writes (a store does, see content/locks.py).
            layout = FsspecContentStore(target, role="destination", single_writer=True)
            _write(plan, layout)
        finally:
            _remove_empty_ingest(target)


def _write(plan: ExportPlan, layout: FsspecContentStore) -> None:
    def copy(desc: Descriptor) -> None:
        if not _present(layout, desc):
            with plan.content.open_blob(desc) as stream:
                ingest_id, progress = f"export-{desc.digest}", plan.progress
                write_blob(layout, stream, desc, ingest_id=ingest_id, progress=progress)

    with concurrent.futures.ThreadPoolExecutor(EXPORT_THREADS) as pool:
        list(pool.map(copy, plan.blobs))
    written = plan.index_entries()
    names = {e.ref_name for e in written if e.ref_name}
    unnamed = {e.digest for e in written if not e.ref_name}
    layout.update_index(
        lambda current: (
            [
                e
                for e in current
                if (e.ref_name not in names if e.ref_name else e.digest not in unnamed)
            ]
            + written
        )
    )


def _layout_reader(source: IO[bytes] | Location, max_document: int) -> LayoutReader:
    if not isinstance(source, Location):
        raise UnsupportedSourceError("oci", "a stream (a layout is a directory)")
    if not source.fs.isdir(source.path):
        raise FormatError(
            "not a directory: an OCI image layout is one", location=source.url
        )
    return LayoutReader(source, max_document)


def _present(layout: FsspecContentStore, desc: Descriptor) -> bool:
    try:
        return layout.info(desc.digest).size == desc.size
    except BlobNotFoundError:
        return False


def _remove_empty_ingest(root: Location) -> None:
    ingest = root.join("ingest")
    try:
        if not ingest.fs.ls(ingest.path):
            ingest.fs.rmdir(ingest.path)
    except (FileNotFoundError, OSError):
        pass
