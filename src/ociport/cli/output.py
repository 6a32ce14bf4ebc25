"""What the command line prints besides results: notes on stderr, progress bars."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click

from ociport.content.helpers import ProgressCallback
from ociport.oci.descriptor import Descriptor

__all__ = ["describe_missing", "note", "progress_bar"]


def note(message: str) -> None:
    """Print ``ociport: MESSAGE`` on stderr."""
    click.echo(f"ociport: {message}", err=True)


@contextlib.contextmanager
def progress_bar(
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


def describe_missing(desc: Descriptor) -> str:
    """A short digest with its platform, for notes."""
    platform = f" ({desc.platform})" if desc.platform else ""
    return f"{desc.digest.short}{platform}"
