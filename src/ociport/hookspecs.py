"""Hook specifications of the ``ociport`` pluggy project.

A plugin is a module or object with functions marked ``@ociport.hookimpl`` whose names
are these hooks, registered through the ``ociport`` entry-point group::

    [project.entry-points.ociport]
    my-format = "my_package.ociport_plugin"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from ociport.config import StoreConfig
    from ociport.content.interfaces import (
        BlobInfo,
        ContentStore,
        ReadableContent,
    )
    from ociport.drivers.plan import ExportPlan
    from ociport.drivers.registry import DriverRegistry
    from ociport.oci.descriptor import Descriptor, Platform
    from ociport.streams.location import Location

__all__ = ["hookspec"]

hookspec = pluggy.HookspecMarker("ociport")


@hookspec
def ociport_register_drivers(registry: DriverRegistry) -> None:
    """Register image drivers by calling ``registry.add(DriverClass)``.

    Called once per plugin manager, the first time a driver is looked up.

    :param registry: the registry to add to; adding a taken name raises
        :class:`~ociport.errors.DuplicateDriverError` unless ``replace=True``.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def ociport_open_content_store(
    location: Location, options: Mapping[str, Any]
) -> ContentStore | None:
    """Open the content store at ``location``, or return ``None`` to pass.

    Stops at the first non-``None`` result. The built-in implementation is ``trylast``
    and returns a :class:`~ociport.content.fsstore.FsspecContentStore`, so a plugin can
    claim locations (for example a database-backed store) before it.

    :param location: the store root.
    :param options: ``{"create": bool, "single_writer": bool}``: ``create``: whether a
        missing store may be created (``False`` for read-only operations, which must
        raise :class:`~ociport.errors.StoreNotFoundError` instead); ``single_writer``:
        the storage option ``ociport_single_writer=true`` (accept an object store whose
        server ignores conditional writes).
    :returns: a store implementing :class:`~ociport.content.interfaces.ContentStore`.

    .. versionadded:: 0.1
    """


@hookspec
def ociport_named_stores() -> Mapping[str, StoreConfig]:
    """Name stores (a URL plus storage options) that users select with ``--store NAME``.

    All implementations are called and their mappings merged; a user's configuration
    file overrides plugin entries of the same name.

    .. versionadded:: 0.1
    """
    return {}


@hookspec
def ociport_archive_members(
    store: ReadableContent,
    driver_name: str,
    entries: Sequence[Descriptor],
    platform: Platform | None,
    plan: ExportPlan,
) -> Sequence[tuple[str, bytes]]:
    """Contribute small files to an archive being exported.

    Called before an export writes anything; all implementations are called and their
    results concatenated. Tar formats write the files after ``index.json`` and before
    the blobs (the Docker plugin adds ``manifest.json`` this way, as ``ctr images
    export`` does). Users turn this off with ``--skip-manifest-json``.

    :param store: where the exported blobs come from.
    :param driver_name: the format being written (``"oci-archive"``).
    :param entries: the ``index.json`` entries, annotated with their names.
    :param platform: the platform the user chose for single-platform views, or ``None``
        for the host's.
    :param plan: the whole export plan (entries, blobs, the walk of each entry;
        :meth:`~ociport.drivers.plan.ExportPlan.manifest_for` picks the manifest a
        single-platform view shows).
    :returns: ``(member name, bytes)`` pairs; names must not collide with layout files.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 the ``plan`` argument.
    """
    return []


@hookspec
def ociport_blob_committed(store: ContentStore, info: BlobInfo) -> None:
    """Called as an import commits a new blob to ``store``, once per blob actually
    committed (blobs the store already had are not reported), including blobs the
    format built (a Docker archive's manifests) and whole indexes.

    For metrics, replication, indexing. An exception propagates to the caller and ends
    the import (its images are not named), but the blob stays committed.

    .. versionadded:: 0.1
    """


@hookspec
def ociport_image_imported(
    store: ContentStore, driver_name: str, roots: Sequence[Descriptor]
) -> None:
    """Called after an import committed ``roots`` and named them in ``store``.

    :param driver_name: the format read (``"oci-archive"``, ...).
    :param roots: the imported roots, annotated with their store names.

    .. versionadded:: 0.1
    """


@hookspec
def ociport_image_exported(
    store: ContentStore, driver_name: str, roots: Sequence[Descriptor]
) -> None:
    """Called after an export wrote ``roots`` completely.

    :param driver_name: the format written.
    :param roots: the ``index.json`` entries written.

    .. versionadded:: 0.1
    """


@hookspec
def ociport_cli_commands() -> Sequence[click.Command]:
    """Add commands to the ``ociport`` command line (the registry plugin adds ``login``
    and ``logout``).

    Called once per plugin manager, and only when the command line needs more than its
    built-in commands: a command name that is not a built-in one, the command list of
    ``ociport --help``, shell completion. A built-in command (``ociport images ls``)
    never calls it, so it costs short commands nothing. All implementations are called
    and their results concatenated.

    Keep the module that returns the commands light (click only): it is imported for
    ``ociport --help``; import what a command needs inside its function.

    :returns: :class:`click.Command` objects (or groups), each with a ``name``. A name
        that is a built-in command's, or another plugin's, raises
        :class:`~ociport.errors.PluginError` when the commands are collected.

    .. versionadded:: 0.2
    """
    return []
