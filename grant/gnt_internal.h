/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext_gnt internals shared by main.c, table.c and map.c. Other modules
 * use include/vext/gnt.h.
 *
 * Objects and their lifetimes:
 *  - struct vext_gnt_dom: a domain's grant state (its table, physmap
 *    overrides, active-grant counts). Created with the VM, referenced by
 *    the VM and by every mapping of one of its grants, so a granting VM
 *    that goes away leaves its pages pinned (and its table readable)
 *    until the last peer unmaps. Marked dead when the VM is destroyed:
 *    lookups by domid then fail, as core no longer finds the VM.
 *  - struct vext_gnt_maptrack: the handles of a mapping domain.
 *  - struct vext_gnt_map: one mapped grant, referenced by its handle and
 *    by every VMA that maps it; the last reference unpins the page and
 *    clears GTF_reading/GTF_writing if it was the grant's last user.
 *
 *  - domain 0 (the host) has a vext_gnt_dom too, owned by the module,
 *    with no VM and no mm: its entries are written only by the kernel
 *    (host.c, for gntalloc) and grant kernel pages, kept in @hpages.
 *
 * Locks (outermost first):
 *  - the caller's mmap lock (mmap, VMA close)
 *  - vext_gntdev_file.lock, vext_gntalloc_file.lock (gntdev.c, gntalloc.c)
 *  - vext_gnt_maptrack.lock: handles; held by mmap while it takes (only
 *    with a trylock) the granter's mmap lock for a deferred pin
 *  - vext_gnt_dom.lock: table growth, physmap; never held across a
 *    page-table walk or an mmap lock
 *  - vext_gnt_dom.active_lock (spinlock): active counts and the updates of
 *    GTF_reading/GTF_writing
 *  - vext_gnt_doms_lock: the list of domains (debugfs)
 * A grant op never holds a maptrack or domain lock while it pins a page.
 */
#ifndef _VEXT_GNT_INTERNAL_H
#define _VEXT_GNT_INTERNAL_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/kref.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>
#include <vext/core.h>
#include <vext/gnt.h>

/**
 * struct vext_gnt_acct - a count of grants held against a limit
 * @used:   grants held
 * @limit:  the limit (a module parameter, read at each charge)
 * @parent: a further count charged with this one (the global one), or NULL
 */
struct vext_gnt_acct {
	atomic_t used;
	const unsigned int *limit;
	struct vext_gnt_acct *parent;
};

/* A physmap override that removes whatever was at a gpfn. */
#define VEXT_GNT_HOLE		(~0UL >> 2)
#define VEXT_GNT_NO_GPFN	U64_MAX

/**
 * struct vext_gnt_maptrack - a mapping domain's handles
 * @lock:       protects everything below
 * @domid:      the domain the ops are performed as
 * @index_base: mmap offset of handle 0 (VM fd: VEXT_GNT_MAP_OFFSET)
 * @maps:       handle -> struct vext_gnt_map
 * @used:       bitmap of VEXT_GNT_MAX_HANDLES handles, mapped or reserved
 *              by a batch in progress; allocated on first use
 * @next:       where the next search for free handles starts
 */
struct vext_gnt_maptrack {
	struct mutex lock;	/* @maps, @used, @next */
	u16 domid;
	u64 index_base;
	struct xarray maps;
	unsigned long *used;
	unsigned int next;
};

/**
 * struct vext_gnt_active - the users of one grant
 * @readers: read-only users
 * @writers: writable users
 */
struct vext_gnt_active {
	u32 readers;
	u32 writers;
};

/**
 * struct vext_gnt_dom - one domain's grant state
 * @kref:          the VM holds one reference, every mapping and in-flight
 *                 fault-in another
 * @node:          on vext_gnt_doms
 * @domid:         the domain
 * @mm:            the granting VMM's mm (mmgrab()ed): pinned pages come
 *                 from it
 * @lock:          table growth, @frame_gpfn, @physmap updates
 * @nr_frames:     table frames; only grows; read with smp_load_acquire()
 * @frames:        the table's pages
 * @frame_gpfn:    where each frame is in the physmap, or VEXT_GNT_NO_GPFN
 * @physmap:       gpfn -> xa_mk_value(frame index or VEXT_GNT_HOLE);
 *                 everything else resolves through the VM's memory slots
 * @active_lock:   protects @active and @nr_active
 * @active:        per frame, the users of each grant: those that set
 *                 GTF_reading/GTF_writing (Xen's active grant table)
 * @nr_active:     grants with users
 * @faulting:      page numbers of addresses with a fault-in in flight
 * @nr_faulting:   its size, bounded by VEXT_GNT_MAX_FAULTIN
 * @inject_eagain: the next this many pins answer eagain (debugfs)
 * @mt:            the handles of this domain's own mappings
 * @dead:          the VM is gone
 * @host:          domain 0: no VM, no mm, the entries are the kernel's
 * @hpages:        domain 0: grant ref -> the granted kernel page
 * @hrefs:         domain 0: bitmap of refs in use (granted, or revoked
 *                 while a peer still uses them)
 */
struct vext_gnt_dom {
	struct kref kref;
	struct list_head node;
	u16 domid;
	struct mm_struct *mm;
	struct mutex lock;	/* table growth, physmap */
	unsigned int nr_frames;
	struct page *frames[VEXT_GNT_MAX_FRAMES];
	u64 frame_gpfn[VEXT_GNT_MAX_FRAMES];
	struct xarray physmap;
	spinlock_t active_lock;	/* @active, @nr_active, flag updates */
	struct vext_gnt_active *active[VEXT_GNT_MAX_FRAMES];
	unsigned long nr_active;
	struct xarray faulting;
	atomic_t nr_faulting;
	atomic_t inject_eagain;
	struct vext_gnt_maptrack mt;
	bool dead;
	bool host;
	struct xarray hpages;
	unsigned long *hrefs;
};

/**
 * struct vext_gnt_map - one mapped grant
 * @refs:         the handle holds one, every VMA mapping it another
 * @granter:      the granting domain (reference held)
 * @ref:          the grant reference
 * @flags:        VEXT_GNTMAP_* of the MAP op
 * @kpage:        @page is a kernel page (a grant table frame or a page
 *                granted by domain 0): a page reference, not a pin
 * @failed:       a deferred pin gave up: mmap fails with EFAULT
 * @notify:       clear the byte at @notify_off of the page when the map
 *                goes (gntdev's UNMAP_NOTIFY_CLEAR_BYTE)
 * @notify_off:   offset of that byte in the page
 * @acct:         uncharged by one when the map goes, or NULL
 * @page:         the page; NULL until a deferred map is pinned by mmap
 * @hva:          the granter's address of the page, for a deferred pin
 * @eagain_since: jiffies of a deferred pin's first eagain, 0 if none
 */
struct vext_gnt_map {
	refcount_t refs;
	struct vext_gnt_dom *granter;
	u32 ref;
	u16 flags;
	bool kpage;
	bool failed;
	bool notify;
	u16 notify_off;
	struct vext_gnt_acct *acct;
	struct page *page;
	unsigned long hva;
	unsigned long eagain_since;
};

/* Fault-ins in flight per granting domain. */
#define VEXT_GNT_MAX_FAULTIN	64

extern struct vext_component vext_gnt_comp;
extern unsigned int vext_gnt_eagain_timeout_ms;

/* table.c */
struct vext_gnt_dom *vext_gnt_dom_alloc(u16 domid, struct mm_struct *mm);
struct vext_gnt_dom *vext_gnt_dom_create(struct vext_vm *vm);
void vext_gnt_dom_kill(struct vext_gnt_dom *gd);
void vext_gnt_dom_get(struct vext_gnt_dom *gd);
void vext_gnt_dom_put(struct vext_gnt_dom *gd);
struct vext_gnt_dom *vext_gnt_dom_lookup(u16 domid, struct vext_vm **vmp);
int vext_gnt_setup_table(struct vext_gnt_dom *gd, u32 nr_frames);
int vext_gnt_table_mmap(struct vext_gnt_dom *gd, struct vm_area_struct *vma);
int vext_gnt_add_to_physmap(struct vext_vm *vm, struct vext_gnt_dom *gd,
			    const struct vext_add_to_physmap *xatp);
int vext_gnt_remove_from_physmap(struct vext_vm *vm, struct vext_gnt_dom *gd,
				 const struct vext_remove_from_physmap *xrfp);
struct vext_grant_entry_v1 *vext_gnt_entry(struct vext_gnt_dom *gd, u32 ref);
int vext_gnt_acquire(struct vext_gnt_dom *gd, u32 ref, u16 domid, bool write,
		     u32 *gpfn);
void vext_gnt_release(struct vext_gnt_dom *gd, u32 ref, bool write);
int vext_gnt_resolve(struct vext_vm *vm, struct vext_gnt_dom *gd, u32 gpfn,
		     bool write, struct page **table_page, unsigned long *hva);
void vext_gnt_debugfs_init(struct dentry *dir);

static inline void vext_gnt_acct_init(struct vext_gnt_acct *a,
				      const unsigned int *limit,
				      struct vext_gnt_acct *parent)
{
	atomic_set(&a->used, 0);
	a->limit = limit;
	a->parent = parent;
}

/* host.c */
extern struct vext_gnt_dom *vext_gnt_host;
int vext_gnt_host_init(void);
void vext_gnt_host_exit(void);
int vext_gnt_host_grant(u16 domid, bool readonly, struct page *page, u32 *ref);
void vext_gnt_host_revoke(u32 ref);
int vext_gnt_host_resolve(struct vext_gnt_dom *gd, u32 ref,
			  struct page **pagep);
void vext_gnt_host_release(struct vext_gnt_dom *gd, u32 ref);
bool vext_gnt_charge(struct vext_gnt_acct *a, unsigned int n);
void vext_gnt_uncharge(struct vext_gnt_acct *a, unsigned int n);

/* gntdev.c, gntalloc.c */
extern const struct file_operations vext_gntalloc_fops;
int vext_gntdev_init(void);
void vext_gntdev_exit(void);
long vext_gntdev_bind(struct vext_vm *vm, int fd);

/* map.c */
void vext_gnt_maptrack_init(struct vext_gnt_maptrack *mt, u16 domid,
			    u64 index_base);
void vext_gnt_maptrack_fini(struct vext_gnt_maptrack *mt);
int vext_gnt_wq_init(void);
void vext_gnt_wq_exit(void);
bool vext_gnt_vma_is_grant(struct vm_area_struct *vma);
unsigned int vext_gnt_handles_charge(struct vext_gnt_maptrack *mt, u32 first,
				     u32 n, struct vext_gnt_acct *acct);
int vext_gnt_handle_notify(struct vext_gnt_maptrack *mt, u32 handle,
			   int offset);

#endif /* _VEXT_GNT_INTERNAL_H */
