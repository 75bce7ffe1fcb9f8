#!/bin/bash
# End-to-end tests of the VMM sandbox (docs/SANDBOX.md): what the jailed
# child looks like from the host (seccomp, no_new_privs, capabilities,
# uid, mounts, namespaces, cgroups), a job under it, signals, parent death,
# rootless runs, and 100 kill -9s at random moments that must leave nothing
# behind. One full boot; the rest are cut short.
#
# Environment: MVM (default build/mvm), MVM_KERNEL (default build/vmlinux).
# Prints "sandbox: N passed, N failed" last; exit status 1 on any failure.
E2E_NAME=sandbox
. "$(dirname "$0")/lib.sh"
need_mvm sandbox

mk_busybox_root "$work/root"
"$MVM" image build "$work/root" -o "$work/job.img" \
	--entry "/bin/sh -c 'echo started; sleep \$0; echo done; exit 3'" \
	>"$work/build.out" 2>&1
check build "test image builds" test -s "$work/job.img"

# child_of PID: the sandboxed VMM, once it has locked down (up to 10 s).
child_of() {
	local c
	for _ in $(seq 100); do
		c=$(cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}')
		if [ -n "$c" ] && grep -q '^Seccomp:[[:space:]]*2' "/proc/$c/status" 2>/dev/null; then
			echo "$c"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
field() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$2/status"; }

# ---- boot 1: the jailed VMM seen from outside, and the job's result ------
echo "not for the VMM" >"$work/inherited.txt"
"$MVM" run --timeout 150 "$work/job.img" -- 2 >"$work/job.out" 2>"$work/job.err" </dev/null 9<"$work/inherited.txt" &
mvm=$!
vmm=$(child_of "$mvm")
check job "the sandboxed VMM child exists and has locked down" test -n "$vmm"
vmm=${vmm:-0}
cp "/proc/$vmm/status" "$work/status.out" 2>/dev/null
cp "/proc/$vmm/mountinfo" "$work/mounts.out" 2>/dev/null
check status "Seccomp: 2 (filter) on the VMM" sh -c "[ '$(field Seccomp "$vmm")' = 2 ]"
check status "NoNewPrivs: 1" sh -c "[ '$(field NoNewPrivs "$vmm")' = 1 ]"
check status "no capabilities: effective, permitted, bounding, ambient all 0" \
	sh -c "[ '$(field CapEff "$vmm")$(field CapPrm "$vmm")$(field CapBnd "$vmm")$(field CapAmb "$vmm")' = \
0000000000000000000000000000000000000000000000000000000000000000 ]"
check status "not root: uid and gid 65534 (nobody)" \
	sh -c "[ '$(field Uid "$vmm")' = 65534 ] && [ '$(field Gid "$vmm")' = 65534 ]"
check status "the waiting parent is under seccomp too" \
	sh -c "[ '$(field Seccomp "$mvm")' = 2 ]"
check mounts "the only mount is the jail's read-only tmpfs root" \
	sh -c "[ \$(wc -l <'$work/mounts.out') = 1 ] && awk '{exit !(\$5 == \"/\" && \$6 ~ /^ro/ && \$0 ~ / - tmpfs /)}' '$work/mounts.out'"
nsdiff=""
for n in mnt pid net ipc uts; do
	[ "$(readlink "/proc/$vmm/ns/$n")" != "$(readlink "/proc/self/ns/$n")" ] || nsdiff="$nsdiff $n"
done
check ns "own mount, PID, network, IPC and UTS namespaces (same:${nsdiff:- none})" test -z "$nsdiff"
check env "environment cleared" sh -c "[ ! -s /proc/$vmm/environ ]"
check limits "RLIMIT_CORE 0 and RLIMIT_NOFILE 1024" \
	sh -c "grep -q '^Max core file size *0 *0' /proc/$vmm/limits && grep -q '^Max open files *1024 *1024' /proc/$vmm/limits"
check fds "a descriptor inherited from the caller (fd 9) is closed in the VMM" \
	sh -c "[ -n \"\$(ls /proc/$vmm/fd)\" ] && ! find /proc/$vmm/fd -mindepth 1 -printf '%l\n' | grep -q inherited.txt"
memcg=$(awk -F: '$2 == "memory" {print $3}' "/proc/$vmm/cgroup")
pidscg=$(awk -F: '$2 == "pids" {print $3}' "/proc/$vmm/cgroup")
if [ -d /sys/fs/cgroup/memory ] && [ "$(id -u)" = 0 ]; then
	check cgroup "memory cgroup: guest RAM + 64 MiB ($memcg)" \
		sh -c "case '$memcg' in */mvm/$vmm) [ \$(cat /sys/fs/cgroup/memory$memcg/memory.limit_in_bytes) = $(((128 + 64) << 20)) ];; *) false;; esac"
	check cgroup "pids cgroup: a task limit" \
		sh -c "case '$pidscg' in */mvm/$vmm) [ \$(cat /sys/fs/cgroup/pids$pidscg/pids.max) -gt 0 ];; *) false;; esac"
fi
wait "$mvm"
echo $? >"$work/job.rc"
check job "the job still runs to completion: exit 3, its output in order" \
	sh -c "[ $(status job) = 3 ] && printf 'started\ndone\n' | cmp -s - '$work/job.out'"
check job "its cgroups are gone afterwards" \
	sh -c "[ ! -e /sys/fs/cgroup/pids$pidscg ] && [ ! -e /sys/fs/cgroup/memory$memcg ]"

# ---- signals and parent death (boots cut short) ---------------------------
"$MVM" run --timeout 150 "$work/job.img" -- 60 >"$work/term.out" 2>"$work/term.err" </dev/null &
mvm=$!
vmm=$(child_of "$mvm")
kill -TERM "$mvm"
wait "$mvm"
echo $? >"$work/term.rc"
check term "SIGTERM to mvm is forwarded: the VM stops, exit 143" \
	sh -c "[ $(status term) = 143 ] && [ -n '$vmm' ] && [ ! -d /proc/$vmm ]"

sh -c "'$MVM' run --timeout 150 '$work/job.img' -- 60 </dev/null >/dev/null 2>&1 & echo \$! >'$work/orphan.pid'; wait" &
shell=$!
for _ in $(seq 50); do [ -s "$work/orphan.pid" ] && break; sleep 0.1; done
mvm=$(cat "$work/orphan.pid")
vmm=$(child_of "$mvm")
kill -9 "$shell"
wait "$shell" 2>/dev/null
for _ in $(seq 50); do [ -d "/proc/$mvm" ] || [ -d "/proc/$vmm" ] || break; sleep 0.1; done
check orphan "when mvm's parent dies, mvm and its VM die (PDEATHSIG)" \
	sh -c "[ -n '$vmm' ] && [ ! -d /proc/$mvm ] && [ ! -d /proc/$vmm ]"

"$MVM" run --no-sandbox --print-cmdline "$work/job.img" >"$work/nosb.out" 2>"$work/nosb.err"
echo $? >"$work/nosb.rc"
check nosb "--no-sandbox works but warns loudly on stderr" \
	sh -c "[ $(status nosb) = 0 ] && grep -q 'WARNING: --no-sandbox' '$work/nosb.err'"

# ---- rootless: a user namespace instead of root's set-up -----------------
# uid 65534 needs /dev/kvm: where the host's node is root-only, the test
# gives it a 0666 copy of the node in a private mount namespace of its own.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v unshare >/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Ur true 2>/dev/null; then
	chmod 755 "$work"
	chmod 644 "$work/job.img"
	cp "$MVM_KERNEL" "$work/vmlinux" && chmod 644 "$work/vmlinux"
	mkdir -p "$work/dev"
	kvmdev=$(stat -c '0x%t 0x%T' /dev/kvm)
	unshare -m sh -c "
		if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r /dev/kvm -a -w /dev/kvm; then
			mount -t tmpfs -o mode=0755 mvm-test-dev '$work/dev' &&
			mknod -m 666 '$work/dev/kvm' c $kvmdev &&
			mount --bind '$work/dev/kvm' /dev/kvm || exit 99
		fi
		exec setpriv --reuid=65534 --regid=65534 --clear-groups '$MVM' run --timeout 3 \
			--kernel '$work/vmlinux' '$work/job.img' -- 60" \
		>"$work/rootless.out" 2>"$work/rootless.err" </dev/null &
	shell=$!
	vmm=""
	for _ in $(seq 100); do
		mvm=$(pgrep -f "[m]vm run --timeout 3 --kernel $work/vmlinux" | head -1)
		[ -n "$mvm" ] && vmm=$(child_of "$mvm") && break
		sleep 0.1
	done
	userns=$([ -n "$vmm" ] && readlink "/proc/$vmm/ns/user")
	seccomp=$([ -n "$vmm" ] && field Seccomp "$vmm")
	uid=$([ -n "$vmm" ] && field Uid "$vmm")
	capeff=$([ -n "$vmm" ] && field CapEff "$vmm")
	wait "$shell"
	echo $? >"$work/rootless.rc"
	check rootless "rootless: own user namespace, uid 65534, no capabilities, seccomp" \
		sh -c "[ -n '$userns' ] && [ '$userns' != '$(readlink /proc/self/ns/user)' ] && [ '$uid' = 65534 ] && [ '$capeff' = 0000000000000000 ] && [ '$seccomp' = 2 ]"
	check rootless "rootless: the VM ran until --timeout (124); cgroups only warned" \
		sh -c "[ $(status rootless) = 124 ] && { ! grep -q cgroup '$work/rootless.err' || grep -q 'warning: cgroup' '$work/rootless.err'; }"
else
	echo "sandbox: rootless case skipped (uid 65534 may not create user namespaces)"
fi

# ---- 100 x kill -9 at random moments: nothing may stay behind -----------
mkdir -p "$work/tmp" "$work/sock"
# What mvm could leave in /tmp: anything of the jail's uid, or named after
# mvm (other than the test harnesses' own mvm-NAME.XXXXXX directories;
# other programs on the host may come and go meanwhile).
snap() {
	find /tmp /var/tmp -mindepth 1 -maxdepth 1 \( -user 65534 -o -name '*mvm*' \) \
		-regextype posix-extended ! -regex '/tmp/mvm-[a-z0-9-]+\.[A-Za-z0-9]{6,}' | sort
}
snap >"$work/tmp.before"
mounts_before=$(wc -l </proc/self/mountinfo)
for i in $(seq 100); do
	TMPDIR=$work/tmp "$MVM" run --timeout 60 --vsock-dir "$work/sock" "$work/job.img" -- 60 \
		</dev/null >/dev/null 2>&1 &
	mvm=$!
	case $((i % 5)) in
	0) ;;                                   # right after the start
	1) sleep "0.0$((RANDOM % 10))" ;;       # during set-up
	2) sleep "0.$((RANDOM % 10))$((RANDOM % 10))" ;;
	3) sleep "1.$((RANDOM % 10))" ;;        # during the guest's boot
	4) sleep "0.$((RANDOM % 5))"            # the VMM child itself
	   kid=$(cat "/proc/$mvm/task/$mvm/children" 2>/dev/null | awk '{print $1}')
	   [ -n "$kid" ] && kill -9 "$kid" ;;
	esac
	kill -9 "$mvm" 2>/dev/null
	wait "$mvm" 2>/dev/null
done
# SIGKILLed processes take a moment to be torn down; '[m]vm' keeps
# pgrep from matching the shell that runs it.
for _ in $(seq 50); do pgrep -f "[m]vm run .*$work/job.img" >/dev/null || break; sleep 0.2; done
pgrep -af "[m]vm run .*$work/job.img" >"$work/kill9.out"
check kill9 "no mvm process of these runs is left" test ! -s "$work/kill9.out"
check kill9 "no overlay or temp file in TMPDIR" sh -c "[ -z \"\$(ls -A '$work/tmp')\" ]"
snap >"$work/tmp.after"
check kill9 "no new file in /tmp or /var/tmp" cmp -s "$work/tmp.before" "$work/tmp.after"
check kill9 "no mount left behind (jail tmpfs, binds)" \
	sh -c "[ \$(wc -l </proc/self/mountinfo) = $mounts_before ] && ! grep -q mvm-jail /proc/*/mountinfo 2>/dev/null"
# A later run removes what a killed parent could not: empty cgroups and
# the stale DIR/control socket.
"$MVM" run --print-cmdline --vsock-dir "$work/sock" "$work/job.img" >/dev/null 2>"$work/later.err"
echo $? >"$work/later.rc"
stale=""
for d in /sys/fs/cgroup/*/mvm /sys/fs/cgroup/memory/*/*/mvm /sys/fs/cgroup/mvm; do
	[ -d "$d" ] || continue
	for g in "$d"/*/; do
		[ -d "$g" ] || continue
		[ -n "$(cat "$g/cgroup.procs" 2>/dev/null)" ] || stale="$stale $g"
	done
done
check later "after a later run: no stale mvm cgroup (${stale:-none})" \
	sh -c "[ $(status later) = 0 ] && [ -z '$stale' ]"
check later "after a later run: no DIR/control socket" test ! -e "$work/sock/control"

e2e_finish sandbox
