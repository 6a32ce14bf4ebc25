"""``content ls|verify|gc``: the store's blobs."""

from __future__ import annotations

import json

import click

from ociport.cli.app import CliContext, cli, pass_ctx
from ociport.cli.options import duration
from ociport.cli.output import note
from ociport.errors import OciportError

__all__ = ["content"]


@cli.group()
def content() -> None:
    """List, verify and garbage-collect blobs."""


@content.command("ls")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_ctx
def content_ls(ctx: CliContext, as_json: bool) -> None:
    """List every blob with its size."""
    store = ctx.existing_store()
    walked = store.content.walk() if store is not None else ()
    infos = sorted(walked, key=lambda i: str(i.digest))
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
def content_verify(ctx: CliContext) -> None:
    """Re-hash every blob and check every named image is whole; exit 1 on a problem."""
    problems = ctx.store.verify()
    for digest, problem in problems:
        note(f"corrupt: {digest}: {problem}")
    incomplete = ctx.store.verify_images(digest for digest, _ in problems)
    for name, problem in incomplete:
        note(f"incomplete: {name}: {problem}")
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
    callback=duration,
    help="Keep unreferenced blobs younger than this (seconds, or 30m, 1h, 2d).",
)
@click.option("--dry-run", is_flag=True, help="List what would be removed.")
@pass_ctx
def content_gc(ctx: CliContext, grace: float, dry_run: bool) -> None:
    """Delete blobs that no named image reaches."""
    result = ctx.store.gc(grace=grace, dry_run=dry_run)
    for digest in result.removed:
        click.echo(str(digest))
    verb = "would remove" if dry_run else "removed"
    note(
        f"{verb} {len(result.removed)} blob(s), {result.bytes_removed} bytes, and "
        f"{result.ingests_removed} abandoned ingest file(s) and "
        f"{result.leases_removed} dead lease(s); kept {result.kept_young} younger "
        f"than the grace period and {result.kept_leased} held by running imports"
    )
