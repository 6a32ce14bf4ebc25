"""Pushing (``export docker://... NAME``): what ociport pushes, skopeo reads with the
same digests; blobs the repository has are not sent again; large blobs go in chunks."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from breaking_proxy import BreakingProxy
from ociport_fixtures import ROOT, TOOL
from ociport_registry.client import push
from ociport_registry.errors import RegistryUnavailableError
from registry_helpers import run_cli, skopeo
from registry_server import RegistryServer

import ociport
from ociport.errors import FormatError
from ociport.oci import mediatypes as mt
from ociport.oci.digest import Digest
from ociport.testing.factories import name_image, random_image

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
HELLO_NAME = "example.com/ociport/hello:1.0"
INSECURE = {"tls_verify": False}
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7"]


def skopeo_digest(reference: str) -> str:
    """The digest of the manifest bytes skopeo reads at ``docker://reference``."""
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{reference}")
    return str(Digest.of(raw.encode()))


def test_push_then_skopeo_sees_the_same_digest(
    store: ociport.ImageStore, registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    [image] = store.import_image(str(HELLO)).images
    reference = f"{registry.host}/{repo}:v1"
    store.export_images([HELLO_NAME], f"docker://{reference}", storage_options=INSECURE)
    assert skopeo_digest(reference) == str(image.target.digest)
    # skopeo copies it back out, checking every blob against its digest.
    skopeo(
        "copy",
        "-q",
        "--src-tls-verify=false",
        f"docker://{reference}",
        f"oci:{tmp_path / 'out'}:x",
    )


def test_push_a_multi_platform_index(
    store: ociport.ImageStore, registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    root = random_image(store.content, platforms=PLATFORMS, layer_size=4096, seed=3)
    name_image(store.content, "example.com/multi:1", root)
    reference = f"{registry.host}/{repo}:multi"
    store.export_images(
        ["example.com/multi:1"], f"docker://{reference}", storage_options=INSECURE
    )
    assert skopeo_digest(reference) == str(root.digest)
    listed = json.loads(
        skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{reference}")
    )
    assert [m["platform"]["architecture"] for m in listed["manifests"]] == [
        "amd64",
        "arm64",
        "arm",
    ]
    skopeo(
        "copy",
        "-q",
        "--all",
        "--src-tls-verify=false",
        f"docker://{reference}",
        f"oci:{tmp_path / 'out'}:x",
    )


def test_manifests_after_their_blobs_and_the_tag_last(
    store: ociport.ImageStore, registry: RegistryServer, repo: str, methods: list[str]
) -> None:
    root = random_image(store.content, platforms=PLATFORMS[:2], seed=4)
    name_image(store.content, "example.com/order:1", root)
    store.export_images(
        ["example.com/order:1"],
        f"docker://{registry.host}/{repo}:o",
        storage_options=INSECURE,
    )
    puts = [i for i, m in enumerate(methods) if m == "PUT manifests"]
    assert len(puts) == 3  # two manifests, then the index
    assert max(i for i, m in enumerate(methods) if "uploads" in m) < puts[0]


def test_blobs_the_repository_has_are_not_sent_again(
    store: ociport.ImageStore, registry: RegistryServer, repo: str, methods: list[str]
) -> None:
    store.import_image(str(HELLO))
    store.export_images(
        [HELLO_NAME], f"docker://{registry.host}/{repo}:a", storage_options=INSECURE
    )
    assert methods.count("POST uploads") == 2  # the config and the layer
    methods.clear()
    store.export_images(
        [HELLO_NAME], f"docker://{registry.host}/{repo}:b", storage_options=INSECURE
    )
    assert methods.count("POST uploads") == 0
    assert methods.count("HEAD blobs") == 2
    assert skopeo_digest(f"{registry.host}/{repo}:b") == skopeo_digest(
        f"{registry.host}/{repo}:a"
    )


def test_a_large_blob_goes_in_chunks(
    store: ociport.ImageStore,
    registry: RegistryServer,
    repo: str,
    methods: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(push, "CHUNK_SIZE", 1 << 20)
    root = random_image(store.content, layers=1, layer_size=(5 << 20) // 2, seed=5)
    name_image(store.content, "example.com/large:1", root)
    reference = f"{registry.host}/{repo}:large"
    store.export_images(
        ["example.com/large:1"], f"docker://{reference}", storage_options=INSECURE
    )
    assert methods.count("PATCH uploads") == 3  # 2.5 MiB in 1 MiB chunks
    assert skopeo_digest(reference) == str(root.digest)
    skopeo(
        "copy",
        "-q",
        "--src-tls-verify=false",
        f"docker://{reference}",
        f"oci:{tmp_path / 'out'}:x",
    )


def test_a_registry_reference_names_one_image(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    store.import_image(str(HELLO))
    name_image(store.content, "example.com/other:1", store.get(HELLO_NAME).target)
    with pytest.raises(FormatError, match="names one image, not 2"):
        store.export_images(
            [HELLO_NAME, "example.com/other:1"],
            f"docker://{registry.host}/{repo}:two",
            storage_options=INSECURE,
        )


def test_push_and_pull_back_from_the_command_line(
    tmp_path: Path, registry: RegistryServer, repo: str
) -> None:
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    reference = f"{registry.host}/{repo}:cli"
    assert run_cli(tmp_path, "--store", first, "import", str(HELLO)).returncode == 0
    pushed = run_cli(
        tmp_path,
        "--store",
        first,
        "export",
        "--tls-verify=false",
        f"docker://{reference}",
        HELLO_NAME,
    )
    assert pushed.returncode == 0, pushed.stderr
    pulled = run_cli(
        tmp_path,
        "--store",
        second,
        "import",
        "--tls-verify",
        "false",
        f"docker://{reference}",
    )
    assert pulled.returncode == 0, pulled.stderr
    name, digest = pulled.stdout.split()
    assert name == reference and digest == skopeo_digest(reference)


def test_blobs_are_mounted_from_the_repository_the_image_came_from(
    store: ociport.ImageStore, registry: RegistryServer, repo: str, methods: list[str]
) -> None:
    source, target = f"{registry.host}/{repo}-a:v1", f"{registry.host}/{repo}-b:v1"
    store.import_image(str(HELLO))
    store.export_images([HELLO_NAME], f"docker://{source}", storage_options=INSECURE)
    store.import_image(f"docker://{source}", storage_options=INSECURE)
    methods.clear()
    store.export_images([source], f"docker://{target}", storage_options=INSECURE)
    uploads = [m for m in methods if m.endswith("uploads")]
    assert uploads == ["POST uploads", "POST uploads"]  # config and layer, mounted
    assert skopeo_digest(target) == skopeo_digest(source)


def test_manifests_the_repository_has_are_not_sent_again(
    store: ociport.ImageStore, registry: RegistryServer, repo: str, methods: list[str]
) -> None:
    root = random_image(store.content, platforms=PLATFORMS, seed=6)
    name_image(store.content, "example.com/again:1", root)
    for tag in ("a", "b"):
        methods.clear()
        store.export_images(
            ["example.com/again:1"],
            f"docker://{registry.host}/{repo}:{tag}",
            storage_options=INSECURE,
        )
    assert methods.count("PUT manifests") == 1  # the index, under the new tag
    assert methods.count("HEAD manifests") == len(PLATFORMS)
    assert skopeo_digest(f"{registry.host}/{repo}:b") == str(root.digest)


def test_push_a_docker_schema_2_image(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    source = f"{registry.host}/{repo}-docker:v1"
    target = f"{registry.host}/{repo}-copy:v1"
    skopeo(
        "copy",
        "-q",
        "--dest-tls-verify=false",
        f"docker-archive:{TOOL / 'sample.docker-archive.tar'}",
        f"docker://{source}",
    )
    [image] = store.import_image(f"docker://{source}", storage_options=INSECURE).images
    assert image.target.media_type == mt.DOCKER_MANIFEST_V2
    store.export_images([image.name], f"docker://{target}", storage_options=INSECURE)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{target}")
    assert json.loads(raw)["mediaType"] == mt.DOCKER_MANIFEST_V2
    assert str(Digest.of(raw.encode())) == str(image.target.digest)


def _large_image(store: ociport.ImageStore, monkeypatch: pytest.MonkeyPatch) -> str:
    """A 2.5 MiB layer, pushed in 1 MiB chunks."""
    monkeypatch.setattr(push, "CHUNK_SIZE", 1 << 20)
    root = random_image(store.content, layers=1, layer_size=(5 << 20) // 2, seed=7)
    name_image(store.content, "example.com/large:1", root)
    return str(root.digest)


def test_a_connection_broken_mid_chunk(
    store: ociport.ImageStore,
    registry: RegistryServer,
    repo: str,
    methods: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy cuts the connection in the middle of a chunk: distribution 2.8 cannot
    resume an upload that received part of a request (it cancels it: 404
    BLOB_UPLOAD_INVALID or BLOB_UPLOAD_UNKNOWN), so the upload starts over once, and
    succeeds. (2.8 cannot be made to answer 416 either: it ignores a PATCH's
    Content-Range; the scripted tests of test_upload_resume.py cover 416.)"""
    digest = _large_image(store, monkeypatch)
    host, port = registry.host.split(":")
    proxy = BreakingProxy((host, int(port)), after=1 << 19)
    try:
        store.export_images(
            ["example.com/large:1"],
            f"docker://{proxy.host}/{repo}:large",
            storage_options=INSECURE,
        )
    finally:
        proxy.close()
    assert proxy.broken == 1
    # The upload's status (404), its cancellation, a new upload; 1 chunk broken,
    # then 1 + 1 + 0.5 MiB (config and layer blobs go at once: counts, not order).
    assert methods.count("GET uploads") == methods.count("DELETE uploads") == 1
    assert methods.count("POST uploads") == 3
    assert methods.count("PATCH uploads") == 4
    assert skopeo_digest(f"{registry.host}/{repo}:large") == digest


def test_a_connection_broken_twice_is_one_error(
    store: ociport.ImageStore,
    registry: RegistryServer,
    repo: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _large_image(store, monkeypatch)
    host, port = registry.host.split(":")
    proxy = BreakingProxy((host, int(port)), after=1 << 19, times=2)
    try:
        with pytest.raises(
            RegistryUnavailableError,
            match=r"upload of blob sha256:\w+: the registry lost the upload again "
            r"after starting over: not found \(HTTP 404 BLOB_UPLOAD_(UNKNOWN|INVALID)",
        ):
            store.export_images(
                ["example.com/large:1"],
                f"docker://{proxy.host}/{repo}:large",
                storage_options=INSECURE,
            )
    finally:
        proxy.close()
    assert proxy.broken == 2
    answer = httpx.get(f"http://{registry.host}/v2/{repo}/tags/list")
    assert answer.status_code == 404  # nothing named, not even the repository
