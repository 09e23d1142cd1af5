#!/usr/bin/env bash
# Container start overhead of ctrsnap-runtime: `docker run --rm IMAGE true`
# with --runtime ctrsnap and with --runtime runc, interleaved (the order
# alternates each round), N rounds. Prints each runtime's median and min-max
# wall time and the median added per start.
#
# usage: bench/runtime/docker_run.sh [N]   (default 20)
# Needs a dockerd with the "ctrsnap" runtime registered (tests/services.sh
# start BIN; eval "$(tests/services.sh env)") and root. Builds a busybox
# image of its own.
set -euo pipefail
N=${1:-20}
export PATH=/usr/sbin:/usr/bin:$PATH  # Debian's docker client
docker version >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; docker rmi -f ctrsnap-bench:bb >/dev/null 2>&1 || true' EXIT
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in sh true; do ln -s busybox "$tmp/rootfs/bin/$a"; done
tar -C "$tmp/rootfs" -c . | docker import - ctrsnap-bench:bb >/dev/null

one() {  # one RUNTIME -> ms on stdout
  local t0 t1
  t0=$(date +%s%N)
  docker run --rm --runtime "$1" ctrsnap-bench:bb true >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

# Warm-up: first runs pay image and page-cache costs.
one runc >/dev/null; one ctrsnap >/dev/null

: >"$tmp/runc"; : >"$tmp/ctrsnap"
for ((i = 0; i < N; i++)); do
  if ((i % 2)); then order="runc ctrsnap"; else order="ctrsnap runc"; fi
  for r in $order; do one "$r" >>"$tmp/$r"; done
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
range() { sort -n "$1" | awk 'NR==1{mn=$1} {mx=$1} END {print mn "-" mx}'; }
mr=$(median "$tmp/runc"); mc=$(median "$tmp/ctrsnap")
echo "docker run --rm (busybox, true), N=$N each, interleaved; $(nproc) CPUs; $(docker version -f '{{.Server.Version}}')"
printf '%-10s median %6s ms  (min-max %s ms)\n' runc "$mr" "$(range "$tmp/runc")"
printf '%-10s median %6s ms  (min-max %s ms)\n' ctrsnap "$mc" "$(range "$tmp/ctrsnap")"
awk -v a="$mc" -v b="$mr" 'BEGIN {printf "added per start: %.0f ms (ratio %.2f)\n", a - b, a / b}'
