# SPDX-License-Identifier: GPL-2.0-only
#
# The QEMU test VM: included by the top-level Makefile.
#
#   make check   install missing packages (make deps), then build and check
#                everything and boot the test VM (scripts/check.sh):
#                  build: modules 6.1 W=1 C=1, test-modules, selftests, tools,
#                         uapi-check, modules 6.12 W=1 C=1 (warnings fail)
#                  test VM: every selftests/out/*_test, TAP judged by
#                         scripts/vm-verdict.sh, dmesg checked for splats
#                  runner self-test: a boot with vext_splat (WARNs) must fail
#                ends with "N passed, N failed, N skipped"; fails if anything
#                failed or nothing passed.
#   make bench   make deps, build the modules and the benchmarks (bench/),
#                boot the q35 VM (vext.mode=bench) that runs every
#                bench/out/*_bench, judge the boot like the tests
#                (scripts/vm-verdict.sh: a failed binary, a VM that did not
#                finish or a splat fails), print and save the JSON in
#                .build/bench/results.json (scripts/bench-results.sh).
#                Not part of make check: benchmarks are not timed tests.
#   make vm-test T=GLOB
#                the quick loop while developing: build the modules, test
#                modules and selftests (no W=1 C=1, no lint, no 6.12), boot
#                the test VM running only the selftests/out/GLOB binaries
#                (for example T=pn_test or T='*_test'), judge it like make
#                check. Not a substitute for make check.
#   make fuzz SECONDS=N [SEED=S] [THREADS=T]
#                the ioctl fuzzer (selftests/fuzz) alone for N seconds
#                (default 300) in the test VM, judged like make check; SEED
#                replays a run (fuzz_test prints its seed first).
#   make run     make deps, build the modules and tools/vext-demo, boot the
#                same VM with the suite loaded, run vext-demo, power off.
#
# Tunables (environment): VEXT_VM_BOUND (test boot, 600 s), VEXT_TEST_TIMEOUT
# (one test binary, 240 s), VEXT_SELFTEST_BOUND (180 s), VEXT_RUN_BOUND
# (make run, 300 s), VEXT_BENCH_BOUND (bench boot, 900 s), VEXT_BENCH_TIMEOUT
# (one bench binary, 600 s). Everything lands in $(BUILD)/vm, $(BUILD)/check
# and $(BUILD)/bench.

VM_DIR := $(BUILD)/vm
VEXT_RUN_BOUND ?= 300
VEXT_BENCH_BOUND ?= 900
VEXT_BENCH_TIMEOUT ?= 600

.PHONY: check run bench fuzz vm-run vm-bench vm-test vm-clean-modules \
	vm-clean-test-modules vm-print-kver

# The packages first, then the pipeline in new make processes, so KVER is
# evaluated only once linux-image-amd64 is there.
check:
	@$(MAKE) --no-print-directory deps
	@+MAKE='$(MAKE)' KERNEL='$(KERNEL)' $(VEXT_ROOT)/scripts/check.sh

# make bench: benchmarks in the VM, JSON in $(BUILD)/bench/results.json.
bench:
	@$(MAKE) --no-print-directory deps
	@+$(MAKE) --no-print-directory vm-bench

# The benchmarks' "# " progress lines are shown as they arrive; the boot's
# status is in qemu.status, which bench-results.sh judges.
vm-bench: modules
	@$(MAKE) --no-print-directory -C bench
	@$(VEXT_ROOT)/scripts/mkinitramfs.sh --root $(VEXT_ROOT) --kver $(KVER) --moddir $(MODDIR) \
		--out $(VM_DIR)/initramfs-bench.cpio --with-bench
	@echo "bench: booting $(KVER) in QEMU (TCG; logs in $(VM_DIR)/bench)"
	@$(VEXT_ROOT)/scripts/run-vm.sh --mode bench --kver $(KVER) --kernel $(VMLINUZ) --kparams '$(KPARAMS)' \
		--initrd $(VM_DIR)/initramfs-bench.cpio --dir $(VM_DIR)/bench \
		--bound $(VEXT_BENCH_BOUND) --test-timeout $(VEXT_BENCH_TIMEOUT) \
		--follow report | sed -un 's/^# /bench: /p'; \
	$(VEXT_ROOT)/scripts/bench-results.sh --dir $(VM_DIR)/bench \
		--bound $(VEXT_BENCH_BOUND) --out $(BUILD)/bench/results.json

T ?= *_test
vm-test: modules test-modules selftests
	@$(VEXT_ROOT)/scripts/mkinitramfs.sh --root $(VEXT_ROOT) --kver $(KVER) --moddir $(MODDIR) \
		--out $(VM_DIR)/initramfs-test.cpio --with-tests \
		$(if $(filter debug,$(KERNEL)),--with-dtests)
	@echo "vm-test: booting $(KVER) in QEMU, tests '$(T)' (logs in $(VM_DIR)/vm-test)"
	@$(VEXT_ROOT)/scripts/run-vm.sh --mode test --kver $(KVER) --kernel $(VMLINUZ) --machine $(MACHINE) --kparams '$(KPARAMS)' \
		--initrd $(VM_DIR)/initramfs-test.cpio --dir $(VM_DIR)/vm-test \
		--bound $(or $(VEXT_VM_BOUND),600) --test-timeout $(or $(VEXT_TEST_TIMEOUT),240) \
		--tests '$(T)' --follow report | \
	$(VEXT_ROOT)/scripts/vm-verdict.sh --dir $(VM_DIR)/vm-test \
		--bound $(or $(VEXT_VM_BOUND),600)

# make fuzz: only fuzz_test, its budget and seed on the kernel command line.
# The binary gets the budget plus two minutes (setup, the final checks), the
# boot five more.
SECONDS ?= 300
FUZZ_ARGS = vext.fuzz_seconds=$(SECONDS) $(if $(SEED),vext.fuzz_seed=$(SEED)) \
	$(if $(THREADS),vext.fuzz_threads=$(THREADS))
fuzz: modules test-modules selftests
	@$(VEXT_ROOT)/scripts/mkinitramfs.sh --root $(VEXT_ROOT) --kver $(KVER) --moddir $(MODDIR) \
		--out $(VM_DIR)/initramfs-test.cpio --with-tests
	@echo "fuzz: booting $(KVER) in QEMU, fuzzing for $(SECONDS)s (logs in $(VM_DIR)/fuzz)"
	@$(VEXT_ROOT)/scripts/run-vm.sh --mode test --kver $(KVER) --kernel $(VMLINUZ) --machine $(MACHINE) --kparams '$(KPARAMS)' \
		--initrd $(VM_DIR)/initramfs-test.cpio --dir $(VM_DIR)/fuzz \
		--bound $$(($(SECONDS) + 420)) --test-timeout $$(($(SECONDS) + 120)) \
		--tests fuzz_test --append '$(strip $(FUZZ_ARGS))' --follow report | \
	$(VEXT_ROOT)/scripts/vm-verdict.sh --dir $(VM_DIR)/fuzz \
		--bound $$(($(SECONDS) + 420))

run:
	@$(MAKE) --no-print-directory deps
	@+$(MAKE) --no-print-directory vm-run

vm-run: modules tools
	@$(VEXT_ROOT)/scripts/mkinitramfs.sh --root $(VEXT_ROOT) --kver $(KVER) --moddir $(MODDIR) \
		--out $(VM_DIR)/initramfs-run.cpio --with-demo
	@echo "run: booting $(KVER) in QEMU (TCG; console log in $(VM_DIR)/run)"
	@$(VEXT_ROOT)/scripts/run-vm.sh --mode run --kver $(KVER) --kernel $(VMLINUZ) --machine $(MACHINE) --kparams '$(KPARAMS)' \
		--initrd $(VM_DIR)/initramfs-run.cpio --dir $(VM_DIR)/run \
		--bound $(VEXT_RUN_BOUND) --follow console; \
	$(VEXT_ROOT)/scripts/vm-verdict.sh --dir $(VM_DIR)/run \
		--bound $(VEXT_RUN_BOUND) <$(VM_DIR)/run/report.log

# Remove the suite's objects, so that the next W=1 C=1 build compiles and
# checks every file (check.sh).
vm-clean-modules:
	$(KBUILD) clean

vm-clean-test-modules:
	$(MAKE) -C $(KDIR) M=$(VEXT_ROOT)/selftests/modules VEXT_ROOT=$(VEXT_ROOT) clean

vm-print-kver:
	@echo $(KVER)
