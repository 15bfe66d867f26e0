// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext-kvm-demo - assigned INTx end to end into a real KVM guest.
 *
 * The edu device at 0000:00:07.0 (its line shared with the e1000 NIC) is
 * bound to vext-pci and assigned to a vext VM in PCI 2.3 mode. A KVM VM
 * runs a tiny real-mode guest that programs its 8259s, maps the edu BAR
 * through a KVM memory slot, and in its interrupt handler acks the device
 * and EOIs. vext's trigger eventfd is the KVM irqfd and its resample
 * eventfd the irqfd's resamplefd, so from device to guest handler and back
 * to the unmask no system call of this program is involved: it only raises
 * the interrupts at the device and reads the guest's count.
 *
 * Run by 'make run' (and at the end of the test boot) after vext-demo.
 * Exits 0 on success; on failure it says what failed and exits 1; 4
 * (skipped) where KVM cannot load (PREEMPT_RT under TCG), saying so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/vext.h>

#include "vext_kvm.h"
#include "vext_pci.h"
#include "vext_test.h"

#define DEMO_SLOT	7
#define DEMO_DEV_ID	70
#define DEMO_GSI	5
#define DEMO_IRQS	100

static bool is_preempt_rt(void)
{
	struct utsname u;

	return !uname(&u) && strstr(u.version, "PREEMPT_RT");
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "vext-kvm-demo: %s: %s\n", what, strerror(err));
	return 1;
}

int main(void)
{
	struct vext_assigned_pci_dev d = {
		.assigned_dev_id = DEMO_DEV_ID,
		.devfn = DEMO_SLOT << 3,
		.flags = VEXT_DEV_ASSIGN_PCI_2_3,
		.err_fd = -1,
	};
	struct vext_assigned_irq irq = {
		.assigned_dev_id = DEMO_DEV_ID,
		.flags = VEXT_DEV_IRQ_HOST_INTX | VEXT_DEV_IRQ_RESAMPLE,
	};
	struct vext_assigned_dev_info info = { .assigned_dev_id = DEMO_DEV_ID };
	unsigned long long before = 0, after = 0;
	struct vext_kvm_runner r = { 0 };
	char name[VEXT_PCI_NAME_LEN];
	int dev, vm, trigger, resample, ret, i, w;
	struct vext_kvm_vm kvm;
	void *bar;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("\n== assigned INTx into a KVM guest ==\n");
	ret = vext_kvm_load_modules();
	if (ret == -EOPNOTSUPP && is_preempt_rt()) {
		/* KVM requires a constant TSC there; TCG cannot emulate invtsc. */
		printf("skipped: KVM does not load on this PREEMPT_RT kernel\n"
		       "(it needs a constant TSC, which TCG does not emulate)\n");
		return 4;
	}
	if (ret)
		return fail("loading KVM (irqbypass, ccp, kvm, kvm_amd)", -ret);
	ret = vext_mod_load("vext_assign", NULL);
	if (ret)
		return fail("modprobe vext_assign", -ret);
	ret = vext_pci_find(EDU_VENDOR, EDU_DEVICE, DEMO_SLOT, name);
	if (ret)
		return fail("finding the edu device at slot 7", -ret);
	ret = vext_pci_bind(name, "vext-pci");
	if (ret)
		return fail("binding it to vext-pci", -ret);
	bar = vext_pci_map_bar(name, 0, 4096);
	if (!bar)
		return fail("mapping its BAR 0", errno);
	vext_mmio_write32(bar, EDU_REG_IRQ_ACK, vext_mmio_read32(bar, EDU_REG_IRQ_STATUS));

	ret = vext_kvm_vm_create(&kvm);
	if (ret)
		return fail("creating the KVM VM", -ret);
	ret = vext_kvm_map_mmio(&kvm, bar, 4096);
	if (ret)
		return fail("mapping the BAR into the guest", -ret);
	vext_kvm_load_prog(&kvm, &vext_kvm_prog_intx);
	vext_kvm_set_data(&kvm, VEXT_KVM_INTX_LINE, DEMO_GSI);
	vext_kvm_set_data(&kvm, VEXT_KVM_INTX_DEV_SEG, VEXT_KVM_MMIO_GPA >> 4);
	vext_kvm_kick_init();
	ret = vext_kvm_vcpu_create(&kvm, 0, &r.kv);
	if (ret)
		return fail("creating the KVM vCPU", -ret);

	trigger = eventfd(0, EFD_CLOEXEC);
	resample = eventfd(0, EFD_CLOEXEC);
	if (trigger < 0 || resample < 0)
		return fail("eventfd", errno);
	ret = vext_kvm_irqfd(&kvm, trigger, resample, DEMO_GSI, false);
	if (ret)
		return fail("KVM_IRQFD with a resamplefd", -ret);

	dev = vext_dev_open();
	if (dev < 0)
		return fail("opening /dev/vext", -dev);
	vm = vext_create_vm(dev);
	if (vm < 0)
		return fail("VEXT_CREATE_VM", -vm);
	if (ioctl(vm, VEXT_ASSIGN_PCI_DEVICE, &d))
		return fail("VEXT_ASSIGN_PCI_DEVICE", errno);
	irq.trigger_fd = trigger;
	irq.resample_fd = resample;
	if (ioctl(vm, VEXT_ASSIGN_DEV_IRQ, &irq))
		return fail("VEXT_ASSIGN_DEV_IRQ", errno);
	if (ioctl(vm, VEXT_ASSIGNED_DEV_INFO, &info))
		return fail("VEXT_ASSIGNED_DEV_INFO", errno);
	printf("edu %s assigned in %s mode, host IRQ %u; trigger eventfd = KVM irqfd on GSI %d,\n"
	       "resample eventfd = its resamplefd\n", name,
	       info.flags & VEXT_DEV_ASSIGN_PCI_2_3 ? "PCI 2.3 shared-line" : "exclusive",
	       info.host_irq, DEMO_GSI);

	ret = vext_kvm_runner_start(&r);
	if (ret)
		return fail("starting the vCPU thread", -ret);
	for (w = 0; w < 5000 && !vext_kvm_data(&kvm, VEXT_KVM_INTX_READY); w++)
		vext_sleep_ms(1);
	if (!vext_kvm_data(&kvm, VEXT_KVM_INTX_READY))
		return fail("the guest did not enable interrupts", r.err ? -r.err : ETIMEDOUT);

	vext_irq_line((int)info.host_irq, &before, NULL, 0);
	for (i = 1; i <= DEMO_IRQS; i++) {
		vext_mmio_write32(bar, EDU_REG_IRQ_RAISE, 1);
		for (w = 0; w < 5000 && vext_kvm_data(&kvm, VEXT_KVM_INTX_COUNT) < (__u32)i; w++)
			vext_sleep_ms(1);
		if (vext_kvm_data(&kvm, VEXT_KVM_INTX_COUNT) < (__u32)i)
			return fail("an interrupt never reached the guest", ETIMEDOUT);
	}
	vext_sleep_ms(100);
	vext_irq_line((int)info.host_irq, &after, NULL, 0);
	printf("%d interrupts raised at the device, %u handled by the KVM guest's handler\n"
	       "(host IRQ %u: %llu interrupts; the guest acked each at the device and EOIed)\n",
	       DEMO_IRQS, vext_kvm_data(&kvm, VEXT_KVM_INTX_COUNT), info.host_irq,
	       after - before);
	ret = vext_kvm_data(&kvm, VEXT_KVM_INTX_COUNT) == DEMO_IRQS ? 0 : 1;

	vext_kvm_runner_stop(&r);
	close(vm);
	close(dev);
	vext_kvm_vcpu_destroy(&r.kv);
	vext_kvm_vm_destroy(&kvm);
	munmap(bar, 4096);
	close(trigger);
	close(resample);
	printf("done: device deassigned, KVM guest gone\n");
	return ret;
}
