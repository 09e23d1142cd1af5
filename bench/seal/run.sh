#!/bin/bash
# bench/seal/run.sh BIN_DIR [SECONDS]: mounts ctrsnap-fs on a fresh state
# directory and runs ctrsnap-sealbench (see sealbench.cc); then, in the same
# run, the same load in a docker container (a ticker appending a timestamp
# every ~1 ms, a writer streaming 1 MiB writes into a 256 MiB file) while
# `docker commit` runs every 250 ms, and prints that row too. The docker row
# needs a reachable daemon (DOCKER_HOST, e.g. tests/services.sh start + env);
# without one it is skipped with a message. Run as root.
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
"$BIN/ctrsnap-fs" -o "lowerdir=$W/lower,state=$W/state" "$W/mnt"
echo "# ctrsnap-fs on $(df --output=fstype "$W" | tail -1) ($W), kernel $(uname -r), ${SECS}s per phase"
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
mkdir -p "$W/img/bin" "$W/img/tmp"
cp /bin/busybox "$W/img/bin/"
for c in sh head date usleep cat; do ln -s busybox "$W/img/bin/$c"; done
tar -C "$W/img" -c . | docker import - "bench-seal-base:$NONCE" >/dev/null
# The ticker: one line per ~1 ms (busybox date +%s%N; usleep 1000).
docker run -d --name "$CTR" "bench-seal-base:$NONCE" sh -c '
  (while :; do head -c 268435456 /dev/zero > /load; done) &
  while :; do date +%s%N >> /ticks; usleep 1000; done' >/dev/null
sleep "$SECS"                              # the no-commit phase
start=$(date +%s%N); n=0
end=$(( start + SECS * 1000000000 ))
while [ "$(date +%s%N)" -lt "$end" ]; do
  docker commit "$CTR" "bench-seal:$NONCE-$n" >/dev/null
  n=$((n + 1)); sleep 0.25
done
stop=$(date +%s%N)
docker cp "$CTR:/ticks" "$W/ticks" >/dev/null
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
echo "docker (busybox ticker in the container, one fork per tick: its floor is ~1-3 ms):"
echo "| phase | ticks | longest gap ms | p99 gap ms | MiB written |"
echo "|---|---|---|---|---|"
row "no commits" "$W/g0"
row "docker commit every 250 ms ($n commits)" "$W/g1"
