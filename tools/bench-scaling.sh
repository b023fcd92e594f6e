#!/usr/bin/env bash
# Throughput and CPU per image with 1, 2 and 4 worker processes per stage:
# for each count, (re)starts the system with scripts/run.sh, runs
# tools/bench.py at 12 MP and at 1 MP, and keeps the JSON of every run.
#
#   tools/bench-scaling.sh [OUT_DIR]        # default var/bench-scaling
#   WORKERS="1 2" N12=40 N1=200 tools/bench-scaling.sh
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
PY=/usr/bin/python3
mkdir -p "$OUT"
BIN=${PHOTO_BIN:-$ROOT/build/release/photo-pipeline}
[ -x "$BIN" ] || { echo "no $BIN: cmake --preset release && cmake --build --preset release" >&2; exit 1; }

trap './scripts/stop.sh >/dev/null 2>&1 || true' EXIT
for w in $WORKERS; do
  ./scripts/stop.sh >/dev/null 2>&1 || true
  echo "== $w worker process(es) per stage (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  PHOTO_BIN=$BIN PHOTO_WORKERS_PER_STAGE=$w ./scripts/run.sh >"$OUT/run-$w.log" 2>&1
  $PY tools/bench.py -n "$N12" -c 8 --mp 12 --json "$OUT/w$w-12mp.json" 2>/dev/null | tail -n +3
  $PY tools/bench.py -n "$N1" -c 16 --mp 1 --json "$OUT/w$w-1mp.json" 2>/dev/null | tail -n +3
done

$PY - "$OUT" $WORKERS <<'EOF'
import json, sys
out, workers = sys.argv[1], sys.argv[2:]
print("\n| workers/stage | photos | completed/s | p50 / p99 s | CPU ms/image: api / broker / resize / watermark / detect / total |")
print("|---|---|---|---|---|")
for w in workers:
    for mp in ("12mp", "1mp"):
        d = json.load(open(f"{out}/w{w}-{mp}.json"))
        cpu = d["cpu_ms_per_image"]
        stage = lambda s: sum(v for k, v in cpu.items() if k.startswith("worker-" + s))
        print(f"| {w} | {mp} | {d['completed_per_s']:.2f} | {d['latency_s']['p50']:.1f} / "
              f"{d['latency_s']['p99']:.1f} | {cpu.get('api', 0):.1f} / {cpu.get('rabbitmq', 0):.1f} / "
              f"{stage('resize'):.0f} / {stage('watermark'):.0f} / {stage('detect'):.0f} / "
              f"{d['cpu_ms_per_image_total']:.0f} |")
EOF
