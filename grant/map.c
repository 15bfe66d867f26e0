// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_gnt: mapping, unmapping and copying grants; pinning granted pages
 * without waiting for I/O; mmap of mapped grants; the eagain retry.
 *
 * Pinning. A granted page lives in the granting VMM's memory. It is pinned
 * with FOLL_PIN | FOLL_LONGTERM (a mapping may last for ever) and
 * FOLL_NOFAULT under the granter's mmap read lock: a page that is not
 * resident with the access asked for (swapped out, never touched, shared
 * copy-on-write) is never faulted in by the op. The op answers eagain and
 * queues a fault-in on vext_gnt_wq, which runs it in process context
 * without any of our locks (an ordinary pin that may wait for the swap
 * device, dropped at once); the caller retries. An address outside any
 * VMA, or in one without the access or with VM_IO/VM_PFNMAP, is bad_page.
 *
 * Mapping into a backend. Granted pages are usually anonymous, which
 * vm_insert_page() refuses, so a mapping is a VM_PFNMAP VMA of special
 * entries (as remap_pfn_range() makes them, in one page-table walk) while
 * the pages stay pinned; VM_DONTCOPY (no fork),
 * VM_DONTEXPAND, no split (may_split), and VM_MAYWRITE cleared when one
 * of the grants is read-only, so mprotect() cannot make it writable. The
 * VMA holds a reference on each map; the last reference of a map (its
 * handle's or a VMA's, whichever goes last) unpins the page, after the
 * VMA's page-table entries are gone.
 *
 * Batches. Consecutive MAP ops are checked one by one, then the pages of
 * each run naming the same granter are pinned under one mmget and one hold
 * of its mmap lock, then published under one maptrack lock.
 *
 * Handles. A batch reserves one run of consecutive free handles for its
 * MAP ops, so the successful MAPs of one batch have consecutive mmap
 * indices and can be mapped with one mmap() (gntdev's index scheme).
 */
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include "gnt_internal.h"

static struct workqueue_struct *vext_gnt_wq;

/* MAP ops pinned under one hold of a granter's mmap lock, at most. */
#define VEXT_GNT_PIN_RUN	64

/* ---- maptrack ------------------------------------------------------- */

void vext_gnt_maptrack_init(struct vext_gnt_maptrack *mt, u16 domid,
			    u64 index_base)
{
	mutex_init(&mt->lock);
	mt->domid = domid;
	mt->index_base = index_base;
	xa_init(&mt->maps);
}

static void vext_gnt_map_put(struct vext_gnt_map *map);

/* No op, mmap or VMA can still use @mt: drop every handle. */
void vext_gnt_maptrack_fini(struct vext_gnt_maptrack *mt)
{
	struct vext_gnt_map *map;
	unsigned long handle;

	xa_for_each(&mt->maps, handle, map) {
		xa_erase(&mt->maps, handle);
		vext_gnt_map_put(map);
	}
	xa_destroy(&mt->maps);
	bitmap_free(mt->used);
	mutex_destroy(&mt->lock);
}

/**
 * vext_gnt_maptrack_create() - a new mapping context for an in-kernel user
 * @domid:      the domain its ops are performed as (0: the host)
 * @index_base: mmap offset of handle 0 reported by MAP ops (the caller's
 *              own mmap offset scheme, for vext_gnt_mmap())
 *
 * Context: process context, may sleep.
 * Return: the maptrack, or NULL when out of memory.
 */
struct vext_gnt_maptrack *vext_gnt_maptrack_create(u16 domid, u64 index_base)
{
	struct vext_gnt_maptrack *mt = kzalloc(sizeof(*mt), GFP_KERNEL_ACCOUNT);

	if (mt)
		vext_gnt_maptrack_init(mt, domid, index_base);
	return mt;
}
EXPORT_SYMBOL_GPL(vext_gnt_maptrack_create);

/**
 * vext_gnt_maptrack_destroy() - unmap every handle of a maptrack, free it
 * @mt: from vext_gnt_maptrack_create()
 *
 * Pages still mmapped stay pinned until their VMAs go away. The caller
 * guarantees that no batch or vext_gnt_mmap() on @mt runs any more.
 *
 * Context: process context, may sleep.
 */
void vext_gnt_maptrack_destroy(struct vext_gnt_maptrack *mt)
{
	vext_gnt_maptrack_fini(mt);
	kfree(mt);
}
EXPORT_SYMBOL_GPL(vext_gnt_maptrack_destroy);

/*
 * Reserve @n consecutive free handles: the first, or -ENOSPC. Searches
 * from @mt->next, then once from 0. mt->lock held.
 */
static long vext_gnt_reserve(struct vext_gnt_maptrack *mt, unsigned int n)
{
	unsigned long first;

	if (!mt->used) {
		mt->used = bitmap_zalloc(VEXT_GNT_MAX_HANDLES, GFP_KERNEL_ACCOUNT);
		if (!mt->used)
			return -ENOMEM;
	}
	first = bitmap_find_next_zero_area(mt->used, VEXT_GNT_MAX_HANDLES,
					   mt->next, n, 0);
	if (first >= VEXT_GNT_MAX_HANDLES)
		first = bitmap_find_next_zero_area(mt->used, VEXT_GNT_MAX_HANDLES,
						   0, n, 0);
	if (first >= VEXT_GNT_MAX_HANDLES)
		return -ENOSPC;
	bitmap_set(mt->used, first, n);
	mt->next = (first + n) % VEXT_GNT_MAX_HANDLES;
	return first;
}

/* ---- pinning -------------------------------------------------------- */

struct vext_gnt_faultin {
	struct work_struct work;
	struct vext_gnt_dom *gd;
	unsigned long hva;
	bool write;
};

/* Fault the page in as the granter would, then let it go again. */
static void vext_gnt_faultin_fn(struct work_struct *work)
{
	struct vext_gnt_faultin *f = container_of(work, struct vext_gnt_faultin,
						  work);
	struct vext_gnt_dom *gd = f->gd;
	struct page *page;
	int locked = 1;
	long n;

	if (mmget_not_zero(gd->mm)) {
		mmap_read_lock(gd->mm);
		/* FOLL_PIN without LONGTERM: also breaks COW sharing. */
		n = vext_pin_user_pages_remote(gd->mm, f->hva, 1,
					       f->write ? FOLL_WRITE : 0,
					       &page, &locked);
		if (locked)
			mmap_read_unlock(gd->mm);
		if (n == 1)
			unpin_user_page(page);
		mmput(gd->mm);
	}
	xa_erase(&gd->faulting, f->hva >> PAGE_SHIFT);
	atomic_dec(&gd->nr_faulting);
	vext_gnt_dom_put(gd);
	kfree(f);
}

/* Start faulting @hva in, unless that is in flight already. */
static void vext_gnt_queue_faultin(struct vext_gnt_dom *gd, unsigned long hva,
				   bool write)
{
	struct vext_gnt_faultin *f;

	if (atomic_inc_return(&gd->nr_faulting) > VEXT_GNT_MAX_FAULTIN)
		goto out_dec;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		goto out_dec;
	if (xa_insert(&gd->faulting, hva >> PAGE_SHIFT, xa_mk_value(0),
		      GFP_KERNEL)) {
		kfree(f);
		goto out_dec;
	}
	INIT_WORK(&f->work, vext_gnt_faultin_fn);
	vext_gnt_dom_get(gd);
	f->gd = gd;
	f->hva = hva;
	f->write = write;
	queue_work(vext_gnt_wq, &f->work);
	return;
out_dec:
	atomic_dec(&gd->nr_faulting);
}

/*
 * Pin the page at @hva of @gd's mm without faulting, @gd->mm's mmap lock
 * held. @longterm for a mapping, not for a copy.
 * Return: a VEXT_GNTST_* status; *@pagep on okay.
 */
static int vext_gnt_pin_locked(struct vext_gnt_dom *gd, unsigned long hva,
			       bool write, bool longterm, struct page **pagep)
{
	unsigned int gup = FOLL_NOFAULT | (write ? FOLL_WRITE : 0) |
			   (longterm ? FOLL_LONGTERM : 0);
	struct vm_area_struct *vma;

	if (atomic_add_unless(&gd->inject_eagain, -1, 0))
		return VEXT_GNTST_eagain;
	if (vext_pin_user_pages_remote(gd->mm, hva, 1, gup, pagep, NULL) == 1)
		return VEXT_GNTST_okay;
	vma = vma_lookup(gd->mm, hva);
	if (!vma || (vma->vm_flags & (VM_IO | VM_PFNMAP)) ||
	    !(vma->vm_flags & (write ? VM_WRITE : VM_READ)))
		return VEXT_GNTST_bad_page;
	vext_gnt_queue_faultin(gd, hva, write);
	return VEXT_GNTST_eagain;
}

/*
 * Pin one page of @gd's mm for a COPY op (see vext_gnt_pin_locked()),
 * taking the granter's mmap lock for reading. Never from an mmap handler:
 * vext_gnt_pin_deferred() pins for those.
 */
static int vext_gnt_pin(struct vext_gnt_dom *gd, unsigned long hva, bool write,
			bool longterm, struct page **pagep)
{
	struct mm_struct *mm = gd->mm;
	int ret;

	if (!mmget_not_zero(mm))
		return VEXT_GNTST_bad_domain;	/* the granter has exited */
	if (mmap_read_lock_killable(mm)) {
		ret = VEXT_GNTST_general_error;	/* we are being killed */
	} else {
		ret = vext_gnt_pin_locked(gd, hva, write, longterm, pagep);
		mmap_read_unlock(mm);
	}
	mmput(mm);
	return ret;
}

/* ---- maps ----------------------------------------------------------- */

static bool vext_gnt_map_writable(const struct vext_gnt_map *map)
{
	return !(map->flags & VEXT_GNTMAP_readonly);
}

static void vext_gnt_map_put(struct vext_gnt_map *map)
{
	bool write = vext_gnt_map_writable(map);

	if (!refcount_dec_and_test(&map->refs))
		return;
	if (map->notify && map->page) {
		u8 *kaddr = kmap_local_page(map->page);

		WRITE_ONCE(kaddr[map->notify_off], 0);
		kunmap_local(kaddr);
	}
	if (map->kpage)
		put_page(map->page);
	else if (map->page)
		unpin_user_pages_dirty_lock(&map->page, 1, write);
	vext_gnt_release(map->granter, map->ref, write);
	vext_gnt_dom_put(map->granter);
	if (map->acct)
		vext_gnt_uncharge(map->acct, 1);
	kfree(map);
}

/*
 * Take grant (@domid, @ref) for a use as @mt's domain: acquired, resolved
 * and, if @pin, its page pinned. A kernel page (a grant table frame, or
 * a page granted by domain 0) gets a page reference instead. On okay
 * *@map is filled with the granter (referenced), the page or (page NULL)
 * the address to pin later.
 */
static int vext_gnt_take(struct vext_gnt_maptrack *mt, u16 domid, u32 ref,
			 bool write, bool pin, struct vext_gnt_map *map)
{
	struct vext_gnt_dom *gd;
	struct page *page;
	struct vext_vm *vm;
	unsigned long hva;
	u32 gpfn;
	int st;

	gd = vext_gnt_dom_lookup(domid, &vm);
	if (!gd)
		return VEXT_GNTST_bad_domain;
	st = vext_gnt_acquire(gd, ref, mt->domid, write, &gpfn);
	if (st)
		goto out;
	if (gd->host)
		st = vext_gnt_host_resolve(gd, ref, &page);
	else
		st = vext_gnt_resolve(vm, gd, gpfn, write, &page, &hva);
	if (!st && page) {
		map->kpage = true;
	} else if (!st) {
		map->hva = hva;
		if (pin)
			st = vext_gnt_pin(gd, hva, write, false, &page);
	}
	if (st) {
		vext_gnt_release(gd, ref, write);
		goto out;
	}
	vext_gnt_dom_get(gd);
	map->granter = gd;
	map->ref = ref;
	map->page = page;
out:
	vext_gnt_dom_put(gd);
	if (vm)
		vext_vm_put(vm);
	return st;
}

/*
 * MAP, first half: check and hold the grant, allocate the map; the page is
 * pinned by vext_gnt_map_flush() (unless deferred or a kernel page).
 */
static int vext_gnt_map_prepare(struct vext_gnt_maptrack *mt,
				struct vext_gnttab_op *op,
				struct vext_gnt_map **mapp)
{
	bool write = !(op->flags & VEXT_GNTMAP_readonly);
	struct vext_gnt_map *map;
	int st;

	if ((op->flags & ~VEXT_GNTMAP_VALID_FLAGS) || op->pad)
		return VEXT_GNTST_general_error;
	map = kzalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map)
		return VEXT_GNTST_general_error;
	refcount_set(&map->refs, 1);
	map->flags = op->flags;
	st = vext_gnt_take(mt, op->domid, op->ref, write, false, map);
	if (st) {
		kfree(map);
		return st;
	}
	*mapp = map;
	return VEXT_GNTST_okay;
}

/* A prepared MAP op waiting for its pin and its handle. */
struct vext_gnt_pend {
	struct vext_gnttab_op *op;
	struct vext_gnt_map *map;
	long handle;
};

/*
 * Pin the pages of @n prepared maps of granter @gd under one mmget and one
 * hold of its mmap lock (the ops never fault, so the hold is short).
 */
static void vext_gnt_pin_run(struct vext_gnt_dom *gd, struct vext_gnt_pend *p,
			     unsigned int n)
{
	struct mm_struct *mm = gd->mm;
	int st = VEXT_GNTST_okay;
	unsigned int i;

	if (!mmget_not_zero(mm))
		st = VEXT_GNTST_bad_domain;	/* the granter has exited */
	else if (mmap_read_lock_killable(mm))
		st = VEXT_GNTST_general_error;	/* we are being killed */
	for (i = 0; i < n; i++) {
		struct vext_gnt_map *map = p[i].map;
		struct page *page = NULL;

		p[i].op->status = st ? st :
			vext_gnt_pin_locked(gd, map->hva,
					    vext_gnt_map_writable(map), true,
					    &page);
		map->page = page;
	}
	if (st != VEXT_GNTST_bad_domain) {
		if (!st)
			mmap_read_unlock(mm);
		mmput(mm);
	}
}

static bool vext_gnt_needs_pin(const struct vext_gnt_pend *p)
{
	return !p->op->status && !p->map->page &&
	       !(p->map->flags & VEXT_GNTMAP_defer);
}

/* MAP, second half, for a run of prepared ops: pin, then publish. */
static void vext_gnt_map_flush(struct vext_gnt_maptrack *mt,
			       struct vext_gnt_pend *p, unsigned int n)
{
	unsigned int i, j;

	for (i = 0; i < n; i = j) {
		j = i + 1;
		if (!vext_gnt_needs_pin(&p[i]))
			continue;
		while (j < n && vext_gnt_needs_pin(&p[j]) &&
		       p[j].map->granter == p[i].map->granter)
			j++;
		vext_gnt_pin_run(p[i].map->granter, p + i, j - i);
	}

	mutex_lock(&mt->lock);
	for (i = 0; i < n; i++) {
		struct vext_gnttab_op *op = p[i].op;

		if (!op->status && p[i].handle < 0)
			op->status = VEXT_GNTST_no_device_space;
		if (!op->status &&
		    xa_err(xa_store(&mt->maps, p[i].handle, p[i].map,
				    GFP_KERNEL_ACCOUNT)))
			op->status = VEXT_GNTST_general_error;
		if (!op->status) {
			op->handle = p[i].handle;
			op->index = mt->index_base +
				    ((u64)p[i].handle << PAGE_SHIFT);
			p[i].map = NULL;
		} else if (p[i].handle >= 0) {
			clear_bit(p[i].handle, mt->used);
		}
	}
	mutex_unlock(&mt->lock);
	/* Failed after the grant was held: let go of it. */
	for (i = 0; i < n; i++)
		if (p[i].map)
			vext_gnt_map_put(p[i].map);
}

static int vext_gnt_do_unmap(struct vext_gnt_maptrack *mt,
			     struct vext_gnttab_op *op)
{
	struct vext_gnt_map *map = NULL;

	if (op->pad)
		return VEXT_GNTST_general_error;
	mutex_lock(&mt->lock);
	if (op->handle < VEXT_GNT_MAX_HANDLES)
		map = xa_erase(&mt->maps, op->handle);
	if (map)
		clear_bit(op->handle, mt->used);
	mutex_unlock(&mt->lock);
	if (!map)
		return VEXT_GNTST_bad_handle;
	vext_gnt_map_put(map);
	return VEXT_GNTST_okay;
}

static int vext_gnt_do_copy(struct vext_gnt_maptrack *mt,
			    struct vext_gnttab_op *op, unsigned int flags)
{
	bool to_grant = op->flags & VEXT_GNTCOPY_to_grant;
	struct vext_gnt_map tmp = { };
	void __user *ubuf;
	unsigned long left;
	void *kaddr;
	int st;

	if ((op->flags & ~VEXT_GNTCOPY_VALID_FLAGS) || op->pad)
		return VEXT_GNTST_general_error;
	if (op->offset > PAGE_SIZE || op->len > PAGE_SIZE - op->offset)
		return VEXT_GNTST_bad_copy_arg;
	st = vext_gnt_take(mt, op->domid, op->ref, to_grant, true, &tmp);
	if (st)
		return st;

	kaddr = kmap_local_page(tmp.page) + op->offset;
	if (flags & VEXT_GNT_BATCH_KBUF) {
		if (to_grant)
			memcpy(kaddr, (void *)(uintptr_t)op->buf, op->len);
		else
			memcpy((void *)(uintptr_t)op->buf, kaddr, op->len);
		left = 0;
	} else {
		ubuf = u64_to_user_ptr(op->buf);
		if (to_grant)
			left = copy_from_user(kaddr, ubuf, op->len);
		else
			left = copy_to_user(ubuf, kaddr, op->len);
	}
	kunmap_local(kaddr);

	if (tmp.kpage)
		put_page(tmp.page);
	else
		unpin_user_pages_dirty_lock(&tmp.page, 1, to_grant);
	vext_gnt_release(tmp.granter, tmp.ref, to_grant);
	vext_gnt_dom_put(tmp.granter);
	return left ? VEXT_GNTST_bad_virt_addr : VEXT_GNTST_okay;
}

/**
 * vext_gnttab_batch() - perform grant ops as a maptrack's domain
 * @mt:    the mapping domain
 * @ops:   the ops; each gets its status (and MAP its handle and index)
 * @count: number of ops
 * @flags: VEXT_GNT_BATCH_KBUF if COPY buffers are kernel addresses
 *
 * A failing op never affects the others. The successful MAP ops get
 * consecutive handles in op order (a failed MAP leaves a gap). Ops whose
 * page is not resident answer VEXT_GNTST_eagain and start its fault-in.
 *
 * Context: process context, may sleep; no vext_gnt lock held.
 */
void vext_gnttab_batch(struct vext_gnt_maptrack *mt, struct vext_gnttab_op *ops,
		       unsigned int count, unsigned int flags)
{
	struct vext_gnt_pend pend[VEXT_GNT_PIN_RUN];
	unsigned int i, nmaps = 0, npend = 0;
	long first = -ENOSPC, h;

	for (i = 0; i < count; i++)
		nmaps += ops[i].cmd == VEXT_GNTTABOP_map_grant_ref;
	if (nmaps) {
		mutex_lock(&mt->lock);
		first = vext_gnt_reserve(mt, nmaps);
		mutex_unlock(&mt->lock);
	}

	h = first;
	for (i = 0; i < count; i++) {
		struct vext_gnttab_op *op = &ops[i];

		/* Consecutive MAPs are pinned together; others run in order. */
		if (npend && (op->cmd != VEXT_GNTTABOP_map_grant_ref ||
			      npend == VEXT_GNT_PIN_RUN)) {
			vext_gnt_map_flush(mt, pend, npend);
			npend = 0;
		}
		switch (op->cmd) {
		case VEXT_GNTTABOP_map_grant_ref:
			pend[npend].op = op;
			pend[npend].map = NULL;
			pend[npend].handle = h;
			if (first >= 0) {
				h++;
			} else {
				/* No run of nmaps free: one handle at a time. */
				mutex_lock(&mt->lock);
				pend[npend].handle = vext_gnt_reserve(mt, 1);
				mutex_unlock(&mt->lock);
			}
			op->status = vext_gnt_map_prepare(mt, op, &pend[npend].map);
			npend++;
			break;
		case VEXT_GNTTABOP_unmap_grant_ref:
			op->status = vext_gnt_do_unmap(mt, op);
			break;
		case VEXT_GNTTABOP_copy:
			op->status = vext_gnt_do_copy(mt, op, flags);
			break;
		default:
			op->status = VEXT_GNTST_general_error;
			break;
		}
		cond_resched();
	}
	if (npend)
		vext_gnt_map_flush(mt, pend, npend);
}
EXPORT_SYMBOL_GPL(vext_gnttab_batch);

/**
 * vext_gnttab_batch_retry() - vext_gnttab_batch(), retrying eagain
 * @mt:    the mapping domain
 * @ops:   the ops
 * @count: number of ops
 * @flags: as for vext_gnttab_batch()
 *
 * Each op that answered eagain is retried alone after msleep(1), then
 * msleep(2), msleep(3), ... until it answers something else or the sleeps
 * add up to the module parameter eagain_timeout_ms (default 32640 ms, the
 * sum of 1..255: Linux's gnttab_retry_eagain_gop() schedule). It then
 * reports VEXT_GNTST_bad_page with a rate-limited message naming the
 * domain and reference. A retried MAP gets a handle of its own. A fatal
 * signal stops the retries (the op keeps eagain).
 *
 * Context: process context, sleeps.
 */
void vext_gnttab_batch_retry(struct vext_gnt_maptrack *mt,
			     struct vext_gnttab_op *ops, unsigned int count,
			     unsigned int flags)
{
	unsigned int i, delay, waited, bound;

	vext_gnttab_batch(mt, ops, count, flags);
	for (i = 0; i < count; i++) {
		struct vext_gnttab_op *op = &ops[i];

		bound = READ_ONCE(vext_gnt_eagain_timeout_ms);
		for (delay = 1, waited = 0; op->status == VEXT_GNTST_eagain &&
		     waited < bound; delay++) {
			if (fatal_signal_pending(current))
				return;
			msleep(delay);
			waited += delay;
			vext_gnttab_batch(mt, op, 1, flags);
		}
		if (op->status == VEXT_GNTST_eagain) {
			op->status = VEXT_GNTST_bad_page;
			pr_err_ratelimited("domain %u: grant ref %u of domain %u still not available after %u ms: bad page\n",
					   mt->domid, op->ref, op->domid, waited);
		}
	}
}
EXPORT_SYMBOL_GPL(vext_gnttab_batch_retry);

/* ---- mmap ----------------------------------------------------------- */

/**
 * struct vext_gnt_vma - what one mapping of grants holds
 * @users: the VMA and its copies made by mremap
 * @nr:    number of pages
 * @maps:  one reference on each mapped grant
 */
struct vext_gnt_vma {
	refcount_t users;
	unsigned long nr;
	struct vext_gnt_map *maps[];
};

static void vext_gnt_vma_free(struct vext_gnt_vma *gv, unsigned long nr)
{
	while (nr--)
		vext_gnt_map_put(gv->maps[nr]);
	kfree(gv);
}

static void vext_gnt_vma_open(struct vm_area_struct *vma)
{
	struct vext_gnt_vma *gv = vma->vm_private_data;

	refcount_inc(&gv->users);
}

/* After the VMA's page-table entries are gone: the pins may go too. */
static void vext_gnt_vma_close(struct vm_area_struct *vma)
{
	struct vext_gnt_vma *gv = vma->vm_private_data;

	if (refcount_dec_and_test(&gv->users))
		vext_gnt_vma_free(gv, gv->nr);
}

static int vext_gnt_vma_may_split(struct vm_area_struct *vma,
				  unsigned long addr)
{
	return -EINVAL;
}

static const struct vm_operations_struct vext_gnt_vm_ops = {
	.open		= vext_gnt_vma_open,
	.close		= vext_gnt_vma_close,
	.may_split	= vext_gnt_vma_may_split,
};

/*
 * Fill one page-table entry of a new grant mapping (apply_to_page_range(),
 * page-table lock held). One walk for the whole VMA, no PAT lookup per
 * page as remap_pfn_range() would do: the pages are ordinary write-back
 * RAM, pinned, and the entries special (no struct page refcount or rmap),
 * as in a VM_PFNMAP mapping made by remap_pfn_range().
 */
static int vext_gnt_set_pte(pte_t *pte, unsigned long addr, void *data)
{
	struct vm_area_struct *vma = data;
	struct vext_gnt_vma *gv = vma->vm_private_data;
	struct page *page = gv->maps[(addr - vma->vm_start) >> PAGE_SHIFT]->page;

	set_pte_at(vma->vm_mm, addr, pte,
		   pte_mkspecial(pfn_pte(page_to_pfn(page), vma->vm_page_prot)));
	return 0;
}

/*
 * What a deferred map's pin status means for mmap: 0 (pinned), -EAGAIN
 * while its page is not resident, -EFAULT once that has lasted
 * eagain_timeout_ms or for any other failure (libxengnttab retries EAGAIN
 * from mmap for ever). mt->lock held.
 */
static int vext_gnt_deferred_status(struct vext_gnt_map *map, int st,
				    struct page *page)
{
	unsigned long bound = msecs_to_jiffies(READ_ONCE(vext_gnt_eagain_timeout_ms));

	if (!st) {
		map->page = page;
		return 0;
	}
	if (st == VEXT_GNTST_eagain) {
		if (!map->eagain_since)
			map->eagain_since = jiffies | 1;
		/* +1: at least the bound, whatever the jiffy phase. */
		if (time_before(jiffies, map->eagain_since + bound + 1))
			return -EAGAIN;
		pr_err_ratelimited("domain %u: grant ref %u still not available after %u ms: mmap fails\n",
				   map->granter->domid, map->ref,
				   jiffies_to_msecs(jiffies - map->eagain_since));
	}
	map->failed = true;
	return -EFAULT;
}

/*
 * Pin the deferred maps @maps[0..@n-1] of one granter from mmap, under
 * one mmget and one hold of its mmap lock (only tried: the caller holds
 * its own mmap lock for writing; not taken if it is the same mm). Stops
 * at the first failure. mt->lock held. Return: as
 * vext_gnt_deferred_status().
 */
static int vext_gnt_pin_deferred(struct vext_gnt_map **maps, unsigned long n)
{
	struct vext_gnt_dom *gd = maps[0]->granter;
	struct mm_struct *mm = gd->mm;
	bool own = mm == current->mm;
	int st = VEXT_GNTST_okay, ret = 0;
	unsigned long i;

	if (!mmget_not_zero(mm))
		st = VEXT_GNTST_bad_domain;	/* the granter has exited */
	else if (!own && !mmap_read_trylock(mm))
		st = VEXT_GNTST_eagain;
	for (i = 0; i < n && !ret; i++) {
		struct vext_gnt_map *map = maps[i];
		struct page *page = NULL;
		int pst = st;

		if (map->failed) {
			ret = -EFAULT;
			break;
		}
		if (!pst)
			pst = vext_gnt_pin_locked(gd, map->hva,
						  vext_gnt_map_writable(map),
						  true, &page);
		ret = vext_gnt_deferred_status(map, pst, page);
	}
	if (st != VEXT_GNTST_bad_domain) {
		if (!st && !own)
			mmap_read_unlock(mm);
		/* Never the final __mmput() under an mmap lock. */
		mmput_async(mm);
	}
	return ret;
}

/**
 * vext_gnt_mmap() - map mapped grants into a VMA
 * @mt:           the maptrack the handles belong to
 * @vma:          the new VMA (mmap handler, mmap lock held); its length
 *                gives the number of handles
 * @first_handle: handle of the VMA's first page
 *
 * Every page of the VMA must be a mapped handle, consecutive from
 * @first_handle. The mapping must be MAP_SHARED; it is writable only if
 * every grant is mapped writable. Deferred maps are pinned now.
 *
 * Context: an mmap handler; may sleep.
 * Return: 0; -EINVAL (not shared, a handle not mapped, out of range);
 * -EPERM (PROT_WRITE over a read-only map); -EAGAIN (a deferred page is not
 * resident: retry); -EFAULT (a deferred page cannot be pinned, or stayed
 * unavailable past eagain_timeout_ms); -ENOMEM.
 */
int vext_gnt_mmap(struct vext_gnt_maptrack *mt, struct vm_area_struct *vma,
		  u64 first_handle)
{
	unsigned long i, j, k, nr = vma_pages(vma);
	struct vext_gnt_vma *gv;
	bool readonly = false;
	int ret = 0;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (first_handle >= VEXT_GNT_MAX_HANDLES ||
	    nr > VEXT_GNT_MAX_HANDLES - first_handle)
		return -EINVAL;
	gv = kzalloc(struct_size(gv, maps, nr), GFP_KERNEL_ACCOUNT);
	if (!gv)
		return -ENOMEM;
	refcount_set(&gv->users, 1);
	gv->nr = nr;

	mutex_lock(&mt->lock);
	for (i = 0; i < nr; i++) {
		struct vext_gnt_map *map = xa_load(&mt->maps, first_handle + i);

		if (!map) {
			ret = -EINVAL;
			break;
		}
		if (!vext_gnt_map_writable(map)) {
			if (vma->vm_flags & VM_WRITE) {
				ret = -EPERM;
				break;
			}
			readonly = true;
		}
		refcount_inc(&map->refs);
		gv->maps[i] = map;
	}
	/* Deferred maps: pinned per run of one granter. */
	for (j = 0; j < i && !ret; j = k) {
		k = j + 1;
		if (gv->maps[j]->page)
			continue;
		while (k < i && !gv->maps[k]->page &&
		       gv->maps[k]->granter == gv->maps[j]->granter)
			k++;
		ret = vext_gnt_pin_deferred(gv->maps + j, k - j);
	}
	mutex_unlock(&mt->lock);
	if (ret) {
		vext_gnt_vma_free(gv, i);
		return ret;
	}

	if (readonly)
		vm_flags_clear(vma, VM_MAYWRITE);
	/* What remap_pfn_range() sets, and no fork, no growth. */
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTCOPY | VM_DONTEXPAND |
		     VM_DONTDUMP);
	vma->vm_private_data = gv;
	ret = apply_to_page_range(vma->vm_mm, vma->vm_start, nr * PAGE_SIZE,
				  vext_gnt_set_pte, vma);
	if (ret) {
		/* No entry may outlive the pins dropped below. */
		zap_vma_ptes(vma, vma->vm_start, nr * PAGE_SIZE);
		vma->vm_private_data = NULL;
		vext_gnt_vma_free(gv, nr);
		return ret;
	}
	vma->vm_ops = &vext_gnt_vm_ops;
	return 0;
}
EXPORT_SYMBOL_GPL(vext_gnt_mmap);

/* @vma maps grants (vext_gnt_mmap()). */
bool vext_gnt_vma_is_grant(struct vm_area_struct *vma)
{
	return vma->vm_ops == &vext_gnt_vm_ops;
}

/*
 * Charge the maps of handles @first..@first + @n - 1 to @acct from now
 * until each goes, those not charged already. Return: how many were
 * charged now.
 */
unsigned int vext_gnt_handles_charge(struct vext_gnt_maptrack *mt, u32 first,
				     u32 n, struct vext_gnt_acct *acct)
{
	struct vext_gnt_map *map;
	unsigned int charged = 0;
	unsigned long handle;

	mutex_lock(&mt->lock);
	xa_for_each_range(&mt->maps, handle, map, first, first + n - 1) {
		if (!map->acct) {
			map->acct = acct;
			charged++;
		}
	}
	mutex_unlock(&mt->lock);
	return charged;
}

/*
 * Clear the byte at @offset (< PAGE_SIZE) of the page of @handle when its
 * map goes; a negative @offset cancels that.
 * Return: 0; -ENOENT (no such handle); -EINVAL (mapped read-only).
 */
int vext_gnt_handle_notify(struct vext_gnt_maptrack *mt, u32 handle,
			   int offset)
{
	struct vext_gnt_map *map;
	int ret = 0;

	mutex_lock(&mt->lock);
	map = xa_load(&mt->maps, handle);
	if (!map) {
		ret = -ENOENT;
	} else if (offset < 0) {
		map->notify = false;
	} else if (!vext_gnt_map_writable(map)) {
		ret = -EINVAL;
	} else {
		map->notify_off = offset;
		map->notify = true;
	}
	mutex_unlock(&mt->lock);
	return ret;
}

int vext_gnt_wq_init(void)
{
	vext_gnt_wq = alloc_workqueue("vext_gnt", WQ_UNBOUND, 0);
	return vext_gnt_wq ? 0 : -ENOMEM;
}

/* Runs every queued fault-in, which drops its domain reference. */
void vext_gnt_wq_exit(void)
{
	destroy_workqueue(vext_gnt_wq);
}
