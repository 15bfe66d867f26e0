// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_core: /dev/vext and the component registry.
 *
 * /dev/vext answers the system ioctls (API version, capabilities, VM
 * creation). Components (vext_percpu, vext_pn, vext_assign, vext_gnt, ...)
 * register here; every VM snapshots the registered components when it is
 * created and pins their modules until it is freed.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/debugfs.h>
#include <linux/mutex.h>
#include "core_internal.h"

/*
 * vext_comp_lock protects vext_comps[] (registration, unregistration and the
 * snapshot taken at VM creation). It is a mutex: nothing under it runs in
 * atomic context, and it is never held across a component callback.
 */
static DEFINE_MUTEX(vext_comp_lock);
static struct vext_component *vext_comps[VEXT_MAX_COMPONENTS];

static struct dentry *vext_debugfs;

static bool vext_ranges_overlap(const struct vext_component *a,
				const struct vext_component *b)
{
	return a->ioctl_first <= b->ioctl_last && b->ioctl_first <= a->ioctl_last;
}

/**
 * vext_register_component() - make a component available to new VMs
 * @comp: the component; must stay valid until vext_unregister_component()
 *
 * Call from the component's module init, in process context. VMs created
 * from now on are attached to @comp; existing VMs are not.
 *
 * Return: 0 on success; -EINVAL if @comp is malformed (no name or owner,
 * an ioctl range that is empty, beyond 0xff or inside core's 0x00-0x1f);
 * -EBUSY if its ioctl range overlaps a registered component's;
 * -ENOSPC if VEXT_MAX_COMPONENTS are already registered.
 */
int vext_register_component(struct vext_component *comp)
{
	unsigned int i, free = VEXT_MAX_COMPONENTS;
	int ret = 0;

	might_sleep();
	if (!comp || !comp->name || !comp->owner ||
	    comp->ioctl_first > comp->ioctl_last ||
	    comp->ioctl_first <= VEXT_CORE_IOCTL_LAST ||
	    comp->ioctl_last > _IOC_NRMASK || (comp->nr_caps && !comp->caps))
		return -EINVAL;

	mutex_lock(&vext_comp_lock);
	for (i = 0; i < VEXT_MAX_COMPONENTS; i++) {
		if (!vext_comps[i]) {
			if (free == VEXT_MAX_COMPONENTS)
				free = i;
			continue;
		}
		if (vext_comps[i] == comp ||
		    vext_ranges_overlap(vext_comps[i], comp)) {
			ret = -EBUSY;
			goto out;
		}
	}
	if (free == VEXT_MAX_COMPONENTS) {
		ret = -ENOSPC;
		goto out;
	}
	comp->id = free;
	vext_comps[free] = comp;
	pr_debug("component %s registered (ioctls %#x-%#x)\n", comp->name,
		 comp->ioctl_first, comp->ioctl_last);
out:
	mutex_unlock(&vext_comp_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(vext_register_component);

/**
 * vext_unregister_component() - withdraw a component
 * @comp: a component registered with vext_register_component()
 *
 * Call from the component's module exit. No VM can still be attached: each
 * attached VM holds a reference on @comp->owner, so module exit cannot run
 * while one exists.
 */
void vext_unregister_component(struct vext_component *comp)
{
	mutex_lock(&vext_comp_lock);
	if (!WARN_ON(comp->id >= VEXT_MAX_COMPONENTS ||
		     vext_comps[comp->id] != comp))
		vext_comps[comp->id] = NULL;
	mutex_unlock(&vext_comp_lock);
}
EXPORT_SYMBOL_GPL(vext_unregister_component);

/*
 * Attach every registered component whose module is still live to @vm and
 * run their vm_init hooks. On failure everything done so far is undone.
 */
int vext_attach_components(struct vext_vm *vm)
{
	unsigned int i;
	int ret;

	mutex_lock(&vext_comp_lock);
	for (i = 0; i < VEXT_MAX_COMPONENTS; i++) {
		struct vext_component *comp = vext_comps[i];

		/*
		 * Attach only fully loaded modules: one still in its init may
		 * yet fail and be freed, one being unloaded refuses references.
		 */
		if (comp && comp->owner->state == MODULE_STATE_LIVE &&
		    try_module_get(comp->owner))
			vm->comp[i] = comp;
	}
	mutex_unlock(&vext_comp_lock);

	for (i = 0; i < VEXT_MAX_COMPONENTS; i++) {
		const struct vext_component *comp = vm->comp[i];

		if (!comp || !comp->vm_init)
			continue;
		ret = comp->vm_init(vm);
		if (ret) {
			/* Undo the hooks that ran, then drop every reference. */
			while (i--) {
				comp = vm->comp[i];
				if (comp && comp->vm_destroy)
					comp->vm_destroy(vm);
			}
			for (i = 0; i < VEXT_MAX_COMPONENTS; i++) {
				if (vm->comp[i])
					module_put(vm->comp[i]->owner);
				vm->comp[i] = NULL;
			}
			return ret;
		}
	}
	return 0;
}

/* Run the vm_destroy hooks in reverse order and unpin the components. */
void vext_detach_components(struct vext_vm *vm)
{
	unsigned int i = VEXT_MAX_COMPONENTS;

	while (i--) {
		const struct vext_component *comp = vm->comp[i];

		if (!comp)
			continue;
		if (comp->vm_destroy)
			comp->vm_destroy(vm);
		vm->comp[i] = NULL;
		module_put(comp->owner);
	}
}

/* The value of a component-owned capability, or 0 if nobody has it. */
long vext_component_check_extension(u32 cap)
{
	struct vext_component *owner = NULL;
	unsigned int i, j;
	long val;

	mutex_lock(&vext_comp_lock);
	for (i = 0; i < VEXT_MAX_COMPONENTS && !owner; i++) {
		struct vext_component *comp = vext_comps[i];

		if (!comp)
			continue;
		for (j = 0; j < comp->nr_caps; j++) {
			if (comp->caps[j] == cap) {
				owner = comp;
				break;
			}
		}
	}
	/* Pin the owner so its hook can run without our lock held. */
	if (owner && !try_module_get(owner->owner))
		owner = NULL;
	mutex_unlock(&vext_comp_lock);

	if (!owner)
		return 0;
	val = owner->check_extension ? owner->check_extension(cap) : 1;
	module_put(owner->owner);
	return val;
}

/**
 * vext_debugfs_dir() - the suite's debugfs directory, /sys/kernel/debug/vext
 *
 * Components create their files here and remove them at module exit.
 *
 * Return: the directory's dentry (an error pointer if debugfs is absent,
 * which the debugfs API accepts as a parent and turns into no-ops).
 */
struct dentry *vext_debugfs_dir(void)
{
	return vext_debugfs;
}
EXPORT_SYMBOL_GPL(vext_debugfs_dir);

static long vext_check_extension(unsigned long cap)
{
	switch (cap) {
	case VEXT_CAP_CORE:
		return 1;
	case VEXT_CAP_MAX_VCPUS:
		return VEXT_MAX_VCPUS;
	case VEXT_CAP_MAX_VCPU_ID:
		return VEXT_MAX_VCPU_ID;
	case VEXT_CAP_NR_MEMSLOTS:
		return VEXT_NR_MEMSLOTS;
	case VEXT_CAP_MAX_DOMID:
		return VEXT_MAX_DOMID;
	case VEXT_CAP_VCPU_SHARED_PAGE:
		return VEXT_VCPU_SHARED_VERSION;
	}
	if (cap > U32_MAX)
		return 0;
	return vext_component_check_extension(cap);
}

static long vext_dev_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case VEXT_GET_API_VERSION:
		return arg ? -EINVAL : VEXT_API_VERSION;
	case VEXT_CHECK_EXTENSION:
		return vext_check_extension(arg);
	case VEXT_CREATE_VM:
		return vext_create_vm(arg);
	}
	return -ENOTTY;
}

static const struct file_operations vext_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= vext_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vext_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vext",
	.fops	= &vext_dev_fops,
	.mode	= 0660,
};

static int __init vext_core_init(void)
{
	int ret;

	vext_debugfs = debugfs_create_dir("vext", NULL);
	vext_domains_debugfs_init(vext_debugfs);

	ret = misc_register(&vext_misc);
	if (ret) {
		pr_err("cannot register /dev/vext: %d\n", ret);
		debugfs_remove_recursive(vext_debugfs);
		return ret;
	}
	return 0;
}

static void __exit vext_core_exit(void)
{
	misc_deregister(&vext_misc);
	debugfs_remove_recursive(vext_debugfs);
}

module_init(vext_core_init);
module_exit(vext_core_exit);

MODULE_DESCRIPTION("vext core: /dev/vext, VM and vCPU fds, component registry");
MODULE_AUTHOR("The vext developers");
MODULE_LICENSE("GPL");
