"""Progress reports: what an import or export tells its caller while bytes move.

A caller passes either a plain ``Callable[[int], None]``, called with each byte count
(the original interface, still accepted everywhere), or a :class:`Progress` object,
which also hears the expected total and each blob as it begins. The engine reports the
same way for every format (drivers need do nothing):

- **import**: :meth:`Progress.start` with an estimate before anything is read (the
  size of an uncompressed file or object, ``None`` for a pipe or a compressed
  source), then again, exactly, once the selection is walked (the bytes already read
  plus those the selected images still need); :meth:`Progress.blob` as each blob
  begins to be read and checked; :meth:`Progress.advance` as its bytes pass.
- **export**: :meth:`Progress.start` with the size of every blob the plan holds, then
  :meth:`Progress.blob` and :meth:`Progress.advance` as the driver reads each blob
  from the store (a blob read twice counts once). A format that writes only part of
  the plan (one platform of a Docker archive, blobs an existing layout already has)
  ends below the total.

Bytes are those of blobs (layers, configs, manifests), not of tar headers or of a
compressed archive's compressed stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Progress", "ProgressCounter", "ProgressLike", "as_progress"]


@runtime_checkable
class Progress(Protocol):
    """Receives progress reports; every method may be called from several threads at
    once (blobs are read and written in parallel), so implementations lock what they
    share."""

    def start(self, total: int | None) -> None:
        """The job expects to move ``total`` bytes in all; ``None``: not known (a
        pipe). Called before any byte moves and again whenever a better figure is
        known; ``total`` counts the bytes already reported too."""

    def blob(self, digest: str, size: int) -> None:
        """A blob of ``size`` bytes begins to move.

        :param digest: its digest (``sha256:...``) or, for a blob whose digest is only
            known once read (a Docker archive's ``<id>/layer.tar``), its member name;
            the same string :meth:`advance` then passes.
        """

    def advance(self, n: int, digest: str | None = None) -> None:
        """``n`` more bytes moved, of the blob ``digest`` when given (else bytes no
        blob claims)."""


#: What the API's ``progress`` parameters accept.
ProgressLike = Progress | Callable[[int], None]


class _Callback:
    """A plain byte-count callable seen as a :class:`Progress`."""

    __slots__ = ("_callback",)

    def __init__(self, callback: Callable[[int], None]) -> None:
        self._callback = callback

    def start(self, total: int | None) -> None:
        pass

    def blob(self, digest: str, size: int) -> None:
        pass

    def advance(self, n: int, digest: str | None = None) -> None:
        self._callback(n)


def as_progress(progress: ProgressLike | None) -> Progress | None:
    """``progress`` as a :class:`Progress`: an object with ``start``, ``blob`` and
    ``advance`` as it is, a plain callable wrapped (it hears only byte counts)."""
    if progress is None or isinstance(progress, Progress):
        return progress
    return _Callback(progress)


class ProgressCounter:
    """A :class:`Progress` that passes every report on to ``target`` and counts the
    bytes reported (:attr:`done`), so that the engine can state a total that includes
    them.

    :param target: where reports go.
    """

    __slots__ = ("_done", "_lock", "target")

    def __init__(self, target: Progress) -> None:
        self.target = target
        self._done = 0
        self._lock = threading.Lock()

    @classmethod
    def wrap(cls, progress: ProgressLike | None) -> ProgressCounter | None:
        """A counter over ``progress`` (see :func:`as_progress`); ``None`` for none."""
        target = as_progress(progress)
        if target is None or isinstance(target, ProgressCounter):
            return target
        return cls(target)

    @property
    def done(self) -> int:
        """Bytes reported so far."""
        return self._done

    def start(self, total: int | None) -> None:
        """Pass the total on."""
        self.target.start(total)

    def blob(self, digest: str, size: int) -> None:
        """Pass the blob on."""
        self.target.blob(digest, size)

    def advance(self, n: int, digest: str | None = None) -> None:
        """Count ``n`` bytes and pass them on."""
        with self._lock:
            self._done += n
        self.target.advance(n, digest)

    def ticker(self, digest: str, size: int) -> Callable[[int], None]:
        """Announce a blob; returns the byte-count callback for its bytes (what
        :func:`~ociport.content.helpers.copy_stream` takes)."""
        self.blob(digest, size)
        return lambda n: self.advance(n, digest)
