#!/usr/bin/env bash
# A private RabbitMQ node (Debian's rabbitmq-server 3.10) run as an ordinary
# process: loopback only (or one given address), all state under one
# directory, private ports, so several nodes (tests, a developer's own) can
# coexist with each other and with a system broker.
#
#   scripts/rabbitmq.sh start|stop|restart|kill9|status|wait|ctl ARGS...|diag ARGS...|
#                       queues ARGS...|url
#
# Environment (defaults in brackets):
#   PHOTO_RMQ_DIR        base dir for data, logs, config, PID files [<repo>/var/rabbitmq]
#   PHOTO_RMQ_PORT       AMQP port [5672]
#   PHOTO_RMQ_IP         the one address AMQP, distribution and epmd listen on [127.0.0.1];
#                        another address (e.g. inside a network namespace: run this script
#                        under `ip netns exec`) also lets guest log in from other hosts
#   PHOTO_RMQ_MGMT_PORT  management UI/API port on PHOTO_RMQ_IP, 0 = plugin off [15672]
#   PHOTO_RMQ_DIST_PORT  Erlang distribution port [AMQP+20000, or AMQP-20000 above 45535];
#                        CLI tools use the next 3 ports, so space nodes' AMQP ports >= 4 apart
#   PHOTO_RMQ_EPMD_PORT  private epmd port [4370 + AMQP%1000]; never the system's 4369
#   PHOTO_RMQ_NODENAME   Erlang node name [photo-<port>@localhost on 127.0.0.1,
#                        rabbit@<PHOTO_RMQ_IP> (a long name) otherwise]
#   PHOTO_RMQ_CLUSTER    comma list of the node names of a cluster to form or join
#                        (classic_config peer discovery; scripts/rabbitmq-cluster.sh) [none]
#   PHOTO_RMQ_COOKIE     Erlang cookie, the same on every node of a cluster [random per dir]
#   PHOTO_RMQ_NET_TICKTIME  seconds until a silent peer node counts as down, cluster
#                        only [10: a cut-off node pauses (pause_minority) within ~10 s]
#   PHOTO_RMQ_WAIT_S     how long start/wait wait for AMQP to answer [90]
#   PHOTO_RMQ_KEEP_EPMD  1 = stop leaves epmd running (nodes on one address share it) [0]
#
# It runs /usr/lib/rabbitmq/bin/* directly (the /usr/sbin wrappers su to the
# `rabbitmq` user and cd to /var/lib/rabbitmq). `stop` and `kill9` signal only
# the PIDs recorded under PHOTO_RMQ_DIR, after checking that each PID still
# belongs to this node (PIDs get reused).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SBIN=/usr/lib/rabbitmq/bin
BASE=${PHOTO_RMQ_DIR:-$REPO/var/rabbitmq}
PORT=${PHOTO_RMQ_PORT:-5672}
MGMT_PORT=${PHOTO_RMQ_MGMT_PORT:-15672}
if [ -n "${PHOTO_RMQ_DIST_PORT:-}" ]; then
  DIST_PORT=$PHOTO_RMQ_DIST_PORT
elif [ $((PORT + 20000)) -le 65535 ]; then
  DIST_PORT=$((PORT + 20000))
else
  DIST_PORT=$((PORT - 20000))
fi
EPMD_PORT=${PHOTO_RMQ_EPMD_PORT:-$((4370 + PORT % 1000))}
WAIT_S=${PHOTO_RMQ_WAIT_S:-90}
IP=${PHOTO_RMQ_IP:-127.0.0.1}
if [ -n "${PHOTO_RMQ_NODENAME:-}" ]; then
  NODE=$PHOTO_RMQ_NODENAME
elif [ "$IP" = 127.0.0.1 ]; then
  NODE=photo-$PORT@localhost
else
  NODE=rabbit@$IP
fi
# A node name whose host part has a dot (an address) is an Erlang long name;
# the address itself resolves, so no hosts file is needed.
case ${NODE#*@} in *.*) LONGNAMES=true ;; *) LONGNAMES=false ;; esac
CLUSTER=${PHOTO_RMQ_CLUSTER:-}
NET_TICKTIME=${PHOTO_RMQ_NET_TICKTIME:-10}
ERL_IP="{${IP//./,}}"

mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
WRAPPER_PID_FILE=$BASE/wrapper.pid  # the rabbitmq-server /bin/sh wrapper
BEAM_PID_FILE=$BASE/beam.pid        # copy of RabbitMQ's pid file (it deletes its own on stop)
EPMD_PID_FILE=$BASE/epmd.pid
LOG=$BASE/stdout.log
# The node name travels in the environment, not argv; -home <dir> is in argv.
BEAM_MARK="-home $BASE/home "

log() { echo "rabbitmq.sh[$IP:$PORT]: $*" >&2; }

node_env() {
  # HOME holds .erlang.cookie; nothing is written to the real home.
  export HOME=$BASE/home ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=$IP
  export RABBITMQ_NODENAME=$NODE RABBITMQ_NODE_IP_ADDRESS=$IP RABBITMQ_USE_LONGNAME=$LONGNAMES
  export RABBITMQ_NODE_PORT=$PORT RABBITMQ_DIST_PORT=$DIST_PORT
  export RABBITMQ_CONF_ENV_FILE=$BASE/rabbitmq-env.conf RABBITMQ_CONFIG_FILE=$BASE/rabbitmq.conf
  export RABBITMQ_ENABLED_PLUGINS_FILE=$BASE/enabled_plugins
  export RABBITMQ_MNESIA_BASE=$BASE/mnesia RABBITMQ_LOG_BASE=$BASE/log
  export RABBITMQ_PID_FILE=$BASE/rabbitmq.pid
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface $ERL_IP"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface $ERL_IP"
  export RABBITMQ_CTL_DIST_PORT_MIN=$((DIST_PORT + 1)) RABBITMQ_CTL_DIST_PORT_MAX=$((DIST_PORT + 3))
}

# True if PID is a live (not zombie) process whose command line mentions
# `pattern`. PID 1 here does not reap orphans, so `kill -0` alone would call
# a zombie alive.
pid_is() {
  local pid=$1 pattern=$2 state
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed "s/^.*) //" "/proc/$pid/stat" 2>/dev/null | cut -d" " -f1) || return 1
  [ "$state" != Z ] && [ "$state" != X ] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -- "$pattern"
}
read_pid() { [ -f "$1" ] && cat "$1" 2>/dev/null || true; }
beam_alive() { pid_is "$(read_pid "$BEAM_PID_FILE")" "$BEAM_MARK"; }
wrapper_alive() { pid_is "$(read_pid "$WRAPPER_PID_FILE")" rabbitmq-server; }

amqp_answers() {
  # The AMQP listener opens only at the end of boot; a connection.start reply
  # to the protocol header proves the node is serving.
  local reply
  reply=$(timeout 3 bash -c "exec 3<>/dev/tcp/$IP/$PORT && printf 'AMQP\x00\x00\x09\x01' >&3 && head -c 8 <&3 | od -An -tx1" 2>/dev/null) || return 1
  # frame type 1 (method) on channel 0
  [[ $reply == " 01 00 00"* ]]
}

write_config() {
  mkdir -p "$BASE/home" "$BASE/log" "$BASE/mnesia"
  if [ -n "${PHOTO_RMQ_COOKIE:-}" ]; then
    rm -f "$BASE/home/.erlang.cookie"
    printf %s "$PHOTO_RMQ_COOKIE" >"$BASE/home/.erlang.cookie"
    chmod 400 "$BASE/home/.erlang.cookie"
  elif [ ! -f "$BASE/home/.erlang.cookie" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BASE/home/.erlang.cookie"
    chmod 400 "$BASE/home/.erlang.cookie"
  fi
  : >"$BASE/rabbitmq-env.conf"  # keeps /etc/rabbitmq/rabbitmq-env.conf out
  {
    echo "listeners.tcp.1 = $IP:$PORT"
    if [ "$IP" = 127.0.0.1 ]; then
      echo "loopback_users.guest = true"  # guest/guest, from 127.0.0.1 only
    else
      # A node bound to a test network's address serves other "hosts":
      # guest must log in from them (tests and development only).
      echo "loopback_users = none"
    fi
    echo "log.file.level = info"
    echo "log.console = false"
    if [ "$MGMT_PORT" != 0 ]; then
      echo "management.tcp.port = $MGMT_PORT"
      echo "management.tcp.ip = $IP"
    fi
    if [ -n "$CLUSTER" ]; then
      echo "cluster_formation.peer_discovery_backend = classic_config"
      local i=0 n
      for n in ${CLUSTER//,/ }; do
        i=$((i + 1))
        echo "cluster_formation.classic_config.nodes.$i = $n"
      done
      # With 3+ nodes, the side of a partition without a majority stops
      # serving (and closes its clients' connections, so they fail over)
      # rather than diverging.
      echo "cluster_partition_handling = pause_minority"
      echo "net_ticktime = $NET_TICKTIME"
    fi
  } >"$BASE/rabbitmq.conf"
  if [ "$MGMT_PORT" != 0 ]; then
    echo '[rabbitmq_management].' >"$BASE/enabled_plugins"
  else
    echo '[].' >"$BASE/enabled_plugins"
  fi
}

record_epmd_pid() {
  local pid
  pid=$(ss -Hltnp "sport = :$EPMD_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = epmd ]; then
    echo "$pid" >"$EPMD_PID_FILE"
  fi
}

cmd_wait() {
  local deadline=$((SECONDS + WAIT_S))
  until amqp_answers; do
    if [ -f "$WRAPPER_PID_FILE" ] && ! wrapper_alive && ! beam_alive; then
      log "node exited during boot; last log lines:"
      tail -n 30 "$LOG" >&2 || true
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "no AMQP answer on $IP:$PORT after ${WAIT_S}s (see $BASE/log)"
      return 1
    fi
    sleep 0.5
  done
  # RabbitMQ writes its pid file early in boot; keep a copy that survives
  # its own cleanup so `kill9` and `stop` know the beam.
  if [ -f "$BASE/rabbitmq.pid" ]; then cp "$BASE/rabbitmq.pid" "$BEAM_PID_FILE"; fi
  record_epmd_pid
}

cmd_start() {
  if beam_alive && amqp_answers; then
    log "already running ($NODE, amqp $IP:$PORT)"
    return 0
  fi
  if beam_alive || wrapper_alive; then
    log "node is booting or stopping; waiting"
    cmd_wait
    return
  fi
  if amqp_answers; then
    log "$IP:$PORT already answers AMQP but not as this node ($BASE): refusing"
    return 1
  fi
  local p
  for p in "$PORT" "$DIST_PORT" $([ "$MGMT_PORT" != 0 ] && echo "$MGMT_PORT"); do
    if [ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
      log "port $p is already in use: refusing (pick other PHOTO_RMQ_* ports)"
      return 1
    fi
  done
  write_config
  rm -f "$BEAM_PID_FILE" "$BASE/rabbitmq.pid"
  local started=$SECONDS
  (
    node_env
    cd "$BASE"
    # setsid: the node survives the caller's session and terminal signals.
    exec setsid "$SBIN/rabbitmq-server" >>"$LOG" 2>&1 </dev/null
  ) &
  echo $! >"$WRAPPER_PID_FILE"
  cmd_wait
  log "started $NODE: amqp $IP:$PORT, mgmt ${MGMT_PORT}, epmd $EPMD_PORT, dist $DIST_PORT, beam $(read_pid "$BEAM_PID_FILE") in $((SECONDS - started))s"
}

wait_gone() {  # pid pattern seconds
  local deadline=$((SECONDS + $3))
  while pid_is "$1" "$2"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

stop_epmd() {
  [ "${PHOTO_RMQ_KEEP_EPMD:-0}" = 1 ] && return 0
  local pid
  pid=$(read_pid "$EPMD_PID_FILE")
  if pid_is "$pid" epmd; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" epmd 5 || kill -KILL "$pid" 2>/dev/null || true
  elif command -v epmd >/dev/null; then
    # Only the epmd on our private port; never 4369's.
    ERL_EPMD_PORT=$EPMD_PORT epmd -kill >/dev/null 2>&1 || true
  fi
  rm -f "$EPMD_PID_FILE"
}

cmd_stop() {
  local beam wrapper
  beam=$(read_pid "$BEAM_PID_FILE")
  [ -n "$beam" ] || beam=$(read_pid "$BASE/rabbitmq.pid")
  wrapper=$(read_pid "$WRAPPER_PID_FILE")
  if pid_is "$beam" "$BEAM_MARK"; then
    kill -TERM "$beam" 2>/dev/null || true
    if ! wait_gone "$beam" "$BEAM_MARK" 60; then
      log "beam $beam ignored SIGTERM for 60s; SIGKILL"
      kill -KILL "$beam" 2>/dev/null || true
      wait_gone "$beam" "$BEAM_MARK" 10 || true
    fi
  elif pid_is "$wrapper" rabbitmq-server; then
    # Still booting (no pid file yet): the wrapper turns TERM into a stop.
    kill -TERM "$wrapper" 2>/dev/null || true
  fi
  if ! wait_gone "$wrapper" rabbitmq-server 15; then
    kill -KILL "$wrapper" 2>/dev/null || true
  fi
  stop_epmd
  rm -f "$BEAM_PID_FILE" "$WRAPPER_PID_FILE"
  log "stopped"
}

cmd_kill9() {
  local beam
  beam=$(read_pid "$BEAM_PID_FILE")
  if ! pid_is "$beam" "$BEAM_MARK"; then
    log "no running beam recorded in $BEAM_PID_FILE"
    return 1
  fi
  kill -KILL "$beam"
  wait_gone "$beam" "$BEAM_MARK" 10 || true
  wait_gone "$(read_pid "$WRAPPER_PID_FILE")" rabbitmq-server 10 || true
  log "killed beam $beam (epmd left running; data kept)"
}

cmd_status() {
  if beam_alive && amqp_answers; then
    echo "running $NODE amqp=$IP:$PORT mgmt=$MGMT_PORT beam=$(read_pid "$BEAM_PID_FILE") dir=$BASE"
    return 0
  fi
  if beam_alive || wrapper_alive; then
    echo "starting-or-stopping $NODE dir=$BASE"
    return 4
  fi
  echo "stopped $NODE dir=$BASE"
  return 3
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop && cmd_start ;;
  kill9) cmd_kill9 ;;
  status) cmd_status ;;
  wait) cmd_wait ;;
  ctl) node_env && exec "$SBIN/rabbitmqctl" "$@" ;;
  diag) node_env && exec "$SBIN/rabbitmq-diagnostics" "$@" ;;
  queues) node_env && exec "$SBIN/rabbitmq-queues" "$@" ;;
  url) echo "amqp://guest:guest@$IP:$PORT/" ;;
  *)
    sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
