#!/usr/bin/env bash
# make-example.sh [OUTPUT]
#
# Builds the tiny image in examples/hello.oci-archive.tar with the real tools:
# umoci writes an OCI layout (init, new, unpack, add files, repack, config) and
# skopeo copies it into an OCI archive (skopeo's oci-archive: transport).
#
#   image name (org.opencontainers.image.ref.name): example.com/ociport/hello:1.0
#   platform linux/amd64, one gzip layer with three small files
#
# Needs umoci and skopeo (Debian: apt-get install umoci skopeo), python3 and GNU tar.
# Runs as root or not (umoci --rootless is used for a normal user).
#
# Reproducible: file mtimes, the config's and history's "created" and the manifest's
# created annotation are pinned to 2024-01-01T00:00:00Z, so the blobs and digests are
# the same on every run. skopeo stamps the archive's tar headers with the current time,
# so a last step sets every header's mtime to that same instant (the member data and
# order stay exactly as skopeo wrote them); two runs give byte-identical archives.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/hello.oci-archive.tar}
NAME=example.com/ociport/hello:1.0
CREATED=2024-01-01T00:00:00Z
EPOCH=1704067200  # = $CREATED
export SOURCE_DATE_EPOCH=$EPOCH TZ=UTC LC_ALL=C.UTF-8

for tool in umoci skopeo python3; do
  command -v "$tool" >/dev/null || { echo "make-example.sh: missing tool: $tool" >&2; exit 1; }
done
ROOTLESS=()
[ "$(id -u)" = 0 ] || ROOTLESS=(--rootless)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ociport-example.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LAYOUT="$WORK/layout"
BUNDLE="$WORK/bundle"
ROOTFS="$BUNDLE/rootfs"

# An empty image with a pinned config.
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:hello"
umoci config --image "$LAYOUT:hello" --no-history --created "$CREATED" \
  --architecture amd64 --os linux --author "ociport examples"
umoci unpack "${ROOTLESS[@]}" --image "$LAYOUT:hello" "$BUNDLE"

# One layer: a greeting, a script and a config file, all with pinned mtimes.
mkdir -p "$ROOTFS/hello" "$ROOTFS/etc/hello"
printf 'Hello from ociport!\n' > "$ROOTFS/hello/hello.txt"
printf '#!/bin/sh\ncat /hello/hello.txt\n' > "$ROOTFS/hello/hello.sh"
chmod 0755 "$ROOTFS/hello/hello.sh"
printf 'greeting=hello\n' > "$ROOTFS/etc/hello/hello.conf"
find "$ROOTFS" -depth -exec touch -h -d "@$EPOCH" {} +
umoci repack "${ROOTLESS[@]}" --image "$LAYOUT:hello" \
  --history.created "$CREATED" --history.created_by "make-example.sh: add /hello" "$BUNDLE"

# The runtime config, then the tag skopeo copies.
umoci config --image "$LAYOUT:hello" --tag 1.0 --no-history --created "$CREATED" \
  --config.cmd /hello/hello.sh --config.workingdir /hello \
  --config.label org.opencontainers.image.title=hello \
  --manifest.annotation "org.opencontainers.image.created=$CREATED"
umoci rm --image "$LAYOUT:hello"
umoci gc --layout "$LAYOUT"

# skopeo writes the archive; the ref name is everything after the path's first colon.
rm -f "$OUT"
skopeo --insecure-policy copy -q "oci:$LAYOUT:1.0" "oci-archive:$OUT:$NAME"

# Pin the tar headers' mtimes (see the header comment): rewrite the 12-byte mtime field
# of each ustar header in place and recompute its checksum.
python3 - "$OUT" "$EPOCH" <<'PY'
import sys

path, epoch = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
offset = 0
while offset + 512 <= len(data) and any(data[offset:offset + 512]):
    header = data[offset:offset + 512]
    if header[257:262] != b"ustar":
        sys.exit(f"unexpected tar header at byte {offset}")
    header[136:148] = b"%011o\0" % epoch
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    data[offset:offset + 512] = header
    size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
    if header[156:157] in (b"x", b"g"):
        sys.exit("PAX headers are not expected in this archive")
    offset += 512 + (size + 511) // 512 * 512
open(path, "wb").write(bytes(data))
PY

skopeo --insecure-policy inspect --raw "oci-archive:$OUT:$NAME" >/dev/null
echo "wrote $OUT ($(wc -c <"$OUT") bytes): $NAME"
