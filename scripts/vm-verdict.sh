#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Judge one boot of the vext test VM: the one verdict used by the test boot,
# the runner self-test boot and 'make run'.
#
#   run-vm.sh ... --follow report | vm-verdict.sh --dir DIR [options]
#   vm-verdict.sh --dir DIR [options] < DIR/report.log
#
#   --dir DIR       the boot's directory (run-vm.sh --dir): console.log and
#                   qemu.status are read from it once the input ends
#   --bound SECS    the boot's bound, for the message when it was hit
#   --counts FILE   write "PASSED FAILED SKIPPED" there
#   --prefix STR    put STR before every printed line (nesting)
#
# Input: the report port's stream (see vm-init.sh for the protocol). Every
# line of the tests' output is printed as it is read. Results:
#   - each test binary's kselftest TAP: "ok N name" passes, "not ok N name"
#     fails, "ok N # SKIP reason" (and "1..0 # SKIP") skips, never passes;
#   - a binary whose plan "1..N" promised more results than it printed
#     (crash, timeout) fails each missing one; a binary killed by a signal or
#     exiting nonzero without a failing result fails once more; a binary
#     announced but never run fails;
#   - a program that is not a kselftest (vext-demo) passes if it exits 0,
#     is skipped if it exits 4 (KSFT_SKIP), fails otherwise;
#   - a binary that left processes running after it exited fails once
#     more (the init killed them);
#   - each setup step of the init ("modprobe e1000") passes or fails;
#   - the boot fails if the VM did not finish (no end marker: bound hit,
#     panic, hang);
#   - "dmesg clean" fails if the kernel log (the full dmesg sent by the init,
#     and the console log) has a splat; the offending lines are printed.
# The exit status is 1 if anything failed or nothing passed, else 0.
set -u

dir='' bound='?' counts='' prefix=''
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) dir=$2; shift ;;
	--bound) bound=$2; shift ;;
	--counts) counts=$2; shift ;;
	--prefix) prefix=$2; shift ;;
	*) echo "vm-verdict: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$dir" ] || { echo "usage: vm-verdict.sh --dir DIR [--bound SECS] [--counts FILE] [--prefix STR]" >&2; exit 2; }

# Kernel log lines that fail a run. Extended regexes, case-sensitive.
# "kmemleak" alone is not one of them: a kmemleak kernel announces itself at
# boot; its reports are "unreferenced object" / "suspected memory leaks".
# Nor is "lockdep" alone: a lockdep kernel says "RCU lockdep checking is
# enabled" at boot; lockdep's reports begin with WARNING: or BUG:.
SPLATS=(
	'BUG:' 'WARNING:' 'Oops' 'KASAN' 'UBSAN'
	'kernel BUG at' 'general protection fault' 'Kernel panic'
	'Unable to handle kernel' 'stack-protector' 'Call Trace:'
	'DEBUG_LOCKS_WARN_ON' 'lockdep is turned off'
	'possible circular locking' 'possible recursive locking'
	'inconsistent lock state' 'suspicious RCU usage'
	'turning off the locking correctness validator'
	'sleeping function called from invalid context'
	'scheduling while atomic'
	'kmemleak: .*suspected memory leak' 'unreferenced object 0x'
	'nobody cared' 'Disabling IRQ'
	'soft lockup' 'hard LOCKUP' 'blocked for more than'
	'rcu: .*detected stall' 'self-detected stall'
)
splat_re=$(IFS='|'; echo "${SPLATS[*]}")

passed=0 failed=0 skipped=0
failures=() skips=()

say() {
	printf '%s%s\n' "$prefix" "$*"
}

pass() {
	passed=$((passed + 1))
	say "ok $*"
}

fail() {
	failed=$((failed + 1))
	failures+=("$1")
	say "not ok $*"
}

# --- per-binary state ---------------------------------------------------------
cur=		# the binary whose output is being read
plan=-1		# its "1..N", -1 before it is printed
seen=0		# its result lines so far
bfail=0		# its failures so far
bskip=0		# its skips so far (a 1..0 # SKIP plan counts one)
lastrun=	# the test the harness last announced (#  RUN name)
expected=()	# the binaries the init announced
ran=()

start_binary() {
	cur=$1 plan=-1 seen=0 bfail=0 bskip=0 lastrun=
	ran+=("$cur")
	say "# ---- $cur ----"
}

# finish_binary STATUS [SECS] [timeout]: close the current binary.
# STATUS is "none" when its exit line never came (the VM died under it).
finish_binary() {
	local status=$1 secs=${2:-?} how=${3:-} missing what
	[ -n "$cur" ] || return 0
	if [ "$how" = timeout ]; then
		what="killed by the per-binary timeout after ${secs}s"
	elif [ "$status" = none ]; then
		what="the VM stopped while it ran"
	elif [ "$status" -gt 128 ]; then
		what="killed by signal $((status - 128))"
	else
		what="exit status $status"
	fi
	if [[ $cur != *_test ]]; then
		# A plain program (vext-demo): its exit status is its result;
		# 4 (KSFT_SKIP) is a skip, never a pass (it said why itself).
		if [ "$status" = 0 ]; then
			pass "$cur"
		elif [ "$status" = 4 ]; then
			skipped=$((skipped + 1))
			say "ok $cur # SKIP (exit status 4)"
		else
			fail "$cur: $what"
		fi
	elif [ "$plan" -lt 0 ] && [ "$seen" -eq 0 ] && [ "$bskip" -eq 0 ]; then
		fail "$cur: printed no TAP plan nor result ($what)"
	elif [ "$plan" -gt "$seen" ]; then
		missing=$((plan - seen))
		failed=$((failed + missing))
		failures+=("$cur: $missing of $plan results missing")
		say "not ok $cur: $missing of $plan planned results missing, counted as failed ($what)"
	elif [ "$status" = none ] || [ "$how" = timeout ]; then
		fail "$cur: $what"
	elif [ "$status" -ne 0 ] && [ "$bfail" -eq 0 ]; then
		# kselftest exits 4 (KSFT_SKIP) when it skipped everything.
		if [ "$status" -ne 4 ] || [ "$bskip" -eq 0 ]; then
			fail "$cur: $what without a failing result"
		fi
	fi
	say "# ---- $cur: $what, ${secs}s ----"
	cur=
}

# A line of a test binary's output.
tap_line() {
	local line=$1 re_plan='^1\.\.([0-9]+)' re_ok='^ok [0-9]+' \
		re_notok='^not ok [0-9]+' re_run='^#  RUN +([^ ]+)' \
		re_skip='^ok [0-9]+ .*# SKIP|^ok [0-9]+ # SKIP'
	printf '%s%s\n' "$prefix" "$line"
	if [[ $line =~ $re_plan ]]; then
		plan=${BASH_REMATCH[1]}
		if [[ $line == *"# SKIP"* ]]; then
			bskip=$((bskip + 1)) skipped=$((skipped + 1))
			skips+=("$cur: ${line#*# SKIP }")
		fi
	elif [[ $line =~ $re_notok ]]; then
		seen=$((seen + 1)) bfail=$((bfail + 1)) failed=$((failed + 1))
		failures+=("$cur: ${line#not ok }")
	elif [[ $line =~ $re_skip ]]; then
		seen=$((seen + 1)) bskip=$((bskip + 1)) skipped=$((skipped + 1))
		skips+=("$cur: ${lastrun:-?}: ${line#*# SKIP }")
	elif [[ $line =~ $re_ok ]]; then
		seen=$((seen + 1)) passed=$((passed + 1))
	elif [[ $line =~ $re_run ]]; then
		lastrun=${BASH_REMATCH[1]}
	fi
}

# --- the stream -----------------------------------------------------------------
began=0 ended=0 indmesg=0 dmesg_done=0 mode='?' kernel='?'
dmesg_hits=()

while IFS= read -r line || [ -n "$line" ]; do
	line=${line%$'\r'}
	[ -n "$line" ] || continue
	if [ "$indmesg" = 1 ]; then
		if [ "$line" = "#vext: dmesg-end" ]; then
			indmesg=0 dmesg_done=1
		elif [[ $line =~ $splat_re ]]; then
			dmesg_hits+=("$line")
		fi
		continue
	fi
	case "$line" in
	"#vext: begin "*)
		read -r mode kernel _ <<<"${line#"#vext: begin "}"
		began=1
		say "# VM booted: kernel $kernel, mode $mode" ;;
	"#vext: tests"*)
		read -r -a expected <<<"${line#"#vext: tests"}" ;;
	"#vext: setup ok "*)
		pass "vm setup: ${line#"#vext: setup ok "}" ;;
	"#vext: setup fail "*)
		fail "vm setup: ${line#"#vext: setup fail "}" ;;
	"#vext: run "*)
		finish_binary none
		start_binary "${line#"#vext: run "}" ;;
	"#vext: exit "*)
		read -r name status secs how _ <<<"${line#"#vext: exit "}"
		if [ "$name" = "$cur" ]; then
			finish_binary "${status:-none}" "${secs:-?}" "${how:-}"
		elif [ "$status" = 0 ]; then
			pass "$name"
		else
			fail "$name: exit status $status"
		fi ;;
	"#vext: leftover "*)
		read -r name n _ <<<"${line#"#vext: leftover "}"
		fail "$name: left $n process(es) running after it exited (killed)" ;;
	"#vext: dmesg-begin")
		finish_binary none
		indmesg=1 ;;
	"#vext: end")
		ended=1 ;;
	"#vext: "*)
		say "# unknown report line: $line" ;;
	*)
		if [ -n "$cur" ]; then
			tap_line "$line"
		else
			say "# $line"
		fi ;;
	esac
done
finish_binary none

# --- after the boot -------------------------------------------------------------
qstatus=$(cat "$dir/qemu.status" 2>/dev/null || echo '?')

# Binaries announced but never started (the VM died before them).
for t in "${expected[@]}"; do
	found=0
	for r in "${ran[@]}"; do
		[ "$r" = "$t" ] && found=1 && break
	done
	[ "$found" = 1 ] || fail "$t: never ran (the VM stopped before it)"
done
if [ "$mode" = test ] && [ "${#expected[@]}" -eq 0 ] && [ "$began" = 1 ]; then
	fail "tests: the VM has no test binary (selftests/out/*_test)"
fi

if [ "$ended" = 1 ]; then
	pass "vm boot: finished"
elif [ "$qstatus" = 124 ]; then
	fail "vm boot: VM did not finish within ${bound}s (killed)"
elif [ "$began" = 0 ]; then
	fail "vm boot: VM did not finish: the init never reported (qemu status $qstatus)"
else
	fail "vm boot: VM did not finish: it stopped before the end marker (qemu status $qstatus)"
fi

# The console has the kernel's warnings too, including any printed after the
# log was sent or when the VM died before sending it. Lines already found in
# the full log are not repeated.
console_hits=()
if [ -r "$dir/console.log" ]; then
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		[[ $line =~ $splat_re ]] || continue
		dup=0
		for h in "${dmesg_hits[@]}"; do
			[ "$h" = "$line" ] && dup=1 && break
		done
		[ "$dup" = 1 ] || console_hits+=("$line")
	done <"$dir/console.log"
fi

hits=$(( ${#dmesg_hits[@]} + ${#console_hits[@]} ))
if [ "$hits" -gt 0 ]; then
	fail "dmesg clean: $hits kernel log line(s) match a splat pattern"
	n=0
	for h in "${dmesg_hits[@]}" "${console_hits[@]}"; do
		n=$((n + 1))
		if [ "$n" -gt 60 ]; then
			say "#   ... $((hits - 60)) more in $dir/report.log and $dir/console.log"
			break
		fi
		say "#   $h"
	done
elif [ "$dmesg_done" = 1 ]; then
	pass "dmesg clean"
else
	fail "dmesg clean: the VM never sent its kernel log (console log has no splat)"
fi

if [ "${#skips[@]}" -gt 0 ]; then
	say "# skipped:"
	for s in "${skips[@]}"; do say "#   $s"; done
fi
if [ "${#failures[@]}" -gt 0 ]; then
	say "# failed:"
	for f in "${failures[@]}"; do say "#   $f"; done
fi
say "# vm ($mode): $passed passed, $failed failed, $skipped skipped"
[ -z "$counts" ] || echo "$passed $failed $skipped" >"$counts"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
