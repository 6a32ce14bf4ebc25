"""Choosing the driver for a source: the one asked for, or the first whose sniff agrees.

A directory is offered to every driver as a location; a file or stream is offered its
first 64 KiB, decompressed (so a gzip, xz or zstd archive is recognised by what it
holds). When nothing recognises a stream, ``oci-archive`` is assumed and ``--format``
overrides. An image address (``docker://...``) goes to its transport's driver, unsniffed.
"""

from __future__ import annotations

import logging
import re
from typing import IO, Final

import pluggy

from ociport.drivers.base import ImageDriver
from ociport.errors import DriverDetectionError, UnsupportedSourceError
from ociport.plugins import driver_registry
from ociport.streams.address import ImageAddress
from ociport.streams.compression import detect_compression, open_decompressed
from ociport.streams.location import Location
from ociport.streams.sources import open_source
from ociport.streams.tario import peek_member_names

__all__ = ["choose_driver"]

_log = logging.getLogger(__name__)

_SNIFF_BYTES: Final = 64 << 10
#: Tried last, and assumed for a stream nothing recognises.
_FALLBACK_FORMAT: Final = "oci-archive"


def choose_driver(
    pm: pluggy.PluginManager,
    target: Location | IO[bytes] | ImageAddress,
    format: str | None,
    label: str,
) -> tuple[type[ImageDriver], Location | IO[bytes] | ImageAddress]:
    """The driver class for ``target`` and what to hand it (a stream is wrapped so that
    reads give uncompressed bytes).

    :raises UnknownDriverError: ``format`` is not registered.
    :raises DriverDetectionError: no driver recognises the source.
    :raises UnsupportedSourceError: the driver needs a location but got a stream, or
        an address is given to a driver that is not addressed (or the reverse).
    """
    registry = driver_registry(pm)
    if isinstance(target, ImageAddress):
        driver_cls = registry.get(format or target.transport)
        if not driver_cls.addressed:
            raise UnsupportedSourceError(driver_cls.name, f"an image address ({label})")
        return driver_cls, target
    if isinstance(target, Location):
        driver_cls = (
            registry.get(format) if format else _detect_location(pm, target, label)
        )
        if driver_cls.addressed:
            raise UnsupportedSourceError(driver_cls.name, f"a path or URL ({label})")
        return driver_cls, target
    stream, _ = open_decompressed(target)
    driver_cls = (
        registry.get(format)
        if format
        else _detect(pm, stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES], None, label)
    )
    if not driver_cls.accepts_stream:
        raise UnsupportedSourceError(driver_cls.name, "a stream")
    return driver_cls, stream


def _detect(
    pm: pluggy.PluginManager, head: bytes | None, location: Location | None, label: str
) -> type[ImageDriver]:
    registry = driver_registry(pm)
    candidates = sorted(registry.drivers(), key=lambda d: d.name == _FALLBACK_FORMAT)
    for cls in candidates:
        if cls.sniff(head, location):
            _log.info("%s: recognised as %s", label, cls.name)
            return cls
    if head is not None and _looks_like_docker_save(head):
        raise DriverDetectionError(label, [c.name for c in candidates], _DOCKER_HINT)
    if head is not None and _FALLBACK_FORMAT in registry.names():
        _log.info("%s: not recognised; read as %s", label, _FALLBACK_FORMAT)
        return registry.get(_FALLBACK_FORMAT)
    raise DriverDetectionError(label, [c.name for c in candidates])


#: Members only a ``docker save`` archive (before Docker 25) or skopeo's
#: ``docker-archive:`` has: ``manifest.json`` and ``repositories`` at the top, layers as
#: ``<id>/layer.tar`` (with ``<id>/json``, ``<id>/VERSION``) or ``<hex>.tar``, configs as
#: ``<hex>.json``.
_DOCKER_MEMBER: Final = re.compile(
    r"manifest\.json|repositories|[0-9a-f]{64}(/layer\.tar|/json|/VERSION|\.tar|\.json)"
)
_DOCKER_HINT: Final = (
    "this looks like a `docker save` archive, which no installed plugin reads: "
    "install the `ociport-docker-archive` plugin (pip install ociport-docker-archive)"
)


def _looks_like_docker_save(head: bytes) -> bool:
    """Whether the tar headers in ``head`` are those of a Docker archive (the Docker
    plugin, when installed, has recognised it before this is asked)."""
    names = peek_member_names(head)
    return "oci-layout" not in names and any(_DOCKER_MEMBER.fullmatch(n) for n in names)


def _detect_location(
    pm: pluggy.PluginManager, location: Location, label: str
) -> type[ImageDriver]:
    if location.fs.isdir(location.path):
        return _detect(pm, None, location, label)
    # One ranged read of the head: a buffered stream would read ahead megabytes, which
    # a random-access import from S3 must not pay for.
    head: bytes = location.fs.cat_file(location.path, start=0, end=_SNIFF_BYTES)
    if detect_compression(head[:8]) is not None:
        with open_source(location) as raw:
            stream, _ = open_decompressed(raw)
            head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    return _detect(pm, head, location, label)
