"""Choosing which roots of an ``index.json`` an import takes."""

from __future__ import annotations

from ociport.errors import FormatError, RefNameNotFoundError
from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME, Descriptor
from ociport.oci.manifest import Index

__all__ = ["select_roots"]


def _names(root: Descriptor) -> tuple[str | None, str | None]:
    return root.ref_name, root.annotations.get(ANNOTATION_IMAGE_NAME)


def select_roots(
    index: Index, ref_name: str | None, label: str, *, named_only: bool
) -> tuple[list[Descriptor], list[str]]:
    """The roots to import, and notes for the user.

    :param ref_name: take only the root with this ref name (or containerd image name).
    :param named_only: without ``ref_name``, take only named roots when there are any
        (a layout used as a repository keeps untagged referrers unnamed); else take all.
    :raises RefNameNotFoundError: ``ref_name`` names no root.
    :raises FormatError: the index lists nothing.
    """
    roots = list(index.manifests)
    if not roots:
        raise FormatError("index.json lists no images", location=label)
    if ref_name is not None:
        chosen = [r for r in roots if ref_name in _names(r)]
        if not chosen:
            available = sorted({r.ref_name for r in roots if r.ref_name})
            raise RefNameNotFoundError(ref_name, available)
        return chosen, []
    named = [r for r in roots if any(_names(r))]
    if named_only and named and len(named) < len(roots):
        return named, [
            f"{len(roots) - len(named)} unnamed entries of index.json not imported"
        ]
    return roots, []
