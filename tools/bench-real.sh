#!/usr/bin/env bash
# End to end on a real camera photo and a generated one, for one or two
# builds, interleaved (A B A B ...), with the old system's load shape from
# issue #14: 40 uploads at concurrency 4, `run.sh`'s two workers per stage.
#
#   tools/bench-real.sh                                  # this build only
#   BEFORE_BIN=/path/to/old/photo-pipeline tools/bench-real.sh   # before/after
#   ROUNDS=3 N=40 C=4 tools/bench-real.sh [OUT_DIR]      # default var/bench-real
#
# The real photo: Dragonfly_by_Bolly.jpg from Debian's lomiri-wallpapers-16.04
# (4224x3168, 13.4 MP, an outdoor camera shot of leaves), stored progressive
# by the package; it is converted losslessly (same DCT coefficients, jpegtran
# from libjpeg-turbo-progs) to baseline, as cameras write it. Both packages
# are in scripts/setup.sh. The generated photo is bench.py's 12 MP one.
#
# Ports default away from run.sh's (API 18614, AMQP 15614) so a system
# started by hand keeps running; every process this starts is stopped by
# scripts/stop.sh (by PID) at the end. Prints one table; JSON per run in OUT.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-$ROOT/var/bench-real}
ROUNDS=${ROUNDS:-2}
N=${N:-40}
C=${C:-4}
AFTER_BIN=${AFTER_BIN:-$ROOT/build/release/photo-pipeline}
BEFORE_BIN=${BEFORE_BIN:-}
SOURCE_PHOTO=${SOURCE_PHOTO:-/usr/share/backgrounds/Dragonfly_by_Bolly.jpg}
PY=/usr/bin/python3
export PHOTO_VAR_DIR=${PHOTO_VAR_DIR:-$ROOT/var/bench-real-system}
export PHOTO_PIPELINE_LISTEN=${PHOTO_PIPELINE_LISTEN:-127.0.0.1:18614}
export PHOTO_RMQ_PORT=${PHOTO_RMQ_PORT:-15614}
export PHOTO_RMQ_MGMT_PORT=${PHOTO_RMQ_MGMT_PORT:-0}
# A BEFORE_BIN built from another tree looks for the face model under that tree.
export PHOTO_PIPELINE_MODEL_DIR=${PHOTO_PIPELINE_MODEL_DIR:-$ROOT/models}
PORT=${PHOTO_PIPELINE_LISTEN##*:}
AMQP=amqp://guest:guest@127.0.0.1:$PHOTO_RMQ_PORT/

[ -x "$AFTER_BIN" ] || { echo "no $AFTER_BIN: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
[ -f "$SOURCE_PHOTO" ] || { echo "no $SOURCE_PHOTO: run scripts/setup.sh (lomiri-wallpapers-16.04)" >&2; exit 1; }
mkdir -p "$OUT"
REAL=$OUT/real-baseline.jpg
jpegtran -copy none -outfile "$REAL" "$SOURCE_PHOTO"

stop() { PHOTO_VAR_DIR=$PHOTO_VAR_DIR ./scripts/stop.sh >/dev/null 2>&1 || true; }
trap stop EXIT

bins=("after:$AFTER_BIN")
[ -n "$BEFORE_BIN" ] && bins=("before:$BEFORE_BIN" "after:$AFTER_BIN")
for round in $(seq 1 "$ROUNDS"); do
  for entry in "${bins[@]}"; do
    name=${entry%%:*}
    bin=${entry#*:}
    stop
    rm -rf "$PHOTO_VAR_DIR/data"
    echo "== round $round, $name ($bin), load: $(cut -d' ' -f1-3 /proc/loadavg)"
    PHOTO_BIN=$bin ./scripts/run.sh >"$OUT/run-$name-$round.log" 2>&1
    $PY tools/bench.py -n "$N" -c "$C" --port "$PORT" --amqp-url "$AMQP" --bin "$bin" \
      --var "$PHOTO_VAR_DIR" --photo "$REAL" --json "$OUT/$name-real-$round.json" 2>/dev/null |
      sed -n '1,4p'
    $PY tools/bench.py -n "$N" -c "$C" --port "$PORT" --amqp-url "$AMQP" --bin "$bin" \
      --var "$PHOTO_VAR_DIR" --mp 12 --variants 4 --json "$OUT/$name-gen-$round.json" 2>/dev/null |
      sed -n '1,4p'
  done
done

$PY - "$OUT" "$ROUNDS" "${bins[@]}" <<'EOF'
import json, sys
out, rounds, bins = sys.argv[1], int(sys.argv[2]), [b.split(":", 1)[0] for b in sys.argv[3:]]
print("\n| build | photo | round | load (1 min) | completed/s | p50 / p99 s | CPU ms per image: api / resize / watermark / detect / events | all but the broker | broker |")
print("|---|---|---|---|---|---|---|---|---|")
for photo in ("real", "gen"):
    for name in bins:
        for r in range(1, rounds + 1):
            d = json.load(open(f"{out}/{name}-{photo}-{r}.json"))
            cpu = d["cpu_ms_per_image"]
            stage = lambda s: sum(v for k, v in cpu.items() if k.startswith("worker-" + s))
            broker = cpu.get("rabbitmq", 0.0)
            print(f"| {name} | {d['photo']} | {r} | {d['loadavg'][0]} | {d['completed_per_s']:.2f} | "
                  f"{d['latency_s']['p50']:.1f} / {d['latency_s']['p99']:.1f} | "
                  f"{cpu.get('api', 0):.0f} / {stage('resize'):.0f} / {stage('watermark'):.0f} / "
                  f"{stage('detect'):.0f} / {cpu.get('events', 0):.0f} | "
                  f"**{d['cpu_ms_per_image_total'] - broker:.0f}** | {broker:.0f} |")
EOF
