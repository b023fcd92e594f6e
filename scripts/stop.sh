#!/usr/bin/env bash
# Stops exactly the processes ./scripts/run.sh started (by their PID files),
# then the private RabbitMQ node. Never kills by name.
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
