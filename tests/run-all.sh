#!/usr/bin/env bash
# Builds ctrsnap twice and runs the whole test suite; what CI runs (.ci/run).
#   1. clang-14, -Werror, ASan + UBSan, libFuzzer coverage (build-asan): every target and the
#      fuzzers; the unit and mount tests (ctrsnap-fs itself runs instrumented); then each fuzzer
#      for FUZZ_SECONDS over its corpus (tests/fuzz-smoke.sh).
#   2. g++, -Werror (build): every target; every other test (unit, runtime, e2e, packaging,
#      the bulk hostile tests, the 2-minute soak) against private dockerd, containerd and
#      registry started here and stopped on exit.
# Each phase prints its wall and CPU time (user+sys of the processes it waited for; the daemons'
# own CPU is not counted); the last thing printed is ctest's summary. Run as root. Safe to rerun:
# the build trees are reused, services left by an interrupted run are stopped first.
#
#   CTRSNAP_CI_JOBS  build and ctest parallelism (default: ninja's own for builds, nproc for tests)
#   FUZZ_SECONDS     per fuzzer (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "run-all.sh: the mount and runtime tests need root" >&2
  exit 1
fi
# Debian's docker client first: a newer one in /usr/local/bin may refuse Debian's dockerd.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
jobs=${CTRSNAP_CI_JOBS:-$(nproc)}
build_jobs=(${CTRSNAP_CI_JOBS:+-j"$CTRSNAP_CI_JOBS"})  # unset: ninja's default, nproc + 2
times_file=build/ci-times.txt

# Phase timing. CPU time is that of the children this shell has waited for: `times` in this
# shell (in a pipe or $(...) it would run in a subshell, whose children are none).
times_raw=$(mktemp)
trap 'rm -f "$times_raw" "$times_raw.cpu"' EXIT
child_cpu() {
  times >"$times_raw"
  awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] }
                 printf "%.0f", s }' "$times_raw"
}
phase() {  # phase NAME: ends the running phase (if any), starts NAME
  local now cpu
  child_cpu >"$times_raw.cpu"
  now=$SECONDS cpu=$(<"$times_raw.cpu")
  if [[ -n ${phase_name:-} ]]; then
    printf -- '-- %-16s wall %4d s  cpu %4d s\n' "$phase_name" $((now - phase_t0)) $((cpu - phase_cpu0)) \
      | tee -a "$times_file"
  fi
  phase_name=$1 phase_t0=$now phase_cpu0=$cpu
  [[ -z $1 ]] || echo "== $1"
}
mkdir -p build
rm -f "$times_file"

# 1. clang: -O0 with line tables only (a third less CPU than -g, half of -O1) and
#    precompiled headers. Asserts stay on.
phase "asan build"
CC=clang-14 CXX=clang++-14 cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS_DEBUG=-gline-tables-only -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only \
  -DCTRSNAP_FUZZ=ON -DCTRSNAP_PCH=ON -DCTRSNAP_WERROR=ON >/dev/null
cmake --build build-asan "${build_jobs[@]}"

phase "asan tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan -L 'unit|mount' --output-on-failure -j"$jobs"

phase "fuzz smoke"
FUZZ_SECONDS=${FUZZ_SECONDS:-10} FUZZ_JOBS=$jobs tests/fuzz-smoke.sh build-asan
unset ASAN_OPTIONS UBSAN_OPTIONS

# 2. g++: -O2 as shipped (its warnings need the optimizer) without debug info (a third of
#    the CPU); no precompiled headers, so that a missing #include fails here.
phase "g++ build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" \
  -DCTRSNAP_PCH=OFF -DCTRSNAP_WERROR=ON >/dev/null
cmake --build build "${build_jobs[@]}"

phase "services"
trap 'tests/services.sh stop >/dev/null 2>&1 || true; rm -f "$times_raw" "$times_raw.cpu"' EXIT
tests/services.sh stop >/dev/null 2>&1 || true
tests/services.sh start build/bin
eval "$(tests/services.sh env)"

# The mount tests ran instrumented above; the fuzz smoke too. Tests of the shared services
# hold one RESOURCE_LOCK (cmake/Testing.cmake), so they run one at a time while the unit tests
# and the soak (CTRSNAP_SOAK_SECONDS, 2 minutes here; hours by hand) run beside them.
phase "tests"
echo "(phase times: $times_file)"
cat "$times_file"
rc=0
CTRSNAP_SOAK_SECONDS=${CTRSNAP_SOAK_SECONDS:-120} \
  ctest --test-dir build --output-on-failure -LE 'fuzz|mount' -j"$jobs" || rc=$?
phase "" >/dev/null
exit $rc
