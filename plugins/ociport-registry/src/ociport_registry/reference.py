"""RegistryReference: what ``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`` names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ociport.drivers.kit import (
    Digest,
    InvalidReferenceError,
    Reference,
    normalize_name,
)

__all__ = ["RegistryReference"]

#: Docker Hub's name in references, and the host its API answers on.
_DOCKER_HUB: Final = "docker.io"
_DOCKER_HUB_API: Final = "registry-1.docker.io"
_DEFAULT_TAG: Final = "latest"


@dataclass(frozen=True, slots=True)
class RegistryReference:
    """An image in a registry, as skopeo's ``docker:`` transport names it.

    :ivar registry: the registry as the reference names it (``127.0.0.1:5000``,
        ``docker.io``).
    :ivar repository: the repository (``library/busybox``).
    :ivar tag: the tag (``latest`` when neither a tag nor a digest is given).
    :ivar digest: the manifest digest, when given; it wins over the tag for reads.
    """

    registry: str
    repository: str
    tag: str | None
    digest: Digest | None

    @classmethod
    def parse(cls, address: str) -> RegistryReference:
        """Parse what follows ``docker:``: ``//HOST[:PORT]/REPO[:TAG|@DIGEST]``.

        Docker's short names are normalised as skopeo does (``//busybox`` is
        ``docker.io/library/busybox:latest``).

        :raises InvalidReferenceError: no leading ``//``, or not a valid reference.
        """
        if not address.startswith("//"):
            raise InvalidReferenceError(
                f"docker:{address}", "write it docker://HOST[:PORT]/REPO[:TAG|@DIGEST]"
            )
        try:
            parsed = Reference.parse(normalize_name(address[2:]))
        except InvalidReferenceError as exc:
            raise InvalidReferenceError(f"docker:{address}", str(exc)) from exc
        registry, _, repository = parsed.name.partition("/")
        return cls(registry, repository, parsed.tag, parsed.digest)

    @property
    def api_host(self) -> str:
        """The host (and port) the registry's HTTP API answers on."""
        return _DOCKER_HUB_API if self.registry == _DOCKER_HUB else self.registry

    @property
    def manifest_reference(self) -> str:
        """The ``<reference>`` of ``/v2/<name>/manifests/<reference>``: the digest
        when given, else the tag."""
        return str(self.digest) if self.digest else self.tag or _DEFAULT_TAG

    def __str__(self) -> str:
        """The full reference, ``HOST/REPO:TAG`` or ``HOST/REPO@DIGEST``."""
        return str(
            Reference(f"{self.registry}/{self.repository}", self.tag, self.digest)
        )
