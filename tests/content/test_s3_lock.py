"""The index.json lock on S3 servers that differ from AWS: Ceph RGW itself, and moto made
to misbehave like other servers do (``tests/s3server.py``'s faults): a 412 without the
failed condition (RGW 16), a lost answer to the lock's PUT, 409 conflicts, and a server
that ignores ``If-None-Match``, which ociport must refuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import ociport
from helpers import TOOL
from ociport.content.fsstore import FsspecContentStore
from ociport.content.locks import STALE_AFTER, ObjectLock
from ociport.errors import (
    ConditionalWritesError,
    StorageNotFoundError,
    StoragePermissionError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_REF_NAME, Descriptor
from ociport.oci.digest import Digest
from ociport.streams.location import SINGLE_WRITER_OPTION, Location
from rgwserver import RgwServer
from s3server import S3Server, S3Service, new_bucket

pytestmark = pytest.mark.s3


def _location(endpoint: str, url: str, **options: Any) -> Location:
    return Location.from_url(url, {"endpoint_url": endpoint, **options})


def _entry(name: str) -> Descriptor:
    data = name.encode()
    return Descriptor(
        mt.OCI_IMAGE_MANIFEST,
        Digest.of(data),
        len(data),
        annotations={ANNOTATION_REF_NAME: name},
    )


def _keys(location: Location) -> set[str]:
    bucket = location.path.split("/")[0]
    return {p[len(bucket) + 1 :] for p in location.fs.find(bucket)}


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    return subprocess.run(
        [sys.executable, "-m", "ociport", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_rgw_style_412_means_exists(s3_server: S3Server, moto_bucket: str) -> None:
    """moto answering a failed conditional write as RGW 16 does (412, no Condition):
    threads updating the index through separate clients lose no name."""
    url = f"s3://{moto_bucket}/store"
    with s3_server.faults(moto_bucket, like_rgw=True):

        def add(prefix: str) -> None:
            store = FsspecContentStore(
                _location(s3_server.endpoint, url, skip_instance_cache=True)
            )
            for i in range(5):
                entry = _entry(f"example.com/{prefix}:{i}")
                store.update_index(lambda entries, entry=entry: [*entries, entry])

        FsspecContentStore(_location(s3_server.endpoint, url))
        threads = [threading.Thread(target=add, args=(f"t{t}",)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        store = FsspecContentStore(_location(s3_server.endpoint, url))
        assert {d.ref_name for d in store.read_index()} == {
            f"example.com/t{t}:{i}" for t in range(4) for i in range(5)
        }


def test_lost_answer_to_the_lock_put(s3_server: S3Server, moto_bucket: str) -> None:
    """The lock's PUT lands but its answer is lost (500): botocore sends it again and
    gets 412 for our own lock. The lock object holds our token, so we hold the lock at
    once instead of waiting 30 s to break it as stale."""
    target = _location(s3_server.endpoint, f"s3://{moto_bucket}/store/index.json.lock")
    with s3_server.faults(moto_bucket, lose=1) as faults:
        lock = ObjectLock(target, stale_after=STALE_AFTER)
        started = time.monotonic()
        lock.acquire()
        took = time.monotonic() - started
        assert faults.lose == 0  # the answer really was lost
    assert took < 10, took
    assert lock.broken == 0 and lock.held()
    lock.release()
    assert not target.fs.exists(target.path)


def test_conflicts_are_retried(s3_server: S3Server, moto_bucket: str) -> None:
    """409 ConditionalRequestConflict (AWS, for conditional writes racing on a key)
    means try again."""
    target = _location(s3_server.endpoint, f"s3://{moto_bucket}/store/index.json.lock")
    with s3_server.faults(moto_bucket, conflict=3) as faults:
        with ObjectLock(target) as lock:
            assert lock.held()
        assert faults.conflict == 0


def test_server_ignoring_if_none_match_is_refused(
    s3_server: S3Server, moto_bucket: str, tmp_path: Path
) -> None:
    """A server that ignores If-None-Match is refused, in one line naming the endpoint
    and the reason, before anything is written; ``ociport_single_writer=true`` accepts
    it (and is not passed to s3fs)."""
    endpoint = s3_server.endpoint
    url = f"s3://{moto_bucket}/store"
    with s3_server.faults(moto_bucket, ignore_if_none_match=True):
        with pytest.raises(ConditionalWritesError) as refused:
            ociport.open_store(url, storage_options={"endpoint_url": endpoint})
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"store {url}: the server at {endpoint} ")
        assert "does not honour conditional writes" in message
        assert "a second exclusive create of the same key succeeded" in message
        assert f"{SINGLE_WRITER_OPTION}=true" in message
        assert refused.value.endpoint == endpoint
        location = _location(endpoint, url)
        assert _keys(location) == set()  # the probe cleaned up; nothing else written

        result = _cli(
            "--store",
            url,
            "--storage-option",
            f"endpoint_url={endpoint}",
            "import",
            str(TOOL / "sample.oci-archive.tar"),
        )
        assert result.returncode == 1
        [line] = result.stderr.splitlines()
        assert line.startswith(f"ociport: error: store {url}: the server at {endpoint}")

        options = {"endpoint_url": endpoint, SINGLE_WRITER_OPTION: True}
        store = ociport.open_store(url, storage_options=options)
        assert SINGLE_WRITER_OPTION not in store.content.location.fs.storage_options
        result = _cli(
            "--store",
            url,
            "--storage-option",
            f"endpoint_url={endpoint}",
            "--storage-option",
            f"{SINGLE_WRITER_OPTION}=true",
            "import",
            "--base-name",
            "example.com/single",
            str(TOOL / "sample.oci-archive.tar"),
        )
        assert result.returncode == 0, result.stderr
        assert [i.name for i in store.images()]


def test_conditional_writes_are_probed_once_per_store(
    s3_server: S3Server, moto_bucket: str
) -> None:
    url = f"s3://{moto_bucket}/store"
    mark = s3_server.mark()
    for i in range(3):
        store = ociport.open_store(
            url, storage_options={"endpoint_url": s3_server.endpoint}
        )
        store.content.update_index(
            lambda entries, i=i: [*entries, _entry(f"example.com/p:{i}")]
        )
    probes = [
        r
        for r in s3_server.since(mark)
        if "probe-conditional-" in r.path and r.method == "PUT"
    ]
    assert len(probes) == 2  # the create, and the second create that must fail
    assert not any("probe-conditional-" in key for key in _keys(store.content.location))


def test_lock_errors_name_the_lock_and_the_store(s3_service: S3Service) -> None:
    bucket = f"ociport-missing-{uuid.uuid4().hex[:12]}"
    store = _location(s3_service.endpoint, f"s3://{bucket}/store")
    lock = ObjectLock(store.join("index.json.lock"), store=store)
    with pytest.raises(StorageNotFoundError) as raised:
        lock.acquire()
    assert str(raised.value) == (
        f"store s3://{bucket}/store: creating lock object "
        f"s3://{bucket}/store/index.json.lock: bucket {bucket!r} does not exist; "
        f"ociport never creates buckets: create it first (aws s3 mb s3://{bucket})"
    )


@pytest.mark.rgw
def test_lock_error_on_rgw_names_credentials(rgw_server: RgwServer) -> None:
    bucket = new_bucket(rgw_server.endpoint)
    store = _location(
        rgw_server.endpoint,
        f"s3://{bucket}/store",
        key="testing",
        secret="wrong",
        skip_instance_cache=True,
    )
    lock = ObjectLock(store.join("index.json.lock"), store=store)
    with pytest.raises(StoragePermissionError) as raised:
        lock.acquire()
    message = str(raised.value)
    assert message.startswith(
        f"store s3://{bucket}/store: creating lock object "
        f"s3://{bucket}/store/index.json.lock: access denied (SignatureDoesNotMatch); "
        "check the credentials: AWS_ACCESS_KEY_ID"
    )
    assert "None" not in message


@pytest.mark.rgw
def test_stale_lock_on_rgw_is_broken_within_the_documented_time(
    rgw_server: RgwServer,
) -> None:
    """A lock left by a crashed process delays an import by STALE_AFTER (30 s, as the
    README says), no more; the import then succeeds and leaves no lock."""
    endpoint = rgw_server.endpoint
    bucket = new_bucket(endpoint)
    url = f"s3://{bucket}/store"
    ociport.open_store(url, storage_options={"endpoint_url": endpoint})
    lock = _location(endpoint, f"{url}/index.json.lock")
    crashed = {"token": "crashed", "host": "gone", "pid": 1, "time": time.time()}
    lock.fs.pipe_file(lock.path, json.dumps(crashed).encode())
    started = time.monotonic()
    result = _cli(
        "--store",
        url,
        "--storage-option",
        f"endpoint_url={endpoint}",
        "import",
        "--base-name",
        "example.com/after-crash",
        str(TOOL / "sample.oci-archive.tar"),
    )
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert STALE_AFTER <= took < STALE_AFTER + 20, took
    assert not lock.fs.exists(lock.path)
    store = ociport.open_store(url, storage_options={"endpoint_url": endpoint})
    assert [i.name for i in store.images()]
