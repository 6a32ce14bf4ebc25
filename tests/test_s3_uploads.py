"""Incomplete multipart uploads (``ociport.streams.uploads``) against moto and Ceph RGW:
uploads started and never completed, as a killed import leaves them, are aborted when
they are older than the cutoff and kept when younger; uploads outside the store's
prefix are never touched."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ociport.errors import StorageNotFoundError
from ociport.streams import uploads
from ociport.streams.location import Location
from ociport.streams.uploads import abort_stale_uploads
from s3server import S3Service

pytestmark = pytest.mark.s3


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint)


def _start_upload(client: Any, bucket: str, key: str) -> str:
    """Start a multipart upload of ``key`` with one part, and never complete it."""
    upload_id: str = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    client.upload_part(
        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * 1024
    )
    return upload_id


def _pending(client: Any, bucket: str) -> set[tuple[str, str]]:
    """``(key, upload id)`` of every incomplete upload in the bucket."""
    found: set[tuple[str, str]] = set()
    request: dict[str, Any] = {"Bucket": bucket}
    while True:
        page = client.list_multipart_uploads(**request)
        found |= {(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])}
        if not page.get("IsTruncated"):
            return found
        request["KeyMarker"] = page["NextKeyMarker"]
        request["UploadIdMarker"] = page["NextUploadIdMarker"]


@pytest.fixture
def store(s3_endpoint: str, s3_bucket: str) -> Location:
    return Location.from_url(f"s3://{s3_bucket}/store", {"endpoint_url": s3_endpoint})


def test_old_uploads_under_the_store_are_aborted_others_kept(
    store: Location,
    s3_service: S3Service,
    s3_endpoint: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = _client(s3_endpoint)
    inside = {
        (key, _start_upload(client, s3_bucket, key))
        for key in (
            "store/blobs/sha256/" + "a" * 64,
            "store/blobs/sha256/" + "b" * 64,
            "store/blobs/sha256/" + "b" * 64,  # two uploads of one key
            "store/ingest/probe-1",
            "store/export.tar",
        )
    }
    outside = {
        (key, _start_upload(client, s3_bucket, key))
        for key in ("store2/blobs/sha256/" + "c" * 64, "other/store/x", "store")
    }
    assert _pending(client, s3_bucket) == inside | outside
    # Small pages, so that the listing is paginated (RGW honours max-uploads; moto
    # answers with everything at once).
    monkeypatch.setattr(uploads, "_PAGE_SIZE", 2)
    listings: list[dict[str, Any]] = []
    call = store.fs.call_s3

    def counting(method: str, **request: Any) -> Any:
        if method == "list_multipart_uploads":
            listings.append(request)
        return call(method, **request)

    monkeypatch.setattr(store.fs, "call_s3", counting)

    cutoff = time.time() + 60
    assert abort_stale_uploads(store, cutoff, dry_run=True) == len(inside)
    assert _pending(client, s3_bucket) == inside | outside

    assert abort_stale_uploads(store, cutoff) == len(inside)
    assert _pending(client, s3_bucket) == outside
    if s3_service.name == "rgw":
        assert len(listings) == 2 * 3  # two runs of 5 uploads in pages of 2
        assert "KeyMarker" in listings[1]
    assert abort_stale_uploads(store, cutoff) == 0


def test_young_uploads_are_kept(
    store: Location, s3_service: S3Service, s3_endpoint: str, s3_bucket: str
) -> None:
    client = _client(s3_endpoint)
    key = "store/blobs/sha256/" + "d" * 64
    upload = (key, _start_upload(client, s3_bucket, key))
    [listed] = client.list_multipart_uploads(Bucket=s3_bucket)["Uploads"]
    if abs(listed["Initiated"].timestamp() - time.time()) > 86400:
        pytest.skip(
            f"{s3_service.name} reports uploads as started at "
            f"{listed['Initiated']:%Y-%m-%d}, not when they were"
        )
    assert abort_stale_uploads(store, time.time() - 3600) == 0
    assert abort_stale_uploads(store, time.time() - 3600, dry_run=True) == 0
    assert _pending(client, s3_bucket) == {upload}
    assert abort_stale_uploads(store, time.time() + 60) == 1
    assert _pending(client, s3_bucket) == set()


def test_a_bucket_root_covers_the_whole_bucket(
    s3_endpoint: str, s3_bucket: str
) -> None:
    client = _client(s3_endpoint)
    for key in ("a/b", "c"):
        _start_upload(client, s3_bucket, key)
    root = Location.from_url(f"s3://{s3_bucket}", {"endpoint_url": s3_endpoint})
    assert abort_stale_uploads(root, time.time() + 60) == 2
    assert _pending(client, s3_bucket) == set()


def test_missing_bucket_is_a_storage_error(s3_endpoint: str) -> None:
    bucket = f"ociport-nobucket-{uuid.uuid4().hex[:12]}"
    store = Location.from_url(f"s3://{bucket}/store", {"endpoint_url": s3_endpoint})
    with pytest.raises(StorageNotFoundError) as caught:
        abort_stale_uploads(store, time.time())
    assert str(caught.value).startswith(
        f"store s3://{bucket}/store: bucket {bucket!r} does not exist"
    )


def test_other_filesystems_have_no_uploads(tmp_path: Path) -> None:
    assert abort_stale_uploads(Location.from_url(str(tmp_path)), time.time()) == 0
    memory = Location.from_url(f"memory://ociport-{uuid.uuid4().hex}")
    assert abort_stale_uploads(memory, time.time() + 60) == 0


def _exited_pid() -> int:
    """The pid of a process of this machine that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_gc_spares_the_ingest_uploads_of_writers_at_work(
    s3_endpoint: str, s3_bucket: str
) -> None:
    """An ingest upload (a convert's new layer, whose digest is known only at its end,
    or the store's write-path probe) is spared by ``gc --grace 0`` while its writer
    lives here or holds a live lease; those of dead processes, of other machines
    without a lease, and nameless ones are aborted."""
    import ociport
    from ociport.content.leases import LeaseRecord
    from ociport.processes import HOST, owner_token

    store = ociport.open_store(
        f"s3://{s3_bucket}/store", storage_options={"endpoint_url": s3_endpoint}
    )
    leases = store.content.leases  # type: ignore[attr-defined]
    elsewhere = "0123abcd-42"  # a process of another machine, holding a lease
    now = time.time()
    leases.store(LeaseRecord("other", "import", elsewhere, now, now + 900, frozenset()))
    client = _client(s3_endpoint)
    keys = {
        "mine": f"store/ingest/{'a' * 32}.{owner_token()}.0",
        "probe": f"store/ingest/probe-{'b' * 32}.{owner_token()}.0",
        "leased": f"store/ingest/{'c' * 32}.{elsewhere}.1",
        "dead": f"store/ingest/{'d' * 32}.{HOST}-{_exited_pid()}.0",
        "unleased": f"store/ingest/{'e' * 32}.4567cdef-42.0",
        "nameless": "store/ingest/probe-1",
    }
    started = {
        name: (key, _start_upload(client, s3_bucket, key)) for name, key in keys.items()
    }
    result = store.gc(grace=0)
    assert result.uploads_aborted == 3
    assert _pending(client, s3_bucket) == {
        started[name] for name in ("mine", "probe", "leased")
    }
