"""The Python API: :func:`open_store` and :class:`ImageStore`, what the CLI is built on."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

import pluggy

from ociport.config import resolve_store
from ociport.content.progress import ProgressLike
from ociport.errors import (
    ImageNotFoundError,
    InvalidLocationError,
    InvalidReferenceError,
    PluginError,
)
from ociport.oci.descriptor import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    Descriptor,
    Platform,
)
from ociport.oci.digest import Digest
from ociport.oci.manifest import MAX_DOCUMENT_SIZE
from ociport.oci.reference import Reference
from ociport.plugins import driver_registry, get_plugin_manager
from ociport.streams.location import SINGLE_WRITER_OPTION, Location, split_options
from ociport.streams.storage_errors import is_unresponsive, storage_errors

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
    from ociport.oci.walk import PlatformSelection
    from ociport.streams.address import ImageAddress
    from ociport.streams.sources import Sink, Source
    from ociport.streams.transports import Transports

# Everything else is imported where it is used: `open_store` and the name commands
# start without loading the engine (bench/README.md, start-up).

__all__ = [
    "ExportResult",
    "GcResult",
    "Image",
    "ImageStore",
    "ImageSummary",
    "ImportResult",
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
    from ociport.streams.transports import apply_reference

    pm = pm or get_plugin_manager()
    parsed, format, ref_name = apply_reference(
        source,
        _transports(pm),
        format=format,
        ref=ref_name,
        addressed=_addressed(pm),
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


def _transports(pm: pluggy.PluginManager) -> Transports:
    """The transport names of ``pm``'s drivers, collected only when asked for."""
    return lambda: driver_registry(pm).names()


def _addressed(pm: pluggy.PluginManager) -> Transports:
    """The names of ``pm``'s drivers that address images rather than files
    (``docker``), collected only when asked for."""
    return lambda: driver_registry(pm).addressed_names()


@dataclass(frozen=True, slots=True)
class Image:
    """A named image in the store.

    :ivar name: its full reference, e.g. ``docker.io/library/busybox:1.36``.
    :ivar target: the root descriptor (a manifest or an index).
    """

    name: str
    target: Descriptor


@dataclass(slots=True)
class ImportResult:
    """What :meth:`ImageStore.import_image` did.

    :ivar images: the images named, in source order.
    :ivar referrers: the referrers (signatures, SBOMs, attestations) imported with
        them, as the store records them: unnamed ``index.json`` entries (media type,
        digest, size, artifact type, annotations).
    :ivar missing: content absent from the source and skipped (other platforms).
    :ivar notes: things the user should hear (digest names given, ...).
    :ivar blobs_committed: blobs newly added to the store.
    :ivar bytes_committed: their total size in bytes.
    """

    images: list[Image] = field(default_factory=list)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    referrers: list[Descriptor] = field(default_factory=list)
    blobs_committed: int = 0
    bytes_committed: int = 0


@dataclass(slots=True)
class ExportResult:
    """What :meth:`ImageStore.export_images` wrote.

    :ivar entries: the ``index.json`` entries written for the images.
    :ivar referrers: the referrers written with them, as unnamed ``index.json``
        entries (a cosign-tagged one named by its tag).
    :ivar missing: content absent from the store and left out (partial images).
    :ivar notes: things the user should hear (a knowingly partial archive, ...).
    :ivar blobs_exported: blobs the export holds (manifests, configs, layers, each
        once; for a format holding one platform per image, those of every platform
        exported).
    :ivar bytes_exported: their total size in bytes.
    """

    entries: list[Descriptor] = field(default_factory=list)
    missing: list[tuple[Descriptor, Digest]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blobs_exported: int = 0
    bytes_exported: int = 0
    referrers: list[Descriptor] = field(default_factory=list)


def _selection(
    platforms: Sequence[Platform | str], all_platforms: bool
) -> PlatformSelection:
    from ociport.oci.walk import PlatformSelection

    return PlatformSelection(
        tuple(p if isinstance(p, Platform) else Platform.parse(p) for p in platforms),
        all_platforms,
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
        for name, root in named:
            pinned = Reference.parse(name).digest
            if pinned is not None and pinned != root.digest:
                raise InvalidReferenceError(
                    name, f"the image's digest is {root.digest}"
                )
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

        self.content.update_index(change)
        return [Image(name, entry) for name, entry in new.items()]

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
        :raises FormatError, ContentError: bad source; the store is left as it was.
        :raises DriverDetectionError, UnknownDriverError: format unknown.
        :raises RefNameNotFoundError: ``ref_name`` names no root; lists the names there
            are.
        :raises InvalidLocationError: a malformed transport reference, or one whose
            transport or REF disagrees with ``format`` or ``ref_name``.
        """
        from ociport.content.leases import lease_for
        from ociport.engine.detect import choose_driver
        from ociport.engine.importing import ImportRequest, import_source
        from ociport.engine.naming import ImportNaming, name_roots
        from ociport.streams.sources import describe, resolve
        from ociport.streams.transports import apply_reference

        parsed, format, ref_name = apply_reference(
            source,
            _transports(self.pm),
            format=format,
            ref=ref_name,
            addressed=_addressed(self.pm),
        )
        naming = naming or ImportNaming()
        selection = _selection(platforms, all_platforms)
        if index_name is not None:
            Reference.parse(index_name)
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
        from ociport.engine.exporting import plan_export, write_plan
        from ociport.engine.naming import export_entries, ref_entry
        from ociport.streams.transports import apply_reference

        target, format, ref = apply_reference(
            sink,
            _transports(self.pm),
            format=format,
            ref=None,
            addressed=_addressed(self.pm),
        )
        driver_cls = self.driver(format or "oci-archive")
        selection = _selection(platforms, all_platforms)
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
            first = selection.platforms[0] if selection.platforms else None
            for contributed in self.pm.hook.ociport_archive_members(
                store=plan.content,
                driver_name=driver_cls.name,
                entries=plan.entries,
                platform=first,
                plan=plan,
            ):
                plan.members.extend(contributed)
        with storage_errors(_sink_location(target, storage_options), "destination"):
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
        from ociport.content.helpers import ContentDocuments
        from ociport.oci.walk import config_platform, walk_image

        image = self.get(name)
        documents = ContentDocuments(self.content)
        graph = walk_image(image.target, documents)
        manifests = []
        for desc, manifest in graph.manifests:
            manifests.append(
                {
                    "descriptor": desc.to_json(),
                    "platform": str(desc.platform)
                    if desc.platform
                    else config_platform(documents, manifest.config),
                    "config": manifest.config.to_json(),
                    "layers": [layer.to_json() for layer in manifest.layers],
                }
            )
        return {
            "name": image.name,
            "descriptor": image.target.to_json(),
            "manifests": manifests,
            "size": sum(d.size for d in graph.blobs.values()),
            "missing": [
                {"descriptor": d.to_json(), "referencedBy": str(parent)}
                for d, parent in graph.missing
            ],
        }

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


def _sink_location(
    sink: Sink | ImageAddress, storage_options: Mapping[str, Any] | None
) -> Location | None:
    """The location a path or URL sink names (for error messages), else ``None``."""
    if isinstance(sink, str | os.PathLike) and os.fspath(sink) != "-":
        return Location.from_url(os.fspath(sink), storage_options)
    return None


def __getattr__(name: str) -> Any:
    """``GcResult`` and ``ImageSummary``, re-exported from the engine on first use."""
    if name == "GcResult":
        from ociport.engine.gc import GcResult

        return GcResult
    if name == "ImageSummary":
        from ociport.engine.summary import ImageSummary

        return ImageSummary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
