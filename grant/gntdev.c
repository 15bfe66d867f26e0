// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_gnt: a device with the ABI of Linux's gntdev (include/uapi/xen/
 * gntdev.h), so that unmodified Xen backends and libxengnttab map and copy
 * the grants of vext domains.
 *
 * An open file is a mapping domain: domain 0 (the host), or the domain of
 * a VM it was bound to with VEXT_GNT_BIND_DEVICE on the VM fd. It owns a
 * maptrack; its handles are the file's mmap page indices.
 *
 * Like gntdev, MAP_GRANT_REF only records the grants (a "record") and
 * hands out an mmap offset; mmap() at that offset with that length takes
 * the grants as the maptrack's domain (read-only unless PROT_WRITE), and
 * pins their pages: while a page is not resident mmap() fails with EAGAIN
 * (libxengnttab retries), past eagain_timeout_ms with EFAULT. The handles
 * stay with the record between attempts, so that bound holds.
 * UNMAP_GRANT_REF drops the record and its handles; pages still mmapped
 * stay until munmap(). The unmap notification clears its byte when the
 * page's map goes, that is at the later of UNMAP_GRANT_REF and munmap().
 *
 * Limits: grants of records and of maps count against gntdev_max_per_open
 * for the file and gntdev_max_total for all files. A record is charged at
 * MAP_GRANT_REF; once mapped, the charge moves to each page's map and
 * goes with it (possibly after UNMAP_GRANT_REF, at munmap()).
 *
 * Locks: vext_gntdev_file.lock is taken inside the caller's mmap lock (in
 * mmap()), so no ioctl touches user memory while holding it.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <xen/interface/grant_table.h>
#include <xen/gntdev.h>
#include <xen/gntalloc.h>
#include "gnt_internal.h"

static bool xen_names;
module_param(xen_names, bool, 0444);
MODULE_PARM_DESC(xen_names,
		 "Name the devices /dev/xen/gntdev and /dev/xen/gntalloc (default: /dev/vext-gntdev, /dev/vext-gntalloc)");

static unsigned int gntdev_max_per_open = VEXT_GNT_MAX_HANDLES;
module_param(gntdev_max_per_open, uint, 0644);
MODULE_PARM_DESC(gntdev_max_per_open,
		 "Grants one open gntdev file may hold mapped or recorded (default 65536)");

static unsigned int gntdev_max_total = 262144;
module_param(gntdev_max_total, uint, 0644);
MODULE_PARM_DESC(gntdev_max_total,
		 "Grants all gntdev files together may hold mapped or recorded (default 262144)");

static struct vext_gnt_acct vext_gntdev_total;

/* Page indices stay below this, so that byte offsets fit in an off_t. */
#define VEXT_GNTDEV_MAX_INDEX	(1ULL << (63 - PAGE_SHIFT))

/* MAP_GRANT_REF: grants per record (gntdev's default limit). */
#define VEXT_GNTDEV_MAX_COUNT	VEXT_GNTTAB_MAX_OPS

/* GRANT_COPY: segments handled per round; up to this many on the stack. */
#define VEXT_GNTDEV_COPY_CHUNK	64
#define VEXT_GNTDEV_COPY_STACK	4

/**
 * struct vext_gntdev_file - one open gntdev
 * @lock:  @maps, @used, @vm
 * @maps:  the records, by index
 * @mt:    the maptrack; its domid is 0 or @vm's
 * @vm:    the VM bound with VEXT_GNT_BIND_DEVICE (reference held), or NULL
 * @used:  the file has mapped or copied: too late to bind
 * @acct:  grants held, against gntdev_max_per_open
 */
struct vext_gntdev_file {
	struct mutex lock;	/* @maps, @used, @vm */
	struct list_head maps;
	struct vext_gnt_maptrack *mt;
	struct vext_vm *vm;
	bool used;
	struct vext_gnt_acct acct;
};

/**
 * struct vext_gntdev_map - the grants of one MAP_GRANT_REF
 * @node:         on vext_gntdev_file.maps
 * @index:        first page index (mmap offset >> PAGE_SHIFT)
 * @count:        number of grants
 * @charged:      grants charged to the record (not yet to a page's map)
 * @mapped:       @first_handle.. hold the grants
 * @readonly:     they were taken read-only
 * @first_handle: first of @count consecutive handles, if @mapped
 * @notify_off:   byte to clear at unmap, from the start of the range, or -1
 * @refs:         the grants
 */
struct vext_gntdev_map {
	struct list_head node;
	u64 index;
	u32 count;
	u32 charged;
	bool mapped;
	bool readonly;
	u32 first_handle;
	s64 notify_off;
	struct ioctl_gntdev_grant_ref refs[];
};

/* A GNTST_* status as the errno of a failed map. */
static int vext_gntdev_errno(int st)
{
	switch (st) {
	case VEXT_GNTST_bad_domain:
		return -ESRCH;
	case VEXT_GNTST_permission_denied:
		return -EPERM;
	case VEXT_GNTST_bad_page:
		return -EFAULT;
	case VEXT_GNTST_no_device_space:
	case VEXT_GNTST_no_space:
		return -ENOSPC;
	case VEXT_GNTST_eagain:
		return -EAGAIN;
	default:
		return -EINVAL;
	}
}

static struct vext_gntdev_map *vext_gntdev_find(struct vext_gntdev_file *priv,
						u64 index, u32 count)
{
	struct vext_gntdev_map *map;

	list_for_each_entry(map, &priv->maps, node)
		if (map->index == index && map->count == count)
			return map;
	return NULL;
}

/* Unmap the handles of the MAP ops in @ops that succeeded (in place). */
static void vext_gntdev_unmap_handles(struct vext_gntdev_file *priv,
				      struct vext_gnttab_op *ops, unsigned int n)
{
	unsigned int i, j = 0;

	for (i = 0; i < n; i++) {
		if (ops[i].status)
			continue;
		ops[j].cmd = VEXT_GNTTABOP_unmap_grant_ref;
		ops[j].handle = ops[i].handle;
		ops[j].pad = 0;
		j++;
	}
	vext_gnttab_batch(priv->mt, ops, j, 0);
}

/* Let go of a record's handles (priv->lock held). */
static void vext_gntdev_unmap(struct vext_gntdev_file *priv,
			      struct vext_gntdev_map *map)
{
	struct vext_gnttab_op one, *ops = &one;
	u32 i;

	if (!map->mapped)
		return;
	map->mapped = false;
	if (map->count > 1)
		ops = kvcalloc(map->count, sizeof(*ops), GFP_KERNEL);
	if (!ops) {
		/* No memory for a batch: one op at a time. */
		for (i = 0; i < map->count; i++) {
			memset(&one, 0, sizeof(one));
			one.handle = map->first_handle + i;
			vext_gntdev_unmap_handles(priv, &one, 1);
		}
		return;
	}
	for (i = 0; i < map->count; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].handle = map->first_handle + i;
	}
	vext_gntdev_unmap_handles(priv, ops, map->count);
	if (ops != &one)
		kvfree(ops);
}

/*
 * Take a record's grants as the file's domain (priv->lock held, from
 * mmap): consecutive handles, charged to their maps. Return: 0 or -errno.
 */
static int vext_gntdev_take(struct vext_gntdev_file *priv,
			    struct vext_gntdev_map *map, bool readonly)
{
	struct vext_gnttab_op one, *ops = &one;
	int ret = 0;
	u32 i;

	/* Re-taken after a release: the record carries the charge again. */
	if (map->charged < map->count) {
		if (!vext_gnt_charge(&priv->acct, map->count - map->charged))
			return -ENOSPC;
		map->charged = map->count;
	}
	if (map->count > 1) {
		ops = kvcalloc(map->count, sizeof(*ops), GFP_KERNEL);
		if (!ops)
			return -ENOMEM;
	}
	for (i = 0; i < map->count; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].cmd = VEXT_GNTTABOP_map_grant_ref;
		ops[i].domid = map->refs[i].domid;
		ops[i].ref = map->refs[i].ref;
		ops[i].flags = VEXT_GNTMAP_defer |
			       (readonly ? VEXT_GNTMAP_readonly : 0);
	}
	vext_gnttab_batch(priv->mt, ops, map->count, 0);
	for (i = 0; i < map->count && !ret; i++) {
		if (ops[i].status)
			ret = vext_gntdev_errno(ops[i].status);
		else if (ops[i].handle != ops[0].handle + i)
			ret = -ENOSPC;	/* no run of free handles */
	}
	if (ret) {
		vext_gntdev_unmap_handles(priv, ops, map->count);
		goto out;
	}
	map->mapped = true;
	map->readonly = readonly;
	map->first_handle = ops[0].handle;
	map->charged -= vext_gnt_handles_charge(priv->mt, map->first_handle,
						map->count, &priv->acct);
	if (map->notify_off >= 0 && !readonly)
		vext_gnt_handle_notify(priv->mt, map->first_handle +
				       (map->notify_off >> PAGE_SHIFT),
				       map->notify_off & ~PAGE_MASK);
out:
	if (ops != &one)
		kvfree(ops);
	return ret;
}

/* Drop a record (priv->lock held). */
static void vext_gntdev_free(struct vext_gntdev_file *priv,
			     struct vext_gntdev_map *map)
{
	list_del(&map->node);
	vext_gntdev_unmap(priv, map);
	vext_gnt_uncharge(&priv->acct, map->charged);
	kvfree(map);
}

/* Insert @map at the first gap of its size (priv->lock held). */
static int vext_gntdev_insert(struct vext_gntdev_file *priv,
			      struct vext_gntdev_map *map)
{
	struct list_head *pos = &priv->maps;
	struct vext_gntdev_map *m;
	u64 index = 0;

	list_for_each_entry(m, &priv->maps, node) {
		if (m->index - index >= map->count) {
			pos = &m->node;
			break;
		}
		index = m->index + m->count;
	}
	if (index + map->count > VEXT_GNTDEV_MAX_INDEX)
		return -ENOSPC;
	map->index = index;
	list_add_tail(&map->node, pos);
	return 0;
}

static long vext_gntdev_map_grant_ref(struct vext_gntdev_file *priv,
				      struct ioctl_gntdev_map_grant_ref __user *u)
{
	struct ioctl_gntdev_map_grant_ref op;
	struct vext_gntdev_map *map;
	long ret;
	u32 i;

	if (copy_from_user(&op, u, offsetof(typeof(op), refs)))
		return -EFAULT;
	if (!op.count || op.count > VEXT_GNTDEV_MAX_COUNT)
		return -EINVAL;
	map = kvzalloc(struct_size(map, refs, op.count), GFP_KERNEL_ACCOUNT);
	if (!map)
		return -ENOMEM;
	if (copy_from_user(map->refs, u->refs,
			   array_size(op.count, sizeof(map->refs[0])))) {
		ret = -EFAULT;
		goto out_free;
	}
	for (i = 0; i < op.count; i++) {
		if (map->refs[i].domid > U16_MAX) {
			ret = -EINVAL;
			goto out_free;
		}
	}
	map->count = op.count;
	map->notify_off = -1;
	if (!vext_gnt_charge(&priv->acct, op.count)) {
		ret = -ENOSPC;
		goto out_free;
	}
	map->charged = op.count;

	mutex_lock(&priv->lock);
	priv->used = true;
	ret = vext_gntdev_insert(priv, map);
	op.index = map->index << PAGE_SHIFT;
	mutex_unlock(&priv->lock);
	if (ret) {
		vext_gnt_uncharge(&priv->acct, op.count);
		goto out_free;
	}
	if (put_user(op.index, &u->index)) {
		/* Nobody knows its index: drop it again. */
		mutex_lock(&priv->lock);
		vext_gntdev_free(priv, map);
		mutex_unlock(&priv->lock);
		return -EFAULT;
	}
	return 0;

out_free:
	kvfree(map);
	return ret;
}

static long vext_gntdev_unmap_grant_ref(struct vext_gntdev_file *priv,
					void __user *argp)
{
	struct ioctl_gntdev_unmap_grant_ref op;
	struct vext_gntdev_map *map;

	if (copy_from_user(&op, argp, sizeof(op)))
		return -EFAULT;
	if (op.index & ~PAGE_MASK)
		return -EINVAL;
	mutex_lock(&priv->lock);
	map = vext_gntdev_find(priv, op.index >> PAGE_SHIFT, op.count);
	if (map)
		vext_gntdev_free(priv, map);
	mutex_unlock(&priv->lock);
	return map ? 0 : -ENOENT;
}

static long vext_gntdev_get_offset(struct file *file, void __user *argp)
{
	struct ioctl_gntdev_get_offset_for_vaddr op;
	struct vm_area_struct *vma;
	long ret = -EINVAL;

	if (copy_from_user(&op, argp, sizeof(op)))
		return -EFAULT;
	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, op.vaddr);
	if (vma && vma->vm_start == op.vaddr && vma->vm_file == file &&
	    vext_gnt_vma_is_grant(vma)) {
		op.offset = (u64)vma->vm_pgoff << PAGE_SHIFT;
		op.count = vma_pages(vma);
		op.pad = 0;
		ret = 0;
	}
	mmap_read_unlock(current->mm);
	if (!ret && copy_to_user(argp, &op, sizeof(op)))
		ret = -EFAULT;
	return ret;
}

static long vext_gntdev_set_notify(struct vext_gntdev_file *priv,
				   void __user *argp)
{
	struct ioctl_gntdev_unmap_notify op;
	struct vext_gntdev_map *m, *map = NULL;
	u64 page;
	long ret = 0;

	if (copy_from_user(&op, argp, sizeof(op)))
		return -EFAULT;
	if (op.action & ~(UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT))
		return -EINVAL;
	/* No event channels in vext. */
	if (op.action & UNMAP_NOTIFY_SEND_EVENT)
		return -EOPNOTSUPP;

	page = op.index >> PAGE_SHIFT;
	mutex_lock(&priv->lock);
	list_for_each_entry(m, &priv->maps, node) {
		if (page >= m->index && page - m->index < m->count) {
			map = m;
			break;
		}
	}
	if (!map) {
		ret = -ENOENT;
		goto out;
	}
	if ((op.action & UNMAP_NOTIFY_CLEAR_BYTE) && map->mapped &&
	    map->readonly) {
		ret = -EINVAL;
		goto out;
	}
	/* One notification per record: a new one replaces the old. */
	if (map->mapped && map->notify_off >= 0)
		vext_gnt_handle_notify(priv->mt, map->first_handle +
				       (map->notify_off >> PAGE_SHIFT), -1);
	map->notify_off = -1;
	if (op.action & UNMAP_NOTIFY_CLEAR_BYTE) {
		map->notify_off = op.index - (map->index << PAGE_SHIFT);
		if (map->mapped)
			ret = vext_gnt_handle_notify(priv->mt,
						     map->first_handle + page -
						     map->index,
						     op.index & ~PAGE_MASK);
	}
out:
	mutex_unlock(&priv->lock);
	return ret;
}

/* Gref-to-gref: through a kernel bounce buffer. Return: a GNTST_* status. */
static int vext_gntdev_copy_g2g(struct vext_gntdev_file *priv,
				const struct gntdev_grant_copy_segment *seg)
{
	struct vext_gnttab_op op = { .cmd = VEXT_GNTTABOP_copy };
	void *buf = kmalloc(seg->len, GFP_KERNEL);

	if (!buf)
		return VEXT_GNTST_general_error;
	op.domid = seg->source.foreign.domid;
	op.ref = seg->source.foreign.ref;
	op.offset = seg->source.foreign.offset;
	op.len = seg->len;
	op.buf = (uintptr_t)buf;
	vext_gnttab_batch_retry(priv->mt, &op, 1, VEXT_GNT_BATCH_KBUF);
	if (!op.status) {
		op.domid = seg->dest.foreign.domid;
		op.ref = seg->dest.foreign.ref;
		op.offset = seg->dest.foreign.offset;
		op.flags = VEXT_GNTCOPY_to_grant;
		vext_gnttab_batch_retry(priv->mt, &op, 1, VEXT_GNT_BATCH_KBUF);
	}
	kfree(buf);
	return op.status;
}

/*
 * One segment as a COPY op; a gref-to-gref segment is done here (its
 * status in @op). Return: 0, or -EINVAL for a segment gntdev refuses.
 */
static int vext_gntdev_copy_op(struct vext_gntdev_file *priv,
			       const struct gntdev_grant_copy_segment *seg,
			       struct vext_gnttab_op *op, bool *done)
{
	bool src = seg->flags & GNTCOPY_source_gref;
	bool dst = seg->flags & GNTCOPY_dest_gref;

	*done = false;
	if (seg->flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref))
		return -EINVAL;
	/* Local to local is not a grant copy. */
	if (!src && !dst)
		return -EINVAL;
	/* A grant's side stays within its page. */
	if (src && seg->source.foreign.offset + seg->len > PAGE_SIZE)
		return -EINVAL;
	if (dst && seg->dest.foreign.offset + seg->len > PAGE_SIZE)
		return -EINVAL;
	memset(op, 0, sizeof(*op));
	op->cmd = VEXT_GNTTABOP_copy;
	if (src && dst) {
		op->status = vext_gntdev_copy_g2g(priv, seg);
		*done = true;
		return 0;
	}
	op->len = seg->len;
	if (src) {
		op->domid = seg->source.foreign.domid;
		op->ref = seg->source.foreign.ref;
		op->offset = seg->source.foreign.offset;
		op->buf = (uintptr_t)seg->dest.virt;
	} else {
		op->domid = seg->dest.foreign.domid;
		op->ref = seg->dest.foreign.ref;
		op->offset = seg->dest.foreign.offset;
		op->buf = (uintptr_t)seg->source.virt;
		op->flags = VEXT_GNTCOPY_to_grant;
	}
	return 0;
}

static void vext_gntdev_set_used(struct vext_gntdev_file *priv)
{
	if (READ_ONCE(priv->used))
		return;
	mutex_lock(&priv->lock);
	priv->used = true;
	mutex_unlock(&priv->lock);
}

/*
 * GRANT_COPY: segments in rounds of up to VEXT_GNTDEV_COPY_CHUNK, each
 * round's local<->grant segments in one batch; statuses written back per
 * segment. A page that is not resident is retried in the kernel (eagain
 * never reaches the caller, as with Linux's gntdev) for up to
 * eagain_timeout_ms, then its segment gets bad_page. An invalid segment
 * fails the ioctl with -EINVAL; the segments before it were copied and
 * have their statuses.
 */
static long vext_gntdev_grant_copy(struct vext_gntdev_file *priv,
				   void __user *argp)
{
	struct gntdev_grant_copy_segment stack_segs[VEXT_GNTDEV_COPY_STACK];
	struct vext_gnttab_op stack_ops[VEXT_GNTDEV_COPY_STACK];
	struct gntdev_grant_copy_segment *segs = stack_segs;
	struct vext_gnttab_op *ops = stack_ops;
	struct gntdev_grant_copy_segment __user *useg;
	struct ioctl_gntdev_grant_copy op;
	unsigned int done, chunk, i, n;
	bool *sep, stack_sep[VEXT_GNTDEV_COPY_STACK];
	long ret = 0;

	if (copy_from_user(&op, argp, sizeof(op)))
		return -EFAULT;
	if (!op.count)
		return 0;
	vext_gntdev_set_used(priv);
	useg = op.segments;
	chunk = min_t(unsigned int, op.count, VEXT_GNTDEV_COPY_CHUNK);
	sep = stack_sep;
	if (chunk > VEXT_GNTDEV_COPY_STACK) {
		/* One allocation: the ops, the segments, the flags. */
		ops = kmalloc(chunk * (sizeof(*ops) + sizeof(*segs) + sizeof(*sep)),
			      GFP_KERNEL);
		if (!ops)
			return -ENOMEM;
		segs = (void *)(ops + chunk);
		sep = (void *)(segs + chunk);
	}
	for (done = 0; done < op.count && !ret; done += n) {
		unsigned int nops = 0;

		n = min(chunk, op.count - done);
		if (copy_from_user(segs, useg + done, n * sizeof(*segs))) {
			ret = -EFAULT;
			break;
		}
		for (i = 0; i < n; i++) {
			bool g2g;

			ret = vext_gntdev_copy_op(priv, &segs[i], &ops[nops],
						  &g2g);
			if (ret)
				break;
			sep[i] = g2g;
			if (g2g)
				segs[i].status = ops[nops].status;
			else
				nops++;
		}
		/* Everything before an invalid segment is done all the same. */
		n = i;
		/* Like Linux's gntdev, eagain is retried here (bounded). */
		vext_gnttab_batch_retry(priv->mt, ops, nops, 0);
		for (i = 0, nops = 0; i < n; i++) {
			if (!sep[i])
				segs[i].status = ops[nops++].status;
			if (put_user(segs[i].status, &useg[done + i].status))
				ret = -EFAULT;
		}
	}
	if (ops != stack_ops)
		kfree(ops);
	return ret;
}

static long vext_gntdev_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct vext_gntdev_file *priv = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case IOCTL_GNTDEV_MAP_GRANT_REF:
		return vext_gntdev_map_grant_ref(priv, argp);
	case IOCTL_GNTDEV_UNMAP_GRANT_REF:
		return vext_gntdev_unmap_grant_ref(priv, argp);
	case IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR:
		return vext_gntdev_get_offset(file, argp);
	case IOCTL_GNTDEV_SET_UNMAP_NOTIFY:
		return vext_gntdev_set_notify(priv, argp);
	case IOCTL_GNTDEV_GRANT_COPY:
		return vext_gntdev_grant_copy(priv, argp);
	}
	/* SET_MAX_GRANTS, the dma-buf ioctls: like current Linux. */
	return -ENOTTY;
}

static int vext_gntdev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vext_gntdev_file *priv = file->private_data;
	bool readonly = !(vma->vm_flags & VM_WRITE);
	struct vext_gntdev_map *map;
	int ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	mutex_lock(&priv->lock);
	map = vext_gntdev_find(priv, vma->vm_pgoff, vma_pages(vma));
	if (!map) {
		ret = -EINVAL;
		goto out;
	}
	/* Taken read-only before, now wanted writable: take them again. */
	if (map->mapped && map->readonly && !readonly)
		vext_gntdev_unmap(priv, map);
	if (!map->mapped) {
		ret = vext_gntdev_take(priv, map, readonly);
		if (ret)
			goto out;
	}
	ret = vext_gnt_mmap(priv->mt, vma, map->first_handle);
	/* EAGAIN keeps the handles: eagain_timeout_ms counts from the first. */
	if (ret && ret != -EAGAIN)
		vext_gntdev_unmap(priv, map);
out:
	mutex_unlock(&priv->lock);
	return ret;
}

static int vext_gntdev_open(struct inode *inode, struct file *file)
{
	struct vext_gntdev_file *priv;

	priv = kzalloc(sizeof(*priv), GFP_KERNEL_ACCOUNT);
	if (!priv)
		return -ENOMEM;
	priv->mt = vext_gnt_maptrack_create(0, 0);
	if (!priv->mt) {
		kfree(priv);
		return -ENOMEM;
	}
	mutex_init(&priv->lock);
	INIT_LIST_HEAD(&priv->maps);
	vext_gnt_acct_init(&priv->acct, &gntdev_max_per_open,
			   &vext_gntdev_total);
	file->private_data = priv;
	return 0;
}

/* Every VMA of the file is gone (each holds the file). */
static int vext_gntdev_release(struct inode *inode, struct file *file)
{
	struct vext_gntdev_file *priv = file->private_data;
	struct vext_gntdev_map *map, *tmp;

	mutex_lock(&priv->lock);
	list_for_each_entry_safe(map, tmp, &priv->maps, node)
		vext_gntdev_free(priv, map);
	mutex_unlock(&priv->lock);
	vext_gnt_maptrack_destroy(priv->mt);
	WARN_ON_ONCE(atomic_read(&priv->acct.used));
	if (priv->vm)
		vext_vm_put(priv->vm);
	mutex_destroy(&priv->lock);
	kfree(priv);
	return 0;
}

static const struct file_operations vext_gntdev_fops = {
	.owner		= THIS_MODULE,
	.open		= vext_gntdev_open,
	.release	= vext_gntdev_release,
	.unlocked_ioctl	= vext_gntdev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= vext_gntdev_mmap,
	.llseek		= noop_llseek,
};

/*
 * VEXT_GNT_BIND_DEVICE on the VM fd of @vm: gntdev fd @fd acts as @vm's
 * domain from now on.
 */
long vext_gntdev_bind(struct vext_vm *vm, int fd)
{
	struct vext_gntdev_file *priv;
	struct file *file = fget(fd);
	long ret = 0;

	if (!file)
		return -EBADF;
	if (file->f_op != &vext_gntdev_fops) {
		ret = -EINVAL;
		goto out;
	}
	priv = file->private_data;
	mutex_lock(&priv->lock);
	if (priv->vm || priv->used) {
		ret = -EBUSY;
	} else {
		vext_vm_get(vm);
		priv->vm = vm;
		mutex_lock(&priv->mt->lock);
		priv->mt->domid = vm->domid;
		mutex_unlock(&priv->mt->lock);
	}
	mutex_unlock(&priv->lock);
out:
	fput(file);
	return ret;
}

static struct miscdevice vext_gntdev_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "vext-gntdev",
	.fops		= &vext_gntdev_fops,
	.mode		= 0600,
};

static struct miscdevice vext_gntalloc_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "vext-gntalloc",
	.fops		= &vext_gntalloc_fops,
	.mode		= 0600,
};

/* Refuse a Xen name that is taken (a Xen host's own gntdev, say). */
static int vext_gntdev_check_name(const char *nodename)
{
	char path[32];
	struct path p;

	snprintf(path, sizeof(path), "/dev/%s", nodename);
	if (kern_path(path, LOOKUP_FOLLOW, &p))
		return 0;
	path_put(&p);
	pr_err("%s exists (Xen's own device?): load vext_gnt without xen_names=1\n",
	       path);
	return -EEXIST;
}

int vext_gntdev_init(void)
{
	int ret;

	vext_gnt_acct_init(&vext_gntdev_total, &gntdev_max_total, NULL);
	if (xen_names) {
		vext_gntdev_misc.nodename = "xen/gntdev";
		vext_gntalloc_misc.nodename = "xen/gntalloc";
		ret = vext_gntdev_check_name(vext_gntdev_misc.nodename);
		if (!ret)
			ret = vext_gntdev_check_name(vext_gntalloc_misc.nodename);
		if (ret)
			return ret;
	}
	ret = misc_register(&vext_gntdev_misc);
	if (ret) {
		pr_err("cannot register the gntdev device: %d\n", ret);
		return ret;
	}
	ret = misc_register(&vext_gntalloc_misc);
	if (ret) {
		pr_err("cannot register the gntalloc device: %d\n", ret);
		misc_deregister(&vext_gntdev_misc);
	}
	return ret;
}

void vext_gntdev_exit(void)
{
	misc_deregister(&vext_gntalloc_misc);
	misc_deregister(&vext_gntdev_misc);
}
