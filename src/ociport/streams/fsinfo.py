"""What an fsspec ``info()``/``find(detail=True)`` record says, whatever the backend."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["modified_time"]


def modified_time(details: dict[str, Any]) -> float | None:
    """The object's last modification, POSIX seconds, or ``None`` when the backend
    gives none (local: ``mtime``; s3fs: ``LastModified``; memory: ``created``)."""
    for key in ("mtime", "LastModified", "created"):
        value = details.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
    return None
