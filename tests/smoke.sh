#!/usr/bin/env bash
# Smoke test of the built binaries: each answers --version and --help.
set -euo pipefail
bin=${1:-build/bin}
for b in ctrsnap ctrsnap-fs ctrsnap-runtime ctrsnap-hook; do
  "$bin/$b" --version
  "$bin/$b" --help >/dev/null
done
echo "smoke: all four binaries answer"
