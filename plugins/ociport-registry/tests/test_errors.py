"""Bad input and failing registries: each a specific error naming the registry and the
repository (one line on the command line), and the store left as it was."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from ociport_registry.client import session
from ociport_registry.errors import RegistryNotFoundError, RegistryUnavailableError
from registry_helpers import run_cli
from registry_server import RegistryServer

import ociport
from ociport.errors import (
    InvalidLocationError,
    InvalidReferenceError,
    UnsupportedSourceError,
)

INSECURE = {"tls_verify": False}


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries keep their count but not their waits."""
    monkeypatch.setattr(session, "_BACKOFF", 0.001)


def test_a_missing_repository(
    store: ociport.ImageStore, registry: RegistryServer
) -> None:
    with pytest.raises(RegistryNotFoundError) as caught:
        store.import_image(
            f"docker://{registry.host}/no/such:v1", storage_options=INSECURE
        )
    assert str(caught.value) == (
        f"registry {registry.host}, repository no/such: repository not found "
        "(HTTP 404 NAME_UNKNOWN: repository name not known to registry)"
    )
    assert isinstance(caught.value, LookupError)
    assert store.images() == []


def test_a_missing_tag(
    store: ociport.ImageStore, registry: RegistryServer, repo: str
) -> None:
    root = Path(__file__).resolve().parents[3] / "examples" / "hello.oci-archive.tar"
    store.import_image(str(root))
    name = store.images()[0].name
    store.export_images(
        [name], f"docker://{registry.host}/{repo}:v1", storage_options=INSECURE
    )
    with pytest.raises(
        RegistryNotFoundError,
        match=r"manifest v2 not found .*MANIFEST_UNKNOWN.*; the repository has v1$",
    ):
        store.import_image(
            f"docker://{registry.host}/{repo}:v2", storage_options=INSECURE
        )
    assert [i.name for i in store.images()] == [name]


def test_plain_http_needs_tls_verify_false(
    store: ociport.ImageStore, registry: RegistryServer
) -> None:
    with pytest.raises(RegistryUnavailableError, match="pass tls_verify=false"):
        store.import_image(f"docker://{registry.host}/a:v1")


def test_nothing_listening(store: ociport.ImageStore) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        with pytest.raises(RegistryUnavailableError, match="cannot connect") as caught:
            store.import_image(f"docker://{host}/a:v1", storage_options=INSECURE)
    assert caught.value.registry == host and caught.value.status is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tls_verify": "maybe"}, "tls_verify must be true or false"),
        (
            {"region": "x"},
            "unknown option region: a registry takes tls_verify, creds, authfile",
        ),
        ({"creds": "nopassword"}, "creds must be USER:PASSWORD"),
    ],
)
def test_bad_options(
    store: ociport.ImageStore, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidLocationError, match=message):
        store.import_image("docker://127.0.0.1:1/a:v1", storage_options=options)


@pytest.mark.parametrize(
    "text", ["docker:127.0.0.1:5000/a:v1", "docker://UPPER/Case:v1"]
)
def test_bad_references(store: ociport.ImageStore, text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        store.import_image(text, storage_options=INSECURE)


def test_a_file_is_not_a_registry(store: ociport.ImageStore, tmp_path: Path) -> None:
    (tmp_path / "a.tar").write_bytes(b"")
    with pytest.raises(UnsupportedSourceError, match="cannot use a path or URL"):
        store.import_image(str(tmp_path / "a.tar"), format="docker")


def test_errors_on_the_command_line_are_one_line(
    tmp_path: Path, registry: RegistryServer
) -> None:
    result = run_cli(
        tmp_path,
        "--store",
        str(tmp_path / "store"),
        "import",
        "--source-option",
        "tls_verify=false",
        f"docker://{registry.host}/no/such:v1",
    )
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "repository not found" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flags", [["--tls-verify=false"], ["--creds", "a:b"]])
def test_registry_options_are_for_registries_only(
    tmp_path: Path, flags: list[str]
) -> None:
    archive = Path(__file__).resolve().parents[3] / "examples" / "hello.oci-archive.tar"
    result = run_cli(
        tmp_path, "--store", str(tmp_path / "store"), "import", *flags, str(archive)
    )
    assert result.returncode == 2
    assert f"{flags[0].split('=')[0]}: for a registry (docker://HOST/REPO:TAG)" in (
        result.stderr
    )
