"""The ``ociport`` command group, its context and the entry point.

Errors print one line, ``ociport: error: ...``, on stderr and exit 1 (``--debug`` shows the
traceback); usage errors exit 2.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any, NoReturn

import click

from ociport.api import ImageStore, open_store
from ociport.cli.options import key_values
from ociport.cli.output import note
from ociport.errors import OciportError, StoreNotFoundError

__all__ = ["CliContext", "cli", "main", "pass_ctx"]


class CliContext:
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
        note(f"created image store {store.content.location.url}")

    def _open(self, *, create: bool) -> ImageStore:
        if self._store is None:
            self._store = open_store(
                self.store_url, storage_options=self.options, create=create
            )
        return self._store


pass_ctx = click.make_pass_decorator(CliContext)


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
    callback=key_values,
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
    ctx.obj = CliContext(store_url, storage_options, debug)


def fail(message: str, debug: bool) -> NoReturn:
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
        fail("aborted", debug)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (OciportError, OSError, ImportError) as exc:
        fail(str(exc) or type(exc).__name__, debug)
    except Exception as exc:
        # (botocore's connection errors, for one); --debug shows where it came from.
        fail(f"{type(exc).__name__}: {exc}", debug)
    except KeyboardInterrupt:
        fail("interrupted", debug)
