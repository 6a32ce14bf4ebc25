"""Fixtures for the registry plugin's tests: real registries (Debian's docker-registry)
open, with basic auth and with bearer tokens from a token service, started once per
session and stopped at its end; a plugin manager with exactly the built-ins plus this
plugin; stores; no stored credentials but those a test writes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ociport_fixtures
import pluggy
import pytest
import registry_server
import token_server
from ociport_registry import plugin as registry_plugin
from ociport_registry.client.session import RegistrySession
from registry_helpers import USER

import ociport
from ociport.builtin import fsspec_store, oci_archive, oci_layout
from ociport.plugins import make_plugin_manager


def pytest_configure(config: pytest.Config) -> None:
    # The repository's conftest.py does this too; this one counts when the tests run
    # from this plugin's directory (its own pytest configuration).
    ociport_fixtures.install(config)


@pytest.fixture(autouse=True)
def no_stored_credentials(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credential files (auth.json, Docker's config.json) only where a test puts them,
    for this process and the commands it runs."""
    home = tmp_path_factory.mktemp("home")
    for name in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    # Set, to a directory of the test's: else /run/containers/$UID/auth.json is read.
    (home / "run").mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))


@pytest.fixture
def registry_pm() -> pluggy.PluginManager:
    """The built-in formats, the default store and this plugin."""
    pm = make_plugin_manager(autoload=False)
    pm.register(fsspec_store, name="fsspec-store")
    pm.register(oci_archive, name="oci-archive")
    pm.register(oci_layout, name="oci")
    pm.register(registry_plugin, name="registry")
    return pm


@pytest.fixture
def store(tmp_path: Path, registry_pm: pluggy.PluginManager) -> ociport.ImageStore:
    """An empty local store with the plugin."""
    return ociport.open_store(str(tmp_path / "store"), pm=registry_pm)


def _server(
    factory: pytest.TempPathFactory,
    name: str,
    credentials: tuple[str, str] | None,
    tokens: token_server.TokenServer | None = None,
) -> Iterator[registry_server.RegistryServer]:
    if not registry_server.available():
        pytest.skip("needs Debian's docker-registry and skopeo (scripts/test installs)")
    server = registry_server.start(factory.mktemp(name), credentials, tokens)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[registry_server.RegistryServer]:
    """An open registry (anyone pulls and pushes), plain HTTP."""
    yield from _server(tmp_path_factory, "registry", None)


@pytest.fixture(scope="session")
def auth_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[registry_server.RegistryServer]:
    """A registry with htpasswd basic auth for :data:`USER`, plain HTTP."""
    yield from _server(tmp_path_factory, "auth-registry", USER)


@pytest.fixture(scope="session")
def tokens(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[token_server.TokenServer]:
    """A token service granting :data:`USER` what it asks for."""
    server = token_server.start(tmp_path_factory.mktemp("tokens"), USER)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, tokens: token_server.TokenServer
) -> Iterator[registry_server.RegistryServer]:
    """A registry trusting the tokens of :func:`tokens` (``auth: token``), plain HTTP."""
    yield from _server(tmp_path_factory, "token-registry", USER, tokens)


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A repository name of this test's own (registries are shared by the session)."""
    return "test/" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")


@pytest.fixture
def methods(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``METHOD kind`` of every request sessions send (kind: manifests, blobs, uploads)."""
    sent: list[str] = []
    original: Callable[..., httpx.Response] = RegistrySession.request

    def recording(
        self: RegistrySession, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        kind = "uploads" if "/uploads/" in url else url.split("/")[-2]
        sent.append(f"{method} {kind}")
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(RegistrySession, "request", recording)
    return sent
