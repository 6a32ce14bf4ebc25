"""The command line as ctr and skopeo users expect it: mistakes get one line that says
what exists, Ctrl-C ends cleanly, and the conventions (--store after the command,
-v, --version, completion)."""

from __future__ import annotations

import importlib.metadata
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pluggy
import pytest

import ociport
from helpers import ROOT, TOOL
from ociport.testing.factories import name_image, random_image

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
HELLO_NAME = "example.com/ociport/hello:1.0"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OCIPORT_STORE", "COLUMNS")}
    return {**env, "XDG_DATA_HOME": str(tmp_path / "xdg"), **extra}


def _run(
    tmp_path: Path, *args: str | Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ociport", *map(str, args)],
        capture_output=True,
        text=True,
        env=_env(tmp_path, **extra),
        stdin=subprocess.DEVNULL,
    )


def _one_error_line(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert result.returncode == status, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr
    return lines[0]


# -- mistakes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["images", "ls"],
        ["images", "inspect", HELLO_NAME],
        ["export", "-", HELLO_NAME],
        ["content", "ls"],
        ["content", "verify"],
    ],
    ids=" ".join,
)
def test_a_named_store_that_does_not_exist_is_an_error(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "tema"  # a typo for "team"
    line = _one_error_line(_run(tmp_path, "--store", missing, *command))
    assert str(missing) in line and "no image store" in line
    from_env = _run(tmp_path, *command, OCIPORT_STORE=str(missing))
    assert str(missing) in _one_error_line(from_env)
    assert not missing.exists()


def test_the_default_store_may_simply_be_empty(tmp_path: Path) -> None:
    listed = _run(tmp_path, "images", "ls", "-q")
    assert listed.returncode == 0 and listed.stdout == "", listed.stderr
    assert not (tmp_path / "xdg").exists(), "listing creates no store"


def test_a_misspelled_name_suggests_the_close_ones(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert _run(tmp_path, "--store", store, "import", HELLO).returncode == 0
    line = _one_error_line(
        _run(
            tmp_path,
            "--store",
            store,
            "images",
            "inspect",
            "example.com/ociport/helo:1.0",
        )
    )
    assert f"did you mean '{HELLO_NAME}'?" in line
    far = _one_error_line(_run(tmp_path, "--store", store, "images", "rm", "zzz"))
    assert "did you mean" not in far


def test_an_unknown_platform_lists_the_platforms_there_are(tmp_path: Path) -> None:
    archive = TOOL / "multiarch.oci-archive.tar"
    line = _one_error_line(
        _run(
            tmp_path,
            "--store",
            tmp_path / "s",
            "import",
            archive,
            "--platform",
            "linux/amd46",
        )
    )
    assert "linux/amd46" in line and "linux/amd64" in line and "linux/arm64" in line
    assert not (tmp_path / "s").exists()


def test_an_unknown_platform_is_a_lookup_error_in_python(
    local_store: ociport.ImageStore,
) -> None:
    with pytest.raises(ociport.PlatformNotFoundError) as caught:
        local_store.import_image(
            str(TOOL / "multiarch.oci-archive.tar"), platforms=["linux/amd46"]
        )
    assert isinstance(caught.value, LookupError)
    assert "linux/amd64" in caught.value.available


def test_a_docker_archive_without_the_plugin_says_what_to_install(
    tmp_path: Path,
) -> None:
    archive = TOOL / "sample.docker-archive.tar"
    for source in (str(archive), "-"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ociport",
                "--store",
                str(tmp_path / "s"),
                "import",
                source,
            ],
            capture_output=True,
            text=True,
            env=_env(tmp_path, OCIPORT_DISABLE_PLUGINS="docker-archive"),
            stdin=archive.open("rb") if source == "-" else subprocess.DEVNULL,
        )
        line = _one_error_line(result)
        assert "docker save" in line and "ociport-docker-archive" in line


def test_ctrl_c_ends_with_130_and_leaves_the_store_valid(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    source = ociport.open_store(str(tmp_path / "source"), pm=pm)
    root = random_image(source.content, layers=4, layer_size=4 << 20, seed=8)
    name_image(source.content, "example.com/big:1", root)
    archive = tmp_path / "big.tar"
    source.export_images(["example.com/big:1"], str(archive))
    store = tmp_path / "store"
    assert _run(tmp_path, "--store", store, "import", HELLO).returncode == 0
    before = sorted(p.name for p in (store / "blobs" / "sha256").iterdir())
    importer = subprocess.Popen(
        [sys.executable, "-m", "ociport", "--store", str(store), "import", "-"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_env(tmp_path),
    )
    assert importer.stdin is not None
    data = archive.read_bytes()
    importer.stdin.write(data[: len(data) // 2])  # half an archive, then Ctrl-C
    importer.stdin.flush()
    time.sleep(1.0)
    importer.send_signal(signal.SIGINT)
    _, err = importer.communicate(timeout=60)
    assert importer.returncode == 130, err
    assert err.decode().strip().splitlines()[-1] == "ociport: error: interrupted"
    assert sorted(p.name for p in (store / "blobs" / "sha256").iterdir()) == before
    assert not list((store / "leases").glob("*.json"))
    assert (
        not any((store / "ingest").iterdir()) if (store / "ingest").exists() else True
    )
    verify = _run(tmp_path, "--store", store, "content", "verify")
    assert verify.returncode == 0, verify.stderr


def test_export_to_a_terminal_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert _run(tmp_path, "--store", store, "import", HELLO).returncode == 0
    main, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ociport",
                "--store",
                str(store),
                "export",
                "-",
                HELLO_NAME,
            ],
            stdout=terminal,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(tmp_path),
        )
    finally:
        os.close(terminal)
        os.close(main)
    assert result.returncode == 2
    assert "refusing to write an archive to a terminal" in result.stderr


# -- conventions -------------------------------------------------------------------------


def test_store_options_after_the_command(tmp_path: Path) -> None:
    store = tmp_path / "store"
    imported = _run(tmp_path, "import", "--store", store, HELLO)
    assert imported.returncode == 0, imported.stderr
    listed = _run(tmp_path, "images", "ls", "-q", "--store", str(store))
    assert listed.stdout.split() == [HELLO_NAME]
    gc = _run(
        tmp_path,
        "content",
        "gc",
        "--store",
        store,
        "--storage-option",
        "auto_mkdir=true",
    )
    assert gc.returncode == 0, gc.stderr


def test_verbose_logs_what_happens(tmp_path: Path) -> None:
    result = _run(tmp_path, "-v", "--store", tmp_path / "s", "import", HELLO)
    assert result.returncode == 0, result.stderr
    assert "recognised as oci-archive" in result.stderr
    assert "3 new blob(s)" in result.stderr
    quiet = _run(tmp_path, "--store", tmp_path / "s", "import", HELLO)
    assert quiet.stderr == "", "no log lines without -v"


def test_version_lists_plugin_distributions(tmp_path: Path) -> None:
    result = _run(tmp_path, "--version")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"ociport {importlib.metadata.version('ociport')}"
    pytest.importorskip(
        "ociport_docker_archive", reason="the Docker plugin is not installed"
    )
    assert any(line.split()[0] == "ociport-docker-archive" for line in lines[1:])


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(tmp_path: Path, shell: str) -> None:
    result = _run(tmp_path, "completion", shell)
    assert result.returncode == 0
    assert "_OCIPORT_COMPLETE" in result.stdout


def test_completion_completes_commands_and_options(tmp_path: Path) -> None:
    def complete(words: str, cword: int) -> list[str]:
        result = _run(
            tmp_path,
            _OCIPORT_COMPLETE="bash_complete",
            COMP_WORDS=words,
            COMP_CWORD=str(cword),
        )
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]

    assert {"images", "import"} <= set(complete("ociport im", 1))
    assert "--all-platforms" in complete("ociport import --al", 2)
    if shutil.which("bash"):
        script = _run(tmp_path, "completion", "bash").stdout
        checked = subprocess.run(
            ["bash", "-n"], input=script, text=True, capture_output=True
        )
        assert checked.returncode == 0, checked.stderr


_LOADED = """
import sys
from ociport.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = {heavy!r}
print(sorted(m for m in sys.modules if m in heavy), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "command", [["--help"], ["images", "ls"], ["content", "ls"]], ids=" ".join
)
def test_short_commands_load_no_heavy_module(
    tmp_path: Path, command: list[str]
) -> None:
    """Start-up stays fast (bench/startup.py measures it): what a short command does not
    need is not imported."""
    store = tmp_path / "store"
    assert _run(tmp_path, "--store", store, "import", HELLO).returncode == 0
    heavy = {
        "rich",
        "s3fs",
        "ociport.streams.compression",
        "ociport.engine.importing",
        "ociport.engine.exporting",
        "ociport.drivers.kit",
        "ociport.drivers.oci_archive",
        "ociport_docker_archive.driver",
        "ociport_zip_archive.driver",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _LOADED.format(heavy=heavy),
            "--store",
            str(store),
            *command,
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr
