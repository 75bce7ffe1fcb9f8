#!/bin/bash
# Side by side: the same kernel, the same job image and the same job under
# mvm and under QEMU microvm (Debian's qemu-system-x86), whole-process wall
# time from start to exit, alternating A B A B so drift hits both.
#
# Usage: bench/vs-qemu.sh [-n RUNS] [-m MEM_MIB] IMAGE
# QEMU gets the kernel command line mvm would use (its PVM flags included on
# a PVM host), the image as a snapshot=on virtio-mmio disk, an empty
# initramfs (QEMU 7.2's microvm takes the PVH entry of a vmlinux only with
# -initrd; without it the guest never starts), COM2 as the job channel (a
# file) and -no-reboot: after reporting the status the init reboots through
# port 0x64 and QEMU exits. (An isa-debug-exit device on the status port
# would end QEMU a little earlier, as mvm ends at the status write, but on
# this PVM host the guest then never starts.) QEMU thus also pays the
# init's sync() and the reboot path, a small part of the total.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=5
mem=128
while getopts "n:m:" o; do
	case $o in
	n) runs=$OPTARG ;;
	m) mem=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
img=${1:?usage: bench/vs-qemu.sh [-n RUNS] [-m MEM_MIB] IMAGE}
kernel=$(readlink -f "$top/build/vmlinux")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The command line mvm gives the guest, minus its virtio_mmio.device=
# entries: QEMU microvm appends its own at the end, so there can be no
# " -- ARGS" either (the devices would become init arguments).
cmdline=$("$top/build/mvm" run --print-cmdline --mem "$mem" "$img" |
	sed 's/ virtio_mmio\.device=[^ ]*//g')

run_mvm() { "$top/build/mvm" run --mem "$mem" --timeout 300 "$img" >/dev/null 2>&1 || true; }
printf '' | cpio -o -H newc --quiet >"$work/empty.cpio"
run_qemu() {
	qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off,acpi=off -enable-kvm \
		-cpu max,-arch-capabilities -m "$mem" -smp 1 -nodefaults -no-user-config \
		-nographic -no-reboot -serial null -serial "file:$work/chan.bin" \
		-drive "id=d0,file=$img,format=raw,if=none,snapshot=on" \
		-device virtio-blk-device,drive=d0 \
		-kernel "$kernel" -initrd "$work/empty.cpio" -append "$cmdline" \
		</dev/null >/dev/null 2>&1 || true
}
now() { date +%s.%N; }

: >"$work/times"
for i in $(seq "$runs"); do
	t0=$(now); run_mvm; t1=$(now); run_qemu; t2=$(now)
	echo "$t0 $t1 $t2" >>"$work/times"
	echo "bench: pair $i/$runs done" >&2
done
python3 - "$work/times" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
m = sorted(r[1] - r[0] for r in rows)
q = sorted(r[2] - r[1] for r in rows)
ratio = sorted((r[1] - r[0]) / (r[2] - r[1]) for r in rows)
f = lambda v: f"median {statistics.median(v):7.3f}  min {v[0]:7.3f}  max {v[-1]:7.3f}"
print(f"runs: {len(rows)} pairs")
print(f"mvm  wall s   {f(m)}")
print(f"qemu wall s   {f(q)}")
print(f"mvm/qemu      {f(ratio)}")
PY
