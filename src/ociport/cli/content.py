"""``content ls|verify|gc``: the store's blobs."""

from __future__ import annotations

import json
import sys

import click

from ociport.cli.app import CliContext, cli, pass_ctx
from ociport.cli.options import (
    check_output_choice,
    duration,
    json_option,
    quiet_option,
)
from ociport.cli.output import note, print_json
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
@json_option
@quiet_option("Print nothing: the exit status says it.")
@pass_ctx
def content_verify(ctx: CliContext, as_json: bool, quiet: bool) -> None:
    """Re-hash every blob and check every named image is whole; exit 1 on a problem."""
    check_output_choice(as_json, quiet)
    problems = ctx.store.verify()
    incomplete = ctx.store.verify_images(digest for digest, _ in problems)
    if quiet:
        if problems or incomplete:
            sys.exit(1)
        return
    if as_json:
        print_json(
            {
                "ok": not problems and not incomplete,
                "corrupt": [
                    {"digest": str(digest), "problem": problem}
                    for digest, problem in problems
                ],
                "incomplete": [
                    {"name": name, "problem": problem} for name, problem in incomplete
                ],
            }
        )
    else:
        for digest, problem in problems:
            note(f"corrupt: {digest}: {problem}")
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
    if not as_json:
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
@json_option
@quiet_option("Print only the digests removed.")
@pass_ctx
def content_gc(
    ctx: CliContext, grace: float, dry_run: bool, as_json: bool, quiet: bool
) -> None:
    """Delete blobs that no named image reaches.

    Referrers (signatures, SBOMs, attestations) are kept while what they refer to
    is; those of images no longer named go, their index.json entries too.
    """
    check_output_choice(as_json, quiet)
    result = ctx.store.gc(grace=grace, dry_run=dry_run)
    if as_json:
        print_json(
            {
                "dryRun": dry_run,
                "removed": {
                    "blobs": [str(digest) for digest in result.removed],
                    "bytes": result.bytes_removed,
                    "ingests": result.ingests_removed,
                    "leases": result.leases_removed,
                    "referrers": result.referrers_removed,
                },
                "kept": {"young": result.kept_young, "leased": result.kept_leased},
            }
        )
        return
    for digest in result.removed:
        click.echo(str(digest))
    if quiet:
        return
    verb = "would remove" if dry_run else "removed"
    note(
        f"{verb} {len(result.removed)} blob(s), {result.bytes_removed} bytes, and "
        f"{result.ingests_removed} abandoned ingest file(s) and "
        f"{result.leases_removed} dead lease(s), {result.referrers_removed} "
        f"referrer(s) of images gone, aborted {result.uploads_aborted} "
        f"stale upload(s); kept {result.kept_young} younger "
        f"than the grace period and {result.kept_leased} held by running imports"
    )
