"""A stub third-party ociport plugin, written as an outside distribution writes one.

It is loaded in tests from a fake distribution whose entry point reads::

    [project.entry-points.ociport]
    sample-archive = "sample_plugin"

and contributes:

- the ``sample-archive`` driver: an OCI archive, gzip-compressed (it reuses the
  ``oci-archive`` driver for the tar and adds the compression on export);
- a content store for ``memory://sample-claimed...`` locations, which proves a plugin's
  ``ociport_open_content_store`` runs before the built-in ``trylast`` one;
- a named store ``sample-named``.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from typing import IO, Any

from fsspec.implementations.memory import MemoryFileSystem

from ociport import hookimpl
from ociport.config import StoreConfig
from ociport.content.fsstore import FsspecContentStore
from ociport.content.helpers import ProgressCallback
from ociport.content.interfaces import ContentStore, Provider
from ociport.drivers.base import ImageDriver, ImportReport, ImportRequest
from ociport.drivers.oci_archive import OciArchiveDriver
from ociport.drivers.registry import DriverRegistry
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.streams.location import Location

#: ``memory://`` paths starting with this are served by :class:`ClaimedStore`.
CLAIMED_PREFIX = "/sample-claimed"
#: The URL behind the ``sample-named`` store name.
NAMED_STORE_URL = "memory://sample-named-store"


class SampleArchiveDriver(ImageDriver):
    """A gzip-compressed OCI archive (``.oci.tar.gz``)."""

    name = "sample-archive"
    summary = "gzip-compressed OCI archive (sample plugin)"
    accepts_stream = True

    @classmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        """Never claims a source: users choose it with ``format="sample-archive"``."""
        return False

    def import_image(
        self, source: IO[bytes] | Location, store: ContentStore, request: ImportRequest
    ) -> ImportReport:
        """Read the archive; the ``oci-archive`` driver already undoes gzip."""
        report = OciArchiveDriver().import_image(source, store, request)
        report.notes.append("read by the sample-archive driver")
        return report

    def export_image(
        self,
        store: Provider,
        entries: Sequence[Descriptor],
        target: IO[bytes] | Location,
        *,
        progress: ProgressCallback | None = None,
        extra_members: Sequence[tuple[str, bytes]] = (),
    ) -> list[tuple[Descriptor, Digest]]:
        """Write an OCI archive through gzip (mtime 0: the output is deterministic)."""
        if isinstance(target, Location):
            with target.fs.open(target.path, "wb") as stream:
                return self.export_image(
                    store,
                    entries,
                    stream,
                    progress=progress,
                    extra_members=extra_members,
                )
        with gzip.GzipFile(fileobj=target, mode="wb", mtime=0) as compressed:
            return OciArchiveDriver().export_image(
                store,
                entries,
                compressed,
                progress=progress,
                extra_members=extra_members,
            )


class ClaimedStore:
    """A content store that delegates to an fsspec store and says who opened it."""

    claimed_by = "sample-plugin"

    def __init__(self, location: Location) -> None:
        self._inner = FsspecContentStore(location)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@hookimpl
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Add the ``sample-archive`` driver."""
    registry.add(SampleArchiveDriver)


@hookimpl
def ociport_open_content_store(
    location: Location, options: Mapping[str, Any]
) -> ContentStore | None:
    """Claim ``memory://sample-claimed...`` locations; pass on every other one."""
    in_memory = isinstance(location.fs, MemoryFileSystem)
    if in_memory and location.path.startswith(CLAIMED_PREFIX):
        return ClaimedStore(location)  # type: ignore[return-value]
    return None


@hookimpl
def ociport_named_stores() -> Mapping[str, StoreConfig]:
    """Offer the store name ``sample-named``."""
    return {"sample-named": StoreConfig(NAMED_STORE_URL)}
