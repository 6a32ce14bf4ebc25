"""The ``ociport`` command group, its context and the entry point.

Errors print one line, ``ociport: error: ...``, on stderr and exit 1 (``--debug`` shows the
traceback); usage errors exit 2.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, NoReturn

import click

from ociport.cli.options import key_values
from ociport.cli.output import note
from ociport.errors import OciportError, StoreNotFoundError

if TYPE_CHECKING:
    from ociport.api import ImageStore

__all__ = ["CliContext", "cli", "fail", "main", "pass_ctx"]

#: The exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it.
_INTERRUPTED: Final = 130


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: ociport's version, then each plugin distribution's."""
    if not value or ctx.resilient_parsing:
        return
    import importlib.metadata

    from ociport.plugins import get_plugin_manager, list_plugins

    click.echo(f"ociport {importlib.metadata.version('ociport')}")
    seen = {"ociport"}  # the built-ins
    for plugin in list_plugins(get_plugin_manager()):
        if plugin.distribution and plugin.distribution not in seen:
            seen.add(plugin.distribution)
            click.echo(f"  {plugin.distribution} {plugin.version}  ({plugin.name})")
    ctx.exit()


class CliContext:
    """What every command shares: the store (opened once, when first needed), its
    storage options and ``--debug``."""

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
        except BaseException as exc:
            from ociport.streams.storage_errors import is_unresponsive

            if not is_unresponsive(exc):  # else removing would wait as long again
                with contextlib.suppress(Exception):
                    getattr(store.content, "remove_if_unused", lambda: None)()
            raise
        note(f"created image store {store.content.location.url}")

    def existing_store(self) -> ImageStore | None:
        """The store; ``None`` when the default store does not exist yet (nothing was
        imported: listings are simply empty).

        :raises StoreNotFoundError: a store named with ``--store`` or
            ``OCIPORT_STORE`` does not exist (a typo must not look like an empty store).
        """
        try:
            return self.store
        except StoreNotFoundError:
            if self.store_url is not None:
                raise
            return None

    def _open(self, *, create: bool) -> ImageStore:
        if self._store is None:
            # Imported here, like every heavy module of a command: short commands start
            # fast (bench/README.md, start-up).
            from ociport.api import open_store

            self._store = open_store(
                self.store_url, storage_options=self.options, create=create
            )
        return self._store


pass_ctx = click.make_pass_decorator(CliContext)


#: The built-in commands, each with the module of :mod:`ociport.cli` that defines it
#: (imported when the command is first asked for: a command loads only its own module).
_BUILTIN: Final = {
    "completion": "completion",
    "content": "content",
    "convert": "images",
    "copy": "copy",
    "export": "transfer",
    "images": "images",
    "import": "transfer",
    "inspect": "transfer",
    "plugins": "plugin_list",
}
#: Built-in commands that take no ``--store`` after their name (they use no store).
_STORELESS: Final = frozenset({"completion", "inspect", "plugins"})


class _CommandLine(click.Group):
    """The built-in commands, each module imported when one of its commands is first
    asked for, and those plugins add (:func:`~ociport.hookspecs.ociport_cli_commands`),
    collected only when a name is not a built-in one or the whole list is wanted
    (``--help``, completion): a built-in command loads no plugin for it."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _BUILTIN.get(cmd_name)
        if module is not None:
            self._load(module)
        command = super().get_command(ctx, cmd_name)
        if command is not None or module is not None:
            return command
        return self._plugin_commands().get(cmd_name)

    def _load(self, module: str) -> None:
        """Import ``ociport.cli.<module>`` (its commands register themselves) and give
        them ``--store``/``--storage-option`` after their name."""
        import importlib

        known = set(self.commands)
        importlib.import_module(f"ociport.cli.{module}")
        for name in self.commands.keys() - known - _STORELESS:
            _add_store_options(self.commands[name])

    def list_commands(self, ctx: click.Context) -> list[str]:
        builtin = sorted(_BUILTIN)
        try:
            added = self._plugin_commands()
        except (OciportError, ImportError) as exc:
            # The built-ins stay listed; running a plugin's command shows the error.
            note(f"commands of plugins not listed: {exc}")
            added = {}
        return sorted({*builtin, *added})

    def _plugin_commands(self) -> dict[str, click.Command]:
        from ociport.plugins import get_plugin_manager, plugin_commands

        return plugin_commands(get_plugin_manager(), reserved=_BUILTIN)


@click.group(cls=_CommandLine, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log what happens on stderr (-vv: debug detail), plugins' logs included.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and the installed plugins, and exit.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    store_url: str | None,
    storage_options: dict[str, Any],
    verbose: int,
    debug: bool,
) -> None:
    """Move container images between OCI/Docker archives, layouts and an OCI content
    store (local, NFS, S3): `ctr images import/export` and `skopeo copy` for stores."""
    if verbose:
        import logging

        logging.basicConfig(
            stream=sys.stderr,
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="ociport: %(name)s: %(message)s",
        )
    ctx.obj = CliContext(store_url, storage_options, debug)


def _set_store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """``--store``/``--storage-option`` given after the subcommand."""
    if not value:
        return
    state = ctx.find_object(CliContext)
    assert state is not None
    if param.name == "store_url":
        state.store_url = value
    else:
        state.options = {**state.options, **value}


def _add_store_options(command: click.Command) -> None:
    """Accept ``--store`` and ``--storage-option`` after ``command`` too (``ociport
    import --store S ...``); for a group, after each of its subcommands."""
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            _add_store_options(subcommand)
        return
    command.params.append(
        click.Option(
            ["--store", "store_url"],
            metavar="URL|NAME",
            expose_value=False,
            callback=_set_store,
            help="Store root (as before the command).",
        )
    )
    command.params.append(
        click.Option(
            ["--storage-option", "storage_options"],
            multiple=True,
            metavar="KEY=VALUE",
            expose_value=False,
            callback=lambda c, p, v: _set_store(c, p, key_values(c, p, v)),
            help="fsspec option for the store (as before the command).",
        )
    )


def fail(message: str, debug: bool, status: int = 1) -> NoReturn:
    """Print ``ociport: error: MESSAGE`` (and the traceback with ``--debug``) and exit."""
    if debug:
        import traceback

        traceback.print_exc()
    click.echo(f"ociport: error: {message}", err=True)
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exit status 0 on success, 1 on errors, 2 on usage errors, 130 when
    interrupted (Ctrl-C: what was being imported is discarded, the store stays valid)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="ociport", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            fail("interrupted", debug, _INTERRUPTED)
        fail("aborted", debug)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (OciportError, OSError, ImportError) as exc:
        fail(str(exc) or type(exc).__name__, debug)
    except Exception as exc:
        # (a library's own error that no layer translated); --debug shows where.
        fail(
            f"unexpected error: {exc or type(exc).__name__} (--debug shows where)",
            debug,
        )
    except KeyboardInterrupt:
        fail("interrupted", debug, _INTERRUPTED)
