"""``ociport login`` and ``ociport logout`` against registries with htpasswd basic auth
and bearer tokens: credentials checked before they are stored, stored where podman and
skopeo read them (skopeo reads what ociport wrote), other entries kept, one clear line
for every mistake."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ociport_fixtures import ROOT
from ociport_registry.authfile import store_credentials
from ociport_registry.credentials import auth_files
from ociport_registry.errors import CredentialsFileError
from ociport_registry.login import LoginKey, login_file
from registry_helpers import USER, skopeo
from registry_server import RegistryServer

from ociport.errors import InvalidReferenceError

HELLO = ROOT / "examples" / "hello.oci-archive.tar"
HELLO_NAME = "example.com/ociport/hello:1.0"


def _ociport(
    *args: str | Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``ociport ARGS`` in a fresh process (the plugin installed, the environment of
    the test: its HOME, XDG_RUNTIME_DIR, no REGISTRY_AUTH_FILE)."""
    environ = {k: v for k, v in os.environ.items() if k != "OCIPORT_STORE"}
    return subprocess.run(
        [sys.executable, "-m", "ociport", *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin if stdin is not None else "",
        env={**environ, **env},
        check=False,
    )


def _login(
    registry: RegistryServer, *extra: str | Path, password: str = USER[1], **env: str
) -> subprocess.CompletedProcess[str]:
    return _ociport(
        "login",
        "--tls-verify=false",
        "-u",
        USER[0],
        "--password-stdin",
        *extra,
        registry.host,
        stdin=password + "\n",
        **env,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _entries(path: Path) -> dict[str, object]:
    entries = json.loads(path.read_text())["auths"]
    assert isinstance(entries, dict)
    return entries


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_login_writes_what_skopeo_and_ociport_read(
    auth_registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    runtime_file = Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    done = _login(auth_registry)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Login Succeeded!\n"
    assert USER[1] not in done.stdout + done.stderr
    assert _entries(runtime_file) == {auth_registry.host: _auth(*USER)}
    assert stat.S_IMODE(runtime_file.stat().st_mode) == 0o600
    # ociport pushes with the stored credentials, skopeo reads them from the file.
    store = tmp_path / "store"
    assert _ociport("--store", store, "import", HELLO).returncode == 0
    reference = f"docker://{auth_registry.host}/{repo}:v1"
    pushed = _ociport(
        "--store", store, "export", "--tls-verify=false", reference, HELLO_NAME
    )
    assert pushed.returncode == 0, pushed.stderr
    skopeo("inspect", "--authfile", str(runtime_file), "--tls-verify=false", reference)
    got = _ociport("login", "--get-login", auth_registry.host)
    assert (got.returncode, got.stdout) == (0, f"{USER[0]}\n")


def test_login_with_a_bearer_token_registry(
    token_registry: RegistryServer, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.json"
    done = _login(token_registry, "--authfile", auth_file)
    assert done.returncode == 0, done.stderr
    assert _entries(auth_file) == {token_registry.host: _auth(*USER)}
    wrong = _login(token_registry, "--authfile", tmp_path / "no.json", password="bad")
    line = _one_error_line(wrong)
    assert line.startswith(f"ociport: error: registry {token_registry.host}: ")
    assert "refused the credentials" in line
    assert not (tmp_path / "no.json").exists()


def test_a_wrong_password_is_one_line_and_stores_nothing(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.json"
    line = _one_error_line(
        _login(auth_registry, "--authfile", auth_file, password="wrong")
    )
    assert line == (
        f"ociport: error: registry {auth_registry.host}: login: the credentials were "
        "rejected (HTTP 401 UNAUTHORIZED: authentication required); check the user "
        "name and password"
    )
    assert "wrong" not in line
    assert not auth_file.exists()


def test_an_unreachable_registry_is_one_line(tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.json"
    line = _one_error_line(
        _ociport(
            "login",
            "--tls-verify=false",
            "-u",
            "me",
            "-p",
            "pw",
            "--authfile",
            auth_file,
            "127.0.0.1:9",
        )
    )
    assert line.startswith("ociport: error: registry 127.0.0.1:9: login: cannot ")
    assert not auth_file.exists()


def test_login_keeps_the_other_entries_and_keys(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.json"
    other = {
        "auths": {
            "quay.io": _auth("q", "p"),
            f"https://{auth_registry.host}/v1/": _auth("old", "old"),
        },
        "credHelpers": {"gcr.io": "gcloud"},
        "psFormat": "table",
    }
    auth_file.write_text(json.dumps(other))
    assert _login(auth_registry, "--authfile", auth_file).returncode == 0
    written = json.loads(auth_file.read_text())
    assert written["auths"] == {
        "quay.io": _auth("q", "p"),
        auth_registry.host: _auth(*USER),
    }
    assert written["credHelpers"] == {"gcr.io": "gcloud"}
    assert written["psFormat"] == "table"
    assert not list(tmp_path.glob(".auth.json*"))  # no temporary file left


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "cannot be read: Expecting property name"),
        ('["a"]', "is not a credentials file (not a JSON object)"),
        ('{"auths": 3}', "is not a credentials file (its auths is no object)"),
    ],
)
def test_a_malformed_auth_file_is_one_line_and_left_alone(
    auth_registry: RegistryServer, tmp_path: Path, content: str, problem: str
) -> None:
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(content)
    line = _one_error_line(_login(auth_registry, "--authfile", auth_file))
    assert f"credentials file {auth_file} {problem}" in line
    assert auth_file.read_text() == content


def test_registry_auth_file_is_written_and_existing_credentials_reused(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    auth_file = tmp_path / "env-auth.json"
    env = {"REGISTRY_AUTH_FILE": str(auth_file)}
    assert _login(auth_registry, **env).returncode == 0
    assert auth_registry.host in _entries(auth_file)
    again = _ociport("login", "--tls-verify=false", auth_registry.host, **env)
    assert again.returncode == 0, again.stderr
    assert "Existing credentials are valid" in again.stdout
    # Nothing to ask on, and the stored ones do not serve: one clear line.
    store_credentials(auth_file, auth_registry.host, USER[0], "stale")
    stale = _ociport("login", "--tls-verify=false", auth_registry.host, **env)
    assert "Existing credentials are invalid" in stale.stdout
    assert _one_error_line(stale).endswith(
        "give --username: there is no terminal to ask on"
    )


def test_logout_removes_one_entry_or_all(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auths": {"quay.io": _auth("q", "p")}}))
    assert _login(auth_registry, "--authfile", auth_file).returncode == 0
    out = _ociport("logout", "--authfile", auth_file, auth_registry.host)
    assert out.stdout == f"Removed login credentials for {auth_registry.host}\n"
    assert _entries(auth_file) == {"quay.io": _auth("q", "p")}
    line = _one_error_line(_ociport("logout", "--authfile", auth_file, "example.org"))
    assert line == (
        f"ociport: error: not logged into example.org; {auth_file} has no "
        "credentials for it"
    )
    all_out = _ociport("logout", "--all", "--authfile", auth_file)
    assert all_out.stdout == "Removed login credentials for all registries\n"
    assert _entries(auth_file) == {}
    missing = _ociport("logout", "--all", "--authfile", tmp_path / "none.json")
    assert "does not exist" in _one_error_line(missing)


def test_logout_points_at_credentials_another_tool_stored(tmp_path: Path) -> None:
    docker = Path(os.environ["HOME"]) / ".docker"
    docker.mkdir(exist_ok=True)
    (docker / "config.json").write_text(
        json.dumps({"auths": {"registry.example": _auth("d", "p")}})
    )
    line = _one_error_line(_ociport("logout", "registry.example"))
    assert "not logged into registry.example" in line and "docker logout" in line


@pytest.mark.parametrize(
    "args",
    [
        ["logout"],
        ["logout", "--all", "quay.io"],
        ["login", "--password-stdin", "quay.io"],
        ["login", "-u", "me", "--password-stdin", "-p", "x", "quay.io"],
    ],
    ids=" ".join,
)
def test_usage_mistakes_exit_2(args: list[str]) -> None:
    done = _ociport(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr


def test_no_terminal_and_no_password_is_one_line() -> None:
    line = _one_error_line(_ociport("login", "-u", "me", "quay.io"))
    assert line == (
        "ociport: error: registry quay.io: login: give --password-stdin or "
        "--password: there is no terminal to ask on"
    )


@pytest.mark.parametrize(
    ("text", "key", "registry"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://127.0.0.1:5000/v2/", "127.0.0.1:5000", "127.0.0.1:5000"),
        ("quay.io/team/app", "quay.io/team/app", "quay.io"),
        ("index.docker.io", "docker.io", "docker.io"),
    ],
)
def test_login_keys(text: str, key: str, registry: str) -> None:
    assert LoginKey.parse(text) == LoginKey(key, registry)


@pytest.mark.parametrize("text", ["quay.io/app:v1", "bad host", "quay.io/Team", ""])
def test_bad_login_keys(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        LoginKey.parse(text)


def test_the_login_file_is_the_first_one_read(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    assert login_file(None, environ) == auth_files(None, environ)[0]
    assert login_file(None, environ) == tmp_path / "containers" / "auth.json"
    given = str(tmp_path / "given.json")
    assert login_file(given, environ) == Path(given)
    with_env = {**environ, "REGISTRY_AUTH_FILE": given}
    assert login_file(None, with_env) == Path(given)
    missing = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "nope")}
    with pytest.raises(CredentialsFileError, match="XDG_RUNTIME_DIR names"):
        login_file(None, missing)
    if sys.platform.startswith("linux"):
        bare = {"HOME": str(tmp_path)}
        expected = Path(f"/run/containers/{os.getuid()}/auth.json")
        assert login_file(None, bare) == auth_files(None, bare)[0] == expected


def test_on_a_terminal_the_user_name_and_password_are_asked_for(
    auth_registry: RegistryServer, tmp_path: Path
) -> None:
    """As podman: "Username: ", then "Password: " with no echo."""
    import fcntl
    import pty
    import select
    import termios
    import time

    auth_file = tmp_path / "auth.json"
    leader, follower = pty.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(follower, termios.TIOCSCTTY, 0)

    command = ["login", "--tls-verify=false", "--authfile", str(auth_file)]
    process = subprocess.Popen(
        [sys.executable, "-m", "ociport", *command, auth_registry.host],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        preexec_fn=controlling_terminal,
    )
    os.close(follower)
    seen = b""

    def read_until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while text not in seen:
            assert time.monotonic() < deadline, seen
            if select.select([leader], [], [], 1)[0]:
                seen += os.read(leader, 1024)

    try:
        read_until(b"Username: ")
        os.write(leader, f"{USER[0]}\n".encode())
        read_until(b"Password: ")
        os.write(leader, f"{USER[1]}\n".encode())
        read_until(b"Login Succeeded!")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        os.close(leader)
    assert USER[1].encode() not in seen  # not echoed
    assert _entries(auth_file) == {auth_registry.host: _auth(*USER)}
