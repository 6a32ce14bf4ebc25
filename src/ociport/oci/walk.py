"""Walking the descriptor graph of an image: index -> manifests -> config and layers.

Used by every driver (what to import or export) and by validation. The walk reads
documents through a callable, so it works the same over a store, a staging area or an
archive being read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ociport.errors import (
    FormatError,
    InvalidDigestError,
    MissingContentError,
    OciportError,
    ReferenceLoopError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, Manifest, parse_document

__all__ = [
    "ImageGraph",
    "PlatformSelection",
    "choose_children",
    "reachable",
    "walk_image",
]

#: Annotations BuildKit puts on attestation manifests in an index.
_REFERENCE_TYPE: Final = "vnd.docker.reference.type"
_REFERENCE_DIGEST: Final = "vnd.docker.reference.digest"


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
        """``True`` required, ``False`` skipped, ``None`` taken if present."""
        if self.all_platforms:
            return True
        if not self.platforms or child.media_type in mt.INDEX_MEDIA_TYPES:
            return None
        return child.platform is not None and any(
            p.matches(child.platform) for p in self.platforms
        )


@dataclass(slots=True)
class ImageGraph:
    """What one root needs.

    :ivar root: the root descriptor.
    :ivar blobs: every needed blob by digest, root first, in walk order.
    :ivar manifests: each manifest reached, with its descriptor.
    :ivar missing: descriptors skipped because absent, with the digest that referenced
        each (an index child that is not present, a foreign layer left out).
    """

    root: Descriptor
    blobs: dict[Digest, Descriptor] = field(default_factory=dict)
    manifests: list[tuple[Descriptor, Manifest]] = field(default_factory=list)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)


def walk_image(
    root: Descriptor,
    read: Callable[[Descriptor], bytes],
    has: Callable[[Digest], bool],
    selection: PlatformSelection = PlatformSelection(),
) -> ImageGraph:
    """Find every blob ``root`` needs under ``selection``.

    :param read: returns a document's bytes (manifest or index).
    :param has: tells whether a blob is present.
    :raises MissingContentError: the root, a selected manifest, or a selected manifest's
        config or (distributable) layer is absent.
    :raises ReferenceLoopError: an index refers back to itself.
    :raises FormatError: a document is malformed, or no manifest of an index is selected.
    """
    graph = ImageGraph(root)
    _visit(root, None, read, has, selection, graph, ())
    return graph


def _visit(
    desc: Descriptor,
    parent: Digest | None,
    read: Callable[[Descriptor], bytes],
    has: Callable[[Digest], bool],
    selection: PlatformSelection,
    graph: ImageGraph,
    ancestors: tuple[Digest, ...],
) -> None:
    if desc.digest in ancestors:
        raise ReferenceLoopError(desc.digest)
    if not has(desc.digest):
        raise MissingContentError(desc.digest, parent or "index.json")
    graph.blobs.setdefault(desc.digest, desc)
    document = parse_document(read(desc), desc.media_type, where=str(desc.digest))
    if isinstance(document, Manifest):
        graph.manifests.append((desc, document))
        _visit_manifest(desc, document, has, graph)
    elif isinstance(document, Index):
        _visit_index(
            desc, document, read, has, selection, graph, (*ancestors, desc.digest)
        )


def _visit_manifest(
    desc: Descriptor,
    manifest: Manifest,
    has: Callable[[Digest], bool],
    graph: ImageGraph,
) -> None:
    for blob in manifest.blobs():
        if has(blob.digest):
            graph.blobs.setdefault(blob.digest, blob)
        elif blob.media_type in mt.NON_DISTRIBUTABLE_LAYERS:
            graph.missing.append((blob, desc.digest))
        else:
            raise MissingContentError(blob.digest, desc.digest)


def _visit_index(
    desc: Descriptor,
    index: Index,
    read: Callable[[Descriptor], bytes],
    has: Callable[[Digest], bool],
    selection: PlatformSelection,
    graph: ImageGraph,
    ancestors: tuple[Digest, ...],
) -> None:
    chosen = choose_children(index.manifests, selection)
    taken = 0
    for child in index.manifests:
        wanted = chosen.get(child.digest)
        if wanted is False:
            continue
        if wanted is None and not has(child.digest):
            graph.missing.append((child, desc.digest))
            continue
        _visit(child, desc.digest, read, has, selection, graph, ancestors)
        taken += 1
    if index.manifests and not taken:
        wanted_text = ", ".join(map(str, selection.platforms)) or "any platform"
        raise FormatError(
            f"index {desc.digest} has no manifest present for {wanted_text}"
        )


def choose_children(
    children: Sequence[Descriptor], selection: PlatformSelection
) -> dict[Digest, bool | None]:
    """For each child of an index: ``True`` required, ``False`` skipped, ``None`` taken
    when present. Attestation manifests follow the manifest they describe."""
    chosen = {child.digest: selection.wants(child) for child in children}
    for child in children:
        # An attestation manifest goes with the manifest it describes.
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
    read: Callable[[Descriptor], bytes],
    has: Callable[[Digest], bool],
) -> set[Digest]:
    """Every present blob reachable from ``roots``: children, configs, layers, subjects.

    For garbage collection: absent blobs are passed over (a partial image keeps what it
    has), but a present manifest or index that cannot be read or parsed raises, since
    whatever it references would otherwise look unreferenced and be deleted.

    :raises OciportError: a present manifest or index is corrupt, oversized or malformed.
    """
    seen: set[Digest] = set()
    stack = list(roots)
    while stack:
        desc = stack.pop()
        if desc.digest in seen or not has(desc.digest):
            continue
        seen.add(desc.digest)
        document = _document_of(desc, read)
        if isinstance(document, Manifest):
            stack.extend(document.blobs())
        elif isinstance(document, Index):
            stack.extend(document.manifests)
        if document is not None and document.subject is not None:
            stack.append(document.subject)
    return seen


def _document_of(
    desc: Descriptor, read: Callable[[Descriptor], bytes]
) -> Manifest | Index | None:
    if desc.media_type in mt.INDEX_MEDIA_TYPES | mt.MANIFEST_MEDIA_TYPES:
        return parse_document(read(desc), desc.media_type, where=str(desc.digest))
    if desc.media_type:
        return None  # a config, a layer, an artifact blob: never a document
    try:
        # No media type (some index.json entries): a document if it parses as one.
        return parse_document(read(desc), "", where=str(desc.digest))
    except OciportError:
        return None
