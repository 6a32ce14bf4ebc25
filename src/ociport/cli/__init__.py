"""The ``ociport`` command line (click), modelled on ``ctr images import/export`` and
skopeo: the group and entry point in :mod:`ociport.cli.app`, one module per family of
commands (importing these registers them)."""

from __future__ import annotations

from ociport.cli import content, images, plugin_list, transfer
from ociport.cli.app import main

__all__ = ["content", "images", "main", "plugin_list", "transfer"]
