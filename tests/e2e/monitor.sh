#!/bin/bash
# End-to-end tests of virtio-vsock and the reference monitor: policy,
# audit log, file service, network proxy, host sockets, learning mode and
# limits, on real guests. Five boots; each checks several things.
#
# Environment: MVM (default build/mvm), MVM_KERNEL (default build/vmlinux).
# Prints "monitor: N passed, N failed" last; exit status 1 on any failure.
E2E_NAME=monitor
. "$(dirname "$0")/lib.sh"
peer="$top/tests/e2e/vsock_peer.py"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

need_mvm monitor

# ---- set-up: host files, sockets, peers, the job image -------------------
d=$work/data
mkdir -p "$d/in" "$d/out" "$work/sock"
echo "input-a" >"$d/in/a.txt"
echo "input-b" >"$d/in/b.txt"
echo "top-secret" >"$d/secret.txt"
ln -s ../secret.txt "$d/in/link"
python3 "$peer" upper "$work/sock/port_5000" & pids+=($!)
python3 "$peer" tcpecho "$work/tcpport" & pids+=($!)
for _ in $(seq 50); do [ -S "$work/sock/port_5000" ] && [ -f "$work/tcpport" ] && break; sleep 0.1; done
netport=$(cat "$work/tcpport")
# The sandboxed VMM runs as nobody (docs/SANDBOX.md): the host side grants
# it what the policy names, as an operator would. (--learn sees the host's
# files, so the test dir itself must be searchable.)
chmod 0755 "$work"
chmod 0777 "$d/out" "$work/sock"
chmod 0666 "$work/sock/port_5000"

mk_busybox_root "$work/root"
ln -sf busybox "$work/root/bin/yes"
cat >"$work/root/job.sh" <<'JOB'
V=/mvm/mvm-vsock
D=$1
case "$2" in
all)
	echo "== port"; echo hello | $V connect 5000; echo "rc=$?"
	$V connect 5001 </dev/null; echo "denied rc=$?"
	$V connect 1030 </dev/null; echo "reserved rc=$?"
	echo "== get"; $V get "$D/in/a.txt"; echo "rc=$?"
	$V get "$D/in/../secret.txt"; echo "dotdot rc=$?"
	$V get "$D/in/link"; echo "symlink rc=$?"
	$V get /etc/passwd; echo "passwd rc=$?"
	echo "== put"; echo written-by-guest | $V put "$D/out/r.txt"; echo "put rc=$?"
	echo "== net"; echo hi | $V net "127.0.0.1:$3"; echo "net rc=$?"
	$V net 10.1.2.3:80 </dev/null; echo "netdeny rc=$?"
	echo "== inbound"; echo pong | $V listen 6000; echo "listen rc=$?"
	echo "== stdin"; cat
	;;
kill)
	$V connect 22 </dev/null
	echo survived
	;;
learn)
	echo x | $V connect 5000
	$V get "$D/in/a.txt"
	[ "$3" = new ] && { $V get "$D/in/b.txt"; echo "new rc=$?"; }
	echo done
	;;
flood)
	yes flood
	;;
esac
JOB
"$MVM" image build "$work/root" -o "$work/job.img" --entry "/bin/sh /job.sh" \
	>"$work/build.out" 2>&1
check build "test image builds" test -s "$work/job.img"

cat >"$work/all.policy" <<POL
# the e2e policy
port connect allow 5000
port listen allow 6000
path allow read $d/in/*
path allow write $d/out/*
path deny $d/secret.txt
network allow 127.0.0.1:$netport
network deny all
POL

# ---- boot 1: allowed and denied requests of every kind --------------------
echo "from-stdin" >"$work/stdin.txt"
python3 "$peer" inbound "$work/sock/control" 6000 ping 150 >"$work/inbound.out" 2>&1 &
inbound=$!
"$MVM" run --timeout 180 --policy "$work/all.policy" --audit "$work/all.audit" \
	--vsock-dir "$work/sock" --stdin "$work/stdin.txt" --job-id e2e-all \
	"$work/job.img" -- "$d" all "$netport" >"$work/all.out" 2>"$work/all.err"
echo $? >"$work/all.rc"
wait "$inbound"
o=$work/all.out
check all "the job ran to its end: exit 0" sh -c "[ $(status all) = 0 ]"
check all "allowed port: bytes reach the host socket and the reply comes back" \
	sh -c "grep -qx HELLO '$o' && grep -A1 -x HELLO '$o' | grep -qx rc=0"
check all "denied port: the guest's connect is reset (exit 1, 'refused')" \
	sh -c "grep -qx 'denied rc=1' '$o' && grep -q 'connect: refused' '$work/all.err'"
check all "mvm's reserved ports refuse connections" grep -qx 'reserved rc=1' "$o"
check all "file service: an allowed read returns the file" \
	sh -c "grep -A1 -x '== get' '$o' | grep -qx input-a"
check all "file service: '..' is refused, and logged as malformed" \
	sh -c "grep -qx 'dotdot rc=1' '$o' && grep -q '\"op\":\"malformed\"' '$work/all.audit'"
check all "file service: a symlink out of the allowed root is refused" \
	sh -c "grep -qx 'symlink rc=1' '$o' && ! grep -q top-secret '$o'"
check all "file service: a path no rule allows is denied" \
	sh -c "grep -qx 'passwd rc=1' '$o' && grep -q '/etc/passwd: denied' '$work/all.err'"
check all "file service: an allowed write lands in the host file" \
	sh -c "grep -qx 'put rc=0' '$o' && grep -qx written-by-guest '$d/out/r.txt'"
check all "network proxy: an allowed host:port is relayed both ways" \
	sh -c "grep -qx 'echo:hi' '$o' && grep -qx 'net rc=0' '$o'"
check all "network proxy: 'network deny all' refuses the rest" \
	sh -c "grep -qx 'netdeny rc=1' '$o' && grep -q '10.1.2.3:80: denied' '$work/all.err'"
check all "control socket: CONNECT 6000 -> OK, and bytes flow both ways" \
	sh -c "grep -q '^OK [0-9]' '$work/inbound.out' && grep -qx pong '$work/inbound.out' && grep -qx ping '$o' && grep -qx 'listen rc=0' '$o'"
check all "the job's stdin comes from --stdin" \
	sh -c "grep -A1 -x '== stdin' '$o' | grep -qx from-stdin"
a=$work/all.audit
check all "audit: one JSON line per decision, the denied port with its rule" \
	python3 -c "
import json, sys
lines = [json.loads(l) for l in open('$a')]
assert all(l['job'] == 'e2e-all' and 'time' in l for l in lines), lines
d = {(l['device'], json.dumps(l['request'], sort_keys=True)): l for l in lines}
deny = [l for l in lines if l['request'].get('port') == 5001]
assert deny and deny[0]['decision'] == 'refuse' and deny[0]['rule'] == 'default refuse', deny
allow = [l for l in lines if l['request'].get('port') == 5000]
assert allow and allow[0]['decision'] == 'allow' and allow[0]['line'] == 2, allow
pw = [l for l in lines if l['request'].get('path') == '/etc/passwd']
assert pw and pw[0]['decision'] == 'refuse', pw
"

# ---- boot 2: a kill rule stops the VM -----------------------------------
printf 'port connect deny 22 kill\n' >"$work/kill.policy"
"$MVM" run --timeout 180 --policy "$work/kill.policy" --audit "$work/kill.audit" \
	"$work/job.img" -- "$d" kill >"$work/kill.out" 2>"$work/kill.err"
echo $? >"$work/kill.rc"
check kill "kill rule: mvm exits 122 and the job never continues" \
	sh -c "[ $(status kill) = 122 ] && ! grep -q survived '$work/kill.out'"
check kill "kill rule: the reason names the rule, the audit line says kill" \
	sh -c "grep -q \"denied by 'port connect deny 22 kill'\" '$work/kill.err' && grep -q '\"decision\":\"kill\"' '$work/kill.audit'"

# ---- boots 3 and 4: learning mode round-trips ---------------------------
"$MVM" run --timeout 180 --learn "$work/learned.policy" --vsock-dir "$work/sock" \
	"$work/job.img" -- "$d" learn >"$work/learn.out" 2>"$work/learn.err"
echo $? >"$work/learn.rc"
check learn "learning run: everything allowed, policy written" \
	sh -c "[ $(status learn) = 0 ] && grep -qx X '$work/learn.out' && grep -qx input-a '$work/learn.out'"
check learn "learned policy is exactly what the job did" \
	sh -c "grep -qx 'port connect allow 5000' '$work/learned.policy' && grep -qx 'path allow read $d/in/a.txt' '$work/learned.policy' && [ \$(grep -vc '^#\|^default\|^\$' '$work/learned.policy') = 2 ]"
"$MVM" run --timeout 180 --policy "$work/learned.policy" --vsock-dir "$work/sock" \
	"$work/job.img" -- "$d" learn new >"$work/relearn.out" 2>"$work/relearn.err"
echo $? >"$work/relearn.rc"
check relearn "the same job passes under the learned policy" \
	sh -c "[ $(status relearn) = 0 ] && grep -qx X '$work/relearn.out' && grep -qx input-a '$work/relearn.out' && grep -qx done '$work/relearn.out'"
check relearn "something new is denied under the learned policy" \
	sh -c "grep -qx 'new rc=1' '$work/relearn.out' && ! grep -q input-b '$work/relearn.out'"

# ---- boot 5: a job flooding stdout is cut at the output limit -----------
printf 'limit output 64K\n' >"$work/flood.policy"
"$MVM" run --timeout 180 --policy "$work/flood.policy" "$work/job.img" -- "$d" flood \
	>"$work/flood.out" 2>"$work/flood.err"
echo $? >"$work/flood.rc"
size=$(stat -c %s "$work/flood.out")
check flood "output flood: exit 121 at the policy's limit (${size} bytes kept)" \
	sh -c "[ $(status flood) = 121 ] && [ $size -le 65536 ] && [ $size -ge 60000 ] && grep -q 'output exceeded 65536' '$work/flood.err'"

# ---- host-side bad input: no boot -----------------------------------------
printf 'port connect allow 5000\npath allow read relative/*\n' >"$work/bad.policy"
"$MVM" run --policy "$work/bad.policy" "$work/job.img" >"$work/badpol.out" 2>"$work/badpol.err"
echo $? >"$work/badpol.rc"
check badpol "a policy error: exit 125 with FILE:LINE:COL" \
	sh -c "[ $(status badpol) = 125 ] && grep -q '^$work/bad.policy:2:[0-9]*: ' '$work/badpol.err'"
"$MVM" run --policy "$work/all.policy" --learn "$work/x" "$work/job.img" >/dev/null 2>"$work/both.err"
echo $? >"$work/both.rc"
check both "--learn with --policy is refused" \
	sh -c "[ $(status both) = 125 ] && grep -q 'cannot be combined' '$work/both.err'"

e2e_finish monitor
