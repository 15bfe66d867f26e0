// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext-demo - a minimal VMM-side tour of the vext API.
 *
 * Opens /dev/vext, prints the API version and every capability, creates a
 * VM with two vCPUs, reads each vCPU's shared page, gives the VM one memory
 * slot, shows a loaded vCPU thread's preemption counters (vext_pn), then
 * closes everything. Exits 0 on success; on failure it prints
 * what failed and why, and exits 1.
 *
 * Later features extend this demo with their own step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vext.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define DEMO_VCPUS	2
#define DEMO_MEM_SIZE	(2UL << 20)	/* 2 MiB of guest memory at gpa 0 */

static const char prog[] = "vext-demo";

static const struct {
	const char *name;
	unsigned long cap;
} caps[] = {
#define CAP(x) { #x, x }
	CAP(VEXT_CAP_CORE),
	CAP(VEXT_CAP_MAX_VCPUS),
	CAP(VEXT_CAP_MAX_VCPU_ID),
	CAP(VEXT_CAP_NR_MEMSLOTS),
	CAP(VEXT_CAP_MAX_DOMID),
	CAP(VEXT_CAP_VCPU_SHARED_PAGE),
	CAP(VEXT_CAP_PERCPU_STATS),
	CAP(VEXT_CAP_PREEMPT_NOTIFY),
	CAP(VEXT_CAP_PCI_ASSIGN),
	CAP(VEXT_CAP_PCI_2_3),
	CAP(VEXT_CAP_GRANT_TABLE),
	CAP(VEXT_CAP_GNTDEV_ABI),
#undef CAP
};

static int fail(const char *what);

static int spinning;

/* Racy flags and kernel-written fields are read with __atomic loads. */
#define LOAD(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

static void pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *spinner(void *arg)
{
	(void)arg;
	pin_to_cpu0();
	while (LOAD(spinning))
		;
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Bind this thread to vCPU 0 (VEXT_VCPU_LOAD), compete for CPU 0 with a
 * spinning thread for half a second, sleep a few times, and print what the
 * kernel counted in the shared page.
 */
static int demo_preemption(int vcpu, const struct vext_vcpu_shared *s)
{
	unsigned long long preempted, blocked, pns, bns, migr;
	pthread_t thread;
	unsigned int seq;
	double end;
	int i;

	pin_to_cpu0();
	if (ioctl(vcpu, VEXT_VCPU_LOAD, 0) < 0)
		return fail("VEXT_VCPU_LOAD");
	__atomic_store_n(&spinning, 1, __ATOMIC_RELAXED);
	if (pthread_create(&thread, NULL, spinner, NULL)) {
		errno = EAGAIN;
		return fail("pthread_create");
	}
	for (end = now_s() + 0.5; now_s() < end;)
		;
	__atomic_store_n(&spinning, 0, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	for (i = 0; i < 10; i++)
		usleep(2000);
	do {
		seq = LOAD(s->seq);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		preempted = LOAD(s->preempted);
		blocked = LOAD(s->blocked);
		pns = LOAD(s->preempted_ns);
		bns = LOAD(s->blocked_ns);
		migr = LOAD(s->migrations);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((seq & 1) || seq != LOAD(s->seq));
	printf("vCPU 0 thread, loaded on CPU 0 beside a spinning thread:\n");
	printf("  preempted %llu times (%.1f ms off CPU)\n", preempted, pns / 1e6);
	printf("  blocked %llu times (%.1f ms off CPU)\n", blocked, bns / 1e6);
	printf("  migrations %llu\n", migr);
	if (ioctl(vcpu, VEXT_VCPU_PUT, 0) < 0)
		return fail("VEXT_VCPU_PUT");
	return 0;
}

/* Print "vext-demo: what: strerror(errno)" and return 1 for main(). */
static int fail(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	return 1;
}

int main(void)
{
	struct vext_vcpu_shared *shared[DEMO_VCPUS] = { NULL };
	int vcpu[DEMO_VCPUS] = { -1, -1 };
	struct vext_userspace_memory_region region;
	int dev, vm = -1, ret = 1, domid, i;
	long page = sysconf(_SC_PAGESIZE);
	void *mem = MAP_FAILED;
	unsigned int c;
	long val;

	dev = open("/dev/vext", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fail("open /dev/vext (is vext_core loaded?)");

	val = ioctl(dev, VEXT_GET_API_VERSION, 0);
	if (val < 0) {
		ret = fail("VEXT_GET_API_VERSION");
		goto out;
	}
	printf("vext API version %ld\n", val);
	if (val != VEXT_API_VERSION) {
		fprintf(stderr, "%s: kernel speaks API version %ld, this demo %d\n",
			prog, val, VEXT_API_VERSION);
		goto out;
	}

	printf("capabilities:\n");
	for (c = 0; c < ARRAY_SIZE(caps); c++) {
		val = ioctl(dev, VEXT_CHECK_EXTENSION, caps[c].cap);
		if (val < 0) {
			ret = fail("VEXT_CHECK_EXTENSION");
			goto out;
		}
		printf("  %s: %ld\n", caps[c].name, val);
	}

	vm = ioctl(dev, VEXT_CREATE_VM, 0);
	if (vm < 0) {
		ret = fail("VEXT_CREATE_VM");
		goto out;
	}
	domid = ioctl(vm, VEXT_GET_DOMID, 0);
	if (domid < 0) {
		ret = fail("VEXT_GET_DOMID");
		goto out;
	}
	printf("VM created: domid %d\n", domid);

	for (i = 0; i < DEMO_VCPUS; i++) {
		vcpu[i] = ioctl(vm, VEXT_CREATE_VCPU, i);
		if (vcpu[i] < 0) {
			ret = fail("VEXT_CREATE_VCPU");
			goto out;
		}
		shared[i] = mmap(NULL, page, PROT_READ, MAP_SHARED, vcpu[i],
				 VEXT_VCPU_SHARED_OFFSET);
		if (shared[i] == MAP_FAILED) {
			shared[i] = NULL;
			ret = fail("mmap of the vCPU shared page");
			goto out;
		}
		printf("vCPU %d: shared page version %u, size %u, vcpu_id %u, domid %u\n",
		       i, shared[i]->version, shared[i]->size,
		       shared[i]->vcpu_id, shared[i]->domid);
	}

	mem = mmap(NULL, DEMO_MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		ret = fail("mmap of guest memory");
		goto out;
	}
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = DEMO_MEM_SIZE;
	region.userspace_addr = (unsigned long)mem;
	if (ioctl(vm, VEXT_SET_USER_MEMORY_REGION, &region) < 0) {
		ret = fail("VEXT_SET_USER_MEMORY_REGION");
		goto out;
	}
	printf("memory slot %u: guest 0x%llx-0x%llx -> user %p\n", region.slot,
	       (unsigned long long)region.guest_phys_addr,
	       (unsigned long long)(region.guest_phys_addr +
				    region.memory_size - 1), mem);
	if (ioctl(dev, VEXT_CHECK_EXTENSION, VEXT_CAP_PREEMPT_NOTIFY) > 0) {
		ret = demo_preemption(vcpu[0], shared[0]);
		if (ret)
			goto out;
	} else {
		printf("vext_pn not loaded: no preemption statistics\n");
	}
	ret = 0;

out:
	for (i = 0; i < DEMO_VCPUS; i++) {
		if (shared[i])
			munmap(shared[i], page);
		if (vcpu[i] >= 0)
			close(vcpu[i]);
	}
	if (vm >= 0)
		close(vm);
	if (mem != MAP_FAILED)
		munmap(mem, DEMO_MEM_SIZE);
	close(dev);
	if (!ret)
		printf("done: VM, vCPUs and memory released\n");
	return ret;
}
