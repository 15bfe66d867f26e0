#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Print the kernel release vext builds and tests against, read from the
# dependency of a Debian meta-package (never from uname -r: the build host's
# own kernel may be unrelated to the one the VM boots).
#   kver.sh          -> release of linux-image-amd64 (the stock 6.1 kernel)
#   kver.sh 6.12     -> release of linux-headers-6.12-amd64
#   kver.sh rt       -> release of linux-headers-6.12-rt-amd64 (PREEMPT_RT)
set -e
case "${1:-6.1}" in
6.1)	pkg=linux-image-amd64 prefix=linux-image- ;;
6.12)	pkg=linux-headers-6.12-amd64 prefix=linux-headers- ;;
rt)	pkg=linux-headers-6.12-rt-amd64 prefix=linux-headers- ;;
*)	echo "kver.sh: unknown kernel row '$1'" >&2; exit 1 ;;
esac
dep=$(dpkg-query -W -f='${Depends}' "$pkg" 2>/dev/null) || {
	echo "kver.sh: $pkg is not installed (run 'make deps' as root)" >&2
	exit 1
}
# "linux-image-6.1.0-56-amd64 (= 6.1.192-2)" -> "6.1.0-56-amd64"
echo "$dep" | sed -e 's/[ ,(].*//' -e "s/^$prefix//"
