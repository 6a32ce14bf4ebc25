"""skopeo's ``TRANSPORT:PATH[:REF]`` on the command line (containers-transports(5)):
``import``, ``export`` and ``inspect`` take ``oci-archive:``, ``oci:``,
``docker-archive:`` and every driver's name as a transport, ``:REF`` selects or names
one image, and ``import --ref`` selects as ``:REF`` does. Run as users run it: the CLI
in a subprocess."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any, cast

import pytest

import ociport
from ociport.testing.factories import name_image, random_image
from test_cli import NAME, SAMPLE, Cli

ONE = "example.com/one:1"
TWO = "example.com/two:2"
REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI runner whose store holds two different images, ONE and TWO."""
    runner = Cli(tmp_path)
    store = ociport.open_store(str(runner.store))
    name_image(store.content, ONE, random_image(store.content, seed=1))  # type: ignore[arg-type]
    name_image(store.content, TWO, random_image(store.content, seed=2))  # type: ignore[arg-type]
    return runner


@pytest.fixture
def multi(cli: Cli) -> Path:
    """An OCI archive of ONE and TWO, written by ``export`` with a transport."""
    path = cli.tmp_path / "multi.tar"
    cli.ok("export", f"oci-archive:{path}", ONE, TWO)
    assert _ref_names(_index_json(path)) == [ONE, TWO]
    return path


def _index_json(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        return cast(dict[str, Any], json.loads(member.read()))


def _ref_names(index: dict[str, Any]) -> list[str]:
    return [m["annotations"][REF_NAME] for m in index["manifests"]]


def _imported(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    return [line.split("\t")[0] for line in result.stdout.decode().splitlines()]


def _one_error_line(result: subprocess.CompletedProcess[bytes], *needles: str) -> str:
    assert result.returncode == 1, result.stderr.decode()
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ociport: error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def _usage_error(result: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr and "Error" in stderr
    for needle in needles:
        assert needle in stderr
    assert result.stdout == b""


# -- import ------------------------------------------------------------------------------


def test_import_oci_archive_ref_takes_only_that_image(cli: Cli, multi: Path) -> None:
    fresh = cli.tmp_path / "fresh"
    result = cli.ok("import", f"oci-archive:{multi}:{TWO}", store=fresh)
    assert _imported(result) == [TWO]
    assert cli.ok("images", "ls", "-q", store=fresh).stdout.decode() == f"{TWO}\n"
    # Without :REF the whole archive, and the transport alone picks the format.
    other = cli.tmp_path / "other"
    assert _imported(cli.ok("import", f"oci-archive:{multi}", store=other)) == [
        ONE,
        TWO,
    ]


def test_import_oci_layout_ref(cli: Cli) -> None:
    layout = cli.tmp_path / "layout"
    cli.ok("export", f"oci:{layout}", ONE, TWO)
    assert _ref_names(json.loads((layout / "index.json").read_bytes())) == [ONE, TWO]
    fresh = cli.tmp_path / "fresh"
    assert _imported(cli.ok("import", f"oci:{layout}:{ONE}", store=fresh)) == [ONE]
    described = json.loads(cli.ok("inspect", "--json", f"oci:{layout}:{TWO}").stdout)
    assert [record["names"] for record in described] == [[TWO]]


def test_import_ref_option(cli: Cli, multi: Path) -> None:
    fresh = cli.tmp_path / "fresh"
    assert _imported(cli.ok("import", "--ref", ONE, str(multi), store=fresh)) == [ONE]
    # --ref and the same :REF agree.
    again = cli.ok("import", "--ref", ONE, f"oci-archive:{multi}:{ONE}", store=fresh)
    assert _imported(again) == [ONE]


def test_unknown_ref_lists_the_names_there_are(cli: Cli, multi: Path) -> None:
    fresh = cli.tmp_path / "fresh"
    for args in (
        ["--ref", "example.com/nope:1", str(multi)],
        [f"oci-archive:{multi}:example.com/nope:1"],
    ):
        line = _one_error_line(cli("import", *args, store=fresh), ONE, TWO)
        assert "example.com/nope:1" in line
    assert not fresh.exists(), "a failed import leaves no store behind"


def test_import_mismatches_are_usage_errors(cli: Cli, multi: Path) -> None:
    fresh = cli.tmp_path / "fresh"
    _usage_error(
        cli("import", "--format", "oci", f"oci-archive:{multi}", store=fresh),
        "--format oci",
        "oci-archive",
    )
    _usage_error(
        cli("import", "--ref", ONE, f"oci-archive:{multi}:{TWO}", store=fresh),
        f"--ref {ONE}",
        TWO,
    )
    _usage_error(cli("import", "oci-archive:", store=fresh), "no PATH")
    _usage_error(cli("import", f"oci-archive:{multi}:", store=fresh), "empty REF")
    _usage_error(cli("inspect", "--format", "oci", f"oci-archive:{multi}"), "--format")
    assert not fresh.exists()
    # A --format that agrees with the transport is fine.
    ok = cli.ok("import", "--format", "oci-archive", f"oci-archive:{multi}:{ONE}")
    assert _imported(ok) == [ONE]


def test_paths_with_colons_and_unknown_transports(cli: Cli) -> None:
    """A prefix is a transport only when a driver has that name: other colons are part of
    a path; skopeo transports ociport lacks are an unknown format, not a missing file."""
    odd = cli.tmp_path / "a:b.tar"
    shutil.copy(SAMPLE, odd)
    fresh = cli.tmp_path / "fresh"
    relative = subprocess.run(
        cli.argv(["import", "a:b.tar"], store=fresh),
        capture_output=True,
        env=cli.env,
        cwd=cli.tmp_path,
    )
    assert relative.returncode == 0, relative.stderr.decode()
    assert _imported(relative) == [NAME]
    assert _imported(cli.ok("import", str(odd), store=fresh)) == [NAME]
    _one_error_line(
        cli("import", "containers-storage:alpine", store=fresh),
        "unknown image format 'containers-storage'",
    )


def test_inspect_with_a_ref(cli: Cli, multi: Path) -> None:
    text = cli.ok("inspect", f"oci-archive:{multi}:{TWO}").stdout.decode()
    assert text.splitlines()[0].startswith(f"{TWO}\t")
    assert ONE not in text


# -- export ------------------------------------------------------------------------------


def test_export_ref_sets_the_ref_name(cli: Cli) -> None:
    out = cli.tmp_path / "out.tar"
    cli.ok("export", f"oci-archive:{out}:example.com/x:v2", ONE)
    [entry] = _index_json(out)["manifests"]
    assert entry["annotations"][REF_NAME] == "example.com/x:v2"
    assert entry["annotations"][IMAGE_NAME] == "example.com/x:v2"
    fresh = cli.tmp_path / "fresh"
    assert _imported(cli.ok("import", str(out), store=fresh)) == ["example.com/x:v2"]


def test_export_tag_only_ref_to_a_layout(cli: Cli) -> None:
    layout = cli.tmp_path / "layout"
    cli.ok("export", f"oci:{layout}:v2", ONE)
    [entry] = json.loads((layout / "index.json").read_bytes())["manifests"]
    assert entry["annotations"][REF_NAME] == "v2"
    assert entry["annotations"][IMAGE_NAME] == "example.com/one:v2"


def test_export_ref_with_several_names_is_one_error_line(cli: Cli) -> None:
    out = cli.tmp_path / "out.tar"
    _one_error_line(cli("export", f"oci-archive:{out}:v2", ONE, TWO), ONE, TWO)
    assert list(cli.tmp_path.glob("*out.tar*")) == []


def test_export_mismatches_are_usage_errors(cli: Cli) -> None:
    out = cli.tmp_path / "out.tar"
    _usage_error(
        cli("export", "--format", "oci", f"oci-archive:{out}", ONE), "--format oci"
    )
    _usage_error(
        cli("export", "--ref-name", "tag", f"oci-archive:{out}:v2", ONE), "--ref-name"
    )
    _usage_error(cli("export", "oci-archive:", ONE), "no PATH")
    assert not out.exists()


# -- docker-archive (the plugin) -----------------------------------------------------------


def test_docker_archive_transport(cli: Cli) -> None:
    if importlib.util.find_spec("ociport_docker_archive") is None:
        pytest.skip("the ociport-docker-archive plugin is not installed")
    out = cli.tmp_path / "docker.tar"
    cli.ok("export", f"docker-archive:{out}:example.com/x:v2", ONE)
    with tarfile.open(out) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        [image] = json.load(io.BytesIO(member.read()))
    assert image["RepoTags"] == ["example.com/x:v2"]
    fresh = cli.tmp_path / "fresh"
    result = cli.ok("import", f"docker-archive:{out}", store=fresh)
    assert _imported(result) == ["example.com/x:v2"]
    selected = cli.ok("import", f"docker-archive:{out}:example.com/x:v2", store=fresh)
    assert _imported(selected) == ["example.com/x:v2"]
    _usage_error(
        cli("import", "--format", "oci-archive", f"docker-archive:{out}"), "--format"
    )
