#!/bin/bash
# Runs pjdfstest and fsx against ctrsnap-fs and kernel overlayfs (as root) and
# prints failure counts. The tools are not part of this repository: build them
# yourself (pjdfstest: github.com/pjd/pjdfstest; fsx: xfstests' ltp/fsx.c).
#   tests/fs/conformance.sh BIN_DIR PJDFSTEST_DIR FSX_BINARY [FSX_OPS]
set -u
BIN=${1:?bin dir}; PJD=${2:?pjdfstest dir}; FSX=${3:?fsx binary}; OPS=${4:-100000}
T=$(mktemp -d /tmp/ctrsnap-conf-XXXXXX); chmod 755 "$T"
cleanup() {
  for m in "$T"/*/mnt; do mountpoint -q "$m" && umount -l "$m"; done
  rm -rf "$T"
}
trap cleanup EXIT

setup() {  # $1 = target name: ctrsnap | overlay
  local d=$T/$1
  mkdir -p "$d/lower/sub" "$d/mnt" "$d/u" "$d/w"
  head -c 3000000 /dev/urandom > "$d/lower/sub/lowerfile"
  if [ "$1" = ctrsnap ]; then
    "$BIN/ctrsnap-fs" -o "lowerdir=$d/lower,state=$d/state" "$d/mnt" || exit 1
  else
    mount -t overlay -o "lowerdir=$d/lower,upperdir=$d/u,workdir=$d/w,redirect_dir=on,metacopy=on" none "$d/mnt" || exit 1
  fi
}

run_pjd() {
  local d=$T/$1
  mkdir -p "$d/mnt/pjd" && chmod 777 "$d/mnt/pjd"
  (cd "$d/mnt/pjd" && prove -r -j1 "$PJD/tests" > "$d/pjd.log" 2>&1)
  local failed
  failed=$(grep -E "^Failed [0-9]+/[0-9]+ subtests" "$d/pjd.log" | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
  local total
  total=$(grep -E "^Files=" "$d/pjd.log" | sed -E 's/.*Tests=([0-9]+).*/\1/')
  echo "pjdfstest $1: $failed failed of ${total:-?} subtests ($(grep -c '^t.*Failed' "$d/pjd.log" || true) files; log $d/pjd.log)"
}

run_fsx() {
  local d=$T/$1 rc1 rc2 rc3
  (cd "$d/mnt" && "$FSX" -q -N "$OPS" -S 1 -P "$d" newfile > "$d/fsx-new.log" 2>&1); rc1=$?
  (cd "$d/mnt" && "$FSX" -q -N "$OPS" -S 2 -k -P "$d" sub/lowerfile > "$d/fsx-lower.log" 2>&1); rc2=$?
  (cd "$d/mnt" && "$FSX" -q -N "$((OPS / 4))" -S 3 -Z -R -W -r 4096 -w 4096 -t 4096 -P "$d" directfile > "$d/fsx-direct.log" 2>&1); rc3=$?
  echo "fsx $1: new file rc=$rc1, lower file rc=$rc2, O_DIRECT rc=$rc3 ($OPS ops; logs in $d)"
}

for t in ctrsnap overlay; do setup $t; done
for t in ctrsnap overlay; do run_fsx $t; done
for t in ctrsnap overlay; do run_pjd $t; done
if [ -n "${KEEP:-}" ]; then trap - EXIT; echo "kept $T"; fi
