"""ExportPlan: everything the engine decided for an export, handed to the driver."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ociport.content.helpers import ProgressCallback, read_blob
from ociport.content.interfaces import ReadableContent
from ociport.content.reencode import ReencodedContent
from ociport.errors import (
    BlobNotFoundError,
    FormatError,
    InvalidDigestError,
    UnsupportedMediaTypeError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME, Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import Manifest, dump_json, parse_json
from ociport.oci.walk import ImageGraph
from ociport.streams.compression import detect_compression

__all__ = ["ExportPlan"]

_IMAGE_CONFIGS = frozenset({mt.OCI_IMAGE_CONFIG, mt.DOCKER_CONFIG})
#: Layer annotations that describe the compressed bytes (zstd:chunked's table of
#: contents), wrong once a layer is re-encoded.
_BLOB_ANNOTATIONS: Final = ("io.github.containers.zstd-chunked.",)
#: The non-distributable layer type for a compression (Docker's foreign layers are gzip).
_NON_DISTRIBUTABLE: Final[dict[str | None, str]] = {
    None: mt.OCI_LAYER_NONDISTRIBUTABLE_TAR,
    "gzip": mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP,
    "zstd": mt.OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD,
}


@dataclass(slots=True)
class ExportPlan:
    """An export, decided: what to write, in which order, from where.

    :ivar entries: the target's ``index.json`` entries in order, annotated with their
        names (``io.containerd.image.name``, ``org.opencontainers.image.ref.name``); a
        platform-filtered image points at a new index that lists just those platforms.
    :ivar blobs: every blob the entries reach, once each, sorted by digest.
    :ivar content: where to read blobs (the store, plus filtered indexes, minus what
        the export leaves out).
    :ivar graphs: the walk of each entry over ``content``, by entry digest.
    :ivar missing: content left out (partial images), with the digest referencing it.
    :ivar platforms: the platforms the user asked for, in order.
    :ivar all_platforms: the user asked for every platform.
    :ivar members: ``(name, bytes)`` files plugins contribute (Docker's
        ``manifest.json``); tar formats write them after ``index.json``.
    :ivar progress: called with byte counts as blobs are written; ``None`` in plans
        the engine makes, which reports progress itself as blobs are read from
        :attr:`content` (drivers passing it on to ``copy_stream`` or
        ``add_blob_member`` need not change).
    :ivar notes: remarks for the user, reported with the export's result (the engine's,
        and those :meth:`reencode_layers` adds while the driver writes).
    :ivar referrers: the referrers (signatures, SBOMs, attestations) of what the
        entries reach, as unnamed ``index.json`` entries (image-spec 1.1 ``subject``;
        the shape ``oras`` and containerd write); their blobs are in :attr:`blobs`.
        Empty for formats that do not :attr:`~ImageDriver.holds_referrers`.
    """

    entries: list[Descriptor]
    blobs: list[Descriptor]
    content: ReadableContent
    graphs: dict[Digest, ImageGraph]
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    platforms: tuple[Platform, ...] = ()
    all_platforms: bool = False
    members: list[tuple[str, bytes]] = field(default_factory=list)
    progress: ProgressCallback | None = None
    notes: list[str] = field(default_factory=list)
    referrers: list[Descriptor] = field(default_factory=list)
    _reencoded: ReencodedContent | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _noted: set[Digest] = field(
        default_factory=set, init=False, repr=False, compare=False
    )

    def index_entries(self) -> list[Descriptor]:
        """What an ``index.json`` of this export lists: :attr:`entries`, then
        :attr:`referrers`."""
        return [*self.entries, *self.referrers]

    def image_manifests(self, entry: Descriptor) -> list[tuple[Descriptor, Manifest]]:
        """The image manifests (not artifacts, not attestations) ``entry`` reaches in
        this export, each with its descriptor."""
        return [
            (desc, manifest)
            for desc, manifest in self.graphs[entry.digest].manifests
            if manifest.config.media_type in _IMAGE_CONFIGS
        ]

    def manifest_for(self, entry: Descriptor) -> Manifest | None:
        """The one manifest a single-platform view shows for ``entry`` (Docker's
        ``manifest.json``): the only one, else the first platform asked for, else
        this machine's; ``None`` when none matches."""
        images = self.image_manifests(entry)
        if len(images) == 1:
            return images[0][1]
        wanted = self.platforms[0] if self.platforms else Platform.host()
        for desc, manifest in images:
            if desc.platform is None or wanted.matches(desc.platform):
                return manifest
        return None

    def single_manifest(self, entry: Descriptor) -> Manifest:
        """As :meth:`manifest_for`, for formats that hold one platform per image.

        :raises FormatError: the export keeps several platforms of ``entry`` on
            purpose (``--all-platforms``, several ``--platform``), or none matches.
        """
        name = entry.annotations.get(ANNOTATION_IMAGE_NAME) or str(entry.digest)
        images = self.image_manifests(entry)
        platforms = ", ".join(str(d.platform) for d, _ in images if d.platform)
        if len(images) > 1 and (self.all_platforms or len(self.platforms) > 1):
            raise FormatError(
                f"this format holds one platform per image and {name} has "
                f"{platforms}: pass one --platform"
            )
        manifest = self.manifest_for(entry)
        if manifest is None:
            wanted = self.platforms[0] if self.platforms else Platform.host()
            raise FormatError(
                f"{name} has no image manifest for {wanted} (it has "
                f"{platforms or 'none'}): pass --platform"
            )
        return manifest

    def reencode_layers(
        self, manifest: Manifest, accepted: Sequence[str | None], *, reader: str
    ) -> Manifest:
        """``manifest`` as a format holding only ``accepted`` layer compressions can
        hold it: each layer whose bytes (not its media type) are compressed otherwise
        is re-encoded as ``accepted[0]``.

        For formats whose readers take only some compressions (``docker load`` before
        Docker 23 reads no zstd layer). A re-encoded layer keeps its diff ID (the
        uncompressed tar is the same), which is checked against the config while the
        layer is read, once, front to back; the new bytes wait in a temporary file
        until the export ends (:meth:`close`), and :attr:`content` serves them from
        this call on: read blobs through ``plan.content`` after it. Each layer
        re-encoded adds one note (``layer <digest> is zstd: written gzip-compressed,
        which <reader> reads``). Layers the export leaves out (:attr:`missing`) stay
        as they are.

        :param manifest: an image manifest of this export (as :meth:`single_manifest`
            or :meth:`image_manifests` give it).
        :param accepted: the compressions the format holds, by name (``None``:
            uncompressed; ``"gzip"``, ``"zstd"``), the one to re-encode into first.
        :param reader: who reads the format, for the note (``"docker load"``).
        :returns: ``manifest`` itself when every layer is accepted; else a manifest with
            the new layer descriptors (media type for the new compression, the new
            sha256 digest and size in bytes; zstd:chunked annotations dropped), whose
            ``raw`` and digest are new. It is not a blob of the export: for formats that
            list layers themselves (Docker's ``manifest.json``), not for those that
            write manifests.
        :raises FormatError: a layer decompresses to another digest than its diff ID,
            the config lists no diff ID for it, or its compressed data is corrupt.
        :raises DigestMismatchError, SizeMismatchError: a stored layer is corrupt.
        :raises UnsupportedMediaTypeError: ``accepted[0]`` is ``"bzip2"`` or ``"xz"``.
        :raises ValueError: ``accepted`` is empty.
        """
        if not accepted:
            raise ValueError("accepted lists no compression")
        target = accepted[0]
        foreign = self._foreign_layers(manifest, accepted)
        if not foreign:
            return manifest
        diff_ids = self._diff_ids(manifest)
        if len(diff_ids) != len(manifest.layers):
            raise FormatError(
                f"the image config lists {len(diff_ids)} diff IDs for "
                f"{len(manifest.layers)} layers: its layers cannot be re-encoded",
                member=str(manifest.config.digest),
            )
        oci = manifest.media_type != mt.DOCKER_MANIFEST_V2
        doc: dict[str, Any] = json.loads(manifest.raw)
        for position, layer in enumerate(manifest.layers):
            if layer.digest not in foreign:
                continue
            new = self._reencoder().reencode(
                layer,
                diff_ids[position],
                target,
                media_type=_media_type(layer.media_type, target, oci=oci),
            )
            new = replace(
                new,
                annotations={
                    key: value
                    for key, value in layer.annotations.items()
                    if not key.startswith(_BLOB_ANNOTATIONS)
                },
                urls=(),  # urls and embedded data give the original bytes
                data=None,
            )
            doc["layers"][position] = new.to_json()
            if layer.digest not in self._noted:
                self._noted.add(layer.digest)
                written = f"{target}-compressed" if target else "uncompressed"
                self.notes.append(
                    f"layer {layer.digest} is {foreign[layer.digest] or 'uncompressed'}"
                    f": written {written}, which {reader} reads"
                )
        return Manifest.parse(dump_json(doc), where=str(manifest.digest))

    def close(self) -> None:
        """Release what the export holds (layers re-encoded into a temporary file);
        the engine calls it once the driver is done. Idempotent."""
        if self._reencoded is not None:
            self._reencoded.close()

    def _reencoder(self) -> ReencodedContent:
        if self._reencoded is None:
            self._reencoded = ReencodedContent(self.content)
            self.content = self._reencoded
        return self._reencoded

    def _foreign_layers(
        self, manifest: Manifest, accepted: Sequence[str | None]
    ) -> dict[Digest, str | None]:
        """The layers of ``manifest`` compressed other than ``accepted`` (by their first
        bytes), with their compression; those the export lacks are left out."""
        absent = {desc.digest for desc, _ in self.missing}
        foreign: dict[Digest, str | None] = {}
        for layer in manifest.layers:
            if layer.digest in absent or layer.digest in foreign:
                continue
            try:
                with self.content.open_blob(layer) as stream:
                    kind = detect_compression(stream.read(8))
            except BlobNotFoundError:
                continue
            if kind not in accepted:
                foreign[layer.digest] = kind
        return foreign

    def _diff_ids(self, manifest: Manifest) -> list[Digest]:
        config = parse_json(
            read_blob(self.content, manifest.config),
            where=str(manifest.config.digest),
        )
        rootfs = config.get("rootfs")
        diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        if not isinstance(diff_ids, list):
            raise FormatError(
                "the image config lists no diff IDs (rootfs.diff_ids): its layers "
                "cannot be re-encoded",
                member=str(manifest.config.digest),
            )
        try:
            return [Digest.parse(d) for d in diff_ids]
        except InvalidDigestError as exc:
            raise FormatError(
                f"bad diff ID in the image config: {exc}",
                member=str(manifest.config.digest),
            ) from exc


def _media_type(media_type: str, compression: str | None, *, oci: bool) -> str:
    """The media type of a layer of type ``media_type`` re-encoded as ``compression``.

    :raises UnsupportedMediaTypeError: no layer type names ``compression`` (bzip2, xz).
    """
    if media_type == mt.DOCKER_FOREIGN_LAYER and compression == "gzip":
        return media_type
    if media_type in mt.NON_DISTRIBUTABLE_LAYERS:
        new = _NON_DISTRIBUTABLE.get(compression)
    else:
        new = mt.layer_media_type(compression, oci=oci)
    if new is None:
        raise UnsupportedMediaTypeError(f"{compression}-compressed layer")
    return new
