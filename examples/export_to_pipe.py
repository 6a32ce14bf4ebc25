"""Export an image into a pipe: the stdin of another process (here ``tar -t``).

Usage: python examples/export_to_pipe.py [STORE_URL] [ARCHIVE]

STORE_URL defaults to an in-memory store (memory://), ARCHIVE to the example archive
next to this script, which is imported first. The export is written front to back,
``oci-layout`` and ``index.json`` first, so the reader at the other end of the pipe
learns what it gets before the blobs arrive.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ociport

EXAMPLE = "hello.oci-archive.tar"


def main(argv: list[str]) -> None:
    """Import ARCHIVE, then stream its images into ``tar -t`` and print the listing."""
    store_url = argv[1] if len(argv) > 1 else "memory://ociport-example"
    archive = Path(argv[2]) if len(argv) > 2 else Path(__file__).with_name(EXAMPLE)
    store = ociport.open_store(store_url)
    names = [image.name for image in store.import_image(archive).images]

    # tar's listing is a few lines, so reading it only after the export cannot block.
    with subprocess.Popen(
        ["tar", "-t"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as tar:
        assert tar.stdin is not None and tar.stdout is not None
        store.export_images(names, tar.stdin)
        tar.stdin.close()  # end of archive: tar finishes its listing and exits
        listing = tar.stdout.read().decode()
    if tar.returncode:
        raise SystemExit(f"tar -t failed with status {tar.returncode}")
    print(f"exported {', '.join(names)} into a pipe; tar -t lists:")
    for line in listing.splitlines():
        print(f"  {line}")


if __name__ == "__main__":
    main(sys.argv)
