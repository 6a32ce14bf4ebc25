"""Incomplete S3 multipart uploads: what killed imports and exports leave behind.

A blob written straight to its key (:mod:`ociport.content.objectwriter`) and a file
exported to S3 go up as a multipart upload that is completed only at the end. A process
killed in between leaves the upload behind: never visible as an object, but its parts
stay stored (and billed) until the upload is aborted. :func:`abort_stale_uploads` aborts
those under a location that were started before a cutoff; a bucket lifecycle rule
(``AbortIncompleteMultipartUpload``) does the same on the server's schedule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ociport.streams.location import Location
from ociport.streams.storage_errors import storage_errors

__all__ = ["abort_stale_uploads"]

#: Uploads per listing request (S3's maximum).
_PAGE_SIZE = 1000
#: The protocols whose filesystems (s3fs) have multipart uploads to list.
_S3_PROTOCOLS: Final = frozenset({"s3", "s3a"})


@dataclass(frozen=True, slots=True)
class _Upload:
    key: str
    upload_id: str
    initiated: float | None


def _s3_call(location: Location) -> Any:
    """s3fs's ``call_s3`` for a location on S3, else ``None``."""
    protocols = location.fs.protocol
    names = {protocols} if isinstance(protocols, str) else set(protocols)
    if location.is_local or not names & _S3_PROTOCOLS:
        return None
    return getattr(location.fs, "call_s3", None)


def _bucket_and_prefix(location: Location) -> tuple[str, str]:
    """The bucket and the key prefix of the uploads under ``location``: its key and a
    slash (``store/``, so that ``store2/...`` is not included), or ``""`` for a whole
    bucket."""
    bucket, key = location.fs.split_path(location.path)[:2]
    key = key.strip("/")
    return bucket, f"{key}/" if key else ""


def _initiated(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _list(call: Any, bucket: str, prefix: str) -> Iterator[_Upload]:
    """Every incomplete upload whose key starts with ``prefix``, page by page."""
    request: dict[str, Any] = {
        "Bucket": bucket,
        "Prefix": prefix,
        "MaxUploads": _PAGE_SIZE,
    }
    seen: set[tuple[str, str]] = set()
    while True:
        page = call("list_multipart_uploads", **request)
        for upload in page.get("Uploads") or ():
            key, upload_id = upload.get("Key"), upload.get("UploadId")
            if isinstance(key, str) and isinstance(upload_id, str):
                yield _Upload(key, upload_id, _initiated(upload.get("Initiated")))
        key_marker = page.get("NextKeyMarker")
        id_marker = page.get("NextUploadIdMarker") or ""
        # A server that says "truncated" without a new position would loop forever.
        if not page.get("IsTruncated") or not key_marker:
            return
        if (key_marker, id_marker) in seen:
            return
        seen.add((key_marker, id_marker))
        request["KeyMarker"] = key_marker
        request["UploadIdMarker"] = id_marker


def abort_stale_uploads(
    location: Location,
    cutoff: float,
    *,
    dry_run: bool = False,
    spare: Callable[[str], bool] | None = None,
) -> int:
    """Abort the incomplete multipart uploads under ``location`` that were started
    before ``cutoff``.

    Uploads started at or after ``cutoff`` are kept: an import or export writing right
    now owns them. An upload that runs for longer than the caller's grace period (a
    very large blob on a slow link) is aborted too, and its writer then fails; choose
    the grace period accordingly.

    :param location: a store root, or any prefix: on S3 the uploads whose key starts
        with the location's key and a slash (all of the bucket's for a bucket root).
        Other filesystems have no multipart uploads: 0.
    :param cutoff: a POSIX time in seconds, compared with the upload's ``Initiated``
        time as the server reports it (so with the server's clock). Uploads without
        one are kept.
    :param dry_run: count them, abort nothing.
    :param spare: called with an upload's key (``bucket``-relative) once the whole
        listing is in; uploads it answers true for are kept (the store's: blobs a live
        lease holds, read after the listing, since writers hold before uploading).
    :returns: how many uploads were aborted (would be, on a dry run); uploads that
        vanished meanwhile (completed or aborted by another process) do not count.
        Costs one listing request per 1,000 uploads and one request per abort.
    :raises StorageError: listing or aborting failed, with the store's URL, e.g.
        :class:`~ociport.errors.StorageNotFoundError` for a missing bucket, or
        :class:`~ociport.errors.StoragePermissionError` without the permissions
        ``s3:ListBucketMultipartUploads`` and ``s3:AbortMultipartUpload``.
    """
    call = _s3_call(location)
    if call is None:
        return 0
    with storage_errors(location, "store"):
        bucket, prefix = _bucket_and_prefix(location)
        old = [
            upload
            for upload in _list(call, bucket, prefix)  # every page before ``spare``
            if upload.initiated is not None and upload.initiated < cutoff
        ]
        stale = [u for u in old if not (spare is not None and spare(u.key))]
        if dry_run:
            return len(stale)
        aborted = 0
        for upload in stale:
            # NoSuchUpload (s3fs: FileNotFoundError): completed or aborted meanwhile.
            with contextlib.suppress(FileNotFoundError):
                call(
                    "abort_multipart_upload",
                    Bucket=bucket,
                    Key=upload.key,
                    UploadId=upload.upload_id,
                )
                aborted += 1
        return aborted
