"""The public API: ``ociport.__all__`` is sorted, complete and importable, and the
package's modules document themselves."""

from __future__ import annotations
import __future__

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types

import ociport


def _public_names() -> set[str]:
    return {
        name
        for name, value in vars(ociport).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and value is not __future__.annotations
    }


def test_all_is_sorted() -> None:
    assert ociport.__all__ == sorted(ociport.__all__)


def test_all_has_no_duplicates_and_no_private_names() -> None:
    assert len(set(ociport.__all__)) == len(ociport.__all__)
    assert [name for name in ociport.__all__ if name.startswith("_")] == []


def test_all_is_complete() -> None:
    # Most names are imported on first use (PEP 562): every one of __all__ resolves,
    # and then the module holds exactly those.
    for name in ociport.__all__:
        getattr(ociport, name)
    assert set(ociport.__all__) == _public_names()
    assert set(dir(ociport)) >= set(ociport.__all__)


def test_import_ociport_is_light() -> None:
    code = "import sys, ociport; print(sorted(m for m in sys.modules if m in {0!r}))"
    heavy = {"fsspec", "pluggy", "rich", "zstandard", "s3fs", "ociport.api"}
    out = subprocess.run(
        [sys.executable, "-c", code.format(heavy)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from ociport import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == ociport.__all__
    for name, value in namespace.items():
        assert value is getattr(ociport, name)


def test_public_classes_and_functions_have_docstrings() -> None:
    for name in ociport.__all__:
        value = getattr(ociport, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"ociport.{name} has no docstring"


def test_exported_errors() -> None:
    errors = [
        getattr(ociport, name)
        for name in ociport.__all__
        if inspect.isclass(getattr(ociport, name))
        and issubclass(getattr(ociport, name), BaseException)
    ]
    assert ociport.OciportError in errors
    for error in errors:
        assert error.__name__.endswith("Error")
        assert issubclass(error, ociport.OciportError)


def test_the_quick_use_verbs_exist() -> None:
    assert callable(ociport.open_store)
    for verb in ("import_image", "export_images", "images", "tag", "remove", "gc"):
        assert callable(getattr(ociport.ImageStore, verb)), verb


def test_every_module_has_a_docstring_and_a_true_all() -> None:
    for info in pkgutil.walk_packages(ociport.__path__, "ociport."):
        module = importlib.import_module(info.name)
        assert (module.__doc__ or "").strip(), f"{info.name} has no module docstring"
        for name in getattr(module, "__all__", ()):
            assert hasattr(module, name), f"{info.name}.__all__ lists missing {name!r}"
