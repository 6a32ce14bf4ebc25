"""Where stores are: the default store, and stores named by config file or plugin.

The default store is ``$OCIPORT_STORE``, else ``$XDG_DATA_HOME/ociport/store``
(``~/.local/share/ociport/store``). A name given as ``--store NAME`` is looked up in
``$XDG_CONFIG_HOME/ociport/config.toml`` (``[stores.NAME]`` tables with ``url`` and
optional ``options``), then in what plugins return from ``ociport_named_stores``; the
config file wins over plugins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from ociport.errors import FormatError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "StoreConfig",
    "config_path",
    "default_store_url",
    "named_stores",
    "resolve_store",
]


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """A store's URL and the fsspec storage options to open it with.

    :ivar url: local path or fsspec URL of the store root.
    :ivar options: storage options (``anon``, ``endpoint_url``, ``key``, ...).
    """

    url: str
    options: Mapping[str, Any] = field(default_factory=dict)


def default_store_url() -> str:
    """``$OCIPORT_STORE``, else the XDG data directory's ``ociport/store``."""
    explicit = os.environ.get("OCIPORT_STORE")
    if explicit:
        return explicit
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(data_home, "ociport", "store")


def config_path() -> Path:
    """``$XDG_CONFIG_HOME/ociport/config.toml`` (``~/.config/ociport/config.toml``)."""
    from pathlib import Path

    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "ociport" / "config.toml"


def _from_file(path: Path) -> dict[str, StoreConfig]:
    try:
        import tomllib  # only when there is a file to read

        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"malformed TOML: {exc}", location=str(path)) from exc
    stores = doc.get("stores", {})
    if not isinstance(stores, dict):
        raise FormatError("[stores] must be a table of tables", location=str(path))
    found = {}
    for name, table in stores.items():
        if not isinstance(table, dict) or not isinstance(table.get("url"), str):
            raise FormatError(f"[stores.{name}] needs a url string", location=str(path))
        options = table.get("options", {})
        if not isinstance(options, dict):
            raise FormatError(
                f"[stores.{name}] options must be a table", location=str(path)
            )
        found[name] = StoreConfig(table["url"], dict(options))
    return found


def named_stores(pm: pluggy.PluginManager) -> dict[str, StoreConfig]:
    """Every named store: plugins' first, then the config file's over them."""
    merged: dict[str, StoreConfig] = {}
    for mapping in reversed(pm.hook.ociport_named_stores()):
        merged.update(mapping)
    merged.update(_from_file(config_path()))
    return merged


def resolve_store(
    url_or_name: str | None,
    pm: pluggy.PluginManager,
    options: Mapping[str, Any] | None = None,
) -> StoreConfig:
    """The store a ``--store`` value means; explicit ``options`` win over configured ones,
    key by key inside mappings (``config_kwargs.read_timeout`` given on the command line
    keeps the rest of a named store's ``config_kwargs``)."""
    target = url_or_name or default_store_url()
    config = (
        named_stores(pm).get(target)
        if "/" not in target and ":" not in target
        else None
    )
    if config is None:
        return StoreConfig(target, dict(options or {}))
    return StoreConfig(config.url, _merged(config.options, options or {}))


def _merged(base: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``given``, mappings in both merged the same way."""
    merged = dict(base)
    for key, value in given.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = _merged(below, value)
        else:
            merged[key] = value
    return merged
