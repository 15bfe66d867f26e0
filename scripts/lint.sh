#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# checkpatch.pl --strict over every C source and header of the tree.
# checkpatch ships only in Debian's linux-source-6.1 (not in the headers):
# it is extracted from there into .build/ksrc on first use.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
ksrc=$root/.build/ksrc
tarball=/usr/src/linux-source-6.1.tar.xz
if [ ! -x "$ksrc/scripts/checkpatch.pl" ]; then
	mkdir -p "$ksrc"
	tar -xJf "$tarball" -C "$ksrc" --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi
cd "$root"
files=$(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')
# shellcheck disable=SC2086
"$ksrc/scripts/checkpatch.pl" --strict --no-tree --quiet --show-types \
	--ignore FILE_PATH_CHANGES -f $files
