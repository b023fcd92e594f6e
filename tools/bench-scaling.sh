#!/usr/bin/env bash
# Throughput and CPU per image with 1, 2 and 4 worker processes per stage:
# for each count, (re)starts the system with scripts/run.sh, runs
# tools/bench.py at 12 MP and at 1 MP, and keeps the JSON of every run.
#
#   tools/bench-scaling.sh [OUT_DIR]        # default var/bench-scaling
#   WORKERS="1 2" N12=40 N1=200 tools/bench-scaling.sh
#   STORAGES="local s3" WORKERS=2 N1=0 API_N=4000 tools/bench-scaling.sh
#   STORAGES=s3 WORKERS= API_N=3000 tools/bench-scaling.sh   # API alone only
#   PHOTO=real STORAGES="local s3" WORKERS=2 N1=0 tools/bench-scaling.sh
#
# PHOTO: the 12 MP runs upload this file instead of bench.py's generated
# photo; PHOTO=real is tools/bench-real.sh's real camera photo (Debian's
# Dragonfly_by_Bolly.jpg, 13.4 MP, made baseline by jpegtran).
#
# STORAGES: blob storage of each run (PHOTO_STORAGE of scripts/run.sh: local
# files, or S3 on a private Ceph gateway started by run.sh), interleaved per
# worker count so both see the same machine; then the S3/local ratio of
# 12 MP images/s. API_N > 0 adds API-alone runs (tools/bench.py --api-only,
# 200 kB, 48 clients) per storage. N1=0 skips the 1 MP runs.
#
# Stops the system it started (scripts/stop.sh, by PID) when done. Loopback
# only, on ports away from run.sh's (API 18615, AMQP 15615, S3 17480) and
# with a var folder of its own, so a system started by hand keeps running;
# bounded by the upload counts and bench.py's own timeout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-$ROOT/var/bench-scaling}
WORKERS=${WORKERS-"1 2 4"}  # empty: API-alone runs only
N12=${N12:-60}
N1=${N1:-300}
STORAGES=${STORAGES:-local}
API_N=${API_N:-0}
PHOTO=${PHOTO:-}
# Seconds between a fresh start and the measurement: a RabbitMQ node just
# started spends seconds of CPU on its own start-up work, which would count
# against whichever storage runs first (seen: 78 vs 11 broker CPU-ms per image).
SETTLE_S=${SETTLE_S:-20}
PY=/usr/bin/python3
mkdir -p "$OUT"
BIN=${PHOTO_BIN:-$ROOT/build/release/photo-pipeline}
[ -x "$BIN" ] || { echo "no $BIN: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
export PHOTO_VAR_DIR=${PHOTO_VAR_DIR:-$ROOT/var/bench-scaling-system}
export PHOTO_PIPELINE_LISTEN=${PHOTO_PIPELINE_LISTEN:-127.0.0.1:18615}
export PHOTO_RMQ_PORT=${PHOTO_RMQ_PORT:-15615}
export PHOTO_RMQ_DIR=${PHOTO_RMQ_DIR:-$PHOTO_VAR_DIR/rabbitmq}  # bench.py --verify asks this node
export PHOTO_RMQ_MGMT_PORT=${PHOTO_RMQ_MGMT_PORT:-0}
export PHOTO_S3_PORT=${PHOTO_S3_PORT:-17480}
BENCH=(--port "${PHOTO_PIPELINE_LISTEN##*:}" --amqp-url "amqp://guest:guest@127.0.0.1:$PHOTO_RMQ_PORT/"
       --bin "$BIN" --var "$PHOTO_VAR_DIR")
PHOTO12=(--mp 12)
if [ "$PHOTO" = real ]; then
  PHOTO=$OUT/real-baseline.jpg
  jpegtran -copy none -outfile "$PHOTO" /usr/share/backgrounds/Dragonfly_by_Bolly.jpg
fi
[ -n "$PHOTO" ] && PHOTO12=(--photo "$PHOTO")

trap './scripts/stop.sh >/dev/null 2>&1 || true' EXIT
# stop.sh also stops the gateway: each S3 run starts with an empty one.
# The broker's data goes too: API-alone runs leave their jobs queued (no
# workers), and the next invocation's workers would drain thousands of them
# (each an "image deleted" clean-up on the store) before the measured images.
fresh() { ./scripts/stop.sh >/dev/null 2>&1 || true; rm -rf "$PHOTO_VAR_DIR/data" "$PHOTO_RMQ_DIR"; }
for w in $WORKERS; do
  for st in $STORAGES; do
    fresh
    echo "== $w worker process(es) per stage, $st storage (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    PHOTO_BIN=$BIN PHOTO_WORKERS_PER_STAGE=$w PHOTO_STORAGE=$st ./scripts/run.sh >"$OUT/run-$st-$w.log" 2>&1
    sleep "$SETTLE_S"
    $PY tools/bench.py "${BENCH[@]}" -n "$N12" -c 8 "${PHOTO12[@]}" --json "$OUT/$st-w$w-12mp.json" 2>/dev/null | tail -n +3
    [ "$N1" -gt 0 ] && $PY tools/bench.py "${BENCH[@]}" -n "$N1" -c 16 --mp 1 --json "$OUT/$st-w$w-1mp.json" 2>/dev/null | tail -n +3
  done
done
if [ "$API_N" -gt 0 ]; then
  for st in $STORAGES; do
    fresh
    echo "== API alone, $st storage (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    PHOTO_BIN=$BIN PHOTO_API_ONLY=1 PHOTO_STORAGE=$st ./scripts/run.sh >"$OUT/run-$st-api.log" 2>&1
    sleep "$SETTLE_S"
    $PY tools/bench.py "${BENCH[@]}" --api-only -n "$API_N" -c 48 --kb 200 --verify --json "$OUT/$st-api.json" 2>/dev/null
  done
fi

$PY - "$OUT" "$STORAGES" "$API_N" $WORKERS <<'EOF'
import json, os, sys
out, storages, api_n, workers = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4:]
print("\n| storage | workers/stage | photo | completed/s | p50 / p99 s | CPU ms/image: api / broker / s3 / resize / watermark / detect / total |")
print("|---|---|---|---|---|---|")
for w in workers:
    for st in storages:
        for mp in ("12mp", "1mp"):
            path = f"{out}/{st}-w{w}-{mp}.json"
            if not os.path.exists(path):
                continue
            d = json.load(open(path))
            cpu = d["cpu_ms_per_image"]
            pick = lambda p: sum(v for k, v in cpu.items() if k.startswith(p))
            print(f"| {st} | {w} | {d['photo']} | {d['completed_per_s']:.2f} | {d['latency_s']['p50']:.1f} / "
                  f"{d['latency_s']['p99']:.1f} | {cpu.get('api', 0):.1f} / {cpu.get('rabbitmq', 0):.1f} / "
                  f"{pick('s3-'):.0f} / {pick('worker-resize'):.0f} / {pick('worker-watermark'):.0f} / "
                  f"{pick('worker-detect'):.0f} / {d['cpu_ms_per_image_total']:.0f} |")
if "local" in storages and "s3" in storages:
    for w in workers:
        loc, s3 = (json.load(open(f"{out}/{st}-w{w}-12mp.json")) for st in ("local", "s3"))
        print(f"12 MP, {w} workers/stage: S3 {s3['completed_per_s']:.2f} / local "
              f"{loc['completed_per_s']:.2f} images/s = {100 * s3['completed_per_s'] / loc['completed_per_s']:.0f} %")
if api_n > 0:
    for st in storages:
        d = json.load(open(f"{out}/{st}-api.json"))
        print(f"API alone, {st}: {d['uploads_per_s']:.0f} uploads/s of {d['photo_bytes'] // 1000} kB "
              f"(accepted {d['accepted']}/{d['uploads']}, p99 {d['latency_ms']['p99']:.0f} ms, "
              f"verify {d.get('verify', {})})")
EOF
