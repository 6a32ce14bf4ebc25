"""``import``, ``export`` and ``inspect``: moving images in and out of the store."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ociport.cli.app import CliContext, cli, pass_ctx
from ociport.cli.options import (
    check_output_choice,
    check_platform_choice,
    check_transport_ref,
    dest_option,
    json_option,
    max_document_option,
    platforms_callback,
    progress_option,
    quiet_option,
    registry_options,
    source_option,
    with_registry_options,
)
from ociport.cli.output import (
    describe_missing,
    entry_record,
    image_record,
    missing_records,
    note,
    print_json,
)
from ociport.cli.progress import ProgressMode, progress_report, quiet_progress

__all__ = ["export", "import_", "inspect_"]


def _given(parameter: str) -> bool:
    """Whether the current command's ``parameter`` was given on the command line."""
    source = click.get_current_context().get_parameter_source(parameter)
    return source is click.core.ParameterSource.COMMANDLINE


@cli.command("import")
@click.argument("source")
@click.option(
    "--format",
    "format_",
    metavar="NAME",
    help="Source format [default: SOURCE's transport, else detected].",
)
@click.option(
    "--ref",
    metavar="REF",
    help=(
        "Import only the image with this ref name or image name, as SOURCE:REF does "
        "(the names of the others are listed when none has it)."
    ),
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
    callback=platforms_callback,
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
@click.option(
    "--no-referrers",
    is_flag=True,
    help=(
        "Leave out the images' referrers (signatures, SBOMs, attestations) "
        "[default: import them]."
    ),
)
@max_document_option
@source_option
@registry_options
@json_option
@quiet_option("Print only the names of the images imported; no progress.")
@progress_option
@pass_ctx
def import_(
    ctx: CliContext,
    source: str,
    format_: str | None,
    ref: str | None,
    base_name: str | None,
    digests: bool,
    skip_digest_for_named: bool,
    index_name: str | None,
    platforms: tuple[str, ...],
    all_platforms: bool,
    oci_manifests: bool,
    no_referrers: bool,
    max_document: int,
    source_options: dict[str, Any],
    as_json: bool,
    quiet: bool,
    progress_mode: ProgressMode,
) -> None:
    """Import the images of an archive or layout.

    \b
    SOURCE is a path, an fsspec URL (s3://bucket/a.tar), - for stdin, or
    TRANSPORT:PATH[:REF] as skopeo takes it, with a format as TRANSPORT:
      oci-archive:a.tar  oci-archive:a.tar:v1  oci:DIR:example.com/app:v1
      docker-archive:a.tar  oci-archive:s3://bucket/a.tar:v1
    TRANSPORT chooses the format; :REF takes only that image, as --ref does.

    The referrers of the images come along (manifests whose subject is in an
    image, or tagged sha256-<hex>.sig/.att/.sbom as cosign does), whether
    index.json lists them or not; 'images referrers' lists them.
    """
    check_transport_ref(source, "SOURCE", format_, ref)
    source_options = with_registry_options(source, "SOURCE", source_options)
    check_platform_choice(platforms, all_platforms)
    if skip_digest_for_named and not digests:
        raise click.UsageError("--skip-digest-for-named goes with --digests")
    check_output_choice(as_json, quiet)
    from ociport.engine.naming import ImportNaming, default_base_name

    naming = ImportNaming(
        base_name or default_base_name(), digests, skip_digest_for_named
    )
    if source == "-" and _is_terminal(sys.stdin):
        note("waiting for an archive on stdin (pipe one in: ... | ociport import -)")
    with (
        ctx.new_store() as store,
        progress_report(quiet_progress(progress_mode, quiet), "import") as progress,
    ):
        result = store.import_image(
            source,
            format=format_,
            ref_name=ref,
            naming=naming,
            platforms=platforms,
            all_platforms=all_platforms,
            index_name=index_name,
            max_document=max_document,
            oci_manifests=oci_manifests,
            storage_options=source_options,
            progress=progress,
            referrers=not no_referrers,
        )
    warnings = []
    if result.missing:
        listed = ", ".join(describe_missing(d) for d, _ in result.missing)
        warnings.append(f"not in the source, skipped: {listed}")
    if as_json:
        print_json(
            {
                "images": [image_record(i.name, i.target) for i in result.images],
                "referrers": [d.to_json() for d in result.referrers],
                "blobs": {
                    "committed": result.blobs_committed,
                    "bytes": result.bytes_committed,
                },
                "missing": missing_records(result.missing),
                "notes": result.notes,
                "warnings": warnings,
            }
        )
        return
    for text in [*result.notes, *warnings]:
        note(f"note: {text}")
    if result.referrers:
        note(
            f"note: {len(result.referrers)} referrer(s) (signatures, SBOMs, "
            "attestations) imported; 'ociport images referrers NAME' lists them"
        )
    for image in result.images:
        click.echo(image.name if quiet else f"{image.name}\t{image.target.digest}")


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@cli.command("export")
@click.argument("dest")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--format",
    "format_",
    metavar="NAME",
    help="Archive format [default: DEST's transport, else oci-archive].",
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
    callback=platforms_callback,
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
    "--no-referrers",
    is_flag=True,
    help=(
        "Leave out the images' referrers (signatures, SBOMs, attestations) "
        "[default: write them as unnamed index.json entries]."
    ),
)
@click.option(
    "--artifact-type",
    "artifact_types",
    multiple=True,
    metavar="TYPE",
    help="Only referrers of this artifact type (repeatable); theirs come along.",
)
@dest_option
@registry_options
@json_option
@quiet_option("Print only the ref names written (nothing for DEST -); no progress.")
@progress_option
@pass_ctx
def export(
    ctx: CliContext,
    dest: str,
    names: tuple[str, ...],
    format_: str | None,
    ref_name_style: str,
    platforms: tuple[str, ...],
    all_platforms: bool,
    keep_index: bool,
    skip_non_distributable: bool,
    skip_manifest_json: bool,
    no_referrers: bool,
    artifact_types: tuple[str, ...],
    dest_options: dict[str, Any],
    as_json: bool,
    quiet: bool,
    progress_mode: ProgressMode,
) -> None:
    """Export images to DEST.

    \b
    DEST is a path, an fsspec URL (s3://bucket/out.tar), - for stdout, or
    TRANSPORT:PATH[:REF] as skopeo takes it, with a format as TRANSPORT:
      oci-archive:out.tar  oci:DIR:v2  docker-archive:out.tar:example.com/app:v2
      oci-archive:s3://bucket/out.tar:example.com/app:v2
    TRANSPORT chooses the format; :REF is the name of the one image exported
    (its org.opencontainers.image.ref.name, as written).

    The referrers of what is exported (signatures, SBOMs, attestations of the
    images and of the platforms kept) are written as unnamed index.json entries,
    as oras and containerd read them; docker-archive cannot hold them (a note
    says so).
    """
    ref = check_transport_ref(dest, "DEST", format_)
    dest_options = with_registry_options(dest, "DEST", dest_options)
    if ref is not None and _given("ref_name_style"):
        raise click.UsageError(f"--ref-name does not apply to DEST's :{ref}")
    check_platform_choice(platforms, all_platforms)
    if keep_index and not platforms:
        raise click.UsageError("--keep-index goes with --platform")
    if no_referrers and artifact_types:
        raise click.UsageError("--artifact-type and --no-referrers exclude each other")
    check_output_choice(as_json, quiet)
    if as_json and dest == "-":
        raise click.UsageError("--json prints on stdout, where 'export -' writes")
    if dest == "-" and sys.stdout.isatty():  # as docker save does
        raise click.UsageError(
            "refusing to write an archive to a terminal: redirect stdout or name a file"
        )
    with progress_report(quiet_progress(progress_mode, quiet), "export") as progress:
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
            referrers=not no_referrers,
            artifact_types=artifact_types,
        )
    warnings = []
    if result.missing:
        listed = ", ".join(describe_missing(d) for d, _ in result.missing)
        warnings.append(f"not in the store, left out (partial image): {listed}")
    if as_json:
        print_json(
            {
                "destination": dest,
                "images": [entry_record(entry) for entry in result.entries],
                "referrers": [d.to_json() for d in result.referrers],
                "blobs": {
                    "exported": result.blobs_exported,
                    "bytes": result.bytes_exported,
                },
                "missing": missing_records(result.missing),
                "notes": result.notes,
                "warnings": warnings,
            }
        )
        return
    for text in [*result.notes, *warnings]:
        note(f"note: {text}")
    if quiet and dest != "-":
        for entry in result.entries:
            click.echo(entry.ref_name or "")


@cli.command("inspect")
@click.argument("source")
@click.option(
    "--format", "format_", metavar="NAME", help="Source format (default: detected)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@max_document_option
@source_option
@registry_options
def inspect_(
    source: str,
    format_: str | None,
    as_json: bool,
    max_document: int,
    source_options: dict[str, Any],
) -> None:
    """Describe the images of an archive or layout without importing them.

    SOURCE is given as to import, TRANSPORT:PATH[:REF] too (:REF describes only that
    image). Referrers the source lists (signatures, SBOMs) are marked with the
    digest they refer to.
    """
    check_transport_ref(source, "SOURCE", format_)
    source_options = with_registry_options(source, "SOURCE", source_options)
    from ociport.api import inspect_source
    from ociport.oci.descriptor import Platform

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
        if "subject" in record:
            names += f" (referrer of {record['subject']})"
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
