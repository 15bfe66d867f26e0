#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of the vext test VM (copied into the initramfs by mkinitramfs.sh).
#
# The kernel command line selects what the boot does:
#   vext.mode=test      load e1000, run every /tests/*_test in sorted order,
#                       then load the suite and run /bin/vext-demo if present
#   vext.mode=selftest  load vext_splat (it WARNs; or vext.splat=MODULE)
#                       and run a test that leaves a process running:
#                       the runner must report this boot as failed
#   vext.mode=run       load e1000 and the suite, run /bin/vext-demo, then
#                       /bin/vext-kvm-demo (assigned INTx into a KVM guest)
#   vext.mode=bench     run every /bench/*_bench (make bench), reported like
#                       the tests; each prints one JSON object
#   vext.timeout=SECS   bound of one test or bench binary (default 240)
#   vext.tests=GLOB     test mode: run only /tests/GLOB (make vm-test T=GLOB);
#                       the suite and vext-demo step is skipped then
#   vext.fuzz_seconds=N, vext.fuzz_seed=S, vext.fuzz_threads=T
#                       the ioctl fuzzer's budget, seed and threads (make
#                       fuzz), exported to the tests as VEXT_FUZZ_SECONDS,
#                       VEXT_FUZZ_SEED and VEXT_FUZZ_THREADS
#
# Human-readable progress goes to the console (ttyS0). Everything the host
# judges goes to the report port, the second serial port (ttyS1), as lines
# of this protocol interleaved with the tests' own TAP output:
#   #vext: begin MODE KERNEL-RELEASE
#   #vext: tests NAME...            the binaries about to run
#   #vext: setup ok|fail WHAT       a setup step (module load)
#   #vext: run NAME                 a test binary starts; its TAP follows
#   #vext: exit NAME STATUS SECS [timeout]
#                                   (vext-demo is reported the same way)
#   #vext: leftover NAME N          N processes of NAME still ran after it
#                                   exited (killed then): a failure
#   #vext: dmesg-begin / #vext: dmesg-end   the kernel log, in full
#   #vext: end                      the boot completed
# then the VM powers off. scripts/vm-verdict.sh reads this.
#
# No 'set -e': a failing step is reported, never a reason to stop early.
set -u
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts
exec </dev/console >/dev/console 2>&1

mode='test'
timeout=240
only=''
splat=vext_splat
# shellcheck disable=SC2013 # the command line is one line of words
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vext.mode=*) mode=${arg#*=} ;;
	vext.timeout=*) timeout=${arg#*=} ;;
	vext.tests=*) only=${arg#*=} ;;
	vext.splat=*) splat=${arg#*=} ;;
	vext.fuzz_seconds=*) export VEXT_FUZZ_SECONDS="${arg#*=}" ;;
	vext.fuzz_seed=*) export VEXT_FUZZ_SEED="${arg#*=}" ;;
	vext.fuzz_threads=*) export VEXT_FUZZ_THREADS="${arg#*=}" ;;
	esac
done

# The release of the kernel this VM runs (the guest's own, so modprobe's
# /lib/modules/<release> in this initramfs).
release=$(cat /proc/sys/kernel/osrelease)

log() {
	echo "vext-init: $*"
}

# The report port: raw mode, so no "\r" is added to the TAP lines.
if [ ! -c /dev/ttyS1 ]; then
	log "no report port /dev/ttyS1: powering off"
	poweroff -f
fi
exec 3>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo 2>/dev/null

# Each protocol line starts on a line of its own, even after a test binary
# that died in the middle of a line (the verdict skips empty lines).
report() {
	printf '\n#vext: %s\n' "$*" >&3
}

# setup WHAT CMD...: run a setup step and report its result.
setup() {
	what=$1
	shift
	if out=$("$@" 2>&1); then
		report "setup ok $what"
	else
		report "setup fail $what"
		[ -n "$out" ] && echo "$out" | sed 's/^/# /' >&3
		log "setup failed: $what: $out"
	fi
}

# The suite's modules, leaves first: modprobe must pull in what each one
# needs (vext_core, vext_percpu) from modules.dep by itself, so vext_core is
# only checked at the end, never loaded by name.
load_suite() {
	pulled= probed=
	# updates/vext (make install) or updates/dkms (the dkms row); vext_pn
	# first (it needs both vext_percpu and vext_core).
	for ko in /lib/modules/"$release"/updates/*/vext_pn.ko* \
		  /lib/modules/"$release"/updates/*/vext_*.ko*; do
		[ -f "$ko" ] || continue
		m=${ko##*/}
		m=${m%%.ko*}
		[ "$m" = vext_core ] && continue
		case " $probed " in *" $m "*) continue ;; esac
		if [ -d "/sys/module/$m" ]; then
			case " $pulled " in *" $m "*) ;; *) pulled="$pulled $m" ;; esac
			continue
		fi
		setup "modprobe $m" modprobe "$m"
		probed="$probed $m"
	done
	[ -d /sys/module/vext_core ] && pulled="$pulled vext_core"
	for m in $pulled; do
		setup "$m loaded as a dependency" test -d "/sys/module/$m"
	done
	[ -n "$pulled" ] || setup "vext_core loaded as a dependency" false
}

# group_left: how many live processes are in process group $pg, the
# busybox timeout's watcher aside.
group_left() {
	n=0
	for st in /proc/[0-9]*/stat; do
		read -r line <"$st" 2>/dev/null || continue
		comm=${line#*(}
		comm=${comm%%)*}
		# after "(comm) ": state ppid pgrp ...
		# shellcheck disable=SC2086 # split into fields
		set -- ${line##*) }
		[ "${3:-}" = "$pg" ] && [ "$1" != Z ] && [ "$comm" != timeout ] &&
			n=$((n + 1))
	done
	echo "$n"
}

# run_test PATH: one test binary, bounded, its output on the report port.
# It runs in a session of its own: whatever it leaves running (a forked
# child hung, or one a timeout orphaned) is counted, reported and killed
# before the next binary, which would otherwise find the fds, VMs and
# module references that child holds.
run_test() {
	name=${1##*/}
	log "running $name"
	report "run $name"
	start=$(date +%s)
	# In the foreground, as before sessions: a SIGCHLD while the shell
	# waits for a background job could cut short its next report line on
	# a full serial port (one exit line was seen lost that way).
	rm -f /tmp/.vext-pg
	(cd /tmp && exec sh -c 'echo $$ >/tmp/.vext-pg && exec setsid timeout -s KILL "$0" "$1"' \
		"$timeout" "$1") </dev/null >&3 2>&3
	status=$?
	secs=$(($(date +%s) - start))
	if [ "$status" -eq 137 ] && [ "$secs" -ge "$timeout" ]; then
		report "exit $name $status $secs timeout"
	else
		report "exit $name $status $secs"
	fi
	log "$name exited with status $status after ${secs}s"
	pg=$(cat /tmp/.vext-pg 2>/dev/null) || return
	left=$(group_left)
	[ "$left" -eq 0 ] && return
	report "leftover $name $left"
	log "$name left $left process(es) running: killing them"
	kill -KILL -- "-$pg" 2>/dev/null
	tries=0
	while [ "$(group_left)" -gt 0 ] && [ "$tries" -lt 100 ]; do
		sleep 0.1
		tries=$((tries + 1))
	done
	[ "$(group_left)" -eq 0 ] ||
		report "setup fail killing what $name left running (10 s)"
}

# The full kernel log, plus what kmemleak holds (a debug kernel only:
# kmemleak reports objects older than 5 s, found by an explicit scan).
dump_dmesg() {
	if [ -w /sys/kernel/debug/kmemleak ]; then
		echo scan >/sys/kernel/debug/kmemleak
		sleep 6
		echo scan >/sys/kernel/debug/kmemleak
	fi
	report "dmesg-begin"
	dmesg >&3
	[ -r /sys/kernel/debug/kmemleak ] && cat /sys/kernel/debug/kmemleak >&3
	report "dmesg-end"
}

finish() {
	dump_dmesg
	report "end"
	log "done, powering off"
	# Closing the last fd of the port waits until its output is sent.
	exec 3>&-
	sleep 1
	poweroff -f
}

log "mode $mode, kernel $release"
report "begin $mode $release"

case "$mode" in
test)
	# *_test first, then the debug row's *_dtest (only in its initramfs).
	if [ -n "$only" ]; then
		tests=$(find /tests -name "$only" -type f | LC_ALL=C sort)
	else
		tests="$(find /tests -name '*_test' -type f | LC_ALL=C sort)
$(find /tests -name '*_dtest' -type f | LC_ALL=C sort)"
	fi
	names=
	for t in $tests; do
		names="$names ${t##*/}"
	done
	report "tests$names"
	setup "modprobe e1000" modprobe e1000
	for t in $tests; do
		run_test "$t"
	done
	# Last, what 'make run' does: the suite loaded, the demo run.
	if [ -z "$only" ] && [ -x /bin/vext-demo ]; then
		load_suite
		report "run vext-demo"
		/bin/vext-demo </dev/null >&3 2>&1
		report "exit vext-demo $? 0"
		report "run vext-kvm-demo"
		/bin/vext-kvm-demo </dev/null >&3 2>&1
		report "exit vext-kvm-demo $? 0"
	fi
	;;
selftest)
	setup "modprobe $splat" modprobe "$splat"
	# And a test that leaves a process running: the runner must fail it
	# (check.sh looks for that) and kill what it left.
	printf '#!/bin/sh\nsleep 600 &\necho 1..1\necho "ok 1 leaves a process running"\n' \
		>/tmp/orphan_test
	chmod +x /tmp/orphan_test
	report "tests orphan_test"
	run_test /tmp/orphan_test
	;;
bench)
	# Like the tests: announced, then run and bounded one by one. Each
	# benchmark loads what it measures itself and prints one JSON object
	# (stdout) and "# " progress lines (stderr) between its run and exit
	# lines; scripts/bench-results.sh collects the JSON.
	benches=$(find /bench -name '*_bench' -type f | LC_ALL=C sort)
	names=
	for b in $benches; do
		names="$names ${b##*/}"
	done
	report "tests$names"
	for b in $benches; do
		run_test "$b"
	done
	;;
run)
	setup "modprobe e1000" modprobe e1000
	load_suite
	log "running /bin/vext-demo"
	echo
	/bin/vext-demo </dev/null
	status=$?
	echo
	log "vext-demo exited with status $status"
	report "run vext-demo"
	report "exit vext-demo $status 0"
	if [ -x /bin/vext-kvm-demo ]; then
		log "running /bin/vext-kvm-demo"
		/bin/vext-kvm-demo </dev/null
		status=$?
		echo
		report "run vext-kvm-demo"
		report "exit vext-kvm-demo $status 0"
	fi
	;;
*)
	log "unknown vext.mode=$mode"
	report "setup fail vext.mode=$mode (unknown mode)"
	;;
esac

finish
