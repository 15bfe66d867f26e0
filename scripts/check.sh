#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The 'make check' pipeline (run by scripts/vm.mk after 'make deps').
#
#  1. Build steps, each one result line:
#       modules 6.1 W=1 C=1     (from clean, so every file is compiled and
#                                checked; any "warning:" fails the step)
#       test-modules W=1 C=1    (needs modules)
#       selftests, tools, uapi-check
#       modules 6.12 W=1 C=1    (any "warning:" fails the step)
#       lint                    (checkpatch.pl --strict, DESIGN.md's rule)
#     A step whose prerequisite failed is not run and counts as failed.
#  2. The initramfs (needs modules, test-modules, selftests).
#  3. The test boot: every kselftest in the VM, then vext-demo with the suite
#     loaded, judged by vm-verdict.sh (the TAP is printed as it arrives).
#  4. The runner self-test: a boot that loads vext_splat (it WARNs). It passes
#     only if the same vm-verdict.sh reported that boot as failed and named
#     the WARNING.
#  5. "N passed, N failed, N skipped" as the very last line; the exit status
#     is 1 if anything failed or nothing passed.
#
# Environment: MAKE (the make to run, from vm.mk), VEXT_VM_BOUND (bound of
# the test boot, default 600 s), VEXT_TEST_TIMEOUT (bound of one test binary
# inside the VM, default 240 s), VEXT_SELFTEST_BOUND (default 180 s).
# Logs go to .build/check/.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
scripts=$root/scripts
make=${MAKE:-make}
logs=$root/.build/check
vmdir=$root/.build/vm
bound=${VEXT_VM_BOUND:-600}
test_timeout=${VEXT_TEST_TIMEOUT:-240}
selftest_bound=${VEXT_SELFTEST_BOUND:-180}

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

# From clean: kbuild recompiles only what changed, and a file compiled
# before without W=1 C=1 would never be checked.
modules_from_clean() {
	m vm-clean-modules && m modules W=1 C=1
}

echo "# vext check: building"
build modules "modules 6.1 W=1 C=1" 1 -- modules_from_clean
build test-modules "test-modules 6.1 W=1 C=1" 1 modules -- m test-modules W=1 C=1
build selftests "selftests" 0 -- m selftests
build tools "tools" 0 -- m tools
build uapi-check "uapi-check (C99 and C++)" 0 -- m uapi-check
build modules-6.12 "modules 6.12 W=1 C=1" 1 -- m modules-6.12 W=1 C=1
build lint "checkpatch.pl --strict (make lint)" 0 -- m lint

# The kernel the VM boots: the Makefile's KVER (after 'make deps').
kver=$(m -s vm-print-kver 2>"$logs/kver.log") || kver=
initrd=$vmdir/initramfs-test.cpio
if [ -z "$kver" ]; then
	state[initramfs]=fail
	result fail "vm: initramfs" "no kernel release (see $logs/kver.log)"
else
	# vext-demo goes in when it built; the init runs it after the tests.
	demo=()
	deps_ok tools && demo=(--with-demo)
	build initramfs "initramfs for $kver" 0 modules test-modules selftests -- \
		"$scripts/mkinitramfs.sh" --root "$root" --kver "$kver" \
		--out "$initrd" --with-tests "${demo[@]}"
fi

# --- the test boot ------------------------------------------------------------------
if deps_ok initramfs; then
	echo "# vext check: booting the test VM ($kver, bound ${bound}s; logs in $vmdir/test)"
	start=$SECONDS
	"$scripts/run-vm.sh" --mode test --kver "$kver" --initrd "$initrd" \
		--dir "$vmdir/test" --bound "$bound" --test-timeout "$test_timeout" \
		--follow report |
		"$scripts/vm-verdict.sh" --dir "$vmdir/test" --bound "$bound" \
			--counts "$logs/test.counts"
	echo "# test boot took $((SECONDS - start))s"
	if read -r p f s <"$logs/test.counts"; then
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
		[ "$f" -eq 0 ] || failures+=("test VM: $f failed (see above)")
	else
		result fail "vm: test boot" "no verdict"
	fi
else
	result fail "vm: test boot" "not run: $missing_dep failed"
fi

# --- the runner self-test -----------------------------------------------------------
# The same runner and verdict on a boot that WARNs: its verdict must be a
# failure naming the WARNING of vext_splat. Its counts are not added.
if deps_ok initramfs test-modules; then
	echo "# vext check: runner self-test: booting with vext_splat (it WARNs)"
	start=$SECONDS
	"$scripts/run-vm.sh" --mode selftest --kver "$kver" --initrd "$initrd" \
		--dir "$vmdir/selftest" --bound "$selftest_bound" --follow report |
		"$scripts/vm-verdict.sh" --dir "$vmdir/selftest" \
			--bound "$selftest_bound" --prefix '#   ' |
		tee "$logs/selftest.verdict"
	inner=${PIPESTATUS[1]}
	echo "# runner self-test boot took $((SECONDS - start))s"
	if [ "$inner" -eq 0 ]; then
		result fail "runner self-test: splat detected" "the verdict passed a boot that WARNed"
	elif ! grep -q '^#   not ok dmesg clean' "$logs/selftest.verdict"; then
		result fail "runner self-test: splat detected" "the dmesg check did not fail"
	elif ! grep -E '^#   #   .*WARNING:' "$logs/selftest.verdict" | grep -q vext_splat; then
		result fail "runner self-test: splat detected" "the verdict did not name vext_splat's WARNING"
	elif grep -q '^#   not ok vm boot' "$logs/selftest.verdict"; then
		result fail "runner self-test: splat detected" "the self-test VM did not finish"
	else
		result ok "runner self-test: splat detected"
	fi
else
	result fail "runner self-test: splat detected" "not run: $missing_dep failed"
fi

if [ "${#failures[@]}" -gt 0 ]; then
	echo "# failed:"
	printf '#   %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
