"""Digest parsing and validation, hashing, and the verifying reader."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ociport.errors import DigestMismatchError, InvalidDigestError, SizeMismatchError
from ociport.oci.digest import Digest, Hasher, VerifyingReader

LENGTHS = {"sha256": 64, "sha512": 128}


def hex_of(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789abcdef", min_size=length, max_size=length)


valid_digests = st.sampled_from(sorted(LENGTHS)).flatmap(
    lambda alg: hex_of(LENGTHS[alg]).map(lambda enc: f"{alg}:{enc}")
)


@given(valid_digests)
def test_valid_digest_round_trips(text: str) -> None:
    digest = Digest.parse(text)
    assert str(digest) == text
    assert (digest.algorithm, digest.encoded) == tuple(text.split(":"))
    assert Digest.parse(str(digest)) == digest
    assert digest.short == digest.encoded[:12]


@given(st.binary(max_size=2048), st.sampled_from(sorted(LENGTHS)))
def test_of_matches_hashlib(data: bytes, algorithm: str) -> None:
    digest = Digest.of(data, algorithm)
    assert digest.encoded == hashlib.new(algorithm, data).hexdigest()
    assert digest.algorithm == algorithm


@given(valid_digests, st.data())
def test_upper_case_hex_is_rejected(text: str, data: st.DataObject) -> None:
    algorithm, encoded = text.split(":")
    letters = [i for i, c in enumerate(encoded) if c in "abcdef"]
    if not letters:
        encoded = "A" + encoded[1:]
    else:
        i = data.draw(st.sampled_from(letters))
        encoded = encoded[:i] + encoded[i].upper() + encoded[i + 1 :]
    with pytest.raises(InvalidDigestError) as caught:
        Digest.parse(f"{algorithm}:{encoded}")
    assert caught.value.value == f"{algorithm}:{encoded}"


@given(st.sampled_from(sorted(LENGTHS)), st.integers(min_value=0, max_value=200))
def test_wrong_length_is_rejected(algorithm: str, length: int) -> None:
    if length == LENGTHS[algorithm]:
        length += 1
    with pytest.raises(InvalidDigestError):
        Digest.parse(f"{algorithm}:{'a' * length}")


@given(
    st.text(min_size=1, max_size=12).filter(lambda a: a not in LENGTHS and ":" not in a)
)
def test_unknown_algorithm_is_rejected(algorithm: str) -> None:
    with pytest.raises(InvalidDigestError):
        Digest.parse(f"{algorithm}:{'a' * 64}")


@pytest.mark.parametrize(
    "text",
    [
        "sha256:../../x",
        "sha256:../../" + "a" * 58,
        "sha256/../../" + "a" * 64,
        "../sha256:" + "a" * 64,
        "sha256:" + "a" * 63 + "/",
        "sha256:" + "a" * 64 + "\n",
        "sha256:/" + "a" * 63,
        "sha256:" + "a" * 32 + "/../" + "a" * 28,
        "sha256:",
        ":" + "a" * 64,
        "a" * 64,
        "",
        "sha384:" + "a" * 96,
        "md5:" + "a" * 32,
        "SHA256:" + "a" * 64,
    ],
)
def test_bad_strings_are_rejected(text: str) -> None:
    with pytest.raises(InvalidDigestError):
        Digest.parse(text)


@given(st.text(max_size=80))
def test_parse_never_accepts_path_characters(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except InvalidDigestError:
        return
    assert "/" not in str(digest) and ".." not in str(digest)
    assert str(digest) == text


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidDigestError):
        Digest.parse(b"sha256:" + b"a" * 64)  # type: ignore[arg-type]


def test_constructor_validates_too() -> None:
    with pytest.raises(InvalidDigestError):
        Digest("sha256", "../../etc/passwd")


def test_invalid_digest_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Digest.parse("nope")


def test_digests_order_and_hash() -> None:
    a, b = Digest.of(b"a"), Digest.of(b"b")
    assert {a, Digest.parse(str(a))} == {a}
    assert sorted([b, a]) == sorted([a, b])


def test_hasher_counts_and_verifies() -> None:
    hasher = Hasher()
    hasher.update(b"hello ")
    hasher.update(memoryview(b"world"))
    assert hasher.size == 11
    assert hasher.digest() == Digest.of(b"hello world")
    hasher.verify(Digest.of(b"hello world"), 11)
    with pytest.raises(SizeMismatchError):
        hasher.verify(Digest.of(b"hello world"), 12)
    with pytest.raises(DigestMismatchError) as caught:
        hasher.verify(Digest.of(b"hello there"), None)
    assert caught.value.actual == Digest.of(b"hello world")


def _read_all(reader: VerifyingReader, chunk: int) -> bytes:
    out = b""
    while data := reader.read(chunk):
        out += data
    return out


@given(st.binary(max_size=4096), st.integers(min_value=1, max_value=600))
def test_verifying_reader_passes_good_data(data: bytes, chunk: int) -> None:
    reader = VerifyingReader(io.BytesIO(data), Digest.of(data), len(data))
    assert _read_all(reader, chunk) == data
    reader = VerifyingReader(io.BytesIO(data), Digest.of(data), None)
    assert reader.read() == data


@given(st.binary(min_size=1, max_size=2048), st.data())
def test_verifying_reader_detects_a_flipped_byte(
    data: bytes, draw: st.DataObject
) -> None:
    i = draw.draw(st.integers(min_value=0, max_value=len(data) - 1))
    bad = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
    reader = VerifyingReader(io.BytesIO(bad), Digest.of(data), len(data))
    with pytest.raises(DigestMismatchError):
        _read_all(reader, 100)


@given(st.binary(min_size=1, max_size=2048), st.data())
def test_verifying_reader_detects_short_data(data: bytes, draw: st.DataObject) -> None:
    cut = draw.draw(st.integers(min_value=0, max_value=len(data) - 1))
    reader = VerifyingReader(io.BytesIO(data[:cut]), Digest.of(data), len(data))
    with pytest.raises(SizeMismatchError) as caught:
        _read_all(reader, 64)
    assert (caught.value.expected, caught.value.actual) == (len(data), cut)
    reader = VerifyingReader(io.BytesIO(data[:cut]), Digest.of(data), None)
    with pytest.raises(DigestMismatchError):
        reader.read()


def test_verifying_reader_stops_at_size_and_checks_prefix() -> None:
    data = b"0123456789"
    reader = VerifyingReader(io.BytesIO(data + b"extra"), Digest.of(data), len(data))
    assert reader.read() == data
    assert reader.read() == b""
    reader = VerifyingReader(
        io.BytesIO(data + b"extra"), Digest.of(data + b"extra"), 10
    )
    with pytest.raises(DigestMismatchError):
        reader.read()


def test_verifying_reader_read_zero_and_close() -> None:
    stream = io.BytesIO(b"abc")
    with VerifyingReader(stream, Digest.of(b"abc"), 3) as reader:
        assert reader.read(0) == b""
        assert reader.readable()
        assert reader.read(2) == b"ab"
    assert stream.closed


def test_verifying_reader_empty_blob() -> None:
    reader = VerifyingReader(io.BytesIO(b""), Digest.of(b""), 0)
    assert reader.read() == b""
    reader = VerifyingReader(io.BytesIO(b"x"), Digest.of(b""), 0)
    assert reader.read() == b""


class _ReadOnly(io.RawIOBase):
    """A stream with ``read`` only (no ``readinto`` of its own to pass on)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._inner.read(n)

    readinto = None  # type: ignore[assignment]


def _readinto_all(reader: VerifyingReader, chunk: int) -> bytes:
    out = bytearray()
    buffer = bytearray(chunk)
    while n := reader.readinto(buffer):
        out += buffer[:n]
    return bytes(out)


@given(st.binary(max_size=4096), st.integers(min_value=1, max_value=600), st.data())
def test_verifying_reader_readinto(
    data: bytes, chunk: int, draw: st.DataObject
) -> None:
    for stream in (io.BytesIO(data), _ReadOnly(data)):
        reader = VerifyingReader(stream, Digest.of(data), len(data))
        assert _readinto_all(reader, chunk) == data
    if data:
        i = draw.draw(st.integers(min_value=0, max_value=len(data) - 1))
        bad = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
        reader = VerifyingReader(io.BytesIO(bad), Digest.of(data), len(data))
        with pytest.raises(DigestMismatchError):
            _readinto_all(reader, chunk)
        reader = VerifyingReader(io.BytesIO(data[:i]), Digest.of(data), len(data))
        with pytest.raises(SizeMismatchError):
            _readinto_all(reader, chunk)
