"""S3 failures on the command line, against moto and Ceph RGW: one line that says whether
the store, the source or the destination failed, its URL, the cause and the hint that
fits; a missing bucket is never created. Wrong credentials are checked on RGW only
(moto accepts any)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from helpers import TOOL
from rgwserver import RgwServer
from s3server import new_bucket

pytestmark = pytest.mark.s3

SAMPLE = TOOL / "sample.oci-archive.tar"


def _fails(*args: str, **extra_env: str) -> str:
    """Run the CLI, which must fail with exit status 1 and one line on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    env.update(extra_env)
    result = subprocess.run(
        [sys.executable, "-m", "ociport", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    [line] = result.stderr.splitlines()
    assert line.startswith("ociport: error: ")
    assert "None" not in line
    return line[len("ociport: error: ") :]


def _bucket_exists(endpoint: str, bucket: str) -> bool:
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    return bool(fs.exists(bucket))


@pytest.fixture
def missing_bucket() -> str:
    return f"ociport-nobucket-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def local_with_image(tmp_path: Path) -> str:
    store = str(tmp_path / "local")
    result = subprocess.run(
        [sys.executable, "-m", "ociport", "--store", store, "import", str(SAMPLE)],
        capture_output=True,
        text=True,
        check=True,
    )
    return store + "\t" + result.stdout.split("\t")[0]


def test_missing_store_bucket_is_one_error_and_not_created(
    s3_endpoint: str, missing_bucket: str
) -> None:
    url = f"s3://{missing_bucket}/store"
    expected = (
        f"store {url}: bucket {missing_bucket!r} does not exist; ociport never "
        f"creates buckets: create it first (aws s3 mb s3://{missing_bucket})"
    )
    option = ("--storage-option", f"endpoint_url={s3_endpoint}")
    assert _fails("--store", url, *option, "import", str(SAMPLE)) == expected
    for read_only in (["images", "ls"], ["content", "ls"], ["content", "gc"]):
        assert _fails("--store", url, *option, *read_only) == expected
    assert not _bucket_exists(s3_endpoint, missing_bucket)


def test_missing_source_object_and_bucket(
    s3_endpoint: str, s3_bucket: str, missing_bucket: str, tmp_path: Path
) -> None:
    store = ("--store", str(tmp_path / "store"))
    option = ("--source-option", f"endpoint_url={s3_endpoint}")
    key = f"s3://{s3_bucket}/missing.tar"
    expected = f"source {key}: no such object; check the URL"
    assert _fails(*store, "import", key, *option) == expected
    assert _fails("inspect", key, *option) == expected
    url = f"s3://{missing_bucket}/image.tar"
    assert _fails(*store, "import", url, *option) == (
        f"source {url}: bucket {missing_bucket!r} does not exist; check the URL"
    )
    assert not _bucket_exists(s3_endpoint, missing_bucket)


@pytest.mark.parametrize("format_", ["oci-archive", "oci"])
def test_missing_destination_bucket(
    s3_endpoint: str, missing_bucket: str, local_with_image: str, format_: str
) -> None:
    store, name = local_with_image.split("\t")
    dest = f"s3://{missing_bucket}/out" + (".tar" if format_ == "oci-archive" else "")
    message = _fails(
        "--store",
        store,
        "export",
        dest,
        name,
        "--format",
        format_,
        "--dest-option",
        f"endpoint_url={s3_endpoint}",
    )
    assert message == (
        f"destination {dest}: bucket {missing_bucket!r} does not exist; ociport never "
        f"creates buckets: create it first (aws s3 mb s3://{missing_bucket})"
    )
    assert not _bucket_exists(s3_endpoint, missing_bucket)


@pytest.mark.rgw
def test_wrong_credentials_name_the_side_and_the_flags(
    rgw_server: RgwServer, local_with_image: str, tmp_path: Path
) -> None:
    endpoint = rgw_server.endpoint
    bucket = new_bucket(endpoint)
    wrong = ["key=testing", "secret=wrong"]
    url = f"s3://{bucket}/store"
    store_args = ["--store", url, "--storage-option", f"endpoint_url={endpoint}"]
    for option in wrong:
        store_args += ["--storage-option", option]
    message = _fails(*store_args, "import", str(SAMPLE))
    # The first request is a HEAD: a 403 without a body, so without an error code.
    assert message.startswith(f"store {url}: access denied; check the credentials: ")
    assert "AWS_ACCESS_KEY_ID" in message and "--storage-option secret=" in message

    import s3fs

    s3fs.S3FileSystem(endpoint_url=endpoint).put_file(str(SAMPLE), f"{bucket}/s.tar")
    source = f"s3://{bucket}/s.tar"
    args = ["--store", str(tmp_path / "s"), "import", source]
    for option in [f"endpoint_url={endpoint}", *wrong]:
        args += ["--source-option", option]
    message = _fails(*args)
    assert message.startswith(f"source {source}: access denied")
    assert "--source-option anon=true" in message

    local, name = local_with_image.split("\t")
    dest = f"s3://{bucket}/out.tar"
    args = ["--store", local, "export", dest, name]
    for option in [f"endpoint_url={endpoint}", *wrong]:
        args += ["--dest-option", option]
    message = _fails(*args)
    assert message.startswith(f"destination {dest}: access denied")
    assert "--dest-option secret=" in message


@pytest.mark.usefixtures("fake_aws_env")
def test_unreachable_endpoint() -> None:
    """Nothing listens on the port: the message names the endpoint, not a traceback
    (botocore's retries cut to one attempt, else this takes ~13 s)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"s3://bucket-{uuid.uuid4().hex[:8]}/store"
    message = _fails(
        "--store",
        url,
        "--storage-option",
        f"endpoint_url=http://127.0.0.1:{port}",
        "images",
        "ls",
        AWS_MAX_ATTEMPTS="1",
    )
    assert message.startswith(f"store {url}: cannot connect to http://127.0.0.1:{port}")
