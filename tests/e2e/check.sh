#!/bin/bash
# End-to-end tests of `mvm check`: images made by the real builder, checked
# without mounting (no VM boots). Run as any user that can use /dev/kvm.
#
# Environment: MVM (default build/mvm, builds the images), MVM_CHECK (the
# binary whose `check` command is tested; default $MVM), MVM_KERNEL
# (default build/vmlinux). Prints "check: N passed, N failed" last; exit
# status 1 on any failure.
E2E_NAME=check-e2e
. "$(dirname "$0")/lib.sh"
MVM_CHECK=${MVM_CHECK:-$MVM}

# chk NAME ARGS...: runs `check ARGS`, keeps out/err/status.
chk() {
	name=$1
	shift
	"$MVM_CHECK" check "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null
	echo $? >"$work/$name.rc"
}
# expect NAME DESCRIPTION STATUS [GREP_PATTERN...]: status and each pattern
# (fixed strings) in stdout.
expect() {
	name=$1
	desc=$2
	want=$3
	shift 3
	if [ "$(status "$name")" != "$want" ]; then
		bad "$desc (exit $(status "$name"), want $want)" "$work/$name.out" "$work/$name.err"
		return
	fi
	for p in "$@"; do
		if ! grep -qF -- "$p" "$work/$name.out"; then
			bad "$desc (no '$p' in the report)" "$work/$name.out" "$work/$name.err"
			return
		fi
	done
	ok "$desc"
}

# build NAME ROOT [BUILD ARGS...]: build/mvm image build ROOT -o NAME.img
build() {
	name=$1
	root=$2
	shift 2
	if ! "$MVM" image build "$root" -o "$work/$name.img" --entry /bin/sh "$@" \
		>"$work/$name.build" 2>&1; then
		bad "image build $name" "$work/$name.build"
		return 1
	fi
}

for b in "$MVM" "$MVM_CHECK"; do
	if [ ! -x "$b" ]; then
		echo "check: $b not built (run make)"
		echo "check: 0 passed, 1 failed"
		exit 1
	fi
done

# ---- the host ------------------------------------------------------------
chk host
if [ -e /sys/module/kvm_pvm ] && ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
	expect host "no arguments on this PVM host: exit 0, PVM named" 0 \
		"PVM" "ok    /dev/kvm" "KVM API version: 12" "in-kernel irqchip" \
		"io_uring" "cgroups" "seccomp" "guest kernel"
else
	expect host "no arguments: exit 0, the host report" 0 \
		"ok    /dev/kvm" "KVM API version: 12" "in-kernel irqchip"
fi
MVM_KERNEL=$work/nope chk nokernel
expect nokernel "no guest kernel: exit 1, FAIL naming the path" 1 \
	"FAIL  guest kernel: $work/nope: No such file"
chk usage --frob
expect usage "unknown option: exit 2" 2
chk usage2 a.img b.img
expect usage2 "two images: exit 2" 2

# ---- a clean image --------------------------------------------------------
mk_busybox_root "$work/clean"
mkdir -p "$work/clean/a/b/c/d" "$work/clean/shared"
chmod 1777 "$work/clean/shared"
echo hi >"$work/clean/a/b/c/d/deep"
ln -s ../../bin/busybox "$work/clean/a/b/rel-sh"
if build clean "$work/clean" --entry /a/b/rel-sh --user 1000:1000; then
	chk clean "$work/clean.img"
	expect clean "clean image: exit 0, init, manifest and exec followed" 0 \
		"/mvm/init: static x86-64 ELF" \
		"/mvm/manifest: exec /a/b/rel-sh" "user 1000:1000" \
		"exec: /a/b/rel-sh is in the image, executable (/bin/busybox)" \
		"setuid file: none" \
		"world-writable directory without sticky bit: none"
	chk clean-json --json "$work/clean.img"
	if [ "$(status clean-json)" = 0 ] &&
		python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$work/clean-json.out" 2>/dev/null &&
		grep -q '"summary"' "$work/clean-json.out"; then
		ok "--json: every line is a JSON object, exit 0"
	else
		bad "--json: every line is a JSON object, exit 0" "$work/clean-json.out"
	fi
fi

# ---- a planted setuid binary, with a hostile name next to it ---------------
mk_busybox_root "$work/suid"
mkdir -p "$work/suid/usr/bin"
cp /bin/busybox "$work/suid/usr/bin/planted"
chmod 4755 "$work/suid/usr/bin/planted"
cp /bin/busybox "$work/suid/usr/bin/$(printf 'evil\nname')"
chmod 2755 "$work/suid/usr/bin/$(printf 'evil\nname')"
if build suid "$work/suid"; then
	chk suid "$work/suid.img"
	expect suid "setuid binary: exit 1, path and mode named" 1 \
		"FAIL  setuid file: /usr/bin/planted (mode 4755" \
		'FAIL  setgid file: /usr/bin/evil\x0aname (mode 2755'
fi

# ---- a world-writable directory without the sticky bit --------------------
mk_busybox_root "$work/ww"
mkdir -p "$work/ww/var/drop" "$work/ww/var/ok"
chmod 0777 "$work/ww/var/drop"
chmod 1777 "$work/ww/var/ok"
echo x >"$work/ww/var/ok/file"
chmod 0666 "$work/ww/var/ok/file"
if build ww "$work/ww"; then
	chk ww "$work/ww.img"
	if [ "$(status ww)" = 1 ] &&
		grep -qF "FAIL  world-writable directory without sticky bit: /var/drop (mode 0777" "$work/ww.out" &&
		! grep -qF "sticky bit: /var/ok" "$work/ww.out" &&
		grep -qF "warn  world-writable file: /var/ok/file (mode 0666" "$work/ww.out"; then
		ok "world-writable dir without sticky: exit 1 and named; 1777 is fine"
	else
		bad "world-writable dir without sticky: exit 1 and named; 1777 is fine" "$work/ww.out"
	fi
fi

# ---- broken images ---------------------------------------------------------
printf 'not an image at all' >"$work/corrupt.img"
chk corrupt "$work/corrupt.img"
expect corrupt "corrupt image: exit 1, 'not an ext4 image'" 1 "not an ext4 image"
chk missing "$work/nope.img"
expect missing "missing image: exit 1, the path named" 1 \
	"$work/nope.img: No such file or directory"
if [ -f "$work/clean.img" ]; then
	# An invalid manifest, written with debugfs (the builder refuses one).
	cp "$work/clean.img" "$work/badman.img"
	printf 'mvm-manifest 1\nexec bin/sh\n' >"$work/badman.txt"
	debugfs -w -R 'rm /mvm/manifest' "$work/badman.img" >/dev/null 2>&1
	debugfs -w -R "write $work/badman.txt /mvm/manifest" "$work/badman.img" >/dev/null 2>&1
	chk badman "$work/badman.img"
	expect badman "invalid manifest: exit 1, LINE:COL message" 1 \
		"FAIL  /mvm/manifest: 2:6: exec: path must be absolute"
	# The exec target removed from the image.
	cp "$work/clean.img" "$work/noexec.img"
	debugfs -w -R 'rm /bin/busybox' "$work/noexec.img" >/dev/null 2>&1
	chk noexec "$work/noexec.img"
	expect noexec "exec target missing: exit 1, named" 1 \
		"FAIL  exec: /a/b/rel-sh: No such file or directory"
fi

e2e_finish check
