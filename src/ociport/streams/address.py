"""ImageAddress: an image named by a transport that addresses images, not files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ImageAddress"]


@dataclass(frozen=True, slots=True)
class ImageAddress:
    """A source or destination that a driver reaches by name rather than as a path or
    stream: skopeo's ``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`` names an image in a
    registry. Only the transport's driver reads ``reference``
    (:attr:`~ociport.drivers.base.ImageDriver.addressed`).

    :ivar transport: the driver's name (``docker``).
    :ivar reference: what follows ``TRANSPORT:``, as given (``//host:5000/app:v1``).
    :ivar options: ``KEY=VALUE`` options given for this source or destination
        (``--source-option``, ``--dest-option``), for the driver to interpret; the
        only place they enter, as storage options enter at
        :class:`~ociport.streams.location.Location`.
    """

    transport: str
    reference: str
    # Not in repr: options may hold credentials (a registry's creds=USER:PASSWORD).
    options: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.transport}:{self.reference}"
