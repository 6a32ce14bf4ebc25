"""What an export sees: the store, plus platform-filtered indexes, minus hidden content.

Exporting some platforms of a multi-platform image writes a new index that lists only
those platforms (so the archive is complete and imports anywhere); the new index exists
only in this view, never in the store. With ``keep_index`` the original index is kept
and the unselected manifests are hidden instead, so the export is knowingly partial.
Non-distributable (foreign) layers can be hidden the same way.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, cast

from ociport.content.helpers import exists, read_blob
from ociport.content.interfaces import BlobInfo, ContentStore
from ociport.errors import BlobNotFoundError, FormatError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest, VerifyingReader
from ociport.oci.manifest import Index, Manifest, dump_json, parse_document
from ociport.oci.walk import PlatformSelection, choose_children, walk_image

__all__ = ["ExportView", "plan_export"]


@dataclass(slots=True)
class ExportView:
    """A read-only provider over a store with extra blobs and hidden ones.

    :ivar store: the underlying store.
    :ivar extra: blobs that exist only for this export (filtered indexes), by digest.
    :ivar hidden: digests the export must not see (reported as missing instead).
    """

    store: ContentStore
    extra: dict[Digest, bytes] = field(default_factory=dict)
    hidden: set[Digest] = field(default_factory=set)

    def open_blob(self, descriptor: Descriptor, *, verify: bool = False) -> BinaryIO:
        """As :meth:`Provider.open_blob`; hidden blobs are not found."""
        digest = descriptor.digest
        if digest in self.hidden:
            raise BlobNotFoundError(digest)
        if digest in self.extra:
            stream = io.BytesIO(self.extra[digest])
            if verify:
                return cast(BinaryIO, VerifyingReader(stream, digest, descriptor.size))
            return stream
        return self.store.open_blob(descriptor, verify=verify)

    def info(self, digest: Digest) -> BlobInfo:
        """As :meth:`InfoProvider.info`; hidden blobs are not found."""
        if digest in self.hidden:
            raise BlobNotFoundError(digest)
        if digest in self.extra:
            return BlobInfo(digest, len(self.extra[digest]))
        return self.store.info(digest)


def plan_export(
    store: ContentStore,
    entries: Sequence[Descriptor],
    selection: PlatformSelection,
    *,
    keep_index: bool = False,
    skip_non_distributable: bool = False,
) -> tuple[ExportView, list[Descriptor], list[str]]:
    """The view to export from, the (possibly re-pointed) entries, and notes.

    :raises MissingContentError: a selected manifest (every one with ``all_platforms``)
        or its config or layers are absent.
    :raises FormatError: an index has no manifest for the selected platforms.
    """
    view = ExportView(store)
    notes: list[str] = []
    new_entries = list(entries)
    for position, entry in enumerate(entries):
        # Checks that what the selection requires is present (raises otherwise).
        graph = walk_image(
            entry, lambda d: read_blob(store, d), lambda d: exists(store, d), selection
        )
        if skip_non_distributable:
            view.hidden.update(
                layer.digest
                for _, manifest in graph.manifests
                for layer in manifest.layers
                if layer.media_type in mt.NON_DISTRIBUTABLE_LAYERS
            )
        if not selection.platforms:
            continue
        if keep_index:
            hidden = _unselected(store, entry, selection)
            view.hidden.update(hidden)
            if hidden:
                notes.append(
                    f"{len(hidden)} manifests of {entry.digest} left out: the archive is "
                    "partial (--keep-index)"
                )
        else:
            new_entries[position] = _filtered(store, entry, selection, view)
    return view, new_entries, notes


def _document(store: ContentStore, desc: Descriptor) -> Manifest | Index | None:
    return parse_document(
        read_blob(store, desc), desc.media_type, where=str(desc.digest)
    )


def _unselected(
    store: ContentStore, desc: Descriptor, selection: PlatformSelection
) -> set[Digest]:
    index = _document(store, desc)
    if not isinstance(index, Index):
        return set()
    chosen = choose_children(index.manifests, selection)
    hidden = {d for d, wanted in chosen.items() if wanted is False}
    for child in index.manifests:
        if chosen[child.digest] is not False and exists(store, child.digest):
            hidden |= _unselected(store, child, selection)
    return hidden


def _filtered(
    store: ContentStore,
    desc: Descriptor,
    selection: PlatformSelection,
    view: ExportView,
) -> Descriptor:
    """``desc`` itself, or a new index listing only the selected children."""
    index = _document(store, desc)
    if not isinstance(index, Index):
        return desc
    chosen = choose_children(index.manifests, selection)
    doc: dict[str, Any] = json.loads(index.raw)
    kept: list[dict[str, Any]] = []
    for raw_child, child in zip(
        doc.get("manifests") or [], index.manifests, strict=True
    ):
        if chosen[child.digest] is False or not exists(store, child.digest):
            continue
        new_child = _filtered(store, child, selection, view)
        if new_child.digest != child.digest:
            raw_child = {
                **raw_child,
                "digest": str(new_child.digest),
                "size": new_child.size,
            }
        kept.append(raw_child)
    if not kept:
        wanted = ", ".join(map(str, selection.platforms))
        raise FormatError(f"index {desc.digest} has no manifest for {wanted}")
    if len(kept) == len(index.manifests):
        return desc
    doc["manifests"] = kept
    raw = dump_json(doc)
    new = replace(desc, digest=Digest.of(raw), size=len(raw))
    view.extra[new.digest] = raw
    return new
