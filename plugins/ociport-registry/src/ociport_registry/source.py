"""RegistryContent: a repository's blobs as the engine reads them (its source provider)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Final

from ociport.drivers.kit import Descriptor, Digest, verified
from ociport.drivers.kit import mediatypes as mt
from ociport_registry.client.pull import fetch_manifest, open_blob, read_blob
from ociport_registry.client.session import RegistrySession

__all__ = ["RegistryContent"]

_DOCUMENT_TYPES: Final = mt.INDEX_MEDIA_TYPES | mt.MANIFEST_MEDIA_TYPES


class RegistryContent:
    """The content of one repository, read on demand: manifests and indexes from
    ``/manifests/<digest>``, configs and layers from ``/blobs/<digest>``.

    A registry holds every blob its manifests name (it refuses a manifest whose blobs
    it lacks), so every blob counts as present and its size as unknown until read;
    the engine checks both digest and size as it copies.

    :param session: the repository's session (closed by the owner of the source).
    :param documents: documents already read (the root manifest), by digest.
    :param max_document: cap on a manifest, index or config, in bytes.
    """

    def __init__(
        self,
        session: RegistrySession,
        documents: Mapping[Digest, bytes],
        max_document: int,
    ) -> None:
        self.session = session
        self._documents = dict(documents)
        self.max_document = max_document

    def has(self, digest: Digest) -> bool:
        """Always ``True``: a registry holds what its manifests name."""
        return True

    def size_of(self, digest: Digest) -> int | None:
        """``None``: sizes are checked while blobs are read."""
        return None

    def read_document(self, descriptor: Descriptor) -> bytes:
        """A manifest, index or config, checked against ``descriptor``.

        :raises DocumentTooLargeError: larger than ``max_document``.
        :raises DigestMismatchError, SizeMismatchError: not the bytes named.
        :raises RegistryError: refused, absent, unreachable.
        """
        known = self._documents.get(descriptor.digest)
        if known is not None:
            return verified(descriptor, known, str(descriptor.digest))
        if descriptor.media_type in _DOCUMENT_TYPES:
            _, raw = fetch_manifest(
                self.session,
                str(descriptor.digest),
                max_size=self.max_document,
                expected=descriptor,
            )
            return raw
        return read_blob(self.session, descriptor, max_size=self.max_document)

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        """A blob's bytes, streamed; the engine verifies them as it copies.

        :raises RegistryError: refused, absent, unreachable.
        """
        return open_blob(self.session, descriptor, verify=False)
