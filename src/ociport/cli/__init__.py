"""The ``ociport`` command line (click), modelled on ``ctr images import/export`` and
skopeo: the group and entry point in :mod:`ociport.cli.app`, one module per family of
commands (:mod:`~ociport.cli.transfer`, :mod:`~ociport.cli.copy`,
:mod:`~ociport.cli.images`, :mod:`~ociport.cli.content`,
:mod:`~ociport.cli.plugin_list`, :mod:`~ociport.cli.completion`), each imported when
one of its commands is first asked for."""

from __future__ import annotations

from ociport.cli.app import cli, main

__all__ = ["cli", "main"]
