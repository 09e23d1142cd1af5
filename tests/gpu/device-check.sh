#!/usr/bin/env bash
# GPU device check (issue 8), for a machine with one NVIDIA GPU, its driver
# under /usr/local/nvidia, CUDA's nvcc, and no runc or Docker. Run as root
# from the repository root, with the folder tests/gpu/device-check-prepare.sh
# made on the build machine:
#
#   tests/gpu/device-check.sh PREPARED_DIR
#
# It proves, in under 5 minutes:
#   1. `ctrsnap gpu cdi-generate` finds the GPU, the driver libraries and
#      nvidia-smi on this host and writes a valid CDI spec;
#   2. a container started through ctrsnap-runtime (real runc underneath,
#      gpu.mode cdi) runs nvidia-smi and a CUDA program (tests/gpu/cuda_check.cu,
#      built here with nvcc) on the GPU, with no NVIDIA file in its image;
#   3. a snapshot of that container holds the user's work (/work/model.txt)
#      and no driver file, stub, linker cache entry or device node.
# Set KEEP=1 to keep the work folder; CTRSNAP_SNAPSHOT_CMD to override the
# snapshot command (@ID@ and @OUT@ are replaced).
# Every step prints "== [Ns] step"; the last line is DEVICE-CHECK PASS or FAIL.
set -uo pipefail
T0=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd)
in=$(cd "${1:?usage: device-check.sh PREPARED_DIR}" && pwd)
W=$(mktemp -d /tmp/ctrsnap-gpu-check.XXXXXX)
ID=gpucheck-$$
RT="$in/bin/ctrsnap-runtime --root $W/runc"
export CTRSNAP_CONFIG=$W/config.json CTRSNAP_ROOT=$W/state
export PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:$PATH

step() { echo "== [$(($(date +%s) - T0))s] $*"; }
fail() {
  echo "DEVICE-CHECK FAIL: $*"
  exit 1
}
cleanup() {
  timeout 20 $RT kill "$ID" KILL >/dev/null 2>&1
  sleep 1
  timeout 20 $RT delete --force "$ID" >/dev/null 2>&1
  grep " $W" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

step "facts"
[[ $(id -u) == 0 ]] || fail "run as root"
uname -r
ldd --version 2>&1 | head -1
ls -l /dev/nvidia* 2>&1 | head -8
[[ -e /dev/fuse ]] || fail "no /dev/fuse (ctrsnap-fs needs FUSE)"
command -v nvcc >/dev/null || fail "no nvcc on PATH"
nvcc --version | tail -1
timeout 30 nvidia-smi -L || fail "nvidia-smi on the host fails: the GPU is not usable here"
for b in ctrsnap ctrsnap-runtime ctrsnap-fs ctrsnap-hook; do
  if ldd "$in/bin/$b" | grep -q "not found"; then ldd "$in/bin/$b" | grep "not found"; fail "$b: missing libraries"; fi
  "$in/bin/$b" --version >/dev/null || fail "$b does not run here"
done
"$in/runc" --version | head -1 || fail "runc does not run here"

step "build the CUDA program with nvcc"
timeout 120 nvcc -O2 -o "$W/cuda_check" "$here/cuda_check.cu" || fail "nvcc"
timeout 30 "$W/cuda_check" || fail "cuda_check fails on the host itself"

step "ctrsnap gpu cdi-generate"
timeout 30 "$in/bin/ctrsnap" gpu cdi-generate --lib-dir /usr/local/nvidia/lib64 \
  --bin-dir /usr/local/nvidia/bin -o "$W/cdi/nvidia.yaml" || fail "cdi-generate"
grep -q "path: /dev/nvidia0" "$W/cdi/nvidia.yaml" || fail "no /dev/nvidia0 in the spec"
grep -q "libcuda.so" "$W/cdi/nvidia.yaml" || fail "no libcuda in the spec"
grep -E "containerPath|hookName|path: /dev" "$W/cdi/nvidia.yaml" | sort | uniq | head -40

step "bundle: busybox root + the CUDA program and its non-driver libraries"
mkdir -p "$W/bundle"
cp -a "$in/rootfs" "$W/bundle/rootfs"
cp "$in/config.json" "$W/bundle/config.json"
R=$W/bundle/rootfs
cp "$W/cuda_check" "$R/opt/cuda_check"
for exe in "$W/cuda_check" "$(command -v nvidia-smi)"; do
  ldd "$exe" | grep -oE '/[^ ]+' | while read -r lib; do
    case "$(basename "$lib")" in libcuda.so*|libnvidia-*) continue ;; esac  # CDI mounts these
    mkdir -p "$R$(dirname "$lib")"
    cp -L -n "$lib" "$R$lib"
  done
done
cat >"$R/check.sh" <<'SCRIPT'
echo "in container: NVIDIA_VISIBLE_DEVICES=$NVIDIA_VISIBLE_DEVICES"
ls -l /dev/nvidia*
nvidia-smi -L || echo "NVIDIA-SMI FAILED"
/opt/cuda_check || echo "CUDA PROGRAM FAILED"
mkdir -p /work && echo trained >/work/model.txt
echo CONTAINER-DONE
sleep 300
SCRIPT
cat >"$W/config.json" <<JSON
{"runtime": "$in/runc", "fs_binary": "$in/bin/ctrsnap-fs", "hook_binary": "$in/bin/ctrsnap-hook",
 "gpu": {"mode": "cdi", "cdi_spec_dirs": ["$W/cdi"]}}
JSON

step "start the container through ctrsnap-runtime"
timeout 60 $RT create --bundle "$W/bundle" "$ID" >"$W/out.txt" 2>&1 </dev/null ||
  { cat "$W/out.txt"; fail "ctrsnap-runtime create"; }
timeout 30 $RT start "$ID" || { cat "$W/out.txt"; fail "ctrsnap-runtime start"; }
for _ in $(seq 1 120); do grep -q CONTAINER-DONE "$W/out.txt" && break; sleep 0.5; done
cat "$W/out.txt"
grep -q CONTAINER-DONE "$W/out.txt" || fail "the container did not finish its work"
grep -q "^GPU 0:" "$W/out.txt" || fail "nvidia-smi in the container saw no GPU"
grep -q "CUDA OK" "$W/out.txt" || fail "the CUDA program failed in the container"

step "snapshot"
mkdir -p "$W/snap"
cmd=${CTRSNAP_SNAPSHOT_CMD:-"$in/bin/ctrsnap snapshot @ID@ --output oci:@OUT@"}
cmd=${cmd//@ID@/$ID}
cmd=${cmd//@OUT@/$W/snap/layout}
echo "+ $cmd"
snap_ok=0
if timeout 90 $cmd; then snap_ok=1; else echo "snapshot command failed; see 'ctrsnap snapshot --help':"; "$in/bin/ctrsnap" snapshot --help 2>&1 | head -30; fi

step "what the snapshot holds"
bad='(libcuda|libnvidia-|nvidia-smi|ld\.so\.cache|00-ctrsnap-gpu\.conf|dev/nvidia)'
found_layer=0
if [[ $snap_ok == 1 ]]; then
  # Layers: every tar-like blob of the output (OCI layout or archive).
  while IFS= read -r blob; do
    if tar -tvf "$blob" >"$W/layer.txt" 2>/dev/null && [[ -s $W/layer.txt ]]; then
      found_layer=1
      echo "-- layer $(basename "$blob")"
      cat "$W/layer.txt"
      if grep -Eq "$bad" "$W/layer.txt"; then fail "a driver file is in the snapshot layer: $(grep -E "$bad" "$W/layer.txt" | head -3)"; fi
      grep -q "work/model.txt" "$W/layer.txt" && echo "(user work present)"
    fi
  done < <(find "$W/snap" -type f -size +0)
fi
# Independently of the CLI: the sealed generations in the state dir. The
# first generation is the setup one (hooks, mount points); the later ones are
# what snapshots are made of.
state=$(find "$CTRSNAP_ROOT" -maxdepth 2 -name fs.json -printf '%h\n' | head -1)
[[ -n $state ]] || fail "no ctrsnap state dir under $CTRSNAP_ROOT"
cat "$state/fs.json"; echo
for g in $(ls "$state/gen" | sort -n); do
  echo "-- generation $g"
  (cd "$state/gen/$g/upper" && find . -printf '%y %s %p\n' | sort -k3)
done | tee "$W/gens.txt"
user_gens=$(ls "$state/gen" | sort -n | tail -n +2)
[[ -n $user_gens ]] || fail "only one generation: the setup generation was not sealed"
for g in $user_gens; do
  if (cd "$state/gen/$g/upper" && find . | grep -Eq "$bad"); then
    fail "generation $g (a snapshot generation) holds GPU files: $(cd "$state/gen/$g/upper" && find . | grep -E "$bad" | head -3)"
  fi
done
grep -q "work/model.txt" <(for g in $user_gens; do (cd "$state/gen/$g/upper" && find .); done) ||
  fail "the user's /work/model.txt is not in a snapshot generation"
# No driver bytes anywhere in the container's writes: stubs and mount points are empty.
big=$(find "$state/gen" -type f -size +0 | grep -E '(libcuda|libnvidia-|nvidia-smi)' || true)
[[ -z $big ]] || fail "driver-named files with content in the generations: $big"
[[ $snap_ok == 1 && $found_layer == 1 ]] || echo "NOTE: the snapshot CLI step did not produce a layer to list (see above); the generation check passed"
step "done"
echo "DEVICE-CHECK PASS"
