"""FsspecContentStore: a content store that is an OCI image layout on any fsspec filesystem."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, BinaryIO, Final, cast, final

from ociport.content.imageindex import LayoutIndexFile
from ociport.content.interfaces import BlobInfo
from ociport.content.writer import FsspecBlobWriter, IngestLocks
from ociport.descriptor import Descriptor
from ociport.digest import Digest, VerifyingReader
from ociport.errors import BlobNotFoundError, InvalidDigestError
from ociport.location import Location

__all__ = ["FsspecContentStore"]

_ALGORITHMS: Final = ("sha256", "sha512")
_counter = itertools.count()


def _timestamp(details: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "created"):
        value = details.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
    return None


@final
class FsspecContentStore:
    """Blobs at ``blobs/<algorithm>/<encoded>``, names in ``index.json``, on fsspec.

    The root is a valid OCI image layout that skopeo (``oci:DIR``), umoci and
    oci-image-tool read directly. Writes go to ``ingest/`` inside the root and are renamed
    into ``blobs/`` only after their size and digest were checked.

    :param location: the store root; created with ``oci-layout`` and an empty
        ``index.json`` when missing.
    """

    def __init__(self, location: Location) -> None:
        self._location = location
        self._index = LayoutIndexFile(location)
        self._locks = IngestLocks()

    @property
    def location(self) -> Location:
        return self._location

    def __repr__(self) -> str:
        return f"FsspecContentStore({self._location.url!r})"

    def _blob(self, digest: Digest) -> Location:
        # ``digest`` is a parsed Digest: its fields cannot hold "/" or "..".
        return self._location.join("blobs", digest.algorithm, digest.encoded)

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        path = self._blob(descriptor.digest)
        try:
            stream = path.fs.open(path.path, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(descriptor.digest) from exc
        if verify:
            return cast(BinaryIO, VerifyingReader(stream, descriptor.digest, descriptor.size))
        return cast(BinaryIO, stream)

    def info(self, digest: Digest) -> BlobInfo:
        path = self._blob(digest)
        try:
            details = path.fs.info(path.path)
        except FileNotFoundError as exc:
            raise BlobNotFoundError(digest) from exc
        return BlobInfo(digest, int(details["size"]), _timestamp(details))

    def writer(self, *, ingest_id: str, expected: Descriptor | None = None) -> FsspecBlobWriter:
        self._locks.acquire(ingest_id)
        key = hashlib.sha256(ingest_id.encode()).hexdigest()[:32]
        temp = self._location.join("ingest", f"{key}.{os.getpid()}.{next(_counter)}")
        algorithm = expected.digest.algorithm if expected else "sha256"
        try:
            return FsspecBlobWriter(
                temp, self._blob, lambda: self._locks.release(ingest_id), algorithm
            )
        except BaseException:
            self._locks.release(ingest_id)
            raise

    def walk(self, *, algorithm: str | None = None) -> Iterator[BlobInfo]:
        for alg in (algorithm,) if algorithm else _ALGORITHMS:
            top = self._location.join("blobs", alg)
            try:
                found = top.fs.find(top.path, detail=True, maxdepth=1)
            except FileNotFoundError:
                continue
            for path, details in sorted(found.items()):
                if details.get("type") != "file":
                    continue
                try:
                    digest = Digest(alg, path.rsplit("/", 1)[-1])
                except InvalidDigestError:
                    continue
                yield BlobInfo(digest, int(details["size"]), _timestamp(details))

    def delete(self, digest: Digest) -> None:
        path = self._blob(digest)
        # Object stores (S3) delete a missing key without complaint: look first.
        if not path.fs.exists(path.path):
            raise BlobNotFoundError(digest)
        try:
            path.fs.rm_file(path.path)
        except FileNotFoundError as exc:
            raise BlobNotFoundError(digest) from exc

    def read_index(self) -> tuple[Descriptor, ...]:
        return self._index.read_index()

    def update_index(
        self, change: Callable[[list[Descriptor]], Sequence[Descriptor]]
    ) -> tuple[Descriptor, ...]:
        return self._index.update_index(change)
