"""What a remote filesystem's errors mean (``ociport.streams.storage_errors``), from the
answers S3 servers really give, passed through s3fs's own translation: no server needed.

The shapes are those observed with Ceph RGW 16.2.15 (no ``<Message>``, no
``<Condition>`` in a 412) and moto 5.
"""

from __future__ import annotations

import errno
from typing import Any

import pytest

from ociport.errors import (
    BlobNotFoundError,
    StorageError,
    StorageNotFoundError,
    StoragePermissionError,
)
from ociport.streams.location import Location
from ociport.streams.storage_errors import (
    describe_error,
    is_conflict,
    is_precondition_failed,
    service_error,
    storage_errors,
)

botocore = pytest.importorskip("botocore.exceptions")
s3fs_errors = pytest.importorskip("s3fs.errors")


def _s3(
    code: str,
    status: int,
    operation: str = "PutObject",
    message: str | None = None,
    **extra: Any,
) -> OSError:
    """What s3fs raises for this answer: its translation of botocore's ClientError."""
    error = botocore.ClientError(
        {
            "Error": {"Code": code, "Message": message, **extra},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )
    translated = s3fs_errors.translate_boto_error(error)
    assert isinstance(translated, OSError)
    return translated


RGW_412 = _s3("PreconditionFailed", 412, BucketName="b")
MOTO_412 = _s3(
    "PreconditionFailed",
    412,
    message="At least one of the pre-conditions you specified did not hold",
    Condition="If-None-Match",
)


@pytest.fixture
def s3_location() -> Location:
    pytest.importorskip("s3fs")
    return Location.from_url(
        "s3://bucket/images", {"endpoint_url": "http://127.0.0.1:9", "anon": True}
    )


def test_rgw_412_is_exists_although_s3fs_calls_it_einval() -> None:
    assert type(RGW_412) is OSError and RGW_412.errno == errno.EINVAL
    assert str(RGW_412) == "[Errno 22] None"  # what users saw before
    assert isinstance(MOTO_412, FileExistsError)
    for answer in (RGW_412, MOTO_412, FileExistsError("x")):
        assert is_precondition_failed(answer)
        assert not is_conflict(answer)
    found = service_error(RGW_412)
    assert found is not None
    assert (found.code, found.status, found.message, found.operation) == (
        "PreconditionFailed",
        412,
        None,
        "PutObject",
    )


def test_409_and_busy_mean_try_again() -> None:
    conflict = _s3("ConditionalRequestConflict", 409, message="conflicting operation")
    assert is_conflict(conflict) and not is_precondition_failed(conflict)
    assert is_conflict(_s3("SlowDown", 503))
    assert is_conflict(OSError(errno.EBUSY, "busy"))
    assert not is_conflict(_s3("AccessDenied", 403))
    assert not is_conflict(OSError(errno.EINVAL, "x"))


@pytest.mark.parametrize(
    ("role", "flag"),
    [
        ("store", "--storage-option"),
        ("source", "--source-option"),
        ("destination", "--dest-option"),
    ],
)
def test_missing_bucket(s3_location: Location, role: Any, flag: str) -> None:
    error = describe_error(
        _s3("NoSuchBucket", 404, BucketName="bucket"), s3_location, role
    )
    assert isinstance(error, StorageNotFoundError)
    assert isinstance(error, FileNotFoundError)
    assert str(error).startswith(f"{role} s3://bucket/images: bucket 'bucket' ")
    assert "None" not in str(error)
    if role == "source":
        assert error.hint == "check the URL"
    else:
        assert "never creates buckets" in error.hint


def test_missing_bucket_from_a_head_request(s3_location: Location) -> None:
    """HEAD answers carry no body: botocore's code is then "404"."""
    error = describe_error(
        _s3("404", 404, "HeadBucket", "Not Found"), s3_location, "store"
    )
    assert error.reason == "bucket 'bucket' does not exist"


def test_missing_object(s3_location: Location) -> None:
    error = describe_error(
        FileNotFoundError("bucket/images/x.tar"), s3_location, "store"
    )
    assert isinstance(error, StorageNotFoundError)
    assert error.reason == "no such object bucket/images/x.tar"
    assert error.hint == ""
    # A source's URL names the object already.
    source = s3_location.join("x.tar")
    error = describe_error(FileNotFoundError("bucket/images/x.tar"), source, "source")
    assert (
        str(error) == "source s3://bucket/images/x.tar: no such object; check the URL"
    )
    error = describe_error(_s3("NoSuchKey", 404, "GetObject"), source, "source")
    assert (
        str(error) == "source s3://bucket/images/x.tar: no such object; check the URL"
    )


@pytest.mark.parametrize(
    "cause",
    [
        _s3("InvalidAccessKeyId", 403, "GetObject"),
        _s3("SignatureDoesNotMatch", 403, "GetObject"),
        _s3("AccessDenied", 403, "PutObject", BucketName="bucket"),
        _s3("403", 403, "HeadObject", "Forbidden"),
    ],
)
def test_credentials(s3_location: Location, cause: OSError) -> None:
    source = describe_error(cause, s3_location, "source")
    assert isinstance(source, StoragePermissionError)
    assert isinstance(source, PermissionError)
    assert source.reason.startswith("access denied")
    assert "AWS_ACCESS_KEY_ID" in source.hint and "--source-option" in source.hint
    assert "anon=true" in source.hint
    store = describe_error(cause, s3_location, "store")
    assert "--storage-option" in store.hint and "anon" not in store.hint


def test_no_credentials_and_no_connection(s3_location: Location) -> None:
    none = describe_error(botocore.NoCredentialsError(), s3_location, "store")
    assert none.reason == "no credentials found"
    assert "AWS_SECRET_ACCESS_KEY" in none.hint
    partial = botocore.PartialCredentialsError(provider="explicit", cred_var="key")
    assert describe_error(partial, s3_location, "store").reason == (
        "incomplete credentials (Partial credentials found in explicit, missing: key)"
    )
    down = describe_error(
        botocore.EndpointConnectionError(endpoint_url="http://127.0.0.1:9/bucket"),
        s3_location,
        "destination",
    )
    assert down.reason == "cannot connect to http://127.0.0.1:9"
    assert "--dest-option endpoint_url" in down.hint


def test_other_answers_name_code_status_and_operation(s3_location: Location) -> None:
    error = describe_error(_s3("InternalError", 500, "PutObject"), s3_location, "store")
    assert error.reason == "the server answered InternalError, HTTP 500 to PutObject"
    lock = describe_error(
        RGW_412, s3_location, "store", subject="creating lock object s3://b/l"
    )
    assert lock.reason.startswith("creating lock object s3://b/l: the server answered")
    assert "None" not in str(lock)


def test_storage_errors_convert_remote_and_mark_local(
    s3_location: Location, tmp_path: Any
) -> None:
    with (
        pytest.raises(StorageNotFoundError) as raised,
        storage_errors(s3_location, "source"),
    ):
        raise _s3("NoSuchBucket", 404)
    assert isinstance(raised.value.__cause__, FileNotFoundError)
    # ociport's own errors pass unchanged.
    with pytest.raises(BlobNotFoundError), storage_errors(s3_location, "store"):
        raise BlobNotFoundError("sha256:x")
    # A local path's error is not converted, but marked: an outer block leaves it alone.
    local = Location.from_url(str(tmp_path))
    with (
        pytest.raises(OSError) as kept,
        storage_errors(s3_location, "source"),
        storage_errors(local, "store"),
    ):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path))
    assert type(kept.value) is OSError and kept.value.errno == errno.ENOSPC
    # An inner remote block names its own side; the outer one keeps that.
    with (
        pytest.raises(StorageError, match=r"^store "),
        storage_errors(s3_location, "source"),
        storage_errors(s3_location, "store"),
    ):
        raise _s3("AccessDenied", 403)
