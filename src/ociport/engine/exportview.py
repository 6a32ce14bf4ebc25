"""What an export sees: the store, plus platform-filtered indexes, minus hidden content."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from ociport.content.interfaces import BlobInfo, ContentStore
from ociport.errors import BlobNotFoundError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest, VerifyingReader

__all__ = ["ExportView"]


@dataclass(slots=True)
class ExportView:
    """A read-only provider over a store with extra blobs and hidden ones.

    :ivar store: the underlying store.
    :ivar extra: blobs that exist only for this export (filtered indexes), by digest.
    :ivar hidden: digests the export must not see (reported as missing instead).
    """

    store: ContentStore
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
