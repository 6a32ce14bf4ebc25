"""An example ociport plugin: the ``oci-zip`` format, an OCI image layout in a ZIP file.

Installing this distribution registers the format through the ``ociport`` entry-point
group (see ``plugin.py``); the driver is in ``driver.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ociport_zip_archive.driver import ZipArchiveDriver

__all__ = ["ZipArchiveDriver"]


def __getattr__(name: str) -> Any:
    """``ZipArchiveDriver`` on first use: the package is imported at every start-up (its
    plugin module is an entry point), the driver only when a command needs it."""
    if name == "ZipArchiveDriver":
        return importlib.import_module("ociport_zip_archive.driver").ZipArchiveDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
