#!/bin/sh
# `make test`: unit tests, then end-to-end tests that boot real VMs on
# /dev/kvm, then the malicious-guest suite (tests/hostile, no Linux boots).
# Prints one closing line: "N passed, N failed".
# Usage: tests/run-all.sh UNIT_BINARY...
here=$(dirname "$0")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$here/run-unit.sh" "$@" | tee "$out"
"$here/e2e/run.sh" | tee -a "$out"
"$here/e2e/check.sh" | tee -a "$out"
"$here/e2e/monitor.sh" | tee -a "$out"
"$here/e2e/snapshot.sh" | tee -a "$out"
"$here/e2e/sandbox.sh" | tee -a "$out"
"$here/hostile/run.sh" | tee -a "$out"
passed=0
failed=0
for line in $(sed -n 's/^\(unit\|e2e\|check\|monitor\|snapshot\|sandbox\|hostile\): \([0-9]*\) passed, \([0-9]*\) failed$/\2:\3/p' "$out"); do
	passed=$((passed + ${line%%:*}))
	failed=$((failed + ${line##*:}))
done
[ -n "$(sed -n '/^e2e: [0-9]* passed/p' "$out")" ] || failed=$((failed + 1))
[ -n "$(sed -n '/^hostile: [0-9]* passed/p' "$out")" ] || failed=$((failed + 1))
[ -n "$(sed -n '/^snapshot: [0-9]* passed/p' "$out")" ] || failed=$((failed + 1))
[ -n "$(sed -n '/^sandbox: [0-9]* passed/p' "$out")" ] || failed=$((failed + 1))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
