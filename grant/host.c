// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_gnt: the grant table of domain 0, the host.
 *
 * Processes without a VM identity act as domain 0. What they grant (with
 * gntalloc) are kernel pages, not guest memory, so domain 0's table is
 * written by the kernel only, never mapped into user space: an entry's
 * frame is informative (the page's pfn, truncated), and a grant resolves
 * through @hpages, keyed by the grant reference, to the page itself. A
 * peer's map takes a page reference (no pin: the page is the kernel's).
 *
 * The entry's flags/domid word is written here only under active_lock,
 * where vext_gnt_acquire() and vext_gnt_release() update it too, so the
 * word needs no cmpxchg on this side. Revoking a grant that a peer still
 * uses (Xen's gnttab_end_foreign_access() on a busy entry) clears its type
 * at once, so no new map succeeds, but keeps the reference out of use
 * until the last user releases it (vext_gnt_host_release()); the page
 * lives as long as the peer's page reference.
 *
 * References 0 to 7 are never handed out (Xen reserves them for the
 * console and xenstore rings).
 */
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include "gnt_internal.h"

#define VEXT_GNT_HOST_FIRST_REF	8
#define VEXT_GNT_HOST_MAX_REFS	(VEXT_GNT_MAX_FRAMES * VEXT_GNT_ENTRIES_PER_FRAME)

struct vext_gnt_dom *vext_gnt_host;

/* The flags/domid word of an entry (little-endian halves, as in table.c). */
union vext_gnt_host_hdr {
	u32 word;
	struct {
		u16 flags;
		u16 domid;
	} f;
};

static u32 *vext_gnt_host_word(u32 ref)
{
	return (u32 *)vext_gnt_entry(vext_gnt_host, ref);
}

int vext_gnt_host_init(void)
{
	struct vext_gnt_dom *gd = vext_gnt_dom_alloc(0, NULL);

	if (!gd)
		return -ENOMEM;
	gd->host = true;
	gd->hrefs = bitmap_zalloc(VEXT_GNT_HOST_MAX_REFS, GFP_KERNEL);
	if (!gd->hrefs) {
		vext_gnt_dom_put(gd);
		return -ENOMEM;
	}
	bitmap_set(gd->hrefs, 0, VEXT_GNT_HOST_FIRST_REF);
	vext_gnt_host = gd;
	return 0;
}

/*
 * Module exit: no gntalloc file is open (each pins the module), so every
 * grant was revoked; no VM is left, so no peer still holds one.
 */
void vext_gnt_host_exit(void)
{
	vext_gnt_dom_kill(vext_gnt_host);
	vext_gnt_host = NULL;
}

/**
 * vext_gnt_host_grant() - grant a kernel page of domain 0 to a domain
 * @domid:    the domain allowed to map it
 * @readonly: the grant is read-only
 * @page:     the page; the grant holds a reference until revoked
 * @ref:      out: the grant reference
 *
 * Context: process context, may sleep (the table grows on demand).
 * Return: 0; -ENOSPC when every reference is in use; -ENOMEM.
 */
int vext_gnt_host_grant(u16 domid, bool readonly, struct page *page, u32 *ref)
{
	struct vext_gnt_dom *gd = vext_gnt_host;
	union vext_gnt_host_hdr h = { .f = {
		.flags = VEXT_GTF_permit_access | (readonly ? VEXT_GTF_readonly : 0),
		.domid = domid,
	} };
	unsigned long r;
	int ret;

	mutex_lock(&gd->lock);
	r = find_next_zero_bit(gd->hrefs, VEXT_GNT_HOST_MAX_REFS,
			       VEXT_GNT_HOST_FIRST_REF);
	if (r >= VEXT_GNT_HOST_MAX_REFS) {
		mutex_unlock(&gd->lock);
		return -ENOSPC;
	}
	set_bit(r, gd->hrefs);
	mutex_unlock(&gd->lock);

	/* Grow the table to hold @r (the frames only ever grow). */
	ret = vext_gnt_setup_table(gd, r / VEXT_GNT_ENTRIES_PER_FRAME + 1);
	if (ret < 0)
		goto out_free;
	get_page(page);
	ret = xa_err(xa_store(&gd->hpages, r, page, GFP_KERNEL));
	if (ret) {
		put_page(page);
		goto out_free;
	}
	vext_gnt_entry(gd, r)->frame = (u32)page_to_pfn(page);
	spin_lock(&gd->active_lock);
	/* The frame and the page are in place before the entry says so. */
	smp_wmb();
	WRITE_ONCE(*vext_gnt_host_word(r), h.word);
	spin_unlock(&gd->active_lock);
	*ref = r;
	return 0;

out_free:
	clear_bit(r, gd->hrefs);
	return ret;
}

/**
 * vext_gnt_host_revoke() - end a grant made by vext_gnt_host_grant()
 * @ref: the grant reference
 *
 * No new map of @ref succeeds afterwards. A peer that still maps it keeps
 * its page reference; @ref is reused only once the last peer let go.
 *
 * Context: process context.
 */
void vext_gnt_host_revoke(u32 ref)
{
	struct vext_gnt_dom *gd = vext_gnt_host;
	union vext_gnt_host_hdr h;
	struct page *page;

	page = xa_erase(&gd->hpages, ref);
	if (WARN_ON_ONCE(!page))
		return;
	spin_lock(&gd->active_lock);
	h.word = READ_ONCE(*vext_gnt_host_word(ref));
	/* Users keep only their GTF_reading/GTF_writing bits. */
	h.f.flags &= VEXT_GTF_reading | VEXT_GTF_writing;
	WRITE_ONCE(*vext_gnt_host_word(ref), h.f.flags ? h.word : 0);
	if (!h.f.flags)
		clear_bit(ref, gd->hrefs);
	spin_unlock(&gd->active_lock);
	put_page(page);
}

/*
 * The last user of host grant @ref let go (gd->active_lock held): a
 * revoked reference becomes free.
 */
void vext_gnt_host_release(struct vext_gnt_dom *gd, u32 ref)
{
	u32 *w = (u32 *)vext_gnt_entry(gd, ref);
	union vext_gnt_host_hdr h = { .word = READ_ONCE(*w) };

	if ((h.f.flags & VEXT_GTF_type_mask) != VEXT_GTF_permit_access) {
		WRITE_ONCE(*w, 0);
		clear_bit(ref, gd->hrefs);
	}
}

/*
 * The page of host grant @ref, with a reference, for a peer that acquired
 * the grant. Return: a VEXT_GNTST_* status.
 */
int vext_gnt_host_resolve(struct vext_gnt_dom *gd, u32 ref,
			  struct page **pagep)
{
	struct page *page;

	xa_lock(&gd->hpages);
	page = xa_load(&gd->hpages, ref);
	if (page)
		get_page(page);
	xa_unlock(&gd->hpages);
	if (!page)
		return VEXT_GNTST_bad_page;	/* revoked meanwhile */
	*pagep = page;
	return VEXT_GNTST_okay;
}

/*
 * Count @n more against @a's own limit only. Unsigned arithmetic that
 * cannot wrap: an @n close to 2^32 must not come round to below the limit.
 */
static bool vext_gnt_charge_one(struct vext_gnt_acct *a, unsigned int n)
{
	unsigned int limit = READ_ONCE(*a->limit);
	int old = atomic_read(&a->used);

	do {
		if (n > limit || (unsigned int)old > limit - n)
			return false;
	} while (!atomic_try_cmpxchg(&a->used, &old, (int)((unsigned int)old + n)));
	return true;
}

/**
 * vext_gnt_charge() - count @n more grants against a limit and its parent
 * @a: the count
 * @n: how many
 *
 * Return: true if every limit on the way holds them; false (nothing
 * charged) otherwise.
 */
bool vext_gnt_charge(struct vext_gnt_acct *a, unsigned int n)
{
	struct vext_gnt_acct *p;

	for (p = a; p; p = p->parent) {
		if (!vext_gnt_charge_one(p, n)) {
			for (; a != p; a = a->parent)
				atomic_sub(n, &a->used);
			return false;
		}
	}
	return true;
}

/* Undo vext_gnt_charge(). */
void vext_gnt_uncharge(struct vext_gnt_acct *a, unsigned int n)
{
	for (; a; a = a->parent)
		atomic_sub(n, &a->used);
}
