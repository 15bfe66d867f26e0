#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel rows of the test matrix, and what each one means.
#
#   row.sh ROW FIELD
#
# ROW:   stock  Debian's 6.1 kernel (linux-image-amd64): the default row
#        6.12   Debian's 6.12 LTS (linux-image-6.12-amd64, security suite)
#        rt     Debian's 6.12 PREEMPT_RT (linux-image-6.12-rt-amd64)
#        dkms   the stock kernel, with the suite installed through DKMS
#        debug  6.1 from Debian's linux-source-6.1 with lockdep, KASAN,
#               kmemleak, DEBUG_ATOMIC_SLEEP, failslab... (scripts/kernel/
#               debug.config), built by scripts/debug-kernel.sh into a cache
# FIELD: kver     the kernel release
#        kdir     the kbuild directory external modules are built against
#        vmlinuz  the kernel image the test VM boots
#        moddir   the directory of that kernel's modules (modules.dep ...)
#        machine  the QEMU chipset of its test boot: pc, or q35 for debug
#                 (scripts/run-vm.sh --machine says why)
#        kparams  kernel parameters its boots need (run-vm.sh --kparams):
#                 none, or no5lvl for debug (below)
# The debug row's fields exist only once its kernel is built: row.sh fails
# until then ('scripts/debug-kernel.sh' builds it).
set -eu
scripts=$(cd "$(dirname "$0")" && pwd)
row=${1:-stock}
field=${2:-kver}

case "$row" in
stock | dkms) kver=$("$scripts/kver.sh" 6.1) ;;
6.12) kver=$("$scripts/kver.sh" 6.12) ;;
rt) kver=$("$scripts/kver.sh" rt) ;;
debug)
	[ "$field" != machine ] || { echo q35; exit 0; }
	# 4-level paging. With -cpu max (LA57), an interrupt that comes while
	# 6.1's identify_cpu() has cleared boot_cpu_data's feature bits sees
	# pgtable_l5_enabled() false: KASAN then takes the 5-level direct map
	# for a wild address and reports "wild-memory-access in
	# do_raw_spin_lock" from handle_edge_irq() (seen in about 1 boot of
	# 10, before any vext module is loaded).
	[ "$field" != kparams ] || { echo no5lvl; exit 0; }
	dir=$("$scripts/debug-kernel.sh" --print-dir) || {
		echo "row: the debug kernel is not built yet (scripts/debug-kernel.sh)" >&2
		exit 1
	}
	kver=$(cat "$dir/release")
	case "$field" in
	kver) echo "$kver" ;;
	kdir) echo "$dir/build" ;;
	vmlinuz) echo "$dir/bzImage" ;;
	moddir) echo "$dir/mods/lib/modules/$kver" ;;
	machine) echo q35 ;;
	*) echo "row: unknown field '$field'" >&2; exit 1 ;;
	esac
	exit 0 ;;
*)
	echo "row: unknown kernel row '$row' (stock, 6.12, rt, dkms, debug)" >&2
	exit 1 ;;
esac

case "$field" in
kver) echo "$kver" ;;
kdir) echo "/lib/modules/$kver/build" ;;
vmlinuz) echo "/boot/vmlinuz-$kver" ;;
moddir) echo "/lib/modules/$kver" ;;
machine) echo pc ;;
kparams) echo ;;
*) echo "row: unknown field '$field'" >&2; exit 1 ;;
esac
