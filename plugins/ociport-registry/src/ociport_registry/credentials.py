"""Credentials: a user name and password for a registry."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

__all__ = ["Credentials"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password (skopeo's ``--creds USER:PASSWORD``)."""

    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        """The ``Authorization`` header value for HTTP basic authentication."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
