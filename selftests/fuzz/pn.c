// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzer table of vext_pn: VEXT_VCPU_LOAD and VEXT_VCPU_PUT from any
 * thread (threads exit while bound, vCPUs are closed and VMs freed under
 * bound threads, forked children try them); its failslab scenarios.
 * Once every fd is closed no thread may stay bound (debugfs pn_users).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vext.h>

#include "fuzz.h"
#include "vext_test.h"

static const struct fz_ioctl fz_pn_ioctls[] = {
	{
		.name = "VCPU_LOAD", .cmd = VEXT_VCPU_LOAD,
		.on = { &fz_vext_vcpu }, .argkind = FZ_ARG_ZERO,
		.errs = { EINVAL, EALREADY, EBUSY, ENOMEM }, .weight = 10,
	}, {
		.name = "VCPU_PUT", .cmd = VEXT_VCPU_PUT,
		.on = { &fz_vext_vcpu }, .argkind = FZ_ARG_ZERO,
		.errs = { EINVAL, EPERM }, .weight = 8,
	},
};

static int fz_pn_stable(struct fz_thread *t)
{
	long users = -1;
	int ret;

	/* Bindings of exited threads go away after an RCU grace period. */
	ret = vext_debugfs_wait_long("pn_users", 0, 5000, &users);
	if (ret)
		return fz_fail(t, "debugfs pn_users is %ld, not 0 (%s)", users,
			       strerror(-ret));
	return 0;
}

static int fz_s_vcpu(struct fz_sctx *s)
{
	s->fd[0] = ioctl(s->dev, VEXT_CREATE_VM, 0);
	if (s->fd[0] < 0)
		return -errno;
	s->fd[1] = ioctl(s->fd[0], VEXT_CREATE_VCPU, 2);
	return s->fd[1] < 0 ? -errno : 0;
}

static long fz_st_load(struct fz_sctx *s)
{
	return ioctl(s->fd[1], VEXT_VCPU_LOAD, 0) ? -errno : 0;
}

static int fz_sv_load(struct fz_sctx *s, long ret)
{
	(void)ret;
	/* Loaded: a second LOAD says so, and PUT works. */
	if (ioctl(s->fd[1], VEXT_VCPU_LOAD, 0) != -1 || errno != EALREADY)
		return -1;
	return ioctl(s->fd[1], VEXT_VCPU_PUT, 0) ? -1 : 0;
}

static int fz_s_loaded(struct fz_sctx *s)
{
	int ret = fz_s_vcpu(s);

	if (ret)
		return ret;
	return ioctl(s->fd[1], VEXT_VCPU_LOAD, 0) ? -errno : 0;
}

static long fz_st_put(struct fz_sctx *s)
{
	return ioctl(s->fd[1], VEXT_VCPU_PUT, 0) ? -errno : 0;
}

static int fz_sv_put(struct fz_sctx *s, long ret)
{
	(void)ret;
	if (ioctl(s->fd[1], VEXT_VCPU_PUT, 0) != -1 || errno != EINVAL)
		return -1;
	return 0;
}

/* Closing everything while loaded: the VM is freed under the binding. */
static long fz_st_close_loaded(struct fz_sctx *s)
{
	close(s->fd[1]);
	close(s->fd[0]);
	s->fd[0] = -1;
	s->fd[1] = -1;
	return 0;
}

static const struct fz_scenario fz_pn_scenarios[] = {
	{ .name = "VCPU_LOAD", .setup = fz_s_vcpu, .step = fz_st_load,
	  .verify = fz_sv_load, .errs = { ENOMEM } },
	{ .name = "VCPU_PUT", .setup = fz_s_loaded, .step = fz_st_put,
	  .verify = fz_sv_put, .errs = { ENOMEM } },
	{ .name = "close a loaded vCPU's VM", .setup = fz_s_loaded,
	  .step = fz_st_close_loaded, .errs = { ENOMEM } },
};

static struct fz_module fz_pn = {
	.name = "pn",
	.kmods = { "vext_pn" },
	.nr_first = 0x30, .nr_last = 0x3f,
	.ioctls = fz_pn_ioctls, .nr_ioctls = FZ_ARRAY_SIZE(fz_pn_ioctls),
	.scenarios = fz_pn_scenarios,
	.nr_scenarios = FZ_ARRAY_SIZE(fz_pn_scenarios),
	.stable = fz_pn_stable,
};

FZ_MODULE(fz_pn)
