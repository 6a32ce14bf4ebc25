"""Import, once for every format: open the source, select roots, walk them, verify and
commit what they need.

The driver opens the source (:meth:`~ociport.drivers.base.ImageDriver.open_source`);
everything after that happens here. Every root is walked, and every image config checked
against its manifest's layers, before anything is committed,
so a problem in any of them leaves the store as it was; then the needed blobs not yet
staged are read through the source's provider (several at once when the source allows)
and staged, and only then is anything published. Naming is the caller's job
(:mod:`ociport.engine.jobs`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO

from ociport.content.helpers import exists
from ociport.content.interfaces import BlobInfo, ContentStore
from ociport.content.leases import Lease
from ociport.content.progress import ProgressCounter, ProgressLike, as_progress
from ociport.content.staging import StagingArea
from ociport.drivers.base import ImageDriver, ImageSource, SourceContext
from ociport.engine.referrers import (
    AttachedReferrers,
    attach_referrers,
    classify_roots,
    listed_closure,
    scan_blobs,
)
from ociport.engine.selection import select_roots
from ociport.engine.sourcereader import SourceReader
from ociport.errors import (
    UnsupportedSourceError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import MAX_DOCUMENT_SIZE, Index
from ociport.oci.referrers import Referrer
from ociport.oci.walk import ImageGraph, PlatformSelection, walk_image
from ociport.streams.address import ImageAddress
from ociport.streams.compression import detect_compression, label_mismatch
from ociport.streams.location import Location

__all__ = [
    "ImportReport",
    "ImportRequest",
    "SelectedContent",
    "import_source",
    "open_image_source",
    "select_source",
    "source_size",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """What to take from a source.

    :ivar selection: which platforms of multi-platform images.
    :ivar ref_name: take only the roots with this ref name (or image name).
    :ivar whole_index: take the source's ``index.json`` as one image index (containerd's
        ``--index-name``) instead of one image per entry.
    :ivar max_document: cap for a JSON document, in bytes.
    :ivar progress: told of the expected total, of each blob and of its bytes as they
        are read (a :class:`~ociport.content.progress.Progress`), or a callable
        called with byte counts.
    :ivar oci_manifests: where a driver builds manifests itself (Docker archives have
        none), build OCI manifests rather than Docker schema 2 ones.
    :ivar referrers: also import the referrers (signatures, SBOMs, attestations) of
        what the selected roots reach (:mod:`ociport.engine.referrers`).
    """

    selection: PlatformSelection = field(default_factory=PlatformSelection)
    ref_name: str | None = None
    whole_index: bool = False
    max_document: int = MAX_DOCUMENT_SIZE
    progress: ProgressLike | None = None
    oci_manifests: bool = False
    referrers: bool = True


@dataclass(slots=True)
class ImportReport:
    """What an import did.

    :ivar roots: the imported roots, each with the annotations its source gave it.
    :ivar referrers: the referrers imported with them, as the store's unnamed
        ``index.json`` entries (:func:`~ociport.oci.referrers.referrer_entry`).
    :ivar missing: content the source lacked and the selection allowed to skip, with the
        digest that referenced it.
    :ivar committed: blobs newly committed to the store, in commit order.
    :ivar notes: things worth telling the user.
    :ivar rebuilt: the format rebuilt the manifests (their digests are new).
    """

    roots: list[Descriptor] = field(default_factory=list)
    referrers: list[Descriptor] = field(default_factory=list)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    committed: list[BlobInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rebuilt: bool = False


def open_image_source(
    driver: ImageDriver,
    source: IO[bytes] | Location | ImageAddress,
    stage: StagingArea,
    request: ImportRequest,
    label: str,
) -> ImageSource:
    """Have ``driver`` open ``source``, staging into ``stage``."""
    progress = as_progress(request.progress)
    context = SourceContext(
        stage,
        request.max_document,
        label,
        request.oci_manifests,
        progress.advance if progress is not None else None,
    )
    if isinstance(source, ImageAddress):
        return driver.open_address(source, context)
    return driver.open_source(source, context)


def import_source(
    driver: ImageDriver,
    source: IO[bytes] | Location | ImageAddress,
    store: ContentStore,
    request: ImportRequest,
    *,
    label: str,
    on_commit: Callable[[BlobInfo], object] | None = None,
    lease: Lease | None = None,
) -> ImportReport:
    """Import the roots of ``source`` that ``request`` selects into ``store``.

    Every blob the selected roots need is committed before this returns, and nothing
    is committed when it raises.

    :param on_commit: called with each blob as it is committed (the
        ``ociport_blob_committed`` hook).
    :param lease: the caller's lease on ``store``: every blob the import relies on is
        held in it before it is relied on (:mod:`ociport.content.leases`); the caller
        releases it once the roots are named.
    :raises FormatError: malformed source, or a document that is not what it claims.
    :raises DigestMismatchError, SizeMismatchError: a blob is not what its name says.
    :raises MissingContentError: a selected manifest lacks content.
    :raises RefNameNotFoundError: ``request.ref_name`` is not in the source.
    :raises UnsupportedSourceError: the source cannot be read so (a stream for a
        directory format, ``whole_index`` for a format without an index).
    :raises BlobRemovedError: a gc removed a re-used blob the source cannot supply.
    """
    progress = ProgressCounter.wrap(request.progress)
    if progress is not None:
        request = replace(request, progress=progress)
        progress.start(source_size(source))
    with (
        StagingArea(
            store,
            max_document=request.max_document,
            progress=progress,
            on_commit=on_commit,
            lease=lease,
        ) as staging,
        open_image_source(driver, source, staging, request, label) as opened,
    ):
        selected = select_source(
            driver, opened, staging, request, label=label, store=store
        )
        reader, graphs = selected.reader, selected.graphs
        reader.stage_needed(graphs)
        reader.check_configs(graphs)
        reader.restage(staging.protect(d for g in graphs for d in g.blobs), graphs)
        report = ImportReport(
            referrers=selected.referrers,
            notes=[*opened.notes, *selected.notes],
            rebuilt=opened.rebuilds_manifests,
        )
        report.roots = selected.roots
        for graph in graphs:
            report.missing.extend(graph.missing)
            report.notes.extend(_label_notes(graph, staging))
            report.committed.extend(staging.commit(graph.blobs))
        _log.info(
            "%s: %d new blob(s), %d bytes, committed",
            label,
            len(report.committed),
            sum(info.size for info in report.committed),
        )
        return report


@dataclass(slots=True)
class SelectedContent:
    """What a request selects of an opened source (:func:`select_source`).

    :ivar reader: the source's content through the staging area.
    :ivar roots: the images selected, in source order, as the source annotates them.
    :ivar graphs: the walk of each root (same order), then of each referrer taken.
    :ivar referrers: the referrers taken, as unnamed ``index.json`` entries.
    :ivar notes: things worth telling the user (referrers left out, ...).
    """

    reader: SourceReader
    roots: list[Descriptor]
    graphs: list[ImageGraph]
    referrers: list[Descriptor]
    notes: list[str]

    def blobs(self) -> dict[Digest, Descriptor]:
        """Every blob the graphs need, once each."""
        return {d: desc for graph in self.graphs for d, desc in graph.blobs.items()}


def select_source(
    driver: ImageDriver,
    opened: ImageSource,
    staging: StagingArea,
    request: ImportRequest,
    *,
    label: str,
    store: ContentStore | None,
) -> SelectedContent:
    """Select what ``request`` asks of an opened source, once for import and copy:
    classify its roots (images, referrers), take the roots the ref name names (or the
    whole index), walk each with the platform selection, attach the referrers of what
    the walks reach, and check every needed blob's size in the source.

    :param store: the store the import goes to, whose manifests' referrers come too
        when no ref name is given (a signature delivered apart from its image);
        ``None`` for a copy.
    :raises RefNameNotFoundError: ``request.ref_name`` is not in the source.
    :raises MissingContentError, FormatError: a selected manifest is absent or bad.
    :raises SizeMismatchError: a needed blob has another size than its descriptor's.
    :raises UnsupportedSourceError: ``whole_index`` for a format without an index.
    """
    reader = SourceReader(opened, staging)
    images, listed = (
        ([], []) if request.whole_index else classify_roots(opened.roots, reader)
    )
    roots, notes = _roots(driver, opened, reader, request, images)
    graphs = [walk_image(root, reader, request.selection) for root in roots]
    attached = _referrers(opened, reader, graphs, listed, request, notes, store)
    graphs += attached.graphs
    _log.info(
        "%s: %d image(s), %d referrer(s), %d blob(s) needed",
        label,
        len(roots),
        len(attached.taken),
        len({d for g in graphs for d in g.blobs}),
    )
    reader.check_sizes(graphs)
    return SelectedContent(
        reader,
        [graph.root for graph in graphs[: len(roots)]],
        graphs,
        attached.taken,
        notes,
    )


def _roots(
    driver: ImageDriver,
    opened: ImageSource,
    reader: SourceReader,
    request: ImportRequest,
    images: list[Descriptor],
) -> tuple[list[Descriptor], list[str]]:
    if not request.whole_index:
        return select_roots(images, request.ref_name)
    raw = opened.index_document
    if raw is None:
        raise UnsupportedSourceError(
            driver.name, "--index-name (the format has no index.json)"
        )
    media_type = Index.parse(raw, where="index.json").media_type or mt.OCI_IMAGE_INDEX
    whole = Descriptor(media_type, Digest.of(raw), len(raw))
    reader.add_document(whole, raw)
    return [whole], []


def _referrers(
    opened: ImageSource,
    reader: SourceReader,
    graphs: list[ImageGraph],
    listed: list[Referrer],
    request: ImportRequest,
    notes: list[str],
    store: ContentStore | None,
) -> AttachedReferrers:
    """The referrers of what ``graphs`` reach: those ``index.json`` lists (``listed``)
    and those among the source's other blobs; notes what is left out. Without
    ``request.ref_name``, the referrers of manifests the store already has come too (a
    signature delivered apart from its image)."""
    if not request.referrers:
        if listed:
            notes.append(f"{len(listed)} referrer(s) not imported (--no-referrers)")
        return AttachedReferrers()
    candidates = list(listed)
    if opened.list_blobs is not None:
        known = {d for graph in graphs for d in graph.blobs}
        known |= listed_closure(
            [*opened.roots, *(r.descriptor for r in listed)], reader
        )
        candidates += scan_blobs(opened.list_blobs(), reader, known)
    reached = {d for graph in graphs for d in graph.blobs}
    held = (
        {
            r.subject
            for r in candidates
            if r.subject not in reached and exists(store, r.subject)
        }
        if request.ref_name is None and store is not None
        else set()
    )
    attached = attach_referrers(
        graphs,
        candidates,
        reader,
        subjects=held,
        on_incomplete=lambda referrer, exc: notes.append(
            f"referrer {referrer.descriptor.digest} of {referrer.subject} "
            f"not imported: {exc}"
        ),
    )
    taken = {d.digest for d in attached.taken}
    left = {r.descriptor.digest for r in listed} - taken - reached
    if left and request.ref_name is None:
        notes.append(
            f"{len(left)} referrer(s) in the source not imported: they refer to "
            "nothing imported"
        )
    return attached


def source_size(source: IO[bytes] | Location | ImageAddress) -> int | None:
    """The bytes a one-pass read of ``source`` will move, roughly (its tar headers
    and layout files are not blobs), for progress reports: the size of an
    uncompressed file or object, or of what is left of a seekable stream; ``None`` for
    a pipe, a directory, an image address, or a compressed source (whose blobs are
    larger than it)."""
    if isinstance(source, ImageAddress):
        return None
    if isinstance(source, Location):
        with contextlib.suppress(OSError, ValueError, KeyError):
            info = source.fs.info(source.path)
            if info.get("type") == "file":
                head = source.fs.cat_file(source.path, start=0, end=8)
                if detect_compression(head) is None:
                    return int(info["size"])
        return None
    # A stream from choose_driver: a decompressing one is not seekable.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if source.seekable():
            here = source.tell()
            end = source.seek(0, os.SEEK_END)
            source.seek(here)
            return max(0, end - here)
    return None


def _label_notes(graph: ImageGraph, staging: StagingArea) -> list[str]:
    notes = []
    for desc, manifest in graph.manifests:
        for layer in manifest.layers:
            problem = label_mismatch(layer.media_type, staging.head(layer.digest))
            if problem:
                notes.append(
                    f"layer {layer.digest} of manifest {desc.digest} is {problem}; "
                    "'ociport convert' fixes the label"
                )
    return notes
