"""What the command line prints: notes on stderr, and results as JSON documents
(``--json``); progress displays are in :mod:`ociport.cli.progress`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import click

if TYPE_CHECKING:
    from ociport.oci.descriptor import Descriptor
    from ociport.oci.digest import Digest

__all__ = [
    "describe_missing",
    "entry_record",
    "human_size",
    "image_record",
    "missing_records",
    "note",
    "print_json",
]


_UNITS: Final = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: int) -> str:
    """A byte count in binary units, one decimal: ``565 B``, ``1.5 KiB``,
    ``12.3 MiB``."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def note(message: str) -> None:
    """Print ``ociport: MESSAGE`` on stderr."""
    click.echo(f"ociport: {message}", err=True)


def describe_missing(desc: Descriptor) -> str:
    """A short digest with its platform, for notes."""
    platform = f" ({desc.platform})" if desc.platform else ""
    return f"{desc.digest.short}{platform}"


def print_json(document: Any) -> None:
    """Print one JSON document on stdout (indented, keys in the order given)."""
    click.echo(json.dumps(document, indent=2))


def image_record(name: str, target: Descriptor) -> dict[str, Any]:
    """``{"name", "digest", "mediaType", "size"}``: an image and its root descriptor
    (``size`` is the root document's, in bytes)."""
    return {
        "name": name,
        "digest": str(target.digest),
        "mediaType": target.media_type,
        "size": target.size,
    }


def entry_record(entry: Descriptor) -> dict[str, Any]:
    """An exported ``index.json`` entry: :func:`image_record` with the image's full
    name, plus ``refName``, its ``org.opencontainers.image.ref.name`` as written."""
    from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME

    name = entry.annotations.get(ANNOTATION_IMAGE_NAME) or entry.ref_name or ""
    return {**image_record(name, entry), "refName": entry.ref_name}


def missing_records(
    missing: Sequence[tuple[Descriptor, Digest]],
) -> list[dict[str, Any]]:
    """Content left out: ``{"digest", "mediaType", "size", "platform",
    "referencedBy"}`` each (``platform`` is ``null`` unless the descriptor names one)."""
    return [
        {
            "digest": str(desc.digest),
            "mediaType": desc.media_type,
            "size": desc.size,
            "platform": str(desc.platform) if desc.platform else None,
            "referencedBy": str(parent),
        }
        for desc, parent in missing
    ]
