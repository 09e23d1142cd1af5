#!/usr/bin/env bash
# Prepares, on the build machine, the folder tests/gpu/device-check.sh needs on
# a GPU machine (which has the NVIDIA driver under /usr/local/nvidia and nvcc,
# but no runc, no Docker, and maybe other library versions):
#
#   OUT/bin/      ctrsnap, ctrsnap-runtime, ctrsnap-fs, ctrsnap-hook: copies,
#                 stripped, with RPATH $ORIGIN/../lib (patchelf)
#   OUT/lib/      every library they and runc need except glibc's own
#   OUT/runc      runc (Debian's links libseccomp only: it is in OUT/lib)
#   OUT/rootfs/   a root filesystem: static busybox (device-check.sh adds the
#                 CUDA program and its libraries there)
#
# Usage: tests/gpu/device-check-prepare.sh BUILD_BIN_DIR OUT
# Then carry OUT to the device machine (keep it under 64 MiB: it is about 20).
#   OUT/config.json  the bundle config (runc spec, edited with jq here)
# Needs: patchelf (apt-get install patchelf), busybox-static, runc, jq.
set -euo pipefail
bin=${1:?usage: device-check-prepare.sh BUILD_BIN_DIR OUT}
out=${2:?usage: device-check-prepare.sh BUILD_BIN_DIR OUT}
command -v patchelf >/dev/null || { echo "needs patchelf: apt-get install patchelf" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/rootfs/bin" "$out/rootfs/etc" "$out/rootfs/proc" \
  "$out/rootfs/sys" "$out/rootfs/dev" "$out/rootfs/tmp"

copy_deps() {  # the non-glibc shared libraries of $1 into OUT/lib
  ldd "$1" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*) ;;
      *) cp -L -n "$lib" "$out/lib/" ;;
    esac
  done
}

for b in ctrsnap ctrsnap-runtime ctrsnap-fs ctrsnap-hook; do
  [[ -x $bin/$b ]] || { echo "missing $bin/$b (build everything first)" >&2; exit 1; }
  cp "$bin/$b" "$out/bin/$b"
  strip "$out/bin/$b"
  copy_deps "$bin/$b"
  patchelf --force-rpath --set-rpath '$ORIGIN/../lib' "$out/bin/$b"
done
runc=$(command -v runc)
cp "$runc" "$out/runc"
copy_deps "$runc"
patchelf --force-rpath --set-rpath '$ORIGIN/lib' "$out/runc"
for l in "$out"/lib/*; do patchelf --force-rpath --set-rpath '$ORIGIN' "$l" 2>/dev/null || true; done

cp /bin/busybox "$out/rootfs/bin/busybox"
for a in sh ls cat echo mkdir sleep grep test stat find wc env; do ln -s busybox "$out/rootfs/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$out/rootfs/etc/passwd"
echo "root:x:0:" >"$out/rootfs/etc/group"
mkdir -p "$out/rootfs/opt" "$out/rootfs/work"
rmdir "$out/rootfs/work"
# The bundle's config.json: runc's default spec, root "rootfs" beside it, no
# terminal, the container runs /check.sh (written by device-check.sh), asks for
# every GPU the way Docker and Kubernetes users do.
(cd "$out" && "$runc" spec)
jq '.root = {"path": "rootfs", "readonly": false}
    | .process.terminal = false
    | .process.args = ["/bin/sh", "/check.sh"]
    | .process.env = ["PATH=/usr/local/nvidia/bin:/usr/bin:/bin", "NVIDIA_VISIBLE_DEVICES=all",
                      "NVIDIA_DRIVER_CAPABILITIES=compute,utility"]' "$out/config.json" >"$out/config.json.new"
mv "$out/config.json.new" "$out/config.json"
du -sh "$out"
echo "prepared $out: run 'tests/gpu/device-check.sh $out' on the GPU machine"
