"""Credentials against a registry with htpasswd basic auth: pushes and pulls with
them; without them, or with a wrong password, one clear error naming the registry and
the repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from ociport_fixtures import ROOT
from ociport_registry.errors import RegistryAuthError
from registry_helpers import USER, run_cli, skopeo
from registry_server import RegistryServer

import ociport

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
HELLO_NAME = "example.com/ociport/hello:1.0"


def test_push_and_pull_with_credentials(
    store: ociport.ImageStore,
    auth_registry: RegistryServer,
    repo: str,
    tmp_path: Path,
    registry_pm: object,
) -> None:
    [image] = store.import_image(str(HELLO)).images
    reference = f"{auth_registry.host}/{repo}:v1"
    options = {"tls_verify": False, "creds": auth_registry.creds}
    store.export_images([HELLO_NAME], f"docker://{reference}", storage_options=options)
    seen = skopeo(
        "inspect",
        "--format",
        "{{.Digest}}",
        "--tls-verify=false",
        "--creds",
        auth_registry.creds,
        f"docker://{reference}",
    )
    assert seen.strip() == str(image.target.digest)
    other = ociport.open_store(str(tmp_path / "other"), pm=store.pm)
    [pulled] = other.import_image(
        f"docker://{reference}", storage_options=options
    ).images
    assert pulled.target.digest == image.target.digest


@pytest.mark.parametrize(
    ("creds", "reason", "hint"),
    [
        (None, "authentication required", "creds=USER:PASSWORD"),
        (f"{USER[0]}:wrong", "the credentials were rejected", "check the user name"),
    ],
    ids=["no credentials", "wrong password"],
)
def test_refused_credentials_are_one_clear_error(
    store: ociport.ImageStore,
    auth_registry: RegistryServer,
    repo: str,
    creds: str | None,
    reason: str,
    hint: str,
) -> None:
    options: dict[str, object] = {"tls_verify": False}
    if creds is not None:
        options["creds"] = creds
    with pytest.raises(RegistryAuthError) as caught:
        store.import_image(
            f"docker://{auth_registry.host}/{repo}:v1", storage_options=options
        )
    error = caught.value
    assert (error.registry, error.repository, error.status) == (
        auth_registry.host,
        repo,
        401,
    )
    assert reason in str(error) and hint in str(error)
    assert isinstance(error, PermissionError)
    assert store.images() == []


def test_a_push_without_credentials_sends_nothing(
    store: ociport.ImageStore, auth_registry: RegistryServer, repo: str
) -> None:
    store.import_image(str(HELLO))
    with pytest.raises(RegistryAuthError, match="authentication required"):
        store.export_images(
            [HELLO_NAME],
            f"docker://{auth_registry.host}/{repo}:v1",
            storage_options={"tls_verify": False},
        )
    assert not list((auth_registry.root / "data").rglob(f"*{repo.split('/')[-1]}*"))


def test_a_wrong_password_on_the_command_line_is_one_line(
    tmp_path: Path, auth_registry: RegistryServer, repo: str
) -> None:
    result = run_cli(
        tmp_path,
        "--store",
        str(tmp_path / "store"),
        "import",
        "--source-option",
        "tls_verify=false",
        "--source-option",
        f"creds={USER[0]}:nope",
        f"docker://{auth_registry.host}/{repo}:v1",
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"ociport: error: registry {auth_registry.host}, repository {repo}: manifest v1: "
        "the credentials were rejected (HTTP 401 UNAUTHORIZED: authentication "
        "required); check the user name and password"
    ]
