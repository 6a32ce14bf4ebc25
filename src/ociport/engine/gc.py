"""Garbage collection and verification of a content store.

Collection marks every blob reachable from the store's images (the named entries of
its ``index.json``, and unnamed ones that refer to nothing: indexes, manifests,
configs, layers, subjects) and from the referrers of what they reach, recursively (a
signature of a kept SBOM is kept); it removes the unnamed referrer entries whose
subject is no longer reached (:func:`~ociport.engine.referrers.live_entries`), and
the unnamed entries whose manifest is gone (deleted by hand: no command could remove
them, and ``content verify`` would report them for ever), then deletes the unmarked
blobs, sparing

- every blob a live lease holds (:mod:`ociport.content.leases`): an import running in
  another process or on another machine relies on blobs before it names them. The
  deletions run in batches under the store's ``index.json`` lock, each after reading
  the leases and the index again, so an import's hold or names published meanwhile
  are seen;
- blobs younger than a grace period (for stores without leases, and for writers
  that do not take them).

Temporary ingest files left by processes that died are removed: at once for a dead
process of this machine, else after the grace period; leases of dead processes, and
expired ones, are removed too, and on S3 the store's incomplete multipart uploads older
than the grace period are aborted, but for those of blobs a live lease holds (imports
hold a blob before uploading it).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ociport.content.helpers import ContentDocuments, exists
from ociport.content.interfaces import BlobInfo, ContentStore
from ociport.content.leases import LeaseFiles, LeasingStore
from ociport.engine.referrers import live_entries
from ociport.errors import ContentError, DigestMismatchError, OciportError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import CHUNK_SIZE, Digest
from ociport.oci.referrers import is_named
from ociport.oci.validate import validate_image
from ociport.streams.location import Location
from ociport.streams.uploads import abort_stale_uploads

__all__ = [
    "DEFAULT_GRACE",
    "GcResult",
    "collect_garbage",
    "remove_unnamed",
    "verify_blobs",
    "verify_images",
]

_log = logging.getLogger(__name__)

#: Default grace period in seconds (one hour).
DEFAULT_GRACE: Final = 3600.0
#: Blobs deleted per hold of the store's lock.
_BATCH: Final = 256


@dataclass(slots=True)
class GcResult:
    """What :func:`collect_garbage` removed (or would remove, on a dry run).

    :ivar removed: digests of removed blobs.
    :ivar bytes_removed: their total size.
    :ivar kept_young: unreferenced blobs spared by the grace period.
    :ivar kept_leased: unreferenced blobs spared because a running writer holds them.
    :ivar ingests_removed: abandoned temporary ingest files removed.
    :ivar leases_removed: leases of dead processes, and expired ones, removed.
    :ivar uploads_aborted: incomplete multipart uploads under the store (S3) older than
        the grace period, aborted: what killed writers left.
    :ivar referrers_removed: referrer entries of ``index.json`` removed because their
        subject is gone (their blobs are among ``removed``), or their own manifest.
    """

    removed: list[Digest] = field(default_factory=list)
    bytes_removed: int = 0
    kept_young: int = 0
    kept_leased: int = 0
    ingests_removed: int = 0
    leases_removed: int = 0
    uploads_aborted: int = 0
    referrers_removed: int = 0


class _Marks:
    """What must survive: the blobs the index reaches (marked again when the index
    changed) and those live leases hold (read again at every :meth:`refresh`)."""

    def __init__(self, content: ContentStore, ignore_lease: str | None = None) -> None:
        self._content = content
        self._leases = content.leases if isinstance(content, LeasingStore) else None
        self._ignore = ignore_lease
        self._index: tuple[Descriptor, ...] | None = None
        self.reached: set[Digest] = set()
        self.held: set[Digest] = set()
        #: The owner tokens of the live leases (their ingest files are in use).
        self.owners: set[str] = set()

    def refresh(self) -> None:
        index = self._content.read_index()
        if index != self._index:
            self._index = index
            self.reached, _ = live_entries(index, ContentDocuments(self._content))
        if self._leases is not None:
            self.held, self.owners = set(), set()
            for record in self._leases.live():
                if record.id != self._ignore:
                    self.held |= record.digests
                    self.owners.add(record.owner)

    def locked(self) -> contextlib.AbstractContextManager[object]:
        """The store's lock, where the store has leases (else nothing to hold)."""
        return self._leases.locked() if self._leases else contextlib.nullcontext()


def _delete(
    content: ContentStore,
    marks: _Marks,
    candidates: Iterable[BlobInfo],
    result: GcResult,
    dry_run: bool,
) -> None:
    """Delete the candidates the marks do not keep, a batch per hold of the lock."""
    todo = list(candidates)
    for start in range(0, len(todo), _BATCH):
        with marks.locked() if not dry_run else contextlib.nullcontext():
            marks.refresh()
            for info in todo[start : start + _BATCH]:
                if info.digest in marks.reached:
                    continue  # named meanwhile
                if info.digest in marks.held:
                    _log.info("kept %s: a running writer holds it", info.digest)
                    result.kept_leased += 1
                    continue
                if not dry_run:
                    with contextlib.suppress(ContentError):
                        content.delete(info.digest)
                    _log.debug("removed %s (%d bytes)", info.digest, info.size)
                result.removed.append(info.digest)
                result.bytes_removed += info.size


def collect_garbage(
    content: ContentStore, *, grace: float = DEFAULT_GRACE, dry_run: bool = False
) -> GcResult:
    """Delete blobs no named image reaches, no live lease holds, and that are older
    than ``grace`` seconds.

    :param dry_run: report only; delete nothing.
    :raises OciportError: a named image's manifest or index cannot be read (corrupt,
        malformed, over :data:`~ociport.content.helpers.STORED_DOCUMENT_LIMIT`);
        nothing is deleted then.
    """
    result = GcResult()
    result.referrers_removed = _remove_orphan_referrers(content, dry_run)
    marks = _Marks(content)
    marks.refresh()
    cutoff = time.time() - grace
    candidates = []
    for info in list(content.walk()):
        if info.digest in marks.reached:
            continue
        if info.created_at is not None and info.created_at > cutoff:
            result.kept_young += 1
            continue
        candidates.append(info)
    _delete(content, marks, candidates, result, dry_run)
    # Optional capabilities of the fsspec store: ingest files and leases.
    prune = getattr(content, "remove_stale_ingests", None)
    if prune is not None:
        result.ingests_removed = prune(cutoff, dry_run=dry_run)
    if isinstance(content, LeasingStore):
        result.leases_removed = _remove_dead_leases(content.leases, cutoff, dry_run)
    location = getattr(content, "location", None)
    if isinstance(location, Location):
        result.uploads_aborted = abort_stale_uploads(
            location, cutoff, dry_run=dry_run, spare=_upload_in_use(content, marks)
        )
    return result


def _remove_orphan_referrers(content: ContentStore, dry_run: bool) -> int:
    """Remove the referrer entries of ``index.json`` whose subject no image reaches
    (decided again on the entries current under the lock); returns how many."""
    documents = ContentDocuments(content)

    def dead(entries: Sequence[Descriptor]) -> set[Digest]:
        orphans = {d.digest for d in live_entries(entries, documents)[1]}
        # Written after their blobs (imports, oras, skopeo): absent means deleted.
        gone = {
            e.digest
            for e in entries
            if not is_named(e)
            and e.embedded() is None
            and not exists(content, e.digest)
        }
        return orphans | gone

    found = len(dead(content.read_index()))
    if dry_run or not found:
        return found
    removed = 0

    def change(entries: list[Descriptor]) -> list[Descriptor]:
        nonlocal removed
        orphans = dead(entries)
        removed = len(orphans)
        return [e for e in entries if is_named(e) or e.digest not in orphans]

    content.update_index(change)
    return removed


def _upload_in_use(content: ContentStore, marks: _Marks) -> Callable[[str], bool]:
    """Whether an upload's key names a blob a live lease holds, or an ingest file whose
    writer is at work (a convert's new layer, whose digest is known only at its end:
    see ``ingest_at_work`` of the fsspec store). The leases are read at the first
    call, after the uploads were listed: a writer holds a blob (or its lease exists)
    before it starts uploading, so every upload listed is covered by what is read
    then."""
    held: set[str] | None = None
    at_work = getattr(content, "ingest_at_work", None)

    def in_use(key: str) -> bool:
        nonlocal held
        if held is None:
            marks.refresh()
            held = {digest.encoded for digest in marks.held}
        if key.rsplit("/", 1)[-1] in held:
            return True
        return at_work is not None and bool(at_work(key, marks.owners))

    return in_use


def _remove_dead_leases(leases: LeaseFiles, cutoff: float, dry_run: bool) -> int:
    now = time.time()
    dead = [
        lease_id
        for lease_id, modified, record in leases.records()
        if (record is not None and not record.live(now))
        or (record is None and (modified or now) < cutoff)
    ]
    for lease_id in dead if not dry_run else ():
        leases.remove(lease_id)
    return len(dead)


def remove_unnamed(
    content: ContentStore, digests: Iterable[Digest], *, own_lease: str | None = None
) -> list[Digest]:
    """Remove the blobs among ``digests`` that no named image reaches and no other
    live lease holds: what a failed import committed (its lease ``own_lease`` still
    holding them). Returns the digests removed."""
    result = GcResult()
    infos = [BlobInfo(digest, 0) for digest in dict.fromkeys(digests)]
    _delete(content, _Marks(content, own_lease), infos, result, dry_run=False)
    return result.removed


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
    """Check that every named image, and every referrer the store records, is whole
    (:func:`~ociport.oci.validate.validate_image` without re-hashing layers): each blob
    it needs is present with its size, and each config lists one diff ID per layer.

    :param corrupt: blobs already reported corrupt (by :func:`verify_blobs`); an image
        that fails only on one of them is not reported again.
    :returns: ``(name, problem)`` for each incomplete or malformed image (``referrer
        <digest>`` for a referrer).
    """
    problems = []
    for entry in content.read_index():
        label = entry.ref_name or f"referrer {entry.digest}"
        try:
            validate_image(content, entry, hash_blobs=False)
        except DigestMismatchError as exc:
            if exc.expected not in corrupt:
                problems.append((label, str(exc)))
        except OciportError as exc:
            problems.append((label, str(exc)))
    return problems
