"""A throw-away registry for the tests: Debian's ``docker-registry`` (CNCF distribution
2.8) on 127.0.0.1 and a free port, plain HTTP, storage in a temporary directory, open,
with htpasswd basic authentication (a bcrypt hash written here), or with bearer tokens
from a token service (:mod:`token_server`)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import bcrypt
from token_server import ISSUER, SERVICE, TokenServer

#: Where Debian's docker-registry package puts the server.
BINARY: Final = Path("/usr/bin/docker-registry")
_START_TIMEOUT: Final = 15.0


@dataclass
class RegistryServer:
    """A running registry.

    :ivar host: ``127.0.0.1:PORT``.
    :ivar root: its directory (configuration, storage, log).
    :ivar credentials: ``(user, password)`` when it requires them.
    """

    host: str
    root: Path
    process: subprocess.Popen[bytes]
    credentials: tuple[str, str] | None = None

    @property
    def creds(self) -> str:
        """``USER:PASSWORD``, as ``creds=`` and skopeo's ``--creds`` take them."""
        assert self.credentials is not None
        return ":".join(self.credentials)

    def stop(self) -> None:
        """Stop the server (it was started by this process, so by its own PID)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def available() -> bool:
    """Whether Debian's ``docker-registry`` is installed."""
    return BINARY.is_file() and shutil.which("skopeo") is not None


def start(
    root: Path,
    credentials: tuple[str, str] | None = None,
    tokens: TokenServer | None = None,
) -> RegistryServer:
    """Start a registry storing under ``root``; with ``tokens``, trusting that token
    service's tokens (for ``credentials``); else with ``credentials``, htpasswd auth.

    :raises RuntimeError: it did not answer within 15 s (its log is in the message).
    """
    (root / "data").mkdir(parents=True)
    port = _free_port()
    lines = [
        "version: 0.1",
        "log: {level: warn}",
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, "
        "delete: {enabled: true}}",
        f"http: {{addr: 127.0.0.1:{port}}}",
    ]
    if tokens is not None:
        lines.append(
            f"auth: {{token: {{realm: '{tokens.realm}', service: {SERVICE}, "
            f"issuer: {ISSUER}, rootcertbundle: {tokens.certificate}}}}}"
        )
    elif credentials is not None:
        user, password = credentials
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
        (root / "htpasswd").write_text(f"{user}:{hashed}\n")
        lines.append(
            f"auth: {{htpasswd: {{realm: ociport-test, path: {root / 'htpasswd'}}}}}"
        )
    config = root / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = (root / "log").open("wb")
    process = subprocess.Popen(
        [str(BINARY), "serve", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = RegistryServer(f"127.0.0.1:{port}", root, process, credentials)
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if _answers(server.host):
            return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"docker-registry did not start: {(root / 'log').read_text()}")


def _answers(host: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}/v2/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # 401: up, and asking for credentials
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
