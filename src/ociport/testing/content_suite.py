"""ContentStoreSuite: the conformance tests every content store backend must pass."""

from __future__ import annotations

import io

import pytest

from ociport.content.helpers import exists, read_blob, write_blob
from ociport.content.interfaces import BlobInfo, ContentStore
from ociport.errors import (
    BlobExistsError,
    BlobNotFoundError,
    DigestMismatchError,
    IngestLockedError,
    InvalidDigestError,
    SizeMismatchError,
)
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import ANNOTATION_REF_NAME, Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.streams.location import Location
from ociport.testing.stores import tamper_layout_blob

__all__ = ["ContentStoreSuite"]


def _commit(store: ContentStore, data: bytes, ingest_id: str = "suite") -> BlobInfo:
    with store.writer(ingest_id=ingest_id) as writer:
        writer.write(data)
        return writer.commit(len(data), Digest.of(data))


def _digests(store: ContentStore) -> set[Digest]:
    return {info.digest for info in store.walk()}


def _assert_absent(store: ContentStore, digest: Digest) -> None:
    with pytest.raises(BlobNotFoundError):
        store.info(digest)
    with pytest.raises(BlobNotFoundError):
        store.open_blob(Descriptor("", digest, 0))
    assert digest not in _digests(store)


def _assert_unlocked(store: ContentStore, ingest_id: str) -> None:
    with store.writer(ingest_id=ingest_id) as writer:
        writer.abort()


class ContentStoreSuite:
    """Conformance tests for a :class:`~ociport.content.interfaces.ContentStore`.

    Needs a ``content_store`` fixture returning an empty store.
    """

    def tamper_blob(self, store: ContentStore, digest: Digest, data: bytes) -> None:
        """Replace the bytes of committed blob ``digest`` behind the store's back.

        The default handles stores whose root is an OCI image layout on fsspec; other
        backends override it (or the tamper test is skipped).
        """
        tamper_layout_blob(store, digest, data)

    def test_write_commit_then_visible(self, content_store: ContentStore) -> None:
        """A committed blob can be opened, sized and walked."""
        data = b"hello, blob"
        with content_store.writer(ingest_id="one") as writer:
            assert writer.write(data[:5]) == 5
            writer.write(data[5:])
            assert writer.offset == len(data)
            assert writer.digest == Digest.of(data)
            info = writer.commit(len(data), Digest.of(data))
        assert (info.digest, info.size) == (Digest.of(data), len(data))
        assert content_store.info(info.digest).size == len(data)
        with content_store.open_blob(Descriptor("", info.digest, len(data))) as stream:
            assert stream.read() == data
        assert _digests(content_store) == {info.digest}
        assert list(content_store.walk(algorithm="sha512")) == []

    def test_nothing_visible_before_commit(self, content_store: ContentStore) -> None:
        """Bytes being written are invisible until commit."""
        data = b"not yet"
        with content_store.writer(ingest_id="pending") as writer:
            writer.write(data)
            _assert_absent(content_store, Digest.of(data))
            writer.commit()
        assert exists(content_store, Digest.of(data))

    def test_write_in_many_chunks(self, content_store: ContentStore) -> None:
        """Many writes (memoryviews included) make one blob."""
        chunks = [bytes([i]) * 65536 for i in range(40)]
        data = b"".join(chunks)
        with content_store.writer(ingest_id="chunks") as writer:
            for chunk in chunks:
                writer.write(memoryview(chunk))
            info = writer.commit(len(data), Digest.of(data))
        assert (
            read_blob(
                content_store,
                Descriptor("", info.digest, len(data)),
                max_size=len(data),
            )
            == data
        )

    def test_commit_wrong_digest(self, content_store: ContentStore) -> None:
        """A digest mismatch publishes nothing and frees the ingest id."""
        data, wrong = b"actual bytes", Digest.of(b"other bytes")
        with content_store.writer(ingest_id="bad") as writer:
            writer.write(data)
            with pytest.raises(DigestMismatchError) as caught:
                writer.commit(len(data), wrong)
        assert caught.value.expected == wrong
        assert caught.value.actual == Digest.of(data)
        _assert_absent(content_store, Digest.of(data))
        _assert_absent(content_store, wrong)
        _assert_unlocked(content_store, "bad")

    def test_commit_wrong_size(self, content_store: ContentStore) -> None:
        """A size mismatch publishes nothing and frees the ingest id."""
        data = b"twelve bytes"
        with content_store.writer(ingest_id="size") as writer:
            writer.write(data)
            with pytest.raises(SizeMismatchError) as caught:
                writer.commit(len(data) + 1, Digest.of(data))
        assert (caught.value.expected, caught.value.actual) == (
            len(data) + 1,
            len(data),
        )
        assert _digests(content_store) == set()
        _assert_unlocked(content_store, "size")

    def test_leaving_with_without_commit_aborts(
        self, content_store: ContentStore
    ) -> None:
        """Leaving the writer's ``with`` uncommitted aborts it."""
        data = b"abandoned"
        with content_store.writer(ingest_id="gone") as writer:
            writer.write(data)
        _assert_absent(content_store, Digest.of(data))
        _assert_unlocked(content_store, "gone")

    def test_exception_in_with_aborts(self, content_store: ContentStore) -> None:
        """An exception inside the writer's ``with`` aborts it."""
        data = b"interrupted"
        with (
            pytest.raises(RuntimeError),
            content_store.writer(ingest_id="boom") as writer,
        ):
            writer.write(data)
            raise RuntimeError("source failed")
        _assert_absent(content_store, Digest.of(data))
        _assert_unlocked(content_store, "boom")

    def test_abort_after_commit_keeps_blob(self, content_store: ContentStore) -> None:
        """Abort after commit is a no-op."""
        data = b"kept"
        with content_store.writer(ingest_id="keep") as writer:
            writer.write(data)
            writer.commit()
            writer.abort()
            writer.abort()
        assert content_store.info(Digest.of(data)).size == len(data)

    def test_commit_of_existing_blob(self, content_store: ContentStore) -> None:
        """Committing a blob that exists raises BlobExistsError."""
        data = b"twice"
        first = _commit(content_store, data, "first")
        with content_store.writer(ingest_id="second") as writer:
            writer.write(data)
            with pytest.raises(BlobExistsError) as caught:
                writer.commit(len(data), Digest.of(data))
        assert caught.value.digest == first.digest
        assert _digests(content_store) == {first.digest}
        assert read_blob(content_store, Descriptor("", first.digest, len(data))) == data
        _assert_unlocked(content_store, "second")

    def test_write_blob_is_idempotent(self, content_store: ContentStore) -> None:
        """``write_blob`` treats an existing blob as success."""
        data = b"idempotent"
        descriptor = Descriptor(mt.OCI_LAYER_TAR, Digest.of(data), len(data))
        infos = [
            write_blob(content_store, io.BytesIO(data), descriptor) for _ in range(2)
        ]
        assert [(i.digest, i.size) for i in infos] == [
            (descriptor.digest, len(data))
        ] * 2
        assert _digests(content_store) == {descriptor.digest}

    def test_write_blob_rejects_wrong_bytes(self, content_store: ContentStore) -> None:
        """``write_blob`` publishes nothing for wrong bytes."""
        descriptor = Descriptor(mt.OCI_LAYER_TAR, Digest.of(b"expected"), 8)
        with pytest.raises(DigestMismatchError):
            write_blob(content_store, io.BytesIO(b"tampered"), descriptor)
        assert _digests(content_store) == set()

    def test_prepare_then_commit(self, content_store: ContentStore) -> None:
        """Prepare checks without publishing; commit publishes."""
        data = b"two-phase"
        with content_store.writer(ingest_id="2pc") as writer:
            writer.write(data)
            assert writer.prepare(len(data), Digest.of(data)) == Digest.of(data)
            _assert_absent(content_store, Digest.of(data))
            info = writer.commit()
        assert info.digest == Digest.of(data)
        assert content_store.info(info.digest).size == len(data)

    def test_prepare_without_commit_publishes_nothing(
        self, content_store: ContentStore
    ) -> None:
        """A prepared, uncommitted blob is discarded."""
        data = b"prepared only"
        with content_store.writer(ingest_id="prep") as writer:
            writer.write(data)
            writer.prepare(len(data), Digest.of(data))
        _assert_absent(content_store, Digest.of(data))
        _assert_unlocked(content_store, "prep")

    def test_prepare_checks_digest(self, content_store: ContentStore) -> None:
        """Prepare rejects a wrong digest and frees the ingest id."""
        with content_store.writer(ingest_id="prep-bad") as writer:
            writer.write(b"abc")
            with pytest.raises(DigestMismatchError):
                writer.prepare(3, Digest.of(b"xyz"))
        assert _digests(content_store) == set()
        _assert_unlocked(content_store, "prep-bad")

    def test_known_digest_write_invisible_until_commit(
        self, content_store: ContentStore
    ) -> None:
        """A writer told the expected descriptor (the direct path on object stores)
        publishes nothing before commit, nothing on a mismatch, the blob on commit."""
        data = b"known in advance" * 4096
        expected = Descriptor(mt.OCI_LAYER_TAR, Digest.of(data), len(data))
        with content_store.writer(ingest_id="known", expected=expected) as writer:
            writer.write(data[:1000])
            writer.write(memoryview(data)[1000:])
            _assert_absent(content_store, expected.digest)
            writer.prepare(len(data), expected.digest)
            _assert_absent(content_store, expected.digest)
            writer.commit()
        assert read_blob(content_store, expected, max_size=len(data)) == data
        wrong = Descriptor(mt.OCI_LAYER_TAR, Digest.of(b"something else"), len(data))
        with content_store.writer(ingest_id="known-bad", expected=wrong) as writer:
            writer.write(data)
            with pytest.raises(DigestMismatchError):
                writer.commit(len(data), wrong.digest)
        _assert_absent(content_store, wrong.digest)
        _assert_unlocked(content_store, "known-bad")
        assert _digests(content_store) == {expected.digest}

    def test_backend_honours_deferred_commit(self, content_store: ContentStore) -> None:
        """Where an fsspec store writes straight to final keys, its backend really keeps
        a file opened with ``autocommit=False`` invisible until ``commit()``, and
        ``discard()`` leaves nothing; where the backend does not, the store falls back
        to the ingest path (DESIGN 2.3)."""
        location = getattr(content_store, "location", None)
        direct = getattr(content_store, "direct_writes", None)
        if not isinstance(location, Location) or direct is None:
            pytest.skip("not an fsspec store with a choice of write paths")
        if location.is_local:
            assert direct is False
            return
        fs, key = location.fs, location.join("suite-deferred-commit").path
        upload = fs.open(key, "wb", autocommit=False)
        upload.write(b"deferred")
        upload.close()
        honoured = not fs.exists(key)
        upload.discard()
        if not honoured:
            fs.rm_file(key)
        assert not fs.exists(key)
        assert direct is honoured

    def test_missing_blob(self, content_store: ContentStore) -> None:
        """info, open_blob and delete of an absent blob raise BlobNotFoundError."""
        digest = Digest.of(b"never written")
        _assert_absent(content_store, digest)
        with pytest.raises(BlobNotFoundError) as caught:
            content_store.delete(digest)
        assert caught.value.digest == digest
        assert isinstance(caught.value, LookupError)

    def test_open_verify_accepts_good_blob(self, content_store: ContentStore) -> None:
        """A verifying reader passes intact content through."""
        data = b"good content" * 100
        info = _commit(content_store, data)
        with content_store.open_blob(
            Descriptor("", info.digest, info.size), verify=True
        ) as s:
            assert s.read(7) + s.read() == data

    def test_open_verify_detects_tampering(self, content_store: ContentStore) -> None:
        """A verifying reader catches bytes changed at rest."""
        data = b"original content"
        info = _commit(content_store, data)
        self.tamper_blob(content_store, info.digest, b"O" + data[1:])
        descriptor = Descriptor("", info.digest, info.size)
        with (
            pytest.raises(DigestMismatchError),
            content_store.open_blob(descriptor, verify=True) as stream,
        ):
            stream.read()

    def test_open_verify_detects_wrong_size(self, content_store: ContentStore) -> None:
        """A verifying reader catches a wrong descriptor size."""
        data = b"sized content"
        info = _commit(content_store, data)
        for size in (info.size - 1, info.size + 1):
            with (
                pytest.raises((SizeMismatchError, DigestMismatchError)),
                content_store.open_blob(
                    Descriptor("", info.digest, size), verify=True
                ) as stream,
            ):
                while stream.read(4):
                    pass

    def test_walk_and_delete(self, content_store: ContentStore) -> None:
        """walk lists every blob; delete removes exactly one."""
        infos = [
            _commit(content_store, f"blob {i}".encode(), f"w{i}") for i in range(4)
        ]
        assert _digests(content_store) == {i.digest for i in infos}
        assert {(i.digest, i.size) for i in content_store.walk(algorithm="sha256")} == {
            (i.digest, i.size) for i in infos
        }
        content_store.delete(infos[0].digest)
        _assert_absent(content_store, infos[0].digest)
        assert _digests(content_store) == {i.digest for i in infos[1:]}
        with pytest.raises(BlobNotFoundError):
            content_store.delete(infos[0].digest)

    def test_ingest_id_lock(self, content_store: ContentStore) -> None:
        """Two live writers may not share an ingest id."""
        with content_store.writer(ingest_id="locked") as first:
            with pytest.raises(IngestLockedError) as caught:
                content_store.writer(ingest_id="locked")
            assert caught.value.ingest_id == "locked"
            with content_store.writer(ingest_id="other") as other:
                other.write(b"independent")
                other.commit()
            first.write(b"first")
            first.commit()
        _assert_unlocked(content_store, "locked")
        first = content_store.writer(ingest_id="locked")
        first.abort()
        _assert_unlocked(content_store, "locked")

    def test_empty_blob(self, content_store: ContentStore) -> None:
        """The empty blob is a blob like any other."""
        empty = Digest.of(b"")
        info = _commit(content_store, b"")
        assert (info.digest, info.size) == (empty, 0)
        assert content_store.info(empty).size == 0
        with content_store.open_blob(Descriptor("", empty, 0), verify=True) as stream:
            assert stream.read() == b""

    def test_sha512_blob(self, content_store: ContentStore) -> None:
        """sha512 blobs are written, walked and read."""
        data = b"sha512 content"
        digest = Digest.of(data, "sha512")
        expected = Descriptor(mt.OCI_LAYER_TAR, digest, len(data))
        with content_store.writer(ingest_id="512", expected=expected) as writer:
            writer.write(data)
            info = writer.commit(len(data), digest)
        assert info.digest == digest
        assert [i.digest for i in content_store.walk(algorithm="sha512")] == [digest]
        assert read_blob(content_store, expected) == data

    def test_traversal_digest_rejected(self, content_store: ContentStore) -> None:
        """Digests that would escape the layout never parse."""
        for text in ("sha256:../../x", "sha256/../../x", "../sha256:" + "0" * 64):
            with pytest.raises(InvalidDigestError):
                Digest.parse(text)
            with pytest.raises(InvalidDigestError):
                Descriptor.from_json(
                    {"mediaType": mt.OCI_LAYER_TAR, "digest": text, "size": 1}
                )
        assert _digests(content_store) == set()

    def test_index_round_trip(self, content_store: ContentStore) -> None:
        """update_index and read_index keep entries, annotations included."""
        assert content_store.read_index() == ()
        data = b"{}"
        entry = Descriptor(
            mt.OCI_IMAGE_MANIFEST,
            Digest.of(data),
            len(data),
            annotations={ANNOTATION_REF_NAME: "example.com/a:1"},
            platform=Platform("linux", "arm64", "v8"),
        )
        other = Descriptor(mt.OCI_IMAGE_INDEX, Digest.of(b"[]"), 2)
        written = content_store.update_index(lambda entries: [*entries, entry])
        assert [d.to_json() for d in written] == [entry.to_json()]
        seen: list[list[Descriptor]] = []

        def change(entries: list[Descriptor]) -> list[Descriptor]:
            seen.append(list(entries))
            return [*entries, other]

        content_store.update_index(change)
        assert [d.to_json() for d in seen[-1]] == [entry.to_json()]
        assert [d.to_json() for d in content_store.read_index()] == [
            entry.to_json(),
            other.to_json(),
        ]
        content_store.update_index(lambda entries: [e for e in entries if e.ref_name])
        assert [d.ref_name for d in content_store.read_index()] == ["example.com/a:1"]
