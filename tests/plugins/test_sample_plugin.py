"""A third-party plugin in use: its driver, its store, its named store, and the events
every plugin receives."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import click
import fsspec
import pluggy
import pytest
import sample_plugin
from fakedist import install, ociport_distribution, sample_distribution

import ociport
import ociport.plugins
from helpers import ROOT
from ociport import hookimpl
from ociport.builtin import fsspec_store, oci_archive
from ociport.cli import main
from ociport.content.fsstore import FsspecContentStore
from ociport.content.interfaces import BlobInfo, ContentStore
from ociport.oci.descriptor import Descriptor
from ociport.plugins import get_plugin_manager, make_plugin_manager

SAMPLE = ROOT / "examples" / "hello.oci-archive.tar"
NAMING = ociport.ImportNaming("example.com/sample")
NAME = "example.com/ociport/hello:1.0"


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh ``memory://`` store root, removed afterwards."""
    url = f"memory://plugin-test-{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.fixture
def sample_pm(monkeypatch: pytest.MonkeyPatch) -> pluggy.PluginManager:
    """A manager that autoloaded ociport and the sample distribution."""
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    return make_plugin_manager()


def _members(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return tar.getnames()


# -- the driver ------------------------------------------------------------------------


def test_sample_driver_exports_and_imports_through_the_api(
    sample_pm: pluggy.PluginManager, memory_url: str
) -> None:
    store = ociport.open_store(memory_url, pm=sample_pm)
    imported = store.import_image(str(SAMPLE), naming=NAMING)
    assert [image.name for image in imported.images] == [NAME]

    sink = io.BytesIO()
    result = store.export_images([NAME], sink, format="sample-archive")
    data = sink.getvalue()
    assert data[:2] == b"\x1f\x8b", "the sample driver gzips its output"
    plain = gzip.decompress(data)
    assert _members(plain)[:2] == ["oci-layout", "index.json"]
    assert [e.digest for e in result.entries] == [imported.images[0].target.digest]

    again = io.BytesIO()
    store.export_images([NAME], again, format="sample-archive")
    assert again.getvalue() == data, "export stays deterministic through the plugin"

    other = ociport.open_store(f"{memory_url}-copy", pm=sample_pm)
    try:
        back = other.import_image(
            io.BytesIO(data), format="sample-archive", naming=NAMING
        )
        assert "read by the sample-archive driver" in back.notes
        assert [(i.name, i.target.digest) for i in back.images] == [
            (NAME, imported.images[0].target.digest)
        ]
        assert other.verify() == []
    finally:
        fsspec.filesystem("memory").rm(f"{memory_url}-copy", recursive=True)


def test_sample_driver_reads_and_writes_paths(
    sample_pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    store = ociport.open_store(str(tmp_path / "store"), pm=sample_pm)
    store.import_image(SAMPLE, naming=NAMING)
    target = tmp_path / "out.oci.tar.gz"
    store.export_images([NAME], str(target), format="sample-archive")
    assert target.read_bytes()[:2] == b"\x1f\x8b"

    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=sample_pm)
    result = fresh.import_image(str(target), format="sample-archive", naming=NAMING)
    assert [image.name for image in result.images] == [NAME]
    assert sorted(i.digest for i in fresh.content.walk()) == sorted(
        i.digest for i in store.content.walk()
    )


def test_sample_driver_never_guessed(
    sample_pm: pluggy.PluginManager, memory_url: str
) -> None:
    store = ociport.open_store(memory_url, pm=sample_pm)
    result = store.import_image(str(SAMPLE), naming=NAMING)
    assert "read by the sample-archive driver" not in result.notes


def test_blocked_plugin_driver_is_unknown(
    monkeypatch: pytest.MonkeyPatch, memory_url: str
) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    monkeypatch.setenv("OCIPORT_DISABLE_PLUGINS", "sample-archive")
    store = ociport.open_store(memory_url, pm=make_plugin_manager())
    store.import_image(str(SAMPLE), naming=NAMING)
    with pytest.raises(ociport.UnknownDriverError, match="sample-archive") as info:
        store.export_images([NAME], io.BytesIO(), format="sample-archive")
    assert "oci-archive" in info.value.known


# -- the CLI lists it with its distribution --------------------------------------------


@pytest.fixture
def fresh_default_pm() -> Iterator[None]:
    """Forget the cached process-wide plugin manager before and after the test."""
    get_plugin_manager.cache_clear()
    yield
    get_plugin_manager.cache_clear()


def test_plugins_command_lists_the_sample_distribution(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fresh_default_pm: None,
) -> None:
    install(monkeypatch, [ociport_distribution(), sample_distribution()])
    main(["plugins", "--json"])
    listing = json.loads(capsys.readouterr().out)
    drivers = {d["name"]: d for d in listing["drivers"]}
    assert drivers["sample-archive"]["distribution"] == "ociport-sample"
    assert drivers["sample-archive"]["version"] == "0.3.0"
    assert (
        drivers["sample-archive"]["summary"]
        == sample_plugin.SampleArchiveDriver.summary
    )
    assert drivers["oci-archive"]["distribution"] == "ociport"
    plugins = {p["name"]: p for p in listing["plugins"]}
    assert plugins["sample-archive"] == {
        "name": "sample-archive",
        "module": "sample_plugin",
        "distribution": "ociport-sample",
        "version": "0.3.0",
    }

    main(["plugins"])
    text = capsys.readouterr().out
    driver_line = next(line for line in text.splitlines() if "sample-archive" in line)
    assert "ociport-sample 0.3.0" in driver_line
    assert text.index("DRIVERS") < text.index("sample-archive") < text.index("PLUGINS")


def _dist_info_site(tmp_path: Path) -> Path:
    """A directory that, on ``PYTHONPATH``, installs the sample distribution for real:
    its module plus a ``.dist-info`` with metadata and entry points."""
    site = tmp_path / "site"
    info = site / "ociport_sample-0.3.0.dist-info"
    info.mkdir(parents=True)
    shutil.copy(sample_plugin.__file__, site / "sample_plugin.py")
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ociport-sample\nVersion: 0.3.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[ociport]\nsample-archive = sample_plugin\n"
    )
    return site


def _ociport(
    args: Sequence[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ociport", *args],
        capture_output=True,
        text=True,
        env=env,
    )


def test_installed_sample_distribution_is_used_by_the_cli(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(_dist_info_site(tmp_path)),
        "OCIPORT_STORE": str(tmp_path / "store"),
    }
    for variable in ("OCIPORT_DISABLE_PLUGINS", "OCIPORT_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(variable, None)

    listed = _ociport(["plugins", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    drivers = {d["name"]: d for d in json.loads(listed.stdout)["drivers"]}
    assert drivers["sample-archive"]["distribution"] == "ociport-sample"

    assert (
        _ociport(
            ["import", "--base-name", "example.com/sample", str(SAMPLE)], env
        ).returncode
        == 0
    )
    out = tmp_path / "sample.oci.tar.gz"
    exported = _ociport(["export", "--format", "sample-archive", str(out), NAME], env)
    assert exported.returncode == 0, exported.stderr
    assert out.read_bytes()[:2] == b"\x1f\x8b"

    env["OCIPORT_STORE"] = str(tmp_path / "other")
    args = [
        "import",
        "--format",
        "sample-archive",
        "--base-name",
        "example.com/sample",
        str(out),
    ]
    back = _ociport(args, env)
    assert back.returncode == 0, back.stderr
    assert back.stdout.split("\t")[0] == NAME
    assert "read by the sample-archive driver" in back.stderr


# -- events and the store hooks --------------------------------------------------------


class _Recorder:
    """A plugin object that records the notification hooks."""

    def __init__(self) -> None:
        self.blobs: list[tuple[ContentStore, BlobInfo]] = []
        self.imported: list[tuple[ContentStore, str, list[Descriptor]]] = []
        self.exported: list[tuple[ContentStore, str, list[Descriptor]]] = []

    @hookimpl
    def ociport_blob_committed(self, store: ContentStore, info: BlobInfo) -> None:
        self.blobs.append((store, info))

    @hookimpl
    def ociport_image_imported(
        self, store: ContentStore, driver_name: str, roots: Sequence[Descriptor]
    ) -> None:
        self.imported.append((store, driver_name, list(roots)))

    @hookimpl
    def ociport_image_exported(
        self, store: ContentStore, driver_name: str, roots: Sequence[Descriptor]
    ) -> None:
        self.exported.append((store, driver_name, list(roots)))


def test_notification_hooks_get_the_right_arguments(
    pm: pluggy.PluginManager, memory_url: str
) -> None:
    recorder = _Recorder()
    pm.register(recorder, name="recorder")
    store = ociport.open_store(memory_url, pm=pm)
    result = store.import_image(str(SAMPLE), naming=NAMING)

    stored = {info.digest: info.size for info in store.content.walk()}
    assert {info.digest: info.size for _, info in recorder.blobs} == stored
    assert len(recorder.blobs) == result.blobs_committed == len(stored)
    assert all(s is store.content for s, _ in recorder.blobs)
    assert recorder.imported == [
        (store.content, "oci-archive", [result.images[0].target])
    ]
    assert recorder.imported[0][2][0].ref_name == NAME

    again = store.import_image(str(SAMPLE), naming=NAMING)
    assert again.blobs_committed == 0
    assert len(recorder.blobs) == len(stored), "an existing blob is not committed again"
    assert len(recorder.imported) == 2

    assert recorder.exported == []
    store.export_images([NAME], io.BytesIO())
    [(exported_store, driver_name, roots)] = recorder.exported
    assert (exported_store, driver_name) == (store.content, "oci-archive")
    assert [(r.digest, r.ref_name) for r in roots] == [
        (result.images[0].target.digest, NAME)
    ]


def test_no_event_when_an_import_fails(
    pm: pluggy.PluginManager, memory_url: str
) -> None:
    recorder = _Recorder()
    pm.register(recorder, name="recorder")
    store = ociport.open_store(memory_url, pm=pm)
    with pytest.raises(ociport.FormatError):
        store.import_image(io.BytesIO(SAMPLE.read_bytes()[:4096]), naming=NAMING)
    assert (recorder.blobs, recorder.imported) == ([], [])


@pytest.mark.parametrize(
    "plugin_first", [True, False], ids=["plugin-first", "builtin-first"]
)
def test_a_plugin_claims_a_store_location_before_the_builtin(
    plugin_first: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    dists = [sample_distribution(), ociport_distribution()]
    install(monkeypatch, dists if plugin_first else dists[::-1])
    pm = make_plugin_manager()
    claimed_url = f"memory://sample-claimed-{uuid.uuid4().hex}"
    try:
        claimed = ociport.open_store(claimed_url, pm=pm)
        assert isinstance(claimed.content, sample_plugin.ClaimedStore)
        claimed.import_image(str(SAMPLE), naming=NAMING)
        assert [image.name for image in claimed.images()] == [NAME]
        assert fsspec.filesystem("memory").exists(f"{claimed_url}/index.json")
    finally:
        fsspec.filesystem("memory").rm(claimed_url, recursive=True)

    unclaimed_url = f"memory://plain-{uuid.uuid4().hex}"
    try:
        plain = ociport.open_store(unclaimed_url, pm=pm)
        assert isinstance(plain.content, FsspecContentStore)
    finally:
        fsspec.filesystem("memory").rm(unclaimed_url, recursive=True)


def test_no_store_plugin_is_a_plugin_error(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, [ociport_distribution()])
    pm = make_plugin_manager(blocked=["fsspec-store"])
    with pytest.raises(ociport.PluginError, match="no plugin opens a content store"):
        ociport.open_store("memory://nowhere", pm=pm)


def test_plugin_named_store_and_config_file_override(
    sample_pm: pluggy.PluginManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    named = ociport.open_store("sample-named", pm=sample_pm)
    assert named.content.location.url == sample_plugin.NAMED_STORE_URL.replace(
        "//", "///"
    )

    config = tmp_path / "config" / "ociport" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[stores.sample-named]\nurl = "{tmp_path / "mine"}"\n')
    mine = ociport.open_store("sample-named", pm=sample_pm)
    assert mine.content.location.path == str(tmp_path / "mine")
    assert (tmp_path / "mine" / "oci-layout").is_file()


# -- commands plugins add --------------------------------------------------------------


class _Commands:
    """A plugin adding ``commands`` and counting the calls of the hook."""

    def __init__(self, *commands: click.Command) -> None:
        self.commands = list(commands)
        self.calls = 0

    @hookimpl
    def ociport_cli_commands(self) -> Sequence[click.Command]:
        self.calls += 1
        return self.commands


@pytest.fixture
def cli_pm(monkeypatch: pytest.MonkeyPatch) -> pluggy.PluginManager:
    """The built-ins and the sample plugin, as the command line's plugin manager."""
    pm = make_plugin_manager(autoload=False)
    for name, module in (
        ("fsspec-store", fsspec_store),
        ("oci-archive", oci_archive),
        ("sample-archive", sample_plugin),
    ):
        pm.register(module, name=name)
    monkeypatch.setattr(ociport.plugins, "get_plugin_manager", lambda: pm)
    return pm


def test_a_plugins_command_is_listed_and_runs(
    cli_pm: pluggy.PluginManager,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = _Commands(click.Command("sample-count", help="Count."))
    cli_pm.register(counting, name="counting")
    monkeypatch.delenv("OCIPORT_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # the default store: empty
    main(["images", "ls"])
    assert counting.calls == 0, "a built-in command collects no plugin command"
    capsys.readouterr()

    main(["--help"])
    listing = capsys.readouterr().out
    assert "sample-hello  Greet WHO" in listing and "sample-count" in listing
    main(["sample-hello", "tester"])
    assert capsys.readouterr().out == "hello, tester, from the sample plugin\n"
    assert counting.calls == 1, "collected once per plugin manager"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("images", "plugin clash adds the command 'images', which is a built-in"),
        (
            "sample-hello",
            "plugins sample-archive and clash both add the command 'sample-hello'",
        ),
    ],
)
def test_a_plugin_command_may_not_take_a_name(
    cli_pm: pluggy.PluginManager,
    capsys: pytest.CaptureFixture[str],
    name: str,
    error: str,
) -> None:
    cli_pm.register(_Commands(click.Command(name)), name="clash")
    with pytest.raises(SystemExit) as done:
        main(["sample-hello"])
    assert done.value.code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("ociport: error: ") and error in line
    # --help still lists the built-ins, with a note.
    main(["--help"])
    captured = capsys.readouterr()
    assert "images" in captured.out and error in captured.err


def test_an_installed_plugins_command_through_the_entry_point_cache(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(_dist_info_site(tmp_path)),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    for variable in ("OCIPORT_DISABLE_PLUGINS", "OCIPORT_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(variable, None)
    for _ in range(2):  # the cache written, then read
        listed = _ociport(["--help"], env)
        assert "sample-hello" in listed.stdout, listed.stderr
        ran = _ociport(["sample-hello"], env)
        assert ran.stdout == "hello, world, from the sample plugin\n", ran.stderr
    env["OCIPORT_DISABLE_PLUGINS"] = "sample-archive"
    blocked = _ociport(["sample-hello"], env)
    assert blocked.returncode == 2 and "No such command" in blocked.stderr
