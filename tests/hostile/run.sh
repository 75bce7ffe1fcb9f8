#!/bin/bash
# The malicious-guest suite (docs/SECURITY.md, THREATS rows 1-26): boots the
# freestanding test guest (tests/hostile/, `make hostile-guest`) once per
# case with `mvm run --kernel guest.elf --append hostile=NAME`; the guest
# breaks one virtio rule and checks what it sees. Here, on the host side,
# each case must end under a deadline with the expected exit status (0 =
# the guest's checks passed, unless the case is about mvm stopping the VM),
# mvm's peak RSS must stay bounded and, with a sanitizer build, stderr must
# hold no sanitizer report. No Linux boots: the suite takes seconds.
#
# Environment: MVM (default build/mvm; build/san/mvm for ASan/UBSan),
# HOSTILE_GUEST (default build/tests/hostile/guest.elf), HOSTILE_CASES
# (names to run, default all), HOSTILE_DEADLINE (seconds per case, default
# 30), HOSTILE_RSS_KIB (peak RSS bound, default 65536, 131072 for a
# sanitizer build). Prints "hostile: N passed, N failed" last.
set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MVM=${MVM:-$top/build/mvm}
GUEST=${HOSTILE_GUEST:-$top/build/tests/hostile/guest.elf}
DEADLINE=${HOSTILE_DEADLINE:-30}
PATH=$PATH:/usr/sbin:/sbin
work=$(mktemp -d /tmp/mvm-hostile.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
passed=0
failed=0

for f in "$MVM" "$GUEST"; do
	if [ ! -e "$f" ]; then
		echo "hostile: $f not built (make; make hostile-guest)"
		echo "hostile: 0 passed, 1 failed"
		exit 1
	fi
done
if grep -q __asan_init "$MVM" 2>/dev/null; then
	san=1
	RSS_KIB=${HOSTILE_RSS_KIB:-131072}
else
	san=0
	RSS_KIB=${HOSTILE_RSS_KIB:-65536}
fi

# The root disk only has to be ext4 (mvm checks the superblock); the guest
# reads its superblock back as the "device still works" check.
truncate -s 4M "$work/job.img"
mkfs.ext4 -q -F "$work/job.img" >/dev/null
head -c 1M /dev/urandom >"$work/ro.bin"
job_sum=$(sha256sum <"$work/job.img")
ro_sum=$(sha256sum <"$work/ro.bin")

ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL - $1"
	for f in "$work/$name.err" "$work/$name.con"; do
		[ -s "$f" ] && tail -n 8 "$f" | cut -c1-200 | sed 's/^/       | /'
	done
}

# [extra_check=FN] [HOSTILE_ARG=WORD] hcase NAME ROWS EXPECTED_STATUS
# [MVM_RUN_OPTIONS...]: one VM, one case; FN prints why a host-side check
# failed (nothing when it passed), WORD goes on the guest command line.
hcase() {
	name=$1 rows=$2 want=$3
	shift 3
	case " ${HOSTILE_CASES:-$name} " in *" $name "*) ;; *) return 0 ;; esac
	local t0 t1 rc rss why=""
	t0=$(date +%s%N)
	/usr/bin/time -f %M -o "$work/$name.rss" \
		timeout -s KILL "$DEADLINE" \
		"$MVM" run --kernel "$GUEST" --mem 64 --stdin none \
		--console "$work/$name.con" --disk "$work/ro.bin:ro" \
		"$@" --append "hostile=$name ${HOSTILE_ARG:-}" "$work/job.img" \
		>"$work/$name.out" 2>"$work/$name.err" </dev/null
	rc=$?
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	rss=$(tail -n 1 "$work/$name.rss")
	if [ "$rc" = 137 ]; then
		why="no end within ${DEADLINE}s (killed)"
	elif [ "$rc" != "$want" ]; then
		why="exit status $rc, expected $want"
	elif [ "$want" = 0 ] && ! grep -q "^hostile: PASS $name\$" "$work/$name.con"; then
		why="exit 0 but no PASS line from the guest"
	elif ! [ "$rss" -le "$RSS_KIB" ] 2>/dev/null; then
		why="peak RSS ${rss} KiB above ${RSS_KIB} KiB"
	elif grep -q 'Sanitizer\|runtime error:' "$work/$name.err"; then
		why="sanitizer report on stderr"
	fi
	if [ -z "$why" ] && [ -n "${extra_check:-}" ]; then
		why=$($extra_check)
	fi
	if [ -z "$why" ]; then
		ok "$name (row $rows): exit $rc, ${ms} ms, RSS ${rss} KiB"
	else
		bad "$name (row $rows): $why"
	fi
}

# Extra host-side checks: print why they fail, nothing when they pass.
ro_unchanged() {
	[ "$(sha256sum <"$work/ro.bin")" = "$ro_sum" ] || echo "the RO disk changed"
	[ "$(sha256sum <"$work/job.img")" = "$job_sum" ] || echo "job.img changed"
}
timed_out() {
	grep -q 'timed out after 2 s' "$work/$name.err" || echo "no timeout message"
	[ "$ms" -lt 6000 ] || echo "took ${ms} ms for a 2 s timeout"
}
console_bounded() {
	local n
	n=$(stat -c %s "$work/$name.con")
	[ "$n" -ge 65536 ] || echo "console file has only $n bytes"
	[ "$n" -le $((16 << 20)) ] || echo "console file above 16 MiB"
	grep -q 'hostile: PASS' "$work/$name.out" "$work/$name.err" &&
		echo "console leaked to mvm's output"
}

hcase boot - 0
hcase cycle 1 0
hcase next-oob 2 0
hcase head-oob 2 0
hcase dup-head 2 0
hcase long-chain 3 0
hcase outside-ram 4 0
hcase wrap 5 0
hcase huge-len 6 0
hcase zero-len 7 0
hcase indirect 8 0
hcase avail-ahead 9 0
hcase qsize 10 0
hcase rings 11 0
hcase direction 12 0
hcase regs 14 0
hcase features 14 0
hcase no-leak 15 0
hcase sector 16 0
hcase not-512 17 0
hcase short-hdr 18 0
hcase unsupp 19 0
extra_check=ro_unchanged hcase ro-write 20 0
extra_check=ro_unchanged hcase cow-write 20 0
hcase vsock-len 21 0
hcase vsock-credit 22 0
hcase vsock-storm 23 0
hcase vsock-spoof 23 0
hcase notify-storm 24 0
hcase reset-midio 24 0
extra_check=console_bounded HOSTILE_ARG=hostile_arg=64 \
	hcase console-flood 25 0
extra_check=timed_out hcase spin 26 124 --timeout 2
# The harness itself must see a failing guest as a failure.
hcase no-such-case - 1

[ "$san" = 1 ] && echo "hostile: (sanitizer build: $MVM)"
echo "hostile: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
