"""A stub third-party ociport plugin, written as an outside distribution writes one.

It is loaded in tests from a fake distribution whose entry point reads::

    [project.entry-points.ociport]
    sample-archive = "sample_plugin"

and contributes:

- the ``sample-archive`` driver: an OCI archive, gzip-compressed (it reuses the
  ``oci-archive`` driver for the tar and adds the compression on export);
- a content store for ``memory://sample-claimed...`` locations, which proves a plugin's
  ``ociport_open_content_store`` runs before the built-in ``trylast`` one;
- a named store ``sample-named``;
- the command ``ociport sample-hello [WHO]``.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from typing import IO, Any

import click
from fsspec.implementations.memory import MemoryFileSystem

from ociport import hookimpl
from ociport.config import StoreConfig
from ociport.content.fsstore import FsspecContentStore
from ociport.content.interfaces import ContentStore
from ociport.drivers.base import ImageDriver, ImageSource, SourceContext
from ociport.drivers.oci_archive import OciArchiveDriver
from ociport.drivers.plan import ExportPlan
from ociport.drivers.registry import DriverRegistry
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

    def open_source(
        self, source: IO[bytes] | Location, context: SourceContext
    ) -> ImageSource:
        """Read the archive; the ``oci-archive`` driver already undoes gzip."""
        opened = OciArchiveDriver().open_source(source, context)
        opened.notes.append("read by the sample-archive driver")
        return opened

    def write(self, plan: ExportPlan, target: IO[bytes] | Location) -> None:
        """Write an OCI archive through gzip (mtime 0: the output is deterministic)."""
        assert not isinstance(target, Location)
        with gzip.GzipFile(fileobj=target, mode="wb", mtime=0) as compressed:
            OciArchiveDriver().write(plan, compressed)


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


@click.command("sample-hello")
@click.argument("who", default="world")
def sample_hello(who: str) -> None:
    """Greet WHO (a command the sample plugin adds)."""
    click.echo(f"hello, {who}, from the sample plugin")


@hookimpl
def ociport_cli_commands() -> Sequence[click.Command]:
    """Add ``sample-hello``."""
    return [sample_hello]
