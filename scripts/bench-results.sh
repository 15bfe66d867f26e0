#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# bench-results.sh REPORT OUT: collect the JSON each benchmark printed
# between "#vext: bench-begin NAME" and "#vext: bench-end NAME STATUS" in
# the VM's report log into one JSON object {"NAME": {...}, ...} in OUT, and
# print it. Fails if a benchmark failed or none ran.
set -eu
report=$1
out=$2
mkdir -p "$(dirname "$out")"
awk '
	/^#vext: bench-begin / { name = $3; body = ""; inside = 1; next }
	/^#vext: bench-end / {
		inside = 0
		if ($4 != 0 || body == "") { bad = bad " " $3; next }
		printf "%s  \"%s\": %s", (n++ ? ",\n" : "{\n"), $3, body
		next
	}
	inside && NF { gsub(/\r/, ""); body = body (body == "" ? "" : "\n  ") $0 }
	END {
		if (n) print "\n}"
		if (bad != "") { print "failed:" bad > "/dev/stderr"; exit 1 }
		if (!n) { print "no benchmark ran" > "/dev/stderr"; exit 1 }
	}' "$report" >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
