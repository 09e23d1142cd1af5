#!/usr/bin/env bash
# ctrsnap snapshot side by side with `docker commit` on the same change set:
# 2,000 files totalling 200 MB plus one 500 MB file, then ten snapshots each
# after a 10 MB change. Prints wall times and bytes stored.
#
# usage: bench/snapshot/snapshot_vs_commit.sh BUILD_DIR
# Needs the private services (tests/services.sh start; eval "$(... env)"):
# DOCKER_HOST must point at a dockerd this script may add images to.
#
# The docker side runs a real container and commits it (docker pauses the
# container for the whole commit). The ctrsnap side writes the same change
# set through a kernel overlayfs mount into a ctrsnap-fs style state dir
# (what ctrsnap-fs stores) and runs `ctrsnap snapshot` on it; the seal itself
# is the daemon's O(1) generation switch and is not part of these figures.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
BIN=$(realpath "${1:?usage: $0 BUILD_DIR}")/bin
: "${DOCKER_HOST:?start tests/services.sh and eval its env first}"
SMALL_FILES=${SMALL_FILES:-2000}
SMALL_MB=${SMALL_MB:-200}
LARGE_MB=${LARGE_MB:-500}
STEPS=${STEPS:-10}
STEP_MB=${STEP_MB:-10}

T=$(mktemp -d /var/tmp/ctrsnap-bench.XXXXXX)
NONCE=$RANDOM$RANDOM
CTR=bench-commit-$NONCE
cleanup() {
  docker rm -f "$CTR" >/dev/null 2>&1 || true
  docker images -q "bench-*:$NONCE*" 2>/dev/null | xargs -r docker rmi -f >/dev/null 2>&1 || true
  mountpoint -q "$T/mnt" && umount "$T/mnt"
  rm -rf "$T"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
mb() { echo "scale=1; $1 / 1000000" | bc; }

# The change set, written by a script that runs inside the container and on
# the overlay mount alike ($1 = root to write under).
cat >"$T/changes.sh" <<SH
set -e
mkdir -p \$1/app/data
i=0
while [ \$i -lt $SMALL_FILES ]; do
  d=\$1/app/data/d\$((i % 40)); mkdir -p \$d
  head -c $((SMALL_MB * 1000000 / SMALL_FILES)) /dev/urandom > \$d/f\$i
  i=\$((i + 1))
done
head -c $((LARGE_MB * 1000000)) /dev/urandom > \$1/app/model.bin
SH

mkdir -p "$T/lower/bin" "$T/lower/tmp" "$T/lower/etc" "$T/mnt"
cp /bin/busybox "$T/lower/bin/"
for c in sh head mkdir cat rm ls sleep; do ln -s busybox "$T/lower/bin/$c"; done
echo "$NONCE" >"$T/lower/etc/nonce"
BASE=bench-base:$NONCE
tar -C "$T/lower" -c . | docker import - "$BASE" >/dev/null
base_size=$(docker image inspect -f '{{.Size}}' "$BASE")

echo "== docker commit ($(docker version -f '{{.Server.Version}}'))"
docker run -d --name "$CTR" --network none -v "$T/changes.sh:/changes.sh:ro" "$BASE" sleep 100000 >/dev/null
docker exec "$CTR" sh /changes.sh "" 
t=$(now); docker commit "$CTR" "bench-commit:$NONCE-0" >/dev/null; d_first=$(elapsed "$t")
sz=$(docker image inspect -f '{{.Size}}' "bench-commit:$NONCE-0")
d_bytes=$((sz - base_size))
echo "first commit: ${d_first}s (container paused throughout), layer $(mb $d_bytes) MB"
d_total=0
for i in $(seq 1 "$STEPS"); do
  docker exec "$CTR" sh -c "head -c $((STEP_MB * 1000000)) /dev/urandom > /app/step$i"
  t=$(now); docker commit "$CTR" "bench-commit:$NONCE-$i" >/dev/null; d=$(elapsed "$t")
  sz=$(docker image inspect -f '{{.Size}}' "bench-commit:$NONCE-$i")
  layer=$((sz - base_size)); d_total=$((d_total + layer))
  echo "commit $i: ${d}s, new layer $(mb $layer) MB"
done
echo "docker commit: $STEPS commits stored $(mb $d_total) MB"

echo "== ctrsnap snapshot"
S=$T/state
mkdir -p "$S/gen/1/upper" "$S/gen/1/work"
cat >"$S/fs.json" <<JSON
{"version":1,"lowerdirs":["$T/lower"],"generations":[{"id":1,"label":"","sealed":false,"created_unix_ns":1,"sealed_unix_ns":0}]}
JSON
live() { python3 -c "import json;print(json.load(open('$S/fs.json'))['generations'][-1]['id'])"; }
mount_live() {
  local g lowers="" n; n=$(live)
  for ((g = n - 1; g >= 1; g--)); do lowers+="$S/gen/$g/upper:"; done
  mount -t overlay -o "lowerdir=${lowers}$T/lower,upperdir=$S/gen/$n/upper,workdir=$S/gen/$n/work,redirect_dir=on,index=on,metacopy=on" overlay "$T/mnt"
}
snap() {  # snap ARGS...: prints "wall_seconds layer_bytes layer_write_seconds deliver_seconds"
  local out t w; t=$(now)
  out=$("$BIN/ctrsnap" snapshot --state "$S" --engine docker --base-image "$BASE" --json --no-progress "$@")
  w=$(elapsed "$t")
  python3 -c "import json,sys; j=json.loads(sys.stdin.read()); print($w, j['layer']['size'], round(j['seconds'],3), round(j['deliver_seconds'],3))" <<<"$out"
}
mount_live; sh "$T/changes.sh" "$T/mnt"; umount "$T/mnt"
sync
read -r c_load c_bytes c_write c_deliver < <(snap --tag "bench-snap:$NONCE-0" --load docker)
echo "first snapshot -> loaded in docker: ${c_load}s wall (seal+layer write ${c_write}s, docker load ${c_deliver}s), layer $(mb $c_bytes) MB (uncompressed: the default for a local docker load)"
# The same generation again as an OCI layout on disk (--squash re-exports it).
read -r c_oci _ c_w2 c_d2 < <(snap --squash --tag "bench-snap:$NONCE-sq" -o "$T/layout")
echo "same change set -> OCI layout on disk: ${c_oci}s wall (layer write ${c_w2}s, layout ${c_d2}s; includes docker save of the base)"
c_total=0
for i in $(seq 1 "$STEPS"); do
  mount_live; head -c $((STEP_MB * 1000000)) /dev/urandom >"$T/mnt/app/step$i"; umount "$T/mnt"
  read -r c b _ _ < <(snap --tag "bench-snap:$NONCE-$i" --load docker)
  c_total=$((c_total + b))
  echo "snapshot $i: ${c}s, new layer $(mb $b) MB"
done
echo "ctrsnap: $STEPS snapshots stored $(mb $c_total) MB (STATE/snapshots holds $(du -sb "$S/snapshots" | cut -f1 | xargs -I{} echo "scale=1; {}/1000000" | bc) MB in all, base and first snapshot included)"
echo "== ratios"
echo "time to loaded image, ctrsnap/docker commit: $(echo "scale=2; $c_load / $d_first" | bc)"
echo "time to OCI layout on disk, ctrsnap/docker commit: $(echo "scale=2; $c_oci / $d_first" | bc)"
echo "bytes stored by $STEPS incremental snapshots, ctrsnap/docker commit: $(echo "scale=3; $c_total / $d_total" | bc)"
