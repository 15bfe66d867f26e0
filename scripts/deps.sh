#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Install the Debian packages vext needs to build, test and boot its test VM.
#
#   scripts/deps.sh          install what is missing (root), or say what is
#                            missing and fail (not root)
#   scripts/deps.sh --list   print the package list and exit
#
# Idempotent and fast when everything is present: a single dpkg-query, no
# network. Packages that are missing are installed with apt-get after an
# 'apt-get update', non-interactively and without recommends.
set -eu

# What each package is for:
#   build-essential, git            gcc/g++/make; git ls-files (modules-6.12)
#   linux-image-amd64               the 6.1 kernel the test VM boots, its modules
#   linux-headers-amd64             kbuild for 6.1
#   linux-headers-6.12-amd64        kbuild for the 6.12 LTS build check and row
#   linux-image-6.12-amd64          the 6.12 LTS row's kernel (KERNEL=6.12)
#   linux-image-6.12-rt-amd64,      the PREEMPT_RT row (KERNEL=rt): kernel,
#   linux-headers-6.12-rt-amd64     modules and kbuild
#   ccache, flex, bison, bc,        the debug row's kernel, built from
#   libelf-dev, libssl-dev          linux-source-6.1 (scripts/debug-kernel.sh)
#   coccinelle                      make lint: the kernel's semantic patches
#   dkms                            the DKMS install check (make check-dkms)
#   libxen-dev                      xen_test and xen_bench drive vext_gnt through
#                                   Debian's unmodified libxengnttab/libxengntshr
#                                   (pulls in libxengnttab1 and its libraries)
#   linux-source-6.1                kselftest harness headers, checkpatch.pl
#   sparse                          make C=1
#   libkmod-dev, pkg-config         the selftests load modules through libkmod
#   kmod                            depmod for the initramfs, modprobe inside it
#   busybox-static                  the initramfs userland
#   cpio                            packs the initramfs
#   qemu-system-x86                 boots the test VM
#   xz-utils                        unpacks linux-source-6.1
#   coreutils                       timeout, tail --pid (essential; listed for clarity)
PACKAGES="build-essential git linux-image-amd64 linux-headers-amd64
linux-headers-6.12-amd64 linux-image-6.12-amd64 linux-image-6.12-rt-amd64
linux-headers-6.12-rt-amd64 linux-source-6.1 sparse libkmod-dev pkg-config kmod
busybox-static cpio qemu-system-x86 xz-utils coreutils ccache flex bison bc
libelf-dev libssl-dev coccinelle dkms libxen-dev"

if [ "${1:-}" = "--list" ]; then
	# shellcheck disable=SC2086 # one line, single spaces
	echo $PACKAGES
	exit 0
fi

# One dpkg-query for the whole list: a package counts as present only when
# it is fully installed ("install ok installed"); dpkg-query prints nothing
# for a package it has never heard of.
# shellcheck disable=SC2086 # the list is split on purpose
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $PACKAGES 2>/dev/null |
	awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }' ||
	true)
missing=
for pkg in $PACKAGES; do
	case " $(echo "$installed" | tr '\n' ' ') " in
	*" $pkg "*) ;;
	*) missing="$missing $pkg" ;;
	esac
done
missing=${missing# }

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages: $missing" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install $missing)" >&2
	exit 1
fi

echo "deps: installing missing Debian packages: $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
echo "deps: installed: $missing"
