#!/usr/bin/env bash
# Builds ctrsnap_<version>_amd64.deb from an existing CMake build tree.
#
# usage: packaging/deb/build.sh BUILD_DIR [OUT_DIR]
#   BUILD_DIR  a build tree with bin/ctrsnap, ctrsnap-fs, ctrsnap-runtime, ctrsnap-hook
#   OUT_DIR    where the .deb goes (default: BUILD_DIR/deb)
# environment:
#   CTRSNAP_DEB_VERSION  package version (default: the CMake project version)
#   CTRSNAP_LINTIAN=1    also run lintian on the result (fails on errors and warnings)
#
# debhelper does the packaging (dh_installsystemd for the gc timer, dh_installdeb
# marks /etc/ctrsnap/* as conffiles, dh_shlibdeps computes Depends); help2man
# makes the man pages from each binary's --help. Nothing is compiled here.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:?usage: build.sh BUILD_DIR [OUT_DIR]}")
out=${2:-$build/deb}
mkdir -p "$out"
out=$(realpath "$out")

for b in ctrsnap ctrsnap-fs ctrsnap-runtime ctrsnap-hook; do
  [[ -x $build/bin/$b ]] || { echo "build.sh: $build/bin/$b is missing; build it first" >&2; exit 1; }
done
for tool in dpkg-buildpackage dh help2man; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found: apt-get install debhelper help2man dpkg-dev" >&2; exit 1; }
done

version=${CTRSNAP_DEB_VERSION:-$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")}
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || { echo "build.sh: bad version '$version'" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkgsrc=$work/ctrsnap-$version
mkdir -p "$pkgsrc/man"
cp -r "$src/packaging/deb/debian" "$pkgsrc/debian"
cat >"$pkgsrc/debian/changelog" <<CHANGELOG
ctrsnap ($version) unstable; urgency=medium

  * Built from the ctrsnap source tree.

 -- ctrsnap developers <ctrsnap-dev@lists.example.org>  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")
CHANGELOG

declare -A names=(
  [ctrsnap]="snapshots of running containers as OCI images"
  [ctrsnap-fs]="copy-on-write FUSE root filesystem of ctrsnap containers"
  [ctrsnap-runtime]="OCI runtime wrapper that puts container roots on ctrsnap-fs"
  [ctrsnap-hook]="OCI hook run by ctrsnap-runtime"
)
for b in "${!names[@]}"; do
  help2man --no-info --no-discard-stderr --section=1 --name="${names[$b]}" \
    --version-string="$version" "$build/bin/$b" >"$pkgsrc/man/$b.1"
done

(
  cd "$pkgsrc"
  CTRSNAP_BUILD_DIR=$build CTRSNAP_SOURCE_DIR=$src \
    dpkg-buildpackage -b -us -uc -d >"$work/build.log" 2>&1
) || { cat "$work/build.log" >&2; echo "build.sh: dpkg-buildpackage failed" >&2; exit 1; }

deb=ctrsnap_${version}_amd64.deb
cp "$work/$deb" "$out/$deb"
echo "$out/$deb"
if [[ ${CTRSNAP_LINTIAN:-0} == 1 ]]; then
  lintian --fail-on error,warning "$out/$deb"
fi
