#!/usr/bin/env bash
# packaging/kubernetes/node-install.sh against a node root in a temp dir
# (NODE_ROOT): binaries copied, default config written, runtime ctrsnap
# registered with the node's containerd config as the node sees it
# (/usr/local/bin/ctrsnap-runtime), a private containerd started from that
# config loads it, a second run changes nothing, and the restart goes through
# `nsenter -t 1 ... systemctl restart containerd` (a stand-in nsenter records it).
# The manifests are checked (kubectl dry run with a cluster, else structurally).
#
# usage: tests/packaging/node_install_test.sh BUILD_DIR   (root; label `packaging`)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:?usage: node_install_test.sh BUILD_DIR}")
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root"; exit 77; }
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
fail() { echo "FAIL: $*" >&2; exit 1; }

node=$(mktemp -d /var/tmp/ctrsnap-pkg-node.XXXXXX)
run=$(mktemp -d /run/ctrsnap-pkg-node.XXXXXX)
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  grep -o " $node[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  grep -o " $run[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$node" "$run"
}
trap cleanup EXIT

echo "== manifests"
# kubectl's client-side dry run when an API server answers; without one it
# cannot map kinds, so the manifests get a structural check instead.
if command -v kubectl >/dev/null && kubectl version --request-timeout=3s >/dev/null 2>&1; then
  kubectl apply --dry-run=client -f "$src/packaging/kubernetes/" >/dev/null || fail "kubectl rejects the manifests"
fi
/usr/bin/python3 "$src/tests/packaging/check_manifests.py" "$src/packaging/kubernetes"

echo "== node install"
mkdir -p "$node/etc/containerd"
cat >"$node/etc/containerd/config.toml" <<TOML
version = 2
root = "$node/var/lib/containerd"
state = "$run/state"
[grpc]
  address = "$run/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
[plugins."io.containerd.internal.v1.opt"]
  path = "$node/opt/containerd"
TOML
# A stand-in nsenter: records the restart instead of restarting PID 1's containerd.
mkdir -p "$node/fakebin"
cat >"$node/fakebin/nsenter" <<SH
#!/bin/sh
echo "nsenter \$*" >>"$node/restarts"
SH
chmod +x "$node/fakebin/nsenter"
env_vars=(NODE_ROOT="$node" CTRSNAP_SRC_BIN="$build/bin" CTRSNAP_SRC_ETC="$src/packaging/etc"
          CTRSNAP_STAY=false RESTART_CONTAINERD=true PATH="$node/fakebin:$PATH")
env "${env_vars[@]}" "$src/packaging/kubernetes/node-install.sh"
for b in ctrsnap ctrsnap-fs ctrsnap-runtime ctrsnap-hook; do
  cmp -s "$build/bin/$b" "$node/usr/local/bin/$b" || fail "$b not copied"
done
cmp -s "$src/packaging/etc/config.json" "$node/etc/ctrsnap/config.json" || fail "config.json not written"
[[ $(cat "$node/restarts") == "nsenter -t 1 -m -u -i -n -p -- systemctl restart containerd" ]] \
  || fail "restart: $(cat "$node/restarts")"
dump=$(containerd --config "$node/etc/containerd/config.toml" config dump)
grep -q 'BinaryName = "/usr/local/bin/ctrsnap-runtime"' <<<"$dump" || fail "runtime not registered as the node sees it"

echo "== containerd starts with the node's config"
containerd --config "$node/etc/containerd/config.toml" >"$node/containerd.log" 2>&1 &
pid=$!
for _ in $(seq 150); do ctr -a "$run/containerd.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
ctr -a "$run/containerd.sock" plugins ls | grep -E '^io.containerd.grpc.v1 +cri +.* ok' >/dev/null \
  || { tail "$node/containerd.log"; fail "CRI plugin not ok with the node config"; }

echo "== second run changes nothing and does not restart"
out=$(env "${env_vars[@]}" "$src/packaging/kubernetes/node-install.sh")
grep -q "nothing changed" <<<"$out" || fail "second run: $out"
[[ $(wc -l <"$node/restarts") -eq 1 ]] || fail "restarted again"

echo "== CTRSNAP_DEFAULT=true makes it the default"
env "${env_vars[@]}" CTRSNAP_DEFAULT=true RESTART_CONTAINERD=false "$src/packaging/kubernetes/node-install.sh" >/dev/null
containerd --config "$node/etc/containerd/config.toml" config dump | grep -q 'default_runtime_name = "ctrsnap"' \
  || fail "not the default"
echo "PASS: node-install.sh"
