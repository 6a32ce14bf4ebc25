"""The ``oci-zip`` format: an OCI image layout (``oci-layout``, ``index.json``,
``blobs/<algorithm>/<encoded>``) in a ZIP file whose members are stored, not deflated.

Reading: :mod:`zipfile` reads the central directory (at the end: a stream must be
seekable); a stored blob is a plain byte range, read only when the engine asks for it
and checked against its digest (the zip's CRC-32 is not checked: the digest is).

Writing is deterministic (fixed times and modes; ``oci-layout``, ``index.json``, files
from plugins, blobs by name) and never seeks back: members end with data descriptors,
so a file, a pipe and an object store get the same bytes.
"""

from __future__ import annotations

import io
import struct
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final

from ociport.drivers import kit

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["ZipArchiveDriver"]

#: A local file header: signature, flags, method, name and extra field lengths.
_LOCAL_HEADER: Final = struct.Struct("<4s2xHH16xHH")
_MAGIC: Final = b"PK\x03\x04"
_LAYOUT_FILES: Final = ("oci-layout", "index.json")
_LAYOUT_CAP: Final = 64 << 10  # oci-layout holds a few bytes
_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_FILE_MODE: Final = 0o100644 << 16  # a regular file, rw-r--r--, in the Unix half
#: What zipfile raises on a damaged central directory (EOFError and zlib.error come only
#: from reading members through zipfile, which this driver never does).
_CORRUPT: Final = (zipfile.BadZipFile, struct.error, ValueError, NotImplementedError)


class _Slice(io.RawIOBase):
    """``size`` bytes at ``offset`` of the archive, as a stream."""

    def __init__(self, archive: _ZipProvider, offset: int, size: int) -> None:
        super().__init__()
        self.archive, self.position, self.end = archive, offset, offset + size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        want = max(0, min(len(view), self.end - self.position))
        data = self.archive.read_at(self.position, want)
        view[: len(data)] = data
        self.position += len(data)
        return len(data)


@dataclass(slots=True)
class _ZipProvider:
    """The members of an opened zip, read on demand (a :class:`kit.SourceProvider`)."""

    file: IO[bytes]  # seekable, shared by every reader under the lock
    label: str
    max_document: int
    blobs: dict[kit.Digest, zipfile.ZipInfo] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def has(self, digest: kit.Digest) -> bool:
        return digest in self.blobs

    def size_of(self, digest: kit.Digest) -> int | None:
        return self.blobs[digest].file_size if digest in self.blobs else None

    def read_document(self, descriptor: kit.Descriptor) -> bytes:
        info = self._info(descriptor.digest)
        return kit.verified(
            descriptor, self.read(info, self.max_document), info.filename
        )

    def open_blob(self, descriptor: kit.Descriptor) -> IO[bytes]:
        info = self._info(descriptor.digest)
        return io.BufferedReader(_Slice(self, self._start(info), info.file_size))

    def read(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        """A whole member of at most ``cap`` bytes."""
        if info.file_size > cap:
            raise kit.DocumentTooLargeError(info.file_size, cap, member=info.filename)
        data = self.read_at(self._start(info), info.file_size)
        if len(data) != info.file_size:
            raise kit.FormatError("truncated member", member=info.filename)
        return data

    def read_at(self, offset: int, size: int) -> bytes:
        with self.lock:
            self.file.seek(offset)
            return self.file.read(size)

    def _info(self, digest: kit.Digest) -> zipfile.ZipInfo:
        info = self.blobs.get(digest)
        if info is None:
            raise kit.BlobNotFoundError(digest)
        return info

    def _start(self, info: zipfile.ZipInfo) -> int:
        """Where a member's bytes begin: past its local header."""
        header = self.read_at(info.header_offset, _LOCAL_HEADER.size)
        if len(header) == _LOCAL_HEADER.size:
            magic, _, method, name_size, extra_size = _LOCAL_HEADER.unpack(header)
            if magic == _MAGIC and method == zipfile.ZIP_STORED:
                return int(info.header_offset + len(header) + name_size + extra_size)
        raise kit.FormatError(
            "bad local file header", location=self.label, member=info.filename
        )


def _stored(info: zipfile.ZipInfo, label: str) -> zipfile.ZipInfo:
    """``info``, once checked to be a plain stored member where the file can hold it."""
    plain = info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1
    if not plain or info.compress_size != info.file_size or info.header_offset < 0:
        raise kit.FormatError(
            "not a plain stored member (oci-zip members are stored: zip -0)",
            location=label,
            member=info.filename,
        )
    return info


def _entry(name: str, size: int) -> zipfile.ZipInfo:
    """A member header with nothing in it that varies from run to run."""
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.create_system = 3  # Unix, so that the permissions are read
    info.external_attr = _FILE_MODE
    info.file_size = size  # zipfile chooses ZIP64 headers from it
    return info


class _WriteOnly:
    """The target without ``tell`` and ``seek``: zipfile then writes data descriptors
    rather than seeking back, whatever the target is."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target

    def write(self, data: bytes) -> int:
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()

    def close(self) -> None:
        """Not called: zipfile leaves files it was given open (so does the driver)."""


class ZipArchiveDriver(kit.ImageDriver):
    """OCI image layout in a ZIP file with stored members."""

    name = "oci-zip"
    summary = "OCI image layout in a ZIP file, members stored (example plugin)"
    accepts_stream = True
    #: An OCI image layout holds referrers (signatures, SBOMs) as unnamed
    #: ``index.json`` entries: ``write`` lays out ``plan.index_entries()``.
    holds_referrers = True

    @classmethod
    def sniff(cls, head: bytes | None, location: kit.Location | None) -> bool:
        if head is None and location is not None:
            try:
                head = location.fs.cat_file(location.path, start=0, end=64)
            except OSError:  # a directory (the engine offers those to every driver)
                return False
        if head is None or len(head) < _LOCAL_HEADER.size:
            return False
        magic, _, _, name_size, _ = _LOCAL_HEADER.unpack_from(head)
        name = head[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_size]
        return bool(magic == _MAGIC and name == b"oci-layout")

    def open_source(
        self, source: IO[bytes] | kit.Location, context: kit.SourceContext
    ) -> kit.ImageSource:
        if isinstance(source, kit.Location):
            options = {} if source.is_local else {"cache_type": "none"}
            file: IO[bytes] = source.fs.open(source.path, "rb", **options)
            close: Callable[[], None] = file.close
        elif source.seekable():
            file, close = source, lambda: None  # the caller's stream stays open
        else:
            raise kit.UnsupportedSourceError(
                self.name, "a stream that cannot seek (a zip's directory is at its end)"
            )
        try:
            opened = self._open(file, context)
        except BaseException:
            close()
            raise
        opened.on_close = close
        return opened

    def _open(self, file: IO[bytes], context: kit.SourceContext) -> kit.ImageSource:
        label = context.label
        try:
            with zipfile.ZipFile(file) as archive:
                members = archive.infolist()  # the central directory, nothing else
        except _CORRUPT as exc:
            raise kit.FormatError(f"not a sound zip: {exc}", location=label) from exc
        provider = _ZipProvider(file, label, context.max_document)
        files: dict[str, bytes] = {}
        for info in members:
            name = info.filename
            if name.startswith("/") or ".." in name.split("/"):
                raise kit.FormatError("escapes the layout", location=label, member=name)
            if info.is_dir():
                continue
            if name in _LAYOUT_FILES:
                cap = _LAYOUT_CAP if name == "oci-layout" else context.max_document
                files[name] = provider.read(_stored(info, label), cap)
            elif (digest := kit.blob_member_digest(name)) is not None:
                provider.blobs[digest] = _stored(info, label)
        index = kit.parse_layout(
            files.get("oci-layout"), files.get("index.json"), label
        )
        return kit.ImageSource(
            list(index.manifests),
            provider,
            index_document=files["index.json"],
            list_blobs=lambda: [(d, i.file_size) for d, i in provider.blobs.items()],
        )

    def write(self, plan: kit.ExportPlan, target: IO[bytes] | kit.Location) -> None:
        if isinstance(target, kit.Location):
            raise kit.UnsupportedSourceError(self.name, "a location (streams only)")
        for name, _ in plan.members:
            bad = name.startswith(("blobs/", "/")) or ".." in name.split("/")
            if bad or name in _LAYOUT_FILES:
                raise kit.FormatError("plugin file name is not allowed", member=name)
        with zipfile.ZipFile(_WriteOnly(target), "w") as archive:
            entries = plan.index_entries()  # the images, then their referrers
            for name, data in [*kit.layout_files(entries), *sorted(plan.members)]:
                archive.writestr(_entry(name, len(data)), data)
            for blob in sorted(plan.blobs, key=kit.blob_member_name):
                # Streamed (memory does not grow with the blob) and hashed on the way: a
                # corrupt stored blob raises, and the engine discards the target.
                name, hasher = kit.blob_member_name(blob), blob.digest.hasher()
                with (
                    plan.content.open_blob(blob) as stream,
                    archive.open(_entry(name, blob.size), "w") as member,
                ):
                    kit.copy_stream(
                        stream,
                        member.write,
                        blob.size,
                        hasher=hasher,
                        progress=plan.progress,
                        where=name,
                    )
                hasher.verify(blob.digest, blob.size, name)
