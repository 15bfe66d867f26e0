// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzer table of vext_gnt's VM-fd interface: VEXT_GNT_SETUP_TABLE,
 * VEXT_GNTTAB_OP batches, VEXT_ADD_TO_PHYSMAP / VEXT_REMOVE_FROM_PHYSMAP,
 * mmap of table frames and of mapped grants; and its failslab scenarios.
 * The gntdev and gntalloc devices have a table of their own,
 * fuzz/gntdev.c, which grants this file's memory too (fuzz/gnt.h).
 *
 * Grants are real: an op gives a VM a memory slot backed by this process's
 * memory (some pages never touched, and dropped again now and then: the
 * eagain path), maps its table and writes entries naming live VMs of the
 * fuzzer, own or read-only, revoked, of other types or pointing anywhere.
 * Batches are built op by op (map, unmap, copy, unknown commands; domids
 * of live VMs, refs at and past the table's end, handles the VM holds,
 * copy buffers good and bad, offsets and lengths past the page) or left
 * to the engine (random bytes, counts at and past VEXT_GNTTAB_MAX_OPS).
 * eagain_timeout_ms is lowered to 1 s while fuzzing.
 *
 * Invariants beyond the errnos of Documentation/api.rst:
 *  - SETUP_TABLE answers the new size (one thread: max(old, asked));
 *  - every per-op status is one vext answers; a malformed op gets the
 *    status its rule says; a successful MAP's index is its handle's;
 *  - the physmap ioctls reject with EINVAL/EPERM what the rules reject;
 *  - mmap of table frames and mapped grants follows the rules (shared,
 *    within the table, no split, no growth);
 *  - debugfs gnt/domains lists every live VM of the fuzzer, not dead
 *    (audit), and nothing once every fd and mapping is gone (stable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vext.h>

#include "fuzz.h"
#include "gnt.h"
#include "vext_pci.h"
#include "vext_test.h"

#define PAGE			4096UL
#define FZ_GNT_BATCH		64	/* structured ops per batch, at most */
#define FZ_GNT_HINTS		16

static struct fz_module fz_gnt;

unsigned char *fz_gnt_mem;
static char fz_gnt_timeout[32];

/* The fuzzer's knowledge of a VM's grant state. */
struct fz_gvm {
	pthread_mutex_t lock;
	unsigned int frames;		/* SETUP_TABLE's last answer */
	__u32 handles[FZ_GNT_HINTS];	/* handles mapped (hints) */
	unsigned int nr_handles;
};

static void fz_gvm_init(void *data)
{
	struct fz_gvm *g = data;

	pthread_mutex_init(&g->lock, NULL);
}

static struct fz_gvm *fz_gvm(struct fz_obj *vm)
{
	return fz_obj_data(vm, &fz_gnt, sizeof(struct fz_gvm), fz_gvm_init);
}

static unsigned int fz_gvm_frames(struct fz_obj *vm)
{
	struct fz_gvm *g = fz_gvm(vm);
	unsigned int n;

	pthread_mutex_lock(&g->lock);
	n = g->frames;
	pthread_mutex_unlock(&g->lock);
	return n;
}

static void fz_gvm_add_handle(struct fz_obj *vm, __u32 h)
{
	struct fz_gvm *g = fz_gvm(vm);

	pthread_mutex_lock(&g->lock);
	g->handles[g->nr_handles++ % FZ_GNT_HINTS] = h;
	pthread_mutex_unlock(&g->lock);
}

/* A handle the VM mapped (probably), or a random one. */
static __u32 fz_gvm_handle(struct fz_thread *t, struct fz_obj *vm)
{
	struct fz_gvm *g = fz_gvm(vm);
	__u32 h;

	switch (fz_below(t, 10)) {
	case 0:
		return VEXT_GNT_MAX_HANDLES - fz_below(t, 2);
	case 1:
		return VEXT_GNT_MAX_HANDLES + fz_below(t, 2);
	case 2:
		return fz_rand(t);
	case 3:
		return fz_below(t, 16);
	}
	pthread_mutex_lock(&g->lock);
	h = g->nr_handles ? g->handles[fz_below(t, g->nr_handles < FZ_GNT_HINTS ?
						   g->nr_handles : FZ_GNT_HINTS)] :
			    fz_below(t, 16);
	pthread_mutex_unlock(&g->lock);
	return h;
}

/* The domid of a live VM of the table (its own mostly), or a bad one. */
__u16 fz_gnt_domid(struct fz_thread *t, struct fz_obj *self)
{
	struct fz_obj *vm;
	__u16 d;
	int fd;

	switch (fz_below(t, 20)) {
	case 0:
		return 0;			/* the host: gntalloc's grants */
	case 1:
		return VEXT_DOMID_SELF;		/* not a domain for grant ops */
	case 2:
		return fz_rand(t);
	case 3:
	case 4:
	case 5:
	case 6:
		return self ? self->val[0] : 1;
	}
	fd = fz_pick_fd(t, &fz_vext_vm, &vm);
	if (fd < 0)
		return self ? self->val[0] : 1;
	d = vm->val[0];
	fz_obj_put(vm);
	return d;
}

static int fz_gnt_setup(void)
{
	unsigned int i;
	int ret;

	fz_gnt_mem = mmap(NULL, FZ_GNT_PAGES * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fz_gnt_mem == MAP_FAILED) {
		fz_gnt_mem = NULL;
		return -errno;
	}
	for (i = 0; i < FZ_GNT_PAGES - FZ_GNT_COLD; i++)
		memset(fz_gnt_mem + i * PAGE, 0x40 + i, PAGE);
	/* A page that never arrives must not hold a batch for 32 s. */
	fz_gnt_timeout[0] = '\0';
	if (vext_file_read("/sys/module/" FZ_GNT_MODULE "/parameters/eagain_timeout_ms",
			   fz_gnt_timeout, sizeof(fz_gnt_timeout)) > 0)
		fz_gnt_timeout[strcspn(fz_gnt_timeout, "\n")] = '\0';
	ret = vext_param_write(FZ_GNT_MODULE, "eagain_timeout_ms", "1000");
	if (ret)
		fz_log("gnt: eagain_timeout_ms: %s", strerror(-ret));
	return 0;
}

static void fz_gnt_teardown(void)
{
	if (fz_gnt_timeout[0])
		vext_param_write(FZ_GNT_MODULE, "eagain_timeout_ms", fz_gnt_timeout);
	if (fz_gnt_mem)
		munmap(fz_gnt_mem, FZ_GNT_PAGES * PAGE);
	fz_gnt_mem = NULL;
}

/* ---- SETUP_TABLE ---------------------------------------------------------- */

static const struct fz_field fz_setup_fields[] = {
	{ .name = "nr_frames", .off = 0, .size = 4, .kind = FZ_COUNT,
	  .limit = VEXT_GNT_MAX_FRAMES, .strict = true },
	{ .name = "flags", .off = 4, .size = 4, .kind = FZ_PAD,
	  .must_zero = true, .strict = true },
};

static void fz_prepare_setup(struct fz_thread *t, struct fz_call *c)
{
	struct vext_gnt_setup_table *st = (void *)c->buf;

	/* Small tables mostly: 64 frames cost 128 pages of kernel memory. */
	if (st->nr_frames <= VEXT_GNT_MAX_FRAMES && fz_chance(t, 70))
		st->nr_frames = 1 + fz_below(t, 4);
	c->invalid = !st->nr_frames || st->nr_frames > VEXT_GNT_MAX_FRAMES ||
		     st->flags;
}

static int fz_check_setup(struct fz_thread *t, struct fz_call *c)
{
	struct vext_gnt_setup_table st;
	struct fz_gvm *g;
	unsigned int want;
	int ret = 0;

	memcpy(&st, c->buf, sizeof(st));
	if (c->bad_arg || c->foreign)
		return 0;
	if (!st.nr_frames || st.nr_frames > VEXT_GNT_MAX_FRAMES || st.flags)
		return c->ret == -EINVAL ? 0 : fz_fail(t, "nr_frames %u flags %#x: %s",
			st.nr_frames, st.flags,
			c->ret < 0 ? strerror(-c->ret) : "success");
	if (c->ret < 0)
		return 0;
	g = fz_gvm(c->obj);
	pthread_mutex_lock(&g->lock);
	want = st.nr_frames > g->frames ? st.nr_frames : g->frames;
	if (c->ret < st.nr_frames || c->ret > VEXT_GNT_MAX_FRAMES ||
	    (!fz_threaded() && c->ret != want))
		ret = fz_fail(t, "nr_frames %u after %u: answered %ld", st.nr_frames,
			      g->frames, c->ret);
	if ((unsigned long)c->ret > g->frames)
		g->frames = c->ret;
	pthread_mutex_unlock(&g->lock);
	return ret;
}

/* ---- GNTTAB_OP -------------------------------------------------------------- */

static const struct fz_field fz_batch_fields[] = {
	{ .name = "ops", .off = 0, .size = 8, .kind = FZ_PTR,
	  .elem = sizeof(struct vext_gnttab_op), .count_field = 1, .out = true },
	{ .name = "count", .off = 8, .size = 4, .kind = FZ_COUNT,
	  .limit = VEXT_GNTTAB_MAX_OPS, .strict = true },
	{ .name = "flags", .off = 12, .size = 4, .kind = FZ_FLAGS,
	  .limit = VEXT_GNTTAB_VALID_FLAGS, .strict = true },
};

/* Each thread's structured batch, and the buffer its copies use. */
static __thread struct vext_gnttab_op fz_ops[FZ_GNT_BATCH];
static __thread struct vext_gnttab_op fz_ops_sent[FZ_GNT_BATCH];
static __thread unsigned char fz_copy_buf[2 * PAGE];

static __u32 fz_gnt_ref(struct fz_thread *t, struct fz_obj *vm)
{
	unsigned int n = fz_gvm_frames(vm) * VEXT_GNT_ENTRIES_PER_FRAME;

	switch (fz_below(t, 10)) {
	case 0:
		return n + fz_below(t, 3) - 1;	/* at the end of the table */
	case 1:
		return VEXT_GNT_ENTRIES_PER_FRAME * (1 + fz_below(t, 2)) - fz_below(t, 2);
	case 2:
		return fz_rand(t);
	default:
		return fz_below(t, 16);
	}
}

static void fz_gen_op(struct fz_thread *t, struct fz_obj *vm,
		      struct vext_gnttab_op *op)
{
	unsigned int r = fz_below(t, 100);

	memset(op, 0, sizeof(*op));
	op->cmd = r < 45 ? VEXT_GNTTABOP_map_grant_ref :
		  r < 70 ? VEXT_GNTTABOP_unmap_grant_ref :
		  r < 96 ? VEXT_GNTTABOP_copy : 3 + fz_below(t, 0xfffd);
	op->status = fz_rand(t);	/* output: must be overwritten */
	op->domid = fz_gnt_domid(t, vm);
	op->ref = fz_gnt_ref(t, vm);
	switch (op->cmd) {
	case VEXT_GNTTABOP_map_grant_ref:
		op->flags = (fz_chance(t, 40) ? VEXT_GNTMAP_readonly : 0) |
			    (fz_chance(t, 20) ? VEXT_GNTMAP_defer : 0);
		op->handle = fz_rand(t);	/* output */
		op->index = fz_rand(t);
		break;
	case VEXT_GNTTABOP_unmap_grant_ref:
		op->handle = fz_gvm_handle(t, vm);
		break;
	case VEXT_GNTTABOP_copy:
		op->flags = fz_chance(t, 40) ? VEXT_GNTCOPY_to_grant : 0;
		op->offset = fz_chance(t, 80) ? fz_below(t, PAGE) : PAGE - fz_below(t, 4) + 2;
		op->len = fz_chance(t, 85) ? fz_below(t, PAGE - op->offset + 1) :
					     fz_below(t, 2 * PAGE);
		op->buf = fz_chance(t, 80) ?
			  (__u64)(uintptr_t)fz_copy_buf + fz_below(t, PAGE) :
			  fz_uaddr(t, 1, op->len);
		break;
	}
	if (fz_chance(t, 4))
		op->flags |= 1u << fz_below(t, 16);
	if (fz_chance(t, 3))
		op->pad = fz_rand(t) | 1;
}

/* Most batches: structured ops in the thread's buffer (count <= 64). */
static void fz_prepare_batch(struct fz_thread *t, struct fz_call *c)
{
	struct vext_gnttab_batch *b = (void *)c->buf;
	unsigned int i, n;

	if (!c->obj || fz_chance(t, 15))
		return;
	n = fz_chance(t, 60) ? 1 + fz_below(t, 6) : 1 + fz_below(t, FZ_GNT_BATCH);
	for (i = 0; i < n; i++)
		fz_gen_op(t, c->obj, &fz_ops[i]);
	memcpy(fz_ops_sent, fz_ops, n * sizeof(fz_ops[0]));
	b->ops = (uintptr_t)fz_ops;
	b->count = n;
	/* The ops are good: only the batch's own pointer may be bad now. */
	c->bad_ptr = false;
	c->invalid = b->flags & ~VEXT_GNTTAB_VALID_FLAGS;
}

bool fz_gnt_status_known(int st)
{
	return st <= 0 && st >= VEXT_GNTST_eagain &&
	       st != VEXT_GNTST_bad_dev_addr && st != VEXT_GNTST_address_too_big;
}

/* The status a malformed op must get, or 1 if the op is well-formed. */
static int fz_op_rule(const struct vext_gnttab_op *op)
{
	switch (op->cmd) {
	case VEXT_GNTTABOP_map_grant_ref:
		if ((op->flags & ~VEXT_GNTMAP_VALID_FLAGS) || op->pad)
			return VEXT_GNTST_general_error;
		return 1;
	case VEXT_GNTTABOP_unmap_grant_ref:
		if (op->pad)
			return VEXT_GNTST_general_error;
		return op->handle >= VEXT_GNT_MAX_HANDLES ? VEXT_GNTST_bad_handle : 1;
	case VEXT_GNTTABOP_copy:
		if ((op->flags & ~VEXT_GNTCOPY_VALID_FLAGS) || op->pad)
			return VEXT_GNTST_general_error;
		if (op->offset > PAGE || op->len > PAGE - op->offset)
			return VEXT_GNTST_bad_copy_arg;
		return 1;
	default:
		return VEXT_GNTST_general_error;
	}
}

static int fz_check_batch(struct fz_thread *t, struct fz_call *c)
{
	struct vext_gnttab_batch b;
	unsigned int i;

	memcpy(&b, c->buf, sizeof(b));
	if (c->bad_arg || c->foreign || c->ret < 0 ||
	    b.ops != (uintptr_t)fz_ops || b.count > FZ_GNT_BATCH)
		return 0;
	for (i = 0; i < b.count; i++) {
		const struct vext_gnttab_op *op = &fz_ops[i], *in = &fz_ops_sent[i];
		int want = fz_op_rule(in);

		if (!fz_gnt_status_known(op->status))
			return fz_fail(t, "op %u (cmd %u): status %d", i, in->cmd,
				       op->status);
		if (want != 1 && op->status != want)
			return fz_fail(t, "op %u (%u flags %#x pad %#x h %u %s %u+%u): %d, not %d",
				       i, in->cmd, in->flags, in->pad, in->handle, "copy",
				       in->offset, in->len, op->status, want);
		if (in->cmd == VEXT_GNTTABOP_unmap_grant_ref &&
		    (op->status == VEXT_GNTST_okay || op->status == VEXT_GNTST_bad_handle) &&
		    op->handle != in->handle)
			return fz_fail(t, "op %u: UNMAP changed the handle", i);
		if (in->cmd != VEXT_GNTTABOP_map_grant_ref || op->status)
			continue;
		if (op->handle >= VEXT_GNT_MAX_HANDLES ||
		    op->index != VEXT_GNT_MAP_OFFSET + (__u64)op->handle * PAGE)
			return fz_fail(t, "op %u: MAP handle %u index %#llx", i,
				       op->handle, (unsigned long long)op->index);
		fz_gvm_add_handle(c->obj, op->handle);
	}
	return 0;
}

/* ---- physmap ----------------------------------------------------------------- */

static const struct fz_field fz_add_fields[] = {
	{ .name = "domid", .off = 0, .size = 2, .kind = FZ_VALUE },
	{ .name = "pad0", .off = 2, .size = 2, .kind = FZ_PAD, .must_zero = true,
	  .strict = true },
	{ .name = "space", .off = 4, .size = 4, .kind = FZ_VALUE },
	{ .name = "idx", .off = 8, .size = 8, .kind = FZ_INDEX,
	  .limit = VEXT_GNT_MAX_FRAMES, .pool = 4 },
	{ .name = "gpfn", .off = 16, .size = 8, .kind = FZ_INDEX,
	  .limit = 0x100000000ULL, .strict = true },
};

static const struct fz_field fz_remove_fields[] = {
	{ .name = "domid", .off = 0, .size = 2, .kind = FZ_VALUE },
	{ .name = "pad0", .off = 2, .size = 2, .kind = FZ_PAD, .must_zero = true,
	  .strict = true },
	{ .name = "pad1", .off = 4, .size = 4, .kind = FZ_PAD, .must_zero = true,
	  .strict = true },
	{ .name = "gpfn", .off = 8, .size = 8, .kind = FZ_INDEX,
	  .limit = 0x100000000ULL, .strict = true },
};

/* The VM's own domid or DOMID_SELF mostly; a gpfn near the granted slot. */
static void fz_prepare_physmap(struct fz_thread *t, struct fz_call *c,
			       __u16 *domid, __u64 *gpfn)
{
	unsigned int r = fz_below(t, 10);

	if (c->obj && r < 5)
		*domid = c->obj->val[0];
	else if (r < 8)
		*domid = VEXT_DOMID_SELF;
	else if (r < 9)
		*domid = fz_gnt_domid(t, c->obj);
	r = fz_below(t, 10);
	if (r < 5)
		*gpfn = FZ_GNT_GPFN + fz_below(t, FZ_GNT_PAGES + 4);
	else if (r < 7)
		*gpfn = fz_below(t, 64);
}

static void fz_prepare_add(struct fz_thread *t, struct fz_call *c)
{
	struct vext_add_to_physmap *x = (void *)c->buf;

	fz_prepare_physmap(t, c, &x->domid, &x->gpfn);
	if (fz_chance(t, 85))
		x->space = VEXT_MAPSPACE_grant_table;
	c->invalid = x->pad0 || x->gpfn > 0xffffffffULL ||
		     x->space != VEXT_MAPSPACE_grant_table ||
		     (c->obj && x->domid != VEXT_DOMID_SELF && x->domid != c->obj->val[0]);
}

static void fz_prepare_remove(struct fz_thread *t, struct fz_call *c)
{
	struct vext_remove_from_physmap *x = (void *)c->buf;

	fz_prepare_physmap(t, c, &x->domid, &x->gpfn);
	c->invalid = x->pad0 || x->pad1 || x->gpfn > 0xffffffffULL ||
		     (c->obj && x->domid != VEXT_DOMID_SELF && x->domid != c->obj->val[0]);
}

/* The rules' errno (EINVAL, EPERM) for a physmap call, or 0. */
static int fz_physmap_rule(bool pad, __u16 domid, __u64 own, bool bad)
{
	if (pad)
		return -EINVAL;
	if (domid != VEXT_DOMID_SELF && domid != own)
		return -EPERM;
	return bad ? -EINVAL : 0;
}

static int fz_check_add(struct fz_thread *t, struct fz_call *c)
{
	struct vext_add_to_physmap x;
	int want;

	memcpy(&x, c->buf, sizeof(x));
	if (c->bad_arg || c->foreign)
		return 0;
	want = fz_physmap_rule(x.pad0, x.domid, c->obj->val[0],
			       x.space != VEXT_MAPSPACE_grant_table ||
			       x.gpfn > 0xffffffffULL);
	if (!want && !fz_threaded() && x.idx >= fz_gvm_frames(c->obj))
		want = -EINVAL;
	if (want && c->ret != want)
		return fz_fail(t, "domid %u space %u idx %llu gpfn %#llx: %s, want %s",
			       x.domid, x.space, (unsigned long long)x.idx,
			       (unsigned long long)x.gpfn,
			       c->ret < 0 ? strerror(-c->ret) : "success",
			       strerror(-want));
	return 0;
}

static int fz_check_remove(struct fz_thread *t, struct fz_call *c)
{
	struct vext_remove_from_physmap x;
	int want;

	memcpy(&x, c->buf, sizeof(x));
	if (c->bad_arg || c->foreign)
		return 0;
	want = fz_physmap_rule(x.pad0 || x.pad1, x.domid, c->obj->val[0],
			       x.gpfn > 0xffffffffULL);
	if (want && c->ret != want)
		return fz_fail(t, "domid %u gpfn %#llx: %s, want %s", x.domid,
			       (unsigned long long)x.gpfn,
			       c->ret < 0 ? strerror(-c->ret) : "success",
			       strerror(-want));
	return 0;
}

static const struct fz_ioctl fz_gnt_ioctls[] = {
	{
		.name = "GNT_SETUP_TABLE", .cmd = VEXT_GNT_SETUP_TABLE,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_gnt_setup_table),
		.fields = fz_setup_fields, .nr_fields = FZ_ARRAY_SIZE(fz_setup_fields),
		.errs = { EINVAL, ENOMEM }, .weight = 6,
		.prepare = fz_prepare_setup, .check = fz_check_setup,
	}, {
		.name = "GNTTAB_OP", .cmd = VEXT_GNTTAB_OP,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_gnttab_batch),
		.fields = fz_batch_fields, .nr_fields = FZ_ARRAY_SIZE(fz_batch_fields),
		.errs = { EINVAL, ENOMEM }, .weight = 24,
		.prepare = fz_prepare_batch, .check = fz_check_batch,
	}, {
		.name = "ADD_TO_PHYSMAP", .cmd = VEXT_ADD_TO_PHYSMAP,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_add_to_physmap),
		.fields = fz_add_fields, .nr_fields = FZ_ARRAY_SIZE(fz_add_fields),
		.errs = { EINVAL, EPERM, ENOMEM }, .weight = 5,
		.prepare = fz_prepare_add, .check = fz_check_add,
	}, {
		.name = "REMOVE_FROM_PHYSMAP", .cmd = VEXT_REMOVE_FROM_PHYSMAP,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_remove_from_physmap),
		.fields = fz_remove_fields, .nr_fields = FZ_ARRAY_SIZE(fz_remove_fields),
		.errs = { EINVAL, EPERM, ENOENT, ENOMEM }, .weight = 4,
		.prepare = fz_prepare_remove, .check = fz_check_remove,
	},
};

/* ---- operations ---------------------------------------------------------- */

/* An entry's flags/domid word, stored as the granter's protocol wants. */
void fz_gnt_write(struct vext_grant_entry_v1 *e, __u16 flags, __u16 domid,
		  __u32 frame)
{
	union {
		__u32 word;
		struct {
			__u16 flags;
			__u16 domid;
		} f;
	} h = { .f = { .flags = flags, .domid = domid } };

	__atomic_store_n(&e->frame, frame, __ATOMIC_RELAXED);
	__atomic_store_n((__u32 *)e, h.word, __ATOMIC_RELEASE);
}

struct vext_grant_entry_v1 *fz_gnt_table(struct fz_thread *t, int fd,
					 struct fz_obj *vm, bool slot)
{
	struct vext_userspace_memory_region r = {
		.slot = FZ_GNT_SLOT, .guest_phys_addr = FZ_GNT_GPA,
		.memory_size = FZ_GNT_PAGES * PAGE,
		.userspace_addr = (uintptr_t)fz_gnt_mem,
	};
	struct vext_gnt_setup_table st = { .nr_frames = 1 + fz_below(t, 2) };
	struct vext_grant_entry_v1 *tab;
	struct fz_gvm *g = fz_gvm(vm);
	long ret;

	ret = ioctl(fd, VEXT_GNT_SETUP_TABLE, &st);
	if (ret > 0) {
		pthread_mutex_lock(&g->lock);
		if ((unsigned long)ret > g->frames)
			g->frames = ret;
		pthread_mutex_unlock(&g->lock);
	}
	if (slot || fz_chance(t, 30))
		fz_vm_set_region(fd, vm, &r);
	tab = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   VEXT_GNT_TABLE_OFFSET);
	if (tab == MAP_FAILED) {
		if (ret < 0)
			errno = 0;	/* no table: nothing to judge */
		return NULL;
	}
	return tab;
}

/*
 * Make grants: a table, the granted slot and a few entries naming live
 * VMs (own process only: the VM fd works nowhere else).
 */
static int fz_op_grant(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	struct vext_grant_entry_v1 *tab;
	unsigned int i, n;

	if (obj->owner != getpid() || !fz_gnt_mem)
		return 0;
	tab = fz_gnt_table(t, fd, obj, false);
	if (!tab)
		return fz_racy(t) || !errno ? 0 :
		       fz_fail(t, "mmap of table frame 0: %s", strerror(errno));
	n = 1 + fz_below(t, 8);
	for (i = 0; i < n; i++) {
		__u16 flags = VEXT_GTF_permit_access;
		__u32 frame = FZ_GNT_GPFN + fz_below(t, FZ_GNT_PAGES);
		unsigned int k = fz_below(t, 100);

		if (fz_chance(t, 30))
			flags |= VEXT_GTF_readonly;
		if (k < 8)
			flags = fz_below(t, 4);		/* revoked, other types */
		else if (k < 12)
			frame = fz_rand(t);
		else if (k < 16)
			frame = fz_below(t, 64);
		fz_gnt_write(&tab[fz_below(t, 16)], flags, fz_gnt_domid(t, obj), frame);
	}
	if (fz_chance(t, 20))
		fz_keep_map(t, tab, PAGE, obj);
	else
		munmap(tab, PAGE);
	return 0;
}

/* Read a byte of a new mapping: it must not fault. */
static void fz_touch(const void *p)
{
	(void)__atomic_load_n((const unsigned char *)p, __ATOMIC_RELAXED);
}

/* mmap of table frames: shared only, within the table. */
static int fz_op_table_mmap(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	unsigned int frames = fz_gvm_frames(obj);
	unsigned int first = fz_below(t, frames + 2), n = 1 + fz_below(t, 2);
	bool shared = fz_chance(t, 85);
	int prot = fz_chance(t, 50) ? PROT_READ : PROT_READ | PROT_WRITE;
	bool want_ok = shared && first + n <= frames && obj->owner == getpid();
	void *p;
	int err;

	p = mmap(NULL, n * PAGE, prot, shared ? MAP_SHARED : MAP_PRIVATE, fd,
		 VEXT_GNT_TABLE_OFFSET + first * PAGE);
	err = p == MAP_FAILED ? errno : 0;
	if (fz_racy(t)) {
		if (!err)
			munmap(p, n * PAGE);
		return 0;
	}
	if (!err) {
		if (!shared || obj->owner != getpid() ||
		    (!fz_threaded() && first + n > frames)) {
			munmap(p, n * PAGE);
			return fz_fail(t, "mmap of frames %u+%u (table %u, %s) succeeded",
				       first, n, frames, shared ? "shared" : "private");
		}
		fz_touch(p);
		if (fz_chance(t, 30))
			fz_keep_map(t, p, n * PAGE, obj);
		else
			munmap(p, n * PAGE);
		return 0;
	}
	if (obj->owner != getpid())
		return err == EIO ? 0 : fz_fail(t, "mmap in another process: %s",
						strerror(err));
	if (want_ok && !fz_threaded() && err != ENOMEM)
		return fz_fail(t, "mmap of frames %u+%u (table %u): %s", first, n,
			       frames, strerror(err));
	if (err != EINVAL && err != ENOMEM)
		return fz_fail(t, "mmap of frames %u+%u: %s", first, n, strerror(err));
	return 0;
}

/* mmap of mapped grants, and what may not be done to such a mapping. */
static int fz_op_map_mmap(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	unsigned int n = fz_chance(t, 70) ? 1 : 2 + fz_below(t, 2), i;
	__u32 h = fz_gvm_handle(t, obj);
	bool shared = fz_chance(t, 90);
	int prot = fz_chance(t, 50) ? PROT_READ : PROT_READ | PROT_WRITE;
	unsigned char *p;
	int err;

	p = mmap(NULL, n * PAGE, prot, shared ? MAP_SHARED : MAP_PRIVATE, fd,
		 VEXT_GNT_MAP_OFFSET + (__u64)h * PAGE);
	err = p == MAP_FAILED ? errno : 0;
	if (fz_racy(t)) {
		if (!err)
			munmap(p, n * PAGE);
		return 0;
	}
	if (err) {
		if (obj->owner != getpid())
			return err == EIO ? 0 : fz_fail(t, "mmap in another process: %s",
							strerror(err));
		/* Past the handles, the offset names another ioctl number. */
		if (h >= VEXT_GNT_MAX_HANDLES && err == ENODEV)
			return 0;
		if (err != EINVAL && err != EPERM && err != EAGAIN && err != EFAULT &&
		    err != ENOMEM)
			return fz_fail(t, "mmap of %u handle(s) at %u: %s", n, h,
				       strerror(err));
		if (!shared && err != EINVAL)
			return fz_fail(t, "private mmap of handle %u: %s", h,
				       strerror(err));
		return 0;
	}
	if (!shared || obj->owner != getpid() || h >= VEXT_GNT_MAX_HANDLES) {
		munmap(p, n * PAGE);
		return fz_fail(t, "mmap of handle %u (%s) succeeded", h,
			       shared ? "shared" : "private");
	}
	for (i = 0; i < n; i++)
		fz_touch(p + i * PAGE);
	if (prot & PROT_WRITE)
		p[fz_below(t, PAGE)] ^= 0;
	if (n > 1 && !munmap(p + PAGE, PAGE))
		return fz_fail(t, "munmap of part of a grant mapping succeeded");
	if (mremap(p, n * PAGE, (n + 1) * PAGE, 0) != MAP_FAILED)
		return fz_fail(t, "a grant mapping grew");
	if (fz_chance(t, 60))
		fz_keep_map(t, p, n * PAGE, obj);
	else
		munmap(p, n * PAGE);
	return 0;
}

/* Drop the cold pages again: the next pins answer eagain and fault in. */
static int fz_op_cold(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	(void)fd;
	(void)obj;
	if (fz_gnt_mem && fz_chance(t, 30))
		madvise(fz_gnt_mem + (FZ_GNT_PAGES - FZ_GNT_COLD) * PAGE,
			FZ_GNT_COLD * PAGE, MADV_DONTNEED);
	return 0;
}

static const struct fz_op fz_gnt_ops[] = {
	{ .name = "grant", .on = { &fz_vext_vm }, .weight = 12, .run = fz_op_grant },
	{ .name = "mmap table frames", .on = { &fz_vext_vm }, .weight = 5,
	  .run = fz_op_table_mmap },
	{ .name = "mmap mapped grants", .on = { &fz_vext_vm }, .weight = 10,
	  .run = fz_op_map_mmap },
	{ .name = "drop granted pages", .on = { &fz_vext_vm }, .weight = 2,
	  .run = fz_op_cold },
};

/* ---- audit and stable: debugfs gnt/domains ---------------------------------- */

struct fz_gnt_line {
	unsigned int domid, frames, dead;
	unsigned long active, maps;
};

/* The VM domains gnt/domains lists: how many (even past @max), or -errno. */
static int fz_gnt_domains(struct fz_gnt_line *l, int max)
{
	char buf[16384], *line, *save = NULL;
	int n = 0, ret = vext_debugfs_read("gnt/domains", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	line = strtok_r(buf, "\n", &save);	/* the header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		struct fz_gnt_line x;

		if (sscanf(line, "%u %u %lu %lu %u", &x.domid, &x.frames, &x.active,
			   &x.maps, &x.dead) != 5)
			return -EPROTO;
		/* Domain 0, the host's own table (gntalloc), is always there. */
		if (!x.domid)
			continue;
		if (n < max)
			l[n] = x;
		n++;
	}
	return n;
}

struct fz_gnt_audit {
	struct fz_visitor v;
	struct fz_gnt_line *l;
	int n;
	struct fz_thread *t;
	int seen;
};

static int fz_gnt_audit_vm(struct fz_visitor *v, struct fz_obj *obj)
{
	struct fz_gnt_audit *a = (struct fz_gnt_audit *)v;
	int i;

	if (obj->owner != getpid())
		return 0;
	for (i = 0; i < a->n; i++) {
		if (a->l[i].domid != obj->val[0] || a->l[i].dead)
			continue;
		a->seen++;
		return 0;
	}
	return fz_fail(a->t, "live VM domid %llu not in gnt/domains",
		       (unsigned long long)obj->val[0]);
}

static int fz_gnt_audit(struct fz_thread *t)
{
	static struct fz_gnt_line l[256];
	struct fz_gnt_audit a = { .v.fn = fz_gnt_audit_vm, .l = l, .t = t };
	int i, live = 0;

	a.n = fz_gnt_domains(l, 256);
	if (a.n < 0)
		return fz_fail(t, "debugfs gnt/domains: %s", strerror(-a.n));
	if (a.n > 256)
		return 0;
	for (i = 0; i < a.n; i++) {
		live += !l[i].dead;
		if (l[i].frames > VEXT_GNT_MAX_FRAMES || l[i].maps > VEXT_GNT_MAX_HANDLES)
			return fz_fail(t, "domid %u: %u frames, %lu maps", l[i].domid,
				       l[i].frames, l[i].maps);
	}
	if (fz_visit_objs(&fz_vext_vm, &a.v))
		return -1;
	if (a.seen != live)
		return fz_fail(t, "gnt/domains lists %d live domains, the fuzzer holds %d",
			       live, a.seen);
	return 0;
}

/* Domains left but the held ones (fz_hold_domid()): count, or -errno. */
static int fz_gnt_left(struct fz_gnt_line *first)
{
	struct fz_gnt_line l[16];
	int i, left = 0, n = fz_gnt_domains(l, 16);

	if (n < 0 || n > 16)
		return n;
	for (i = 0; i < n; i++) {
		if (fz_held_domid(l[i].domid) && !l[i].dead)
			continue;
		if (!left++)
			*first = l[i];
	}
	return left;
}

static int fz_gnt_stable(struct fz_thread *t)
{
	struct fz_gnt_line l = { 0 };
	int n, tries = 0;

	/* Fault-ins in flight hold their domain for a moment. */
	while ((n = fz_gnt_left(&l)) > 0 && tries++ < 50)
		vext_sleep_ms(100);
	if (n < 0)
		return fz_fail(t, "debugfs gnt/domains: %s", strerror(-n));
	if (n)
		return fz_fail(t, "%d grant domain(s) left, the first %u: dead %u, %lu %s",
			       n, l.domid, l.dead, l.maps, "maps");
	return 0;
}

/* ---- failslab scenarios ------------------------------------------------------- */

/*
 * Context: fd[0] the granting VM, fd[1] the mapping one; map[0] the
 * granter's table frame 0, map[1] the mapped grants; val[0] the
 * granter's domid, val[1] the first handle mapped by the set-up.
 * Grants: ref i grants gpfn FZ_GNT_GPFN + i to fd[1]'s domain, ref 1
 * read-only.
 */
#define FZ_S_REFS	6

static long fz_s_ioctl(int fd, unsigned long cmd, const void *arg)
{
	long ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static int fz_s_table(int fd, unsigned int frames)
{
	struct vext_gnt_setup_table st = { .nr_frames = frames };
	long ret = fz_s_ioctl(fd, VEXT_GNT_SETUP_TABLE, &st);

	return ret < 0 ? (int)ret : 0;
}

static int fz_s_vm(struct fz_sctx *s)
{
	if (!fz_gnt_mem)
		return -ENOMEM;
	s->fd[0] = ioctl(s->dev, VEXT_CREATE_VM, 0);
	if (s->fd[0] < 0)
		return -errno;
	return 0;
}

int fz_gnt_s_granter(struct fz_sctx *s)
{
	struct vext_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = FZ_GNT_GPA,
		.memory_size = FZ_GNT_PAGES * PAGE,
		.userspace_addr = (uintptr_t)fz_gnt_mem,
	};
	struct vext_grant_entry_v1 *tab;
	int ret, domid, i;

	ret = fz_s_vm(s);
	if (ret)
		return ret;
	s->fd[1] = ioctl(s->dev, VEXT_CREATE_VM, 0);
	if (s->fd[1] < 0)
		return -errno;
	domid = ioctl(s->fd[1], VEXT_GET_DOMID, 0);
	s->val[0] = ioctl(s->fd[0], VEXT_GET_DOMID, 0);
	ret = fz_s_table(s->fd[0], 1);
	if (!ret)
		ret = (int)fz_s_ioctl(s->fd[0], VEXT_SET_USER_MEMORY_REGION, &r);
	if (ret)
		return ret;
	tab = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd[0],
		   VEXT_GNT_TABLE_OFFSET);
	if (tab == MAP_FAILED)
		return -errno;
	s->map[0] = tab;
	s->map_len[0] = PAGE;
	for (i = 0; i < FZ_S_REFS; i++)
		fz_gnt_write(&tab[i], VEXT_GTF_permit_access |
			     (i == 1 ? VEXT_GTF_readonly : 0), domid, FZ_GNT_GPFN + i);
	return 0;
}

/*
 * A batch on the mapping VM: 0 if every op succeeded, -ENOMEM if one
 * answered general_error (what vext answers when out of memory), -EIO for
 * any other status.
 */
static long fz_s_batch(struct fz_sctx *s, struct vext_gnttab_op *ops,
		       unsigned int n)
{
	struct vext_gnttab_batch b = { .ops = (uintptr_t)ops, .count = n };
	long ret = fz_s_ioctl(s->fd[1], VEXT_GNTTAB_OP, &b);
	unsigned int i;

	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		if (ops[i].status == VEXT_GNTST_general_error)
			ret = -ENOMEM;
		else if (ops[i].status && !ret)
			ret = -EIO;
	}
	return ret;
}

static void fz_s_map_op(struct fz_sctx *s, struct vext_gnttab_op *op,
			unsigned int ref, __u16 flags)
{
	memset(op, 0, sizeof(*op));
	op->cmd = VEXT_GNTTABOP_map_grant_ref;
	op->domid = s->val[0];
	op->ref = ref;
	op->flags = flags;
}

static long fz_st_setup(struct fz_sctx *s)
{
	struct vext_gnt_setup_table st = { .nr_frames = 3 };

	return fz_s_ioctl(s->fd[0], VEXT_GNT_SETUP_TABLE, &st);
}

static int fz_sv_setup(struct fz_sctx *s, long ret)
{
	void *p;

	if (ret != 3)
		return -1;
	p = mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, s->fd[0],
		 VEXT_GNT_TABLE_OFFSET);
	if (p == MAP_FAILED)
		return -1;
	s->map[0] = p;
	s->map_len[0] = 3 * PAGE;
	return 0;
}

/* Map refs 0-2 (2 deferred) and 5, copy from 3 and to 4; unmap 5. */
static long fz_st_batch(struct fz_sctx *s)
{
	struct vext_gnttab_op ops[6], un;
	long ret;

	fz_s_map_op(s, &ops[0], 0, 0);
	fz_s_map_op(s, &ops[1], 1, VEXT_GNTMAP_readonly);
	fz_s_map_op(s, &ops[2], 2, VEXT_GNTMAP_defer);
	memset(&ops[3], 0, 2 * sizeof(ops[3]));
	ops[3].cmd = VEXT_GNTTABOP_copy;
	ops[3].domid = s->val[0];
	ops[3].ref = 3;
	ops[3].offset = 8;
	ops[3].len = 64;
	ops[3].buf = (uintptr_t)fz_copy_buf;
	ops[4] = ops[3];
	ops[4].ref = 4;
	ops[4].flags = VEXT_GNTCOPY_to_grant;
	ops[4].buf = (uintptr_t)(fz_gnt_mem + 4 * PAGE + 8);	/* same bytes */
	fz_s_map_op(s, &ops[5], 5, 0);
	ret = fz_s_batch(s, ops, 6);
	if (ret)
		return ret;
	s->val[1] = ops[0].handle;
	memset(&un, 0, sizeof(un));
	un.cmd = VEXT_GNTTABOP_unmap_grant_ref;
	un.handle = ops[5].handle;
	return fz_s_batch(s, &un, 1);
}

static int fz_s_check_page(const unsigned char *p, unsigned int gpfn_off)
{
	return memcmp(p, fz_gnt_mem + gpfn_off * PAGE, PAGE) ? -1 : 0;
}

static int fz_sv_batch(struct fz_sctx *s, long ret)
{
	unsigned char *p;
	int bad;

	(void)ret;
	if (memcmp(fz_copy_buf, fz_gnt_mem + 3 * PAGE + 8, 64))
		return -1;
	/* Handles val[1]..+2 are refs 0-2. */
	p = mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, s->fd[1],
		 VEXT_GNT_MAP_OFFSET + s->val[1] * PAGE);
	if (p == MAP_FAILED)
		return -1;
	bad = fz_s_check_page(p, 0) || fz_s_check_page(p + PAGE, 1) ||
	      fz_s_check_page(p + 2 * PAGE, 2);
	munmap(p, 3 * PAGE);
	return bad ? -1 : 0;
}

static int fz_s_mapped(struct fz_sctx *s)
{
	struct vext_gnttab_op ops[3];
	int ret = fz_gnt_s_granter(s);

	if (ret)
		return ret;
	fz_s_map_op(s, &ops[0], 0, 0);
	fz_s_map_op(s, &ops[1], 1, VEXT_GNTMAP_readonly);
	fz_s_map_op(s, &ops[2], 2, VEXT_GNTMAP_defer);
	ret = (int)fz_s_batch(s, ops, 3);
	s->val[1] = ops[0].handle;
	return ret;
}

/* mmap of the three maps at once: the deferred one is pinned now. */
static long fz_st_mmap(struct fz_sctx *s)
{
	void *p = mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, s->fd[1],
		       VEXT_GNT_MAP_OFFSET + s->val[1] * PAGE);

	if (p == MAP_FAILED)
		return -errno;
	s->map[1] = p;
	s->map_len[1] = 3 * PAGE;
	return 0;
}

static int fz_sv_mmap(struct fz_sctx *s, long ret)
{
	const unsigned char *p = s->map[1];

	(void)ret;
	return fz_s_check_page(p, 0) || fz_s_check_page(p + PAGE, 1) ||
	       fz_s_check_page(p + 2 * PAGE, 2) ? -1 : 0;
}

static int fz_s_table2(struct fz_sctx *s)
{
	struct vext_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = FZ_GNT_GPA,
		.memory_size = FZ_GNT_PAGES * PAGE,
		.userspace_addr = (uintptr_t)fz_gnt_mem,
	};
	int ret = fz_s_vm(s);

	if (!ret)
		ret = fz_s_table(s->fd[0], 2);
	if (!ret)
		ret = (int)fz_s_ioctl(s->fd[0], VEXT_SET_USER_MEMORY_REGION, &r);
	return ret;
}

/* Place frame 1 at a free gpfn and frame 0 over the slot; punch a hole. */
static long fz_st_physmap(struct fz_sctx *s)
{
	struct vext_add_to_physmap add = {
		.domid = VEXT_DOMID_SELF, .space = VEXT_MAPSPACE_grant_table,
		.idx = 1, .gpfn = 0x9000,
	};
	struct vext_remove_from_physmap rm = {
		.domid = VEXT_DOMID_SELF, .gpfn = FZ_GNT_GPFN + 3,
	};
	long ret = fz_s_ioctl(s->fd[0], VEXT_ADD_TO_PHYSMAP, &add);

	if (ret)
		return ret;
	add.idx = 0;
	add.gpfn = FZ_GNT_GPFN + 5;
	ret = fz_s_ioctl(s->fd[0], VEXT_ADD_TO_PHYSMAP, &add);
	if (ret)
		return ret;
	return fz_s_ioctl(s->fd[0], VEXT_REMOVE_FROM_PHYSMAP, &rm);
}

static int fz_sv_physmap(struct fz_sctx *s, long ret)
{
	struct vext_remove_from_physmap rm = { .domid = VEXT_DOMID_SELF };
	static const __u64 gpfns[] = { 0x9000, FZ_GNT_GPFN + 5 };
	unsigned int i;

	(void)ret;
	/* Placed frames are there once; the hole is there already. */
	for (i = 0; i < FZ_ARRAY_SIZE(gpfns); i++) {
		rm.gpfn = gpfns[i];
		if (fz_s_ioctl(s->fd[0], VEXT_REMOVE_FROM_PHYSMAP, &rm) ||
		    fz_s_ioctl(s->fd[0], VEXT_REMOVE_FROM_PHYSMAP, &rm) != -ENOENT)
			return -1;
	}
	rm.gpfn = FZ_GNT_GPFN + 3;
	return fz_s_ioctl(s->fd[0], VEXT_REMOVE_FROM_PHYSMAP, &rm) == -ENOENT ? 0 : -1;
}

static const struct fz_scenario fz_gnt_scenarios[] = {
	{ .name = "GNT_SETUP_TABLE", .setup = fz_s_vm, .step = fz_st_setup,
	  .verify = fz_sv_setup, .errs = { ENOMEM } },
	{ .name = "GNTTAB_OP map/copy/unmap", .setup = fz_gnt_s_granter,
	  .step = fz_st_batch, .verify = fz_sv_batch, .errs = { ENOMEM } },
	{ .name = "mmap of mapped grants", .setup = fz_s_mapped,
	  .step = fz_st_mmap, .verify = fz_sv_mmap, .errs = { ENOMEM } },
	{ .name = "ADD/REMOVE_FROM_PHYSMAP", .setup = fz_s_table2,
	  .step = fz_st_physmap, .verify = fz_sv_physmap, .errs = { ENOMEM } },
};

static struct fz_fdtype *fz_gnt_types[] = { NULL };

static struct fz_module fz_gnt = {
	.name = "gnt",
	.kmods = { FZ_GNT_MODULE },
	.nr_first = 0x60, .nr_last = 0x7f,
	.fdtypes = fz_gnt_types,
	.ioctls = fz_gnt_ioctls, .nr_ioctls = FZ_ARRAY_SIZE(fz_gnt_ioctls),
	.ops = fz_gnt_ops, .nr_ops = FZ_ARRAY_SIZE(fz_gnt_ops),
	.scenarios = fz_gnt_scenarios,
	.nr_scenarios = FZ_ARRAY_SIZE(fz_gnt_scenarios),
	.setup = fz_gnt_setup,
	.teardown = fz_gnt_teardown,
	.stable = fz_gnt_stable,
	.audit = fz_gnt_audit,
};

FZ_MODULE(fz_gnt)
