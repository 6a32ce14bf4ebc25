"""Converting an image between Docker and OCI media types and layer compressions.

Each layer is read once: its real compression is taken from its magic bytes (not its
label), it is decompressed to check its diff ID against the config, and, when another
compression is asked for, recompressed on the way into a new blob. Layers whose label
and bytes disagree (``tar+gzip`` on a plain tar, as skopeo 1.9 writes with
``--dest-decompress``) are reported and relabelled. Configs keep their bytes (diff IDs
are over uncompressed layers); manifests and indexes are rewritten, so the converted
image gets new digests and a new name while the original stays as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ociport.content.helpers import ContentDocuments, read_blob, write_blob
from ociport.content.interfaces import ContentStore
from ociport.content.leases import Lease
from ociport.errors import BlobExistsError, FormatError, UnsupportedMediaTypeError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import CHUNK_SIZE, Digest, Hasher
from ociport.oci.manifest import Index, Manifest, dump_json, parse_json
from ociport.oci.walk import walk_image
from ociport.streams.compression import (
    LAYER_COMPRESSION,
    Compressor,
    detect_compression,
)

__all__ = ["Compression", "ConvertResult", "ManifestFormat", "Relabel", "convert_image"]

ManifestFormat = Literal["oci", "docker"]
Compression = Literal["gzip", "zstd", "none"]


@dataclass(frozen=True, slots=True)
class Relabel:
    """A layer whose media type changed.

    :ivar before: the original descriptor.
    :ivar after: the new one.
    :ivar reason: ``"mislabelled"`` (label and bytes disagreed), ``"recompressed"`` or
        ``"media type"`` (only the manifest format changed).
    """

    before: Descriptor
    after: Descriptor
    reason: str


@dataclass(slots=True)
class ConvertResult:
    """The converted root and what changed on the way."""

    root: Descriptor
    relabelled: list[Relabel] = field(default_factory=list)


def convert_image(
    store: ContentStore,
    root: Descriptor,
    *,
    manifest_format: ManifestFormat | None = None,
    compression: Compression | None = None,
    lease: Lease | None = None,
) -> ConvertResult:
    """Convert the image at ``root``; returns the new root (not yet named).

    :param lease: the caller's lease on ``store``: the image's blobs and each new one
        are held in it before they are relied on (a concurrent gc spares them); the
        caller releases it once the new root is named.

    :param manifest_format: ``"oci"`` or ``"docker"``; ``None`` keeps each manifest's
        (a Docker one becomes OCI when its layers become zstd).
    :param compression: ``"gzip"``, ``"zstd"`` or ``"none"``; ``None`` keeps each
        layer's real compression.
    :raises FormatError: a layer's uncompressed digest differs from its diff ID, a
        document is malformed, or Docker manifests with zstd layers are asked for.
    :raises MissingContentError, BlobNotFoundError: the image is incomplete.
    """
    if manifest_format == "docker" and compression == "zstd":
        raise FormatError(
            "Docker schema 2 manifests cannot list zstd layers; use --oci"
        )
    converter = _Converter(store, manifest_format, compression, lease)
    return ConvertResult(converter.convert(root), converter.relabelled)


class _Converter:
    def __init__(
        self,
        store: ContentStore,
        fmt: ManifestFormat | None,
        compression: Compression | None,
        lease: Lease | None,
    ) -> None:
        self.store = store
        self.fmt = fmt
        self.compression = compression
        self.relabelled: list[Relabel] = []
        self.hold = lease.hold if lease is not None else _hold_nothing

    def convert(self, root: Descriptor) -> Descriptor:
        """Convert every manifest ``root`` reaches, then the indexes above them
        (children first), and return the new root."""
        graph = walk_image(root, ContentDocuments(self.store))
        self.hold(graph.blobs)
        done: dict[Digest, Descriptor] = {}
        for desc, manifest in graph.manifests:
            done[desc.digest] = self._manifest(desc, manifest)
        for desc, index in reversed(graph.indexes):
            done[desc.digest] = self._index(desc, index, done)
        if root.digest not in done:
            raise UnsupportedMediaTypeError(
                root.media_type or "unknown", member=str(root.digest)
            )
        return done[root.digest]

    def _index(
        self, desc: Descriptor, index: Index, done: dict[Digest, Descriptor]
    ) -> Descriptor:
        children = [
            replace(child, media_type=new.media_type, digest=new.digest, size=new.size)
            if (new := done.get(child.digest)) is not None
            else child
            for child in index.manifests
        ]
        doc = json.loads(index.raw)
        doc["manifests"] = [c.to_json() for c in children]
        fmt = self.fmt or (
            "docker" if index.media_type == mt.DOCKER_MANIFEST_LIST else "oci"
        )
        doc["mediaType"] = (
            mt.DOCKER_MANIFEST_LIST if fmt == "docker" else mt.OCI_IMAGE_INDEX
        )
        return self._put(replace(desc, media_type=doc["mediaType"]), dump_json(doc))

    def _manifest(self, desc: Descriptor, manifest: Manifest) -> Descriptor:
        fmt: ManifestFormat = self.fmt or (
            # A Docker manifest cannot list zstd layers: recompressing one to zstd makes
            # it an OCI manifest.
            "docker"
            if manifest.media_type == mt.DOCKER_MANIFEST_V2
            and self.compression != "zstd"
            else "oci"
        )
        config_doc = parse_json(
            read_blob(self.store, manifest.config), where=str(manifest.config.digest)
        )
        diff_ids = (config_doc.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(manifest.layers):
            raise FormatError(
                f"config lists {len(diff_ids)} diff IDs for {len(manifest.layers)} layers",
                member=str(manifest.config.digest),
            )
        layers = [
            self._layer(layer, fmt, diff_id)
            for layer, diff_id in zip(manifest.layers, diff_ids, strict=True)
        ]
        config = replace(
            manifest.config,
            media_type=mt.DOCKER_CONFIG if fmt == "docker" else mt.OCI_IMAGE_CONFIG,
        )
        doc: dict[str, Any] = json.loads(manifest.raw)
        doc["mediaType"] = (
            mt.DOCKER_MANIFEST_V2 if fmt == "docker" else mt.OCI_IMAGE_MANIFEST
        )
        doc["config"] = config.to_json()
        doc["layers"] = [layer.to_json() for layer in layers]
        return self._put(replace(desc, media_type=doc["mediaType"]), dump_json(doc))

    def _layer(
        self, layer: Descriptor, fmt: ManifestFormat, diff_id: str
    ) -> Descriptor:
        if layer.media_type not in LAYER_COMPRESSION:
            return layer
        with self.store.open_blob(layer) as stream:
            actual = detect_compression(stream.read(8))
        if actual not in (None, "gzip", "zstd"):
            raise UnsupportedMediaTypeError(
                f"{actual}-compressed layer", member=str(layer.digest)
            )
        wanted = (
            actual
            if self.compression is None
            else (None if self.compression == "none" else self.compression)
        )
        new = _recompress(
            self.store, layer, actual, wanted, Digest.parse(diff_id), self.hold
        )
        media_type = mt.layer_media_type(wanted, oci=fmt == "oci")
        assert media_type is not None  # wanted is None, gzip or zstd
        new = replace(new, media_type=media_type)
        if new != layer:
            reason = (
                "mislabelled"
                if LAYER_COMPRESSION[layer.media_type] != actual
                else ("recompressed" if new.digest != layer.digest else "media type")
            )
            self.relabelled.append(Relabel(layer, new, reason))
        return new

    def _put(self, desc: Descriptor, raw: bytes) -> Descriptor:
        new = replace(desc, digest=Digest.of(raw), size=len(raw))
        self.hold([new.digest])
        write_blob(self.store, io.BytesIO(raw), new)
        return new


def _hold_nothing(digests: Iterable[Digest]) -> None:
    """The hold of a store without leases."""


def _decompressor(kind: str | None) -> Callable[[bytes], bytes]:
    if kind == "gzip":
        return zlib.decompressobj(wbits=31).decompress
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress
    return lambda data: data


def _recompress(
    store: ContentStore,
    layer: Descriptor,
    actual: str | None,
    wanted: str | None,
    diff_id: Digest,
    hold: Callable[[Iterable[Digest]], None],
) -> Descriptor:
    """Check ``layer``'s diff ID and, if ``wanted`` differs from ``actual``, write it anew."""
    plain = Hasher(diff_id.algorithm)
    decompress = _decompressor(actual)
    same = actual == wanted
    writer = None if same else store.writer(ingest_id=f"convert-{uuid.uuid4().hex}")
    try:
        compressor = Compressor(wanted, writer.write) if writer is not None else None
        with store.open_blob(layer, verify=True) as stream:
            while chunk := stream.read(CHUNK_SIZE):
                data = decompress(chunk)
                plain.update(data)
                if compressor is not None:
                    compressor.feed(data)
        if plain.digest() != diff_id:
            raise FormatError(
                f"layer {layer.digest} decompresses to {plain.digest()}, not its diff ID {diff_id}"
            )
        if writer is None or compressor is None:
            return layer
        compressor.close()
        digest, size = writer.digest, writer.offset
        hold([digest])
        with contextlib.suppress(BlobExistsError):  # the same bytes are there already
            writer.commit()
        return replace(layer, digest=digest, size=size)
    finally:
        if writer is not None:
            writer.abort()
