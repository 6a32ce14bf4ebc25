"""Referrers: manifests that refer to another manifest (image-spec 1.1 ``subject``),
cosign's tag scheme, and the referrers index the distribution-spec answers with.

A *referrer* is a manifest or index (a signature, an SBOM, an attestation) whose
``subject`` descriptor names another manifest, its *subject* (image-spec
``manifest.md``, "subject"). Tools that predate ``subject`` link them by tag instead:

- cosign tags a signature ``sha256-<hex>.sig`` (attestations ``.att``, SBOMs ``.sbom``),
  where ``sha256:<hex>`` is the subject;
- the distribution-spec's referrers tag schema ("Referrers Tag Schema") tags an image
  index of a subject's referrers ``sha256-<hex>``.

A store or layout records a referrer as an **unnamed** ``index.json`` entry (no
``org.opencontainers.image.ref.name``), the shape ``oras attach --oci-layout`` and
containerd write: the manifest's media type, digest and size, plus its artifact type and
annotations (:func:`referrer_entry`). A referrer known only by its cosign tag keeps the
tag in :data:`ANNOTATION_REFERRER_TAG`, since its manifest names no subject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ociport.errors import InvalidDigestError, OciportError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    Descriptor,
)
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, Manifest, parse_document
from ociport.oci.walk import DocumentProvider

__all__ = [
    "ANNOTATION_FILTERS_APPLIED",
    "ANNOTATION_REFERRER_TAG",
    "COSIGN_SUFFIXES",
    "Referrer",
    "TaggedLink",
    "artifact_type_of",
    "export_entry",
    "filter_referrers",
    "follow_referrers",
    "is_named",
    "listed_descriptor",
    "listed_referrers",
    "parse_link_tag",
    "read_referrer",
    "referrer_entry",
    "referrers_index",
    "subject_of",
]

#: Where a store entry keeps the cosign tag (``sha256-<hex>.sig``) that links a
#: referrer whose manifest names no ``subject``.
ANNOTATION_REFERRER_TAG: Final = "io.ociport.referrer.tag"
#: The annotation of a referrers index answered with a filter (distribution-spec,
#: "Listing Referrers").
ANNOTATION_FILTERS_APPLIED: Final = "org.opencontainers.referrers.filtersApplied"
#: cosign's tag suffixes: signatures, attestations, SBOMs.
COSIGN_SUFFIXES: Final = (".sig", ".att", ".sbom")
_LINK_TAG: Final = re.compile(
    r"^(sha256|sha512)-([0-9a-f]+)("
    + "|".join(re.escape(s) for s in COSIGN_SUFFIXES)
    + ")?$"
)


@dataclass(frozen=True, slots=True)
class TaggedLink:
    """What a tag of cosign's scheme or of the referrers tag schema says.

    :ivar subject: the manifest the tag points at the referrers of.
    :ivar suffix: cosign's suffix (``.sig``, ``.att``, ``.sbom``); ``""`` for the
        distribution-spec's ``sha256-<hex>`` tag of a referrers index.
    """

    subject: Digest
    suffix: str

    @property
    def is_referrers_index(self) -> bool:
        """The tag names an index listing referrers, not a referrer."""
        return not self.suffix


def parse_link_tag(tag: str | None) -> TaggedLink | None:
    """The link a ref name makes when it is ``<alg>-<hex>[.sig|.att|.sbom]``, else
    ``None`` (an ordinary tag or name, or a malformed digest)."""
    match = _LINK_TAG.match(tag or "")
    if match is None:
        return None
    try:
        subject = Digest(match.group(1), match.group(2))
    except InvalidDigestError:
        return None
    return TaggedLink(subject, match.group(3) or "")


@dataclass(frozen=True, slots=True)
class Referrer:
    """A referrer as a store or layout lists it.

    :ivar descriptor: its ``index.json`` entry (:func:`referrer_entry`).
    :ivar subject: the digest of the manifest it refers to.
    """

    descriptor: Descriptor
    subject: Digest


def artifact_type_of(document: Manifest | Index) -> str | None:
    """The artifact type the referrers API reports for a document: its
    ``artifactType``, else a manifest's config media type (distribution-spec,
    "Listing Referrers")."""
    if document.artifact_type:
        return document.artifact_type
    if isinstance(document, Manifest):
        return document.config.media_type or None
    return None


def referrer_entry(
    descriptor: Descriptor, document: Manifest | Index, *, tag: str | None = None
) -> Descriptor:
    """The descriptor a referrer is listed with: ``descriptor``'s media type, digest
    and size, the document's artifact type and annotations (what the referrers API
    returns), and ``tag`` in :data:`ANNOTATION_REFERRER_TAG` for a cosign-tagged one.
    """
    annotations = {
        k: v
        for k, v in document.annotations.items()
        if k not in (ANNOTATION_REF_NAME, ANNOTATION_IMAGE_NAME)
    }
    if tag is not None:
        annotations[ANNOTATION_REFERRER_TAG] = tag
    default = (
        mt.OCI_IMAGE_MANIFEST if isinstance(document, Manifest) else mt.OCI_IMAGE_INDEX
    )
    return Descriptor(
        document.media_type or descriptor.media_type or default,
        descriptor.digest,
        descriptor.size,
        annotations=annotations,
        artifact_type=artifact_type_of(document),
    )


def subject_of(entry: Descriptor, document: Manifest | Index) -> Digest | None:
    """The subject of a referrer: its ``subject`` field, else the one its cosign tag
    (kept in :data:`ANNOTATION_REFERRER_TAG`, or its ref name) names."""
    if document.subject is not None:
        return document.subject.digest
    for tag in (entry.annotations.get(ANNOTATION_REFERRER_TAG), entry.ref_name):
        link = parse_link_tag(tag)
        if link is not None and not link.is_referrers_index:
            return link.subject
    return None


def read_referrer(entry: Descriptor, provider: DocumentProvider) -> Referrer | None:
    """``entry`` as a referrer, reading its document through ``provider``; ``None``
    when it is no referrer (no subject, no link tag), absent, or not a document."""
    try:
        if not provider.has(entry.digest):
            return None
        document = parse_document(
            provider.read_document(entry), entry.media_type, where=str(entry.digest)
        )
    except OciportError:
        return None
    if document is None:
        return None
    subject = subject_of(entry, document)
    if subject is None:
        return None
    tag = entry.annotations.get(ANNOTATION_REFERRER_TAG)
    link = parse_link_tag(entry.ref_name)
    if tag is None and link is not None and not link.is_referrers_index:
        tag = entry.ref_name
    return Referrer(referrer_entry(entry, document, tag=tag), subject)


def filter_referrers(
    referrers: Iterable[Referrer], artifact_types: Sequence[str] = ()
) -> list[Referrer]:
    """Those of ``referrers`` whose artifact type is one of ``artifact_types`` (all
    of them when it is empty)."""
    return [
        r
        for r in referrers
        if not artifact_types or r.descriptor.artifact_type in artifact_types
    ]


def referrers_index(
    descriptors: Sequence[Descriptor], artifact_types: Sequence[str] = ()
) -> Index:
    """The image index the distribution-spec's referrers API answers with
    (``GET /v2/<name>/referrers/<digest>``): one descriptor per referrer (media type,
    digest, size, artifact type, annotations), and with a filter the
    ``org.opencontainers.referrers.filtersApplied: artifactType`` annotation.

    Store-only annotations (:data:`ANNOTATION_REFERRER_TAG`) are left out.
    """
    listed = [listed_descriptor(d) for d in descriptors]
    filters = {ANNOTATION_FILTERS_APPLIED: "artifactType"} if artifact_types else None
    return Index.build(listed, annotations=filters)


def listed_descriptor(referrer: Descriptor) -> Descriptor:
    """A store's referrer entry as the referrers API lists it: without the store-only
    :data:`ANNOTATION_REFERRER_TAG`."""
    annotations = referrer.annotations
    if ANNOTATION_REFERRER_TAG not in annotations:
        return referrer
    return referrer.with_annotations(
        {k: v for k, v in annotations.items() if k != ANNOTATION_REFERRER_TAG}
    )


def export_entry(referrer: Descriptor) -> Descriptor:
    """A store's referrer entry as an export writes it: unnamed, as ``oras`` and
    containerd write referrers; a cosign-tagged one with its tag as ref name
    (``org.opencontainers.image.ref.name: sha256-<hex>.sig``), as cosign and skopeo
    find it in a layout."""
    annotations: Mapping[str, str] = referrer.annotations
    tag = annotations.get(ANNOTATION_REFERRER_TAG)
    kept = {
        k: v
        for k, v in annotations.items()
        if k not in (ANNOTATION_REFERRER_TAG, ANNOTATION_IMAGE_NAME)
    }
    if tag is not None:
        kept[ANNOTATION_REF_NAME] = tag
    return referrer.with_annotations(kept)


def listed_referrers(
    entries: Iterable[Descriptor], provider: DocumentProvider
) -> tuple[list[Referrer], list[Descriptor]]:
    """Split a store's or layout's ``index.json`` entries: the unnamed ones that are
    referrers (each manifest read once: they are small), and the others (named
    images, and unnamed entries that refer to nothing)."""
    referrers: list[Referrer] = []
    others: list[Descriptor] = []
    for entry in entries:
        referrer = None if is_named(entry) else read_referrer(entry, provider)
        if referrer is None:
            others.append(entry)
        else:
            referrers.append(referrer)
    return referrers, others


def is_named(entry: Descriptor) -> bool:
    """Whether an ``index.json`` entry names an image: a ref name or containerd image
    name that is not a link tag of cosign's scheme or of the referrers tag schema."""
    name = entry.ref_name or entry.annotations.get(ANNOTATION_IMAGE_NAME)
    return bool(name) and parse_link_tag(entry.ref_name) is None


def follow_referrers(
    reached: set[Digest],
    referrers: Sequence[Referrer],
    closure: Callable[[Referrer], Iterable[Digest] | None],
    artifact_types: Sequence[str] = (),
) -> list[Referrer]:
    """The referrers whose subject is in ``reached``, recursively (a signature of an
    SBOM of an image): each one taken adds ``closure(referrer)`` (the digests its own
    walk reaches) to ``reached``, which this updates; a referrer whose closure is
    ``None`` (incomplete) is not taken.

    :param artifact_types: take only referrers of these types among those of what was
        in ``reached`` at first; the referrers of a referrer taken are all taken.
    :returns: the referrers taken, in the order they were taken.
    """
    first = set(reached)
    pending = list(referrers)
    taken: list[Referrer] = []
    progress = True
    while progress:
        progress = False
        for referrer in list(pending):
            if referrer.subject not in reached:
                continue
            pending.remove(referrer)
            wanted = referrer.descriptor.artifact_type in artifact_types
            if artifact_types and referrer.subject in first and not wanted:
                continue
            digests = closure(referrer)
            if digests is None:
                continue
            taken.append(referrer)
            reached.update(digests)
            reached.add(referrer.descriptor.digest)
            progress = True
    return taken
