#!/bin/bash
# Snapshot/restore benchmark (docs/BENCHMARKS.md, "Snapshot and restore").
#
# Usage: bench/snapshot.sh [-n RUNS] [-c VMS] [-p POOL] [-j JOBS] [-m MEM_MIB]
#                          [-s SNAPDIR] [-C] [-o OUTDIR]
#   -n RUNS   restore/cold-boot pairs, run alternately (default 5)
#   -c VMS    concurrent sleeping VMs for the memory-sharing figure (4)
#   -p POOL   warm-pool size for pool_bench (2); -j JOBS jobs per pool run (20)
#   -m MEM    guest RAM of the snapshot and the cold boots (128)
#   -s DIR    use this snapshot (of a runtime image made by this script or
#             any other) instead of taking one; -C skips the cold boots
#   -o DIR    keep the raw outputs there (default: a temporary directory)
#   -x LIST   phases to run, of 123 (default all; see below); the summary
#             covers whatever OUTDIR holds
#
# Builds a busybox job image (job: `echo ok; exit $1`) and a sleeping one
# (`echo up; exec sleep $1`), takes a snapshot of the first with
# `mvm snapshot create`, then measures:
#  1. restore vs cold boot of the same job, pair by pair (`--stats` JSON:
#     ms_create = the restore, cpu_ms_to_first_run = host CPU until the
#     first KVM_RUN, ms_to_boot_marker = the guest init's switch to the job
#     root, ms_run, VMM memory) and whole-process wall time (/usr/bin/time);
#  2. memory of VMS concurrent restores of the sleeping job vs VMS
#     concurrent cold boots of it: per VM the guest-memory mapping's
#     Shared_Clean / Private_Dirty, and the Pss of all their processes
#     summed (bench/smaps.py), plus the host's MemAvailable delta;
#  3. jobs per second from the library's warm pool (build/bench/pool_bench).
# Prints a summary; asserts nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
POOL_BENCH=${POOL_BENCH:-$top/build/bench/pool_bench}
runs=5 vms=4 pool=2 jobs=20 mem=128 snap= cold=true out= phases=123
while getopts "n:c:p:j:m:s:Co:x:" o; do
	case $o in
	n) runs=$OPTARG ;;
	c) vms=$OPTARG ;;
	p) pool=$OPTARG ;;
	j) jobs=$OPTARG ;;
	m) mem=$OPTARG ;;
	s) snap=$OPTARG ;;
	C) cold=false ;;
	o) out=$OPTARG ;;
	x) phases=$OPTARG ;;
	*) exit 2 ;;
	esac
done
bench_outdir "$out"
bench_header

# ---- images and the snapshot ------------------------------------------------
busybox_image "$out/job.img" "/bin/sh -c 'echo ok; exit \${1:-0}' job"
busybox_image "$out/sleep.img" "/bin/sh -c 'echo up; exec sleep \${1:-600}' job"
if [ -z "$snap" ]; then
	snap=$out/snap
	cp "$out/job.img" "$out/runtime.img"
	log "taking the snapshot (one cold boot)"
	/usr/bin/time -f "snapshot create: wall %e s, cpu %U+%S s" \
		"$MVM" snapshot create --mem "$mem" "$out/runtime.img" -o "$snap" \
		2>&1 >/dev/null | grep -v '^mvm:' >&2
fi

# ---- 1. restore vs cold boot, pair by pair ---------------------------------
# one KIND: one job with --stats; appends {"kind":..,"wall_s":..,stats...}.
one() {
	local kind=$1 t0 t1 st
	shift
	t0=$(date +%s.%N)
	"$MVM" run --stats --timeout 600 "$@" "$out/job.img" -- 0 \
		>/dev/null 2>"$out/one.err" </dev/null || true
	t1=$(date +%s.%N)
	st=$(grep '^{' "$out/one.err" | tail -1)
	[ -n "$st" ] || { log "$kind: no --stats line"; cat "$out/one.err" >&2; return; }
	echo "{\"kind\":\"$kind\",\"wall_s\":$(awk "BEGIN {print $t1 - $t0}"),${st#\{}" >>"$out/pairs.jsonl"
}
phase() { case $phases in *$1*) return 0 ;; esac; return 1; }
phase 1 && : >"$out/pairs.jsonl"
phase 1 && for i in $(seq "$runs"); do
	one restore --snapshot "$snap"
	$cold && one cold --mem "$mem"
	log "pair $i/$runs done"
done

# ---- 2. memory of concurrent sleeping VMs -----------------------------------
# start_sleeper KIND I ARGS...: (re)start sleeping VM number I.
start_sleeper() {
	local kind=$1 i=$2
	shift 2
	"$MVM" run "$@" "$out/sleep.img" -- 600 >"$out/$kind.$i.out" \
		2>"$out/$kind.$i.err" </dev/null &
	pids[$((i - 1))]=$!
}
# sleepers KIND ARGS...: start $vms sleeping VMs, wait for each to print
# "up", record their smaps and the MemAvailable delta, kill them.
sleepers() {
	local kind=$1 a0 a1 i n t0
	shift
	sync
	sleep 2
	a0=$(avail_kib)
	t0=$(date +%s)
	# Started 0.3 s apart: mvm processes starting at the same instant can
	# race in the sandbox's cgroup set-up (one removes the other's fresh
	# cgroup as stale and that VM fails with "cgroup pids: No such file").
	# A VM that died before printing "up" is started again, once.
	for i in $(seq "$vms"); do
		start_sleeper "$kind" "$i" "$@"
		sleep 0.3
	done
	while :; do
		n=0
		for i in $(seq "$vms"); do
			if grep -q '^up$' "$out/$kind.$i.out"; then
				n=$((n + 1))
			elif ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
				log "$kind VM $i died: $(tail -1 "$out/$kind.$i.err")"
				[ -e "$out/$kind.$i.retried" ] && continue
				touch "$out/$kind.$i.retried"
				start_sleeper "$kind" "$i" "$@"
			fi
		done
		[ "$n" -ge "$vms" ] && break
		if [ $(($(date +%s) - t0)) -gt 900 ]; then
			log "$kind: only $n of $vms VMs up after 900 s"
			break
		fi
		sleep 1
	done
	sleep 2
	a1=$(avail_kib)
	python3 "$top/bench/smaps.py" "$mem" "${pids[@]}" >"$out/$kind.smaps"
	echo "{\"kind\":\"$kind\",\"vms\":$vms,\"up_s\":$(($(date +%s) - t0)),\"memavail_delta_kib\":$((a0 - a1))}" \
		>>"$out/mem.jsonl"
	kill_vms
}
phase 2 && : >"$out/mem.jsonl"
phase 2 && log "memory: $vms concurrent restores" &&
	sleepers restore --snapshot "$snap"
if phase 2 && $cold; then
	log "memory: $vms concurrent cold boots (slow on PVM)"
	sleepers cold --mem "$mem"
fi

# ---- 3. the warm pool -------------------------------------------------------
phase 3 && log "warm pool: pool $pool, $jobs jobs, 3 runs" &&
	: >"$out/pool.txt"
phase 3 && for i in 1 2 3; do
	"$POOL_BENCH" "$snap" "$out/job.img" "$pool" "$jobs" 0 0 \
		>/dev/null 2>>"$out/pool.txt" || log "pool_bench run $i failed"
done

python3 - "$out" <<'PY'
import json, statistics, sys, re, os
d = sys.argv[1]
def st(v, f=".1f"):
    v = sorted(v)
    return (f"median {statistics.median(v):9{f}}  min {v[0]:9{f}}  "
            f"max {v[-1]:9{f}}  (n={len(v)})")
def lines(name):
    return open(f"{d}/{name}").read().splitlines() if os.path.exists(f"{d}/{name}") else []
rows = [json.loads(l) for l in lines("pairs.jsonl")]
for kind in ("restore", "cold"):
    r = [x for x in rows if x["kind"] == kind]
    if not r:
        continue
    print(f"== {kind}")
    for k in ("ms_create", "cpu_ms_to_first_run", "ms_to_boot_marker",
              "exits_to_boot_marker", "ms_run", "wall_s", "vmm_rss_kib",
              "vmm_private_dirty_kib", "guest_rss_kib"):
        print(f"  {k:22s} {st([x[k] for x in r])}")
res = [x for x in rows if x["kind"] == "restore"]
cold = [x for x in rows if x["kind"] == "cold"]
if res and cold:
    n = min(len(res), len(cold))
    print("== restore / cold, pair by pair")
    for k in ("ms_to_boot_marker", "ms_run", "wall_s"):
        print(f"  {k:22s} {st([res[i][k] / cold[i][k] for i in range(n)], '.3f')}")
print("== memory of concurrent sleeping VMs (KiB)")
for l in lines("mem.jsonl"):
    m = json.loads(l)
    vms = [json.loads(x) for x in open(f"{d}/{m['kind']}.smaps")]
    per, s = vms[:-1], vms[-1]["sum"]
    print(f"  {m['kind']}: {m['vms']} VMs up in {m['up_s']} s; MemAvailable -{m['memavail_delta_kib']}"
          f" ({m['memavail_delta_kib'] / m['vms']:.0f}/VM); Pss of all their processes {s['total_pss']}"
          f" ({s['total_pss'] / m['vms']:.0f}/VM)")
    for k in ("guest_rss", "guest_shared_clean", "guest_private_dirty", "guest_pss",
              "total_private_dirty", "total_rss", "nproc"):
        print(f"    per VM {k:20s} {st([v[k] for v in per])}")
    # The VMM processes beyond guest RAM (the sandbox's waiting parent
    # included), idle: what one more VM costs besides its guest memory.
    print(f"    per VM {'vmm_private_dirty':20s} {st([v['total_private_dirty'] - v['guest_private_dirty'] for v in per])}")
    print(f"    per VM {'vmm_rss':20s} {st([v['total_rss'] - v['guest_rss'] for v in per])}")
txt = "\n".join(lines("pool.txt"))
rates = [float(x) for x in re.findall(r"([0-9.]+) jobs/s", txt)]
takes = [float(x) for x in re.findall(r"take ([0-9.]+) ms", txt)]
init = [float(x) for x in re.findall(r"to init ([0-9.]+) ms", txt)]
run = [float(x) for x in re.findall(r"run ([0-9.]+) ms", txt)]
if rates:
    print("== warm pool (pool_bench)")
    print(f"  jobs/s per run          {st(rates)}")
    print(f"  take ms per job         {st(takes)}")
    print(f"  to init ms per job      {st(init)}")
    print(f"  run ms per job          {st(run)}")
PY
