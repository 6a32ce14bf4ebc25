"""Docker 25+ ``docker save`` archives name their images in ``index.json`` too; an image
whose ``RepoTags`` are ``null`` gets that name whichever driver reads the archive.

Docker 20.10 (what this machine runs) cannot write such an archive, so the tests build
one from a real OCI image layout: ``oci-uncompressed/`` of the tool fixtures, which
skopeo wrote (``make-tool-fixtures.sh``) with the media types Docker 25 uses: an OCI
manifest (``application/vnd.oci.image.manifest.v1+json``), an OCI config
(``application/vnd.oci.image.config.v1+json``) and uncompressed layers
(``application/vnd.oci.image.layer.v1.tar``), each a ``blobs/sha256/<hex>`` file. To
it :func:`docker25_archive` adds what ``docker save`` of Docker 25 adds to the layout:

- ``index.json`` entries annotated ``io.containerd.image.name`` (the full name,
  ``docker.io/library/sample:latest``) and ``org.opencontainers.image.ref.name`` (the
  tag, ``latest``);
- ``oci-layout`` (``{"imageLayoutVersion": "1.0.0"}``);
- ``manifest.json``: ``[{"Config": "blobs/sha256/<config hex>", "RepoTags": null,
  "Layers": ["blobs/sha256/<layer hex>", ...], "LayerSources": {<layer digest>:
  <layer descriptor>, ...}}]``: the layout's own blobs, no copies (``RepoTags`` is
  ``null`` for an image saved by ID, and with some Docker 25+ versions);
- ``repositories`` (``{repository: {tag: <hex of the top layer blob>}}``) only when
  asked: Docker writes it for the names it saved by, so not for an image saved by ID.

Members come in Docker's order, the lexical order of its temporary directory:
``blobs/``, ``blobs/sha256/``, the blobs, ``index.json``, ``manifest.json``,
``oci-layout``, ``repositories``. The fixture's blobs take more than 64 KiB, so format
detection sees only blobs, as with any real image.

Where the optional corpus is present, a real Docker 25 archive is used too: ggcr's
``hello-world-v25.tar`` (saved by ID: ``RepoTags: null``, ``"manifests": null``), whose
``index.json`` is rewritten to list its manifest with the two annotations, as Docker 25
writes it for a tagged image; every other member is kept as it is.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pluggy
import pytest
from docker_helpers import PUBLIC, TOOL

import ociport
from ociport.content.helpers import read_blob
from ociport.oci import mediatypes as mt
from ociport.oci.manifest import Manifest

LAYOUT = TOOL / "oci-uncompressed"
NAME = "docker.io/library/sample:latest"
IMAGE_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"
DOCKER_25_NAMES = {IMAGE_NAME: NAME, REF_NAME: "latest"}
#: ``None``: auto-detection; the others forced with ``format=``/``--format``.
FORMATS = [None, "docker-archive", "oci-archive"]


def _blob(digest: str) -> bytes:
    return (LAYOUT / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _layout() -> tuple[dict[str, Any], dict[str, Any]]:
    """The fixture layout's one ``index.json`` entry and its manifest."""
    [entry] = json.loads((LAYOUT / "index.json").read_bytes())["manifests"]
    manifest = json.loads(_blob(entry["digest"]))
    assert manifest["config"]["mediaType"] == mt.OCI_IMAGE_CONFIG
    assert {layer["mediaType"] for layer in manifest["layers"]} == {mt.OCI_LAYER_TAR}
    return entry, manifest


def _path(descriptor: dict[str, Any]) -> str:
    return "blobs/sha256/" + str(descriptor["digest"]).split(":", 1)[1]


def docker25_archive(
    *,
    repo_tags: Sequence[str] | None = None,
    annotations: Sequence[dict[str, str]] = (DOCKER_25_NAMES,),
    repositories: dict[str, dict[str, str]] | None = None,
    entry_is_index: bool = False,
    index_json: bytes | None = None,
) -> bytes:
    """A ``docker save`` archive as Docker 25 writes it (see the module docstring).

    :param repo_tags: ``manifest.json``'s ``RepoTags`` (``None`` writes ``null``).
    :param annotations: one ``index.json`` entry for the image per set.
    :param repositories: the ``repositories`` file, when there is one.
    :param entry_is_index: the entries are an image index whose one child is the
        manifest, as Docker's containerd image store saves an image.
    :param index_json: these bytes as ``index.json`` instead.
    """
    entry, manifest = _layout()
    blobs = {p.name: p.read_bytes() for p in (LAYOUT / "blobs" / "sha256").iterdir()}
    target = {k: entry[k] for k in ("mediaType", "digest", "size")}
    if entry_is_index:
        child = {**target, "platform": {"architecture": "amd64", "os": "linux"}}
        raw = json.dumps(
            {"schemaVersion": 2, "mediaType": mt.OCI_IMAGE_INDEX, "manifests": [child]}
        ).encode()
        digest = ociport.Digest.of(raw)
        blobs[digest.encoded] = raw
        target = {
            "mediaType": mt.OCI_IMAGE_INDEX,
            "digest": str(digest),
            "size": len(raw),
        }
    index = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_IMAGE_INDEX,
        "manifests": [{**target, "annotations": dict(a)} for a in annotations]
        or [target],
    }
    manifest_json = [
        {
            "Config": _path(manifest["config"]),
            "RepoTags": None if repo_tags is None else list(repo_tags),
            "Layers": [_path(layer) for layer in manifest["layers"]],
            "LayerSources": {layer["digest"]: layer for layer in manifest["layers"]},
        }
    ]
    files = {f"blobs/sha256/{name}": data for name, data in sorted(blobs.items())}
    files["index.json"] = index_json or json.dumps(index).encode()
    files["manifest.json"] = json.dumps(manifest_json).encode()
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    if repositories is not None:
        files["repositories"] = json.dumps(repositories).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


class _Imported:
    """Records the driver each import used (``ociport_image_imported``)."""

    def __init__(self) -> None:
        self.drivers: list[str] = []

    @ociport.hookimpl
    def ociport_image_imported(self, driver_name: str) -> None:
        self.drivers.append(driver_name)


def _import(
    tmp_path: Path,
    pm: pluggy.PluginManager,
    data: bytes,
    format: str | None,
    how: str = "file",
) -> tuple[ociport.ImageStore, ociport.ImportResult, str]:
    """Import ``data`` into a fresh store; returns the store, the result and the driver
    that read it."""
    label = format or "auto"
    path = tmp_path / f"{label}.tar"
    path.write_bytes(data)
    recorder = _Imported()
    pm.register(recorder, name=f"recorder-{label}")
    try:
        store = ociport.open_store(str(tmp_path / f"store-{label}"), pm=pm)
        source = str(path) if how == "file" else io.BytesIO(data)
        result = store.import_image(
            source, format=format, naming=ociport.ImportNaming(base_name="import")
        )
    finally:
        pm.unregister(name=f"recorder-{label}")
    assert len(set(recorder.drivers)) == 1, recorder.drivers
    return store, result, recorder.drivers[0]


def _config(store: ociport.ImageStore, image: ociport.Image) -> str:
    manifest = Manifest.parse(read_blob(store.content, image.target))
    return str(manifest.config.digest)


@pytest.mark.parametrize("how", ["file", "stream"])
def test_null_repo_tags_take_the_name_index_json_gives(
    tmp_path: Path, docker_pm: pluggy.PluginManager, how: str
) -> None:
    data = docker25_archive()
    _, manifest = _layout()
    drivers: dict[str | None, str] = {}
    for format in FORMATS:
        store, result, drivers[format] = _import(tmp_path, docker_pm, data, format, how)
        assert [image.name for image in result.images] == [NAME], format
        assert not [n for n in result.notes if "no name" in n], format
        [image] = result.images
        assert _config(store, image) == manifest["config"]["digest"]
    # Detection sees only blobs (index.json comes after them): it takes the OCI layout.
    assert drivers == {
        None: "oci-archive",
        "docker-archive": "docker-archive",
        "oci-archive": "oci-archive",
    }


def test_several_index_json_names_and_repositories_agree(
    tmp_path: Path, docker_pm: pluggy.PluginManager
) -> None:
    """Two entries for one image (``docker save sample:latest sample:1.0`` by a Docker
    that writes ``RepoTags: null``), and a ``repositories`` file that names both: every
    driver gives both names, and ``repositories`` is not said to disagree."""
    _, manifest = _layout()
    top = str(manifest["layers"][-1]["digest"]).split(":", 1)[1]
    data = docker25_archive(
        annotations=[
            DOCKER_25_NAMES,
            {IMAGE_NAME: "docker.io/library/sample:1.0", REF_NAME: "1.0"},
        ],
        repositories={"sample": {"latest": top, "1.0": top}},
    )
    for format in FORMATS:
        _, result, _ = _import(tmp_path, docker_pm, data, format)
        assert sorted(i.name for i in result.images) == [
            "docker.io/library/sample:1.0",
            NAME,
        ], format
        assert not [n for n in result.notes if "disagree" in n], (format, result.notes)


def test_an_image_index_entry_names_the_manifest_it_holds(
    tmp_path: Path, docker_pm: pluggy.PluginManager
) -> None:
    """Docker's containerd image store saves an image index as the entry; manifest.json
    lists the platform manifest's config, found through the index."""
    data = docker25_archive(entry_is_index=True)
    for format in FORMATS:
        _, result, driver = _import(tmp_path, docker_pm, data, format)
        [image] = result.images
        assert image.name == NAME, format
        # The OCI layout keeps the saved index; the Docker archive builds a manifest.
        built = driver == "docker-archive"
        assert image.target.media_type == (
            mt.DOCKER_MANIFEST_V2 if built else mt.OCI_IMAGE_INDEX
        )


def test_repo_tags_win_over_an_unnamed_index_json(
    tmp_path: Path, docker_pm: pluggy.PluginManager
) -> None:
    """The opposite case: ``RepoTags`` name the image, ``index.json`` does not. The
    docker-archive driver takes ``RepoTags``; the OCI layout read as such (containerd
    reads only ``index.json`` when there is an ``oci-layout``) gives a digest name and
    says where the name is."""
    data = docker25_archive(repo_tags=["sample:1.0"], annotations=[])
    _, result, _ = _import(tmp_path, docker_pm, data, "docker-archive")
    assert [i.name for i in result.images] == ["docker.io/library/sample:1.0"]
    assert not result.notes
    for format in (None, "oci-archive"):
        _, result, driver = _import(tmp_path, docker_pm, data, format)
        assert driver == "oci-archive"
        [image] = result.images
        assert image.name.startswith("import@sha256:"), format
        assert any(
            "manifest.json" in n and "--format docker-archive" in n
            for n in result.notes
        ), result.notes


def test_repo_tags_disagreeing_with_index_json_are_noted(
    tmp_path: Path, docker_pm: pluggy.PluginManager
) -> None:
    data = docker25_archive(repo_tags=["sample:1.0"])
    _, result, _ = _import(tmp_path, docker_pm, data, "docker-archive")
    assert [i.name for i in result.images] == ["docker.io/library/sample:1.0"]
    assert any(
        "index.json names image sha256:" in n and NAME in n and "RepoTags win" in n
        for n in result.notes
    ), result.notes


def test_an_unusable_index_json_is_noted_not_fatal(
    tmp_path: Path, docker_pm: pluggy.PluginManager
) -> None:
    """manifest.json is what a Docker archive is read from: an index.json that is no
    image index costs the names it would give, not the import."""
    data = docker25_archive(index_json=b'{"schemaVersion": 1}')
    _, result, _ = _import(tmp_path, docker_pm, data, "docker-archive")
    [image] = result.images
    assert image.name.startswith("import@sha256:")
    assert any(
        n.startswith("index.json not read for image names") and "schemaVersion" in n
        for n in result.notes
    ), result.notes


def test_cli_names_the_image_whatever_the_format(tmp_path: Path) -> None:
    """``ociport --store DIR import FILE`` then ``images ls``, with the installed
    plugins (the docker-archive one among them)."""
    archive = tmp_path / "docker25.tar"
    archive.write_bytes(docker25_archive())
    env = {k: v for k, v in os.environ.items() if k != "OCIPORT_DISABLE_PLUGINS"}
    for format in FORMATS:
        store = tmp_path / f"store-{format or 'auto'}"
        chosen = ["--format", format] if format else []
        base = [sys.executable, "-m", "ociport", "--store", str(store)]
        imported = subprocess.run(
            [*base, "import", *chosen, str(archive)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert imported.returncode == 0, imported.stderr
        assert "has no name" not in imported.stderr, (format, imported.stderr)
        listed = subprocess.run(
            [*base, "images", "ls"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        names = [line.split()[0] for line in listed.splitlines()[1:]]
        assert names == [NAME], (format, listed)


def _named_in_index(source: Path, name: str) -> bytes:
    """``source`` (a Docker 25 archive saved by ID) with its ``index.json`` listing the
    manifest of ``manifest.json``'s config, annotated as Docker 25 names an image."""
    with tarfile.open(source) as tar:
        members = [(m, _read(tar, m)) for m in tar.getmembers()]
    data = {m.name: d for m, d in members}
    [docker] = json.loads(data["manifest.json"])
    assert docker["RepoTags"] is None
    config = "sha256:" + docker["Config"].rsplit("/", 1)[1]
    [digest] = [
        "sha256:" + member.rsplit("/", 1)[1]
        for member, raw in data.items()
        if member.startswith("blobs/sha256/")
        and raw.startswith(b"{")
        and json.loads(raw).get("config", {}).get("digest") == config
    ]
    index = json.loads(data["index.json"])
    assert index["manifests"] is None
    entry = {
        "mediaType": mt.OCI_IMAGE_MANIFEST,
        "digest": digest,
        "size": len(data[_path({"digest": digest})]),
        "annotations": {IMAGE_NAME: name, REF_NAME: name.rsplit(":", 1)[1]},
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member, raw in members:
            if member.name == "index.json":
                raw = json.dumps({**index, "manifests": [entry]}).encode()
                member.size = len(raw)
            tar.addfile(member, io.BytesIO(raw) if member.isfile() else None)
    return out.getvalue()


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = tar.extractfile(member) if member.isfile() else None
    return stream.read() if stream is not None else b""


@pytest.mark.corpus
def test_a_real_docker_25_archive_named_in_index_json(
    tmp_path: Path, docker_pm: pluggy.PluginManager
) -> None:
    """ggcr's hello-world-v25.tar, named in ``index.json``. The archive is small:
    detection sees ``index.json`` and ``manifest.json`` too."""
    name = "docker.io/library/hello-world:latest"
    data = _named_in_index(PUBLIC / "ggcr" / "tarball" / "hello-world-v25.tar", name)
    for format in FORMATS:
        _, result, driver = _import(tmp_path, docker_pm, data, format)
        assert [i.name for i in result.images] == [name], (format, driver)
