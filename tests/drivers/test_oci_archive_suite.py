"""The oci-archive driver against the shared ImageDriverSuite, to files and streams."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ociport.drivers.oci_archive import OciArchiveDriver
from ociport.testing import ImageDriverSuite
from ociport.testing.conformance import Target, new_targets


class TestOciArchiveDriverSuite(ImageDriverSuite):
    @pytest.fixture
    def driver_cls(self) -> type[OciArchiveDriver]:
        return OciArchiveDriver

    @pytest.fixture(params=["path", "stream"])
    def target_factory(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Callable[[], Target]:
        return new_targets(request.param, tmp_path, ".tar")
