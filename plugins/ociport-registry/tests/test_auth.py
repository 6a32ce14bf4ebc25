"""Credentials against a registry with htpasswd basic auth: pushes and pulls with
them; without them, or with a wrong password, one clear error naming the registry and
the repository."""

from __future__ import annotations

import base64
import json
import os
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


def _helper(directory: Path, name: str, script: str) -> None:
    """A ``docker-credential-NAME`` program in ``directory`` running ``script``."""
    program = directory / f"docker-credential-{name}"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty DOCKER_CONFIG directory, and a directory on PATH for helpers."""
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("PATH", f"{config}{os.pathsep}{os.environ['PATH']}")
    return config


def test_credentials_from_a_credential_helper(
    store: ociport.ImageStore,
    auth_registry: RegistryServer,
    repo: str,
    docker_config: Path,
) -> None:
    asked = docker_config / "asked"
    answer = json.dumps({"ServerURL": "", "Username": USER[0], "Secret": USER[1]})
    _helper(docker_config, "fake", f"cat > {asked}; echo '{answer}'")
    helpers = {"credHelpers": {auth_registry.host: "fake"}}
    (docker_config / "config.json").write_text(json.dumps(helpers))
    store.import_image(str(HELLO))
    reference = f"docker://{auth_registry.host}/{repo}:v1"
    store.export_images([HELLO_NAME], reference, storage_options={"tls_verify": False})
    assert asked.read_text() == auth_registry.host


def test_a_credential_helper_without_credentials_means_none(
    store: ociport.ImageStore,
    auth_registry: RegistryServer,
    repo: str,
    docker_config: Path,
) -> None:
    _helper(
        docker_config,
        "empty",
        "echo 'credentials not found in native keychain'; exit 1",
    )
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "empty"}))
    with pytest.raises(RegistryAuthError, match="authentication required"):
        store.import_image(
            f"docker://{auth_registry.host}/{repo}:v1",
            storage_options={"tls_verify": False},
        )


def test_a_credential_helper_that_is_not_installed(
    store: ociport.ImageStore, auth_registry: RegistryServer, docker_config: Path
) -> None:
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "nothere"}))
    with pytest.raises(
        RegistryAuthError, match="names docker-credential-nothere, not installed"
    ):
        store.import_image(
            f"docker://{auth_registry.host}/a:v1", storage_options={"tls_verify": False}
        )
