#!/usr/bin/env bash
# A private S3 server: Ceph's RADOS Gateway (Debian's radosgw) on a one-node
# Ceph cluster (one monitor, one memstore OSD), run as ordinary processes on
# 127.0.0.1 with every file under one directory. For tests, benchmarks and
# `PHOTO_STORAGE=s3 ./scripts/run.sh`; not a production deployment.
#
#   scripts/s3.sh start|stop|stop-gateway|start-gateway|status|env
#
# start          mon + OSD + gateway, then the user and the bucket (idempotent:
#                a running cluster is reused)
# stop           every daemon of this directory, by the PIDs in its run/ folder
# stop-gateway / start-gateway
#                only the gateway (objects survive: they live in the OSD), for
#                tests of clients retrying across a gateway restart
# env            prints the PHOTO_PIPELINE_* / AWS_* lines that address it
#
# Environment (defaults in brackets):
#   PHOTO_S3_DIR      data, logs, PID files [<repo>/var/s3]
#   PHOTO_S3_PORT     the gateway's HTTP port [7480]
#   PHOTO_S3_BIND     the gateway's address [127.0.0.1]; e.g. a network
#                     namespace's own address for other "hosts" (0.0.0.0 = all;
#                     the monitor and OSD stay on 127.0.0.1)
#   PHOTO_S3_MON_PORT the monitor's port [S3 port + 1]
#   PHOTO_S3_BUCKET   bucket to create [photo-pipeline]
#   PHOTO_S3_ACCESS_KEY / PHOTO_S3_SECRET_KEY  the user's keys [photo / photo-secret]
#   PHOTO_S3_MEMORY_MB  the memstore OSD's capacity [2048]
#   PHOTO_S3_THP      1: the daemons' heaps on transparent huge pages [1]; 0: off
#   PHOTO_S3_MALLOC   tuned: the daemons' glibc malloc keeps freed memory
#                     (see below); default: glibc's own behaviour [tuned]
#   PHOTO_S3_CONF_EXTRA more ceph.conf lines, appended after ours (start them
#                     with a [section] line; a later value wins): for trying
#                     settings (tools/bench-s3-requests.sh)
#
# Objects live in the OSD's memory (memstore): they survive a gateway restart,
# not `stop`. Pitfalls handled here: the ceph-osd launcher's exit status says
# nothing (judge by `ceph osd stat`), and about one fresh OSD start in three
# dies at once ("wrong fsid"): it is started again until it is up.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
D=${PHOTO_S3_DIR:-$REPO/var/s3}
PORT=${PHOTO_S3_PORT:-7480}
MON_PORT=${PHOTO_S3_MON_PORT:-$((PORT + 1))}
BUCKET=${PHOTO_S3_BUCKET:-photo-pipeline}
ACCESS_KEY=${PHOTO_S3_ACCESS_KEY:-photo}
SECRET_KEY=${PHOTO_S3_SECRET_KEY:-photo-secret}
MEMORY_MB=${PHOTO_S3_MEMORY_MB:-2048}
BIND=${PHOTO_S3_BIND:-127.0.0.1}
MALLOC=${PHOTO_S3_MALLOC:-tuned}
THP=${PHOTO_S3_THP:-1}

mkdir -p "$D"
D=$(cd "$D" && pwd)
CONF=$D/ceph.conf
if [ "$BIND" = 0.0.0.0 ]; then ENDPOINT=http://127.0.0.1:$PORT; else ENDPOINT=http://$BIND:$PORT; fi

# Debian's Ceph daemons use glibc's malloc, which returns buffers of 128 KB
# and more to the kernel when they are freed (mmap/munmap, heap trimming):
# every large request then faults in and zeroes fresh pages (a fifth to a
# third of the OSD's perf samples during PUTs). Freed memory kept in the heap
# is reused instead, as the pipeline's own processes do
# (core/malloc_tuning.cc): gateway + OSD CPU per 1.5 MB PUT 19.5 -> 10.3 ms,
# per 1.5 MB GET 6.45 -> 2.38 ms (tools/bench-s3-requests.sh, the figures and
# the command in docs/storage.md). The daemons inherit these from this script.
# tcmalloc preloaded instead measured the same.
if [ "$MALLOC" = tuned ]; then
  export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-33554432}
  export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-1073741824}
  export MALLOC_TOP_PAD_=${MALLOC_TOP_PAD_:-67108864}
fi
# A memstore OSD keeps every stored byte in its heap, so each PUT of new bytes
# faults in fresh pages; on this VM a 4 KB page fault costs ~11 us, a huge
# page ~0.2 us per 4 KB (photo_bench's BM_PageFaultFresh). Ceph turns
# transparent huge pages off for itself unless `thp = true`, and glibc asks
# for them (madvise) only with this tunable: gateway + OSD CPU per 1.5 MB PUT
# into fresh memory 17.5 -> 12.2 ms, per 200 kB PUT 3.10 -> 2.43 ms
# (tools/bench-s3-requests.sh, the command in docs/storage.md).
THP_CONF="thp = false"
if [ "$THP" = 1 ]; then
  export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}
  THP_CONF="thp = true"
fi

log() { echo "s3.sh[$PORT]: $*" >&2; }
ceph_cli() { timeout 20 ceph -c "$CONF" --name client.admin "$@"; }

# The PID in run/<name>.pid, if that process is alive and is a Ceph daemon
# of this directory (PIDs get reused).
live_pid() {
  local f=$D/run/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$CONF" || return 1
  echo "$pid"
}

gateway_answers() { curl -s -o /dev/null -m 2 "$ENDPOINT/"; }

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$MON_PORT
$THP_CONF
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
run dir = $D/run
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
public addr = 127.0.0.1
osd objectstore = memstore
memstore device bytes = $((MEMORY_MB * 1048576))
# Logs at level 0: per-request log lines cost the gateway measurable CPU.
debug rgw = 0/0
debug ms = 0/0
debug osd = 0/0
debug mon = 0/0
debug paxos = 0/0
debug objecter = 0/0
debug rados = 0/0
[mon.a]
mon data = $D/mon
[osd.0]
osd data = $D/osd0
[client.rgw]
rgw frontends = beast endpoint=$BIND:$PORT
rgw enable ops log = false
rgw enable usage log = false
# Hundreds of request threads by default: memory, not speed, on 2 cores.
# The Beast front end's requests yield while they wait for the OSD, so a few
# threads serve many connections; 16 rather than 64 took 4-23 % off the
# gateway's CPU per PUT (tools/bench-s3-requests.sh, docs/storage.md).
rgw thread pool size = 16
# One bucket index object instead of 11: a LIST asks every index shard, so
# this took 34-46 % off a LIST's CPU; a private test gateway's buckets hold far
# fewer keys than one shard can (only buckets created after the setting).
rgw override bucket index max shards = 1
# Tests shrink the multipart threshold to exercise multipart upload with
# small objects; S3's own 5 MiB minimum would make that slow.
rgw multipart min part size = 65536
${PHOTO_S3_CONF_EXTRA:-}
EOF
}

start_osd() {
  local i
  for attempt in 1 2 3 4 5 6; do
    live_pid osd.0 >/dev/null || ceph-osd -i 0 -c "$CONF" >>"$D/log/launch.log" 2>&1 || true
    for i in $(seq 1 20); do
      if ceph_cli osd stat 2>/dev/null | grep -q "1 up"; then return 0; fi
      sleep 0.5
    done
    log "OSD not up yet (attempt $attempt), starting it again"
  done
  log "the OSD did not come up: see $D/log/osd.0.log"
  return 1
}

start_gateway() {
  live_pid client.rgw >/dev/null || radosgw -n client.rgw -c "$CONF" >>"$D/log/launch.log" 2>&1
  for _ in $(seq 1 120); do
    gateway_answers && return 0
    sleep 0.25
  done
  log "the gateway did not answer on $ENDPOINT: see $D/log/client.rgw.log"
  return 1
}

cmd_start() {
  if live_pid client.rgw >/dev/null && gateway_answers; then
    log "already running at $ENDPOINT"
    return 0
  fi
  command -v ceph-mon >/dev/null || { log "ceph-mon missing: run scripts/setup.sh"; exit 1; }
  # memstore keeps nothing across an OSD stop: a half-started or stopped
  # cluster is rebuilt from scratch rather than patched.
  if ! live_pid mon.a >/dev/null || ! live_pid osd.0 >/dev/null; then
    cmd_stop
    rm -rf "${D:?}"/{mon,osd0,run,log,monmap,ceph.conf}
    mkdir -p "$D/run" "$D/log" "$D/osd0"
    local fsid osd_uuid
    fsid=$(cat /proc/sys/kernel/random/uuid)
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    write_conf "$fsid"
    monmaptool --create --add a "v1:127.0.0.1:$MON_PORT" --fsid "$fsid" "$D/monmap" >/dev/null
    ceph-mon --mkfs -i a --monmap "$D/monmap" -c "$CONF" >>"$D/log/launch.log" 2>&1
    ceph-mon -i a -c "$CONF" >>"$D/log/launch.log" 2>&1
    ceph_cli osd new "$osd_uuid" >/dev/null
    ceph-osd -i 0 --mkfs --osd-uuid "$osd_uuid" -c "$CONF" >>"$D/log/launch.log" 2>&1 || true
    start_osd
  fi
  start_gateway
  local admin=(radosgw-admin -c "$CONF" -n client.admin)
  if ! "${admin[@]}" user info --uid=photo >/dev/null 2>&1; then
    "${admin[@]}" user create --uid=photo --display-name=photo \
      --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  fi
  # The bucket, through the S3 API itself (curl signs with SigV4).
  local code
  code=$(curl -s -o "$D/log/bucket.out" -w '%{http_code}' -X PUT "$ENDPOINT/$BUCKET" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
  case $code in
    200|409) ;;
    *) log "creating bucket $BUCKET: HTTP $code $(cat "$D/log/bucket.out")"; exit 1 ;;
  esac
  cmd_env >"$D/env"
  log "S3 gateway at $ENDPOINT, bucket $BUCKET (settings: $D/env)"
}

stop_daemon() {  # stop_daemon NAME: SIGTERM, wait, then SIGKILL
  local pid
  pid=$(live_pid "$1") || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  kill -9 "$pid" 2>/dev/null || true
}

cmd_stop() {
  stop_daemon client.rgw
  stop_daemon osd.0
  stop_daemon mon.a
}

cmd_env() {
  cat <<EOF
PHOTO_PIPELINE_STORAGE=s3://$BUCKET/
PHOTO_PIPELINE_S3_ENDPOINT=$ENDPOINT
PHOTO_PIPELINE_S3_REGION=us-east-1
AWS_ACCESS_KEY_ID=$ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$SECRET_KEY
EOF
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  stop-gateway) stop_daemon client.rgw ;;
  start-gateway) start_gateway ;;
  status)
    for n in mon.a osd.0 client.rgw; do
      if p=$(live_pid $n); then echo "$n: running (pid $p)"; else echo "$n: stopped"; fi
    done
    gateway_answers && echo "gateway: answering at $ENDPOINT" || echo "gateway: not answering"
    ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|stop-gateway|start-gateway|status|env" >&2; exit 2 ;;
esac
