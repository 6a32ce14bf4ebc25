"""Export an image into memory (``io.BytesIO``) and list the archive's members.

Usage: python examples/export_to_bytesio.py [STORE_URL] [ARCHIVE]

STORE_URL defaults to an in-memory store (memory://), ARCHIVE to the example archive
next to this script, which is imported first. Any writable binary stream works as a
sink; the archive written to it is deterministic: the same images give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from pathlib import Path

import ociport

EXAMPLE = "hello.oci-archive.tar"


def main(argv: list[str]) -> None:
    """Import ARCHIVE, export its images into a BytesIO and print what the tar holds."""
    store_url = argv[1] if len(argv) > 1 else "memory://ociport-example"
    archive = Path(argv[2]) if len(argv) > 2 else Path(__file__).with_name(EXAMPLE)
    store = ociport.open_store(store_url)
    names = [image.name for image in store.import_image(archive).images]

    buffer = io.BytesIO()
    result = store.export_images(names, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    print(f"exported {', '.join(names)}: {len(data)} bytes, sha256 {digest}")
    for entry in result.entries:
        print(f"index.json entry: {entry.ref_name} {entry.digest}")

    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        for member in tar:
            kind = "dir " if member.isdir() else "file"
            print(f"member: {kind} {member.size:>8} {member.name}")


if __name__ == "__main__":
    main(sys.argv)
