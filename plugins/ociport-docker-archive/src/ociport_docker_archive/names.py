"""Docker image names: ``alpine`` means ``docker.io/library/alpine:latest``.

Follows the normalisation of the distribution project's ``reference.ParseNormalizedNamed``
(what ``docker load`` and ``ctr`` apply to ``RepoTags``) and its inverse, the "familiar"
form Docker writes into ``manifest.json``.
"""

from __future__ import annotations

from typing import Final

from ociport.drivers.kit import Reference

__all__ = ["familiar_name", "normalize_name"]

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
