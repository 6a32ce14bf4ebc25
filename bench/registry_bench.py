#!/usr/bin/env python3
"""Time pulls and pushes between a loopback registry and local storage: ociport
(``import docker://...``, ``export docker://...``, the ``ociport-registry`` plugin)
against ``skopeo copy`` (to and from an OCI layout).

For each size, an image is generated with ``make_image.py`` and loaded into an ociport
store and an OCI layout (not timed). Then, ``--rounds`` times, the sides alternate:

- pull: ``ociport --store S import --tls-verify=false docker://R/bench:1`` into a fresh
  store versus ``skopeo copy docker://R/bench:1 oci:D:REF`` into a fresh layout, from
  a registry the image was pushed to once;
- push: ``ociport --store S export --tls-verify=false docker://R/bench:1 REF`` versus
  ``skopeo copy oci:D:REF docker://R/bench:1``, each into a registry of its own started
  for that push (an empty one, on a new port, so that neither side finds its blobs
  there, nor skopeo mounts them from its blob cache of an earlier push).

skopeo always runs with ``--preserve-digests``, so that it moves the layers as they are,
as ociport does (it would otherwise compress the generated uncompressed layers).

The registry is Debian's ``docker-registry`` (CNCF distribution 2.8) on 127.0.0.1,
plain HTTP, storing on the same disk, started as the registry plugin's tests start it.
Timing, CPU and peak RSS are measured as in ``run.py``; the report is a markdown table
with the ratio to skopeo, against the issue's target (at most 0.5x skopeo's time, memory
flat in blob size), and every digest is checked: what each side pushed, skopeo reads with
the image's manifest digest.

Usage::

    python bench/registry_bench.py --sizes 256MiB,1GiB --layers 4 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "plugins" / "ociport-registry" / "tests"))
import registry_server  # noqa: E402  (the plugin tests' registry, as the tests start it)
from make_image import make_image, parse_size  # noqa: E402
from run import Case, Sample, _fmt, _fresh, run  # noqa: E402

_OPS = ("pull", "push")
_TARGET = 0.5
#: skopeo otherwise compresses the generated uncompressed layers on every copy (new
#: digests, and CPU time ociport, which moves blobs as they are, does not spend).
_AS_IS = ("--preserve-digests",)
_REPOSITORY = "bench/image:1"


class RegistryBench:
    """One size: pulls from a shared registry, pushes into fresh ones."""

    def __init__(self, work: Path, ociport: list[str], skopeo: str, ref: str) -> None:
        self.work = work
        self.ociport = ociport
        self.skopeo = skopeo
        self.ref = ref
        self.env = {
            **os.environ,
            "TMPDIR": str(work),
            "PYTHONPYCACHEPREFIX": str(work.parent / "pycache"),
        }
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.cases: dict[tuple[str, str], Case] = {}
        self.source = self.work / "source-store"
        self.layout = self.work / "source-layout"

    def load(self, archive: Path) -> None:
        """The image in an ociport store and an OCI layout (not timed)."""
        subprocess.run(
            [*self.ociport, "--store", str(self.source), "import", str(archive)],
            check=True,
            env=self.env,
            capture_output=True,
        )
        source = f"oci-archive:{archive}:{self.ref}"
        subprocess.run(
            [
                self.skopeo,
                "copy",
                "-q",
                *_AS_IS,
                source,
                f"oci:{self.layout}:{self.ref}",
            ],
            check=True,
            env=self.env,
        )

    def _record(self, op: str, side: str, sample: Sample) -> None:
        self.cases.setdefault((op, side), Case()).samples.append(sample)

    def pull(self, side: str, host: str) -> None:
        target = _fresh(self.work / f"pulled-{side}")
        image = f"docker://{host}/{_REPOSITORY}"
        if side == "skopeo":
            argv = [self.skopeo, "copy", "-q", *_AS_IS, "--src-tls-verify=false", image]
            argv.append(f"oci:{target}:{self.ref}")
        else:
            argv = [*self.ociport, "--store", str(target), "import", "--progress=none"]
            argv += ["--tls-verify=false", image]
        self._record("pull", side, run(argv, self.env))
        _fresh(target)

    def push(self, side: str) -> str:
        """Push into a registry of its own; the digest skopeo then reads there."""
        root = _fresh(self.work / f"registry-{side}")
        server = registry_server.start(root)
        try:
            image = f"docker://{server.host}/{_REPOSITORY}"
            if side == "skopeo":
                argv = [self.skopeo, "copy", "-q", *_AS_IS, "--dest-tls-verify=false"]
                argv += [f"oci:{self.layout}:{self.ref}", image]
            else:
                argv = [*self.ociport, "--store", str(self.source), "export"]
                argv += ["--progress=none", "--tls-verify=false", image, self.ref]
            self._record("push", side, run(argv, self.env))
            return _digest(self.skopeo, image)
        finally:
            server.stop()
            _fresh(root)


def _digest(skopeo: str, image: str) -> str:
    inspect = [skopeo, "inspect", "--tls-verify=false", image]
    return str(
        json.loads(subprocess.run(inspect, check=True, capture_output=True).stdout)[
            "Digest"
        ]
    )


def bench_size(work: Path, size: int, args: argparse.Namespace) -> RegistryBench:
    archive = work / "image.tar"
    summary = make_image(str(archive), size, args.layers, args.ref)
    print(f"# {size >> 20} MiB, {args.layers} layers", file=sys.stderr)
    bench = RegistryBench(work, shlex.split(args.ociport), args.skopeo, args.ref)
    bench.load(archive)
    _fresh(archive)
    shared = registry_server.start(_fresh(work / "registry-shared"))
    try:
        subprocess.run(
            [
                *bench.ociport,
                "--store",
                str(bench.source),
                "export",
                "--progress=none",
                "--tls-verify=false",
                f"docker://{shared.host}/{_REPOSITORY}",
                args.ref,
            ],
            check=True,
            env=bench.env,
        )
        sides = ("ociport", "skopeo")
        for side in sides:  # warm-up (not recorded)
            bench.pull(side, shared.host)
        bench.cases.clear()
        for i in range(args.rounds):
            order = sides if i % 2 == 0 else sides[::-1]
            for side in order:
                bench.pull(side, shared.host)
            for side in order:
                digest = bench.push(side)
                if digest != summary["manifest"]:
                    sys.exit(f"{side} pushed {digest}, not {summary['manifest']}")
            done = ", ".join(
                f"{op} {side} {bench.cases[(op, side)].samples[-1].seconds:.2f}s"
                for op in _OPS
                for side in order
            )
            print(f"#   round {i + 1}/{args.rounds}: {done}", file=sys.stderr)
    finally:
        shared.stop()
    return bench


def report(results: list[tuple[int, RegistryBench]], rounds: int) -> str:
    lines = [
        f"ociport-registry bench, {datetime.date.today()}, {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {rounds} rounds",
        "",
        "| size | op | side | median s | best s | ratio | CPU s | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    verdicts = []
    for size, bench in results:
        for op in _OPS:
            skopeo = bench.cases[(op, "skopeo")]
            for side in ("ociport", "skopeo"):
                case = bench.cases[(op, side)]
                ratio = case.median / skopeo.median
                lines.append(
                    f"| {size >> 20} MiB | {op} | {side} | {case.median:.2f} | "
                    f"{case.best:.2f} | {ratio:.2f} | {_fmt(case.cpu)} | "
                    f"{_fmt(case.peak_rss_mib, 0)} |"
                )
            if size == results[-1][0]:
                ratio = bench.cases[(op, "ociport")].median / skopeo.median
                met = "met" if ratio <= _TARGET else "NOT met"
                verdicts.append(
                    f"- {op}: {ratio:.2f}x skopeo (target {_TARGET}x): {met}"
                )
    return "\n".join([*lines, "", *verdicts])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="256MiB,1GiB", help="comma-separated sizes")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per side")
    parser.add_argument("--ref", default="localhost/bench:latest")
    parser.add_argument("--workdir", default="/tmp", help="where the temp dir goes")
    parser.add_argument("--ociport", default="ociport", help="ociport command line")
    parser.add_argument("--skopeo", default=shutil.which("skopeo") or "/usr/bin/skopeo")
    args = parser.parse_args(argv)
    if not registry_server.available():
        sys.exit("needs Debian's docker-registry and skopeo")
    results = []
    with tempfile.TemporaryDirectory(
        prefix="ociport-registry-bench-", dir=args.workdir
    ) as tmp:
        for text in args.sizes.split(","):
            size = parse_size(text)
            work = Path(tmp) / f"{size >> 20}M"
            work.mkdir()
            results.append((size, bench_size(work, size, args)))
            shutil.rmtree(work)
    print(report(results, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
