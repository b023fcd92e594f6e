#!/usr/bin/env bash
# Stops exactly the processes ./scripts/run.sh started (by their PID files),
# then the private RabbitMQ node and S3 gateway. Never kills by name.
set -uo pipefail
cd "$(dirname "$0")/.."
VAR=${PHOTO_VAR_DIR:-$PWD/var}
export PHOTO_RMQ_DIR=${PHOTO_RMQ_DIR:-$VAR/rabbitmq}
pids=()
for f in "$VAR"/run/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" && pids+=("$pid") && echo "stopping $(basename "$f" .pid) (pid $pid)"
  fi
  rm -f "$f"
done
# Workers finish or requeue their current job; give them a bounded time.
for _ in $(seq 1 60); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.5
done
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"; done
./scripts/rabbitmq.sh stop || true
# The S3 gateway of PHOTO_STORAGE=s3, if run.sh started one (its objects
# live in memory: they go with it).
export PHOTO_S3_DIR=${PHOTO_S3_DIR:-$VAR/s3}
[ -f "$PHOTO_S3_DIR/ceph.conf" ] && ./scripts/s3.sh stop
true
