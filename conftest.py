"""The repository's test configuration, loaded for every test directory (tests/, the
plugins' and the examples' tests): the image fixtures of ``tests/fixtures``, and a
private entry-point cache for each test.

Before collection, the tool fixtures are generated into ``.fixtures/tool-<hash>/`` unless a
complete set made by the same scripts is there; tests that read the optional external
corpus (``../shared/fixtures/public``) are marked ``corpus`` and skipped when it is
absent. See ``tests/fixtures/ociport_fixtures.py``.
"""

from __future__ import annotations

from pathlib import Path

import ociport_fixtures
import pytest


def pytest_configure(config: pytest.Config) -> None:
    ociport_fixtures.install(config)


@pytest.fixture(autouse=True)
def private_entry_point_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``XDG_CACHE_HOME`` of the test and its subprocesses: a directory of its own, so
    that the entry-point cache (:mod:`ociport.entrypoints`) starts empty, follows the
    distributions a test fakes, and never reaches the user's own cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
