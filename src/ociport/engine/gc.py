"""Garbage collection and verification of a content store.

Collection marks every blob reachable from the store's ``index.json`` (indexes,
manifests, configs, layers, subjects) and deletes the rest, sparing blobs younger than a
grace period: an import running in another process or on another machine commits its
blobs before it names them, and must not be robbed in between. Temporary ingest files
left behind by processes that died are removed under the same grace period.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from ociport.content.helpers import ContentDocuments
from ociport.content.interfaces import ContentStore
from ociport.errors import ContentError, DigestMismatchError, OciportError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import CHUNK_SIZE, Digest
from ociport.oci.validate import validate_image
from ociport.oci.walk import reachable

__all__ = [
    "DEFAULT_GRACE",
    "GcResult",
    "collect_garbage",
    "verify_blobs",
    "verify_images",
]

#: Default grace period in seconds (one hour).
DEFAULT_GRACE: Final = 3600.0


@dataclass(slots=True)
class GcResult:
    """What :func:`collect_garbage` removed (or would remove, on a dry run).

    :ivar removed: digests of removed blobs.
    :ivar bytes_removed: their total size.
    :ivar kept_young: unreferenced blobs spared by the grace period.
    :ivar ingests_removed: abandoned temporary ingest files removed.
    """

    removed: list[Digest] = field(default_factory=list)
    bytes_removed: int = 0
    kept_young: int = 0
    ingests_removed: int = 0


def collect_garbage(
    content: ContentStore, *, grace: float = DEFAULT_GRACE, dry_run: bool = False
) -> GcResult:
    """Delete blobs no named image reaches and that are older than ``grace`` seconds.

    :param dry_run: report only; delete nothing.
    :raises OciportError: a named image's manifest or index cannot be read (corrupt,
        malformed, over :data:`~ociport.content.helpers.STORED_DOCUMENT_LIMIT`);
        nothing is deleted then.
    """
    keep = reachable(content.read_index(), ContentDocuments(content))
    cutoff = time.time() - grace
    result = GcResult()
    for info in list(content.walk()):
        if info.digest in keep:
            continue
        if info.created_at is not None and info.created_at > cutoff:
            result.kept_young += 1
            continue
        if not dry_run:
            with contextlib.suppress(ContentError):
                content.delete(info.digest)
        result.removed.append(info.digest)
        result.bytes_removed += info.size
    # An optional capability: stores with temporary ingest files (the fsspec store).
    prune = getattr(content, "remove_stale_ingests", None)
    if prune is not None:
        result.ingests_removed = prune(cutoff, dry_run=dry_run)
    return result


def verify_blobs(content: ContentStore) -> list[tuple[Digest, str]]:
    """Re-hash every blob; returns ``(digest, problem)`` for each corrupt one."""
    problems = []
    for info in content.walk():
        try:
            with content.open_blob(
                Descriptor("", info.digest, info.size), verify=True
            ) as stream:
                while stream.read(CHUNK_SIZE):
                    pass
        except ContentError as exc:
            problems.append((info.digest, str(exc)))
    return problems


def verify_images(
    content: ContentStore, corrupt: Collection[Digest] = ()
) -> list[tuple[str, str]]:
    """Check that every named image is whole (:func:`~ociport.oci.validate.validate_image`
    without re-hashing layers): each blob it needs is present with its size, and each
    config lists one diff ID per layer.

    :param corrupt: blobs already reported corrupt (by :func:`verify_blobs`); an image
        that fails only on one of them is not reported again.
    :returns: ``(name, problem)`` for each incomplete or malformed image.
    """
    problems = []
    for entry in content.read_index():
        try:
            validate_image(content, entry, hash_blobs=False)
        except DigestMismatchError as exc:
            if exc.expected not in corrupt:
                problems.append((entry.ref_name or str(entry.digest), str(exc)))
        except OciportError as exc:
            problems.append((entry.ref_name or str(entry.digest), str(exc)))
    return problems
