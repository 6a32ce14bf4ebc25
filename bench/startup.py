#!/usr/bin/env python3
"""Time how fast short ``ociport`` commands start, against a bare interpreter.

Each round runs, in turn (a different order each round): ``python -c pass`` (the
floor), ``python -c 'import click'`` (the floor of any click command line),
``ociport --help``, ``ociport images ls`` and ``ociport content ls`` on a small
local store, and, when installed, ``ctr --help`` and ``skopeo --version`` for
comparison. Wall time is measured around each process; the report is a markdown table
of medians and best runs, with each command's ratio to the bare interpreter (the
target: short commands within about 5x). Uses the ``ociport`` script next to the
running interpreter (a virtualenv's ``bin/``), as users run it, with bytecode caching
on as in a normal installation (``PYTHONDONTWRITEBYTECODE`` is dropped, and one
warm-up round writes the ``.pyc`` files): without it every start compiles every
module again, which costs more than all the imports.

With ``--baseline SRC`` (the ``src`` folder of another checkout, e.g. a ``git worktree``
of an earlier revision), ``python -m ociport`` is timed both from the installed tree and
from ``SRC`` in the same rounds, for before/after figures taken side by side.

Usage::

    python bench/startup.py --rounds 20
    git worktree add /tmp/before <rev>
    python bench/startup.py --rounds 20 --baseline /tmp/before/src
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello.oci-archive.tar"


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--baseline", metavar="SRC", help="another ociport source tree to compare"
    )
    args = parser.parse_args()
    ociport = str(Path(sys.executable).with_name("ociport"))
    with tempfile.TemporaryDirectory() as work:
        store = os.path.join(work, "store")
        env = {**os.environ, "OCIPORT_STORE": store}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [ociport, "import", str(_EXAMPLE)], env=env, check=True, capture_output=True
        )
        sides = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            "python -c 'import click'": ([sys.executable, "-c", "import click"], env),
            "ociport --help": ([ociport, "--help"], env),
            "ociport images ls": ([ociport, "images", "ls"], env),
            "ociport content ls": ([ociport, "content", "ls"], env),
        }
        if args.baseline:
            baseline_env = {**env, "PYTHONPATH": args.baseline}
            for command in (["--help"], ["images", "ls"]):
                module = [sys.executable, "-m", "ociport", *command]
                label = f"python -m ociport {' '.join(command)}"
                sides[label] = (module, env)
                sides[f"{label} (baseline)"] = (module, baseline_env)
        for name, argv in (
            ("ctr --help", ["ctr", "--help"]),
            ("skopeo --version", ["skopeo", "--version"]),
        ):
            if shutil.which(argv[0]):
                sides[name] = (argv, env)
        samples: dict[str, list[float]] = {name: [] for name in sides}
        names = list(sides)
        for argv, side_env in sides.values():  # warm-up: bytecode, files cached
            _time(argv, side_env)
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                samples[name].append(_time(*sides[name]))
    floor = statistics.median(samples["python -c pass"])
    print(f"{args.rounds} rounds, Python {sys.version.split()[0]}\n")
    print("| command | median ms | best ms | ratio to `python -c pass` (median) |")
    print("|---|---:|---:|---:|")
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"| `{name}` | {median * 1000:.0f} | {min(values) * 1000:.0f} | {median / floor:.1f}x |"
        )


if __name__ == "__main__":
    main()
