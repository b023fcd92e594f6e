#!/usr/bin/env bash
# CPU per S3 request of the Ceph daemons that scripts/s3.sh runs (gateway,
# memstore OSD, monitor), for the current ceph.conf and for variants of it,
# measured in the same run:
#
#   tools/bench-s3-requests.sh ['NAME:ceph.conf lines' ...]
#
# e.g. tools/bench-s3-requests.sh 'crc-off:[global];ms crc data = false'
# (';' separates lines; they are appended to scripts/s3.sh's ceph.conf through
# PHOTO_S3_CONF_EXTRA, a later value winning; a line `env VAR=value` is
# instead put in scripts/s3.sh's environment, which its daemons inherit, e.g.
# 'glibc-default:env PHOTO_S3_MALLOC=default'). Each variant, and "current"
# (scripts/s3.sh as it is), gets a private one-node cluster of its own on free
# ports under a temp dir; after SETTLE_S seconds and one warm-up pass, ROUNDS
# rounds run build/release/bench/photo_s3_requests against each cluster in
# turn (the order rotating from round to round, so that load from elsewhere
# hits every variant alike): COUNT requests of each kind at CONCURRENCY, then
# IDLE_S seconds without requests. Prints, per kind of request, the median
# over rounds of each daemon's CPU ms per request (idle: per second), read
# from /proc/<pid>/stat: valid on a loaded machine, unlike the requests/s.
# Every daemon it started is stopped at exit, by PID (scripts/s3.sh stop).
#
# Environment [defaults]: ROUNDS [3], COUNT [200], CONCURRENCY [8], IDLE_S [10],
# SETTLE_S [20], BUILD [build/release] (needs its photo_s3_requests target),
# KEEP_RAW [empty: set to a path to keep the raw lines there].
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-200}
CONCURRENCY=${CONCURRENCY:-8}
IDLE_S=${IDLE_S:-10}
SETTLE_S=${SETTLE_S:-20}
BUILD=${BUILD:-$REPO/build/release}
TOOL=$BUILD/bench/photo_s3_requests
[ -x "$TOOL" ] || {
  echo "missing $TOOL: cmake --build --preset release -j2 --target photo_s3_requests" >&2
  exit 2
}

T=$(mktemp -d /tmp/bench-s3-requests.XXXXXX)
names=(current)
extras=("")
envs=("")
for spec in "$@"; do
  names+=("${spec%%:*}")
  lines=$(printf '%s' "${spec#*:}" | tr ';' '\n')
  extras+=("$(printf '%s\n' "$lines" | grep -v '^env ' || true)")
  envs+=("$(printf '%s\n' "$lines" | sed -n 's/^env //p')")
done

cleanup() {
  for name in "${names[@]}"; do
    [ -f "$T/$name/port" ] || continue
    PHOTO_S3_DIR=$T/$name PHOTO_S3_PORT=$(cat "$T/$name/port") "$REPO/scripts/s3.sh" stop || true
  done
  if [ -n "${KEEP_RAW:-}" ] && [ -f "$T/raw.txt" ]; then cp "$T/raw.txt" "$KEEP_RAW"; fi
  rm -rf "$T"
}
trap cleanup EXIT

# A port P with P and P+1 (the monitor) free, away from the test fixtures'
# fixed ranges (below 31000).
free_port_pair() {
  python3 - <<'PY'
import random, socket
def free(p):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p)); return True
        except OSError:
            return False
while True:
    p = random.randrange(40000, 60000, 2)
    if free(p) and free(p + 1):
        print(p); break
PY
}

for i in "${!names[@]}"; do
  name=${names[$i]}
  mkdir -p "$T/$name"
  free_port_pair >"$T/$name/port"
  echo "== starting $name on port $(cat "$T/$name/port")" >&2
  # shellcheck disable=SC2086  # one VAR=value word per line, no spaces
  env ${envs[$i]} PHOTO_S3_DIR="$T/$name" PHOTO_S3_PORT="$(cat "$T/$name/port")" \
    PHOTO_S3_CONF_EXTRA="${extras[$i]}" "$REPO/scripts/s3.sh" start
done

run_one() {  # run_one NAME TAG COUNT IDLE_S
  local d=$T/$1
  local pids
  pids="rgw=$(cat "$d/run/client.rgw.pid"),osd=$(cat "$d/run/osd.0.pid"),mon=$(cat "$d/run/mon.a.pid")"
  (set -a && . "$d/env" && set +a &&
    "$TOOL" --pids "$pids" --count "$3" --concurrency "$CONCURRENCY" --idle-s "$4" --tag "$2")
}

sleep "$SETTLE_S"
for name in "${names[@]}"; do run_one "$name" "$name-warmup" 20 1 >/dev/null; done
n=${#names[@]}
for r in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $((n - 1))); do
    name=${names[$(((k + r) % n))]}
    echo "== round $r: $name (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    run_one "$name" "$name-r$r" "$COUNT" "$IDLE_S" | sed "s/^/variant=$name /" | tee -a "$T/raw.txt" >&2
  done
done

echo
echo "tools/bench-s3-requests.sh: ROUNDS=$ROUNDS COUNT=$COUNT CONCURRENCY=$CONCURRENCY IDLE_S=$IDLE_S, $(date -u '+%F %H:%M UTC'), $(ceph --version | cut -d' ' -f1-3)"
for i in "${!names[@]}"; do
  [ "$i" = 0 ] || printf '  %s: %s\n' "${names[$i]}" "$(printf '%s\n%s' "${extras[$i]}" "${envs[$i]}" | grep . | tr '\n' ';')"
done
python3 - "$T/raw.txt" "${names[@]}" <<'PY'
import statistics, sys
from collections import defaultdict
path, names = sys.argv[1], sys.argv[2:]
vals = defaultdict(list)  # (phase, variant, field) -> [values]
phases = []
for line in open(path):
    f = dict(kv.split("=", 1) for kv in line.split())
    if f["phase"] in ("setup-list", "cleanup"):
        continue
    if f["phase"] not in phases:
        phases.append(f["phase"])
    for k in ("rgw", "osd", "mon", "client", "per_s"):
        if k in f:
            vals[(f["phase"], f["variant"], k)].append(float(f[k]))
med = lambda p, v, k: statistics.median(vals[(p, v, k)]) if vals[(p, v, k)] else float("nan")
print("\nCeph CPU ms per request (idle: per second), median of rounds: gateway + OSD + monitor = total"
      " [change against current]")
print(f"{'phase':<10}" + "".join(f" | {n:>30}" for n in names))
for p in phases:
    row = f"{p:<10}"
    base = med(p, names[0], "rgw") + med(p, names[0], "osd") + med(p, names[0], "mon")
    for n in names:
        r, o, m = med(p, n, "rgw"), med(p, n, "osd"), med(p, n, "mon")
        tot = r + o + m
        change = "" if n == names[0] or base == 0 else f" [{100 * (tot - base) / base:+.0f}%]"
        row += f" | {r:6.2f}+{o:6.2f}+{m:5.2f}={tot:6.2f}{change:>7}"
    print(row)
print("\nclient CPU ms per request / requests per s (not comparable under load), median of rounds")
for p in phases:
    if p == "idle":
        continue
    print(f"{p:<10}" + "".join(f" | {med(p, n, 'client'):6.2f} / {med(p, n, 'per_s'):7.1f}" for n in names))
PY
