"""ociport: move container images between OCI/Docker archives and an OCI content store.

Quick use::

    import ociport

    store = ociport.open_store("/var/lib/images")
    result = store.import_image("busybox.oci.tar")
    store.export_images([result.images[0].name], "copy.tar")
"""

from __future__ import annotations

from ociport.api import (
    ExportResult,
    GcResult,
    Image,
    ImageStore,
    ImageSummary,
    ImportResult,
    inspect_source,
    open_store,
)
from ociport.content.fsstore import FsspecContentStore
from ociport.content.interfaces import (
    BlobInfo,
    BlobWriter,
    ContentStore,
    ImageIndexStore,
    InfoProvider,
    Ingester,
    Manager,
    Provider,
)
from ociport.content.progress import Progress
from ociport.drivers.base import ImageDriver
from ociport.drivers.registry import DriverRegistry
from ociport.engine.importing import ImportReport, ImportRequest
from ociport.engine.naming import ImportNaming
from ociport.errors import (
    BlobExistsError,
    BlobNotFoundError,
    BlobRemovedError,
    ConditionalWritesError,
    ContentError,
    DigestMismatchError,
    DocumentTooLargeError,
    DriverDetectionError,
    DriverError,
    DuplicateDriverError,
    FormatError,
    ImageNotFoundError,
    IngestLockedError,
    InvalidDescriptorError,
    InvalidDigestError,
    InvalidLocationError,
    InvalidReferenceError,
    LockTimeoutError,
    MissingContentError,
    OciportError,
    PlatformNotFoundError,
    PluginError,
    ReferenceLoopError,
    RefNameConflictError,
    RefNameNotFoundError,
    SizeMismatchError,
    StorageError,
    StorageNotFoundError,
    StoragePermissionError,
    StoreNotFoundError,
    UnknownDriverError,
    UnsupportedMediaTypeError,
    UnsupportedSourceError,
)
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.digest import Digest
from ociport.oci.manifest import Index, Manifest
from ociport.oci.reference import Reference
from ociport.oci.walk import PlatformSelection
from ociport.plugins import hookimpl, make_plugin_manager
from ociport.streams.location import Location

__all__ = [
    "BlobExistsError",
    "BlobInfo",
    "BlobNotFoundError",
    "BlobRemovedError",
    "BlobWriter",
    "ConditionalWritesError",
    "ContentError",
    "ContentStore",
    "Descriptor",
    "Digest",
    "DigestMismatchError",
    "DocumentTooLargeError",
    "DriverDetectionError",
    "DriverError",
    "DriverRegistry",
    "DuplicateDriverError",
    "ExportResult",
    "FormatError",
    "FsspecContentStore",
    "GcResult",
    "Image",
    "ImageDriver",
    "ImageIndexStore",
    "ImageNotFoundError",
    "ImageStore",
    "ImageSummary",
    "ImportNaming",
    "ImportReport",
    "ImportRequest",
    "ImportResult",
    "Index",
    "InfoProvider",
    "IngestLockedError",
    "Ingester",
    "InvalidDescriptorError",
    "InvalidDigestError",
    "InvalidLocationError",
    "InvalidReferenceError",
    "Location",
    "LockTimeoutError",
    "Manager",
    "Manifest",
    "MissingContentError",
    "OciportError",
    "Platform",
    "PlatformNotFoundError",
    "PlatformSelection",
    "PluginError",
    "Progress",
    "Provider",
    "RefNameConflictError",
    "RefNameNotFoundError",
    "Reference",
    "ReferenceLoopError",
    "SizeMismatchError",
    "StorageError",
    "StorageNotFoundError",
    "StoragePermissionError",
    "StoreNotFoundError",
    "UnknownDriverError",
    "UnsupportedMediaTypeError",
    "UnsupportedSourceError",
    "hookimpl",
    "inspect_source",
    "make_plugin_manager",
    "open_store",
]
