// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_gnt: a device with the ABI of Linux's gntalloc (include/uapi/xen/
 * gntalloc.h): domain 0 allocates pages and grants them to a domain,
 * which maps them by domid 0 through its VM fd (VEXT_GNTTAB_OP).
 *
 * ALLOC_GREF allocates zeroed kernel pages, grants each in domain 0's
 * table (host.c) and lists them ("grefs") in the file at a new mmap
 * offset. A gref lives while it is listed or mmapped: libxengntshr
 * deallocates right after mmap(), so the pages go at munmap(). When a
 * gref goes, its unmap notification clears its byte (the peer sees it in
 * its mapping), the grant is revoked (a peer still mapping the page keeps
 * it, see host.c) and the file's page reference is dropped.
 *
 * Limits: grefs count against gntalloc_max_per_open for the file and
 * gntalloc_max_total for all files, from ALLOC_GREF until they go.
 *
 * Locks: vext_gntalloc_file.lock is taken inside the caller's mmap lock
 * (in mmap()), so no ioctl touches user memory while holding it.
 */
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <xen/gntalloc.h>
#include "gnt_internal.h"

static unsigned int gntalloc_max_per_open = 1024;
module_param(gntalloc_max_per_open, uint, 0644);
MODULE_PARM_DESC(gntalloc_max_per_open,
		 "Pages one open gntalloc file may have granted (default 1024)");

static unsigned int gntalloc_max_total = 1024;
module_param(gntalloc_max_total, uint, 0644);
MODULE_PARM_DESC(gntalloc_max_total,
		 "Pages all gntalloc files together may have granted (default 1024, Linux's gntalloc limit)");

static struct vext_gnt_acct vext_gntalloc_total = {
	.used	= ATOMIC_INIT(0),
	.limit	= &gntalloc_max_total,
};

/* Page indices stay below this, so that byte offsets fit in an off_t. */
#define VEXT_GNTALLOC_MAX_INDEX	(1ULL << (63 - PAGE_SHIFT))

/**
 * struct vext_gntalloc_file - one open gntalloc
 * @lock:       @grefs, @next_index
 * @grefs:      the grefs not yet deallocated, by index
 * @next_index: page index of the next ALLOC_GREF
 * @acct:       grefs alive, against gntalloc_max_per_open
 */
struct vext_gntalloc_file {
	struct mutex lock;	/* @grefs, @next_index */
	struct list_head grefs;
	u64 next_index;
	struct vext_gnt_acct acct;
};

/**
 * struct vext_gntalloc_gref - one granted page
 * @node:       on vext_gntalloc_file.grefs while listed
 * @users:      the listing and every VMA mapping it
 * @index:      page index in the file
 * @ref:        the grant reference in domain 0's table
 * @page:       the page
 * @file:       the file (outlives the gref: its VMAs hold it)
 * @notify:     clear the byte at @notify_off when the gref goes
 * @notify_off: offset of that byte in the page
 */
struct vext_gntalloc_gref {
	struct list_head node;
	refcount_t users;
	u64 index;
	u32 ref;
	struct page *page;
	struct vext_gntalloc_file *file;
	bool notify;
	u16 notify_off;
};

/**
 * struct vext_gntalloc_vma - what one mapping holds
 * @users: the VMA and its copies made by mremap
 * @nr:    number of pages
 * @grefs: one reference on each gref
 */
struct vext_gntalloc_vma {
	refcount_t users;
	unsigned long nr;
	struct vext_gntalloc_gref *grefs[];
};

static void vext_gntalloc_put(struct vext_gntalloc_gref *gref)
{
	if (!refcount_dec_and_test(&gref->users))
		return;
	if (gref->notify) {
		u8 *kaddr = kmap_local_page(gref->page);

		WRITE_ONCE(kaddr[gref->notify_off], 0);
		kunmap_local(kaddr);
	}
	vext_gnt_host_revoke(gref->ref);
	put_page(gref->page);
	vext_gnt_uncharge(&gref->file->acct, 1);
	kfree(gref);
}

/* A new gref granting a new page to @domid; *@gref or -errno. */
static int vext_gntalloc_new(struct vext_gntalloc_file *priv, u16 domid,
			     bool writable, struct vext_gntalloc_gref **grefp)
{
	struct vext_gntalloc_gref *gref;
	int ret;

	gref = kzalloc(sizeof(*gref), GFP_KERNEL_ACCOUNT);
	if (!gref)
		return -ENOMEM;
	gref->page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!gref->page) {
		kfree(gref);
		return -ENOMEM;
	}
	ret = vext_gnt_host_grant(domid, !writable, gref->page, &gref->ref);
	if (ret) {
		__free_page(gref->page);
		kfree(gref);
		return ret;
	}
	refcount_set(&gref->users, 1);
	gref->file = priv;
	*grefp = gref;
	return 0;
}

static long vext_gntalloc_alloc(struct vext_gntalloc_file *priv,
				struct ioctl_gntalloc_alloc_gref __user *u)
{
	struct ioctl_gntalloc_alloc_gref op;
	struct vext_gntalloc_gref **grefs, *g;
	struct list_head *pos;
	u32 i, n = 0, *ids;
	long ret = 0;

	if (copy_from_user(&op, u, offsetof(typeof(op), gref_ids)))
		return -EFAULT;
	if (op.flags & ~GNTALLOC_FLAG_WRITABLE)
		return -EINVAL;
	if (!op.count || op.domid >= VEXT_DOMID_SELF)
		return -EINVAL;
	if (!vext_gnt_charge(&priv->acct, op.count))
		return -ENOSPC;
	grefs = kvcalloc(op.count, sizeof(*grefs), GFP_KERNEL);
	ids = kvcalloc(op.count, sizeof(*ids), GFP_KERNEL);
	if (!grefs || !ids) {
		ret = -ENOMEM;
		goto out_put;
	}
	for (n = 0; n < op.count; n++) {
		ret = vext_gntalloc_new(priv, op.domid,
					op.flags & GNTALLOC_FLAG_WRITABLE,
					&grefs[n]);
		if (ret)
			goto out_put;
		ids[n] = grefs[n]->ref;
	}

	mutex_lock(&priv->lock);
	if (priv->next_index + op.count > VEXT_GNTALLOC_MAX_INDEX) {
		ret = -ENOSPC;
	} else {
		op.index = priv->next_index << PAGE_SHIFT;
		priv->next_index += op.count;
	}
	mutex_unlock(&priv->lock);
	if (ret)
		goto out_put;
	if (put_user(op.index, &u->index) ||
	    copy_to_user(u->gref_ids, ids, array_size(op.count, sizeof(*ids)))) {
		ret = -EFAULT;
		goto out_put;
	}
	mutex_lock(&priv->lock);
	/*
	 * In index order, after the last gref below ours: a concurrent
	 * ALLOC_GREF that reserved later indexes may have listed first.
	 */
	pos = &priv->grefs;
	list_for_each_entry_reverse(g, &priv->grefs, node) {
		if (g->index < op.index >> PAGE_SHIFT) {
			pos = &g->node;
			break;
		}
	}
	for (i = 0; i < op.count; i++) {
		grefs[i]->index = (op.index >> PAGE_SHIFT) + i;
		list_add(&grefs[i]->node, pos);
		pos = &grefs[i]->node;
	}
	mutex_unlock(&priv->lock);
	goto out_free;

out_put:
	/* Each gref made uncharges itself; the others' charge goes here. */
	vext_gnt_uncharge(&priv->acct, op.count - n);
	for (i = 0; i < n; i++)
		vext_gntalloc_put(grefs[i]);
out_free:
	kvfree(ids);
	kvfree(grefs);
	return ret;
}

/* The listed gref at page index @index (priv->lock held). */
static struct vext_gntalloc_gref *vext_gntalloc_find(struct vext_gntalloc_file *priv,
						     u64 index)
{
	struct vext_gntalloc_gref *gref;

	list_for_each_entry(gref, &priv->grefs, node)
		if (gref->index == index)
			return gref;
	return NULL;
}

static long vext_gntalloc_dealloc(struct vext_gntalloc_file *priv,
				  void __user *argp)
{
	struct ioctl_gntalloc_dealloc_gref op;
	struct vext_gntalloc_gref *gref, *first, *tmp;
	LIST_HEAD(gone);
	u32 i;

	if (copy_from_user(&op, argp, sizeof(op)))
		return -EFAULT;
	if ((op.index & ~PAGE_MASK) || !op.count)
		return -EINVAL;
	mutex_lock(&priv->lock);
	first = vext_gntalloc_find(priv, op.index >> PAGE_SHIFT);
	/* All @count must be listed, consecutive from @index. */
	gref = first;
	for (i = 0; gref && i < op.count; i++) {
		if (&gref->node == &priv->grefs ||
		    gref->index != (op.index >> PAGE_SHIFT) + i)
			break;
		gref = list_next_entry(gref, node);
	}
	if (!first || i < op.count) {
		mutex_unlock(&priv->lock);
		return -EINVAL;
	}
	gref = first;
	for (i = 0; i < op.count; i++) {
		tmp = list_next_entry(gref, node);
		list_move_tail(&gref->node, &gone);
		gref = tmp;
	}
	mutex_unlock(&priv->lock);
	list_for_each_entry_safe(gref, tmp, &gone, node) {
		list_del(&gref->node);
		vext_gntalloc_put(gref);
	}
	return 0;
}

static long vext_gntalloc_set_notify(struct vext_gntalloc_file *priv,
				     void __user *argp)
{
	struct ioctl_gntalloc_unmap_notify op;
	struct vext_gntalloc_gref *gref;

	if (copy_from_user(&op, argp, sizeof(op)))
		return -EFAULT;
	if (op.action & ~(UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT))
		return -EINVAL;
	/* No event channels in vext. */
	if (op.action & UNMAP_NOTIFY_SEND_EVENT)
		return -EOPNOTSUPP;
	mutex_lock(&priv->lock);
	gref = vext_gntalloc_find(priv, op.index >> PAGE_SHIFT);
	if (gref) {
		gref->notify = op.action & UNMAP_NOTIFY_CLEAR_BYTE;
		gref->notify_off = op.index & ~PAGE_MASK;
	}
	mutex_unlock(&priv->lock);
	return gref ? 0 : -ENOENT;
}

static long vext_gntalloc_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct vext_gntalloc_file *priv = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case IOCTL_GNTALLOC_ALLOC_GREF:
		return vext_gntalloc_alloc(priv, argp);
	case IOCTL_GNTALLOC_DEALLOC_GREF:
		return vext_gntalloc_dealloc(priv, argp);
	case IOCTL_GNTALLOC_SET_UNMAP_NOTIFY:
		return vext_gntalloc_set_notify(priv, argp);
	}
	return -ENOTTY;
}

static void vext_gntalloc_vma_free(struct vext_gntalloc_vma *gv,
				   unsigned long nr)
{
	while (nr--)
		vext_gntalloc_put(gv->grefs[nr]);
	kvfree(gv);
}

static void vext_gntalloc_vma_open(struct vm_area_struct *vma)
{
	struct vext_gntalloc_vma *gv = vma->vm_private_data;

	refcount_inc(&gv->users);
}

/* The last munmap of the pages: their grefs may go (and notify). */
static void vext_gntalloc_vma_close(struct vm_area_struct *vma)
{
	struct vext_gntalloc_vma *gv = vma->vm_private_data;

	if (refcount_dec_and_test(&gv->users))
		vext_gntalloc_vma_free(gv, gv->nr);
}

static int vext_gntalloc_may_split(struct vm_area_struct *vma,
				   unsigned long addr)
{
	return -EINVAL;
}

static const struct vm_operations_struct vext_gntalloc_vm_ops = {
	.open		= vext_gntalloc_vma_open,
	.close		= vext_gntalloc_vma_close,
	.may_split	= vext_gntalloc_may_split,
};

/* Map listed grefs, consecutive from the offset; the local side may write. */
static int vext_gntalloc_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vext_gntalloc_file *priv = file->private_data;
	unsigned long i, nr = vma_pages(vma);
	struct vext_gntalloc_gref *gref;
	struct vext_gntalloc_vma *gv;
	int ret = 0;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/*
	 * No more pages than the file holds (listed ones are among them):
	 * the array below is sized by the length asked for.
	 */
	if (nr > (unsigned int)atomic_read(&priv->acct.used))
		return -EINVAL;
	gv = kvzalloc(struct_size(gv, grefs, nr), GFP_KERNEL_ACCOUNT);
	if (!gv)
		return -ENOMEM;
	refcount_set(&gv->users, 1);
	gv->nr = nr;

	mutex_lock(&priv->lock);
	gref = vext_gntalloc_find(priv, vma->vm_pgoff);
	for (i = 0; i < nr; i++) {
		if (!gref || &gref->node == &priv->grefs ||
		    gref->index != vma->vm_pgoff + i) {
			ret = -EINVAL;
			break;
		}
		refcount_inc(&gref->users);
		gv->grefs[i] = gref;
		gref = list_next_entry(gref, node);
	}
	mutex_unlock(&priv->lock);
	if (ret) {
		vext_gntalloc_vma_free(gv, i);
		return ret;
	}

	vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
	for (i = 0; i < nr && !ret; i++)
		ret = vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
				     gv->grefs[i]->page);
	if (ret) {
		zap_vma_ptes(vma, vma->vm_start, nr * PAGE_SIZE);
		vext_gntalloc_vma_free(gv, nr);
		return ret;
	}
	vma->vm_private_data = gv;
	vma->vm_ops = &vext_gntalloc_vm_ops;
	return 0;
}

static int vext_gntalloc_open(struct inode *inode, struct file *file)
{
	struct vext_gntalloc_file *priv;

	priv = kzalloc(sizeof(*priv), GFP_KERNEL_ACCOUNT);
	if (!priv)
		return -ENOMEM;
	mutex_init(&priv->lock);
	INIT_LIST_HEAD(&priv->grefs);
	vext_gnt_acct_init(&priv->acct, &gntalloc_max_per_open,
			   &vext_gntalloc_total);
	file->private_data = priv;
	return 0;
}

/* Every VMA of the file is gone (each holds the file): drop the listed. */
static int vext_gntalloc_release(struct inode *inode, struct file *file)
{
	struct vext_gntalloc_file *priv = file->private_data;
	struct vext_gntalloc_gref *gref, *tmp;

	list_for_each_entry_safe(gref, tmp, &priv->grefs, node) {
		list_del(&gref->node);
		vext_gntalloc_put(gref);
	}
	WARN_ON_ONCE(atomic_read(&priv->acct.used));
	mutex_destroy(&priv->lock);
	kfree(priv);
	return 0;
}

const struct file_operations vext_gntalloc_fops = {
	.owner		= THIS_MODULE,
	.open		= vext_gntalloc_open,
	.release	= vext_gntalloc_release,
	.unlocked_ioctl	= vext_gntalloc_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= vext_gntalloc_mmap,
	.llseek		= noop_llseek,
};
