#!/usr/bin/env python3
"""Time ``ociport import``/``export`` against ``skopeo copy`` on generated archives.

For each size, an archive is generated with ``make_image.py``; then, ``--rounds`` times,
the sides run alternately, each round in another order (all orders in turn):

- import: ``ociport --store S import X`` into a fresh store versus
  ``skopeo copy oci-archive:X:REF oci:D:REF`` into a fresh layout;
- export: ``ociport --store S export Y REF`` versus
  ``skopeo copy oci:D:REF oci-archive:Y:REF``.

``--baseline CMD`` adds a third side, another ociport (say, an older checkout), timed
in the same rounds. Wall time is measured around each command; CPU time and peak RSS
come from ``/usr/bin/time -v``. ``sync`` runs before each timed command so that one
side's dirty pages are not written back on the next side's clock; the page cache is not
dropped (the source archive is hot for every side alike). The report is a markdown
table of medians, best runs and ratios (ociport / skopeo), the issue's targets, then
every sample. All files live in a temporary directory under ``--workdir`` (default
``/tmp``), removed at the end.

Usage::

    python bench/run.py --sizes 256MiB,1GiB --layers 4 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import itertools
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_image import make_image, parse_size

_TIME = "/usr/bin/time"
_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_CPU = re.compile(r"(?:User|System) time \(seconds\): ([\d.]+)")
_OPS = ("import", "export")
#: The issue's targets: ociport's time over skopeo's at the largest size.
_TARGETS = {"import": 0.25, "export": 0.4}
_RSS_LIMIT_MIB = 100


@dataclass
class Sample:
    """Wall seconds, CPU seconds (user + system) and peak RSS (KiB) of one command;
    the last two are ``None`` without ``/usr/bin/time``."""

    seconds: float
    cpu: float | None
    rss_kib: int | None


@dataclass
class Case:
    """All samples of one operation by one side at one size."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def best(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def cpu(self) -> float | None:
        known = [s.cpu for s in self.samples if s.cpu is not None]
        return statistics.median(known) if known else None

    @property
    def peak_rss_mib(self) -> float | None:
        known = [s.rss_kib for s in self.samples if s.rss_kib is not None]
        return max(known) / 1024 if known else None


def run(argv: list[str], env: dict[str, str]) -> Sample:
    """Run ``argv`` after a ``sync``; fail loudly with its output when it fails."""
    os.sync()
    wrapped = [_TIME, "-v", *argv] if os.access(_TIME, os.X_OK) else argv
    start = time.perf_counter()
    proc = subprocess.run(wrapped, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode:
        output = proc.stdout + proc.stderr
        sys.exit(f"command failed ({proc.returncode}): {' '.join(argv)}\n{output}")
    match = _RSS.search(proc.stderr)
    cpu = [float(value) for value in _CPU.findall(proc.stderr)]
    return Sample(seconds, sum(cpu) if cpu else None, int(match[1]) if match else None)


def _fresh(path: Path) -> Path:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    return path


class Bench:
    """Runs one size: every side imports into its own fresh store and exports from it.

    :param sides: side name -> ociport command, or ``None`` for skopeo.
    """

    def __init__(
        self, work: Path, sides: dict[str, list[str] | None], skopeo: str, ref: str
    ) -> None:
        self.work = work
        self.sides = sides
        self.skopeo = skopeo
        self.ref = ref
        # skopeo extracts archives into TMPDIR. Python caches bytecode as it would for
        # an installed package (a machine that sets PYTHONDONTWRITEBYTECODE would have
        # every ociport run compile its modules), outside the source tree.
        self.env = {
            **os.environ,
            "TMPDIR": str(work),
            "PYTHONPYCACHEPREFIX": str(work.parent / "pycache"),
        }
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.cases: dict[tuple[str, str], Case] = {}

    def _record(self, op: str, side: str, sample: Sample) -> None:
        self.cases.setdefault((op, side), Case()).samples.append(sample)

    def _store(self, side: str) -> Path:
        return self.work / f"store-{side}"

    def import_(self, side: str, archive: Path) -> None:
        store, command = _fresh(self._store(side)), self.sides[side]
        if command is None:
            source = f"oci-archive:{archive}:{self.ref}"
            argv = [self.skopeo, "copy", "-q", source, f"oci:{store}:{self.ref}"]
        else:
            argv = [*command, "--store", str(store), "import", str(archive)]
        self._record("import", side, run(argv, self.env))

    def export(self, side: str) -> None:
        store, command = self._store(side), self.sides[side]
        out = _fresh(self.work / f"out-{side}.tar")
        if command is None:
            dest = f"oci-archive:{out}:{self.ref}"
            argv = [self.skopeo, "copy", "-q", f"oci:{store}:{self.ref}", dest]
        else:
            argv = [*command, "--store", str(store), "export", str(out), self.ref]
        self._record("export", side, run(argv, self.env))
        _fresh(out)

    def check_roundtrip(self, side: str, manifest: str) -> None:
        """Not timed: an ociport export must read back in skopeo, same digest."""
        out = self.work / "check.tar"
        command = self.sides[side]
        assert command is not None
        store = str(self._store(side))
        export = [*command, "--store", store, "export", str(out), self.ref]
        subprocess.run(export, check=True, env=self.env)
        inspect = [self.skopeo, "inspect", "--raw", f"oci-archive:{out}:{self.ref}"]
        raw = subprocess.run(inspect, check=True, capture_output=True).stdout
        got = "sha256:" + hashlib.sha256(raw).hexdigest()
        if got != manifest:
            sys.exit(
                f"{side}: the round trip changed the manifest: {got} != {manifest}"
            )
        _fresh(out)


def bench_size(work: Path, size: int, args: argparse.Namespace) -> Bench:
    """Generate the archive, warm up once per side, then time ``args.rounds`` rounds.

    Each round runs every side's import, then every side's export, in an order that
    changes from round to round.
    """
    archive = work / "image.tar"
    summary = make_image(str(archive), size, args.layers, args.ref)
    mib = summary["archive_size"] >> 20
    print(
        f"# {size >> 20} MiB: archive {mib} MiB, {args.layers} layers", file=sys.stderr
    )
    sides: dict[str, list[str] | None] = {
        "ociport": shlex.split(args.ociport),
        "skopeo": None,
    }
    if args.baseline:
        sides["baseline"] = shlex.split(args.baseline)
    bench = Bench(work, sides, args.skopeo, args.ref)
    # Every order of the sides in turn: each side follows each other one equally often
    # (what the previous command freed or left dirty affects the next one's time).
    orders = list(itertools.permutations(sides))
    for side in sides:  # warm-up: page cache, bytecode, binaries (not recorded)
        bench.import_(side, archive)
    bench.cases.clear()
    for i in range(args.rounds):
        order = orders[i % len(orders)]
        for side in order:
            bench.import_(side, archive)
        for side in order:
            bench.export(side)
        done = ", ".join(
            f"{op} {side} {bench.cases[(op, side)].samples[-1].seconds:.2f}s"
            for op in _OPS
            for side in order
        )
        print(f"#   round {i + 1}/{args.rounds}: {done}", file=sys.stderr)
    for side, command in sides.items():
        if command is not None:
            bench.check_roundtrip(side, summary["manifest"])
    _fresh(archive)
    return bench


def _fmt(value: float | None, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if value is not None else "?"


def _row(size: int, op: str, side: str, case: Case, skopeo: Case) -> str:
    cells = [
        f"{size >> 20} MiB",
        op,
        side,
        f"{case.median:.2f}",
        f"{case.best:.2f}",
        f"{case.median / skopeo.median:.2f}x",
        f"{case.best / skopeo.best:.2f}x",
        f"{(size >> 20) / case.median:.0f}",
        _fmt(case.cpu),
        _fmt(case.peak_rss_mib, 0),
    ]
    return "| " + " | ".join(cells) + " |"


def _targets(results: list[tuple[int, Bench]]) -> list[str]:
    """The issue's targets, checked for ociport at the largest size."""
    size, bench = max(results, key=lambda item: item[0])
    lines = [f"Targets at {size >> 20} MiB (ratios of medians):", ""]
    for op, limit in _TARGETS.items():
        ours, skopeo = bench.cases[(op, "ociport")], bench.cases[(op, "skopeo")]
        ratio = ours.median / skopeo.median
        verdict = "met" if ratio <= limit else "MISSED"
        lines.append(f"- {op} <= {limit}x skopeo: {ratio:.2f}x, {verdict}")
    worst = 0.0
    for op in _OPS:
        peaks = [(s, b.cases[(op, "ociport")].peak_rss_mib) for s, b in results]
        if all(rss is not None for _, rss in peaks):
            listed = ", ".join(f"{rss:.0f} MiB at {s >> 20} MiB" for s, rss in peaks)
            lines.append(f"- {op} peak RSS: {listed}")
            worst = max(worst, *(rss or 0.0 for _, rss in peaks))
    verdict = "met" if worst < _RSS_LIMIT_MIB else "MISSED"
    lines.append(f"- peak RSS < {_RSS_LIMIT_MIB} MiB at every size: {verdict}")
    return lines


def report(
    results: list[tuple[int, Bench]], rounds: int, load: tuple[float, float]
) -> str:
    """A markdown table (one row per size, operation and side: medians, best runs,
    ratios to skopeo, CPU time, peak RSS), the targets, then every sample."""
    lines = [
        f"{datetime.date.today().isoformat()}, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{rounds} runs per side; 1-minute load average {load[0]:.1f} before, "
        f"{load[1]:.1f} after",
        "",
        "| size | operation | side | median s | best s | ratio to skopeo (median) "
        "| ratio (best) | MiB/s (median) | CPU s (median) | peak RSS MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    samples = []
    for size, bench in results:
        for op in _OPS:
            for side in bench.sides:
                case = bench.cases[(op, side)]
                lines.append(_row(size, op, side, case, bench.cases[(op, "skopeo")]))
                runs = " ".join(
                    f"{s.seconds:.2f}"
                    + (f" ({s.cpu:.2f})" if s.cpu is not None else "")
                    for s in case.samples
                )
                samples.append(f"- {size >> 20} MiB {op} {side}: {runs}")
    tail = [
        "",
        *_targets(results),
        "",
        "Every run: wall seconds (CPU seconds):",
        "",
        *samples,
    ]
    return "\n".join([*lines, *tail])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="256MiB,1GiB", help="comma-separated sizes")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per side")
    parser.add_argument("--ref", default="localhost/bench:latest")
    parser.add_argument("--workdir", default="/tmp", help="where the temp dir goes")
    parser.add_argument("--ociport", default="ociport", help="ociport command line")
    parser.add_argument(
        "--baseline",
        default="",
        help="another ociport command line timed alongside, e.g. an older checkout: "
        "'env PYTHONPATH=/tmp/old/src python -m ociport'",
    )
    parser.add_argument("--skopeo", default=shutil.which("skopeo") or "/usr/bin/skopeo")
    args = parser.parse_args(argv)
    results = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ociport-bench-", dir=args.workdir) as tmp:
        for text in args.sizes.split(","):
            size = parse_size(text)
            work = Path(tmp) / f"{size >> 20}M"
            work.mkdir()
            results.append((size, bench_size(work, size, args)))
            shutil.rmtree(work)
    print(report(results, args.rounds, (load_before, os.getloadavg()[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
