"""S3 figures for issue 3 (not a test): import from S3 against local disk, bytes read by a
one-platform import of a multi-platform S3 archive, and layout export with and without
the thread pool.

Times against moto's S3 server run as its own process on 127.0.0.1 (``moto_server``;
in-process it would share the GIL with the client under test), and counts bytes with
the byte-counting server the tests use. Builds a two-platform archive of random layers
with ``ociport.testing.factories`` and prints a markdown table. Usage::

    python bench/s3_bench.py --layer-size 64MiB --layers 4 --rounds 3

Memory and wall time go to stdout; everything is written under a temporary directory and
a bucket that are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import fsspec  # noqa: E402

import ociport  # noqa: E402
from ociport.drivers import oci_layout  # noqa: E402
from ociport.testing.factories import name_image, random_image  # noqa: E402
from s3server import FAKE_ENV, S3Server  # noqa: E402

NAME = "example.com/bench/multi:1"


def _size(text: str) -> int:
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def _timed(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer-size", default="64MiB")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    server = S3Server()  # in-process, for counting the bytes served
    server.start()
    counting = {"endpoint_url": server.endpoint, "skip_instance_cache": True}
    port = _free_port()
    moto = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    options = {"endpoint_url": f"http://127.0.0.1:{port}", "skip_instance_cache": True}
    _wait_for(port)
    s3 = fsspec.filesystem("s3", **options)
    s3.mkdir("bench")
    fsspec.filesystem("s3", **counting).mkdir("bench")
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
        s3.put(str(archive), "bench/multi.tar")
        fsspec.filesystem("s3", **counting).put(str(archive), "bench/multi.tar")
        size = archive.stat().st_size
        rows = []

        def fresh_import(url: str, **kw: object) -> Callable[[], object]:
            def run() -> object:
                store = ociport.open_store(str(tmp / f"store-{time.monotonic_ns()}"))
                return store.import_image(
                    url, storage_options=options if url.startswith("s3") else None, **kw
                )  # type: ignore[arg-type]

            return run

        local = _timed(fresh_import(str(archive)), args.rounds)
        remote = _timed(fresh_import("s3://bench/multi.tar"), args.rounds)
        streamed = _timed(
            lambda: _import_stream(s3, tmp, "bench/multi.tar"), args.rounds
        )
        rows.append(("import, all platforms, local file", local, size / local))
        rows.append(
            ("import, all platforms, from S3 (ranged reads)", remote, size / remote)
        )
        rows.append(
            (
                "import, all platforms, from an S3 stream (one pass)",
                streamed,
                size / streamed,
            )
        )

        mark = server.mark()
        counted = ociport.open_store(str(tmp / "counted"))
        counted.import_image(
            "s3://bench/multi.tar", storage_options=counting, platforms=["linux/arm64"]
        )
        requests = server.since(mark)
        served = sum(r.sent for r in requests)
        arm = ociport.inspect_source(str(archive))[0]
        needed = sum(
            m["size"] for m in arm["manifests"] if m["platform"] == "linux/arm64"
        )
        needed += arm["descriptor"]["size"]

        def export_layout(threads: int, target: str) -> Callable[[], object]:
            def run() -> object:
                oci_layout.EXPORT_THREADS = threads
                dest = f"{target}/{time.monotonic_ns()}"
                opts = options if dest.startswith("s3") else None
                return source.export_images(
                    [NAME], dest, format="oci", storage_options=opts
                )

            return run

        exports = {
            (threads, where): _timed(export_layout(threads, target), args.rounds)
            for threads in (1, 4)
            for where, target in (
                ("local", str(tmp / "layouts")),
                ("S3", "s3://bench/layouts"),
            )
        }
        oci_layout.EXPORT_THREADS = 4

    layers = f"{args.layers} layers of {args.layer_size}"
    print(f"archive: {size / 2**20:.0f} MiB, 2 platforms x {layers}\n")
    print("| operation | median s | MiB/s |")
    print("|---|---|---|")
    for label, seconds, rate in rows:
        print(f"| {label} | {seconds:.2f} | {rate / 2**20:.0f} |")
    for (threads, where), seconds in sorted(
        exports.items(), key=lambda kv: (kv[0][1], kv[0][0])
    ):
        rate = size / seconds  # every blob of the image: about the archive's size
        label = f"export --format oci to {where}, {threads} thread(s)"
        print(f"| {label} | {seconds:.2f} | {rate / 2**20:.0f} |")
    print(
        f"\nimport --platform linux/arm64 from S3: {served:,} bytes served for {needed:,} "
        f"bytes needed ({served / needed:.3f}x) in {len(requests)} requests; the archive "
        f"is {size:,} bytes."
    )
    server.stop()
    moto.terminate()
    moto.wait()


def _import_stream(s3: fsspec.AbstractFileSystem, tmp: Path, key: str) -> object:
    store = ociport.open_store(str(tmp / f"store-{time.monotonic_ns()}"))
    with s3.open(key, "rb", block_size=8 << 20) as stream:
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
