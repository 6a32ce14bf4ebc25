"""The OCI image layout's files (image-spec ``image-layout.md``), shared by the formats
that hold one: ``oci-layout``, ``index.json`` and ``blobs/<algorithm>/<encoded>``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from ociport.content.helpers import ProgressCallback, copy_stream
from ociport.content.imageindex import read_oci_layout
from ociport.content.interfaces import ReadableContent
from ociport.errors import FormatError, InvalidDigestError
from ociport.oci import mediatypes as mt
from ociport.oci.descriptor import Descriptor
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, dump_json
from ociport.streams.location import Location
from ociport.streams.tario import TarWriter

__all__ = [
    "LAYOUT_FILE_CAP",
    "add_blob_member",
    "blob_member_digest",
    "blob_member_name",
    "layout_files",
    "parse_layout",
    "read_threads",
]

#: Cap on the ``oci-layout`` file, in bytes.
LAYOUT_FILE_CAP: Final = 64 << 10


def read_threads(location: Location) -> int:
    """How many blobs to read from ``location`` at once: two on a local disk (hashing
    one blob cannot use two cores; two can), four remotely (each ranged request waits
    on the network)."""
    return 2 if location.is_local else 4


def blob_member_name(descriptor: Descriptor) -> str:
    """``blobs/<algorithm>/<encoded>``: where an OCI image layout keeps a blob."""
    return f"blobs/{descriptor.digest.algorithm}/{descriptor.digest.encoded}"


def blob_member_digest(name: str) -> Digest | None:
    """The digest named by a ``blobs/<alg>/<encoded>`` member, ``None`` for ``blobs/...``
    directories and members outside ``blobs/``.

    :raises FormatError: a name under ``blobs/`` that is not exactly a valid digest path
        (``blobs/sha256/../../x``, upper-case hex, an unknown algorithm).
    """
    parts = name.rstrip("/").split("/")  # zips name directories with a trailing "/"
    if parts[0] != "blobs" or len(parts) == 1:
        return None
    if len(parts) == 2 and parts[1] in ("sha256", "sha512"):
        return None
    if len(parts) != 3:
        raise FormatError("member name is not blobs/<algorithm>/<encoded>", member=name)
    try:
        return Digest(parts[1], parts[2])
    except InvalidDigestError as exc:
        raise FormatError(
            f"member name is not a valid digest path: {exc}", member=name
        ) from exc


def parse_layout(
    layout_raw: bytes | None, index_raw: bytes | None, label: str, *, hint: str = ""
) -> Index:
    """Check ``oci-layout`` and parse ``index.json``.

    :param hint: added to the error when the index lists nothing.
    :raises FormatError: either file is missing or malformed, or the index is empty.
    """
    if layout_raw is None:
        raise FormatError(
            "no oci-layout member: not an OCI image layout", location=label
        )
    read_oci_layout(layout_raw, where="oci-layout")
    if index_raw is None:
        raise FormatError("no index.json member", location=label)
    index = Index.parse(index_raw, where="index.json")
    if not index.manifests:
        raise FormatError(f"index.json lists no images{hint}", location=label)
    return index


def layout_files(entries: Sequence[Descriptor]) -> list[tuple[str, bytes]]:
    """``oci-layout`` and ``index.json`` listing ``entries``, as ``(name, bytes)``."""
    return [
        ("oci-layout", dump_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION})),
        ("index.json", Index.build(entries).raw),
    ]


def add_blob_member(
    tar: TarWriter,
    content: ReadableContent,
    descriptor: Descriptor,
    name: str,
    progress: ProgressCallback | None = None,
) -> None:
    """Stream one blob into ``tar`` as member ``name``, hashing it on the way.

    :raises BlobNotFoundError: the store lacks the blob.
    :raises DigestMismatchError, SizeMismatchError: the stored bytes are corrupt; the
        member is already (partly) written, so the caller must discard the archive.
    """
    hasher = descriptor.digest.hasher()

    def copy(write: Callable[[memoryview], object]) -> int:
        with content.open_blob(descriptor) as stream:
            return copy_stream(
                stream,
                write,
                descriptor.size,
                hasher=hasher,
                progress=progress,
                where=name,
            )

    tar.add_stream(name, descriptor.size, copy)
    hasher.verify(descriptor.digest, descriptor.size, name)
