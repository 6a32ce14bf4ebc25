"""Tar streams for archives: a single-pass member reader and a deterministic writer.

The reader walks 512-byte headers front to back (POSIX ustar, PAX extended headers,
GNU long names, GNU base-256 sizes beyond 8 GiB) and hands out each member's data as a
bounded stream read straight from the source, one copy per byte. Member names are only
ever compared as strings; none is used as a path on any filesystem.

The writer emits members in the order given with fixed metadata (mtime 0, uid/gid 0,
mode 0644 for files, 0755 for directories) and PAX headers only where ustar cannot hold
a field, so the same input gives byte-identical output.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Final, cast

from ociport.errors import FormatError

__all__ = [
    "TarHeader",
    "TarMember",
    "TarWriter",
    "index_members",
    "iter_members",
    "member_path",
    "peek_member_names",
    "peek_members",
]

BLOCK: Final = 512
#: Most bytes of PAX and GNU long-name headers held at once (1 MiB): those before one
#: member together, and the global PAX headers of the whole archive together.
MAX_EXTENDED_HEADER: Final = 1 << 20
#: Largest member accepted (16 TiB); base-256 size fields can say far more, or less
#: than zero.
MAX_MEMBER_SIZE: Final = 1 << 44
_PAX_RECORD: Final = re.compile(rb"(\d+) ([^=]+)=")
_ENCODING: Final = "utf-8"
_FILE_MODE: Final = 0o644
_DIR_MODE: Final = 0o755


def member_path(name: str) -> str:
    """A member name in normal form: no ``.`` parts, repeated or trailing ``/``
    (``./blobs//sha256/./x/`` -> ``blobs/sha256/x``). ``..`` parts are kept, not
    resolved, and so is a leading ``/``: callers refuse names that escape."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return ("/" if name.startswith("/") else "") + "/".join(parts)


@dataclass(slots=True)
class TarMember:
    """One archive member.

    :ivar name: normalised name (see :func:`member_path`).
    :ivar size: data length in bytes.
    :ivar type: a ``tarfile`` type byte (``tarfile.REGTYPE``, ``SYMTYPE``, ...).
    :ivar linkname: target of a symbolic or hard link.
    :ivar stream: the member's data; valid until the next member is requested.
    """

    name: str
    size: int
    type: bytes
    linkname: str
    stream: IO[bytes]

    @property
    def is_file(self) -> bool:
        """Whether this is a regular file (the only kind that carries blob bytes)."""
        return self.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


class _Bounded:
    """Reads at most ``size`` bytes of the underlying stream."""

    def __init__(self, stream: IO[bytes], size: int, where: str) -> None:
        self._stream = stream
        self.remaining = size
        self._where = where

    def readinto(self, buffer: memoryview | bytearray) -> int:
        view = memoryview(buffer)[: self.remaining]
        if not len(view):
            return 0
        n = self._stream.readinto(view)  # type: ignore[attr-defined]
        if not n:
            raise FormatError("archive is truncated", member=self._where)
        self.remaining -= n
        return int(n)

    def read(self, n: int = -1) -> bytes:
        n = self.remaining if n < 0 else min(n, self.remaining)
        buffer = bytearray(n)
        got = 0
        while got < n:
            step = self.readinto(memoryview(buffer)[got:])
            got += step
        return bytes(buffer)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def __enter__(self) -> _Bounded:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _skip(stream: IO[bytes], n: int, where: str) -> None:
    bounded = _Bounded(stream, n, where)
    scratch = bytearray(min(n, 1 << 20))
    while bounded.remaining:
        bounded.readinto(scratch)


def _parse_pax(data: bytes, where: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos : pos + 1] != b"\0":
        match = _PAX_RECORD.match(data, pos)
        length = int(match.group(1)) if match else 0
        if not match or length <= 0 or pos + length > len(data):
            raise FormatError("malformed PAX header", member=where)
        value = data[match.end() : pos + length - 1]
        fields[match.group(2).decode(_ENCODING, "surrogateescape")] = value.decode(
            _ENCODING, "surrogateescape"
        )
        pos += length
    return fields


@dataclass(slots=True)
class TarHeader:
    """A member's header, as found by :func:`index_members`.

    :ivar name: normalised name (see :func:`member_path`).
    :ivar size: data length in bytes.
    :ivar type: a ``tarfile`` type byte.
    :ivar linkname: target of a link.
    :ivar offset: byte offset of the member's data from the start of the archive.
    """

    name: str
    size: int
    type: bytes
    linkname: str
    offset: int


def _headers(read: Callable[[int], bytes], label: str) -> Iterator[TarHeader]:
    """Parse headers from ``read(n)``; after each yield the caller must have moved the
    source past the member's data and padding (``-(-size // 512) * 512`` bytes)."""
    overrides: dict[str, str] = {}
    global_overrides: dict[str, str] = {}
    position = pending = global_bytes = 0
    while True:
        block = read(BLOCK)
        if not block or block.count(0) == BLOCK:
            return  # end of archive (two zero blocks, or a plain end of file)
        if len(block) < BLOCK:
            raise FormatError("archive is truncated inside a header", location=label)
        try:
            info = tarfile.TarInfo.frombuf(block, _ENCODING, "surrogateescape")
        except tarfile.HeaderError as exc:
            raise FormatError(
                f"bad tar header at byte {position}: {exc}", location=label
            ) from exc
        _check_size(info.size, label, info.name)
        position += BLOCK
        padded = -(-info.size // BLOCK) * BLOCK
        extended = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
        long_names = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
        if info.type in (*extended, *long_names):
            if info.type == tarfile.XGLTYPE:
                global_bytes += info.size
            else:
                pending += info.size
            if max(pending, global_bytes) > MAX_EXTENDED_HEADER:
                raise FormatError(
                    f"extended headers of more than {MAX_EXTENDED_HEADER} bytes "
                    f"at byte {position - BLOCK}",
                    location=label,
                )
        if info.type in extended:
            fields = _parse_pax(
                _checked(read(padded), padded, label)[: info.size], label
            )
            (global_overrides if info.type == tarfile.XGLTYPE else overrides).update(
                fields
            )
            position += padded
            continue
        if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
            text = _checked(read(padded), padded, label)[: info.size].split(b"\0", 1)[0]
            key = "path" if info.type == tarfile.GNUTYPE_LONGNAME else "linkpath"
            overrides[key] = text.decode(_ENCODING, "surrogateescape")
            position += padded
            continue
        fields = {**global_overrides, **overrides}
        overrides, pending = {}, 0
        size = _pax_size(fields, label) if "size" in fields else info.size
        if info.type not in (
            tarfile.REGTYPE,
            tarfile.AREGTYPE,
            tarfile.CONTTYPE,
            tarfile.GNUTYPE_SPARSE,
        ):
            size = 0
        name = member_path(fields.get("path", info.name))
        yield TarHeader(
            name, size, info.type, fields.get("linkpath", info.linkname), position
        )
        position += -(-size // BLOCK) * BLOCK


def _pax_size(fields: dict[str, str], label: str) -> int:
    value = fields["size"]
    if not value.isdigit() or len(value) > 20:
        raise FormatError(f"malformed PAX size {value[:40]!r}", location=label)
    return _check_size(int(value), label, fields.get("path", ""))


def _check_size(size: int, label: str, name: str) -> int:
    """``size``, once known to be a member size a real archive can have."""
    if not 0 <= size <= MAX_MEMBER_SIZE:
        raise FormatError(
            f"member size {size} is out of range (0 to {MAX_MEMBER_SIZE})",
            location=label,
            member=name or None,
        )
    return size


def _checked(data: bytes, want: int, label: str) -> bytes:
    if len(data) < want:
        raise FormatError("archive is truncated", location=label)
    return data


def iter_members(stream: IO[bytes], *, label: str = "archive") -> Iterator[TarMember]:
    """Yield the members of a tar stream in order, reading it once.

    Unread data of a member is skipped when the next member is requested.

    :param stream: the uncompressed tar, positioned at its start; a large-buffered
        reader is best.
    :raises FormatError: on a bad header checksum, a malformed PAX record, or data that
        ends inside a header or member (a truncated archive).
    """

    def read(n: int) -> bytes:
        data = stream.read(n)
        while 0 < len(data) < n:
            more = stream.read(n - len(data))
            if not more:
                break
            data += more
        return data

    for header in _headers(read, label):
        data = _Bounded(stream, header.size, header.name)
        yield TarMember(
            header.name,
            header.size,
            header.type,
            header.linkname,
            cast(IO[bytes], data),
        )
        padding = -(-header.size // BLOCK) * BLOCK - header.size
        _skip(stream, data.remaining + padding, header.name)


def index_members(
    read_at: Callable[[int, int], bytes], size: int, *, label: str = "archive"
) -> list[TarHeader]:
    """Every member header of a seekable tar, reading only the headers.

    :param read_at: ``read_at(offset, n)`` returns up to ``n`` bytes at ``offset``.
    :param size: the archive's length in bytes.
    :raises FormatError: as :func:`iter_members`; also a member whose data would end
        past the end of the archive (a truncated archive).
    """
    position = 0
    headers: list[TarHeader] = []

    def read(n: int) -> bytes:
        nonlocal position
        data = read_at(position, n)
        position += len(data)
        return data

    for header in _headers(read, label):
        if header.offset + header.size > size:
            raise FormatError(
                "archive is truncated", location=label, member=header.name
            )
        headers.append(header)
        position = header.offset + -(-header.size // BLOCK) * BLOCK
    return headers


def peek_members(head: bytes) -> dict[str, bytes | None]:
    """The members whose headers lie within ``head`` (the start of a tar), with their
    data when that lies within ``head`` too.

    Used to tell archive formats apart without consuming a stream; stops quietly at the
    first header it cannot decode or that ``head`` cuts.
    """
    found: dict[str, bytes | None] = {}
    position = 0

    def read(n: int) -> bytes:
        nonlocal position
        data = head[position : position + n]
        position += len(data)
        return data if len(data) == n else b""

    try:
        for header in _headers(read, "head"):
            end = header.offset + header.size
            found[header.name] = head[header.offset : end] if end <= len(head) else None
            position = header.offset + -(-header.size // BLOCK) * BLOCK
    except FormatError:
        pass
    return found


def peek_member_names(head: bytes) -> list[str]:
    """Names of the members whose headers lie within ``head`` (see :func:`peek_members`)."""
    return list(peek_members(head))


class TarWriter:
    """Writes a deterministic tar stream.

    :param sink: a writable binary stream; not closed by the writer.
    """

    def __init__(self, sink: IO[bytes]) -> None:
        self._sink = sink
        self.offset = 0

    def _header(self, name: str, size: int, kind: bytes, mode: int) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.type = kind
        info.mode = mode
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self._put(info.tobuf(tarfile.PAX_FORMAT, _ENCODING, "surrogateescape"))

    def _put(self, data: bytes | memoryview) -> None:
        self._sink.write(data)
        self.offset += len(data)

    def add_directory(self, name: str) -> None:
        """Add a directory entry (``name`` without a trailing slash)."""
        self._header(f"{name}/", 0, tarfile.DIRTYPE, _DIR_MODE)

    def add_link(self, name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> None:
        """Add a symbolic (``tarfile.SYMTYPE``) or hard (``tarfile.LNKTYPE``) link."""
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        info.mode = 0o777 if kind == tarfile.SYMTYPE else _FILE_MODE
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self._put(info.tobuf(tarfile.PAX_FORMAT, _ENCODING, "surrogateescape"))

    def add_bytes(self, name: str, data: bytes) -> None:
        """Add a small file held in memory."""
        self._header(name, len(data), tarfile.REGTYPE, _FILE_MODE)
        self._put(data)
        self._pad(len(data))

    def add_stream(
        self,
        name: str,
        size: int,
        copy: Callable[[Callable[[memoryview], object]], int],
    ) -> None:
        """Add a file of ``size`` bytes whose data ``copy(write)`` produces.

        :raises FormatError: when ``copy`` delivers a different number of bytes (the
            archive would be corrupt; the caller must discard it).
        """
        self._header(name, size, tarfile.REGTYPE, _FILE_MODE)
        moved = copy(self._put)
        if moved != size:
            raise FormatError(
                f"wrote {moved} bytes for a {size}-byte member", member=name
            )
        self._pad(size)

    def _pad(self, size: int) -> None:
        if size % BLOCK:
            self._put(b"\0" * (BLOCK - size % BLOCK))

    def close(self) -> None:
        """Write the end-of-archive marker (two zero blocks); the sink stays open."""
        self._put(b"\0" * (2 * BLOCK))
