#!/usr/bin/env bash
# Installs every Debian 12 package ctrsnap needs to build, test and run its demo.
# Idempotent: packages already present are left alone; safe to run again.
# Usage: packaging/install-deps.sh [--build-only]
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: run as root (it calls apt-get)" >&2
  exit 1
fi

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  libfuse3-dev fuse3 libseccomp-dev libcap-dev libssl-dev libzstd-dev zlib1g-dev libdeflate-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev googletest libarchive-dev
  libvectorscan-dev libre2-dev libyaml-cpp-dev libcli11-dev libsqlite3-dev libtomlplusplus-dev
)
runtime_pkgs=(
  runc crun docker.io containerd skopeo umoci docker-registry busybox-static
  podman fuse-overlayfs attr acl e2fsprogs util-linux kmod iproute2 procps psmisc
  zstd pigz python3 python3-yaml jq patchelf lintian debhelper fakeroot dpkg-dev help2man debootstrap
)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" != "--build-only" ]]; then
  pkgs+=("${runtime_pkgs[@]}")
  # kubectl may already come from another package (it conflicts with Debian's).
  command -v kubectl >/dev/null 2>&1 || pkgs+=(kubernetes-client)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Services from docker.io/containerd/docker-registry must not auto-start from
  # the package scripts: the tests start private daemons of their own.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 0755 "$policy"; created_policy=1
  fi
  trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps.sh: all ${#pkgs[@]} packages already installed"
fi
