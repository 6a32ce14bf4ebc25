"""Shared fixtures: a plugin manager with the built-ins only, stores, fixture paths, and
real S3 servers on 127.0.0.1 for the tests marked ``s3``: moto (``tests/s3server.py``,
which can count bytes and misbehave on purpose) and Ceph RGW (``tests/rgwserver.py``).

Tests that take ``s3_endpoint`` or ``s3_bucket`` run against both, with the ids ``moto``
and ``rgw`` (``-m "not rgw"`` leaves RGW out). RGW starts once per session, when the
first test needs it; without Ceph's programs its tests are skipped, unless
``OCIPORT_REQUIRE_RGW=1`` (what scripts/test sets) makes that a failure.
"""

from __future__ import annotations

import os
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
    from rgwserver import RgwServer
    from s3server import S3Server, S3Service


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
def fake_aws_env() -> Iterator[None]:
    """The fake AWS credentials of ``s3server.FAKE_ENV`` in the environment for the
    session (subprocesses inherit them); no endpoint or profile from outside."""
    pytest.importorskip("s3fs")
    from s3server import FAKE_ENV

    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_ENV.items():
            patch.setenv(key, value)
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            patch.delenv(key, raising=False)
        yield


@pytest.fixture(scope="session")
def s3_server(fake_aws_env: None) -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 for the whole session (see ``tests/s3server.py``)."""
    pytest.importorskip("moto.server")
    from s3server import S3Server

    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rgw_server(fake_aws_env: None) -> Iterator[RgwServer]:
    """Ceph RGW on 127.0.0.1 for the whole session (see ``tests/rgwserver.py``),
    stopped by PID at the end, whatever the tests did."""
    from rgwserver import PACKAGES, RgwServer, missing_programs
    from s3server import FAKE_ENV

    missing = missing_programs()
    if missing:
        message = (
            f"Ceph RGW: {', '.join(missing)} not installed "
            f"(apt-get install {' '.join(PACKAGES)}; scripts/test does)"
        )
        if os.environ.get("OCIPORT_REQUIRE_RGW") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = RgwServer(FAKE_ENV["AWS_ACCESS_KEY_ID"], FAKE_ENV["AWS_SECRET_ACCESS_KEY"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("moto", id="moto"),
        pytest.param("rgw", id="rgw", marks=pytest.mark.rgw),
    ],
)
def s3_service(request: pytest.FixtureRequest) -> S3Service:
    """Each S3 server in turn: moto, then Ceph RGW."""
    from s3server import S3Service

    if request.param == "moto":
        moto: S3Server = request.getfixturevalue("s3_server")
        return S3Service("moto", moto.endpoint, moto)
    rgw: RgwServer = request.getfixturevalue("rgw_server")
    return S3Service("rgw", rgw.endpoint, None)


@pytest.fixture
def s3_endpoint(s3_service: S3Service) -> str:
    """The S3 server's endpoint URL, ``http://127.0.0.1:PORT`` (moto and RGW)."""
    return s3_service.endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the S3 server (moto and RGW); returns its name."""
    from s3server import new_bucket

    return new_bucket(s3_endpoint)


@pytest.fixture
def moto_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket on moto, for tests that count bytes or inject faults."""
    from s3server import new_bucket

    return new_bucket(s3_server.endpoint)
