"""Referrers in the jobs, once for every format: which of a source's referrers follow
the images imported, which of the store's follow the images exported, and which the
store keeps (:mod:`ociport.oci.referrers` holds the OCI rules).

A source lists a referrer as an unnamed ``index.json`` entry (``oras``, containerd),
under a link tag (cosign's ``sha256-<hex>.sig``; an index of referrers tagged
``sha256-<hex>``, the distribution-spec's fallback), or only as a blob of the layout
(``oras attach`` to a layout whose ``index.json`` another tool rewrote). Every one whose
subject is in the closure of an imported image is imported with it, and so on
recursively; the store records each as an unnamed ``index.json`` entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ociport.content.helpers import ContentDocuments
from ociport.content.interfaces import ContentStore, ReadableImages
from ociport.errors import OciportError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, parse_document
from ociport.oci.referrers import (
    Referrer,
    filter_referrers,
    follow_referrers,
    is_named,
    listed_descriptor,
    listed_referrers,
    parse_link_tag,
    read_referrer,
)
from ociport.oci.walk import DocumentProvider, ImageGraph, reachable, walk_image

__all__ = [
    "SCAN_LIMIT",
    "AttachedReferrers",
    "attach_referrers",
    "classify_roots",
    "listed_closure",
    "live_entries",
    "referrers_of",
    "scan_blobs",
    "store_referrers",
]

#: Largest blob no ``index.json`` entry lists that an import reads as a possible
#: referrer, in bytes (referrer manifests are a few KiB).
SCAN_LIMIT: Final = 64 << 10


@dataclass(slots=True)
class AttachedReferrers:
    """The referrers that follow some images.

    :ivar taken: the referrers, as entries of the target's ``index.json``, in the
        order they were found (a subject before its referrers).
    :ivar graphs: the walk of each, for staging or writing their blobs.
    """

    taken: list[Descriptor] = field(default_factory=list)
    graphs: list[ImageGraph] = field(default_factory=list)


def classify_roots(
    roots: Sequence[Descriptor], documents: DocumentProvider
) -> tuple[list[Descriptor], list[Referrer]]:
    """Split a source's ``index.json`` entries into images and referrers.

    Referrers are the unnamed entries whose manifest has a ``subject``, the entries
    tagged ``sha256-<hex>.sig|.att|.sbom`` (cosign), and the manifests listed by an
    index tagged ``sha256-<hex>`` (the referrers tag schema; the index itself is not
    kept). Every other entry is an image, named or not (a manifest tagged
    ``sha256-<hex>`` too).
    """
    images: list[Descriptor] = []
    referrers: list[Referrer] = []
    for root in roots:
        link = parse_link_tag(root.ref_name)
        listed = (
            _listed_by(root, documents) if link and link.is_referrers_index else None
        )
        if listed is not None:
            referrers.extend(listed)
            continue
        referrer = None if is_named(root) else read_referrer(root, documents)
        if referrer is None:
            images.append(root)
        else:
            referrers.append(referrer)
    return images, referrers


def _listed_by(
    index_entry: Descriptor, documents: DocumentProvider
) -> list[Referrer] | None:
    """The referrers an index of the referrers tag schema lists; ``None`` when the
    entry is no readable index (then it is taken for what it is, an image)."""
    try:
        raw = documents.read_document(index_entry)
        index = parse_document(raw, index_entry.media_type, where=str(index_entry))
    except OciportError:
        return None
    if not isinstance(index, Index):
        return None
    found = (read_referrer(child, documents) for child in index.manifests)
    return [referrer for referrer in found if referrer is not None]


def listed_closure(
    entries: Iterable[Descriptor], documents: DocumentProvider
) -> set[Digest]:
    """Every blob ``entries`` reach, as far as they can be walked: what a source's
    ``index.json`` reaches is no unlisted referrer, so :func:`scan_blobs` passes it
    over. Walking reads manifests and indexes only, where reading every small blob
    would read configs and layers too. An entry that cannot be walked (nested too
    deep) is passed over: its small blobs are then read as candidates."""
    reached: set[Digest] = set()
    for entry in entries:
        try:
            graph = walk_image(
                entry, documents, tolerate_missing=True, tolerate_errors=True
            )
        except OciportError:
            continue
        reached.update(graph.blobs)
    return reached


def scan_blobs(
    blobs: Iterable[tuple[Digest, int]],
    documents: DocumentProvider,
    known: set[Digest],
) -> list[Referrer]:
    """The referrers among blobs that no ``index.json`` entry lists: each blob of at
    most :data:`SCAN_LIMIT` bytes not in ``known`` is read, and kept when it is a
    manifest or index with a ``subject``.

    :param blobs: ``(digest, size in bytes)`` of every blob the source holds.
    """
    found = []
    for digest, size in blobs:
        if digest in known or size > SCAN_LIMIT:
            continue
        referrer = read_referrer(Descriptor("", digest, size), documents)
        if referrer is not None:
            found.append(referrer)
    return found


def attach_referrers(
    graphs: Sequence[ImageGraph],
    candidates: Sequence[Referrer],
    documents: DocumentProvider,
    artifact_types: Sequence[str] = (),
    on_incomplete: Callable[[Referrer, OciportError], object] | None = None,
    subjects: Iterable[Digest] = (),
) -> AttachedReferrers:
    """The candidates that refer, directly or through another one taken, to a
    manifest or index ``graphs`` reach (or to one of ``subjects``), each walked over
    ``documents``.

    :param artifact_types: take only the direct referrers of these artifact types
        (the referrers of a referrer taken are all taken).
    :param on_incomplete: told of each candidate left out because its walk failed
        (content absent or malformed); the images are not affected.
    :param subjects: more manifests whose referrers to take (ones the target already
        holds).
    """
    unique = list({r.descriptor.digest: r for r in candidates}.values())
    reached = {digest for graph in graphs for digest in graph.blobs}
    reached.update(subjects)
    result = AttachedReferrers()

    def closure(referrer: Referrer) -> set[Digest] | None:
        try:
            graph = walk_image(referrer.descriptor, documents)
        except OciportError as exc:
            if on_incomplete is not None:
                on_incomplete(referrer, exc)
            return None
        result.graphs.append(graph)
        return set(graph.blobs)

    fresh = [r for r in unique if r.descriptor.digest not in reached]
    taken = follow_referrers(reached, fresh, closure, artifact_types)
    result.taken = [r.descriptor for r in taken]
    return result


def store_referrers(content: ReadableImages) -> list[Referrer]:
    """Every referrer the store holds: its unnamed ``index.json`` entries with a
    subject, and its named images whose manifest has a ``subject`` (an SBOM someone
    also tagged is still a referrer, as the referrers API lists it), each once (an
    entry another tool wrote twice too)."""
    documents = ContentDocuments(content)
    listed, others = listed_referrers(content.read_index(), documents)
    named = (read_referrer(e, documents) for e in others if is_named(e))
    referrers: list[Referrer] = []
    seen: set[Digest] = set()
    for referrer in [*listed, *named]:
        if referrer is not None and referrer.descriptor.digest not in seen:
            seen.add(referrer.descriptor.digest)
            referrers.append(referrer)
    return referrers


def referrers_of(
    content: ContentStore, subject: Digest, artifact_types: Sequence[str] = ()
) -> list[Descriptor]:
    """The store's referrers of ``subject`` (direct ones only, as the referrers API
    answers), optionally of some artifact types, sorted by digest."""
    direct = [r for r in store_referrers(content) if r.subject == subject]
    found = filter_referrers(direct, artifact_types)
    listed = [listed_descriptor(r.descriptor) for r in found]
    return sorted(listed, key=lambda d: str(d.digest))


def live_entries(
    entries: Sequence[Descriptor], documents: DocumentProvider
) -> tuple[set[Digest], list[Descriptor]]:
    """What a store keeps: every blob reachable from its images (named entries, and
    unnamed ones that refer to nothing) and from the referrers of what they reach,
    recursively; and the referrer entries whose subject is not reached (to remove).

    :raises OciportError: a present manifest or index of an image is corrupt (see
        :func:`~ociport.oci.walk.reachable`).
    """
    referrers, roots = listed_referrers(entries, documents)
    reached = reachable(roots, documents)
    taken = follow_referrers(
        reached,
        referrers,
        lambda r: reachable([r.descriptor], documents, known=reached),
    )
    kept = {r.descriptor.digest for r in taken}
    return reached, [r.descriptor for r in referrers if r.descriptor.digest not in kept]
