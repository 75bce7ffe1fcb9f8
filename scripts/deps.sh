#!/bin/sh
# Install every Debian package mvm needs to build, test and benchmark.
# Run as root (or with sudo available) on Debian 12.
set -eu
PKGS="
build-essential pkg-config
liburing-dev libfdt-dev libcmocka-dev libseccomp-dev libjansson-dev zlib1g-dev
linux-source-6.1 flex bison bc libelf-dev libssl-dev dwarves cpio xz-utils kmod
e2fsprogs busybox-static
qemu-system-x86
clang libclang-rt-14-dev clang-format clang-tidy cppcheck valgrind
python3
"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=$(for p in $PKGS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	grep -q '^install ok installed$' || echo "$p"; done)
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
echo "deps: installing:" $missing
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
