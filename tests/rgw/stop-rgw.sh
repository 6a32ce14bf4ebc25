#!/usr/bin/env bash
# Stop what start-rgw.sh started: the PIDs it recorded in DIR/pids, by PID only. The
# cluster is thrown away, so every daemon gets TERM at once (no orderly hand-over to the
# monitor), and KILL if it is still there after 1 s (the OSD takes 3-5 s to stop on TERM
# and its data is in memory anyway). --wipe deletes DIR afterwards.
set -uo pipefail
D=${1:?usage: stop-rgw.sh DIR [--wipe]}
alive() {  # a zombie (exited, not yet reaped by its new parent) does not count
    [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
if [ -f "$D/pids" ]; then
    pids=()
    while read -r name pid; do
        [ -n "${pid:-}" ] || continue
        if alive "$pid" && kill "$pid" 2>/dev/null; then
            pids+=("$pid"); echo "stop-rgw: stopping $name ($pid)" >&2
        fi
    done < "$D/pids"
    for _ in $(seq 1 10); do
        left=()
        for pid in ${pids[@]+"${pids[@]}"}; do alive "$pid" && left+=("$pid"); done
        [ ${#left[@]} -eq 0 ] && break
        sleep 0.1
    done
    for pid in ${pids[@]+"${pids[@]}"}; do
        alive "$pid" && { kill -9 "$pid"; echo "stop-rgw: killed $pid" >&2; }
    done
    rm -f "$D/pids"
fi
[ "${2:-}" = --wipe ] && rm -rf "$D"
exit 0
