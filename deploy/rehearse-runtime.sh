#!/usr/bin/env bash
# Rehearses the Dockerfile's runtime stage without a Docker engine: a
# debootstrap'ed Debian 12 minbase (what debian:bookworm-slim is) in a chroot,
# the runtime stage's own apt-get RUN line (read from the Dockerfile), the
# user, the installed tree of a local build, then the image's checks
# (ldd, --version) and `photo-pipeline process` as uid 10001 on a generated
# image, and the HEALTHCHECK command against a running API.
#
#   sudo deploy/rehearse-runtime.sh [build-dir]     # default build/deploy
#
# Needs root, debootstrap, the Debian archive (network), ~1 GB in $WORK.
# Manual, not CI: it downloads ~300 MB. Leaves $WORK for inspection; remove
# it with `rm -rf "$WORK"` (default /tmp/photo-runtime-rehearsal).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/deploy}
WORK=${WORK:-/tmp/photo-runtime-rehearsal}
R=$WORK/rootfs
# The archive this machine's apt already uses (deb822 sources first).
host_mirror() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ]; then awk '/^URIs:/{print $2; exit}' "$f"; return; fi
  awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list
}
MIRROR=${MIRROR:-$(host_mirror)}
SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}
[ -n "$MIRROR" ] || { echo "set MIRROR to a Debian archive URL" >&2; exit 1; }

command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
DESTDIR=$PWD/$BUILD/stage cmake --install "$BUILD" --prefix /usr >/dev/null

if [ ! -x "$R/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase bookworm "$R" "$MIRROR"
fi
cat >"$R/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
EOF
cp /etc/resolv.conf "$R/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"; chmod +x "$R/usr/sbin/policy-rc.d"

# The runtime stage's RUN lines, exactly as the builder would run them.
/usr/bin/python3 - "$R/tmp/runtime-stage.sh" <<'EOF'
import sys
sys.path.insert(0, "deploy")
import check_deploy as c
stages = c.split_stages(c.parse_dockerfile(open("Dockerfile").read()))
runs = [a for a, _ in c.run_commands_of(stages[-1])]
# Lines before the COPY of the binary: packages and the user.
open(sys.argv[1], "w").write("set -e\n" + "\n".join(r for r in runs if "photo-pipeline --version" not in r) + "\n")
EOF
if ! chroot "$R" id photo >/dev/null 2>&1; then
  chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    /bin/sh /tmp/runtime-stage.sh
  chroot "$R" apt-get clean  # docker-clean does this in the official images
fi
cp "$BUILD/stage/usr/bin/photo-pipeline" "$R/usr/bin/photo-pipeline"
rm -rf "$R/usr/share/photo-pipeline"; cp -r "$BUILD/stage/usr/share/photo-pipeline" "$R/usr/share/"

run() { chroot --userspec=10001:10001 "$R" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/data \
          PHOTO_PIPELINE_DATA_DIR=/data PHOTO_PIPELINE_MODEL_DIR=/usr/share/photo-pipeline/models "$@"; }
if chroot "$R" ldd /usr/bin/photo-pipeline | grep -F 'not found'; then exit 1; fi
run /usr/bin/photo-pipeline --version
# A generated test image (host libvips-tools; tests never read shared photos).
run /bin/sh -c 'rm -rf /data/rehearsal && mkdir -p /data/rehearsal'
/usr/bin/vips gaussnoise "$WORK/in.jpg" 1200 800 --mean 128 --sigma 40
install -m 0644 "$WORK/in.jpg" "$R/data/rehearsal/in.jpg"
run PHOTO_PIPELINE_WATERMARK_TEXT="(c) rehearsal" /usr/bin/photo-pipeline process \
    /data/rehearsal/in.jpg --out /data/rehearsal/out >"$WORK/process.json"
grep -q '"status": "completed"' "$WORK/process.json"
echo "process: completed ($(find "$R/data/rehearsal/out" -maxdepth 1 -name '*.jpg' -printf '%f '))"
run PHOTO_PIPELINE_FACE_MODEL=haar /usr/bin/photo-pipeline process \
    /data/rehearsal/in.jpg --out /data/rehearsal/out-haar | grep -q '"status": "completed"'
echo "process with the Haar cascade (opencv-data): completed"

# The HEALTHCHECK command against the API (store: SQLite; no broker needed for /healthz).
port=${PORT:-48199}
# `exec`: $! must be the API itself, not a subshell, for the kill below.
(exec chroot --userspec=10001:10001 "$R" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/data \
   PHOTO_PIPELINE_DATA_DIR=/data PHOTO_PIPELINE_LISTEN="127.0.0.1:$port" \
   PHOTO_PIPELINE_AMQP_URL=amqp://guest:guest@127.0.0.1:1/ PHOTO_PIPELINE_AMQP_CONNECT_TIMEOUT_MS=200 \
   /usr/bin/photo-pipeline api) >"$WORK/api.log" 2>&1 &
api=$!
trap 'kill -TERM $api 2>/dev/null || true' EXIT
ok=0
for _ in $(seq 1 40); do
  # shellcheck disable=SC2016  # expanded by the chroot's shell, as in the HEALTHCHECK
  if run PHOTO_HEALTHCHECK_URL="http://127.0.0.1:$port/healthz" \
       /bin/sh -c 'curl -fsS --max-time 4 -o /dev/null "$PHOTO_HEALTHCHECK_URL"' 2>/dev/null; then
    ok=1; break
  fi
  sleep 0.25
done
kill -TERM $api; wait $api || true
trap - EXIT
[ $ok = 1 ] || { cat "$WORK/api.log"; echo "HEALTHCHECK failed" >&2; exit 1; }
echo "HEALTHCHECK (curl /healthz as uid 10001): ok"
echo "runtime rootfs: $(du -sh --exclude=proc "$R" | cut -f1) in $R"
echo "rehearse-runtime: ok"
