#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The 'make check' pipeline (run by scripts/vm.mk after 'make deps').
#
# KERNEL selects the rows of the kernel matrix (scripts/row.sh): stock (the
# default: Debian's 6.1), 6.12, rt, dkms, debug, a list of them
# ("stock 6.12"), or all (= stock 6.12 rt dkms debug, what CI runs).
# The dkms row (root only) installs the suite with dkms add/build/install
# for the stock kernel (scripts/dkms-install.sh) and boots the demo VM on
# those modules: the init loads each one with modprobe, then runs
# vext-demo; the tests themselves run on the other rows.
#
#  1. Build steps shared by the rows, each one result line: selftests,
#     tools, uapi-check, and the lint gate (make lint: checkpatch.pl
#     --strict, coccicheck, W=1 C=1 builds for 6.1, 6.12 and rt, so the
#     suite always builds everywhere). A step whose prerequisite failed is
#     not run and counts as failed.
#  2. Per row:
#       the debug kernel (debug row; cached: scripts/debug-kernel.sh)
#       modules W=1 C=1        from clean, so every file is compiled and
#                              checked against that kernel; any "warning:"
#                              fails the step
#       test-modules W=1 C=1   (needs modules)
#       initramfs              (+ the *_dtest binaries on the debug row)
#       the test boot          every kselftest in the VM, then vext-demo with
#                              the suite loaded, judged by vm-verdict.sh (the
#                              TAP is printed as it arrives)
#       runner self-test       a boot that loads vext_splat (it WARNs): passes
#                              only if the same vm-verdict.sh reported that
#                              boot as failed and named the WARNING; on the
#                              debug row also vext_sleep_atomic (a static key
#                              flipped with preemption off, silent on a stock
#                              kernel), which must be caught as "sleeping
#                              function called from invalid context", and
#                              vext_leak (leaks on load), which kmemleak's
#                              end-of-boot scan must report
#  3. "N passed, N failed, N skipped" as the very last line; the exit status
#     is 1 if anything failed or nothing passed.
#
# Environment: MAKE (the make to run, from vm.mk), KERNEL (rows), and the
# bounds VEXT_VM_BOUND (the test boot, default 600 s; 2400 s on the debug
# row), VEXT_TEST_TIMEOUT (one test binary inside the VM, default 240 s;
# 900 s on the debug row), VEXT_SELFTEST_BOUND (default 180 s; 600 s on the
# debug row). Logs go to .build/check/.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
scripts=$root/scripts
make=${MAKE:-make}
logs=$root/.build/check
vmdir=$root/.build/vm
rows=${KERNEL:-stock}
[ "$rows" = all ] && rows='stock 6.12 rt dkms debug'
rows=${rows//,/ }

rm -rf "$logs"
mkdir -p "$logs" "$vmdir"

passed=0 failed=0 skipped=0
failures=()
declare -A state	# step name -> ok | fail

result() {	# result ok|fail NAME [DETAIL]
	local verdict=$1 name=$2 detail=${3:-}
	if [ "$verdict" = ok ]; then
		passed=$((passed + 1))
		echo "ok $name${detail:+ # $detail}"
	else
		failed=$((failed + 1))
		failures+=("$name${detail:+: $detail}")
		echo "not ok $name${detail:+ # $detail}"
	fi
}

# deps_ok ID...: all these steps passed; else say which did not.
missing_dep=
deps_ok() {
	local d
	for d in "$@"; do
		if [ "${state[$d]:-fail}" != ok ]; then
			missing_dep=$d
			return 1
		fi
	done
	return 0
}

# show_log FILE: the warning and error lines of a log, or its tail.
show_log() {
	local w
	w=$(grep -iE 'warning:|error:|\*\*\*' "$1" | head -40)
	if [ -n "$w" ]; then
		printf '%s\n' "$w" | sed 's/^/#   /'
	else
		tail -n 40 "$1" | sed 's/^/#   /'
	fi
}

# build ID NAME WARN DEPS -- CMD...: one build step, output to a log.
# WARN=1: any "warning:" line of the output (gcc W=1, sparse, modpost)
# fails the step too.
build() {
	local id=$1 name=$2 warn=$3 deps=() log=$logs/$1.log start secs n
	shift 3
	while [ "$1" != -- ]; do deps+=("$1"); shift; done
	shift
	state[$id]=fail
	if ! deps_ok "${deps[@]}"; then
		result fail "build: $name" "not run: $missing_dep failed"
		return
	fi
	start=$SECONDS
	if ! "$@" >"$log" 2>&1; then
		result fail "build: $name" "failed, log $log"
		show_log "$log"
		return
	fi
	secs=$((SECONDS - start))
	if [ "$warn" = 1 ]; then
		n=$(grep -ciE 'warning:|error:' "$log")
		if [ "$n" -gt 0 ]; then
			result fail "build: $name" "$n warning(s), log $log"
			show_log "$log"
			return
		fi
	fi
	state[$id]=ok
	result ok "build: $name" "${secs}s"
}

m() {
	"$make" --no-print-directory -C "$root" "$@"
}


echo "# vext check: rows: $rows"

# A cold debug kernel takes the longest (about 20 min of 2 cores): start it
# now, in the background and niced, so it uses what the other rows leave
# (their VMs run on one host core). The debug row waits for it.
debug_bg=
case " $rows " in
*" debug "*)
	if ! "$scripts/debug-kernel.sh" --print-dir >/dev/null 2>&1; then
		echo "# vext check: building the debug kernel in the background (log $logs/debug-kernel.log)"
		nice -n 10 "$scripts/debug-kernel.sh" >"$logs/debug-kernel.log" 2>&1 &
		debug_bg=$!
	fi ;;
esac
debug_kernel() {
	if [ -n "$debug_bg" ]; then
		wait "$debug_bg"
		local st=$?
		cat "$logs/debug-kernel.log"
		return "$st"
	fi
	"$scripts/debug-kernel.sh"
}

echo "# vext check: building"
build selftests "selftests" 0 -- m selftests
build tools "tools" 0 -- m tools
build uapi-check "uapi-check (C99 and C++)" 0 -- m uapi-check
# make lint: checkpatch.pl --strict, coccicheck, and W=1 C=1 builds of
# the suite and the test modules for 6.1, 6.12 and rt (in private copies).
build lint "lint (make lint: checkpatch, coccicheck, W=1 C=1 for 6.1, 6.12, rt)" 0 -- m lint

# From clean: kbuild recompiles only what changed, and a file compiled
# before without W=1 C=1 (or for another row's kernel) would never be
# checked.
modules_from_clean() {	# ROW
	m KERNEL="$1" vm-clean-modules && m KERNEL="$1" modules W=1 C=1
}
test_modules_from_clean() {	# ROW
	m KERNEL="$1" vm-clean-test-modules && m KERNEL="$1" test-modules W=1 C=1
}

# selftest_boot ROW MODULE SPLAT: the runner self-test, a boot that loads
# MODULE; its verdict must be a failure whose dmesg check printed SPLAT
# (a regular expression), and the boot's kernel log must show the splat in
# MODULE's code (a "[MODULE]" frame or location). The boot also runs a test
# that leaves a process behind: the verdict must fail it, and the init must
# have killed the process.
selftest_boot() {
	local row=$1 module=$2 splat=$3 name dir verdict inner start
	name="runner self-test [$row]: $module caught"
	dir=$vmdir/$row/selftest-$module
	verdict=$logs/$row-selftest-$module.verdict
	echo "# vext check [$row]: runner self-test: booting with $module"
	start=$SECONDS
	"$scripts/run-vm.sh" --mode selftest --kver "$kver" --kernel "$vmlinuz" \
		--kparams "$kparams" \
		--initrd "$initrd" --dir "$dir" --bound "$selftest_bound" \
		--splat "$module" --follow report |
		"$scripts/vm-verdict.sh" --dir "$dir" --bound "$selftest_bound" \
			--prefix '#   ' | tee "$verdict"
	inner=${PIPESTATUS[1]}
	echo "# runner self-test boot took $((SECONDS - start))s"
	if [ "$inner" -eq 0 ]; then
		result fail "$name" "the verdict passed a boot that loaded $module"
	elif ! grep -q '^#   not ok dmesg clean' "$verdict"; then
		result fail "$name" "the dmesg check did not fail"
	elif ! grep -qE "^#   #   .*($splat)" "$verdict"; then
		result fail "$name" "the verdict did not print '$splat'"
	elif ! grep -q "\[$module\]" "$dir/report.log"; then
		result fail "$name" "the kernel log does not place the splat in $module"
	elif ! grep -q 'orphan_test: left 1 process' "$verdict"; then
		result fail "$name" "the verdict did not fail a test that left a process running"
	elif grep -q 'killing what orphan_test left running' "$verdict"; then
		result fail "$name" "the init could not kill what a test left running"
	elif grep -q '^#   not ok vm boot' "$verdict"; then
		result fail "$name" "the self-test VM did not finish"
	else
		result ok "$name"
	fi
}

# The dkms row: DKMS builds and installs the suite for the stock kernel on
# this host, then the demo VM loads those very files with modprobe.
dkms_row() {
	local initrd=$vmdir/dkms/initramfs-run.cpio dir=$vmdir/dkms/run suite
	mkdir -p "$vmdir/dkms"
	build dkms-install "dkms add, build -k $kver, install -k $kver" 0 -- \
		"$scripts/dkms-install.sh" "$kver"
	suite=$(tail -n 1 "$logs/dkms-install.log")
	build initramfs-dkms "initramfs for $kver with the DKMS-installed suite" 0 \
		dkms-install tools -- \
		"$scripts/mkinitramfs.sh" --root "$root" --kver "$kver" --moddir "$moddir" \
		--out "$initrd" --suite-dir "$suite" --with-demo
	if ! deps_ok initramfs-dkms; then
		result fail "vm: dkms boot" "not run: $missing_dep failed"
		return
	fi
	echo "# vext check [dkms]: booting the demo VM on the DKMS-installed modules"
	"$scripts/run-vm.sh" --mode run --kver "$kver" --kernel "$vmlinuz" \
		--initrd "$initrd" --dir "$dir" --bound "$selftest_bound" --follow report |
		"$scripts/vm-verdict.sh" --dir "$dir" --bound "$selftest_bound" \
			--counts "$logs/dkms-run.counts"
	if read -r p f s <"$logs/dkms-run.counts"; then
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
		[ "$f" -eq 0 ] || failures+=("dkms VM: $f failed (see above)")
	else
		result fail "vm: dkms boot" "no verdict"
	fi
}

for row in $rows; do
	rowstart=$SECONDS
	echo "# vext check [$row]: building"
	bound=${VEXT_VM_BOUND:-600}
	test_timeout=${VEXT_TEST_TIMEOUT:-240}
	selftest_bound=${VEXT_SELFTEST_BOUND:-180}
	dtests=()
	if [ "$row" = debug ]; then
		# KASAN, lockdep and kmemleak under TCG: several times slower.
		bound=${VEXT_VM_BOUND:-2400}
		test_timeout=${VEXT_TEST_TIMEOUT:-900}
		selftest_bound=${VEXT_SELFTEST_BOUND:-600}
		dtests=(--with-dtests)
		build debug-kernel-$row "debug kernel (scripts/debug-kernel.sh, cached)" 0 -- \
			debug_kernel
	fi
	kver=$("$scripts/row.sh" "$row" kver 2>"$logs/$row-row.log") || kver=
	vmlinuz=$("$scripts/row.sh" "$row" vmlinuz 2>>"$logs/$row-row.log") || vmlinuz=
	moddir=$("$scripts/row.sh" "$row" moddir 2>>"$logs/$row-row.log") || moddir=
	machine=$("$scripts/row.sh" "$row" machine 2>>"$logs/$row-row.log") || machine=pc
	kparams=$("$scripts/row.sh" "$row" kparams 2>>"$logs/$row-row.log") || kparams=
	if [ -z "$kver" ]; then
		result fail "build: kernel row $row" "unknown ($(head -n 1 "$logs/$row-row.log"))"
		continue
	fi
	if [ "$row" = dkms ]; then
		dkms_row
		echo "# row $row took $((SECONDS - rowstart))s"
		continue
	fi
	build modules-$row "modules $row ($kver) W=1 C=1" 1 -- modules_from_clean "$row"
	build test-modules-$row "test-modules $row W=1 C=1" 1 modules-$row -- \
		test_modules_from_clean "$row"
	initrd=$vmdir/$row/initramfs-test.cpio
	mkdir -p "$vmdir/$row"
	# vext-demo goes in when it built; the init runs it after the tests.
	demo=()
	deps_ok tools && demo=(--with-demo)
	build initramfs-$row "initramfs for $kver" 0 modules-$row test-modules-$row selftests -- \
		"$scripts/mkinitramfs.sh" --root "$root" --kver "$kver" --moddir "$moddir" \
		--out "$initrd" --with-tests "${dtests[@]}" "${demo[@]}"

	# --- the test boot --------------------------------------------------
	if deps_ok initramfs-$row; then
		echo "# vext check [$row]: booting the test VM ($kver, bound ${bound}s; logs in $vmdir/$row/test)"
		start=$SECONDS
		"$scripts/run-vm.sh" --mode test --kver "$kver" --kernel "$vmlinuz" \
			--machine "$machine" --kparams "$kparams" \
			--initrd "$initrd" --dir "$vmdir/$row/test" --bound "$bound" \
			--test-timeout "$test_timeout" --follow report |
			"$scripts/vm-verdict.sh" --dir "$vmdir/$row/test" --bound "$bound" \
				--counts "$logs/$row-test.counts"
		echo "# test boot [$row] took $((SECONDS - start))s"
		if read -r p f s <"$logs/$row-test.counts"; then
			passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
			[ "$f" -eq 0 ] || failures+=("test VM [$row]: $f failed (see above)")
		else
			result fail "vm: test boot [$row]" "no verdict"
		fi
	else
		result fail "vm: test boot [$row]" "not run: $missing_dep failed"
	fi

	# --- the runner self-test -------------------------------------------
	# The same runner and verdict on boots that must fail; their counts are
	# not added.
	if deps_ok initramfs-$row; then
		selftest_boot "$row" vext_splat 'WARNING:'
		if [ "$row" = debug ]; then
			selftest_boot "$row" vext_sleep_atomic \
				'sleeping function called from invalid context'
			selftest_boot "$row" vext_leak 'unreferenced object'
		fi
	else
		result fail "runner self-test [$row]" "not run: $missing_dep failed"
	fi
	echo "# row $row took $((SECONDS - rowstart))s"
done

if [ "${#failures[@]}" -gt 0 ]; then
	echo "# failed:"
	printf '#   %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
