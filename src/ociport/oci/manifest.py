"""Manifest and Index documents (image-spec ``manifest.md``, ``image-index.md``).

Both keep the raw bytes they were parsed from: a document's digest is over those bytes,
never over a re-serialisation. Docker schema 2 manifests and manifest lists share the
shapes and are parsed by the same classes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ociport.errors import DocumentTooLargeError, FormatError, OciportError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest

__all__ = [
    "MAX_DOCUMENT_SIZE",
    "Index",
    "Manifest",
    "dump_json",
    "parse_document",
    "parse_json",
]

#: Default cap for a JSON document read whole (4 MiB), as containerd's ``ReadBlob`` users
#: and registries cap manifests.
MAX_DOCUMENT_SIZE: Final = 4 << 20
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(
    raw: bytes, *, limit: int | None = MAX_DOCUMENT_SIZE, where: str | None = None
) -> dict[str, Any]:
    """Decode a JSON object of at most ``limit`` bytes (``None``: the caller bounded the
    read already).

    :raises DocumentTooLargeError: when ``raw`` is longer than ``limit``.
    :raises FormatError: when ``raw`` is not UTF-8 JSON, nests too deeply, or is not an
        object.
    """
    if limit is not None and len(raw) > limit:
        raise DocumentTooLargeError(len(raw), limit, member=where)
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"malformed JSON: {exc}", member=where) from exc
    except RecursionError as exc:
        raise FormatError("JSON nests too deeply", member=where) from exc
    if not isinstance(doc, dict):
        raise FormatError("JSON document is not an object", member=where)
    if _SURROGATE_ESCAPE.search(raw):
        try:  # a lone surrogate cannot be written back as UTF-8 (index.json, names)
            json.dumps(doc, ensure_ascii=False).encode()
        except UnicodeEncodeError as exc:
            raise FormatError(
                "JSON document holds an unpaired surrogate (\\ud800-\\udfff)",
                member=where,
            ) from exc
    return doc


def dump_json(doc: Mapping[str, Any]) -> bytes:
    """Serialise a document the way ociport writes every JSON file: compact, UTF-8."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _descriptors(
    doc: Mapping[str, Any], key: str, where: str | None
) -> tuple[Descriptor, ...]:
    items = doc.get(key)
    if items is None:
        return ()
    if not isinstance(items, list):
        raise FormatError(f"{key!r} is not a list", member=where)
    return tuple(_descriptor(item, where) for item in items)


def _descriptor(item: Any, where: str | None) -> Descriptor:
    try:
        return Descriptor.from_json(item)
    except OciportError as exc:
        raise FormatError(f"bad descriptor: {exc}", member=where) from exc


def _common(doc: Mapping[str, Any], where: str | None) -> dict[str, Any]:
    if doc.get("schemaVersion") != 2:
        raise FormatError(
            f"schemaVersion is {doc.get('schemaVersion')!r}, expected 2", member=where
        )
    subject = doc.get("subject")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise FormatError("'annotations' is not an object", member=where)
    for key in ("mediaType", "artifactType"):
        if not isinstance(doc.get(key, ""), str | None):
            raise FormatError(f"{key!r} is not a string", member=where)
    return {
        "media_type": doc.get("mediaType") or "",
        "subject": _descriptor(subject, where) if subject is not None else None,
        "artifact_type": doc.get("artifactType"),
        "annotations": MappingProxyType(dict(annotations)),
    }


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest: one config and ordered layers.

    :ivar raw: the exact bytes the manifest was parsed from.
    """

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    raw: bytes = field(repr=False)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(cls, raw: bytes, *, where: str | None = None) -> Manifest:
        """Parse manifest bytes (of any length: readers cap what they read).

        :raises FormatError: on malformed JSON, a wrong ``schemaVersion``, or a missing
            ``config``.
        """
        doc = parse_json(raw, limit=None, where=where)
        if "config" not in doc:
            raise FormatError("manifest has no 'config'", member=where)
        return cls(
            config=_descriptor(doc["config"], where),
            layers=_descriptors(doc, "layers", where),
            raw=raw,
            **_common(doc, where),
        )

    @classmethod
    def build(
        cls,
        config: Descriptor,
        layers: Sequence[Descriptor],
        *,
        media_type: str = mt.OCI_IMAGE_MANIFEST,
    ) -> Manifest:
        """Serialise a new image manifest (OCI, or Docker schema 2 with
        ``media_type=DOCKER_MANIFEST_V2``): compact JSON with the keys in the order
        containerd writes them, so the same blobs always give the same digest."""
        doc = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": config.to_json(),
            "layers": [layer.to_json() for layer in layers],
        }
        return cls(media_type, config, tuple(layers), dump_json(doc))

    @property
    def digest(self) -> Digest:
        """The sha256 digest of :attr:`raw`."""
        return Digest.of(self.raw)

    def blobs(self) -> tuple[Descriptor, ...]:
        """The config followed by the layers."""
        return (self.config, *self.layers)


@dataclass(frozen=True, slots=True)
class Index:
    """An image index (or Docker manifest list): descriptors of child manifests.

    :ivar raw: the exact bytes the index was parsed from (or built into).
    """

    media_type: str
    manifests: tuple[Descriptor, ...]
    raw: bytes = field(repr=False)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(cls, raw: bytes, *, where: str | None = None) -> Index:
        """Parse index bytes (of any length: readers cap what they read); ``"manifests":
        null`` counts as empty (Docker 25 does it).

        :raises FormatError: on malformed JSON or a wrong ``schemaVersion``.
        """
        doc = parse_json(raw, limit=None, where=where)
        return cls(
            manifests=_descriptors(doc, "manifests", where),
            raw=raw,
            **_common(doc, where),
        )

    @classmethod
    def build(
        cls,
        manifests: Sequence[Descriptor],
        *,
        annotations: Mapping[str, str] | None = None,
    ) -> Index:
        """Serialise a new OCI index, as ``index.json`` or as an index blob."""
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_IMAGE_INDEX,
            "manifests": [d.to_json() for d in manifests],
        }
        if annotations:
            doc["annotations"] = dict(annotations)
        return cls(
            media_type=mt.OCI_IMAGE_INDEX,
            manifests=tuple(manifests),
            raw=dump_json(doc),
            annotations=MappingProxyType(dict(annotations or {})),
        )

    @property
    def digest(self) -> Digest:
        """The sha256 digest of :attr:`raw`."""
        return Digest.of(self.raw)


def parse_document(
    raw: bytes, media_type: str, *, where: str | None = None
) -> Manifest | Index | None:
    """Parse ``raw`` as the manifest or index that ``media_type`` announces.

    When the media type is empty or not a manifest/index type, the document's own
    ``mediaType`` field, then its shape (``manifests`` vs ``config``), decides; anything
    else (a config, a layer, an artifact blob) gives ``None``.

    :raises FormatError: when the document claims to be a manifest or index but is
        malformed.
    """
    kind = media_type
    if kind not in mt.INDEX_MEDIA_TYPES | mt.MANIFEST_MEDIA_TYPES:
        if raw.lstrip()[:1] != b"{":
            return None
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return None
        if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
            return None
        kind = doc.get("mediaType") or ""
        if not isinstance(kind, str):
            kind = ""
        if kind not in mt.INDEX_MEDIA_TYPES | mt.MANIFEST_MEDIA_TYPES:
            if "manifests" in doc:
                kind = mt.OCI_IMAGE_INDEX
            elif "config" in doc and "layers" in doc:
                kind = mt.OCI_IMAGE_MANIFEST
            else:
                return None
    if kind in mt.INDEX_MEDIA_TYPES:
        return Index.parse(raw, where=where)
    return Manifest.parse(raw, where=where)
