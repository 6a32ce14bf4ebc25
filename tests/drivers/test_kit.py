"""The plugin toolkit: a declared, sorted surface, and the Docker plugin uses nothing else."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from helpers import ROOT
from ociport.drivers import kit

DOCKER_PLUGIN = ROOT / "plugins" / "ociport-docker-archive"


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


def test_docker_plugin_imports_only_the_kit_and_the_public_api() -> None:
    sources = sorted((DOCKER_PLUGIN / "src").rglob("*.py"))
    assert sources
    for path in sources:
        ours = {m for m in _imported_modules(path) if m.split(".")[0] == "ociport"}
        assert ours <= {"ociport", "ociport.drivers.kit"}, path


def test_docker_plugin_pins_a_compatible_core_and_ships_types() -> None:
    project = tomllib.loads((DOCKER_PLUGIN / "pyproject.toml").read_text())["project"]
    [core] = [d for d in project["dependencies"] if d.startswith("ociport")]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    major, minor = version.split(".")[:2]
    assert f">={major}.{minor}" in core and f"<{major}.{int(minor) + 1}" in core
    assert (DOCKER_PLUGIN / "src" / "ociport_docker_archive" / "py.typed").is_file()
