"""The ``ociport`` command line (click): commands in :mod:`ociport.cli.commands`."""

from __future__ import annotations

from ociport.cli.commands import main

__all__ = ["main"]
