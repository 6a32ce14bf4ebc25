"""What the command line prints for people and for scripts: progress with totals
(``--progress=auto|plain|json|none``, a display on a terminal), results as JSON
documents (``--json``) or bare names (``-q``), and ``images ls`` with each image's
total size and platforms. Run as users run it: the CLI in a subprocess, with a
pseudo-terminal where a terminal matters."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path
from typing import Any

import pytest

import ociport
from ociport.cli.output import human_size
from ociport.testing.factories import name_image, random_image
from test_cli import BASE, MANIFEST_DIGEST, NAME, SAMPLE, SAMPLE_INDEX, Cli

BIG = "example.com/big:1"
MULTI = "example.com/multi:2"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI runner with an empty store under ``tmp_path``."""
    return Cli(tmp_path)


def _blob_sizes(store: Path) -> dict[str, int]:
    """``sha256:<hex>`` -> size of every blob file in a store."""
    return {
        f"sha256:{p.name}": p.stat().st_size
        for p in (store / "blobs" / "sha256").iterdir()
    }


def _json_lines(stderr: bytes) -> list[dict[str, Any]]:
    """The ``--progress=json`` lines of stderr (other lines, notes, left out)."""
    lines = [line for line in stderr.decode().splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def _big_archive(cli: Cli) -> tuple[Path, int]:
    """An OCI archive of a two-platform image with 3 MiB layers; with the total size
    of its blobs."""
    source = ociport.open_store(str(cli.tmp_path / "maker"))
    root = random_image(
        source.content,  # type: ignore[arg-type]
        layers=2,
        layer_size=3 << 20,
        seed=7,
        platforms=["linux/amd64", "linux/arm64"],
    )
    name_image(source.content, BIG, root)  # type: ignore[arg-type]
    archive = cli.tmp_path / "big.tar"
    cli.ok("export", "--progress=none", str(archive), BIG, store=cli.tmp_path / "maker")
    return archive, sum(_blob_sizes(cli.tmp_path / "maker").values())


def _on_terminal(
    argv: list[str], env: dict[str, str], stdin: Any = None
) -> tuple[subprocess.CompletedProcess[bytes], str]:
    """Run ``argv`` with stderr on a 150-column pseudo-terminal; returns the result
    and what was drawn there, escape sequences removed."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
    try:
        result = subprocess.run(
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env={**env, "TERM": "xterm"},
        )
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
    text = shown.decode(errors="replace")
    for code in ("\x1b[?25l", "\x1b[?25h"):
        text = text.replace(code, "")
    plain = "".join(_strip_escapes(text))
    assert result.returncode == 0, plain
    return result, plain


def _strip_escapes(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b" and i + 1 < len(text) and text[i + 1] == "[":
            j = i + 2
            while j < len(text) and not text[j].isalpha():
                j += 1
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    return out


# -- import and export results ---------------------------------------------------------


def test_import_json_document(cli: Cli) -> None:
    result = cli.ok("import", "--json", "--base-name", BASE, str(SAMPLE))
    doc = json.loads(result.stdout)
    [image] = doc["images"]
    assert image["name"] == NAME
    assert image["digest"] == MANIFEST_DIGEST
    blobs = _blob_sizes(cli.store)
    assert doc["blobs"] == {"committed": len(blobs), "bytes": sum(blobs.values())}
    assert doc["missing"] == [] and doc["notes"] == [] and doc["warnings"] == []
    # Notes are in the document, not on stderr; the new store is still announced.
    assert result.stderr.decode() == f"ociport: created image store {cli.store}\n"
    again = json.loads(cli.ok("import", "--json", str(SAMPLE)).stdout)
    assert again["blobs"] == {"committed": 0, "bytes": 0}
    assert again["images"] == doc["images"]


def test_import_json_reports_what_was_left_out(cli: Cli, tmp_path: Path) -> None:
    archive, _ = _big_archive(cli)
    partial = tmp_path / "partial.tar"
    cli.ok(
        "export",
        *("--platform", "linux/arm64", "--keep-index", "--progress=none"),
        *(str(partial), BIG),
        store=tmp_path / "maker",
    )
    doc = json.loads(cli.ok("import", "--json", str(partial)).stdout)
    [missing] = doc["missing"]
    assert missing["platform"] == "linux/amd64"
    assert missing["referencedBy"] == doc["images"][0]["digest"]
    assert missing["digest"][7:19] in doc["warnings"][0]
    assert archive.exists()


def test_import_quiet_prints_only_names(cli: Cli) -> None:
    result = cli.ok("import", "-q", "--base-name", BASE, "-", input=SAMPLE.read_bytes())
    assert result.stdout.decode() == f"{NAME}\n"
    assert "waiting" not in result.stderr.decode(), "stdin is a pipe, not a terminal"


@pytest.mark.parametrize(
    "args",
    [
        ["import", "--json", "-q", str(SAMPLE)],
        ["export", "--json", "-q", "out.tar", NAME],
        ["export", "--json", "-", NAME],
        ["content", "verify", "--json", "-q"],
        ["content", "gc", "--json", "-q"],
        ["import", "--progress=loud", str(SAMPLE)],
    ],
    ids=lambda args: " ".join(args),
)
def test_result_options_that_exclude_each_other(cli: Cli, args: list[str]) -> None:
    cli.imported()
    result = cli(*args)
    assert result.returncode == 2, result.stderr.decode()
    assert result.stdout == b""


def test_export_json_document(cli: Cli) -> None:
    cli.imported()
    target = cli.tmp_path / "out.tar"
    result = cli.ok("export", "--json", "--ref-name", "tag", str(target), NAME)
    doc = json.loads(result.stdout)
    assert doc["destination"] == str(target)
    [image] = doc["images"]
    assert (image["name"], image["refName"]) == (NAME, "1.0")
    assert image["digest"] == MANIFEST_DIGEST
    blobs = _blob_sizes(cli.store)
    assert doc["blobs"] == {"exported": len(blobs), "bytes": sum(blobs.values())}
    assert doc["missing"] == [] and doc["warnings"] == []
    assert result.stderr == b""


def test_export_quiet_prints_ref_names_or_nothing(cli: Cli) -> None:
    cli.imported()
    target = cli.tmp_path / "out.tar"
    assert cli.ok("export", "-q", str(target), NAME).stdout.decode() == f"{NAME}\n"
    to_stdout = cli.ok("export", "-q", "-", NAME)
    assert to_stdout.stdout == target.read_bytes(), "stdout holds the archive alone"
    assert to_stdout.stderr == b""


def test_content_verify_json_and_quiet(cli: Cli) -> None:
    cli.imported()
    ok = cli.ok("content", "verify", "--json")
    assert json.loads(ok.stdout) == {"ok": True, "corrupt": [], "incomplete": []}
    quiet = cli.ok("content", "verify", "-q")
    assert (quiet.stdout, quiet.stderr) == (b"", b"")

    blob = cli.store / "blobs" / "sha256" / MANIFEST_DIGEST.split(":")[1]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes().replace(b"{", b"[", 1))
    bad = cli("content", "verify", "--json")
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert doc["ok"] is False
    assert [c["digest"] for c in doc["corrupt"]] == [MANIFEST_DIGEST]
    assert bad.stderr.decode() == "ociport: error: 1 corrupt blob(s)\n"
    silent = cli("content", "verify", "-q")
    assert (silent.returncode, silent.stdout, silent.stderr) == (1, b"", b"")


def test_content_gc_json_and_quiet(cli: Cli) -> None:
    cli.imported()
    blobs = _blob_sizes(cli.store)
    cli.ok("images", "rm", NAME)
    dry = json.loads(
        cli.ok("content", "gc", "--json", "--dry-run", "--grace", "0").stdout
    )
    assert dry["dryRun"] is True
    assert sorted(dry["removed"]["blobs"]) == sorted(blobs)
    assert dry["removed"]["bytes"] == sum(blobs.values())
    assert set(dry["kept"]) == {"young", "leased"}
    real = cli.ok("content", "gc", "-q", "--grace", "0")
    assert sorted(real.stdout.decode().split()) == sorted(blobs)
    assert real.stderr == b"", "no summary with -q"
    assert _blob_sizes(cli.store) == {}
    empty = json.loads(cli.ok("content", "gc", "--json", "--grace", "0").stdout)
    assert empty["removed"]["blobs"] == [] and empty["dryRun"] is False


# -- progress for scripts --------------------------------------------------------------


def test_progress_json_for_a_file_import(cli: Cli) -> None:
    result = cli.ok("import", "--progress=json", "--base-name", BASE, str(SAMPLE))
    assert result.stdout.decode() == f"{NAME}\t{MANIFEST_DIGEST}\n", "results unchanged"
    events = _json_lines(result.stderr)
    blobs = _blob_sizes(cli.store)
    total = sum(blobs.values())
    assert {e["operation"] for e in events} == {"import"}
    # The file's size first, then exactly what the image needs, before any blob.
    first_blob = next(i for i, e in enumerate(events) if e["event"] == "blob")
    totals = [e["total"] for e in events[:first_blob] if e["event"] == "total"]
    assert totals == [SAMPLE.stat().st_size, total]
    assert all(e["total"] == total for e in events[first_blob:])
    started = {e["digest"]: e["blobTotal"] for e in events if e["event"] == "blob"}
    assert started == blobs
    finished = {
        e["digest"]
        for e in events
        if e["event"] == "progress" and e["blobDone"] == e["blobTotal"]
    }
    assert finished == set(blobs)
    assert events[-1] == {
        "event": "done",
        "operation": "import",
        "done": total,
        "total": total,
    }


def test_progress_json_for_an_export(cli: Cli) -> None:
    cli.imported()
    blobs = _blob_sizes(cli.store)
    total = sum(blobs.values())
    result = cli.ok("export", "--progress=json", "-", NAME)
    events = _json_lines(result.stderr)
    assert len(events) == len(result.stderr.decode().splitlines()), "only JSON lines"
    assert events[0] == {
        "event": "total",
        "operation": "export",
        "done": 0,
        "total": total,
    }
    assert {
        e["digest"]: e["blobTotal"] for e in events if e["event"] == "blob"
    } == blobs
    for event in events:
        assert event["total"] == total
        assert 0 <= event.get("blobDone", 0) <= event.get("blobTotal", 0)
    assert events[-1]["event"] == "done" and events[-1]["done"] == total
    assert result.stdout == cli.ok("export", "-", NAME).stdout


def test_progress_json_for_a_pipe_has_bytes_without_a_total(cli: Cli) -> None:
    archive, total = _big_archive(cli)
    result = cli.ok("import", "--progress=json", "-", input=archive.read_bytes())
    events = _json_lines(result.stderr)
    # A pipe's size is unknown until the whole archive is read.
    last_total = max(i for i, e in enumerate(events) if e["event"] == "total")
    assert events[last_total]["total"] == total
    before = events[:last_total]
    assert [e for e in before if e["event"] == "blob"], "blobs reported as they come"
    assert all(e["total"] is None for e in before)
    assert max(e["done"] for e in before) == total
    assert events[-1]["event"] == "done"


def test_progress_plain_and_none(cli: Cli) -> None:
    plain = cli.ok("import", "--progress=plain", "--base-name", BASE, str(SAMPLE))
    total = sum(_blob_sizes(cli.store).values())
    lines = plain.stderr.decode().splitlines()
    assert f"ociport: imported {human_size(total)} in 3 blob(s)" in lines
    assert b"\x1b[" not in plain.stderr
    exported = cli.ok("export", "--progress=plain", str(cli.tmp_path / "o.tar"), NAME)
    assert exported.stderr.decode().splitlines()[-1].startswith("ociport: exported ")
    none = cli.ok("import", "--progress=none", str(SAMPLE))
    assert none.stderr == b""


# -- progress on a terminal ------------------------------------------------------------


def test_terminal_shows_the_total_and_a_percentage(cli: Cli) -> None:
    archive, total = _big_archive(cli)
    result, shown = _on_terminal(cli.argv(["import", str(archive)]), cli.env)
    assert result.stdout.decode().startswith(BIG)
    assert "importing" in shown
    assert f"/{human_size(total)}" in shown, shown[-2000:]
    assert "100%" in shown
    assert "MiB/s" in shown, "the rate"
    # Large blobs have lines of their own (their digests' first 12 hex digits).
    layer = max(_blob_sizes(cli.store).items(), key=lambda item: item[1])[0]
    assert layer[7:19] in shown

    export, drawn = _on_terminal(cli.argv(["export", "-", BIG]), cli.env)
    assert export.stdout == archive.read_bytes()
    assert "exporting" in drawn and f"/{human_size(total)}" in drawn and "%" in drawn


def test_terminal_shows_bytes_without_a_total_for_a_pipe(cli: Cli) -> None:
    archive, _ = _big_archive(cli)
    with archive.open("rb") as stdin_file:
        reader = subprocess.Popen(["cat"], stdin=stdin_file, stdout=subprocess.PIPE)
        try:
            _, shown = _on_terminal(
                cli.argv(["import", "-"]), cli.env, stdin=reader.stdout
            )
        finally:
            assert reader.stdout is not None
            reader.stdout.close()
            reader.wait()
    assert "importing" in shown
    assert "MiB" in shown
    assert "waiting for an archive" not in shown


def test_waiting_for_an_archive_on_a_terminal_stdin(cli: Cli) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        cli.argv(["import", "-"]),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli.env,
    )
    os.close(terminal)
    assert process.stderr is not None
    first = process.stderr.readline().decode()
    os.close(controller)  # the terminal goes away: the import ends (no archive)
    _, rest = process.communicate(timeout=60)
    assert first.startswith("ociport: waiting for an archive on stdin")
    assert "waiting" not in rest.decode()


def test_no_progress_when_stderr_is_not_a_terminal(cli: Cli) -> None:
    cli.imported()
    exported = cli.ok("export", str(cli.tmp_path / "o.tar"), NAME)
    assert exported.stderr == b""


# -- images ls -------------------------------------------------------------------------


def _expected_size(store: Path, digest: str, blobs: dict[str, int]) -> int:
    """The size of image ``digest`` computed from the store's files: the documents
    parsed by hand, every blob's size read from the disk, each counted once."""
    seen: set[str] = set()

    def visit(current: str) -> None:
        if current in seen or current not in blobs:
            return
        seen.add(current)
        doc = json.loads((store / "blobs" / "sha256" / current[7:]).read_bytes())
        for child in doc.get("manifests", []):
            visit(child["digest"])
        for blob in [doc.get("config"), *doc.get("layers", [])]:
            if blob is not None:
                seen.add(blob["digest"])

    visit(digest)
    return sum(blobs[d] for d in seen)


def test_images_ls_shows_total_size_and_platforms(cli: Cli, tmp_path: Path) -> None:
    cli.imported()
    store = ociport.open_store(str(cli.store))
    multi = random_image(
        store.content,  # type: ignore[arg-type]
        layers=3,
        layer_size=200_000,
        seed=3,
        platforms=["linux/amd64", "linux/arm64/v8"],
    )
    name_image(store.content, MULTI, multi)  # type: ignore[arg-type]
    blobs = _blob_sizes(cli.store)
    listed = {i["name"]: i for i in json.loads(cli.ok("images", "ls", "--json").stdout)}
    assert listed[NAME]["totalSize"] == _expected_size(
        cli.store, MANIFEST_DIGEST, blobs
    )
    assert listed[NAME]["totalSize"] == sum(blobs[d] for d in _hello_blobs(cli))
    assert listed[NAME]["platforms"] == ["linux/amd64"]
    manifest_size = SAMPLE_INDEX["manifests"][0]["size"]
    assert listed[NAME]["size"] == manifest_size, "the descriptor is unchanged"
    expected = _expected_size(cli.store, str(multi.digest), blobs)
    assert listed[MULTI]["totalSize"] == expected
    assert listed[MULTI]["platforms"] == ["linux/amd64", "linux/arm64/v8"]

    header, *rows = cli.ok("images", "ls").stdout.decode().splitlines()
    assert header.split() == ["NAME", "DIGEST", "MEDIA", "TYPE", "SIZE", "PLATFORMS"]
    table = {row.split()[0]: row for row in rows}
    assert table[MULTI].endswith(f"{human_size(expected)}  linux/amd64,linux/arm64/v8")
    assert "MiB" in human_size(expected)
    assert table[NAME].split()[-1] == "linux/amd64"


def test_images_ls_counts_only_the_platforms_a_partial_import_holds(
    cli: Cli, tmp_path: Path
) -> None:
    _big_archive(cli)
    partial = tmp_path / "partial.tar"
    cli.ok(
        "export",
        *("--platform", "linux/arm64", "--keep-index", "--progress=none"),
        *(str(partial), BIG),
        store=tmp_path / "maker",
    )
    cli.ok("import", str(partial))
    [image] = json.loads(cli.ok("images", "ls", "--json").stdout)
    blobs = _blob_sizes(cli.store)
    assert image["totalSize"] == sum(blobs.values())
    assert image["totalSize"] == _expected_size(cli.store, image["digest"], blobs)
    assert image["platforms"] == ["linux/arm64"]


def _hello_blobs(cli: Cli) -> set[str]:
    """The example image's blobs: its manifest, and the config and layers it lists."""
    manifest = json.loads(
        (cli.store / "blobs" / "sha256" / MANIFEST_DIGEST[7:]).read_bytes()
    )
    return {
        MANIFEST_DIGEST,
        manifest["config"]["digest"],
        *(layer["digest"] for layer in manifest["layers"]),
    }
