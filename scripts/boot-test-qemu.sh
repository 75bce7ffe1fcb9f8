#!/bin/bash
# Boot the mvm guest kernel under QEMU microvm (PVH entry) and run a user-space
# smoke test, independent of the mvm VMM.
#
# Usage: scripts/boot-test-qemu.sh [-k VMLINUX] [-c CPUS] [-m MIB] [-v] [-- EXTRA_CMDLINE...]
#   -k  kernel (default: build/vmlinux, else scripts/build-kernel.sh output)
#   -c  vCPUs (default 1), -m guest RAM in MiB (default 128)
#   -v  not quiet: full kernel log with printk timestamps
#
# The guest gets a ~10 KB initramfs holding only a freestanding /init
# (boot-test/init.c) and an ext4 disk on virtio-mmio (/dev/vda) with static
# busybox, a dynamic glibc program (boot-test/hello.c) with its libraries and
# /test.sh. /init prints "MVM-TEST: init running" (first user output), times
# syscalls, runs /test.sh in a chroot, and writes its exit status to
# isa-debug-exit (port 0xf4) through /dev/port; QEMU then exits with
# (status << 1) | 1. Exit status of this script: 0 if the test passed.
#
# On a PVM host the command line needs the flags in docs/GUEST-KERNEL.md; the
# script adds them when /sys/module/kvm_pvm exists.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/scripts/boot-test
kernel= cpus=1 mem=128 verbose=0
while getopts "k:c:m:vh" opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	c) cpus=$OPTARG ;;
	m) mem=$OPTARG ;;
	v) verbose=1 ;;
	h)
		sed -n '2,18s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ -z "$kernel" ]; then
	if [ -e "$ROOT/build/vmlinux" ]; then
		kernel=$ROOT/build/vmlinux
	else
		kernel=$("$ROOT/scripts/build-kernel.sh" | tail -n1)
	fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- initramfs: /init only, plus the console node the kernel opens for it.
mkdir -p "$tmp/initramfs/dev"
gcc -Os -static -nostdlib -ffreestanding -fno-tree-loop-distribute-patterns -fno-stack-protector -fno-pie -no-pie \
	-fno-asynchronous-unwind-tables -Wall -o "$tmp/initramfs/init" "$HERE/init.c"
strip "$tmp/initramfs/init"
mknod -m 600 "$tmp/initramfs/dev/console" c 5 1
(cd "$tmp/initramfs" && find . | cpio -o -H newc --quiet) >"$tmp/initramfs.cpio"

# --- ext4 test disk: busybox, a dynamic glibc program and its libraries.
disk=$tmp/rootfs
mkdir -p "$disk/bin" "$disk/tmp" "$disk/proc" "$disk/dev"
cp /bin/busybox "$disk/bin/busybox"
for a in sh echo cat ls grep dd printf head wc nproc uname mount; do
	ln -s busybox "$disk/bin/$a"
done
gcc -O2 -Wall -pthread -o "$disk/bin/hello-dyn" "$HERE/hello.c" -lm
for lib in $(ldd "$disk/bin/hello-dyn" | grep -o '/[^ ]*'); do
	mkdir -p "$disk$(dirname "$lib")"
	cp -L "$lib" "$disk$lib"
done
cat >"$disk/test.sh" <<'EOF'
echo "MVM-TEST: busybox sh up: $(uname -r), $(nproc) cpu(s)"
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
grep -E '^(MemTotal|MemFree)' /proc/meminfo
/bin/hello-dyn || exit 1
echo "MVM-TEST: fork+exec x5:"
i=0
while [ $i -lt 5 ]; do /bin/echo -n "$i "; i=$((i + 1)); done
echo
[ -c /dev/port ] || { echo "MVM-TEST: no /dev/port"; exit 2; }
echo "MVM-TEST: PASS"
exit 0
EOF
truncate -s 64M "$tmp/disk.img"
mkfs.ext4 -q -F -O ^has_journal -d "$disk" "$tmp/disk.img"

# --- command line
# The same command line mvm uses; see docs/GUEST-KERNEL.md for each flag.
cmdline="console=ttyS0 panic=-1 reboot=k percpu_alloc=page"
if [ "$cpus" = 1 ]; then
	cmdline+=" noreplace-smp"
fi
if [ -d /sys/module/kvm_pvm ]; then
	cmdline+=" pvm_quirks noxsave nopcid noinvpcid rodata=off"
	cmdline+=" clearcpuid=308,151,288,152,304,297,580,141"
fi
if [ "$verbose" = 1 ]; then
	cmdline+=" printk.time=1"
else
	cmdline+=" quiet"
fi
cmdline+=" ${*}"
cmdline=${cmdline% }

qemu=(qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off,acpi=off
	-enable-kvm -cpu max,-arch-capabilities -smp "$cpus" -m "$mem"
	-nodefaults -no-user-config -nographic -serial stdio
	-device isa-debug-exit,iobase=0xf4,iosize=4
	-drive id=d0,file="$tmp/disk.img",format=raw,if=none
	-device virtio-blk-device,drive=d0
	-kernel "$kernel" -initrd "$tmp/initramfs.cpio" -append "$cmdline")
echo "boot-test: kernel $kernel" >&2
echo "boot-test: cmdline: $cmdline" >&2
echo "boot-test: $(printf "%q " "${qemu[@]}")" >&2
echo >&2

# Prefix every guest line with seconds since QEMU started.
t0=$(date +%s.%N)
set +e
timeout 300 "${qemu[@]}" </dev/null 2>&1 | while IFS= read -r line; do
	printf '[%7.3f] %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "${line%$'\r'}"
done
rc=${PIPESTATUS[0]}
set -e
echo "boot-test: qemu exit status $rc" >&2
# isa-debug-exit: QEMU exits with (value << 1) | 1, so 1 means status 0.
if [ "$rc" -eq 1 ]; then
	echo "boot-test: PASS" >&2
	exit 0
fi
echo "boot-test: FAIL" >&2
exit 1
