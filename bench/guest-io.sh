#!/bin/bash
# End-to-end guest I/O from restored VMs (no boots): the guest reading its
# root disk, and the guest writing its stdout through the job channel
# (guest pipe -> init -> vsock -> monitor -> host fd).
#
# Usage: bench/guest-io.sh -s SNAPDIR [-n RUNS] [-M MIB] [-o OUTDIR]
#   -s DIR   a snapshot from 'mvm snapshot create' (e.g. bench/snapshot.sh -o)
#   -n RUNS  runs of each job (default 5)
#   -M MIB   bytes each job moves, in MiB (default 32; the disk image is
#            made big enough to read that much)
#
# Jobs, each restored from DIR with --stats:
#   null     `true`: the fixed cost of a restored job
#   disk     `dd if=/dev/vda of=/dev/null bs=1M count=MIB` (virtio-blk)
#   stdout   `dd if=/dev/zero bs=64k count=MIB*16`, stdout to /dev/null on
#            the host (virtio-vsock, job-channel frames of <= 4 KiB)
# Reports busybox dd's own rate (guest clock) and, from the host, the job
# phase (ms_run - ms_to_boot_marker) minus the null job's, as MB/s.
# Asserts nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
runs=5 mib=32 snap= out=
while getopts "s:n:M:o:" o; do
	case $o in
	s) snap=$OPTARG ;;
	n) runs=$OPTARG ;;
	M) mib=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
[ -n "$snap" ] || { echo "usage: bench/guest-io.sh -s SNAPDIR [-n RUNS] [-M MIB]" >&2; exit 2; }
bench_outdir "$out"
bench_header
busybox_image "$out/cmd.img" "/bin/sh -c 'exec \"\$@\"' job" $((mib + 24))

: >"$out/rows.jsonl"
job() {
	local name=$1 st rate
	shift
	"$MVM" run --stats --timeout 600 --snapshot "$snap" "$out/cmd.img" -- "$@" \
		>/dev/null 2>"$out/err" </dev/null || true
	st=$(grep '^{' "$out/err" | tail -1)
	# busybox dd: "N bytes (..) copied, T seconds, R MB/s"
	rate=$(grep -o 'copied, [0-9.]* seconds' "$out/err" | awk '{print $2}' || true)
	[ -n "$st" ] || { echo "bench: $name: no --stats" >&2; cat "$out/err" >&2; return; }
	echo "{\"job\":\"$name\",\"dd_s\":${rate:-null},${st#\{}" >>"$out/rows.jsonl"
}
for i in $(seq "$runs"); do
	job null true
	job disk dd if=/dev/vda of=/dev/null bs=1M count="$mib"
	job stdout dd if=/dev/zero bs=65536 count=$((mib * 16))
	echo "bench: round $i/$runs done" >&2
done
python3 - "$out/rows.jsonl" "$mib" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mb = int(sys.argv[2]) * 1048576 / 1e6
def st(v, f=".1f"):
    v = sorted(v)
    return f"median {statistics.median(v):8{f}}  min {v[0]:8{f}}  max {v[-1]:8{f}}  (n={len(v)})"
job = lambda r: r["ms_run"] - r["ms_to_boot_marker"]
null = statistics.median(job(r) for r in rows if r["job"] == "null")
print(f"null job phase (ms_run - ms_to_boot_marker): {null:.0f} ms (median)")
for name in ("disk", "stdout"):
    r = [x for x in rows if x["job"] == name]
    if not r:
        continue
    print(f"== {name}: {sys.argv[2]} MiB")
    dd = [mb / x["dd_s"] for x in r if x["dd_s"]]
    if dd:
        print(f"  MB/s, dd's own clock       {st(dd)}")
    print(f"  MB/s, host: job - null     {st([mb / ((job(x) - null) / 1e3) for x in r if job(x) > null])}")
    print(f"  job phase ms               {st([job(x) for x in r])}")
    print(f"  output bytes               {st([x['output_bytes'] for x in r], '.0f')}")
PY
