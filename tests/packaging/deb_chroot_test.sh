#!/usr/bin/env bash
# The .deb on a clean Debian 12: a debootstrap (minbase) chroot where apt
# resolves the package's dependencies from deb.debian.org, the maintainer
# scripts run for real (deb-systemd-helper enables the gc timer), the
# binaries run on the chroot's own libraries, then upgrade and purge.
#
# Needs network access to deb.debian.org, so it runs only with
# CTRSNAP_TEST_DEBOOTSTRAP=1. The minbase tree is cached as a tarball
# (CTRSNAP_DEBOOTSTRAP_CACHE, default /var/tmp/ctrsnap-debootstrap-bookworm.tar;
# debootstrap takes about 3 minutes, the cached tree seconds).
#
# usage: tests/packaging/deb_chroot_test.sh BUILD_DIR   (root; label `packaging`)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:?usage: deb_chroot_test.sh BUILD_DIR}")
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root"; exit 77; }
[[ ${CTRSNAP_TEST_DEBOOTSTRAP:-0} == 1 ]] || { echo "SKIP: set CTRSNAP_TEST_DEBOOTSTRAP=1 (needs deb.debian.org)"; exit 77; }
command -v debootstrap >/dev/null || { echo "SKIP: debootstrap not installed"; exit 77; }
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
mirror=${CTRSNAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${CTRSNAP_DEBOOTSTRAP_CACHE:-/var/tmp/ctrsnap-debootstrap-bookworm.tar}

work=$(mktemp -d /var/tmp/ctrsnap-deb-chroot.XXXXXX)
root=$work/root
cleanup() {
  for m in proc dev/pts dev; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

echo "== clean bookworm root"
if [[ -f $cache ]]; then
  mkdir -p "$root" && tar -C "$root" -xf "$cache"
else
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$root" -cf "$cache.tmp.$$" . && mv "$cache.tmp.$$" "$cache"
fi
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 0755 "$root/usr/sbin/policy-rc.d"
in_root apt-get update -qq >/dev/null || fail "apt-get update in the chroot"

echo "== build two versions"
for v in 0.1.0~chroot1 0.1.0~chroot2; do
  CTRSNAP_DEB_VERSION=$v "$src/packaging/deb/build.sh" "$build" "$root/tmp" >/dev/null
done

echo "== apt-get install (dependencies from the archive)"
in_root apt-get install -y -qq /tmp/ctrsnap_0.1.0~chroot1_amd64.deb >"$work/apt.log" 2>&1 \
  || { tail -20 "$work/apt.log"; fail "apt-get install"; }
in_root dpkg-query -W -f='${Status} ${Version}\n' ctrsnap fuse3 runc
for b in ctrsnap ctrsnap-fs ctrsnap-runtime ctrsnap-hook; do
  in_root "/usr/bin/$b" --help >/dev/null || fail "$b does not run on a clean system"
done
in_root ctrsnap doctor --json >"$work/doctor.json" || true
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(c["check"]=="runtime" and c["level"]=="OK" for c in d), d' \
  "$work/doctor.json" || fail "doctor in the chroot: $(cat "$work/doctor.json")"
[[ -L $root/etc/systemd/system/timers.target.wants/ctrsnap-gc.timer ]] || fail "gc timer not enabled"
[[ -x $root/sbin/mount.fuse.ctrsnap-fs ]] || fail "mount.fuse.ctrsnap-fs does not resolve"
in_root ctrsnap install docker --dry-run | grep -q '"path": "/usr/bin/ctrsnap-runtime"' \
  || fail "install does not default to /usr/bin/ctrsnap-runtime"

echo "== upgrade keeps an edited conffile"
sed -i 's/"log_level": "info"/"log_level": "warn"/' "$root/etc/ctrsnap/config.json"
in_root apt-get install -y -qq /tmp/ctrsnap_0.1.0~chroot2_amd64.deb >"$work/apt.log" 2>&1 \
  || { tail -20 "$work/apt.log"; fail "upgrade"; }
[[ $(in_root dpkg-query -W -f='${Version}' ctrsnap) == 0.1.0~chroot2 ]] || fail "not upgraded"
grep -q '"log_level": "warn"' "$root/etc/ctrsnap/config.json" || fail "upgrade lost the edit"

echo "== purge"
in_root apt-get purge -y -qq ctrsnap >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log"; fail "purge"; }
[[ ! -e $root/etc/ctrsnap ]] || fail "/etc/ctrsnap left after purge: $(ls -A "$root/etc/ctrsnap")"
[[ ! -e $root/etc/systemd/system/timers.target.wants/ctrsnap-gc.timer ]] || fail "timer link left after purge"
[[ ! -e $root/usr/bin/ctrsnap ]] || fail "binary left after purge"
echo "PASS: apt install, upgrade, purge on a clean bookworm"
