#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build (or find already built) the debug row's kernel: Debian's
# linux-source-6.1 with x86_64_defconfig + scripts/kernel/debug.config,
# compiled through ccache.
#
#   debug-kernel.sh [--print-dir]
#
# Everything lives in a cache outside the clone, so that a second run on the
# same machine (another clone, another checkout) reuses it:
#   ${VEXT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vext}/
#     ccache/                     the compiler cache (any key)
#     debug-kernel/src-VERSION/   the extracted source, per package version
#     debug-kernel/KEY/           one build; KEY hashes the source version,
#                                 the config fragment and this script
#       build/                    the O= tree: KDIR for external modules
#       bzImage, release          the kernel and its release string
#       mods/lib/modules/RELEASE  modules_install output (modules.dep etc.)
#       done                      written last: the build is complete
# Prints the KEY directory on its last line (--print-dir: only that, and
# only if the build is already complete; exit 1 otherwise).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fragment=$root/scripts/kernel/debug.config
tarball=/usr/src/linux-source-6.1.tar.xz
cache=${VEXT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vext}

die() {
	echo "debug-kernel: $*" >&2
	exit 1
}

[ -r "$tarball" ] || die "$tarball missing (apt-get install linux-source-6.1)"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
	die "linux-source-6.1 is not installed"
key=$( { echo "$srcver"; cat "$fragment" "$0"; } | sha256sum | cut -c1-16)
dir=$cache/debug-kernel/$key

if [ "${1:-}" = --print-dir ]; then
	[ -f "$dir/done" ] || exit 1
	echo "$dir"
	exit 0
fi

if [ -f "$dir/done" ]; then
	echo "debug-kernel: cached build $(cat "$dir/release") in $dir"
	echo "$dir"
	exit 0
fi

command -v ccache >/dev/null || die "ccache missing (apt-get install ccache)"
mkdir -p "$cache/debug-kernel"
# One builder at a time per cache; a second one waits, then finds it done.
exec 9>"$cache/debug-kernel/.lock"
flock 9
if [ -f "$dir/done" ]; then
	echo "$dir"
	exit 0
fi

src=$cache/debug-kernel/src-$srcver
if [ ! -f "$src/.extracted" ]; then
	echo "debug-kernel: extracting linux-source $srcver"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xJf "$tarball" -C "$src" --strip-components=1
	touch "$src/.extracted"
fi

rm -rf "$dir"
mkdir -p "$dir/build"
export CCACHE_DIR=$cache/ccache
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# The source path differs between extractions; hash relative paths.
export CCACHE_BASEDIR=$cache
export CCACHE_NOHASHDIR=1
# A fixed build identity, so the compiler's inputs (and the cache keys) do
# not change with the time or the host.
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'
export KBUILD_BUILD_USER=vext KBUILD_BUILD_HOST=vext
kmake=(make -C "$src" O="$dir/build" CC="ccache gcc" -j"$(nproc)")

echo "debug-kernel: configuring (x86_64_defconfig + debug.config)"
"${kmake[@]}" -s x86_64_defconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$dir/build" "$dir/build/.config" \
	"$fragment" >"$dir/merge.log"
"${kmake[@]}" -s olddefconfig

# Every option of the fragment must have survived the merge.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) opt=${line%%=*}
		if grep -q "^$opt=" "$dir/build/.config"; then
			echo "debug-kernel: $opt should be off but is $(grep "^$opt=" "$dir/build/.config")" >&2
			bad=1
		fi ;;
	CONFIG_*=*) if ! grep -qxF "$line" "$dir/build/.config"; then
			echo "debug-kernel: $line requested, .config has:" \
				"$(grep "^${line%%=*}=\|${line%%=*} is not set" "$dir/build/.config" || echo nothing)" >&2
			bad=1
		fi ;;
	esac
done <"$fragment"
[ "$bad" -eq 0 ] || die "the config lost options (see above; merge log $dir/merge.log)"

echo "debug-kernel: building bzImage and modules with ccache (cold: the longest step of make check)"
start=$SECONDS
"${kmake[@]}" bzImage modules >"$dir/build.log" 2>&1 ||
	{ tail -n 30 "$dir/build.log" >&2; die "build failed, log $dir/build.log"; }
"${kmake[@]}" -s INSTALL_MOD_PATH="$dir/mods" modules_install >>"$dir/build.log" 2>&1 ||
	die "modules_install failed, log $dir/build.log"
cp "$dir/build/arch/x86/boot/bzImage" "$dir/bzImage"
"${kmake[@]}" -s kernelrelease >"$dir/release"
echo "debug-kernel: built $(cat "$dir/release") in $((SECONDS - start)) s" \
	"($(ccache -s 2>/dev/null | grep -iE 'hits' | head -1 | tr -s ' '))"
touch "$dir/done"
echo "$dir"
