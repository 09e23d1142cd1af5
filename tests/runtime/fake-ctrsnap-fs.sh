#!/usr/bin/env bash
# A stand-in for ctrsnap-fs with its command line, built on fuse-overlayfs, for
# developing the wrapper before ctrsnap-fs could mount. It has no control
# socket (seal/flush calls fail). usage: fake-ctrsnap-fs.sh -o lowerdir=L,state=DIR MOUNTPOINT
set -euo pipefail
opts= mp=
while (($#)); do
  case $1 in
    -o) opts=$2; shift 2 ;;
    -f) shift ;;
    *) mp=$1; shift ;;
  esac
done
lower= state=
IFS=, read -ra kv <<<"$opts"
for o in "${kv[@]}"; do
  case $o in lowerdir=*) lower=${o#lowerdir=} ;; state=*) state=${o#state=} ;; esac
done
gen=1
while [[ -e $state/gen/$((gen + 1)) ]]; do gen=$((gen + 1)); done
mkdir -p "$state/gen/$gen/upper" "$state/gen/$gen/work"
setsid flock "$state/lock" fuse-overlayfs -f -o "lowerdir=$lower,upperdir=$state/gen/$gen/upper,workdir=$state/gen/$gen/work" "$mp" </dev/null &
for _ in $(seq 200); do
  if awk -v m="$mp" '$5 == m && $0 ~ / - fuse/ {f=1} END {exit !f}' /proc/self/mountinfo; then exit 0; fi
  sleep 0.05
done
echo "fake-ctrsnap-fs: mount did not appear" >&2
exit 1
