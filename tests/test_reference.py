"""Image references: the distribution grammar, kept exactly as written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ociport.errors import InvalidReferenceError
from ociport.oci.digest import Digest
from ociport.oci.reference import Reference, is_tag

DIGEST = Digest.of(b"x")


@pytest.mark.parametrize(
    ("text", "name", "tag", "digest"),
    [
        ("busybox", "busybox", None, None),
        ("busybox:1.36", "busybox", "1.36", None),
        ("docker.io/library/busybox:1.36", "docker.io/library/busybox", "1.36", None),
        ("localhost:5000/a/b", "localhost:5000/a/b", None, None),
        ("localhost:5000/a/b:latest", "localhost:5000/a/b", "latest", None),
        ("[::1]:5000/app:v1", "[::1]:5000/app", "v1", None),
        (f"ghcr.io/o/r@{DIGEST}", "ghcr.io/o/r", None, DIGEST),
        (f"ghcr.io/o/r:t@{DIGEST}", "ghcr.io/o/r", "t", DIGEST),
        (
            "my-registry.example.com/a__b/c.d/e-f:Tag_1.x-y",
            "my-registry.example.com/a__b/c.d/e-f",
            "Tag_1.x-y",
            None,
        ),
        ("Example.COM/app", "Example.COM/app", None, None),
    ],
)
def test_parse(text: str, name: str, tag: str | None, digest: Digest | None) -> None:
    reference = Reference.parse(text)
    assert (reference.name, reference.tag, reference.digest) == (name, tag, digest)
    assert str(reference) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Busybox",
        "example.com/App:1",
        "busybox:",
        "busybox:-tag",
        "busybox:.tag",
        "busybox:" + "t" * 129,
        "a//b",
        "/a",
        "a/",
        "a--/b",
        "busybox@sha256:abc",
        "busybox@sha256:" + "A" * 64,
        "busybox@md5:" + "a" * 32,
        "busybox@sha256:../../" + "a" * 58,
        "repo:tâg",
        "répo:1",
        "a b",
        "x/" + "a" * 255,
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        Reference.parse(text)
    assert caught.value.value == text
    assert isinstance(caught.value, ValueError)


def test_longest_valid_tag() -> None:
    assert Reference.parse("busybox:" + "t" * 128).tag == "t" * 128


@pytest.mark.parametrize(
    ("value", "result"),
    [
        ("1.36", True),
        ("latest", True),
        ("v1.0-rc_1", True),
        ("busybox", True),
        ("a/b", False),
        ("a:b", False),
        ("-x", False),
        ("", False),
        ("t" * 129, False),
        ("café", False),
        ("docker.io/library/busybox:1.36", False),
    ],
)
def test_is_tag(value: str, result: bool) -> None:
    assert is_tag(value) is result


path_component = st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", fullmatch=True).filter(
    lambda s: len(s) < 40
)
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(st.lists(path_component, min_size=1, max_size=3), st.none() | tags)
def test_generated_references_round_trip(parts: list[str], tag: str | None) -> None:
    text = "/".join(["registry.example:443", *parts]) + (f":{tag}" if tag else "")
    reference = Reference.parse(text)
    assert str(reference) == text
    assert reference.tag == tag
