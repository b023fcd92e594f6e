#!/usr/bin/env bash
# Throughput and CPU per image with 1, 2 and 4 worker processes per stage:
# for each count, (re)starts the system with scripts/run.sh, runs
# tools/bench.py at 12 MP and at 1 MP, and keeps the JSON of every run.
#
#   tools/bench-scaling.sh [OUT_DIR]        # default var/bench-scaling
#   WORKERS="1 2" N12=40 N1=200 tools/bench-scaling.sh
#   STORAGES="local s3" WORKERS=2 N1=0 API_N=4000 tools/bench-scaling.sh
#
# STORAGES: blob storage of each run (PHOTO_STORAGE of scripts/run.sh: local
# files, or S3 on a private Ceph gateway started by run.sh), interleaved per
# worker count so both see the same machine; then the S3/local ratio of
# 12 MP images/s. API_N > 0 adds API-alone runs (tools/bench.py --api-only,
# 200 kB, 48 clients) per storage. N1=0 skips the 1 MP runs.
#
# Stops the system it started (scripts/stop.sh, by PID) when done. Loopback
# only; bounded by the upload counts and bench.py's own timeout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-$ROOT/var/bench-scaling}
WORKERS=${WORKERS:-"1 2 4"}
N12=${N12:-60}
N1=${N1:-300}
STORAGES=${STORAGES:-local}
API_N=${API_N:-0}
PY=/usr/bin/python3
mkdir -p "$OUT"
BIN=${PHOTO_BIN:-$ROOT/build/release/photo-pipeline}
[ -x "$BIN" ] || { echo "no $BIN: cmake --preset release && cmake --build --preset release" >&2; exit 1; }

trap './scripts/stop.sh >/dev/null 2>&1 || true' EXIT
# stop.sh also stops the gateway: each S3 run starts with an empty one.
fresh() { ./scripts/stop.sh >/dev/null 2>&1 || true; }
for w in $WORKERS; do
  for st in $STORAGES; do
    fresh
    echo "== $w worker process(es) per stage, $st storage (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    PHOTO_BIN=$BIN PHOTO_WORKERS_PER_STAGE=$w PHOTO_STORAGE=$st ./scripts/run.sh >"$OUT/run-$st-$w.log" 2>&1
    $PY tools/bench.py -n "$N12" -c 8 --mp 12 --json "$OUT/$st-w$w-12mp.json" 2>/dev/null | tail -n +3
    [ "$N1" -gt 0 ] && $PY tools/bench.py -n "$N1" -c 16 --mp 1 --json "$OUT/$st-w$w-1mp.json" 2>/dev/null | tail -n +3
  done
done
if [ "$API_N" -gt 0 ]; then
  for st in $STORAGES; do
    fresh
    echo "== API alone, $st storage (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    PHOTO_BIN=$BIN PHOTO_API_ONLY=1 PHOTO_STORAGE=$st ./scripts/run.sh >"$OUT/run-$st-api.log" 2>&1
    $PY tools/bench.py --api-only -n "$API_N" -c 48 --kb 200 --verify --json "$OUT/$st-api.json" 2>/dev/null
  done
fi

$PY - "$OUT" "$STORAGES" "$API_N" $WORKERS <<'EOF'
import json, os, sys
out, storages, api_n, workers = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4:]
print("\n| storage | workers/stage | photos | completed/s | p50 / p99 s | CPU ms/image: api / broker / s3 / resize / watermark / detect / total |")
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
            print(f"| {st} | {w} | {mp} | {d['completed_per_s']:.2f} | {d['latency_s']['p50']:.1f} / "
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
