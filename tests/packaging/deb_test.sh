#!/usr/bin/env bash
# The .deb end to end, in a throwaway root (no chroot image needed): build it
# twice with two versions, lintian, install, upgrade keeping a user's edit of a
# conffile, remove, purge (conffiles gone); and the mount.fuse helper route
# `mount -t fuse.ctrsnap-fs` takes to ctrsnap-fs.
#
# The root gets busybox as /bin/sh so that dpkg can chroot into it to run the
# maintainer scripts; their systemd calls find no systemd there and are
# skipped, exactly as on a host without systemd. Dependencies are forced
# (the root's dpkg database knows no libc6); the binaries run from the host.
#
# usage: tests/packaging/deb_test.sh BUILD_DIR   (root; label `packaging`)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:?usage: deb_test.sh BUILD_DIR}")
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root"; exit 77; }
command -v busybox >/dev/null || { echo "SKIP: busybox-static not installed"; exit 77; }

work=$(mktemp -d /var/tmp/ctrsnap-deb-test.XXXXXX)
cleanup() {
  mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "build two versions"
CTRSNAP_DEB_VERSION=0.1.0~test1 "$src/packaging/deb/build.sh" "$build" "$work/out" >/dev/null
deb1=$work/out/ctrsnap_0.1.0~test1_amd64.deb
[[ -f $deb1 ]] || fail "no $deb1"
CTRSNAP_DEB_VERSION=0.1.0~test2 "$src/packaging/deb/build.sh" "$build" "$work/out" >/dev/null
deb2=$work/out/ctrsnap_0.1.0~test2_amd64.deb

step "lintian"
lint=$(lintian --fail-on error,warning "$deb1" 2>&1 | grep -v 'root privileges' || true)
lintian --fail-on error,warning "$deb1" >/dev/null 2>&1 || fail "lintian: $lint"

root=$work/root
mkdir -p "$root/bin" "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/tmp"
touch "$root/var/lib/dpkg/status"
cp "$(command -v busybox)" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
dpkg_root() { dpkg --root="$root" --force-depends "$@"; }
status() { dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status} ${Version}' ctrsnap 2>/dev/null || true; }

step "install $deb1"
dpkg_root -i "$deb1" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
[[ $(status) == "install ok installed 0.1.0~test1" ]] || fail "status after install: $(status)"
for b in ctrsnap ctrsnap-fs ctrsnap-runtime ctrsnap-hook; do
  [[ -x $root/usr/bin/$b ]] || fail "/usr/bin/$b missing"
  "$root/usr/bin/$b" --help >/dev/null || fail "$b --help"
  [[ -s $root/usr/share/man/man1/$b.1.gz ]] || fail "man page of $b missing"
done
cmp "$root/etc/ctrsnap/config.json" "$src/packaging/etc/config.json" || fail "config.json differs"
[[ -f $root/etc/ctrsnap/policy.json ]] || fail "policy.json missing"
grep -qx /etc/ctrsnap/config.json "$root/var/lib/dpkg/info/ctrsnap.conffiles" || fail "config.json is not a conffile"
grep -qx /etc/ctrsnap/policy.json "$root/var/lib/dpkg/info/ctrsnap.conffiles" || fail "policy.json is not a conffile"
[[ $(readlink "$root/sbin/mount.fuse.ctrsnap-fs") == mount.fuse3 ]] || fail "mount.fuse.ctrsnap-fs link"
grep -q '^ExecStart=/usr/bin/ctrsnap gc$' "$root/lib/systemd/system/ctrsnap-gc.service" || fail "gc service"
grep -q '^OnCalendar=daily$' "$root/lib/systemd/system/ctrsnap-gc.timer" || fail "gc timer"
# The installed ctrsnap registers the runtime beside itself: /usr/bin/ctrsnap-runtime.
"$root/usr/bin/ctrsnap" install docker --file "$work/daemon.json" --runtime-path /usr/bin/ctrsnap-runtime --dry-run | grep -q '/usr/bin/ctrsnap-runtime' || fail "install --dry-run"

step "upgrade to $deb2 keeps the admin's edit of a conffile"
sed -i 's/"log_level": "info"/"log_level": "debug"/' "$root/etc/ctrsnap/config.json"
dpkg_root -i "$deb2" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "upgrade"; }
[[ $(status) == "install ok installed 0.1.0~test2" ]] || fail "status after upgrade: $(status)"
grep -q '"log_level": "debug"' "$root/etc/ctrsnap/config.json" || fail "upgrade lost the conffile edit"

step "reinstall the same version"
dpkg_root -i "$deb2" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "reinstall"; }

step "remove keeps conffiles, purge removes them"
dpkg_root -r ctrsnap >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "remove"; }
[[ ! -e $root/usr/bin/ctrsnap ]] || fail "binary left after remove"
[[ -f $root/etc/ctrsnap/config.json ]] || fail "conffile removed by remove"
[[ $(status) == "deinstall ok config-files 0.1.0~test2" ]] || fail "status after remove: $(status)"
dpkg_root -P ctrsnap >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "purge"; }
[[ ! -e $root/etc/ctrsnap/config.json && ! -e $root/etc/ctrsnap/policy.json ]] || fail "conffiles left after purge"
[[ -z $(status) || $(status) == "unknown ok not-installed"* ]] || fail "status after purge: $(status)"

step "mount -t fuse.ctrsnap-fs runs ctrsnap-fs SOURCE MOUNTPOINT -o OPTIONS"
# mount(8) runs helpers with a fixed PATH (/usr/local/sbin:...:/bin), so a
# stand-in ctrsnap-fs goes on a tmpfs over /usr/local/sbin in a private mount
# namespace; it records how mount.fuse3 calls it (nothing is mounted).
mkdir -p "$work/mnt" "$work/lower"
cat >"$work/fake-ctrsnap-fs" <<SH
#!/bin/sh
echo "\$@" >"$work/argv"
SH
chmod +x "$work/fake-ctrsnap-fs"
unshare -m --propagation private sh -c "
  mount -t tmpfs ctrsnap-test /usr/local/sbin &&
  cp '$work/fake-ctrsnap-fs' /usr/local/sbin/ctrsnap-fs &&
  mount -t fuse.ctrsnap-fs -o 'lowerdir=$work/lower,state=$work/state' ctrsnap '$work/mnt'" \
  || fail "mount -t fuse.ctrsnap-fs"
argv=$(cat "$work/argv")
[[ $argv == "ctrsnap $work/mnt -o "*"lowerdir=$work/lower,state=$work/state"* ]] || fail "ctrsnap-fs argv: $argv"
# The packaged helper name works too (mount.fuse3 takes the type from its own name).
ln -s "$(command -v mount.fuse3 || echo /sbin/mount.fuse3)" "$work/mount.fuse.ctrsnap-fs"
rm -f "$work/argv"
unshare -m --propagation private sh -c "
  mount -t tmpfs ctrsnap-test /usr/local/sbin &&
  cp '$work/fake-ctrsnap-fs' /usr/local/sbin/ctrsnap-fs &&
  '$work/mount.fuse.ctrsnap-fs' ctrsnap '$work/mnt' -o 'lowerdir=$work/lower'" \
  || fail "mount.fuse.ctrsnap-fs"
grep -q "lowerdir=$work/lower" "$work/argv" || fail "mount.fuse.ctrsnap-fs argv: $(cat "$work/argv")"
echo "PASS: deb install, upgrade, purge, lintian, mount helper"
