"""Progress reports through the Python API: a plain byte-count callable still works,
and a :class:`ociport.Progress` hears the total, each blob and its bytes, the same for
every format (the engine reports; drivers do nothing)."""

from __future__ import annotations

import gzip
import io
import threading
from pathlib import Path
from typing import Any

import fsspec
import pytest

import ociport
from ociport.plugins import driver_registry
from ociport.testing.factories import name_image, random_image
from test_cli import SAMPLE

NAME = "example.com/progress:1"


class Recorder:
    """A :class:`ociport.Progress` that keeps what it hears."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.totals: list[int | None] = []
        self.blobs: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.unclaimed = 0
        self.early: list[str] = []  # bytes of a blob before the blob was announced

    def start(self, total: int | None) -> None:
        self.totals.append(total)

    def blob(self, digest: str, size: int) -> None:
        with self.lock:
            self.blobs[digest] = size
            self.done.setdefault(digest, 0)

    def advance(self, n: int, digest: str | None = None) -> None:
        with self.lock:
            if digest is None:
                self.unclaimed += n
            elif digest not in self.blobs:
                self.early.append(digest)
            else:
                self.done[digest] += n

    @property
    def moved(self) -> int:
        return sum(self.done.values()) + self.unclaimed


def _sizes(store: ociport.ImageStore) -> dict[str, int]:
    return {str(info.digest): info.size for info in store.content.walk()}


@pytest.fixture
def source(tmp_path: Path) -> ociport.ImageStore:
    """A store holding NAME: two platforms, 300 KB layers."""
    store = ociport.open_store(str(tmp_path / "source"))
    root = random_image(
        store.content,  # type: ignore[arg-type]
        layers=2,
        layer_size=300_000,
        seed=11,
        platforms=["linux/amd64", "linux/arm64"],
    )
    name_image(store.content, NAME, root)  # type: ignore[arg-type]
    return store


def test_a_plain_callable_still_hears_byte_counts(tmp_path: Path) -> None:
    store = ociport.open_store(str(tmp_path / "store"))
    counts: list[int] = []
    result = store.import_image(str(SAMPLE), progress=counts.append)
    assert sum(counts) == sum(_sizes(store).values()) == result.bytes_committed
    written: list[int] = []
    name = result.images[0].name
    exported = store.export_images([name], io.BytesIO(), progress=written.append)
    assert sum(written) == exported.bytes_exported == sum(_sizes(store).values())


def test_progress_object_is_a_public_protocol() -> None:
    assert isinstance(Recorder(), ociport.Progress)
    assert not isinstance(print, ociport.Progress)


def test_import_from_a_file_states_the_exact_total_before_reading_blobs(
    source: ociport.ImageStore, tmp_path: Path
) -> None:
    archive = tmp_path / "a.tar"
    source.export_images([NAME], str(archive))
    store = ociport.open_store(str(tmp_path / "store"))
    report = Recorder()
    store.import_image(str(archive), progress=report, platforms=["linux/arm64"])
    wanted = _sizes(store)  # only the arm64 manifest's blobs, and the index
    assert report.totals == [archive.stat().st_size, sum(wanted.values())]
    assert report.blobs == wanted
    assert report.done == wanted
    assert report.early == [] and report.unclaimed == 0


def test_import_from_streams(source: ociport.ImageStore, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    source.export_images([NAME], buffer)
    total = sum(_sizes(source).values())

    seekable = Recorder()
    ociport.open_store(str(tmp_path / "a")).import_image(
        io.BytesIO(buffer.getvalue()), progress=seekable
    )
    assert seekable.totals == [len(buffer.getvalue()), total]
    assert seekable.moved == total

    class Pipe(io.RawIOBase):
        """A stream that cannot seek, as a pipe."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            return self._data.readinto(buffer)

    piped = Recorder()
    ociport.open_store(str(tmp_path / "b")).import_image(
        io.BufferedReader(Pipe(buffer.getvalue())),  # type: ignore[arg-type]
        progress=piped,
    )
    assert piped.totals == [None, total]
    assert piped.done == _sizes(source)

    compressed = tmp_path / "a.tar.gz"
    compressed.write_bytes(gzip.compress(buffer.getvalue()))
    gzipped = Recorder()
    ociport.open_store(str(tmp_path / "c")).import_image(
        str(compressed), progress=gzipped
    )
    assert gzipped.totals == [None, total], "a compressed file's size is no estimate"


def _target(tmp_path: Path, driver: str) -> str:
    if driver == "oci":
        return str(tmp_path / "layout")
    return str(tmp_path / f"out.{driver}")


@pytest.mark.parametrize(
    "driver",
    sorted(  # formats written to a path (a registry is addressed: plugin tests)
        d.name
        for d in driver_registry(ociport.make_plugin_manager()).drivers()
        if not d.addressed
    ),
)
def test_every_format_reports_export_progress(
    source: ociport.ImageStore, tmp_path: Path, driver: str
) -> None:
    report = Recorder()
    platform = ["linux/arm64"] if driver == "docker-archive" else []
    result = source.export_images(
        [NAME],
        _target(tmp_path, driver),
        format=driver,
        platforms=platform,
        progress=report,
    )
    assert report.totals == [result.bytes_exported]
    assert report.early == [] and report.unclaimed == 0
    sizes = _sizes(source)
    for digest, done in report.done.items():
        assert done <= report.blobs[digest], "a blob read twice counts once"
    if driver == "docker-archive":  # one platform's layers: the other's are left out
        layers = [d for d, size in sizes.items() if size > 300_000]
        written = [d for d in layers if report.done.get(d) == sizes[d]]
        assert len(written) == 2 and len(layers) == 4
    else:
        assert report.done == sizes, driver


@pytest.mark.s3
def test_import_from_s3_states_the_object_size_then_what_is_needed(
    source: ociport.ImageStore, tmp_path: Path, moto_bucket: str, s3_server: Any
) -> None:
    buffer = io.BytesIO()
    source.export_images([NAME], buffer)
    options = {"endpoint_url": s3_server.endpoint}
    url = f"s3://{moto_bucket}/image.tar"
    with fsspec.open(url, "wb", **options) as upload:
        upload.write(buffer.getvalue())
    store = ociport.open_store(str(tmp_path / "store"))
    report = Recorder()
    store.import_image(
        url, storage_options=options, platforms=["linux/amd64"], progress=report
    )
    wanted = _sizes(store)
    assert report.totals == [len(buffer.getvalue()), sum(wanted.values())]
    assert report.done == wanted
