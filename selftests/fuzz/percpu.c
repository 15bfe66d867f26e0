// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzer table of vext_percpu: VEXT_GET_STATS_FD on VM and vCPU fds, and
 * the stats fds it returns (pread at any offset and length into good and
 * bad buffers, read, write, mmap); its failslab scenarios.
 *
 * Invariants: the header and id match the fd's owner (id "vext-<domid>"
 * or "vext-<domid>/vcpu-<id>"), the constant part reads the same at any
 * offset, a read returns exactly what lies between the offset and the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vext.h>

#include "fuzz.h"

#define NAME_SIZE	48
#define DESC_SIZE	(sizeof(struct vext_stats_desc) + NAME_SIZE)

struct fz_fdtype fz_vext_stats = { .name = "stats" };

static struct fz_fdtype *fz_percpu_types[] = { &fz_vext_stats, NULL };

static const struct fz_ioctl fz_percpu_ioctls[] = {
	{
		.name = "GET_STATS_FD", .cmd = VEXT_GET_STATS_FD,
		.on = { &fz_vext_vm, &fz_vext_vcpu }, .argkind = FZ_ARG_ZERO,
		.errs = { EINVAL, ENOMEM }, .ret = &fz_vext_stats, .weight = 8,
	},
};

/* The fd's header and id, checked against its owner. */
static int fz_stats_meta(struct fz_thread *t, int fd, struct fz_obj *obj,
			 unsigned char *meta, size_t *meta_len, size_t *total)
{
	const struct fz_obj *owner = obj->parent;
	struct vext_stats_header h;
	bool vcpu = owner && owner->type == &fz_vext_vcpu;
	unsigned int want_desc = vcpu ? 7 : 8;
	char want[NAME_SIZE];
	ssize_t n;

	if (!owner)
		return 0;
	if (vcpu)
		snprintf(want, sizeof(want), "vext-%llu/vcpu-%llu",
			 (unsigned long long)owner->parent->val[0],
			 (unsigned long long)owner->val[0]);
	else
		snprintf(want, sizeof(want), "vext-%llu",
			 (unsigned long long)owner->val[0]);
	*meta_len = sizeof(h) + NAME_SIZE + want_desc * DESC_SIZE;
	*total = *meta_len + want_desc * sizeof(__u64);
	n = pread(fd, meta, *meta_len, 0);
	if (n != (ssize_t)*meta_len)
		return fz_fail(t, "pread of the %zu-byte header: %zd (%s)", *meta_len,
			       n, n < 0 ? strerror(errno) : "short");
	memcpy(&h, meta, sizeof(h));
	if (h.flags || h.name_size != NAME_SIZE || h.num_desc != want_desc ||
	    h.id_offset != sizeof(h) || h.desc_offset != sizeof(h) + NAME_SIZE ||
	    h.data_offset != *meta_len)
		return fz_fail(t, "header flags %u name_size %u num_desc %u offsets %u %u %u",
			       h.flags, h.name_size, h.num_desc, h.id_offset,
			       h.desc_offset, h.data_offset);
	if (strncmp((char *)meta + h.id_offset, want, NAME_SIZE))
		return fz_fail(t, "id \"%.48s\", want \"%s\"",
			       (char *)meta + h.id_offset, want);
	return 0;
}

static int fz_op_stats(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	unsigned char meta[1024];
	size_t meta_len = 0, total = 0, len;
	long long off;
	ssize_t n, want;
	bool good;
	void *p;

	if (fz_stats_meta(t, fd, obj, meta, &meta_len, &total))
		return fz_racy(t) ? 0 : -1;
	if (!total)
		return 0;
	switch (fz_below(t, 8)) {
	case 0:
		n = write(fd, meta, 8);
		if (!fz_racy(t) && (n >= 0 || errno != EBADF))
			return fz_fail(t, "write to a stats fd: %zd (%s)", n,
				       n < 0 ? strerror(errno) : "written");
		return 0;
	case 1:
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			munmap(p, 4096);
			return fz_racy(t) ? 0 : fz_fail(t, "mmap of a stats fd");
		}
		return 0;
	case 2:
		off = -1 - (long long)fz_below(t, 1 << 20);
		break;
	case 3:
		off = total + fz_below(t, 64);
		break;
	default:
		off = fz_below(t, total + 1);
	}
	len = fz_chance(t, 10) ? 0 : fz_below(t, total + 32);
	p = fz_buffer(t, len, true, &good);
	n = pread(fd, p, len, off);
	if (fz_racy(t))
		return 0;
	if (off < 0) {
		if (n >= 0 || errno != EINVAL)
			return fz_fail(t, "pread at %lld: %zd (%s)", off, n,
				       n < 0 ? strerror(errno) : "read");
		return 0;
	}
	want = (size_t)off >= total ? 0 : (ssize_t)(len < total - off ? len : total - off);
	if (!good) {
		/* A buffer straddling a hole may be good for a short read. */
		if ((n < 0 && errno == EFAULT) || n == want)
			return 0;
		return fz_fail(t, "pread of %zu at %lld into a bad buffer %p: %zd (%s)",
			       len, off, p, n, n < 0 ? strerror(errno) : "read");
	}
	if (n != want)
		return fz_fail(t, "pread of %zu at %lld: %zd (%s), want %zd", len, off,
			       n, n < 0 ? strerror(errno) : "read", want);
	if ((size_t)off < meta_len) {
		size_t cmp = meta_len - off < (size_t)n ? meta_len - off : (size_t)n;

		if (memcmp(p, meta + off, cmp))
			return fz_fail(t, "pread of %zu at %lld: the header differs", len, off);
	}
	return 0;
}

static const struct fz_op fz_percpu_ops[] = {
	{ .name = "pread stats", .on = { &fz_vext_stats }, .weight = 10,
	  .run = fz_op_stats },
};

/* ---- failslab scenarios ------------------------------------------------ */

static int fz_s_vcpu(struct fz_sctx *s)
{
	s->fd[0] = ioctl(s->dev, VEXT_CREATE_VM, 0);
	if (s->fd[0] < 0)
		return -errno;
	s->fd[1] = ioctl(s->fd[0], VEXT_CREATE_VCPU, 1);
	return s->fd[1] < 0 ? -errno : 0;
}

static long fz_st_vm_stats(struct fz_sctx *s)
{
	s->fd[2] = ioctl(s->fd[0], VEXT_GET_STATS_FD, 0);
	return s->fd[2] < 0 ? -errno : s->fd[2];
}

static long fz_st_vcpu_stats(struct fz_sctx *s)
{
	s->fd[2] = ioctl(s->fd[1], VEXT_GET_STATS_FD, 0);
	return s->fd[2] < 0 ? -errno : s->fd[2];
}

static int fz_sv_stats(struct fz_sctx *s, long ret)
{
	struct vext_stats_header h;

	(void)ret;
	if (pread(s->fd[2], &h, sizeof(h), 0) != sizeof(h))
		return -1;
	return h.name_size == NAME_SIZE && h.num_desc >= 7 ? 0 : -1;
}

static long fz_st_pread(struct fz_sctx *s)
{
	unsigned char buf[1024];
	ssize_t n = pread(s->fd[2], buf, sizeof(buf), 0);

	return n < 0 ? -errno : n;
}

static int fz_s_stats(struct fz_sctx *s)
{
	int ret = fz_s_vcpu(s);

	if (ret)
		return ret;
	return fz_st_vm_stats(s) < 0 ? -errno : 0;
}

static const struct fz_scenario fz_percpu_scenarios[] = {
	{ .name = "GET_STATS_FD (VM)", .setup = fz_s_vcpu, .step = fz_st_vm_stats,
	  .verify = fz_sv_stats, .errs = { ENOMEM } },
	{ .name = "GET_STATS_FD (vCPU)", .setup = fz_s_vcpu,
	  .step = fz_st_vcpu_stats, .verify = fz_sv_stats, .errs = { ENOMEM } },
	{ .name = "pread stats", .setup = fz_s_stats, .step = fz_st_pread,
	  .errs = { ENOMEM } },
};

static struct fz_module fz_percpu = {
	.name = "percpu",
	.kmods = { "vext_percpu" },
	.nr_first = 0x20, .nr_last = 0x2f,
	.fdtypes = fz_percpu_types,
	.ioctls = fz_percpu_ioctls, .nr_ioctls = FZ_ARRAY_SIZE(fz_percpu_ioctls),
	.ops = fz_percpu_ops, .nr_ops = FZ_ARRAY_SIZE(fz_percpu_ops),
	.scenarios = fz_percpu_scenarios,
	.nr_scenarios = FZ_ARRAY_SIZE(fz_percpu_scenarios),
};

FZ_MODULE(fz_percpu)
