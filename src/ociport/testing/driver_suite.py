"""ImageDriverSuite: the conformance tests every image driver must pass."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import pytest

from ociport.content.helpers import exists, read_blob
from ociport.content.interfaces import ContentStore
from ociport.drivers.base import ImageDriver, ImportReport, ImportRequest
from ociport.engine.naming import export_entries
from ociport.errors import (
    DigestMismatchError,
    FormatError,
    MissingContentError,
    RefNameNotFoundError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.walk import ImageGraph, PlatformSelection, walk_image
from ociport.streams.location import Location
from ociport.testing.factories import random_image
from ociport.testing.stores import (
    new_memory_store,
    remove_store,
    store_state,
    tamper_layout_blob,
)

__all__ = ["Exported", "ImageDriverSuite", "Target"]

#: What an export writes to: a location (file or directory) or a seekable stream.
Target = IO[bytes] | Location
#: A whole exported archive's bytes, or a layout's files by relative path.
Contents = bytes | dict[str, bytes]


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
        root,
        lambda d: read_blob(store, d),
        lambda digest: exists(store, digest),
        PlatformSelection(all_platforms=True),
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

    def store(self) -> ContentStore:
        return self.store_factory()

    def export(
        self, store: ContentStore, images: Sequence[tuple[str, Descriptor]]
    ) -> Exported:
        target = self.target_factory()
        self.driver_cls().export_image(store, export_entries(images), target)
        return Exported(target, _contents(target))

    def import_(
        self, source: Target, store: ContentStore, request: ImportRequest | None = None
    ) -> ImportReport:
        return self.driver_cls().import_image(source, store, request or ImportRequest())


def _validate(store: ContentStore, root: Descriptor, expected: set[Digest]) -> None:
    graph = image_graph(store, root)
    assert set(graph.blobs) == expected
    assert graph.missing == []
    for descriptor in graph.blobs.values():
        assert store.info(descriptor.digest).size == descriptor.size
        with store.open_blob(descriptor, verify=True) as stream:
            while stream.read(1 << 20):
                pass


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
        """Export, import elsewhere: same root, every blob present and sound."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, layers=3, layer_size=4096, seed=1)
        exported = harness.export(source, [(self.image_name, root)])
        report = harness.import_(exported.source(), fresh)
        assert [r.digest for r in report.roots] == [root.digest]
        assert report.missing == []
        expected = set(image_graph(source, root).blobs)
        _validate(fresh, root, expected)
        assert {info.digest for info in report.committed} == expected
        assert {info.digest for info in fresh.walk()} == expected

    def test_import_twice_is_idempotent(self, harness: _Harness) -> None:
        """Importing the same export again changes nothing."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, seed=9)
        exported = harness.export(source, [(self.image_name, root)])
        harness.import_(exported.source(), fresh)
        before = store_state(fresh)
        report = harness.import_(exported.source(), fresh)
        assert [r.digest for r in report.roots] == [root.digest]
        assert report.committed == []
        assert store_state(fresh) == before

    def test_several_images_keep_their_order(self, harness: _Harness) -> None:
        """Several images round-trip in their given order."""
        source, fresh = harness.store(), harness.store()
        images = [
            (f"registry.example/ociport/img{i}:v{i}", random_image(source, seed=10 + i))
            for i in range(3)
        ][::-1]
        report = harness.import_(harness.export(source, images).source(), fresh)
        assert [(r.ref_name, r.digest) for r in report.roots] == [
            (name, root.digest) for name, root in images
        ]
        for _, root in images:
            _validate(fresh, root, set(image_graph(source, root).blobs))

    def test_export_is_byte_identical(self, harness: _Harness) -> None:
        """The same images give the same bytes, from any store."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, seed=2, platforms=["linux/amd64", "linux/arm64"])
        images = [(self.image_name, root)]
        first = harness.export(source, images)
        assert harness.export(source, images).contents == first.contents
        harness.import_(first.source(), fresh)
        assert harness.export(fresh, images).contents == first.contents

    def test_ref_name_round_trip(self, harness: _Harness) -> None:
        """Ref names survive and select roots on import."""
        source, fresh = harness.store(), harness.store()
        other_name = "registry.example/ociport/other:2.0"
        root, other = random_image(source, seed=3), random_image(source, seed=4)
        exported = harness.export(
            source, [(self.image_name, root), (other_name, other)]
        )
        report = harness.import_(
            exported.source(), fresh, ImportRequest(ref_name=other_name)
        )
        assert [(r.ref_name, r.digest) for r in report.roots] == [
            (other_name, other.digest)
        ]
        assert not exists(fresh, root.digest)
        before = store_state(fresh)
        with pytest.raises(RefNameNotFoundError) as caught:
            harness.import_(exported.source(), fresh, ImportRequest(ref_name="nope:1"))
        assert set(caught.value.available) == {self.image_name, other_name}
        assert store_state(fresh) == before

    def test_multi_platform_index(self, harness: _Harness) -> None:
        """An index round-trips; a platform selection takes one child."""
        source, fresh, arm_only = harness.store(), harness.store(), harness.store()
        root = random_image(source, seed=5, platforms=["linux/amd64", "linux/arm64/v8"])
        assert root.media_type == mt.OCI_IMAGE_INDEX
        graph = image_graph(source, root)
        by_platform = {str(d.platform): (d, m) for d, m in graph.manifests}
        assert set(by_platform) == {"linux/amd64", "linux/arm64/v8"}
        exported = harness.export(source, [(self.image_name, root)])
        harness.import_(exported.source(), fresh)
        _validate(fresh, root, set(graph.blobs))
        selection = PlatformSelection(platforms=(Platform.parse("linux/arm64"),))
        report = harness.import_(exported.source(), arm_only, ImportRequest(selection))
        assert [r.digest for r in report.roots] == [root.digest]
        (arm, arm_manifest), (amd, amd_manifest) = (
            by_platform["linux/arm64/v8"],
            by_platform["linux/amd64"],
        )
        assert {i.digest for i in arm_only.walk()} == {
            root.digest,
            arm.digest,
            *(b.digest for b in arm_manifest.blobs()),
        }
        assert not any(exists(arm_only, b.digest) for b in (amd, *amd_manifest.blobs()))

    def test_tampered_blob_is_rejected(self, harness: _Harness) -> None:
        """A changed blob byte fails the import; the store is unchanged."""
        source, fresh = harness.store(), harness.store()
        root = random_image(source, layers=2, layer_size=2048, seed=6)
        exported = harness.export(source, [(self.image_name, root)])
        layer = image_graph(source, root).manifests[0][1].layers[-1]
        tampered = self.tamper_target(exported, read_blob(source, layer))
        before = store_state(fresh)
        with pytest.raises(DigestMismatchError):
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
        """A corrupt stored blob fails the export."""
        source = harness.store()
        root = random_image(source, seed=8)
        layer = image_graph(source, root).manifests[0][1].layers[0]
        tamper_layout_blob(source, layer.digest, b"\0" * layer.size)
        target = harness.target_factory()
        with pytest.raises(DigestMismatchError):
            harness.driver_cls().export_image(
                source, export_entries([(self.image_name, root)]), target
            )
        if isinstance(target, Location):
            assert not target.fs.exists(target.path), "failed export left a target"
