#!/usr/bin/env bash
# Starts a single-node Ceph radosgw (S3-compatible) on 127.0.0.1 for the object-storage tests and
# for trying `--db-path s3://...` by hand; CI (.ci/run) runs this same script. Installs the Debian
# packages when missing (needs root), keeps everything in one state directory (the OSD is memstore:
# data lives in RAM and is gone after stop.sh), creates a user and a bucket, and writes the
# endpoint and keys to "$STATE/env" (sourceable; tests/integration/s3.test.ts reads it).
#
#   tools/radosgw/start.sh            # then: . .radosgw/env
#   tools/radosgw/stop.sh
#
# Environment: VMM_RADOSGW_DIR (state directory, default <repo>/.radosgw), VMM_RADOSGW_PORT (S3
# port, default 7480; 0 picks free ports for it and the monitor, as .ci/run does so that several
# checkouts on one machine can run at once), VMM_RADOSGW_MON_PORT (monitor port, default 3300),
# VMM_RADOSGW_BUCKET (default vector-memory-test), VMM_RADOSGW_MEMORY_MB (OSD RAM, default 1024),
# VMM_RADOSGW_WAIT_S (how long to wait for the gateway to answer, default 60; more on a busy machine),
# VMM_RADOSGW_BIND (the address the S3 port listens on, default 127.0.0.1; another host, or a
# network namespace, reaches it at this host's address on its network: give that address, the
# endpoint in env is then http://<it>:<port>. The monitor and OSD stay on loopback).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
D=${VMM_RADOSGW_DIR:-$repo/.radosgw}
PORT=${VMM_RADOSGW_PORT:-7480}
BIND=${VMM_RADOSGW_BIND:-127.0.0.1}
MON_PORT=${VMM_RADOSGW_MON_PORT:-3300}
BUCKET=${VMM_RADOSGW_BUCKET:-vector-memory-test}
MEMORY_MB=${VMM_RADOSGW_MEMORY_MB:-1024}
WAIT_S=${VMM_RADOSGW_WAIT_S:-60}
log() { echo "radosgw: $*" >&2; }

running=$(sed -n 's/^export VECTOR_MEMORY_S3_ENDPOINT=//p' "$D/env" 2>/dev/null || true)
if [ -n "$running" ] && curl -fs -o /dev/null "$running/"; then
  log "already running ($running, state in $D)"
  cat "$D/env"
  exit 0
fi
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
if [ "$PORT" = 0 ]; then
  PORT=$(free_port)
  MON_PORT=$(free_port)
fi
ENDPOINT=http://$BIND:$PORT
for port in "$PORT" "$MON_PORT"; do
  if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port on 127.0.0.1 is taken (another radosgw?); set VMM_RADOSGW_PORT and VMM_RADOSGW_MON_PORT, or 0 for free ones"
    exit 1
  fi
done

if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null \
  || ! command -v uuidgen >/dev/null; then
  [ "$(id -u)" = 0 ] || { log "radosgw is not installed; as root: apt-get install radosgw ceph-mon ceph-osd uuid-runtime"; exit 1; }
  log "installing radosgw ceph-mon ceph-osd (about 40 s)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    radosgw ceph-mon ceph-osd uuid-runtime curl >/dev/null
fi

started=$(date +%s)
rm -rf "$D"
mkdir -p "$D"/{mon,osd0,run,log,rgw}
F=$(uuidgen)
K=$D/keyring
C=(-c "$D/ceph.conf")
# A failed start leaves no daemons behind.
trap '[ "$?" = 0 ] || "$repo/tools/radosgw/stop.sh" >/dev/null 2>&1 || true' EXIT

# Loopback only, one OSD in RAM, pools of size 1. tcp_nodelay: without it every LanceDB GET waits
# ~50 ms for Nagle (docs in ../shared/OBJECT-STORAGE.md).
cat >"$D/ceph.conf" <<EOC
[global]
fsid=$F
mon host=[v2:127.0.0.1:$MON_PORT]
public addr=127.0.0.1
cluster addr=127.0.0.1
ms bind msgr1=false
keyring=$K
osd objectstore=memstore
memstore device bytes=$((MEMORY_MB * 1024 * 1024))
osd pool default size=1
osd pool default min size=1
osd pool default pg num=8
osd pool default pgp num=8
osd crush chooseleaf type=0
mon allow pool size one=true
mon max pg per osd=1000
mon data avail warn=1
run dir=$D/run
pid file=$D/run/\$name.pid
log file=$D/log/\$name.log
mon data=$D/mon
osd data=$D/osd\$id
[client.rgw]
rgw frontends=beast endpoint=$BIND:$PORT tcp_nodelay=1
rgw data=$D/rgw
EOC
ceph-authtool --create-keyring "$K" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n client.rgw --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
ceph-authtool "$K" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
monmaptool --create --fsid "$F" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$K"
ceph-mon "${C[@]}" -i a
U=$(uuidgen)
ceph "${C[@]}" osd new "$U" 0 >/dev/null
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$U" 2>/dev/null
ceph-osd "${C[@]}" -i 0 2>/dev/null
radosgw "${C[@]}" -n client.rgw
for _ in $(seq $((WAIT_S * 2))); do curl -fs -o /dev/null "$ENDPOINT/" && break; sleep 0.5; done
curl -fs -o /dev/null "$ENDPOINT/" || { log "radosgw did not answer on $ENDPOINT in $WAIT_S s; see $D/log"; exit 1; }

KEY=vmm$(uuidgen | tr -d - | head -c 17)
SECRET=$(uuidgen | tr -d -)$(uuidgen | tr -d - | head -c 8)
radosgw-admin "${C[@]}" user create --uid=vmm --display-name=vector-memory-mcp \
  --access-key="$KEY" --secret="$SECRET" >/dev/null
# CreateBucket with SigV4; radosgw refuses a signed request without x-amz-content-sha256.
for _ in $(seq $((WAIT_S / 3 + 1))); do
  curl -fs -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:$SECRET" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$ENDPOINT/$BUCKET" && break
  sleep 0.5
done
curl -fs -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:$SECRET" \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$ENDPOINT/$BUCKET" \
  || { log "could not create bucket $BUCKET; see $D/log"; exit 1; }

cat >"$D/env" <<EOV
export VECTOR_MEMORY_S3_ENDPOINT=$ENDPOINT
export VECTOR_MEMORY_S3_REGION=us-east-1
export VECTOR_MEMORY_S3_ACCESS_KEY_ID=$KEY
export VECTOR_MEMORY_S3_SECRET_ACCESS_KEY=$SECRET
export VECTOR_MEMORY_S3_ALLOW_HTTP=1
export VMM_TEST_S3_BUCKET=$BUCKET
EOV
chmod 600 "$D/env"
log "running on $ENDPOINT (bucket $BUCKET) after $(($(date +%s) - started)) s; state in $D"
log "use it: . $D/env; vector-memory-mcp --db-path s3://$BUCKET/<prefix>"
cat "$D/env"
