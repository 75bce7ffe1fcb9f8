# Helpers for the VM benchmarks (bench/snapshot.sh, density.sh, guest-io.sh).
# Sourced; expects $top (the checkout) and sets MVM.
MVM=${MVM:-$top/build/mvm}
pids=() # background mvm processes that kill_vms stops

log() { echo "bench: $*" >&2; }
avail_kib() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }

# The first line of every result: when, where, and how loaded.
bench_header() {
	echo "# $(date -u +%Y-%m-%dT%H:%MZ)  nproc $(nproc)  $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
}

kill_vms() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

# bench_outdir DIR: use DIR (kept) or, if empty, a temporary directory
# (removed at exit); sets $out. VMs still running are killed at exit.
bench_outdir() {
	out=$1
	if [ -z "$out" ]; then
		out=$(mktemp -d)
		trap 'kill_vms; rm -rf "$out"' EXIT
	else
		mkdir -p "$out"
		trap 'kill_vms' EXIT
	fi
}

# busybox_image IMAGE ENTRY [SIZE_MIB]: a job image holding only busybox
# and its applets, running ENTRY.
busybox_image() {
	local root=$out/root
	mkdir -p "$root/bin"
	cp /bin/busybox "$root/bin/busybox"
	for a in sh echo cat sleep dd true; do ln -sf busybox "$root/bin/$a"; done
	"$MVM" image build "$root" -o "$1" --entry "$2" ${3:+-s "$3"} >/dev/null
}
