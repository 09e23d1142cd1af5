#!/usr/bin/env bash
# `ctrsnap install` against real engines: a private containerd started with a
# config whose imports pick up ctrsnap's drop-in lists runtime ctrsnap and
# keeps the main file's CRI settings; a private dockerd started with the
# edited daemon.json lists runtime ctrsnap (and as the default with
# --default). Then uninstall gives back the original files.
#
# usage: tests/packaging/engines_test.sh BUILD_DIR   (root; label `packaging`)
set -euo pipefail
build=$(realpath "${1:?usage: engines_test.sh BUILD_DIR}")
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root"; exit 77; }
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH  # Debian's docker client first
for t in containerd ctr dockerd docker; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
ctrsnap=$build/bin/ctrsnap
runtime=$build/bin/ctrsnap-runtime

run=$(mktemp -d /run/ctrsnap-pkg-engines.XXXXXX)   # sockets: short paths
data=$(mktemp -d /var/tmp/ctrsnap-pkg-engines.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  grep -o " $data[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  grep -o " $run[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$run" "$data"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || return 1; sleep 0.2; done
}

echo "== CLI exit status and refusals"
set +e
"$ctrsnap" install nosuchengine >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "unknown engine: want exit 2"
printf '{\n  "debug": true,\n' >"$run/bad.json"
err=$("$ctrsnap" install docker --file "$run/bad.json" --runtime-path "$runtime" 2>&1); rc=$?
set -e
[[ $rc -eq 1 ]] || fail "malformed daemon.json: exit $rc"
grep -q "$run/bad.json:3:" <<<"$err" || fail "malformed daemon.json not located: $err"
[[ $(cat "$run/bad.json") == $'{\n  "debug": true,' ]] || fail "malformed daemon.json was written"
[[ -z $(ls "$run" | grep ctrsnap-backup) ]] || fail "backup of a refused file"
set +e
"$ctrsnap" install docker --file "$run/x.json" --runtime-path /nonexistent/ctrsnap-runtime >/dev/null 2>&1; rc=$?
set -e
[[ $rc -eq 1 && ! -e $run/x.json ]] || fail "a missing runtime binary must be refused (exit $rc)"
rm -f "$run/bad.json"

echo "== containerd: drop-in through imports"
mkdir -p "$run/conf.d"
cat >"$run/config.toml" <<TOML
version = 2
imports = ["$run/conf.d/*.toml"]
root = "$data/containerd-root"
state = "$run/containerd-state"
[grpc]
  address = "$run/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "example.invalid/pause:ctrsnap-test"
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        NoNewKeyring = true
[plugins."io.containerd.internal.v1.opt"]
  path = "$data/containerd-opt"
TOML
cp "$run/config.toml" "$data/config.toml.orig"
"$ctrsnap" install containerd --file "$run/config.toml" --runtime-path "$runtime" --default
[[ -f $run/conf.d/99-ctrsnap.toml ]] || fail "no drop-in written"
cmp -s "$run/config.toml" "$data/config.toml.orig" || fail "main config.toml was changed"
containerd --config "$run/config.toml" >"$data/containerd.log" 2>&1 &
pids+=($!)
wait_for 30 ctr -a "$run/containerd.sock" version || { cat "$data/containerd.log"; fail "containerd did not start"; }
dump=$(containerd --config "$run/config.toml" config dump)
grep -q 'runtimes.ctrsnap.options\]' <<<"$dump" || fail "config dump has no ctrsnap runtime"
grep -q "BinaryName = \"$runtime\"" <<<"$dump" || fail "config dump: BinaryName"
grep -q 'default_runtime_name = "ctrsnap"' <<<"$dump" || fail "config dump: default"
grep -q 'sandbox_image = "example.invalid/pause:ctrsnap-test"' <<<"$dump" || fail "drop-in lost sandbox_image"
grep -q 'NoNewKeyring = true' <<<"$dump" || fail "runc options not copied"
ctr -a "$run/containerd.sock" plugins ls | grep -E '^io.containerd.grpc.v1 +cri +.* ok' >/dev/null \
  || fail "the CRI plugin did not load: $(ctr -a "$run/containerd.sock" plugins ls | grep cri)"
echo "containerd: runtime ctrsnap registered, CRI plugin ok"

echo "== dockerd: daemon.json"
cat >"$run/daemon.json" <<JSON
{
  "storage-driver": "vfs",
  "live-restore": false,
  "log-level": "warn"
}
JSON
cp "$run/daemon.json" "$data/daemon.json.orig"
"$ctrsnap" install docker --file "$run/daemon.json" --runtime-path "$runtime" --default
out=$("$ctrsnap" install docker --file "$run/daemon.json" --runtime-path "$runtime" --default)
grep -q "nothing changed" <<<"$out" || fail "second install changed something: $out"
dockerd --config-file "$run/daemon.json" --data-root "$data/docker" --exec-root "$run/docker-exec" \
  --pidfile "$run/dockerd.pid" -H "unix://$run/docker.sock" --containerd "$run/containerd.sock" \
  --iptables=false --ip-masq=false --bridge=none >"$data/dockerd.log" 2>&1 &
pids=("$!" "${pids[@]}")
wait_for 60 docker -H "unix://$run/docker.sock" version || { tail -20 "$data/dockerd.log"; fail "dockerd did not start"; }
runtimes=$(docker -H "unix://$run/docker.sock" info --format '{{json .Runtimes}}')
grep -q "\"ctrsnap\":{\"path\":\"$runtime\"" <<<"$runtimes" || fail "docker info runtimes: $runtimes"
default=$(docker -H "unix://$run/docker.sock" info --format '{{.DefaultRuntime}}')
[[ $default == ctrsnap ]] || fail "docker default runtime: $default"
echo "dockerd: runtimes $runtimes, default $default"

echo "== uninstall gives the files back"
"$ctrsnap" uninstall docker --file "$run/daemon.json"
cmp "$run/daemon.json" "$data/daemon.json.orig" || fail "daemon.json not restored"
"$ctrsnap" uninstall containerd --file "$run/config.toml"
[[ ! -e $run/conf.d/99-ctrsnap.toml ]] || fail "drop-in left behind"
containerd --config "$run/config.toml" config dump | grep -q 'runtimes.ctrsnap' && fail "ctrsnap still in config dump"
echo "PASS: containerd and dockerd see runtime ctrsnap; uninstall restores"
