// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_gnt: per-domain grant tables, their physmap and the grant entries'
 * GTF_reading/GTF_writing protocol.
 *
 * The table is an array of kernel pages in Xen's v1 layout, mapped shared
 * into the VMM, which (or whose guest) writes entries without a syscall.
 * vext reads an entry only through the 32-bit word holding its flags and
 * domid, and sets GTF_reading/GTF_writing with cmpxchg on that word, so a
 * concurrent change by the granter (revoking, retargeting) is either seen
 * before the flags are set or makes the cmpxchg fail; like QEMU, a map
 * gives up after a few failed attempts (general_error) so that a hostile
 * granter cannot livelock it. The frame is read after the flags are set:
 * from then on the granter must leave the entry alone (Xen's protocol).
 */
#include <linux/debugfs.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "gnt_internal.h"

/* cmpxchg attempts on an entry's flags before a map gives up (QEMU: 5). */
#define VEXT_GNT_FLAG_TRIES	5

/* All domain objects, live or kept alive by mappings (debugfs). */
static DEFINE_MUTEX(vext_gnt_doms_lock);
static LIST_HEAD(vext_gnt_doms);

/* The flags/domid word of an entry, with both halves at their offsets. */
union vext_gnt_hdr {
	u32 word;
	struct {
		u16 flags;
		u16 domid;
	} f;
};

static u32 vext_gnt_flags_word(u16 flags)
{
	union vext_gnt_hdr h = { .f = { .flags = flags } };

	return h.word;
}

/* Caller checked @ref < nr_frames * VEXT_GNT_ENTRIES_PER_FRAME. */
struct vext_grant_entry_v1 *vext_gnt_entry(struct vext_gnt_dom *gd, u32 ref)
{
	struct vext_grant_entry_v1 *e;

	e = page_address(gd->frames[ref / VEXT_GNT_ENTRIES_PER_FRAME]);
	return e + ref % VEXT_GNT_ENTRIES_PER_FRAME;
}

static u32 *vext_gnt_hdr_word(struct vext_grant_entry_v1 *e)
{
	return (u32 *)e;
}

/* A domain's grant state; @mm (grabbed here) is NULL for domain 0. */
struct vext_gnt_dom *vext_gnt_dom_alloc(u16 domid, struct mm_struct *mm)
{
	struct vext_gnt_dom *gd;
	unsigned int i;

	gd = kzalloc(sizeof(*gd), GFP_KERNEL_ACCOUNT);
	if (!gd)
		return NULL;
	kref_init(&gd->kref);
	gd->domid = domid;
	gd->mm = mm;
	if (mm)
		mmgrab(mm);
	mutex_init(&gd->lock);
	for (i = 0; i < VEXT_GNT_MAX_FRAMES; i++)
		gd->frame_gpfn[i] = VEXT_GNT_NO_GPFN;
	xa_init(&gd->physmap);
	spin_lock_init(&gd->active_lock);
	xa_init(&gd->faulting);
	xa_init(&gd->hpages);
	vext_gnt_maptrack_init(&gd->mt, domid, VEXT_GNT_MAP_OFFSET);

	mutex_lock(&vext_gnt_doms_lock);
	list_add_tail(&gd->node, &vext_gnt_doms);
	mutex_unlock(&vext_gnt_doms_lock);
	return gd;
}

struct vext_gnt_dom *vext_gnt_dom_create(struct vext_vm *vm)
{
	return vext_gnt_dom_alloc(vm->domid, vm->mm);
}

static void vext_gnt_dom_free(struct kref *kref)
{
	struct vext_gnt_dom *gd = container_of(kref, struct vext_gnt_dom, kref);
	unsigned int i;

	mutex_lock(&vext_gnt_doms_lock);
	list_del(&gd->node);
	mutex_unlock(&vext_gnt_doms_lock);

	/* Every user of an active grant holds a reference. */
	WARN_ON_ONCE(gd->nr_active);
	for (i = 0; i < gd->nr_frames; i++) {
		__free_page(gd->frames[i]);
		kfree(gd->active[i]);
	}
	xa_destroy(&gd->physmap);
	xa_destroy(&gd->faulting);
	/* Domain 0: every granted page was revoked (host.c). */
	WARN_ON_ONCE(!xa_empty(&gd->hpages));
	xa_destroy(&gd->hpages);
	bitmap_free(gd->hrefs);
	if (gd->mm)
		mmdrop(gd->mm);
	mutex_destroy(&gd->lock);
	kfree(gd);
}

void vext_gnt_dom_get(struct vext_gnt_dom *gd)
{
	kref_get(&gd->kref);
}

/* May sleep; never call with a maptrack or domain lock held. */
void vext_gnt_dom_put(struct vext_gnt_dom *gd)
{
	kref_put(&gd->kref, vext_gnt_dom_free);
}

/*
 * The VM is being freed: drop what it mapped, then its own reference.
 * What others mapped of its grants stays until they unmap.
 */
void vext_gnt_dom_kill(struct vext_gnt_dom *gd)
{
	vext_gnt_maptrack_fini(&gd->mt);
	mutex_lock(&gd->lock);
	gd->dead = true;
	mutex_unlock(&gd->lock);
	vext_gnt_dom_put(gd);
}

/*
 * The grant state of live domain @domid, with a reference, and the VM with
 * a reference in *@vmp (both to be put by the caller; *@vmp is NULL for
 * domain 0, the host). NULL if no live VM has that domid or vext_gnt is
 * not attached to it.
 */
struct vext_gnt_dom *vext_gnt_dom_lookup(u16 domid, struct vext_vm **vmp)
{
	struct vext_gnt_dom *gd = NULL;
	struct vext_vm *vm;

	if (!domid) {
		vext_gnt_dom_get(vext_gnt_host);
		*vmp = NULL;
		return vext_gnt_host;
	}
	vm = vext_vm_get_by_domid(domid);
	if (!vm)
		return NULL;
	/* The slot may hold another component's data in an older VM. */
	if (vm->comp[vext_gnt_comp.id] == &vext_gnt_comp)
		gd = vext_vm_data(vm, &vext_gnt_comp);
	if (!gd) {
		vext_vm_put(vm);
		return NULL;
	}
	vext_gnt_dom_get(gd);
	*vmp = vm;
	return gd;
}

/* VEXT_GNT_SETUP_TABLE: grow the table; the new frames are zeroed. */
int vext_gnt_setup_table(struct vext_gnt_dom *gd, u32 nr_frames)
{
	unsigned int i, cur;
	int ret;

	if (!nr_frames || nr_frames > VEXT_GNT_MAX_FRAMES)
		return -EINVAL;

	mutex_lock(&gd->lock);
	cur = gd->nr_frames;
	for (i = cur; i < nr_frames; i++) {
		gd->frames[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		gd->active[i] = kcalloc(VEXT_GNT_ENTRIES_PER_FRAME,
					sizeof(*gd->active[i]), GFP_KERNEL_ACCOUNT);
		if (!gd->frames[i] || !gd->active[i]) {
			do {
				if (gd->frames[i])
					__free_page(gd->frames[i]);
				kfree(gd->active[i]);
				gd->frames[i] = NULL;
				gd->active[i] = NULL;
			} while (i-- > cur);
			ret = -ENOMEM;
			goto out;
		}
	}
	if (nr_frames > cur)
		/* Pages complete before the size: pairs with lockless readers. */
		smp_store_release(&gd->nr_frames, nr_frames);
	ret = max(cur, nr_frames);
out:
	mutex_unlock(&gd->lock);
	return ret;
}

/* mmap of table frames on the VM fd: shared, within the current size. */
int vext_gnt_table_mmap(struct vext_gnt_dom *gd, struct vm_area_struct *vma)
{
	unsigned long first = vma->vm_pgoff - (VEXT_GNT_TABLE_OFFSET >> PAGE_SHIFT);
	unsigned long i, n = vma_pages(vma);
	unsigned int nr_frames;
	int ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* Acquire: pairs with the release in vext_gnt_setup_table(). */
	nr_frames = smp_load_acquire(&gd->nr_frames);
	if (first >= nr_frames || n > nr_frames - first)
		return -EINVAL;

	/*
	 * Not inherited by fork(): like the VM fd's ioctls, writing grants
	 * stays with the process that created the VM.
	 */
	vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
	for (i = 0; i < n; i++) {
		ret = vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
				     gd->frames[first + i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Only the VM itself may change its physmap (Xen's XSM check). */
static int vext_gnt_physmap_perm(struct vext_gnt_dom *gd, u16 domid)
{
	return domid == VEXT_DOMID_SELF || domid == gd->domid ? 0 : -EPERM;
}

/* Forget where frame @idx was placed; gd->lock held. */
static void vext_gnt_unplace_frame(struct vext_gnt_dom *gd, unsigned int idx)
{
	if (gd->frame_gpfn[idx] != VEXT_GNT_NO_GPFN)
		xa_erase(&gd->physmap, gd->frame_gpfn[idx]);
	gd->frame_gpfn[idx] = VEXT_GNT_NO_GPFN;
}

/* What was at @gpfn goes; a grant table frame there is unplaced. */
static void vext_gnt_clear_gpfn(struct vext_gnt_dom *gd, u64 gpfn)
{
	void *old = xa_load(&gd->physmap, gpfn);

	if (xa_is_value(old) && xa_to_value(old) != VEXT_GNT_HOLE)
		gd->frame_gpfn[xa_to_value(old)] = VEXT_GNT_NO_GPFN;
}

int vext_gnt_add_to_physmap(struct vext_vm *vm, struct vext_gnt_dom *gd,
			    const struct vext_add_to_physmap *xatp)
{
	unsigned int idx;
	void *old;
	int ret;

	if (xatp->pad0)
		return -EINVAL;
	ret = vext_gnt_physmap_perm(gd, xatp->domid);
	if (ret)
		return ret;
	if (xatp->space != VEXT_MAPSPACE_grant_table || xatp->gpfn > U32_MAX)
		return -EINVAL;

	mutex_lock(&gd->lock);
	if (xatp->idx >= gd->nr_frames) {
		ret = -EINVAL;
		goto out;
	}
	idx = array_index_nospec(xatp->idx, VEXT_GNT_MAX_FRAMES);
	/*
	 * Store first: a store that cannot allocate changes nothing, so the
	 * frame stays where it was. Then forget what the gpfn held and the
	 * frame's old placement (unless it is this very gpfn).
	 */
	old = xa_store(&gd->physmap, xatp->gpfn, xa_mk_value(idx), GFP_KERNEL_ACCOUNT);
	ret = xa_err(old);
	if (ret)
		goto out;
	if (xa_is_value(old) && xa_to_value(old) != VEXT_GNT_HOLE &&
	    xa_to_value(old) != idx)
		gd->frame_gpfn[xa_to_value(old)] = VEXT_GNT_NO_GPFN;
	if (gd->frame_gpfn[idx] != xatp->gpfn)
		vext_gnt_unplace_frame(gd, idx);
	gd->frame_gpfn[idx] = xatp->gpfn;
out:
	mutex_unlock(&gd->lock);
	return ret;
}

int vext_gnt_remove_from_physmap(struct vext_vm *vm, struct vext_gnt_dom *gd,
				 const struct vext_remove_from_physmap *xrfp)
{
	u64 hva;
	void *old;
	int ret;

	if (xrfp->pad0 || xrfp->pad1)
		return -EINVAL;
	ret = vext_gnt_physmap_perm(gd, xrfp->domid);
	if (ret)
		return ret;
	if (xrfp->gpfn > U32_MAX)
		return -EINVAL;

	mutex_lock(&gd->lock);
	old = xa_load(&gd->physmap, xrfp->gpfn);
	if (!old && vext_vm_gpa_to_hva(vm, xrfp->gpfn << PAGE_SHIFT, &hva,
				       false)) {
		ret = -ENOENT;		/* nothing there */
		goto out;
	}
	if (xa_is_value(old) && xa_to_value(old) == VEXT_GNT_HOLE) {
		ret = -ENOENT;		/* removed already */
		goto out;
	}
	vext_gnt_clear_gpfn(gd, xrfp->gpfn);
	ret = xa_err(xa_store(&gd->physmap, xrfp->gpfn,
			      xa_mk_value(VEXT_GNT_HOLE), GFP_KERNEL_ACCOUNT));
out:
	mutex_unlock(&gd->lock);
	return ret;
}

/*
 * Resolve a granted gpfn: a grant table frame placed there (*@table_page,
 * with a page reference) or an address in the granter's mm (*@hva).
 * Return: a VEXT_GNTST_* status.
 */
int vext_gnt_resolve(struct vext_vm *vm, struct vext_gnt_dom *gd, u32 gpfn,
		     bool write, struct page **table_page, unsigned long *hva)
{
	void *entry;
	u64 addr;
	int ret;

	*table_page = NULL;
	xa_lock(&gd->physmap);
	entry = xa_load(&gd->physmap, gpfn);
	if (xa_is_value(entry) && xa_to_value(entry) != VEXT_GNT_HOLE) {
		*table_page = gd->frames[xa_to_value(entry)];
		get_page(*table_page);
	}
	xa_unlock(&gd->physmap);
	if (*table_page)
		return VEXT_GNTST_okay;
	if (entry)
		return VEXT_GNTST_bad_page;	/* removed from the physmap */

	ret = vext_vm_gpa_to_hva(vm, (u64)gpfn << PAGE_SHIFT, &addr, write);
	if (ret == -EPERM)
		return VEXT_GNTST_permission_denied;	/* read-only slot */
	if (ret)
		return VEXT_GNTST_bad_page;
	*hva = addr;
	return VEXT_GNTST_okay;
}

/* The users of grant @ref (< the table's size). */
static struct vext_gnt_active *vext_gnt_active(struct vext_gnt_dom *gd, u32 ref)
{
	return &gd->active[ref / VEXT_GNT_ENTRIES_PER_FRAME]
			  [ref % VEXT_GNT_ENTRIES_PER_FRAME];
}

/*
 * Clear @bits of an entry's flags: one atomic AND, whatever the granter
 * does to the word meanwhile. Our accesses to the page (a copy, the last
 * unpin) come first: the granter may reuse the page once it sees them
 * clear.
 */
static void vext_gnt_clear_flags(struct vext_grant_entry_v1 *e, u16 bits)
{
	/* Full barrier: the page accesses are done before the bits clear. */
	smp_mb__before_atomic();
	atomic_andnot(vext_gnt_flags_word(bits), (atomic_t *)vext_gnt_hdr_word(e));
}

/*
 * Check grant @ref of @gd for a use by domain @domid (@write: writable)
 * and account the use: GTF_reading (and GTF_writing) set in the entry.
 * On success *@gpfn is the granted frame.
 * Return: a VEXT_GNTST_* status.
 */
int vext_gnt_acquire(struct vext_gnt_dom *gd, u32 ref, u16 domid, bool write,
		     u32 *gpfn)
{
	u16 set = VEXT_GTF_reading | (write ? VEXT_GTF_writing : 0);
	struct vext_grant_entry_v1 *e;
	struct vext_gnt_active *act;
	union vext_gnt_hdr old, new;
	unsigned int tries, nr;
	int ret = VEXT_GNTST_okay;
	u32 *w;

	/* Acquire: the frames and counts are there before the size says so. */
	nr = smp_load_acquire(&gd->nr_frames) * VEXT_GNT_ENTRIES_PER_FRAME;
	if (ref >= nr)
		return VEXT_GNTST_bad_gntref;
	ref = array_index_nospec(ref, nr);
	e = vext_gnt_entry(gd, ref);
	w = vext_gnt_hdr_word(e);
	act = vext_gnt_active(gd, ref);

	spin_lock(&gd->active_lock);
	old.word = READ_ONCE(*w);
	for (tries = 0; ; tries++) {
		if ((old.f.flags & VEXT_GTF_type_mask) != VEXT_GTF_permit_access ||
		    old.f.domid != domid ||
		    (write && (old.f.flags & VEXT_GTF_readonly))) {
			ret = VEXT_GNTST_permission_denied;
			goto out;
		}
		new.word = old.word;
		new.f.flags |= set;
		if (new.word == old.word)
			break;
		if (tries == VEXT_GNT_FLAG_TRIES) {
			ret = VEXT_GNTST_general_error;	/* unstable flags */
			goto out;
		}
		new.word = cmpxchg(w, old.word, new.word);
		if (new.word == old.word)
			break;
		old.word = new.word;
	}
	if (!act->readers && !act->writers)
		gd->nr_active++;
	if (write)
		act->writers++;
	else
		act->readers++;
out:
	spin_unlock(&gd->active_lock);
	/* Read the frame only once the flags say it is in use. */
	smp_mb();
	*gpfn = READ_ONCE(e->frame);
	return ret;
}

/* Undo one vext_gnt_acquire(); the last user clears the entry's flags. */
void vext_gnt_release(struct vext_gnt_dom *gd, u32 ref, bool write)
{
	struct vext_gnt_active *act = vext_gnt_active(gd, ref);
	u16 clear = 0;

	spin_lock(&gd->active_lock);
	if (WARN_ON_ONCE(write ? !act->writers : !act->readers))
		goto out;
	if (write)
		act->writers--;
	else
		act->readers--;
	if (write && !act->writers)
		clear |= VEXT_GTF_writing;
	if (!act->readers && !act->writers) {
		clear |= VEXT_GTF_reading;
		gd->nr_active--;
	}
	if (clear)
		vext_gnt_clear_flags(vext_gnt_entry(gd, ref), clear);
	if (gd->host && !act->readers && !act->writers)
		vext_gnt_host_release(gd, ref);
out:
	spin_unlock(&gd->active_lock);
}

/* ---- debugfs ------------------------------------------------------- */

/*
 * vext/gnt/domains: every domain object, including those of destroyed VMs
 * kept alive by mappings ("dead"): frames, active grants, handles mapped.
 */
static int vext_gnt_domains_show(struct seq_file *m, void *unused)
{
	struct vext_gnt_dom *gd;

	seq_puts(m, "domid frames active maps dead\n");
	mutex_lock(&vext_gnt_doms_lock);
	list_for_each_entry(gd, &vext_gnt_doms, node) {
		unsigned long idx, active, maps = 0;
		unsigned int nr_frames;
		void *entry;

		spin_lock(&gd->active_lock);
		active = gd->nr_active;
		spin_unlock(&gd->active_lock);
		xa_for_each(&gd->mt.maps, idx, entry)
			maps++;
		/* Acquire: pairs with the release in vext_gnt_setup_table(). */
		nr_frames = smp_load_acquire(&gd->nr_frames);
		seq_printf(m, "%5u %6u %6lu %4lu %4u\n", gd->domid,
			   nr_frames, active, maps,
			   READ_ONCE(gd->dead));
	}
	mutex_unlock(&vext_gnt_doms_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vext_gnt_domains);

/*
 * vext/gnt/inject_eagain: write "DOMID N" to make the next N pins of
 * pages granted by live domain DOMID answer eagain (N = 0 cancels); reads
 * list the domains with injections pending.
 */
static ssize_t vext_gnt_inject_write(struct file *file, const char __user *ubuf,
				     size_t len, loff_t *ppos)
{
	struct vext_gnt_dom *gd;
	unsigned int domid, n;
	struct vext_vm *vm;
	char buf[32];

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%u %u", &domid, &n) != 2 || domid > U16_MAX ||
	    n > INT_MAX)
		return -EINVAL;
	gd = vext_gnt_dom_lookup(domid, &vm);
	if (!gd)
		return -ESRCH;
	atomic_set(&gd->inject_eagain, n);
	vext_gnt_dom_put(gd);
	if (vm)
		vext_vm_put(vm);
	return len;
}

static int vext_gnt_inject_show(struct seq_file *m, void *unused)
{
	struct vext_gnt_dom *gd;

	mutex_lock(&vext_gnt_doms_lock);
	list_for_each_entry(gd, &vext_gnt_doms, node) {
		int n = atomic_read(&gd->inject_eagain);

		if (n)
			seq_printf(m, "%u %d\n", gd->domid, n);
	}
	mutex_unlock(&vext_gnt_doms_lock);
	return 0;
}

static int vext_gnt_inject_open(struct inode *inode, struct file *file)
{
	return single_open(file, vext_gnt_inject_show, NULL);
}

static const struct file_operations vext_gnt_inject_fops = {
	.owner		= THIS_MODULE,
	.open		= vext_gnt_inject_open,
	.read		= seq_read,
	.write		= vext_gnt_inject_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

void vext_gnt_debugfs_init(struct dentry *dir)
{
	debugfs_create_file("domains", 0444, dir, NULL, &vext_gnt_domains_fops);
	debugfs_create_file("inject_eagain", 0600, dir, NULL,
			    &vext_gnt_inject_fops);
}
