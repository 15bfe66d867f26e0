# SPDX-License-Identifier: GPL-2.0-only
#
# vext top-level Makefile.
#
#   make                 build the modules against $(KDIR)
#   KERNEL=ROW           any target on another row of the kernel matrix
#                        (stock, 6.12, rt, debug: scripts/row.sh)
#   make W=1 C=1         ... with extra warnings and sparse
#   make modules-6.12    build a copy of the tree against the 6.12 LTS headers
#   make install         install into /lib/modules/$(KVER)/updates/vext, run depmod,
#                        install the udev rule
#   make check           build everything, boot the test VM, run the kselftests
#   make run             boot the demo VM and run tools/vext-demo
#   make bench           run the benchmarks in the VM (JSON in .build/bench)
#   make lint            checkpatch.pl --strict, coccicheck, and W=1 C=1 builds
#                        for 6.1 and 6.12: any finding fails
#   make debug-kernel    build the debug row's kernel (cached outside the tree)
#   make clean           leave the tree as checked out

VEXT_ROOT := $(CURDIR)
export VEXT_ROOT

# The kernel we build for and boot: a row of the test matrix
# (scripts/row.sh): stock (Debian's linux-image-amd64, 6.1; the default),
# 6.12, rt or debug. Never uname -r.
KERNEL ?= stock
export KERNEL
KVER ?= $(shell $(VEXT_ROOT)/scripts/row.sh $(KERNEL) kver)
KDIR ?= $(shell $(VEXT_ROOT)/scripts/row.sh $(KERNEL) kdir)
VMLINUZ ?= $(shell $(VEXT_ROOT)/scripts/row.sh $(KERNEL) vmlinuz)
MODDIR ?= $(shell $(VEXT_ROOT)/scripts/row.sh $(KERNEL) moddir)
MACHINE ?= $(shell $(VEXT_ROOT)/scripts/row.sh $(KERNEL) machine)
KPARAMS ?= $(shell $(VEXT_ROOT)/scripts/row.sh $(KERNEL) kparams)
KVER_612 ?= $(shell $(VEXT_ROOT)/scripts/kver.sh 6.12)
KDIR_612 ?= /lib/modules/$(KVER_612)/build

BUILD := $(VEXT_ROOT)/.build

CC ?= gcc
CXX ?= g++

KBUILD = $(MAKE) -C $(KDIR) M=$(VEXT_ROOT) VEXT_ROOT=$(VEXT_ROOT)

.PHONY: all modules test-modules selftests tools uapi-check modules-6.12 \
	install uninstall clean deps lint lint-style checkpatch coccicheck debug-kernel

all: modules

modules:
	$(KBUILD) modules

# Test-only modules (selftests/modules), linked against core's symbols.
test-modules: modules
	$(MAKE) -C $(KDIR) M=$(VEXT_ROOT)/selftests/modules VEXT_ROOT=$(VEXT_ROOT) \
		KBUILD_EXTRA_SYMBOLS=$(VEXT_ROOT)/Module.symvers modules

selftests:
	$(MAKE) -C selftests

tools:
	$(MAKE) -C tools

# The UAPI header must stand alone as C99 and as C++.
uapi-check:
	@mkdir -p $(BUILD)/uapi
	@printf '#include <linux/vext.h>\nint main(void) { return sizeof(struct vext_vcpu_shared) != 512; }\n' \
		> $(BUILD)/uapi/c.c
	@cp $(BUILD)/uapi/c.c $(BUILD)/uapi/cxx.cc
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iuapi -o $(BUILD)/uapi/c $(BUILD)/uapi/c.c
	$(CXX) -std=c++11 -Wall -Wextra -Werror -pedantic -Iuapi -o $(BUILD)/uapi/cxx $(BUILD)/uapi/cxx.cc
	$(BUILD)/uapi/c && $(BUILD)/uapi/cxx

# Build a private copy of the sources against the 6.12 LTS headers, so the
# objects of the two kernels never mix in the work tree.
modules-6.12:
	@rm -rf $(BUILD)/6.12 && mkdir -p $(BUILD)/6.12
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(BUILD)/6.12
	$(MAKE) -C $(KDIR_612) M=$(BUILD)/6.12 VEXT_ROOT=$(BUILD)/6.12 modules

install: modules
	$(KBUILD) INSTALL_MOD_DIR=updates/vext modules_install
	depmod -a $(KVER)
	install -D -m 0644 packaging/99-vext.rules $(DESTDIR)/etc/udev/rules.d/99-vext.rules
	@if [ -d /run/udev ] && command -v udevadm >/dev/null; then \
		udevadm control --reload-rules; fi

uninstall:
	rm -rf /lib/modules/$(KVER)/updates/vext
	rm -f $(DESTDIR)/etc/udev/rules.d/99-vext.rules
	depmod -a $(KVER)

# The lint gate: checkpatch.pl --strict and the kernel's semantic patches
# (both from linux-source-6.1), then W=1 C=1 builds of the suite and the
# test modules for 6.1 and 6.12 in private copies of the tree (the work
# tree's objects are left alone), where any warning fails.
lint: lint-style
	@$(VEXT_ROOT)/scripts/lint-build.sh

lint-style: checkpatch coccicheck

checkpatch:
	$(VEXT_ROOT)/scripts/lint.sh

coccicheck:
	$(VEXT_ROOT)/scripts/coccicheck.sh

debug-kernel:
	$(VEXT_ROOT)/scripts/debug-kernel.sh

deps:
	$(VEXT_ROOT)/scripts/deps.sh

clean:
	-[ -d $(KDIR) ] && $(KBUILD) clean
	-[ -d $(KDIR) ] && $(MAKE) -C $(KDIR) M=$(VEXT_ROOT)/selftests/modules \
		VEXT_ROOT=$(VEXT_ROOT) clean
	-$(MAKE) -C selftests clean
	-$(MAKE) -C tools clean
	-$(MAKE) -C bench clean
	rm -rf $(BUILD)

# make check / make run: the QEMU test VM.
include $(VEXT_ROOT)/scripts/vm.mk
