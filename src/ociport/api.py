"""The Python API: :func:`open_store` and :class:`ImageStore`, what the CLI is built on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, final

import pluggy

from ociport.config import resolve_store
from ociport.content.progress import ProgressLike
from ociport.errors import ImageNotFoundError, InvalidLocationError, PluginError
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import MAX_DOCUMENT_SIZE
from ociport.oci.reference import Reference
from ociport.plugins import driver_registry, get_plugin_manager
from ociport.results import CopyResult, ExportResult, Image, ImportResult
from ociport.streams.location import SINGLE_WRITER_OPTION, Location, split_options
from ociport.streams.storage_errors import is_unresponsive, storage_errors
from ociport.targets import (
    apply_transport,
    one_root,
    platform_selection,
    sink_location,
    store_name,
)

if TYPE_CHECKING:
    from ociport.content.interfaces import BlobInfo, ContentStore
    from ociport.content.leases import Lease
    from ociport.drivers.base import ImageDriver
    from ociport.engine.convert import (
        Compression,
        ConvertResult,
        ManifestFormat,
    )
    from ociport.engine.gc import GcResult
    from ociport.engine.naming import (
        ImportNaming,
        RefNameStyle,
    )
    from ociport.engine.summary import ImageSummary
    from ociport.streams.sources import Sink, Source

# Everything else is imported where it is used: `open_store` and the name commands
# start without loading the engine (bench/README.md, start-up).

__all__ = [
    "CopyResult",
    "ExportResult",
    "GcResult",
    "Image",
    "ImageStore",
    "ImageSummary",
    "ImportResult",
    "copy_image",
    "inspect_source",
    "open_store",
]


def open_store(
    url: str | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
    pm: pluggy.PluginManager | None = None,
    create: bool = True,
) -> ImageStore:
    """Open (creating when missing) an image store.

    :param url: a local path, an fsspec URL (``memory://s``, ``s3://bucket/prefix``) or a
        store name from the config file or a plugin; default: ``$OCIPORT_STORE``, else
        ``$XDG_DATA_HOME/ociport/store``.
    :param storage_options: fsspec options for the store's filesystem, plus ociport's
        own ``ociport_single_writer`` (true: accept an object store whose server ignores
        conditional writes, for single-writer use; never passed to fsspec).
    :param pm: the plugin manager (default: the process-wide one with all plugins).
    :param create: create the store when it does not exist (with ``oci-layout`` and an
        empty ``index.json``); never an S3 bucket.
    :raises StoreNotFoundError: no store there and ``create`` is false, or the location
        is a file.
    :raises StorageError: a remote store failed (a missing bucket, credentials, a server
        that ignores conditional writes: :class:`~ociport.errors.ConditionalWritesError`).
    :raises PluginError: no plugin opened a store for the location.
    """
    pm = pm or get_plugin_manager()
    config = resolve_store(url, pm, storage_options)
    fsspec_options, own = split_options(config.options)
    location = Location.from_url(config.url, fsspec_options)
    # True from the CLI's KEY=VALUE parsing and from TOML; "true" from elsewhere.
    single_writer = str(own.get(SINGLE_WRITER_OPTION, False)).lower() in ("true", "1")
    content = pm.hook.ociport_open_content_store(
        location=location, options={"create": create, "single_writer": single_writer}
    )
    if content is None:
        raise PluginError(f"no plugin opens a content store at {location.url}")
    return ImageStore(content, pm)


def inspect_source(
    source: Source,
    *,
    format: str | None = None,
    ref_name: str | None = None,
    max_document: int = MAX_DOCUMENT_SIZE,
    storage_options: Mapping[str, Any] | None = None,
    pm: pluggy.PluginManager | None = None,
) -> list[dict[str, Any]]:
    """Describe an archive or layout without importing it.

    Reads only headers and documents where the source is seekable (a local file, a
    layout, an object on S3); a stream is read once and nothing is stored.

    :param source: a path, fsspec URL, ``"-"`` (stdin), readable binary stream, or a
        transport reference ``TRANSPORT:PATH[:REF]`` (skopeo's syntax, see
        :mod:`ociport.streams.transports`: ``oci-archive:/a.tar:v1``), or an image
        address of a transport that names images (``docker://HOST/REPO:TAG`` with the
        ``ociport-registry`` plugin; ``storage_options`` are then its options).
    :param ref_name: describe only the root with this ref name or image name (as a
        ``:REF`` does).
    :returns: one record per root (see :func:`ociport.engine.inspection.describe_source`).
    :raises FormatError: malformed source.
    :raises DriverDetectionError, UnknownDriverError: format unknown.
    :raises UnsupportedSourceError: the format's driver cannot inspect.
    :raises RefNameNotFoundError: ``ref_name`` names no root; lists the names there are.
    :raises InvalidLocationError: a malformed transport reference, or one whose
        transport or REF disagrees with ``format`` or ``ref_name``.
    """
    from ociport.engine.detect import choose_driver
    from ociport.engine.inspection import describe_source
    from ociport.streams.sources import describe, resolve

    pm = pm or get_plugin_manager()
    parsed, format, ref_name = apply_transport(
        pm,
        source,
        format=format,
        ref=ref_name,
    )
    resolved = resolve(parsed, storage_options)
    with storage_errors(resolved, "source"):
        driver_cls, target = choose_driver(pm, resolved, format, describe(parsed))
        return describe_source(
            driver_cls(),
            target,
            max_document=max_document,
            label=describe(parsed),
            ref_name=ref_name,
        )


def copy_image(
    source: Source,
    dest: Sink,
    *,
    format: str | None = None,
    dest_format: str | None = None,
    ref_name: str | None = None,
    platforms: Sequence[Platform | str] = (),
    all_platforms: bool = False,
    referrers: bool = True,
    oci_manifests: bool = False,
    extra_members: bool = True,
    max_document: int = MAX_DOCUMENT_SIZE,
    source_options: Mapping[str, Any] | None = None,
    dest_options: Mapping[str, Any] | None = None,
    progress: ProgressLike | None = None,
    store: ImageStore | None = None,
    pm: pluggy.PluginManager | None = None,
) -> CopyResult:
    """Copy images between two places without the store, as ``skopeo copy`` does:
    blobs stream from one to the other, each verified (digest and size) on the way,
    keeping their digests unless ``platforms`` makes a new index or the destination's
    format needs new bytes (:mod:`ociport.engine.copying`).

    :param source: as :meth:`ImageStore.import_image` takes it (a path, fsspec URL,
        ``"-"``, a readable stream, ``TRANSPORT:PATH[:REF]``, ``docker://HOST/REPO:TAG``),
        or ``store:NAME``, the image NAME of ``store`` (then this is an export).
    :param dest: as :meth:`ImageStore.export_images` takes it (a path, fsspec URL,
        ``"-"``, a writable stream, ``TRANSPORT:PATH[:REF]``: REF names the one image
        copied), or ``store:NAME``: import into ``store`` and name the one image NAME.
        A path, URL or new layout appears only once complete; a registry's tag moves
        only once everything it names is there.
    :param format: the source's format; default: its transport, else detected.
    :param dest_format: the destination's format; default: its transport, else
        ``oci-archive``.
    :param ref_name: copy only the source's image with this ref name or image name
        (as the source's ``:REF`` does).
    :param platforms: copy only these platforms of multi-platform images (a new index
        listing them is written).
    :param all_platforms: require and copy every platform.
    :param referrers: copy the images' referrers (signatures, SBOMs, attestations)
        where the destination's format holds them.
    :param oci_manifests: a source without manifests (a Docker archive) gets OCI ones,
        not Docker schema 2 ones.
    :param extra_members: let plugins add files (``ociport_archive_members``).
    :param max_document: cap for any JSON document of the source, in bytes.
    :param source_options: fsspec options for the source, or a registry's
        (``tls_verify``, ``creds``, ``authfile``).
    :param dest_options: the same for the destination.
    :param progress: told the total bytes to write, then each blob and its bytes as
        they are copied (:class:`~ociport.content.progress.Progress`), or a callable
        called with byte counts.
    :param store: the store ``store:NAME`` means; default: :func:`open_store`'s.
    :raises FormatError, ContentError: a bad or corrupt source; the destination is left
        as it was (a stream destination keeps what was written).
    :raises DriverDetectionError, UnknownDriverError: a format is unknown.
    :raises RefNameNotFoundError: ``ref_name`` names no image of the source.
    :raises ImageNotFoundError: ``store:NAME`` names no image of the store.
    :raises InvalidLocationError: a malformed transport reference or ``store:``, one
        that disagrees with ``format``/``dest_format`` or ``ref_name``, a destination
        REF for several images, ``store:`` on both sides or with a format or ref.
    :raises InvalidReferenceError: a destination REF or ``store:NAME`` that is no
        image reference.
    :raises UnsupportedSourceError: a format cannot read or write there (a layout to a
        stream).
    """
    from ociport.engine.copying import copy_source
    from ociport.engine.detect import choose_driver
    from ociport.engine.exporting import add_plugin_members
    from ociport.engine.importing import ImportRequest
    from ociport.streams.sources import describe, resolve

    pm = pm or get_plugin_manager()
    selection = platform_selection(platforms, all_platforms)
    from_store, to_store = store_name(source), store_name(dest)
    if from_store is not None or to_store is not None:
        # The store's own jobs: leased, verified, named, hooks called.
        store = store or open_store(pm=pm, create=to_store is not None)
        common: dict[str, Any] = {
            "platforms": platforms,
            "all_platforms": all_platforms,
            "progress": progress,
            "referrers": referrers,
        }
        plain = ref_name is None and format is None
        if from_store is not None and to_store is None and plain:
            exported = store.export_images(
                [from_store],
                dest,
                format=dest_format,
                extra_members=extra_members,
                storage_options=dest_options,
                **common,
            )
            return CopyResult.of_export(exported)
        if from_store is None and dest_format is None:
            imported = store.import_image(
                source,
                format=format,
                ref_name=ref_name,
                max_document=max_document,
                oci_manifests=oci_manifests,
                storage_options=source_options,
                name=to_store,
                **common,
            )
            return CopyResult.of_import(imported)
        raise InvalidLocationError(
            str(dest if to_store else source),
            "store:NAME takes no format or ref, and is on one side only",
        )
    parsed, format, ref_name = apply_transport(
        pm,
        source,
        format=format,
        ref=ref_name,
    )
    target, dest_format, dest_ref = apply_transport(
        pm,
        dest,
        format=dest_format,
        ref=None,
        format_label="dest_format",
    )
    dest_cls = driver_registry(pm).get(dest_format or "oci-archive")
    request = ImportRequest(
        selection, ref_name, False, max_document, progress, oci_manifests, referrers
    )
    resolved = resolve(parsed, source_options)
    with storage_errors(resolved, "source"):
        source_cls, opened = choose_driver(pm, resolved, format, describe(parsed))
        return copy_source(
            source_cls(),
            opened,
            dest_cls(),
            target,
            request,
            label=describe(parsed),
            dest_ref=dest_ref,
            dest_options=dest_options,
            add_members=(
                (lambda plan: add_plugin_members(pm, plan, dest_cls.name))
                if extra_members
                else None
            ),
            dest_errors=storage_errors(
                sink_location(target, dest_options), "destination"
            ),
        )


@final
class ImageStore:
    """Named images over a :class:`~ociport.content.interfaces.ContentStore`.

    :param content: the content store.
    :param pm: the plugin manager that supplies drivers and receives events.
    """

    def __init__(
        self, content: ContentStore, pm: pluggy.PluginManager | None = None
    ) -> None:
        self.content = content
        self.pm = pm or get_plugin_manager()

    def __repr__(self) -> str:
        return f"ImageStore({self.content!r})"

    # -- names --------------------------------------------------------------------------

    def images(self) -> list[Image]:
        """Every named image, sorted by name."""
        found = [
            Image(d.ref_name, d)
            for d in self.content.read_index()
            if d.ref_name is not None
        ]
        return sorted(found, key=lambda image: image.name)

    def get(self, name: str) -> Image:
        """The image called ``name``.

        :raises ImageNotFoundError: no such name.
        """
        for image in self.images():
            if image.name == name:
                return image
        raise ImageNotFoundError(name, [i.name for i in self.images()])

    def tag(self, name: str, new_name: str) -> Image:
        """Give the image ``name`` a further name ``new_name`` (replacing that name).

        :raises ImageNotFoundError: ``name`` does not exist.
        :raises InvalidReferenceError: ``new_name`` is not a valid reference.
        """
        Reference.parse(new_name)
        target = self.get(name).target
        self._set_names([(new_name, target)])
        return Image(new_name, target)

    def remove(self, names: Iterable[str]) -> list[str]:
        """Remove names; blobs stay until :meth:`gc`.

        :raises ImageNotFoundError: a name does not exist (then nothing is removed).
        """
        wanted = list(names)
        known = {image.name for image in self.images()}
        for name in wanted:
            if name not in known:
                raise ImageNotFoundError(name, sorted(known))
        self.content.update_index(
            lambda entries: [e for e in entries if e.ref_name not in wanted]
        )
        return wanted

    def _set_names(
        self,
        named: Sequence[tuple[str, Descriptor]],
        referrers: Sequence[Descriptor] = (),
    ) -> list[Image]:
        """Point each name at its root (the last root wins for a repeated name), and
        record ``referrers`` as unnamed entries (once each), in one update.

        :raises InvalidReferenceError: a name's ``@digest`` is not its root's digest.
        """
        from ociport.engine.naming import record_names

        return [
            Image(name, entry)
            for name, entry in record_names(self.content, named, referrers)
        ]

    # -- drivers ------------------------------------------------------------------------

    def driver(self, name: str) -> type[ImageDriver]:
        """The driver class registered as ``name``.

        :raises UnknownDriverError: listing the known formats.
        """
        return driver_registry(self.pm).get(name)

    # -- import ---------------------------------------------------------------------------

    def import_image(
        self,
        source: Source,
        *,
        format: str | None = None,
        naming: ImportNaming | None = None,
        platforms: Sequence[Platform | str] = (),
        all_platforms: bool = False,
        ref_name: str | None = None,
        index_name: str | None = None,
        max_document: int = MAX_DOCUMENT_SIZE,
        oci_manifests: bool = False,
        storage_options: Mapping[str, Any] | None = None,
        progress: ProgressLike | None = None,
        referrers: bool = True,
        name: str | None = None,
    ) -> ImportResult:
        """Import the images of an archive or layout and name them in the store.

        :param source: a path, fsspec URL, ``"-"`` (stdin), readable binary stream, or
            a transport reference ``TRANSPORT:PATH[:REF]`` (skopeo's syntax, see
            :mod:`ociport.streams.transports`): ``"oci-archive:/p.tar:v1"`` imports
            the image named ``v1`` of that OCI archive, ``"oci:s3://b/layout"`` a
            layout on S3; with the ``ociport-registry`` plugin,
            ``"docker://HOST/REPO:TAG"`` pulls from a registry (``storage_options``
            are then its options: ``tls_verify``, ``creds``, ``authfile``).
        :param format: a driver name (``oci-archive``, ...); guessed when ``None``.
        :param naming: how roots are named (``ctr images import`` rules).
        :param platforms: ``os/arch[/variant]`` to take from multi-platform images.
        :param all_platforms: require and take every platform.
        :param ref_name: import only the root with this ref name or containerd image
            name (as a ``:REF`` does).
        :param index_name: keep the source's whole ``index.json`` as one image so named.
        :param max_document: cap for any JSON document, in bytes.
        :param oci_manifests: formats without manifests (Docker archives) get OCI
            manifests rather than Docker schema 2 ones.
        :param progress: a :class:`~ociport.content.progress.Progress`, told the
            expected total in bytes (an estimate, then exactly once the selection is
            walked; ``None`` while unknown, as from a pipe), each blob as it begins and
            its bytes as they are read; or a callable called with byte counts.
        :param referrers: also import the referrers of the images (signatures, SBOMs,
            attestations: manifests whose ``subject`` is in an image's closure, or
            tagged ``sha256-<hex>.sig|.att|.sbom``), recursively, whether the source
            lists them in ``index.json`` or only holds their blobs; without
            ``ref_name``, the referrers of manifests the store already has too (a
            signature delivered apart from its image). The store records them as
            unnamed ``index.json`` entries (:meth:`referrers` lists them).
        :param name: name the one image imported so, and give it no other name
            (``copy SRC store:NAME``); several images are an error.
        :raises FormatError, ContentError: bad source; the store is left as it was.
        :raises DriverDetectionError, UnknownDriverError: format unknown.
        :raises RefNameNotFoundError: ``ref_name`` names no root; lists the names there
            are.
        :raises InvalidLocationError: a malformed transport reference, or one whose
            transport or REF disagrees with ``format`` or ``ref_name``; ``name`` for
            a source of several images (nothing is imported).
        :raises InvalidReferenceError: ``name`` or ``index_name`` is no reference.
        """
        from ociport.content.leases import lease_for
        from ociport.engine.detect import choose_driver
        from ociport.engine.importing import ImportRequest, import_source
        from ociport.engine.naming import ImportNaming, name_roots
        from ociport.streams.sources import describe, resolve

        parsed, format, ref_name = apply_transport(
            self.pm,
            source,
            format=format,
            ref=ref_name,
        )
        naming = naming or ImportNaming()
        selection = platform_selection(platforms, all_platforms)
        for given in (index_name, name):
            if given is not None:
                Reference.parse(given)
        request = ImportRequest(
            selection,
            ref_name,
            index_name is not None,
            max_document,
            progress,
            oci_manifests,
            referrers,
        )
        label = describe(parsed)
        resolved = resolve(parsed, storage_options)
        committed: list[Digest] = []

        def on_commit(info: BlobInfo) -> None:
            committed.append(info.digest)
            self.pm.hook.ociport_blob_committed(store=self.content, info=info)

        with lease_for(self.content, "import") as lease:
            try:
                # A remote source's failures name it; the store's name the store.
                with storage_errors(resolved, "source"):
                    driver_cls, opened = choose_driver(self.pm, resolved, format, label)
                    report = import_source(
                        driver_cls(),
                        opened,
                        self.content,
                        request,
                        label=label,
                        on_commit=on_commit,
                        lease=lease,
                    )
                named, notes = name_roots(report.roots, naming, index_name)
                if name is not None:
                    named, notes = [(name, one_root(report.roots, label))], []
                # The images carry their store names, as index.json and the hook say.
                images = self._set_names(named, report.referrers)
            except BaseException as exc:
                if not is_unresponsive(exc):
                    self._discard(committed, lease)
                elif lease is not None:
                    lease.abandon()  # the store does not answer: gc cleans up later
                raise
        self.pm.hook.ociport_image_imported(
            store=self.content,
            driver_name=driver_cls.name,
            roots=[i.target for i in images],
        )
        return ImportResult(
            images=images,
            missing=report.missing,
            notes=[*report.notes, *notes],
            referrers=report.referrers,
            blobs_committed=len(report.committed),
            bytes_committed=sum(info.size for info in report.committed),
        )

    def _discard(self, committed: Sequence[Digest], lease: Lease | None) -> None:
        """After a failed import: remove the blobs it committed that nothing names and
        no other writer holds. Best effort: what cannot be removed now (the store is
        unreachable) is left to ``content gc`` once the lease expires."""
        from ociport.engine.gc import remove_unnamed

        with contextlib.suppress(Exception):
            remove_unnamed(
                self.content, committed, own_lease=lease.id if lease else None
            )

    # -- export ---------------------------------------------------------------------------

    def export_images(
        self,
        names: Sequence[str],
        sink: Sink,
        *,
        format: str | None = None,
        ref_name_style: RefNameStyle = "full",
        platforms: Sequence[Platform | str] = (),
        all_platforms: bool = False,
        keep_index: bool = False,
        skip_non_distributable: bool = False,
        extra_members: bool = True,
        storage_options: Mapping[str, Any] | None = None,
        progress: ProgressLike | None = None,
        referrers: bool = True,
        artifact_types: Sequence[str] = (),
    ) -> ExportResult:
        """Write the named images to an archive or layout.

        :param names: image names in the store; the archive lists them in this order.
        :param sink: a path, fsspec URL, ``"-"`` (stdout), writable binary stream, or a
            transport reference ``TRANSPORT:PATH[:REF]`` (skopeo's syntax, see
            :mod:`ociport.streams.transports`): the transport is the format, and REF
            the name of the one image exported (:func:`~ociport.engine.naming.ref_entry`:
            its ``org.opencontainers.image.ref.name``, as written). A path or URL
            appears only once the export is complete. With the ``ociport-registry``
            plugin, ``"docker://HOST/REPO:TAG"`` pushes one image to a registry
            (``storage_options`` are then its options).
        :param format: a driver name; default: the sink's transport, else
            ``oci-archive``.
        :param ref_name_style: ``"full"`` (reference) or ``"tag"`` (containerd's style)
            for ``org.opencontainers.image.ref.name``.
        :param platforms: export only these platforms of multi-platform images: a new
            index listing just them is written (the store is not changed), so the archive
            is complete. The first one is also what single-platform views (Docker's
            ``manifest.json``) point at; default: the host's.
        :param all_platforms: require every platform to be present.
        :param keep_index: with ``platforms``, keep the original index and leave the
            other platforms out (a knowingly partial archive, reported in the notes).
        :param skip_non_distributable: leave out foreign (non-distributable) layers.
        :param extra_members: let plugins add files (``ociport_archive_members``).
        :param progress: a :class:`~ociport.content.progress.Progress`, told the total
            bytes of the blobs to export, then each blob and its bytes as they are
            read from the store; or a callable called with byte counts.
        :param referrers: also write the store's referrers of every manifest and index
            exported (recursively: a signature of an SBOM), as unnamed ``index.json``
            entries, the shape ``oras`` and containerd read; platforms left out take
            theirs along. Formats without room for them (docker-archive) leave them
            out with a note.
        :param artifact_types: write only the direct referrers of these artifact
            types (``application/spdx+json``); the referrers of those come along.
        :raises ImageNotFoundError: a name is not in the store.
        :raises RefNameConflictError: two images would share a ref name.
        :raises InvalidLocationError: a malformed transport reference, one whose
            transport disagrees with ``format``, or a REF with several names.
        :raises InvalidReferenceError: REF is neither a tag nor an image reference.
        :raises MissingContentError, DigestMismatchError: the store lacks or has corrupt
            content; a path or URL sink is then left untouched.
        """
        from ociport.engine.exporting import (
            add_plugin_members,
            plan_export,
            write_plan,
        )
        from ociport.engine.naming import export_entries, ref_entry

        target, format, ref = apply_transport(
            self.pm,
            sink,
            format=format,
            ref=None,
        )
        driver_cls = self.driver(format or "oci-archive")
        selection = platform_selection(platforms, all_platforms)
        unique = list(dict.fromkeys(names))
        if ref is not None and len(unique) != 1:
            raise InvalidLocationError(
                str(sink),
                f"a :REF names one image, not the {len(unique)} given "
                f"({', '.join(unique)})",
            )
        entries = export_entries(
            [(n, self.get(n).target) for n in unique], ref_name_style
        )
        if ref is not None:
            entries = [ref_entry(entries[0], ref)]
        plan, notes = plan_export(
            self.content,
            entries,
            selection,
            keep_index=keep_index,
            skip_non_distributable=skip_non_distributable,
            progress=progress,
            referrers=referrers,
            artifact_types=artifact_types,
            holds_referrers=driver_cls.holds_referrers,
        )
        if extra_members:
            add_plugin_members(self.pm, plan, driver_cls.name)
        with storage_errors(sink_location(target, storage_options), "destination"):
            write_plan(driver_cls(), plan, target, storage_options)
        self.pm.hook.ociport_image_exported(
            store=self.content, driver_name=driver_cls.name, roots=plan.entries
        )
        return ExportResult(
            plan.entries,
            plan.missing,
            notes,
            blobs_exported=len(plan.blobs),
            bytes_exported=sum(desc.size for desc in plan.blobs),
            referrers=plan.referrers,
        )

    # -- conversion -----------------------------------------------------------------------

    def convert(
        self,
        name: str,
        new_name: str,
        *,
        manifest_format: ManifestFormat | None = None,
        compression: Compression | None = None,
    ) -> ConvertResult:
        """Convert an image's media types and layer compression into a new image.

        :param manifest_format: ``"oci"`` or ``"docker"``; ``None`` keeps the format.
        :param compression: ``"gzip"``, ``"zstd"`` or ``"none"``; ``None`` keeps each
            layer's real compression (fixing labels that disagree with the bytes).
        :raises ImageNotFoundError: no image ``name``.
        :raises InvalidReferenceError: ``new_name`` is not a valid reference.
        :raises FormatError: a layer does not decompress to its diff ID.
        """
        from ociport.content.leases import lease_for
        from ociport.engine.convert import convert_image

        Reference.parse(new_name)
        with lease_for(self.content, "convert") as lease:
            result = convert_image(
                self.content,
                self.get(name).target,
                manifest_format=manifest_format,
                compression=compression,
                lease=lease,
            )
            self._set_names([(new_name, result.root)])
        return result

    # -- content --------------------------------------------------------------------------

    def summarize(self, image: Image | str) -> ImageSummary:
        """The total size (bytes of its manifest, config and layers, or of everything
        an index holds, each blob once) and platforms of an image, as ``images ls``
        shows them: one walk over its documents, sizes from descriptors.

        :param image: an image of :meth:`images`, or its name.
        :raises ImageNotFoundError: no image of that name.
        """
        from ociport.engine.summary import summarize_image

        target = (self.get(image) if isinstance(image, str) else image).target
        return summarize_image(self.content, target)

    def referrers(
        self, subject: str | Digest, *, artifact_types: Sequence[str] = ()
    ) -> list[Descriptor]:
        """The referrers the store records for a manifest, as the distribution-spec's
        referrers API lists them ("Listing Referrers"): one descriptor each (media
        type, digest, size in bytes, artifact type, annotations), sorted by digest;
        only direct referrers (list a signature of an SBOM by the SBOM's digest),
        each once, named ones too (an SBOM also tagged ``sbom:v1``).
        :func:`ociport.oci.referrers.referrers_index` makes the API's image index.

        :param subject: an image name (its root manifest or index), or a digest
            (``sha256:...``) of any manifest in the store.
        :param artifact_types: only referrers of these artifact types.
        :raises ImageNotFoundError: no image of that name.
        :raises InvalidDigestError: ``subject`` looks like a digest but is not one.
        """
        from ociport.engine.referrers import referrers_of

        digest = subject if isinstance(subject, Digest) else self._subject(subject)
        return referrers_of(self.content, digest, artifact_types)

    def _subject(self, text: str) -> Digest:
        """An image name's root digest, or a digest given as such."""
        if text.startswith(("sha256:", "sha512:")):
            return Digest.parse(text)
        return self.get(text).target.digest

    def inspect(self, name: str) -> dict[str, Any]:
        """Descriptor, manifests, platforms and total size of an image, as JSON data.

        :raises ImageNotFoundError: no such name.
        """
        from ociport.engine.summary import describe_image

        image = self.get(name)
        return describe_image(self.content, image.name, image.target)

    def verify(self) -> list[tuple[Digest, str]]:
        """Re-hash every blob; returns ``(digest, problem)`` for each corrupt one."""
        from ociport.engine.gc import verify_blobs

        return verify_blobs(self.content)

    def verify_images(self, corrupt: Iterable[Digest] = ()) -> list[tuple[str, str]]:
        """Check that every named image is whole: each blob it needs is present with
        its size, and each config lists one diff ID per layer.

        :param corrupt: blobs :meth:`verify` reported; images failing only on those
            are not reported again.
        :returns: ``(name, problem)`` for each incomplete image.
        """
        from ociport.engine.gc import verify_images

        return verify_images(self.content, set(corrupt))

    def gc(self, *, grace: float | None = None, dry_run: bool = False) -> GcResult:
        """Delete blobs that no named image reaches and that are older than ``grace``.

        :param grace: seconds (default: :data:`~ociport.engine.gc.DEFAULT_GRACE`, one
            hour); younger unreferenced blobs are kept (a writer without a lease).
        :param dry_run: report only.
        """
        from ociport.engine.gc import DEFAULT_GRACE, collect_garbage

        return collect_garbage(
            self.content,
            grace=DEFAULT_GRACE if grace is None else grace,
            dry_run=dry_run,
        )


def __getattr__(name: str) -> Any:
    """``GcResult`` and ``ImageSummary``, re-exported from the engine on first use."""
    if name == "GcResult":
        from ociport.engine.gc import GcResult

        return GcResult
    if name == "ImageSummary":
        from ociport.engine.summary import ImageSummary

        return ImageSummary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
