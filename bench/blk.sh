#!/bin/bash
# VMM-side virtio-blk benchmark: the device path only (blk_create + the
# virtio-mmio transport over a fake guest ring), no VM and no guest kernel.
# Prints the machine, then blk_bench's table: 4 KiB random reads, 64 KiB
# sequential reads and 4 KiB random writes (RW and COW mode) at queue depths
# 1 and 32, device (io_uring and sync backend) next to raw liburing and
# preadv/pwritev on the same file.
#
# Usage: bench/blk.sh [blk_bench options]   (e.g. --json, --reps 9,
#        --dir /path/on/the/disk/under/test, --eventfd; see --help)
# The temporary file (256 MiB) goes to $TMPDIR or /var/tmp unless --dir or
# --file says otherwise; the COW overlay always goes to $TMPDIR or /var/tmp.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${BLK_BENCH:-$top/build/bench/blk_bench}
if [ ! -x "$bin" ]; then
	echo "bench/blk.sh: $bin missing; run 'make bench-blk'" >&2
	exit 1
fi
json=false
for a in "$@"; do
	[ "$a" = --json ] && json=true
done
if ! $json; then
	echo "# $(date -u +%Y-%m-%dT%H:%MZ)  nproc $(nproc)  $(uname -r)  " \
		"load $(cut -d' ' -f1-3 /proc/loadavg)"
fi
# Defaults: 5 timed repetitions of 16384 requests after 1 warm-up.
exec "$bin" --reps 5 --warmup 1 --reqs 16384 "$@"
