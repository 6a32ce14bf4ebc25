"""ImageDriverSuite: the conformance tests every image driver must pass."""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from ociport.content.helpers import ContentDocuments, exists, read_blob
from ociport.content.interfaces import ContentStore
from ociport.drivers.base import ImageDriver
from ociport.engine.exporting import plan_export, write_plan
from ociport.engine.importing import ImportReport, ImportRequest, import_source
from ociport.engine.naming import export_entries
from ociport.engine.selection import root_names
from ociport.errors import (
    DigestMismatchError,
    FormatError,
    MissingContentError,
    RefNameNotFoundError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.validate import validate_image
from ociport.oci.walk import ImageGraph, PlatformSelection, walk_image
from ociport.streams.compression import open_decompressed
from ociport.streams.location import Location
from ociport.testing.factories import attach_artifact, random_image
from ociport.testing.stores import (
    new_memory_store,
    remove_store,
    store_state,
    tamper_layout_blob,
)

__all__ = ["Exported", "ImageDriverSuite", "Target", "new_targets"]

#: What an export writes to: a location (file or directory) or a seekable stream.
Target = IO[bytes] | Location
#: A whole exported archive's bytes, or a layout's files by relative path.
Contents = bytes | dict[str, bytes]


def new_targets(kind: str, directory: Path, suffix: str = "") -> Callable[[], Target]:
    """A ``target_factory``: fresh export targets of one kind, each call a new one.

    :param kind: ``"path"`` (files or directories named ``export-N<suffix>`` in
        ``directory``), ``"stream"`` (in-memory, seekable streams) or ``"memory"``
        (``memory://`` locations).
    """
    counter = itertools.count()
    if kind == "stream":
        return io.BytesIO
    if kind == "memory":
        base = f"memory://suite-{uuid.uuid4().hex}"
        return lambda: Location.from_url(f"{base}/export-{next(counter)}{suffix}")
    return lambda: Location.from_url(str(directory / f"export-{next(counter)}{suffix}"))


def _contents(target: Target) -> Contents:
    if isinstance(target, Location):
        fs = target.fs
        if fs.isdir(target.path):
            prefix = target.path.rstrip("/") + "/"
            return {
                p[len(prefix) :]: fs.cat_file(p) for p in sorted(fs.find(target.path))
            }
        return bytes(fs.cat_file(target.path))
    target.seek(0)
    return target.read()


def image_graph(store: ContentStore, root: Descriptor) -> ImageGraph:
    """Every blob of ``root`` in ``store``, all platforms required."""
    return walk_image(
        root, ContentDocuments(store), PlatformSelection(all_platforms=True)
    )


@dataclass(slots=True)
class Exported:
    """An export made by the suite.

    :ivar target: where it was written.
    :ivar contents: what was written (captured right after the export).
    """

    target: Target
    contents: Contents

    def source(self) -> Target:
        """Something to import the export from (a fresh stream for stream targets)."""
        if isinstance(self.target, Location):
            return self.target
        assert isinstance(self.contents, bytes)
        return io.BytesIO(self.contents)


@dataclass(slots=True)
class _Harness:
    driver_cls: type[ImageDriver]
    target_factory: Callable[[], Target]
    store_factory: Callable[[], ContentStore]
    notes: list[str] = field(default_factory=list)

    def store(self) -> ContentStore:
        return self.store_factory()

    @property
    def preserves_digests(self) -> bool:
        return self.driver_cls.preserves_digests

    def export(
        self,
        store: ContentStore,
        images: Sequence[tuple[str, Descriptor]],
        selection: PlatformSelection = PlatformSelection(),
        target: Target | None = None,
    ) -> Exported:
        """Export through the engine, as ``ociport export`` does."""
        target = self.target_factory() if target is None else target
        plan, notes = plan_export(
            store,
            export_entries(images),
            selection,
            holds_referrers=self.driver_cls.holds_referrers,
        )
        write_plan(self.driver_cls(), plan, target)
        self.notes = notes
        return Exported(target, _contents(target))

    def import_(
        self, source: Target, store: ContentStore, request: ImportRequest | None = None
    ) -> ImportReport:
        """Import through the engine, as ``ociport import`` does."""
        return import_source(
            self.driver_cls(), source, store, request or ImportRequest(), label="suite"
        )


def _manifests(store: ContentStore, root: Descriptor) -> dict[str, tuple[str, ...]]:
    """Config and layer digests of each image manifest of ``root``, by platform."""
    return {
        str(desc.platform or ""): tuple(str(b.digest) for b in manifest.blobs())
        for desc, manifest in walk_image(root, ContentDocuments(store)).manifests
    }


def _assert_same_image(
    harness: _Harness,
    source: ContentStore,
    root: Descriptor,
    fresh: ContentStore,
    imported: Descriptor,
) -> None:
    """``imported`` in ``fresh`` is ``root`` of ``source``: the same digests where the
    format keeps them, else the same configs and layers (one platform's, for formats
    that hold one)."""
    validate_image(fresh, imported)
    if harness.preserves_digests:
        assert imported.digest == root.digest
        _validate(fresh, root, set(image_graph(source, root).blobs))
        return
    theirs, ours = _manifests(source, root), _manifests(fresh, imported)
    assert len(ours) == 1
    [blobs] = ours.values()
    assert blobs in theirs.values()


def _validate(store: ContentStore, root: Descriptor, expected: set[Digest]) -> None:
    validate_image(store, root, PlatformSelection(all_platforms=True))
    graph = image_graph(store, root)
    assert set(graph.blobs) == expected
    assert graph.missing == []


class ImageDriverSuite:
    """Conformance tests for an :class:`~ociport.drivers.base.ImageDriver`.

    Needs a ``driver_cls`` fixture (the driver class) and a ``target_factory`` fixture:
    a callable returning a fresh, not yet existing export target (a :class:`Location`
    or a seekable, readable stream). Stores come from ``content_store_factory``, which
    defaults to in-memory :class:`~ociport.content.fsstore.FsspecContentStore` roots.
    """

    #: Name of the image in exported archives.
    image_name = "registry.example/ociport/suite:1.0"

    @pytest.fixture
    def content_store_factory(self) -> Iterator[Callable[[], ContentStore]]:
        """Fresh, empty content stores, removed after the test."""
        made: list[ContentStore] = []

        def make() -> ContentStore:
            made.append(new_memory_store())
            return made[-1]

        yield make
        for store in made:
            remove_store(store)

    @pytest.fixture
    def harness(
        self,
        driver_cls: type[ImageDriver],
        target_factory: Callable[[], Target],
        content_store_factory: Callable[[], ContentStore],
    ) -> _Harness:
        """The three fixtures a test needs, bundled."""
        return _Harness(driver_cls, target_factory, content_store_factory)

    def tamper_target(self, exported: Exported, blob: bytes) -> Target:
        """Flip one byte of ``blob`` (a layer) inside an export; return the source.

        The default edits a blob file of a layout, or finds the blob's bytes in an
        uncompressed archive; drivers that compress their output override it.
        """
        target, contents = exported.target, exported.contents
        if isinstance(contents, dict):
            name = next((n for n, data in contents.items() if data == blob), None)
            if name is None or not isinstance(target, Location):
                pytest.skip("blob not found as a file; override tamper_target")
            changed = blob[:600] + bytes([blob[600] ^ 0xFF]) + blob[601:]
            target.fs.pipe_file(f"{target.path}/{name}", changed)
            return target
        # Past the layer's own tar header: random payload, found nowhere else.
        at = contents.find(blob[512:576])
        if at < 0:
            pytest.skip("blob bytes not found in the archive; override tamper_target")
        data = contents[:at] + bytes([contents[at] ^ 0xFF]) + contents[at + 1 :]
        if isinstance(target, Location):
            target.fs.pipe_file(target.path, data)
            return target
        return io.BytesIO(data)

    def truncate_target(self, exported: Exported, keep: float) -> Target:
        """Cut an export short, keeping the fraction ``keep``; return the source.

        A layout loses its largest blob file instead.
        """
        target, contents = exported.target, exported.contents
        if isinstance(contents, dict):
            assert isinstance(target, Location)
            blobs = [n for n in contents if n.startswith("blobs/")]
            target.fs.rm_file(
                f"{target.path}/{max(blobs, key=lambda n: len(contents[n]))}"
            )
            return target
        cut = contents[: int(len(contents) * keep)]
        if isinstance(target, Location):
            target.fs.pipe_file(target.path, cut)
            return target
        return io.BytesIO(cut)

    def test_round_trip(self, harness: _Harness) -> None:
        """Export, import elsewhere: the same image, every blob present and sound."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, layers=3, layer_size=4096, seed=1)
        exported = harness.export(source, [(self.image_name, root)])
        report = harness.import_(exported.source(), fresh)
        [imported] = report.roots
        _assert_same_image(harness, source, root, fresh, imported)
        assert report.missing == []
        stored = {info.digest for info in fresh.walk()}
        assert {info.digest for info in report.committed} == stored
        assert stored == set(image_graph(fresh, imported).blobs)

    def test_referrers_round_trip(self, harness: _Harness) -> None:
        """A format that :attr:`~ImageDriver.holds_referrers` writes an image's SBOM
        and the SBOM's signature (unnamed ``index.json`` entries), and they import
        again; any other format leaves them out and says so in a note."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, seed=21)
        sbom = attach_artifact(source, root, "application/spdx+json", b"{}")
        signature = attach_artifact(source, sbom, "application/x-signature", b"s")
        source.update_index(lambda entries: [*entries, sbom, signature])
        exported = harness.export(source, [(self.image_name, root)])
        report = harness.import_(exported.source(), fresh)
        if not harness.driver_cls.holds_referrers:
            assert report.referrers == []
            assert any("2 referrer(s)" in note for note in harness.notes)
            return
        assert {d.digest for d in report.referrers} == {sbom.digest, signature.digest}
        for referrer in report.referrers:
            validate_image(fresh, referrer)

    def test_export_is_recognised(self, harness: _Harness) -> None:
        """``sniff`` claims what the driver wrote, as format detection offers it: the
        first 64 KiB (decompressed) of a file or stream, the location of a directory."""
        source = harness.store()
        exported = harness.export(source, [(self.image_name, random_image(source))])
        location = exported.target if isinstance(exported.target, Location) else None
        head = None
        if isinstance(exported.contents, bytes):
            stream, _ = open_decompressed(io.BytesIO(exported.contents))
            head = stream.peek(64 << 10)[: 64 << 10]
        assert harness.driver_cls.sniff(head, location)

    def test_import_twice_is_idempotent(self, harness: _Harness) -> None:
        """Importing the same export again changes nothing."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, seed=9)
        exported = harness.export(source, [(self.image_name, root)])
        first = harness.import_(exported.source(), fresh)
        before = store_state(fresh)
        report = harness.import_(exported.source(), fresh)
        assert [r.digest for r in report.roots] == [r.digest for r in first.roots]
        assert report.committed == []
        assert store_state(fresh) == before

    def test_several_images_keep_their_order(self, harness: _Harness) -> None:
        """Several images round-trip in their given order, with their names."""
        source, fresh = harness.store(), harness.store()
        images = [
            (f"registry.example/ociport/img{i}:v{i}", random_image(source, seed=10 + i))
            for i in range(3)
        ][::-1]
        report = harness.import_(harness.export(source, images).source(), fresh)
        assert len(report.roots) == len(images)
        for (name, root), imported in zip(images, report.roots, strict=True):
            assert name in root_names(imported)
            _assert_same_image(harness, source, root, fresh, imported)

    def test_export_is_byte_identical(self, harness: _Harness) -> None:
        """The same images give the same bytes, from any store."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, seed=2, platforms=["linux/amd64", "linux/arm64"])
        selection = PlatformSelection((Platform.parse("linux/arm64"),))
        images = [(self.image_name, root)]
        first = harness.export(source, images, selection)
        assert harness.export(source, images, selection).contents == first.contents
        [imported] = harness.import_(first.source(), fresh).roots
        again = harness.export(fresh, [(self.image_name, imported)], selection)
        assert again.contents == first.contents

    def test_ref_name_round_trip(self, harness: _Harness) -> None:
        """Names survive and select roots on import; an unknown one is an error that
        lists the names there are."""
        source, fresh = harness.store(), harness.store()
        other_name = "registry.example/ociport/other:2.0"
        root, other = random_image(source, seed=3), random_image(source, seed=4)
        exported = harness.export(
            source, [(self.image_name, root), (other_name, other)]
        )
        report = harness.import_(
            exported.source(), fresh, ImportRequest(ref_name=other_name)
        )
        [imported] = report.roots
        assert other_name in root_names(imported)
        _assert_same_image(harness, source, other, fresh, imported)
        assert not any(exists(fresh, d) for d in image_graph(source, root).blobs)
        before = store_state(fresh)
        with pytest.raises(RefNameNotFoundError) as caught:
            harness.import_(exported.source(), fresh, ImportRequest(ref_name="nope:1"))
        assert {self.image_name, other_name} <= set(caught.value.available)
        assert store_state(fresh) == before

    def test_multi_platform_index(self, harness: _Harness) -> None:
        """A platform chosen on export reaches the driver; one chosen on import takes
        one child of an index."""
        source = harness.store()
        root = random_image(source, seed=5, platforms=["linux/amd64", "linux/arm64/v8"])
        assert root.media_type == mt.OCI_IMAGE_INDEX
        graph = image_graph(source, root)
        by_platform = {str(d.platform): m for d, m in graph.manifests}
        assert set(by_platform) == {"linux/amd64", "linux/arm64/v8"}
        arm = PlatformSelection(platforms=(Platform.parse("linux/arm64"),))
        # A format that rebuilds manifests keeps one platform per image: the chosen one.
        whole = [PlatformSelection()] if harness.preserves_digests else []
        for selection in (arm, *whole):
            fresh = harness.store()
            exported = harness.export(source, [(self.image_name, root)], selection)
            request = ImportRequest(arm)
            [imported] = harness.import_(exported.source(), fresh, request).roots
            wanted = {str(b.digest) for b in by_platform["linux/arm64/v8"].blobs()}
            other = {str(b.digest) for b in by_platform["linux/amd64"].blobs()}
            stored = {str(info.digest) for info in fresh.walk()}
            if harness.preserves_digests and not selection.platforms:
                assert imported.digest == root.digest
            assert wanted <= stored
            assert not other & stored

    def test_tampered_blob_is_rejected(self, harness: _Harness) -> None:
        """A changed blob byte fails the import; the store is unchanged."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, layers=2, layer_size=2048, seed=6)
        exported = harness.export(source, [(self.image_name, root)])
        layer = image_graph(source, root).manifests[0][1].layers[-1]
        tampered = self.tamper_target(exported, read_blob(source, layer))
        before = store_state(fresh)
        # A format without digests in its member names notices through the diff IDs.
        expected = DigestMismatchError if harness.preserves_digests else FormatError
        with pytest.raises((DigestMismatchError, expected)):
            harness.import_(tampered, fresh)
        assert store_state(fresh) == before

    @pytest.mark.parametrize("keep", [0.5, 0.9])
    def test_truncated_archive_is_rejected(
        self, harness: _Harness, keep: float
    ) -> None:
        """A truncated export fails the import; the store is unchanged."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, layers=2, layer_size=8192, seed=7)
        exported = harness.export(source, [(self.image_name, root)])
        truncated = self.truncate_target(exported, keep)
        before = store_state(fresh)
        with pytest.raises(FormatError):
            harness.import_(truncated, fresh)
        assert store_state(fresh) == before

    def test_export_of_absent_root(self, harness: _Harness) -> None:
        """Exporting a root the store lacks raises MissingContentError."""
        data = b'{"schemaVersion":2}'
        absent = Descriptor(mt.OCI_IMAGE_MANIFEST, Digest.of(data), len(data))
        with pytest.raises(MissingContentError) as caught:
            harness.export(harness.store(), [(self.image_name, absent)])
        assert caught.value.digest == absent.digest

    def test_export_detects_corrupt_store(self, harness: _Harness) -> None:
        """A corrupt stored blob fails the export and leaves no target behind."""
        source = harness.store()
        root = random_image(source, seed=8)
        layer = image_graph(source, root).manifests[0][1].layers[0]
        tamper_layout_blob(source, layer.digest, b"\0" * layer.size)
        target = harness.target_factory()
        with pytest.raises(DigestMismatchError):
            harness.export(source, [(self.image_name, root)], target=target)
        if isinstance(target, Location):
            assert not target.fs.exists(target.path), "failed export left a target"
