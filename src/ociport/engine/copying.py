"""Copy, once for every pair of formats: a source's images written straight to a
destination, without the store.

The source is opened and selected as an import selects
(:func:`~ociport.engine.importing.select_source`: ref name, platforms, referrers); the
selection is then the read-only content an export plans from (:class:`CopyContent`),
and the destination's driver writes the plan
(:func:`~ociport.engine.exporting.plan_export`,
:func:`~ociport.engine.exporting.write_plan`). So platform-filtered indexes, referrers,
layers re-encoded for formats that need it, files from plugins, progress and notes are
the export's, for every pair of formats.

- **Verified on the way.** Every blob read from the source is hashed while it streams
  to the destination and checked (digest and size, :class:`~ociport.oci.digest.
  VerifyingReader`) when its last byte is read, before the destination is complete.
- **The destination is left as it was on failure**, as an export leaves it: a file is
  written under a temporary name and renamed once complete, a new local layout is
  built beside its final name, a registry gets the tag only after every blob and
  manifest.
- **Digests are preserved**: manifests and blobs are copied byte for byte, unless a
  platform filter writes a new index or the destination's format needs new bytes
  (Docker archives: layers re-encoded, manifests built on reading one).
- **One-pass sources are staged.** A source that cannot be read in random order (an
  archive on stdin or from a pipe, a compressed archive; a Docker archive, whose
  driver reads every file to build manifests) has its blobs staged, verified, in a
  temporary directory (``ociport-copy-<host>-<pid>-*`` under ``$TMPDIR``, see
  :func:`tempfile.gettempdir`), removed when the copy ends, whether it succeeds or
  not; one a killed copy left is removed by the next copy on that machine.
  Random-access sources (an uncompressed archive file or object, a layout, a
  registry) are read directly, only the blobs the selection needs.
- No store is opened and no store hook is called: a copy commits nothing.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import IO, Any, BinaryIO, Final, cast

from ociport.content.fsstore import FsspecContentStore
from ociport.content.interfaces import BlobInfo
from ociport.content.progress import ProgressCounter
from ociport.content.staging import StagingArea
from ociport.drivers.base import ImageDriver
from ociport.drivers.plan import ExportPlan
from ociport.engine.exporting import plan_export, write_plan
from ociport.engine.importing import (
    ImportRequest,
    SelectedContent,
    open_image_source,
    select_source,
    source_size,
)
from ociport.engine.naming import copy_entry, ref_entry
from ociport.errors import BlobNotFoundError, InvalidLocationError
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.processes import is_dead, owner_token
from ociport.results import CopyResult
from ociport.streams.address import ImageAddress
from ociport.streams.location import Location
from ociport.streams.sources import Sink

__all__ = ["SCRATCH_PREFIX", "CopyContent", "copy_source"]

_log = logging.getLogger(__name__)

#: How the temporary directories of copies are named: PREFIX<host>-<pid>-<random>.
SCRATCH_PREFIX: Final = "ociport-copy-"


class CopyContent:
    """A source's selection as the read-only content an export plans from
    (:class:`~ociport.content.interfaces.ReadableImages`): the selected roots and their
    referrers are its ``index.json``; its blobs are those the selection needs, each
    read from the source and verified while it streams.

    :param selected: what the request selected of the opened source.
    """

    def __init__(self, selected: SelectedContent) -> None:
        self._selected = selected
        self._blobs = selected.blobs()
        self._entries = (
            *(copy_entry(root) for root in selected.roots),
            *selected.referrers,
        )

    def read_index(self) -> tuple[Descriptor, ...]:
        """The selected roots (named as the source names them), then the referrers."""
        return self._entries

    def info(self, digest: Digest) -> BlobInfo:
        """The size of a blob the selection needs.

        :raises BlobNotFoundError: the selection does not need it (or the source
            lacks it).
        """
        desc = self._blobs.get(digest)
        if desc is None:
            raise BlobNotFoundError(digest)
        return BlobInfo(digest, desc.size)

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        """A needed blob's bytes, always checked against its digest and size as they
        are read (``verify`` is implied: the source is not trusted); the caller closes
        the stream.

        :raises BlobNotFoundError: the selection does not need it.
        :raises DigestMismatchError, SizeMismatchError: at the end of the bytes.
        """
        known = self._blobs.get(descriptor.digest)
        if known is None:
            raise BlobNotFoundError(descriptor.digest)
        stream = self._selected.reader.open_verified(known)
        return cast(BinaryIO, stream)


def copy_source(
    source_driver: ImageDriver,
    source: IO[bytes] | Location | ImageAddress,
    dest_driver: ImageDriver,
    sink: Sink | Location | ImageAddress,
    request: ImportRequest,
    *,
    label: str,
    dest_ref: str | None = None,
    dest_options: Mapping[str, Any] | None = None,
    add_members: Callable[[ExportPlan], None] | None = None,
    dest_errors: AbstractContextManager[None] | None = None,
) -> CopyResult:
    """Copy the images of ``source`` that ``request`` selects to ``sink``.

    :param source: what :func:`~ociport.engine.detect.choose_driver` gave for the
        source (a location, an uncompressed stream, an image address).
    :param sink: the destination: a path, URL, location, writable stream, or an
        image address (with its options in ``dest_options``), as
        :func:`~ociport.engine.exporting.write_plan` takes it.
    :param request: the selection (ref name, platforms, referrers, document cap) and
        the progress report: told of each blob and its bytes as a one-pass source is
        staged, else as the destination's driver reads them from the source (the
        total: the plan's blobs, in bytes; see :func:`plan_export`).
    :param dest_ref: the destination's REF (``oci:DIR:REF``): the name of the one
        image copied (:func:`~ociport.engine.naming.ref_entry`).
    :param dest_options: fsspec options of the destination, or a registry's.
    :param add_members: called with the plan before it is written, to add files from
        plugins (:func:`~ociport.engine.exporting.add_plugin_members`).
    :param dest_errors: entered around the write, to name the destination in its
        storage errors (:func:`~ociport.streams.storage_errors.storage_errors`).
    :returns: the entries, referrers and blobs written, what the source lacked, and
        notes.
    :raises FormatError, ContentError: a bad source; the destination is left as it
        was (a stream destination has what was written so far).
    :raises RefNameNotFoundError: ``request.ref_name`` is not in the source.
    :raises InvalidLocationError: ``dest_ref`` given for several images.
    :raises InvalidReferenceError: ``dest_ref`` is neither a tag nor a reference.
    :raises MissingContentError: a selected manifest's content is absent.
    :raises UnsupportedSourceError: the destination's format cannot be written there.
    """
    # One report for the bytes that take the time: those of a one-pass source as it is
    # read and staged, else those the destination's driver reads from the source.
    progress = ProgressCounter.wrap(request.progress)
    if progress is not None:
        progress.start(source_size(source))
    selecting = replace(request, progress=None, whole_index=False)
    scratch_dir = _scratch_directory()
    try:
        # Only one-pass sources put blobs here; the rest is read from the source.
        scratch = FsspecContentStore(
            Location.from_url(scratch_dir), role="source", single_writer=True
        )
        with (
            StagingArea(
                scratch, max_document=request.max_document, progress=progress
            ) as staging,
            open_image_source(
                source_driver, source, staging, selecting, label
            ) as opened,
        ):
            selected = select_source(
                source_driver, opened, staging, selecting, label=label, store=None
            )
            selected.reader.check_configs(selected.graphs)
            needed = selected.blobs()
            one_pass = [d for d in needed if staging.staged(d)]
            staging.commit(one_pass)
            content = CopyContent(selected)
            entries = list(content.read_index()[: len(selected.roots)])
            if dest_ref is not None:
                if len(entries) != 1:
                    raise InvalidLocationError(
                        f":{dest_ref}",
                        f"a destination :REF names one image, not the {len(entries)} "
                        "the source holds: choose one with the source's :REF or --ref",
                    )
                entries = [ref_entry(entries[0], dest_ref)]
            plan, notes = plan_export(
                content,
                entries,
                request.selection,
                progress=None if needed and len(one_pass) == len(needed) else progress,
                referrers=request.referrers,
                holds_referrers=dest_driver.holds_referrers,
            )
            if add_members is not None:
                add_members(plan)
            _log.info(
                "%s: copying %d image(s) as %s", label, len(entries), dest_driver.name
            )
            with dest_errors or contextlib.nullcontext():
                write_plan(dest_driver, plan, sink, dest_options)
            return CopyResult(
                plan.entries,
                plan.referrers,
                plan.missing,
                [*opened.notes, *selected.notes, *notes],
                len(plan.blobs),
                sum(desc.size for desc in plan.blobs),
            )
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)


def _scratch_directory() -> str:
    """A new temporary directory for a copy, named after this process; those that
    copies killed on this machine left behind (their process is gone) are removed
    first."""
    root = tempfile.gettempdir()
    for stale in glob.glob(os.path.join(glob.escape(root), f"{SCRATCH_PREFIX}*")):
        owner = os.path.basename(stale)[len(SCRATCH_PREFIX) :].rsplit("-", 1)[0]
        if is_dead(owner):
            shutil.rmtree(stale, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{owner_token()}-", dir=root)
