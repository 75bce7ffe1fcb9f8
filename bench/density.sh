#!/bin/bash
# Density benchmark (docs/BENCHMARKS.md, "Density"): how many idle VMs this
# host holds, and what each costs, using restores of a small snapshot.
#
# Usage: bench/density.sh [-m MEM_MIB] [-s SNAPDIR] [-S "8 16 32 64"]
#                         [-r RESERVE_MIB] [-b PROBE_BOUND_S] [-o OUTDIR]
#   -m MEM    guest RAM of the snapshot (default 64)
#   -s DIR    use this snapshot instead of taking one (its runtime image
#             must be a busybox image like the one built here)
#   -S STEPS  VM counts to reach, in order (default "8 16 32 64 128 256")
#   -r MIB    stop before MemAvailable would fall below this (default 4096)
#   -b SEC    a probe job must finish within SEC seconds (default 30)
#   -B N      start VMs N at a time, waiting for each batch (default 4)
#
# Builds a busybox image whose job sleeps (`echo up; exec sleep $1`) and a
# probe image (`echo ok; exit $1`), takes a MEM MiB snapshot, then for each
# step starts restores of the sleeping job until STEPS VMs run, waits until
# every one has printed "up", and records: the host's MemAvailable drop per
# VM since the start, the Pss of all VM processes summed (bench/smaps.py)
# per VM, the host CPU the idle VMs burn (from /proc/stat over 10 s), the
# load average, and one probe job restored from the same snapshot (wall
# time, status). Stops at the first step whose probe fails or exceeds the
# bound, whose VMs do not all come up, or which would leave less than
# RESERVE MiB available (projected from the cost per VM so far). All VMs
# are killed at the end. Asserts nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
mem=64 snap= steps="8 16 32 64 128 256" reserve=4096 bound=30 out= batch=4
while getopts "m:s:S:r:b:B:o:" o; do
	case $o in
	m) mem=$OPTARG ;;
	s) snap=$OPTARG ;;
	S) steps=$OPTARG ;;
	r) reserve=$OPTARG ;;
	b) bound=$OPTARG ;;
	B) batch=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
bench_outdir "$out"
# wait_up FIRST LAST: until VMs FIRST..LAST have printed "up"; sets note
# if one died twice or 600 s passed.
wait_up() {
	local i up dead
	while :; do
		up=0 dead=0
		for i in $(seq "$1" "$2"); do
			if grep -q '^up$' "$out/vm.$i.out"; then
				up=$((up + 1))
			elif ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
				if [ -e "$out/vm.$i.retried" ]; then
					dead=$((dead + 1))
				else
					log "VM $i died: $(tail -1 "$out/vm.$i.err"); again"
					touch "$out/vm.$i.retried"
					start_vm "$i"
				fi
			fi
		done
		[ "$up" -ge $(($2 - $1 + 1)) ] && return
		if [ "$dead" -gt 0 ]; then
			note="VM(s) $1..$2: $dead died twice"
			return
		fi
		if awk "BEGIN {exit !($(date +%s.%N) - $t0 > 600)}"; then
			note="VMs $1..$2: only $up up after 600 s"
			return
		fi
		sleep 0.5
	done
}
# start_vm I: (re)start sleeping VM number I.
start_vm() {
	"$MVM" run --snapshot "$snap" "$out/sleep.img" -- 3600 \
		>"$out/vm.$1.out" 2>"$out/vm.$1.err" </dev/null &
	pids[$(($1 - 1))]=$!
}
avail_kib() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
# Busy fraction of all CPUs over $1 seconds, in percent of one CPU.
cpu_pct() {
	local a b
	a=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
	sleep "$1"
	b=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
	echo "$a $b" | awk -v n="$(nproc)" '{printf "%.1f", ($3-$1)/($4-$2)*100*n}'
}

bench_header
echo "# MemTotal $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) KiB, MemAvailable $(avail_kib) KiB"

busybox_image "$out/sleep.img" "/bin/sh -c 'echo up; exec sleep \${1:-600}' job"
busybox_image "$out/probe.img" "/bin/sh -c 'echo ok; exit \${1:-0}' job"
if [ -z "$snap" ]; then
	snap=$out/snap
	cp "$out/probe.img" "$out/runtime.img"
	log "taking a $mem MiB snapshot (one cold boot)"
	"$MVM" snapshot create --mem "$mem" "$out/runtime.img" -o "$snap" \
		>/dev/null 2>&1
fi

sync
sleep 2
a0=$(avail_kib)
idle=$(cpu_pct 5)
echo "# before: MemAvailable $a0 KiB, CPU busy $idle % of one core"
printf '%5s %9s %9s %9s %8s %6s %9s %8s %6s %s\n' vms up_s avail_MiB \
	KiB/VM pss_KiB/VM cpu% load1 probe_s rc note
n=0
for step in $steps; do
	# Project: stop if this step would leave less than the reserve.
	if [ "$n" -gt 0 ]; then
		per=$(((a0 - $(avail_kib)) / n))
		need=$(((step - n) * per / 1024))
		if [ $(($(avail_kib) / 1024 - need)) -lt "$reserve" ]; then
			echo "# stop: $step VMs would leave < $reserve MiB available (projected $per KiB/VM)"
			break
		fi
	fi
	t0=$(date +%s.%N)
	# Started in batches of $batch, each waited for until every VM in it
	# has printed "up": a restore's job set-up is seconds of guest CPU on
	# PVM, and with dozens at once the guest init's connect to the host
	# (vsock port 1028) times out ("Connection timed out", init failed).
	# Within a batch 0.2 s apart: mvm processes starting at the same
	# instant can race in the sandbox's cgroup set-up (one removes the
	# other's fresh cgroup as stale; "cgroup pids: No such file"). A VM
	# that died before printing "up" is started again, once.
	note=
	while [ "$n" -lt "$step" ] && [ -z "$note" ]; do
		first=$((n + 1))
		while [ "$n" -lt "$step" ] && [ "$n" -lt $((first + batch - 1)) ]; do
			n=$((n + 1))
			start_vm "$n"
			sleep 0.2
		done
		wait_up "$first" "$n"
	done
	up_s=$(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $t0}")
	sleep 10 # let the last ones settle (guest writeback, timers)
	a=$(avail_kib)
	pss=$(python3 "$top/bench/smaps.py" "$mem" "${pids[@]}" | tail -1 |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["sum"]["total_pss"])')
	cpu=$(cpu_pct 10)
	load=$(cut -d' ' -f1 /proc/loadavg)
	# The probe: one more job, restored, must finish within the bound.
	p0=$(date +%s.%N)
	rc=0
	timeout "$bound" "$MVM" run --snapshot "$snap" "$out/probe.img" -- 0 \
		>"$out/probe.$n.out" 2>"$out/probe.$n.err" </dev/null || rc=$?
	probe=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $p0}")
	[ "$rc" = 0 ] || note="${note:+$note; }probe failed or exceeded ${bound} s"
	printf '%5d %9s %9d %9d %8d %6s %9s %8s %6s %s\n' "$n" "$up_s" \
		$((a / 1024)) $(((a0 - a) / n)) $((pss / n)) "$cpu" "$load" \
		"$probe" "$rc" "$note"
	[ -z "$note" ] || break
done
log "killing ${#pids[@]} VMs"
kill_vms
sleep 2
echo "# after: MemAvailable $(avail_kib) KiB"
