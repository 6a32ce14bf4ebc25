"""Descriptor and Platform value types (image-spec ``descriptor.md``, ``image-index.md``).

JSON keys are camelCase only inside :meth:`Descriptor.from_json` / :meth:`to_json`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from ociport.errors import InvalidDescriptorError
from ociport.oci.digest import Digest

__all__ = [
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "Descriptor",
    "Platform",
]

#: image-spec ``annotations.md``: the name of a manifest within an image layout.
ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"
#: containerd's full image name on ``index.json`` entries of ``ctr images export``.
ANNOTATION_IMAGE_NAME: Final = "io.containerd.image.name"

_ARCH_ALIASES: Final = {
    "x86_64": ("amd64", None),
    "x86-64": ("amd64", None),
    "aarch64": ("arm64", None),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "i386": ("386", None),
    "i686": ("386", None),
}
_DEFAULT_VARIANT: Final = {"arm64": "v8", "arm": "v7"}


def _frozen(mapping: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


def _require(doc: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidDescriptorError(
            key, f"{what}: field {key!r} missing or not {kind.__name__}"
        )
    return value


def _optional(doc: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    if key in doc and doc[key] is not None:
        return _require(doc, key, kind, what)
    return None


@dataclass(frozen=True, slots=True)
class Platform:
    """The platform an image runs on (image-spec ``image-index.md``, ``platform``).

    Architecture aliases (``x86_64``, ``aarch64``, ...) are normalised to the Go names the
    spec uses, as containerd's ``platforms.Normalize`` does.
    """

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Platform:
        """Parse ``os/arch[/variant]`` (``linux/arm64/v8``) as used by ``--platform``.

        :raises InvalidDescriptorError: when the string has not two or three parts.
        """
        parts = value.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidDescriptorError(
                "platform", f"invalid platform {value!r}: want os/arch[/variant]"
            )
        variant = parts[2].lower() if len(parts) == 3 else None
        return cls(parts[0].lower(), parts[1].lower(), variant).normalized()

    @classmethod
    def host(cls) -> Platform:
        """The platform of this machine (``linux/amd64`` on a typical server)."""
        import platform  # the standard module, only when the host is asked for

        return cls(
            platform.system().lower() or "linux", platform.machine().lower()
        ).normalized()

    @classmethod
    def from_json(cls, doc: Any) -> Platform:
        """Build from a ``platform`` JSON object.

        :raises InvalidDescriptorError: when ``os`` or ``architecture`` is missing.
        """
        if not isinstance(doc, Mapping):
            raise InvalidDescriptorError("platform", "platform is not an object")
        features = _optional(doc, "os.features", list, "platform") or ()
        return cls(
            os=_require(doc, "os", str, "platform"),
            architecture=_require(doc, "architecture", str, "platform"),
            variant=_optional(doc, "variant", str, "platform"),
            os_version=_optional(doc, "os.version", str, "platform"),
            os_features=tuple(str(f) for f in features),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``platform`` JSON object, keys in spec order."""
        doc: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            doc["os.version"] = self.os_version
        if self.os_features:
            doc["os.features"] = list(self.os_features)
        if self.variant:
            doc["variant"] = self.variant
        return doc

    def normalized(self) -> Platform:
        """This platform with architecture aliases resolved."""
        arch, variant = _ARCH_ALIASES.get(self.architecture, (self.architecture, None))
        return replace(self, architecture=arch, variant=self.variant or variant)

    def matches(self, other: Platform) -> bool:
        """Whether ``other`` (an image's platform) satisfies this selector.

        OS and architecture must be equal after normalisation; a variant is compared only
        when this selector names one, with ``arm64``'s default ``v8`` and ``arm``'s ``v7``
        filled in for an image that names none.
        """
        mine, theirs = self.normalized(), other.normalized()
        if (mine.os, mine.architecture) != (theirs.os, theirs.architecture):
            return False
        if not mine.variant:
            return True
        default = _DEFAULT_VARIANT.get(theirs.architecture)
        return mine.variant == (theirs.variant or default)

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A reference to a blob: media type, digest and size, plus optional fields.

    :ivar media_type: the referenced blob's media type.
    :ivar digest: the blob's digest, validated on construction from JSON.
    :ivar size: the blob's length in bytes.
    :ivar annotations: read-only string map.
    :ivar urls: download locations of a non-distributable layer.
    :ivar platform: the platform of a manifest listed in an index.
    :ivar artifact_type: the artifact type of an artifact manifest (OCI 1.1).
    :ivar data: embedded blob bytes (base64-decoded), if present.
    """

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    urls: tuple[str, ...] = ()
    platform: Platform | None = None
    artifact_type: str | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.annotations, MappingProxyType):
            object.__setattr__(self, "annotations", _frozen(self.annotations))
        if self.size < 0:
            raise InvalidDescriptorError("size", f"negative size {self.size}")

    @classmethod
    def from_json(cls, doc: Any) -> Descriptor:
        """Build from a descriptor JSON object.

        A missing ``mediaType`` becomes ``""`` (some writers omit it in ``index.json``).

        :raises InvalidDescriptorError: on a missing or mistyped field.
        :raises InvalidDigestError: when ``digest`` breaks the OCI grammar.
        """
        if not isinstance(doc, Mapping):
            raise InvalidDescriptorError("descriptor", "descriptor is not an object")
        digest_text = _require(doc, "digest", str, "descriptor")
        digest = Digest.parse(digest_text)
        annotations = _optional(doc, "annotations", dict, "descriptor") or {}
        if not all(isinstance(v, str) for v in annotations.values()):
            raise InvalidDescriptorError(
                "annotations", "annotation values must be strings"
            )
        platform = doc.get("platform")
        data = _optional(doc, "data", str, "descriptor")
        urls = _optional(doc, "urls", list, "descriptor") or []
        if not all(isinstance(u, str) for u in urls):
            raise InvalidDescriptorError("urls", "urls must be strings")
        return cls(
            media_type=_optional(doc, "mediaType", str, "descriptor") or "",
            digest=digest,
            size=_require(doc, "size", int, "descriptor"),
            annotations=annotations,
            urls=tuple(urls),
            platform=Platform.from_json(platform) if platform is not None else None,
            artifact_type=_optional(doc, "artifactType", str, "descriptor"),
            data=_decode_data(data) if data is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The descriptor JSON object, keys in spec order, empty fields left out."""
        doc: dict[str, Any] = {}
        if self.media_type:
            doc["mediaType"] = self.media_type
        doc["digest"] = str(self.digest)
        doc["size"] = self.size
        if self.urls:
            doc["urls"] = list(self.urls)
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        if self.platform is not None:
            doc["platform"] = self.platform.to_json()
        if self.artifact_type:
            doc["artifactType"] = self.artifact_type
        if self.data is not None:
            doc["data"] = base64.b64encode(self.data).decode("ascii")
        return doc

    def embedded(self) -> bytes | None:
        """The blob's bytes from the ``data`` field (image-spec 1.1, "Embedded
        content"), checked against ``digest`` and ``size``; ``None`` without ``data``.

        :raises SizeMismatchError, DigestMismatchError: ``data`` is not the blob the
            descriptor names.
        """
        if self.data is None:
            return None
        hasher = self.digest.hasher()
        hasher.update(self.data)
        hasher.verify(self.digest, self.size, f"data of descriptor {self.digest}")
        return self.data

    @property
    def ref_name(self) -> str | None:
        """The ``org.opencontainers.image.ref.name`` annotation, if any."""
        return self.annotations.get(ANNOTATION_REF_NAME)

    def with_annotations(self, annotations: Mapping[str, str]) -> Descriptor:
        """A copy whose annotations are exactly ``annotations``."""
        return replace(self, annotations=_frozen(annotations))


def _decode_data(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise InvalidDescriptorError(
            "data", f"descriptor data is not base64: {exc}"
        ) from exc
