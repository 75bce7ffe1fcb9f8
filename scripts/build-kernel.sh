#!/bin/bash
# Build the mvm guest kernel (an uncompressed vmlinux ELF) from Debian's
# linux-source-6.1 package, our config fragments and our patches.
#
# Usage: scripts/build-kernel.sh [-o OUT_LINK]
#
# The result is cached outside the checkout, keyed by a hash of every input:
#   ${MVM_CACHE_DIR:-$HOME/.cache/mvm}/kernel-<key>/{vmlinux,config,System.map,build.log}
# so an unchanged re-run only hashes a few files and prints the cached path.
# The build runs in a temp dir inside the cache dir and is renamed into place
# only on success: an interrupted build never leaves a half-written kernel.
#
# The last line on stdout is the vmlinux path; with -o, OUT_LINK becomes a
# symlink to it. Progress goes to stderr. The full kbuild log is kept in the
# cache dir; set MVM_KERNEL_VERBOSE=1 to stream it instead.
# See docs/GUEST-KERNEL.md.
set -euo pipefail

SRC_PKG=linux-source-6.1
SRC_TAR=/usr/src/linux-source-6.1.tar.xz
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CFG_DIR=$ROOT/guest-kernel-config
CACHE=${MVM_CACHE_DIR:-$HOME/.cache/mvm}

out_link=
while getopts "o:h" opt; do
	case $opt in
	o) out_link=$OPTARG ;;
	h)
		sed -n '2,17s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "usage: $0 [-o OUT_LINK]" >&2
		exit 2
		;;
	esac
done

say() { echo "build-kernel: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

src_version=$(dpkg-query -W -f='${Status} ${Version}' "$SRC_PKG" 2>/dev/null |
	sed -n 's/^install ok installed //p') || true
[ -n "$src_version" ] && [ -f "$SRC_TAR" ] ||
	die "$SRC_PKG is not installed ($SRC_TAR missing): run make deps"

shopt -s nullglob
fragments=("$CFG_DIR"/*.config)
patches=("$CFG_DIR"/patches/*.patch)
shopt -u nullglob
[ ${#fragments[@]} -gt 0 ] || die "no config fragments in $CFG_DIR"

# Cache key: everything that can change the output. File names are hashed
# too, so renaming (= reordering) a fragment or patch makes a new key.
key=$({
	echo "$SRC_PKG $src_version"
	for f in "${fragments[@]}" "${patches[@]}" "${BASH_SOURCE[0]}"; do
		echo "== ${f#"$ROOT"/}"
		cat "$f"
	done
} | sha256sum | cut -c1-16)
dest=$CACHE/kernel-$key

finish() {
	if [ -n "$out_link" ]; then
		mkdir -p "$(dirname "$out_link")"
		ln -sfn "$dest/vmlinux" "$out_link"
	fi
	echo "$dest/vmlinux"
}

if [ -f "$dest/vmlinux" ]; then
	finish
	exit 0
fi

mkdir -p "$CACHE"
# One build per key at a time; a second caller waits and reuses the result.
exec 9>"$CACHE/kernel-$key.lock"
if ! flock -n 9; then
	say "another build of kernel-$key is running; waiting"
	flock 9
fi
if [ -f "$dest/vmlinux" ]; then
	finish
	exit 0
fi

tmp=$(mktemp -d "$CACHE/.kernel-$key.tmp.XXXXXX")
log=$CACHE/kernel-$key.log
: >"$log"
cleanup() {
	local rc=$?
	rm -rf "$tmp"
	if [ $rc -ne 0 ]; then
		say "FAILED (exit $rc); last lines of $log:"
		tail -n 40 "$log" >&2 || true
	fi
}
trap cleanup EXIT
src=$tmp/src
mkdir "$src"
start=$SECONDS
elapsed() { echo "$((SECONDS - start))s"; }

# Runs a command with its output appended to the log (or streamed, verbose).
logged() {
	if [ "${MVM_KERNEL_VERBOSE:-0}" = 1 ]; then
		"$@" 2>&1 | tee -a "$log" >&2
	else
		"$@" >>"$log" 2>&1
	fi
}

say "kernel-$key: $SRC_PKG $src_version, ${#fragments[@]} fragments, ${#patches[@]} patches"
say "extracting $SRC_TAR"
tar -xf "$SRC_TAR" -C "$src" --strip-components=1

for p in "${patches[@]}"; do
	say "patching: $(basename "$p")"
	echo "== patch $p" >>"$log"
	logged patch -p1 --forward --batch -d "$src" -i "$p"
done

say "configuring: allnoconfig + fragments, then olddefconfig"
cat "${fragments[@]}" >"$tmp/fragments.config"
mk=(make -C "$src" ARCH=x86_64 KBUILD_BUILD_USER=mvm KBUILD_BUILD_HOST=mvm
	"KBUILD_BUILD_TIMESTAMP=$src_version")
logged "${mk[@]}" allnoconfig KCONFIG_ALLCONFIG="$tmp/fragments.config"
logged "${mk[@]}" olddefconfig

# Every CONFIG_X=<v> and CONFIG_X=n / "# CONFIG_X is not set" in a fragment
# must be what .config ended up with: Kconfig silently drops options whose
# dependencies are missing.
missing=$(awk -v cfg="$src/.config" '
	FILENAME != cfg {
		if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) {
			name = substr($0, 1, RLENGTH - 1); val = substr($0, RLENGTH + 1)
		} else if (match($0, /^# CONFIG_[A-Za-z0-9_]+ is not set/)) {
			name = $2; val = "n"
		} else next
		want[name] = val; file[name] = FILENAME
		next
	}
	match($0, /^CONFIG_[A-Za-z0-9_]+=/) {
		have[substr($0, 1, RLENGTH - 1)] = substr($0, RLENGTH + 1)
	}
	END {
		for (n in want) {
			got = (n in have) ? have[n] : "n"
			if (got != want[n])
				printf "  %s=%s (got %s) from %s\n", n, want[n], got, file[n]
		}
	}' "${fragments[@]}" "$src/.config" | sort)
if [ -n "$missing" ]; then
	say "these fragment options did not land in .config (missing dependency or typo):"
	echo "$missing" >&2
	exit 1
fi

jobs=${MVM_KERNEL_JOBS:-$(nproc)}
say "building vmlinux with make -j$jobs (full log: $log)"
# Compact progress: one line per 250 objects, from the kbuild "  CC" lines.
set +e
if [ "${MVM_KERNEL_VERBOSE:-0}" = 1 ]; then
	"${mk[@]}" -j"$jobs" vmlinux 2>&1 | tee -a "$log" >&2
else
	"${mk[@]}" -j"$jobs" vmlinux 2>&1 | tee -a "$log" | awk -v t0="$start" '
		/^  (CC|AS|LD|AR)/ {
			n++
			if (n % 250 == 0) {
				printf "build-kernel:   %d objects built\n", n > "/dev/stderr"
				fflush("/dev/stderr")
			}
		}'
fi
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || exit "$rc"

mkdir "$tmp/out"
cp "$src/vmlinux" "$tmp/out/vmlinux"
cp "$src/.config" "$tmp/out/config"
cp "$src/System.map" "$tmp/out/System.map"
mv "$log" "$tmp/out/build.log"
log=$tmp/out/build.log
rm -rf "$dest" # a stale, incomplete dir (no vmlinux) from an older script
mv "$tmp/out" "$dest"
log=$dest/build.log
say "done in $(elapsed): $(du -h "$dest/vmlinux" | cut -f1) vmlinux"
finish
