"""Transport references: skopeo's ``TRANSPORT:PATH[:REF]`` for sources and destinations.

The syntax is the one of containers-transports(5), which skopeo, podman and buildah
accept, for the transports that are image files: ``oci-archive:PATH[:REF]``,
``oci:DIR[:REF]``, ``docker-archive:PATH[:REF]``. Every registered driver's name is a
transport of this form (a plugin's ``oci-zip`` gives ``oci-zip:PATH[:REF]``), and PATH
may be anything a plain source or destination may be: a path, an fsspec URL or ``-``.

- TRANSPORT is the text before the first ``:``, and it is one only when it names a
  registered driver. Anything else is a plain path, fsspec URL or ``-``: ``a:b.tar``,
  ``./oci:x`` and ``/tmp/oci:x`` are paths (``.`` and ``/`` are in no driver's name),
  ``s3://bucket/a.tar`` and ``memory://x`` are URLs. ``NAME://...`` is an fsspec URL
  whenever fsspec knows the protocol NAME, even if a driver has that name too (fsspec's
  ``oci://`` is Oracle Cloud storage; a layout is ``oci:/path``).
- PATH ends at the first ``:`` that follows it, as skopeo splits ``oci:dir:ref``
  (its ``SplitPathAndImage``): the rest is REF and may itself hold colons
  (``oci:dir:example.com:5000/app:v1``). Inside PATH, the ``scheme://`` of an fsspec
  URL, a ``:PORT/`` right after its host (``http://host:8080/a.tar``) and the ``::`` of
  chained URLs (``simplecache::s3://b/a.tar``) are part of PATH
  (``oci-archive:s3://bucket/a.tar:v1`` is ``s3://bucket/a.tar`` and ``v1``). So a
  PATH given with a transport cannot itself contain a single ``:`` elsewhere.
- An empty PATH (``oci-archive:``, ``oci:`` followed by ``:REF``) or an empty REF
  (``oci:dir:``) is an error.
- skopeo transports ociport has no driver for (``docker://``, ``dir:``,
  ``containers-storage:``, ``docker-archive:`` without the Docker plugin, ...) are an
  unknown format rather than a path that does not exist.
- A transport whose driver addresses images rather than files
  (:attr:`~ociport.drivers.base.ImageDriver.addressed`, e.g. ``docker`` from the
  registry plugin) takes the rest whole, unsplit: ``docker://host:5000/app:v1`` is
  ``docker`` and ``//host:5000/app:v1``, and the driver parses it. Such a source or
  destination becomes an :class:`~ociport.streams.address.ImageAddress`.

What REF means belongs to the caller: an import takes only the image with that ref
name or image name, an export gives its one image that name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

from ociport.errors import InvalidLocationError, UnknownDriverError
from ociport.streams.address import ImageAddress
from ociport.streams.sources import Source

__all__ = [
    "SKOPEO_TRANSPORTS",
    "TransportReference",
    "Transports",
    "apply_reference",
    "parse_reference",
]

#: containers-transports(5)'s transport names: with no driver of that name, they are
#: still read as a transport (and rejected as an unknown format), never as a path.
SKOPEO_TRANSPORTS: Final = frozenset(
    {
        "containers-storage",
        "dir",
        "docker",
        "docker-archive",
        "docker-daemon",
        "oci",
        "oci-archive",
        "sif",
        "tarball",
    }
)

_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: ``HOST:PORT/`` right after a scheme: the colon belongs to the URL.
_HOST_PORT: Final = re.compile(r"[^/:]*:[0-9]+(?=/)")

#: The names of the registered drivers, or a function giving them (called only when a
#: string could be a transport reference, so plain paths load no plugins).
Transports = Collection[str] | Callable[[], Collection[str]]


@dataclass(frozen=True, slots=True)
class TransportReference:
    """A parsed source or destination.

    :ivar transport: the driver named by the prefix, ``None`` for a plain path or URL.
    :ivar path: the path, fsspec URL or ``-``.
    :ivar ref: the ``:REF`` part, ``None`` when absent.
    """

    transport: str | None
    path: str
    ref: str | None = None

    def __str__(self) -> str:
        if self.transport is None:
            return self.path
        ref = f":{self.ref}" if self.ref is not None else ""
        return f"{self.transport}:{self.path}{ref}"


def parse_reference(
    text: str, transports: Transports, addressed: Transports = ()
) -> TransportReference:
    """Split ``TRANSPORT:PATH[:REF]`` (containers-transports(5)) or take ``text`` as a
    plain path, fsspec URL or ``-``; see the module's documentation for the rules.

    :param transports: the registered driver names (or a function giving them).
    :param addressed: those of them whose transport is followed by one image address,
        taken whole as PATH (no REF), or a function giving them.
    :raises InvalidLocationError: an empty PATH or REF.
    :raises UnknownDriverError: a skopeo transport with no driver here (``docker://``).
    """
    prefix, colon, rest = text.partition(":")
    if (
        not colon
        or not prefix
        or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", prefix)
    ):
        return TransportReference(None, text)
    if rest.startswith("//") and _is_fsspec_protocol(prefix):
        return TransportReference(None, text)
    names = _names(transports)
    if prefix not in names:
        if prefix in SKOPEO_TRANSPORTS:
            raise UnknownDriverError(prefix, sorted(names))
        return TransportReference(None, text)
    if prefix in _names(addressed):
        if not rest:
            raise InvalidLocationError(text, f"nothing after {prefix}:")
        return TransportReference(prefix, rest)
    path, ref = _split_path(rest)
    form = f"{prefix}:PATH[:REF]"
    if not path:
        raise InvalidLocationError(text, f"no PATH after {prefix}: ({form})")
    if ref == "":
        raise InvalidLocationError(text, f"empty REF after {path}: ({form})")
    return TransportReference(prefix, path, ref)


def apply_reference(
    target: Source,
    transports: Transports,
    *,
    format: str | None,
    ref: str | None,
    ref_label: str = "ref_name",
    format_label: str = "format",
    addressed: Transports = (),
) -> tuple[Source | ImageAddress, str | None, str | None]:
    """A source or sink with its transport reference resolved: ``(target, format,
    ref)``, where a string target is replaced by its PATH (an
    :class:`~ociport.streams.address.ImageAddress` for an ``addressed`` transport),
    ``format`` by the transport and ``ref`` by REF. Anything but a string (a stream, an
    ``os.PathLike``) is returned as it is.

    :param format: the format asked for besides; it must agree with the transport.
    :param ref: the ref asked for besides; it must agree with REF.
    :param ref_label, format_label: how messages name ``ref`` and ``format``.
    :raises InvalidLocationError: a malformed reference, or a transport or REF that
        disagrees with ``format`` or ``ref``.
    :raises UnknownDriverError: a skopeo transport with no driver here.
    """
    if not isinstance(target, str):
        return target, format, ref
    parsed = parse_reference(target, transports, addressed)
    if parsed.transport is None:
        return target, format, ref
    if format is not None and format != parsed.transport:
        raise InvalidLocationError(
            target,
            f"its transport {parsed.transport} disagrees with {format_label} {format}",
        )
    if ref is not None and parsed.ref is not None and ref != parsed.ref:
        raise InvalidLocationError(
            target, f"its REF {parsed.ref} disagrees with {ref_label} {ref}"
        )
    if parsed.ref is None and parsed.transport in _names(addressed):
        return ImageAddress(parsed.transport, parsed.path), parsed.transport, ref
    return parsed.path, parsed.transport, parsed.ref if parsed.ref is not None else ref


def _names(transports: Transports) -> Collection[str]:
    return transports() if callable(transports) else transports


def _is_fsspec_protocol(name: str) -> bool:
    import fsspec  # already imported wherever a path is opened

    return name in fsspec.available_protocols()


def _split_path(rest: str) -> tuple[str, str | None]:
    """``(PATH, REF)`` of what follows ``TRANSPORT:``: PATH ends at the first ``:`` not
    part of a URL's ``scheme://``, its ``:PORT/`` or a ``::`` chain."""
    start = 0
    while True:
        scheme = _SCHEME.match(rest, start)
        if scheme:
            start = scheme.end()
            port = _HOST_PORT.match(rest, start)
            if port:
                start = port.end()
        colon = rest.find(":", start)
        if colon < 0:
            return rest, None
        if rest.startswith("::", colon):
            start = colon + 2
            continue
        return rest[:colon], rest[colon + 1 :]
