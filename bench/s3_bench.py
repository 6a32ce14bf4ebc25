"""S3 figures (not a test): import from S3 against a plain s3fs download, S3 to S3 against
a plain s3fs stream copy, bytes read by a one-platform import of a multi-platform S3
archive, and layout export with and without the thread pool.

By default the timings run against moto's S3 server as its own process on 127.0.0.1
(``moto_server``; in-process it would share the GIL with the client under test), and
the bytes are counted by the byte-counting server the tests use. With ``--endpoint``
(or ``OCIPORT_BENCH_ENDPOINT``) they run against that server instead, e.g. the Ceph
RGW of ``tests/rgw/start-rgw.sh``, with credentials from the environment; the byte count
needs moto's request log and is then left out. Builds a two-platform archive of random
layers with ``ociport.testing.factories`` and prints a markdown table. Usage::

    python bench/s3_bench.py --layer-size 64MiB --layers 4 --rounds 3
    eval "$(tests/rgw/start-rgw.sh /tmp/rgw)"   # AWS_ENDPOINT_URL and keys
    python bench/s3_bench.py --endpoint "$AWS_ENDPOINT_URL" --layer-size 64MiB
    tests/rgw/stop-rgw.sh /tmp/rgw --wipe

``--baseline "env PYTHONPATH=/tmp/old/src python -m ociport"`` also times another
ociport's command-line import (an older checkout), in the same alternating rounds.

Memory and wall time go to stdout; everything is written under a temporary directory and
a bucket of its own, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import fsspec  # noqa: E402

import ociport  # noqa: E402
from ociport.drivers import oci_layout  # noqa: E402
from ociport.testing.factories import name_image, random_image  # noqa: E402
from s3server import FAKE_ENV, S3Server  # noqa: E402

NAME = "example.com/bench/multi:1"
CHUNK = 8 << 20


def _size(text: str) -> int:
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def _timed(
    fn: Callable[[], object], rounds: int, cleanup: list[Callable[[], object]]
) -> float:
    samples = []
    for _ in range(rounds):
        os.sync()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
        while cleanup:
            cleanup.pop()()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--layer-size", default="64MiB")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("OCIPORT_BENCH_ENDPOINT"),
        help="an S3 server to time against (default: moto_server, started here)",
    )
    parser.add_argument(
        "--skip-exports", action="store_true", help="leave out the layout exports"
    )
    parser.add_argument(
        "--baseline",
        metavar="COMMAND",
        help="another ociport command line to time the import with",
    )
    args = parser.parse_args()
    moto: subprocess.Popen[bytes] | None = None
    server: S3Server | None = None
    if args.endpoint:
        endpoint = args.endpoint
        where = f"the S3 server at {endpoint}"
    else:
        os.environ.update(FAKE_ENV)
        server = S3Server()  # in-process, for counting the bytes served
        server.start()
        port = _free_port()
        moto = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{port}"
        _wait_for(port)
        where = "moto_server"
    options = {"endpoint_url": endpoint, "skip_instance_cache": True}
    s3 = fsspec.filesystem("s3", **options)
    bucket = f"ociport-bench-{uuid.uuid4().hex[:8]}"
    s3.mkdir(bucket)
    try:
        rows, size, counted = _run(args, s3, bucket, options, server, endpoint)
    finally:
        s3.rm(bucket, recursive=True)
        if server is not None:
            server.stop()
        if moto is not None:
            moto.terminate()
            moto.wait()
    layers = f"{args.layers} layers of {args.layer_size}"
    print(f"archive: {size / 2**20:.0f} MiB, 2 platforms x {layers}; {where}\n")
    print("| operation | median s | MiB/s |")
    print("|---|---:|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} | {size / seconds / 2**20:.0f} |")
    if counted:
        print(f"\n{counted}")


def _run(
    args: argparse.Namespace,
    s3: Any,
    bucket: str,
    options: dict[str, Any],
    server: S3Server | None,
    endpoint: str,
) -> tuple[list[tuple[str, float]], int, str]:
    with tempfile.TemporaryDirectory(prefix="ociport-s3-bench-") as work:
        tmp = Path(work)
        source = ociport.open_store(str(tmp / "source"))
        root = random_image(
            source.content,
            layers=args.layers,
            layer_size=_size(args.layer_size),
            seed=1,
            platforms=["linux/amd64", "linux/arm64"],
        )
        name_image(source.content, NAME, root)
        archive = tmp / "multi.tar"
        source.export_images([NAME], str(archive))
        key = f"{bucket}/multi.tar"
        s3.put(str(archive), key)
        url = f"s3://{key}"
        size = archive.stat().st_size
        rows: list[tuple[str, float]] = []

        # What each sample wrote, removed after it, off the clock (and before a Ceph
        # OSD fills up: a full one makes writes hang).
        cleanup: list[Callable[[], object]] = []

        def fresh(prefix: str) -> str:
            return f"{prefix}-{time.monotonic_ns()}"

        def local_dir(prefix: str) -> Path:
            path = tmp / fresh(prefix)
            cleanup.append(lambda: shutil.rmtree(path, ignore_errors=True))
            return path

        def remote_key(prefix: str) -> str:
            key = f"{bucket}/{fresh(prefix)}"
            cleanup.append(lambda: s3.rm(key, recursive=True))
            return key

        def import_local(source_url: str) -> Callable[[], object]:
            def run() -> object:
                store = ociport.open_store(str(local_dir("store")))
                opts = options if source_url.startswith("s3") else None
                return store.import_image(source_url, storage_options=opts)

            return run

        def plain_get(durable: bool = False) -> Callable[[], None]:
            def run() -> None:
                target = local_dir("get")
                s3.get_file(key, str(target))
                if durable:  # what the store does before publishing a blob
                    descriptor = os.open(target, os.O_RDONLY)
                    try:
                        os.fsync(descriptor)
                    finally:
                        os.close(descriptor)

            return run

        def import_s3_store() -> object:
            store = ociport.open_store(
                f"s3://{remote_key('store')}", storage_options=options
            )
            return store.import_image(url, storage_options=options)

        def command_line(command: list[str]) -> Callable[[], object]:
            def run() -> object:
                return subprocess.run(
                    [
                        *command,
                        "--store",
                        str(local_dir("cli")),
                        "import",
                        url,
                        "--source-option",
                        f"endpoint_url={endpoint}",
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )

            return run

        def plain_copy() -> None:
            with (
                s3.open(key, "rb", block_size=CHUNK, cache_type="none") as reader,
                s3.open(remote_key("copy"), "wb", block_size=CHUNK) as out,
            ):
                shutil.copyfileobj(reader, out, CHUNK)

        rows.append(
            (
                "import, all platforms, local file",
                _timed(import_local(str(archive)), args.rounds, cleanup),
            )
        )
        sides: dict[str, Callable[[], object]] = {
            "plain s3fs get of the archive to a local file": plain_get(),
            "plain s3fs get, then fsync": plain_get(durable=True),
            "import from S3 into a local store (ranged reads)": import_local(url),
            "`ociport import` command from S3 into a local store": command_line(
                [sys.executable, "-m", "ociport"]
            ),
            "import from an S3 stream into a local store (one pass)": lambda: (
                _import_stream(s3, local_dir("store"), key)
            ),
            "plain s3fs stream copy, S3 to S3": plain_copy,
            "import from S3 into an S3 store": import_s3_store,
        }
        if args.baseline:
            sides["`ociport import` command, baseline"] = command_line(
                shlex.split(args.baseline)
            )
        # Alternate the order round by round, so that no side always runs first.
        samples: dict[str, list[float]] = {label: [] for label in sides}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for label in order:
                os.sync()  # the last side's dirty pages are not written on this clock
                start = time.perf_counter()
                sides[label]()
                samples[label].append(time.perf_counter() - start)
                while cleanup:
                    cleanup.pop()()
        rows += [(label, statistics.median(taken)) for label, taken in samples.items()]

        counted = ""
        if server is not None:
            counting = {"endpoint_url": server.endpoint, "skip_instance_cache": True}
            fsspec.filesystem("s3", **counting).mkdir(bucket)
            fsspec.filesystem("s3", **counting).put(str(archive), key)
            mark = server.mark()
            ociport.open_store(str(tmp / "counted")).import_image(
                url, storage_options=counting, platforms=["linux/arm64"]
            )
            requests = server.since(mark)
            served = sum(r.sent for r in requests)
            arm = ociport.inspect_source(str(archive))[0]
            needed = sum(
                m["size"] for m in arm["manifests"] if m["platform"] == "linux/arm64"
            )
            needed += arm["descriptor"]["size"]
            counted = (
                f"import --platform linux/arm64 from S3: {served:,} bytes served for "
                f"{needed:,} bytes needed ({served / needed:.3f}x) in {len(requests)} "
                f"requests; the archive is {size:,} bytes."
            )

        if not args.skip_exports:

            def export_layout(threads: int, remote: bool) -> Callable[[], object]:
                def run() -> object:
                    oci_layout.EXPORT_THREADS = threads
                    if remote:
                        dest, opts = f"s3://{remote_key('layout')}/", options
                    else:
                        dest, opts = str(local_dir("layout")), None
                    return source.export_images(
                        [NAME], dest, format="oci", storage_options=opts
                    )

                return run

            for threads in (1, 4):
                for label, remote in (("local disk", False), ("S3", True)):
                    seconds = _timed(
                        export_layout(threads, remote), args.rounds, cleanup
                    )
                    rows.append(
                        (
                            f"export --format oci to {label}, {threads} thread(s)",
                            seconds,
                        )
                    )
            oci_layout.EXPORT_THREADS = 4
    return rows, size, counted


def _import_stream(s3: fsspec.AbstractFileSystem, root: Path, key: str) -> object:
    store = ociport.open_store(str(root))
    with s3.open(key, "rb", block_size=CHUNK) as stream:
        return store.import_image(stream)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


if __name__ == "__main__":
    main()
