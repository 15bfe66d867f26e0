// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzer table of the selftests' test component (vext_test_comp, ioctls
 * 0xf0-0xff), covered only where that module is installed: VEXT_TEST_ECHO
 * through good and bad pointers (the value comes back incremented) and
 * VEXT_TEST_VCPU_ID (the vCPU's own id). With every fd closed its
 * live_vms and live_vcpus counters must read 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <linux/vext.h>

#include "fuzz.h"
#include "vext_test.h"
#include "vext_test_comp.h"

static const struct fz_field fz_echo_fields[] = {
	{ .name = "value", .off = 0, .size = 8, .kind = FZ_VALUE },
};

static int fz_check_echo(struct fz_thread *t, struct fz_call *c)
{
	__u64 in, out;

	if (c->ret < 0 || c->bad_ptr)
		return 0;
	memcpy(&in, c->buf, sizeof(in));
	memcpy(&out, c->uptr, sizeof(out));
	if (out != in + 1)
		return fz_fail(t, "echo of %#llx gave %#llx", (unsigned long long)in,
			       (unsigned long long)out);
	return 0;
}

static int fz_check_vcpu_id(struct fz_thread *t, struct fz_call *c)
{
	if (c->ret >= 0 && (__u64)c->ret != c->obj->val[0])
		return fz_fail(t, "vCPU %llu says id %ld",
			       (unsigned long long)c->obj->val[0], c->ret);
	return 0;
}

static const struct fz_ioctl fz_test_ioctls[] = {
	{
		.name = "TEST_ECHO", .cmd = VEXT_TEST_ECHO,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(__u64), .fields = fz_echo_fields,
		.nr_fields = FZ_ARRAY_SIZE(fz_echo_fields), .weight = 4,
		.check = fz_check_echo,
	}, {
		.name = "TEST_VCPU_ID", .cmd = VEXT_TEST_VCPU_ID,
		.on = { &fz_vext_vcpu }, .argkind = FZ_ARG_SCALAR,
		.arg = { .name = "unused", .size = 8, .kind = FZ_VALUE },
		.weight = 3, .check = fz_check_vcpu_id,
	},
};

static int fz_test_stable(struct fz_thread *t)
{
	long vms = -1, vcpus = -1;

	vext_param_read(VEXT_TEST_COMP_MODULE, "live_vms", &vms);
	vext_param_read(VEXT_TEST_COMP_MODULE, "live_vcpus", &vcpus);
	/* A scenario's holder VM (fz_hold_domid()) has no vCPU. */
	if (vms != (long)fz_nr_held() || vcpus)
		return fz_fail(t, "test component: live_vms %ld live_vcpus %ld",
			       vms, vcpus);
	return 0;
}

static struct fz_module fz_test_comp = {
	.name = "test_comp",
	.kmods = { VEXT_TEST_COMP_MODULE },
	.optional = true,
	.nr_first = VEXT_TEST_IOCTL_FIRST, .nr_last = VEXT_TEST_IOCTL_LAST,
	.ioctls = fz_test_ioctls, .nr_ioctls = FZ_ARRAY_SIZE(fz_test_ioctls),
	.stable = fz_test_stable,
};

FZ_MODULE(fz_test_comp)
