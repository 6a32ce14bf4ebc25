"""``completion bash|zsh|fish``: a shell completion script (click's shell completion)."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from ociport.cli.app import cli

__all__ = ["completion"]

#: The environment variable click's completion protocol uses for the ``ociport`` program.
COMPLETE_VAR = "_OCIPORT_COMPLETE"


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print a completion script for SHELL.

    \b
    bash:  eval "$(ociport completion bash)"   (in ~/.bashrc)
    zsh:   eval "$(ociport completion zsh)"    (in ~/.zshrc)
    fish:  ociport completion fish > ~/.config/fish/completions/ociport.fish
    """
    script_class = get_completion_class(shell)
    assert script_class is not None  # click knows the three choices
    click.echo(script_class(cli, {}, "ociport", COMPLETE_VAR).source())
