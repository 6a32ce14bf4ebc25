"""The toolkit for format plugins: everything a driver may import besides the public
``ociport`` API, in one place (go-containerregistry's ``partial`` and ``tarball``
helpers play this part there).

A driver built on these needs no other ``ociport`` module, so the modules behind them
can move without breaking plugins. ``__all__`` is the promise: it is tested, and a
name leaves it only with a major version.

- the contract: :class:`ImageDriver`, :class:`ImageSource`, :class:`SourceContext`,
  :class:`SourceProvider`, :class:`ExportPlan`, :class:`DriverRegistry`,
  :func:`hookimpl`;
- tar: :func:`iter_members` (one pass over a stream), :func:`index_members` (headers
  of a seekable file), :func:`peek_members`/:func:`peek_member_names` (for ``sniff``),
  :func:`member_path`, :class:`TarWriter` (deterministic archives);
- OCI image layout members: :func:`blob_member_name`, :func:`blob_member_digest`,
  :func:`parse_layout`, :func:`layout_files`, :func:`add_blob_member`;
- bytes: :class:`Location`, :class:`ImageAddress` (what an addressed driver gets),
  :class:`RangeReader`, :func:`open_decompressed`,
  :func:`detect_compression`, :func:`open_uncompressed`, :func:`copy_stream`,
  :func:`verified` (a document's bytes checked against its descriptor),
  :func:`read_threads`;
- staging: :class:`StagingArea` (what ``context.stage`` is);
- OCI values: :class:`Descriptor`, :class:`Digest`, :class:`Platform`,
  :class:`Manifest`, :class:`Index`, :func:`parse_json`, :func:`dump_json`,
  :mod:`mediatypes` (with ``layer_media_type``), :class:`Reference` with
  :func:`normalize_name` and :func:`familiar_name` (Docker's short names) and
  :func:`is_tag` (a ref name that is only a tag, as naming reads it),
  :func:`parse_link_tag` (cosign's ``sha256-<hex>.sig`` and the referrers tag
  schema's ``sha256-<hex>``),
  :func:`check_diff_ids`, the annotation keys, :func:`walk_image` (and the
  :class:`ImageGraph` it returns, which an export plan holds per entry);
- errors: those a driver raises.
"""

from __future__ import annotations

from ociport.content.helpers import ProgressCallback, copy_stream, verified
from ociport.content.staging import StagingArea
from ociport.drivers.base import ImageDriver, ImageSource, SourceContext, SourceProvider
from ociport.drivers.layout import (
    add_blob_member,
    blob_member_digest,
    blob_member_name,
    layout_files,
    parse_layout,
    read_threads,
)
from ociport.drivers.plan import ExportPlan
from ociport.drivers.registry import DriverRegistry
from ociport.errors import (
    BlobNotFoundError,
    DigestMismatchError,
    DocumentTooLargeError,
    FormatError,
    InvalidLocationError,
    InvalidReferenceError,
    MissingContentError,
    OciportError,
    SizeMismatchError,
    UnsupportedMediaTypeError,
    UnsupportedSourceError,
)
from ociport.oci import mediatypes
from ociport.oci.descriptor import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    Descriptor,
    Platform,
)
from ociport.oci.digest import Digest, Hasher
from ociport.oci.manifest import Index, Manifest, dump_json, parse_json
from ociport.oci.reference import Reference, familiar_name, is_tag, normalize_name
from ociport.oci.referrers import parse_link_tag
from ociport.oci.validate import check_diff_ids
from ociport.oci.walk import ImageGraph, PlatformSelection, walk_image
from ociport.plugins import hookimpl
from ociport.streams.address import ImageAddress
from ociport.streams.compression import detect_compression, open_decompressed
from ociport.streams.location import Location
from ociport.streams.ranged import RangeReader
from ociport.streams.sources import open_uncompressed
from ociport.streams.tario import (
    TarHeader,
    TarMember,
    TarWriter,
    index_members,
    iter_members,
    member_path,
    peek_member_names,
    peek_members,
)

__all__ = [
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "BlobNotFoundError",
    "Descriptor",
    "Digest",
    "DigestMismatchError",
    "DocumentTooLargeError",
    "DriverRegistry",
    "ExportPlan",
    "FormatError",
    "Hasher",
    "ImageAddress",
    "ImageDriver",
    "ImageGraph",
    "ImageSource",
    "Index",
    "InvalidLocationError",
    "InvalidReferenceError",
    "Location",
    "Manifest",
    "MissingContentError",
    "OciportError",
    "Platform",
    "PlatformSelection",
    "ProgressCallback",
    "RangeReader",
    "Reference",
    "SizeMismatchError",
    "SourceContext",
    "SourceProvider",
    "StagingArea",
    "TarHeader",
    "TarMember",
    "TarWriter",
    "UnsupportedMediaTypeError",
    "UnsupportedSourceError",
    "add_blob_member",
    "blob_member_digest",
    "blob_member_name",
    "check_diff_ids",
    "copy_stream",
    "detect_compression",
    "dump_json",
    "familiar_name",
    "hookimpl",
    "index_members",
    "is_tag",
    "iter_members",
    "layout_files",
    "mediatypes",
    "member_path",
    "normalize_name",
    "open_decompressed",
    "open_uncompressed",
    "parse_json",
    "parse_layout",
    "parse_link_tag",
    "peek_member_names",
    "peek_members",
    "read_threads",
    "verified",
    "walk_image",
]
