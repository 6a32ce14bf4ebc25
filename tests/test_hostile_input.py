"""Hostile archives made by the tests themselves: each one fails quickly with one
specific error line, bounded memory, and a store left as it was."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import ociport
from helpers import ROOT, snapshot
from ociport.oci.manifest import dump_json
from ociport.oci.walk import MAX_DEPTH
from ociport.streams.tario import MAX_EXTENDED_HEADER

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
INDEX = "application/vnd.oci.image.index.v1+json"


def _members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile()]  # type: ignore[union-attr]


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _cli(
    store: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ociport", "--store", str(store), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode != 0
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ociport: error: "), lines
    assert (
        "Traceback" not in lines[0] and "Error:" not in lines[0].split(": ", 2)[-1][:30]
    )
    return lines[0]


@pytest.fixture
def store(tmp_path: Path) -> ociport.ImageStore:
    made = ociport.open_store(str(tmp_path / "store"))
    made.import_image(str(HELLO))
    return made


def _negative_size_archive() -> bytes:
    """A blob member whose base-256 size field says -2**40."""
    data = bytearray(_tar(_members(HELLO)))
    header = data[:512]
    header[124:136] = b"\xff" + (-(2**40) & (2**88 - 1)).to_bytes(11, "big")
    header[148:156] = b" " * 8
    header[148:155] = f"{sum(header):06o}\0".encode()
    data[:512] = header
    return bytes(data)


@pytest.mark.parametrize("how", ["file", "stdin", "inspect"])
def test_negative_member_size_is_refused_at_once(
    store: ociport.ImageStore, tmp_path: Path, how: str
) -> None:
    archive = tmp_path / "negative.tar"
    archive.write_bytes(_negative_size_archive())
    before = snapshot(store)
    location = store.content.location.path
    if how == "file":
        result = _cli(Path(location), "import", str(archive))
    elif how == "stdin":
        result = _cli(Path(location), "import", "-", stdin=archive.read_bytes())
    else:
        result = _cli(Path(location), "inspect", str(archive))
    assert "out of range" in _one_error_line(result)
    assert snapshot(store) == before


def _pax_parts(size: int) -> tuple[bytes, bytes]:
    """A PAX extended header of about ``size`` bytes, and the member it stands before."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("note")
        info.pax_headers = {"comment": "x" * size}
        tar.addfile(info)
    raw = out.getvalue()
    at = raw.index(b"note\0")
    return raw[:at], raw[at : at + 512]


def test_extended_headers_have_a_budget(store: ociport.ImageStore) -> None:
    """PAX headers before one member count together; each member starts afresh."""
    extended, member = _pax_parts(MAX_EXTENDED_HEADER * 6 // 10)
    hello = _tar(_members(HELLO))
    before = snapshot(store)
    fine = (extended + member) * 3 + hello
    store.import_image(io.BytesIO(gzip.compress(fine)))
    assert snapshot(store) == before  # nothing new: the image was there
    piled = extended * 2 + member + hello
    with pytest.raises(ociport.FormatError, match="extended headers of more than"):
        store.import_image(io.BytesIO(gzip.compress(piled)))
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress],
    ids=["gzip", "bzip2", "xz"],
)
def test_truncated_compressed_archive_says_so(
    store: ociport.ImageStore, tmp_path: Path, compress: object
) -> None:
    whole = compress(HELLO.read_bytes())  # type: ignore[operator]
    archive = tmp_path / "cut.tar.x"
    archive.write_bytes(whole[: len(whole) * 2 // 3])
    before = snapshot(store)
    for args, stdin in (
        (("import", str(archive)), None),
        (("import", "-"), archive.read_bytes()),
    ):
        line = _one_error_line(
            _cli(Path(store.content.location.path), *args, stdin=stdin)
        )
        assert "truncated" in line and "aborted" not in line
    assert snapshot(store) == before


def test_deep_nesting_has_a_limit(store: ociport.ImageStore) -> None:
    members = dict(_members(HELLO))
    index = json.loads(members["index.json"])
    child = index["manifests"][0]
    for _ in range(MAX_DEPTH + 5):
        raw = dump_json({"schemaVersion": 2, "mediaType": INDEX, "manifests": [child]})
        digest = f"sha256:{__import__('hashlib').sha256(raw).hexdigest()}"
        members[f"blobs/sha256/{digest[7:]}"] = raw
        child = {"mediaType": INDEX, "digest": digest, "size": len(raw)}
    index["manifests"] = [child]
    members["index.json"] = dump_json(index)
    before = snapshot(store)
    with pytest.raises(ociport.FormatError, match=f"more than {MAX_DEPTH} deep"):
        store.import_image(io.BytesIO(_tar(list(members.items()))))
    assert snapshot(store) == before


def test_a_lone_surrogate_is_a_format_error(store: ociport.ImageStore) -> None:
    members = dict(_members(HELLO))
    text = members["index.json"].decode()
    members["index.json"] = text.replace(
        '"org.opencontainers.image.ref.name":"',
        '"org.opencontainers.image.ref.name":"\\ud800',
    ).encode()
    assert b"\\ud800" in members["index.json"]
    before = snapshot(store)
    with pytest.raises(ociport.FormatError, match="surrogate"):
        store.import_image(io.BytesIO(_tar(list(members.items()))))
    assert snapshot(store) == before


def test_a_huge_member_name_gives_a_short_error_line(
    store: ociport.ImageStore, tmp_path: Path
) -> None:
    name = "blobs/sha256/" + "a" * (1 << 20)
    archive = tmp_path / "long.tar"
    archive.write_bytes(_tar([(name, b"x"), *_members(HELLO)]))
    line = _one_error_line(
        _cli(Path(store.content.location.path), "import", str(archive))
    )
    assert len(line) < 400
