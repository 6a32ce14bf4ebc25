"""Every example script runs and prints what it promises; the example archive is small,
real, and rebuilt byte for byte by the script that ships with it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import ociport
from helpers import ROOT, need_tool

EXAMPLES = ROOT / "examples"
ARCHIVE = EXAMPLES / "hello.oci-archive.tar"
NAME = "example.com/ociport/hello:1.0"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def _archive_facts() -> tuple[str, set[str]]:
    """The example's manifest digest and its ``blobs/...`` member names."""
    with tarfile.open(ARCHIVE) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        [entry] = json.loads(member.read())["manifests"]
        blobs = {m.name for m in tar if m.isfile() and m.name.startswith("blobs/")}
    return entry["digest"], blobs


MANIFEST_DIGEST, BLOB_MEMBERS = _archive_facts()


def _run(script: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    result = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=script.parent.parent,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _check_import_from_stream(out: str) -> None:
    lines = out.splitlines()
    assert f"from file: {NAME} {MANIFEST_DIGEST}" in lines
    assert f"from file: {len(BLOB_MEMBERS)} new blobs, " in out
    assert f"from pipe: {NAME} {MANIFEST_DIGEST}" in lines
    assert "from pipe: 0 new blobs" in out
    assert lines[-1] == f"stored: {NAME}"


def _check_export_to_bytesio(out: str) -> None:
    match = re.search(
        rf"^exported {re.escape(NAME)}: (\d+) bytes, sha256 (\w+)$", out, re.M
    )
    assert match, out
    # The same export made here, in another process, has the same bytes: deterministic.
    store = ociport.open_store("memory://test-examples-bytesio")
    try:
        store.import_image(ARCHIVE)
        sink = io.BytesIO()
        store.export_images([NAME], sink)
    finally:
        store.content.location.fs.rm(store.content.location.path, recursive=True)
    assert int(match[1]) == len(sink.getvalue())
    assert match[2] == hashlib.sha256(sink.getvalue()).hexdigest()
    assert f"index.json entry: {NAME} {MANIFEST_DIGEST}" in out
    members = [
        line.split()[-1] for line in out.splitlines() if line.startswith("member:")
    ]
    assert members[:2] == ["oci-layout", "index.json"]
    assert set(members) >= BLOB_MEMBERS


def _check_export_to_pipe(out: str) -> None:
    lines = out.splitlines()
    assert lines[0] == f"exported {NAME} into a pipe; tar -t lists:"
    listed = [line.strip() for line in lines[1:]]
    assert listed[:2] == ["oci-layout", "index.json"]
    assert set(listed) >= BLOB_MEMBERS


CHECKS = {
    "import_from_stream.py": _check_import_from_stream,
    "export_to_bytesio.py": _check_export_to_bytesio,
    "export_to_pipe.py": _check_export_to_pipe,
}


def test_every_example_script_is_checked() -> None:
    assert {script.name for script in SCRIPTS} == set(CHECKS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_against_a_memory_store(script: Path) -> None:
    CHECKS[script.name](_run(script))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_with_explicit_memory_url(script: Path) -> None:
    CHECKS[script.name](_run(script, "memory://an-explicit-store"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_against_a_store_on_disk(script: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    CHECKS[script.name](_run(script, str(store), str(ARCHIVE)))
    index = json.loads((store / "index.json").read_text())
    names = [
        m["annotations"]["org.opencontainers.image.ref.name"]
        for m in index["manifests"]
    ]
    assert names == [NAME]


def test_example_scripts_have_usage_docstrings() -> None:
    for script in SCRIPTS:
        source = script.read_text()
        assert source.startswith('"""'), script.name
        assert f"Usage: python examples/{script.name} [STORE_URL]" in source


# -- the example archive ---------------------------------------------------------------


def test_example_archive_is_small_and_imports() -> None:
    assert ARCHIVE.stat().st_size < 100 * 1024
    store = ociport.open_store("memory://test-examples-archive")
    try:
        result = store.import_image(str(ARCHIVE))
        assert [(i.name, str(i.target.digest)) for i in result.images] == [
            (NAME, MANIFEST_DIGEST)
        ]
        [manifest] = store.inspect(NAME)["manifests"]
        assert manifest["platform"] == "linux/amd64"
        assert len(manifest["layers"]) == 1
    finally:
        store.content.location.fs.rm(store.content.location.path, recursive=True)


def test_make_example_script_is_executable_bash() -> None:
    script = EXAMPLES / "make-example.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    for command in (
        "umoci init",
        "umoci new",
        "umoci unpack",
        "umoci repack",
        "umoci config",
    ):
        assert command in text
    assert "skopeo --insecure-policy copy" in text


@pytest.mark.tools
def test_skopeo_reads_the_example_archive() -> None:
    skopeo = need_tool("skopeo")
    result = subprocess.run(
        [skopeo, "inspect", "--raw", f"oci-archive:{ARCHIVE}:{NAME}"],
        capture_output=True,
        check=True,
    )
    assert "sha256:" + hashlib.sha256(result.stdout).hexdigest() == MANIFEST_DIGEST


@pytest.mark.tools
@pytest.mark.skipif(os.geteuid() != 0, reason="byte-identical layers need a root umoci")
def test_make_example_rebuilds_the_archive_byte_for_byte(tmp_path: Path) -> None:
    need_tool("umoci")
    need_tool("skopeo")
    out = tmp_path / "hello.oci-archive.tar"
    subprocess.run(
        [str(EXAMPLES / "make-example.sh"), str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert out.read_bytes() == ARCHIVE.read_bytes()


# -- the README's quick start ----------------------------------------------------------


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, flags=re.M | re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_quick_start_has_exactly_two_commands() -> None:
    install_and_run, run_tests = _quick_start_commands()
    assert "examples/hello.oci-archive.tar" in install_and_run
    assert run_tests == "scripts/test"
    assert os.access(ROOT / "scripts" / "test", os.X_OK)
    ci = (ROOT / ".ci" / "run").read_text()
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    assert "set -euo pipefail" in ci and "scripts/test" in ci


def test_readme_quick_start_ociport_steps_work(tmp_path: Path) -> None:
    install_and_run = _quick_start_commands()[0]
    steps = [s.strip() for s in install_and_run.split("&&")]
    ociport_steps = [s for s in steps if s.startswith(".venv/bin/ociport ")]
    assert len(ociport_steps) == 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    output = ""
    for step in ociport_steps:
        args = shlex.split(step)[1:]
        store = str(tmp_path / "demo-store")
        args = [store if a == "./demo-store" else a for a in args]
        result = subprocess.run(
            [sys.executable, "-m", "ociport", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        output = result.stdout
    assert NAME in output and MANIFEST_DIGEST in output
