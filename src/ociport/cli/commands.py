"""The ``ociport`` command line, modelled on ``ctr images import/export`` and skopeo.

Errors print one line, ``ociport: error: ...``, on stderr and exit 1 (``--debug`` shows the
traceback); usage errors exit 2.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import traceback
from collections.abc import Iterator
from typing import Any, NoReturn

import click

from ociport.api import ImageStore, inspect_source, open_store
from ociport.content.helpers import ProgressCallback
from ociport.engine.convert import ManifestFormat
from ociport.engine.naming import ImportNaming, default_base_name
from ociport.errors import InvalidDescriptorError, OciportError, StoreNotFoundError
from ociport.oci.descriptor import Descriptor, Platform
from ociport.plugins import (
    distribution_of,
    driver_registry,
    get_plugin_manager,
    list_plugins,
)

__all__ = ["main"]

_DURATION = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>[smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _note(message: str) -> None:
    click.echo(f"ociport: {message}", err=True)


@contextlib.contextmanager
def _progress(
    description: str, total: int | None = None
) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on a terminal, nothing when stderr is piped."""
    if not sys.stderr.isatty():
        yield None
        return
    # Imported here: rich takes ~40 ms to import, which every piped run would pay.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    # On stderr: stdout may carry an archive ("export -") while stderr is a terminal.
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _key_values(
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


def _platforms(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        try:
            Platform.parse(value)
        except InvalidDescriptorError as exc:
            raise click.BadParameter(str(exc)) from exc
    return values


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """Seconds from ``90``, ``30m``, ``1h`` or ``2d``."""
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise click.BadParameter(f"{value!r} is not a duration like 90, 30m, 1h")
    return float(match["value"]) * _UNITS[match["unit"]]


class _Context:
    def __init__(
        self, store_url: str | None, options: dict[str, Any], debug: bool
    ) -> None:
        self.store_url = store_url
        self.options = options
        self.debug = debug
        self._store: ImageStore | None = None

    @property
    def store(self) -> ImageStore:
        """The store, which must exist (every command but import only reads or changes
        names and blobs already there)."""
        return self._open(create=False)

    @contextlib.contextmanager
    def new_store(self) -> Iterator[ImageStore]:
        """The store for the block, created when missing (import); a store created
        here is removed again when the block fails and left it empty, and announced on
        stderr when it succeeds."""
        try:
            store = self._open(create=False)
        except StoreNotFoundError:
            store = self._open(create=True)
        else:
            yield store
            return
        try:
            yield store
        except BaseException:
            with contextlib.suppress(Exception):
                getattr(store.content, "remove_if_unused", lambda: None)()
            raise
        _note(f"created image store {store.content.location.url}")

    def _open(self, *, create: bool) -> ImageStore:
        if self._store is None:
            self._store = open_store(
                self.store_url, storage_options=self.options, create=create
            )
        return self._store


pass_ctx = click.make_pass_decorator(_Context)


def _check_platform_choice(platforms: tuple[str, ...], all_platforms: bool) -> None:
    if platforms and all_platforms:
        raise click.UsageError("--platform and --all-platforms exclude each other")


# Options that import and inspect share.
_max_document_option = click.option(
    "--max-document",
    type=click.IntRange(min=1024),
    default=4 << 20,
    show_default=True,
    help="Largest JSON document accepted, in bytes.",
)
_source_option = click.option(
    "--source-option",
    "source_options",
    multiple=True,
    callback=_key_values,
    metavar="KEY=VALUE",
    help="fsspec option for the source's filesystem (repeatable).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "store_url",
    envvar="OCIPORT_STORE",
    metavar="URL|NAME",
    help="Store root: path, fsspec URL or configured name. [env: OCIPORT_STORE]",
)
@click.option(
    "--storage-option",
    "storage_options",
    multiple=True,
    callback=_key_values,
    metavar="KEY=VALUE",
    help=(
        "fsspec option for the store's filesystem (repeatable); KEY.SUBKEY=VALUE "
        "sets one entry of a mapping (config_kwargs.read_timeout=60)."
    ),
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="ociport")
@click.pass_context
def cli(
    ctx: click.Context,
    store_url: str | None,
    storage_options: dict[str, Any],
    debug: bool,
) -> None:
    """Move container images between OCI/Docker archives and an OCI content store."""
    ctx.obj = _Context(store_url, storage_options, debug)


@cli.command("import")
@click.argument("source")
@click.option(
    "--format", "format_", metavar="NAME", help="Source format (default: detected)."
)
@click.option(
    "--base-name",
    metavar="NAME",
    help="Repository for tag-only and unnamed images [default: import-YYYY-MM-DD].",
)
@click.option(
    "--digests", is_flag=True, help="Also name every image <base-name>@<digest>."
)
@click.option(
    "--skip-digest-for-named",
    is_flag=True,
    help="With --digests, only for images without a name.",
)
@click.option(
    "--index-name",
    metavar="NAME",
    help="Keep the source's whole index as one image so named.",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    callback=_platforms,
    metavar="OS/ARCH[/VARIANT]",
    help="Platform to import (repeatable).",
)
@click.option(
    "--all-platforms",
    is_flag=True,
    help="Import every platform; fail if any is missing.",
)
@click.option(
    "--oci",
    "oci_manifests",
    is_flag=True,
    help="Docker archives: build OCI manifests, not Docker schema 2.",
)
@_max_document_option
@_source_option
@pass_ctx
def import_(
    ctx: _Context,
    source: str,
    format_: str | None,
    base_name: str | None,
    digests: bool,
    skip_digest_for_named: bool,
    index_name: str | None,
    platforms: tuple[str, ...],
    all_platforms: bool,
    oci_manifests: bool,
    max_document: int,
    source_options: dict[str, Any],
) -> None:
    """Import the images of an archive (path, fsspec URL, or - for stdin)."""
    _check_platform_choice(platforms, all_platforms)
    if skip_digest_for_named and not digests:
        raise click.UsageError("--skip-digest-for-named goes with --digests")
    naming = ImportNaming(
        base_name or default_base_name(), digests, skip_digest_for_named
    )
    with ctx.new_store() as store, _progress("importing") as progress:
        result = store.import_image(
            source,
            format=format_,
            naming=naming,
            platforms=platforms,
            all_platforms=all_platforms,
            index_name=index_name,
            max_document=max_document,
            oci_manifests=oci_manifests,
            storage_options=source_options,
            progress=progress,
        )
    for note in result.notes:
        _note(f"note: {note}")
    if result.missing:
        listed = ", ".join(_describe_missing(d) for d, _ in result.missing)
        _note(f"note: not in the source, skipped: {listed}")
    for image in result.images:
        click.echo(f"{image.name}\t{image.target.digest}")


def _describe_missing(desc: Descriptor) -> str:
    platform = f" ({desc.platform})" if desc.platform else ""
    return f"{desc.digest.short}{platform}"


@cli.command("export")
@click.argument("dest")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--format",
    "format_",
    default="oci-archive",
    show_default=True,
    metavar="NAME",
    help="Archive format.",
)
@click.option(
    "--ref-name",
    "ref_name_style",
    type=click.Choice(["full", "tag"]),
    default="full",
    show_default=True,
    help="org.opencontainers.image.ref.name: the full reference, or only the tag (containerd).",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    callback=_platforms,
    metavar="OS/ARCH[/VARIANT]",
    help=(
        "Export only this platform (repeatable) [default: every platform]; the first is "
        "also what Docker's manifest.json points at [default: this machine's]."
    ),
)
@click.option(
    "--all-platforms",
    is_flag=True,
    help="Require every platform of multi-platform images.",
)
@click.option(
    "--keep-index",
    is_flag=True,
    help="With --platform: keep the original index (a partial archive).",
)
@click.option(
    "--skip-non-distributable",
    is_flag=True,
    help="Leave out foreign (non-distributable) layers.",
)
@click.option(
    "--skip-manifest-json",
    is_flag=True,
    help="Leave out files plugins add (Docker's manifest.json).",
)
@click.option(
    "--dest-option",
    "dest_options",
    multiple=True,
    callback=_key_values,
    metavar="KEY=VALUE",
    help="fsspec option for the destination (repeatable).",
)
@pass_ctx
def export(
    ctx: _Context,
    dest: str,
    names: tuple[str, ...],
    format_: str,
    ref_name_style: str,
    platforms: tuple[str, ...],
    all_platforms: bool,
    keep_index: bool,
    skip_non_distributable: bool,
    skip_manifest_json: bool,
    dest_options: dict[str, Any],
) -> None:
    """Export images to DEST (path, fsspec URL, or - for stdout)."""
    _check_platform_choice(platforms, all_platforms)
    if keep_index and not platforms:
        raise click.UsageError("--keep-index goes with --platform")
    with _progress("exporting") as progress:
        result = ctx.store.export_images(
            list(names),
            dest,
            format=format_,
            ref_name_style=ref_name_style,  # type: ignore[arg-type]
            platforms=platforms,
            all_platforms=all_platforms,
            keep_index=keep_index,
            skip_non_distributable=skip_non_distributable,
            extra_members=not skip_manifest_json,
            storage_options=dest_options,
            progress=progress,
        )
    for note in result.notes:
        _note(f"note: {note}")
    if result.missing:
        listed = ", ".join(_describe_missing(d) for d, _ in result.missing)
        _note(f"note: not in the store, left out (partial image): {listed}")


@cli.command("convert")
@click.argument("name")
@click.argument("new_name")
@click.option("--oci", is_flag=True, help="Use OCI media types.")
@click.option("--docker", is_flag=True, help="Use Docker schema 2 media types.")
@click.option(
    "--compression",
    type=click.Choice(["gzip", "zstd", "none"]),
    help="Recompress layers [default: keep each layer's].",
)
@pass_ctx
def convert(
    ctx: _Context,
    name: str,
    new_name: str,
    oci: bool,
    docker: bool,
    compression: str | None,
) -> None:
    """Convert image NAME into NEW_NAME with other media types or compression."""
    if oci and docker:
        raise click.UsageError("--oci and --docker exclude each other")
    manifest_format: ManifestFormat | None = (
        "oci" if oci else "docker" if docker else None
    )
    result = ctx.store.convert(
        name,
        new_name,
        manifest_format=manifest_format,
        compression=compression,  # type: ignore[arg-type]
    )
    for change in result.relabelled:
        _note(
            f"layer {change.before.digest.short}: {change.reason}: "
            f"{change.before.media_type} -> {change.after.media_type}"
        )
    click.echo(f"{new_name}\t{result.root.digest}")


@cli.command("inspect")
@click.argument("source")
@click.option(
    "--format", "format_", metavar="NAME", help="Source format (default: detected)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@_max_document_option
@_source_option
def inspect_(
    source: str,
    format_: str | None,
    as_json: bool,
    max_document: int,
    source_options: dict[str, Any],
) -> None:
    """Describe the images of an archive or layout without importing them."""
    records = inspect_source(
        source,
        format=format_,
        max_document=max_document,
        storage_options=source_options,
    )
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    for record in records:
        descriptor = record["descriptor"]
        names = ", ".join(record["names"]) or "(unnamed)"
        click.echo(
            f"{names}\t{descriptor['digest']}\t{descriptor.get('mediaType', '')}"
        )
        for manifest in record["manifests"]:
            click.echo(
                f"  {manifest['platform'] or '-':<16} {manifest['digest']}  "
                f"{len(manifest['layers'])} layers  {manifest['size']} bytes"
            )
        for missing in record["missing"]:
            platform = missing["descriptor"].get("platform")
            where = f" ({Platform.from_json(platform)})" if platform else ""
            click.echo(f"  missing {missing['descriptor']['digest']}{where}")


@cli.group()
def images() -> None:
    """List, inspect, tag and remove named images."""


@images.command("ls")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("-q", "--quiet", is_flag=True, help="Names only.")
@pass_ctx
def images_ls(ctx: _Context, as_json: bool, quiet: bool) -> None:
    """List named images."""
    try:
        found = ctx.store.images()
    except StoreNotFoundError:
        found = []  # nothing imported yet: an empty list, and no store created
    if as_json:
        click.echo(
            json.dumps(
                [{"name": i.name, **i.target.to_json()} for i in found], indent=2
            )
        )
        return
    if quiet:
        for image in found:
            click.echo(image.name)
        return
    rows = [("NAME", "DIGEST", "MEDIA TYPE", "SIZE")]
    rows += [
        (i.name, str(i.target.digest), i.target.media_type, str(i.target.size))
        for i in found
    ]
    width = [max(len(r[c]) for r in rows) for c in range(3)]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width[c]) for c, cell in enumerate(row[:3]))
            + "  "
            + row[3]
        )


@images.command("inspect")
@click.argument("name")
@pass_ctx
def images_inspect(ctx: _Context, name: str) -> None:
    """Show an image's descriptor, manifests, platforms and size as JSON."""
    click.echo(json.dumps(ctx.store.inspect(name), indent=2))


@images.command("tag")
@click.argument("name")
@click.argument("new_name")
@pass_ctx
def images_tag(ctx: _Context, name: str, new_name: str) -> None:
    """Give image NAME the further name NEW_NAME."""
    ctx.store.tag(name, new_name)


@images.command("rm")
@click.argument("names", nargs=-1, required=True)
@pass_ctx
def images_rm(ctx: _Context, names: tuple[str, ...]) -> None:
    """Remove image names (blobs stay until 'content gc')."""
    for name in ctx.store.remove(names):
        click.echo(name)


@cli.group()
def content() -> None:
    """List, verify and garbage-collect blobs."""


@content.command("ls")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_ctx
def content_ls(ctx: _Context, as_json: bool) -> None:
    """List every blob with its size."""
    try:
        infos = sorted(ctx.store.content.walk(), key=lambda i: str(i.digest))
    except StoreNotFoundError:
        infos = []
    if as_json:
        click.echo(
            json.dumps(
                [{"digest": str(i.digest), "size": i.size} for i in infos], indent=2
            )
        )
        return
    for info in infos:
        click.echo(f"{info.digest}\t{info.size}")


@content.command("verify")
@pass_ctx
def content_verify(ctx: _Context) -> None:
    """Re-hash every blob and check every named image is whole; exit 1 on a problem."""
    problems = ctx.store.verify()
    for digest, problem in problems:
        _note(f"corrupt: {digest}: {problem}")
    incomplete = ctx.store.verify_images(digest for digest, _ in problems)
    for name, problem in incomplete:
        _note(f"incomplete: {name}: {problem}")
    counts = [
        f"{len(found)} {what}"
        for found, what in (
            (problems, "corrupt blob(s)"),
            (incomplete, "incomplete image(s)"),
        )
        if found
    ]
    if counts:
        raise OciportError(", ".join(counts))
    click.echo("all blobs verified, every image complete")


@content.command("gc")
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    metavar="DURATION",
    callback=_duration,
    help="Keep unreferenced blobs younger than this (seconds, or 30m, 1h, 2d).",
)
@click.option("--dry-run", is_flag=True, help="List what would be removed.")
@pass_ctx
def content_gc(ctx: _Context, grace: float, dry_run: bool) -> None:
    """Delete blobs that no named image reaches."""
    result = ctx.store.gc(grace=grace, dry_run=dry_run)
    for digest in result.removed:
        click.echo(str(digest))
    verb = "would remove" if dry_run else "removed"
    _note(
        f"{verb} {len(result.removed)} blob(s), {result.bytes_removed} bytes, and "
        f"{result.ingests_removed} abandoned ingest file(s) and "
        f"{result.leases_removed} dead lease(s); kept {result.kept_young} younger "
        f"than the grace period and {result.kept_leased} held by running imports"
    )


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def plugins(as_json: bool) -> None:
    """List registered drivers and plugins with their distributions."""
    pm = get_plugin_manager()
    drivers = []
    for cls in driver_registry(pm).drivers():
        dist, version = distribution_of(cls.__module__, pm)
        drivers.append(
            {
                "name": cls.name,
                "summary": cls.summary,
                "distribution": dist,
                "version": version,
            }
        )
    loaded = [
        {
            "name": p.name,
            "module": p.module,
            "distribution": p.distribution,
            "version": p.version,
        }
        for p in list_plugins(pm)
    ]
    if as_json:
        click.echo(json.dumps({"drivers": drivers, "plugins": loaded}, indent=2))
        return
    click.echo("DRIVERS")
    for d in drivers:
        click.echo(
            f"  {d['name']:<16} {d['distribution']} {d['version']}  {d['summary']}"
        )
    click.echo("PLUGINS")
    for p in loaded:
        click.echo(
            f"  {p['name']:<16} {p['distribution']} {p['version']}  ({p['module']})"
        )


def _fail(message: str, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exc()
    click.echo(f"ociport: error: {message}", err=True)
    sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit status 0 on success, 1 on errors, 2 on usage errors."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="ociport", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", debug)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (OciportError, OSError, ImportError) as exc:
        _fail(str(exc) or type(exc).__name__, debug)
    except Exception as exc:
        # (botocore's connection errors, for one); --debug shows where it came from.
        _fail(f"{type(exc).__name__}: {exc}", debug)
    except KeyboardInterrupt:
        _fail("interrupted", debug)
