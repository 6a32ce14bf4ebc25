"""Plugin: the default content store, an OCI image layout on any fsspec filesystem."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ociport.plugins import hookimpl

if TYPE_CHECKING:
    from ociport.content.fsstore import FsspecContentStore
    from ociport.streams.location import Location


@hookimpl(trylast=True)
def ociport_open_content_store(
    location: Location, options: Mapping[str, Any]
) -> FsspecContentStore:
    """Open the fsspec store at ``location``, creating it unless ``options["create"]``
    is false; ``options["single_writer"]`` (the storage option
    ``ociport_single_writer``) accepts a server that ignores conditional writes."""
    from ociport.content.fsstore import FsspecContentStore

    return FsspecContentStore(
        location,
        create=bool(options.get("create", True)),
        single_writer=bool(options.get("single_writer", False)),
    )
