#!/bin/bash
# bench/seal/run.sh BIN_DIR [SECONDS]: mounts ctrsnap-fs on a fresh state
# directory and runs ctrsnap-sealbench (see sealbench.cc); then, in the same
# run, the same ticker and writer inside a docker container (sealbench
# --load) while `docker commit` runs back to back (250 ms apart), and prints
# that row too. The docker row
# needs a reachable daemon (DOCKER_HOST, e.g. tests/services.sh start + env);
# without one it is skipped with a message. Run as root.
# FS_OPTS: more -o options of ctrsnap-fs (e.g. writeback_cache=off).
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
BIN=$(cd "${1:?usage: run.sh BIN_DIR [SECONDS]}" && pwd); SECS=${2:-10}
W=$(mktemp -d /var/tmp/ctrsnap-benchseal-XXXXXX)
NONCE=$RANDOM$RANDOM
CTR=bench-seal-$NONCE
cleanup() {
  if [ -n "${DOCKER_OK:-}" ]; then
    docker rm -f "$CTR" >/dev/null 2>&1 || true
    docker images -q "bench-seal*:$NONCE*" 2>/dev/null | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  fi
  fusermount3 -u "$W/mnt" 2>/dev/null || umount -l "$W/mnt" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/lower/etc" "$W/mnt"; echo x > "$W/lower/etc/x"
"$BIN/ctrsnap-fs" -o "lowerdir=$W/lower,state=$W/state${FS_OPTS:+,$FS_OPTS}" "$W/mnt"
echo "# ctrsnap-fs${FS_OPTS:+ -o $FS_OPTS} on $(df --output=fstype "$W" | tail -1) ($W), kernel $(uname -r), ${SECS}s per phase"
"$BIN/ctrsnap-sealbench" "$W/mnt" "$W/state" "$SECS"
fusermount3 -u "$W/mnt"

# docker commit of a container under the same load.
if ! docker info >/dev/null 2>&1; then
  echo
  echo "docker commit: skipped (no docker daemon reachable${DOCKER_HOST:+ at $DOCKER_HOST};"
  echo "  start one with tests/services.sh start BIN_DIR && eval \"\$(tests/services.sh env)\")"
  exit 0
fi
DOCKER_OK=1
# An image holding just ctrsnap-sealbench and its libraries: the container
# runs the very same ticker and writer (`--load /data`).
mkdir -p "$W/img/bin" "$W/img/data"
cp "$BIN/ctrsnap-sealbench" "$W/img/bin/"
for lib in $(ldd "$BIN/ctrsnap-sealbench" | grep -o '/[^ ]*'); do
  mkdir -p "$W/img$(dirname "$lib")"; cp -L "$lib" "$W/img$lib"
done
tar -C "$W/img" -c . | docker import - "bench-seal-base:$NONCE" >/dev/null
docker run -d --name "$CTR" "bench-seal-base:$NONCE" /bin/ctrsnap-sealbench --load /data >/dev/null
sleep "$SECS"                              # the no-commit phase
now() { "$BIN/ctrsnap-sealbench" --now; }  # the ticker's clock (monotonic)
start=$(now); n=0
end=$(( start + SECS * 1000000000 ))
while [ "$(now)" -lt "$end" ]; do
  docker commit "$CTR" "bench-seal:$NONCE-$n" >/dev/null
  n=$((n + 1)); sleep 0.25
done
stop=$(now)
docker cp "$CTR:/data/ticks" "$W/ticks" >/dev/null
# Gaps between consecutive ticks, split at START into the two phases.
awk -v start="$start" -v stop="$stop" -v d="$W" '
  NR > 1 { g = $1 - prev; if ($1 < start) print g > (d "/g0"); else if ($1 <= stop) print g > (d "/g1") }
  { prev = $1 }' "$W/ticks"
row() {  # NAME FILE
  sort -n "$2" 2>/dev/null | awk -v name="$1" '{ a[NR] = $1 }
    END { if (NR == 0) { printf "| %s | 0 | - | - | - |\n", name; exit }
          p = int(NR * 0.99); if (p < 1) p = 1
          printf "| %s | %d | %.2f | %.2f | - |\n", name, NR, a[NR] / 1e6, a[p] / 1e6 }'
}
echo
echo "docker: the same ticker and writer in a container (its upper dir), \`docker commit\` alongside:"
echo "| phase | ticks | longest gap ms | p99 gap ms | MiB written |"
echo "|---|---|---|---|---|"
row "no commits" "$W/g0"
row "docker commit every 250 ms ($n commits)" "$W/g1"
