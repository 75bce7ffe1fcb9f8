#!/bin/bash
# Boot benchmark: runs an image N times with `mvm run --stats` and prints the
# median, min and max of each VMM-side figure (JSON lines from --stats).
#
# Usage: bench/boot.sh [-n RUNS] [-m MEM_MIB] IMAGE [-- JOB ARGS]
# Figures: ms_create (mvm_vm_create), cpu_ms_to_first_run (process CPU time
# when the first KVM_RUN starts: everything the VMM does before the guest's
# first instruction), ms_to_boot_marker (wall time until the guest init
# writes 123 to port 0x510), exits_to_boot_marker (VM exits to userspace
# until then), vmm_rss_kib (resident memory beyond guest RAM, shared
# libraries included), vmm_private_dirty_kib (memory only this VMM costs).
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
img=${1:?usage: bench/boot.sh [-n RUNS] [-m MEM_MIB] IMAGE [-- ARGS]}
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$runs"); do
	"$top/build/mvm" run --stats --mem "$mem" --timeout 300 "$img" "$@" \
		2>&1 >/dev/null | grep '^{' >>"$out" || true
	echo "bench: run $i/$runs done" >&2
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
if not rows:
    sys.exit("bench: no --stats output")
print(f"runs: {len(rows)}")
for k in ("ms_create", "cpu_ms_to_first_run", "ms_to_boot_marker",
          "exits_to_boot_marker", "ms_run", "exits_io", "exits_mmio",
          "vmm_rss_kib", "vmm_private_dirty_kib", "guest_rss_kib"):
    v = sorted(r[k] for r in rows)
    print(f"{k:22s} median {statistics.median(v):10.1f}  min {v[0]:10.1f}  max {v[-1]:10.1f}")
PY
