#!/bin/sh
# Run the libFuzzer harnesses built by fuzz/fuzz.mk.
#
#   fuzz/run.sh fuzz    BINDIR TARGET...   fuzz each target for $FUZZ_SECONDS
#                                          (default 10) on a fresh copy of
#                                          fuzz/corpus/TARGET in BINDIR/work
#   fuzz/run.sh regress BINDIR TARGET...   run every file of fuzz/corpus/TARGET
#                                          and fuzz/regressions/TARGET once
#
# Exits non-zero if any target crashed, leaked, timed out (-timeout=5) or
# ran out of memory (-rss_limit_mb=512), naming the target, the kind of
# failure and the input that caused it. One target at a time: the machine's
# cores are shared.
set -u

usage() {
	echo "usage: $0 fuzz|regress BINDIR TARGET..." >&2
	exit 2
}
[ $# -ge 3 ] || usage
mode=$1
bindir=$2
shift 2
case $mode in fuzz | regress) ;; *) usage ;; esac

secs=${FUZZ_SECONDS:-10}
# A smaller quarantine keeps ASan inside the 512 MB RSS limit; leaks and
# UBSan findings are fatal.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
common="-timeout=5 -rss_limit_mb=512"
failed=""

# Name what went wrong from libFuzzer's log.
kind_of() {
	if grep -q "ERROR: LeakSanitizer" "$1"; then echo leak
	elif grep -q "ERROR: libFuzzer: timeout" "$1"; then echo timeout
	elif grep -q -e "ERROR: libFuzzer: out-of-memory" \
		-e "ERROR: libFuzzer: malloc" "$1"; then echo out-of-memory
	elif grep -q "oracle failed" "$1"; then echo "oracle failure"
	elif grep -q "runtime error:" "$1"; then echo "undefined behaviour"
	else echo crash
	fi
}

report_failure() { # target log input
	echo "FAIL $1: $(kind_of "$2") on input $3"
	grep -m3 -e "oracle failed" -e "^SUMMARY" -e "runtime error:" "$2" |
		sed 's/^/     /'
	echo "     log: $2"
	failed="$failed $1"
}

for t in "$@"; do
	bin=$bindir/fuzz_$t
	work=$bindir/work/$t
	log=$work/$mode.log
	if [ ! -x "$bin" ]; then
		echo "FAIL $t: $bin not built"
		failed="$failed $t"
		continue
	fi
	mkdir -p "$work"
	case $mode in
	fuzz)
		rm -rf "$work/corpus" "$work/artifacts"
		mkdir -p "$work/corpus" "$work/artifacts"
		if [ -d "fuzz/corpus/$t" ]; then
			cp fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null
		fi
		"$bin" $common -max_total_time="$secs" -print_final_stats=1 \
			-artifact_prefix="$work/artifacts/" "$work/corpus" \
			>"$log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		if [ $rc -ne 0 ]; then
			input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' \
				"$log" | tail -1)
			report_failure "$t" "$log" "${input:-(none saved)}"
		else
			echo "ok   $t: ${secs}s, ${execs:-?} execs," \
				"$(ls "$work/corpus" | wc -l) corpus files"
		fi
		;;
	regress)
		files=$(find "fuzz/corpus/$t" "fuzz/regressions/$t" -type f \
			2>/dev/null | sort)
		if [ -z "$files" ]; then
			echo "ok   $t: no inputs"
			continue
		fi
		n=$(echo "$files" | wc -l)
		# shellcheck disable=SC2086 # one argument per file
		"$bin" $common $files >"$log" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			input=$(sed -n 's/^Running: //p' "$log" | tail -1)
			report_failure "$t" "$log" "${input:-?}"
		else
			echo "ok   $t: $n inputs"
		fi
		;;
	esac
done

if [ -n "$failed" ]; then
	echo "fuzz/run.sh $mode: failed:$failed"
	exit 1
fi
exit 0
