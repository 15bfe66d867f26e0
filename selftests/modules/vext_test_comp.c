// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_test_comp - a test-only vext component for the selftests.
 *
 * It exercises the component registry of vext_core the way a real component
 * (vext_percpu, vext_gnt, ...) does, and exposes what the selftests need to
 * observe it from user space:
 *
 *  - capability VEXT_TEST_CAP, answered with VEXT_TEST_CAP_VALUE;
 *  - VM ioctl VEXT_TEST_ECHO and vCPU ioctl VEXT_TEST_VCPU_ID;
 *  - VM-fd mmap at VEXT_TEST_MMAP_OFFSET (core's vm_mmap routing);
 *  - per-VM and per-vCPU private data, with the number of live ones in the
 *    read-only parameters live_vms and live_vcpus;
 *  - fault injection: writing 1 to parameter fail_vm_init makes every
 *    VEXT_CREATE_VM fail with -ENOMEM from this component's vm_init hook;
 *  - load-time parameters that make registration fail on purpose
 *    (ioctl_first, ioctl_last, extra, overlap): the module then refuses to
 *    load with the registry's error code.
 *
 * It is never installed by `make install`; only the test VM loads it.
 */
#include <linux/atomic.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <vext/core.h>
#include "vext_test_comp.h"

static atomic_t live_vms = ATOMIC_INIT(0);
static atomic_t live_vcpus = ATOMIC_INIT(0);

static bool fail_vm_init;
module_param(fail_vm_init, bool, 0644);
MODULE_PARM_DESC(fail_vm_init, "Fail every vm_init with -ENOMEM (fault injection)");

static uint ioctl_first = VEXT_TEST_IOCTL_FIRST;
module_param(ioctl_first, uint, 0444);
MODULE_PARM_DESC(ioctl_first, "First ioctl number of the component (load time)");

static uint ioctl_last = VEXT_TEST_IOCTL_LAST;
module_param(ioctl_last, uint, 0444);
MODULE_PARM_DESC(ioctl_last, "Last ioctl number of the component (load time)");

static uint extra;
module_param(extra, uint, 0444);
MODULE_PARM_DESC(extra, "Register this many extra empty components (load time)");

static bool overlap;
module_param(overlap, bool, 0444);
MODULE_PARM_DESC(overlap, "Also register a component overlapping our range (load time)");

/*
 * Show an atomic_t counter; the parameter is read-only, so there is no
 * setter.
 */
static int vext_test_get_atomic(char *buffer, const struct kernel_param *kp)
{
	return scnprintf(buffer, PAGE_SIZE, "%d\n", atomic_read(kp->arg));
}

static const struct kernel_param_ops vext_test_counter_ops = {
	.get = vext_test_get_atomic,
};

module_param_cb(live_vms, &vext_test_counter_ops, &live_vms, 0444);
MODULE_PARM_DESC(live_vms, "VMs this component is attached to");
module_param_cb(live_vcpus, &vext_test_counter_ops, &live_vcpus, 0444);
MODULE_PARM_DESC(live_vcpus, "vCPUs this component is attached to");

/**
 * struct vext_test_vm - the component's private data for one VM
 * @domid: the VM's domid, copied at vm_init
 * @page:  the page served by vm_mmap
 */
struct vext_test_vm {
	u16 domid;
	struct page *page;
};

/**
 * struct vext_test_vcpu - the component's private data for one vCPU
 * @id: the vCPU's id, copied at vcpu_init
 */
struct vext_test_vcpu {
	u32 id;
};

static struct vext_component vext_test_comp;

/**
 * vext_test_check_extension() - answer VEXT_CHECK_EXTENSION for our caps
 * @cap: one of the capabilities in vext_test_caps
 *
 * Return: VEXT_TEST_CAP_VALUE for VEXT_TEST_CAP, 0 otherwise.
 */
static long vext_test_check_extension(u32 cap)
{
	return cap == VEXT_TEST_CAP ? VEXT_TEST_CAP_VALUE : 0;
}

/**
 * vext_test_vm_init() - attach the component to a new VM
 * @vm: the VM being created
 *
 * Return: 0, or -ENOMEM when allocation fails or fail_vm_init is set.
 */
static int vext_test_vm_init(struct vext_vm *vm)
{
	struct vext_test_vm *tvm;

	if (READ_ONCE(fail_vm_init))
		return -ENOMEM;
	tvm = kzalloc(sizeof(*tvm), GFP_KERNEL_ACCOUNT);
	if (!tvm)
		return -ENOMEM;
	tvm->page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!tvm->page) {
		kfree(tvm);
		return -ENOMEM;
	}
	*(u64 *)page_address(tvm->page) = VEXT_TEST_MMAP_MAGIC + vm->domid;
	tvm->domid = vm->domid;
	vm->comp_data[vext_test_comp.id] = tvm;
	atomic_inc(&live_vms);
	return 0;
}

/**
 * vext_test_vm_destroy() - detach the component from a VM being freed
 * @vm: the VM
 */
static void vext_test_vm_destroy(struct vext_vm *vm)
{
	struct vext_test_vm *tvm = vext_vm_data(vm, &vext_test_comp);

	__free_page(tvm->page);
	kfree(tvm);
	vm->comp_data[vext_test_comp.id] = NULL;
	atomic_dec(&live_vms);
}

/**
 * vext_test_vcpu_init() - attach the component to a new vCPU
 * @vcpu: the vCPU being created
 *
 * Return: 0 or -ENOMEM.
 */
static int vext_test_vcpu_init(struct vext_vcpu *vcpu)
{
	struct vext_test_vcpu *tvcpu;

	tvcpu = kzalloc(sizeof(*tvcpu), GFP_KERNEL_ACCOUNT);
	if (!tvcpu)
		return -ENOMEM;
	tvcpu->id = vcpu->id;
	vcpu->comp_data[vext_test_comp.id] = tvcpu;
	atomic_inc(&live_vcpus);
	return 0;
}

/**
 * vext_test_vcpu_destroy() - detach the component from a vCPU being freed
 * @vcpu: the vCPU
 */
static void vext_test_vcpu_destroy(struct vext_vcpu *vcpu)
{
	kfree(vext_vcpu_data(vcpu, &vext_test_comp));
	vcpu->comp_data[vext_test_comp.id] = NULL;
	atomic_dec(&live_vcpus);
}

/**
 * vext_test_vm_ioctl() - VM-fd ioctls in the component's range
 * @vm:  the VM
 * @cmd: the ioctl command
 * @arg: its argument
 *
 * Return: 0 for VEXT_TEST_ECHO, -EFAULT on a bad pointer, -ENOTTY for any
 * other command.
 */
static long vext_test_vm_ioctl(struct vext_vm *vm, unsigned int cmd,
			       unsigned long arg)
{
	struct vext_test_vm *tvm = vext_vm_data(vm, &vext_test_comp);
	u64 __user *uval = (u64 __user *)arg;
	u64 val;

	switch (cmd) {
	case VEXT_TEST_ECHO:
		/* Core hands us only the VMs we were attached to. */
		if (WARN_ON_ONCE(!tvm || tvm->domid != vm->domid))
			return -EIO;
		if (get_user(val, uval))
			return -EFAULT;
		if (put_user(val + 1, uval))
			return -EFAULT;
		return 0;
	}
	return -ENOTTY;
}

/**
 * vext_test_vcpu_ioctl() - vCPU-fd ioctls in the component's range
 * @vcpu: the vCPU
 * @cmd:  the ioctl command
 * @arg:  its argument (unused)
 *
 * Return: the vCPU id for VEXT_TEST_VCPU_ID, -ENOTTY for any other command.
 */
static long vext_test_vcpu_ioctl(struct vext_vcpu *vcpu, unsigned int cmd,
				 unsigned long arg)
{
	struct vext_test_vcpu *tvcpu = vext_vcpu_data(vcpu, &vext_test_comp);

	switch (cmd) {
	case VEXT_TEST_VCPU_ID:
		if (WARN_ON_ONCE(!tvcpu || tvcpu->id != vcpu->id))
			return -EIO;
		return tvcpu->id;
	}
	return -ENOTTY;
}

/**
 * vext_test_vm_mmap() - map the VM's test page read-only
 * @vm:  the VM
 * @vma: the mapping, at an offset of the component's range
 *
 * Return: 0, or -EINVAL for another offset, more than a page or PROT_WRITE.
 */
static int vext_test_vm_mmap(struct vext_vm *vm, struct vm_area_struct *vma)
{
	struct vext_test_vm *tvm = vext_vm_data(vm, &vext_test_comp);

	if (vma->vm_pgoff != VEXT_TEST_MMAP_OFFSET >> PAGE_SHIFT ||
	    vma->vm_end - vma->vm_start != PAGE_SIZE ||
	    (vma->vm_flags & VM_WRITE))
		return -EINVAL;
	vm_flags_clear(vma, VM_MAYWRITE);
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	return vm_insert_page(vma, vma->vm_start, tvm->page);
}

static const u32 vext_test_caps[] = { VEXT_TEST_CAP };

static struct vext_component vext_test_comp = {
	.name			= VEXT_TEST_COMP_NAME,
	.owner			= THIS_MODULE,
	.caps			= vext_test_caps,
	.nr_caps		= ARRAY_SIZE(vext_test_caps),
	.check_extension	= vext_test_check_extension,
	.vm_init		= vext_test_vm_init,
	.vm_destroy		= vext_test_vm_destroy,
	.vcpu_init		= vext_test_vcpu_init,
	.vcpu_destroy		= vext_test_vcpu_destroy,
	.vm_ioctl		= vext_test_vm_ioctl,
	.vcpu_ioctl		= vext_test_vcpu_ioctl,
	.vm_mmap		= vext_test_vm_mmap,
};

/* Empty components for the registry-limit tests (parameters extra/overlap). */
static struct vext_component vext_test_extra[VEXT_TEST_MAX_EXTRA];
static struct vext_component vext_test_overlap = {
	.name	= "test-overlap",
	.owner	= THIS_MODULE,
};

/* Unregister the first @n extra components, last first. */
static void vext_test_unregister_extra(unsigned int n)
{
	while (n--)
		vext_unregister_component(&vext_test_extra[n]);
}

/*
 * Register the extra components the parameters ask for. On failure nothing
 * stays registered and the registry's error is returned.
 */
static int vext_test_register_extra(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < extra; i++) {
		struct vext_component *comp = &vext_test_extra[i];

		comp->name = "test-extra";
		comp->owner = THIS_MODULE;
		comp->ioctl_first = VEXT_TEST_EXTRA_FIRST + i;
		comp->ioctl_last = VEXT_TEST_EXTRA_FIRST + i;
		ret = vext_register_component(comp);
		if (ret) {
			vext_test_unregister_extra(i);
			return ret;
		}
	}
	if (overlap) {
		vext_test_overlap.ioctl_first = ioctl_last;
		vext_test_overlap.ioctl_last = ioctl_last;
		ret = vext_register_component(&vext_test_overlap);
		if (ret) {
			vext_test_unregister_extra(extra);
			return ret;
		}
	}
	return 0;
}

static int __init vext_test_comp_init(void)
{
	int ret;

	if (extra > ARRAY_SIZE(vext_test_extra))
		return -EINVAL;

	vext_test_comp.ioctl_first = ioctl_first;
	vext_test_comp.ioctl_last = ioctl_last;
	ret = vext_register_component(&vext_test_comp);
	if (ret) {
		pr_info("registration refused: %d\n", ret);
		return ret;
	}
	/*
	 * Only the registry-limit tests get here with extra or overlap set;
	 * they expect the load to fail, and run with no VM being created.
	 */
	ret = vext_test_register_extra();
	if (ret) {
		pr_info("extra registration refused: %d\n", ret);
		vext_unregister_component(&vext_test_comp);
		return ret;
	}
	return 0;
}
module_init(vext_test_comp_init);

static void __exit vext_test_comp_exit(void)
{
	if (overlap)
		vext_unregister_component(&vext_test_overlap);
	vext_test_unregister_extra(extra);
	vext_unregister_component(&vext_test_comp);
}
module_exit(vext_test_comp_exit);

MODULE_DESCRIPTION("vext test component for the selftests (never in a release)");
MODULE_LICENSE("GPL");
