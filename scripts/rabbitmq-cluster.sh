#!/usr/bin/env bash
# A RabbitMQ cluster of private nodes (Debian's rabbitmq-server 3.10), each
# node a scripts/rabbitmq.sh node with its own data folder: on loopback (one
# machine, distinct ports), or one node per network namespace (each binds
# its own address, e.g. the three-host test's 198.18.0.x hosts).
#
#   scripts/rabbitmq-cluster.sh start            # seed node 1, then the others; waits until clustered
#   scripts/rabbitmq-cluster.sh stop             # every node (SIGTERM by PID), then epmd
#   scripts/rabbitmq-cluster.sh status           # one line per node; exit 0 if all run
#   scripts/rabbitmq-cluster.sh urls             # PHOTO_PIPELINE_AMQP_URL for the cluster
#   scripts/rabbitmq-cluster.sh start-node I | stop-node I | kill9 I   # one node (1-based)
#   scripts/rabbitmq-cluster.sh ctl I ARGS...    # rabbitmqctl against node I
#   scripts/rabbitmq-cluster.sh queues I ARGS... # rabbitmq-queues against node I
#   scripts/rabbitmq-cluster.sh leader QUEUE     # index of the node holding QUEUE's leader
#   scripts/rabbitmq-cluster.sh running I        # how many nodes node I sees running
#
# Environment (defaults in brackets):
#   PHOTO_RMQC_DIR        base dir (the cookie); node I lives in <dir>/n<I>
#                         [<repo>/var/rabbitmq-cluster]
#   PHOTO_RMQC_NODE_DIRS  space list of the nodes' own folders instead [none]
#   PHOTO_RMQC_NODES      number of nodes [3]
#   PHOTO_RMQC_PORT       AMQP port: node I uses PORT+4(I-1) on loopback, PORT everywhere
#                         with namespaces [5680]
#   PHOTO_RMQC_NETNS      space list of network namespaces (made by the caller), node I
#                         runs inside the I-th [none: all on 127.0.0.1]
#   PHOTO_RMQC_IPS        space list of the nodes' addresses, with PHOTO_RMQC_NETNS
#   PHOTO_RMQC_EPMD_PORT  epmd port of every node [4370 + PORT%1000]
#   PHOTO_RMQC_WAIT_S     how long a node may take to boot [150]
#   PHOTO_RMQ_NET_TICKTIME  see scripts/rabbitmq.sh [10]
#
# Nodes are named photo-<port>@localhost on loopback and rabbit@<address>
# (Erlang long names; an address needs no hosts file) in namespaces. All
# nodes share one Erlang cookie (<dir>/cookie). Nothing is killed by name:
# each node's PIDs are recorded by scripts/rabbitmq.sh under its folder.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_SCRIPT=$REPO/scripts/rabbitmq.sh
BASE=${PHOTO_RMQC_DIR:-$REPO/var/rabbitmq-cluster}
N=${PHOTO_RMQC_NODES:-3}
PORT=${PHOTO_RMQC_PORT:-5680}
read -r -a NETNS <<<"${PHOTO_RMQC_NETNS:-}"
read -r -a IPS <<<"${PHOTO_RMQC_IPS:-}"
read -r -a NODE_DIRS <<<"${PHOTO_RMQC_NODE_DIRS:-}"
EPMD_PORT=${PHOTO_RMQC_EPMD_PORT:-$((4370 + PORT % 1000))}
WAIT_S=${PHOTO_RMQC_WAIT_S:-150}

if [ ${#NETNS[@]} -gt 0 ] && { [ ${#NETNS[@]} -lt "$N" ] || [ ${#IPS[@]} -lt "$N" ]; }; then
  echo "rabbitmq-cluster.sh: PHOTO_RMQC_NETNS and PHOTO_RMQC_IPS need $N entries each" >&2
  exit 2
fi

mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)

log() { echo "rabbitmq-cluster.sh: $*" >&2; }

node_dir() { if [ ${#NODE_DIRS[@]} -ge "$1" ]; then echo "${NODE_DIRS[$(($1 - 1))]}"; else echo "$BASE/n$1"; fi; }
node_ip() { if [ ${#NETNS[@]} -gt 0 ]; then echo "${IPS[$(($1 - 1))]}"; else echo 127.0.0.1; fi; }
node_port() { if [ ${#NETNS[@]} -gt 0 ]; then echo "$PORT"; else echo $((PORT + 4 * ($1 - 1))); fi; }
node_name() {
  if [ ${#NETNS[@]} -gt 0 ]; then echo "rabbit@$(node_ip "$1")"; else echo "photo-$(node_port "$1")@localhost"; fi
}

cluster_names() {
  local i out=
  for i in $(seq 1 "$N"); do out+=${out:+,}$(node_name "$i"); done
  echo "$out"
}

cookie() {
  if [ ! -s "$BASE/cookie" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BASE/cookie"
    chmod 600 "$BASE/cookie"
  fi
  cat "$BASE/cookie"
}

# Runs scripts/rabbitmq.sh for node I (inside its namespace, if any).
node() {
  local i=$1
  shift
  local -a prefix=()
  [ ${#NETNS[@]} -gt 0 ] && prefix=(ip netns exec "${NETNS[$((i - 1))]}")
  PHOTO_RMQ_DIR=$(node_dir "$i") PHOTO_RMQ_PORT=$(node_port "$i") PHOTO_RMQ_IP=$(node_ip "$i") \
    PHOTO_RMQ_NODENAME=$(node_name "$i") PHOTO_RMQ_CLUSTER=$(cluster_names) \
    PHOTO_RMQ_COOKIE=$(cookie) PHOTO_RMQ_EPMD_PORT=$EPMD_PORT PHOTO_RMQ_MGMT_PORT=0 \
    PHOTO_RMQ_WAIT_S=$WAIT_S PHOTO_RMQ_KEEP_EPMD=$([ ${#NETNS[@]} -gt 0 ] && echo 0 || echo 1) \
    "${prefix[@]}" "$NODE_SCRIPT" "$@"
}

# How many cluster members node I sees running (0 if it does not answer).
running_count() {
  node "$1" ctl -q eval 'length(rabbit_nodes:all_running()).' 2>/dev/null | tr -dc 0-9 || true
}

# Membership is symmetric: the seed seeing every node running is enough
# (each CLI call costs an Erlang VM start, 1-2 s idle and far more under load).
wait_clustered() {
  local deadline=$((SECONDS + WAIT_S)) count
  while :; do
    count=$(running_count 1)
    [ "${count:-0}" = "$N" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      log "node 1 sees ${count:-0} of $N nodes running after ${WAIT_S}s"
      return 1
    fi
    sleep 1
  done
}

cmd_start() {
  local started=$SECONDS i rc=0
  local -a pids=()
  # The seed first: the others find it through classic_config and join it.
  node 1 start
  for i in $(seq 2 "$N"); do
    node "$i" start &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  [ $rc = 0 ] || { log "a node did not start"; return 1; }
  wait_clustered
  log "$N nodes running and clustered in $((SECONDS - started))s: $(cmd_urls)"
}

cmd_stop() {
  local i
  # In reverse: the seed last. (Nodes left in a minority pause; SIGTERM
  # still stops them.)
  for i in $(seq "$N" -1 1); do node "$i" stop || true; done
  if [ ${#NETNS[@]} -eq 0 ] && command -v epmd >/dev/null; then
    ERL_EPMD_PORT=$EPMD_PORT epmd -kill >/dev/null 2>&1 || true
  fi
}

cmd_status() {
  local i rc=0
  for i in $(seq 1 "$N"); do node "$i" status || rc=$?; done
  return $rc
}

cmd_urls() {
  local i out=
  for i in $(seq 1 "$N"); do out+=${out:+,}amqp://guest:guest@$(node_ip "$i"):$(node_port "$i")/; done
  echo "$out"
}

cmd_leader() {
  # rabbitmq-queues quorum_status lists every member with its Raft state.
  local q=$1 i name line
  for i in $(seq 1 "$N"); do
    line=$(node "$i" queues -q quorum_status "$q" 2>/dev/null | grep -w leader || true)
    [ -n "$line" ] || continue
    for j in $(seq 1 "$N"); do
      name=$(node_name "$j")
      if grep -qF "$name " <<<"$line "; then
        echo "$j"
        return 0
      fi
    done
  done
  log "no leader found for queue $q"
  return 1
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  urls) cmd_urls ;;
  start-node) node "$1" start ;;
  stop-node) node "$1" stop ;;
  kill9) node "$1" kill9 ;;
  ctl | queues | diag)
    i=$1
    shift
    node "$i" "$cmd" "$@"
    ;;
  leader) cmd_leader "$1" ;;
  running) running_count "$1" ;;
  *)
    sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
