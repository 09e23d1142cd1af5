#!/bin/bash
# soak_worker against a bare ctrsnap-fs mount (no runc), sealing every second;
# then checks the generations on disk, through kernel overlayfs, against the
# worker's MANIFEST (what it read back through the mount at the end).
# FS_OPTS: more -o options of ctrsnap-fs (log_level=trace logs every failed request).
# usage: SOAK_WORKER=build/bin/soak_worker tests/soak/fs_only.sh build/bin/ctrsnap-fs SECONDS SEED
set -u
FS=$1; SECS=$2; SEED=$3
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/fsfix-run-XXXX); mkdir -p $D/lower $D/mnt $D/oracle
$FS -o lowerdir=$D/lower,state=$D/state${FS_OPTS:+,$FS_OPTS} $D/mnt || exit 1
seal() { python3 -c "
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect('$D/state/control.sock'); s.sendall(b'{\"op\":\"seal\",\"v\":1}\n'); print(s.recv(4096)[:60])"; }
mkdir -p $D/mnt/work
( ${SOAK_WORKER:?path of a static soak_worker} $D/mnt/work $SECS $SEED > $D/out 2>&1; echo rc $? >> $D/out ) &
W=$!
while kill -0 $W 2>/dev/null; do sleep 1; seal >/dev/null; done
tail -3 $D/out
fusermount3 -u $D/mnt
for i in $(seq 50); do pgrep -f "state=$D/state" >/dev/null || break; sleep 0.1; done
lowers=$(ls $D/state/gen | sort -rn | sed "s|.*|$D/state/gen/&/upper|" | paste -sd:)
mount -t overlay overlay -o ro,lowerdir=$lowers:$D/lower,redirect_dir=follow,metacopy=on $D/oracle || exit 1
python3 "$HERE/check_manifest.py" $D/oracle/work; rc=$?
umount $D/oracle
echo "run directory: $D"
grep -q "^rc 0" $D/out && exit $rc
exit 1
