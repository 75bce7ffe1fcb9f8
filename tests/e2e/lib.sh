# Shared harness of the end-to-end scripts (sourced, not run).
# Sets top, MVM, MVM_KERNEL, work (a temp dir removed at exit unless KEEP is
# set) and the pass/fail counters; e2e_finish LABEL prints the closing
# "LABEL: N passed, N failed" line and returns non-zero on any failure.
set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MVM=${MVM:-$top/build/mvm}
export MVM_KERNEL=${MVM_KERNEL:-$top/build/vmlinux}
work=$(mktemp -d "/tmp/mvm-${E2E_NAME:-e2e}.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
# bad DESCRIPTION [FILE...]: a failure, with the tail of each FILE.
bad() {
	failed=$((failed + 1))
	echo "FAIL - $1"
	shift
	for f in "$@"; do [ -f "$f" ] && sed 's/^/       | /' "$f" | tail -n 25; done
}
status() { cat "$work/$1.rc"; }
# check NAME DESCRIPTION COMMAND...: a passing COMMAND is a passing test;
# a failing one shows the tails of $work/NAME.out and NAME.err.
check() {
	name=$1
	desc=$2
	shift 2
	if "$@"; then ok "$desc"; else bad "$desc" "$work/$name.out" "$work/$name.err"; fi
}
# need_mvm LABEL: fail the suite at once when mvm is not built.
need_mvm() {
	[ -x "$MVM" ] && return 0
	echo "$1: $MVM not built (run make)"
	echo "$1: 0 passed, 1 failed"
	exit 1
}

# A busybox root with the applets the jobs use.
mk_busybox_root() {
	mkdir -p "$1/bin"
	cp /bin/busybox "$1/bin/busybox"
	for a in sh echo cat head sleep kill true; do ln -sf busybox "$1/bin/$a"; done
}

e2e_finish() {
	echo "$1: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
