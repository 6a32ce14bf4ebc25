"""The ``ociport`` command line, run as users run it: ``python -m ociport`` and the
``ociport`` console script in a subprocess, with pipes for ``-``."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from helpers import ROOT

#: The repository's example archive: made by umoci and skopeo, one image whose ref name
#: is a full reference (so ``--base-name`` does not change it).
SAMPLE = ROOT / "examples" / "hello.oci-archive.tar"
BASE = "example.com/sample"
NAME = "example.com/ociport/hello:1.0"


def _index_json(archive: bytes) -> dict[str, Any]:
    """The ``index.json`` member of an OCI archive, parsed."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        return cast(dict[str, Any], json.loads(member.read()))


#: The example archive's index.json and its only manifest.
SAMPLE_INDEX = _index_json(SAMPLE.read_bytes())
MANIFEST_DIGEST = SAMPLE_INDEX["manifests"][0]["digest"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without ociport settings, with private XDG dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIPORT_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    env.update(extra)
    return env


class Cli:
    """Runs ``python -m ociport --store STORE ...`` for one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.store = tmp_path / "store"
        self.env = _env(tmp_path)

    def argv(self, args: Sequence[str], store: Path | None = None) -> list[str]:
        return [
            sys.executable,
            "-m",
            "ociport",
            "--store",
            str(store or self.store),
            *args,
        ]

    def __call__(
        self,
        *args: str,
        input: bytes | None = None,
        store: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            self.argv(args, store),
            input=input,
            capture_output=True,
            env=env or self.env,
        )

    def ok(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        result = self(*args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, result.stderr.decode()
        return result

    def imported(self) -> None:
        self.ok("import", "--base-name", BASE, str(SAMPLE))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI runner with an empty store under ``tmp_path``."""
    return Cli(tmp_path)


def _assert_one_error_line(
    result: subprocess.CompletedProcess[bytes], *needles: str
) -> str:
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ociport: error: ")
    assert "Traceback" not in result.stderr.decode()
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def _members(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return tar.getnames()


def _blob_files(store: Path) -> set[str]:
    return {p.name for p in (store / "blobs" / "sha256").iterdir()}


# -- import / export -------------------------------------------------------------------


def test_import_prints_name_and_digest_quietly(cli: Cli) -> None:
    result = cli.ok("import", "--base-name", BASE, str(SAMPLE))
    assert result.stdout.decode() == f"{NAME}\t{MANIFEST_DIGEST}\n"
    # A store the import created is announced (a typo in --store shows), nothing else.
    assert result.stderr.decode() == f"ociport: created image store {cli.store}\n"
    assert (cli.store / "oci-layout").is_file()
    assert MANIFEST_DIGEST.split(":")[1] in _blob_files(cli.store)
    again = cli.ok("import", "--base-name", BASE, str(SAMPLE))
    assert again.stderr == b"", "no progress bar or chatter when stderr is no terminal"


def test_failed_import_into_a_new_store_leaves_no_store(
    cli: Cli, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(SAMPLE.read_bytes()[:-2048])  # cut inside the last member
    result = cli("import", str(bad))
    _assert_one_error_line(result, "no oci-layout member")
    assert not cli.store.exists(), "the store the failed import created is gone"


def _with_ref_name(ref_name: str) -> bytes:
    """The example archive with its index.json entry's ref name replaced."""
    out = io.BytesIO()
    with tarfile.open(SAMPLE) as source, tarfile.open(fileobj=out, mode="w") as target:
        for member in source:
            data = source.extractfile(member) if member.isfile() else None
            if member.name == "index.json":
                index = json.loads(data.read())  # type: ignore[union-attr]
                annotations = index["manifests"][0]["annotations"]
                annotations["org.opencontainers.image.ref.name"] = ref_name
                raw = json.dumps(index).encode()
                member.size = len(raw)
                data = io.BytesIO(raw)  # type: ignore[assignment]
            target.addfile(member, data)
    return out.getvalue()


def test_import_names_tag_only_images_with_base_name(cli: Cli) -> None:
    archive = _with_ref_name("1.0")
    args = ["import", "--base-name", BASE, "--digests", "-"]
    result = cli.ok(*args, input=archive)
    assert result.stdout.decode().splitlines() == [
        f"{BASE}:1.0\t{MANIFEST_DIGEST}",
        f"{BASE}@{MANIFEST_DIGEST}\t{MANIFEST_DIGEST}",
    ]


def test_import_from_stdin(cli: Cli) -> None:
    result = cli.ok("import", "--base-name", BASE, "-", input=SAMPLE.read_bytes())
    assert result.stdout.decode().split("\t") == [NAME, f"{MANIFEST_DIGEST}\n"]
    assert cli.ok("images", "ls", "-q").stdout.decode() == f"{NAME}\n"


def test_export_to_stdout_is_a_deterministic_oci_archive(cli: Cli) -> None:
    cli.imported()
    first = cli.ok("export", "-", NAME)
    assert first.stderr == b""
    members = _members(first.stdout)
    assert members[:2] == ["oci-layout", "index.json"]
    assert f"blobs/sha256/{MANIFEST_DIGEST.split(':')[1]}" in members
    assert cli.ok("export", "-", NAME).stdout == first.stdout

    path = cli.tmp_path / "out.tar"
    assert cli.ok("export", str(path), NAME).stdout == b""
    assert path.read_bytes() == first.stdout
    index = _index_json(path.read_bytes())
    [entry] = index["manifests"]
    assert entry["digest"] == MANIFEST_DIGEST
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == NAME
    assert entry["annotations"]["io.containerd.image.name"] == NAME


def test_export_ref_name_tag_style(cli: Cli) -> None:
    cli.imported()
    archive = cli.ok("export", "--ref-name", "tag", "-", NAME).stdout
    index = _index_json(archive)
    annotations = index["manifests"][0]["annotations"]
    assert annotations["org.opencontainers.image.ref.name"] == "1.0"
    assert annotations["io.containerd.image.name"] == NAME


def test_export_pipes_into_import(cli: Cli) -> None:
    cli.imported()
    other = cli.tmp_path / "other"
    exporter = subprocess.Popen(
        cli.argv(["export", "-", NAME]), stdout=subprocess.PIPE, env=cli.env
    )
    importer = subprocess.run(
        cli.argv(["import", "-"], store=other),
        stdin=exporter.stdout,
        capture_output=True,
        env=cli.env,
    )
    assert exporter.stdout is not None
    exporter.stdout.close()
    assert exporter.wait() == 0
    assert importer.returncode == 0, importer.stderr.decode()
    assert importer.stdout.decode() == f"{NAME}\t{MANIFEST_DIGEST}\n"
    assert _blob_files(other) == _blob_files(cli.store)


def test_console_script(cli: Cli) -> None:
    script = Path(sys.executable).with_name("ociport")
    executable = str(script) if script.exists() else shutil.which("ociport")
    assert executable, "the ociport console script is installed"
    cli.imported()
    result = subprocess.run(
        [executable, "--store", str(cli.store), "images", "ls", "-q"],
        capture_output=True,
        env=cli.env,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == f"{NAME}\n"
    version = subprocess.run(
        [executable, "--version"], capture_output=True, env=cli.env
    )
    assert version.returncode == 0 and b"0." in version.stdout


# -- images ----------------------------------------------------------------------------


def test_images_ls_table_and_json(cli: Cli) -> None:
    cli.store.mkdir()
    (cli.store / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (cli.store / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    assert cli.ok("images", "ls").stdout.decode().split() == [
        "NAME",
        "DIGEST",
        "MEDIA",
        "TYPE",
        "SIZE",
        "PLATFORMS",
    ]
    cli.imported()
    header, row = cli.ok("images", "ls").stdout.decode().splitlines()
    assert header.split()[:2] == ["NAME", "DIGEST"]
    assert row.split()[:3] == [
        NAME,
        MANIFEST_DIGEST,
        SAMPLE_INDEX["manifests"][0]["mediaType"],
    ]
    # The image's total size (manifest, config, layers), not the manifest's.
    total = sum(p.stat().st_size for p in (cli.store / "blobs" / "sha256").iterdir())
    assert row.split()[3:] == [f"{total / 1024:.1f}", "KiB", "linux/amd64"]
    [image] = json.loads(cli.ok("images", "ls", "--json").stdout)
    assert image["name"] == NAME
    assert image["digest"] == MANIFEST_DIGEST
    assert image["annotations"]["org.opencontainers.image.ref.name"] == NAME
    assert (image["totalSize"], image["platforms"]) == (total, ["linux/amd64"])


def test_images_inspect(cli: Cli) -> None:
    cli.imported()
    doc = json.loads(cli.ok("images", "inspect", NAME).stdout)
    assert doc["name"] == NAME
    assert doc["descriptor"]["digest"] == MANIFEST_DIGEST
    [manifest] = doc["manifests"]
    assert manifest["platform"] == "linux/amd64"
    assert len(manifest["layers"]) == 1
    blob_sizes = {
        p.name: p.stat().st_size for p in (cli.store / "blobs" / "sha256").iterdir()
    }
    assert doc["size"] == sum(blob_sizes.values())
    assert doc["missing"] == []


def test_images_tag_and_rm(cli: Cli) -> None:
    cli.imported()
    assert cli.ok("images", "tag", NAME, "example.com/copy:2").stdout == b""
    listed = json.loads(cli.ok("images", "ls", "--json").stdout)
    assert {i["name"]: i["digest"] for i in listed} == {
        NAME: MANIFEST_DIGEST,
        "example.com/copy:2": MANIFEST_DIGEST,
    }
    assert cli.ok("images", "rm", NAME).stdout.decode() == f"{NAME}\n"
    assert cli.ok("images", "ls", "-q").stdout.decode() == "example.com/copy:2\n"


def test_images_rm_of_an_unknown_name_removes_nothing(cli: Cli) -> None:
    cli.imported()
    index_before = (cli.store / "index.json").read_bytes()
    line = _assert_one_error_line(cli("images", "rm", NAME, "example.com/nope:1"))
    assert "example.com/nope:1" in line
    assert (cli.store / "index.json").read_bytes() == index_before


def test_images_tag_rejects_an_invalid_name(cli: Cli) -> None:
    cli.imported()
    _assert_one_error_line(cli("images", "tag", NAME, "Not A Reference"))
    assert cli.ok("images", "ls", "-q").stdout.decode() == f"{NAME}\n"


# -- content ---------------------------------------------------------------------------


def test_content_ls(cli: Cli) -> None:
    cli.imported()
    lines = cli.ok("content", "ls").stdout.decode().splitlines()
    on_disk = {
        p.name: p.stat().st_size for p in (cli.store / "blobs" / "sha256").iterdir()
    }
    assert {line.split("\t")[0]: int(line.split("\t")[1]) for line in lines} == {
        f"sha256:{name}": size for name, size in on_disk.items()
    }
    assert lines == sorted(lines)
    listed = json.loads(cli.ok("content", "ls", "--json").stdout)
    assert {b["digest"]: b["size"] for b in listed} == {
        f"sha256:{name}": size for name, size in on_disk.items()
    }


def test_content_verify_and_a_corrupt_blob(cli: Cli) -> None:
    cli.imported()
    ok = cli.ok("content", "verify")
    assert ok.stdout.decode() == "all blobs verified, every image complete\n"

    blob = cli.store / "blobs" / "sha256" / MANIFEST_DIGEST.split(":")[1]
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[10] ^= 0xFF
    blob.write_bytes(bytes(data))
    bad = cli("content", "verify")
    assert bad.returncode == 1
    lines = bad.stderr.decode().splitlines()
    assert lines[-1] == "ociport: error: 1 corrupt blob(s)"
    assert any(MANIFEST_DIGEST in line and "corrupt" in line for line in lines[:-1])
    assert "Traceback" not in bad.stderr.decode()
    assert bad.stdout == b""


def test_content_gc_grace_and_dry_run(cli: Cli) -> None:
    cli.imported()
    blobs = _blob_files(cli.store)
    cli.ok("images", "rm", NAME)

    young = cli.ok("content", "gc")
    assert young.stdout == b""
    assert f"kept {len(blobs)} younger" in young.stderr.decode()
    assert _blob_files(cli.store) == blobs

    dry = cli.ok("content", "gc", "--dry-run", "--grace", "0")
    assert {line.split(":")[1] for line in dry.stdout.decode().splitlines()} == blobs
    assert "would remove" in dry.stderr.decode()
    assert _blob_files(cli.store) == blobs

    real = cli.ok("content", "gc", "--grace", "0s")
    assert {line.split(":")[1] for line in real.stdout.decode().splitlines()} == blobs
    assert f"removed {len(blobs)} blob(s)" in real.stderr.decode()
    assert _blob_files(cli.store) == set()


def test_content_gc_keeps_what_names_reach(cli: Cli) -> None:
    cli.imported()
    blobs = _blob_files(cli.store)
    result = cli.ok("content", "gc", "--grace", "0")
    assert result.stdout == b""
    assert _blob_files(cli.store) == blobs
    assert cli.ok("content", "verify").returncode == 0


def test_content_gc_rejects_a_bad_duration(cli: Cli) -> None:
    result = cli("content", "gc", "--grace", "soon")
    assert result.returncode == 2
    assert b"not a duration" in result.stderr


# -- plugins ---------------------------------------------------------------------------


def test_plugins(cli: Cli) -> None:
    text = cli.ok("plugins").stdout.decode()
    drivers, plugins = text.split("PLUGINS\n")
    assert drivers.startswith("DRIVERS\n")
    oci = next(
        line for line in drivers.splitlines() if line.split()[0] == "oci-archive"
    )
    assert oci.split()[1] == "ociport"
    assert any(line.split()[0] == "fsspec-store" for line in plugins.splitlines())
    listing = json.loads(cli.ok("plugins", "--json").stdout)
    by_name = {d["name"]: d for d in listing["drivers"]}
    assert by_name["oci-archive"]["distribution"] == "ociport"
    assert {p["name"] for p in listing["plugins"]} >= {"oci-archive", "fsspec-store"}


def test_plugins_can_be_disabled(cli: Cli) -> None:
    env = {**cli.env, "OCIPORT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    line = _assert_one_error_line(cli("plugins", env=env))
    assert "no drivers registered" in line


# -- environment -----------------------------------------------------------------------


def test_store_from_the_environment(cli: Cli) -> None:
    env_store = cli.tmp_path / "env-store"
    env = {**cli.env, "OCIPORT_STORE": str(env_store)}
    argv = [sys.executable, "-m", "ociport"]
    done = subprocess.run(
        [*argv, "import", "--base-name", BASE, str(SAMPLE)],
        capture_output=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert (env_store / "index.json").is_file()
    listed = subprocess.run([*argv, "images", "ls", "-q"], capture_output=True, env=env)
    assert listed.stdout.decode() == f"{NAME}\n"
    # --store wins over the variable (and names a store that does not exist).
    other = cli("images", "ls", "-q", env=env)
    assert other.returncode == 1 and str(cli.store) in other.stderr.decode()


def test_default_store_is_under_xdg_data_home(cli: Cli) -> None:
    argv = [sys.executable, "-m", "ociport", "import", "--base-name", BASE, str(SAMPLE)]
    done = subprocess.run(argv, capture_output=True, env=cli.env)
    assert done.returncode == 0, done.stderr.decode()
    assert (cli.tmp_path / "xdg-data" / "ociport" / "store" / "index.json").is_file()


# -- errors ----------------------------------------------------------------------------


def test_missing_source_is_one_error_line(cli: Cli) -> None:
    missing = cli.tmp_path / "no-such.tar"
    _assert_one_error_line(cli("import", str(missing)), "no-such.tar")


def test_truncated_archive_is_one_error_line_and_changes_nothing(cli: Cli) -> None:
    cli.imported()
    before = sorted(
        p.relative_to(cli.store) for p in cli.store.rglob("*") if p.is_file()
    )
    index_before = (cli.store / "index.json").read_bytes()
    truncated = SAMPLE.read_bytes()[: len(SAMPLE.read_bytes()) // 2]
    _assert_one_error_line(
        cli("import", "--base-name", "example.com/other", "-", input=truncated)
    )
    after = sorted(
        p.relative_to(cli.store) for p in cli.store.rglob("*") if p.is_file()
    )
    assert after == before
    assert (cli.store / "index.json").read_bytes() == index_before


def test_not_an_archive_is_one_error_line(cli: Cli) -> None:
    _assert_one_error_line(
        cli("import", "-", input=b"this is not a tar archive\n" * 100)
    )


def test_export_of_an_unknown_name(cli: Cli) -> None:
    target = cli.tmp_path / "out.tar"
    _assert_one_error_line(
        cli("export", str(target), "example.com/nope:1"), "no image store"
    )
    assert not (cli.tmp_path / "store").exists(), (
        "a read-only command created the store"
    )
    cli.imported()
    _assert_one_error_line(
        cli("export", str(target), "example.com/nope:1"), "example.com/nope:1"
    )
    assert not target.exists()
    assert list(cli.tmp_path.glob(".out.tar*")) == []


def test_unknown_format_names_the_known_ones(cli: Cli) -> None:
    _assert_one_error_line(
        cli("import", "--format", "nope", str(SAMPLE)), "nope", "oci-archive"
    )


def test_debug_shows_the_traceback(cli: Cli) -> None:
    result = subprocess.run(
        [*cli.argv([]), "--debug", "import", str(cli.tmp_path / "missing.tar")],
        capture_output=True,
        env=cli.env,
    )
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "Traceback (most recent call last)" in stderr
    assert stderr.splitlines()[-1].startswith("ociport: error: ")


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["import"],
        ["export", "-"],
        ["images", "rm"],
        ["import", "--no-such-option", "x.tar"],
        ["import", "--platform", "linux/amd64", "--all-platforms", "x.tar"],
        ["export", "--ref-name", "short", "-", NAME],
        ["--storage-option", "novalue", "images", "ls"],
    ],
    ids=lambda args: " ".join(args),
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 2, result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    assert result.stdout == b""
    assert not (cli.store / "index.json").exists() or args[0] != "import"


def test_help_and_version(cli: Cli) -> None:
    usage = cli.ok("--help").stdout.decode()
    for command in ("import", "export", "images", "content", "plugins"):
        assert command in usage
    assert "--store" in usage
    assert cli.ok("--version").stdout.decode().startswith("ociport")


def test_no_terminal_escape_codes_when_piped(cli: Cli) -> None:
    for result in (
        cli.ok("import", "--base-name", BASE, str(SAMPLE)),
        cli.ok("images", "ls"),
        cli.ok("content", "verify"),
    ):
        assert b"\x1b[" not in result.stdout + result.stderr


def _run_with_terminal_stderr(
    argv: list[str], env: dict[str, str]
) -> tuple[bytes, bytes]:
    """Run ``argv`` with stdout piped and stderr on a pseudo-terminal, as in
    ``ociport export - NAME > out.tar`` typed in a shell; returns (stdout, terminal)."""
    import pty

    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=terminal, env=env)
    finally:
        os.close(terminal)
    shown = b""
    try:
        while chunk := os.read(controller, 65536):
            shown += chunk
    except OSError:  # EIO once the terminal's other end is closed
        pass
    finally:
        os.close(controller)
    assert result.returncode == 0, shown.decode(errors="replace")
    return result.stdout, shown


def test_progress_goes_to_a_terminal_stderr_never_into_stdout(cli: Cli) -> None:
    cli.imported()
    piped = cli.ok("export", "-", NAME).stdout
    env = {**cli.env, "TERM": "xterm"}
    stdout, shown = _run_with_terminal_stderr(cli.argv(["export", "-", NAME]), env)
    assert stdout == piped, (
        "the archive on stdout is the same with a terminal on stderr"
    )
    assert b"exporting" in shown


def test_content_verify_notices_a_deleted_layer(cli: Cli) -> None:
    cli.imported()
    manifest = json.loads(
        (cli.store / "blobs" / "sha256" / MANIFEST_DIGEST.split(":")[1]).read_bytes()
    )
    layer = cli.store / "blobs" / "sha256" / manifest["layers"][0]["digest"][7:]
    layer.unlink()
    bad = cli("content", "verify")
    assert bad.returncode == 1
    lines = bad.stderr.decode().splitlines()
    assert lines[-1] == "ociport: error: 1 incomplete image(s)"
    assert any(
        line.startswith(f"ociport: incomplete: {NAME}:") and layer.name in line
        for line in lines
    ), lines
