#!/bin/sh
# mvm example job (images/examples/hello-sh): exercises stdout, stderr,
# argument passing, exit codes and, with "write", the root disk overlay.
#   mvm run hello-sh.img                 -> exit 0
#   mvm run hello-sh.img -- 3            -> exit 3
#   mvm run hello-sh.img -- write 5      -> writes /written, exit 5
# Builtins only, except the one ls: every fork+exec costs ~0.3 s on PVM hosts.
echo "hello from mvm: $# args: $*"
for a in "$@"; do echo "arg [$a]"; done
echo "hello on stderr" >&2
ls /mvm
if [ "$1" = write ]; then
	echo x > /written && read -r w < /written && echo "wrote /written: $w"
	shift
fi
exit "${1:-0}"
