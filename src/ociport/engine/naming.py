"""Image names on import and ref names on export, compatible with ``ctr images import/export``.

On import (containerd ``images/archive/importer.go`` and ``ctr images import``):

- ``io.containerd.image.name`` on an ``index.json`` entry wins;
- else a full reference in ``org.opencontainers.image.ref.name`` is used as it is;
- else a tag-only ref name ``T`` becomes ``<base-name>:T``;
- with ``digests``, ``<base-name>@<digest>`` is added (only for unnamed roots with
  ``skip_digest_for_named``); a root with no usable name always gets that digest name.

On export every entry carries ``io.containerd.image.name`` (the full name) and a ref name:
the full reference by default, or only the tag in containerd's style; an export to
``TRANSPORT:PATH:REF`` (skopeo's syntax) writes REF (:func:`ref_entry`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ociport.content.interfaces import ImageIndexStore
from ociport.errors import InvalidReferenceError, RefNameConflictError
from ociport.oci.descriptor import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    Descriptor,
)
from ociport.oci.reference import Reference, is_tag

__all__ = [
    "ImportNaming",
    "RefNameStyle",
    "copy_entry",
    "default_base_name",
    "export_entries",
    "name_roots",
    "record_names",
    "ref_entry",
]

RefNameStyle = Literal["full", "tag"]


def default_base_name() -> str:
    """``import-YYYY-MM-DD`` for today, as ``ctr images import`` names unnamed images."""
    return f"import-{datetime.date.today().isoformat()}"


@dataclass(frozen=True, slots=True)
class ImportNaming:
    """How roots found in an archive are named in the store.

    :ivar base_name: repository used for tag-only ref names and digest names.
    :ivar digests: also name every root ``<base-name>@<digest>``.
    :ivar skip_digest_for_named: with ``digests``, only for roots without a name.
    """

    base_name: str = field(default_factory=default_base_name)
    digests: bool = False
    skip_digest_for_named: bool = False

    def __post_init__(self) -> None:
        Reference.parse(self.base_name)

    def names_for(self, root: Descriptor) -> tuple[list[str], str | None]:
        """The store names of ``root``, and a note when it had no usable name.

        :returns: ``(names, note)``; ``names`` is never empty.
        """
        name, note = self._given_name(root)
        names = [name] if name else []
        digest_name = f"{self.base_name}@{root.digest}"
        if not name or (self.digests and not (self.skip_digest_for_named and name)):
            names.append(digest_name)
        if not name and note is None:
            note = f"image {root.digest} has no name; imported as {digest_name}"
        return names, note

    def _given_name(self, root: Descriptor) -> tuple[str | None, str | None]:
        image_name = root.annotations.get(ANNOTATION_IMAGE_NAME)
        ref_name = root.ref_name
        candidate = image_name or (
            f"{self.base_name}:{ref_name}"
            if ref_name and is_tag(ref_name)
            else ref_name
        )
        if not candidate:
            return None, None
        try:
            return str(Reference.parse(candidate)), None
        except InvalidReferenceError:
            digest_name = f"{self.base_name}@{root.digest}"
            return (
                None,
                f"image name {candidate!r} is not a valid reference; imported as {digest_name}",
            )


def name_roots(
    roots: Sequence[Descriptor], naming: ImportNaming, index_name: str | None = None
) -> tuple[list[tuple[str, Descriptor]], list[str]]:
    """The store names of imported roots, and notes (roots without a usable name, names
    the source gives to several images: the last one wins, as ``ctr`` does).

    :param index_name: the one name of a whole index imported as one image.
    :returns: ``(name, root)`` pairs in source order, and the notes.
    """
    if index_name is not None:
        return [(index_name, roots[0])], []
    named: list[tuple[str, Descriptor]] = []
    notes: list[str] = []
    for root in roots:
        names, note = naming.names_for(root)
        named.extend((name, root) for name in names if (name, root) not in named)
        notes.extend([note] if note and note not in notes else [])
    return named, notes + _repeated_names(named)


def _repeated_names(named: Sequence[tuple[str, Descriptor]]) -> list[str]:
    last: dict[str, Descriptor] = {}
    losers: dict[str, list[str]] = {}
    for name, root in named:
        if name in last and last[name].digest != root.digest:
            losers.setdefault(name, []).append(str(last[name].digest))
        last[name] = root
    return [
        f"{name} names several images in the source; kept {last[name].digest}, "
        f"not {', '.join(digests)}"
        for name, digests in losers.items()
    ]


def export_entries(
    images: Sequence[tuple[str, Descriptor]], style: RefNameStyle = "full"
) -> list[Descriptor]:
    """``index.json`` entries for ``(name, root)`` pairs, in the given order.

    :raises RefNameConflictError: two images would share one ref name.
    """
    entries: list[Descriptor] = []
    owners: dict[str, str] = {}
    for name, root in images:
        ref_name = name
        if style == "tag":
            tag = Reference.parse(name).tag
            ref_name = tag or name
        if ref_name in owners and owners[ref_name] != name:
            raise RefNameConflictError(ref_name, [owners[ref_name], name])
        owners[ref_name] = name
        annotations = {
            k: v
            for k, v in root.annotations.items()
            if k not in (ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME)
        }
        annotations[ANNOTATION_IMAGE_NAME] = name
        annotations[ANNOTATION_REF_NAME] = ref_name
        entries.append(root.with_annotations(annotations))
    return entries


def ref_entry(entry: Descriptor, ref: str) -> Descriptor:
    """An entry of :func:`export_entries` renamed for an export to
    ``TRANSPORT:PATH:REF`` (skopeo's ``oci-archive:PATH:REF``, ``docker-archive:PATH:REF``).

    Its ``org.opencontainers.image.ref.name`` is REF as written, as skopeo writes it; its
    ``io.containerd.image.name`` (what the Docker plugin writes as ``RepoTags``) is REF
    when REF is a full reference (``example.com/app:v2``), else the image's repository
    with REF as its tag (``v2``).

    An entry without an image name (a copied root the source did not name) gets only
    the ref name REF when REF is a tag.

    :raises InvalidReferenceError: REF is neither a tag nor an image reference.
    """
    annotations = {**entry.annotations, ANNOTATION_REF_NAME: ref}
    if is_tag(ref):
        current = entry.annotations.get(ANNOTATION_IMAGE_NAME)
        if current is not None:
            annotations[ANNOTATION_IMAGE_NAME] = (
                f"{Reference.parse(current).name}:{ref}"
            )
    else:
        Reference.parse(ref)
        annotations[ANNOTATION_IMAGE_NAME] = ref
    return entry.with_annotations(annotations)


def copy_entry(root: Descriptor) -> Descriptor:
    """A source's root as a copy writes it: with every annotation the source gives it,
    plus ``io.containerd.image.name`` from a ref name that is a full reference (the
    name an import gives it, and what Docker's ``RepoTags`` are written from), or
    ``org.opencontainers.image.ref.name`` from the image name when it has none (an
    image pulled from a registry), as an export writes both."""
    ref_name = root.ref_name
    image_name = root.annotations.get(ANNOTATION_IMAGE_NAME)
    if image_name and not ref_name:
        return root.with_annotations(
            {**root.annotations, ANNOTATION_REF_NAME: image_name}
        )
    if image_name or not ref_name or is_tag(ref_name):
        return root
    try:
        name = str(Reference.parse(ref_name))
    except InvalidReferenceError:
        return root
    return root.with_annotations({**root.annotations, ANNOTATION_IMAGE_NAME: name})


def record_names(
    content: ImageIndexStore,
    named: Sequence[tuple[str, Descriptor]],
    referrers: Sequence[Descriptor] = (),
) -> list[tuple[str, Descriptor]]:
    """Point each name at its root in the store's ``index.json`` (the last root wins
    for a repeated name), and record ``referrers`` as unnamed entries (once each), in
    one update.

    :returns: ``(name, entry)`` for each name, the entry as recorded.
    :raises InvalidReferenceError: a name's ``@digest`` is not its root's digest.
    """
    for name, root in named:
        pinned = Reference.parse(name).digest
        if pinned is not None and pinned != root.digest:
            raise InvalidReferenceError(name, f"the image's digest is {root.digest}")
    new = {
        name: root.with_annotations(
            {
                **{
                    k: v
                    for k, v in root.annotations.items()
                    if k not in (ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME)
                },
                ANNOTATION_REF_NAME: name,
            }
        )
        for name, root in named
    }
    added = {r.digest for r in referrers}

    def change(entries: list[Descriptor]) -> list[Descriptor]:
        kept = [
            e
            for e in entries
            if e.ref_name not in new and (e.ref_name or e.digest not in added)
        ]
        return sorted(
            [*kept, *new.values(), *referrers], key=lambda e: e.ref_name or ""
        )

    content.update_index(change)
    return list(new.items())
