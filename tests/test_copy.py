"""``copy``: images from any place to any other without the store, checked with skopeo
and umoci: digests kept, platforms filtered, referrers carried, corrupt blobs refused
with the destination left as it was, one-pass sources staged and cleaned up."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pluggy
import pytest
from ociport_docker_archive import plugin as docker_plugin

import ociport
from helpers import ROOT, TOOL, need_tool
from ociport.builtin import oci_layout
from ociport.content.fsstore import FsspecContentStore
from ociport.errors import (
    DigestMismatchError,
    InvalidLocationError,
    RefNameNotFoundError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Platform
from ociport.oci.digest import Digest
from ociport.streams.location import Location
from ociport.testing.factories import attach_artifact, name_image, random_image

SAMPLE = TOOL / "sample.oci-archive.tar"  # skopeo's, one image with ref name 1.0
SAMPLE_DIGEST = (
    "sha256:a1a84146184980b78e9da7bd968df1beffb3991f4017406fb98b293945a1d665"
)
MULTI = TOOL / "multiarch.oci-archive.tar"  # an index of several platforms
HELLO = ROOT / "examples" / "hello.oci-archive.tar"
SPDX = "application/spdx+json"


@pytest.fixture
def pm(pm: pluggy.PluginManager) -> pluggy.PluginManager:
    """The built-ins with the layout driver, and the Docker archive plugin."""
    pm.register(oci_layout, name="oci")
    pm.register(docker_plugin, name="docker-archive")
    return pm


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory copies stage in (empty again after every copy)."""
    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def skopeo(*args: str) -> str:
    result = subprocess.run(
        [need_tool("skopeo"), *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def raw_digest(reference: str) -> str:
    """The digest of the manifest or index bytes skopeo reads at ``reference``."""
    return str(Digest.of(skopeo("inspect", "--raw", reference).encode()))


def archive_index(path: Path) -> dict[str, Any]:
    with tarfile.open(path) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


def archive_blobs(path: Path) -> set[str]:
    with tarfile.open(path) as tar:
        return {
            "sha256:" + n.rsplit("/", 1)[1]
            for n in tar.getnames()
            if n.startswith("blobs/sha256/")
        }


def repo_tags(docker_archive: Path) -> list[str]:
    """The ``RepoTags`` of a Docker archive's ``manifest.json``."""
    with tarfile.open(docker_archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return [tag for image in json.load(member) for tag in image["RepoTags"]]


def cli(tmp_path: Path, *args: str, stdin: Any = subprocess.DEVNULL) -> Any:
    """``ociport ARGS`` in a fresh process, its store and temporary files under
    ``tmp_path`` (XDG_DATA_HOME, TMPDIR)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "ociport", *args],
        capture_output=True,
        stdin=stdin,
        env=env,
        check=False,
    )


def test_archive_layout_docker_archive_archive_keeps_digests(
    pm: pluggy.PluginManager, tmp_path: Path, scratch: Path
) -> None:
    layout, docker, back = tmp_path / "layout", tmp_path / "d.tar", tmp_path / "o.tar"
    first = ociport.copy_image(f"oci-archive:{SAMPLE}:1.0", f"oci:{layout}:v1", pm=pm)
    assert [str(e.digest) for e in first.entries] == [SAMPLE_DIGEST]
    assert raw_digest(f"oci:{layout}:v1") == SAMPLE_DIGEST
    umoci = subprocess.run(
        [need_tool("umoci"), "ls", "--layout", str(layout)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert umoci.stdout.split() == ["v1"]
    source = json.loads(skopeo("inspect", "--raw", f"oci:{layout}:v1"))
    layers = [layer["digest"] for layer in source["layers"]]

    ociport.copy_image(
        f"oci:{layout}:v1", f"docker-archive:{docker}:example.com/a:v1", pm=pm
    )
    seen = json.loads(skopeo("inspect", f"docker-archive:{docker}"))
    assert repo_tags(docker) == ["example.com/a:v1"]
    config_blob = layout / "blobs" / "sha256" / source["config"]["digest"][7:]
    assert seen["Layers"] == json.loads(config_blob.read_bytes())["rootfs"]["diff_ids"]
    with tarfile.open(docker) as tar:  # the layers as they were, byte for byte
        kept = {n.split(".")[0] for n in tar.getnames() if n.endswith(".tar.gz")}
    assert kept == {digest[7:] for digest in layers}
    assert raw_digest(f"docker-archive:{docker}") != SAMPLE_DIGEST  # a Docker manifest

    last = ociport.copy_image(str(docker), str(back), pm=pm)
    [entry] = last.entries
    assert entry.media_type == mt.DOCKER_MANIFEST_V2
    assert raw_digest(f"oci-archive:{back}") == str(entry.digest)
    rebuilt = json.loads(skopeo("inspect", "--raw", f"oci-archive:{back}"))
    assert [layer["digest"] for layer in rebuilt["layers"]] == layers
    assert rebuilt["config"]["digest"] == source["config"]["digest"]
    skopeo("copy", "-q", f"oci-archive:{back}", f"oci:{tmp_path / 'check'}:x")
    assert list(scratch.iterdir()) == [], "the Docker archive's staging is removed"


def test_blobs_are_byte_identical(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    out = tmp_path / "out.tar"
    ociport.copy_image(str(MULTI), str(out), pm=pm)
    with tarfile.open(MULTI) as a, tarfile.open(out) as b:
        for name in a.getnames():
            if name.startswith("blobs/sha256/"):
                left, right = a.extractfile(name), b.extractfile(name)
                assert left is not None and right is not None
                assert left.read() == right.read(), name
    assert archive_index(out)["manifests"][0]["digest"] == raw_digest(
        f"oci-archive:{MULTI}"
    )


def test_platform_filter_writes_an_index_of_those_platforms(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    original = json.loads(skopeo("inspect", "--raw", f"oci-archive:{MULTI}"))
    arm = [m for m in original["manifests"] if m["platform"]["architecture"] == "arm64"]
    out = tmp_path / "arm.tar"
    result = ociport.copy_image(str(MULTI), str(out), platforms=["linux/arm64"], pm=pm)
    index = json.loads(skopeo("inspect", "--raw", f"oci-archive:{out}"))
    assert index["manifests"] == arm  # the child's descriptor, byte for byte
    assert raw_digest(f"oci-archive:{out}") == str(result.entries[0].digest)
    assert len(archive_blobs(out)) == result.blobs_copied < len(archive_blobs(MULTI))
    skopeo("copy", "-q", "--all", f"oci-archive:{out}", f"oci:{tmp_path / 'all'}:x")
    with pytest.raises(ociport.OciportError, match="s390x"):
        ociport.copy_image(
            str(MULTI), str(tmp_path / "no.tar"), platforms=["linux/s390x"], pm=pm
        )
    assert not (tmp_path / "no.tar").exists()


@pytest.fixture
def attested(tmp_path: Path) -> tuple[Path, dict[str, ociport.Descriptor]]:
    """A layout holding a two-platform image and an SBOM of each platform's manifest
    (unnamed index.json entries, as oras attach writes them)."""
    path = tmp_path / "attested"
    content = FsspecContentStore(Location.from_url(str(path)))
    root = random_image(content, platforms=["linux/amd64", "linux/arm64"], seed=7)
    name_image(content, "example.com/app:1", root)
    index = json.loads(content.open_blob(root).read())
    sboms = {}
    for child in index["manifests"]:
        subject = ociport.Descriptor.from_json(child)
        platform = str(subject.platform)
        sboms[platform] = attach_artifact(content, subject, SPDX, platform.encode())
    content.update_index(lambda entries: [*entries, *sboms.values()])
    return path, sboms


def test_referrers_are_carried_with_their_platforms(
    pm: pluggy.PluginManager,
    tmp_path: Path,
    attested: tuple[Path, dict[str, ociport.Descriptor]],
) -> None:
    layout, sboms = attested
    every = ociport.copy_image(f"oci:{layout}", str(tmp_path / "all.tar"), pm=pm)
    assert {str(d.digest) for d in every.referrers} == {
        str(d.digest) for d in sboms.values()
    }
    listed = archive_index(tmp_path / "all.tar")["manifests"]
    assert {e["digest"] for e in listed[1:]} == {str(d.digest) for d in sboms.values()}

    arm = ociport.copy_image(
        f"oci:{layout}", f"oci:{tmp_path / 'arm'}", platforms=["linux/arm64"], pm=pm
    )
    assert [d.digest for d in arm.referrers] == [sboms["linux/arm64"].digest]
    fresh = ociport.open_store(str(tmp_path / "store"), pm=pm)
    fresh.import_image(f"oci:{tmp_path / 'arm'}")
    [image] = fresh.images()
    child = json.loads(fresh.content.open_blob(image.target).read())["manifests"][0]
    assert Platform.from_json(child["platform"]) == Platform.parse("linux/arm64")
    assert [d.digest for d in fresh.referrers(child["digest"])] == [
        sboms["linux/arm64"].digest
    ]

    bare = ociport.copy_image(
        f"oci:{layout}", str(tmp_path / "bare.tar"), referrers=False, pm=pm
    )
    assert bare.referrers == []
    assert len(archive_index(tmp_path / "bare.tar")["manifests"]) == 1

    docker = ociport.copy_image(
        f"oci:{layout}",
        f"docker-archive:{tmp_path / 'd.tar'}",
        platforms=["linux/arm64"],
        pm=pm,
    )
    assert any("left out" in n for n in docker.notes), docker.notes


def _corrupt_layout(tmp_path: Path) -> Path:
    """The umoci layout with its largest blob changed in one byte (same size)."""
    layout = tmp_path / "corrupt"
    shutil.copytree(TOOL / "oci-umoci", layout)
    blobs = sorted(
        (layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size
    )
    data = bytearray(blobs[-1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    blobs[-1].write_bytes(bytes(data))
    return layout


@pytest.mark.parametrize(
    "dest", ["out.tar", "oci:new-layout", "docker-archive:out.docker.tar"]
)
def test_a_corrupt_blob_fails_and_leaves_no_destination(
    pm: pluggy.PluginManager, tmp_path: Path, scratch: Path, dest: str
) -> None:
    layout = _corrupt_layout(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    transport, _, name = dest.rpartition(":")
    target = f"{transport}:{out / name}" if transport else str(out / name)
    with pytest.raises(DigestMismatchError):
        ociport.copy_image(f"oci:{layout}:1.0", target, pm=pm)
    assert list(out.iterdir()) == []
    assert list(scratch.iterdir()) == []


def test_a_corrupt_blob_leaves_an_existing_layout_as_it_was(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    existing = tmp_path / "existing"
    content = FsspecContentStore(Location.from_url(str(existing)))
    name_image(content, "old", random_image(content, seed=5))
    before = (existing / "index.json").read_bytes()
    layout = _corrupt_layout(tmp_path)
    with pytest.raises(DigestMismatchError):
        ociport.copy_image(f"oci:{layout}:1.0", f"oci:{existing}:new", pm=pm)
    assert (existing / "index.json").read_bytes() == before
    skopeo("inspect", "--raw", f"oci:{existing}:old")


def test_a_corrupt_blob_from_the_cli_is_one_line(tmp_path: Path) -> None:
    layout = _corrupt_layout(tmp_path)
    result = cli(tmp_path, "copy", f"oci:{layout}:1.0", str(tmp_path / "out.tar"))
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "digest" in lines[0], lines
    assert "Error" not in lines[0].split(":")[1]
    assert not (tmp_path / "out.tar").exists()


class _Pipe(io.RawIOBase):
    """A stream that can only be read front to back, as stdin from a pipe."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._inner.readinto(buffer)


def test_a_stream_is_staged_then_cleaned_up(
    pm: pluggy.PluginManager, tmp_path: Path, scratch: Path
) -> None:
    out = tmp_path / "layout"
    result = ociport.copy_image(_Pipe(MULTI.read_bytes()), f"oci:{out}:m", pm=pm)
    assert raw_digest(f"oci:{out}:m") == str(result.entries[0].digest)
    assert str(result.entries[0].digest) == raw_digest(f"oci-archive:{MULTI}")
    assert list(scratch.iterdir()) == []


def test_copy_from_a_pipe_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "out.tar"
    with SAMPLE.open("rb") as stdin:
        result = cli(tmp_path, "copy", "-", str(out), stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split() == ["1.0", SAMPLE_DIGEST]
    assert raw_digest(f"oci-archive:{out}") == SAMPLE_DIGEST
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "xdg").exists(), "a copy between files opens no store"


def test_copy_to_stdout(tmp_path: Path) -> None:
    result = cli(tmp_path, "copy", f"oci-archive:{MULTI}", "-")
    assert result.returncode == 0, result.stderr
    (tmp_path / "piped.tar").write_bytes(result.stdout)
    assert raw_digest(f"oci-archive:{tmp_path / 'piped.tar'}") == raw_digest(
        f"oci-archive:{MULTI}"
    )
    assert not (tmp_path / "xdg").exists()


def test_cli_json_and_quiet(tmp_path: Path) -> None:
    result = cli(
        tmp_path, "copy", "--json", "--all", str(MULTI), f"oci:{tmp_path / 'l'}:v2"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [image] = report["images"]
    assert image["refName"] == "v2"
    assert report["blobs"]["copied"] == len(archive_blobs(MULTI))
    quiet = cli(tmp_path, "copy", "-q", str(HELLO), str(tmp_path / "h.tar"))
    assert quiet.stdout.decode().split() == [raw_digest(f"oci-archive:{HELLO}")]
    assert quiet.stderr == b""
    assert not (tmp_path / "xdg").exists()


def test_store_as_source_and_destination(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    store = ociport.open_store(str(tmp_path / "store"), pm=pm)
    into = ociport.copy_image(
        f"oci-archive:{SAMPLE}", "store:example.com/app:1", store=store, pm=pm
    )
    assert [i.name for i in store.images()] == ["example.com/app:1"]
    assert str(into.entries[0].digest) == SAMPLE_DIGEST
    out = tmp_path / "out"
    ociport.copy_image("store:example.com/app:1", f"oci:{out}:x", store=store, pm=pm)
    assert raw_digest(f"oci:{out}:x") == SAMPLE_DIGEST
    with pytest.raises(InvalidLocationError, match="images for one name"):
        ociport.copy_image(
            str(TOOL / "oci-umoci"), "store:example.com/b:1", store=store, pm=pm
        )
    assert [i.name for i in store.images()] == ["example.com/app:1"]
    with pytest.raises(InvalidLocationError, match="one side"):
        ociport.copy_image(
            "store:example.com/app:1", "store:x.io/y:1", store=store, pm=pm
        )


def test_store_on_the_command_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    into = cli(
        tmp_path, "--store", str(store), "copy", str(HELLO), "store:example.com/h:2"
    )
    assert into.returncode == 0, into.stderr
    listed = cli(tmp_path, "--store", str(store), "images", "ls", "-q")
    assert listed.stdout.decode().split() == ["example.com/h:2"]
    out = tmp_path / "h.tar"
    back = cli(
        tmp_path, "--store", str(store), "copy", "store:example.com/h:2", str(out)
    )
    assert back.returncode == 0, back.stderr
    assert raw_digest(f"oci-archive:{out}") == raw_digest(f"oci-archive:{HELLO}")


def test_names_and_refs(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    several = TOOL / "oci-umoci"
    with pytest.raises(InvalidLocationError, match="one image"):
        ociport.copy_image(f"oci:{several}", f"oci:{tmp_path / 'x'}:v1", pm=pm)
    assert not (tmp_path / "x").exists()
    with pytest.raises(RefNameNotFoundError, match="latest"):
        ociport.copy_image(f"oci:{several}:nope", str(tmp_path / "y.tar"), pm=pm)
    result = ociport.copy_image(
        f"oci:{several}", str(tmp_path / "z.tar"), ref_name="base", pm=pm
    )
    assert [e.ref_name for e in result.entries] == ["base"]
    every = ociport.copy_image(f"oci:{several}", str(tmp_path / "all.tar"), pm=pm)
    assert [e.ref_name for e in every.entries] == ["base", "1.0", "latest"]


def test_zstd_layers_are_reencoded_for_docker_archives(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    out = tmp_path / "d.tar"
    result = ociport.copy_image(
        f"oci:{TOOL / 'oci-zstd'}", f"docker-archive:{out}:example.com/z:1", pm=pm
    )
    assert any("zstd" in n for n in result.notes), result.notes
    skopeo("inspect", f"docker-archive:{out}")
    assert repo_tags(out) == ["example.com/z:1"]


def test_registry_options_are_for_registries(tmp_path: Path) -> None:
    result = cli(
        tmp_path, "copy", "--src-tls-verify=false", str(HELLO), str(tmp_path / "o.tar")
    )
    assert result.returncode == 2
    assert "--src-tls-verify: for a registry" in result.stderr.decode()
    result = cli(
        tmp_path, "copy", "--dest-creds", "a:b", str(HELLO), str(tmp_path / "o.tar")
    )
    assert "--dest-creds: for a registry" in result.stderr.decode()
    assert not (tmp_path / "o.tar").exists()


def test_a_file_is_read_directly_and_a_stream_staged(
    pm: pluggy.PluginManager,
    tmp_path: Path,
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A random-access source is read where it is, blobs straight into the
    destination; a one-pass stream goes through the temporary directory."""
    written: list[str] = []
    real = FsspecContentStore.writer

    def recording(
        self: FsspecContentStore, *, ingest_id: str, expected: Any = None
    ) -> Any:
        written.append(self.location.path)
        return real(self, ingest_id=ingest_id, expected=expected)

    monkeypatch.setattr(FsspecContentStore, "writer", recording)
    ociport.copy_image(str(MULTI), str(tmp_path / "a.tar"), pm=pm)
    assert written == []
    ociport.copy_image(_Pipe(MULTI.read_bytes()), str(tmp_path / "b.tar"), pm=pm)
    assert written and all(path.startswith(str(scratch)) for path in written)
    assert list(scratch.iterdir()) == []
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


class _Recorder:
    """A progress report that keeps what it hears."""

    def __init__(self) -> None:
        self.totals: list[int | None] = []
        self.blobs: dict[str, int] = {}
        self.done = 0

    def start(self, total: int | None) -> None:
        self.totals.append(total)

    def blob(self, digest: str, size: int) -> None:
        self.blobs[digest] = size

    def advance(self, n: int, digest: str | None = None) -> None:
        self.done += n


def test_progress_counts_each_byte_once(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    direct = _Recorder()
    result = ociport.copy_image(
        str(MULTI), str(tmp_path / "a.tar"), progress=direct, pm=pm
    )
    assert direct.done == direct.totals[-1] == result.bytes_copied
    assert len(direct.blobs) == result.blobs_copied
    piped = _Recorder()
    ociport.copy_image(
        _Pipe(MULTI.read_bytes()), str(tmp_path / "b.tar"), progress=piped, pm=pm
    )
    # A one-pass source reports what is read as it is staged, every blob once.
    assert piped.blobs.keys() == archive_blobs(MULTI)
    assert piped.done == sum(piped.blobs.values())


@pytest.mark.s3
def test_copy_through_s3(
    pm: pluggy.PluginManager, tmp_path: Path, s3_server: Any, moto_bucket: str
) -> None:
    """An archive to S3, read back in random order into a layout on S3, then one
    platform of it to a local archive: the digests as skopeo sees them."""
    options = {"endpoint_url": s3_server.endpoint}
    archive, layout = f"s3://{moto_bucket}/a.tar", f"oci:s3://{moto_bucket}/layout:m"
    ociport.copy_image(str(MULTI), archive, dest_options=options, pm=pm)
    ociport.copy_image(
        f"oci-archive:{archive}",
        layout,
        source_options=options,
        dest_options=options,
        pm=pm,
    )
    out = tmp_path / "arm.tar"
    result = ociport.copy_image(
        layout, str(out), platforms=["linux/arm64"], source_options=options, pm=pm
    )
    assert raw_digest(f"oci-archive:{out}") == str(result.entries[0].digest)
    original = json.loads(skopeo("inspect", "--raw", f"oci-archive:{MULTI}"))
    copied = json.loads(skopeo("inspect", "--raw", f"oci-archive:{out}"))
    assert copied["manifests"] == [
        m for m in original["manifests"] if m["platform"]["architecture"] == "arm64"
    ]


def test_a_killed_copy_leaves_nothing_for_long(
    pm: pluggy.PluginManager, tmp_path: Path, scratch: Path
) -> None:
    """What a copy killed on this machine left in the temporary directory goes with
    the next copy; that of a copy still running stays."""
    from ociport.engine.copying import SCRATCH_PREFIX
    from ociport.processes import owner_token

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = scratch / f"{SCRATCH_PREFIX}{owner_token(int(gone.stdout))}-abc123"
    alive = scratch / f"{SCRATCH_PREFIX}{owner_token(os.getppid())}-def456"
    for left in (dead, alive):
        (left / "blobs").mkdir(parents=True)
    ociport.copy_image(_Pipe(HELLO.read_bytes()), str(tmp_path / "h.tar"), pm=pm)
    assert list(scratch.iterdir()) == [alive]
