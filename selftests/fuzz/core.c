// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzer table of vext_core: /dev/vext, VM and vCPU fds, memory slots and
 * the vCPU shared page; and its failslab scenarios.
 *
 * Invariants checked beyond the errnos of Documentation/api.rst:
 *  - GET_API_VERSION answers 1, CHECK_EXTENSION core's limits;
 *  - a VM's domid is in range, stable, and no two live VMs share one;
 *  - no two successful CREATE_VCPUs of a VM get the same id; EEXIST and
 *    ENOSPC only when the model says so (single-threaded);
 *  - SET_USER_MEMORY_REGION rejects every argument the rules reject and,
 *    single-threaded, gives exactly the model's result;
 *  - the shared page has the right header, stays read-only (mmap with
 *    write, mprotect, mremap growing, /proc/self/mem all fail) and its
 *    reserved area reads zero;
 *  - debugfs "domains" lists exactly the live VMs with their vCPU and slot
 *    counts (audit), and nothing once every fd is closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vext.h>

#include "fuzz.h"
#include "vext_test.h"

#define PAGE		4096UL

static int fz_open_dev(void)
{
	int fd = open("/dev/vext", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* ---- VMs -------------------------------------------------------------- */

struct fz_slotmodel {
	__u64 gpa, size, uaddr;
	__u32 flags;
};

/* One counter per domid: a second live VM with the same one is a bug. */
static unsigned char fz_domid_users[VEXT_MAX_DOMID + 1];

static int fz_vm_init(struct fz_thread *t, struct fz_obj *obj, int fd,
		      struct fz_obj *parent, __u64 arg)
{
	long domid = ioctl(fd, VEXT_GET_DOMID, 0);

	(void)parent;
	(void)arg;
	obj->priv = calloc(VEXT_NR_MEMSLOTS, sizeof(struct fz_slotmodel));
	if (!obj->priv)
		abort();
	if (domid < VEXT_MIN_DOMID || domid > VEXT_MAX_DOMID)
		return fz_fail(t, "new VM: GET_DOMID answered %ld (%s)", domid,
			       domid < 0 ? strerror(errno) : "out of range");
	obj->val[0] = domid;
	if (__atomic_fetch_add(&fz_domid_users[domid], 1, __ATOMIC_RELAXED))
		return fz_fail(t, "new VM got domid %ld of another live VM", domid);
	return 0;
}

static void fz_vm_fini(struct fz_obj *obj)
{
	if (obj->val[0])
		__atomic_sub_fetch(&fz_domid_users[obj->val[0]], 1, __ATOMIC_RELAXED);
	free(obj->priv);
}

static int fz_vcpu_init(struct fz_thread *t, struct fz_obj *obj, int fd,
			struct fz_obj *parent, __u64 arg)
{
	(void)t;
	(void)fd;
	(void)parent;
	obj->val[0] = arg;
	return 0;
}

struct fz_fdtype fz_vext_dev = { .name = "dev", .open = fz_open_dev };

struct fz_fdtype fz_vext_vm = {
	.name = "vm", .mm_bound = true, .init = fz_vm_init, .fini = fz_vm_fini,
};

struct fz_fdtype fz_vext_vcpu = {
	.name = "vcpu", .mm_bound = true, .init = fz_vcpu_init,
};

static struct fz_fdtype *fz_core_types[] = {
	&fz_vext_dev, &fz_vext_vm, &fz_vext_vcpu, NULL,
};

/* ---- checks ------------------------------------------------------------- */

static int fz_check_version(struct fz_thread *t, struct fz_call *c)
{
	if (!c->arg && c->ret != VEXT_API_VERSION)
		return fz_fail(t, "answered %ld", c->ret);
	return 0;
}

static int fz_check_extension(struct fz_thread *t, struct fz_call *c)
{
	static const long want[] = {
		[VEXT_CAP_CORE] = 1,
		[VEXT_CAP_MAX_VCPUS] = VEXT_MAX_VCPUS,
		[VEXT_CAP_MAX_VCPU_ID] = VEXT_MAX_VCPU_ID,
		[VEXT_CAP_NR_MEMSLOTS] = VEXT_NR_MEMSLOTS,
		[VEXT_CAP_MAX_DOMID] = VEXT_MAX_DOMID,
		[VEXT_CAP_VCPU_SHARED_PAGE] = VEXT_VCPU_SHARED_VERSION,
	};

	if (c->ret < 0)
		return fz_fail(t, "failed for cap %#llx", (unsigned long long)c->arg);
	if (c->arg < FZ_ARRAY_SIZE(want) && c->ret != want[c->arg])
		return fz_fail(t, "cap %llu answered %ld, want %ld",
			       (unsigned long long)c->arg, c->ret, want[c->arg]);
	if (c->arg > 0xffffffffULL && c->ret)
		return fz_fail(t, "cap %#llx (above 32 bits) answered %ld",
			       (unsigned long long)c->arg, c->ret);
	return 0;
}

static int fz_check_domid(struct fz_thread *t, struct fz_call *c)
{
	if (c->ret >= 0 && c->ret != (long)c->obj->val[0])
		return fz_fail(t, "answered %ld, the VM had %llu", c->ret,
			       (unsigned long long)c->obj->val[0]);
	return 0;
}

static unsigned int fz_popcount(const __u64 *bits)
{
	unsigned int i, n = 0;

	for (i = 0; i < 16; i++)
		n += __builtin_popcountll(__atomic_load_n(&bits[i], __ATOMIC_RELAXED));
	return n;
}

static int fz_check_vcpu(struct fz_thread *t, struct fz_call *c)
{
	__u64 id = c->arg, bit;
	__u64 *bits = c->obj->bits;
	bool had;

	if (c->foreign || id >= VEXT_MAX_VCPU_ID)
		return 0;
	bit = 1ULL << (id % 64);
	if (c->ret >= 0) {
		had = __atomic_fetch_or(&bits[id / 64], bit, __ATOMIC_RELAXED) & bit;
		if (had)
			return fz_fail(t, "vCPU %llu created twice", (unsigned long long)id);
		if (fz_popcount(bits) > VEXT_MAX_VCPUS)
			return fz_fail(t, "more than %d vCPUs", VEXT_MAX_VCPUS);
		return 0;
	}
	if (fz_threaded())
		return 0;
	had = __atomic_load_n(&bits[id / 64], __ATOMIC_RELAXED) & bit;
	if (c->ret == -EEXIST && !had)
		return fz_fail(t, "EEXIST for vCPU %llu that was never created",
			       (unsigned long long)id);
	if (c->ret == -ENOSPC && fz_popcount(bits) < VEXT_MAX_VCPUS)
		return fz_fail(t, "ENOSPC with %u vCPUs", fz_popcount(bits));
	if (had && c->ret != -EEXIST)
		return fz_fail(t, "vCPU %llu exists: %s, expected EEXIST",
			       (unsigned long long)id, strerror(-c->ret));
	return 0;
}

static const struct fz_field fz_region_fields[] = {
	{ .name = "slot", .off = 0, .size = 4, .kind = FZ_INDEX,
	  .limit = VEXT_NR_MEMSLOTS, .pool = 6, .strict = true },
	{ .name = "flags", .off = 4, .size = 4, .kind = FZ_FLAGS,
	  .limit = VEXT_MEM_VALID_FLAGS, .strict = true },
	{ .name = "guest_phys_addr", .off = 8, .size = 8, .kind = FZ_GPA,
	  .align = PAGE },
	{ .name = "memory_size", .off = 16, .size = 8, .kind = FZ_SIZE,
	  .align = PAGE, .limit = VEXT_MAX_MEMSLOT_SIZE },
	{ .name = "userspace_addr", .off = 24, .size = 8, .kind = FZ_UADDR,
	  .align = PAGE },
};

/* Would the kernel reject this region before looking at the slots? */
static bool fz_region_bad(const struct vext_userspace_memory_region *r)
{
	if (r->flags & ~VEXT_MEM_VALID_FLAGS || r->slot >= VEXT_NR_MEMSLOTS)
		return true;
	if ((r->guest_phys_addr | r->memory_size | r->userspace_addr) & (PAGE - 1))
		return true;
	if (!r->memory_size)
		return false;
	if (r->memory_size > VEXT_MAX_MEMSLOT_SIZE ||
	    r->guest_phys_addr + r->memory_size < r->guest_phys_addr)
		return true;
	/* Past any user space (5-level paging included) or wrapping. */
	return r->userspace_addr + r->memory_size < r->userspace_addr ||
	       r->userspace_addr + r->memory_size > (1ULL << 56) - PAGE;
}

/* The model's answer for a region the rules accept. */
static long fz_region_model(struct fz_slotmodel *m,
			    const struct vext_userspace_memory_region *r,
			    bool apply)
{
	struct fz_slotmodel *s = &m[r->slot];
	unsigned int i;

	if (!r->memory_size) {
		if (!s->size)
			return -EINVAL;
		if (apply)
			memset(s, 0, sizeof(*s));
		return 0;
	}
	if (s->size) {
		if (s->size != r->memory_size || s->uaddr != r->userspace_addr ||
		    s->flags != r->flags)
			return -EINVAL;
		if (s->gpa == r->guest_phys_addr)
			return 0;
	}
	for (i = 0; i < VEXT_NR_MEMSLOTS; i++) {
		if (i == r->slot || !m[i].size)
			continue;
		if (r->guest_phys_addr < m[i].gpa + m[i].size &&
		    m[i].gpa < r->guest_phys_addr + r->memory_size)
			return -EEXIST;
	}
	if (apply) {
		s->gpa = r->guest_phys_addr;
		s->size = r->memory_size;
		s->uaddr = r->userspace_addr;
		s->flags = r->flags;
	}
	return 0;
}

static int fz_check_region(struct fz_thread *t, struct fz_call *c)
{
	struct vext_userspace_memory_region r;
	struct fz_slotmodel *m = c->obj->priv;
	long want;

	if (c->foreign || c->bad_arg || !m)
		return 0;
	memcpy(&r, c->buf, sizeof(r));
	if (fz_region_bad(&r)) {
		if (c->ret != -EINVAL)
			return fz_fail(t, "slot %u flags %#x gpa %#llx size %#llx uaddr %#llx: %s",
				       r.slot, r.flags,
				       (unsigned long long)r.guest_phys_addr,
				       (unsigned long long)r.memory_size,
				       (unsigned long long)r.userspace_addr,
				       c->ret < 0 ? strerror(-c->ret) : "success");
		return 0;
	}
	/*
	 * Past 4-level paging's user space the paging mode decides; with
	 * other threads the model may be behind. Follow the kernel then.
	 */
	if (r.userspace_addr + r.memory_size > (1ULL << 47) - PAGE ||
	    fz_threaded()) {
		if (!c->ret)
			fz_region_model(m, &r, true);
		return 0;
	}
	want = fz_region_model(m, &r, true);
	if (c->ret != want)
		return fz_fail(t, "slot %u gpa %#llx size %#llx: %s, the model says %s",
			       r.slot, (unsigned long long)r.guest_phys_addr,
			       (unsigned long long)r.memory_size,
			       c->ret < 0 ? strerror(-c->ret) : "success",
			       want < 0 ? strerror(-want) : "success");
	return 0;
}

int fz_vm_set_region(int fd, struct fz_obj *vm,
		     const struct vext_userspace_memory_region *r)
{
	struct fz_slotmodel *m = vm->priv;

	if (ioctl(fd, VEXT_SET_USER_MEMORY_REGION, r))
		return -errno;
	if (m && vm->owner == getpid() && !fz_region_bad(r))
		fz_region_model(m, r, true);
	return 0;
}

/* Point the region at real memory of this thread more often than not. */
static void fz_prepare_region(struct fz_thread *t, struct fz_call *c)
{
	(void)t;
	(void)c;
}

static const struct fz_ioctl fz_core_ioctls[] = {
	{
		.name = "GET_API_VERSION", .cmd = VEXT_GET_API_VERSION,
		.on = { &fz_vext_dev }, .argkind = FZ_ARG_ZERO,
		.errs = { EINVAL }, .weight = 3, .check = fz_check_version,
	}, {
		.name = "CHECK_EXTENSION", .cmd = VEXT_CHECK_EXTENSION,
		.on = { &fz_vext_dev }, .argkind = FZ_ARG_SCALAR,
		.arg = { .name = "cap", .size = 8, .kind = FZ_VALUE },
		.weight = 5, .check = fz_check_extension,
	}, {
		.name = "CREATE_VM", .cmd = VEXT_CREATE_VM,
		.on = { &fz_vext_dev }, .argkind = FZ_ARG_ZERO,
		.errs = { EINVAL, ENOSPC, ENOMEM }, .ret = &fz_vext_vm,
		.weight = 6,
	}, {
		.name = "CREATE_VCPU", .cmd = VEXT_CREATE_VCPU,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_SCALAR,
		.arg = { .name = "id", .size = 8, .kind = FZ_INDEX,
			 .limit = VEXT_MAX_VCPU_ID, .pool = 80, .strict = true },
		.errs = { EINVAL, EEXIST, ENOSPC, ENOMEM }, .ret = &fz_vext_vcpu,
		.weight = 12, .check = fz_check_vcpu,
	}, {
		.name = "SET_USER_MEMORY_REGION",
		.cmd = VEXT_SET_USER_MEMORY_REGION,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_userspace_memory_region),
		.fields = fz_region_fields,
		.nr_fields = FZ_ARRAY_SIZE(fz_region_fields),
		.errs = { EINVAL, EEXIST }, .weight = 20,
		.prepare = fz_prepare_region, .check = fz_check_region,
	}, {
		.name = "GET_DOMID", .cmd = VEXT_GET_DOMID,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_ZERO,
		.errs = { EINVAL }, .weight = 4, .check = fz_check_domid,
	},
};

/* ---- operations ---------------------------------------------------------- */

static int fz_check_page(struct fz_thread *t, const struct vext_vcpu_shared *s,
			 struct fz_obj *vcpu)
{
	unsigned int i;

	if (s->version != VEXT_VCPU_SHARED_VERSION || s->size != sizeof(*s))
		return fz_fail(t, "shared page: version %u size %u", s->version, s->size);
	if (s->vcpu_id != vcpu->val[0] ||
	    (vcpu->parent && s->domid != vcpu->parent->val[0]))
		return fz_fail(t, "shared page of vCPU %llu/domid %llu says %u/%u",
			       (unsigned long long)vcpu->val[0],
			       (unsigned long long)(vcpu->parent ? vcpu->parent->val[0] : 0),
			       s->vcpu_id, s->domid);
	if (s->pad0)
		return fz_fail(t, "shared page: pad0 %u", s->pad0);
	for (i = 0; i < FZ_ARRAY_SIZE(s->data); i++)
		if (s->data[i])
			return fz_fail(t, "shared page: data[%u] = %#llx", i,
				       (unsigned long long)s->data[i]);
	return 0;
}

/* mmap of a vCPU fd with random length, offset, protection and flags. */
static int fz_op_mmap(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	static const size_t lens[] = { PAGE, PAGE, PAGE, 1, PAGE - 1, PAGE + 1,
				       2 * PAGE, 0 };
	static const int prots[] = { PROT_READ, PROT_READ, PROT_READ,
				     PROT_READ | PROT_WRITE, PROT_WRITE,
				     PROT_READ | PROT_EXEC, PROT_NONE };
	size_t len = lens[fz_below(t, FZ_ARRAY_SIZE(lens))];
	int prot = prots[fz_below(t, FZ_ARRAY_SIZE(prots))];
	int flags = fz_chance(t, 70) ? MAP_SHARED : MAP_PRIVATE;
	off_t off = fz_chance(t, 85) ? 0 : (off_t)PAGE * (1 + fz_below(t, 4));
	bool want_ok = len && len <= PAGE && !off && !(prot & PROT_WRITE);
	bool exec = want_ok && (prot & PROT_EXEC);
	struct vext_vcpu_shared *s;
	int err;

	s = mmap(NULL, len, prot, flags, fd, off);
	err = s == MAP_FAILED ? errno : 0;
	if (fz_racy(t)) {
		if (!err)
			munmap(s, len);
		return 0;
	}
	if (err == EPERM && exec)
		return 0;	/* the anon inode mount may be noexec */
	if (err) {
		if (want_ok)
			return fz_fail(t, "mmap len %zu prot %#x flags %#x: %s", len,
				       prot, flags, strerror(err));
		if ((!len || off || len > PAGE) ? err != EINVAL :
		    err != EPERM)
			return fz_fail(t, "mmap len %zu off %#lx prot %#x: %s", len,
				       (long)off, prot, strerror(err));
		return 0;
	}
	if (!want_ok) {
		munmap(s, len);
		return fz_fail(t, "mmap len %zu off %#lx prot %#x flags %#x succeeded",
			       len, (long)off, prot, flags);
	}
	if ((prot & PROT_READ) && fz_check_page(t, s, obj)) {
		munmap(s, len);
		return -1;
	}
	if (!mprotect(s, PAGE, PROT_READ | PROT_WRITE)) {
		munmap(s, len);
		return fz_fail(t, "mprotect made the shared page writable");
	}
	if (mremap(s, PAGE, 2 * PAGE, 0) != MAP_FAILED) {
		munmap(s, 2 * PAGE);
		return fz_fail(t, "mremap grew the shared page");
	}
	if (prot & PROT_READ) {
		__u32 v = 0xdead;
		int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);

		if (mem >= 0) {
			ssize_t n = pwrite(mem, &v, sizeof(v), (off_t)(uintptr_t)s);

			close(mem);
			if (n > 0 || s->version != VEXT_VCPU_SHARED_VERSION) {
				munmap(s, len);
				return fz_fail(t, "/proc/self/mem wrote the shared page");
			}
		}
	}
	if (fz_chance(t, 50))
		fz_keep_map(t, s, len, obj);
	else
		munmap(s, len);
	return 0;
}

/* read, write and mmap on fds that have none of them. */
static int fz_op_rw(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	char buf[64];
	ssize_t n;
	void *p;

	switch (fz_below(t, 3)) {
	case 0:
		n = read(fd, buf, fz_below(t, sizeof(buf)));
		break;
	case 1:
		n = write(fd, buf, fz_below(t, sizeof(buf)));
		break;
	default:
		/*
		 * Only /dev/vext: the vCPU fd has its own op, and components
		 * may give the VM fd an mmap (grant tables).
		 */
		if (obj->type != &fz_vext_dev)
			return 0;
		p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			munmap(p, PAGE);
			return fz_racy(t) ? 0 : fz_fail(t, "mmap of a %s fd succeeded",
						       obj->type->name);
		}
		if (!fz_racy(t) && errno != ENODEV)
			return fz_fail(t, "mmap of a %s fd: %s", obj->type->name,
				       strerror(errno));
		return 0;
	}
	if (fz_racy(t))
		return 0;
	if (n >= 0)
		return fz_fail(t, "read/write on a %s fd returned %zd",
			       obj->type->name, n);
	if (errno != EINVAL)
		return fz_fail(t, "read/write on a %s fd: %s", obj->type->name,
			       strerror(errno));
	return 0;
}

static const struct fz_op fz_core_ops[] = {
	{ .name = "mmap vCPU page", .on = { &fz_vext_vcpu }, .run = fz_op_mmap },
	{ .name = "read/write/mmap", .on = { &fz_vext_dev, &fz_vext_vm, &fz_vext_vcpu },
	  .run = fz_op_rw },
};

/* ---- audit: debugfs against the live objects ---------------------------- */

struct fz_audit {
	struct fz_visitor v;
	int domids[256], vcpus[256], slots[256];
	int n;
	int seen;
	struct fz_thread *t;
	int bad;
};

static int fz_audit_vm(struct fz_visitor *v, struct fz_obj *obj)
{
	struct fz_audit *a = (struct fz_audit *)v;
	struct fz_slotmodel *m = obj->priv;
	int i, slots = 0;

	if (obj->owner != getpid())
		return 0;
	for (i = 0; m && i < VEXT_NR_MEMSLOTS; i++)
		slots += !!m[i].size;
	for (i = 0; i < a->n && i < 256; i++) {
		if (a->domids[i] != (int)obj->val[0])
			continue;
		a->seen++;
		if (a->vcpus[i] != (int)fz_popcount(obj->bits) || a->slots[i] != slots) {
			fz_fail(a->t, "domid %d: debugfs: %d vCPUs %d slots, fuzzer: %u and %d",
				a->domids[i], a->vcpus[i], a->slots[i],
				fz_popcount(obj->bits), slots);
			return -1;
		}
		return 0;
	}
	fz_fail(a->t, "live VM domid %llu missing from debugfs",
		(unsigned long long)obj->val[0]);
	return -1;
}

static int fz_core_audit(struct fz_thread *t)
{
	struct fz_audit a = { .v.fn = fz_audit_vm, .t = t };

	a.n = fz_debugfs_domains(a.domids, a.vcpus, a.slots, 256);
	if (a.n < 0)
		return fz_fail(t, "debugfs domains: %s", strerror(-a.n));
	if (fz_visit_objs(&fz_vext_vm, &a.v))
		return -1;
	if (a.seen != a.n)
		return fz_fail(t, "debugfs lists %d VMs, the fuzzer holds %d", a.n, a.seen);
	return 0;
}

static int fz_core_stable(struct fz_thread *t)
{
	int d[16], v[16], s[16];
	int i, first = -1, left = 0, n = fz_debugfs_domains(d, v, s, 16);

	if (n < 0)
		return fz_fail(t, "debugfs domains: %s", strerror(-n));
	/* A scenario's holder VM (fz_hold_domid()) is no leftover. */
	for (i = 0; i < n && i < 16; i++) {
		if (fz_held_domid(d[i]))
			continue;
		if (first < 0)
			first = i;
		left++;
	}
	if (n > 16)
		left += n - 16;
	if (left)
		return fz_fail(t, "%d VM(s) left, the first domid %d with %d vCPUs",
			       left, first >= 0 ? d[first] : -1,
			       first >= 0 ? v[first] : -1);
	return 0;
}

/* ---- failslab scenarios --------------------------------------------------- */

static int fz_s_vm(struct fz_sctx *s)
{
	s->fd[0] = ioctl(s->dev, VEXT_CREATE_VM, 0);
	return s->fd[0] < 0 ? -errno : 0;
}

static int fz_s_vcpu(struct fz_sctx *s)
{
	int ret = fz_s_vm(s);

	if (ret)
		return ret;
	s->fd[1] = ioctl(s->fd[0], VEXT_CREATE_VCPU, 3);
	return s->fd[1] < 0 ? -errno : 0;
}

static long fz_st_open(struct fz_sctx *s)
{
	s->fd[0] = open("/dev/vext", O_RDWR | O_CLOEXEC);
	return s->fd[0] < 0 ? -errno : s->fd[0];
}

static int fz_sv_open(struct fz_sctx *s, long ret)
{
	(void)ret;
	return ioctl(s->fd[0], VEXT_GET_API_VERSION, 0) == VEXT_API_VERSION ? 0 : -1;
}

static long fz_st_vm(struct fz_sctx *s)
{
	s->fd[0] = ioctl(s->dev, VEXT_CREATE_VM, 0);
	return s->fd[0] < 0 ? -errno : s->fd[0];
}

static int fz_sv_vm(struct fz_sctx *s, long ret)
{
	long domid = ioctl(s->fd[0], VEXT_GET_DOMID, 0);

	(void)ret;
	return domid >= VEXT_MIN_DOMID && domid <= VEXT_MAX_DOMID ? 0 : -1;
}

static long fz_st_vcpu(struct fz_sctx *s)
{
	s->fd[1] = ioctl(s->fd[0], VEXT_CREATE_VCPU, 3);
	return s->fd[1] < 0 ? -errno : s->fd[1];
}

static int fz_sv_vcpu(struct fz_sctx *s, long ret)
{
	struct vext_vcpu_shared *p;
	int ok;

	(void)ret;
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, s->fd[1], 0);
	if (p == MAP_FAILED)
		return -1;
	ok = p->vcpu_id == 3 && p->version == VEXT_VCPU_SHARED_VERSION;
	munmap(p, PAGE);
	/* The id is taken now. */
	ret = ioctl(s->fd[0], VEXT_CREATE_VCPU, 3);
	if (ret >= 0) {
		close(ret);
		return -1;
	}
	if (errno != EEXIST)
		return -1;
	return ok ? 0 : -1;
}

static long fz_st_region(struct fz_sctx *s)
{
	struct vext_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x100000, .memory_size = 16 * PAGE,
		.userspace_addr = 0x10000000,
	};

	return ioctl(s->fd[0], VEXT_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

static long fz_st_mmap(struct fz_sctx *s)
{
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, s->fd[1], 0);

	if (p == MAP_FAILED)
		return -errno;
	s->map[0] = p;
	s->map_len[0] = PAGE;
	return 0;
}

static int fz_sv_mmap(struct fz_sctx *s, long ret)
{
	const struct vext_vcpu_shared *p = s->map[0];

	(void)ret;
	return p->vcpu_id == 3 && p->version == VEXT_VCPU_SHARED_VERSION ? 0 : -1;
}

/* The whole bring-up of a VMM at once: injected anywhere in it. */
static long fz_st_bringup(struct fz_sctx *s)
{
	long ret = fz_st_vm(s);

	if (ret < 0)
		return ret;
	ret = fz_st_vcpu(s);
	if (ret < 0)
		return ret;
	ret = fz_st_region(s);
	if (ret < 0)
		return ret;
	return fz_st_mmap(s);
}

static const struct fz_scenario fz_core_scenarios[] = {
	{ .name = "open /dev/vext", .step = fz_st_open, .verify = fz_sv_open,
	  .errs = { ENOMEM, ENFILE } },
	{ .name = "CREATE_VM", .step = fz_st_vm, .verify = fz_sv_vm,
	  .errs = { ENOMEM } },
	{ .name = "CREATE_VCPU", .setup = fz_s_vm, .step = fz_st_vcpu,
	  .verify = fz_sv_vcpu, .errs = { ENOMEM } },
	{ .name = "SET_USER_MEMORY_REGION", .setup = fz_s_vm,
	  .step = fz_st_region, .errs = { ENOMEM } },
	{ .name = "mmap vCPU page", .setup = fz_s_vcpu, .step = fz_st_mmap,
	  .verify = fz_sv_mmap, .errs = { ENOMEM } },
	{ .name = "VM, vCPU, region, mmap", .step = fz_st_bringup,
	  .verify = fz_sv_mmap, .errs = { ENOMEM } },
};

static struct fz_module fz_core = {
	.name = "core",
	.kmods = { "vext_core" },
	.nr_first = 0x00, .nr_last = 0x1f,
	.fdtypes = fz_core_types,
	.ioctls = fz_core_ioctls, .nr_ioctls = FZ_ARRAY_SIZE(fz_core_ioctls),
	.ops = fz_core_ops, .nr_ops = FZ_ARRAY_SIZE(fz_core_ops),
	.scenarios = fz_core_scenarios,
	.nr_scenarios = FZ_ARRAY_SIZE(fz_core_scenarios),
	.stable = fz_core_stable,
	.audit = fz_core_audit,
};

FZ_MODULE(fz_core)
