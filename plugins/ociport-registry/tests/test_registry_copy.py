"""``copy`` to and from a registry: archives pushed and pulled without a store, digests
as skopeo sees them, registry to registry, credentials per side, referrers both ways,
the air-gap workflow (registry -> archive elsewhere -> registry), and a failed push
that leaves the tag where it was."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pluggy
import pytest
from ociport_fixtures import ROOT, TOOL
from registry_helpers import USER, run_cli, skopeo
from registry_server import RegistryServer

import ociport
from ociport.content.fsstore import FsspecContentStore
from ociport.errors import DigestMismatchError
from ociport.oci.digest import Digest
from ociport.streams.location import Location
from ociport.testing.factories import attach_artifact, name_image, random_image

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
HELLO_NAME = "example.com/ociport/hello:1.0"
MULTIARCH = TOOL / "multiarch.oci-archive.tar"
INSECURE = {"tls_verify": False}
SBOM = "application/spdx+json"


def seen_digest(reference: str, *options: str) -> str:
    """The digest of the manifest bytes skopeo reads at ``docker://reference``."""
    raw = skopeo(
        "inspect", "--raw", "--tls-verify=false", *options, f"docker://{reference}"
    )
    return str(Digest.of(raw.encode()))


def archive_digest(path: Path) -> str:
    return str(Digest.of(skopeo("inspect", "--raw", f"oci-archive:{path}").encode()))


def test_archive_to_registry_and_back(
    registry_pm: pluggy.PluginManager,
    registry: RegistryServer,
    repo: str,
    tmp_path: Path,
) -> None:
    reference = f"{registry.host}/{repo}:v1"
    pushed = ociport.copy_image(
        f"oci-archive:{HELLO}:{HELLO_NAME}",
        f"docker://{reference}",
        dest_options=INSECURE,
        pm=registry_pm,
    )
    assert seen_digest(reference) == archive_digest(HELLO)
    assert [str(e.digest) for e in pushed.entries] == [archive_digest(HELLO)]
    out = tmp_path / "b.tar"
    pulled = ociport.copy_image(
        f"docker://{reference}",
        f"oci-archive:{out}",
        source_options=INSECURE,
        pm=registry_pm,
    )
    assert archive_digest(out) == archive_digest(HELLO)
    [entry] = pulled.entries
    assert entry.annotations["io.containerd.image.name"] == reference
    assert entry.ref_name == reference  # as an export names it: skopeo finds it so
    skopeo("inspect", f"oci-archive:{out}:{reference}")


def test_a_multi_platform_index_and_a_platform_of_it(
    registry_pm: pluggy.PluginManager,
    registry: RegistryServer,
    repo: str,
    tmp_path: Path,
) -> None:
    reference = f"{registry.host}/{repo}:multi"
    ociport.copy_image(
        str(MULTIARCH), f"docker://{reference}", dest_options=INSECURE, pm=registry_pm
    )
    assert seen_digest(reference) == archive_digest(MULTIARCH)
    index = json.loads(
        skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{reference}")
    )
    [arm] = [m for m in index["manifests"] if m["platform"]["architecture"] == "arm64"]
    out = tmp_path / "arm.tar"
    ociport.copy_image(
        f"docker://{reference}",
        str(out),
        platforms=["linux/arm64"],
        source_options=INSECURE,
        pm=registry_pm,
    )
    copied = json.loads(skopeo("inspect", "--raw", f"oci-archive:{out}"))
    assert copied["manifests"] == [arm]
    skopeo("copy", "-q", "--all", f"oci-archive:{out}", f"oci:{tmp_path / 'check'}:x")


def test_registry_to_registry(
    registry_pm: pluggy.PluginManager, registry: RegistryServer, repo: str
) -> None:
    source = f"{registry.host}/{repo}-a:1"
    dest = f"{registry.host}/{repo}-b:1"
    options = {"source_options": INSECURE, "dest_options": INSECURE}
    ociport.copy_image(
        str(MULTIARCH), f"docker://{source}", dest_options=INSECURE, pm=registry_pm
    )
    ociport.copy_image(
        f"docker://{source}", f"docker://{dest}", pm=registry_pm, **options
    )
    assert seen_digest(dest) == seen_digest(source) == archive_digest(MULTIARCH)


def test_credentials_per_side_on_the_command_line(
    auth_registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    creds = f"{USER[0]}:{USER[1]}"
    reference = f"{auth_registry.host}/{repo}:v1"
    pushed = run_cli(
        tmp_path,
        "copy",
        "--dest-tls-verify=false",
        f"--dest-creds={creds}",
        str(HELLO),
        f"docker://{reference}",
    )
    assert pushed.returncode == 0, pushed.stderr
    assert seen_digest(reference, f"--creds={creds}") == archive_digest(HELLO)
    out = tmp_path / "out.tar"
    refused = run_cli(
        tmp_path, "copy", "--src-tls-verify=false", f"docker://{reference}", str(out)
    )
    assert refused.returncode == 1
    assert len(refused.stderr.splitlines()) == 1, refused.stderr
    assert not out.exists()
    pulled = run_cli(
        tmp_path,
        "copy",
        "--src-tls-verify=false",
        f"--src-creds={creds}",
        f"docker://{reference}",
        str(out),
    )
    assert pulled.returncode == 0, pulled.stderr
    assert archive_digest(out) == archive_digest(HELLO)
    assert not (tmp_path / "xdg" / "ociport").exists(), "no store is opened"


def test_referrers_go_and_come_back(
    registry_pm: pluggy.PluginManager,
    registry: RegistryServer,
    repo: str,
    tmp_path: Path,
) -> None:
    layout = tmp_path / "signed"
    content = FsspecContentStore(Location.from_url(str(layout)))
    root = random_image(content, platforms=["linux/amd64", "linux/arm64"], seed=21)
    name_image(content, "example.com/signed:1", root)
    sbom = attach_artifact(content, root, SBOM, b'{"spdxVersion": "SPDX-2.3"}')
    content.update_index(lambda entries: [*entries, sbom])
    reference = f"{registry.host}/{repo}:v1"
    pushed = ociport.copy_image(
        f"oci:{layout}", f"docker://{reference}", dest_options=INSECURE, pm=registry_pm
    )
    assert [d.digest for d in pushed.referrers] == [sbom.digest]
    out = tmp_path / "out"
    pulled = ociport.copy_image(
        f"docker://{reference}", f"oci:{out}", source_options=INSECURE, pm=registry_pm
    )
    assert [d.digest for d in pulled.referrers] == [sbom.digest]
    index = json.loads((out / "index.json").read_text())
    assert str(sbom.digest) in {e["digest"] for e in index["manifests"]}
    assert (out / "blobs" / "sha256" / sbom.digest.encoded).exists()


def _corrupt(layout: Path) -> None:
    """Change one byte of the layout's largest blob."""
    blobs = sorted(
        (layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size
    )
    data = bytearray(blobs[-1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    blobs[-1].write_bytes(bytes(data))


def test_a_failed_push_leaves_the_tag_where_it_was(
    registry_pm: pluggy.PluginManager,
    registry: RegistryServer,
    repo: str,
    tmp_path: Path,
) -> None:
    reference = f"{registry.host}/{repo}:v1"
    ociport.copy_image(
        str(HELLO), f"docker://{reference}", dest_options=INSECURE, pm=registry_pm
    )
    before = seen_digest(reference)
    layout = tmp_path / "corrupt"
    shutil.copytree(TOOL / "oci-umoci", layout)
    _corrupt(layout)
    with pytest.raises(DigestMismatchError):
        ociport.copy_image(
            f"oci:{layout}:1.0",
            f"docker://{reference}",
            dest_options=INSECURE,
            pm=registry_pm,
        )
    assert seen_digest(reference) == before


def test_air_gap_registry_archive_elsewhere_registry(
    registry_pm: pluggy.PluginManager, registry: RegistryServer, repo: str
) -> None:
    """Pull into an archive on another filesystem (memory:// standing in for S3),
    then push that archive to another repository: the same digest throughout."""
    source = f"{registry.host}/{repo}/app:1"
    ociport.copy_image(
        str(MULTIARCH), f"docker://{source}", dest_options=INSECURE, pm=registry_pm
    )
    archive = f"memory://air-gap-{repo.replace('/', '-')}/app.tar"
    ociport.copy_image(
        f"docker://{source}",
        f"oci-archive:{archive}",
        source_options=INSECURE,
        pm=registry_pm,
    )
    target = f"{registry.host}/{repo}/mirror:1"
    ociport.copy_image(
        f"oci-archive:{archive}",
        f"docker://{target}",
        dest_options=INSECURE,
        pm=registry_pm,
    )
    assert seen_digest(target) == seen_digest(source) == archive_digest(MULTIARCH)


def test_a_docker_archive_from_a_registry(
    registry_pm: pluggy.PluginManager,
    registry: RegistryServer,
    repo: str,
    tmp_path: Path,
) -> None:
    from ociport_docker_archive import plugin as docker_plugin

    registry_pm.register(docker_plugin, name="docker-archive")
    reference = f"{registry.host}/{repo}:v1"
    ociport.copy_image(
        str(HELLO), f"docker://{reference}", dest_options=INSECURE, pm=registry_pm
    )
    out = tmp_path / "d.tar"
    ociport.copy_image(
        f"docker://{reference}",
        f"docker-archive:{out}",
        source_options=INSECURE,
        pm=registry_pm,
    )
    with tarfile.open(out) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        manifest: list[dict[str, Any]] = json.load(member)
    assert manifest[0]["RepoTags"] == [reference]
    skopeo("inspect", f"docker-archive:{out}")


def test_bearer_tokens_both_ways(
    registry_pm: pluggy.PluginManager,
    token_registry: RegistryServer,
    repo: str,
    tmp_path: Path,
) -> None:
    """The Done-when of issue 12 with credentials: an archive's image pushed to a
    registry that wants bearer tokens, and pulled back, digests kept."""
    options = {"tls_verify": False, "creds": f"{USER[0]}:{USER[1]}"}
    reference = f"{token_registry.host}/{repo}:v1"
    ociport.copy_image(
        f"oci-archive:{HELLO}:{HELLO_NAME}",
        f"docker://{reference}",
        dest_options=options,
        pm=registry_pm,
    )
    out = tmp_path / "b.tar"
    ociport.copy_image(
        f"docker://{reference}",
        f"oci-archive:{out}",
        source_options=options,
        pm=registry_pm,
    )
    assert archive_digest(out) == archive_digest(HELLO)
