#!/usr/bin/env bash
# Builds ctrsnap twice and runs the whole test suite; what CI runs (.ci/run).
#   1. clang, -Werror, AddressSanitizer + UndefinedBehaviorSanitizer: unit tests.
#   2. g++, -Werror: every test (unit, mount, runtime, e2e, packaging) against
#      private dockerd, containerd and registry started here and stopped on exit.
# The fuzz smoke run (label fuzz, tests/fuzz-smoke.sh) builds a third, instrumented tree and is
# left to `ctest -L fuzz` by hand. The last thing printed is ctest's summary. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "run-all.sh: the mount and runtime tests need root" >&2
  exit 1
fi
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH  # Debian's docker client first

echo "== sanitizer build (clang-14, ASan+UBSan)"
CC=clang-14 CXX=clang++-14 cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCTRSNAP_SANITIZE=ON -DCTRSNAP_WERROR=ON >/dev/null
cmake --build build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j2

echo "== release build (g++, -Werror)"
cmake -S . -B build -G Ninja -DCTRSNAP_WERROR=ON >/dev/null
cmake --build build

trap 'tests/services.sh stop >/dev/null 2>&1 || true' EXIT
tests/services.sh start build/bin
eval "$(tests/services.sh env)"

echo "== all tests"
ctest --test-dir build --output-on-failure -LE fuzz
