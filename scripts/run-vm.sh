#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot the vext test VM once, under a time bound, and collect its output.
#
#   run-vm.sh --mode MODE --kver KVER --initrd FILE --dir DIR
#             [--bound SECS] [--test-timeout SECS] [--follow console|report]
#             [--tests GLOB] [--kernel FILE] [--splat MODULE]
#             [--append WORDS] [--kparams WORDS] [--machine pc|q35]
#
#   --mode MODE          test | selftest | run | bench: passed to the init
#                        as vext.mode= (see vm-init.sh); selects the machine
#   --kver KVER          boots /boot/vmlinuz-KVER ...
#   --kernel FILE        ... or this image (the debug row's bzImage)
#   --initrd FILE        from mkinitramfs.sh
#   --dir DIR            where console.log (ttyS0: kernel console and init
#                        progress), report.log (ttyS1: the report protocol and
#                        the tests' TAP) and qemu.status go
#   --bound SECS         the whole boot's bound (default 600); past it QEMU is
#                        killed and qemu.status says 124
#   --test-timeout SECS  bound of one test (or bench) binary inside the VM
#                        (default 240)
#   --follow WHAT        print that log on stdout while the VM runs
#   --tests GLOB         test mode: run only the test binaries matching GLOB
#   --splat MODULE       selftest mode: the test module to load (default
#                        vext_splat)
# Environment: VEXT_VM_APPEND, more kernel parameters.
#   --append WORDS       more kernel command line words for the init
#                        (vext.fuzz_seconds=N ..., see vm-init.sh)
#   --kparams WORDS      the kernel parameters of the row (row.sh kparams)
#   --machine pc|q35     test and run modes: the chipset (default pc)
#
# Machines. test and run boot the 'pc' machine with the devices the shared
# IRQ tests need: e1000 at slot 3 and edu at slots 4, 7 and 8. QEMU's PIIX
# routes pin A of slot s to link LNK[(s - 1) % 4], so slots 4 and 8 share
# one line (LNKD) and the edu at slot 7 shares the e1000's (LNKC); which IRQ
# a link gets (10 or 11) is the guest's choice. --machine q35 puts the same
# devices on ICH9, whose _PRT maps pin A of slot s to PIRQ[(s + 1) % 4]
# as well (same pairs), with a static table: the debug row boots it,
# because PIIX's _PRT builds its 128 entries in an AML While loop that the
# KASAN + lockdep kernel under TCG cannot finish within ACPICA's 30 s loop
# timeout (AE_AML_LOOP_TIMEOUT: every device then has "no GSI").
# selftest and bench boot the
# faster q35 without a NIC; bench adds an emulated Intel IOMMU
# (intel_iommu=on) and edu at slots 4 and 5 for assign_bench.
#
# QEMU runs multi-threaded TCG with '-cpu max' (it includes AMD SVM, so KVM
# works inside the VM): the host's own KVM is not used. The exit status is
# QEMU's (0 after the guest powers off), 124 if the bound was hit.
set -euo pipefail

mode='' kver='' initrd='' dir='' bound=600 test_timeout=240 follow='' tests='' kernel='' splat='' kparams=''
chipset=pc
extra=''
while [ $# -gt 0 ]; do
	case "$1" in
	--mode) mode=$2; shift ;;
	--kver) kver=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--dir) dir=$2; shift ;;
	--bound) bound=$2; shift ;;
	--test-timeout) test_timeout=$2; shift ;;
	--follow) follow=$2; shift ;;
	--tests) tests=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--splat) splat=$2; shift ;;
	--append) extra=$2; shift ;;
	--kparams) kparams=$2; shift ;;
	--machine) chipset=$2; shift ;;
	*) echo "run-vm: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$mode" ] || [ -z "$kver" ] || [ -z "$initrd" ] || [ -z "$dir" ]; then
	echo "usage: run-vm.sh --mode MODE --kver KVER --initrd FILE --dir DIR" \
		"[--bound SECS] [--test-timeout SECS] [--follow console|report]" >&2
	exit 2
fi

kernel=${kernel:-/boot/vmlinuz-$kver}
[ -r "$kernel" ] || { echo "run-vm: $kernel missing (linux-image-$kver)" >&2; exit 2; }
[ -r "$initrd" ] || { echo "run-vm: $initrd missing" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "run-vm: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 2; }

# shellcheck disable=SC2054 # commas inside QEMU options
case "$mode" in
test | run)
	case "$chipset" in
	pc | q35) ;;
	*) echo "run-vm: unknown machine '$chipset' (pc, q35)" >&2; exit 2 ;;
	esac
	machine=(-machine "$chipset"
		-netdev user,id=n0,restrict=on -device e1000,netdev=n0,addr=3
		-device edu,addr=4 -device edu,addr=7 -device edu,addr=8) ;;
selftest)
	machine=(-machine q35 -nic none) ;;
bench)
	# assign_bench compares vext with VFIO, which needs an IOMMU group:
	# an emulated VT-d (before the PCI devices that sit behind it) and two
	# edu devices. Under TCG intel-iommu needs no split irqchip.
	machine=(-machine q35 -nic none -device intel-iommu
		-device edu,addr=4 -device edu,addr=5) ;;
*)
	echo "run-vm: unknown mode '$mode'" >&2; exit 2 ;;
esac

mkdir -p "$dir"
console=$dir/console.log
report=$dir/report.log
: >"$console"
: >"$report"
rm -f "$dir/qemu.status"

# The console gets warnings and worse (loglevel=5), so a splat is on record
# even when the VM dies before the init sends the full log over the report
# port; 'make run' shows the console, so it gets errors and worse only
# (quiet). panic=-1 with -no-reboot turns a panic into a QEMU exit instead
# of a hang until the bound; oopses are not made panics, they are reported
# from the log.
level=loglevel=5
[ "$mode" = run ] && level=quiet
append="console=ttyS0 $level panic=-1 vext.mode=$mode vext.timeout=$test_timeout"
[ "$mode" = bench ] && append="$append intel_iommu=on"
[ -z "$tests" ] || append="$append vext.tests=$tests"
[ -z "$splat" ] || append="$append vext.splat=$splat"
# Extra kernel parameters of a row (check.sh sets it for the debug row).
[ -z "${VEXT_VM_APPEND:-}" ] || append="$append $VEXT_VM_APPEND"
[ -z "$extra" ] || append="$append $extra"
[ -z "$kparams" ] || append="$append $kparams"

# Single-threaded TCG: with Debian 12's QEMU 7.2, multi-threaded TCG lets a
# vCPU keep running stale translations of kernel text patched by another
# vCPU: after vext_pn flips the preempt-notifier static key, both vCPUs
# were seen looping forever in int3 at the key's jump sites (4 boots of 6).
# The guest still has 2 vCPUs; the tests take the same time.
# shellcheck disable=SC2054 # commas inside QEMU options
qemu=(qemu-system-x86_64 "${machine[@]}"
	-accel tcg,thread=single -cpu max -smp 2 -m 1G
	-nodefaults -display none -no-reboot
	-kernel "$kernel" -initrd "$initrd" -append "$append"
	-serial "file:$console" -serial "file:$report")

echo "${qemu[*]}" >"$dir/qemu.cmd"
# No terminal for QEMU: its serial ports are files, its stdin is empty.
timeout -k 10 "$bound" "${qemu[@]}" </dev/null >"$dir/qemu.out" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

if [ -n "$follow" ]; then
	# Stream the chosen log until QEMU is gone (tail notices within 1 s),
	# without the "\r" of the console's line discipline. In the background,
	# so that a signal to this script kills QEMU at once (the EXIT trap).
	tail -n +1 -s 0.2 -F --pid="$pid" "$dir/$follow.log" 2>/dev/null |
		sed -u 's/\r$//' &
	wait $!
fi

status=0
wait "$pid" || status=$?
trap - EXIT
echo "$status" >"$dir/qemu.status"
if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ -s "$dir/qemu.out" ]; then
	sed 's/^/run-vm: qemu: /' "$dir/qemu.out" >&2
fi
exit "$status"
