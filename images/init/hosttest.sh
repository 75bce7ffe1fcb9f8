#!/bin/sh
# Run the guest init's job logic on this host, without a VM: the init built
# with -DMVM_INIT_HOSTTEST becomes PID 1 of `unshare -mpf chroot ROOT`, with
# ports, channel and command line redirected to files under /mvm-test (see
# images/init/init.c). Needs root, busybox-static and python3.
#   images/init/hosttest.sh build/mvm-init-hosttest
set -eu
init=$(realpath "$1")
root=$(mktemp -d "${TMPDIR:-/tmp}/mvm-hosttest.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
fails=0

mkdir -p "$root/bin" "$root/mvm" "$root/mvm-test" "$root/dev" "$root/proc" \
	"$root/sys" "$root/tmp" "$root/data"
cp /bin/busybox "$root/bin/"
for a in sh kill id; do ln -s busybox "$root/bin/$a"; done
cp "$init" "$root/mvm/init"
printf 'not executable\n' > "$root/bin/noexec"
cat > "$root/job.sh" <<'JOB'
echo "argc=$#"
for a in "$@"; do echo "arg=[$a]"; done
echo "to stderr" >&2
echo "cwd=$PWD home=$HOME foo=${FOO-unset}"
[ "${1-}" = big ] && { i=0; while [ $i -lt 3000 ]; do echo "line $i padding padding padding"; i=$((i+1)); done; }
[ "${1-}" = kill ] && kill -9 $$
[ "${1-}" = id ] && id
exit "${2:-0}"
JOB

# frames CHANNEL: decode the frames, print "stdout:"/"stderr:" byte counts
# and the text, fail on a malformed stream.
frames() {
	python3 - "$1" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
i, out = 0, {1: b'', 2: b''}
while i < len(b):
    t, n = b[i], b[i + 1] | b[i + 2] << 8
    assert t in (1, 2, 3, 4) and 1 <= n <= 4096 and i + 3 + n <= len(b), (i, t, n)
    assert t < 3 or (n == 1 and i + 4 == len(b)), 'status frame not last'
    if t >= 3:
        sys.stdout.write('%s %d\n' % ('exit' if t == 3 else 'fail', b[i + 3]))
    else:
        out[t] += b[i + 3:i + 3 + n]
    i += 3 + n
for t, name in ((1, 'stdout'), (2, 'stderr')):
    sys.stdout.write('%s %d\n' % (name, len(out[t])))
    if len(out[t]) < 2000:
        sys.stdout.write(out[t].decode('latin-1'))
PY
}

# run NAME MANIFEST CMDLINE EXPECTED_PORTS [EXPECTED_OUTPUT_LINE...]
run() {
	name=$1 manifest=$2 cmdline=$3 ports=$4
	shift 4
	rm -f "$root/mvm-test/"*
	if [ -n "$manifest" ]; then
		printf '%b' "$manifest" > "$root/mvm/manifest"
	else
		rm -f "$root/mvm/manifest"
	fi
	printf '%s\n' "$cmdline" > "$root/mvm-test/cmdline"
	unshare -mpf chroot "$root" /mvm/init 2> "$root/console" || true
	got=$(tr '\n' ' ' < "$root/mvm-test/ports")
	out=$( [ -f "$root/mvm-test/channel" ] && frames "$root/mvm-test/channel" || true)
	ok=1
	[ "$got" = "$ports" ] || { echo "  ports: got '$got' want '$ports'"; ok=0; }
	for want in "$@"; do
		printf '%s\n' "$out" | grep -qxF -- "$want" ||
			{ echo "  missing output line: $want"; ok=0; }
	done
	if [ $ok = 1 ]; then
		echo "ok   $name"
	else
		echo "FAIL $name"; printf '%s\n' "$out" | head -20 | sed 's/^/  | /'
		sed 's/^/  console| /' "$root/console"
		fails=$((fails + 1))
	fi
}

H='mvm-manifest 1\n'
SH="${H}exec /bin/sh\narg sh\narg /job.sh\n"
run args "${SH}env FOO=bar\nworkdir /tmp\n" \
	'root=/dev/vda pvm_quirks init=/mvm/init -- x 7 a%20b%22 %00 k=v' \
	'0x510 123 0x511 7 ' 'argc=5' 'arg=[a b"]' 'arg=[]' 'arg=[k=v]' \
	'to stderr' 'cwd=/tmp home=/ foo=bar' 'stderr 10' 'exit 7'
run no-args "$SH" 'root=/dev/vda init=/mvm/init' '0x510 123 0x511 0 ' 'argc=0'
run big "$SH" 'quiet -- big' '0x510 123 0x511 0 ' 'stdout 100930'
run signal "$SH" '-- kill' '0x510 123 0x511 137 '
run user "${SH}user 1000:2000\n" '-- id' '0x510 123 0x511 0 ' \
	'uid=1000 gid=2000'
run no-manifest '' '' '0x510 123 0x512 1 ' 'fail 1'
run bad-manifest "${H}exec sh\n" '' '0x510 123 0x512 2 '
run crlf "mvm-manifest 1\r\nexec /bin/sh\r\n" '' '0x510 123 0x512 2 '
run exec-enoent "${H}exec /bin/nope\n" '' '0x510 123 0x512 3 '
run exec-eacces "${H}exec /bin/noexec\n" '' '0x510 123 0x512 4 '
run bad-workdir "${SH}workdir /nope\n" '' '0x510 123 0x512 5 '
run bad-arg "$SH" '-- a%2' '0x510 123 0x512 5 '
run bad-mount "${SH}mount /dev/nope /data ext4 ro\n" '' '0x510 123 0x512 5 '
run tmpfs-mount "${SH}mount tmpfs /data tmpfs rw\n" '' '0x510 123 0x511 0 '

[ $fails = 0 ] && echo "init host test: all passed" || echo "init host test: $fails failed"
[ $fails = 0 ]
