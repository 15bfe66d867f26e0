#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Install the suite through DKMS, as a user would, for one kernel:
#
#   dkms-install.sh KVER
#
# Copies the tracked sources into /usr/src/vext-VERSION (VERSION from
# dkms.conf), replaces any earlier registration of that version, then runs
# 'dkms add', 'dkms build -k KVER' and 'dkms install -k KVER'. The modules
# land in /lib/modules/KVER/updates/dkms and depmod knows them. Prints that
# directory on the last line. Root only; it changes the host's /usr/src,
# /var/lib/dkms and /lib/modules/KVER (not the running kernel).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kver=${1:?usage: dkms-install.sh KVER}

[ "$(id -u)" -eq 0 ] || { echo "dkms-install: must run as root" >&2; exit 1; }
command -v dkms >/dev/null || { echo "dkms-install: dkms missing (apt-get install dkms)" >&2; exit 1; }
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$root/dkms.conf")
[ -n "$ver" ] || { echo "dkms-install: no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }

src=/usr/src/vext-$ver
if dkms status -m vext -v "$ver" 2>/dev/null | grep -q .; then
	dkms remove -m vext -v "$ver" --all >/dev/null
fi
rm -rf "$src"
mkdir -p "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 cp --parents -t "$src")

dkms add -m vext -v "$ver"
dkms build -m vext -v "$ver" -k "$kver" ||
	{ cat "/var/lib/dkms/vext/$ver/build/make.log" >&2 2>/dev/null; exit 1; }
dkms install -m vext -v "$ver" -k "$kver" --force
dkms status -m vext -v "$ver"
dir=/lib/modules/$kver/updates/dkms
n=$(find "$dir" -name 'vext_*.ko*' | wc -l)
want=$(grep -c '^BUILT_MODULE_NAME' "$root/dkms.conf")
[ "$n" -eq "$want" ] ||
	{ echo "dkms-install: $n vext modules in $dir, dkms.conf builds $want" >&2; exit 1; }
echo "$dir"
