// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzer table of vext_gnt's Xen-compatible devices: gntdev fds
 * (/dev/vext-gntdev) and gntalloc fds (/dev/vext-gntalloc) with their
 * ioctls (the ABI of the installed <xen/gntdev.h> and <xen/gntalloc.h>),
 * mmap of their pages, VEXT_GNT_BIND_DEVICE of a gntdev fd to a VM; and
 * their failslab scenarios. A module of its own for the engine, on the
 * same kernel module as fuzz/gnt.c (loaded after it: its ioctl number,
 * 0x64, is in gnt's range) and granting gnt's memory (fuzz/gnt.h).
 *
 * Grants are real: ops write entries of live VMs granting to the gntdev
 * fd's domain (0, or its VM once bound) and map them, gntalloc grants to
 * live VMs, which map the pages back through their VM fds by domid 0.
 * Records and allocations are remembered per fd (hints for offsets),
 * counts go to and past the caps, which are lowered while fuzzing
 * (gntdev_max_per_open 48, gntdev_max_total 160, gntalloc_max_per_open
 * 24, gntalloc_max_total 96), refs and domids are real or bogus, GRANT_COPY
 * batches mix good and bad segments and buffers across the 64-segment
 * rounds.
 *
 * Invariants beyond the errnos of Documentation/api.rst section 8:
 *  - a count past a cap, unknown flags, a domid past 65535, an unaligned
 *    index, a bad segment fail as the rules say; SEND_EVENT is EOPNOTSUPP;
 *  - EFAULT only for pointers that are bad (or for results that the
 *    _IOC_NONE commands write to read-only memory);
 *  - a GRANT_COPY stops at its first bad segment: the segments before it
 *    have known statuses, those after it are untouched;
 *  - a grant mmap of the fd's own record succeeds (one thread), answers
 *    GET_OFFSET_FOR_VADDR with its record, cannot be split or grown;
 *    gntalloc pages are shared with the VM that maps their refs;
 *  - with every fd closed domain 0 has no grant in use, and the caps'
 *    counts and domain 0's references are back at zero (stable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/vext.h>
/* Xen's types and GNTCOPY_* flags, which <xen/gntdev.h> expects. */
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/gntdev.h>
#include <xen/gntalloc.h>

#include "fuzz.h"
#include "gnt.h"
#include "vext_pci.h"
#include "vext_test.h"

#define PAGE			4096UL
#define FZ_GD_HINTS		8
#define FZ_GD_MAX_COUNT		65536	/* MAP_GRANT_REF: refs per record */
#define FZ_GD_SEGS		130	/* structured GRANT_COPY, at most */
/*
 * MAP_GRANT_REF and ALLOC_GREF pass the ABI's struct, with one ref or id:
 * the kernel reads the others, or writes them, past it (a bad pointer).
 */
#define FZ_GD_ARG		sizeof(struct ioctl_gntdev_map_grant_ref)
#define FZ_GD_REFS		1
#define FZ_GA_IDS		1
#define FZ_GA_FIRST_REF		8	/* domain 0 never hands out 0-7 */
#define FZ_GA_MAX_REF		(VEXT_GNT_MAX_FRAMES * VEXT_GNT_ENTRIES_PER_FRAME)

static struct fz_module fz_gd_mod;

/*
 * The refs of a MAP_GRANT_REF and the ids of an ALLOC_GREF follow their
 * struct: reached through these, in buffers made big enough.
 */
static struct ioctl_gntdev_grant_ref *fz_refs(void *m)
{
	return (void *)((unsigned char *)m + offsetof(struct ioctl_gntdev_map_grant_ref, refs));
}

static __u32 *fz_ids(void *a)
{
	return (void *)((unsigned char *)a + offsetof(struct ioctl_gntalloc_alloc_gref, gref_ids));
}

/* Room for a MAP_GRANT_REF or ALLOC_GREF of a few (FZ_GD_FEW). */
#define FZ_GD_FEW	4
union fz_gd_few {
	struct ioctl_gntdev_map_grant_ref m;
	struct ioctl_gntalloc_alloc_gref a;
	__u64 room[4 + FZ_GD_FEW];
};

/* The caps while fuzzing, and what they were. */
static const struct {
	const char *name;
	unsigned int val;
} fz_gd_caps[] = {
	{ "gntdev_max_per_open", 48 },
	{ "gntdev_max_total", 160 },
	{ "gntalloc_max_per_open", 24 },
	{ "gntalloc_max_total", 96 },
};

static char fz_gd_saved[4][32];
static unsigned int fz_gd_cap[4];	/* what is in force */

enum { FZ_CAP_DEV_OPEN, FZ_CAP_DEV_TOTAL, FZ_CAP_ALLOC_OPEN, FZ_CAP_ALLOC_TOTAL };

/* ---- the fd types ------------------------------------------------------ */

static int fz_gd_open_node(const char *vext, const char *xen)
{
	int fd = open(vext, O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		fd = open(xen, O_RDWR | O_CLOEXEC);	/* xen_names=1 */
	return fd < 0 ? -errno : fd;
}

static int fz_gd_open(void)
{
	return fz_gd_open_node("/dev/vext-gntdev", "/dev/xen/gntdev");
}

static int fz_ga_open(void)
{
	return fz_gd_open_node("/dev/vext-gntalloc", "/dev/xen/gntalloc");
}

struct fz_fdtype fz_gntdev = { .name = "gntdev", .open = fz_gd_open };
struct fz_fdtype fz_gntalloc = { .name = "gntalloc", .open = fz_ga_open };

/*
 * What the fuzzer knows of a gntdev or gntalloc fd: its records or
 * allocations (index, count; hints), the domain it acts as (gntdev) and
 * whether it mapped or copied (too late to bind).
 */
struct fz_gd {
	pthread_mutex_t lock;
	bool used;
	int domid;			/* gntdev: 0, or the VM's once bound */
	__u64 index[FZ_GD_HINTS];
	__u32 count[FZ_GD_HINTS];
	__u32 ref[FZ_GD_HINTS];		/* gntalloc: the first gref */
	unsigned int nr;
};

static void fz_gd_init(void *data)
{
	struct fz_gd *g = data;

	pthread_mutex_init(&g->lock, NULL);
}

static struct fz_gd *fz_gd(struct fz_obj *obj)
{
	return fz_obj_data(obj, &fz_gd_mod, sizeof(struct fz_gd), fz_gd_init);
}

static void fz_gd_add(struct fz_obj *obj, __u64 index, __u32 count, __u32 ref)
{
	struct fz_gd *g = fz_gd(obj);
	unsigned int i;

	pthread_mutex_lock(&g->lock);
	i = g->nr++ % FZ_GD_HINTS;
	g->index[i] = index;
	g->count[i] = count;
	g->ref[i] = ref;
	g->used = true;
	pthread_mutex_unlock(&g->lock);
}

/* A record or allocation of the fd (probably still there), or random. */
static void fz_gd_pick(struct fz_thread *t, struct fz_obj *obj, __u64 *index,
		       __u32 *count, __u32 *ref)
{
	struct fz_gd *g = obj ? fz_gd(obj) : NULL;
	unsigned int r = fz_below(t, 10);

	*ref = FZ_GA_FIRST_REF + fz_below(t, 16);
	if (g && r < 7) {
		pthread_mutex_lock(&g->lock);
		if (g->nr) {
			unsigned int i = fz_below(t, g->nr < FZ_GD_HINTS ? g->nr : FZ_GD_HINTS);

			*index = g->index[i];
			*count = g->count[i];
			*ref = g->ref[i];
			pthread_mutex_unlock(&g->lock);
			return;
		}
		pthread_mutex_unlock(&g->lock);
	}
	*index = r == 7 ? fz_rand(t) : fz_below(t, 64) * PAGE;
	*count = fz_chance(t, 80) ? 1 + fz_below(t, 4) : fz_rand(t);
}

static int fz_gd_domain(struct fz_obj *obj)
{
	struct fz_gd *g = fz_gd(obj);
	int d;

	pthread_mutex_lock(&g->lock);
	d = g->domid;
	pthread_mutex_unlock(&g->lock);
	return d;
}

/*
 * The _IOC_NONE commands write results the engine does not know of: a
 * result in read-only memory makes EFAULT right. Probed with a system
 * call that writes 16 bytes (the windows stay within the struct).
 */
static bool fz_gd_writable(const struct fz_call *c, size_t off, size_t len)
{
	size_t end = off + len, o;
	struct timespec *p;

	if (!c->uptr)
		return false;
	for (o = off;; o += 16) {
		if (o + 16 > end)
			o = end >= 16 ? end - 16 : 0;
		p = (struct timespec *)((unsigned char *)c->uptr + o);
		if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p))
			return false;
		if (o + 16 >= end)
			return true;
	}
}

/* EFAULT without a bad pointer: only for a result it could not write. */
static int fz_gd_efault(struct fz_thread *t, const struct fz_call *c,
			size_t off, size_t len, bool beyond)
{
	if (c->ret != -EFAULT || c->bad_ptr || beyond || c->foreign)
		return 0;
	if (off + len <= FZ_GD_ARG && !fz_gd_writable(c, off, len))
		return 0;
	return fz_fail(t, "EFAULT with good memory");
}

/* A domid for a ref of a record: a live VM's mostly, or a bad one. */
static __u32 fz_gd_granter(struct fz_thread *t)
{
	switch (fz_below(t, 16)) {
	case 0:
		return 0;				/* gntalloc's grants */
	case 1:
		return VEXT_DOMID_SELF;
	case 2:
		return 0xffff;
	case 3:
		return fz_chance(t, 50) ? 0x10000 : fz_rand(t);	/* EINVAL */
	default:
		return fz_gnt_domid(t, NULL);
	}
}

static __u32 fz_gd_ref(struct fz_thread *t)
{
	switch (fz_below(t, 10)) {
	case 0:
		return VEXT_GNT_ENTRIES_PER_FRAME * (1 + fz_below(t, 2)) - fz_below(t, 2);
	case 1:
		return fz_rand(t);
	case 2:
		return FZ_GA_FIRST_REF + fz_below(t, 32);	/* domain 0's */
	default:
		return fz_below(t, 16);
	}
}

/* A count around @cap, 0, or small. */
static __u32 fz_gd_count(struct fz_thread *t, unsigned int cap)
{
	switch (fz_below(t, 12)) {
	case 0:
		return cap;
	case 1:
		return cap + 1;
	case 2:
		return 0;
	case 3:
		return fz_chance(t, 50) ? 0xffffffff : -(__u32)fz_below(t, 64);
	default:
		return 1 + fz_below(t, 4);
	}
}

/* ---- gntdev ioctls ----------------------------------------------------- */

static const struct fz_field fz_map_fields[] = {
	{ .name = "count", .off = offsetof(struct ioctl_gntdev_map_grant_ref, count),
	  .size = 4, .kind = FZ_COUNT, .limit = FZ_GD_MAX_COUNT, .strict = true },
	{ .name = "pad", .off = offsetof(struct ioctl_gntdev_map_grant_ref, pad),
	  .size = 4, .kind = FZ_PAD },
	{ .name = "index", .off = offsetof(struct ioctl_gntdev_map_grant_ref, index),
	  .size = 8, .kind = FZ_VALUE },
};

static void fz_prepare_map(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_map_grant_ref *m = (void *)c->buf;
	bool bad_domid = false;
	unsigned int i, n;

	if (fz_chance(t, 75))
		m->count = fz_gd_count(t, fz_gd_cap[FZ_CAP_DEV_OPEN]);
	n = m->count < FZ_GD_REFS ? m->count : FZ_GD_REFS;
	for (i = 0; i < n; i++) {
		fz_refs(m)[i].domid = fz_gd_granter(t);
		fz_refs(m)[i].ref = fz_gd_ref(t);
		bad_domid |= fz_refs(m)[i].domid > 0xffff;
	}
	/* The kernel reads refs past what we pass: maybe unreadable. */
	if (m->count > FZ_GD_REFS)
		c->bad_ptr = true;
	c->invalid = bad_domid || !m->count || m->count > FZ_GD_MAX_COUNT ||
		     m->count > fz_gd_cap[FZ_CAP_DEV_OPEN];
}

static int fz_check_map(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_map_grant_ref m;
	__u64 index;

	memcpy(&m, c->buf, sizeof(m));
	if (c->bad_arg)
		return 0;
	if (c->ret < 0)
		return fz_gd_efault(t, c, offsetof(typeof(m), index), 8,
				    m.count > FZ_GD_REFS);
	if (m.count > fz_gd_cap[FZ_CAP_DEV_OPEN])
		return fz_fail(t, "count %u past the cap %u recorded", m.count,
			       fz_gd_cap[FZ_CAP_DEV_OPEN]);
	memcpy(&index, (unsigned char *)c->uptr + offsetof(typeof(m), index), 8);
	if (index & (PAGE - 1))
		return fz_fail(t, "index %#llx", (unsigned long long)index);
	fz_gd_add(c->obj, index, m.count, 0);
	return 0;
}

static const struct fz_field fz_unmap_fields[] = {
	{ .name = "index", .off = offsetof(struct ioctl_gntdev_unmap_grant_ref, index),
	  .size = 8, .kind = FZ_VALUE },
	{ .name = "count", .off = offsetof(struct ioctl_gntdev_unmap_grant_ref, count),
	  .size = 4, .kind = FZ_COUNT, .limit = FZ_GD_MAX_COUNT },
	{ .name = "pad", .off = offsetof(struct ioctl_gntdev_unmap_grant_ref, pad),
	  .size = 4, .kind = FZ_PAD },
};

/* UNMAP_GRANT_REF and DEALLOC_GREF: {index, count} of a hint, maybe off. */
static void fz_prepare_range(struct fz_thread *t, struct fz_call *c, __u64 *index,
			     __u32 *count)
{
	__u32 ref;

	if (fz_chance(t, 80)) {
		fz_gd_pick(t, c->obj, index, count, &ref);
		if (fz_chance(t, 15))
			*count += fz_chance(t, 50) ? 1 : -1;
		if (fz_chance(t, 10))
			*index += fz_chance(t, 50) ? PAGE : 1 + fz_below(t, PAGE - 1);
	}
}

static void fz_prepare_unmap(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_unmap_grant_ref *u = (void *)c->buf;

	fz_prepare_range(t, c, &u->index, &u->count);
	c->invalid = u->index & (PAGE - 1);
}

static int fz_check_unmap(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_unmap_grant_ref u;

	memcpy(&u, c->buf, sizeof(u));
	if (c->bad_arg || !(u.index & (PAGE - 1)))
		return 0;
	return c->ret == -EINVAL ? 0 : fz_fail(t, "unaligned index %#llx: %s",
		(unsigned long long)u.index, c->ret < 0 ? strerror(-c->ret) : "success");
}

static const struct fz_field fz_offset_fields[] = {
	{ .name = "vaddr", .off = offsetof(struct ioctl_gntdev_get_offset_for_vaddr, vaddr),
	  .size = 8, .kind = FZ_UADDR, .align = PAGE },
	{ .name = "offset", .off = offsetof(struct ioctl_gntdev_get_offset_for_vaddr, offset),
	  .size = 8, .kind = FZ_VALUE },
	{ .name = "count", .off = offsetof(struct ioctl_gntdev_get_offset_for_vaddr, count),
	  .size = 4, .kind = FZ_VALUE },
};

static int fz_check_offset(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_get_offset_for_vaddr o;

	if (c->bad_arg)
		return 0;
	if (c->ret < 0)
		return fz_gd_efault(t, c, 0, sizeof(o), false);
	/* Our own mappings are checked by the map op; nothing is ours here. */
	memcpy(&o, c->uptr, sizeof(o));
	if ((o.offset & (PAGE - 1)) || !o.count || o.count > FZ_GD_MAX_COUNT || o.pad)
		return fz_fail(t, "offset %#llx count %u pad %u",
			       (unsigned long long)o.offset, o.count, o.pad);
	return 0;
}

static const struct fz_field fz_dnotify_fields[] = {
	{ .name = "index", .off = offsetof(struct ioctl_gntdev_unmap_notify, index),
	  .size = 8, .kind = FZ_VALUE },
	{ .name = "action", .off = offsetof(struct ioctl_gntdev_unmap_notify, action),
	  .size = 4, .kind = FZ_FLAGS,
	  .limit = UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT, .strict = true },
	{ .name = "port", .off = offsetof(struct ioctl_gntdev_unmap_notify, event_channel_port),
	  .size = 4, .kind = FZ_VALUE },
};

/* A byte of a record or allocation, mostly; the same struct for both. */
static void fz_prepare_notify(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_unmap_notify *n = (void *)c->buf;
	__u64 index;
	__u32 count, ref;

	if (fz_chance(t, 80)) {
		fz_gd_pick(t, c->obj, &index, &count, &ref);
		n->index = index + fz_below(t, (count > 8 ? 8 : count + 1) * PAGE);
	}
	if (fz_chance(t, 60))
		n->action = UNMAP_NOTIFY_CLEAR_BYTE;
	c->invalid = n->action & ~(UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT);
}

static int fz_check_notify(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_unmap_notify n;
	int want = 0;

	memcpy(&n, c->buf, sizeof(n));
	if (c->bad_arg)
		return 0;
	if (n.action & ~(UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT))
		want = -EINVAL;
	else if (n.action & UNMAP_NOTIFY_SEND_EVENT)
		want = -EOPNOTSUPP;
	if (want && c->ret != want)
		return fz_fail(t, "action %#x: %s, want %s", n.action,
			       c->ret < 0 ? strerror(-c->ret) : "success",
			       strerror(-want));
	return 0;
}

/* ---- GRANT_COPY ---------------------------------------------------------- */

static const struct fz_field fz_copy_fields[] = {
	{ .name = "count", .off = offsetof(struct ioctl_gntdev_grant_copy, count),
	  .size = 4, .kind = FZ_COUNT, .limit = FZ_GD_SEGS },
	{ .name = "segments", .off = offsetof(struct ioctl_gntdev_grant_copy, segments),
	  .size = 8, .kind = FZ_PTR, .elem = sizeof(struct gntdev_grant_copy_segment),
	  .count_field = 0, .out = true },
};

#define FZ_SEG_UNTOUCHED	0x7777	/* no GNTST_* value */

static __thread struct gntdev_grant_copy_segment fz_segs[FZ_GD_SEGS];
static __thread unsigned char fz_gd_buf[2 * PAGE];
static __thread int fz_segs_bad;	/* first invalid segment, or -1 */
static __thread unsigned int fz_segs_n;

/* Is the segment one gntdev refuses (EINVAL, the ioctl stops)? */
static bool fz_seg_invalid(const struct gntdev_grant_copy_segment *s)
{
	bool src = s->flags & GNTCOPY_source_gref, dst = s->flags & GNTCOPY_dest_gref;

	if (s->flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref))
		return true;
	if (!src && !dst)
		return true;
	if (src && s->source.foreign.offset + s->len > PAGE)
		return true;
	return dst && s->dest.foreign.offset + s->len > PAGE;
}

static void fz_gen_foreign(struct fz_thread *t, __u32 *ref, __u16 *off, __u16 *domid,
			   __u16 len)
{
	*ref = fz_gd_ref(t);
	*domid = fz_gd_granter(t);
	*off = fz_chance(t, 90) ? fz_below(t, PAGE - len + 1) : fz_below(t, 0x10000);
}

static void *fz_gen_local(struct fz_thread *t, __u16 len)
{
	if (fz_chance(t, 85))
		return fz_gd_buf + fz_below(t, 2 * PAGE - len + 1);
	return (void *)(uintptr_t)fz_uaddr(t, 1, len);
}

static void fz_gen_seg(struct fz_thread *t, struct gntdev_grant_copy_segment *s)
{
	unsigned int r = fz_below(t, 100);

	memset(s, 0, sizeof(*s));
	s->len = fz_chance(t, 90) ? fz_below(t, 257) : fz_below(t, PAGE + 2);
	s->flags = r < 40 ? GNTCOPY_source_gref : r < 80 ? GNTCOPY_dest_gref :
		   r < 92 ? GNTCOPY_source_gref | GNTCOPY_dest_gref :
		   r < 96 ? 0 : fz_rand(t);
	if (s->flags & GNTCOPY_source_gref)
		fz_gen_foreign(t, &s->source.foreign.ref, &s->source.foreign.offset,
			       &s->source.foreign.domid, s->len);
	else
		s->source.virt = fz_gen_local(t, s->len);
	if (s->flags & GNTCOPY_dest_gref)
		fz_gen_foreign(t, &s->dest.foreign.ref, &s->dest.foreign.offset,
			       &s->dest.foreign.domid, s->len);
	else
		s->dest.virt = fz_gen_local(t, s->len);
	s->status = FZ_SEG_UNTOUCHED;
}

/* Most batches: structured segments, across the 64-segment rounds. */
static void fz_prepare_copy(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_grant_copy *cp = (void *)c->buf;
	unsigned int i, n;

	fz_segs_n = 0;
	fz_segs_bad = -1;
	if (fz_chance(t, 15))
		return;
	switch (fz_below(t, 10)) {
	case 0:
		n = 64 + fz_below(t, 2);
		break;
	case 1:
		n = FZ_GD_SEGS - fz_below(t, 3);
		break;
	case 2:
		n = 0;
		break;
	default:
		n = 1 + fz_below(t, 6);
	}
	for (i = 0; i < n; i++) {
		fz_gen_seg(t, &fz_segs[i]);
		if (fz_segs_bad < 0 && fz_seg_invalid(&fz_segs[i]))
			fz_segs_bad = i;
	}
	cp->count = n;
	cp->segments = fz_segs;
	fz_segs_n = n;
	c->bad_ptr = false;
	c->invalid = fz_segs_bad >= 0;
}

static int fz_check_copy(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntdev_grant_copy cp;
	unsigned int i, stop;

	memcpy(&cp, c->buf, sizeof(cp));
	/* Not ours (the engine's, or garbage): any pointer, EFAULT is fine. */
	if (c->bad_arg || cp.segments != fz_segs || cp.count != fz_segs_n)
		return 0;
	if (c->ret == -EFAULT)
		return fz_fail(t, "EFAULT with %u good segments and statuses", cp.count);
	if (fz_segs_bad < 0 && c->ret < 0 && c->ret != -ENOMEM)
		return fz_fail(t, "%u good segments: %s", cp.count, strerror(-c->ret));
	if (fz_segs_bad >= 0 && c->ret != -EINVAL)
		return fz_fail(t, "segment %d of %u is bad: %s", fz_segs_bad, cp.count,
			       c->ret < 0 ? strerror(-c->ret) : "success");
	if (c->ret < 0 && c->ret != -EINVAL)
		return 0;
	stop = fz_segs_bad < 0 ? cp.count : (unsigned int)fz_segs_bad;
	if (cp.count)
		__atomic_store_n(&fz_gd(c->obj)->used, true, __ATOMIC_RELAXED);
	for (i = 0; i < cp.count; i++) {
		int st = fz_segs[i].status;

		if (i < stop && !fz_gnt_status_known(st))
			return fz_fail(t, "segment %u (flags %#x len %u): status %d", i,
				       fz_segs[i].flags, fz_segs[i].len, st);
		if (i >= stop && st != FZ_SEG_UNTOUCHED)
			return fz_fail(t, "segment %u after the bad %u: status %d", i,
				       stop, st);
	}
	return 0;
}

/* ---- gntalloc ioctls ------------------------------------------------------- */

static const struct fz_field fz_alloc_fields[] = {
	{ .name = "domid", .off = offsetof(struct ioctl_gntalloc_alloc_gref, domid),
	  .size = 2, .kind = FZ_VALUE },
	{ .name = "flags", .off = offsetof(struct ioctl_gntalloc_alloc_gref, flags),
	  .size = 2, .kind = FZ_FLAGS, .limit = GNTALLOC_FLAG_WRITABLE, .strict = true },
	{ .name = "count", .off = offsetof(struct ioctl_gntalloc_alloc_gref, count),
	  .size = 4, .kind = FZ_COUNT, .limit = 24 },
};

static void fz_prepare_alloc(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntalloc_alloc_gref *a = (void *)c->buf;
	unsigned int r = fz_below(t, 10);

	if (r < 7)
		a->domid = fz_gnt_domid(t, NULL);
	else if (r < 8)
		a->domid = VEXT_DOMID_SELF + fz_below(t, 2) * (0xffff - VEXT_DOMID_SELF);
	if (fz_chance(t, 75))
		a->count = fz_gd_count(t, fz_gd_cap[FZ_CAP_ALLOC_OPEN]);
	if (a->count > FZ_GA_IDS)
		c->bad_ptr = true;	/* the ids go past what we pass */
	c->invalid = (a->flags & ~GNTALLOC_FLAG_WRITABLE) || !a->count ||
		     a->domid >= VEXT_DOMID_SELF ||
		     a->count > fz_gd_cap[FZ_CAP_ALLOC_OPEN];
}

/* The kernel reads the header and writes index and count gref ids. */
static size_t fz_used_alloc(const struct fz_call *c)
{
	struct ioctl_gntalloc_alloc_gref a;

	memcpy(&a, c->buf, sizeof(a));
	return offsetof(struct ioctl_gntalloc_alloc_gref, gref_ids) +
	       sizeof(a.gref_ids[0]) * (size_t)a.count;
}

static int fz_check_alloc(struct fz_thread *t, struct fz_call *c)
{
	const struct ioctl_gntalloc_alloc_gref *out = c->uptr;
	struct ioctl_gntalloc_alloc_gref a;
	unsigned int i, j;

	memcpy(&a, c->buf, sizeof(a));
	if (c->bad_arg)
		return 0;
	if (c->ret < 0)
		return fz_gd_efault(t, c, offsetof(typeof(a), index),
				    8 + 4 * (a.count < FZ_GA_IDS ? a.count : FZ_GA_IDS),
				    a.count > FZ_GA_IDS);
	if (out->index & (PAGE - 1))
		return fz_fail(t, "index %#llx", (unsigned long long)out->index);
	for (i = 0; i < a.count && i < FZ_GA_IDS; i++) {
		__u32 id = fz_ids((void *)out)[i];

		if (id < FZ_GA_FIRST_REF || id >= FZ_GA_MAX_REF)
			return fz_fail(t, "gref %u of %u: %u", i, a.count, id);
		for (j = 0; j < i; j++)
			if (fz_ids((void *)out)[j] == id)
				return fz_fail(t, "gref %u twice", id);
	}
	fz_gd_add(c->obj, out->index, a.count, fz_ids((void *)out)[0]);
	return 0;
}

static const struct fz_field fz_dealloc_fields[] = {
	{ .name = "index", .off = offsetof(struct ioctl_gntalloc_dealloc_gref, index),
	  .size = 8, .kind = FZ_VALUE },
	{ .name = "count", .off = offsetof(struct ioctl_gntalloc_dealloc_gref, count),
	  .size = 4, .kind = FZ_COUNT, .limit = 24 },
};

static void fz_prepare_dealloc(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntalloc_dealloc_gref *d = (void *)c->buf;

	fz_prepare_range(t, c, &d->index, &d->count);
	c->invalid = (d->index & (PAGE - 1)) || !d->count;
}

static int fz_check_dealloc(struct fz_thread *t, struct fz_call *c)
{
	struct ioctl_gntalloc_dealloc_gref d;

	memcpy(&d, c->buf, sizeof(d));
	if (c->bad_arg || (!(d.index & (PAGE - 1)) && d.count))
		return 0;
	return c->ret == -EINVAL ? 0 : fz_fail(t, "index %#llx count %u: %s",
		(unsigned long long)d.index, d.count,
		c->ret < 0 ? strerror(-c->ret) : "success");
}

/* ---- VEXT_GNT_BIND_DEVICE ---------------------------------------------------- */

static const struct fz_field fz_bind_fields[] = {
	{ .name = "fd", .off = 0, .size = 4, .kind = FZ_FD, .fdtype = &fz_gntdev },
	{ .name = "flags", .off = 4, .size = 4, .kind = FZ_FLAGS, .limit = 0,
	  .strict = true },
};

/* One thread: the gntdev object whose fd is passed (the model to update). */
static __thread struct fz_obj *fz_bind_obj;
static pid_t fz_gd_pid;	/* the fuzzer's main process */

static void fz_prepare_bind(struct fz_thread *t, struct fz_call *c)
{
	struct vext_gnt_bind_device *b = (void *)c->buf;
	struct fz_obj *obj;
	int fd;

	fz_bind_obj = NULL;
	if (fz_threaded())
		return;
	/* A fork child binds nothing: its VM would outlive it unseen. */
	if (getpid() != fz_gd_pid) {
		b->fd = -1;
		return;
	}
	/* One thread: every gntdev fd passed is known (the model stays right). */
	fd = fz_chance(t, 80) ? fz_pick_fd(t, &fz_gntdev, &obj) : -1;
	if (fd < 0) {
		b->fd = fz_chance(t, 50) ? -1 : fz_pick_fd(t, &fz_vext_dev, NULL);
		return;
	}
	b->fd = fd;
	fz_bind_obj = obj;
	fz_obj_put(obj);	/* one thread: the slot keeps it */
}

static int fz_check_bind(struct fz_thread *t, struct fz_call *c)
{
	struct vext_gnt_bind_device b;
	struct fz_obj *obj = fz_bind_obj;
	struct fz_gd *g;
	int ret = 0;

	memcpy(&b, c->buf, sizeof(b));
	fz_bind_obj = NULL;
	if (c->bad_arg || c->foreign)
		return 0;
	if (!c->ret && obj && !obj->parent) {
		/* The bound fd holds its VM: so does its object. */
		fz_obj_get(c->obj);
		obj->parent = c->obj;
	}
	if (b.flags && c->ret != -EINVAL)
		return fz_fail(t, "flags %#x: %s", b.flags,
			       c->ret < 0 ? strerror(-c->ret) : "success");
	if (!obj || fz_threaded() || b.flags)
		return 0;
	g = fz_gd(obj);
	pthread_mutex_lock(&g->lock);
	if ((g->domid || g->used) && c->ret != -EBUSY)
		ret = fz_fail(t, "gntdev bound to %d, used %d: %s", g->domid, g->used,
			      c->ret < 0 ? strerror(-c->ret) : "success");
	else if (!c->ret)
		g->domid = c->obj->val[0];
	pthread_mutex_unlock(&g->lock);
	return ret;
}

static const struct fz_ioctl fz_gd_ioctls[] = {
	{
		.name = "GNTDEV_MAP_GRANT_REF", .cmd = IOCTL_GNTDEV_MAP_GRANT_REF,
		.on = { &fz_gntdev }, .argkind = FZ_ARG_STRUCT, .size = FZ_GD_ARG,
		.fields = fz_map_fields, .nr_fields = FZ_ARRAY_SIZE(fz_map_fields),
		.errs = { EINVAL, ENOSPC, ENOMEM, EFAULT }, .weight = 12,
		.prepare = fz_prepare_map, .check = fz_check_map,
	}, {
		.name = "GNTDEV_UNMAP_GRANT_REF", .cmd = IOCTL_GNTDEV_UNMAP_GRANT_REF,
		.on = { &fz_gntdev }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct ioctl_gntdev_unmap_grant_ref),
		.fields = fz_unmap_fields, .nr_fields = FZ_ARRAY_SIZE(fz_unmap_fields),
		.errs = { EINVAL, ENOENT }, .weight = 6,
		.prepare = fz_prepare_unmap, .check = fz_check_unmap,
	}, {
		.name = "GNTDEV_GET_OFFSET_FOR_VADDR",
		.cmd = IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR,
		.on = { &fz_gntdev }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct ioctl_gntdev_get_offset_for_vaddr),
		.fields = fz_offset_fields, .nr_fields = FZ_ARRAY_SIZE(fz_offset_fields),
		.errs = { EINVAL, EFAULT }, .weight = 3, .check = fz_check_offset,
	}, {
		.name = "GNTDEV_SET_UNMAP_NOTIFY", .cmd = IOCTL_GNTDEV_SET_UNMAP_NOTIFY,
		.on = { &fz_gntdev }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct ioctl_gntdev_unmap_notify),
		.fields = fz_dnotify_fields, .nr_fields = FZ_ARRAY_SIZE(fz_dnotify_fields),
		.errs = { EINVAL, EOPNOTSUPP, ENOENT }, .weight = 5,
		.prepare = fz_prepare_notify, .check = fz_check_notify,
	}, {
		.name = "GNTDEV_GRANT_COPY", .cmd = IOCTL_GNTDEV_GRANT_COPY,
		.on = { &fz_gntdev }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct ioctl_gntdev_grant_copy),
		.fields = fz_copy_fields, .nr_fields = FZ_ARRAY_SIZE(fz_copy_fields),
		.errs = { EINVAL, ENOMEM, EFAULT }, .weight = 10,
		.prepare = fz_prepare_copy, .check = fz_check_copy,
	}, {
		.name = "GNTALLOC_ALLOC_GREF", .cmd = IOCTL_GNTALLOC_ALLOC_GREF,
		.on = { &fz_gntalloc }, .argkind = FZ_ARG_STRUCT, .size = FZ_GD_ARG,
		.fields = fz_alloc_fields, .nr_fields = FZ_ARRAY_SIZE(fz_alloc_fields),
		.errs = { EINVAL, ENOSPC, ENOMEM, EFAULT }, .weight = 10,
		.prepare = fz_prepare_alloc, .check = fz_check_alloc,
		.used = fz_used_alloc,
	}, {
		.name = "GNTALLOC_DEALLOC_GREF", .cmd = IOCTL_GNTALLOC_DEALLOC_GREF,
		.on = { &fz_gntalloc }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct ioctl_gntalloc_dealloc_gref),
		.fields = fz_dealloc_fields, .nr_fields = FZ_ARRAY_SIZE(fz_dealloc_fields),
		.errs = { EINVAL }, .weight = 6,
		.prepare = fz_prepare_dealloc, .check = fz_check_dealloc,
	}, {
		.name = "GNTALLOC_SET_UNMAP_NOTIFY", .cmd = IOCTL_GNTALLOC_SET_UNMAP_NOTIFY,
		.on = { &fz_gntalloc }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct ioctl_gntalloc_unmap_notify),
		.fields = fz_dnotify_fields, .nr_fields = FZ_ARRAY_SIZE(fz_dnotify_fields),
		.errs = { EINVAL, EOPNOTSUPP, ENOENT }, .weight = 4,
		.prepare = fz_prepare_notify, .check = fz_check_notify,
	}, {
		.name = "GNT_BIND_DEVICE", .cmd = VEXT_GNT_BIND_DEVICE,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_gnt_bind_device),
		.fields = fz_bind_fields, .nr_fields = FZ_ARRAY_SIZE(fz_bind_fields),
		.errs = { EINVAL, EBADF, EBUSY }, .weight = 4,
		.prepare = fz_prepare_bind, .check = fz_check_bind,
	},
};

/* ---- operations -------------------------------------------------------------- */

static long fz_gd_ioctl(int fd, unsigned long cmd, void *arg)
{
	long ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* Read a byte of a new mapping: it must not fault. */
static void fz_gd_touch(const void *p)
{
	(void)__atomic_load_n((const unsigned char *)p, __ATOMIC_RELAXED);
}

/* What may not be done to a grant mapping of @n pages, and GET_OFFSET. */
static int fz_gd_mapping_rules(struct fz_thread *t, int fd, unsigned char *p,
			       unsigned int n, const __u64 *index)
{
	struct ioctl_gntdev_get_offset_for_vaddr o = { .vaddr = (uintptr_t)p };
	long ret;

	if (n > 1 && !munmap(p + PAGE, PAGE))
		return fz_fail(t, "munmap of part of a %s mapping succeeded",
			       index ? "gntdev" : "gntalloc");
	if (mremap(p, n * PAGE, (n + 1) * PAGE, 0) != MAP_FAILED)
		return fz_fail(t, "a %s mapping grew", index ? "gntdev" : "gntalloc");
	if (!index)
		return 0;
	ret = fz_gd_ioctl(fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &o);
	if (fz_racy(t))
		return 0;
	if (ret || o.offset != *index || o.count != n)
		return fz_fail(t, "GET_OFFSET_FOR_VADDR of record %#llx+%u: %s, %#llx+%u",
			       (unsigned long long)*index, n,
			       ret ? strerror(-ret) : "ok",
			       (unsigned long long)o.offset, o.count);
	return 0;
}

static void fz_gd_keep_or_unmap(struct fz_thread *t, void *p, size_t len,
				struct fz_obj *obj)
{
	if (fz_chance(t, 50))
		fz_keep_map(t, p, len, obj);
	else
		munmap(p, len);
}

/*
 * A VM of this process grants up to four hot pages to the gntdev fd's
 * domain, the fd records them and maps the record: one thread, that must
 * work (or hit a cap).
 */
static int fz_op_gd_map(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	union fz_gd_few a;
	struct vext_userspace_memory_region r = {
		.slot = FZ_GNT_SLOT, .guest_phys_addr = FZ_GNT_GPA,
		.memory_size = FZ_GNT_PAGES * PAGE,
		.userspace_addr = (uintptr_t)fz_gnt_mem,
	};
	struct ioctl_gntdev_unmap_grant_ref u;
	struct ioctl_gntdev_unmap_notify nt;
	struct vext_grant_entry_v1 *tab;
	unsigned int i, n = 1 + fz_below(t, 4), base = fz_below(t, 12);
	bool ro = false, rw = fz_chance(t, 60);
	int domid = fz_gd_domain(obj), vmfd, err;
	struct fz_obj *vm;
	unsigned char *p;
	long ret;

	vmfd = fz_pick_fd(t, &fz_vext_vm, &vm);
	if (vmfd < 0 || !fz_gnt_mem)
		return 0;
	if (vm->owner != getpid() || vm->val[0] == (__u64)domid) {
		fz_obj_put(vm);
		return 0;
	}
	tab = fz_gnt_table(t, vmfd, vm, false);
	/* The granted slot, or nothing to judge (others' slots in the way). */
	if (!tab || fz_vm_set_region(vmfd, vm, &r)) {
		if (tab)
			munmap(tab, PAGE);
		fz_obj_put(vm);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.m.count = n;
	for (i = 0; i < n; i++) {
		bool r = fz_chance(t, 15);

		ro |= r;
		fz_gnt_write(&tab[base + i], VEXT_GTF_permit_access |
			     (r ? VEXT_GTF_readonly : 0), domid,
			     FZ_GNT_GPFN + fz_below(t, FZ_GNT_PAGES - FZ_GNT_COLD));
		fz_refs(&a)[i].domid = vm->val[0];
		fz_refs(&a)[i].ref = base + i;
	}
	munmap(tab, PAGE);
	fz_obj_put(vm);
	ret = fz_gd_ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, &a);
	if (fz_racy(t))
		return 0;
	if (ret)
		return ret == -ENOSPC || ret == -ENOMEM ? 0 :
		       fz_fail(t, "MAP_GRANT_REF of %u: %s", n, strerror(-ret));
	fz_gd_add(obj, a.m.index, n, 0);
	p = mmap(NULL, n * PAGE, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
		 fd, a.m.index);
	err = p == MAP_FAILED ? errno : 0;
	if (fz_racy(t)) {
		if (!err)
			munmap(p, n * PAGE);
		return 0;
	}
	if (err) {
		/*
		 * EPERM: a read-only grant mapped writable, or the fd bound
		 * to a VM where the fuzzer did not see it (a fork child);
		 * EFAULT: a physmap override (gnt's ops) over a granted gpfn.
		 */
		if (err == EPERM || err == EFAULT)
			return 0;
		/* EAGAIN: a page made copy-on-write by a fork is faulted in. */
		if (err == ENOSPC || err == ENOMEM || err == EAGAIN)
			return 0;
		/* Others may have rewritten the entries, killed the VM... */
		if (fz_threaded() && (err == EINVAL || err == EPERM || err == ESRCH ||
				      err == EFAULT || err == EAGAIN))
			return 0;
		return fz_fail(t, "mmap of a record of %u (%s): %s", n,
			       rw ? "rw" : "ro", strerror(err));
	}
	if (rw && ro && !fz_threaded()) {
		munmap(p, n * PAGE);
		return fz_fail(t, "writable mmap of a read-only grant succeeded");
	}
	for (i = 0; i < n; i++)
		fz_gd_touch(p + i * PAGE);
	if (fz_gd_mapping_rules(t, fd, p, n, &a.m.index)) {
		munmap(p, n * PAGE);
		return -1;
	}
	memset(&nt, 0, sizeof(nt));
	nt.index = a.m.index + fz_below(t, n * PAGE);
	nt.action = UNMAP_NOTIFY_CLEAR_BYTE;
	ret = fz_gd_ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, &nt);
	if (!fz_racy(t) && !fz_threaded() && ret != (rw ? 0 : -EINVAL)) {
		munmap(p, n * PAGE);
		return fz_fail(t, "SET_UNMAP_NOTIFY on a %s mapping: %s",
			       rw ? "writable" : "read-only",
			       ret ? strerror(-ret) : "success");
	}
	if (fz_chance(t, 40)) {
		/* The record goes; the mapping stays until munmap. */
		u = (struct ioctl_gntdev_unmap_grant_ref){ .index = a.m.index,
							   .count = n };
		ret = fz_gd_ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
		if (!fz_racy(t) && !fz_threaded() && ret) {
			munmap(p, n * PAGE);
			return fz_fail(t, "UNMAP_GRANT_REF of a mapped record: %s",
				       strerror(-ret));
		}
		fz_gd_touch(p);
	}
	fz_gd_keep_or_unmap(t, p, n * PAGE, obj);
	return 0;
}

/* A length near a hint's, at 4 GiB, or random. */
static size_t fz_gd_len(struct fz_thread *t, __u32 count)
{
	switch (fz_below(t, 10)) {
	case 0:
		return 1ULL << 32;
	case 1:
		return (size_t)(1 + fz_below(t, 1 << 14)) * PAGE;
	case 2:
		return (count + 1) * PAGE;
	case 3:
		return count > 1 ? (count - 1) * PAGE : PAGE;
	default:
		return (count ? count : 1) * PAGE;
	}
}

/* mmap of records and allocations, good and bad: only shared ones work. */
static int fz_op_mmap(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	bool dev = obj->type == &fz_gntdev, shared = fz_chance(t, 85);
	int prot = fz_chance(t, 50) ? PROT_READ : PROT_READ | PROT_WRITE;
	__u64 index;
	__u32 count, ref;
	size_t len;
	void *p;
	int err;

	fz_gd_pick(t, obj, &index, &count, &ref);
	len = fz_gd_len(t, count);
	p = mmap(NULL, len, prot, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_NORESERVE,
		 fd, index);
	err = p == MAP_FAILED ? errno : 0;
	if (fz_racy(t)) {
		if (!err)
			munmap(p, len);
		return 0;
	}
	if (!err) {
		if (!shared || len > (size_t)FZ_GD_MAX_COUNT * PAGE) {
			munmap(p, len);
			return fz_fail(t, "%s mmap of %zu bytes at %#llx on %s succeeded",
				       shared ? "shared" : "private", len,
				       (unsigned long long)index, obj->type->name);
		}
		fz_gd_touch(p);
		fz_gd_keep_or_unmap(t, p, len, obj);
		return 0;
	}
	if (!shared && err != EINVAL && err != ENOMEM)
		return fz_fail(t, "private mmap: %s", strerror(err));
	if (err == EINVAL || err == ENOMEM ||
	    (dev && (err == EPERM || err == ESRCH || err == EFAULT || err == EAGAIN ||
		     err == ENOSPC)))
		return 0;
	return fz_fail(t, "mmap of %zu bytes at %#llx on %s: %s", len,
		       (unsigned long long)index, obj->type->name, strerror(err));
}

/* VEXT_GNTTAB_OP of one op on a VM fd: the op's status, or errno + 1000. */
static int fz_vm_op(int vmfd, struct vext_gnttab_op *op)
{
	struct vext_gnttab_batch b = { .ops = (uintptr_t)op, .count = 1 };
	long ret = fz_gd_ioctl(vmfd, VEXT_GNTTAB_OP, &b);

	return ret ? 1000 - (int)ret : op->status;
}

/*
 * gntalloc shares pages with a VM of this process, which maps the first
 * one back by domid 0 and sees what the sharer wrote (one thread).
 */
static int fz_op_ga_share(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	union fz_gd_few a;
	struct ioctl_gntalloc_dealloc_gref d;
	struct ioctl_gntalloc_unmap_notify nt;
	unsigned int i, n = 1 + fz_below(t, 4);
	bool writable = fz_chance(t, 70);
	struct vext_gnttab_op op;
	struct fz_obj *vm = NULL;
	unsigned char *p, *q;
	int vmfd, st;
	long ret;

	vmfd = fz_pick_fd(t, &fz_vext_vm, &vm);
	memset(&a, 0, sizeof(a));
	a.a.domid = vmfd >= 0 ? vm->val[0] : 0;
	a.a.flags = writable ? GNTALLOC_FLAG_WRITABLE : 0;
	a.a.count = n;
	ret = fz_gd_ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, &a);
	if (fz_racy(t) || ret) {
		if (vm)
			fz_obj_put(vm);
		return fz_racy(t) || ret == -ENOSPC || ret == -ENOMEM ? 0 :
		       fz_fail(t, "ALLOC_GREF of %u: %s", n, strerror(-ret));
	}
	fz_gd_add(obj, a.a.index, n, fz_ids(&a)[0]);
	p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, a.a.index);
	if (p == MAP_FAILED) {
		int err = errno;

		if (vm)
			fz_obj_put(vm);
		return fz_racy(t) || err == ENOMEM || (fz_threaded() && err == EINVAL) ? 0 :
		       fz_fail(t, "mmap of %u new grefs: %s", n, strerror(err));
	}
	for (i = 0; i < n; i++)
		memset(p + i * PAGE, 0x30 + i, 64);
	if (fz_gd_mapping_rules(t, fd, p, n, NULL))
		goto fail;
	memset(&nt, 0, sizeof(nt));
	nt.index = a.a.index + fz_below(t, PAGE);
	nt.action = UNMAP_NOTIFY_CLEAR_BYTE;
	ret = fz_gd_ioctl(fd, IOCTL_GNTALLOC_SET_UNMAP_NOTIFY, &nt);
	if (!fz_racy(t) && !fz_threaded() && ret) {
		fz_fail(t, "SET_UNMAP_NOTIFY on a listed page: %s", strerror(-ret));
		goto fail;
	}
	/* The VM maps the first page by domid 0. */
	if (vm && vm->owner == getpid() && fz_chance(t, 60)) {
		memset(&op, 0, sizeof(op));
		op.cmd = VEXT_GNTTABOP_map_grant_ref;
		op.ref = fz_ids(&a)[0];
		op.flags = writable ? 0 : VEXT_GNTMAP_readonly;
		st = fz_vm_op(vmfd, &op);
		if (!st) {
			q = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, vmfd, op.index);
			if (q != MAP_FAILED) {
				if (!fz_threaded() && memcmp(p, q, 64)) {
					munmap(q, PAGE);
					fz_fail(t, "the VM sees another page than gntalloc's");
					goto fail;
				}
				munmap(q, PAGE);
			} else if (!fz_threaded()) {
				fz_fail(t, "mmap of a gntalloc page by the VM: %s",
					strerror(errno));
				goto fail;
			}
			op.cmd = VEXT_GNTTABOP_unmap_grant_ref;
			fz_vm_op(vmfd, &op);
		} else if (!fz_threaded() && !fz_racy(t) && st != VEXT_GNTST_no_device_space &&
			   st != VEXT_GNTST_general_error) {
			fz_fail(t, "map of gntalloc gref %u by VM %llu: %d",
				fz_ids(&a)[0], (unsigned long long)vm->val[0], st);
			goto fail;
		}
	}
	if (vm)
		fz_obj_put(vm);
	if (fz_chance(t, 50)) {
		/* libxengntshr's way: the pages go at munmap. */
		d = (struct ioctl_gntalloc_dealloc_gref){ .index = a.a.index, .count = n };
		ret = fz_gd_ioctl(fd, IOCTL_GNTALLOC_DEALLOC_GREF, &d);
		if (!fz_racy(t) && !fz_threaded() && ret) {
			munmap(p, n * PAGE);
			return fz_fail(t, "DEALLOC_GREF of mapped grefs: %s", strerror(-ret));
		}
	}
	fz_gd_keep_or_unmap(t, p, n * PAGE, obj);
	return 0;
fail:
	if (vm)
		fz_obj_put(vm);
	munmap(p, n * PAGE);
	return -1;
}

static const struct fz_op fz_gd_ops[] = {
	{ .name = "gntdev map+mmap", .on = { &fz_gntdev }, .weight = 12,
	  .run = fz_op_gd_map },
	{ .name = "gntalloc share+mmap", .on = { &fz_gntalloc }, .weight = 10,
	  .run = fz_op_ga_share },
	{ .name = "gntdev/gntalloc mmap", .on = { &fz_gntdev, &fz_gntalloc },
	  .weight = 6, .run = fz_op_mmap },
};

/* ---- set-up, audit and stable ------------------------------------------------ */

static int fz_gd_read_param(const char *name, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", FZ_GNT_MODULE,
		 name);
	buf[0] = '\0';
	if (vext_file_read(path, buf, len) <= 0)
		return -EIO;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int fz_gd_set_param(const char *name, unsigned int val)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", val);
	return vext_param_write(FZ_GNT_MODULE, name, buf);
}

static int fz_gd_setup(void)
{
	unsigned int i;
	int ret;

	fz_gd_pid = getpid();
	for (i = 0; i < FZ_ARRAY_SIZE(fz_gd_caps); i++) {
		if (fz_gd_read_param(fz_gd_caps[i].name, fz_gd_saved[i],
				     sizeof(fz_gd_saved[i])))
			return -EIO;
		ret = fz_gd_set_param(fz_gd_caps[i].name, fz_gd_caps[i].val);
		if (ret)
			return ret;
		fz_gd_cap[i] = fz_gd_caps[i].val;
	}
	return 0;
}

static void fz_gd_teardown(void)
{
	unsigned int i;

	for (i = 0; i < FZ_ARRAY_SIZE(fz_gd_caps); i++)
		if (fz_gd_saved[i][0])
			vext_param_write(FZ_GNT_MODULE, fz_gd_caps[i].name,
					 fz_gd_saved[i]);
}

/* Domain 0's line of debugfs gnt/domains: 0, or -errno. */
static int fz_gd_dom0(unsigned long *active, unsigned long *maps)
{
	char buf[16384], *line, *save = NULL;
	int ret = vext_debugfs_read("gnt/domains", buf, sizeof(buf));
	unsigned int domid, frames, dead;

	if (ret < 0)
		return ret;
	line = strtok_r(buf, "\n", &save);	/* the header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (sscanf(line, "%u %u %lu %lu %u", &domid, &frames, active, maps,
			   &dead) != 5)
			return -EPROTO;
		if (!domid)
			return dead ? -EPROTO : 0;
	}
	return -ENOENT;
}

/* Domain 0 holds no handle of its own: gntdev fds have theirs. */
static int fz_gd_audit(struct fz_thread *t)
{
	unsigned long active, maps;
	int ret = fz_gd_dom0(&active, &maps);

	if (ret)
		return fz_fail(t, "gnt/domains, domain 0: %s", strerror(-ret));
	if (maps || active > FZ_GA_MAX_REF)
		return fz_fail(t, "domain 0: %lu active, %lu maps", active, maps);
	return 0;
}

/*
 * The caps' global counts are at 0: under a global cap of 4, 4 grants fit
 * (and domain 0 hands out its first references, 8-11: none leaked).
 */
static int fz_gd_probe(struct fz_thread *t)
{
	union fz_gd_few a = { .a = { .domid = 1, .count = 4 } };
	union fz_gd_few m = { .m = { .count = 4 } };
	char saved[2][32];
	long ret[2] = { -EIO, -EIO };
	int fd, i, bad = 0;

	if (fz_gd_read_param("gntalloc_max_total", saved[0], sizeof(saved[0])) ||
	    fz_gd_read_param("gntdev_max_total", saved[1], sizeof(saved[1])))
		return fz_fail(t, "cannot read the caps");
	fz_gd_set_param("gntalloc_max_total", 4);
	fz_gd_set_param("gntdev_max_total", 4);
	fd = fz_ga_open();
	if (fd >= 0) {
		ret[0] = fz_gd_ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, &a);
		for (i = 0; !ret[0] && i < 4; i++)
			bad |= fz_ids(&a)[i] != (__u32)(FZ_GA_FIRST_REF + i);
		close(fd);
	}
	fd = fz_gd_open();
	if (fd >= 0) {
		for (i = 0; i < 4; i++)
			fz_refs(&m)[i] = (struct ioctl_gntdev_grant_ref){ .domid = 1, .ref = i };
		ret[1] = fz_gd_ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, &m);
		close(fd);
	}
	vext_param_write(FZ_GNT_MODULE, "gntalloc_max_total", saved[0]);
	vext_param_write(FZ_GNT_MODULE, "gntdev_max_total", saved[1]);
	if (ret[0] || ret[1])
		return fz_fail(t, "4 grants under global caps of 4: gntalloc %s, gntdev %s",
			       ret[0] ? strerror(-ret[0]) : "ok",
			       ret[1] ? strerror(-ret[1]) : "ok");
	if (bad)
		return fz_fail(t, "domain 0's first free references: %u %u %u %u",
			       fz_ids(&a)[0], fz_ids(&a)[1], fz_ids(&a)[2],
			       fz_ids(&a)[3]);
	return 0;
}

static int fz_gd_stable(struct fz_thread *t)
{
	unsigned long active = 0, maps = 0;
	int ret, tries = 0;

	/* A VM's last unmap of a host page may still be on its way. */
	while (!(ret = fz_gd_dom0(&active, &maps)) && (active || maps) &&
	       tries++ < 50)
		vext_sleep_ms(100);
	if (ret)
		return fz_fail(t, "gnt/domains, domain 0: %s", strerror(-ret));
	if (active || maps)
		return fz_fail(t, "domain 0: %lu grant(s) in use, %lu maps", active, maps);
	return fz_gd_probe(t);
}

/* ---- failslab scenarios -------------------------------------------------------- */

/*
 * Context (gntdev): fz_gnt_s_granter()'s, plus fd[2] the gntdev fd (bound
 * to fd[1]'s VM), map[1] its mapping, val[1] the record's index.
 */
static long fz_s_ioctl(int fd, unsigned long cmd, void *arg)
{
	long ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* Open a gntdev, bind it to the mapping VM, record refs 0 and 2, mmap. */
static long fz_st_gd_map(struct fz_sctx *s)
{
	struct vext_gnt_bind_device bd = { 0 };
	union fz_gd_few a = { .m = { .count = 2 } };
	void *p;
	long ret;

	s->fd[2] = fz_gd_open();
	if (s->fd[2] < 0)
		return s->fd[2];
	bd.fd = s->fd[2];
	ret = fz_s_ioctl(s->fd[1], VEXT_GNT_BIND_DEVICE, &bd);
	if (ret)
		return ret;
	fz_refs(&a)[0] = (struct ioctl_gntdev_grant_ref){ .domid = s->val[0], .ref = 0 };
	fz_refs(&a)[1] = (struct ioctl_gntdev_grant_ref){ .domid = s->val[0], .ref = 2 };
	ret = fz_s_ioctl(s->fd[2], IOCTL_GNTDEV_MAP_GRANT_REF, &a);
	if (ret)
		return ret;
	s->val[1] = a.m.index;
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd[2],
		 a.m.index);
	if (p == MAP_FAILED)
		return -errno;
	s->map[1] = p;
	s->map_len[1] = 2 * PAGE;
	return 0;
}

static int fz_sv_gd_map(struct fz_sctx *s, long ret)
{
	struct ioctl_gntdev_get_offset_for_vaddr o = { .vaddr = (uintptr_t)s->map[1] };
	const unsigned char *p = s->map[1];

	(void)ret;
	if (memcmp(p, fz_gnt_mem, PAGE) || memcmp(p + PAGE, fz_gnt_mem + 2 * PAGE, PAGE))
		return -1;
	if (fz_s_ioctl(s->fd[2], IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &o) ||
	    o.offset != s->val[1] || o.count != 2)
		return -1;
	return 0;
}

/* The granter's refs 3 and 4 (gpfns +3, +4) granted to domain 0 too. */
static int fz_s_gd_copy(struct fz_sctx *s)
{
	struct vext_grant_entry_v1 *tab;
	int ret = fz_gnt_s_granter(s);

	if (ret)
		return ret;
	tab = s->map[0];
	fz_gnt_write(&tab[3], VEXT_GTF_permit_access, 0, FZ_GNT_GPFN + 3);
	fz_gnt_write(&tab[4], VEXT_GTF_permit_access, 0, FZ_GNT_GPFN + 4);
	return 0;
}

static unsigned char fz_s_buf[2][128];

/*
 * An unbound gntdev (domain 0) copies ref 3 to local memory, local memory
 * (the bytes already there) to ref 4, ref 3 to ref 4 (the same bytes),
 * twice, and a bad segment last: five segments, past the on-stack ones.
 */
static long fz_st_gd_copy(struct fz_sctx *s)
{
	struct gntdev_grant_copy_segment seg[5];
	struct ioctl_gntdev_grant_copy cp = { .count = 5, .segments = seg };
	unsigned int i;
	long ret;

	s->fd[2] = fz_gd_open();
	if (s->fd[2] < 0)
		return s->fd[2];
	memset(seg, 0, sizeof(seg));
	memset(fz_s_buf, 0, sizeof(fz_s_buf));
	seg[0].flags = GNTCOPY_source_gref;
	seg[0].source.foreign = (typeof(seg[0].source.foreign)){
		.ref = 3, .offset = 8, .domid = s->val[0] };
	seg[0].dest.virt = fz_s_buf[0];
	seg[0].len = 64;
	seg[1].flags = GNTCOPY_dest_gref;
	seg[1].source.virt = fz_gnt_mem + 4 * PAGE + 100;
	seg[1].dest.foreign = (typeof(seg[1].dest.foreign)){
		.ref = 4, .offset = 100, .domid = s->val[0] };
	seg[1].len = 32;
	seg[2].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
	seg[2].source.foreign = seg[0].source.foreign;
	seg[2].dest.foreign = (typeof(seg[2].dest.foreign)){
		.ref = 3, .offset = 8, .domid = s->val[0] };
	seg[2].len = 64;
	seg[3] = seg[0];
	seg[3].dest.virt = fz_s_buf[1];
	seg[4] = seg[0];
	seg[4].len = PAGE;	/* crosses its page: EINVAL, the others done */
	ret = fz_s_ioctl(s->fd[2], IOCTL_GNTDEV_GRANT_COPY, &cp);
	if (ret != -EINVAL)
		return ret ? ret : -EPROTO;
	for (i = 0; i < 4; i++) {
		if (seg[i].status == VEXT_GNTST_general_error)
			return -ENOMEM;
		if (seg[i].status)
			return -EIO;
	}
	return 0;
}

static int fz_sv_gd_copy(struct fz_sctx *s, long ret)
{
	(void)s;
	(void)ret;
	return memcmp(fz_s_buf[0], fz_gnt_mem + 3 * PAGE + 8, 64) ||
	       memcmp(fz_s_buf[1], fz_gnt_mem + 3 * PAGE + 8, 64) ? -1 : 0;
}

static int fz_s_vm(struct fz_sctx *s)
{
	s->fd[0] = ioctl(s->dev, VEXT_CREATE_VM, 0);
	if (s->fd[0] < 0)
		return -errno;
	s->val[0] = ioctl(s->fd[0], VEXT_GET_DOMID, 0);
	return 0;
}

/*
 * gntalloc: two writable pages for fd[0]'s VM, mmapped (map[1]) and
 * written, a notification on the first, deallocated while mapped.
 * val[1] the first gref.
 */
static long fz_st_ga(struct fz_sctx *s)
{
	union fz_gd_few a = { .a = { .domid = s->val[0], .flags = GNTALLOC_FLAG_WRITABLE,
		       .count = 2 } };
	struct ioctl_gntalloc_unmap_notify nt = { .action = UNMAP_NOTIFY_CLEAR_BYTE };
	struct ioctl_gntalloc_dealloc_gref d = { .count = 2 };
	unsigned char *p;
	long ret;

	s->fd[2] = fz_ga_open();
	if (s->fd[2] < 0)
		return s->fd[2];
	ret = fz_s_ioctl(s->fd[2], IOCTL_GNTALLOC_ALLOC_GREF, &a);
	if (ret)
		return ret;
	s->val[1] = fz_ids(&a)[0];
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd[2],
		 a.a.index);
	if (p == MAP_FAILED)
		return -errno;
	s->map[1] = p;
	s->map_len[1] = 2 * PAGE;
	memset(p, 0x5a, 2 * PAGE);
	nt.index = a.a.index + 7;
	ret = fz_s_ioctl(s->fd[2], IOCTL_GNTALLOC_SET_UNMAP_NOTIFY, &nt);
	if (ret)
		return ret;
	d.index = a.a.index;
	return fz_s_ioctl(s->fd[2], IOCTL_GNTALLOC_DEALLOC_GREF, &d);
}

/* The VM maps the first page by domid 0 and sees what was written. */
static int fz_sv_ga(struct fz_sctx *s, long ret)
{
	struct vext_gnttab_op op = { .cmd = VEXT_GNTTABOP_map_grant_ref,
				     .ref = s->val[1] };
	unsigned char *q;
	int bad;

	(void)ret;
	if (fz_vm_op(s->fd[0], &op))
		return -1;
	q = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, s->fd[0], op.index);
	if (q == MAP_FAILED)
		return -1;
	bad = memcmp(q, s->map[1], PAGE);
	munmap(q, PAGE);
	op.cmd = VEXT_GNTTABOP_unmap_grant_ref;
	return bad || fz_vm_op(s->fd[0], &op) ? -1 : 0;
}

static const struct fz_scenario fz_gd_scenarios[] = {
	/*
	 * EINVAL: mmap answers a map op's general_error, which is also what
	 * vext's grant ops answer when out of memory, with EINVAL (as Linux's
	 * gntdev does for a failed op).
	 */
	{ .name = "gntdev open/BIND_DEVICE/MAP_GRANT_REF/mmap",
	  .setup = fz_gnt_s_granter, .step = fz_st_gd_map, .verify = fz_sv_gd_map,
	  .errs = { ENOMEM, EINVAL } },
	{ .name = "gntdev GRANT_COPY", .setup = fz_s_gd_copy, .step = fz_st_gd_copy,
	  .verify = fz_sv_gd_copy, .errs = { ENOMEM } },
	{ .name = "gntalloc ALLOC_GREF/mmap/DEALLOC_GREF", .setup = fz_s_vm,
	  .step = fz_st_ga, .verify = fz_sv_ga, .errs = { ENOMEM } },
};

static struct fz_fdtype *fz_gd_types[] = { &fz_gntdev, &fz_gntalloc, NULL };

static struct fz_module fz_gd_mod = {
	.name = "gntdev",
	.kmods = { FZ_GNT_MODULE },
	/* VEXT_GNT_BIND_DEVICE; after gnt (0x60-0x7f), whose memory it grants. */
	.nr_first = 0x64, .nr_last = 0x64,
	.fdtypes = fz_gd_types,
	.ioctls = fz_gd_ioctls, .nr_ioctls = FZ_ARRAY_SIZE(fz_gd_ioctls),
	.ops = fz_gd_ops, .nr_ops = FZ_ARRAY_SIZE(fz_gd_ops),
	.scenarios = fz_gd_scenarios,
	.nr_scenarios = FZ_ARRAY_SIZE(fz_gd_scenarios),
	.setup = fz_gd_setup,
	.teardown = fz_gd_teardown,
	.stable = fz_gd_stable,
	.audit = fz_gd_audit,
};

FZ_MODULE(fz_gd_mod)
