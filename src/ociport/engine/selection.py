"""Choosing which roots of a source an import takes."""

from __future__ import annotations

from collections.abc import Sequence

from ociport.errors import RefNameNotFoundError
from ociport.oci.descriptor import ANNOTATION_IMAGE_NAME, Descriptor

__all__ = ["root_names", "select_roots"]


def root_names(root: Descriptor) -> list[str]:
    """The names a source gives a root: its ref name and containerd image name."""
    names = (root.ref_name, root.annotations.get(ANNOTATION_IMAGE_NAME))
    return [name for name in names if name]


def select_roots(
    roots: Sequence[Descriptor], ref_name: str | None
) -> tuple[list[Descriptor], list[str]]:
    """The roots to import, and notes for the user.

    ``roots`` are the source's images, its referrers already set apart
    (:func:`~ociport.engine.referrers.classify_roots`: they follow their subject).
    With ``ref_name``, only the roots it names (as ``ctr`` does: a ref name or a
    containerd image name). Without, every root, unnamed ones too (as ``ctr`` does:
    naming gives them digest names, with a note), whatever the format.

    :raises RefNameNotFoundError: ``ref_name`` names no root; lists the names there are.
    """
    if ref_name is None:
        return list(roots), []
    chosen = [root for root in roots if ref_name in root_names(root)]
    if not chosen:
        available = sorted({name for root in roots for name in root_names(root)})
        raise RefNameNotFoundError(ref_name, available)
    return chosen, []
