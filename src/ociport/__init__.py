"""ociport: move container images between OCI/Docker archives and an OCI content store.

Quick use::

    import ociport

    store = ociport.open_store("/var/lib/images")
    result = store.import_image("busybox.oci.tar")
    store.export_images([result.images[0].name], "copy.tar")
"""

from __future__ import annotations

import importlib
import typing

# Errors are light and always there; everything else is imported on first use
# (PEP 562), so that `import ociport` and short commands start fast.
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

if typing.TYPE_CHECKING:
    from ociport.api import (
        CopyResult,
        ExportResult,
        GcResult,
        Image,
        ImageStore,
        ImageSummary,
        ImportResult,
        copy_image,
        inspect_source,
        open_store,
    )
    from ociport.content.fsstore import (
        FsspecContentStore,
    )
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
    from ociport.content.progress import (
        Progress,
    )
    from ociport.drivers.base import (
        ImageDriver,
    )
    from ociport.drivers.registry import (
        DriverRegistry,
    )
    from ociport.engine.importing import (
        ImportReport,
        ImportRequest,
    )
    from ociport.engine.naming import (
        ImportNaming,
    )
    from ociport.oci.descriptor import (
        Descriptor,
        Platform,
    )
    from ociport.oci.digest import (
        Digest,
    )
    from ociport.oci.manifest import (
        Index,
        Manifest,
    )
    from ociport.oci.reference import (
        Reference,
    )
    from ociport.oci.walk import (
        PlatformSelection,
    )
    from ociport.plugins import (
        hookimpl,
        make_plugin_manager,
    )
    from ociport.streams.location import (
        Location,
    )

#: Where each lazily imported public name lives.
_LAZY: typing.Final = {
    "BlobInfo": "ociport.content.interfaces",
    "BlobWriter": "ociport.content.interfaces",
    "ContentStore": "ociport.content.interfaces",
    "CopyResult": "ociport.api",
    "Descriptor": "ociport.oci.descriptor",
    "Digest": "ociport.oci.digest",
    "DriverRegistry": "ociport.drivers.registry",
    "ExportResult": "ociport.api",
    "FsspecContentStore": "ociport.content.fsstore",
    "GcResult": "ociport.engine.gc",
    "Image": "ociport.api",
    "ImageDriver": "ociport.drivers.base",
    "ImageIndexStore": "ociport.content.interfaces",
    "ImageStore": "ociport.api",
    "ImageSummary": "ociport.engine.summary",
    "ImportNaming": "ociport.engine.naming",
    "ImportReport": "ociport.engine.importing",
    "ImportRequest": "ociport.engine.importing",
    "ImportResult": "ociport.api",
    "Index": "ociport.oci.manifest",
    "InfoProvider": "ociport.content.interfaces",
    "Ingester": "ociport.content.interfaces",
    "Location": "ociport.streams.location",
    "Manager": "ociport.content.interfaces",
    "Manifest": "ociport.oci.manifest",
    "Platform": "ociport.oci.descriptor",
    "PlatformSelection": "ociport.oci.walk",
    "Progress": "ociport.content.progress",
    "Provider": "ociport.content.interfaces",
    "Reference": "ociport.oci.reference",
    "copy_image": "ociport.api",
    "hookimpl": "ociport.plugins",
    "inspect_source": "ociport.api",
    "make_plugin_manager": "ociport.plugins",
    "open_store": "ociport.api",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ociport' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BlobExistsError",
    "BlobInfo",
    "BlobNotFoundError",
    "BlobRemovedError",
    "BlobWriter",
    "ConditionalWritesError",
    "ContentError",
    "ContentStore",
    "CopyResult",
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
    "copy_image",
    "hookimpl",
    "inspect_source",
    "make_plugin_manager",
    "open_store",
]
