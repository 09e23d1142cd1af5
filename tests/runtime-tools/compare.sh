#!/usr/bin/env bash
# OCI runtime-tools' validation suite through ctrsnap-runtime and through the
# real runtime alone: runs each validation executable (TAP output) with
# RUNTIME=runc and with RUNTIME=ctrsnap-runtime and compares the results test
# by test. Run by hand (the suite is fetched, built and run locally, never
# committed; CI cannot reach GitHub):
#
#   git clone https://github.com/opencontainers/runtime-tools RT
#   (cd RT && git checkout 260e151 &&
#    GOFLAGS=-mod=vendor GOPROXY=off make runtimetest validation-executables)
#       (260e151: the last commit that builds with Debian 12's Go 1.19, from vendor/)
#   tests/runtime-tools/compare.sh RT build/bin [REAL_RUNTIME]
#
# Prints one line per validation executable: its passed/failed/skipped TAP
# tests under each runtime, and "SAME" or "DIFF" with the differing lines
# ("SAME (messages differ)": every test has the same outcome, some failure
# texts differ).
# Exit status 0 iff every executable gives the same per-test results.
set -u
RT=$(cd "${1:?runtime-tools checkout with built validation executables}" && pwd)
BIN=$(cd "${2:?directory of ctrsnap-runtime}" && pwd)
REAL=${3:-runc}
REAL=$(command -v "$REAL") || { echo "no runtime $3" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root" >&2; exit 2; }
out=$(mktemp -d /tmp/rtools-compare-XXXX)
export CTRSNAP_ROOT=$out/state
mkdir -p "$CTRSNAP_ROOT"
printf '{"runtime": "%s"}\n' "$REAL" > "$out/config.json"
export CTRSNAP_CONFIG=$out/config.json

# TAP lines "ok N - text" / "not ok N - text [# SKIP ...]" -> "ok|not ok|skip: text"
# plus "error: text" for an error the executable reports outside a test (YAML).
results() {
  sed -n -E 's/^    "error": "(.{0,100}).*$/error: \1/p' "$1"
  sed -n -E 's/^(not ok|ok) [0-9]+ (- )?(.*)$/\1: \3/p' "$1" |
    sed -E 's/^ok: (.*)# ?(SKIP|skip) ?(.*)$/skip: \1\3/; s/^not ok: (.*)# ?(SKIP|skip|TODO) ?(.*)$/skip: \1\3/'
}
count() { grep -c "^$2:" "$1" || true; }
errors() { local n; n=$(count "$1" error); [[ $n == 0 ]] || echo " +${n}E"; }

same=0 diff=0
cd "$RT"
for t in validation/*/*.t; do
  name=$(basename "$t" .t)
  for rt in real ctrsnap; do
    if [[ $rt == real ]]; then r=$REAL; else r=$BIN/ctrsnap-runtime; fi
    RUNTIME=$r timeout 120 "./$t" > "$out/$name.$rt.tap" 2>"$out/$name.$rt.err"
    echo "exit $?" >> "$out/$name.$rt.err"
    # sorted: some executables report in map order (mounts), which varies
    # and the suite's temporary directories (random names) made equal
    results "$out/$name.$rt.tap" | sed -E 's|/tmp/ocitest[0-9]+|/tmp/ocitestN|g' |
      LC_ALL=C sort > "$out/$name.$rt.res"
  done
  line=$(printf '%-36s %s %2s/%2s/%2s  ctrsnap %2s/%2s/%2s' "$name" "$(basename "$REAL")" \
    "$(count "$out/$name.real.res" ok)" "$(count "$out/$name.real.res" 'not ok')" \
    "$(count "$out/$name.real.res" skip)" "$(count "$out/$name.ctrsnap.res" ok)" \
    "$(count "$out/$name.ctrsnap.res" 'not ok')" "$(count "$out/$name.ctrsnap.res" skip)")
  line+="$(errors "$out/$name.real.res")/$(errors "$out/$name.ctrsnap.res")"
  if cmp -s "$out/$name.real.res" "$out/$name.ctrsnap.res"; then
    echo "$line  SAME"; same=$((same + 1))
  elif [[ $(sed 's/:.*//' "$out/$name.real.res") == $(sed 's/:.*//' "$out/$name.ctrsnap.res") ]]; then
    # Same outcome for every test; only the failure texts differ.
    echo "$line  SAME (messages differ)"; same=$((same + 1))
    diff "$out/$name.real.res" "$out/$name.ctrsnap.res" | sed -n 's/^[<>] /    /p' | head -4
  else
    echo "$line  DIFF"; diff=$((diff + 1))
    diff "$out/$name.real.res" "$out/$name.ctrsnap.res" | sed -n 's/^[<>] /    /p' | head -10
  fi
done
echo "validation executables: $same same, $diff different; per runtime: passed/failed/skipped, +NE: errors outside tests; outputs in $out"
[[ $diff == 0 ]]
