"""The oci-archive driver against the shared ImageDriverSuite, to files and streams."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from ociport.drivers.oci_archive import OciArchiveDriver
from ociport.streams.location import Location
from ociport.testing import ImageDriverSuite
from ociport.testing.conformance import Target


class TestOciArchiveDriverSuite(ImageDriverSuite):
    @pytest.fixture
    def driver_cls(self) -> type[OciArchiveDriver]:
        return OciArchiveDriver

    @pytest.fixture(params=["path", "stream"])
    def target_factory(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Callable[[], Target]:
        counter = itertools.count()
        if request.param == "stream":
            return io.BytesIO
        return lambda: Location.from_url(str(tmp_path / f"export-{next(counter)}.tar"))
