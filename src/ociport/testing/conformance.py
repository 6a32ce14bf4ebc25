"""The conformance suites, in one import: subclass them to test a store or a driver.

Modelled on fsspec's ``tests/abstract`` and containerd's content ``testsuite``: a plugin
author subclasses a suite in a ``Test*`` class and supplies its fixtures::

    import pytest

    from ociport.testing.conformance import (
        ContentStoreSuite,
        ImageDriverSuite,
        new_targets,
    )


    class TestMyContentStore(ContentStoreSuite):
        @pytest.fixture
        def content_store(self):
            return MyContentStore(...)  # empty


    class TestMyDriver(ImageDriverSuite):
        @pytest.fixture
        def driver_cls(self):
            return MyDriver

        @pytest.fixture(params=["path", "stream"])
        def target_factory(self, request, tmp_path):
            return new_targets(request.param, tmp_path, ".tar")

Hook methods (:meth:`ContentStoreSuite.tamper_blob`,
:meth:`ImageDriverSuite.tamper_target`, :meth:`ImageDriverSuite.truncate_target`) let a
backend with its own storage format take part in the corruption tests, and
``content_store_factory`` on :class:`ImageDriverSuite` may be overridden to run the
driver against another store.
"""

from __future__ import annotations

from ociport.testing.content_suite import ContentStoreSuite
from ociport.testing.driver_suite import (
    Exported,
    ImageDriverSuite,
    Target,
    new_targets,
)
from ociport.testing.stores import store_state, tamper_layout_blob

__all__ = [
    "ContentStoreSuite",
    "Exported",
    "ImageDriverSuite",
    "Target",
    "new_targets",
    "store_state",
    "tamper_layout_blob",
]
