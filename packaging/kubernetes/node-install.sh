#!/usr/bin/env bash
# Installs ctrsnap on a Kubernetes node from inside the node-installer
# DaemonSet (daemonset.yaml), or against any directory that holds a node's
# files (tests: NODE_ROOT=$(mktemp -d)).
#
#   1. copies ctrsnap, ctrsnap-fs, ctrsnap-runtime, ctrsnap-hook to
#      $NODE_ROOT$DEST_BIN (atomically: a running container's shim keeps its file)
#   2. puts the default /etc/ctrsnap/config.json and policy.json there if absent
#   3. `ctrsnap install containerd --root $NODE_ROOT`: registers runtime
#      `ctrsnap` (BinaryName $DEST_BIN/ctrsnap-runtime, as the node sees it)
#   4. restarts containerd via `nsenter -t 1 -m -- systemctl restart containerd`
#      when step 3 changed something and RESTART_CONTAINERD=true
#   5. sleeps (a DaemonSet's pod must keep running) when CTRSNAP_STAY=true
#
# Environment (defaults for the DaemonSet):
#   NODE_ROOT=/host  CTRSNAP_SRC=/opt/ctrsnap  DEST_BIN=/usr/local/bin
#   CONTAINERD_CONFIG=/etc/containerd/config.toml  CTRSNAP_DEFAULT=false
#   RESTART_CONTAINERD=true  CTRSNAP_STAY=true
set -euo pipefail

NODE_ROOT=${NODE_ROOT:-/host}
SRC=${CTRSNAP_SRC:-/opt/ctrsnap}
SRC_BIN=${CTRSNAP_SRC_BIN:-$SRC/bin}
SRC_ETC=${CTRSNAP_SRC_ETC:-$SRC/etc}
DEST_BIN=${DEST_BIN:-/usr/local/bin}
CONTAINERD_CONFIG=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
DEFAULT=${CTRSNAP_DEFAULT:-false}
RESTART=${RESTART_CONTAINERD:-true}
STAY=${CTRSNAP_STAY:-true}

log() { echo "node-install: $*"; }
die() { echo "node-install: $*" >&2; exit 1; }

[[ -d $NODE_ROOT ]] || die "NODE_ROOT $NODE_ROOT is not a directory"
mkdir -p "$NODE_ROOT$DEST_BIN"
for b in ctrsnap ctrsnap-fs ctrsnap-runtime ctrsnap-hook; do
  [[ -x $SRC_BIN/$b ]] || die "$SRC_BIN/$b is missing"
  if cmp -s "$SRC_BIN/$b" "$NODE_ROOT$DEST_BIN/$b"; then
    continue
  fi
  install -m 0755 "$SRC_BIN/$b" "$NODE_ROOT$DEST_BIN/.$b.new"
  mv -f "$NODE_ROOT$DEST_BIN/.$b.new" "$NODE_ROOT$DEST_BIN/$b"
  log "installed $DEST_BIN/$b"
done

mkdir -p "$NODE_ROOT/etc/ctrsnap"
for f in config.json policy.json; do
  if [[ ! -e $NODE_ROOT/etc/ctrsnap/$f && -f $SRC_ETC/$f ]]; then
    install -m 0644 "$SRC_ETC/$f" "$NODE_ROOT/etc/ctrsnap/$f"
    log "wrote /etc/ctrsnap/$f"
  fi
done

args=(install containerd --root "$NODE_ROOT" --file "$NODE_ROOT$CONTAINERD_CONFIG"
      --runtime-path "$DEST_BIN/ctrsnap-runtime")
[[ $DEFAULT == true ]] && args+=(--default)
out=$("$NODE_ROOT$DEST_BIN/ctrsnap" "${args[@]}") || die "ctrsnap ${args[*]} failed"
echo "$out"

if grep -q "nothing changed" <<<"$out"; then
  log "containerd already has runtime ctrsnap; not restarting it"
elif [[ $RESTART == true ]]; then
  command -v nsenter >/dev/null || die "nsenter not found: restart containerd on the node yourself"
  if nsenter -t 1 -m -u -i -n -p -- systemctl restart containerd; then
    log "restarted containerd"
  else
    die "could not restart containerd through PID 1: run 'systemctl restart containerd' on the node"
  fi
else
  log "restart containerd on the node to use the runtime: systemctl restart containerd"
fi

if [[ $STAY == true ]]; then
  log "done; sleeping"
  trap 'exit 0' TERM INT
  sleep infinity &
  wait
fi
