"""Image references: ``[registry/]repository[:tag][@digest]``.

The grammar is the one of the distribution project's ``reference`` package (the one
Docker, containerd and skopeo accept). :meth:`Reference.parse` keeps references exactly
as written; :func:`normalize_name` applies Docker's defaults (``alpine`` means
``docker.io/library/alpine:latest``, as ``reference.ParseNormalizedNamed`` does for
``docker load`` and ``ctr``) and :func:`familiar_name` is its inverse, the short form
Docker shows and writes into ``manifest.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ociport.errors import InvalidDigestError, InvalidReferenceError
from ociport.oci.digest import Digest

__all__ = ["Reference", "familiar_name", "is_tag", "normalize_name"]

_ALNUM: Final = r"[a-z0-9]+"
_SEPARATOR: Final = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT: Final = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN: Final = (
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_NAME: Final = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
# The grammar's \w is ASCII ([A-Za-z0-9_]); Python's matches any Unicode letter.
_TAG: Final = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_REFERENCE: Final = re.compile(
    rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*"
    rf"(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{{32,}}))?"
)
_TAG_ONLY: Final = re.compile(_TAG)
_MAX_NAME: Final = 255


def is_tag(value: str) -> bool:
    """Whether ``value`` is a bare tag (``1.36``, ``latest``), not a full reference."""
    return bool(_TAG_ONLY.fullmatch(value))


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed image reference.

    :ivar name: ``[registry/]repository``.
    :ivar tag: the tag, if any.
    :ivar digest: the digest, if any.
    """

    name: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, value: str) -> Reference:
        """Parse a reference string without normalising it.

        :raises InvalidReferenceError: when ``value`` is not a valid reference.
        """
        match = _REFERENCE.fullmatch(value)
        if not match:
            raise InvalidReferenceError(value)
        if len(match["name"]) > _MAX_NAME:
            raise InvalidReferenceError(
                value, f"name longer than {_MAX_NAME} characters"
            )
        try:
            digest = Digest.parse(match["digest"]) if match["digest"] else None
        except InvalidDigestError as exc:
            raise InvalidReferenceError(value, str(exc)) from exc
        return cls(match["name"], match["tag"], digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


_DEFAULT_DOMAIN: Final = "docker.io"
_OFFICIAL_PREFIX: Final = "library/"
_LEGACY_DOMAIN: Final = "index.docker.io"


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and (
        "." in first or ":" in first or first == "localhost" or first != first.lower()
    ):
        return first, rest
    return _DEFAULT_DOMAIN, name


def normalize_name(value: str) -> str:
    """The full reference for a Docker name (``alpine`` -> ``docker.io/library/alpine:latest``).

    A name without tag or digest gets ``:latest``.

    :raises InvalidReferenceError: ``value`` is not a valid reference once normalised.
    """
    domain, path = _split_domain(value)
    if domain == _LEGACY_DOMAIN:
        domain = _DEFAULT_DOMAIN
    if domain == _DEFAULT_DOMAIN and "/" not in path.split(":", 1)[0].split("@", 1)[0]:
        path = _OFFICIAL_PREFIX + path
    ref = Reference.parse(f"{domain}/{path}")
    if ref.tag is None and ref.digest is None:
        ref = Reference(ref.name, "latest")
    return str(ref)


def familiar_name(value: str) -> str:
    """The short form Docker shows (``docker.io/library/alpine:3`` -> ``alpine:3``)."""
    if value.startswith(f"{_DEFAULT_DOMAIN}/"):
        value = value[len(_DEFAULT_DOMAIN) + 1 :]
        if (
            value.startswith(_OFFICIAL_PREFIX)
            and "/" not in value[len(_OFFICIAL_PREFIX) :].split(":", 1)[0]
        ):
            value = value[len(_OFFICIAL_PREFIX) :]
    return value
