"""Reading the API's sources and destinations: transport names, ``store:NAME``,
platform selections, the location of a sink."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import pluggy

from ociport.errors import InvalidLocationError
from ociport.oci.descriptor import Descriptor, Platform
from ociport.plugins import driver_registry
from ociport.streams.location import Location

if TYPE_CHECKING:
    from ociport.oci.walk import PlatformSelection
    from ociport.streams.address import ImageAddress
    from ociport.streams.sources import Sink, Source

__all__ = [
    "STORE_PREFIX",
    "apply_transport",
    "one_root",
    "platform_selection",
    "sink_location",
    "store_name",
]

#: The prefix naming an image of the store as a copy's source or destination.
STORE_PREFIX: Final = "store:"


def store_name(target: Source) -> str | None:
    """NAME of a ``store:NAME`` source or destination, else ``None``.

    :raises InvalidLocationError: ``store:`` without a NAME.
    """
    if not isinstance(target, str) or not target.startswith(STORE_PREFIX):
        return None
    name = target[len(STORE_PREFIX) :]
    if not name:
        raise InvalidLocationError(target, "no image NAME after store:")
    return name


def apply_transport(
    pm: pluggy.PluginManager,
    target: Source,
    *,
    format: str | None,
    ref: str | None,
    format_label: str = "format",
) -> tuple[Source | ImageAddress, str | None, str | None]:
    """:func:`~ociport.streams.transports.apply_reference` with the transports of
    ``pm``'s drivers (collected only when ``target`` names one): ``(target, format,
    ref)``.

    :raises InvalidLocationError, UnknownDriverError: as ``apply_reference``.
    """
    from ociport.streams.transports import apply_reference

    return apply_reference(
        target,
        lambda: driver_registry(pm).names(),
        format=format,
        ref=ref,
        format_label=format_label,
        addressed=lambda: driver_registry(pm).addressed_names(),
    )


def platform_selection(
    platforms: Sequence[Platform | str], all_platforms: bool
) -> PlatformSelection:
    """The platforms asked for (``os/arch[/variant]`` strings parsed), or all.

    :raises InvalidDescriptorError: a malformed platform.
    """
    from ociport.oci.walk import PlatformSelection

    return PlatformSelection(
        tuple(p if isinstance(p, Platform) else Platform.parse(p) for p in platforms),
        all_platforms,
    )


def one_root(roots: Sequence[Descriptor], label: str) -> Descriptor:
    """The one root an import to a single name took.

    :raises InvalidLocationError: several roots (the import is undone).
    """
    if len(roots) != 1:
        raise InvalidLocationError(
            label, f"holds {len(roots)} images for one name: choose one with :REF"
        )
    return roots[0]


def sink_location(
    sink: Sink | ImageAddress, storage_options: Mapping[str, Any] | None
) -> Location | None:
    """The location a path or URL sink names (for error messages), else ``None``."""
    if isinstance(sink, str | os.PathLike) and os.fspath(sink) != "-":
        return Location.from_url(os.fspath(sink), storage_options)
    return None
