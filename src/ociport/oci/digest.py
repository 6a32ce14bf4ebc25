"""Digests: the ``algorithm:encoded`` value type, hashing, and a verifying reader.

Grammar and registered algorithms follow the OCI image-spec, ``descriptor.md#digests``:
``sha256`` takes exactly 64 and ``sha512`` exactly 128 lowercase hex characters. A digest is
parsed (and so validated) before any path is built from it, which is what keeps a digest
taken from an archive from naming a path outside a layout.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Final, TypeVar

from ociport.errors import DigestMismatchError, InvalidDigestError, SizeMismatchError
from ociport.streams.background import submit

__all__ = ["CHUNK_SIZE", "Digest", "Hasher", "VerifyingReader"]

#: Bytes moved per read or write on the data path (4 MiB).
CHUNK_SIZE: Final = 4 << 20

_ENCODED_LENGTH: Final = {"sha256": 64, "sha512": 128}
_HEX: Final = re.compile(r"[0-9a-f]+")
#: Chunks smaller than this are hashed inline: a thread hand-off would cost more.
_OVERLAP_MIN: Final = 64 << 10

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A validated content digest such as ``sha256:e3b0c4...``.

    :ivar algorithm: ``"sha256"`` or ``"sha512"``.
    :ivar encoded: the lowercase hex encoding of the hash.
    """

    algorithm: str
    encoded: str

    def __post_init__(self) -> None:
        want = _ENCODED_LENGTH.get(self.algorithm)
        text = f"{self.algorithm}:{self.encoded}"
        if want is None:
            raise InvalidDigestError(text, f"unsupported algorithm {self.algorithm!r}")
        if len(self.encoded) != want or not _HEX.fullmatch(self.encoded):
            raise InvalidDigestError(
                text, f"{self.algorithm} needs {want} lowercase hex characters"
            )

    @classmethod
    def parse(cls, value: str) -> Digest:
        """Parse and validate ``algorithm:encoded``.

        :param value: the digest string, e.g. from a descriptor or a member name.
        :returns: the digest.
        :raises InvalidDigestError: on any deviation from the grammar, upper-case hex
            included.
        """
        if not isinstance(value, str):
            raise InvalidDigestError(repr(value), "not a string")
        algorithm, sep, encoded = value.partition(":")
        if not sep:
            raise InvalidDigestError(value, "missing ':'")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """Hash ``data`` in one go (for documents; stream blobs through :class:`Hasher`)."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> Hasher:
        """A fresh :class:`Hasher` for this digest's algorithm."""
        return Hasher(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @property
    def short(self) -> str:
        """The first 12 hex characters, for display."""
        return self.encoded[:12]


class Hasher:
    """Running hash and byte count over data that passes through it."""

    __slots__ = ("_hash", "algorithm", "size")

    def __init__(self, algorithm: str = "sha256") -> None:
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        """Feed ``data`` into the hash and the byte count."""
        self._hash.update(data)
        self.size += len(data)

    def update_during(self, data: bytes | memoryview, work: Callable[[], _T]) -> _T:
        """Feed ``data`` into the hash on a worker thread while ``work()`` runs here.

        hashlib releases the GIL while hashing a large buffer, and so does a file write,
        so on two cores a chunk is hashed and written at once: the copy costs the slower
        of the two instead of their sum. Returns only when both are done (even when
        ``work`` raises), so the caller may reuse ``data``'s buffer right away.

        :returns: what ``work()`` returned.
        """
        if len(data) < _OVERLAP_MIN:
            result = work()
            self.update(data)
            return result
        hashed = submit(self._hash.update, data)
        try:
            return work()
        finally:
            hashed.result()
            self.size += len(data)

    def digest(self) -> Digest:
        """The digest of everything fed so far."""
        return Digest(self.algorithm, self._hash.hexdigest())

    def verify(self, expected: Digest, size: int | None, where: str = "") -> None:
        """Check the byte count and digest.

        :raises SizeMismatchError: ``size`` is given and differs from the bytes seen.
        :raises DigestMismatchError: the hash differs from ``expected``.
        """
        if size is not None and size != self.size:
            raise SizeMismatchError(size, self.size, where or str(expected))
        actual = self.digest()
        if actual != expected:
            raise DigestMismatchError(expected, actual, where)


class VerifyingReader:
    """A read-only stream that hashes what is read and checks it at end of data.

    Reading past the last byte checks the size and digest, so a consumer that reads to
    EOF either gets every byte or an exception; it never silently gets wrong bytes.
    Closing the reader closes the wrapped stream.

    :param stream: the source, positioned at the blob's first byte.
    :param expected: the digest the bytes must hash to.
    :param size: the exact byte count, or ``None`` to read to the stream's end.
    :raises DigestMismatchError, SizeMismatchError: from :meth:`read` at end of data.
    """

    def __init__(self, stream: IO[bytes], expected: Digest, size: int | None) -> None:
        self._stream = stream
        self._expected = expected
        self._size = size
        self._hasher = expected.hasher()
        self._checked = False

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all when negative), verifying at end of data."""
        if n == 0:
            return b""
        if self._size is not None:
            remaining = self._size - self._hasher.size
            n = remaining if n < 0 else min(n, remaining)
        data = self._stream.read(n) if n != 0 else b""
        self._hasher.update(data)
        if not data or n < 0 or self._hasher.size == self._size:
            self._finish()
        return data

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` (at most its length), verifying at end of data; a
        stream without ``readinto`` of its own is read and copied once."""
        view = memoryview(buffer).cast("B")
        if self._size is not None:
            view = view[: max(0, self._size - self._hasher.size)]
        if not len(view):
            self._finish()
            return 0
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            n = int(readinto(view) or 0)
        else:
            data = self._stream.read(len(view))
            n = len(data)
            view[:n] = data
        self._hasher.update(view[:n])
        if not n or self._hasher.size == self._size:
            self._finish()
        return n

    def _finish(self) -> None:
        if not self._checked:
            self._checked = True
            self._hasher.verify(self._expected, self._size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
