"""Fast start: the entry-point cache and the local filesystem that spares short
commands fsspec (bench/startup.py measures the time; these check the behaviour)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from ociport.entrypoints import cached_entry_points, read_entry_points
from ociport.plugins import list_plugins, make_plugin_manager
from ociport.streams.localfs import LOCAL_FILES, absolute_path
from ociport.streams.location import Location

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples" / "hello.oci-archive.tar"
GROUP = "ociport"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OCIPORT_STORE"}
    return {
        **env,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


# -- the entry-point cache ---------------------------------------------------------


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _cache_file(cache_home: Path) -> Path:
    (found,) = (cache_home / "ociport").glob("entry-points-*.json")
    return found


def test_the_cache_holds_what_importlib_metadata_says(cache_home: Path) -> None:
    first = cached_entry_points(GROUP)
    assert first == read_entry_points(GROUP)
    assert {entry.name for entry in first} >= {"oci-archive", "oci", "fsspec-store"}
    doc = json.loads(_cache_file(cache_home).read_text())
    assert [entry["name"] for entry in doc["entry_points"]] == [
        entry.name for entry in first
    ]


def test_a_matching_fingerprint_answers_from_the_file(cache_home: Path) -> None:
    cached_entry_points(GROUP)
    path = _cache_file(cache_home)
    doc = json.loads(path.read_text())
    doc["entry_points"].append(
        {"name": "marker", "value": "m", "distribution": "d", "version": "1"}
    )
    path.write_text(json.dumps(doc))
    assert cached_entry_points(GROUP)[-1].name == "marker"
    # refresh=True ignores the file and rewrites it.
    assert "marker" not in {e.name for e in cached_entry_points(GROUP, refresh=True)}
    assert "marker" not in path.read_text()


def test_a_new_distribution_on_the_path_invalidates_the_cache(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_entry_points(GROUP)
    site = tmp_path / "site"
    dist = site / "ociport_extra-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ociport-extra\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[ociport]\nextra = ociport_extra\n")
    monkeypatch.syspath_prepend(str(site))
    names = {entry.name: entry for entry in cached_entry_points(GROUP)}
    assert names["extra"].distribution == "ociport-extra"
    # Editing the distribution's entry points invalidates it too.
    (dist / "entry_points.txt").write_text("[ociport]\nrenamed = ociport_extra\n")
    stat = (dist / "entry_points.txt").stat()
    os.utime(dist / "entry_points.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    names = {entry.name for entry in cached_entry_points(GROUP)}
    assert "renamed" in names and "extra" not in names


def test_a_damaged_or_unwritable_cache_is_ignored(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cached_entry_points(GROUP)
    _cache_file(cache_home).write_text("{not json")
    assert cached_entry_points(GROUP) == read_entry_points(GROUP)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: no directory below
    assert cached_entry_points(GROUP) == read_entry_points(GROUP)


def _zip_plugin(path: Path, names: list[str], mtime_ns: int) -> None:
    """A distribution ``zplug`` in a zip archive (as a wheel or a zipapp on
    ``sys.path`` holds one), declaring ``names`` as ociport entry points."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "zplug-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: zplug\nVersion: 1.0\n",
        )
        lines = "".join(f"{name} = zplug_plugin\n" for name in names)
        archive.writestr("zplug-1.0.dist-info/entry_points.txt", f"[{GROUP}]\n{lines}")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_zip_archive_on_the_path_that_changes_invalidates_the_cache(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "zplug.zip"
    _zip_plugin(archive, ["one"], 10**18)
    monkeypatch.syspath_prepend(str(archive))

    def names() -> list[str]:
        found = cached_entry_points(GROUP)
        return sorted(e.name for e in found if e.distribution == "zplug")

    assert names() == ["one"]
    _zip_plugin(archive, ["one", "two"], 10**18 + 10**9)
    assert names() == ["one", "two"]


def test_a_relative_cache_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """XDG_CACHE_HOME=cache would write below every directory ociport runs in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "cache")
    assert cached_entry_points(GROUP) == read_entry_points(GROUP)
    assert not (tmp_path / "cache").exists()
    assert _cache_file(tmp_path / "home" / ".cache")


def test_a_stale_cached_entry_point_is_read_again(cache_home: Path) -> None:
    cached_entry_points(GROUP)
    path = _cache_file(cache_home)
    doc = json.loads(path.read_text())
    doc["entry_points"].insert(
        0,
        {
            "name": "gone",
            "value": "ociport_no_such_module",
            "distribution": "gone",
            "version": "1",
        },
    )
    path.write_text(json.dumps(doc))
    pm = make_plugin_manager(cached=True)
    assert pm.get_plugin("gone") is None
    assert pm.get_plugin("oci-archive") is not None
    assert "gone" not in path.read_text()


def test_cached_and_uncached_managers_agree(cache_home: Path) -> None:
    cached = list_plugins(make_plugin_manager(cached=True))
    direct = list_plugins(make_plugin_manager())
    assert cached == direct
    assert {p.distribution for p in cached} >= {"ociport"}


def test_blocked_names_stay_blocked_with_the_cache(cache_home: Path) -> None:
    pm = make_plugin_manager(cached=True, blocked=["oci-archive"])
    assert pm.get_plugin("oci-archive") is None
    assert pm.get_plugin("oci") is not None


# -- the local filesystem without fsspec ---------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"0123456789")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing")
    return tmp_path


@pytest.mark.parametrize("name", ["dir", "file", "link"])
def test_info_is_fsspecs(tree: Path, name: str) -> None:
    path = str(tree / name)
    assert LOCAL_FILES.info(path) == LocalFileSystem().info(path)


@pytest.mark.parametrize("name", ["nothing", "dangling"])
def test_info_of_nothing_is_file_not_found(tree: Path, name: str) -> None:
    with pytest.raises(FileNotFoundError):
        LOCAL_FILES.info(str(tree / name))
    with pytest.raises(FileNotFoundError):
        LocalFileSystem().info(str(tree / name))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (None, None),
        (0, 4),
        (3, None),
        (-4, None),
        (2, -2),
        (None, 100),
        (8, 4),
        (20, 30),
    ],
)
def test_cat_file_is_fsspecs(tree: Path, start: int | None, end: int | None) -> None:
    """The same bytes, or the same error (a backwards range is fsspec's ValueError)."""

    def outcome(fs: object) -> object:
        try:
            return fs.cat_file(str(tree / "file"), start, end)  # type: ignore[attr-defined]
        except ValueError as exc:
            return type(exc)

    assert outcome(LOCAL_FILES) == outcome(LocalFileSystem())


def test_open_reads_and_other_modes_go_to_fsspec(tree: Path) -> None:
    with LOCAL_FILES.open(str(tree / "file"), "rb", block_size=1 << 20) as file:
        assert file.read() == b"0123456789"
    with pytest.raises(FileNotFoundError):
        LOCAL_FILES.open(str(tree / "nothing"), "rb")
    with LOCAL_FILES.open(str(tree / "new"), "wb") as file:
        file.write(b"x")
    assert (tree / "new").read_bytes() == b"x"
    assert LOCAL_FILES.exists(str(tree / "new"))  # delegated
    assert sorted(LOCAL_FILES.ls(str(tree), detail=False)) == sorted(
        LocalFileSystem().ls(str(tree), detail=False)
    )


@pytest.mark.parametrize(
    "text", ["/abs/path", "/abs/dir/", "rel", "./rel", ".", "~/x", "a/../b"]
)
def test_plain_paths_resolve_as_fsspec_resolves_them(text: str) -> None:
    assert absolute_path(text) == LocalFileSystem._strip_protocol(text)


@pytest.mark.parametrize(
    "text", ["file:///x", "file:/x", "memory://x", "s3://b/k", "simplecache::s3://b/k"]
)
def test_urls_are_left_to_fsspec(text: str) -> None:
    assert absolute_path(text) is None


def test_a_plain_local_location_uses_the_light_filesystem(tmp_path: Path) -> None:
    location = Location.from_url(str(tmp_path / "store") + "/")
    assert location.fs is LOCAL_FILES
    assert location.path == str(tmp_path / "store")
    assert location.is_local and location.url == location.path
    # Storage options or a file:// URL: fsspec's own local filesystem, equally local.
    for other in (
        Location.from_url(str(tmp_path), {"auto_mkdir": True}),
        Location.from_url(f"file://{tmp_path}"),
    ):
        assert isinstance(other.fs, LocalFileSystem)
        assert other.is_local and other.path == str(tmp_path)


@pytest.mark.parametrize("prefix", ["", "file://"])
def test_a_store_path_at_or_below_a_file_is_one_clear_line(
    tmp_path: Path, prefix: str
) -> None:
    """The same answers through LocalFiles and fsspec's LocalFileSystem."""
    (tmp_path / "afile").write_bytes(b"")
    ociport = str(ROOT / ".venv" / "bin" / "ociport")
    cases = [
        ("afile", ["images", "ls"], "is a file, not an image store"),
        ("afile/x", ["images", "ls"], "no image store here"),
        ("afile/x", ["content", "gc"], "no image store here"),
        ("afile/x/y", ["import", str(HELLO)], "a directory above it is a file"),
    ]
    for below, command, expected in cases:
        store = f"{prefix}{tmp_path / below}"
        done = subprocess.run(
            [ociport, "--store", store, *command],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            check=False,
        )
        assert done.returncode == 1, (store, command, done.stderr)
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"ociport: error: {tmp_path / below}: ")
        assert expected in line, (store, command)
    assert (tmp_path / "afile").read_bytes() == b""


# -- what short commands import ------------------------------------------------------

_IMPORTED = """
import sys
from ociport.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(sorted(m for m in {modules!r} if m in sys.modules), file=sys.stderr)
"""


def test_a_local_location_stays_equal_when_pickled_or_copied(tmp_path: Path) -> None:
    """A Location is a value, as on fsspec's local filesystem (multiprocessing and
    copies give back an equal location on the shared LocalFiles)."""
    import copy
    import pickle

    location = Location.from_url(str(tmp_path))
    for again in (pickle.loads(pickle.dumps(location)), copy.deepcopy(location)):
        assert again == location and hash(again) == hash(location)
        assert again.fs is LOCAL_FILES
    assert {location, Location.from_url(f"{tmp_path}/")} == {location}


@pytest.mark.parametrize(
    "command", [["--help"], ["images", "ls"], ["content", "ls"]], ids=" ".join
)
def test_short_commands_on_a_local_store_import_no_fsspec(
    tmp_path: Path, command: list[str]
) -> None:
    """Neither fsspec (asyncio, ssl) nor importlib.metadata (the entry-point cache is
    warm from the import) is loaded by a short command on a local store."""
    store = tmp_path / "store"
    modules = {"fsspec", "importlib.metadata", "asyncio", "ssl", "socket", "logging"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        code = _IMPORTED.format(modules=modules)
        return subprocess.run(
            [sys.executable, "-c", code, "--store", str(store), *args],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            cwd=tmp_path,
        )

    imported = run("import", str(HELLO))
    assert "fsspec" in imported.stderr.splitlines()[-1]  # the check can fail
    result = run(*command)
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr
    if command == ["images", "ls"]:
        assert "example.com/ociport/hello:1.0" in result.stdout
    if command == ["content", "ls"]:
        assert len(result.stdout.splitlines()) >= 3  # manifest, config, layer


@pytest.mark.parametrize("name", ["", "dir", "file", "nothing", "dangling"])
def test_find_of_one_level_is_fsspecs(tree: Path, name: str) -> None:
    (tree / "dir" / "inner").write_bytes(b"x")
    (tree / "dirlink").symlink_to(tree / "dir")
    path = str(tree / name) if name else str(tree)
    ours = LOCAL_FILES.find(path, maxdepth=1, detail=True)
    assert ours == LocalFileSystem().find(path, maxdepth=1, detail=True)
    assert list(ours) == sorted(ours)
    if not name:
        assert {Path(p).name for p in ours} == {"file", "link", "dangling", "dirlink"}


def test_running_from_another_directory_keeps_the_cache(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder of a script or the working directory of ``python -m`` (first on
    ``sys.path``) holds no distribution: it does not invalidate the cache."""
    cached_entry_points(GROUP)
    path = _cache_file(cache_home)
    written = path.stat().st_mtime_ns
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.syspath_prepend(str(elsewhere))
    cached_entry_points(GROUP)
    assert path.stat().st_mtime_ns == written


def test_a_command_loads_only_its_own_module_of_commands(tmp_path: Path) -> None:
    """``images ls`` imports ``ociport.cli.images``, not the modules of the other
    commands; ``--help`` lists them all, with their options after the name."""
    modules = {
        "ociport.cli.images",
        "ociport.cli.transfer",
        "ociport.cli.copy",
        "ociport.cli.content",
        "ociport.cli.completion",
    }
    code = _IMPORTED.format(modules=modules)
    listed = subprocess.run(
        [sys.executable, "-c", code, "images", "ls"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert listed.stderr.strip().splitlines()[-1] == "['ociport.cli.images']"
    helped = subprocess.run(
        [sys.executable, "-m", "ociport", "--help"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    for name in ("completion", "content", "convert", "copy", "export", "images"):
        assert f"\n  {name} " in helped.stdout
    for name in ("import", "inspect", "plugins"):
        assert f"\n  {name} " in helped.stdout
    after = subprocess.run(
        [sys.executable, "-m", "ociport", "import", "--help"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert "--store URL|NAME" in after.stdout
