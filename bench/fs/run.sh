#!/bin/bash
# bench/fs/run.sh BIN_DIR: the same workloads on kernel overlayfs, fuse-overlayfs
# and ctrsnap-fs, in one run, on a fresh loop-mounted journaled ext4, targets
# interleaved (order rotated per repetition), fresh mount per repetition,
# caches dropped where a workload is "cold"; medians, min-max and ratios to
# kernel overlayfs, unpinned and pinned (daemon + client on CPU 0).
# Run as root. Sizes (env): REPS=5 SEQ_MB=256 RAND_OPS=20000 DIRECT_OPS=4000
# NFILES=5000 BIG_MB=256 UNTAR_SRC=/usr/include PLACEMENTS="unpinned pinned"
# TARGETS="overlay fuse-overlayfs ctrsnap".
set -eu
BIN=$(cd "${1:?usage: run.sh BIN_DIR}" && pwd)
REPS=${REPS:-5}; SEQ_MB=${SEQ_MB:-256}; RAND_OPS=${RAND_OPS:-20000}; DIRECT_OPS=${DIRECT_OPS:-4000}
NFILES=${NFILES:-5000}; BIG_MB=${BIG_MB:-256}; UNTAR_SRC=${UNTAR_SRC:-/usr/include}
PLACEMENTS=${PLACEMENTS:-"unpinned pinned"}; TARGETS=${TARGETS:-"overlay fuse-overlayfs ctrsnap"}
FSB=$BIN/ctrsnap-fsbench
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
[ -x "$FSB" ] && [ -x "$BIN/ctrsnap-fs" ] || { echo "build ctrsnap-fs and ctrsnap-fsbench first" >&2; exit 2; }

W=$(mktemp -d /var/tmp/ctrsnap-benchfs-XXXXXX)
D=$W/disk
RES=$W/results.txt
cleanup() {
  for m in $(awk -v d="$D" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  umount -l "$D" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

truncate -s 6G "$W/ext4.img"
mkfs.ext4 -q -F -J size=128 "$W/ext4.img"
mkdir -p "$D" && mount -o loop "$W/ext4.img" "$D"
mkdir -p "$D/lower"
dd if=/dev/urandom of="$D/lower/big" bs=1M count="$BIG_MB" status=none
tar -C "$(dirname "$UNTAR_SRC")" -cf "$D/tree.tar" "$(basename "$UNTAR_SRC")"
UNTAR_FILES=$(tar -tf "$D/tree.tar" | wc -l)
echo "# journaled ext4 on a loop image ($W/ext4.img); kernel $(uname -r); $(nproc) CPUs"
echo "# reps=$REPS seq=${SEQ_MB}MiB rand=${RAND_OPS} direct=${DIRECT_OPS} files=$NFILES big=${BIG_MB}MiB untar=$UNTAR_FILES entries of $UNTAR_SRC"
echo "# kernel overlayfs: redirect_dir=on,metacopy=on,index=off (ctrsnap-fs's own lower options)"

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

mount_target() {  # target dir pin
  local t=$1 d=$2 pin=$3
  mkdir -p "$d/u" "$d/w" "$d/mnt"
  case $t in
    overlay) mount -t overlay -o "lowerdir=$D/lower,upperdir=$d/u,workdir=$d/w,redirect_dir=on,metacopy=on,index=off" none "$d/mnt" ;;
    fuse-overlayfs) $pin /usr/bin/fuse-overlayfs -o "lowerdir=$D/lower,upperdir=$d/u,workdir=$d/w" "$d/mnt" ;;
    ctrsnap) $pin "$BIN/ctrsnap-fs" -o "lowerdir=$D/lower,state=$d/state" "$d/mnt" ;;
  esac
}

daemon_pid() {  # mnt
  case $1 in *) pgrep -f -- " $1\$" | head -1 ;; esac
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

run_one() {  # target placement rep
  local t=$1 pl=$2 rep=$3 pin="" d=$D/run-$1-$2-$3
  [ "$pl" = pinned ] && pin="taskset -c 0"
  mount_target "$t" "$d" "$pin"
  local m=$d/mnt
  r() { local v; v=$($pin "$FSB" "$@" | awk '{print $2}'); echo "$t $pl $rep $W_NAME $v" >> "$RES"; }
  W_NAME=seqwrite r seqwrite "$m" "$SEQ_MB"
  drop; W_NAME=seqread_cold r seqread "$m"
  W_NAME=seqread_warm r seqread "$m"
  W_NAME=randread_4k r randread "$m" "$RAND_OPS"
  W_NAME=randwrite_4k r randwrite "$m" "$RAND_OPS"
  W_NAME=randread_4k_direct r randread "$m" "$DIRECT_OPS" direct
  W_NAME=randwrite_4k_direct r randwrite "$m" "$DIRECT_OPS" direct
  W_NAME=create r create "$m" "$NFILES"
  drop; W_NAME=stat_cold r stat "$m" "$NFILES"
  W_NAME=stat_warm r stat "$m" "$NFILES"
  drop; W_NAME=readdir_cold r readdir "$m"
  W_NAME=delete r delete "$m" "$NFILES"
  W_NAME=copyup_append_s r append "$m/big"
  mkdir -p "$m/untar"; drop
  local s e; s=$(date +%s.%N)
  $pin tar -C "$m/untar" -xf "$D/tree.tar"; sync -f "$m/untar"
  e=$(date +%s.%N); echo "$t $pl $rep untar_s $(echo "$e - $s" | bc)" >> "$RES"
  local pid; pid=$(daemon_pid "$m")
  if [ -n "$pid" ]; then
    drop; local before after; before=$(rss_kb "$pid")
    find "$m/untar" -printf '' ; after=$(rss_kb "$pid")
    echo "$t $pl $rep rss_bytes_per_inode $(( (after - before) * 1024 / UNTAR_FILES ))" >> "$RES"
  fi
  case $t in overlay) umount "$m" ;; *) fusermount3 -u "$m" ;; esac
  sleep 0.3
  rm -rf "$d"
}

for pl in $PLACEMENTS; do
  for rep in $(seq 1 "$REPS"); do
    set -- $TARGETS
    for i in $(seq 1 $(( (rep - 1) % $# ))); do set -- "${@:2}" "$1"; done  # rotate order
    for t in "$@"; do run_one "$t" "$pl" "$rep"; done
  done
done

python3 - "$RES" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    t, pl, rep, w, v = line.split()
    rows[(pl, w, t)].append(float(v))
lower_better = lambda w: w.endswith("_s") or w.startswith("rss")
for pl in sorted({k[0] for k in rows}, reverse=True):
    print(f"\n## {pl} (median of runs [min-max]; ratio = x kernel overlayfs, >1 is better; "
          f"for times and RSS ratio = time/overlay, <1 is better)")
    targets = [t for t in ["overlay", "fuse-overlayfs", "ctrsnap"] if any(k[0]==pl and k[2]==t for k in rows)]
    print("| workload | " + " | ".join(targets) + " | " + " | ".join(f"{t}/overlay" for t in targets[1:]) + " |")
    print("|---" * (1 + 2 * len(targets) - 1) + "|")
    for w in dict.fromkeys(k[1] for k in rows if k[0] == pl):
        cells, med = [], {}
        for t in targets:
            v = rows.get((pl, w, t))
            if not v: cells.append("-"); continue
            med[t] = statistics.median(v)
            cells.append(f"{med[t]:.4g} [{min(v):.3g}-{max(v):.3g}]")
        ratios = []
        for t in targets[1:]:
            if t in med and med.get("overlay"):
                ratios.append(f"{med[t] / med['overlay']:.2f}")
            else:
                ratios.append("-")
        print(f"| {w} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
PY
