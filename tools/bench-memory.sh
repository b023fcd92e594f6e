#!/usr/bin/env bash
# Memory under load: starts the system fresh (scripts/run.sh, one worker per
# stage unless PHOTO_WORKERS_PER_STAGE says otherwise), then
#   1. a few 50 MP JPEGs: each process's peak RSS (VmHWM) afterwards;
#   2. N photos (default 1000 at 12 MP) while sampling every process's RSS
#      once a second: RSS after the first tenth of the photos, at the end,
#      and the growth between them (flat = no leak, no creeping cache).
#
#   tools/bench-memory.sh [OUT_DIR]            # default var/bench-memory
#   N=1000 MP=12 N50=3 tools/bench-memory.sh
#
# Stops the system it started (scripts/stop.sh, by PID). Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-$ROOT/var/bench-memory}
N=${N:-1000}
MP=${MP:-12}
N50=${N50:-3}
PY=/usr/bin/python3
BIN=${PHOTO_BIN:-$ROOT/build/release/photo-pipeline}
[ -x "$BIN" ] || { echo "no $BIN: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
mkdir -p "$OUT"

SAMPLER=
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  ./scripts/stop.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT

./scripts/stop.sh >/dev/null 2>&1 || true
PHOTO_BIN=$BIN ./scripts/run.sh >"$OUT/run.log" 2>&1
echo "== $N50 x 50 MP (load: $(cut -d' ' -f1-3 /proc/loadavg))"
$PY tools/bench.py -n "$N50" -c 1 --mp 50 --variants 1 --json "$OUT/50mp.json" 2>/dev/null | tail -n +3

# RSS of every worker and the API once a second: "seconds name kB".
(
  start=$(date +%s)
  while :; do
    now=$(( $(date +%s) - start ))
    for f in var/run/*.pid; do
      pid=$(cat "$f" 2>/dev/null) || continue
      kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
      [ -n "$kb" ] && echo "$now $(basename "$f" .pid) $kb"
    done
    sleep 1
  done
) >"$OUT/rss.txt" &
SAMPLER=$!

echo "== $N x $MP MP"
$PY tools/bench.py -n "$N" -c 16 --mp "$MP" --json "$OUT/soak.json" 2>/dev/null | tail -n +3
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=

$PY - "$OUT" <<'EOF'
import collections, json, sys
out = sys.argv[1]
fifty = json.load(open(f"{out}/50mp.json"))
print("\nPeak RSS (VmHWM) per process after the 50 MP photos, MB:")
for name, mb in sorted(fifty.get("peak_rss_mb", {}).items()):
    print(f"  {name:<22} {mb:7.1f}")
series = collections.defaultdict(list)
for line in open(f"{out}/rss.txt"):
    t, name, kb = line.split()
    series[name].append((int(t), int(kb) / 1024.0))
# Growth = the peak of the second half minus the peak of the first: a leak
# or a creeping cache shows as a positive growth; warm-up (caches and arenas
# filling during the first seconds) does not.
print("\nRSS over the soak, MB (peak of the 1st half / peak of the 2nd half / growth / last):")
for name, pts in sorted(series.items()):
    if len(pts) < 10:
        continue
    half = len(pts) // 2
    first = max(p[1] for p in pts[:half])
    second = max(p[1] for p in pts[half:])
    print(f"  {name:<22} {first:7.1f} {second:7.1f} {second - first:+7.1f} {pts[-1][1]:7.1f}")
EOF
