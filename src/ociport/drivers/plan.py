"""ExportPlan: everything the engine decided for an export, handed to the driver."""

from __future__ import annotations

from dataclasses import dataclass, field

from ociport.content.helpers import ProgressCallback
from ociport.content.interfaces import ReadableContent
from ociport.errors import FormatError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME, Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import Manifest
from ociport.oci.walk import ImageGraph

__all__ = ["ExportPlan"]

_IMAGE_CONFIGS = frozenset({mt.OCI_IMAGE_CONFIG, mt.DOCKER_CONFIG})


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
    :ivar progress: called with byte counts as blobs are written.
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
