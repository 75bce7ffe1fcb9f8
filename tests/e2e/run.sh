#!/bin/bash
# End-to-end tests: real guests on /dev/kvm, plus the host-side bad-input
# paths. Each cold boot costs seconds on a PVM host, so the job tests share
# a few boots and check several things per boot.
#
# Environment: MVM (default build/mvm), MVM_KERNEL (default build/vmlinux).
# Prints "e2e: N passed, N failed" last; exit status 1 on any failure.
E2E_NAME=e2e
. "$(dirname "$0")/lib.sh"

# run NAME EXPECTED_STATUS MVM_ARGS...: runs mvm, keeps out/err/status
# (EXPECTED_STATUS documents the case; the checks compare it).
run() {
	name=$1
	shift 2
	"$MVM" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null
	echo $? >"$work/$name.rc"
}

need_mvm e2e

# ---- host-side bad input: one line naming the problem, exit 125 ----------
printf 'not an image at all' >"$work/corrupt.img"
printf 'not an ELF' >"$work/notelf"
mk_busybox_root "$work/root"
"$MVM" image build "$work/root" -o "$work/job.img" \
	--entry "/bin/sh -c 'echo out; echo err >&2; echo written >/written; cat /written; head -c 5 /dev/vdb; echo; echo \"[\$2]\"; cat /sys/devices/system/cpu/online; exit \$1' job" \
	>"$work/build.out" 2>&1
check build "image build makes an ext4 image without root mounts" \
	test -s "$work/job.img"

run missing 125 run "$work/nope.img"
check missing "missing job.img: exit 125 and the path named" \
	sh -c "[ $(status missing) = 125 ] && grep -q 'nope.img: No such file' '$work/missing.err'"
run corrupt 125 run "$work/corrupt.img"
check corrupt "corrupt job.img: exit 125, 'not an ext4 image'" \
	sh -c "[ $(status corrupt) = 125 ] && grep -q 'not an ext4 image' '$work/corrupt.err'"
run notelf 125 run --kernel "$work/notelf" "$work/job.img"
check notelf "kernel that is not an ELF: exit 125, 'not an ELF'" \
	sh -c "[ $(status notelf) = 125 ] && grep -q 'not an ELF' '$work/notelf.err'"
run nokernel 125 run --kernel "$work/absent-vmlinux" "$work/job.img"
check nokernel "missing kernel: exit 125, the path and how to build one" \
	sh -c "[ $(status nokernel) = 125 ] && grep -q 'absent-vmlinux: No such file.*make kernel' '$work/nokernel.err'"
run badopt 125 run --frobnicate "$work/job.img"
check badopt "unknown option: exit 125 and named" \
	sh -c "[ $(status badopt) = 125 ] && grep -q 'frobnicate' '$work/badopt.err'"
run badmem 125 run --mem 5 "$work/job.img"
check badmem "--mem out of range: exit 125" \
	sh -c "[ $(status badmem) = 125 ] && grep -q -- '--mem' '$work/badmem.err'"
run noimg 125 run
check noimg "no job.img: exit 125, 'missing job.img'" \
	sh -c "[ $(status noimg) = 125 ] && grep -q 'missing job.img' '$work/noimg.err'"
run nodisk 125 run --disk "$work/absent.bin" "$work/job.img"
check nodisk "missing --disk: exit 125 and the path named" \
	sh -c "[ $(status nodisk) = 125 ] && grep -q 'absent.bin' '$work/nodisk.err'"
run help 0 run --help
check help "run --help documents the exit codes" \
	sh -c "[ $(status help) = 0 ] && grep -q '124' '$work/help.out' && grep -q -- '--timeout' '$work/help.out'"

if command -v unshare >/dev/null; then
	unshare -m sh -c "mount -t tmpfs none /dev && exec '$MVM' run '$work/job.img'" \
		>"$work/nokvm.out" 2>"$work/nokvm.err"
	echo $? >"$work/nokvm.rc"
	check nokvm "no /dev/kvm: exit 125, '/dev/kvm: not found'" \
		sh -c "[ $(status nokvm) = 125 ] && grep -q '/dev/kvm: not found' '$work/nokvm.err'"
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ ! -r /dev/kvm -o ! -w /dev/kvm -o "$(stat -c %a /dev/kvm)" = 600 ]; then
	chmod 755 "$work"
	chmod 644 "$work/job.img"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$MVM" run \
		--kernel "$MVM_KERNEL" "$work/job.img" >"$work/perm.out" 2>"$work/perm.err"
	echo $? >"$work/perm.rc"
	check perm "/dev/kvm not accessible: exit 125, 'Permission denied'" \
		sh -c "[ $(status perm) = 125 ] && grep -q '/dev/kvm: Permission denied' '$work/perm.err'"
fi

if [ ! -r "$MVM_KERNEL" ] || [ ! -e /dev/kvm ]; then
	echo "e2e: no kernel at $MVM_KERNEL or no /dev/kvm: guest tests cannot run"
	echo "e2e: $passed passed, $((failed + 1)) failed"
	exit 1
fi

# ---- boot 1: output, exit status, arguments, disks ----------------------
printf 'hello world' >"$work/data.bin"
truncate -s 4096 "$work/data.bin"
sum_before=$(sha256sum <"$work/job.img")
run job 7 run --timeout 150 --cpus 2 --disk "$work/data.bin:ro" "$work/job.img" -- 7 'two words "quoted" $x'
check job "job's exit status becomes mvm's (7)" sh -c "[ $(status job) = 7 ]"
check job "job stdout comes back in order (and the guest saw 2 CPUs)" \
	sh -c "printf 'out\nwritten\nhello\n[two words \"quoted\" \$x]\n0-1\n' | cmp -s - '$work/job.out'"
check job "job stderr comes back separately" \
	sh -c "grep -qx err '$work/job.err' && ! grep -q err '$work/job.out'"
check job "guest writes to its root disk leave job.img byte-identical" \
	sh -c "grep -qx written '$work/job.out' && [ '$(sha256sum <"$work/job.img")' = '$sum_before' ]"

# ---- boot 2: a compiled, dynamically linked C job (examples/hello-c) ----
ex="$top/build/examples/hello-c.img"
if [ -f "$ex" ]; then
	run helloc 0 run --timeout 120 "$ex" -- alpha beta
	check helloc "dynamic C job (libraries added by --add-binary) runs" \
		sh -c "[ $(status helloc) = 0 ] && grep -q alpha '$work/helloc.out' && grep -q beta '$work/helloc.out'"
else
	bad "example image $ex was not built"
fi

# ---- boot 3: a program the guest cannot find: 127 ------------------------
# The builder refuses an --entry missing from the image, so take a
# dynamically linked program without its libraries: execve() in the guest
# fails with ENOENT because its ELF interpreter is missing.
mk_busybox_root "$work/root2"
cp /usr/bin/true "$work/root2/bin/dyntrue"
"$MVM" image build "$work/root2" -o "$work/noexec.img" --entry "/bin/dyntrue" \
	>"$work/build2.out" 2>&1
run noexec 127 run --timeout 120 "$work/noexec.img"
check noexec "job program missing from the image: exit 127 and explained" \
	sh -c "[ $(status noexec) = 127 ] && grep -q 'not found' '$work/noexec.err'"

# ---- boot 4: a guest kernel panic ends the VM with a clear status -------
run panic 125 run --timeout 120 --append rootfstype=nosuchfs "$work/job.img"
check panic "guest kernel panic: exit 125, 'guest kernel panicked' and the reason" \
	sh -c "[ $(status panic) = 125 ] && grep -q 'guest kernel panicked: VFS: Unable to mount root fs' '$work/panic.err'"

# ---- boot 5: --timeout kills a spinning job: 124 ------------------------
"$MVM" image build "$work/root" -o "$work/spin.img" \
	--entry "/bin/sh -c 'echo spinning; while :; do :; done'" >"$work/build3.out" 2>&1
start=$(date +%s)
run spin 124 run --timeout 40 "$work/spin.img"
elapsed=$(($(date +%s) - start))
check spin "--timeout stops a spinning job: exit 124" sh -c "[ $(status spin) = 124 ]"
check spin "the spinning job had really started" grep -q spinning "$work/spin.out"
check spin "mvm ended within 5 s of the timeout (took ${elapsed}s)" \
	sh -c "[ $(status spin) = 124 ] && [ $elapsed -le 45 ]"

e2e_finish e2e
