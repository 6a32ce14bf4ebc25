"""``copy``: images from one place to another without the store, as ``skopeo copy``."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

import click

from ociport.cli.app import CliContext, cli, pass_ctx
from ociport.cli.options import (
    check_output_choice,
    check_platform_choice,
    check_transport_ref,
    dest_option,
    dest_registry_options,
    json_option,
    max_document_option,
    platforms_callback,
    progress_option,
    quiet_option,
    source_option,
    src_registry_options,
    with_registry_options,
)
from ociport.cli.output import (
    describe_missing,
    entry_record,
    missing_records,
    note,
    print_json,
)
from ociport.cli.progress import ProgressMode, progress_report, quiet_progress

if TYPE_CHECKING:
    from ociport.api import ImageStore

__all__ = ["copy"]

#: As :data:`ociport.targets.STORE_PREFIX` (not imported: ``--help`` stays fast).
_STORE = "store:"


@cli.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option(
    "--format",
    "format_",
    metavar="NAME",
    help="SRC's format [default: its transport, else detected].",
)
@click.option(
    "--dest-format",
    metavar="NAME",
    help="DST's format [default: its transport, else oci-archive].",
)
@click.option(
    "--ref",
    metavar="REF",
    help="Copy only SRC's image with this ref name or image name, as SRC:REF does.",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    callback=platforms_callback,
    metavar="OS/ARCH[/VARIANT]",
    help="Copy only this platform (repeatable); a new index lists those copied.",
)
@click.option(
    "--all-platforms",
    "--all",
    "all_platforms",
    is_flag=True,
    help="Copy every platform; fail if any is missing (--all: skopeo's name).",
)
@click.option(
    "--no-referrers",
    is_flag=True,
    help=(
        "Leave out the images' referrers (signatures, SBOMs, attestations) "
        "[default: copy them where DST's format holds them]."
    ),
)
@click.option(
    "--oci",
    "oci_manifests",
    is_flag=True,
    help="Docker archives as SRC: build OCI manifests, not Docker schema 2.",
)
@click.option(
    "--skip-manifest-json",
    is_flag=True,
    help="Leave out files plugins add (Docker's manifest.json).",
)
@max_document_option
@source_option
@dest_option
@src_registry_options
@dest_registry_options
@json_option
@quiet_option("Print only the digests of the images copied; no progress.")
@progress_option
@pass_ctx
def copy(
    ctx: CliContext,
    src: str,
    dst: str,
    format_: str | None,
    dest_format: str | None,
    ref: str | None,
    platforms: tuple[str, ...],
    all_platforms: bool,
    no_referrers: bool,
    oci_manifests: bool,
    skip_manifest_json: bool,
    max_document: int,
    source_options: dict[str, Any],
    dest_options: dict[str, Any],
    as_json: bool,
    quiet: bool,
    progress_mode: ProgressMode,
) -> None:
    """Copy images from SRC to DST without the store.

    \b
    SRC is given as to import, DST as to export: a path, an fsspec URL, - (stdin,
    stdout), TRANSPORT:PATH[:REF], docker://HOST/REPO[:TAG] (ociport-registry),
    or store:NAME, the image NAME of the store (--store):
      ociport copy oci-archive:a.tar:v1 oci:layout:v1
      ociport copy docker://reg.example:5000/app:1 s3://bucket/app.tar
      ociport copy --platform linux/arm64 multi.tar docker-archive:arm.tar
      ociport copy store:example.com/app:1 docker://reg.example:5000/app:1

    Blobs stream from SRC to DST, each checked against its digest and size on
    the way; digests are kept unless --platform writes a new index or DST's
    format needs new bytes (docker-archive). A failed copy leaves DST as it was
    (a registry's tag moves last). A SRC read in one pass (stdin, a pipe, a
    compressed or Docker archive) is staged in a temporary directory that is
    removed afterwards. store:NAME as SRC exports that image; as DST it imports
    SRC's one image under the name NAME.

    Referrers of the images (signatures, SBOMs) come along; --src-* and --dest-*
    are the registry options of each side, as skopeo copy names them.
    """
    check_transport_ref(src, "SRC", format_, ref)
    source_options = with_registry_options(src, "SRC", source_options, "src")
    dest_options = with_registry_options(dst, "DST", dest_options, "dest")
    check_platform_choice(platforms, all_platforms)
    check_output_choice(as_json, quiet)
    if dst == "-" and (as_json or quiet):
        raise click.UsageError(
            "--json and -q print on stdout, where 'copy ... -' writes"
        )
    if dst == "-" and sys.stdout.isatty():  # as export does
        raise click.UsageError(
            "refusing to write an archive to a terminal: redirect stdout or name a file"
        )
    from ociport.api import copy_image

    with (
        contextlib.ExitStack() as stack,
        progress_report(quiet_progress(progress_mode, quiet), "copy") as progress,
    ):
        store: ImageStore | None = None
        if dst.startswith(_STORE):
            store = stack.enter_context(ctx.new_store())
        elif src.startswith(_STORE):
            store = ctx.store
        result = copy_image(
            src,
            dst,
            format=format_,
            dest_format=dest_format,
            ref_name=ref,
            platforms=platforms,
            all_platforms=all_platforms,
            referrers=not no_referrers,
            oci_manifests=oci_manifests,
            extra_members=not skip_manifest_json,
            max_document=max_document,
            source_options=source_options,
            dest_options=dest_options,
            progress=progress,
            store=store,
        )
    warnings = []
    if result.missing:
        listed = ", ".join(describe_missing(d) for d, _ in result.missing)
        warnings.append(f"not in the source, left out: {listed}")
    if as_json:
        print_json(
            {
                "source": src,
                "destination": dst,
                "images": [entry_record(entry) for entry in result.entries],
                "referrers": [d.to_json() for d in result.referrers],
                "blobs": {"copied": result.blobs_copied, "bytes": result.bytes_copied},
                "missing": missing_records(result.missing),
                "notes": result.notes,
                "warnings": warnings,
            }
        )
        return
    for text in [*result.notes, *warnings]:
        note(f"note: {text}")
    if dst == "-":
        return
    for entry in result.entries:
        if quiet:
            click.echo(str(entry.digest))
        else:
            name = entry_record(entry)["name"] or "(unnamed)"
            click.echo(f"{name}\t{entry.digest}")
