"""The fsspec store on S3 (moto and Ceph RGW on 127.0.0.1): verified direct writes, the
index.json lock protocol across processes, and what other clients see."""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

import pytest

from ociport.content.fsstore import FsspecContentStore
from ociport.content.locks import ObjectLock
from ociport.content.objectwriter import ObjectBlobWriter, honours_deferred_commit
from ociport.content.writer import FsspecBlobWriter
from ociport.errors import BlobExistsError, DigestMismatchError, SizeMismatchError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_REF_NAME, Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index
from ociport.streams.location import Location
from ociport.streams.storage_errors import is_precondition_failed

pytestmark = pytest.mark.s3

#: Larger than one upload part (8 MiB): the multipart upload is under way mid-write.
BIG = 9 << 20


def _store(endpoint: str, bucket: str, **options: Any) -> FsspecContentStore:
    extra = {k: v for k, v in options.items() if k in ("stale_after",)}
    storage = {k: v for k, v in options.items() if k not in extra}
    location = Location.from_url(
        f"s3://{bucket}/store", {"endpoint_url": endpoint, **storage}
    )
    return FsspecContentStore(location, **extra)


def _keys(store: FsspecContentStore) -> set[str]:
    """Every object in the bucket, asked of the server (no listing cache)."""
    fs = store.location.fs
    bucket = store.location.path.split("/")[0]
    fs.invalidate_cache()
    return {path[len(bucket) + 1 :] for path in fs.find(bucket)}


def _uploads(store: FsspecContentStore) -> list[str]:
    """Keys of multipart uploads in progress (neither completed nor aborted)."""
    fs = store.location.fs
    bucket = store.location.path.split("/")[0]
    listed = fs.call_s3("list_multipart_uploads", Bucket=bucket)
    return [upload["Key"] for upload in listed.get("Uploads", [])]


def _descriptor(data: bytes) -> Descriptor:
    return Descriptor(mt.OCI_LAYER_TAR, Digest.of(data), len(data))


EMPTY_STORE = {"store/index.json", "store/oci-layout"}


@pytest.fixture
def s3_store(s3_endpoint: str, s3_bucket: str) -> FsspecContentStore:
    return _store(s3_endpoint, s3_bucket)


def test_s3_backend_honours_deferred_commit_and_exclusive_create(
    s3_store: FsspecContentStore,
) -> None:
    """The two S3 facts the store builds on, checked against the server. A failed
    exclusive create is a FileExistsError on moto; on RGW, which names no condition in
    its 412, s3fs raises OSError(EINVAL): both are "exists" to the lock."""
    assert honours_deferred_commit(s3_store.location)
    assert s3_store.direct_writes
    fs, key = s3_store.location.fs, s3_store.location.join("exclusive").path
    with fs.open(key, "xb") as out:
        out.write(b"first")
    with pytest.raises(OSError) as raised, fs.open(key, "xb") as out:
        out.write(b"second")
    assert is_precondition_failed(raised.value)
    assert fs.cat_file(key) == b"first"


def test_direct_write_is_invisible_until_commit(s3_store: FsspecContentStore) -> None:
    """A multi-part blob goes straight to its key: an upload is in progress, no object
    is visible, nothing passes through ingest/; commit completes it."""
    data = bytes(range(256)) * (BIG // 256)
    desc = _descriptor(data)
    key = f"store/blobs/sha256/{desc.digest.encoded}"
    with s3_store.writer(ingest_id="big", expected=desc) as writer:
        assert isinstance(writer, ObjectBlobWriter)
        writer.write(data)
        assert _uploads(s3_store) == [key]
        assert _keys(s3_store) == EMPTY_STORE
        writer.prepare(len(data), desc.digest)
        assert _keys(s3_store) == EMPTY_STORE
        writer.commit()
    assert _keys(s3_store) == EMPTY_STORE | {key}
    assert _uploads(s3_store) == []
    assert s3_store.location.fs.cat_file(s3_store.location.join(key[6:]).path) == data


@pytest.mark.parametrize("size", [100, BIG], ids=["one-part", "multi-part"])
def test_mismatch_leaves_no_object_and_no_upload(
    s3_store: FsspecContentStore, size: int
) -> None:
    """Wrong bytes, wrong size, wrong expected digest, or an abort mid-write: no object
    and no multipart upload remain."""
    data = b"x" * size
    claimed = _descriptor(b"y" * size)
    with s3_store.writer(ingest_id="bad", expected=claimed) as writer:
        writer.write(data)
        with pytest.raises(DigestMismatchError):
            writer.prepare(size, claimed.digest)
    right = _descriptor(data)
    with s3_store.writer(ingest_id="short", expected=right) as writer:
        writer.write(data[:-1])
        with pytest.raises(SizeMismatchError):
            writer.commit(size, right.digest)
    with s3_store.writer(ingest_id="other", expected=right) as writer:
        writer.write(data)
        with pytest.raises(DigestMismatchError):
            writer.commit(size, claimed.digest)  # the bytes are right, the claim is not
    with s3_store.writer(ingest_id="abandoned", expected=right) as writer:
        writer.write(data)
    assert _keys(s3_store) == EMPTY_STORE
    assert _uploads(s3_store) == []


def test_commit_of_existing_blob_aborts_the_upload(
    s3_store: FsspecContentStore,
) -> None:
    data = b"already there"
    desc = _descriptor(data)
    for attempt in range(2):
        with s3_store.writer(ingest_id=f"w{attempt}", expected=desc) as writer:
            writer.write(data)
            if attempt:
                with pytest.raises(BlobExistsError):
                    writer.commit(len(data), desc.digest)
            else:
                writer.commit(len(data), desc.digest)
    assert _uploads(s3_store) == []
    assert _keys(s3_store) == EMPTY_STORE | {
        f"store/blobs/sha256/{desc.digest.encoded}"
    }


def test_unknown_digest_takes_the_ingest_path(s3_store: FsspecContentStore) -> None:
    data = b"digest learnt at the end"
    with s3_store.writer(ingest_id="unknown") as writer:
        assert isinstance(writer, FsspecBlobWriter)
        writer.write(data)
        info = writer.commit()
    assert info.digest == Digest.of(data)
    assert _keys(s3_store) == EMPTY_STORE | {
        f"store/blobs/sha256/{info.digest.encoded}"
    }


def test_store_option_can_force_the_ingest_path(
    s3_endpoint: str, s3_bucket: str
) -> None:
    location = Location.from_url(
        f"s3://{s3_bucket}/store", {"endpoint_url": s3_endpoint}
    )
    store = FsspecContentStore(location, direct_writes=False)
    data = b"forced"
    with store.writer(ingest_id="forced", expected=_descriptor(data)) as writer:
        assert isinstance(writer, FsspecBlobWriter)
        writer.write(data)
        writer.commit()
    assert store.info(Digest.of(data)).size == len(data)


def _entry(name: str) -> Descriptor:
    data = name.encode()
    return Descriptor(
        mt.OCI_IMAGE_MANIFEST,
        Digest.of(data),
        len(data),
        annotations={ANNOTATION_REF_NAME: name},
    )


def _add_names(endpoint: str, bucket: str, prefix: str, count: int, start: Any) -> None:
    """Runs in a spawned process, with its own s3fs instance; all start together."""
    store = _store(endpoint, bucket, skip_instance_cache=True)
    start.wait(timeout=60)
    for i in range(count):
        entry = _entry(f"example.com/{prefix}:{i}")
        store.update_index(lambda entries, entry=entry: [*entries, entry])


def _names(store: FsspecContentStore) -> set[str | None]:
    return {d.ref_name for d in store.read_index()}


def test_index_updates_from_processes_lose_no_name(
    s3_store: FsspecContentStore, s3_endpoint: str
) -> None:
    bucket = s3_store.location.path.split("/")[0]
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(3)
    processes = [
        context.Process(
            target=_add_names, args=(s3_endpoint, bucket, f"proc{p}", 10, start)
        )
        for p in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * 3
    assert _names(s3_store) == {
        f"example.com/proc{p}:{i}" for p in range(3) for i in range(10)
    }
    assert "store/index.json.lock" not in _keys(s3_store)


def test_blob_and_name_written_by_another_client_are_seen(
    s3_endpoint: str, s3_bucket: str
) -> None:
    """Two clients with their own s3fs instances: what one writes, the other sees at
    once (listings are not cached on S3 unless asked for, which shows the hazard)."""
    reader = _store(s3_endpoint, s3_bucket, skip_instance_cache=True)
    caching = _store(
        s3_endpoint, s3_bucket, skip_instance_cache=True, use_listings_cache=True
    )
    writer = _store(s3_endpoint, s3_bucket, skip_instance_cache=True)
    assert reader.location.fs is not writer.location.fs
    first, second = b"first blob", b"second blob"
    with writer.writer(ingest_id="1", expected=_descriptor(first)) as w:
        w.write(first)
        w.commit()
    assert [i.digest for i in reader.walk()] == [Digest.of(first)]
    assert [i.digest for i in caching.walk()] == [Digest.of(first)]
    assert reader.read_index() == ()
    with writer.writer(ingest_id="2", expected=_descriptor(second)) as w:
        w.write(second)
        w.commit()
    writer.update_index(lambda entries: [*entries, _entry("example.com/seen:1")])
    assert {i.digest for i in reader.walk()} == {Digest.of(first), Digest.of(second)}
    assert reader.info(Digest.of(second)).size == len(second)
    assert _names(reader) == {"example.com/seen:1"}
    # The hazard avoided: a client that caches listings misses the second blob.
    assert [i.digest for i in caching.walk()] == [Digest.of(first)]


def test_stale_lock_is_broken(s3_endpoint: str, s3_bucket: str) -> None:
    store = _store(s3_endpoint, s3_bucket, stale_after=0.5)
    lock = store.location.join("index.json.lock")
    lock.fs.pipe_file(lock.path, b'{"token": "left by a crashed process"}')
    started = time.monotonic()
    store.update_index(lambda entries: [*entries, _entry("example.com/after:1")])
    waited = time.monotonic() - started
    assert 0.5 <= waited < 10
    assert _names(store) == {"example.com/after:1"}
    assert not lock.fs.exists(lock.path)


def test_live_lock_is_waited_for(s3_endpoint: str, s3_bucket: str) -> None:
    """A held lock delays an update until it is released, and is not broken."""
    store = _store(s3_endpoint, s3_bucket, stale_after=30)
    holder = ObjectLock(store.location.join("index.json.lock"))
    holder.acquire()
    released = threading.Event()

    def release_later() -> None:
        time.sleep(0.6)
        released.set()
        holder.release()

    thread = threading.Thread(target=release_later)
    thread.start()
    store.update_index(lambda entries: [*entries, _entry("example.com/waited:1")])
    assert released.is_set()
    thread.join()
    assert _names(store) == {"example.com/waited:1"}


def test_update_starts_over_when_its_lock_was_broken(
    s3_store: FsspecContentStore,
) -> None:
    """A holder whose lock was broken (taken over) before its write does not write: it
    takes the lock again and re-applies its change to the fresh entries."""
    lock = s3_store.location.join("index.json.lock")
    calls: list[list[str | None]] = []

    def change(entries: list[Descriptor]) -> list[Descriptor]:
        calls.append([e.ref_name for e in entries])
        if len(calls) == 1:
            # Meanwhile another process broke our lock, took it and added a name.
            lock.fs.rm_file(lock.path)
            lock.fs.pipe_file(lock.path, b'{"token": "the other process"}')
            index = s3_store.location.join("index.json")
            index.fs.pipe_file(
                index.path, Index.build([_entry("example.com/other:1")]).raw
            )
            lock.fs.rm_file(lock.path)
        return [*entries, _entry("example.com/mine:1")]

    s3_store.update_index(change)
    assert calls == [[], ["example.com/other:1"]]
    assert _names(s3_store) == {"example.com/other:1", "example.com/mine:1"}


def test_listing_cache_off_by_default_on_s3(s3_endpoint: str, s3_bucket: str) -> None:
    default = Location.from_url(f"s3://{s3_bucket}", {"endpoint_url": s3_endpoint})
    assert default.fs.dircache.use_listings_cache is False
    chosen = Location.from_url(
        f"s3://{s3_bucket}", {"endpoint_url": s3_endpoint, "use_listings_cache": True}
    )
    assert chosen.fs.dircache.use_listings_cache is True


def test_part_size_keeps_any_blob_within_the_part_limit() -> None:
    from ociport.content.objectwriter import PART_SIZE, part_size

    assert part_size(0) == part_size(BIG) == PART_SIZE
    for size in (80 << 30, 200 << 30, 5 << 40):
        chosen = part_size(size)
        assert chosen % (1 << 20) == 0
        assert -(-size // chosen) <= 10_000
