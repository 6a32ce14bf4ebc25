#!/usr/bin/env python3
"""Generate an OCI image archive of a given size for benchmarks.

The archive holds ``--layers`` uncompressed layers
(``application/vnd.oci.image.layer.v1.tar``), each a real tar with one file of random
(incompressible) bytes, plus a config whose ``rootfs.diff_ids`` match the layers, a
manifest, ``index.json`` naming the image with ``org.opencontainers.image.ref.name`` and
``oci-layout``.

Everything streams in 4 MiB chunks: a layer is never held in memory. A blob's digest is
known only after the layer was written, so each blob member is written under a
placeholder name and its tar header is rewritten in place afterwards (the archive must
be a regular, seekable file).

Usage::

    python bench/make_image.py --size 1GiB --layers 4 /tmp/image.tar
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import sys
import tarfile
from collections.abc import Callable
from typing import IO, Any, Final

BLOCK: Final = 512
CHUNK: Final = 4 << 20
LAYER_TYPE: Final = "application/vnd.oci.image.layer.v1.tar"
CONFIG_TYPE: Final = "application/vnd.oci.image.config.v1+json"
MANIFEST_TYPE: Final = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE: Final = "application/vnd.oci.image.index.v1+json"
_PLACEHOLDER: Final = "blobs/sha256/" + "0" * 64
_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gib": 1 << 30,
}


def parse_size(text: str) -> int:
    """``1GiB``, ``256MiB``, ``512M``, ``1048576`` -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match[2].lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 256MiB or 1GiB")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def _header(
    name: str, size: int, kind: bytes = tarfile.REGTYPE, mode: int = 0o644
) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, mode, 0
    return info.tobuf(tarfile.USTAR_FORMAT)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


class _HashingWriter:
    """Writes to ``out`` and hashes what passes; counts bytes."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)


def layer_size(payload: int) -> int:
    """Size of a layer tar holding one ``payload``-byte file (header, data, end)."""
    return BLOCK + payload + (-payload % BLOCK) + 2 * BLOCK


def _write_layer(sink: _HashingWriter, payload: int, index: int) -> None:
    sink.write(_header(f"data/random-{index}.bin", payload))
    left = payload
    while left:
        chunk = os.urandom(min(CHUNK, left))
        sink.write(chunk)
        left -= len(chunk)
    sink.write(_padding(payload) + b"\0" * (2 * BLOCK))


def _add_streamed_blob(
    archive: IO[bytes], size: int, produce: Callable[[_HashingWriter], None]
) -> str:
    """Append a ``size``-byte blob member that ``produce(writer)`` writes.

    :returns: the blob's sha256, hex-encoded.
    """
    start = archive.tell()
    archive.write(_header(_PLACEHOLDER, size))
    writer = _HashingWriter(archive)
    produce(writer)
    if writer.size != size:
        raise RuntimeError(f"produced {writer.size} bytes, expected {size}")
    archive.write(_padding(size))
    end = archive.tell()
    encoded = writer.hash.hexdigest()
    archive.seek(start)
    archive.write(_header(f"blobs/sha256/{encoded}", size))
    archive.seek(end)
    return encoded


def _add_bytes(archive: IO[bytes], name: str, data: bytes) -> None:
    archive.write(_header(name, len(data)) + data + _padding(len(data)))


def _add_json_blob(archive: IO[bytes], document: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(document, separators=(",", ":")).encode()
    encoded = hashlib.sha256(raw).hexdigest()
    _add_bytes(archive, f"blobs/sha256/{encoded}", raw)
    return {"size": len(raw), "digest": f"sha256:{encoded}"}


def make_image(path: str, total: int, layers: int, ref: str) -> dict[str, Any]:
    """Write the archive to ``path``; returns a summary (manifest digest, sizes)."""
    payload = max(1, total // layers - 3 * BLOCK)
    payload -= payload % BLOCK
    descs = []
    with open(path, "wb") as archive:
        archive.write(_header("blobs/", 0, tarfile.DIRTYPE, 0o755))
        archive.write(_header("blobs/sha256/", 0, tarfile.DIRTYPE, 0o755))
        for i in range(layers):
            size = layer_size(payload)
            produce = functools.partial(_write_layer, payload=payload, index=i)
            encoded = _add_streamed_blob(archive, size, produce)
            descs.append(
                {"mediaType": LAYER_TYPE, "size": size, "digest": f"sha256:{encoded}"}
            )
        config = {
            "created": "1970-01-01T00:00:00Z",
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]},
            "history": [{"created_by": f"bench layer {i}"} for i in range(layers)],
        }
        config_desc = {"mediaType": CONFIG_TYPE, **_add_json_blob(archive, config)}
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": config_desc,
            "layers": descs,
        }
        manifest_desc = {
            "mediaType": MANIFEST_TYPE,
            **_add_json_blob(archive, manifest),
        }
        index = {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                {
                    **manifest_desc,
                    "annotations": {"org.opencontainers.image.ref.name": ref},
                }
            ],
        }
        _add_bytes(archive, "index.json", json.dumps(index, indent=2).encode())
        _add_bytes(archive, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        archive.write(b"\0" * (2 * BLOCK))
    return {
        "manifest": manifest_desc["digest"],
        "layers": [d["size"] for d in descs],
        "archive_size": os.path.getsize(path),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="archive path to write (a regular file)")
    parser.add_argument(
        "--size",
        type=parse_size,
        default=parse_size("1GiB"),
        help="total size of the layers, e.g. 256MiB, 1GiB (default 1GiB)",
    )
    parser.add_argument(
        "--layers", type=int, default=4, help="number of layers (default 4)"
    )
    parser.add_argument(
        "--ref",
        default="localhost/bench:latest",
        help="org.opencontainers.image.ref.name of the image",
    )
    args = parser.parse_args(argv)
    if args.layers < 1:
        parser.error("--layers must be at least 1")
    summary = make_image(args.output, args.size, args.layers, args.ref)
    json.dump(summary, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
