"""Example ociport plugin: stores named by a distribution, selectable as ``--store NAME``.

``team-cache`` is a local directory; ``team-s3`` is a bucket on an S3-compatible server
whose endpoint comes from ``TEAM_S3_ENDPOINT`` (a user's ``config.toml`` entry of the
same name overrides either).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ociport.config import StoreConfig
from ociport.plugins import hookimpl


@hookimpl
def ociport_named_stores() -> Mapping[str, StoreConfig]:
    """The team's stores."""
    cache = Path(
        os.environ.get("TEAM_CACHE_DIR", Path.home() / ".cache" / "team-images")
    )
    endpoint = os.environ.get("TEAM_S3_ENDPOINT", "http://127.0.0.1:9000")
    return {
        "team-cache": StoreConfig(str(cache)),
        "team-s3": StoreConfig("s3://team-images/store", {"endpoint_url": endpoint}),
    }
