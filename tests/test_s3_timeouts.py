"""S3 endpoints that stop answering: ociport's default timeouts and retry budget for S3
locations, how options override them, and real servers on 127.0.0.1 that accept
connections and never answer, never accept, or freeze in the middle of an import (in
front of moto). Each must end with one line that names the endpoint, in bounded time.

The tests pass small timeouts (1 s) as storage options, so that a request fails after
2 s3fs tries x 2 botocore attempts x 1 s plus back-off; every wait is bounded by a
thread join or a subprocess timeout, and no test asserts on timings beyond that.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ociport
from frozenserver import FreezingProxy, FullServer, HangingUpServer, SilentServer
from helpers import TOOL
from ociport.errors import InvalidLocationError, StorageError
from ociport.streams.location import (
    S3_CONNECT_TIMEOUT,
    S3_READ_TIMEOUT,
    S3_RETRY_ATTEMPTS,
    S3_RETRY_MODE,
    S3FS_RETRIES,
    Location,
)
from ociport.streams.s3http import no_expect_session
from ociport.streams.storage_errors import (
    describe_error,
    is_unresponsive,
    storage_errors,
)
from s3server import S3Server

pytestmark = [pytest.mark.s3, pytest.mark.usefixtures("fake_aws_env")]

SAMPLE = TOOL / "sample.oci-archive.tar"
#: Small timeouts, as storage options and as command-line flags.
FAST = {"read_timeout": 1, "connect_timeout": 1}
FAST_FLAGS = (
    "--storage-option",
    "config_kwargs.read_timeout=1",
    "--storage-option",
    "config_kwargs.connect_timeout=1",
)
#: Generous bounds: each request gives up after about 6 s with FAST.
BOUND = 90.0
#: A library exception's class name in a message (ReadTimeoutError, ClientOSError...).
RAW_NAME = re.compile(r"\b[A-Z][A-Za-z]+(Error|Exception)\b")


@pytest.fixture(autouse=True)
def _no_retry_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)


def _bucket_url() -> str:
    return f"s3://ociport-{uuid.uuid4().hex[:12]}/store"


def _within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread; fail when it is still running after ``seconds``;
    return what it raised (``None`` when it returned)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return raised[0] if raised else None


def _fails(*args: str, timeout: float = BOUND) -> str:
    """Run the CLI; it must fail with exit status 1 and one line on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    result = subprocess.run(
        [sys.executable, "-m", "ociport", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    [line] = result.stderr.splitlines()
    assert line.startswith("ociport: error: ")
    assert not RAW_NAME.search(line), line
    return line[len("ociport: error: ") :]


def _location(url: str = "s3://bucket/store", **options: Any) -> Location:
    pytest.importorskip("s3fs")
    return Location.from_url(
        url,
        {"endpoint_url": "http://127.0.0.1:9", "skip_instance_cache": True, **options},
    )


# -- defaults and overrides -------------------------------------------------------------


def test_s3_defaults_reach_the_client() -> None:
    location = _location()
    fs: Any = location.fs
    assert fs.retries == S3FS_RETRIES == 2
    assert fs.dircache.use_listings_cache is False
    config = fs.config_kwargs
    assert config["connect_timeout"] == S3_CONNECT_TIMEOUT == 10
    assert config["read_timeout"] == S3_READ_TIMEOUT == 15
    assert config["retries"] == {"max_attempts": S3_RETRY_ATTEMPTS, "mode": "standard"}
    assert config["http_session_cls"] is no_expect_session()
    assert callable(config["connector_args"]["socket_factory"])
    # What botocore made of them (creating the client sends no request).
    client = fs.connect()
    assert client.meta.config.connect_timeout == 10
    assert client.meta.config.read_timeout == 15
    assert client.meta.config.retries == {"total_max_attempts": 2, "mode": "standard"}
    assert S3_RETRY_MODE == "standard"
    # The filesystem still pickles (multiprocessing and Dask pass filesystems around).
    copy = pickle.loads(pickle.dumps(fs))
    assert copy.config_kwargs["http_session_cls"] is no_expect_session()


def test_user_options_win_key_by_key() -> None:
    given = {
        "config_kwargs": {"read_timeout": "3", "retries": {"max_attempts": "5"}},
        "retries": "4",
    }
    fs: Any = _location(**given).fs
    assert fs.retries == 4
    assert fs.config_kwargs["connect_timeout"] == 10  # not given: the default
    assert fs.config_kwargs["read_timeout"] == 3.0
    assert fs.config_kwargs["retries"] == {"max_attempts": 5, "mode": "standard"}
    assert given["config_kwargs"] == {  # the caller's mapping is left alone
        "read_timeout": "3",
        "retries": {"max_attempts": "5"},
    }
    client = fs.connect()
    assert client.meta.config.read_timeout == 3
    assert client.meta.config.retries == {"total_max_attempts": 6, "mode": "standard"}

    fs = _location(
        config_kwargs={
            "connect_timeout": 2,
            "retries": {"total_max_attempts": 7, "mode": "adaptive"},
            "connector_args": {"keepalive_timeout": 3},
            "http_session_cls": no_expect_session().__mro__[1],
        }
    ).fs
    config = fs.config_kwargs
    assert config["connect_timeout"] == 2 and config["read_timeout"] == 15
    assert config["retries"] == {"total_max_attempts": 7, "mode": "adaptive"}
    assert config["connector_args"]["keepalive_timeout"] == 3
    assert "socket_factory" in config["connector_args"]
    assert config["http_session_cls"] is not no_expect_session()
    assert fs.connect().meta.config.retries == {
        "total_max_attempts": 7,
        "mode": "adaptive",
    }


def test_environment_retry_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    fs: Any = _location().fs
    assert fs.config_kwargs["retries"] == {}
    assert fs.connect().meta.config.retries == {
        "total_max_attempts": 7,
        "mode": "legacy",
    }


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"config_kwargs": {"read_timeout": "soon"}}, "config_kwargs.read_timeout"),
        ({"config_kwargs": {"connect_timeout": -1}}, "config_kwargs.connect_timeout"),
        (
            {"config_kwargs": {"retries": {"max_attempts": "2.5"}}},
            "config_kwargs.retries.max_attempts",
        ),
        ({"retries": True}, "retries"),
        ({"config_kwargs": "read_timeout=3"}, "config_kwargs"),
    ],
)
def test_bad_numbers_are_refused(options: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidLocationError, match=re.escape(named)):
        _location(**options)


def test_other_filesystems_get_no_s3_options(tmp_path: Path) -> None:
    assert not hasattr(Location.from_url(str(tmp_path)).fs, "config_kwargs")
    memory = Location.from_url(f"memory://ociport-{uuid.uuid4().hex}")
    assert not hasattr(memory.fs, "config_kwargs")


def test_command_line_sets_entries_of_mappings() -> None:
    import click

    from ociport.cli.options import key_values

    parsed = key_values(
        click.Context(click.Command("x")),
        click.Option(["--x"]),
        (
            "config_kwargs.read_timeout=5",
            "config_kwargs.retries.max_attempts=3",
            "config_kwargs.retries.mode=standard",
            "anon=true",
        ),
    )
    assert parsed == {
        "config_kwargs": {
            "read_timeout": "5",
            "retries": {"max_attempts": "3", "mode": "standard"},
        },
        "anon": True,
    }
    for clash in (("a=1", "a.b=2"), ("a.b=2", "a=1"), ("a..b=1",), (".a=1",)):
        with pytest.raises(click.BadParameter):
            key_values(click.Context(click.Command("x")), click.Option(["--x"]), clash)


def test_timeout_on_the_default_endpoint_is_described() -> None:
    """Without an endpoint URL the message says whose endpoint, and the timeout in
    force comes from the options when no client was made yet."""
    from botocore.exceptions import ReadTimeoutError

    location = Location.from_url("s3://bucket/store", {"skip_instance_cache": True})
    error = describe_error(
        ReadTimeoutError(endpoint_url="https://s3.amazonaws.com/bucket"),
        location,
        "store",
    )
    assert str(error).startswith(
        "store s3://bucket/store: the default s3 endpoint did not answer within 15 s; "
    )


def test_answers_and_local_timeouts_are_not_unresponsive(
    s3_server: S3Server,
) -> None:
    url = _bucket_url()  # no such bucket: the server answered
    with pytest.raises(StorageError) as caught:
        ociport.open_store(url, storage_options={"endpoint_url": s3_server.endpoint})
    assert not is_unresponsive(caught.value)
    assert not is_unresponsive(TimeoutError("a local lock"))


# -- servers that stop answering ----------------------------------------------------------


def test_store_on_a_silent_server_fails_naming_the_endpoint() -> None:
    with SilentServer() as server:
        url = _bucket_url()
        raised = _within(
            BOUND,
            lambda: ociport.open_store(
                url,
                storage_options={
                    "endpoint_url": server.endpoint,
                    "config_kwargs": FAST,
                },
            ),
        )
        assert server.connections >= 2  # retried
    assert isinstance(raised, StorageError), raised
    assert is_unresponsive(raised)
    assert str(raised) == (
        f"store {url}: the S3 endpoint {server.endpoint} did not answer within 1 s; "
        "check that the server is up and not overloaded; a slow server needs a "
        "longer --storage-option config_kwargs.read_timeout=SECONDS"
    )


def test_uploads_to_a_silent_server_fail() -> None:
    """A small PUT (botocore asks for ``Expect: 100-continue``, whose wait aiohttp does
    not limit) and a large one (the server stops reading: only ``TCP_USER_TIMEOUT``
    ends the write) both fail instead of hanging."""
    with SilentServer() as server:
        location = _location(
            _bucket_url(), endpoint_url=server.endpoint, config_kwargs=FAST
        )
        for size in (100, 64 << 20):
            key = location.join(f"object-{size}")

            def put(key: Location = key, size: int = size) -> None:
                with storage_errors(location, "destination"):
                    key.fs.pipe_file(key.path, b"x" * size)

            raised = _within(BOUND, put)
            assert isinstance(raised, StorageError), (size, raised)
            assert is_unresponsive(raised)
            assert str(raised).startswith(
                f"destination {location.url}: the S3 endpoint {server.endpoint} "
                "did not answer within 1 s; "
            ), raised
            assert "--dest-option config_kwargs.read_timeout=" in str(raised)


def test_unreachable_host_is_a_connect_timeout() -> None:
    with FullServer() as server:
        url = _bucket_url()
        raised = _within(
            BOUND,
            lambda: ociport.open_store(
                url,
                storage_options={
                    "endpoint_url": server.endpoint,
                    "config_kwargs": FAST,
                },
            ),
        )
    assert isinstance(raised, StorageError), raised
    assert is_unresponsive(raised)
    assert str(raised).startswith(
        f"store {url}: cannot connect to {server.endpoint}: no answer within 1 s; "
        "check that the server is up and reachable"
    )


def test_server_hanging_up_without_an_answer() -> None:
    with HangingUpServer() as server:
        url = _bucket_url()
        raised = _within(
            BOUND,
            lambda: ociport.open_store(
                url,
                storage_options={
                    "endpoint_url": server.endpoint,
                    "config_kwargs": FAST,
                },
            ),
        )
        assert server.connections >= 2  # retried
    assert isinstance(raised, StorageError), raised
    assert is_unresponsive(raised)
    assert str(raised) == (
        f"store {url}: the S3 endpoint {server.endpoint} closed the connection "
        "without answering; check that the server is up and not overloaded"
    )


def test_command_line_on_a_silent_server(tmp_path: Path) -> None:
    with SilentServer() as server:
        url = _bucket_url()
        store = ("--store", url, "--storage-option", f"endpoint_url={server.endpoint}")
        for command in (["images", "ls"], ["import", str(SAMPLE)]):
            started = time.monotonic()
            message = _fails(*store, *FAST_FLAGS, *command)
            assert message.startswith(
                f"store {url}: the S3 endpoint {server.endpoint} did not answer within "
                "1 s; "
            ), message
            assert time.monotonic() - started < BOUND
        # A source on a silent server is named as the source.
        source = f"{_bucket_url()}.tar"
        message = _fails(
            "--store",
            str(tmp_path / "store"),
            "import",
            source,
            "--source-option",
            f"endpoint_url={server.endpoint}",
            "--source-option",
            "config_kwargs.read_timeout=1",
        )
        assert message.startswith(
            f"source {source}: the S3 endpoint {server.endpoint} did not answer"
        ), message
        assert "--source-option config_kwargs.read_timeout=" in message


def test_server_freezing_in_the_middle_of_an_import(
    s3_server: S3Server, moto_bucket: str
) -> None:
    """The store is opened, checked and locked through the proxy; the server freezes
    at the first request for a blob."""
    host, port = s3_server.endpoint.removeprefix("http://").split(":")
    url = f"s3://{moto_bucket}/store"
    with FreezingProxy((host, int(port)), b"/store/blobs/") as proxy:
        message = _fails(
            "--store",
            url,
            "--storage-option",
            f"endpoint_url={proxy.endpoint}",
            *FAST_FLAGS,
            "import",
            str(SAMPLE),
        )
        assert proxy.frozen.is_set()
        assert proxy.forwarded > 0
    assert message.startswith(f"store {url}: "), message
    assert f"the S3 endpoint {proxy.endpoint} did not answer within 1 s" in message
    # The server itself is fine: the store opens directly, and holds no image.
    store = ociport.open_store(
        url, storage_options={"endpoint_url": s3_server.endpoint}, create=False
    )
    assert store.images() == []
