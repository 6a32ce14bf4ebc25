"""Pulling (``import docker://...``): what skopeo pushes, ociport imports with the same
digests, reading only what the selected platforms need."""

from __future__ import annotations

import json
from pathlib import Path

import pluggy
import pytest
from ociport_fixtures import ROOT, TOOL
from ociport_registry.source import RegistryContent
from registry_helpers import run_cli, skopeo
from registry_server import RegistryServer

import ociport
from ociport.errors import BlobNotFoundError
from ociport.oci import mediatypes as mt
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, Manifest

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
MULTIARCH = TOOL / "multiarch.oci-archive.tar"
DOCKER_SAMPLE = TOOL / "sample.docker-archive.tar"
INSECURE = {"tls_verify": False}


def skopeo_push(source: str, destination: str, *options: str) -> str:
    """Push with skopeo; the digest skopeo then sees at ``destination``."""
    skopeo("copy", "-q", "--dest-tls-verify=false", *options, source, destination)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", destination)
    return str(Digest.of(raw.encode()))


def test_pull_what_skopeo_pushed(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    reference = f"{registry.host}/{repo}:v1"
    digest = skopeo_push(f"oci-archive:{HELLO}", f"docker://{reference}")
    result = store.import_image(f"docker://{reference}", storage_options=INSECURE)
    [image] = result.images
    assert (image.name, str(image.target.digest)) == (reference, digest)
    assert image.target.media_type == mt.OCI_IMAGE_MANIFEST
    assert store.verify() == [] and store.verify_images() == []
    # The store is an OCI layout: skopeo reads the pulled image there, same digest.
    layout = json.loads(
        skopeo("inspect", f"oci:{store.content.location.path}:{reference}")
    )
    assert layout["Digest"] == digest


def test_pull_a_docker_schema_2_image(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    reference = f"{registry.host}/{repo}:docker"
    digest = skopeo_push(f"docker-archive:{DOCKER_SAMPLE}", f"docker://{reference}")
    [image] = store.import_image(
        f"docker://{reference}", storage_options=INSECURE
    ).images
    assert str(image.target.digest) == digest
    assert image.target.media_type == mt.DOCKER_MANIFEST_V2
    assert store.verify_images() == []


def test_pull_a_multi_platform_index(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    reference = f"{registry.host}/{repo}:multi"
    digest = skopeo_push(
        f"oci-archive:{MULTIARCH}:multi", f"docker://{reference}", "--all"
    )
    [image] = store.import_image(
        f"docker://{reference}", storage_options=INSECURE
    ).images
    assert str(image.target.digest) == digest
    assert image.target.media_type in mt.INDEX_MEDIA_TYPES
    assert list(store.summarize(image).platforms) == ["linux/amd64", "linux/arm64"]
    assert store.verify_images() == []


def test_pull_one_platform_reads_only_its_blobs(
    store: ociport.ImageStore,
    registry: RegistryServer,
    repo: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = f"{registry.host}/{repo}:multi"
    skopeo_push(f"oci-archive:{MULTIARCH}:multi", f"docker://{reference}", "--all")
    opened: list[Digest] = []
    original = RegistryContent.open_blob

    def counting(self: RegistryContent, descriptor: ociport.Descriptor) -> object:
        opened.append(descriptor.digest)
        return original(self, descriptor)

    monkeypatch.setattr(RegistryContent, "open_blob", counting)
    result = store.import_image(
        f"docker://{reference}", platforms=["linux/arm64"], storage_options=INSECURE
    )
    index = Index.parse(_read(store, result.images[0].target))
    wanted = {str(c.platform): c for c in index.manifests}
    arm64 = Manifest.parse(_read(store, wanted["linux/arm64"]))
    assert set(opened) == {
        arm64.config.digest,
        *(layer.digest for layer in arm64.layers),
    }
    with pytest.raises(BlobNotFoundError):
        store.content.info(wanted["linux/amd64"].digest)


def test_pull_by_digest(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    digest = skopeo_push(f"oci-archive:{HELLO}", f"docker://{registry.host}/{repo}:v1")
    pinned = f"{registry.host}/{repo}@{digest}"
    [image] = store.import_image(f"docker://{pinned}", storage_options=INSECURE).images
    assert (image.name, str(image.target.digest)) == (pinned, digest)


def test_inspect_reads_documents_only(
    registry_pm: pluggy.PluginManager, registry: RegistryServer, repo: str
) -> None:
    reference = f"{registry.host}/{repo}:multi"
    digest = skopeo_push(
        f"oci-archive:{MULTIARCH}:multi", f"docker://{reference}", "--all"
    )
    [record] = ociport.inspect_source(
        f"docker://{reference}", storage_options=INSECURE, pm=registry_pm
    )
    assert record["descriptor"]["digest"] == digest
    assert record["names"] == [reference]
    assert [m["platform"] for m in record["manifests"]] == [
        "linux/amd64",
        "linux/arm64",
    ]


def test_pull_from_the_command_line(
    tmp_path: Path, registry: RegistryServer, repo: str
) -> None:
    reference = f"{registry.host}/{repo}:v1"
    digest = skopeo_push(f"oci-archive:{HELLO}", f"docker://{reference}")
    result = run_cli(
        tmp_path,
        "--store",
        str(tmp_path / "store"),
        "import",
        "--source-option",
        "tls_verify=false",
        f"docker://{reference}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [reference, digest]


def _read(store: ociport.ImageStore, descriptor: ociport.Descriptor) -> bytes:
    with store.content.open_blob(descriptor, verify=True) as stream:
        return stream.read()
