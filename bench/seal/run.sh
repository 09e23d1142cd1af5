#!/bin/bash
# bench/seal/run.sh BIN_DIR [SECONDS]: mounts ctrsnap-fs on a fresh state
# directory and runs ctrsnap-sealbench (see sealbench.cc). Run as root.
# `docker commit` is not measured here (needs an engine; see the report).
set -eu
BIN=$(cd "${1:?usage: run.sh BIN_DIR [SECONDS]}" && pwd); SECS=${2:-10}
W=$(mktemp -d /var/tmp/ctrsnap-benchseal-XXXXXX)
trap 'fusermount3 -u "$W/mnt" 2>/dev/null || umount -l "$W/mnt" 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/lower/etc" "$W/mnt"; echo x > "$W/lower/etc/x"
"$BIN/ctrsnap-fs" -o "lowerdir=$W/lower,state=$W/state" "$W/mnt"
echo "# ctrsnap-fs on $(df --output=fstype "$W" | tail -1) ($W), kernel $(uname -r), ${SECS}s per phase"
"$BIN/ctrsnap-sealbench" "$W/mnt" "$W/state" "$SECS"
