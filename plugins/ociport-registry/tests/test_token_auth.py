"""Bearer tokens against a registry with ``auth: token``: the token is asked for with
the credentials and the repository's scope, once per session, and serves every request;
without credentials, or with wrong ones, one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ociport_fixtures import ROOT
from ociport_registry.errors import RegistryAuthError
from registry_helpers import USER, skopeo
from registry_server import RegistryServer
from token_server import TokenServer

import ociport
from ociport.testing.factories import name_image, random_image

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
HELLO_NAME = "example.com/ociport/hello:1.0"


def test_push_and_pull_with_tokens(
    store: ociport.ImageStore,
    token_registry: RegistryServer,
    tokens: TokenServer,
    repo: str,
    tmp_path: Path,
) -> None:
    root = random_image(store.content, platforms=["linux/amd64", "linux/arm64"], seed=7)
    name_image(store.content, "example.com/tokens:1", root)
    reference = f"{token_registry.host}/{repo}:v1"
    options = {"tls_verify": False, "creds": token_registry.creds}
    tokens.requests.clear()
    store.export_images(
        ["example.com/tokens:1"], f"docker://{reference}", storage_options=options
    )
    assert tokens.requests == [(USER[0], [f"repository:{repo}:pull,push"])]
    seen = skopeo(
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        token_registry.creds,
        f"docker://{reference}",
    )
    assert [m["digest"] for m in json.loads(seen)["manifests"]] == [
        str(c.digest) for c in ociport.Index.parse(_read(store, root)).manifests
    ]
    tokens.requests.clear()
    other = ociport.open_store(str(tmp_path / "other"), pm=store.pm)
    [image] = other.import_image(
        f"docker://{reference}", storage_options=options
    ).images
    assert image.target.digest == root.digest
    assert tokens.requests == [(USER[0], [f"repository:{repo}:pull"])]


def test_an_anonymous_token_grants_nothing(
    store: ociport.ImageStore, token_registry: RegistryServer, repo: str
) -> None:
    with pytest.raises(RegistryAuthError, match="authentication required") as caught:
        store.import_image(
            f"docker://{token_registry.host}/{repo}:v1",
            storage_options={"tls_verify": False},
        )
    assert caught.value.status == 401


def test_the_token_service_refuses_a_wrong_password(
    store: ociport.ImageStore, token_registry: RegistryServer, tokens: TokenServer
) -> None:
    with pytest.raises(RegistryAuthError) as caught:
        store.import_image(
            f"docker://{token_registry.host}/a:v1",
            storage_options={"tls_verify": False, "creds": f"{USER[0]}:wrong"},
        )
    assert str(caught.value) == (
        f"registry {token_registry.host}, repository a: the token service "
        f"{tokens.realm} refused the credentials (HTTP 401); check the user name and "
        "password"
    )


def _read(store: ociport.ImageStore, descriptor: ociport.Descriptor) -> bytes:
    with store.content.open_blob(descriptor, verify=True) as stream:
        return stream.read()


def test_one_token_allows_the_mount_from_the_source_repository(
    store: ociport.ImageStore,
    token_registry: RegistryServer,
    tokens: TokenServer,
    repo: str,
    methods: list[str],
) -> None:
    options = {"tls_verify": False, "creds": token_registry.creds}
    source = f"{token_registry.host}/{repo}-a:v1"
    store.import_image(str(HELLO))
    store.export_images([HELLO_NAME], f"docker://{source}", storage_options=options)
    store.import_image(f"docker://{source}", storage_options=options)
    tokens.requests.clear()
    methods.clear()
    store.export_images(
        [source], f"docker://{token_registry.host}/{repo}-b:v1", storage_options=options
    )
    assert tokens.requests == [
        (USER[0], [f"repository:{repo}-b:pull,push", f"repository:{repo}-a:pull"])
    ]
    assert [m for m in methods if m.endswith("uploads")] == ["POST uploads"] * 2
