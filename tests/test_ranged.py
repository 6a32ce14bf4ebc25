"""RangeReader slices: remote ones fetch windows of up to REMOTE_WINDOW bytes, never
past the slice's end, and hand out exactly the slice's bytes."""

from __future__ import annotations

import uuid

import fsspec
import pytest

from ociport.streams import ranged
from ociport.streams.location import Location
from ociport.streams.ranged import RangeReader


@pytest.fixture
def remote_file() -> Location:
    """A file on ``memory://``, which RangeReader treats like S3 (not local)."""
    url = f"memory://ociport-ranged-{uuid.uuid4().hex}/data"
    fsspec.filesystem("memory").pipe_file(url, bytes(range(256)) * 1024)  # 256 KiB
    return Location.from_url(url)


@pytest.mark.parametrize("window", [1000, 4096, 1 << 20])
def test_remote_slice_reads_in_windows_within_the_slice(
    remote_file: Location, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    monkeypatch.setattr(ranged, "REMOTE_WINDOW", window)
    data = remote_file.fs.cat_file(remote_file.path)
    reads: list[int] = []
    original = type(remote_file.fs.open(remote_file.path, "rb")).read

    def counting_read(self: object, n: int = -1) -> bytes:
        chunk: bytes = original(self, n)
        reads.append(len(chunk))
        return chunk

    monkeypatch.setattr(
        type(remote_file.fs.open(remote_file.path, "rb")), "read", counting_read
    )
    with RangeReader(remote_file) as reader:
        offset, size = 1234, 100_000
        with reader.stream(offset, size) as stream:
            buffer = bytearray(3000)
            got = bytearray()
            while n := stream.readinto(buffer):  # type: ignore[attr-defined]
                got += buffer[:n]
            assert bytes(got) == data[offset : offset + size]
        assert reader.bytes_read == size  # nothing fetched past the slice
        assert all(r <= window for r in reads) and sum(reads) == size
        with reader.stream(10, 5000) as stream:
            assert stream.read(7) + stream.read() == data[10:5010]
