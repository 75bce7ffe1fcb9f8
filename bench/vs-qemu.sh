#!/bin/bash
# Side by side, per phase: the same kernel, the same root disk and the same
# kernel command line booted by mvm and by QEMU microvm (Debian's
# qemu-system-x86), each measured by the same LD_PRELOAD probe
# (bench/kvm_probe.c, build/bench/kvm_probe.so) up to the guest init's boot
# marker (port 0x510 <- 123), then stopped. Runs alternate mvm and QEMU, so
# drift hits both. Asserts nothing.
#
# mvm runs with --no-sandbox here: the probe reads /proc/self/smaps from the
# vCPU thread, which mvm's seccomp filter rightly forbids, and QEMU runs
# unconfined too (no -sandbox). What the sandbox adds is measured by
# bench/boot.sh and bench/snapshot.sh (mvm --stats, sandbox on).
#
# Usage: bench/vs-qemu.sh [-n RUNS] [-m MEM_MIB] [-j JSON_OUT] IMAGE
#
# Per run: host CPU time of the whole process from its creation to the first
# KVM_RUN (the first guest instruction), wall time to it and to the boot
# marker, VM exits to userspace until the marker by reason, the VMM's own CPU
# time until then (process CPU minus the vCPU threads' time inside KVM_RUN,
# which is guest time), and the VMM's memory beyond guest RAM at the marker
# (Rss and Private_Dirty of every mapping that is not a KVM memslot).
#
# What QEMU needs on a PVM host: -cpu max,-arch-capabilities (-cpu host fails
# on MSR 0x10a) and an -initrd (QEMU 7.2's microvm takes the PVH entry of a
# vmlinux only with one; an empty cpio works). QEMU gets the disk as a
# snapshot=on virtio-mmio drive and no vsock device (the host has no
# vhost-vsock), which is why the comparison stops at the boot marker: the
# init writes it before it needs vsock. mvm's --print-cmdline gives the
# command line, minus its virtio_mmio.device= entries (QEMU adds its own).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=5
mem=128
json=
while getopts "n:m:j:" o; do
	case $o in
	n) runs=$OPTARG ;;
	m) mem=$OPTARG ;;
	j) json=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
img=$(readlink -f "${1:?usage: bench/vs-qemu.sh [-n RUNS] [-m MEM_MIB] [-j JSON_OUT] IMAGE}")
mvm=$top/build/mvm
probe=$top/build/bench/kvm_probe.so
kernel=$(readlink -f "${MVM_KERNEL:-$top/build/vmlinux}")
for f in "$mvm" "$probe" "$kernel"; do
	[ -e "$f" ] || {
		echo "bench/vs-qemu.sh: $f missing (make all build/bench/kvm_probe.so)" >&2
		exit 1
	}
done
command -v qemu-system-x86_64 >/dev/null || {
	echo "bench/vs-qemu.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2
	exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '' | cpio -o -H newc --quiet >"$work/empty.cpio"
cmdline=$("$mvm" run --print-cmdline --mem "$mem" --kernel "$kernel" "$img" |
	sed 's/ virtio_mmio\.device=[^ ]*//g')

echo "# $(date -u +%Y-%m-%dT%H:%MZ)  $(uname -r)  nproc $(nproc)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(qemu-system-x86_64 --version | head -1)"
echo "# kernel $kernel, $mem MiB, image $img"

python3 - "$runs" "$probe" "$work" "$json" \
	"$mvm" run --no-sandbox --mem "$mem" --kernel "$kernel" --console none "$img" -- \
	qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off,acpi=off \
	-enable-kvm -cpu max,-arch-capabilities -m "$mem" -smp 1 -nodefaults \
	-no-user-config -nographic -no-reboot -serial null \
	-drive "id=d0,file=$img,format=raw,if=none,snapshot=on" \
	-device virtio-blk-device,drive=d0 \
	-kernel "$kernel" -initrd "$work/empty.cpio" -append "$cmdline" <<'PY'
import json, os, signal, statistics, subprocess, sys, time

runs, probe, work, json_out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cmds, cur = [], []
for a in sys.argv[5:] + ["--"]:
    if a == "--" and cur:
        cmds.append(cur)
        cur = []
    else:
        cur.append(a)
names = ["mvm --no-sandbox", "qemu microvm"]
assert len(cmds) == 2, cmds

def one(cmd, tag):
    """Starts cmd under the probe, stops it at the boot marker."""
    env = dict(os.environ, LD_PRELOAD=probe)
    err = open(f"{work}/{tag}.err", "w+")
    t0 = time.time()
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=err)
    ev = {}
    deadline = t0 + 600
    while time.time() < deadline and p.poll() is None:
        err.seek(0)
        for line in err:
            if line.startswith("kvm-probe: "):
                e = json.loads(line[len("kvm-probe: "):])
                ev[e["event"]] = e
        if "marker" in ev:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    if "marker" not in ev or "first_run" not in ev:
        err.seek(0)
        sys.exit(f"{tag}: no boot marker seen; stderr:\n{err.read()[-2000:]}")
    f, m = ev["first_run"], ev["marker"]
    return {
        "cpu_ms_to_first_run": f["cpu_ms"],
        "ms_to_first_run": (f["t"] - t0) * 1e3,
        "s_to_boot_marker": m["t"] - t0,
        "exits_to_boot_marker": m["exits"],
        "exits_io": m["io"], "exits_mmio": m["mmio"], "exits_other": m["other"],
        "vmm_cpu_ms_to_boot_marker": m["vmm_cpu_ms"],
        "rss_mib_beyond_guest_ram": m["rss_kib"] / 1024,
        "private_dirty_mib_beyond_guest_ram": m["private_dirty_kib"] / 1024,
    }

res = [[] for _ in cmds]
for i in range(runs):
    for k, cmd in enumerate(cmds):
        res[k].append(one(cmd, f"{k}.{i}"))
    print(f"# run {i + 1}/{runs} done", file=sys.stderr, flush=True)

def cell(v, fmt):
    v = sorted(v)
    return f"{statistics.median(v):{fmt}} ({v[0]:{fmt}}–{v[-1]:{fmt}})"

rows = [
    ("host CPU ms, process start to first KVM_RUN", "cpu_ms_to_first_run", ".1f"),
    ("wall ms, process start to first KVM_RUN", "ms_to_first_run", ".1f"),
    ("wall s, process start to boot marker", "s_to_boot_marker", ".2f"),
    ("VM exits to userspace until the marker", "exits_to_boot_marker", ".0f"),
    ("  of them port I/O", "exits_io", ".0f"),
    ("  of them MMIO", "exits_mmio", ".0f"),
    ("VMM CPU ms outside KVM_RUN until the marker", "vmm_cpu_ms_to_boot_marker", ".1f"),
    ("VMM Rss beyond guest RAM, MiB", "rss_mib_beyond_guest_ram", ".2f"),
    ("VMM Private_Dirty beyond guest RAM, MiB", "private_dirty_mib_beyond_guest_ram", ".2f"),
]
print(f"runs: {runs} of each, alternating; median (min–max); ratio = mvm / qemu, run by run")
print("| figure | " + " | ".join(names) + " | mvm / qemu |")
print("|---|" + "---|" * (len(names) + 1))
for label, key, fmt in rows:
    cols = [cell([r[key] for r in res[k]], fmt) for k in range(len(cmds))]
    q = [r[key] for r in res[1]]
    ratio = [a[key] / b if b else float("nan") for a, b in zip(res[0], q)]
    print(f"| {label} | " + " | ".join(cols) + f" | {cell(ratio, '.3f')} |")
if json_out:
    with open(json_out, "w") as f:
        json.dump(dict(zip(names, res)), f, indent=1)
PY
