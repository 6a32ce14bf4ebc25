"""Credentials against a registry with htpasswd basic auth: pushes and pulls with
them; without them, or with a wrong password, one clear error naming the registry and
the repository."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from ociport_fixtures import ROOT
from ociport_registry.credentials import Credentials, find_credentials
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
        "--tls-verify=false",
        "--creds",
        f"{USER[0]}:nope",
        f"docker://{auth_registry.host}/{repo}:v1",
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"ociport: error: registry {auth_registry.host}, repository {repo}: manifest v1: "
        "the credentials were rejected (HTTP 401 UNAUTHORIZED: authentication "
        "required); check the user name and password"
    ]


# -- stored credentials ------------------------------------------------------------------


def _auth_entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_credentials_from_dockers_config_json(
    store: ociport.ImageStore,
    auth_registry: RegistryServer,
    repo: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    entries = {f"http://{auth_registry.host}": _auth_entry(*USER)}
    (config / "config.json").write_text(json.dumps({"auths": entries}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    reference = f"docker://{auth_registry.host}/{repo}:v1"
    store.import_image(str(HELLO))
    store.export_images([HELLO_NAME], reference, storage_options={"tls_verify": False})
    [image] = store.import_image(
        reference, storage_options={"tls_verify": False}
    ).images
    assert image.name == reference.removeprefix("docker://")


def test_the_most_specific_entry_of_registry_auth_file_wins(
    store: ociport.ImageStore,
    auth_registry: RegistryServer,
    repo: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries = {
        auth_registry.host: _auth_entry(USER[0], "wrong"),
        f"{auth_registry.host}/{repo.split('/')[0]}": _auth_entry(*USER),
    }
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auths": entries}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    store.import_image(str(HELLO))
    store.export_images(
        [HELLO_NAME],
        f"docker://{auth_registry.host}/{repo}:v1",
        storage_options={"tls_verify": False},
    )
    with pytest.raises(RegistryAuthError, match="credentials were rejected"):
        store.export_images(
            [HELLO_NAME],
            f"docker://{auth_registry.host}/elsewhere:v1",
            storage_options={"tls_verify": False},
        )


def test_a_missing_authfile_is_an_error(
    store: ociport.ImageStore, auth_registry: RegistryServer, tmp_path: Path
) -> None:
    with pytest.raises(RegistryAuthError, match=r"auth\.json does not exist"):
        store.import_image(
            f"docker://{auth_registry.host}/a:v1",
            storage_options={
                "tls_verify": False,
                "authfile": str(tmp_path / "auth.json"),
            },
        )


def test_docker_hubs_legacy_key_is_found(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    entries = {"https://index.docker.io/v1/": _auth_entry("me", "pw")}
    path.write_text(json.dumps({"auths": entries}))
    environ = {"DOCKER_CONFIG": str(tmp_path), "HOME": str(tmp_path)}
    found = find_credentials("docker.io", "library/busybox", environ=environ)
    assert found == Credentials("me", "pw")
    assert find_credentials("quay.io", "a/b", environ=environ) is None
