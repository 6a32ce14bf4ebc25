"""Image references: ``[registry/]repository[:tag][@digest]``.

The grammar is the one of the distribution project's ``reference`` package (the one
Docker, containerd and skopeo accept). References are kept exactly as written: no
``docker.io/library/`` is added here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ociport.errors import InvalidDigestError, InvalidReferenceError
from ociport.oci.digest import Digest

__all__ = ["Reference", "is_tag"]

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
