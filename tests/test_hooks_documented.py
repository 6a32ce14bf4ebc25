"""Every hook spec and each of its arguments is documented in docs/hooks.md; the page's
example plugin is real code that loads and works."""

from __future__ import annotations

import inspect
import io
import logging
import re
import sys
import tarfile
import types

import pytest

import ociport
from helpers import ROOT
from ociport import hookspecs

HOOKS_MD = ROOT / "docs" / "hooks.md"


def _specs() -> dict[str, list[str]]:
    """Hook name -> argument names, read from the hookspec module."""
    found = {}
    for name, function in vars(hookspecs).items():
        if name.startswith("ociport_") and hasattr(function, "ociport_spec"):
            found[name] = list(inspect.signature(function).parameters)
    return found


def _sections() -> dict[str, tuple[list[str], str]]:
    """Hook name -> (arguments in its heading, section text), from docs/hooks.md."""
    text = HOOKS_MD.read_text(encoding="utf-8")
    parts = re.split(r"^### (ociport_\w+)\(([^)]*)\)\s*$", text, flags=re.MULTILINE)
    sections = {}
    for name, args, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        body = re.split(r"^#{1,3} ", body, maxsplit=1, flags=re.MULTILINE)[0]
        sections[name] = ([a.strip() for a in args.split(",") if a.strip()], body)
    return sections


def _code_blocks(language: str) -> list[str]:
    text = HOOKS_MD.read_text(encoding="utf-8")
    return re.findall(
        rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL
    )


def test_there_are_hooks_to_document() -> None:
    assert {"ociport_register_drivers", "ociport_open_content_store"} <= set(_specs())


@pytest.mark.parametrize("hook", sorted(_specs()))
def test_hook_is_documented_with_its_arguments(hook: str) -> None:
    sections = _sections()
    assert hook in sections, f"docs/hooks.md has no '### {hook}(...)' section"
    heading_args, body = sections[hook]
    assert heading_args == _specs()[hook], (
        "the heading's arguments differ from the spec"
    )
    for argument in _specs()[hook]:
        assert re.search(rf"^- `{argument}`:", body, flags=re.MULTILINE), (
            f"argument {argument!r} of {hook} has no '- `{argument}`:' entry"
        )
    assert "**When:**" in body and "**Returns:**" in body


def test_no_documented_hook_is_missing_from_the_specs() -> None:
    assert set(_sections()) <= set(_specs())


def test_first_result_hooks_say_so() -> None:
    for hook, (_, body) in _sections().items():
        firstresult = getattr(hookspecs, hook).ociport_spec["firstresult"]
        assert ("First-result hook" in body) == firstresult, hook


def test_every_spec_has_a_docstring_with_versionadded() -> None:
    for hook in _specs():
        doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
        assert doc.strip() and ".. versionadded::" in doc, hook


def test_entry_point_toml_is_valid() -> None:
    import tomllib

    [toml] = _code_blocks("toml")
    entry_points = tomllib.loads(toml)["project"]["entry-points"]["ociport"]
    assert entry_points == {"audit-log": "ociport_audit_log.plugin"}


def test_example_plugin_loads_and_works(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    example, usage = _code_blocks("python")
    module = types.ModuleType("ociport_audit_log.plugin")
    exec(compile(example, str(HOOKS_MD), "exec"), module.__dict__)
    package = types.ModuleType("ociport_audit_log")
    package.plugin = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ociport_audit_log", package)
    monkeypatch.setitem(sys.modules, "ociport_audit_log.plugin", module)

    namespace: dict[str, object] = {}
    exec(compile(usage, str(HOOKS_MD), "exec"), namespace)
    store = namespace["store"]
    assert isinstance(store, ociport.ImageStore)
    assert store.pm.get_plugin("audit-log") is module
    store.pm.check_pending()
    name = "example.com/ociport/hello:1.0"
    archive = ROOT / "examples" / "hello.oci-archive.tar"
    try:
        # ociport_blob_committed: one record per blob committed; ociport_image_imported:
        # one per image, with its store name.
        with caplog.at_level(logging.INFO, logger="ociport_audit_log"):
            result = store.import_image(archive)
        digest = result.images[0].target.digest
        committed = [r for r in caplog.messages if r.startswith("committed sha256:")]
        assert result.blobs_committed == 3
        assert len(committed) == result.blobs_committed
        assert f"committed {digest} (" in caplog.text
        assert caplog.messages[-1] == f"imported {name} {digest} from oci-archive"
        # Nothing new to commit the second time: the image is logged, no blob is.
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="ociport_audit_log"):
            store.import_image(archive)
        assert caplog.messages == [f"imported {name} {digest} from oci-archive"]

        # ociport_archive_members: README.txt right after index.json, unless skipped.
        sink = io.BytesIO()
        store.export_images([name], sink)
        with tarfile.open(fileobj=io.BytesIO(sink.getvalue())) as tar:
            assert tar.getnames()[:3] == ["oci-layout", "index.json", "README.txt"]
            readme = tar.extractfile("README.txt")
            assert readme is not None
            assert readme.read().decode() == f"Images in this archive:\n  {name}\n"
        bare = io.BytesIO()
        store.export_images([name], bare, extra_members=False)
        with tarfile.open(fileobj=io.BytesIO(bare.getvalue())) as tar:
            assert "README.txt" not in tar.getnames()
    finally:
        store.content.location.fs.rm(store.content.location.path, recursive=True)


def test_readme_links_the_hooks_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/hooks.md)" in readme
