"""Referrers in a registry without the referrers API (distribution 2.8: the referrers
tag schema): pushed after their image, listed in the ``sha256-<hex>`` index of their
subject (skopeo reads it), and pulled back with the image, recursively."""

from __future__ import annotations

import json
from pathlib import Path

from registry_helpers import skopeo
from registry_server import RegistryServer

import ociport
from ociport.oci.descriptor import Descriptor
from ociport.testing.factories import attach_artifact, name_image, random_image

NAME = "example.com/signed:1"
INSECURE = {"tls_verify": False}
SBOM = "application/spdx+json"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"


def _attach(
    store: ociport.ImageStore, subject: Descriptor, artifact_type: str, payload: bytes
) -> Descriptor:
    """An artifact referring to ``subject``, recorded as the store records referrers."""
    referrer = attach_artifact(store.content, subject, artifact_type, payload)
    store.content.update_index(lambda entries: [*entries, referrer])
    return referrer


def _tag_index(host: str, repo: str, subject: Descriptor) -> list[dict[str, object]]:
    tag = f"sha256-{subject.digest.encoded}"
    raw = skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repo}:{tag}"
    )
    listed: list[dict[str, object]] = json.loads(raw)["manifests"]
    return listed


def test_referrers_go_to_the_registry_and_come_back(
    store: ociport.ImageStore, registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    root = random_image(store.content, platforms=["linux/amd64", "linux/arm64"], seed=8)
    name_image(store.content, NAME, root)
    sbom = _attach(store, root, SBOM, b'{"spdxVersion": "SPDX-2.3"}')
    signature = _attach(store, sbom, SIGNATURE, b"signed")
    reference = f"{registry.host}/{repo}:v1"
    result = store.export_images(
        [NAME], f"docker://{reference}", storage_options=INSECURE
    )
    assert {d.digest for d in result.referrers} == {sbom.digest, signature.digest}
    [listed] = _tag_index(registry.host, repo, root)
    assert (listed["digest"], listed["artifactType"]) == (str(sbom.digest), SBOM)
    [signed] = _tag_index(registry.host, repo, sbom)
    assert signed["digest"] == str(signature.digest)

    other = ociport.open_store(str(tmp_path / "other"), pm=store.pm)
    pulled = other.import_image(f"docker://{reference}", storage_options=INSECURE)
    assert [i.target.digest for i in pulled.images] == [root.digest]
    assert {d.digest for d in pulled.referrers} == {sbom.digest, signature.digest}
    [found] = other.referrers(reference)
    assert (found.digest, found.artifact_type) == (sbom.digest, SBOM)
    assert other.verify_images() == []


def test_a_later_referrer_joins_the_index_of_its_subject(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    root = random_image(store.content, seed=9)
    name_image(store.content, NAME, root)
    first = _attach(store, root, SBOM, b"first")
    reference = f"docker://{registry.host}/{repo}:v1"
    store.export_images([NAME], reference, storage_options=INSECURE)
    second = _attach(store, root, SIGNATURE, b"second")
    store.export_images([NAME], reference, storage_options=INSECURE)
    listed = [entry["digest"] for entry in _tag_index(registry.host, repo, root)]
    assert sorted(listed) == sorted([str(first.digest), str(second.digest)])


def test_no_referrers_no_tags(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    root = random_image(store.content, seed=10)
    name_image(store.content, NAME, root)
    store.export_images(
        [NAME], f"docker://{registry.host}/{repo}:v1", storage_options=INSECURE
    )
    tags = json.loads(
        skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/{repo}")
    )["Tags"]
    assert tags == ["v1"]
