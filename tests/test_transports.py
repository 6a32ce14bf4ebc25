"""Transport references (skopeo's ``TRANSPORT:PATH[:REF]``, containers-transports(5)):
the parser, and the Python API taking them wherever it takes a source or a sink."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any, cast

import pluggy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ociport
from ociport.builtin import oci_layout
from ociport.errors import (
    InvalidLocationError,
    InvalidReferenceError,
    RefNameNotFoundError,
    UnknownDriverError,
)
from ociport.streams.address import ImageAddress
from ociport.streams.transports import (
    SKOPEO_TRANSPORTS,
    TransportReference,
    apply_reference,
    parse_reference,
)
from ociport.testing.factories import name_image, random_image

NAMES = frozenset({"oci", "oci-archive", "docker-archive", "oci-zip"})


def _parse(text: str) -> tuple[str | None, str, str | None]:
    parsed = parse_reference(text, NAMES)
    return parsed.transport, parsed.path, parsed.ref


# -- the parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a.tar",
        "/tmp/a.tar",
        "-",
        "./oci:x",
        "/tmp/oci-archive:x.tar",
        "a:b.tar",
        "C:/images/a.tar",
        "s3://bucket/a.tar",
        "memory://x/a.tar:v1",
        "file:/tmp/a.tar",
        "oci://bucket@namespace/layout",  # fsspec's Oracle Cloud protocol, not oci:
        "zip://a.tar::file:///tmp/b.zip",
        "oci-archive",
        ":oci",
    ],
)
def test_plain_paths_and_urls_stay_as_they_are(text: str) -> None:
    assert _parse(text) == (None, text, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oci-archive:a.tar", ("oci-archive", "a.tar", None)),
        ("oci-archive:/p.tar:multi", ("oci-archive", "/p.tar", "multi")),
        ("oci:dir:v1", ("oci", "dir", "v1")),
        # REF may hold colons: the PATH ends at the first one (skopeo's split).
        (
            "oci:dir:example.com:5000/app:v1",
            ("oci", "dir", "example.com:5000/app:v1"),
        ),
        (
            "oci-archive:./a.tar:example.com/x:v2",
            ("oci-archive", "./a.tar", "example.com/x:v2"),
        ),
        ("docker-archive:-", ("docker-archive", "-", None)),
        ("oci-zip:a.zip:v1", ("oci-zip", "a.zip", "v1")),
        # fsspec URLs as PATH: scheme://, :PORT/ after the host and :: chains.
        ("oci-archive:s3://bucket/a.tar", ("oci-archive", "s3://bucket/a.tar", None)),
        (
            "oci-archive:s3://bucket/a.tar:v1",
            ("oci-archive", "s3://bucket/a.tar", "v1"),
        ),
        (
            "oci-archive:s3://bucket/a.tar:example.com:5000/app:v1",
            ("oci-archive", "s3://bucket/a.tar", "example.com:5000/app:v1"),
        ),
        ("oci:memory://layout:v1", ("oci", "memory://layout", "v1")),
        (
            "oci-archive:http://host:8080/a.tar:v1",
            ("oci-archive", "http://host:8080/a.tar", "v1"),
        ),
        (
            "oci-archive:simplecache::s3://b/a.tar:v1",
            ("oci-archive", "simplecache::s3://b/a.tar", "v1"),
        ),
        ("oci:s3://bucket/layout", ("oci", "s3://bucket/layout", None)),
    ],
)
def test_transport_references(
    text: str, expected: tuple[str | None, str, str | None]
) -> None:
    assert _parse(text) == expected
    assert str(parse_reference(text, NAMES)) == text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("oci-archive:", "no PATH"),
        ("oci::v1", "no PATH"),
        ("oci:dir:", "empty REF"),
        ("oci-archive:s3://b/a.tar:", "empty REF"),
    ],
)
def test_an_empty_path_or_ref_is_an_error(text: str, needle: str) -> None:
    with pytest.raises(InvalidLocationError) as caught:
        parse_reference(text, NAMES)
    assert needle in str(caught.value)
    assert "PATH[:REF]" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "text", ["docker://alpine", "dir:/tmp/x", "containers-storage:alpine"]
)
def test_skopeo_transports_without_a_driver_are_unknown_formats(text: str) -> None:
    with pytest.raises(UnknownDriverError) as caught:
        parse_reference(text, NAMES)
    assert caught.value.known == tuple(sorted(NAMES))


def test_docker_archive_without_its_plugin_is_an_unknown_format() -> None:
    with pytest.raises(UnknownDriverError, match="docker-archive"):
        parse_reference("docker-archive:a.tar", {"oci", "oci-archive"})


def test_driver_names_are_asked_for_only_when_needed() -> None:
    def names() -> frozenset[str]:
        calls.append(1)
        return NAMES

    calls: list[int] = []
    for plain in ("a.tar", "/x:y", "s3://b/a.tar", "-", "./oci:x"):
        assert parse_reference(plain, names).transport is None
    assert calls == []
    assert parse_reference("oci:dir", names).transport == "oci"
    assert calls == [1]


@pytest.mark.parametrize(
    "text",
    [
        "docker://127.0.0.1:5000/app:v1",
        "docker://registry.example/a/b@sha256:" + "0" * 64,
        "docker://alpine",
    ],
)
def test_an_addressed_transport_takes_the_rest_whole(text: str) -> None:
    parsed = parse_reference(text, NAMES | {"docker"}, {"docker"})
    assert parsed == TransportReference("docker", text[len("docker:") :])
    assert str(parsed) == text
    target, format, ref = apply_reference(
        text, NAMES | {"docker"}, format=None, ref=None, addressed={"docker"}
    )
    assert (target, format, ref) == (
        ImageAddress("docker", text[len("docker:") :]),
        "docker",
        None,
    )
    assert str(target) == text


def test_an_addressed_transport_needs_an_address() -> None:
    with pytest.raises(InvalidLocationError, match="nothing after docker:"):
        parse_reference("docker:", {"docker"}, {"docker"})


#: A PATH without a colon (not ``//...`` either: ``oci://`` is fsspec's protocol).
_NO_COLON = st.text(
    st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), min_size=1
).filter(lambda path: not path.startswith("//"))
#: A REF: anything but a leading ``:`` (``::`` chains URLs) or ``PORT/`` (after a
#: URL's host it is the URL's port); no tag or reference starts so.
_REF = st.none() | st.text(min_size=1).filter(
    lambda ref: not ref.startswith(":") and not re.match(r"[0-9]+/", ref)
)
_TRANSPORT = st.sampled_from(sorted(NAMES))


@given(_TRANSPORT, _NO_COLON, _REF)
def test_transport_path_ref_round_trip(
    transport: str, path: str, ref: str | None
) -> None:
    text = str(TransportReference(transport, path, ref))
    assert parse_reference(text, NAMES) == TransportReference(transport, path, ref)


@given(
    _TRANSPORT,
    st.sampled_from(["s3", "gs", "memory", "file"]),
    st.from_regex(r"[a-z0-9][a-z0-9./_-]*", fullmatch=True),
    _REF,
)
def test_url_paths_round_trip(
    transport: str, scheme: str, rest: str, ref: str | None
) -> None:
    reference = TransportReference(transport, f"{scheme}://{rest}", ref)
    assert parse_reference(str(reference), NAMES) == reference


@given(st.text())
def test_anything_not_led_by_a_transport_is_a_path(text: str) -> None:
    prefix = text.partition(":")[0]
    if prefix in NAMES | SKOPEO_TRANSPORTS:
        return
    assert parse_reference(text, NAMES) == TransportReference(None, text)


def test_apply_reference() -> None:
    assert apply_reference("oci:dir:v1", NAMES, format=None, ref=None) == (
        "dir",
        "oci",
        "v1",
    )
    assert apply_reference("oci:dir", NAMES, format="oci", ref="v2") == (
        "dir",
        "oci",
        "v2",
    )
    assert apply_reference("a.tar", NAMES, format="oci-archive", ref="v1") == (
        "a.tar",
        "oci-archive",
        "v1",
    )
    path = Path("oci:dir")  # an os.PathLike is always a path
    assert apply_reference(path, NAMES, format=None, ref=None) == (path, None, None)
    stream = io.BytesIO()
    assert apply_reference(stream, NAMES, format=None, ref=None)[0] is stream
    with pytest.raises(InvalidLocationError, match="disagrees with format oci"):
        apply_reference("oci-archive:a.tar", NAMES, format="oci", ref=None)
    with pytest.raises(InvalidLocationError, match="disagrees with ref_name v2"):
        apply_reference("oci:dir:v1", NAMES, format=None, ref="v2")


# -- the Python API ----------------------------------------------------------------------

ONE = "example.com/one:1"
TWO = "example.com/two:2"


@pytest.fixture
def full_pm(pm: pluggy.PluginManager) -> pluggy.PluginManager:
    """The built-in plugins: ``oci-archive`` and ``oci`` drivers, fsspec store."""
    pm.register(oci_layout, name="oci")
    return pm


@pytest.fixture
def two_images(tmp_path: Path, full_pm: pluggy.PluginManager) -> ociport.ImageStore:
    """A store holding two different images, ONE and TWO."""
    store = ociport.open_store(str(tmp_path / "two"), pm=full_pm)
    name_image(store.content, ONE, random_image(store.content, seed=1))  # type: ignore[arg-type]
    name_image(store.content, TWO, random_image(store.content, seed=2))  # type: ignore[arg-type]
    return store


def _index(path: Path) -> dict[str, Any]:
    with tarfile.open(path) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        return cast(dict[str, Any], json.loads(member.read()))


def _ref_names(index: dict[str, Any]) -> list[str]:
    return [
        m["annotations"]["org.opencontainers.image.ref.name"]
        for m in index["manifests"]
    ]


def test_api_import_takes_the_ref_of_a_transport_reference(
    tmp_path: Path, two_images: ociport.ImageStore, full_pm: pluggy.PluginManager
) -> None:
    archive = tmp_path / "two.tar"
    two_images.export_images([ONE, TWO], f"oci-archive:{archive}")
    assert _ref_names(_index(archive)) == [ONE, TWO]
    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=full_pm)
    result = fresh.import_image(f"oci-archive:{archive}:{TWO}")
    assert [image.name for image in result.images] == [TWO]
    assert [image.name for image in fresh.images()] == [TWO]
    with pytest.raises(RefNameNotFoundError) as caught:
        fresh.import_image(f"oci-archive:{archive}:example.com/nope:1")
    assert caught.value.available == (ONE, TWO)
    with pytest.raises(InvalidLocationError, match="disagrees"):
        fresh.import_image(f"oci-archive:{archive}:{TWO}", ref_name=ONE)
    with pytest.raises(InvalidLocationError, match="disagrees"):
        fresh.import_image(f"oci-archive:{archive}", format="oci")


def test_api_export_to_a_layout_with_a_tag_only_ref(
    tmp_path: Path, two_images: ociport.ImageStore, full_pm: pluggy.PluginManager
) -> None:
    layout = tmp_path / "layout"
    result = two_images.export_images([ONE], f"oci:{layout}:v2")
    [entry] = result.entries
    assert entry.ref_name == "v2"
    # containerd's image name keeps the repository, with REF as its tag.
    assert entry.annotations["io.containerd.image.name"] == "example.com/one:v2"
    index = json.loads((layout / "index.json").read_bytes())
    assert _ref_names(index) == ["v2"]
    described = ociport.inspect_source(f"oci:{layout}:v2", pm=full_pm)
    assert [record["names"] for record in described] == [["example.com/one:v2", "v2"]]


def test_api_export_ref_needs_one_name_and_a_valid_ref(
    tmp_path: Path, two_images: ociport.ImageStore
) -> None:
    out = tmp_path / "out.tar"
    with pytest.raises(InvalidLocationError, match="one image, not the 2 given"):
        two_images.export_images([ONE, TWO], f"oci-archive:{out}:v1")
    with pytest.raises(InvalidReferenceError):
        two_images.export_images([ONE], f"oci-archive:{out}:Not/A Reference")
    with pytest.raises(InvalidLocationError, match="disagrees with format oci"):
        two_images.export_images([ONE], f"oci-archive:{out}", format="oci")
    assert list(tmp_path.glob("*out.tar*")) == []


@pytest.mark.s3
def test_api_transport_references_with_s3_urls(
    s3_bucket: str, s3_endpoint: str, two_images: ociport.ImageStore, tmp_path: Path
) -> None:
    options = {"endpoint_url": s3_endpoint}
    url = f"s3://{s3_bucket}/images/two.tar"
    two_images.export_images([ONE, TWO], f"oci-archive:{url}", storage_options=options)
    fresh = ociport.open_store(str(tmp_path / "fresh"), pm=two_images.pm)
    result = fresh.import_image(f"oci-archive:{url}:{ONE}", storage_options=options)
    assert [image.name for image in result.images] == [ONE]
    assert [image.name for image in fresh.images()] == [ONE]
    # And an export to a ref in S3, read back through the same syntax.
    fresh.export_images(
        [ONE], f"oci-archive:{url}.copy:example.com/x:v2", storage_options=options
    )
    described = ociport.inspect_source(
        f"oci-archive:{url}.copy", storage_options=options, pm=two_images.pm
    )
    assert [record["names"] for record in described] == [["example.com/x:v2"]]
