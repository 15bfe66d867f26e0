#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the initramfs the vext test VM boots (an uncompressed newc cpio).
#
#   mkinitramfs.sh --root DIR --kver KVER --out FILE [--moddir DIR]
#                  [--suite-dir DIR] [--with-tests] [--with-dtests]
#                  [--with-demo] [--with-bench]
#
#   --root DIR     the vext tree (modules are taken from its module folders)
#   --kver KVER    the kernel release the VM boots (its modules come from
#                  /lib/modules/KVER/kernel of this machine)
#   --out FILE     the cpio to write; FILE.d/ is the staging directory
#   --suite-dir DIR  take the suite's modules from DIR (the dkms row:
#                  /lib/modules/KVER/updates/dkms) instead of the tree;
#                  they go to updates/dkms/ in the initramfs
#   --moddir DIR   that kernel's modules, if not /lib/modules/KVER (the
#                  debug row's modules_install output)
#   --with-tests   add selftests/out/*_test under /tests and the test modules
#                  (selftests/modules/*.ko) under extra/vext-test/
#   --with-dtests  also add selftests/out/*_dtest: tests that need the debug
#                  row's kernel (failslab, kmemleak); the init runs them
#                  after the *_test ones
#   --with-demo    add tools/vext-demo as /bin/vext-demo (required then) and
#                  tools/vext-kvm-demo as /bin/vext-kvm-demo
#   --with-bench   add bench/out/*_bench under /bench (make bench; at least
#                  one is required then)
#
# Contents:
#   /init                     scripts/vm-init.sh
#   /tests, /bench            the test and bench binaries (--with-*)
#   /bin/busybox + applets    busybox-static, every applet symlinked
#   /bin/kmod                 the host's kmod (dynamic), with modprobe, insmod,
#                             rmmod, lsmod, depmod and modinfo linked to it, so
#                             the module tools read Debian's modules whatever
#                             their compression
#   /lib..., /lib64/ld-*      every library ldd lists for kmod and the test
#                             binaries (libkmod ships no static library)
#   /lib/modules/KVER/        the distribution modules the VM needs, with their
#                             dependencies; the suite in updates/vext/, the
#                             test modules in extra/vext-test/; then
#                             depmod -b, so modprobe and libkmod find all of
#                             them by name
set -eu

die() {
	echo "mkinitramfs: $*" >&2
	exit 1
}

root='' kver='' out='' moddir='' suite_dir='' with_tests=0 with_dtests=0 with_demo=0 with_bench=0
while [ $# -gt 0 ]; do
	case "$1" in
	--root) root=$2; shift ;;
	--kver) kver=$2; shift ;;
	--out) out=$2; shift ;;
	--moddir) moddir=$2; shift ;;
	--suite-dir) suite_dir=$2; shift ;;
	--with-tests) with_tests=1 ;;
	--with-dtests) with_dtests=1 ;;
	--with-demo) with_demo=1 ;;
	--with-bench) with_bench=1 ;;
	*) die "unknown argument '$1'" ;;
	esac
	shift
done
if [ -z "$root" ] || [ -z "$kver" ] || [ -z "$out" ]; then
	die "usage: mkinitramfs.sh --root DIR --kver KVER --out FILE [--with-tests] [--with-demo] [--with-bench]"
fi

# Absolute paths: the staging directory becomes the working directory.
case "$root" in /*) ;; *) root=$PWD/$root ;; esac
case "$out" in /*) ;; *) out=$PWD/$out ;; esac
# modprobe and depmod live in /usr/sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
scripts=$(cd "$(dirname "$0")" && pwd)
moddir=${moddir:-/lib/modules/$kver}
case "$moddir" in /*) ;; *) moddir=$PWD/$moddir ;; esac
# modprobe -d BASE -S KVER reads BASE/lib/modules/KVER.
modbase=${moddir%/lib/modules/"$kver"}
modbase=${modbase:-/}
[ "${modbase%/}/lib/modules/$kver" = "$moddir" ] ||
	die "--moddir must end in /lib/modules/$kver"
busybox=/bin/busybox
kmod=/usr/bin/kmod

# Distribution modules loaded inside the VM: e1000 puts a real host driver on
# the INTx line that the edu device at slot 7 shares; kvm, kvm-amd (with ccp
# and irqbypass) run a nested KVM guest in later tests; vfio-pci is what
# assign_bench compares vext_assign with (make bench); zram (with zsmalloc)
# is the swap device gnt_test pages granted memory out to. Their
# dependencies are resolved from the host's copy of the same kernel's
# modules.dep.
DISTRO_MODULES="e1000 irqbypass ccp kvm kvm-amd vfio-pci zram"

# Where the suite's modules live; selftests/ is not among them.
SUITE_DIRS="core percpu preempt_notify assigned_dev grant"

[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep missing (is linux-image-$kver installed?)"
[ -x "$busybox" ] || die "$busybox missing (apt-get install busybox-static)"
[ -x "$kmod" ] || die "$kmod missing (apt-get install kmod)"
command -v cpio >/dev/null || die "cpio missing (apt-get install cpio)"

stage=$out.d
rm -rf "$stage"
mkdir -p "$stage"
cd "$stage"
mkdir -p bin sbin usr/bin usr/sbin lib lib64 dev proc sys tmp run etc root \
	tests "lib/modules/$kver"

# --- busybox -------------------------------------------------------------
cp "$busybox" bin/busybox
# Every applet as a symlink at its usual place, except the module tools,
# which are kmod's (busybox's modprobe does not read Debian's modules.dep.bin
# as libkmod does, nor compressed modules).
"$busybox" --list-full | while read -r applet; do
	case "${applet##*/}" in
	modprobe | insmod | rmmod | lsmod | depmod | modinfo) continue ;;
	esac
	[ -e "$applet" ] || [ -L "$applet" ] || ln -s /bin/busybox "$applet"
done

# --- kmod and the module tools ---------------------------------------------
cp "$kmod" bin/kmod
for tool in modprobe insmod rmmod lsmod depmod modinfo; do
	ln -sf /bin/kmod "sbin/$tool"
done

# --- test binaries and tools -------------------------------------------------
# Every test binary goes to /tests; the init runs them in sorted order.
binaries=bin/kmod
if [ "$with_tests" = 1 ]; then
	dtests=
	[ "$with_dtests" = 1 ] && dtests=$(echo "$root"/selftests/out/*_dtest)
	for t in "$root"/selftests/out/*_test $dtests; do
		if [ ! -f "$t" ] || [ ! -x "$t" ]; then
			continue
		fi
		cp "$t" tests/
		binaries="$binaries tests/${t##*/}"
	done
fi
if [ "$with_demo" = 1 ]; then
	[ -x "$root/tools/vext-demo" ] || die "$root/tools/vext-demo missing (make tools)"
	cp "$root/tools/vext-demo" bin/vext-demo
	binaries="$binaries bin/vext-demo"
	[ -x "$root/tools/vext-kvm-demo" ] || die "$root/tools/vext-kvm-demo missing (make tools)"
	cp "$root/tools/vext-kvm-demo" bin/vext-kvm-demo
	binaries="$binaries bin/vext-kvm-demo"
fi
if [ "$with_bench" = 1 ]; then
	mkdir -p bench
	for b in "$root"/bench/out/*_bench; do
		[ -x "$b" ] || die "no benchmark in $root/bench/out (make -C bench)"
		cp "$b" bench/
		binaries="$binaries bench/${b##*/}"
	done
fi

# --- shared libraries ------------------------------------------------------
# What ldd resolves, at the same path, symlinks dereferenced, plus the
# dynamic loader itself (the one line of ldd's output without "=>").
for bin in $binaries; do
	ldd "$bin" 2>/dev/null | awk '
		$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p ".${lib%/*}"
	cp -L "$lib" ".$lib"
done
[ -n "$(ls lib64 2>/dev/null)" ] || die "ldd found no dynamic loader for $binaries"

# --- kernel modules ----------------------------------------------------------
# The distribution modules and everything modprobe would load before them,
# as modprobe itself reports it for that kernel release.
kos=
# ccp is optional: it only serves kvm-amd's SEV, and the debug row's
# kernel does not have it (the tests load it only if it exists).
for m in $DISTRO_MODULES; do
	if ! deps=$(modprobe -d "$modbase" -S "$kver" --show-depends "$m" 2>&1); then
		[ "$m" = ccp ] && continue
		die "modprobe cannot resolve module '$m' for $kver: $deps"
	fi
	kos="$kos $(echo "$deps" | awk '$1 == "insmod" { print $2 }')"
done
# shellcheck disable=SC2086 # module paths have no blanks
for ko in $(printf '%s\n' $kos | sort -u); do
	rel=${ko#"$moddir"/}
	mkdir -p "lib/modules/$kver/${rel%/*}"
	cp "$ko" "lib/modules/$kver/$rel"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	if [ -f "$moddir/$f" ]; then
		cp "$moddir/$f" "lib/modules/$kver/"
	fi
done

# The suite, as 'make install' would place it, or as DKMS installed it.
n=0
if [ -n "$suite_dir" ]; then
	mkdir -p "lib/modules/$kver/updates/dkms"
	for ko in "$suite_dir"/vext_*.ko*; do
		[ -f "$ko" ] || continue
		cp "$ko" "lib/modules/$kver/updates/dkms/"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || die "no suite module in $suite_dir (dkms install?)"
else
	mkdir -p "lib/modules/$kver/updates/vext"
	for d in $SUITE_DIRS; do
		[ -d "$root/$d" ] || continue
		for ko in $(find "$root/$d" -name '*.ko' | sort); do
			cp "$ko" "lib/modules/$kver/updates/vext/"
			n=$((n + 1))
		done
	done
	[ "$n" -gt 0 ] || die "no suite module (*.ko) in $root ($SUITE_DIRS): run 'make modules'"
fi

# The test-only modules (the runner self-test's vext_splat, test components).
if [ "$with_tests" = 1 ]; then
	mkdir -p "lib/modules/$kver/extra/vext-test"
	for ko in "$root"/selftests/modules/*.ko; do
		if [ -f "$ko" ]; then
			cp "$ko" "lib/modules/$kver/extra/vext-test/"
		fi
	done
fi

depmod -b "$stage" "$kver"

# --- init and device nodes ---------------------------------------------------
cp "$scripts/vm-init.sh" init
chmod 0755 init
# The kernel opens /dev/console for /init before anything is mounted; the
# init reopens it on devtmpfs anyway, so without root the nodes are optional.
if [ "$(id -u)" -eq 0 ]; then
	mknod -m 0600 dev/console c 5 1
	mknod -m 0666 dev/null c 1 3
fi

# --- pack ----------------------------------------------------------------------
find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet >"$out.tmp"
mv -f "$out.tmp" "$out"
benches=
if [ "$with_bench" = 1 ]; then
	benches=" $(find bench -type f | wc -l) bench binaries,"
fi
echo "mkinitramfs: $out ($(du -k "$out" | cut -f1) KiB," \
	"$(find tests -type f | wc -l) test binaries,$benches $n suite modules)"
