"""Import images from file objects: an open file, and a pipe from another process.

Usage: python examples/import_from_stream.py [STORE_URL] [ARCHIVE]

STORE_URL defaults to an in-memory store (memory://), ARCHIVE to the example archive
next to this script. Any readable binary stream works as a source: ociport reads it
once, front to back, so pipes, sockets and stdin need no seeking.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ociport

EXAMPLE = "hello.oci-archive.tar"


def main(argv: list[str]) -> None:
    """Import ARCHIVE from a file object, then from a gzip pipe; list the store."""
    store_url = argv[1] if len(argv) > 1 else "memory://ociport-example"
    archive = Path(argv[2]) if len(argv) > 2 else Path(__file__).with_name(EXAMPLE)
    store = ociport.open_store(store_url)

    # 1. An open file object.
    with open(archive, "rb") as stream:
        result = store.import_image(stream)
    for image in result.images:
        print(f"from file: {image.name} {image.target.digest}")
    print(
        f"from file: {result.blobs_committed} new blobs, {result.bytes_committed} bytes"
    )

    # 2. A pipe: the archive gzip-compressed by another process, read from its stdout.
    #    Compression is recognised from the stream's first bytes.
    with subprocess.Popen(["gzip", "-c", str(archive)], stdout=subprocess.PIPE) as gzip:
        assert gzip.stdout is not None
        result = store.import_image(gzip.stdout)
    if gzip.returncode:
        raise SystemExit(f"gzip failed with status {gzip.returncode}")
    for image in result.images:
        print(f"from pipe: {image.name} {image.target.digest}")
    print(
        f"from pipe: {result.blobs_committed} new blobs (the file brought them already)"
    )

    for image in store.images():
        print(f"stored: {image.name}")


if __name__ == "__main__":
    main(sys.argv)
