"""SourceReader: a source's content seen through an import's (or a copy's) staging
area, so that what is staged is read there, the rest from the source, and no blob is
read twice."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import IO, cast

from ociport.content.staging import StagingArea
from ociport.drivers.base import ImageSource
from ociport.errors import BlobRemovedError, SizeMismatchError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest, VerifyingReader
from ociport.oci.validate import check_image_config
from ociport.oci.walk import ImageGraph

__all__ = ["SourceReader"]


class SourceReader:
    """A source's content seen through the import's staging area: what is staged or
    in the store is read there, the rest from the source (documents kept, so that no
    blob is read twice).

    :param opened: the source.
    :param staging: the import's staging area (or a hash-only one, for inspection).
    """

    def __init__(self, opened: ImageSource, staging: StagingArea) -> None:
        self.source = opened
        self.staging = staging
        self._documents: dict[Digest, bytes] = {}

    def has(self, digest: Digest) -> bool:
        """Whether the blob is staged, in the store, or in the source."""
        return (
            digest in self._documents
            or self.staging.has(digest)
            or self.source.provider.has(digest)
        )

    def read_document(self, descriptor: Descriptor) -> bytes:
        """A document's verified bytes: staged, else from the source, else from the
        store."""
        digest = descriptor.digest
        if digest in self._documents:
            return self._documents[digest]
        if not self.source.provider.has(digest):
            embedded = descriptor.embedded()
            if embedded is not None:
                self._documents[digest] = embedded
                return embedded
        # The source before the store: a gc may remove what the store has until the
        # import's lease holds it at commit.
        if self.staging.staged(digest) or not self.source.provider.has(digest):
            return self.staging.read_document(descriptor)
        data = self._documents[digest] = self.source.provider.read_document(descriptor)
        return data

    def add_document(self, descriptor: Descriptor, raw: bytes) -> None:
        """A document made for this import (a whole index): staged like any blob."""
        self._documents[descriptor.digest] = raw
        self.staging.add(
            descriptor.digest, len(raw), io.BytesIO(raw), where="index.json"
        )

    def check_sizes(self, graphs: Iterable[ImageGraph]) -> None:
        """Every needed blob the source holds has the size its descriptor says.

        :raises SizeMismatchError: naming the blob.
        """
        for graph in graphs:
            for digest, desc in graph.blobs.items():
                actual = self.staging.size_of(digest)
                if actual is None and self.source.provider.has(digest):
                    actual = self.source.provider.size_of(digest)
                if actual is not None and actual != desc.size:
                    raise SizeMismatchError(desc.size, actual, str(digest))

    def check_configs(self, graphs: Iterable[ImageGraph]) -> None:
        """Every image config of the graphs' manifests lists one diff ID per layer
        (:func:`~ociport.oci.validate.check_image_config`).

        :raises FormatError: naming the manifest.
        """
        for graph in graphs:
            for desc, manifest in graph.manifests:
                check_image_config(self, desc, manifest)

    def stage_needed(self, graphs: Iterable[ImageGraph]) -> None:
        """Stage what the graphs need that is neither staged nor in the store,
        reading it through the source's provider."""
        todo: dict[Digest, tuple[Digest, int, Callable[[], IO[bytes]], str]] = {}
        for graph in graphs:
            for digest, desc in graph.blobs.items():
                if digest not in todo and not self.staging.has(digest):
                    todo[digest] = (digest, desc.size, self._opener(desc), str(digest))
        progress = self.staging.progress
        if progress is not None:  # now known exactly: what was read, and the rest
            progress.start(progress.done + sum(item[1] for item in todo.values()))
        self.staging.hold(todo)  # once for all, not once per blob
        self.staging.add_many(list(todo.values()), threads=self.source.blob_threads)

    def restage(self, gone: list[Digest], graphs: Iterable[ImageGraph]) -> None:
        """Stage again the needed blobs a gc removed from the store before the lease
        held them (:meth:`StagingArea.protect`), from the source.

        :raises BlobRemovedError: the source does not have one of them.
        """
        for digest in gone:
            if digest not in self._documents and not self.source.provider.has(digest):
                raise BlobRemovedError(digest)
        if gone:
            self.stage_needed(graphs)

    def open_verified(self, desc: Descriptor) -> IO[bytes]:
        """A needed blob's bytes for a copy, each checked against ``desc``: a document
        read already (verified then), a blob staged and committed to the staging
        area's store (verified when staged), else the source's bytes or the
        descriptor's embedded data, verified while read (reading to the end raises
        :class:`~ociport.errors.DigestMismatchError` or
        :class:`~ociport.errors.SizeMismatchError`). The caller closes the stream.

        :raises BlobNotFoundError: the source lacks it.
        """
        document = self._documents.get(desc.digest)
        if document is not None:
            return io.BytesIO(document)
        if self.staging.staged(desc.digest):
            return self.staging.open_blob(desc)
        return cast(
            IO[bytes], VerifyingReader(self._opener(desc)(), desc.digest, desc.size)
        )

    def _opener(self, desc: Descriptor) -> Callable[[], IO[bytes]]:
        document = self._documents.get(desc.digest)
        if document is None and not self.source.provider.has(desc.digest):
            document = desc.embedded()  # absent from the source, carried in ``data``

        def open_blob() -> IO[bytes]:
            if document is not None:
                return io.BytesIO(document)
            return self.source.provider.open_blob(desc)

        return open_blob
