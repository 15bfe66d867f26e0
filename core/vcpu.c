// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_core: vCPUs, their fds and their shared page.
 *
 * As in KVM, a vCPU lives as long as its VM: closing a vCPU fd only drops the
 * fd's reference on the VM, and the vCPU id stays taken. The shared page is
 * mapped read-only into user space (VM_MAYWRITE cleared, so mprotect cannot
 * make it writable); components fill its data area.
 */
#include <linux/anon_inodes.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include "core_internal.h"

/* Free a vCPU that is no longer reachable (its VM is being freed). */
void vext_vcpu_free(struct vext_vcpu *vcpu)
{
	unsigned int i = VEXT_MAX_COMPONENTS;
	struct vext_vm *vm = vcpu->vm;

	while (i--) {
		const struct vext_component *comp = vm->comp[i];

		if (comp && comp->vcpu_destroy)
			comp->vcpu_destroy(vcpu);
	}
	free_page((unsigned long)vcpu->shared);
	kfree(vcpu);
}

static long vext_vcpu_ioctl(struct file *filp, unsigned int cmd,
			    unsigned long arg)
{
	struct vext_vcpu *vcpu = filp->private_data;
	const struct vext_component *comp;

	if (vcpu->vm->mm != current->mm)
		return -EIO;

	comp = vext_vm_component_for(vcpu->vm, cmd);
	if (!comp || !comp->vcpu_ioctl)
		return -ENOTTY;
	return comp->vcpu_ioctl(vcpu, cmd, arg);
}

static int vext_vcpu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct vext_vcpu *vcpu = filp->private_data;

	if (vma->vm_pgoff != VEXT_VCPU_SHARED_OFFSET ||
	    vma->vm_end - vma->vm_start > PAGE_SIZE)
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;

	vm_flags_clear(vma, VM_MAYWRITE);
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	return vm_insert_page(vma, vma->vm_start, virt_to_page(vcpu->shared));
}

static int vext_vcpu_release(struct inode *inode, struct file *filp)
{
	struct vext_vcpu *vcpu = filp->private_data;

	vext_vm_put(vcpu->vm);
	return 0;
}

static const struct file_operations vext_vcpu_fops = {
	.owner		= THIS_MODULE,
	.release	= vext_vcpu_release,
	.unlocked_ioctl	= vext_vcpu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= vext_vcpu_mmap,
	.llseek		= noop_llseek,
};

static void vext_vcpu_destroy_partial(struct vext_vcpu *vcpu, unsigned int n)
{
	/* Undo the vcpu_init hooks of components 0..n-1. */
	while (n--) {
		const struct vext_component *comp = vcpu->vm->comp[n];

		if (comp && comp->vcpu_destroy)
			comp->vcpu_destroy(vcpu);
	}
}

/* VEXT_CREATE_VCPU: called with a reference on @vm held by its fd. */
int vext_create_vcpu(struct vext_vm *vm, unsigned long id)
{
	struct vext_vcpu *vcpu;
	unsigned int i;
	int ret;

	if (id >= VEXT_MAX_VCPU_ID)
		return -EINVAL;

	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return -ENOMEM;
	vcpu->shared = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->shared) {
		ret = -ENOMEM;
		goto err_free;
	}
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->shared->version = VEXT_VCPU_SHARED_VERSION;
	vcpu->shared->size = sizeof(*vcpu->shared);
	vcpu->shared->vcpu_id = id;
	vcpu->shared->domid = vm->domid;

	mutex_lock(&vm->lock);
	if (xa_load(&vm->vcpus, id)) {
		ret = -EEXIST;
		goto err_unlock;
	}
	if (vm->nr_vcpus >= VEXT_MAX_VCPUS) {
		ret = -ENOSPC;
		goto err_unlock;
	}

	for (i = 0; i < VEXT_MAX_COMPONENTS; i++) {
		const struct vext_component *comp = vm->comp[i];

		if (!comp || !comp->vcpu_init)
			continue;
		ret = comp->vcpu_init(vcpu);
		if (ret) {
			vext_vcpu_destroy_partial(vcpu, i);
			goto err_unlock;
		}
	}

	/*
	 * Reserve the id, and publish the vCPU only once its fd exists:
	 * readers walk vm->vcpus without vm->lock (the VM's stats fd sums the
	 * vCPUs' shared pages) and must never meet a vCPU that may still be
	 * freed below. A reserved entry reads as absent and storing over it
	 * needs no memory.
	 */
	ret = xa_reserve(&vm->vcpus, id, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_destroy;

	/* The fd's reference on the VM; dropped in vext_vcpu_release(). */
	vext_vm_get(vm);
	ret = anon_inode_getfd("vext-vcpu", &vext_vcpu_fops, vcpu,
			       O_RDWR | O_CLOEXEC);
	if (ret < 0) {
		xa_release(&vm->vcpus, id);
		/* Never the last reference: the VM fd is pinned by this ioctl. */
		refcount_dec(&vm->refcount.refcount);
		goto err_destroy;
	}
	xa_store(&vm->vcpus, id, vcpu, GFP_KERNEL_ACCOUNT);
	vm->nr_vcpus++;
	mutex_unlock(&vm->lock);
	return ret;

err_destroy:
	vext_vcpu_destroy_partial(vcpu, VEXT_MAX_COMPONENTS);
err_unlock:
	mutex_unlock(&vm->lock);
	free_page((unsigned long)vcpu->shared);
err_free:
	kfree(vcpu);
	return ret;
}
