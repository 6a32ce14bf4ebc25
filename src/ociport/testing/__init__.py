"""Test support shipped for plugin authors: conformance suites, factories, fixtures.

Needs pytest (``pip install ociport[test]``). Importing this package registers its
modules for pytest's assertion rewriting, so suite failures show compared values.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite(
    "ociport.testing.content_suite", "ociport.testing.driver_suite"
)

from ociport.testing.conformance import (  # noqa: E402
    ContentStoreSuite,
    ImageDriverSuite,
    new_targets,
    store_state,
)
from ociport.testing.factories import (  # noqa: E402
    attach_artifact,
    layer_tar,
    name_image,
    random_image,
)

__all__ = [
    "ContentStoreSuite",
    "ImageDriverSuite",
    "attach_artifact",
    "layer_tar",
    "name_image",
    "new_targets",
    "random_image",
    "store_state",
]
