#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The build half of 'make lint': the suite and the test modules built with
# W=1 (extra gcc warnings) and C=1 (sparse) against every kernel row that
# needs nothing but Debian packages (6.1 and 6.12 LTS; rt too if its
# headers are installed), each in a private copy of the tree under
# .build/lint/ROW so the work tree's objects are never mixed. Any warning,
# from gcc, sparse or modpost, fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${VEXT_LINT_ROWS:-stock 6.12 rt}
status=0

for row in $rows; do
	if ! kdir=$("$root/scripts/row.sh" "$row" kdir 2>/dev/null) || [ ! -d "$kdir" ]; then
		echo "lint-build: $row: no kbuild tree (make deps), skipped" >&2
		[ "$row" = rt ] && continue
		status=1
		continue
	fi
	copy=$root/.build/lint/$row
	rm -rf "$copy" && mkdir -p "$copy"
	(cd "$root" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 cp --parents -t "$copy")
	log=$root/.build/lint/$row.log
	if make -C "$kdir" M="$copy" VEXT_ROOT="$copy" W=1 C=1 modules >"$log" 2>&1 &&
	   make -C "$kdir" M="$copy/selftests/modules" VEXT_ROOT="$copy" W=1 C=1 \
		KBUILD_EXTRA_SYMBOLS="$copy/Module.symvers" modules >>"$log" 2>&1; then
		n=$(grep -ciE 'warning:|error:' "$log")
		if [ "$n" -eq 0 ]; then
			echo "lint-build: $row ($(basename "$(dirname "$kdir")")): W=1 C=1 clean"
			continue
		fi
		echo "lint-build: $row: $n warning(s):" >&2
	else
		echo "lint-build: $row: build failed:" >&2
	fi
	grep -iE 'warning:|error:' "$log" | head -40 >&2
	status=1
done
exit "$status"
