// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext-demo - a minimal VMM-side tour of the vext API.
 *
 * Opens /dev/vext, prints the API version and every capability, creates a
 * VM with two vCPUs, reads each vCPU's shared page, gives the VM one memory
 * slot, shows a loaded vCPU thread's preemption counters (vext_pn),
 * assigns QEMU's edu device at 0000:00:04.0 to the VM (vext_assign: bound
 * to vext-pci, PCI 2.3 mode) and prints the interrupts it delivers through
 * an eventfd, lets the VM grant a page of its memory to a backend process
 * that reads it through its own VM (vext_gnt), then closes everything.
 * Exits 0 on success; on failure it prints
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
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
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

#define DEMO_PCI	"0000:00:04.0"		/* edu in the test VM */
#define DEMO_SYSFS	"/sys/bus/pci/devices/" DEMO_PCI
#define DEMO_IRQS	10
#define DEMO_DEV_ID	1

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

static long read_hex(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 0) : -1;
}

/* One 32-bit MMIO store: a relaxed atomic is exactly one aligned store. */
static void mmio_write(uint32_t *bar, unsigned int off, uint32_t val)
{
	__atomic_store_n(bar + off / 4, val, __ATOMIC_RELAXED);
}

/* Hand edu to vext-pci, as an administrator would (driver_override). */
static int bind_to_vext_pci(void)
{
	char link[256];
	ssize_t n;

	n = readlink(DEMO_SYSFS "/driver", link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		if (strstr(link, "/vext-pci"))
			return 0;
		if (write_file(DEMO_SYSFS "/driver/unbind", DEMO_PCI))
			return -1;
	}
	if (write_file(DEMO_SYSFS "/driver_override", "vext-pci") ||
	    write_file("/sys/bus/pci/drivers_probe", DEMO_PCI))
		return -1;
	return 0;
}

static void unbind_from_vext_pci(void)
{
	write_file(DEMO_SYSFS "/driver/unbind", DEMO_PCI);
	write_file(DEMO_SYSFS "/driver_override", "\n");
}

/*
 * Assign edu, raise DEMO_IRQS interrupts through its BAR (the guest's
 * driver would do this), receive each on the trigger eventfd and ack it
 * (device, then VEXT_ASSIGNED_DEV_UNMASK), as a VMM injecting them would.
 */
static int demo_assign(int vm)
{
	struct vext_assigned_pci_dev a = {
		.assigned_dev_id = DEMO_DEV_ID,
		.busnr = 0,
		.devfn = 4 << 3,
		.flags = VEXT_DEV_ASSIGN_PCI_2_3,
		.err_fd = -1,
	};
	struct vext_assigned_irq irq = {
		.assigned_dev_id = DEMO_DEV_ID,
		.flags = VEXT_DEV_IRQ_HOST_INTX,
	};
	struct vext_assigned_dev_info info = { .assigned_dev_id = DEMO_DEV_ID };
	uint32_t *bar = MAP_FAILED;
	int trig = -1, fd, i, ret = 1;

	if (read_hex(DEMO_SYSFS "/vendor") != 0x1234 ||
	    read_hex(DEMO_SYSFS "/device") != 0x11e8) {
		printf("no edu device at %s: no device assignment shown\n", DEMO_PCI);
		return 0;
	}
	if (bind_to_vext_pci())
		return fail("binding " DEMO_PCI " to vext-pci");
	if (ioctl(vm, VEXT_ASSIGN_PCI_DEVICE, &a) < 0) {
		ret = fail("VEXT_ASSIGN_PCI_DEVICE");
		goto out_unbind;
	}
	fd = open(DEMO_SYSFS "/resource0", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd >= 0) {
		bar = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
	}
	if (bar == MAP_FAILED) {
		ret = fail("mmap of edu's BAR0");
		goto out_deassign;
	}
	mmio_write(bar, 0x64, ~0u);		/* ack anything left raised */
	trig = eventfd(0, EFD_CLOEXEC);
	irq.trigger_fd = trig;
	if (trig < 0 || ioctl(vm, VEXT_ASSIGN_DEV_IRQ, &irq) < 0) {
		ret = fail("VEXT_ASSIGN_DEV_IRQ");
		goto out_deassign;
	}
	if (ioctl(vm, VEXT_ASSIGNED_DEV_INFO, &info) < 0) {
		ret = fail("VEXT_ASSIGNED_DEV_INFO");
		goto out_deassign;
	}
	printf("edu %s assigned as device %u: irq %u, %s mode\n", DEMO_PCI,
	       DEMO_DEV_ID, info.host_irq,
	       info.flags & VEXT_DEV_ASSIGN_PCI_2_3 ? "PCI 2.3 shared-line" :
	       "exclusive");
	for (i = 1; i <= DEMO_IRQS; i++) {
		struct pollfd p = { .fd = trig, .events = POLLIN };
		uint64_t n = 0;
		double t0 = now_s();

		mmio_write(bar, 0x60, 1);	/* edu: raise INTx */
		if (poll(&p, 1, 2000) != 1 || read(trig, &n, sizeof(n)) != sizeof(n)) {
			errno = ETIMEDOUT;
			ret = fail("waiting for the interrupt");
			goto out_deassign;
		}
		printf("  interrupt %d delivered: eventfd count %llu after %.0f us\n",
		       i, (unsigned long long)n, (now_s() - t0) * 1e6);
		mmio_write(bar, 0x64, 1);	/* edu: ack */
		if (ioctl(vm, VEXT_ASSIGNED_DEV_UNMASK, DEMO_DEV_ID) < 0) {
			ret = fail("VEXT_ASSIGNED_DEV_UNMASK");
			goto out_deassign;
		}
	}
	printf("%d interrupts delivered\n", DEMO_IRQS);
	ret = 0;
out_deassign:
	if (bar != MAP_FAILED)
		munmap(bar, 1 << 20);
	memset(&a, 0, sizeof(a));
	a.assigned_dev_id = DEMO_DEV_ID;
	a.err_fd = -1;
	if (ioctl(vm, VEXT_DEASSIGN_PCI_DEVICE, &a) < 0 && !ret)
		ret = fail("VEXT_DEASSIGN_PCI_DEVICE");
	if (trig >= 0)
		close(trig);
out_unbind:
	unbind_from_vext_pci();
	return ret;
}

/* Print "vext-demo: what: strerror(errno)" and return 1 for main(). */
static int fail(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	return 1;
}

/* The backend, a forked process acting through a VM of its own. */
static int grant_backend(int guest, int up, int down)
{
	struct vext_gnttab_op op = {
		.cmd = VEXT_GNTTABOP_map_grant_ref, .domid = guest, .ref = 8,
		.flags = VEXT_GNTMAP_readonly,
	};
	/*
	 * The kernel retries eagain for us: the guest's page is still shared
	 * copy-on-write with this child right after fork(), so vext first
	 * has it unshared (faulted in) before it can pin it.
	 */
	struct vext_gnttab_batch b = {
		.ops = (unsigned long)&op, .count = 1,
		.flags = VEXT_GNTTAB_RETRY_EAGAIN,
	};
	int dev, vm, domid;
	char *p, c;

	dev = open("/dev/vext", O_RDWR | O_CLOEXEC);
	vm = dev < 0 ? -1 : ioctl(dev, VEXT_CREATE_VM, 0);
	domid = vm < 0 ? -1 : ioctl(vm, VEXT_GET_DOMID, 0);
	if (write(up, &domid, sizeof(domid)) != sizeof(domid) || domid < 0)
		return 1;
	if (read(down, &c, 1) != 1)
		return 1;
	if (ioctl(vm, VEXT_GNTTAB_OP, &b) < 0 || op.status) {
		fprintf(stderr, "%s: backend: map failed (%d)\n", prog, op.status);
		return 1;
	}
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, vm, op.index);
	if (p == MAP_FAILED)
		return fail("backend: mmap of the grant");
	printf("backend (domain %d): mapped grant 8 of domain %d as handle %u: \"%s\"\n",
	       domid, guest, op.handle, p);
	fflush(stdout);
	/* Let the guest look at its entry while the page is mapped. */
	if (write(up, "m", 1) != 1 || read(down, &c, 1) != 1)
		return 1;
	munmap(p, 4096);
	op.cmd = VEXT_GNTTABOP_unmap_grant_ref;
	if (ioctl(vm, VEXT_GNTTAB_OP, &b) < 0 || op.status)
		return 1;
	printf("backend: unmapped\n");
	return 0;
}

/* vext_gnt: this VM grants one page, a forked backend reads it. */
static int demo_grants(int vm, int domid, char *mem)
{
	struct vext_gnt_setup_table st = { .nr_frames = 1 };
	struct vext_grant_entry_v1 *table;
	int up[2], down[2], backend = -1, status, ret = 1;
	pid_t pid;
	char c;

	if (ioctl(vm, VEXT_GNT_SETUP_TABLE, &st) < 0)
		return fail("VEXT_GNT_SETUP_TABLE");
	table = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vm,
		     VEXT_GNT_TABLE_OFFSET);
	if (table == MAP_FAILED)
		return fail("mmap of the grant table");
	snprintf(mem + 0x1000, 64, "hello from domain %d's page at gpa 0x1000",
		 domid);
	if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC))
		return fail("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (!pid) {
		close(up[0]);
		close(down[1]);
		_exit(grant_backend(domid, up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &backend, sizeof(backend)) != sizeof(backend) ||
	    backend < 0)
		goto out;
	/* Grant ref 8: gpfn 1, read-only, to the backend's domain. */
	table[8].frame = 1;
	table[8].domid = backend;
	__atomic_store_n(&table[8].flags,
			 VEXT_GTF_permit_access | VEXT_GTF_readonly,
			 __ATOMIC_RELEASE);
	printf("guest (domain %d): granted gpfn 1 read-only to domain %d as ref 8\n",
	       domid, backend);
	fflush(stdout);
	if (write(down[1], "g", 1) != 1 || read(up[0], &c, 1) != 1)
		goto out;
	printf("guest: while mapped, entry 8 flags = %#x (reading set by vext)\n",
	       __atomic_load_n(&table[8].flags, __ATOMIC_ACQUIRE));
	fflush(stdout);
	if (write(down[1], "u", 1) != 1)
		goto out;
	ret = 0;
out:
	close(down[1]);
	close(up[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		ret = 1;
	if (!ret)
		printf("guest: after the unmap, entry 8 flags = %#x\n",
		       __atomic_load_n(&table[8].flags, __ATOMIC_ACQUIRE));
	else
		fprintf(stderr, "%s: the grant demo failed\n", prog);
	munmap(table, 4096);
	return ret;
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
	if (ioctl(dev, VEXT_CHECK_EXTENSION, VEXT_CAP_PCI_ASSIGN) > 0) {
		ret = demo_assign(vm);
		if (ret)
			goto out;
	} else {
		printf("vext_assign not loaded: no device assignment\n");
	}
	if (ioctl(dev, VEXT_CHECK_EXTENSION, VEXT_CAP_GRANT_TABLE) > 0) {
		ret = demo_grants(vm, domid, mem);
		if (ret)
			goto out;
	} else {
		printf("vext_gnt not loaded: no grant tables\n");
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
		printf("done: VM, vCPUs, memory and devices released\n");
	return ret;
}
