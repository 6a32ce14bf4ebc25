"""The ``oci-archive`` driver: an OCI image layout (image-spec ``image-layout.md``) in a tar.

Reading: a seekable, uncompressed archive (a local file, an object on S3) is indexed by
its tar headers; ``oci-layout``, ``index.json`` and the documents the walk asks for are
read, and blobs only when the engine needs them. A stream (stdin, a pipe, a compressed
archive) is read once, front to back, whatever the member order: each
``blobs/<alg>/<encoded>`` member is checked against the digest its name gives and staged.

Roots are named by ``index.json`` alone, as containerd's importer does whenever an
archive has ``oci-layout``; a Docker ``manifest.json`` beside it (Docker 25+'s
``docker save``, ``ctr images export``) is not read. When some entry names no image
and that file is there, a note says that ``--format docker-archive`` reads its
``RepoTags``.

Writing: ``oci-layout`` and ``index.json`` (the images, then their referrers as
unnamed entries) first, then files from plugins, then every blob once, sorted by name,
each verified against its digest while it is copied.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import IO, Final

from ociport.content.helpers import verified
from ociport.drivers.base import ImageDriver, ImageSource, SourceContext
from ociport.drivers.layout import (
    LAYOUT_FILE_CAP,
    add_blob_member,
    blob_member_digest,
    blob_member_name,
    layout_files,
    parse_layout,
    read_threads,
)
from ociport.drivers.plan import ExportPlan
from ociport.errors import BlobNotFoundError, DocumentTooLargeError, FormatError
from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME, Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index
from ociport.streams.compression import detect_compression
from ociport.streams.location import Location
from ociport.streams.ranged import RangeReader
from ociport.streams.sources import open_uncompressed
from ociport.streams.tario import (
    TarHeader,
    TarMember,
    TarWriter,
    index_members,
    iter_members,
    peek_member_names,
)

__all__ = ["OciArchiveDriver"]

_LAYOUT_FILES: Final = ("oci-layout", "index.json")


def _blob_digest(name: str, kind: bytes, link: str, label: str) -> Digest | None:
    """The digest a ``blobs/`` member carries, ``None`` for other members.

    :raises FormatError: a name or link target escaping the layout, or a blob that is
        not a file.
    """
    if _escapes(name):
        raise FormatError("member name escapes the layout", location=label, member=name)
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        target = (
            posixpath.join(posixpath.dirname(name), link)
            if kind == tarfile.SYMTYPE
            else link
        )
        if _escapes(posixpath.normpath(target)):
            raise FormatError(
                f"link to {link!r} points outside the layout",
                location=label,
                member=name,
            )
    digest = blob_member_digest(name)
    if digest is None or kind == tarfile.DIRTYPE:
        return None
    if kind not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
        raise FormatError(
            "blob member is not a regular file", location=label, member=name
        )
    return digest


def _escapes(name: str) -> bool:
    return name.startswith("/") or ".." in name.split("/")


def _once(files: dict[str, bytes], name: str, data: bytes, label: str) -> None:
    """Keep a layout file; the same name twice must mean the same bytes."""
    if files.setdefault(name, data) != data:
        raise FormatError(
            "member appears twice with different bytes", location=label, member=name
        )


def _index(files: dict[str, bytes], others: set[str], label: str) -> Index:
    hint = (
        "; it has a Docker manifest.json: use --format docker-archive"
        if "manifest.json" in others
        else ""
    )
    return parse_layout(
        files.get("oci-layout"), files.get("index.json"), label, hint=hint
    )


def _notes(index: Index, others: set[str]) -> list[str]:
    """A hint for entries that name no image in an archive that also has a Docker
    ``manifest.json``, whose ``RepoTags`` may name them."""
    unnamed = sum(
        1
        for entry in index.manifests
        if not entry.ref_name and not entry.annotations.get(ANNOTATION_IMAGE_NAME)
    )
    if not unnamed or "manifest.json" not in others:
        return []
    return [
        f"{unnamed} of {len(index.manifests)} index.json entries name no image; "
        "this archive's Docker manifest.json may (RepoTags): "
        "--format docker-archive reads those names"
    ]


def _capped(name: str, size: int, limit: int) -> int:
    """``size``, once checked against the cap for ``name``."""
    cap = LAYOUT_FILE_CAP if name == "oci-layout" else limit
    if size > cap:
        raise DocumentTooLargeError(size, cap, member=name)
    return size


@dataclass(slots=True)
class _ArchiveProvider:
    """The blobs of a seekable archive, by their tar headers."""

    reader: RangeReader
    max_document: int
    blobs: dict[Digest, TarHeader] = field(default_factory=dict)

    def has(self, digest: Digest) -> bool:
        return digest in self.blobs

    def size_of(self, digest: Digest) -> int | None:
        header = self.blobs.get(digest)
        return header.size if header is not None else None

    def read_document(self, descriptor: Descriptor) -> bytes:
        header = self._header(descriptor.digest)
        _capped(header.name, header.size, self.max_document)
        data = self.reader.read_at(header.offset, header.size)
        return verified(descriptor, data, header.name)

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        header = self._header(descriptor.digest)
        return self.reader.stream(header.offset, header.size)

    def _header(self, digest: Digest) -> TarHeader:
        header = self.blobs.get(digest)
        if header is None:
            raise BlobNotFoundError(digest)
        return header


class OciArchiveDriver(ImageDriver):
    """OCI image layout in a tar archive (skopeo's ``oci-archive:`` transport)."""

    name = "oci-archive"
    summary = "OCI image layout in a tar archive (skopeo oci-archive:, ctr export)"
    accepts_stream = True
    holds_referrers = True

    @classmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        if head is None:
            return False
        names = peek_member_names(head)
        return any(n in _LAYOUT_FILES or n.startswith("blobs/") for n in names)

    def open_source(
        self, source: IO[bytes] | Location, context: SourceContext
    ) -> ImageSource:
        if isinstance(source, Location):
            reader = RangeReader(source)
            try:
                if detect_compression(reader.read_at(0, 8)) is None:
                    return self._open_indexed(reader, context)
            except BaseException:
                reader.close()
                raise
            reader.close()
        with open_uncompressed(source) as stream:
            return self._open_stream(stream, context)

    def _open_indexed(self, reader: RangeReader, context: SourceContext) -> ImageSource:
        """Random access: index the headers; blobs are read when the engine asks."""
        provider = _ArchiveProvider(reader, context.max_document)
        files: dict[str, bytes] = {}
        others: set[str] = set()
        label = context.label
        for header in index_members(reader.read_at, reader.size, label=label):
            if header.name in _LAYOUT_FILES:
                size = _capped(header.name, header.size, context.max_document)
                _once(files, header.name, reader.read_at(header.offset, size), label)
                continue
            digest = _blob_digest(header.name, header.type, header.linkname, label)
            if digest is None:
                others.add(header.name)
            elif provider.blobs.setdefault(digest, header).size != header.size:
                raise FormatError(
                    "member appears twice with different sizes",
                    location=label,
                    member=header.name,
                )
        index = _index(files, others, context.label)
        return ImageSource(
            list(index.manifests),
            provider,
            index_document=files["index.json"],
            notes=_notes(index, others),
            blob_threads=read_threads(reader.location),
            list_blobs=lambda: [(d, h.size) for d, h in provider.blobs.items()],
            on_close=reader.close,
        )

    def _open_stream(self, stream: IO[bytes], context: SourceContext) -> ImageSource:
        """One pass: every blob member staged as it streams past."""
        files: dict[str, bytes] = {}
        others: set[str] = set()
        for member in iter_members(stream, label=context.label):
            if member.name in _LAYOUT_FILES:
                data = self._read_member(member, context)
                _once(files, member.name, data, context.label)
                continue
            digest = _blob_digest(
                member.name, member.type, member.linkname, context.label
            )
            if digest is None:
                others.add(member.name)
            else:
                context.stage.add(digest, member.size, member.stream, where=member.name)
        index = _index(files, others, context.label)
        return ImageSource(
            list(index.manifests),
            context.stage,
            index_document=files["index.json"],
            notes=_notes(index, others),
            list_blobs=context.stage.blob_sizes,
        )

    @staticmethod
    def _read_member(member: TarMember, context: SourceContext) -> bytes:
        _capped(member.name, member.size, context.max_document)
        return member.stream.read()

    def write(self, plan: ExportPlan, target: IO[bytes] | Location) -> None:
        assert not isinstance(target, Location), "the engine opens stream targets"
        tar = TarWriter(target)
        for name, data in [*layout_files(plan.index_entries()), *sorted(plan.members)]:
            tar.add_bytes(name, data)
        tar.add_directory("blobs")
        for algorithm in sorted({d.digest.algorithm for d in plan.blobs}):
            tar.add_directory(f"blobs/{algorithm}")
        for blob in plan.blobs:
            add_blob_member(
                tar, plan.content, blob, blob_member_name(blob), plan.progress
            )
        tar.close()
