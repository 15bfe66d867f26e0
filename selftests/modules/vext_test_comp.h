/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext_test_comp: ioctl numbers and constants of the selftests' test
 * component, shared by the module (vext_test_comp.c) and the selftests.
 * Uses only UAPI headers, so it builds in the kernel and in user space.
 *
 * The component owns the ioctl range VEXT_TEST_IOCTL_FIRST..LAST that
 * uapi/linux/vext.h reserves for it; it is never part of a release.
 */
#ifndef _VEXT_TEST_COMP_H
#define _VEXT_TEST_COMP_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vext.h>

/* Module and component names. */
#define VEXT_TEST_COMP_MODULE		"vext_test_comp"
#define VEXT_TEST_COMP_NAME		"test"

/* Default ioctl range (module parameters ioctl_first / ioctl_last). */
#define VEXT_TEST_IOCTL_FIRST		0xf0
#define VEXT_TEST_IOCTL_LAST		0xff

/* The capability the component answers, and its value. */
#define VEXT_TEST_CAP			1000
#define VEXT_TEST_CAP_VALUE		42

/*
 * VM ioctl: reads a __u64 at the argument and writes back value + 1.
 * -EFAULT if the pointer cannot be read or written.
 */
#define VEXT_TEST_ECHO			_IOWR(VEXTIO, 0xf0, __u64)
/* vCPU ioctl: returns the vCPU's id. */
#define VEXT_TEST_VCPU_ID		_IO(VEXTIO, 0xf1)

/*
 * VM-fd mmap at VEXT_TEST_MMAP_OFFSET (the component's first ioctl number,
 * through core's offset routing): one read-only page whose first __u64 is
 * VEXT_TEST_MMAP_MAGIC + the VM's domid. Any other offset of the
 * component's range, a longer mapping or PROT_WRITE: -EINVAL.
 */
#define VEXT_TEST_MMAP_OFFSET		VEXT_MMAP_OFFSET(VEXT_TEST_IOCTL_FIRST)
#define VEXT_TEST_MMAP_MAGIC		0x7e57000000000000ULL

/*
 * Registry-limit tests: module parameter "extra=N" registers N more empty
 * components, the i-th owning the single ioctl number
 * VEXT_TEST_EXTRA_FIRST + i (inside the reserved 0x80-0xef block);
 * "overlap=1" registers one more whose range overlaps the test component's.
 */
#define VEXT_TEST_EXTRA_FIRST		0x80
#define VEXT_TEST_MAX_EXTRA		9

#endif /* _VEXT_TEST_COMP_H */
