"""Shared fixtures: a plugin manager with the built-ins only, stores, fixture paths, and a
real S3 server (moto on 127.0.0.1) for the tests marked ``s3``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy
import pytest

import ociport
from ociport.builtin import fsspec_store, oci_archive
from ociport.plugins import make_plugin_manager

if TYPE_CHECKING:
    from s3server import S3Server


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A plugin manager with exactly the built-in plugins, whatever is installed."""
    manager = make_plugin_manager(autoload=False)
    manager.register(fsspec_store, name="fsspec-store")
    manager.register(oci_archive, name="oci-archive")
    return manager


@pytest.fixture(params=["file", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The root of an empty store, on local disk and in memory."""
    if request.param == "file":
        yield str(tmp_path / "store")
    else:
        url = f"memory://ociport-test-{uuid.uuid4().hex}"
        yield url
        import fsspec

        fs = fsspec.filesystem("memory")
        if fs.exists(url):
            fs.rm(url, recursive=True)


@pytest.fixture
def store(store_url: str, pm: pluggy.PluginManager) -> ociport.ImageStore:
    """An empty image store (file and memory variants)."""
    return ociport.open_store(store_url, pm=pm)


@pytest.fixture
def local_store(tmp_path: Path, pm: pluggy.PluginManager) -> ociport.ImageStore:
    """An empty image store on local disk (for tests that run external tools on it)."""
    return ociport.open_store(str(tmp_path / "store"), pm=pm)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 for the whole session (see ``tests/s3server.py``),
    with fake AWS credentials in the environment, which subprocesses inherit."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    from s3server import FAKE_ENV, S3Server

    server = S3Server()
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_ENV.items():
            patch.setenv(key, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.delenv("AWS_PROFILE", raising=False)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def s3_endpoint(s3_server: S3Server) -> str:
    """The S3 server's endpoint URL, ``http://127.0.0.1:PORT``."""
    return s3_server.endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the S3 server; returns its name."""
    import s3fs

    name = f"ociport-{uuid.uuid4().hex[:16]}"
    s3fs.S3FileSystem(endpoint_url=s3_endpoint).mkdir(name)
    return name
