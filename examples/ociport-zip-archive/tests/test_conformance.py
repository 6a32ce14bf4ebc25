"""The oci-zip driver: ociport's shared conformance suite, the zip layout it writes, what
it refuses to read, and the installed plugin through the command line."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pluggy
import pytest
from ociport_zip_archive import ZipArchiveDriver

import ociport
from ociport.testing.conformance import ImageDriverSuite, Target, new_targets

#: The repository's example image (an oci-archive) and its name.
HELLO = Path(__file__).resolve().parents[3] / "examples" / "hello.oci-archive.tar"
HELLO_NAME = "example.com/ociport/hello:1.0"


class TestZipArchiveDriverSuite(ImageDriverSuite):
    """Every test of the suite, exporting to files in tmp_path and to seekable streams."""

    @pytest.fixture
    def driver_cls(self) -> type[ZipArchiveDriver]:
        return ZipArchiveDriver

    @pytest.fixture(params=["path", "stream"])
    def target_factory(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Callable[[], Target]:
        return new_targets(request.param, tmp_path, ".zip")


# -- the zip itself ----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path, zip_pm: pluggy.PluginManager) -> ociport.ImageStore:
    """A local store holding the example image, with this plugin."""
    store = ociport.open_store(str(tmp_path / "store"), pm=zip_pm)
    store.import_image(HELLO)
    return store


def _export(store: ociport.ImageStore) -> bytes:
    sink = io.BytesIO()
    store.export_images([HELLO_NAME], sink, format="oci-zip")
    return sink.getvalue()


def test_layout_order_and_fixed_headers(store: ociport.ImageStore) -> None:
    data = _export(store)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names[:2] == ["oci-layout", "index.json"]
        assert names[2:] == sorted(names[2:])
        assert all(name.startswith("blobs/sha256/") for name in names[2:])
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            if info.filename.startswith("blobs/"):
                digest = info.filename.rpartition("/")[2]
                assert hashlib.sha256(archive.read(info)).hexdigest() == digest
    assert _export(store) == data


def test_plugin_files_come_after_index_json(
    store: ociport.ImageStore, zip_pm: pluggy.PluginManager
) -> None:
    class Notes:
        @ociport.hookimpl
        def ociport_archive_members(self, driver_name: str) -> list[tuple[str, bytes]]:
            return [("NOTES.txt", b"hello\n")] if driver_name == "oci-zip" else []

    zip_pm.register(Notes())
    with zipfile.ZipFile(io.BytesIO(_export(store))) as archive:
        assert archive.namelist()[:3] == ["oci-layout", "index.json", "NOTES.txt"]
        assert archive.read("NOTES.txt") == b"hello\n"


# -- reading -----------------------------------------------------------------------------


def _zip(*members: tuple[str, bytes], deflate: str = "") -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, data in members:
            method = zipfile.ZIP_DEFLATED if name == deflate else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=method)
    return sink.getvalue()


def _members(store: ociport.ImageStore) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(_export(store))) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def test_sniff(store: ociport.ImageStore, tmp_path: Path) -> None:
    data = _export(store)
    assert ZipArchiveDriver.sniff(data[:65536], None)
    path = tmp_path / "hello.zip"
    path.write_bytes(data)
    assert ZipArchiveDriver.sniff(None, ociport.Location.from_url(str(path)))
    assert not ZipArchiveDriver.sniff(None, ociport.Location.from_url(str(tmp_path)))
    other = _zip(("README", b"hi"), *_members(store))
    assert not ZipArchiveDriver.sniff(other, None)
    assert not ZipArchiveDriver.sniff(HELLO.read_bytes(), None)


def test_import_from_a_filesystem_that_is_not_local(
    store: ociport.ImageStore, zip_pm: pluggy.PluginManager
) -> None:
    url = "memory://ociport-zip-tests/hello.zip"
    fs = ociport.Location.from_url(url).fs
    fs.pipe_file(url, _export(store))
    try:
        result = store.import_image(url)  # format detected from the first bytes
        [image] = result.images
        assert image.name == HELLO_NAME
        [record] = ociport.inspect_source(url, pm=zip_pm)
        assert record["descriptor"]["digest"] == str(image.target.digest)
    finally:
        fs.rm("memory://ociport-zip-tests", recursive=True)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../escape", "escapes the layout"),
        ("/absolute", "escapes the layout"),
        ("blobs/sha256/../../x", "escapes the layout"),
        ("blobs/sha256/NOT-HEX", "not a valid digest path"),
        ("blobs/sha256/a/b", "blobs/<algorithm>/<encoded>"),
    ],
)
def test_bad_member_names_are_refused(
    store: ociport.ImageStore, name: str, message: str
) -> None:
    data = _zip(*_members(store), (name, b"x"))
    with pytest.raises(ociport.FormatError, match=re.escape(message)):
        store.import_image(io.BytesIO(data), format="oci-zip")


def test_deflated_blob_is_refused(store: ociport.ImageStore) -> None:
    members = _members(store)
    data = _zip(*members, deflate=members[-1][0])
    with pytest.raises(ociport.FormatError, match="stored"):
        store.import_image(io.BytesIO(data), format="oci-zip")


def test_corrupt_zip_is_a_format_error(store: ociport.ImageStore) -> None:
    data = _export(store)
    end = data.rindex(b"PK\x05\x06")  # the end of central directory record
    for broken in (data[:30], data[:end] + b"PK\x05\x06" + b"\xff" * 18, b"PK\x03\x04"):
        with pytest.raises(ociport.FormatError):
            store.import_image(io.BytesIO(broken), format="oci-zip")


def test_pipe_is_refused(store: ociport.ImageStore) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"PK\x03\x04")
    os.close(write_end)
    with open(read_end, "rb") as pipe, pytest.raises(ociport.UnsupportedSourceError):
        store.import_image(pipe, format="oci-zip")


# -- the installed plugin, through the command line ---------------------------------------


def _ociport(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    result = subprocess.run(
        [sys.executable, "-m", "ociport", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cli_uses_the_installed_plugin(tmp_path: Path) -> None:
    listed = _ociport("plugins")
    assert re.search(r"^\s+oci-zip\s+ociport-zip-archive ", listed, re.M), (
        "the oci-zip entry point is not installed: "
        "pip install -e examples/ociport-zip-archive (scripts/test does)"
    )
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    out = tmp_path / "hello.zip"
    imported = _ociport("--store", first, "import", str(HELLO))
    _ociport("--store", first, "export", "--format", "oci-zip", str(out), HELLO_NAME)
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist()[:2] == ["oci-layout", "index.json"]
    unzip = shutil.which("unzip")
    if unzip is not None:
        listing = subprocess.run(
            [unzip, "-Z1", str(out)], capture_output=True, text=True, check=True
        )
        assert listing.stdout.splitlines()[:2] == ["oci-layout", "index.json"]
    again = _ociport("--store", second, "import", str(out))  # format detected
    assert again == imported
    assert HELLO_NAME in again and "sha256:" in again
