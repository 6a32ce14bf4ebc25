"""Progress on stderr for ``import``, ``export`` and ``copy``:
``--progress=auto|plain|json|none``.

- ``auto`` (the default): a bar on a terminal (rich), nothing when stderr is not one;
- ``plain``: a text line every few seconds and one at the end, for logs (CI);
- ``json``: one JSON object per line (see :class:`JsonProgress`), for programs;
- ``none``: nothing.

Each display is a :class:`~ociport.content.progress.Progress` the engine reports to.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Final, Literal

from ociport.cli.output import human_size
from ociport.content.progress import Progress

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

__all__ = [
    "PROGRESS_MODES",
    "JsonProgress",
    "PlainProgress",
    "ProgressMode",
    "TerminalProgress",
    "progress_report",
    "quiet_progress",
]

ProgressMode = Literal["auto", "plain", "json", "none"]
#: The values of ``--progress``.
PROGRESS_MODES: Final = ("auto", "plain", "json", "none")
#: Blobs at least this large (1 MiB) get a line of their own on a terminal.
BLOB_DETAIL_SIZE: Final = 1 << 20
#: At most this many blob lines at once on a terminal.
BLOB_DETAIL_LINES: Final = 4
#: Seconds between two ``plain`` lines.
PLAIN_INTERVAL: Final = 5.0
#: Seconds between two ``json`` lines for bytes within a blob (a blob's first and last
#: lines are always written).
JSON_INTERVAL: Final = 0.5


@contextlib.contextmanager
def progress_report(
    mode: ProgressMode, operation: Literal["import", "export", "copy"]
) -> Iterator[Progress | None]:
    """The progress display for ``mode``, for the block; ``None`` for none.

    The display ends with the block; a ``plain`` or ``json`` one writes its last line
    only when the block succeeds.

    :param operation: ``"import"``, ``"export"`` or ``"copy"``, as the display names
        it.
    """
    if mode == "auto" and not _is_terminal(sys.stderr):
        mode = "none"
    if mode == "none":
        yield None
    elif mode == "auto":
        with TerminalProgress.shown(operation) as terminal:
            yield terminal
    elif mode == "plain":
        plain = PlainProgress(operation, sys.stderr)
        yield plain
        plain.finish()
    else:
        lines = JsonProgress(operation, sys.stderr)
        yield lines
        lines.finish()


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Tally:
    """Bytes done and the total, overall and per blob; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total: int | None = None
        self.done = 0
        self.blobs: dict[str, tuple[int, int]] = {}  # digest -> (done, size)

    def start(self, total: int | None) -> bool:
        """Record the total; whether it changed."""
        with self.lock:
            changed = total != self.total
            self.total = total
            return changed

    def blob(self, digest: str, size: int) -> None:
        with self.lock:
            self.blobs.setdefault(digest, (0, size))

    def advance(self, n: int, digest: str | None) -> tuple[int, int] | None:
        """Count ``n`` bytes; the blob's ``(done, size)`` after them, if one."""
        with self.lock:
            self.done += n
            if digest is None or digest not in self.blobs:
                return None
            done, size = self.blobs[digest]
            self.blobs[digest] = (done + n, size)
            return done + n, size


def _past(done: int, total: int | None) -> str:
    """``12.3 MiB of 117.4 MiB (10%)``, or ``12.3 MiB`` without a total."""
    if not total:
        return human_size(done)
    percent = min(100, done * 100 // total)
    return f"{human_size(done)} of {human_size(total)} ({percent}%)"


class PlainProgress:
    """Text lines on ``stream``: ``ociport: importing: 12.3 MiB of 117.4 MiB (10%),
    4.1 MiB/s`` at most every :data:`PLAIN_INTERVAL` seconds, and at the end
    ``ociport: imported 117.4 MiB in 12 blobs``.

    :param operation: ``import`` or ``export``.
    :param stream: where lines go (stderr).
    """

    def __init__(self, operation: str, stream: IO[str]) -> None:
        self.operation = operation
        self.stream = stream
        self.tally = _Tally()
        self._began = time.monotonic()
        self._last = self._began

    def start(self, total: int | None) -> None:
        """Record the total."""
        self.tally.start(total)

    def blob(self, digest: str, size: int) -> None:
        """Record a blob."""
        self.tally.blob(digest, size)

    def advance(self, n: int, digest: str | None = None) -> None:
        """Count bytes; write a line when the last one is old enough."""
        self.tally.advance(n, digest)
        now = time.monotonic()
        with self.tally.lock:
            if now - self._last < PLAIN_INTERVAL:
                return
            self._last = now
            done, total = self.tally.done, self.tally.total
        rate = done / max(now - self._began, 1e-6)
        self._write(
            f"{self.operation}ing: {_past(done, total)}, {human_size(int(rate))}/s"
        )

    def finish(self) -> None:
        """Write the closing line."""
        with self.tally.lock:
            done, blobs = self.tally.done, len(self.tally.blobs)
        done_text = "copied" if self.operation == "copy" else f"{self.operation}ed"
        self._write(f"{done_text} {human_size(done)} in {blobs} blob(s)")

    def _write(self, line: str) -> None:
        self.stream.write(f"ociport: {line}\n")
        self.stream.flush()


class JsonProgress:
    """One JSON object per line on ``stream``; every one has ``event``,
    ``operation`` (``import``/``export``), ``done`` and ``total`` (bytes overall so
    far, and in all: ``null`` while unknown, as from a pipe):

    - ``{"event": "total", ...}``: the total became known or changed;
    - ``{"event": "blob", "digest": D, "blobDone": 0, "blobTotal": SIZE, ...}``: a
      blob began (``digest`` is a member name for a blob whose digest is computed as
      it is read);
    - ``{"event": "progress", "digest": D, "blobDone": N, "blobTotal": SIZE, ...}``:
      bytes of a blob moved, at most every :data:`JSON_INTERVAL` seconds and always
      when the blob is complete (``blobDone`` equals ``blobTotal``);
    - ``{"event": "done", ...}``: the operation succeeded (last line).

    :param operation: ``import`` or ``export``.
    :param stream: where lines go (stderr).
    """

    def __init__(self, operation: str, stream: IO[str]) -> None:
        self.operation = operation
        self.stream = stream
        self.tally = _Tally()
        self._last = time.monotonic()
        self._write_lock = threading.Lock()

    def start(self, total: int | None) -> None:
        """Write a ``total`` line when the total changed."""
        if self.tally.start(total):
            self._emit("total")

    def blob(self, digest: str, size: int) -> None:
        """Write a ``blob`` line."""
        self.tally.blob(digest, size)
        self._emit("blob", digest=digest, blobDone=0, blobTotal=size)

    def advance(self, n: int, digest: str | None = None) -> None:
        """Write a ``progress`` line when a blob completes, or when the last line is
        old enough."""
        state = self.tally.advance(n, digest)
        now = time.monotonic()
        complete = state is not None and state[0] >= state[1]
        with self._write_lock:
            if not complete and now - self._last < JSON_INTERVAL:
                return
        if state is None:
            self._emit("progress")
        else:
            self._emit("progress", digest=digest, blobDone=state[0], blobTotal=state[1])

    def finish(self) -> None:
        """Write the ``done`` line."""
        self._emit("done")

    def _emit(self, event: str, **blob: Any) -> None:
        with self.tally.lock:
            record = {
                "event": event,
                "operation": self.operation,
                **blob,
                "done": self.tally.done,
                "total": self.tally.total,
            }
        with self._write_lock:
            self._last = time.monotonic()
            self.stream.write(json.dumps(record) + "\n")
            self.stream.flush()


class TerminalProgress:
    """A rich display on a terminal: the operation with a bar, a percentage, bytes of
    the total, the rate and the time left when the total is known; a spinner with the
    bytes and the rate when it is not (a pipe). Blobs of at least
    :data:`BLOB_DETAIL_SIZE` get a line of their own while they move (at most
    :data:`BLOB_DETAIL_LINES` at once).

    Use :meth:`shown`; rich is imported only then.
    """

    def __init__(self, bar: RichProgress, operation: str) -> None:
        self.bar = bar
        self.task = bar.add_task(f"{operation}ing", total=None)
        self._blobs: dict[str, tuple[TaskID, int]] = {}  # digest -> (line, bytes left)
        self._lock = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def shown(cls, operation: str) -> Iterator[TerminalProgress]:
        """The display on stderr for the block, cleared when it ends."""
        # Imported here: rich takes ~40 ms to import, which runs without a terminal
        # would pay for nothing.
        from rich.console import Console
        from rich.progress import Progress as RichProgress

        # On stderr: stdout may carry an archive ("export -") while stderr is a
        # terminal; stdout is never redirected through the display.
        with RichProgress(
            *_columns(),
            console=Console(stderr=True),
            transient=True,
            redirect_stdout=False,
        ) as bar:
            yield cls(bar, operation)

    def start(self, total: int | None) -> None:
        """Show the total (a bar and a percentage), or a spinner without one."""
        self.bar.update(self.task, total=total)

    def blob(self, digest: str, size: int) -> None:
        """Give a large blob a line of its own, while there is room."""
        if size < BLOB_DETAIL_SIZE:
            return
        with self._lock:
            if digest in self._blobs or len(self._blobs) >= BLOB_DETAIL_LINES:
                return
            label = digest.split(":", 1)[-1][:12] if ":" in digest else digest[-24:]
            self._blobs[digest] = (self.bar.add_task(f"  {label}", total=size), size)

    def advance(self, n: int, digest: str | None = None) -> None:
        """Move the bars; a blob's line goes once the blob is complete."""
        self.bar.advance(self.task, n)
        if digest is None:
            return
        with self._lock:
            line = self._blobs.get(digest)
            if line is None:
                return
            task, left = line[0], line[1] - n
            if left > 0:
                self._blobs[digest] = (task, left)
            else:
                del self._blobs[digest]
        if left > 0:
            self.bar.advance(task, n)
        else:
            self.bar.remove_task(task)


def _columns() -> tuple[Any, ...]:
    """The display's columns (rich imported by the caller)."""
    from rich.progress import (
        BarColumn,
        ProgressColumn,
        SpinnerColumn,
        TaskProgressColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class BytesColumn(ProgressColumn):
        """``12.3 MiB/117.4 MiB``, or ``12.3 MiB`` without a total."""

        def render(self, task: Any) -> Text:
            done = human_size(int(task.completed))
            if task.total is None:
                return Text(done, style="progress.download")
            return Text(
                f"{done}/{human_size(int(task.total))}", style="progress.download"
            )

    class RateColumn(ProgressColumn):
        """``4.1 MiB/s``, in the units of :class:`BytesColumn`."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            if speed is None and task.elapsed:
                speed = task.completed / task.elapsed
            rate = "?" if speed is None else f"{human_size(int(speed))}/s"
            return Text(rate, style="progress.data.speed")

    class RemainingColumn(TimeRemainingColumn):
        """The time left, only when there is a total."""

        def render(self, task: Any) -> Text:
            if task.total is None:
                return Text("")
            return super().render(task)

    return (
        SpinnerColumn(),
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        BytesColumn(),
        RateColumn(),
        RemainingColumn(),
    )


def quiet_progress(progress_mode: ProgressMode, quiet: bool) -> ProgressMode:
    """``-q`` turns the automatic display off; an explicit --progress stays."""
    return "none" if quiet and progress_mode == "auto" else progress_mode
