#!/usr/bin/env bash
# Stops, or starts again, only the radosgw daemon of an instance that tools/radosgw/start.sh
# started (the monitor and the in-memory OSD keep running, so the stored objects survive): for
# the fault test of a gateway that goes away for a few seconds and comes back on the same port.
# Usage: restart-gateway.sh stop | start | restart [seconds down, default 3]
# Environment: VMM_RADOSGW_DIR (the instance's state directory, default <repo>/.radosgw),
# VMM_RADOSGW_WAIT_S (how long to wait for the gateway to answer again, default 30).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
D=${VMM_RADOSGW_DIR:-$repo/.radosgw}
[ -f "$D/ceph.conf" ] || { echo "radosgw: no instance in $D (start it with tools/radosgw/start.sh)" >&2; exit 1; }
ENDPOINT=$(sed -n 's/^export VECTOR_MEMORY_S3_ENDPOINT=//p' "$D/env")
PIDFILE=$D/run/client.rgw.pid

stop() {
  [ -f "$PIDFILE" ] || return 0
  local pid
  pid=$(cat "$PIDFILE")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  rm -f "$PIDFILE"
  echo "radosgw: gateway stopped" >&2
}

start() {
  radosgw -c "$D/ceph.conf" -n client.rgw
  for _ in $(seq $((${VMM_RADOSGW_WAIT_S:-30} * 4))); do curl -fs -o /dev/null "$ENDPOINT/" && break; sleep 0.25; done
  curl -fs -o /dev/null "$ENDPOINT/" || { echo "radosgw: gateway did not answer on $ENDPOINT; see $D/log" >&2; exit 1; }
  echo "radosgw: gateway answering on $ENDPOINT" >&2
}

case "${1:-}" in
  stop) stop ;;
  start) start ;;
  restart) stop; sleep "${2:-3}"; start ;;
  *) echo "usage: $0 stop | start | restart [seconds]" >&2; exit 2 ;;
esac
