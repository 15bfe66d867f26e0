#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# coccicheck: every semantic patch of the kernel's scripts/coccinelle (from
# Debian's linux-source-6.1, extracted into .build/ksrc on first use) in
# report mode over the suite's kernel code: the module folders, include/,
# uapi/ and the test modules. Semantic patches written in OCaml script are
# skipped (Debian's coccinelle has no OCaml compiler at run time; the only
# one, check_bq27xxx_data.cocci, concerns one driver). Any report fails.
#
# This is what the kernel's 'make coccicheck MODE=report M=...' runs, minus
# its -I flags: like the kernel's own run for external modules, only the
# files themselves are parsed (--no-includes --include-headers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ksrc=$root/.build/ksrc
tarball=/usr/src/linux-source-6.1.tar.xz

command -v spatch >/dev/null || { echo "coccicheck: spatch missing (apt-get install coccinelle)" >&2; exit 1; }
if [ ! -d "$ksrc/scripts/coccinelle" ]; then
	mkdir -p "$ksrc"
	tar -xJf "$tarball" -C "$ksrc" --strip-components=1 linux-source-6.1/scripts/coccinelle
fi

cd "$root"
# Kernel-side C only: user-space tests, tools and benchmarks are not kernel
# code and the kernel's semantic patches do not apply to them.
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' |
	grep -Ev '^(selftests/[^m]|selftests/$|tools/|bench/)' |
	grep -Ev '^selftests/[^/]+$' || true)
[ "${#files[@]}" -gt 0 ] || { echo "coccicheck: no kernel source found" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out" "$out.err"' EXIT
n=0 skipped=0
while IFS= read -r cocci; do
	if grep -q '@script:ocaml' "$cocci"; then
		skipped=$((skipped + 1))
		continue
	fi
	# A semantic patch's own spatch options ("// Options: ...").
	opts=$(sed -n 's|^//[[:space:]]*Options:||p' "$cocci" | head -n 1)
	# shellcheck disable=SC2086 # opts is a list of options
	spatch -D report --no-show-diff --very-quiet --no-includes --include-headers \
		$opts --cocci-file "$cocci" "${files[@]}" >>"$out" 2>>"$out.err" ||
		echo "coccicheck: spatch failed on ${cocci#"$ksrc"/}" >>"$out"
	n=$((n + 1))
done < <(find "$ksrc/scripts/coccinelle" -name '*.cocci' | LC_ALL=C sort)

# spatch prints nothing but findings in report mode with --very-quiet.
if [ -s "$out" ]; then
	cat "$out"
	echo "coccicheck: findings above ($n semantic patches over ${#files[@]} files)" >&2
	exit 1
fi
echo "coccicheck: $n semantic patches over ${#files[@]} files, no finding" \
	"($skipped OCaml-scripted ones skipped)"
