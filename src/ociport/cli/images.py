"""``images ls|inspect|tag|rm|referrers`` and ``convert``: the store's named images."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from ociport.cli.app import CliContext, cli, pass_ctx
from ociport.cli.output import human_size, note

if TYPE_CHECKING:
    from ociport.engine.convert import ManifestFormat

__all__ = ["convert", "images"]


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
    ctx: CliContext,
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
        note(
            f"layer {change.before.digest.short}: {change.reason}: "
            f"{change.before.media_type} -> {change.after.media_type}"
        )
    click.echo(f"{new_name}\t{result.root.digest}")


@cli.group()
def images() -> None:
    """List, inspect, tag and remove named images; list their referrers."""


@images.command("ls")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("-q", "--quiet", is_flag=True, help="Names only.")
@pass_ctx
def images_ls(ctx: CliContext, as_json: bool, quiet: bool) -> None:
    """List named images: digest, media type, total size and platforms.

    SIZE is the image's manifest, config and layers, or for an index everything it
    holds (each blob once); --json gives it in bytes as totalSize.
    """
    store = ctx.existing_store()
    found = store.images() if store is not None else []  # the default store: empty
    if quiet:
        for image in found:
            click.echo(image.name)
        return
    summaries = [store.summarize(i) for i in found] if store is not None else []
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": i.name,
                        **i.target.to_json(),
                        "totalSize": summary.size,
                        "platforms": list(summary.platforms),
                    }
                    for i, summary in zip(found, summaries, strict=True)
                ],
                indent=2,
            )
        )
        return
    rows = [("NAME", "DIGEST", "MEDIA TYPE", "SIZE", "PLATFORMS")]
    rows += [
        (
            i.name,
            str(i.target.digest),
            i.target.media_type,
            human_size(summary.size),
            ",".join(summary.platforms) or "-",
        )
        for i, summary in zip(found, summaries, strict=True)
    ]
    width = [max(len(r[c]) for r in rows) for c in range(4)]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width[c]) for c, cell in enumerate(row[:4]))
            + "  "
            + row[4]
        )


@images.command("inspect")
@click.argument("name")
@pass_ctx
def images_inspect(ctx: CliContext, name: str) -> None:
    """Show an image's descriptor, manifests, platforms and size as JSON."""
    click.echo(json.dumps(ctx.store.inspect(name), indent=2))


@images.command("tag")
@click.argument("name")
@click.argument("new_name")
@pass_ctx
def images_tag(ctx: CliContext, name: str, new_name: str) -> None:
    """Give image NAME the further name NEW_NAME."""
    ctx.store.tag(name, new_name)


@images.command("rm")
@click.argument("names", nargs=-1, required=True)
@pass_ctx
def images_rm(ctx: CliContext, names: tuple[str, ...]) -> None:
    """Remove image names (blobs stay until 'content gc')."""
    for name in ctx.store.remove(names):
        click.echo(name)


@images.command("referrers")
@click.argument("name")
@click.option(
    "--artifact-type",
    "artifact_types",
    multiple=True,
    metavar="TYPE",
    help="Only referrers of this artifact type (repeatable).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The image index the OCI referrers API answers with.",
)
@pass_ctx
def images_referrers(
    ctx: CliContext, name: str, artifact_types: tuple[str, ...], as_json: bool
) -> None:
    """List the referrers (signatures, SBOMs, attestations) of image NAME.

    \b
    NAME is an image name, or the digest of any manifest in the store
    (sha256:...: the signatures of an SBOM are the SBOM's referrers).
    Lists digest, artifact type, size in bytes and annotations of each manifest
    whose subject is NAME's manifest or index, as the distribution-spec's
    referrers API does; --json prints the image index that API answers with.
    """
    from ociport.oci.referrers import referrers_index

    found = ctx.store.referrers(name, artifact_types=artifact_types)
    if as_json:
        index = referrers_index(found, artifact_types)
        click.echo(json.dumps(json.loads(index.raw), indent=2))
        return
    for desc in found:
        annotations = ",".join(f"{k}={v}" for k, v in sorted(desc.annotations.items()))
        click.echo(
            f"{desc.digest}\t{desc.artifact_type or '-'}\t{desc.size}\t{annotations}"
        )
