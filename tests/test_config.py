"""Named stores: the config file, plugins (the example distribution), precedence."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

import ociport
from helpers import ROOT
from ociport.config import config_path, default_store_url, named_stores, resolve_store

PLUGIN_SRC = ROOT / "examples" / "named-store-plugin" / "src"


@pytest.fixture
def team_plugin(
    pm: pluggy.PluginManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[pluggy.PluginManager]:
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    monkeypatch.setenv("TEAM_CACHE_DIR", str(tmp_path / "team-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    spec = importlib.util.find_spec("ociport_team_stores")
    assert spec is not None
    module = importlib.import_module("ociport_team_stores")
    pm.register(module, name="team-stores")
    yield pm
    sys.modules.pop("ociport_team_stores", None)


def test_default_store_follows_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OCIPORT_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_url() == str(tmp_path / "data" / "ociport" / "store")
    monkeypatch.setenv("OCIPORT_STORE", "memory://explicit")
    assert default_store_url() == "memory://explicit"


def test_plugin_named_store_is_opened(
    team_plugin: pluggy.PluginManager, tmp_path: Path
) -> None:
    store = ociport.open_store("team-cache", pm=team_plugin)
    assert store.content.location.path == str(tmp_path / "team-cache")
    store.import_image(str(ROOT / "examples" / "hello.oci-archive.tar"))
    assert (tmp_path / "team-cache" / "index.json").exists()
    assert named_stores(team_plugin)["team-s3"].options == {
        "endpoint_url": "http://127.0.0.1:9000"
    }


def test_config_file_overrides_plugin(
    team_plugin: pluggy.PluginManager, tmp_path: Path
) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        '[stores.team-cache]\nurl = "memory://from-config"\n\n'
        '[stores.mine]\nurl = "s3://bucket/p"\noptions = { anon = true }\n'
    )
    stores = named_stores(team_plugin)
    assert stores["team-cache"].url == "memory://from-config"
    assert stores["mine"].options == {"anon": True}
    config = resolve_store("mine", team_plugin, {"endpoint_url": "http://x"})
    assert config.options == {"anon": True, "endpoint_url": "http://x"}


def test_given_options_merge_into_a_named_stores_mappings(
    team_plugin: pluggy.PluginManager,
) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        '[stores.mine]\nurl = "s3://bucket/p"\n'
        "[stores.mine.options.config_kwargs]\n"
        'connect_timeout = 3\nretries = { mode = "adaptive" }\n'
    )
    config = resolve_store(
        "mine",
        team_plugin,
        {"config_kwargs": {"read_timeout": "60", "retries": {"max_attempts": "4"}}},
    )
    assert config.options == {
        "config_kwargs": {
            "connect_timeout": 3,
            "read_timeout": "60",
            "retries": {"mode": "adaptive", "max_attempts": "4"},
        }
    }


def test_unknown_name_is_a_path(team_plugin: pluggy.PluginManager) -> None:
    assert resolve_store("./relative-dir", team_plugin).url == "./relative-dir"


def test_malformed_config_is_a_format_error(team_plugin: pluggy.PluginManager) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("[stores.broken]\nurl = 3\n")
    with pytest.raises(ociport.FormatError, match="url"):
        named_stores(team_plugin)
