"""Export, once for every format: plan what to write, then let the driver lay it out.

Exporting some platforms of a multi-platform image writes a new index that lists only
those platforms (so the archive is complete and imports anywhere); the new index exists
only in the plan's view of the store, never in the store. With ``keep_index`` the
original index is kept and the unselected manifests are hidden instead, so the export
is knowingly partial. Non-distributable (foreign) layers can be hidden the same way.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pluggy

from ociport.content.helpers import ContentDocuments
from ociport.content.interfaces import ReadableImages
from ociport.content.progress import ProgressLike, as_progress
from ociport.drivers.base import ImageDriver
from ociport.drivers.plan import ExportPlan
from ociport.engine.exportview import ExportView, ReportingContent
from ociport.engine.referrers import attach_referrers, store_referrers
from ociport.errors import UnsupportedSourceError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import dump_json
from ociport.oci.referrers import export_entry
from ociport.oci.walk import ImageGraph, PlatformSelection, walk_image
from ociport.processes import is_dead, owner_token
from ociport.streams.address import ImageAddress
from ociport.streams.location import Location
from ociport.streams.sources import Sink, open_sink, resolve

__all__ = ["add_plugin_members", "plan_export", "write_plan"]

_log = logging.getLogger(__name__)


def plan_export(
    store: ReadableImages,
    entries: Sequence[Descriptor],
    selection: PlatformSelection,
    *,
    keep_index: bool = False,
    skip_non_distributable: bool = False,
    progress: ProgressLike | None = None,
    referrers: bool = True,
    artifact_types: Sequence[str] = (),
    holds_referrers: bool = False,
) -> tuple[ExportPlan, list[str]]:
    """The plan for exporting ``entries`` (annotated with their names), and notes: the
    plan's own list (:attr:`ExportPlan.notes`), so that notes added while the driver
    writes (layers re-encoded) are in it once :func:`write_plan` returns.

    :param store: the store, or anything that reads like one (a source being copied:
        :mod:`ociport.engine.copying`).
    :param progress: told the total size of the plan's blobs once planned, then of each
        blob and its bytes as the driver reads them from :attr:`ExportPlan.content`
        (see :mod:`ociport.content.progress`; a plain callable hears byte counts);
        the plan's own ``progress`` is then ``None``, so that drivers passing it on
        count nothing twice.
    :param referrers: carry the store's referrers of every manifest and index the
        export holds, recursively (:attr:`ExportPlan.referrers`); those of platforms
        left out stay behind.
    :param artifact_types: carry only the direct referrers of these artifact types
        (the referrers of those carried all come along).
    :param holds_referrers: whether the format holds referrers (the driver's
        :attr:`~ociport.drivers.base.ImageDriver.holds_referrers`); when not, they are
        left out with a note.
    :raises MissingContentError: a selected manifest (every one with ``all_platforms``)
        or its config or layers are absent.
    :raises FormatError: an index has no manifest for the selected platforms.
    """
    view = ExportView(store)
    notes: list[str] = []
    new_entries = []
    for entry in entries:
        # Checks that what the selection requires is present (raises otherwise).
        graph = walk_image(entry, ContentDocuments(store), selection)
        if skip_non_distributable:
            view.hidden.update(
                layer.digest
                for _, manifest in graph.manifests
                for layer in manifest.layers
                if layer.media_type in mt.NON_DISTRIBUTABLE_LAYERS
            )
        if selection.platforms and keep_index:
            hidden = {child.digest for child, _ in graph.skipped}
            view.hidden.update(hidden)
            if hidden:
                notes.append(
                    f"{len(hidden)} manifests of {entry.digest} left out: the archive is "
                    "partial (--keep-index)"
                )
        elif selection.platforms:
            entry = _filtered(graph, view).get(entry.digest, entry)
        new_entries.append(entry)
    reporter = as_progress(progress)
    plan = ExportPlan(
        new_entries,
        [],
        view if reporter is None else ReportingContent(view, reporter),
        {},
        platforms=selection.platforms,
        all_platforms=selection.all_platforms,
        notes=notes,
    )
    blobs: dict[Digest, Descriptor] = {}
    for entry in new_entries:
        graph = walk_image(entry, ContentDocuments(view))
        plan.graphs[entry.digest] = graph
        plan.missing.extend(graph.missing)
        for digest, desc in graph.blobs.items():
            blobs.setdefault(digest, desc)
    if referrers:
        for graph in _add_referrers(plan, store, view, artifact_types, holds_referrers):
            plan.missing.extend(graph.missing)
            for digest, desc in graph.blobs.items():
                blobs.setdefault(digest, desc)
    plan.blobs = [blobs[digest] for digest in sorted(blobs, key=str)]
    if reporter is not None:
        reporter.start(sum(desc.size for desc in plan.blobs))
    return plan, plan.notes


def _add_referrers(
    plan: ExportPlan,
    store: ReadableImages,
    view: ExportView,
    artifact_types: Sequence[str],
    holds: bool,
) -> list[ImageGraph]:
    """Put the store's referrers of what the plan's entries reach in the plan (as
    unnamed ``index.json`` entries, :func:`~ociport.oci.referrers.export_entry`);
    returns their walks. A format that cannot hold them gets a note instead."""
    attached = attach_referrers(
        list(plan.graphs.values()),
        store_referrers(store),
        ContentDocuments(view),
        artifact_types,
        on_incomplete=lambda referrer, exc: plan.notes.append(
            f"referrer {referrer.descriptor.digest} left out: {exc}"
        ),
    )
    if not holds:
        if attached.taken:
            plan.notes.append(
                f"{len(attached.taken)} referrer(s) (signatures, SBOMs, attestations) "
                "left out: this format cannot hold them (oci-archive and oci can)"
            )
        return []
    plan.referrers = [export_entry(desc) for desc in attached.taken]
    return attached.graphs


def add_plugin_members(
    pm: pluggy.PluginManager, plan: ExportPlan, driver_name: str
) -> None:
    """Add to ``plan.members`` the files plugins contribute for a ``driver_name`` export
    (the ``ociport_archive_members`` hook: Docker's ``manifest.json``), told the first
    platform asked for."""
    first = plan.platforms[0] if plan.platforms else None
    for contributed in pm.hook.ociport_archive_members(
        store=plan.content,
        driver_name=driver_name,
        entries=plan.entries,
        platform=first,
        plan=plan,
    ):
        plan.members.extend(contributed)


def write_plan(
    driver: ImageDriver,
    plan: ExportPlan,
    sink: Sink | Location | ImageAddress,
    storage_options: Mapping[str, Any] | None = None,
) -> None:
    """Have ``driver`` write ``plan`` to ``sink``.

    A tar format gets a stream: a path or URL is written under a temporary name and
    appears only once complete (see :func:`~ociport.streams.sources.open_sink`). Other
    formats get the location: a new local directory is built under a temporary name
    beside it (``.NAME.<pid>-<hex>.tmp``, left-overs of dead processes are removed) and
    renamed into place when complete; a new remote one is removed when the driver
    raises; an existing one is added to (the driver writes blobs before names). An
    image address goes to the driver's :meth:`~ImageDriver.write_address`, with
    ``storage_options`` as its options.

    What the plan holds for the write (layers the driver had re-encoded, see
    :meth:`ExportPlan.reencode_layers`) is released when it returns or raises.

    :raises UnsupportedSourceError: a stream for a format that needs a location.
    """
    _log.info(
        "writing %d image(s) as %s: %d blob(s), %d bytes",
        len(plan.entries),
        driver.name,
        len(plan.blobs),
        sum(d.size for d in plan.blobs),
    )
    try:
        _write(driver, plan, sink, storage_options)
    finally:
        plan.close()


def _write(
    driver: ImageDriver,
    plan: ExportPlan,
    sink: Sink | Location | ImageAddress,
    storage_options: Mapping[str, Any] | None,
) -> None:
    if isinstance(sink, ImageAddress):
        driver.write_address(plan, replace(sink, options=dict(storage_options or {})))
        return
    if driver.accepts_stream:
        with open_sink(sink, storage_options) as stream:
            driver.write(plan, stream)
        return
    target = resolve(sink, storage_options)
    if not isinstance(target, Location):
        raise UnsupportedSourceError(driver.name, "a stream")
    if target.fs.exists(target.path):
        driver.write(plan, target)  # the driver adds to it: blobs first, names last
        return
    # A new target: on a local disk it is built under a temporary name and renamed into
    # place, so it appears only once complete, even if this process is killed.
    build = _temporary_sibling(target) if target.is_local else target
    try:
        driver.write(plan, build)
        if build is not target:
            os.rename(build.path, target.path)
    except BaseException:
        if build.fs.exists(build.path):
            build.fs.rm(build.path, recursive=True)
        raise


def _temporary_sibling(target: Location) -> Location:
    directory, name = os.path.split(target.path.rstrip("/"))
    for stale in glob.glob(
        os.path.join(glob.escape(directory), f".{glob.escape(name)}.*.tmp")
    ):
        if _abandoned(stale):
            shutil.rmtree(stale, ignore_errors=True)
    temp = f".{name}.{owner_token()}-{uuid.uuid4().hex}.tmp"
    return Location(target.fs, os.path.join(directory, temp))


def _abandoned(path: str) -> bool:
    """Whether a temporary directory's builder, a process of this machine, is gone."""
    parts = os.path.basename(path).rsplit(".", 2)
    owner = parts[-2].rsplit("-", 1)[0] if len(parts) == 3 else ""
    return is_dead(owner)


def _filtered(graph: ImageGraph, view: ExportView) -> dict[Digest, Descriptor]:
    """New indexes listing only the children the walk took, children first; returns
    the replacement descriptor of each index that changed."""
    replaced: dict[Digest, Descriptor] = {}
    for desc, index in reversed(graph.indexes):
        taken = {child.digest for child in graph.children.get(desc.digest, [])}
        doc: dict[str, Any] = json.loads(index.raw)
        kept = []
        for raw_child, child in zip(
            doc.get("manifests") or [], index.manifests, strict=True
        ):
            if child.digest not in taken:
                continue
            new_child = replaced.get(child.digest)
            if new_child is not None:
                raw_child = {
                    **raw_child,
                    "digest": str(new_child.digest),
                    "size": new_child.size,
                }
            kept.append(raw_child)
        if len(kept) == len(index.manifests) and kept == doc.get("manifests"):
            continue
        doc["manifests"] = kept
        raw = dump_json(doc)
        new = replace(desc, digest=Digest.of(raw), size=len(raw))
        view.extra[new.digest] = raw
        replaced[desc.digest] = new
    return replaced
