"""The plugin toolkit: a declared, sorted surface, and the plugins in plugins/ (Docker
archives, registries) use nothing else."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from helpers import ROOT
from ociport.drivers import kit

PLUGINS = [
    ROOT / "plugins" / "ociport-docker-archive",
    ROOT / "plugins" / "ociport-registry",
]


def test_all_is_sorted_unique_and_importable() -> None:
    assert kit.__all__ == sorted(set(kit.__all__))
    for name in kit.__all__:
        assert getattr(kit, name) is not None, name


def test_kit_offers_the_contract_and_the_tar_and_layout_helpers() -> None:
    assert {
        "ImageDriver",
        "ImageSource",
        "SourceContext",
        "ExportPlan",
        "StagingArea",
        "TarWriter",
        "iter_members",
        "index_members",
        "blob_member_digest",
        "add_blob_member",
        "walk_image",
        "FormatError",
    } <= set(kit.__all__)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_plugins_import_only_the_kit_and_the_public_api(plugin: Path) -> None:
    sources = sorted((plugin / "src").rglob("*.py"))
    assert sources
    for path in sources:
        ours = {m for m in _imported_modules(path) if m.split(".")[0] == "ociport"}
        assert ours <= {"ociport", "ociport.drivers.kit"}, path


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_plugins_pin_a_compatible_core_and_ship_types(plugin: Path) -> None:
    project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    [core] = [d for d in project["dependencies"] if d.startswith("ociport")]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    major, minor = version.split(".")[:2]
    assert f">={major}.{minor}" in core and f"<{major}.{int(minor) + 1}" in core
    package = project["name"].replace("-", "_")
    assert (plugin / "src" / package / "py.typed").is_file()
