"""Import names and export ref names, following ``ctr images import/export``."""

from __future__ import annotations

import datetime
import re

import pytest

from ociport.engine.naming import (
    ImportNaming,
    copy_entry,
    default_base_name,
    export_entries,
    ref_entry,
)
from ociport.errors import InvalidReferenceError, RefNameConflictError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    Descriptor,
)
from ociport.oci.digest import Digest

BASE = "import-2024-05-01"


def root(**annotations: str) -> Descriptor:
    return Descriptor(
        mt.OCI_IMAGE_MANIFEST,
        Digest.of(repr(annotations).encode()),
        10,
        annotations=annotations,
    )


def test_default_base_name_is_todays_date() -> None:
    name = default_base_name()
    assert re.fullmatch(r"import-\d{4}-\d{2}-\d{2}", name)
    assert name == f"import-{datetime.date.today().isoformat()}"
    assert ImportNaming().base_name == name


def test_invalid_base_name_is_rejected() -> None:
    with pytest.raises(InvalidReferenceError):
        ImportNaming(base_name="Not A Name")


def test_containerd_image_name_wins() -> None:
    r = root(
        **{
            ANNOTATION_IMAGE_NAME: "docker.io/library/busybox:1.36",
            ANNOTATION_REF_NAME: "example.com/other:2",
        }
    )
    assert ImportNaming(BASE).names_for(r) == (["docker.io/library/busybox:1.36"], None)


def test_full_ref_name_is_used_as_is() -> None:
    r = root(**{ANNOTATION_REF_NAME: "example.com/app:1.0"})
    assert ImportNaming(BASE).names_for(r) == (["example.com/app:1.0"], None)
    r = root(**{ANNOTATION_REF_NAME: "busybox"})
    # A bare word is a valid tag; containerd treats it as one.
    assert ImportNaming(BASE).names_for(r) == ([f"{BASE}:busybox"], None)


def test_tag_only_ref_name_gets_the_base_name() -> None:
    r = root(**{ANNOTATION_REF_NAME: "1.36"})
    assert ImportNaming(BASE).names_for(r) == ([f"{BASE}:1.36"], None)
    naming = ImportNaming("registry.example/mirror/busybox")
    assert naming.names_for(r) == (["registry.example/mirror/busybox:1.36"], None)


def test_digests_adds_a_digest_name() -> None:
    r = root(**{ANNOTATION_REF_NAME: "1.36"})
    names, note = ImportNaming(BASE, digests=True).names_for(r)
    assert names == [f"{BASE}:1.36", f"{BASE}@{r.digest}"]
    assert note is None


def test_skip_digest_for_named() -> None:
    naming = ImportNaming(BASE, digests=True, skip_digest_for_named=True)
    named = root(**{ANNOTATION_REF_NAME: "example.com/app:1"})
    assert naming.names_for(named) == (["example.com/app:1"], None)
    unnamed = root()
    names, note = naming.names_for(unnamed)
    assert names == [f"{BASE}@{unnamed.digest}"]
    assert note is not None
    # Without --digests the flag changes nothing.
    assert ImportNaming(BASE, skip_digest_for_named=True).names_for(named)[0] == [
        "example.com/app:1"
    ]


def test_unnamed_root_gets_a_digest_name_and_a_note() -> None:
    r = root(other="x")
    names, note = ImportNaming(BASE).names_for(r)
    assert names == [f"{BASE}@{r.digest}"]
    assert note is not None and str(r.digest) in note and names[0] in note


@pytest.mark.parametrize(
    "bad", ["Not Valid", "example.com/UPPER:1", "a:b:c", "x@sha256:zz"]
)
def test_invalid_name_falls_back_to_digest(bad: str) -> None:
    r = root(**{ANNOTATION_IMAGE_NAME: bad})
    names, note = ImportNaming(BASE).names_for(r)
    assert names == [f"{BASE}@{r.digest}"]
    assert note is not None and repr(bad) in note


def test_export_full_style() -> None:
    r = root(**{ANNOTATION_REF_NAME: "old", ANNOTATION_IMAGE_NAME: "old", "keep": "me"})
    [entry] = export_entries([("example.com/app:1", r)])
    assert dict(entry.annotations) == {
        "keep": "me",
        ANNOTATION_IMAGE_NAME: "example.com/app:1",
        ANNOTATION_REF_NAME: "example.com/app:1",
    }
    assert (entry.digest, entry.size, entry.media_type) == (
        r.digest,
        r.size,
        r.media_type,
    )


def test_export_tag_style() -> None:
    a, b = root(n="a"), root(n="b")
    entries = export_entries(
        [("example.com/app:1.0", a), (f"example.com/app@{b.digest}", b)], "tag"
    )
    assert [e.ref_name for e in entries] == ["1.0", f"example.com/app@{b.digest}"]
    assert [e.annotations[ANNOTATION_IMAGE_NAME] for e in entries] == [
        "example.com/app:1.0",
        f"example.com/app@{b.digest}",
    ]


def test_export_keeps_order() -> None:
    images = [(f"example.com/app{i}:v", root(i=str(i))) for i in (3, 1, 2)]
    assert [e.ref_name for e in export_entries(images)] == [n for n, _ in images]


def test_export_tag_style_conflict() -> None:
    images = [("example.com/a:1", root(n="a")), ("example.com/b:1", root(n="b"))]
    assert [e.ref_name for e in export_entries(images)] == [
        "example.com/a:1",
        "example.com/b:1",
    ]
    with pytest.raises(RefNameConflictError) as caught:
        export_entries(images, "tag")
    assert caught.value.ref_name == "1"
    assert caught.value.names == ("example.com/a:1", "example.com/b:1")


def test_export_same_name_twice_is_no_conflict() -> None:
    r = root()
    entries = export_entries([("example.com/a:1", r), ("example.com/a:1", r)], "tag")
    assert [e.ref_name for e in entries] == ["1", "1"]


IMAGE = "example.com/app:1"


@pytest.mark.parametrize(
    ("given", "written"),
    [
        # a full ref name: the image name an import would give, for Docker's RepoTags
        (
            {ANNOTATION_REF_NAME: IMAGE},
            {ANNOTATION_REF_NAME: IMAGE, ANNOTATION_IMAGE_NAME: IMAGE},
        ),
        # an image name only (pulled from a registry): the ref name an export writes
        (
            {ANNOTATION_IMAGE_NAME: IMAGE},
            {ANNOTATION_REF_NAME: IMAGE, ANNOTATION_IMAGE_NAME: IMAGE},
        ),
        ({ANNOTATION_REF_NAME: "1.0"}, {ANNOTATION_REF_NAME: "1.0"}),  # a tag: as it is
        ({ANNOTATION_REF_NAME: "no way!"}, {ANNOTATION_REF_NAME: "no way!"}),
        ({"other": "kept"}, {"other": "kept"}),
    ],
)
def test_copy_entry_names(given: dict[str, str], written: dict[str, str]) -> None:
    assert dict(copy_entry(root(**given)).annotations) == written


def test_ref_entry_without_an_image_name() -> None:
    renamed = ref_entry(root(**{ANNOTATION_REF_NAME: "1.0"}), "2.0")
    assert dict(renamed.annotations) == {ANNOTATION_REF_NAME: "2.0"}
    renamed = ref_entry(root(**{ANNOTATION_REF_NAME: "1.0"}), IMAGE)
    assert dict(renamed.annotations) == {
        ANNOTATION_REF_NAME: IMAGE,
        ANNOTATION_IMAGE_NAME: IMAGE,
    }
