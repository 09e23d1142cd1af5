#!/usr/bin/env bash
# Starts and stops the private services the integration tests need:
#   dockerd     (socket $CTRSNAP_TEST_RUN/docker.sock, runtime "ctrsnap" registered)
#   containerd  (socket $CTRSNAP_TEST_RUN/containerd/containerd.sock)
#   registry    (http://127.0.0.1:5000, storage under the scratch folder)
# Nothing of the host's own services is touched: each has its own root, state and socket.
#
# usage: tests/services.sh start BIN_DIR | stop | env
#                        | restart-dockerd BIN_DIR [LIVE_RESTORE] | restart-containerd
#   `env` prints the variables tests read (eval "$(tests/services.sh env)").
#   restart-*: stop (TERM) and start one daemon as `start` does, for the engine-restart tests;
#   LIVE_RESTORE (true|false, default false) is dockerd's "live-restore" from then on.
set -uo pipefail

RUN=${CTRSNAP_TEST_RUN:-/run/ctrsnap-test}
DATA=${CTRSNAP_TEST_DATA:-/var/tmp/ctrsnap-test}
REGISTRY_ADDR=${CTRSNAP_TEST_REGISTRY:-127.0.0.1:5000}

print_env() {
  echo "export DOCKER_HOST=unix://$RUN/docker.sock"
  echo "export CONTAINERD_ADDRESS=$RUN/containerd/containerd.sock"
  echo "export CONTAINERD_NAMESPACE=ctrsnap-test"
  echo "export CTRSNAP_TEST_REGISTRY=$REGISTRY_ADDR"
  echo "export CTRSNAP_TEST_SERVICES=1"
  echo "export CTRSNAP_ROOT=$RUN/st"
  echo "export CTRSNAP_CONFIG=$RUN/ctrsnap-config.json"
}

wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

start_containerd() {
  mkdir -p "$RUN/containerd" "$DATA/containerd"
  cat >"$RUN/containerd/config.toml" <<TOML
version = 2
root = "$DATA/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$RUN/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
[plugins."io.containerd.internal.v1.opt"]
  path = "$DATA/containerd/opt"
TOML
  containerd --config "$RUN/containerd/config.toml" >>"$DATA/containerd.log" 2>&1 &
  echo $! >"$RUN/containerd.pid"
  wait_for 30 ctr -a "$RUN/containerd/containerd.sock" version || {
    echo "services: containerd did not start; see $DATA/containerd.log" >&2; return 1; }
}

start_dockerd() {
  local bin=$1 live_restore=${2:-false}
  mkdir -p "$DATA/docker" "$RUN/docker-exec"
  cat >"$RUN/daemon.json" <<JSON
{
  "runtimes": { "ctrsnap": { "path": "$bin/ctrsnap-runtime" } },
  "storage-driver": "overlay2",
  "live-restore": $live_restore
}
JSON
  dockerd --config-file "$RUN/daemon.json" --data-root "$DATA/docker" \
    --exec-root "$RUN/docker-exec" --pidfile "$RUN/dockerd.pid" \
    -H "unix://$RUN/docker.sock" --containerd "$RUN/containerd/containerd.sock" \
    --iptables=false --ip-masq=false --bridge=none >>"$DATA/dockerd.log" 2>&1 &
  wait_for 60 docker -H "unix://$RUN/docker.sock" version || {
    echo "services: dockerd did not start; see $DATA/dockerd.log" >&2; return 1; }
}

start_registry() {
  mkdir -p "$DATA/registry"
  cat >"$RUN/registry.yml" <<YML
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $DATA/registry }
  delete: { enabled: true }
http:
  addr: $REGISTRY_ADDR
YML
  docker-registry serve "$RUN/registry.yml" >"$DATA/registry.log" 2>&1 &
  echo $! >"$RUN/registry.pid"
  wait_for 30 bash -c "exec 3<>/dev/tcp/${REGISTRY_ADDR%:*}/${REGISTRY_ADDR#*:}" || {
    echo "services: registry did not start; see $DATA/registry.log" >&2; return 1; }
}

stop_pidfile() {  # stop_pidfile FILE: TERM, then KILL after 10 s
  local f=$1 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}

case "${1:-}" in
  start)
    bin=$(realpath "${2:?usage: services.sh start BIN_DIR}")
    mkdir -p "$RUN" "$DATA"
    # Docker needs its path without the preinstalled newer client shadowing /usr/bin/docker.
    # ctrsnap-runtime, started by containerd's shims, inherits these from
    # containerd: the test state root, never the system's /var/lib/ctrsnap. Short, because a
    # unix socket path (STATE/control.sock) must fit in 108 bytes with a 64-char container id.
    export CTRSNAP_ROOT=$RUN/st CTRSNAP_CONFIG=$RUN/ctrsnap-config.json
    export PATH=/usr/sbin:/usr/bin:$PATH
    start_containerd && start_dockerd "$bin" && start_registry || { "$0" stop; exit 1; }
    echo "services: containerd, dockerd and registry ($REGISTRY_ADDR) are up"
    ;;
  stop)
    stop_pidfile "$RUN/registry.pid"
    stop_pidfile "$RUN/dockerd.pid"
    stop_pidfile "$RUN/containerd.pid"
    # Shims and containers of the private containerd die with their cgroups' tasks.
    pkill -f "containerd-shim.*$RUN/containerd" 2>/dev/null
    grep -o " $DATA[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    grep -o " $RUN[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    echo "services: stopped"
    ;;
  restart-dockerd)
    bin=$(realpath "${2:?usage: services.sh restart-dockerd BIN_DIR [true|false]}")
    case ${3:-false} in true | false) ;; *) echo "live-restore: true or false" >&2; exit 2 ;; esac
    export CTRSNAP_ROOT=$RUN/st CTRSNAP_CONFIG=$RUN/ctrsnap-config.json
    export PATH=/usr/sbin:/usr/bin:$PATH
    stop_pidfile "$RUN/dockerd.pid"
    start_dockerd "$bin" "${3:-false}" || exit 1
    echo "services: dockerd restarted (live-restore ${3:-false})"
    ;;
  restart-containerd)
    export CTRSNAP_ROOT=$RUN/st CTRSNAP_CONFIG=$RUN/ctrsnap-config.json
    export PATH=/usr/sbin:/usr/bin:$PATH
    stop_pidfile "$RUN/containerd.pid"
    start_containerd || exit 1
    echo "services: containerd restarted"
    ;;
  env) print_env ;;
  *) echo "usage: $0 start BIN_DIR | stop | env | restart-dockerd BIN_DIR [true|false] | restart-containerd" >&2
     exit 2 ;;
esac
