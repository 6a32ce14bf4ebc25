"""What the API's jobs return: images named in a store, and the results of import,
export and copy."""

from __future__ import annotations

from dataclasses import dataclass, field

from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest

__all__ = ["CopyResult", "ExportResult", "Image", "ImportResult"]


@dataclass(frozen=True, slots=True)
class Image:
    """A named image in the store.

    :ivar name: its full reference, e.g. ``docker.io/library/busybox:1.36``.
    :ivar target: the root descriptor (a manifest or an index).
    """

    name: str
    target: Descriptor


@dataclass(slots=True)
class ImportResult:
    """What :meth:`~ociport.api.ImageStore.import_image` did.

    :ivar images: the images named, in source order.
    :ivar referrers: the referrers (signatures, SBOMs, attestations) imported with
        them, as the store records them: unnamed ``index.json`` entries (media type,
        digest, size, artifact type, annotations).
    :ivar missing: content absent from the source and skipped (other platforms).
    :ivar notes: things the user should hear (digest names given, ...).
    :ivar blobs_committed: blobs newly added to the store.
    :ivar bytes_committed: their total size in bytes.
    """

    images: list[Image] = field(default_factory=list)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    referrers: list[Descriptor] = field(default_factory=list)
    blobs_committed: int = 0
    bytes_committed: int = 0


@dataclass(slots=True)
class ExportResult:
    """What :meth:`~ociport.api.ImageStore.export_images` wrote.

    :ivar entries: the ``index.json`` entries written for the images.
    :ivar referrers: the referrers written with them, as unnamed ``index.json``
        entries (a cosign-tagged one named by its tag).
    :ivar missing: content absent from the store and left out (partial images).
    :ivar notes: things the user should hear (a knowingly partial archive, ...).
    :ivar blobs_exported: blobs the export holds (manifests, configs, layers, each
        once; for a format holding one platform per image, those of every platform
        exported).
    :ivar bytes_exported: their total size in bytes.
    """

    entries: list[Descriptor] = field(default_factory=list)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blobs_exported: int = 0
    bytes_exported: int = 0
    referrers: list[Descriptor] = field(default_factory=list)


@dataclass(slots=True)
class CopyResult:
    """What :func:`~ociport.api.copy_image` wrote.

    :ivar entries: the destination's ``index.json`` entries for the images (a
        platform-filtered image points at its new index); for a ``store:NAME``
        destination, the image as the store names it.
    :ivar referrers: the referrers (signatures, SBOMs, attestations) written with
        them, as unnamed ``index.json`` entries.
    :ivar missing: content absent from the source and left out (other platforms, a
        partial image), with the digest that referenced it.
    :ivar notes: things the user should hear (layers re-encoded, referrers left out).
    :ivar blobs_copied: blobs the destination got (manifests, configs, layers, each
        once); for a ``store:NAME`` destination, those newly committed.
    :ivar bytes_copied: their total size in bytes.
    """

    entries: list[Descriptor] = field(default_factory=list)
    referrers: list[Descriptor] = field(default_factory=list)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blobs_copied: int = 0
    bytes_copied: int = 0

    @classmethod
    def of_export(cls, result: ExportResult) -> CopyResult:
        """A copy from ``store:NAME``: what the export wrote."""
        return cls(
            result.entries,
            result.referrers,
            result.missing,
            result.notes,
            result.blobs_exported,
            result.bytes_exported,
        )

    @classmethod
    def of_import(cls, result: ImportResult) -> CopyResult:
        """A copy to ``store:NAME``: the image named, and the blobs newly committed."""
        return cls(
            [image.target for image in result.images],
            result.referrers,
            result.missing,
            result.notes,
            result.blobs_committed,
            result.bytes_committed,
        )
