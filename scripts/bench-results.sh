#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Judge a 'make bench' boot and collect its results.
#
#   bench-results.sh --dir DIR --out FILE [--bound SECS]
#
#   --dir DIR     the boot's directory (run-vm.sh --mode bench --dir DIR)
#   --out FILE    where the JSON goes (.build/bench/results.json)
#   --bound SECS  the boot's bound, for the verdict's message
#
# 1. The boot is judged by the same vm-verdict.sh as the test boot (its
#    report in DIR/verdict.log): every announced bench binary must have run
#    and exited 0 within its timeout, the VM must have finished, and its
#    kernel log must be free of splats.
# 2. Each bench binary prints one JSON object on stdout between its
#    "#vext: run NAME" and "#vext: exit NAME STATUS SECS" lines; its "# "
#    lines (progress, errors on stderr) are skipped. The objects are put
#    together as {"NAME": {...}, ...} in FILE, which is then printed.
# On any failure the verdict is printed, FILE is removed (never left stale)
# and the exit status is 1.
set -euo pipefail

dir='' out='' bound='?'
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) dir=$2; shift ;;
	--out) out=$2; shift ;;
	--bound) bound=$2; shift ;;
	*) echo "bench-results: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$dir" ] || [ -z "$out" ]; then
	echo "usage: bench-results.sh --dir DIR --out FILE [--bound SECS]" >&2
	exit 2
fi

scripts=$(cd "$(dirname "$0")" && pwd)
report=$dir/report.log
verdict=$dir/verdict.log
mkdir -p "$(dirname "$out")"
rm -f "$out" "$out.tmp"

vstatus=0
fail() {
	echo "bench: $*" >&2
	if [ "$vstatus" -ne 0 ] && [ -s "$verdict" ]; then
		echo "bench: the boot's verdict ($verdict):" >&2
		sed 's/^/bench:   /' "$verdict" >&2
	fi
	rm -f "$out.tmp"
	exit 1
}

[ -r "$report" ] || fail "no report log $report (did the VM start?)"

"$scripts/vm-verdict.sh" --dir "$dir" --bound "$bound" <"$report" \
	>"$verdict" 2>&1 || vstatus=$?

# The JSON of every binary that exited 0, "NAME<TAB>line" per line.
awk '
	{ sub(/\r$/, "") }
	/^#vext: run / { name = $3; body = ""; inside = 1; next }
	/^#vext: exit / {
		if (inside && $3 == name && $4 == 0 && body != "")
			printf "%s", body
		inside = 0
		next
	}
	/^#vext: / { inside = 0; next }
	inside && NF && !/^#/ { body = body name "\t" $0 "\n" }
' "$report" >"$out.tmp"

[ "$vstatus" -eq 0 ] || fail "the bench VM failed (see below)"
[ -s "$out.tmp" ] || fail "no benchmark printed a result"

# One object per binary, keyed by its name, indented one level.
awk -F '\t' '
	$1 != name {
		printf "%s  \"%s\": ", (name == "" ? "{\n" : ",\n"), $1
		name = $1
		first = 1
	}
	{ printf "%s%s", (first ? "" : "\n  "), $2; first = 0 }
	END { print "\n}" }
' "$out.tmp" >"$out.json"
mv -f "$out.json" "$out.tmp"

# The structure is checked where jq is installed (it is not a dependency).
if command -v jq >/dev/null && ! jq empty "$out.tmp" 2>/dev/null; then
	cp "$out.tmp" "$dir/results.bad.json"
	fail "the benchmarks printed malformed JSON ($dir/results.bad.json)"
fi
mv -f "$out.tmp" "$out"
cat "$out"
echo "bench: $(grep '^# vm (' "$verdict" | sed 's/^# //'); results in $out"
