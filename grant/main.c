// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_gnt: grant tables for vext domains.
 *
 * Every VM is a domain with a grant table in Xen's v1 layout, sized by
 * VEXT_GNT_SETUP_TABLE and mmapped by its VMM from the VM fd. The VM fd
 * performs grant ops as its domain (VEXT_GNTTAB_OP: map, unmap, copy with
 * per-op GNTST statuses) and maps what it mapped with mmap() at the index
 * a MAP returns. VEXT_ADD_TO_PHYSMAP / VEXT_REMOVE_FROM_PHYSMAP place
 * grant table frames in, or remove frames from, the domain's physmap.
 * In-kernel users get the same machinery through include/vext/gnt.h.
 * Domain 0 (the host) has a table of its own, written by the kernel
 * (host.c); gntdev.c and gntalloc.c give unmodified Xen user space
 * (libxengnttab, libxengntshr) the gntdev and gntalloc devices.
 *
 * Documentation/api.rst ("Grant tables") is the reference; table.c has
 * the table and entry protocol, map.c pinning, mapping and mmap.
 */
#include <linux/debugfs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "gnt_internal.h"

/* Sum of 1..255 ms: Linux's gnttab_retry_eagain_gop() schedule. */
#define VEXT_GNT_EAGAIN_DEFAULT_MS	32640
#define VEXT_GNT_EAGAIN_MAX_MS		600000

unsigned int vext_gnt_eagain_timeout_ms = VEXT_GNT_EAGAIN_DEFAULT_MS;

static int vext_gnt_set_timeout(const char *val, const struct kernel_param *kp)
{
	unsigned int ms;
	int ret = kstrtouint(val, 0, &ms);

	if (ret)
		return ret;
	if (ms > VEXT_GNT_EAGAIN_MAX_MS)
		return -EINVAL;
	WRITE_ONCE(vext_gnt_eagain_timeout_ms, ms);
	return 0;
}

static const struct kernel_param_ops vext_gnt_timeout_ops = {
	.set = vext_gnt_set_timeout,
	.get = param_get_uint,
};

module_param_cb(eagain_timeout_ms, &vext_gnt_timeout_ops,
		&vext_gnt_eagain_timeout_ms, 0644);
MODULE_PARM_DESC(eagain_timeout_ms,
		 "How long a granted page may stay unavailable before eagain turns into a hard error (ms, <= 600000)");

static struct dentry *vext_gnt_debugfs;

static int vext_gnt_vm_init(struct vext_vm *vm)
{
	struct vext_gnt_dom *gd = vext_gnt_dom_create(vm);

	if (!gd)
		return -ENOMEM;
	vm->comp_data[vext_gnt_comp.id] = gd;
	return 0;
}

static void vext_gnt_vm_destroy(struct vext_vm *vm)
{
	struct vext_gnt_dom *gd = vext_vm_data(vm, &vext_gnt_comp);

	vm->comp_data[vext_gnt_comp.id] = NULL;
	vext_gnt_dom_kill(gd);
}

/* Batches up to this size are copied to the stack, not allocated. */
#define VEXT_GNT_STACK_OPS	4

/* VEXT_GNTTAB_OP: the ops are copied in whole, performed, copied back. */
static long vext_gnt_ioctl_op(struct vext_gnt_dom *gd, void __user *argp)
{
	struct vext_gnttab_op stack_ops[VEXT_GNT_STACK_OPS], *ops = stack_ops;
	struct vext_gnttab_batch b;
	size_t size;
	long ret = 0;

	if (copy_from_user(&b, argp, sizeof(b)))
		return -EFAULT;
	if ((b.flags & ~VEXT_GNTTAB_VALID_FLAGS) ||
	    b.count > VEXT_GNTTAB_MAX_OPS)
		return -EINVAL;
	if (!b.count)
		return 0;
	size = array_size(b.count, sizeof(*ops));
	if (b.count > VEXT_GNT_STACK_OPS) {
		ops = kvmalloc(size, GFP_KERNEL_ACCOUNT);
		if (!ops)
			return -ENOMEM;
	}
	if (copy_from_user(ops, u64_to_user_ptr(b.ops), size)) {
		ret = -EFAULT;
		goto out;
	}
	if (b.flags & VEXT_GNTTAB_RETRY_EAGAIN)
		vext_gnttab_batch_retry(&gd->mt, ops, b.count, 0);
	else
		vext_gnttab_batch(&gd->mt, ops, b.count, 0);
	if (copy_to_user(u64_to_user_ptr(b.ops), ops, size))
		ret = -EFAULT;
out:
	if (ops != stack_ops)
		kvfree(ops);
	return ret;
}

static long vext_gnt_vm_ioctl(struct vext_vm *vm, unsigned int cmd,
			      unsigned long arg)
{
	struct vext_gnt_dom *gd = vext_vm_data(vm, &vext_gnt_comp);
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case VEXT_GNT_SETUP_TABLE: {
		struct vext_gnt_setup_table st;

		if (copy_from_user(&st, argp, sizeof(st)))
			return -EFAULT;
		if (st.flags)
			return -EINVAL;
		return vext_gnt_setup_table(gd, st.nr_frames);
	}
	case VEXT_GNTTAB_OP:
		return vext_gnt_ioctl_op(gd, argp);
	case VEXT_ADD_TO_PHYSMAP: {
		struct vext_add_to_physmap xatp;

		if (copy_from_user(&xatp, argp, sizeof(xatp)))
			return -EFAULT;
		return vext_gnt_add_to_physmap(vm, gd, &xatp);
	}
	case VEXT_REMOVE_FROM_PHYSMAP: {
		struct vext_remove_from_physmap xrfp;

		if (copy_from_user(&xrfp, argp, sizeof(xrfp)))
			return -EFAULT;
		return vext_gnt_remove_from_physmap(vm, gd, &xrfp);
	}
	case VEXT_GNT_BIND_DEVICE: {
		struct vext_gnt_bind_device bd;

		if (copy_from_user(&bd, argp, sizeof(bd)))
			return -EFAULT;
		if (bd.flags)
			return -EINVAL;
		return vext_gntdev_bind(vm, bd.fd);
	}
	}
	return -ENOTTY;
}

/* VM-fd mmap: table frames, or the pages of mapped handles. */
static int vext_gnt_vm_mmap(struct vext_vm *vm, struct vm_area_struct *vma)
{
	struct vext_gnt_dom *gd = vext_vm_data(vm, &vext_gnt_comp);
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;

	if (off >= VEXT_GNT_TABLE_OFFSET &&
	    off < VEXT_GNT_TABLE_OFFSET + VEXT_GNT_MAX_FRAMES * PAGE_SIZE)
		return vext_gnt_table_mmap(gd, vma);
	if (off >= VEXT_GNT_MAP_OFFSET &&
	    off < VEXT_GNT_MAP_OFFSET + (u64)VEXT_GNT_MAX_HANDLES * PAGE_SIZE)
		return vext_gnt_mmap(&gd->mt, vma,
				     (off - VEXT_GNT_MAP_OFFSET) >> PAGE_SHIFT);
	return -EINVAL;
}

static long vext_gnt_check_extension(u32 cap)
{
	switch (cap) {
	case VEXT_CAP_GRANT_TABLE:
		return VEXT_GNT_MAX_FRAMES;
	case VEXT_CAP_GNTDEV_ABI:
		return 1;
	}
	return 0;
}

static const u32 vext_gnt_caps[] = { VEXT_CAP_GRANT_TABLE, VEXT_CAP_GNTDEV_ABI };

struct vext_component vext_gnt_comp = {
	.name			= "gnt",
	.owner			= THIS_MODULE,
	.ioctl_first		= 0x60,
	.ioctl_last		= 0x7f,
	.caps			= vext_gnt_caps,
	.nr_caps		= ARRAY_SIZE(vext_gnt_caps),
	.check_extension	= vext_gnt_check_extension,
	.vm_init		= vext_gnt_vm_init,
	.vm_destroy		= vext_gnt_vm_destroy,
	.vm_ioctl		= vext_gnt_vm_ioctl,
	.vm_mmap		= vext_gnt_vm_mmap,
};

static int __init vext_gnt_init(void)
{
	int ret;

	ret = vext_gnt_wq_init();
	if (ret)
		return ret;
	ret = vext_gnt_host_init();
	if (ret)
		goto out_wq;
	vext_gnt_debugfs = debugfs_create_dir("gnt", vext_debugfs_dir());
	vext_gnt_debugfs_init(vext_gnt_debugfs);
	ret = vext_register_component(&vext_gnt_comp);
	if (ret) {
		pr_err("cannot register with vext_core: %d\n", ret);
		goto out_debugfs;
	}
	/* Last: the devices work as soon as they appear. */
	ret = vext_gntdev_init();
	if (ret)
		goto out_unregister;
	return 0;

out_unregister:
	vext_unregister_component(&vext_gnt_comp);
out_debugfs:
	debugfs_remove_recursive(vext_gnt_debugfs);
	vext_gnt_host_exit();
out_wq:
	vext_gnt_wq_exit();
	return ret;
}

/*
 * No VM is attached any more and no gntdev or gntalloc file is open (each
 * pins this module), so no VMA or op can run our code; domains still
 * referenced by queued fault-ins are freed when the workqueue drains.
 */
static void __exit vext_gnt_exit(void)
{
	vext_gntdev_exit();
	vext_unregister_component(&vext_gnt_comp);
	debugfs_remove_recursive(vext_gnt_debugfs);
	vext_gnt_host_exit();
	vext_gnt_wq_exit();
}

module_init(vext_gnt_init);
module_exit(vext_gnt_exit);

MODULE_DESCRIPTION("vext grant tables: map, unmap and copy grants between domains");
MODULE_AUTHOR("The vext developers");
MODULE_LICENSE("GPL");
