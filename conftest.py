"""The repository's test configuration, loaded for every test directory (tests/, the
plugins' and the examples' tests): the image fixtures of ``tests/fixtures``.

Before collection, the tool fixtures are generated into ``.fixtures/tool-<hash>/`` unless a
complete set made by the same scripts is there; tests that read the optional external
corpus (``../shared/fixtures/public``) are marked ``corpus`` and skipped when it is
absent. See ``tests/fixtures/ociport_fixtures.py``.
"""

from __future__ import annotations

import ociport_fixtures
import pytest


def pytest_configure(config: pytest.Config) -> None:
    ociport_fixtures.install(config)
