// SPDX-License-Identifier: GPL-2.0-only
/*
 * core_test - kselftests of vext_core: /dev/vext, VM and vCPU fds, memory
 * slots, the vCPU shared page, fd lifetime, domids, the component registry
 * (through the test component vext_test_comp) and module unloading.
 *
 * Runs as root on a kernel where vext_core and vext_test_comp are installed
 * and depmod'ed. Modules are loaded and removed through libkmod. Every test
 * runs in its own process (the harness forks) but module state persists
 * between tests, so each fixture establishes the modules it needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vext_harness.h"
#include "vext_test.h"
#include "vext_test_comp.h"

#define PAGE		VEXT_TEST_PAGE
#define MISC_MAJOR	10
#define NR_DOMIDS	(VEXT_MAX_DOMID - VEXT_MIN_DOMID + 1)

/* Kernel-half and beyond-user-space addresses, valid for 4- and 5-level paging. */
#define KERNEL_ADDR	0xffff800000000000ULL
#define NONCANON_ADDR	0x8000000000000000ULL
#define PAST_USER_ADDR	((1ULL << 56) - PAGE)

/* ---- helpers ---------------------------------------------------------- */

static void load_module(struct __test_metadata *_metadata, const char *name,
			const char *options)
{
	int ret = vext_mod_load(name, options);

	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", name, strerror(-ret));
	ASSERT_EQ(1, vext_mod_loaded(name));
}

static void unload_module(struct __test_metadata *_metadata, const char *name)
{
	int ret = vext_mod_unload(name);

	ASSERT_EQ(0, ret) TH_LOG("removing %s: %s (refcnt %d)", name,
				 strerror(-ret), vext_mod_refcnt(name));
	ASSERT_EQ(0, vext_mod_loaded(name));
}

/* A shared page carries the header core promises. */
static void check_shared(struct __test_metadata *_metadata,
			 const struct vext_vcpu_shared *s,
			 __u32 vcpu_id, __u32 domid)
{
	EXPECT_EQ((__u32)VEXT_VCPU_SHARED_VERSION, s->version);
	EXPECT_EQ(sizeof(struct vext_vcpu_shared), s->size);
	EXPECT_EQ(vcpu_id, s->vcpu_id);
	EXPECT_EQ(domid, s->domid);
	EXPECT_EQ(0U, s->seq & 1);
	EXPECT_EQ(0U, s->pad0);
}

/* Read an integer parameter of the test component. */
static long comp_param(struct __test_metadata *_metadata, const char *param)
{
	long val = -1;
	int ret = vext_param_read(VEXT_TEST_COMP_MODULE, param, &val);

	ASSERT_EQ(0, ret) TH_LOG("reading %s: %s", param, strerror(-ret));
	return val;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Run @fn(@arg) in a forked child: its exit code, or 128 + its signal. */
static int run_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Check @expr in a child process; count mismatches in @fails. */
#define CHILD_EXPECT(fails, expected, expr) do {			\
	long __e = (expected), __s = (expr);				\
	if (__e != __s) {						\
		fprintf(stderr, "# child: %s: expected %ld, got %ld\n",	\
			#expr, __e, __s);				\
		(fails)++;						\
	}								\
} while (0)

/* ---- /dev/vext ------------------------------------------------------ */

FIXTURE(dev) {
	int dev;
};

FIXTURE_SETUP(dev)
{
	self->dev = -1;
	load_module(_metadata, VEXT_CORE_MODULE, NULL);
	self->dev = open_dev(_metadata);
}

FIXTURE_TEARDOWN(dev)
{
	close_fd(&self->dev);
}

TEST_F(dev, node)
{
	struct stat st;

	ASSERT_EQ(0, stat(VEXT_DEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0660U, st.st_mode & 07777);
	EXPECT_EQ((unsigned int)MISC_MAJOR, major(st.st_rdev));
}

TEST_F(dev, api_version)
{
	EXPECT_EQ(VEXT_API_VERSION, vext_ioctl(self->dev, VEXT_GET_API_VERSION, 0));
	EXPECT_EQ(1, VEXT_API_VERSION);
}

TEST_F(dev, api_version_arg)
{
	EXPECT_EQ(-EINVAL, vext_ioctl(self->dev, VEXT_GET_API_VERSION, 1));
	EXPECT_EQ(-EINVAL, vext_ioctl(self->dev, VEXT_GET_API_VERSION, 1UL << 32));
	EXPECT_EQ(-EINVAL, vext_ioctl(self->dev, VEXT_GET_API_VERSION, ~0UL));
}

TEST_F(dev, caps_core)
{
	static const struct {
		unsigned long cap;
		long val;
	} caps[] = {
		{ VEXT_CAP_CORE,		1 },
		{ VEXT_CAP_MAX_VCPUS,		64 },
		{ VEXT_CAP_MAX_VCPU_ID,		1024 },
		{ VEXT_CAP_NR_MEMSLOTS,		32 },
		{ VEXT_CAP_MAX_DOMID,		0x7fef },
		{ VEXT_CAP_VCPU_SHARED_PAGE,	VEXT_VCPU_SHARED_VERSION },
	};
	unsigned int i;

	/* The header's limits are the ones the kernel reports. */
	EXPECT_EQ(64, VEXT_MAX_VCPUS);
	EXPECT_EQ(1024, VEXT_MAX_VCPU_ID);
	EXPECT_EQ(32, VEXT_NR_MEMSLOTS);
	EXPECT_EQ(0x7fef, VEXT_MAX_DOMID);
	EXPECT_EQ(1, VEXT_VCPU_SHARED_VERSION);
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		EXPECT_EQ(caps[i].val, vext_ioctl(self->dev, VEXT_CHECK_EXTENSION,
						  caps[i].cap))
			TH_LOG("capability %lu", caps[i].cap);
	}
}

TEST_F(dev, caps_unknown)
{
	static const unsigned long caps[] = {
		6, 15, 17, 999, 1001, 12345, 0x7fffffff, 0xffffffff,
		/* Must not be truncated to VEXT_CAP_CORE / _MAX_VCPUS. */
		1UL << 32, (1UL << 32) | VEXT_CAP_MAX_VCPUS, ~0UL,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		EXPECT_EQ(0, vext_ioctl(self->dev, VEXT_CHECK_EXTENSION, caps[i]))
			TH_LOG("capability %#lx", caps[i]);
	}
}

/* Capabilities of components that are not loaded read as 0. */
TEST_F(dev, caps_absent_components)
{
	static const struct {
		unsigned long cap;
		const char *module;
	} caps[] = {
		{ VEXT_CAP_PERCPU_STATS,	"vext_percpu" },
		{ VEXT_CAP_PREEMPT_NOTIFY,	"vext_pn" },
		{ VEXT_CAP_PCI_ASSIGN,		"vext_assign" },
		{ VEXT_CAP_PCI_2_3,		"vext_assign" },
		{ VEXT_CAP_GRANT_TABLE,		"vext_gnt" },
		{ VEXT_CAP_GNTDEV_ABI,		"vext_gnt" },
		{ VEXT_TEST_CAP,		VEXT_TEST_COMP_MODULE },
	};
	unsigned int i, checked = 0;

	unload_module(_metadata, VEXT_TEST_COMP_MODULE);
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		int loaded = vext_mod_loaded(caps[i].module);

		ASSERT_LE(0, loaded);
		if (loaded)
			continue;
		EXPECT_EQ(0, vext_ioctl(self->dev, VEXT_CHECK_EXTENSION,
					caps[i].cap))
			TH_LOG("capability %lu of %s", caps[i].cap,
			       caps[i].module);
		checked++;
	}
	EXPECT_LT(0U, checked);
}

TEST_F(dev, create_vm)
{
	int vm = create_vm(_metadata, self->dev);

	EXPECT_EQ(1, vext_fd_cloexec(vm));
	get_domid(_metadata, vm);
	close(vm);
}

TEST_F(dev, create_vm_type)
{
	EXPECT_EQ(-EINVAL, vext_ioctl(self->dev, VEXT_CREATE_VM, 1));
	EXPECT_EQ(-EINVAL, vext_ioctl(self->dev, VEXT_CREATE_VM, 1UL << 32));
	EXPECT_EQ(-EINVAL, vext_ioctl(self->dev, VEXT_CREATE_VM, ~0UL));
}

TEST_F(dev, unknown_ioctl)
{
	static const unsigned long cmds[] = {
		_IO(VEXTIO, 0x03), _IO(VEXTIO, 0x0f), _IO(VEXTIO, 0xff),
		VEXT_CREATE_VCPU, VEXT_GET_DOMID, VEXT_SET_USER_MEMORY_REGION,
		VEXT_TEST_ECHO, VEXT_TEST_VCPU_ID,
		/* Core's numbers with another direction or size. */
		_IOR(VEXTIO, 0x00, __u32), _IOW(VEXTIO, 0x01, __u64),
		_IO(0xAE, 0x00),	/* KVM_GET_API_VERSION */
		_IO(0xAE, 0x01),	/* KVM_CREATE_VM */
		0,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-ENOTTY, vext_ioctl(self->dev, cmds[i], 0))
			TH_LOG("ioctl %#lx", cmds[i]);
	}
}

/* Many VMs at once, each with a vCPU: all domids distinct and in range. */
TEST_F(dev, many_vms)
{
	enum { NR_VMS = 200 };
	static unsigned char seen[VEXT_MAX_DOMID + 1];
	int vm[NR_VMS], vcpu[NR_VMS], domid[NR_VMS], i;

	for (i = 0; i < NR_VMS; i++) {
		vm[i] = create_vm(_metadata, self->dev);
		domid[i] = get_domid(_metadata, vm[i]);
		EXPECT_EQ(0, seen[domid[i]]) TH_LOG("domid %d twice", domid[i]);
		seen[domid[i]] = 1;
		vcpu[i] = create_vcpu(_metadata, vm[i], i % VEXT_MAX_VCPU_ID);
	}
	for (i = 0; i < NR_VMS; i++) {
		struct vext_vcpu_shared *s = map_shared(_metadata, vcpu[i]);

		check_shared(_metadata, s, i, domid[i]);
		vext_unmap_shared(s);
		/* Domids stay put while the VM lives. */
		EXPECT_EQ(domid[i], vext_get_domid(vm[i]));
	}
	for (i = 0; i < NR_VMS; i++) {
		close(vcpu[i]);
		close(vm[i]);
	}
}

/* A VM outlives the /dev/vext fd it came from; several opens coexist. */
TEST_F(dev, vm_outlives_dev_fd)
{
	int dev2 = open_dev(_metadata);
	int vm1 = create_vm(_metadata, self->dev);
	int vm2 = create_vm(_metadata, dev2);
	int d1 = get_domid(_metadata, vm1), d2 = get_domid(_metadata, vm2);

	EXPECT_NE(d1, d2);
	close_fd(&self->dev);
	close(dev2);
	EXPECT_EQ(d1, vext_get_domid(vm1));
	EXPECT_EQ(d2, vext_get_domid(vm2));
	close(create_vcpu(_metadata, vm1, 0));
	close(vm1);
	close(vm2);
}

/* Domids are handed out cyclically: a freed one is not reused at once. */
TEST_F(dev, domid_not_reused_at_once)
{
	int i, prev = -1;

	for (i = 0; i < 16; i++) {
		int vm = create_vm(_metadata, self->dev);
		int domid = get_domid(_metadata, vm);

		EXPECT_NE(prev, domid);
		prev = domid;
		close(vm);
	}
}

/* ---- VM fd ---------------------------------------------------------- */

FIXTURE(vm) {
	int dev;
	int vm;
	int domid;
	void *buf;	/* 16 pages of anonymous memory for memory slots */
};

FIXTURE_SETUP(vm)
{
	self->dev = -1;
	self->vm = -1;
	self->buf = MAP_FAILED;
	load_module(_metadata, VEXT_CORE_MODULE, NULL);
	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	self->domid = get_domid(_metadata, self->vm);
	self->buf = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(vm)
{
	if (self->buf != MAP_FAILED)
		munmap(self->buf, 16 * PAGE);
	close_fd(&self->vm);
	close_fd(&self->dev);
}

static __u64 buf_addr(void *buf, __u64 offset)
{
	return (__u64)(uintptr_t)buf + offset;
}

TEST_F(vm, domid)
{
	EXPECT_EQ(self->domid, vext_get_domid(self->vm));
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_GET_DOMID, 1));
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_GET_DOMID, 1UL << 32));
	EXPECT_EQ(self->domid, vext_get_domid(self->vm));
}

TEST_F(vm, unknown_ioctl)
{
	static const unsigned long cmds[] = {
		VEXT_GET_API_VERSION, VEXT_CREATE_VM,
		_IO(VEXTIO, 0x13), _IO(VEXTIO, 0x1f),
		/* Core's numbers with another direction or size. */
		_IOW(VEXTIO, 0x10, __u32), _IOR(VEXTIO, 0x12, __u32),
		_IOR(VEXTIO, 0x11, struct vext_userspace_memory_region),
		/* Reserved range: no component owns it. */
		_IO(VEXTIO, 0x80), _IO(VEXTIO, 0xef),
		_IO(0xAE, 0x41),	/* KVM_CREATE_VCPU */
		0,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-ENOTTY, vext_ioctl(self->vm, cmds[i], 0))
			TH_LOG("ioctl %#lx", cmds[i]);
	}
	/* Nothing above changed the VM. */
	EXPECT_EQ(self->domid, vext_get_domid(self->vm));
}

TEST_F(vm, vcpu_create)
{
	int vcpu = create_vcpu(_metadata, self->vm, 0);

	EXPECT_EQ(1, vext_fd_cloexec(vcpu));
	close(vcpu);
}

TEST_F(vm, vcpu_id_limits)
{
	static const unsigned long bad[] = {
		VEXT_MAX_VCPU_ID, VEXT_MAX_VCPU_ID + 1, 0xffff, 0xffffffff,
		/* Must not be truncated to id 0 / 1. */
		1UL << 32, (1UL << 32) | 1, ~0UL,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, vext_create_vcpu(self->vm, bad[i]))
			TH_LOG("vCPU id %#lx", bad[i]);
	}
	/* The bad ids created nothing: the edge ids are all still free. */
	close(create_vcpu(_metadata, self->vm, VEXT_MAX_VCPU_ID - 1));
	close(create_vcpu(_metadata, self->vm, 0));
	close(create_vcpu(_metadata, self->vm, 1));
}

TEST_F(vm, vcpu_duplicate)
{
	int vcpu = create_vcpu(_metadata, self->vm, 5);

	EXPECT_EQ(-EEXIST, vext_create_vcpu(self->vm, 5));
	/* KVM semantics: closing the fd does not delete the vCPU. */
	close(vcpu);
	EXPECT_EQ(-EEXIST, vext_create_vcpu(self->vm, 5));
	close(create_vcpu(_metadata, self->vm, 6));
}

TEST_F(vm, vcpu_max)
{
	int vcpu[VEXT_MAX_VCPUS], vm2, i;

	/* Ids spread over the whole id space. */
	for (i = 0; i < VEXT_MAX_VCPUS; i++)
		vcpu[i] = create_vcpu(_metadata, self->vm, i * 16 + 3);
	EXPECT_EQ(-ENOSPC, vext_create_vcpu(self->vm, VEXT_MAX_VCPU_ID - 1));
	EXPECT_EQ(-ENOSPC, vext_create_vcpu(self->vm, 1));
	for (i = 0; i < VEXT_MAX_VCPUS; i++) {
		struct vext_vcpu_shared *s = map_shared(_metadata, vcpu[i]);

		check_shared(_metadata, s, i * 16 + 3, self->domid);
		vext_unmap_shared(s);
		close(vcpu[i]);
	}
	/* Closed vCPU fds do not give their place back. */
	EXPECT_EQ(-ENOSPC, vext_create_vcpu(self->vm, VEXT_MAX_VCPU_ID - 1));
	/* Other VMs have their own budget. */
	vm2 = create_vm(_metadata, self->dev);
	close(create_vcpu(_metadata, vm2, VEXT_MAX_VCPU_ID - 1));
	close(vm2);
}

TEST_F(vm, vcpu_unknown_ioctl)
{
	static const unsigned long cmds[] = {
		VEXT_GET_API_VERSION, VEXT_CHECK_EXTENSION, VEXT_CREATE_VM,
		VEXT_CREATE_VCPU, VEXT_GET_DOMID, VEXT_SET_USER_MEMORY_REGION,
		_IO(VEXTIO, 0x1f), _IO(VEXTIO, 0x80), _IO(VEXTIO, 0xef),
		_IO(0xAE, 0x80),	/* KVM_RUN */
		0,
	};
	int vcpu = create_vcpu(_metadata, self->vm, 0);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-ENOTTY, vext_ioctl(vcpu, cmds[i], 0))
			TH_LOG("ioctl %#lx", cmds[i]);
	}
	/* VEXT_CREATE_VCPU on the vCPU fd created nothing. */
	close(create_vcpu(_metadata, self->vm, 1));
	close(vcpu);
}

TEST_F(vm, shared_page)
{
	int vcpu0 = create_vcpu(_metadata, self->vm, 0);
	int vcpu7 = create_vcpu(_metadata, self->vm, 7);
	struct vext_vcpu_shared *s0 = map_shared(_metadata, vcpu0);
	struct vext_vcpu_shared *s7 = map_shared(_metadata, vcpu7);
	struct vext_vcpu_shared *again = map_shared(_metadata, vcpu7);
	void *small;

	EXPECT_LE(sizeof(struct vext_vcpu_shared), PAGE);
	check_shared(_metadata, s0, 0, self->domid);
	check_shared(_metadata, s7, 7, self->domid);
	/* Two mappings of one vCPU show the same page. */
	check_shared(_metadata, again, 7, self->domid);
	EXPECT_NE(s7, again);
	/* A mapping shorter than a page is fine too. */
	small = mmap(NULL, 64, PROT_READ, MAP_SHARED, vcpu0, 0);
	ASSERT_NE(MAP_FAILED, small) TH_LOG("mmap 64 bytes: %s", strerror(errno));
	check_shared(_metadata, small, 0, self->domid);
	munmap(small, 64);
	vext_unmap_shared(again);
	vext_unmap_shared(s7);
	vext_unmap_shared(s0);
	close(vcpu7);
	close(vcpu0);
}

TEST_F(vm, shared_page_read_only)
{
	int vcpu = create_vcpu(_metadata, self->vm, 0);
	struct vext_vcpu_shared *s;
	void *p;

	p = mmap(NULL, PAGE, PROT_WRITE, MAP_SHARED, vcpu, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);

	s = map_shared(_metadata, vcpu);
	EXPECT_EQ(-1, mprotect(s, PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, mprotect(s, PAGE, PROT_READ));
	check_shared(_metadata, s, 0, self->domid);
	vext_unmap_shared(s);
	close(vcpu);
}

#define SEGV_EXIT	42

static void segv_exit(int sig)
{
	(void)sig;
	_exit(SEGV_EXIT);
}

/*
 * Write to the read-only page. The fault is caught (so the kernel logs no
 * "segfault" line) and turned into exit code SEGV_EXIT.
 */
static int write_shared(void *arg)
{
	__u32 *version = &((struct vext_vcpu_shared *)arg)->version;

	signal(SIGSEGV, segv_exit);
	*version = 0xdead;
	return 0;
}

TEST_F(vm, shared_page_write_faults)
{
	int vcpu = create_vcpu(_metadata, self->vm, 0);
	struct vext_vcpu_shared *s = map_shared(_metadata, vcpu);

	EXPECT_EQ(SEGV_EXIT, run_child(write_shared, s));
	check_shared(_metadata, s, 0, self->domid);
	vext_unmap_shared(s);
	close(vcpu);
}

TEST_F(vm, shared_page_bad_mmap)
{
	int vcpu = create_vcpu(_metadata, self->vm, 0);
	void *p;

	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, vcpu, PAGE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, vcpu, 16 * PAGE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, vcpu, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, PAGE + 1, PROT_READ, MAP_SHARED, vcpu, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	close(vcpu);
}

TEST_F(vm, region_efault)
{
	struct vext_userspace_memory_region *r;
	char *two;

	EXPECT_EQ(-EFAULT, vext_ioctl(self->vm, VEXT_SET_USER_MEMORY_REGION, 0));
	EXPECT_EQ(-EFAULT, vext_ioctl(self->vm, VEXT_SET_USER_MEMORY_REGION,
				      (unsigned long)KERNEL_ADDR));
	/* A struct that runs from a mapped page into an unmapped one. */
	two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, munmap(two + PAGE, PAGE));
	r = (void *)(two + PAGE - 8);
	memset(r, 0, 8);	/* slot 0, flags 0: valid as far as it goes */
	EXPECT_EQ(-EFAULT, vext_ioctl(self->vm, VEXT_SET_USER_MEMORY_REGION,
				      (unsigned long)r));
	/* Wholly unmapped. */
	ASSERT_EQ(0, munmap(two, PAGE));
	EXPECT_EQ(-EFAULT, vext_ioctl(self->vm, VEXT_SET_USER_MEMORY_REGION,
				      (unsigned long)two));
	/* None of it created a slot. */
	EXPECT_EQ(-EINVAL, vext_set_region(self->vm, 0, 0, 0, 0, 0));
}

TEST_F(vm, region_delete_then_reuse)
{
	__u64 ua = buf_addr(self->buf, 0);

	ASSERT_EQ(0, vext_set_region(self->vm, 0, 0, 0x100000, 4 * PAGE, ua));
	EXPECT_EQ(-EEXIST, vext_set_region(self->vm, 1, 0, 0x100000, PAGE, ua));
	EXPECT_EQ(0, vext_set_region(self->vm, 0, 0, 0x100000, 0, ua));
	/* Deleted twice: the slot is unused now. */
	EXPECT_EQ(-EINVAL, vext_set_region(self->vm, 0, 0, 0x100000, 0, ua));
	EXPECT_EQ(0, vext_set_region(self->vm, 1, 0, 0x100000, PAGE, ua));
	EXPECT_EQ(-EEXIST, vext_set_region(self->vm, 0, 0, 0x100000, PAGE, ua));
	/* The freed slot takes a different size, address and flags now. */
	EXPECT_EQ(0, vext_set_region(self->vm, 0, VEXT_MEM_READONLY, 0x200000,
				     8 * PAGE, buf_addr(self->buf, 8 * PAGE)));
}

TEST_F(vm, region_move_frees_old_range)
{
	__u64 ua = buf_addr(self->buf, 0);

	ASSERT_EQ(0, vext_set_region(self->vm, 0, 0, 0x100000, 4 * PAGE, ua));
	ASSERT_EQ(0, vext_set_region(self->vm, 0, 0, 0x300000, 4 * PAGE, ua));
	EXPECT_EQ(0, vext_set_region(self->vm, 1, 0, 0x100000, 4 * PAGE, ua));
	EXPECT_EQ(-EEXIST, vext_set_region(self->vm, 2, 0, 0x300000, PAGE, ua));
	/* Back again onto slot 1's range: refused. */
	EXPECT_EQ(-EEXIST, vext_set_region(self->vm, 0, 0, 0x100000, 4 * PAGE, ua));
}

TEST_F(vm, region_all_slots)
{
	__u64 ua = buf_addr(self->buf, 0);
	unsigned int i;

	for (i = 0; i < VEXT_NR_MEMSLOTS; i++) {
		EXPECT_EQ(0, vext_set_region(self->vm, i, i & 1 ? VEXT_MEM_READONLY : 0,
					     (__u64)i << 30, 16 * PAGE, ua))
			TH_LOG("slot %u", i);
	}
	EXPECT_EQ(-EINVAL, vext_set_region(self->vm, VEXT_NR_MEMSLOTS, 0,
					   (__u64)VEXT_NR_MEMSLOTS << 30, PAGE, ua));
	/* Every slot is in use: moving its neighbour onto it is refused. */
	for (i = 0; i < VEXT_NR_MEMSLOTS; i++) {
		unsigned int j = (i + 1) % VEXT_NR_MEMSLOTS;

		EXPECT_EQ(-EEXIST, vext_set_region(self->vm, j,
						   j & 1 ? VEXT_MEM_READONLY : 0,
						   ((__u64)i << 30) + PAGE,
						   16 * PAGE, ua))
			TH_LOG("slot %u onto slot %u", j, i);
	}
	for (i = 0; i < VEXT_NR_MEMSLOTS; i++) {
		EXPECT_EQ(0, vext_set_region(self->vm, i, 0, 0, 0, 0))
			TH_LOG("slot %u", i);
	}
}

/* Slots are per VM. */
TEST_F(vm, region_per_vm)
{
	__u64 ua = buf_addr(self->buf, 0);
	int vm2 = create_vm(_metadata, self->dev);

	EXPECT_EQ(0, vext_set_region(self->vm, 0, 0, 0x100000, 4 * PAGE, ua));
	EXPECT_EQ(0, vext_set_region(vm2, 1, 0, 0x100000, 4 * PAGE, ua));
	EXPECT_EQ(-EINVAL, vext_set_region(vm2, 0, 0, 0, 0, 0));
	close(vm2);
}

struct child_vm {
	int vm;
	int vcpu;
	__u64 uaddr;
};

/* VM ioctls from a forked child (another mm) fail with EIO. */
static int vm_ioctls_in_child(void *arg)
{
	struct child_vm *c = arg;
	int fails = 0;

	CHILD_EXPECT(fails, -EIO, vext_get_domid(c->vm));
	CHILD_EXPECT(fails, -EIO, vext_create_vcpu(c->vm, 1));
	CHILD_EXPECT(fails, -EIO, vext_set_region(c->vm, 1, 0, 0x200000,
						  PAGE, c->uaddr));
	CHILD_EXPECT(fails, -EIO, vext_set_region(c->vm, 0, 0, 0, 0, 0));
	return fails;
}

TEST_F(vm, other_process_eio)
{
	struct child_vm c = { .vm = self->vm, .uaddr = buf_addr(self->buf, 0) };

	ASSERT_EQ(0, vext_set_region(self->vm, 0, 0, 0x100000, PAGE, c.uaddr));
	EXPECT_EQ(0, run_child(vm_ioctls_in_child, &c));
	/* The child neither created a vCPU, a slot, nor deleted one. */
	EXPECT_EQ(self->domid, vext_get_domid(self->vm));
	close(create_vcpu(_metadata, self->vm, 1));
	EXPECT_EQ(0, vext_set_region(self->vm, 1, 0, 0x200000, PAGE, c.uaddr));
	EXPECT_EQ(-EEXIST, vext_set_region(self->vm, 2, 0, 0x100000, PAGE, c.uaddr));
}

static void *vm_ioctls_in_thread(void *arg)
{
	struct child_vm *c = arg;
	long ret;

	ret = vext_get_domid(c->vm);
	if (ret < 0)
		return (void *)ret;
	c->vcpu = vext_create_vcpu(c->vm, 3);
	if (c->vcpu < 0)
		return (void *)(long)c->vcpu;
	return (void *)(long)vext_set_region(c->vm, 0, 0, 0, PAGE, c->uaddr);
}

/* Another thread of the creating process is the same VMM: no EIO. */
TEST_F(vm, other_thread_ok)
{
	struct child_vm c = { .vm = self->vm, .uaddr = buf_addr(self->buf, 0) };
	pthread_t thread;
	void *ret;

	ASSERT_EQ(0, pthread_create(&thread, NULL, vm_ioctls_in_thread, &c));
	ASSERT_EQ(0, pthread_join(thread, &ret));
	EXPECT_EQ(0, (long)ret);
	EXPECT_EQ(-EEXIST, vext_create_vcpu(self->vm, 3));
	EXPECT_EQ(-EEXIST, vext_set_region(self->vm, 1, 0, 0, PAGE, c.uaddr));
	if (c.vcpu >= 0)
		close(c.vcpu);
}

/* ---- memory slot validation, one row per case ------------------------ */

/*
 * Before each row: slot 0 maps A_GPA (4 pages) and slot 2 maps B_GPA
 * (4 pages). The row sets one region; afterwards the test checks the
 * errno, which guest-physical ranges are occupied (probing with slot
 * PROBE_SLOT), and that failed rows changed nothing.
 */
#define A_GPA		0x100000ULL
#define A_SIZE		(4 * PAGE)
#define B_GPA		0x200000ULL
#define B_SIZE		(4 * PAGE)
#define B_UOFF		(4 * PAGE)
#define PROBE_SLOT	30

FIXTURE(memslot) {
	int dev;
	int vm;
	void *buf;
};

FIXTURE_VARIANT(memslot) {
	__u32 slot;
	__u32 flags;
	__u64 gpa;
	__u64 size;
	__u64 uaddr;		/* offset into the fixture's buffer ... */
	bool uaddr_abs;		/* ... or an absolute address */
	int err;		/* expected errno, 0 for success */
	bool a_gone;		/* slot 0 no longer maps A_GPA afterwards */
};

/* New slots. */
FIXTURE_VARIANT_ADD(memslot, new_slot) {
	.slot = 1, .gpa = 0x300000, .size = 4 * PAGE, .uaddr = 8 * PAGE,
};

FIXTURE_VARIANT_ADD(memslot, new_readonly) {
	.slot = 1, .flags = VEXT_MEM_READONLY, .gpa = 0x300000, .size = PAGE,
};

FIXTURE_VARIANT_ADD(memslot, last_slot) {
	.slot = VEXT_NR_MEMSLOTS - 1, .gpa = 0x300000, .size = PAGE,
};

FIXTURE_VARIANT_ADD(memslot, slot_32) {
	.slot = VEXT_NR_MEMSLOTS, .gpa = 0x300000, .size = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, slot_huge) {
	.slot = 0xffffffff, .gpa = 0x300000, .size = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, slot_high_bit) {
	.slot = 0x80000001, .gpa = 0x300000, .size = PAGE, .err = EINVAL,
};

/* Flags: only VEXT_MEM_READONLY. */
FIXTURE_VARIANT_ADD(memslot, flag_bit0) {
	.slot = 1, .flags = 1, .gpa = 0x300000, .size = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, flag_bit2) {
	.slot = 1, .flags = 4, .gpa = 0x300000, .size = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, flag_readonly_and_unknown) {
	.slot = 1, .flags = VEXT_MEM_READONLY | 8, .gpa = 0x300000,
	.size = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, flag_top) {
	.slot = 1, .flags = 0x80000000, .gpa = 0x300000, .size = PAGE,
	.err = EINVAL,
};

/* Alignment. */
FIXTURE_VARIANT_ADD(memslot, gpa_unaligned) {
	.slot = 1, .gpa = 0x300800, .size = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, gpa_unaligned_1) {
	.slot = 1, .gpa = 0x300001, .size = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, size_unaligned) {
	.slot = 1, .gpa = 0x300000, .size = PAGE + 512, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, size_tiny) {
	.slot = 1, .gpa = 0x300000, .size = 1, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, uaddr_unaligned) {
	.slot = 1, .gpa = 0x300000, .size = PAGE, .uaddr = 16, .err = EINVAL,
};

/* Size and guest-physical range. */
FIXTURE_VARIANT_ADD(memslot, size_max) {
	.slot = 1, .gpa = 1ULL << 44, .size = VEXT_MAX_MEMSLOT_SIZE,
	.uaddr = 0x10000000, .uaddr_abs = true,
};

FIXTURE_VARIANT_ADD(memslot, size_too_big) {
	.slot = 1, .gpa = 1ULL << 44, .size = VEXT_MAX_MEMSLOT_SIZE + PAGE,
	.uaddr = 0x10000000, .uaddr_abs = true, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, size_huge) {
	.slot = 1, .gpa = 0x300000, .size = 1ULL << 63, .uaddr = 0x10000000,
	.uaddr_abs = true, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, size_all_ones) {
	.slot = 1, .gpa = 0, .size = ~(PAGE - 1), .uaddr = 0x10000000,
	.uaddr_abs = true, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, gpa_high) {
	.slot = 1, .gpa = 0xfffffffffffe0000ULL, .size = PAGE,
};

FIXTURE_VARIANT_ADD(memslot, gpa_overflow) {
	.slot = 1, .gpa = 0xfffffffffffff000ULL, .size = 2 * PAGE,
	.err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, gpa_end_at_2_64) {
	.slot = 1, .gpa = 0xffffffffffffe000ULL, .size = 2 * PAGE,
	.err = EINVAL,
};

/* User address range. */
FIXTURE_VARIANT_ADD(memslot, uaddr_kernel) {
	.slot = 1, .gpa = 0x300000, .size = PAGE, .uaddr = KERNEL_ADDR,
	.uaddr_abs = true, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, uaddr_noncanonical) {
	.slot = 1, .gpa = 0x300000, .size = PAGE, .uaddr = NONCANON_ADDR,
	.uaddr_abs = true, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, uaddr_past_user) {
	.slot = 1, .gpa = 0x300000, .size = 2 * PAGE, .uaddr = PAST_USER_ADDR,
	.uaddr_abs = true, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, uaddr_wraps) {
	.slot = 1, .gpa = 0x300000, .size = 2 * PAGE,
	.uaddr = 0xfffffffffffff000ULL, .uaddr_abs = true, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, uaddr_unmapped_ok) {
	.slot = 1, .gpa = 0x300000, .size = 16 * PAGE, .uaddr = 0x10000000,
	.uaddr_abs = true,
};

/* Overlap in guest-physical space. */
FIXTURE_VARIANT_ADD(memslot, overlap_same) {
	.slot = 1, .gpa = A_GPA, .size = A_SIZE, .err = EEXIST,
};

FIXTURE_VARIANT_ADD(memslot, overlap_low) {
	.slot = 1, .gpa = A_GPA - PAGE, .size = 2 * PAGE, .err = EEXIST,
};

FIXTURE_VARIANT_ADD(memslot, overlap_high) {
	.slot = 1, .gpa = A_GPA + A_SIZE - PAGE, .size = 2 * PAGE,
	.err = EEXIST,
};

FIXTURE_VARIANT_ADD(memslot, overlap_inside) {
	.slot = 1, .gpa = A_GPA + PAGE, .size = PAGE, .err = EEXIST,
};

FIXTURE_VARIANT_ADD(memslot, overlap_cover) {
	.slot = 1, .gpa = A_GPA - PAGE, .size = A_SIZE + 2 * PAGE,
	.err = EEXIST,
};

FIXTURE_VARIANT_ADD(memslot, overlap_two_slots) {
	.slot = 1, .gpa = A_GPA, .size = B_GPA - A_GPA + PAGE, .err = EEXIST,
};

FIXTURE_VARIANT_ADD(memslot, adjacent_below) {
	.slot = 1, .gpa = A_GPA - PAGE, .size = PAGE,
};

FIXTURE_VARIANT_ADD(memslot, adjacent_above) {
	.slot = 1, .gpa = A_GPA + A_SIZE, .size = B_GPA - A_GPA - A_SIZE,
};

/* Deleting. */
FIXTURE_VARIANT_ADD(memslot, delete_unused) {
	.slot = 1, .gpa = 0x300000, .size = 0, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, delete_unused_last) {
	.slot = VEXT_NR_MEMSLOTS - 1, .size = 0, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, delete_used) {
	.slot = 0, .gpa = A_GPA, .size = 0, .a_gone = true,
};

FIXTURE_VARIANT_ADD(memslot, delete_used_other_fields) {
	.slot = 0, .gpa = 0, .size = 0, .uaddr = 0, .uaddr_abs = true,
	.a_gone = true,
};

FIXTURE_VARIANT_ADD(memslot, delete_slot_32) {
	.slot = VEXT_NR_MEMSLOTS, .size = 0, .err = EINVAL,
};

/* Changing a used slot: only a move is allowed. */
FIXTURE_VARIANT_ADD(memslot, same_again) {
	.slot = 0, .gpa = A_GPA, .size = A_SIZE,
};

FIXTURE_VARIANT_ADD(memslot, move) {
	.slot = 0, .gpa = 0x400000, .size = A_SIZE, .a_gone = true,
};

FIXTURE_VARIANT_ADD(memslot, move_overlapping_itself) {
	.slot = 0, .gpa = A_GPA + PAGE, .size = A_SIZE, .a_gone = true,
};

FIXTURE_VARIANT_ADD(memslot, move_onto_other) {
	.slot = 0, .gpa = B_GPA, .size = A_SIZE, .err = EEXIST,
};

FIXTURE_VARIANT_ADD(memslot, move_overlap_other) {
	.slot = 0, .gpa = B_GPA - PAGE, .size = A_SIZE, .err = EEXIST,
};

FIXTURE_VARIANT_ADD(memslot, move_unaligned) {
	.slot = 0, .gpa = 0x400800, .size = A_SIZE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, grow) {
	.slot = 0, .gpa = A_GPA, .size = 2 * A_SIZE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, shrink) {
	.slot = 0, .gpa = A_GPA, .size = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, change_uaddr) {
	.slot = 0, .gpa = A_GPA, .size = A_SIZE, .uaddr = PAGE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, change_flags) {
	.slot = 0, .flags = VEXT_MEM_READONLY, .gpa = A_GPA, .size = A_SIZE,
	.err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, change_bad_flags) {
	.slot = 0, .flags = 2 << 8, .gpa = A_GPA, .size = A_SIZE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, move_and_grow) {
	.slot = 0, .gpa = 0x400000, .size = 2 * A_SIZE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(memslot, move_and_change_uaddr) {
	.slot = 0, .gpa = 0x400000, .size = A_SIZE, .uaddr = 8 * PAGE,
	.err = EINVAL,
};

FIXTURE_SETUP(memslot)
{
	self->dev = -1;
	self->vm = -1;
	self->buf = MAP_FAILED;
	ASSERT_EQ(PAGE, (unsigned long)sysconf(_SC_PAGESIZE));
	load_module(_metadata, VEXT_CORE_MODULE, NULL);
	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	self->buf = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ASSERT_EQ(0, vext_set_region(self->vm, 0, 0, A_GPA, A_SIZE,
				     buf_addr(self->buf, 0)));
	ASSERT_EQ(0, vext_set_region(self->vm, 2, 0, B_GPA, B_SIZE,
				     buf_addr(self->buf, B_UOFF)));
}

FIXTURE_TEARDOWN(memslot)
{
	if (self->buf != MAP_FAILED)
		munmap(self->buf, 16 * PAGE);
	close_fd(&self->vm);
	close_fd(&self->dev);
}

/* Is the guest page at @gpa covered by a slot? 1 yes, 0 no. */
static int probe_gpa(struct __test_metadata *_metadata, int vm, void *buf,
		     __u64 gpa)
{
	int ret = vext_set_region(vm, PROBE_SLOT, 0, gpa, PAGE,
				  buf_addr(buf, 0));

	if (ret == -EEXIST)
		return 1;
	ASSERT_EQ(0, ret) TH_LOG("probing %#llx", (unsigned long long)gpa);
	ASSERT_EQ(0, vext_set_region(vm, PROBE_SLOT, 0, gpa, 0, 0));
	return 0;
}

TEST_F(memslot, set)
{
	__u64 uaddr = variant->uaddr_abs ? variant->uaddr :
		      buf_addr(self->buf, variant->uaddr);
	int ret;

	ret = vext_set_region(self->vm, variant->slot, variant->flags,
			      variant->gpa, variant->size, uaddr);
	ASSERT_EQ(-variant->err, ret)
		TH_LOG("slot %u flags %#x gpa %#llx size %#llx uaddr %#llx",
		       variant->slot, variant->flags,
		       (unsigned long long)variant->gpa,
		       (unsigned long long)variant->size,
		       (unsigned long long)uaddr);

	/* Slot 2 is never touched; slot 0 is where the row says. */
	EXPECT_EQ(1, probe_gpa(_metadata, self->vm, self->buf, B_GPA));
	EXPECT_EQ(!variant->a_gone, probe_gpa(_metadata, self->vm, self->buf, A_GPA));
	if (!variant->a_gone)	/* unchanged: setting it again is a no-op */
		EXPECT_EQ(0, vext_set_region(self->vm, 0, 0, A_GPA, A_SIZE,
					     buf_addr(self->buf, 0)));

	if (!variant->err && variant->size) {
		/* The new or moved range is occupied ... */
		EXPECT_EQ(1, probe_gpa(_metadata, self->vm, self->buf,
				       variant->gpa));
		/* ... and setting the same again is a no-op. */
		EXPECT_EQ(0, vext_set_region(self->vm, variant->slot,
					     variant->flags, variant->gpa,
					     variant->size, uaddr));
	}
	if (variant->err && variant->slot < VEXT_NR_MEMSLOTS &&
	    variant->slot != 0 && variant->slot != 2)
		/* The slot stayed unused: there is nothing to delete. */
		EXPECT_EQ(-EINVAL, vext_set_region(self->vm, variant->slot, 0,
						   0, 0, 0));
	if (!variant->err && !variant->size) {
		/* Deleted: the slot is unused and its range free again. */
		EXPECT_EQ(-EINVAL, vext_set_region(self->vm, variant->slot, 0,
						   0, 0, 0));
		EXPECT_EQ(0, vext_set_region(self->vm, 1, 0, A_GPA, A_SIZE,
					     buf_addr(self->buf, 0)));
	}
}

/* ---- the component registry (vext_test_comp) ------------------------ */

FIXTURE(comp) {
	int dev;
};

FIXTURE_SETUP(comp)
{
	self->dev = -1;
	load_module(_metadata, VEXT_CORE_MODULE, NULL);
	unload_module(_metadata, VEXT_TEST_COMP_MODULE);
	self->dev = open_dev(_metadata);
}

FIXTURE_TEARDOWN(comp)
{
	close_fd(&self->dev);
	if (vext_mod_loaded(VEXT_TEST_COMP_MODULE) == 1)
		vext_param_write(VEXT_TEST_COMP_MODULE, "fail_vm_init", "0");
}

static long echo(int vm, __u64 *val)
{
	return vext_ioctl(vm, VEXT_TEST_ECHO, (unsigned long)val);
}

static long check_ext(int dev, unsigned long cap)
{
	return vext_ioctl(dev, VEXT_CHECK_EXTENSION, cap);
}

/*
 * A component serves the VMs created after it was loaded; older VMs answer
 * its ioctls with ENOTTY and do not pin its module; newer ones do.
 */
TEST_F(comp, attach_order)
{
	int old_vm, old_vcpu, new_vm, new_vcpu, fd;
	__u64 val = 1;

	EXPECT_EQ(0, check_ext(self->dev, VEXT_TEST_CAP));
	old_vm = create_vm(_metadata, self->dev);
	old_vcpu = create_vcpu(_metadata, old_vm, 0);
	EXPECT_EQ(-ENOTTY, echo(old_vm, &val));
	EXPECT_EQ(-ENOTTY, vext_ioctl(old_vcpu, VEXT_TEST_VCPU_ID, 0));

	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	EXPECT_EQ(VEXT_TEST_CAP_VALUE, check_ext(self->dev, VEXT_TEST_CAP));
	EXPECT_EQ(0, comp_param(_metadata, "live_vms"));
	EXPECT_EQ(-ENOTTY, echo(old_vm, &val));
	EXPECT_EQ(-ENOTTY, vext_ioctl(old_vcpu, VEXT_TEST_VCPU_ID, 0));
	/* A vCPU created now in the old VM is not attached either. */
	fd = create_vcpu(_metadata, old_vm, 1);
	EXPECT_EQ(-ENOTTY, vext_ioctl(fd, VEXT_TEST_VCPU_ID, 0));
	EXPECT_EQ(0, comp_param(_metadata, "live_vcpus"));
	close(fd);
	EXPECT_EQ(1ULL, val);

	/* The old VM does not pin the component. */
	EXPECT_EQ(0, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);

	new_vm = create_vm(_metadata, self->dev);
	EXPECT_EQ(1, comp_param(_metadata, "live_vms"));
	EXPECT_EQ(0, echo(new_vm, &val));
	EXPECT_EQ(2ULL, val);
	new_vcpu = create_vcpu(_metadata, new_vm, 7);
	EXPECT_EQ(1, comp_param(_metadata, "live_vcpus"));
	EXPECT_EQ(7, vext_ioctl(new_vcpu, VEXT_TEST_VCPU_ID, 0));

	/* The new VM pins it, through its VM fd or any vCPU fd. */
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	close(new_vm);
	EXPECT_EQ(1, comp_param(_metadata, "live_vms"));
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(7, vext_ioctl(new_vcpu, VEXT_TEST_VCPU_ID, 0));
	close(new_vcpu);
	EXPECT_EQ(0, comp_param(_metadata, "live_vms"));
	EXPECT_EQ(0, comp_param(_metadata, "live_vcpus"));
	EXPECT_EQ(0, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(0, vext_mod_loaded(VEXT_TEST_COMP_MODULE));

	/* Gone again: the capability reads 0, the old VM still works. */
	EXPECT_EQ(0, check_ext(self->dev, VEXT_TEST_CAP));
	EXPECT_EQ(-ENOTTY, echo(old_vm, &val));
	EXPECT_LE(VEXT_MIN_DOMID, vext_get_domid(old_vm));
	close(old_vcpu);
	close(old_vm);
}

TEST_F(comp, check_extension)
{
	EXPECT_EQ(0, check_ext(self->dev, VEXT_TEST_CAP));
	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	EXPECT_EQ(VEXT_TEST_CAP_VALUE, check_ext(self->dev, VEXT_TEST_CAP));
	EXPECT_EQ(0, check_ext(self->dev, VEXT_TEST_CAP + 1));
	EXPECT_EQ(0, check_ext(self->dev, (1UL << 32) | VEXT_TEST_CAP));
	/* Core's answers do not change. */
	EXPECT_EQ(1, check_ext(self->dev, VEXT_CAP_CORE));
	EXPECT_EQ(VEXT_MAX_VCPUS, check_ext(self->dev, VEXT_CAP_MAX_VCPUS));
	unload_module(_metadata, VEXT_TEST_COMP_MODULE);
	EXPECT_EQ(0, check_ext(self->dev, VEXT_TEST_CAP));
}

TEST_F(comp, vm_ioctl)
{
	__u64 val = 41;
	int vm, vcpu;
	void *ro, *gone;

	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	vm = create_vm(_metadata, self->dev);
	EXPECT_EQ(0, echo(vm, &val));
	EXPECT_EQ(42ULL, val);
	val = ~0ULL;
	EXPECT_EQ(0, echo(vm, &val));
	EXPECT_EQ(0ULL, val);

	/* Bad pointers: unreadable, read-only, unmapped. */
	EXPECT_EQ(-EFAULT, vext_ioctl(vm, VEXT_TEST_ECHO, 0));
	EXPECT_EQ(-EFAULT, vext_ioctl(vm, VEXT_TEST_ECHO, (unsigned long)KERNEL_ADDR));
	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, vext_ioctl(vm, VEXT_TEST_ECHO, (unsigned long)ro));
	EXPECT_EQ(0ULL, *(__u64 *)ro);
	munmap(ro, PAGE);
	gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	munmap(gone, PAGE);
	EXPECT_EQ(-EFAULT, vext_ioctl(vm, VEXT_TEST_ECHO, (unsigned long)gone));

	/* Other commands in the component's range. */
	EXPECT_EQ(-ENOTTY, vext_ioctl(vm, VEXT_TEST_VCPU_ID, 0));
	EXPECT_EQ(-ENOTTY, vext_ioctl(vm, _IO(VEXTIO, 0xf2), 0));
	EXPECT_EQ(-ENOTTY, vext_ioctl(vm, _IO(VEXTIO, 0xff), 0));
	EXPECT_EQ(-ENOTTY, vext_ioctl(vm, _IOWR(VEXTIO, 0xf0, __u32),
				      (unsigned long)&val));
	EXPECT_EQ(-ENOTTY, vext_ioctl(vm, _IO(VEXTIO, 0xf0), (unsigned long)&val));

	/* The vCPU ioctl; the VM ioctl on a vCPU fd. */
	vcpu = create_vcpu(_metadata, vm, 1023);
	EXPECT_EQ(1023, vext_ioctl(vcpu, VEXT_TEST_VCPU_ID, 0));
	val = 5;
	EXPECT_EQ(-ENOTTY, echo(vcpu, &val));
	EXPECT_EQ(5ULL, val);
	EXPECT_EQ(-ENOTTY, vext_ioctl(vcpu, _IO(VEXTIO, 0xfe), 0));
	close(vcpu);
	close(vm);
}

/* mmap() at offset @off of a VM fd: 0 and the mapping in *@p, or -errno. */
static int vm_mmap(int vm, __u64 off, size_t len, int prot, void **p)
{
	*p = mmap(NULL, len, prot, MAP_SHARED, vm, (off_t)off);
	return *p == MAP_FAILED ? -errno : 0;
}

/*
 * Core routes a VM-fd mmap by bits 32-39 of the offset to the component
 * owning that ioctl number; core's own numbers, unowned numbers and VMs
 * older than the component answer ENODEV, offsets beyond bit 39 EINVAL.
 */
TEST_F(comp, vm_mmap)
{
	int old_vm, vm, domid;
	void *p;

	old_vm = create_vm(_metadata, self->dev);
	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	vm = create_vm(_metadata, self->dev);
	domid = get_domid(_metadata, vm);

	ASSERT_EQ(0, vm_mmap(vm, VEXT_TEST_MMAP_OFFSET, PAGE, PROT_READ, &p));
	EXPECT_EQ(VEXT_TEST_MMAP_MAGIC + domid, *(__u64 *)p);
	/* The component's own checks: read-only, one page, its offset. */
	EXPECT_NE(0, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
	munmap(p, PAGE);
	EXPECT_EQ(-EINVAL, vm_mmap(vm, VEXT_TEST_MMAP_OFFSET, PAGE,
				   PROT_READ | PROT_WRITE, &p));
	EXPECT_EQ(-EINVAL, vm_mmap(vm, VEXT_TEST_MMAP_OFFSET, 2 * PAGE,
				   PROT_READ, &p));
	EXPECT_EQ(-EINVAL, vm_mmap(vm, VEXT_TEST_MMAP_OFFSET + PAGE, PAGE,
				   PROT_READ, &p));
	EXPECT_EQ(-EINVAL, vm_mmap(vm, VEXT_MMAP_OFFSET(0xff), PAGE,
				   PROT_READ, &p));

	/* Core's numbers, an unowned number, beyond the 40-bit space. */
	EXPECT_EQ(-ENODEV, vm_mmap(vm, 0, PAGE, PROT_READ, &p));
	EXPECT_EQ(-ENODEV, vm_mmap(vm, VEXT_MMAP_OFFSET(0x1f), PAGE,
				   PROT_READ, &p));
	EXPECT_EQ(-ENODEV, vm_mmap(vm, VEXT_MMAP_OFFSET(0xef), PAGE,
				   PROT_READ, &p));
	EXPECT_EQ(-EINVAL, vm_mmap(vm, VEXT_MMAP_OFFSET(0x100), PAGE,
				   PROT_READ, &p));
	/* A VM created before the component was loaded is not attached. */
	EXPECT_EQ(-ENODEV, vm_mmap(old_vm, VEXT_TEST_MMAP_OFFSET, PAGE,
				   PROT_READ, &p));

	/* A live mapping holds the VM, so the module stays pinned. */
	ASSERT_EQ(0, vm_mmap(vm, VEXT_TEST_MMAP_OFFSET, PAGE, PROT_READ, &p));
	close(vm);
	EXPECT_EQ(1, comp_param(_metadata, "live_vms"));
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(VEXT_TEST_MMAP_MAGIC + domid, *(__u64 *)p);
	munmap(p, PAGE);
	EXPECT_EQ(0, comp_param(_metadata, "live_vms"));
	EXPECT_EQ(0, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	close(old_vm);
}

TEST_F(comp, vcpu_ioctl)
{
	static const unsigned long ids[] = { 0, 1, 5, 63, 512, 1023 };
	int vm, vcpu[6];
	unsigned int i;

	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	vm = create_vm(_metadata, self->dev);
	for (i = 0; i < 6; i++) {
		vcpu[i] = create_vcpu(_metadata, vm, ids[i]);
		EXPECT_EQ(i + 1, comp_param(_metadata, "live_vcpus"));
	}
	for (i = 0; i < 6; i++) {
		EXPECT_EQ((long)ids[i], vext_ioctl(vcpu[i], VEXT_TEST_VCPU_ID, 0));
		close(vcpu[i]);
	}
	/* vCPUs live as long as their VM. */
	EXPECT_EQ(6, comp_param(_metadata, "live_vcpus"));
	EXPECT_EQ(1, comp_param(_metadata, "live_vms"));
	close(vm);
	EXPECT_EQ(0, comp_param(_metadata, "live_vcpus"));
	EXPECT_EQ(0, comp_param(_metadata, "live_vms"));
}

static int comp_ioctls_in_child(void *arg)
{
	struct child_vm *c = arg;
	__u64 val = 1;
	int fails = 0;

	CHILD_EXPECT(fails, -EIO, echo(c->vm, &val));
	CHILD_EXPECT(fails, 1, val);
	CHILD_EXPECT(fails, -EIO, vext_ioctl(c->vcpu, VEXT_TEST_VCPU_ID, 0));
	return fails;
}

/* Component ioctls are VM and vCPU ioctls: EIO from another process. */
TEST_F(comp, other_process_eio)
{
	struct child_vm c;
	__u64 val = 1;

	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	c.vm = create_vm(_metadata, self->dev);
	c.vcpu = create_vcpu(_metadata, c.vm, 2);
	EXPECT_EQ(0, run_child(comp_ioctls_in_child, &c));
	EXPECT_EQ(0, echo(c.vm, &val));
	EXPECT_EQ(2ULL, val);
	EXPECT_EQ(2, vext_ioctl(c.vcpu, VEXT_TEST_VCPU_ID, 0));
	close(c.vcpu);
	close(c.vm);
}

/* A failing vm_init fails VEXT_CREATE_VM and leaks nothing. */
TEST_F(comp, vm_init_fails)
{
	long val = -1;
	int i, vm;

	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	ASSERT_EQ(0, vext_param_write(VEXT_TEST_COMP_MODULE, "fail_vm_init", "1"));
	ASSERT_EQ(0, vext_param_read(VEXT_TEST_COMP_MODULE, "fail_vm_init", &val));
	ASSERT_EQ(1, val);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(-ENOMEM, vext_create_vm(self->dev));
	EXPECT_EQ(0, comp_param(_metadata, "live_vms"));
	ASSERT_EQ(0, vext_param_write(VEXT_TEST_COMP_MODULE, "fail_vm_init", "0"));

	vm = create_vm(_metadata, self->dev);
	EXPECT_EQ(1, comp_param(_metadata, "live_vms"));
	close(vm);
	EXPECT_EQ(0, comp_param(_metadata, "live_vms"));
	/* No module reference leaked by the failed attempts. */
	EXPECT_EQ(0, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	close_fd(&self->dev);
	EXPECT_EQ(0, vext_mod_remove(VEXT_CORE_MODULE));
}

/*
 * Walk the whole domid space by creating and closing VMs one at a time,
 * while three domids stay taken: by a VM fd, by a vCPU fd alone (VM fd
 * closed) and by a mapping of a shared page alone (all fds closed). Every
 * other domid comes round exactly once, in 1..VEXT_MAX_DOMID, never the
 * one just freed, and including those of failed VEXT_CREATE_VMs (not
 * leaked).
 *
 * That is some 32700 VM creations: a few seconds on a stock kernel, but
 * more than ten minutes on the debug row's KASAN + lockdep + kmemleak
 * kernel under TCG. So the walk times its first WALK_PROBE VMs and skips,
 * saying so, where the whole walk would exceed WALK_BUDGET_S; the other
 * rows run it in full, and create/close of VMs is exercised on the debug
 * row by every other test.
 */
#define WALK_PROBE	512
#define WALK_BUDGET_S	180

TEST_F_TIMEOUT(comp, domid_wrap, 600)
{
	static unsigned char seen[VEXT_MAX_DOMID + 1];
	int held_vm, held_vcpu, fd, vm, i, prev, nseen = 0, iters = 0;
	int d_vm, d_vcpu, d_map;
	struct vext_vcpu_shared *map;
	__u64 start;

	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	held_vm = create_vm(_metadata, self->dev);
	d_vm = get_domid(_metadata, held_vm);

	vm = create_vm(_metadata, self->dev);
	d_vcpu = get_domid(_metadata, vm);
	held_vcpu = create_vcpu(_metadata, vm, 0);
	close(vm);

	vm = create_vm(_metadata, self->dev);
	d_map = get_domid(_metadata, vm);
	fd = create_vcpu(_metadata, vm, 0);
	map = map_shared(_metadata, fd);
	close(fd);
	close(vm);
	EXPECT_EQ(3, comp_param(_metadata, "live_vms"));

	ASSERT_EQ(0, vext_param_write(VEXT_TEST_COMP_MODULE, "fail_vm_init", "1"));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(-ENOMEM, vext_create_vm(self->dev));
	ASSERT_EQ(0, vext_param_write(VEXT_TEST_COMP_MODULE, "fail_vm_init", "0"));

	prev = d_map;
	start = vext_now_ns();
	while (nseen < NR_DOMIDS - 3 && iters++ < 3 * NR_DOMIDS) {
		int d;

		if (iters == WALK_PROBE) {
			__u64 whole = (vext_now_ns() - start) / WALK_PROBE * NR_DOMIDS;

			if (whole > WALK_BUDGET_S * 1000000000ULL) {
				vext_unmap_shared(map);
				close(held_vcpu);
				close(held_vm);
				SKIP(return, "walking %d domids would take %llu s (budget %d s)",
				     NR_DOMIDS, whole / 1000000000ULL, WALK_BUDGET_S);
			}
		}
		vm = vext_create_vm(self->dev);
		ASSERT_LE(0, vm) TH_LOG("VM %d: %s", iters, strerror(-vm));
		d = vext_get_domid(vm);
		close(vm);
		ASSERT_LE(VEXT_MIN_DOMID, d) TH_LOG("domid %d", d);
		ASSERT_GE(VEXT_MAX_DOMID, d);
		ASSERT_NE(prev, d) TH_LOG("domid %d reused at once", d);
		ASSERT_NE(d_vm, d) TH_LOG("domid of a live VM fd reused");
		ASSERT_NE(d_vcpu, d) TH_LOG("domid held by a vCPU fd reused");
		ASSERT_NE(d_map, d) TH_LOG("domid held by a mapping reused");
		if (!seen[d]) {
			seen[d] = 1;
			nseen++;
		}
		prev = d;
	}
	TH_LOG("%d VMs in %llu ms", iters, (vext_now_ns() - start) / 1000000ULL);
	EXPECT_EQ(NR_DOMIDS - 3, nseen)
		TH_LOG("%d domids seen in %d VMs", nseen, iters);
	EXPECT_GE(NR_DOMIDS + 3, iters);

	/* The holders are still intact. */
	EXPECT_EQ(d_vm, vext_get_domid(held_vm));
	EXPECT_EQ(0, vext_ioctl(held_vcpu, VEXT_TEST_VCPU_ID, 0));
	check_shared(_metadata, map, 0, d_map);
	EXPECT_EQ(3, comp_param(_metadata, "live_vms"));
	vext_unmap_shared(map);
	EXPECT_EQ(2, comp_param(_metadata, "live_vms"));
	close(held_vcpu);
	EXPECT_EQ(1, comp_param(_metadata, "live_vms"));
	close(held_vm);
	EXPECT_EQ(0, comp_param(_metadata, "live_vms"));
}

/* ---- registration errors: the module refuses to load ----------------- */

FIXTURE(comp_reg) {
	int unused;
};

FIXTURE_VARIANT(comp_reg) {
	const char *options;
	int err;
};

FIXTURE_VARIANT_ADD(comp_reg, defaults) {
	.options = "", .err = 0,
};

FIXTURE_VARIANT_ADD(comp_reg, explicit_range) {
	.options = "ioctl_first=0xf0 ioctl_last=0xff", .err = 0,
};

FIXTURE_VARIANT_ADD(comp_reg, narrow_range) {
	.options = "ioctl_first=0xf0 ioctl_last=0xf1", .err = 0,
};

FIXTURE_VARIANT_ADD(comp_reg, one_extra) {
	.options = "extra=1", .err = 0,
};

FIXTURE_VARIANT_ADD(comp_reg, core_range) {
	.options = "ioctl_first=0x10", .err = EINVAL,
};

FIXTURE_VARIANT_ADD(comp_reg, core_system_range) {
	.options = "ioctl_first=0x00 ioctl_last=0x0f", .err = EINVAL,
};

FIXTURE_VARIANT_ADD(comp_reg, core_last_number) {
	.options = "ioctl_first=0x1f", .err = EINVAL,
};

FIXTURE_VARIANT_ADD(comp_reg, first_after_last) {
	.options = "ioctl_first=0xf8 ioctl_last=0xf7", .err = EINVAL,
};

FIXTURE_VARIANT_ADD(comp_reg, beyond_ioctl_nr) {
	.options = "ioctl_first=0xf0 ioctl_last=0x100", .err = EINVAL,
};

FIXTURE_VARIANT_ADD(comp_reg, overlap) {
	.options = "overlap=1", .err = EBUSY,
};

FIXTURE_VARIANT_ADD(comp_reg, registry_full) {
	.options = "extra=8", .err = ENOSPC,
};

FIXTURE_SETUP(comp_reg)
{
	load_module(_metadata, VEXT_CORE_MODULE, NULL);
	unload_module(_metadata, VEXT_TEST_COMP_MODULE);
}

FIXTURE_TEARDOWN(comp_reg)
{
	vext_mod_unload(VEXT_TEST_COMP_MODULE);
}

TEST_F(comp_reg, load)
{
	__u64 val = 1;
	int dev, vm;

	EXPECT_EQ(-variant->err, vext_mod_load(VEXT_TEST_COMP_MODULE,
					       variant->options))
		TH_LOG("options '%s'", variant->options);
	EXPECT_EQ(!variant->err, vext_mod_loaded(VEXT_TEST_COMP_MODULE));
	dev = open_dev(_metadata);
	EXPECT_EQ(variant->err ? 0 : VEXT_TEST_CAP_VALUE,
		  check_ext(dev, VEXT_TEST_CAP));

	/* Whatever happened, the registry still works for a normal load. */
	unload_module(_metadata, VEXT_TEST_COMP_MODULE);
	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	vm = create_vm(_metadata, dev);
	EXPECT_EQ(0, echo(vm, &val));
	EXPECT_EQ(2ULL, val);
	/* No leftover component answers the extra ranges. */
	EXPECT_EQ(-ENOTTY, vext_ioctl(vm, _IO(VEXTIO, VEXT_TEST_EXTRA_FIRST), 0));
	close(vm);
	close(dev);
	unload_module(_metadata, VEXT_TEST_COMP_MODULE);
}

/* ---- fd lifetime in every close order -------------------------------- */

/*
 * A VM with two vCPUs and a mapping of vCPU 0's shared page: four handles
 * that keep the VM alive. Each variant releases them in one of the 24
 * orders; after each step the remaining handles still work, the VM and
 * both vCPUs live (the test component counts them) until the last handle
 * goes, and then everything is freed and the modules unload.
 */
enum { LT_vm, LT_cpu0, LT_cpu1, LT_map, LT_NR };

FIXTURE(lifetime) {
	int dev;
	int fd[LT_NR];		/* fd[LT_map] unused */
	struct vext_vcpu_shared *map;
	int domid;
};

FIXTURE_VARIANT(lifetime) {
	int order[LT_NR];
};

FIXTURE_VARIANT_ADD(lifetime, vm_cpu0_cpu1_map) {
	.order = { LT_vm, LT_cpu0, LT_cpu1, LT_map },
};

FIXTURE_VARIANT_ADD(lifetime, vm_cpu0_map_cpu1) {
	.order = { LT_vm, LT_cpu0, LT_map, LT_cpu1 },
};

FIXTURE_VARIANT_ADD(lifetime, vm_cpu1_cpu0_map) {
	.order = { LT_vm, LT_cpu1, LT_cpu0, LT_map },
};

FIXTURE_VARIANT_ADD(lifetime, vm_cpu1_map_cpu0) {
	.order = { LT_vm, LT_cpu1, LT_map, LT_cpu0 },
};

FIXTURE_VARIANT_ADD(lifetime, vm_map_cpu0_cpu1) {
	.order = { LT_vm, LT_map, LT_cpu0, LT_cpu1 },
};

FIXTURE_VARIANT_ADD(lifetime, vm_map_cpu1_cpu0) {
	.order = { LT_vm, LT_map, LT_cpu1, LT_cpu0 },
};

FIXTURE_VARIANT_ADD(lifetime, cpu0_vm_cpu1_map) {
	.order = { LT_cpu0, LT_vm, LT_cpu1, LT_map },
};

FIXTURE_VARIANT_ADD(lifetime, cpu0_vm_map_cpu1) {
	.order = { LT_cpu0, LT_vm, LT_map, LT_cpu1 },
};

FIXTURE_VARIANT_ADD(lifetime, cpu0_cpu1_vm_map) {
	.order = { LT_cpu0, LT_cpu1, LT_vm, LT_map },
};

FIXTURE_VARIANT_ADD(lifetime, cpu0_cpu1_map_vm) {
	.order = { LT_cpu0, LT_cpu1, LT_map, LT_vm },
};

FIXTURE_VARIANT_ADD(lifetime, cpu0_map_vm_cpu1) {
	.order = { LT_cpu0, LT_map, LT_vm, LT_cpu1 },
};

FIXTURE_VARIANT_ADD(lifetime, cpu0_map_cpu1_vm) {
	.order = { LT_cpu0, LT_map, LT_cpu1, LT_vm },
};

FIXTURE_VARIANT_ADD(lifetime, cpu1_vm_cpu0_map) {
	.order = { LT_cpu1, LT_vm, LT_cpu0, LT_map },
};

FIXTURE_VARIANT_ADD(lifetime, cpu1_vm_map_cpu0) {
	.order = { LT_cpu1, LT_vm, LT_map, LT_cpu0 },
};

FIXTURE_VARIANT_ADD(lifetime, cpu1_cpu0_vm_map) {
	.order = { LT_cpu1, LT_cpu0, LT_vm, LT_map },
};

FIXTURE_VARIANT_ADD(lifetime, cpu1_cpu0_map_vm) {
	.order = { LT_cpu1, LT_cpu0, LT_map, LT_vm },
};

FIXTURE_VARIANT_ADD(lifetime, cpu1_map_vm_cpu0) {
	.order = { LT_cpu1, LT_map, LT_vm, LT_cpu0 },
};

FIXTURE_VARIANT_ADD(lifetime, cpu1_map_cpu0_vm) {
	.order = { LT_cpu1, LT_map, LT_cpu0, LT_vm },
};

FIXTURE_VARIANT_ADD(lifetime, map_vm_cpu0_cpu1) {
	.order = { LT_map, LT_vm, LT_cpu0, LT_cpu1 },
};

FIXTURE_VARIANT_ADD(lifetime, map_vm_cpu1_cpu0) {
	.order = { LT_map, LT_vm, LT_cpu1, LT_cpu0 },
};

FIXTURE_VARIANT_ADD(lifetime, map_cpu0_vm_cpu1) {
	.order = { LT_map, LT_cpu0, LT_vm, LT_cpu1 },
};

FIXTURE_VARIANT_ADD(lifetime, map_cpu0_cpu1_vm) {
	.order = { LT_map, LT_cpu0, LT_cpu1, LT_vm },
};

FIXTURE_VARIANT_ADD(lifetime, map_cpu1_vm_cpu0) {
	.order = { LT_map, LT_cpu1, LT_vm, LT_cpu0 },
};

FIXTURE_VARIANT_ADD(lifetime, map_cpu1_cpu0_vm) {
	.order = { LT_map, LT_cpu1, LT_cpu0, LT_vm },
};

FIXTURE_SETUP(lifetime)
{
	int i;

	self->dev = -1;
	for (i = 0; i < LT_NR; i++)
		self->fd[i] = -1;
	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	ASSERT_EQ(0, comp_param(_metadata, "live_vms"));
	ASSERT_EQ(0, comp_param(_metadata, "live_vcpus"));
	self->dev = open_dev(_metadata);
	self->fd[LT_vm] = create_vm(_metadata, self->dev);
	self->domid = get_domid(_metadata, self->fd[LT_vm]);
	self->fd[LT_cpu0] = create_vcpu(_metadata, self->fd[LT_vm], 0);
	self->fd[LT_cpu1] = create_vcpu(_metadata, self->fd[LT_vm], 1);
	self->map = map_shared(_metadata, self->fd[LT_cpu0]);
	/* The /dev/vext fd plays no part in a VM's lifetime. */
	close_fd(&self->dev);
	ASSERT_EQ(1, comp_param(_metadata, "live_vms"));
	ASSERT_EQ(2, comp_param(_metadata, "live_vcpus"));
}

FIXTURE_TEARDOWN(lifetime)
{
	int i;

	vext_unmap_shared(self->map);
	for (i = 0; i < LT_NR; i++)
		close_fd(&self->fd[i]);
	close_fd(&self->dev);
}

TEST_F(lifetime, release)
{
	bool held[LT_NR] = { true, true, true, true };
	int step, left = LT_NR;

	for (step = 0; step < LT_NR; step++) {
		int h = variant->order[step];

		if (h == LT_map) {
			ASSERT_EQ(0, munmap(self->map, PAGE));
			self->map = NULL;
		} else {
			ASSERT_EQ(0, close(self->fd[h]));
			self->fd[h] = -1;
		}
		held[h] = false;
		left--;

		EXPECT_EQ(left ? 1 : 0, comp_param(_metadata, "live_vms"))
			TH_LOG("after step %d", step);
		EXPECT_EQ(left ? 2 : 0, comp_param(_metadata, "live_vcpus"))
			TH_LOG("after step %d", step);
		if (held[LT_vm])
			EXPECT_EQ(self->domid, vext_get_domid(self->fd[LT_vm]));
		if (held[LT_cpu0])
			EXPECT_EQ(0, vext_ioctl(self->fd[LT_cpu0],
						VEXT_TEST_VCPU_ID, 0));
		if (held[LT_cpu1]) {
			struct vext_vcpu_shared *s;

			EXPECT_EQ(1, vext_ioctl(self->fd[LT_cpu1],
						VEXT_TEST_VCPU_ID, 0));
			/* Still mappable, whatever else was closed. */
			s = map_shared(_metadata, self->fd[LT_cpu1]);
			check_shared(_metadata, s, 1, self->domid);
			vext_unmap_shared(s);
		}
		if (held[LT_map])
			check_shared(_metadata, self->map, 0, self->domid);
	}
	/* Everything is freed: no module is pinned any more. */
	EXPECT_EQ(0, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(0, vext_mod_remove(VEXT_CORE_MODULE));
}

/* ---- process exit and module unloading ------------------------------ */

FIXTURE(unload) {
	int unused;
};

FIXTURE_SETUP(unload)
{
	load_module(_metadata, VEXT_CORE_MODULE, NULL);
	unload_module(_metadata, VEXT_TEST_COMP_MODULE);
}

FIXTURE_TEARDOWN(unload)
{
}

static int leave_everything_open(void *arg)
{
	struct vext_vcpu_shared *s;
	int dev, vm, vcpu, i;

	(void)arg;
	dev = vext_dev_open();
	if (dev < 0)
		return 1;
	for (i = 0; i < 4; i++) {
		vm = vext_create_vm(dev);
		if (vm < 0)
			return 2;
		vcpu = vext_create_vcpu(vm, i);
		if (vcpu < 0)
			return 3;
		s = vext_map_shared(vcpu);
		if (!s)
			return 4;
		if (i & 1)
			close(vm);
	}
	/* Exit with every fd and mapping still open. */
	return 0;
}

/* A VMM that dies without closing anything leaks nothing. */
TEST_F(unload, process_exit)
{
	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	EXPECT_EQ(0, run_child(leave_everything_open, NULL));
	EXPECT_EQ(0, comp_param(_metadata, "live_vms"));
	EXPECT_EQ(0, comp_param(_metadata, "live_vcpus"));
	EXPECT_EQ(0, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(0, vext_mod_remove(VEXT_CORE_MODULE));
}

/* vext_core stays while any of its fds or mappings is open. */
TEST_F(unload, core_busy_while_open)
{
	struct vext_vcpu_shared *s;
	int dev, vm, vcpu, domid;

	dev = open_dev(_metadata);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_CORE_MODULE));
	vm = create_vm(_metadata, dev);
	domid = get_domid(_metadata, vm);
	close(dev);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_CORE_MODULE));
	vcpu = create_vcpu(_metadata, vm, 0);
	close(vm);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_CORE_MODULE));
	s = map_shared(_metadata, vcpu);
	close(vcpu);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_CORE_MODULE));
	EXPECT_EQ(1, vext_mod_loaded(VEXT_CORE_MODULE));
	check_shared(_metadata, s, 0, domid);
	vext_unmap_shared(s);

	EXPECT_EQ(0, vext_mod_remove(VEXT_CORE_MODULE));
	EXPECT_EQ(0, vext_mod_loaded(VEXT_CORE_MODULE));
	EXPECT_EQ(0, vext_dev_wait_gone());

	/* And it comes back. */
	load_module(_metadata, VEXT_CORE_MODULE, NULL);
	dev = open_dev(_metadata);
	EXPECT_EQ(VEXT_API_VERSION, vext_ioctl(dev, VEXT_GET_API_VERSION, 0));
	vm = create_vm(_metadata, dev);
	get_domid(_metadata, vm);
	close(vm);
	close(dev);
}

/*
 * Last test: with the whole suite in use nothing unloads; once the last fd
 * is closed every module does, leaving the kernel as it was.
 */
TEST_F(unload, all_modules)
{
	int dev, vm, vcpu;

	load_module(_metadata, VEXT_TEST_COMP_MODULE, NULL);
	dev = open_dev(_metadata);
	vm = create_vm(_metadata, dev);
	vcpu = create_vcpu(_metadata, vm, 0);
	close(dev);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_CORE_MODULE));
	close(vm);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_CORE_MODULE));
	close(vcpu);
	/* vext_core is still used by vext_test_comp, which depends on it. */
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_CORE_MODULE));
	EXPECT_EQ(0, vext_mod_remove(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(0, vext_mod_remove(VEXT_CORE_MODULE));
	EXPECT_EQ(0, vext_mod_loaded(VEXT_TEST_COMP_MODULE));
	EXPECT_EQ(0, vext_mod_loaded(VEXT_CORE_MODULE));
	EXPECT_EQ(0, vext_dev_wait_gone());
}

TEST_HARNESS_MAIN
