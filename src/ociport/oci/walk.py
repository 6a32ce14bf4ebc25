"""The one walk over an image's descriptor graph: index -> manifests -> config, layers.

In the spirit of containerd's ``images.Walk``: every job that follows descriptors
(import selection, export planning, inspection, conversion, garbage collection,
validation) calls :func:`walk_image` over a :class:`DocumentProvider`, so a store, a
staging area and an archive being read are walked the same way.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from ociport.errors import (
    FormatError,
    InvalidDigestError,
    MissingContentError,
    OciportError,
    PlatformNotFoundError,
    ReferenceLoopError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, Manifest, parse_document

__all__ = [
    "MAX_DEPTH",
    "DocumentProvider",
    "ImageGraph",
    "PlatformSelection",
    "choose_children",
    "config_platform",
    "is_attestation",
    "reachable",
    "walk_image",
]

#: Annotations BuildKit puts on attestation manifests in an index.
_REFERENCE_TYPE: Final = "vnd.docker.reference.type"
_REFERENCE_DIGEST: Final = "vnd.docker.reference.digest"
_DOCUMENT_TYPES: Final = mt.INDEX_MEDIA_TYPES | mt.MANIFEST_MEDIA_TYPES
#: Deepest nesting of indexes a walk follows (real images nest one or two deep).
MAX_DEPTH: Final = 32


class DocumentProvider(Protocol):
    """What a walk reads from (containerd's ``content.Provider``, narrowed)."""

    def has(self, digest: Digest) -> bool:
        """Whether the blob is present."""

    def read_document(self, descriptor: Descriptor) -> bytes:
        """A manifest's or index's bytes, checked against the descriptor.

        :raises OciportError: absent, too large, or not the bytes the descriptor names.
        """


@dataclass(frozen=True, slots=True)
class PlatformSelection:
    """Which manifests of an index to take.

    :ivar platforms: take manifests matching one of these (and their attestations);
        a match whose content is missing is an error.
    :ivar all_platforms: take every manifest; any missing one is an error.

    With neither, every manifest whose blob is present is taken, and the absent ones are
    reported, not raised: this imports single-platform exports of multi-platform images.
    """

    platforms: tuple[Platform, ...] = ()
    all_platforms: bool = False

    def wants(self, child: Descriptor) -> bool | None:
        """``True`` required, ``False`` skipped, ``None`` taken if present.

        Attestation manifests (BuildKit's, platform ``unknown/unknown``) are no platform
        of their own: never required, taken with the manifest they describe.
        """
        if is_attestation(child):
            return None if self.all_platforms else (False if self.platforms else None)
        if self.all_platforms:
            return True
        if not self.platforms or child.media_type in mt.INDEX_MEDIA_TYPES:
            return None
        return child.platform is not None and any(
            p.matches(child.platform) for p in self.platforms
        )


@dataclass(slots=True)
class ImageGraph:
    """What one root needs, as the walk found it.

    :ivar root: the root descriptor.
    :ivar blobs: every present, needed blob by digest, root first, in walk order.
    :ivar manifests: each manifest reached, with its descriptor, in walk order.
    :ivar indexes: each index reached, with its descriptor, in walk order (parents
        before children).
    :ivar children: for each index reached, the children the walk took.
    :ivar missing: descriptors absent and allowed to be (an index child not selected as
        required, a foreign layer), with the digest that referenced each.
    :ivar skipped: index children the platform selection left out, with their index.
    :ivar errors: with ``tolerate_errors``, documents that could not be read or parsed.
    """

    root: Descriptor
    blobs: dict[Digest, Descriptor] = field(default_factory=dict)
    manifests: list[tuple[Descriptor, Manifest]] = field(default_factory=list)
    indexes: list[tuple[Descriptor, Index]] = field(default_factory=list)
    children: dict[Digest, list[Descriptor]] = field(default_factory=dict)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    skipped: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    errors: list[tuple[Descriptor, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Walk:
    provider: DocumentProvider
    selection: PlatformSelection
    tolerate_missing: bool
    tolerate_errors: bool
    subjects: bool
    graph: ImageGraph
    #: Subjects known to be reached already (not walked).
    known: Collection[Digest] = ()
    #: Subjects still to walk, with the digest of their referrer. Walked after the
    #: referrer, outside its ancestors: a chain of signatures is no nesting of indexes
    #: and may be as long as it is (no depth limit, no recursion).
    pending: list[tuple[Descriptor, Digest]] = field(default_factory=list)

    def visit(
        self, desc: Descriptor, parent: Digest | None, ancestors: tuple[Digest, ...]
    ) -> bool:
        """Walk ``desc``; ``False`` when it is absent and that was tolerated."""
        if desc.digest in ancestors:
            raise ReferenceLoopError(desc.digest)
        if len(ancestors) > MAX_DEPTH:
            raise FormatError(
                f"indexes nest more than {MAX_DEPTH} deep", member=str(desc.digest)
            )
        if not self._present(desc):
            if not self.tolerate_missing:
                raise MissingContentError(desc.digest, parent or "index.json")
            self.graph.missing.append((desc, parent or desc.digest))
            return False
        if desc.digest in self.graph.blobs:
            return True  # reached before: walked once
        self.graph.blobs[desc.digest] = desc
        document = self._document(desc)
        if isinstance(document, Manifest):
            self.graph.manifests.append((desc, document))
            self._manifest(desc, document)
        elif isinstance(document, Index):
            self.graph.indexes.append((desc, document))
            self._index(desc, document, (*ancestors, desc.digest))
        if self.subjects and document is not None and document.subject is not None:
            self.pending.append((document.subject, desc.digest))
        return True

    def walk(self, root: Descriptor) -> None:
        """Walk ``root``, then the subjects found, and theirs, one after another."""
        self.visit(root, None, ())
        while self.pending:
            subject, referrer = self.pending.pop()
            if (
                subject.digest not in self.graph.blobs
                and subject.digest not in self.known
                and self.provider.has(subject.digest)
            ):
                self.visit(subject, referrer, ())

    def _present(self, desc: Descriptor) -> bool:
        """Whether the provider has the blob, or the descriptor embeds it (``data``)."""
        return self.provider.has(desc.digest) or desc.embedded() is not None

    def _document(self, desc: Descriptor) -> Manifest | Index | None:
        if desc.media_type and desc.media_type not in _DOCUMENT_TYPES:
            return None  # a config, a layer, an artifact blob: never a document
        try:
            return parse_document(
                self.provider.read_document(desc),
                desc.media_type,
                where=str(desc.digest),
            )
        except OciportError as exc:
            if not desc.media_type:
                return None  # untyped and not a readable document: a plain blob
            if not self.tolerate_errors:
                raise
            self.graph.errors.append((desc, str(exc)))
            return None

    def _manifest(self, desc: Descriptor, manifest: Manifest) -> None:
        for blob in manifest.blobs():
            if self._present(blob):
                self.graph.blobs.setdefault(blob.digest, blob)
            elif (
                blob.media_type in mt.NON_DISTRIBUTABLE_LAYERS or self.tolerate_missing
            ):
                self.graph.missing.append((blob, desc.digest))
            else:
                raise MissingContentError(blob.digest, desc.digest)

    def _index(
        self, desc: Descriptor, index: Index, ancestors: tuple[Digest, ...]
    ) -> None:
        chosen = choose_children(index.manifests, self.selection)
        taken = self.graph.children.setdefault(desc.digest, [])
        for child in index.manifests:
            wanted = chosen.get(child.digest)
            if wanted is False:
                self.graph.skipped.append((child, desc.digest))
            elif wanted is None and not self._present(child):
                self.graph.missing.append((child, desc.digest))
            elif self.visit(child, desc.digest, ancestors):
                taken.append(child)
        if index.manifests and not taken and not self.tolerate_missing:
            asked = ", ".join(map(str, self.selection.platforms)) or "any platform"
            there = {str(c.platform) for c in index.manifests if c.platform}
            listed = ", ".join(sorted(there - {"unknown/unknown"}))
            if self.selection.platforms and not any(
                chosen.get(c.digest) is not False for c in index.manifests
            ):
                raise PlatformNotFoundError(
                    [str(p) for p in self.selection.platforms],
                    desc.digest,
                    sorted(there - {"unknown/unknown"}),
                )
            raise FormatError(
                f"index {desc.digest} has no manifest present for {asked}"
                + (f"; it has {listed}" if listed else "")
            )


def walk_image(
    root: Descriptor,
    provider: DocumentProvider,
    selection: PlatformSelection = PlatformSelection(),
    *,
    tolerate_missing: bool = False,
    tolerate_errors: bool = False,
    subjects: bool = False,
    known_subjects: Collection[Digest] = (),
) -> ImageGraph:
    """Find every blob ``root`` needs under ``selection``.

    :param tolerate_missing: record absent content in ``missing`` instead of raising
        (inspection, garbage collection).
    :param tolerate_errors: record unreadable or malformed documents in ``errors``
        instead of raising (inspection).
    :param subjects: also walk the ``subject`` of each manifest and index, when present
        (and theirs: a chain of referrers of any length).
    :param known_subjects: with ``subjects``, subjects not to walk (already reached).
    :raises MissingContentError: the root, a required manifest, or a manifest's config
        or (distributable) layer is absent.
    :raises ReferenceLoopError: an index refers back to itself.
    :raises FormatError: a document is malformed, or no manifest of an index is taken.
    """
    graph = ImageGraph(root)
    _Walk(
        provider,
        selection,
        tolerate_missing,
        tolerate_errors,
        subjects,
        graph,
        known_subjects,
    ).walk(root)
    return graph


def is_attestation(child: Descriptor) -> bool:
    """Whether an index child is an attestation manifest (BuildKit's provenance and SBOM
    manifests: ``vnd.docker.reference.type`` annotation, platform ``unknown/unknown``)."""
    if child.annotations.get(_REFERENCE_TYPE):
        return True
    platform = child.platform
    return platform is not None and (platform.os, platform.architecture) == (
        "unknown",
        "unknown",
    )


def choose_children(
    children: Sequence[Descriptor], selection: PlatformSelection
) -> dict[Digest, bool | None]:
    """For each child of an index: ``True`` required, ``False`` skipped, ``None`` taken
    when present. Attestation manifests follow the manifest they describe."""
    chosen = {child.digest: selection.wants(child) for child in children}
    for child in children:
        subject = child.annotations.get(_REFERENCE_DIGEST)
        if (
            child.annotations.get(_REFERENCE_TYPE)
            and subject
            and chosen[child.digest] is False
        ):
            try:
                described = Digest.parse(subject)
            except InvalidDigestError:
                continue
            if chosen.get(described):
                chosen[child.digest] = None
    return chosen


def reachable(
    roots: Sequence[Descriptor],
    provider: DocumentProvider,
    *,
    known: Collection[Digest] = (),
) -> set[Digest]:
    """Every present blob reachable from ``roots``: children, configs, layers, subjects.

    :param known: blobs reached already, with what they reach: a subject among them is
        not walked again (a signature of a kept SBOM adds only its own blobs).

    For garbage collection: absent blobs are passed over (a partial image keeps what it
    has), but a present manifest or index that cannot be read or parsed raises, since
    whatever it references would otherwise look unreferenced and be deleted.

    :raises OciportError: a present manifest or index is corrupt, oversized or malformed.
    """
    seen: set[Digest] = set()
    for root in roots:
        if root.digest not in seen:
            graph = walk_image(
                root,
                provider,
                tolerate_missing=True,
                subjects=True,
                known_subjects=known,
            )
            seen.update(graph.blobs)
    return seen


def config_platform(reader: DocumentProvider, config: Descriptor) -> str | None:
    """The platform an image config names (``os/architecture[/variant]``), if any."""
    if not reader.has(config.digest):
        return None
    try:
        doc = json.loads(reader.read_document(config))
        return str(Platform(doc["os"], doc["architecture"], doc.get("variant")))
    except (OciportError, ValueError, KeyError, TypeError):
        return None
