"""Option parsing the commands share: ``KEY=VALUE`` storage options, platforms,
durations, the options import, export, inspect and copy have in common, and the checks
of their SOURCE and DEST arguments (transport references, registry options)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ociport.errors import InvalidDescriptorError, InvalidLocationError

if TYPE_CHECKING:
    from ociport.streams.transports import TransportReference

__all__ = [
    "check_output_choice",
    "check_platform_choice",
    "check_transport_ref",
    "dest_option",
    "dest_registry_options",
    "duration",
    "json_option",
    "key_values",
    "max_document_option",
    "parse_transport",
    "platforms_callback",
    "progress_option",
    "quiet_option",
    "registry_options",
    "registry_values",
    "source_option",
    "src_registry_options",
    "with_registry_options",
]

F = TypeVar("F", bound=Callable[..., Any])

_DURATION = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>[smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def key_values(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, Any]:
    """``KEY=VALUE`` options as fsspec storage options (``true``/``false`` as booleans).

    A dotted key sets one entry of a mapping option: ``config_kwargs.read_timeout=60``
    and ``config_kwargs.retries.max_attempts=5`` give ``{"config_kwargs":
    {"read_timeout": "60", "retries": {"max_attempts": "5"}}}`` (ociport turns the S3
    timeouts and retry counts into numbers).
    """
    options: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        *parents, name = key.split(".")
        if not sep or not all((*parents, name)):
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        target = options
        for depth, parent in enumerate(parents, 1):
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                above = ".".join(parents[:depth])
                raise click.BadParameter(f"{above} is both a value and a mapping")
        if isinstance(target.get(name), dict):
            raise click.BadParameter(f"{key} is both a mapping and a value")
        target[name] = {"true": True, "false": False}.get(raw.lower(), raw)
    return options


def platforms_callback(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """Check each ``--platform`` value (``os/arch[/variant]``) when it is given."""
    from ociport.oci.descriptor import Platform

    for value in values:
        try:
            Platform.parse(value)
        except InvalidDescriptorError as exc:
            raise click.BadParameter(str(exc)) from exc
    return values


def duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """Seconds from ``90``, ``30m``, ``1h`` or ``2d``."""
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise click.BadParameter(f"{value!r} is not a duration like 90, 30m, 1h")
    return float(match["value"]) * _UNITS[match["unit"]]


def check_platform_choice(platforms: tuple[str, ...], all_platforms: bool) -> None:
    if platforms and all_platforms:
        raise click.UsageError("--platform and --all-platforms exclude each other")


# Options that import and inspect share.
max_document_option = click.option(
    "--max-document",
    type=click.IntRange(min=1024),
    default=4 << 20,
    show_default=True,
    help="Largest JSON document accepted, in bytes.",
)
source_option = click.option(
    "--source-option",
    "source_options",
    multiple=True,
    callback=key_values,
    metavar="KEY=VALUE",
    help="fsspec option for the source's filesystem (repeatable).",
)
# What export and copy take for the destination.
dest_option = click.option(
    "--dest-option",
    "dest_options",
    multiple=True,
    callback=key_values,
    metavar="KEY=VALUE",
    help="fsspec option for the destination (repeatable).",
)

#: Where :func:`registry_options` keeps what was given, in the click context's meta.
_REGISTRY_META = "ociport.registry_options"


def _keeper(
    side: str | None,
) -> Callable[[click.Context, click.Parameter, Any], None]:
    """A callback keeping a registry option's value under its unprefixed name."""
    prefix = f"{side}_" if side else ""

    def keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and param.name is not None:
            name = param.name.removeprefix(prefix)
            ctx.meta.setdefault(f"{_REGISTRY_META}.{side}", {})[name] = value

    return keep


def _registry_options(side: str | None, what: str) -> Callable[[F], F]:
    """``--[SIDE-]authfile``, ``--[SIDE-]creds`` and ``--[SIDE-]tls-verify``,
    described as options of ``what``."""
    flag = f"--{side}-" if side else "--"
    keep = _keeper(side)
    options = (
        click.option(
            f"{flag}authfile",
            metavar="PATH",
            expose_value=False,
            callback=keep,
            help=f"{what}: read credentials from this file only.",
        ),
        click.option(
            f"{flag}creds",
            metavar="USER:PASSWORD",
            expose_value=False,
            callback=keep,
            help=f"{what}: credentials [default: those podman or docker login stored].",
        ),
        click.option(
            f"{flag}tls-verify",
            type=click.BOOL,
            metavar="BOOL",
            expose_value=False,
            callback=keep,
            help=f"{what} (docker://): false allows plain HTTP and unverified HTTPS.",
        ),
    )

    def decorate(command: F) -> F:
        for option in options:
            command = option(command)
        return command

    return decorate


#: skopeo's options for registries (``docker://...``), as the source's or the
#: destination's options: ``--tls-verify``, ``--creds``, ``--authfile`` (read them
#: with :func:`registry_values`).
registry_options = _registry_options(None, "Registries")
#: The same for each side of a copy, named as ``skopeo copy`` names them
#: (``--src-tls-verify``, ``--dest-creds``, ...; :func:`registry_values` with
#: ``side``).
src_registry_options = _registry_options("src", "Source registry")
dest_registry_options = _registry_options("dest", "Destination registry")


def registry_values(side: str | None = None) -> dict[str, Any]:
    """The registry options given to the current command (``tls_verify``, ``creds``,
    ``authfile``), as a registry source or destination takes them.

    :param side: ``"src"`` or ``"dest"`` for a copy's ``--src-*`` or ``--dest-*``
        options; ``None`` for the unprefixed ones.
    """
    meta = click.get_current_context().meta
    return dict(meta.get(f"{_REGISTRY_META}.{side}", {}))


# Options for what commands print: results (--json, -q) and progress.
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
)


def quiet_option(help: str) -> Callable[[F], F]:
    """``-q``/``--quiet``, described by ``help``."""
    return click.option("-q", "--quiet", is_flag=True, help=help)


progress_option = click.option(
    "--progress",
    "progress_mode",
    type=click.Choice(["auto", "plain", "json", "none"]),
    default="auto",
    show_default=True,
    help=(
        "Progress on stderr: auto (a bar on a terminal, else none), plain (a text "
        "line every few seconds), json (one JSON object per line), none."
    ),
)


def check_output_choice(as_json: bool, quiet: bool) -> None:
    """:raises click.UsageError: both ``--json`` and ``-q``."""
    if as_json and quiet:
        raise click.UsageError("--json and -q exclude each other")


def check_transport_ref(
    text: str,
    argument: str,
    format_: str | None,
    ref: str | None = None,
) -> str | None:
    """The REF of a SOURCE or DEST given as ``TRANSPORT:PATH[:REF]`` (skopeo's syntax,
    :mod:`ociport.streams.transports`), checked against ``--format`` and ``--ref``; the
    API parses the same string again.

    :raises click.UsageError: an empty PATH or REF, or a transport or REF that
        disagrees with ``--format`` or ``--ref``.
    """
    parsed = parse_transport(text, argument)
    if parsed.transport is None:
        return None
    if format_ is not None and format_ != parsed.transport:
        raise click.UsageError(
            f"--format {format_} disagrees with {argument} {text!r}, "
            f"whose transport is {parsed.transport}"
        )
    if ref is not None and parsed.ref is not None and ref != parsed.ref:
        raise click.UsageError(
            f"--ref {ref} disagrees with {argument} {text!r}, whose REF is {parsed.ref}"
        )
    return parsed.ref


def parse_transport(text: str, argument: str) -> TransportReference:
    """``text`` as a transport reference (a plain path or URL has no transport).

    :raises click.BadParameter: an empty PATH or REF.
    """
    from ociport.plugins import driver_registry, get_plugin_manager
    from ociport.streams.transports import parse_reference

    try:
        return parse_reference(
            text,
            lambda: driver_registry(get_plugin_manager()).names(),
            lambda: driver_registry(get_plugin_manager()).addressed_names(),
        )
    except InvalidLocationError as exc:
        raise click.BadParameter(str(exc), param_hint=argument) from None


def with_registry_options(
    text: str, argument: str, options: dict[str, Any], side: str | None = None
) -> dict[str, Any]:
    """``options`` plus ``--tls-verify``, ``--creds`` and ``--authfile`` (with
    ``side``, a copy's ``--src-*`` or ``--dest-*`` ones), which only a registry (an
    addressed transport: ``docker://...``) takes.

    :raises click.UsageError: they were given for anything else.
    """
    given = registry_values(side)
    if not given:
        return options
    from ociport.plugins import driver_registry, get_plugin_manager

    transport = parse_transport(text, argument).transport
    if transport not in driver_registry(get_plugin_manager()).addressed_names():
        prefix = f"--{side}-" if side else "--"
        flags = ", ".join(prefix + name.replace("_", "-") for name in sorted(given))
        raise click.UsageError(
            f"{flags}: for a registry (docker://HOST/REPO:TAG), not {argument} {text!r}"
        )
    return {**options, **given}
