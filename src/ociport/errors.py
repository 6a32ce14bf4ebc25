"""Every exception ociport raises on purpose, in one hierarchy.

::

    OciportError(Exception)
    ├─ InvalidDigestError(ValueError)          .value
    ├─ InvalidDescriptorError(ValueError)      .field
    ├─ InvalidReferenceError(ValueError)       .value
    ├─ InvalidLocationError(ValueError)        .url
    ├─ ContentError
    │  ├─ BlobNotFoundError(LookupError)       .digest
    │  ├─ BlobExistsError                      .digest     (helpers treat as success)
    │  ├─ DigestMismatchError                  .expected .actual
    │  ├─ SizeMismatchError                    .expected .actual
    │  ├─ BlobRemovedError                     .digest
    │  └─ IngestLockedError                    .ingest_id
    ├─ FormatError(ValueError)                 .location .member
    │  ├─ UnsupportedMediaTypeError            .media_type
    │  ├─ DocumentTooLargeError                .limit
    │  ├─ ReferenceLoopError                   .digest
    │  ├─ MissingContentError                  .digest
    │  └─ PlatformNotFoundError(LookupError)   .asked .available
    ├─ DriverError
    │  ├─ UnknownDriverError(LookupError)      .name .known
    │  ├─ DriverDetectionError                 .location .tried
    │  └─ UnsupportedSourceError(TypeError)    .driver
    ├─ ImageNotFoundError(LookupError)         .name .available
    ├─ StoreNotFoundError(LookupError)         .url
    ├─ StorageError(OSError)                   .url .role .reason .hint
    │  ├─ StorageNotFoundError(FileNotFoundError)
    │  ├─ StoragePermissionError(PermissionError)
    │  ├─ LockTimeoutError(TimeoutError)       .lock_url
    │  └─ ConditionalWritesError               .endpoint
    ├─ RefNameNotFoundError(LookupError)       .ref_name .available
    ├─ RefNameConflictError(ValueError)        .ref_name
    └─ PluginError
       └─ DuplicateDriverError                 .name .existing .new

Errors from a local filesystem (``PermissionError``, ``FileNotFoundError`` on a source
the user named, ...) are not wrapped: they pass through as the ``OSError`` that fsspec
raised. Errors from a remote one (S3 and other object stores) become a
:class:`StorageError` that says which side failed (the store, the source or the
destination), its URL, the cause and a hint; the original is its ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BlobExistsError",
    "BlobNotFoundError",
    "BlobRemovedError",
    "ConditionalWritesError",
    "ContentError",
    "DigestMismatchError",
    "DocumentTooLargeError",
    "DriverDetectionError",
    "DriverError",
    "DuplicateDriverError",
    "FormatError",
    "ImageNotFoundError",
    "IngestLockedError",
    "InvalidDescriptorError",
    "InvalidDigestError",
    "InvalidLocationError",
    "InvalidReferenceError",
    "LockTimeoutError",
    "MissingContentError",
    "OciportError",
    "PlatformNotFoundError",
    "PluginError",
    "RefNameConflictError",
    "RefNameNotFoundError",
    "ReferenceLoopError",
    "SizeMismatchError",
    "StorageError",
    "StorageNotFoundError",
    "StoragePermissionError",
    "StoreNotFoundError",
    "UnknownDriverError",
    "UnsupportedMediaTypeError",
    "UnsupportedSourceError",
]


class OciportError(Exception):
    """Base class of every error ociport raises on purpose."""


class InvalidDigestError(OciportError, ValueError):
    """A string is not a digest of the OCI grammar (image-spec ``descriptor.md#digests``)."""

    def __init__(self, value: str, reason: str = "") -> None:
        self.value = value
        detail = f": {reason}" if reason else ""
        super().__init__(f"invalid digest {value!r}{detail}")


class InvalidDescriptorError(OciportError, ValueError):
    """A descriptor (or document) field is missing or has the wrong type."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class InvalidReferenceError(OciportError, ValueError):
    """A string is not an image reference (``[registry/]repository[:tag][@digest]``)."""

    def __init__(self, value: str, reason: str = "") -> None:
        self.value = value
        detail = f": {reason}" if reason else ""
        super().__init__(f"invalid image reference {value!r}{detail}")


class InvalidLocationError(OciportError, ValueError):
    """A path or URL that no filesystem can open (unknown protocol, bad form)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(f"cannot use {url!r}: {reason}")


class ContentError(OciportError):
    """Base class of content store errors."""


class BlobNotFoundError(ContentError, LookupError):
    """No blob with this digest is in the store (or in the archive being read)."""

    def __init__(self, digest: object) -> None:
        self.digest = digest
        super().__init__(f"blob {digest} not found")


class BlobRemovedError(ContentError):
    """A blob an import re-used from the store was removed while the import ran (a
    concurrent ``content gc`` deleted it before the import's lease held it) and the
    source cannot supply it again; nothing was named."""

    def __init__(self, digest: object) -> None:
        self.digest = digest
        super().__init__(
            f"blob {digest}, which this import re-used from the store, was removed "
            "while it ran (a concurrent 'content gc'); nothing was named: import again"
        )


class BlobExistsError(ContentError):
    """A commit found the blob already present; the ingest was discarded."""

    def __init__(self, digest: object) -> None:
        self.digest = digest
        super().__init__(f"blob {digest} already exists")


class DigestMismatchError(ContentError):
    """Bytes read or written do not hash to the digest that names them."""

    def __init__(self, expected: object, actual: object, where: str = "") -> None:
        self.expected = expected
        self.actual = actual
        at = f" in {where}" if where else ""
        super().__init__(f"digest mismatch{at}: expected {expected}, got {actual}")


class SizeMismatchError(ContentError):
    """A blob's byte count differs from the size its descriptor declares."""

    def __init__(self, expected: int, actual: int, where: str = "") -> None:
        self.expected = expected
        self.actual = actual
        at = f" of {where}" if where else ""
        super().__init__(f"size mismatch{at}: expected {expected} bytes, got {actual}")


class IngestLockedError(ContentError):
    """Another writer in this process holds the same ``ingest_id``."""

    def __init__(self, ingest_id: str) -> None:
        self.ingest_id = ingest_id
        super().__init__(f"ingest {ingest_id!r} is locked by another writer")


class FormatError(OciportError, ValueError):
    """An archive, layout or JSON document is malformed.

    :ivar location: the archive or layout being read, when known.
    :ivar member: the archive member or layout path at fault, when known.
    """

    def __init__(
        self, message: str, *, location: str | None = None, member: str | None = None
    ) -> None:
        self.location = location
        self.member = member
        where = [_shortened(p) for p in (location, member) if p]
        prefix = f"{': '.join(where)}: " if where else ""
        super().__init__(f"{prefix}{message}")


def _shortened(text: str, limit: int = 240) -> str:
    """``text`` cut in the middle when longer than ``limit`` (a hostile archive's member
    name can be megabytes long); the attributes keep it whole."""
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]}[...]{text[-keep:]}"


class UnsupportedMediaTypeError(FormatError):
    """A document's media type is not one this operation can handle."""

    def __init__(self, media_type: str, **kwargs: str | None) -> None:
        self.media_type = media_type
        super().__init__(f"unsupported media type {media_type!r}", **kwargs)


class DocumentTooLargeError(FormatError):
    """A JSON document is larger than the cap (4 MiB unless configured)."""

    def __init__(self, size: int, limit: int, **kwargs: str | None) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"JSON document of {size} bytes exceeds the {limit}-byte limit", **kwargs
        )


class ReferenceLoopError(FormatError):
    """An index refers, directly or through children, back to itself."""

    def __init__(self, digest: object, **kwargs: str | None) -> None:
        self.digest = digest
        super().__init__(f"index {digest} refers back to itself", **kwargs)


class MissingContentError(FormatError):
    """A selected manifest needs a blob (config, layer, child) that is not present."""

    def __init__(self, digest: object, needed_by: object, **kwargs: str | None) -> None:
        self.digest = digest
        self.needed_by = needed_by
        super().__init__(f"blob {digest} needed by {needed_by} is missing", **kwargs)


class PlatformNotFoundError(FormatError, LookupError):
    """An index lists no manifest for the platforms asked for (``--platform``)."""

    def __init__(
        self, asked: Sequence[str], index: object, available: Sequence[str]
    ) -> None:
        self.asked = tuple(asked)
        self.available = tuple(available)
        listed = ", ".join(self.available) or "no platform"
        super().__init__(
            f"no {' or '.join(self.asked)} in index {index} (it has {listed})"
        )


class DriverError(OciportError):
    """Base class of image driver lookup and selection errors."""


class UnknownDriverError(DriverError, LookupError):
    """No driver is registered under this name."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = tuple(known)
        listed = ", ".join(self.known) or "none"
        super().__init__(f"unknown image format {name!r} (known: {listed})")


class DriverDetectionError(DriverError):
    """No registered driver recognised the source; pass a format explicitly."""

    def __init__(self, location: str, tried: Sequence[str], hint: str = "") -> None:
        self.location = location
        self.tried = tuple(tried)
        super().__init__(
            f"{location}: {hint}"
            if hint
            else f"cannot tell the format of {location} "
            f"(tried: {', '.join(self.tried)}); name one with --format"
        )


class UnsupportedSourceError(DriverError, TypeError):
    """The driver cannot read or write this kind of source (e.g. a stream)."""

    def __init__(self, driver: str, what: str) -> None:
        self.driver = driver
        super().__init__(f"format {driver!r} cannot use {what}")


class ImageNotFoundError(OciportError, LookupError):
    """No image of this name is in the store."""

    def __init__(self, name: str, available: Sequence[str] = ()) -> None:
        self.name = name
        self.available = tuple(available)
        import difflib  # only when a name is not found: ~5 ms at start-up otherwise

        close = difflib.get_close_matches(name, self.available, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        super().__init__(f"no image named {name!r} in the store{hint}")


class StoreNotFoundError(OciportError, LookupError):
    """No image store at this location (and the operation does not create one)."""

    def __init__(self, url: str, reason: str = "") -> None:
        self.url = url
        reason = (
            reason
            or "no image store here (import an image to create it, or check --store)"
        )
        super().__init__(f"{url}: {reason}")


class StorageError(OciportError, OSError):
    """A remote filesystem (S3, ...) failed: the store, the source or the destination.

    The message is one line: ``ROLE URL: REASON; HINT``, e.g. ``store s3://b/images:
    bucket 'b' does not exist; ...``. Built by
    :func:`ociport.streams.storage_errors.describe_error`; the library's own exception
    is the ``__cause__``.

    :ivar url: the store root, source or destination URL.
    :ivar role: ``"store"``, ``"source"`` or ``"destination"``.
    :ivar reason: what went wrong (``bucket 'b' does not exist``, ``access denied``).
    :ivar hint: what to check, or ``""``.
    """

    def __init__(self, *, url: str, role: str, reason: str, hint: str = "") -> None:
        self.url = url
        self.role = role
        self.reason = reason
        self.hint = hint
        tail = f"; {hint}" if hint else ""
        super().__init__(f"{role} {url}: {reason}{tail}")

    def __reduce__(self) -> tuple[object, ...]:  # keyword-only __init__: pickle by dict
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[StorageError], state: dict[str, object]) -> StorageError:
    error = cls.__new__(cls)
    StorageError.__init__(
        error,
        url=str(state["url"]),
        role=str(state["role"]),
        reason=str(state["reason"]),
        hint=str(state["hint"]),
    )
    error.__dict__.update(state)
    return error


class StorageNotFoundError(StorageError, FileNotFoundError):
    """A remote bucket or object does not exist."""


class StoragePermissionError(StorageError, PermissionError):
    """A remote filesystem refused the credentials, or had none."""


class LockTimeoutError(StorageError, TimeoutError):
    """An object-store lock (``index.json.lock``) was not acquired in time.

    :ivar lock_url: the lock object.
    """

    def __init__(
        self, *, url: str, role: str, reason: str, hint: str = "", lock_url: str = ""
    ) -> None:
        self.lock_url = lock_url
        super().__init__(url=url, role=role, reason=reason, hint=hint)


class ConditionalWritesError(StorageError):
    """The store's server does not honour conditional writes (``If-None-Match: *``), so
    the ``index.json`` lock cannot work; see ``ociport_single_writer`` in the README.

    :ivar endpoint: the server, e.g. ``http://127.0.0.1:7480``.
    """

    def __init__(
        self, *, url: str, role: str, reason: str, hint: str = "", endpoint: str = ""
    ) -> None:
        self.endpoint = endpoint
        super().__init__(url=url, role=role, reason=reason, hint=hint)


class RefNameNotFoundError(OciportError, LookupError):
    """The requested ref name is not in the archive's or layout's ``index.json``."""

    def __init__(self, ref_name: str, available: Sequence[str]) -> None:
        self.ref_name = ref_name
        self.available = tuple(available)
        listed = ", ".join(self.available) or "none"
        super().__init__(f"ref name {ref_name!r} not found (available: {listed})")


class RefNameConflictError(OciportError, ValueError):
    """Two images would get the same ref name in one ``index.json``."""

    def __init__(self, ref_name: str, names: Sequence[str]) -> None:
        self.ref_name = ref_name
        self.names = tuple(names)
        super().__init__(
            f"images {', '.join(self.names)} would all get ref name {ref_name!r}; "
            "use full references (--ref-name full)"
        )


class PluginError(OciportError):
    """A plugin could not be loaded or registered."""


class DuplicateDriverError(PluginError):
    """Two plugins register drivers of the same name without ``replace=True``."""

    def __init__(self, name: str, existing: object, new: object) -> None:
        self.name = name
        self.existing = existing
        self.new = new
        super().__init__(
            f"driver {name!r} registered twice ({existing} and {new}); "
            "pass replace=True to override"
        )
