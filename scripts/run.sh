#!/usr/bin/env bash
# One command: install what is missing, build, and start the whole system on
# this machine — a private RabbitMQ node (AMQP 5672, management UI 15672), the
# API on 8000, two worker processes per stage and an events listener. Everything runs as
# ordinary processes with data, logs and PID files under ./var.
# Stop exactly these processes with ./scripts/stop.sh.
#
#   PHOTO_API_ONLY=1   start only the broker and the API (no workers, no events
#                      listener): jobs pile up in `resize` (tools/bench.py --api-only)
#   PHOTO_WORKERS_PER_STAGE=N  worker processes per stage (default 2: on two
#                      cores it keeps a core busy while another worker waits on
#                      fsync or a confirm; docs/BENCHMARKS.md has 1/2/4)
#   PHOTO_BIN=path     run this binary instead of building build/photo-pipeline
#                      (e.g. build/release/photo-pipeline from the release preset)
#   PHOTO_STORAGE=s3   keep originals and renditions in S3: also starts a private
#                      Ceph RADOS Gateway (scripts/s3.sh: port 7480, data in
#                      var/s3, bucket photo-pipeline) and points every process at
#                      it; PHOTO_PIPELINE_STORAGE etc. set by you win
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=${PHOTO_VAR_DIR:-$ROOT/var}
export PHOTO_PIPELINE_DATA_DIR=${PHOTO_PIPELINE_DATA_DIR:-$VAR/data}
export PHOTO_RMQ_DIR=${PHOTO_RMQ_DIR:-$VAR/rabbitmq}
export PHOTO_RMQ_PORT=${PHOTO_RMQ_PORT:-5672}
export PHOTO_RMQ_MGMT_PORT=${PHOTO_RMQ_MGMT_PORT:-15672}
export PHOTO_PIPELINE_AMQP_URL=${PHOTO_PIPELINE_AMQP_URL:-amqp://guest:guest@127.0.0.1:$PHOTO_RMQ_PORT/}
LISTEN=${PHOTO_PIPELINE_LISTEN:-0.0.0.0:8000}
export PHOTO_PIPELINE_LISTEN=$LISTEN
API_PORT=${LISTEN##*:}
WORKERS_PER_STAGE=${PHOTO_WORKERS_PER_STAGE:-2}
API_ONLY=${PHOTO_API_ONLY:-0}
BIN=${PHOTO_BIN:-$ROOT/build/photo-pipeline}

./scripts/setup.sh
if [ "${PHOTO_SKIP_BUILD:-0}" != 1 ] && [ -z "${PHOTO_BIN:-}" ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPHOTO_BUILD_TESTS=OFF -DPHOTO_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build build -j "$(nproc)" --target photo-pipeline
fi

mkdir -p "$VAR/run" "$VAR/log" "$PHOTO_PIPELINE_DATA_DIR"
./scripts/rabbitmq.sh start
case ${PHOTO_STORAGE:-local} in
  local) ;;
  s3)
    export PHOTO_S3_DIR=${PHOTO_S3_DIR:-$VAR/s3}
    ./scripts/s3.sh start
    # The gateway's settings, unless the caller set their own.
    while IFS='=' read -r name value; do
      [ -n "${!name:-}" ] || export "$name=$value"
    done <"$PHOTO_S3_DIR/env"
    ;;
  *) echo "PHOTO_STORAGE must be local or s3, got '$PHOTO_STORAGE'" >&2; exit 2 ;;
esac

start() {  # start NAME CMD...: background process, PID in var/run/NAME.pid
  local name=$1; shift
  local pidf=$VAR/run/$name.pid
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
    echo "  $name already running (pid $(cat "$pidf"))"; return
  fi
  nohup "$@" >>"$VAR/log/$name.log" 2>&1 </dev/null &
  echo $! >"$pidf"
  echo "  $name: pid $!, log $VAR/log/$name.log"
}

echo "starting photo-pipeline"
start api "$BIN" api
if [ "$API_ONLY" != 1 ]; then
  for stage in resize watermark detect; do
    for i in $(seq 1 "$WORKERS_PER_STAGE"); do
      start "worker-$stage-$i" "$BIN" worker "$stage"
    done
  done
  start events "$BIN" events --queue events.log
fi

for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
if ! curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null; then
  echo "the API did not become ready: see $VAR/log/api.log" >&2
  exit 1
fi
cat <<MSG

photo-pipeline is running.
  web app:        http://localhost:$API_PORT/   (upload, live progress, gallery, operator view)
  API:            http://localhost:$API_PORT/docs   (OpenAPI: /openapi.json, metrics: /metrics)
  RabbitMQ UI:    http://localhost:$PHOTO_RMQ_MGMT_PORT  (guest / guest, loopback only)
  events:         tail -f $VAR/log/events.log
  logs, PIDs:     $VAR/log, $VAR/run
  storage:        ${PHOTO_PIPELINE_STORAGE:-local files under $PHOTO_PIPELINE_DATA_DIR}${PHOTO_PIPELINE_S3_ENDPOINT:+ at $PHOTO_PIPELINE_S3_ENDPOINT}
  try:            curl -X POST http://localhost:$API_PORT/upload/ -F "file=@photo.jpeg"
                  curl http://localhost:$API_PORT/status/<id>
  stop:           ./scripts/stop.sh
MSG
