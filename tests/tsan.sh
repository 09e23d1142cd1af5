#!/bin/bash
# ThreadSanitizer run of the daemon's threading: the core unit tests
# (journal, control server, fs core, FUSE adapter) and the mount tests, whose
# ctrsnap-fs daemons are TSan builds too. Needs root (FUSE and overlay mounts)
# and clang-14.
#
#   tests/tsan.sh [BUILD_DIR]        default build-tsan
#
# Every process writes its reports to $LOGDIR/tsan.<pid> (TSAN_OPTIONS
# log_path: the daemon runs detached, with stderr in a temporary dir); the
# script fails when a test fails or when any report was written.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-tsan}
LOGDIR=${TSAN_LOGDIR:-/tmp/ctrsnap-tsan-logs}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -G Ninja -DCTRSNAP_SANITIZE=thread \
    -DCTRSNAP_WERROR=ON >/dev/null
fi
UNIT_TESTS="journal_test change_set_test control_test fscore_test fscore_overlay_test fsfuse_test"
ninja -C "$BUILD" -j"${JOBS:-2}" $UNIT_TESTS fs_mount_test ctrsnap-fs

rm -rf "$LOGDIR" && mkdir -p "$LOGDIR"
# second_deadlock_stack: lock-order reports name both stacks. The daemon is
# sandboxed (seccomp: no execve), so reports are symbolized offline below.
export TSAN_OPTIONS="log_path=$LOGDIR/tsan second_deadlock_stack=1 symbolize=0 ${TSAN_OPTIONS:-}"
export CTRSNAP_BIN_DIR=$PWD/$BUILD/bin CTRSNAP_SOURCE_DIR=$PWD

failed=0
for t in $UNIT_TESTS; do
  echo "== $t"
  "$BUILD/tests/$t" --gtest_brief=1 || failed=1
done
echo "== fs_mount_test"
"$BUILD/tests/fs_mount_test" --gtest_brief=1 ${FS_MOUNT_FILTER:+--gtest_filter=$FS_MOUNT_FILTER} || failed=1

reports=$(ls "$LOGDIR" 2>/dev/null | wc -l)
if [ "$reports" -gt 0 ]; then
  echo "ThreadSanitizer reports in $LOGDIR:"
  for f in "$LOGDIR"/*; do
    # Offline symbolization of the module+offset frames.
    python3 - "$f" <<'EOF' || cat "$f"
import re, subprocess, sys
for line in open(sys.argv[1]):
    m = re.search(r'\((\S+)\+(0x[0-9a-f]+)\)', line)
    if m:
        out = subprocess.run(['llvm-symbolizer-14', '-e', m.group(1), m.group(2)],
                             capture_output=True, text=True).stdout.split('\n')
        line = line.rstrip('\n') + '  ' + ' '.join(x for x in out[:2] if x) + '\n'
    sys.stdout.write(line)
EOF
  done
  failed=1
fi
[ "$failed" = 0 ] && echo "tsan: clean ($UNIT_TESTS fs_mount_test)"
exit "$failed"
