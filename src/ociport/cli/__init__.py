"""The ``ociport`` command line (click), modelled on ``ctr images import/export`` and
skopeo: the group and entry point in :mod:`ociport.cli.app`, one module per family of
commands (importing these registers them)."""

from __future__ import annotations

from ociport.cli import completion, content, copy, images, plugin_list, transfer
from ociport.cli.app import add_store_options, cli, main

# Commands that use a store take --store and --storage-option after their name too.
add_store_options(cli, skip=("completion", "inspect", "plugins"))

__all__ = [
    "completion",
    "content",
    "copy",
    "images",
    "main",
    "plugin_list",
    "transfer",
]
