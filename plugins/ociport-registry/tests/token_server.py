"""A token service for the tests (Docker's registry token protocol, which the
distribution-spec defers to): ``GET /token?service=...&scope=...`` with basic
credentials answers a JWT signed with a throw-away RSA key whose self-signed
certificate the registry trusts (``auth: token`` with ``rootcertbundle``).

Valid credentials get the actions asked for; anonymous requests get a token that grants
nothing (the registry then refuses with 401); wrong credentials get a 401 here.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ISSUER: Final = "ociport-test-issuer"
SERVICE: Final = "ociport-test-registry"
LIFETIME: Final = 300


@dataclass
class TokenServer:
    """A running token service.

    :ivar realm: its URL, for the registry's ``auth: token`` section.
    :ivar certificate: the PEM file of the certificate the registry must trust.
    :ivar requests: each token request: ``(user or None, scopes asked for)``.
    """

    realm: str
    certificate: Path
    server: http.server.ThreadingHTTPServer
    requests: list[tuple[str | None, list[str]]] = field(default_factory=list)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start(root: Path, credentials: tuple[str, str]) -> TokenServer:
    """Start a token service on 127.0.0.1 (a free port) for ``credentials``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = _certificate(key)
    pem = root / "token-signer.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    x5c = base64.b64encode(
        certificate.public_bytes(serialization.Encoding.DER)
    ).decode()
    holder: dict[str, TokenServer] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            scopes = query.get("scope", [])
            user = _user(self.headers.get("Authorization"))
            holder["server"].requests.append((user[0] if user else None, scopes))
            if user is not None and user != credentials:
                self._answer(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                return
            access = [_grant(scope) for scope in scopes] if user else []
            claims = _claims(
                user[0] if user else "", query.get("service", [""])[0], access
            )
            token = _jwt(key, x5c, claims)
            self._answer(
                200, {"token": token, "access_token": token, "expires_in": LIFETIME}
            )

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    realm = f"http://127.0.0.1:{server.server_address[1]}/token"
    holder["server"] = TokenServer(realm, pem, server)
    return holder["server"]


def _certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ociport test tokens")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _user(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _grant(scope: str) -> dict[str, Any]:
    """``repository:NAME:pull,push`` as the claim granting it."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": actions.split(",")}


def _claims(
    subject: str, audience: str, access: list[dict[str, Any]]
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "sub": subject,
        "aud": audience,
        "exp": now + LIFETIME,
        "nbf": now - 10,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": access,
    }


def _jwt(key: rsa.RSAPrivateKey, x5c: str, claims: dict[str, Any]) -> str:
    header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
    signing_input = f"{_b64(json.dumps(header))}.{_b64(json.dumps(claims))}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
