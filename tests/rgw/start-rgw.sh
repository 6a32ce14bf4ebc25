#!/usr/bin/env bash
# Start a throw-away single-node Ceph cluster (1 mon, 1 OSD, pool size 1, no cephx) plus
# radosgw (beast, TCP_NODELAY: without it every answer with a body waits 40 ms for a
# delayed ACK) on 127.0.0.1, and create an S3 user: the real S3 server of the tests marked
# `s3` (the `rgw` parameter; tests/conftest.py runs this script once per session through
# tests/rgwserver.py). Needs Debian's ceph-mon ceph-osd radosgw ceph-common (scripts/test
# installs them); tested with Ceph 16.2.15 (pacific) as root, up in ~15 s.
#
#   tests/rgw/start-rgw.sh DIR [RGW_PORT [MON_PORT]]   # defaults 7480, 3300
#   tests/rgw/stop-rgw.sh DIR [--wipe]                  # kills the PIDs in DIR/pids
#
# Environment: OSD_STORE (memstore, all in RAM, or bluestore on a sparse file),
# OSD_SIZE (bytes; default 8 GiB), AK/SK (the user's keys), WITH_MGR=1 (also start a
# ceph-mgr, which radosgw does not need), WATCH_PID (when set, a watchdog runs
# stop-rgw.sh as soon as that process is gone: a test run that is killed leaves no daemon
# behind).
#
# Prints shell `export` lines on stdout (endpoint, keys); progress on stderr. Every daemon
# is recorded in DIR/pids as it starts, so stop-rgw.sh also cleans up a failed start.
set -euo pipefail
D=${1:?usage: start-rgw.sh DIR [RGW_PORT [MON_PORT]]}
PORT=${2:-7480}
MON_PORT=${3:-3300}
OSD_STORE=${OSD_STORE:-memstore}
OSD_SIZE=${OSD_SIZE:-$((8 << 30))}
AK=${AK:-OCIPORTTESTACCESSKEY0}
SK=${SK:-ociporttestsecretkey0000000000000000000000}
HERE=$(cd "$(dirname "$0")" && pwd)
SECONDS=0
log() { echo "start-rgw: ${SECONDS}s: $*" >&2; }
wait_for() {  # wait_for SECONDS CMD...: poll CMD every 0.2 s
    local tries=$(($1 * 5)); shift
    for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}

if [ -e "$D/pids" ]; then log "$D/pids exists: stop the running cluster first"; exit 1; fi
rm -rf "$D"; mkdir -p "$D"/{mon/ceph-a,osd/ceph-0,mgr/ceph-x,rgw,run,log}
: > "$D/pids"
if [ -n "${WATCH_PID:-}" ]; then
    # The watchdog: stops the cluster when the process that asked for it is gone.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -e "$2/pids" ]; do sleep 1; done
                    exec "$3/stop-rgw.sh" "$2" --wipe' \
        watchdog "$WATCH_PID" "$D" "$HERE" >/dev/null 2>&1 < /dev/null &
fi
FSID=$(cat /proc/sys/kernel/random/uuid)
C=$D/ceph.conf
cat > "$C" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
keyring = $D/keyring
[mon]
mon data = $D/mon/\$cluster-\$id
mon data avail warn = 1
mon data avail crit = 0
[mgr]
mgr data = $D/mgr/\$cluster-\$id
mgr initial modules = iostat
[osd]
osd data = $D/osd/\$cluster-\$id
osd objectstore = $OSD_STORE
bluestore block create = true
bluestore block size = $OSD_SIZE
bluestore fsck on mount = false
memstore device bytes = $OSD_SIZE
osd memory target = 2147483648
osd op num shards = 2
osd op num threads per shard = 1
[client.rgw.a]
# radosgw defaults to ms_mon_client_mode=secure and auth_client_required=cephx,
# which cannot work with auth none: override both here.
ms mon client mode = crc
auth client required = none
rgw data = $D/rgw
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw thread pool size = 64
debug rgw = 1
debug ms = 0
log to stderr = false
rgw enable ops log = false
rgw ops log rados = false
# Free what deleted objects held within seconds, not hours: a full OSD (memstore holds
# OSD_SIZE at most) makes every write hang instead of failing.
rgw gc obj min wait = 5
rgw gc processor period = 5
CONF
CEPH=(ceph -c "$C" --connect-timeout 20)

log "keyring + monmap"
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"

start() {  # start NAME CMD...: run in the foreground mode, in the background; record PID
    local name=$1; shift
    setsid "$@" -f >"$D/log/$name.out" 2>&1 < /dev/null &
    echo "$name $!" >> "$D/pids"
}
log "mon on 127.0.0.1:$MON_PORT"
start mon ceph-mon -c "$C" -i a
wait_for 60 "${CEPH[@]}" -s || { log "the monitor did not answer"; exit 1; }

if [ "${WITH_MGR:-0}" = 1 ]; then  # not needed by radosgw; only `ceph -s` misses it
    log "mgr"
    start mgr ceph-mgr -c "$C" -i x
fi

log "osd ($OSD_STORE)"
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ID=$("${CEPH[@]}" osd new "$OSD_UUID")
ceph-osd -c "$C" -i "$ID" --mkfs --osd-uuid "$OSD_UUID" > "$D/log/osd-mkfs.out" 2>&1
start osd ceph-osd -c "$C" -i "$ID"
osd_up() { "${CEPH[@]}" osd stat 2>/dev/null | grep -q '1 up'; }
wait_for 120 osd_up || { log "the OSD did not come up"; exit 1; }

log "radosgw on 127.0.0.1:$PORT"
start rgw radosgw -c "$C" -n client.rgw.a
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }  # no curl needed
wait_for 180 listening "$PORT" || { log "radosgw did not answer"; exit 1; }
radosgw-admin -c "$C" -n client.admin user create --uid ociport --display-name ociport \
    --access-key "$AK" --secret-key "$SK" > "$D/user.json" 2>"$D/log/user-create.err"
log "ready"
cat <<OUT
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=$AK
export AWS_SECRET_ACCESS_KEY=$SK
export AWS_DEFAULT_REGION=us-east-1
export CEPH_CONF=$C
OUT
