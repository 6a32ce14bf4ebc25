"""What an export sees: the store, plus platform-filtered indexes, minus hidden content."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from ociport.content.interfaces import BlobInfo, ReadableContent, ReadableImages
from ociport.content.progress import Progress
from ociport.errors import BlobNotFoundError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest, VerifyingReader

__all__ = ["ExportView", "ReportingContent"]


@dataclass(slots=True)
class ExportView:
    """A read-only provider over a store with extra blobs and hidden ones.

    :ivar store: the underlying store (or a source being copied).
    :ivar extra: blobs that exist only for this export (filtered indexes), by digest.
    :ivar hidden: digests the export must not see (reported as missing instead).
    """

    store: ReadableImages
    extra: dict[Digest, bytes] = field(default_factory=dict)
    hidden: set[Digest] = field(default_factory=set)

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        """As :meth:`Provider.open_blob`; hidden blobs are not found."""
        digest = descriptor.digest
        if digest in self.hidden:
            raise BlobNotFoundError(digest)
        if digest in self.extra:
            stream = io.BytesIO(self.extra[digest])
            if verify:
                return cast(BinaryIO, VerifyingReader(stream, digest, descriptor.size))
            return stream
        return self.store.open_blob(descriptor, verify=verify)

    def info(self, digest: Digest) -> BlobInfo:
        """As :meth:`InfoProvider.info`; hidden blobs are not found."""
        if digest in self.hidden:
            raise BlobNotFoundError(digest)
        if digest in self.extra:
            return BlobInfo(digest, len(self.extra[digest]))
        return self.store.info(digest)


class ReportingContent:
    """``content`` whose blob reads are reported to ``progress``: the export's
    progress, the same for every driver, since every driver reads blobs through
    :attr:`~ociport.drivers.plan.ExportPlan.content`.

    A blob is announced (:meth:`Progress.blob`) when first opened, and its bytes as
    they are read; a blob read again (a driver peeking at its first bytes, then
    copying it) counts only the bytes beyond those read before, so the bytes reported
    never exceed the blob's size.

    :param content: what the export reads.
    :param progress: where reports go.
    """

    def __init__(self, content: ReadableContent, progress: Progress) -> None:
        self.content = content
        self.progress = progress
        self._read: dict[Digest, int] = {}
        self._lock = threading.Lock()

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        """As :meth:`Provider.open_blob`, the stream reporting what is read."""
        stream = self.content.open_blob(descriptor, verify=verify)
        with self._lock:
            first = descriptor.digest not in self._read
            self._read.setdefault(descriptor.digest, 0)
        if first:
            self.progress.blob(str(descriptor.digest), descriptor.size)
        # readinto only where the store's stream has it: copy_stream reads ahead on a
        # worker thread only into its own buffers.
        kind = _ReportingReadInto if hasattr(stream, "readinto") else _ReportingReader
        return cast(BinaryIO, kind(stream, self, descriptor.digest))

    def info(self, digest: Digest) -> BlobInfo:
        """As :meth:`InfoProvider.info`."""
        return self.content.info(digest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.content, name)

    def reached(self, digest: Digest, position: int) -> None:
        """A stream of ``digest`` has been read up to ``position``."""
        with self._lock:
            before = self._read[digest]
            if position <= before:
                return
            self._read[digest] = position
        self.progress.advance(position - before, str(digest))


class _ReportingReader:
    """A blob stream that tells :class:`ReportingContent` how far it was read."""

    def __init__(
        self, stream: BinaryIO, owner: ReportingContent, digest: Digest
    ) -> None:
        self._stream = stream
        self._owner = owner
        self._digest = digest
        self._position = 0

    def _moved(self, n: int) -> None:
        if n > 0:
            self._position += n
            self._owner.reached(self._digest, self._position)

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._moved(len(data))
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _ReportingReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _ReportingReadInto(_ReportingReader):
    """A :class:`_ReportingReader` over a stream that has ``readinto``."""

    def readinto(self, buffer: Any) -> int:
        n = int(cast(Any, self._stream).readinto(buffer) or 0)
        self._moved(n)
        return n
