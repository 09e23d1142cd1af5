#!/usr/bin/env bash
# Rehearses tests/gpu/device-check.sh on a machine without a GPU, so the
# script is known to work before scarce GPU time is spent on it. In a private
# mount namespace it puts fakes where the GPU machine has the real things:
#   /usr/local/nvidia/lib64  the fake ELF libcuda (tests/gpu/fake_libcuda.c) as
#                            libcuda.so.535.104.05 and libnvidia-ml.so.535.104.05
#   /usr/local/nvidia/bin    a nvidia-smi script
#   /dev                     a copy of the needed nodes plus nvidia0/nvidiactl (195:N)
#   nvcc                     a script whose "CUDA program" prints CUDA OK
# and hides /usr/local/cuda*. runc, ctrsnap-runtime and ctrsnap-fs are real.
#
# Usage (root): tests/gpu/device-check-rehearse.sh BUILD_DIR
#   BUILD_DIR: a build with bin/{ctrsnap,ctrsnap-runtime,ctrsnap-fs,ctrsnap-hook}
#   and tests/gpu-fake-driver/libcuda.so.535.104.05 (target fake_libcuda).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: device-check-rehearse.sh BUILD_DIR}" && pwd)
lib=$build/tests/gpu-fake-driver/libcuda.so.535.104.05
[[ -f $lib ]] || { echo "missing $lib (build target fake_libcuda)" >&2; exit 1; }
F=$(mktemp -d /tmp/ctrsnap-gpu-rehearse.XXXXXX)
trap 'rm -rf "$F"' EXIT
mkdir -p "$F/nv/lib64" "$F/nv/bin" "$F/path" "$F/dev/pts" "$F/dev/shm" "$F/empty"
for l in libcuda libnvidia-ml; do
  cp "$lib" "$F/nv/lib64/$l.so.535.104.05"
  ln -s "$l.so.535.104.05" "$F/nv/lib64/$l.so.1"
done
printf '#!/bin/sh\necho "GPU 0: Fake GPU (UUID: GPU-12345678-1234-1234-1234-123456789abc)"\n' >"$F/nv/bin/nvidia-smi"
cat >"$F/path/nvcc" <<'NVCC'
#!/bin/sh
if [ "$1" = --version ]; then echo "Cuda compilation tools (fake)"; exit 0; fi
out=
while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
printf '#!/bin/sh\necho CUDA OK Fake GPU\n' >"$out"
chmod +x "$out"
NVCC
chmod +x "$F/nv/bin/nvidia-smi" "$F/path/nvcc"
for n in null zero full random urandom tty fuse; do cp -a "/dev/$n" "$F/dev/"; done
ln -s /proc/self/fd "$F/dev/fd"
mknod "$F/dev/nvidia0" c 195 0
mknod "$F/dev/nvidiactl" c 195 255
"$here/device-check-prepare.sh" "$build/bin" "$F/prepared" >/dev/null
cat >"$F/run.sh" <<RUN
set -e
mount --make-rprivate /
mkdir -p /usr/local/nvidia
mount --bind "$F/nv" /usr/local/nvidia
mount --bind "$F/dev" /dev
for d in /usr/local/cuda /usr/local/cuda-*; do [ -d "\$d" ] && mount --bind "$F/empty" "\$d"; done
export PATH="$F/path:\$PATH"
exec "$here/device-check.sh" "$F/prepared"
RUN
unshare -m bash "$F/run.sh"
