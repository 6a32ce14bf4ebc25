"""The ``oci-zip`` format: an OCI image layout (``oci-layout``, ``index.json``,
``blobs/<algorithm>/<encoded>``) in a ZIP file whose members are stored, not deflated.

Reading is random access: :mod:`zipfile` reads the central directory at the end of the
file, and as every member is stored, a blob is a plain byte range, read only when the
engine asks for it and checked against its digest (the zip's CRC-32 adds nothing to
that). A stream must therefore be seekable; a pipe is refused.

Writing is deterministic: fixed times and permissions; ``oci-layout``, ``index.json``,
files from plugins, then the blobs sorted by name, each verified while it is copied.
The target is written front to back without seeking back (each member ends with a data
descriptor), so a file, a pipe and an object store get the same bytes.
"""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Final

from ociport.drivers.kit import (
    BlobNotFoundError,
    Descriptor,
    Digest,
    DocumentTooLargeError,
    ExportPlan,
    FormatError,
    ImageDriver,
    ImageSource,
    Location,
    OciportError,
    SourceContext,
    UnsupportedSourceError,
    blob_member_digest,
    blob_member_name,
    copy_stream,
    layout_files,
    parse_layout,
)

__all__ = ["ZipArchiveDriver"]

#: A local file header: signature, flags, method, name and extra field lengths.
_LOCAL_HEADER: Final = struct.Struct("<4s2xHH16xHH")
_MAGIC: Final = b"PK\x03\x04"
_LAYOUT_FILES: Final = ("oci-layout", "index.json")
#: Cap on the ``oci-layout`` file (a few bytes in practice).
_LAYOUT_CAP: Final = 64 << 10
_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
#: A regular file, ``rw-r--r--``, in the Unix half of ``external_attr``.
_FILE_MODE: Final = 0o100644 << 16
#: What :mod:`zipfile` and :mod:`struct` raise on a truncated or corrupt file.
_CORRUPT: Final = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    struct.error,
    UnicodeDecodeError,
    NotImplementedError,
)


@contextlib.contextmanager
def _zip_errors(label: str) -> Iterator[None]:
    """Turn what zipfile raises on a damaged file into :class:`FormatError`."""
    try:
        yield
    except OciportError:
        raise
    except _CORRUPT as exc:
        raise FormatError(f"not a sound zip file: {exc}", location=label) from exc


class _SharedFile:
    """A seekable file read at offsets, by one reader at a time."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.lock = threading.Lock()

    def read_at(self, offset: int, size: int) -> bytes:
        with self.lock:
            self.file.seek(offset)
            return self.file.read(size)


class _Slice(io.RawIOBase):
    """``size`` bytes at ``offset`` of a shared file, as a stream."""

    def __init__(self, shared: _SharedFile, offset: int, size: int) -> None:
        self.shared, self.position, self.end = shared, offset, offset + size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self.end - self.position)
        data = self.shared.read_at(self.position, want) if want > 0 else b""
        memoryview(buffer)[: len(data)] = data
        self.position += len(data)
        return len(data)


@dataclass(slots=True)
class _ZipProvider:
    """The members of an opened zip, read on demand (a :class:`SourceProvider`)."""

    shared: _SharedFile
    label: str
    max_document: int
    blobs: dict[Digest, zipfile.ZipInfo] = field(default_factory=dict)

    def has(self, digest: Digest) -> bool:
        return digest in self.blobs

    def size_of(self, digest: Digest) -> int | None:
        info = self.blobs.get(digest)
        return info.file_size if info is not None else None

    def read_document(self, descriptor: Descriptor) -> bytes:
        info = self._info(descriptor.digest)
        data = self.read(info, self.max_document)
        hasher = descriptor.digest.hasher()
        hasher.update(data)
        hasher.verify(descriptor.digest, descriptor.size, info.filename)
        return data

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        info = self._info(descriptor.digest)
        return io.BufferedReader(_Slice(self.shared, self._start(info), info.file_size))

    def read(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        """A whole member, at most ``cap`` bytes."""
        if info.file_size > cap:
            raise DocumentTooLargeError(info.file_size, cap, member=info.filename)
        data = self.shared.read_at(self._start(info), info.file_size)
        if len(data) != info.file_size:
            raise FormatError(
                "member is truncated", location=self.label, member=info.filename
            )
        return data

    def _info(self, digest: Digest) -> zipfile.ZipInfo:
        info = self.blobs.get(digest)
        if info is None:
            raise BlobNotFoundError(digest)
        return info

    def _start(self, info: zipfile.ZipInfo) -> int:
        """Where a member's bytes begin: past its local header."""
        header = self.shared.read_at(info.header_offset, _LOCAL_HEADER.size)
        if len(header) == _LOCAL_HEADER.size:
            magic, _, method, name_size, extra_size = _LOCAL_HEADER.unpack(header)
            if magic == _MAGIC and method == zipfile.ZIP_STORED:
                return info.header_offset + len(header) + name_size + extra_size
        raise FormatError(
            "bad local file header", location=self.label, member=info.filename
        )


def _stored(info: zipfile.ZipInfo, label: str) -> zipfile.ZipInfo:
    """``info``, once checked to be a plain stored file."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        raise FormatError(
            "member is compressed or encrypted; oci-zip members are stored (zip -0)",
            location=label,
            member=info.filename,
        )
    if info.compress_size != info.file_size:
        raise FormatError(
            "stored member sizes differ", location=label, member=info.filename
        )
    return info


def _entry(name: str, size: int) -> zipfile.ZipInfo:
    """A member header with nothing that varies from run to run."""
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.create_system = 3  # Unix, so that the permissions are read
    info.external_attr = _FILE_MODE
    info.file_size = size  # zipfile chooses ZIP64 headers from it
    return info


class _WriteOnly:
    """The target without ``tell``/``seek``: zipfile then writes data descriptors
    instead of seeking back, whatever the target."""

    def __init__(self, target: IO[bytes]) -> None:
        self.write: Callable[[bytes], int] = target.write
        self.flush: Callable[[], None] = target.flush


class ZipArchiveDriver(ImageDriver):
    """OCI image layout in a ZIP file with stored members."""

    name = "oci-zip"
    summary = "OCI image layout in a ZIP file, members stored (example plugin)"
    accepts_stream = True

    @classmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        if head is None and location is not None:
            try:
                head = location.fs.cat_file(location.path, start=0, end=64)
            except OSError:  # a directory, or gone
                return False
        if head is None or len(head) < _LOCAL_HEADER.size:
            return False
        magic, _, _, name_size, _ = _LOCAL_HEADER.unpack_from(head)
        name = head[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_size]
        return bool(magic == _MAGIC and name == b"oci-layout")

    def open_source(
        self, source: IO[bytes] | Location, context: SourceContext
    ) -> ImageSource:
        if isinstance(source, Location):
            options = {} if source.is_local else {"cache_type": "none"}
            file: IO[bytes] = source.fs.open(source.path, "rb", **options)
            close: Callable[[], None] = file.close
        elif source.seekable():
            file, close = source, lambda: None  # the caller's stream stays open
        else:
            raise UnsupportedSourceError(
                self.name, "a stream that cannot seek (a zip's directory is at its end)"
            )
        try:
            return self._open(file, context, close)
        except BaseException:
            close()
            raise

    def _open(
        self, file: IO[bytes], context: SourceContext, close: Callable[[], None]
    ) -> ImageSource:
        label = context.label
        with _zip_errors(label), zipfile.ZipFile(file) as archive:
            members = archive.infolist()  # the central directory; nothing else is read
        provider = _ZipProvider(_SharedFile(file), label, context.max_document)
        layout: dict[str, zipfile.ZipInfo] = {}
        for info in members:
            name = info.filename
            if name.startswith("/") or ".." in name.split("/"):
                raise FormatError(
                    "member name escapes the layout", location=label, member=name
                )
            if info.is_dir():
                continue
            if name in _LAYOUT_FILES:
                layout[name] = _stored(info, label)
            elif (digest := blob_member_digest(name)) is not None:
                provider.blobs[digest] = _stored(info, label)
        raw = {
            name: provider.read(
                info, _LAYOUT_CAP if name == "oci-layout" else context.max_document
            )
            for name, info in layout.items()
        }
        index = parse_layout(raw.get("oci-layout"), raw.get("index.json"), label)
        return ImageSource(
            list(index.manifests),
            provider,
            index_document=raw["index.json"],
            on_close=close,
        )

    def write(self, plan: ExportPlan, target: IO[bytes] | Location) -> None:
        if isinstance(target, Location):
            raise UnsupportedSourceError(
                self.name, "a location (the engine opens a stream)"
            )
        files = layout_files(plan.entries)
        for name, _ in plan.members:
            if (
                name in _LAYOUT_FILES
                or name.startswith(("blobs/", "/"))
                or ".." in name.split("/")
            ):
                raise FormatError("plugin file collides with the layout", member=name)
        with zipfile.ZipFile(_WriteOnly(target), "w") as archive:  # type: ignore[arg-type]
            for name, data in [*files, *sorted(plan.members)]:
                archive.writestr(_entry(name, len(data)), data)
            for blob in sorted(plan.blobs, key=blob_member_name):
                _add_blob(archive, plan, blob)


def _add_blob(archive: zipfile.ZipFile, plan: ExportPlan, blob: Descriptor) -> None:
    """Stream one blob into a stored member, hashing it on the way.

    :raises DigestMismatchError, SizeMismatchError: the stored blob is corrupt (the
        engine discards the target).
    """
    name = blob_member_name(blob)
    hasher = blob.digest.hasher()
    with (
        plan.content.open_blob(blob) as stream,
        archive.open(_entry(name, blob.size), "w") as out,
    ):
        copy_stream(
            stream,
            out.write,
            blob.size,
            hasher=hasher,
            progress=plan.progress,
            where=name,
        )
    hasher.verify(blob.digest, blob.size, name)
