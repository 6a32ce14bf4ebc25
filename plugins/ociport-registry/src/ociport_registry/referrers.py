"""Referrers (signatures, SBOMs, attestations: image-spec 1.1 ``subject``) in a
registry, both ways (distribution-spec "Listing Referrers", "Pushing Manifests with
Subject", and the referrers tag schema for registries without the API, such as
distribution 2.8).

Pull: the referrers of the image's manifests are offered to the engine as further
roots, named by their tags as a layout names them, and the engine keeps those whose
subject it imports: from the referrers API where the registry has one (an index per
subject, put together here and tagged ``sha256-<hex>`` for the engine), else from the
repository's tags of the referrers tag schema (``sha256-<hex>``, an index of
referrers) and of cosign's (``sha256-<hex>.sig``, ``.att``, ``.sbom``).

Push: each referrer manifest is pushed by digest after its subject; one that cosign's
scheme tags keeps its tag; for the others, unless the registry says it lists them
itself (``OCI-Subject``), the ``sha256-<hex>`` index of their subject is created or
extended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from ociport.drivers.kit import (
    ANNOTATION_REF_NAME,
    Descriptor,
    Digest,
    Index,
    Manifest,
    mediatypes,
    parse_link_tag,
)
from ociport_registry.client.pull import (
    fetch_manifest,
    fetch_referrers,
    iter_tags,
)
from ociport_registry.client.push import put_manifest
from ociport_registry.client.session import RegistrySession, header
from ociport_registry.errors import RegistryNotFoundError

__all__ = ["link_tag", "push_referrers", "referrer_roots"]

#: Largest referrers index or referrer manifest read, in bytes.
_INDEX_CAP: Final = 4 << 20
#: Levels of referrers of referrers looked up (a signature of an SBOM is two).
_MAX_DEPTH: Final = 8


def link_tag(subject: Digest) -> str:
    """The referrers tag schema's tag for ``subject``'s referrers: ``sha256-<hex>``."""
    return f"{subject.algorithm}-{subject.encoded}"


def referrer_roots(
    session: RegistrySession, subjects: Iterable[Digest]
) -> tuple[list[Descriptor], dict[Digest, bytes]]:
    """Roots that hold the referrers of ``subjects``, and of those, recursively (a
    signature of an SBOM), each named by its tag (``org.opencontainers.image.ref.name``),
    and the documents read or made for them, by digest (so that they are not read
    again).

    :raises RegistryError: refused or unreachable.
    """
    wanted = list(dict.fromkeys(subjects))
    if not wanted:
        return [], {}
    first = fetch_referrers(session, wanted[0])
    found = _Found()
    if first is not None:
        found.walk(
            wanted, lambda subject: _api_index(session, subject, first, wanted[0])
        )
    else:
        links = _link_tags(session)
        found.walk(wanted, lambda subject: _tagged(session, links.get(subject, [])))
    return found.roots, found.documents


class _Found:
    """Referrer roots found so far, subject after subject."""

    def __init__(self) -> None:
        self.roots: list[Descriptor] = []
        self.documents: dict[Digest, bytes] = {}

    def walk(
        self,
        subjects: list[Digest],
        look: Callable[[Digest], list[tuple[Descriptor, bytes]]],
    ) -> None:
        """Look up the referrers of ``subjects``, then theirs, at most
        :data:`_MAX_DEPTH` levels deep."""
        seen = set(subjects)
        for _ in range(_MAX_DEPTH):
            following: list[Digest] = []
            for subject in subjects:
                for root, raw in look(subject):
                    self.roots.append(root)
                    self.documents[root.digest] = raw
                    following += _referrer_digests(root, raw)
            subjects = [d for d in dict.fromkeys(following) if d not in seen]
            seen.update(subjects)
            if not subjects:
                return


def _referrer_digests(root: Descriptor, raw: bytes) -> list[Digest]:
    """The referrers a root holds: an index's manifests, or the root itself."""
    if root.media_type in mediatypes.INDEX_MEDIA_TYPES:
        return [d.digest for d in Index.parse(raw, where=str(root.digest)).manifests]
    return [root.digest]


def _api_index(
    session: RegistrySession,
    subject: Digest,
    first: list[Descriptor],
    first_subject: Digest,
) -> list[tuple[Descriptor, bytes]]:
    """The referrers API's list for ``subject`` as an index tagged as the referrers
    tag schema would tag it (the engine reads such an index as referrers)."""
    listed = first if subject == first_subject else fetch_referrers(session, subject)
    if not listed:
        return []
    index = Index.build(listed)
    descriptor = Descriptor(mediatypes.OCI_IMAGE_INDEX, index.digest, len(index.raw))
    tag = {ANNOTATION_REF_NAME: link_tag(subject)}
    return [(descriptor.with_annotations(tag), index.raw)]


def _link_tags(session: RegistrySession) -> dict[Digest, list[str]]:
    """The repository's tags of the referrers tag schema and of cosign's, by the
    subject they name."""
    links: dict[Digest, list[str]] = {}
    for tag in iter_tags(session):
        link = parse_link_tag(tag)
        if link is not None:
            links.setdefault(link.subject, []).append(tag)
    return links


def _tagged(
    session: RegistrySession, tags: list[str]
) -> list[tuple[Descriptor, bytes]]:
    """The documents ``tags`` name, as roots named by them: cosign's referrers, and
    referrers indexes (a manifest tagged ``sha256-<hex>`` would be an image to the
    engine: it is left out)."""
    found: list[tuple[Descriptor, bytes]] = []
    for tag in tags:
        descriptor, raw = fetch_manifest(session, tag, max_size=_INDEX_CAP)
        link = parse_link_tag(tag)
        is_index = descriptor.media_type in mediatypes.INDEX_MEDIA_TYPES
        if link is not None and (link.suffix or is_index):
            found.append((descriptor.with_annotations({ANNOTATION_REF_NAME: tag}), raw))
    return found


def push_referrers(
    session: RegistrySession,
    referrers: Sequence[Descriptor],
    documents: dict[Digest, bytes],
) -> None:
    """Push ``referrers`` (their blobs and child documents are pushed), by digest,
    then their tags.

    :param documents: each referrer's bytes, by digest.
    :raises RegistryError: refused or unreachable.
    """
    by_subject: dict[Digest, list[Descriptor]] = {}
    for entry in referrers:
        raw = documents[entry.digest]
        answer = put_manifest(session, str(entry.digest), entry, raw)
        link = parse_link_tag(entry.ref_name)
        if link is not None and link.suffix:
            put_manifest(session, str(entry.ref_name), entry, raw)
            continue
        subject = _subject(entry, raw)
        if subject is not None and not header(answer, "OCI-Subject"):
            by_subject.setdefault(subject, []).append(_listed(entry))
    for subject, listed in by_subject.items():
        _extend_tag_index(session, subject, listed)


def _subject(entry: Descriptor, raw: bytes) -> Digest | None:
    where = str(entry.digest)
    if entry.media_type in mediatypes.INDEX_MEDIA_TYPES:
        subject = Index.parse(raw, where=where).subject
    else:
        subject = Manifest.parse(raw, where=where).subject
    return subject.digest if subject is not None else None


def _listed(entry: Descriptor) -> Descriptor:
    """A referrer as a referrers index lists it: no ref name."""
    annotations = {
        k: v for k, v in entry.annotations.items() if k != ANNOTATION_REF_NAME
    }
    return entry.with_annotations(annotations)


def _extend_tag_index(
    session: RegistrySession, subject: Digest, listed: list[Descriptor]
) -> None:
    """Add ``listed`` to the ``sha256-<hex>`` index of ``subject`` (made when absent)."""
    tag = link_tag(subject)
    try:
        _, raw = fetch_manifest(session, tag, max_size=_INDEX_CAP)
        present = list(Index.parse(raw, where=tag).manifests)
    except RegistryNotFoundError:
        present = []
    known = {d.digest for d in present}
    added = [d for d in listed if d.digest not in known]
    if not added:
        return
    index = Index.build([*present, *added])
    descriptor = Descriptor(mediatypes.OCI_IMAGE_INDEX, index.digest, len(index.raw))
    put_manifest(session, tag, descriptor, index.raw)
