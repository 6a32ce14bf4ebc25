"""An example ociport plugin: the ``oci-zip`` format, an OCI image layout in a ZIP file.

Installing this distribution registers the format through the ``ociport`` entry-point
group (see ``plugin.py``); the driver is in ``driver.py``.
"""

from __future__ import annotations

from ociport_zip_archive.driver import ZipArchiveDriver

__all__ = ["ZipArchiveDriver"]
