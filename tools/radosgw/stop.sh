#!/usr/bin/env bash
# Stops what tools/radosgw/start.sh started (by the pid files in its state directory) and removes
# the state directory: the OSD keeps data in RAM, so nothing survives a stop anyway.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
D=${VMM_RADOSGW_DIR:-$repo/.radosgw}
[ -d "$D/run" ] || { echo "radosgw: not running (no $D/run)" >&2; exit 0; }
pids=()
for f in "$D"/run/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null && pids+=("$pid")
done
for _ in $(seq 50); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.2
done
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null; done
rm -rf "$D"
echo "radosgw: stopped" >&2
