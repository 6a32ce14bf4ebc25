"""Pushing an export plan to a registry: blobs first (those the repository has are
skipped, those another repository of the registry has are mounted), then manifests,
then indexes after their children (those the repository has are skipped: ``HEAD``),
and the root last under the address's tag
(distribution-spec "Pushing blobs", "Pushing Manifests"), so the tag never names an
image whose content is not all there.

An image the store names after another repository of the same registry (it was pulled
from there) has its blobs there: they are mounted rather than sent ("Mounting a blob
from another repository"); a registry that cannot mount one opens an upload instead.

The image's referrers in the store (the plan's) follow it: their blobs go with the
image's, their manifests after the tag (:func:`~ociport_registry.referrers.push_referrers`).
"""

from __future__ import annotations

import concurrent.futures
from typing import Final

from ociport.drivers.kit import (
    ANNOTATION_IMAGE_NAME,
    BlobNotFoundError,
    Descriptor,
    Digest,
    ExportPlan,
    FormatError,
    ImageGraph,
    InvalidReferenceError,
    verified,
    walk_image,
)
from ociport_registry.client.pull import head_manifest
from ociport_registry.client.push import (
    blob_exists,
    put_manifest,
    start_upload,
    upload_blob,
)
from ociport_registry.client.session import RegistrySession
from ociport_registry.reference import RegistryReference
from ociport_registry.referrers import push_referrers

__all__ = ["UPLOAD_THREADS", "mount_source", "push_plan"]

#: Blobs uploaded at once.
UPLOAD_THREADS: Final = 4


def mount_source(plan: ExportPlan, reference: RegistryReference) -> str | None:
    """The repository of ``reference``'s registry the plan's image is named after
    (where it was pulled from), other than ``reference``'s own; ``None`` when there is
    none."""
    if len(plan.entries) != 1:
        return None
    entry = plan.entries[0]
    name = entry.annotations.get(ANNOTATION_IMAGE_NAME) or entry.ref_name
    try:
        named = RegistryReference.parse(f"//{name}") if name else None
    except InvalidReferenceError:
        return None
    if named is None or named.registry != reference.registry:
        return None
    return None if named.repository == reference.repository else named.repository


def push_plan(
    session: RegistrySession,
    reference: RegistryReference,
    plan: ExportPlan,
    *,
    mount_from: str | None = None,
) -> None:
    """Push the plan's one image to ``reference``'s repository, under its tag (or its
    digest, when the reference gives only a digest).

    :param mount_from: a repository of the registry to mount blobs from
        (:func:`mount_source`; the session's token must allow pulling there).
    :raises FormatError: the plan holds several images, or the image's digest is not
        the one the reference gives.
    :raises RegistryError: the registry refused or failed a request.
    :raises MissingContentError, DigestMismatchError: the store lacks or has corrupt
        content (nothing is tagged then).
    """
    root = _one_root(plan, reference)
    documents = _documents(plan.graphs[root.digest])
    referrers = [walk_image(r, _PlanDocuments(plan)) for r in plan.referrers]
    referred = [d for graph in referrers for d in _documents(graph)]
    named = {d.digest for d in [*documents, *referred]}
    blobs = [d for d in plan.blobs if d.digest not in named]
    with concurrent.futures.ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(lambda blob: _push_blob(session, plan, blob, mount_from), blobs))
    for document in [*documents, *referred]:
        if document.digest not in (root.digest, *(r.digest for r in plan.referrers)):
            _push_new_document(session, plan, document)
    put_manifest(session, reference.tag or str(root.digest), root, _read(plan, root))
    if plan.referrers:
        raw = {r.digest: _read(plan, r) for r in plan.referrers}
        push_referrers(session, plan.referrers, raw)


def _documents(graph: ImageGraph) -> list[Descriptor]:
    """A graph's manifests, then its indexes, nested ones innermost first: each
    after what it names."""
    return [d for d, _ in graph.manifests] + [d for d, _ in graph.indexes[::-1]]


class _PlanDocuments:
    """The plan's content as a walk reads it."""

    def __init__(self, plan: ExportPlan) -> None:
        self.plan = plan

    def has(self, digest: Digest) -> bool:
        try:
            self.plan.content.info(digest)
        except BlobNotFoundError:
            return False
        return True

    def read_document(self, descriptor: Descriptor) -> bytes:
        return _read(self.plan, descriptor)


def _one_root(plan: ExportPlan, reference: RegistryReference) -> Descriptor:
    if len(plan.entries) != 1:
        raise FormatError(
            f"docker://{reference} names one image, not {len(plan.entries)}: "
            "export one image per registry reference"
        )
    root = plan.entries[0]
    if reference.digest is not None and reference.digest != root.digest:
        raise FormatError(
            f"docker://{reference} names the digest {reference.digest}, but the "
            f"image's is {root.digest}"
        )
    return root


def _push_blob(
    session: RegistrySession,
    plan: ExportPlan,
    blob: Descriptor,
    mount_from: str | None,
) -> None:
    if blob_exists(session, blob):
        return
    upload = start_upload(session, blob, mount_from=mount_from)
    if upload is None:
        return  # mounted
    with plan.content.open_blob(blob) as stream:
        # Opened again when bytes must be sent again and the stream cannot seek.
        reopen = lambda: plan.content.open_blob(blob)  # noqa: E731
        upload_blob(session, blob, stream, upload, reopen=reopen)


def _push_new_document(
    session: RegistrySession, plan: ExportPlan, document: Descriptor
) -> None:
    """Push a manifest or index by digest unless the repository has it."""
    if head_manifest(session, str(document.digest)) is None:
        put_manifest(session, str(document.digest), document, _read(plan, document))


def _read(plan: ExportPlan, document: Descriptor) -> bytes:
    """A document's bytes from the plan's content, checked."""
    with plan.content.open_blob(document) as stream:
        data = stream.read(document.size + 1)
    return verified(document, data, str(document.digest))
