"""Fake installed distributions for plugin tests, in the manner of pluggy's own tests.

A :class:`FakeDistribution` is a real :class:`importlib.metadata.Distribution` whose
metadata files are served from memory, so entry-point parsing, ``ep.load()`` and the
distribution name lookups run unchanged; only what is "installed" is made up.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUP = "ociport"


class FakeDistribution(importlib.metadata.Distribution):
    """A distribution named ``name`` whose ``ociport`` entry points are ``entry_points``
    (entry-point name -> ``module[:attr]``)."""

    def __init__(
        self, name: str, version: str, entry_points: Mapping[str, str]
    ) -> None:
        lines = [
            f"[{GROUP}]",
            *(f"{ep} = {value}" for ep, value in entry_points.items()),
        ]
        self._files = {
            "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            "entry_points.txt": "\n".join(lines) + "\n",
        }

    def read_text(self, filename: str) -> str | None:
        """The metadata file ``filename``, or ``None`` as for a missing file."""
        return self._files.get(filename)

    def locate_file(self, path: str | Path) -> Path:
        """Never used for these distributions; required by the ABC."""
        return Path("/nonexistent") / path


def builtin_entry_points() -> dict[str, str]:
    """The ``ociport`` entry points that ociport's own ``pyproject.toml`` declares."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(doc["project"]["entry-points"][GROUP])


def ociport_distribution() -> FakeDistribution:
    """ociport itself, with the entry points its ``pyproject.toml`` declares."""
    return FakeDistribution("ociport", "0.1.0", builtin_entry_points())


def sample_distribution() -> FakeDistribution:
    """The stub third-party distribution shipping ``sample_plugin``."""
    return FakeDistribution(
        "ociport-sample", "0.3.0", {"sample-archive": "sample_plugin"}
    )


def install(monkeypatch: pytest.MonkeyPatch, dists: Iterable[FakeDistribution]) -> None:
    """Make ``dists`` the only installed distributions, and clear the plugin settings
    that come from the environment."""
    installed = list(dists)
    monkeypatch.setattr(
        importlib.metadata, "distributions", lambda **_: iter(installed)
    )
    monkeypatch.delenv("OCIPORT_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("OCIPORT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
