"""Pushing an export plan to a registry: blobs first (those the repository has are
skipped, those another repository of the registry has are mounted), then manifests,
then indexes after their children (those the repository has are skipped: ``HEAD``),
and the root last under the address's tag
(distribution-spec "Pushing blobs", "Pushing Manifests"), so the tag never names an
image whose content is not all there.

An image the store names after another repository of the same registry (it was pulled
from there) has its blobs there: they are mounted rather than sent ("Mounting a blob
from another repository"); a registry that cannot mount one opens an upload instead.
"""

from __future__ import annotations

import concurrent.futures
from typing import Final

from ociport.drivers.kit import (
    ANNOTATION_IMAGE_NAME,
    Descriptor,
    ExportPlan,
    FormatError,
    InvalidReferenceError,
    verified,
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
    graph = plan.graphs[root.digest]
    # Manifests before the indexes naming them; nested indexes innermost first.
    documents = [d for d, _ in graph.manifests] + [d for d, _ in graph.indexes[::-1]]
    named = {d.digest for d in documents}
    blobs = [d for d in plan.blobs if d.digest not in named]
    with concurrent.futures.ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        for done in pool.map(
            lambda blob: _push_blob(session, plan, blob, mount_from), blobs
        ):
            del done
    for document in documents:
        target = str(document.digest)
        if document.digest != root.digest and head_manifest(session, target) is None:
            _push_document(session, plan, document, target)
    _push_document(session, plan, root, reference.tag or str(root.digest))


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
        upload_blob(session, blob, stream, upload)


def _push_document(
    session: RegistrySession, plan: ExportPlan, document: Descriptor, target: str
) -> None:
    with plan.content.open_blob(document) as stream:
        raw = verified(document, stream.read(document.size + 1), str(document.digest))
    put_manifest(session, target, document, raw)
