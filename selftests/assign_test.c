// SPDX-License-Identifier: GPL-2.0-only
/*
 * assign_test - kselftests of vext_assign: PCI device assignment with PCI
 * 2.3 INTx masking and host IRQ sharing, on QEMU's edu devices of the test
 * VM ('pc' machine: edu at slots 4 and 8 share one line, edu at slot 7
 * shares the e1000's line).
 *
 *  - ownership: only devices bound to vext-pci (driver_override), each to
 *    one VM; state saved at assignment and restored at deassignment;
 *  - delivery: N interrupts raised -> exactly N trigger events, through the
 *    UNMASK ioctl and through the resample eventfd, a 100k storm included;
 *    re-assert when the device still asserts at the ack;
 *  - the guest's mask: nothing delivered while masked, masking at the
 *    hardware only when an interrupt arrives, the pending one delivered
 *    once at unmask;
 *  - sharing: two VMs (two processes) on one line, a VM next to e1000's
 *    host driver with the NIC kept working; exclusive mode when 2.3 is not
 *    requested or not possible, and -EBUSY where the line is in use;
 *  - hot-unplug (sysfs remove) while assigned, rescan, assign again;
 *    kill -9 of an assigned process in a loop;
 *  - every ioctl's bad inputs; tracepoints; per-CPU counters; unloading.
 *
 * Each test runs in its own process (the harness forks), and its VM goes
 * away with it. The edu devices stay bound to vext-pci from test to test;
 * each test acks whatever an earlier one left raised before it enables
 * delivery. Helper processes (a second VMM) never use ASSERT/EXPECT: they
 * report through their exit status and "# " lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vext_harness.h"
#include "vext_pci.h"
#include "vext_test.h"

#define ASSIGN_MODULE	"vext_assign"
#define VEXT_PCI_DRV	"vext-pci"
#define MS		1000000ULL

/* The edu devices and their slots (scripts/run-vm.sh). */
enum { EDU_A, EDU_B, EDU_C, NR_EDU };
static const unsigned int edu_slot[NR_EDU] = { 4, 8, 7 };
#define E1000_SLOT	3

/* How long a delivered interrupt may take to show up, and "never". */
#define EVENT_MS	5000
#define QUIET_MS	300
/* How much longer a missing one is waited for, to tell late from lost. */
#define LATE_MS		10000
/* Room for a failure's explanation (explain_missing()). */
#define WHY_LEN		512

#define STORM_IRQS	100000
#define PCI_COMMAND_OFF	0x04
#define PCI_CMD_INTX_DISABLE	0x400
#define PCI_STATUS_OFF	0x06
#define PCI_STATUS_INTR	0x08
#define PCI_INTERRUPT_LINE_OFF	0x3c

#define TRACEFS		"/sys/kernel/tracing"

struct edu {
	char name[VEXT_PCI_NAME_LEN];
	unsigned int bus, devfn;
	void *bar;
};

static void edu_raise(const struct edu *e, __u32 bits)
{
	vext_mmio_write32(e->bar, EDU_REG_IRQ_RAISE, bits);
}

static void edu_ack(const struct edu *e, __u32 bits)
{
	vext_mmio_write32(e->bar, EDU_REG_IRQ_ACK, bits);
}

static long long edu_status(const struct edu *e)
{
	return vext_mmio_read32(e->bar, EDU_REG_IRQ_STATUS);
}

/* ---- small helpers ------------------------------------------------------ */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int efd_new(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int efd_signal(int fd)
{
	__u64 one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static long assign_dev(int vm, __u32 id, const struct edu *e, __u32 flags,
		       int err_fd)
{
	struct vext_assigned_pci_dev d = {
		.assigned_dev_id = id,
		.busnr = e->bus,
		.devfn = e->devfn,
		.flags = flags,
		.segnr = 0,
		.err_fd = err_fd,
	};

	return vext_ioctl(vm, VEXT_ASSIGN_PCI_DEVICE, (unsigned long)&d);
}

static long deassign_dev(int vm, __u32 id)
{
	struct vext_assigned_pci_dev d = { .assigned_dev_id = id, .err_fd = -1 };

	return vext_ioctl(vm, VEXT_DEASSIGN_PCI_DEVICE, (unsigned long)&d);
}

static long assign_irq(int vm, __u32 id, int trigger, int resample)
{
	struct vext_assigned_irq irq = {
		.assigned_dev_id = id,
		.flags = VEXT_DEV_IRQ_HOST_INTX |
			 (resample >= 0 ? VEXT_DEV_IRQ_RESAMPLE : 0),
		.trigger_fd = trigger,
		.resample_fd = resample >= 0 ? resample : 0,
	};

	return vext_ioctl(vm, VEXT_ASSIGN_DEV_IRQ, (unsigned long)&irq);
}

static long deassign_irq(int vm, __u32 id)
{
	struct vext_assigned_irq irq = {
		.assigned_dev_id = id,
		.flags = VEXT_DEV_IRQ_HOST_INTX,
	};

	return vext_ioctl(vm, VEXT_DEASSIGN_DEV_IRQ, (unsigned long)&irq);
}

static long set_mask(int vm, __u32 id, bool masked)
{
	struct vext_assigned_pci_dev d = {
		.assigned_dev_id = id,
		.flags = masked ? VEXT_DEV_ASSIGN_MASK_INTX : 0,
		.err_fd = -1,
	};

	return vext_ioctl(vm, VEXT_ASSIGN_SET_INTX_MASK, (unsigned long)&d);
}

static long unmask(int vm, unsigned long id)
{
	return vext_ioctl(vm, VEXT_ASSIGNED_DEV_UNMASK, id);
}

static long dev_info(int vm, __u32 id, struct vext_assigned_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	info->assigned_dev_id = id;
	return vext_ioctl(vm, VEXT_ASSIGNED_DEV_INFO, (unsigned long)info);
}

/* One counter of debugfs vext/assign_stats, or -1. */
static long long stat_of(const char *name)
{
	char buf[1024], *p;
	size_t n = strlen(name);

	if (vext_debugfs_read("assign_stats", buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

static int cmd_intx_disabled(const struct edu *e)
{
	__u32 v;

	if (vext_pci_cfg_read(e->name, PCI_COMMAND_OFF, 2, &v))
		return -1;
	return !!(v & PCI_CMD_INTX_DISABLE);
}

/*
 * Why an interrupt of @e did not show up as one event: the device's and
 * vext's view of it, appended to @why. Then whether the event was only
 * late (it arrives within LATE_MS) or lost.
 */
static void explain_missing(const struct edu *e, int trigger, char *why,
			    size_t len)
{
	char devs[512] = "", *p = NULL, *nl;
	__u32 cmd = 0, sts = 0;
	size_t n = strlen(why);
	long long late;
	__u64 t0;

	vext_pci_cfg_read(e->name, PCI_COMMAND_OFF, 2, &cmd);
	vext_pci_cfg_read(e->name, PCI_STATUS_OFF, 2, &sts);
	/* This device's line of debugfs vext/assign_devices. */
	if (vext_debugfs_read("assign_devices", devs, sizeof(devs)) >= 0)
		p = strstr(devs, e->name);
	if (p) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
	} else {
		p = "?";
	}
	n += snprintf(why + n, len - n,
		      "; edu status %#llx, INTx disable %d, status.INTR %d; %s",
		      edu_status(e), !!(cmd & PCI_CMD_INTX_DISABLE),
		      !!(sts & PCI_STATUS_INTR), p);
	if (n >= len)
		return;
	t0 = vext_now_ns();
	late = vext_efd_wait(trigger, LATE_MS);
	if (late)
		snprintf(why + n, len - n, "; %lld event(s) %llu ms late", late,
			 (vext_now_ns() - t0) / MS + EVENT_MS);
	else
		snprintf(why + n, len - n, "; still nothing %d ms later",
			 EVENT_MS + LATE_MS);
}

/*
 * Raise and deliver @n interrupts of @e: each must produce exactly one
 * trigger event; the VMM side acks the device and then acks vext, by the
 * UNMASK ioctl or (@resample >= 0) the resample eventfd. 0 or -1 with
 * @why filled.
 */
static int run_irqs(const struct edu *e, int vm, __u32 id, int trigger,
		    int resample, long n, char *why, size_t len)
{
	long i;

	for (i = 0; i < n; i++) {
		long long got;
		long ret;

		edu_raise(e, 1);
		got = vext_efd_wait(trigger, EVENT_MS);
		if (got != 1) {
			snprintf(why, len, "%s interrupt %ld of %ld: %lld events",
				 e->name, i + 1, n, got);
			if (!got)
				explain_missing(e, trigger, why, len);
			return -1;
		}
		edu_ack(e, 1);
		ret = resample >= 0 ? efd_signal(resample) : unmask(vm, id);
		if (ret) {
			snprintf(why, len, "%s ack %ld: %s", e->name, i + 1,
				 strerror((int)-ret));
			return -1;
		}
	}
	if (vext_efd_wait(trigger, 50)) {
		snprintf(why, len, "%s: an event after the last ack", e->name);
		return -1;
	}
	return 0;
}

/* ---- fixture -------------------------------------------------------------- */

FIXTURE(assign) {
	int dev;
	int vm;
	int domid;
	struct edu edu[NR_EDU];
	int trig;
	int resample;
};

static void edu_setup(struct __test_metadata *_metadata, struct edu *e,
		      unsigned int slot)
{
	int ret;

	ret = vext_pci_find(EDU_VENDOR, EDU_DEVICE, slot, e->name);
	ASSERT_EQ(0, ret) TH_LOG("no edu at slot %u: %s", slot, strerror(-ret));
	e->bus = 0;
	e->devfn = slot << 3;
	ret = vext_pci_bind(e->name, VEXT_PCI_DRV);
	ASSERT_EQ(0, ret) TH_LOG("binding %s to %s: %s", e->name, VEXT_PCI_DRV,
				 strerror(-ret));
	e->bar = vext_pci_map_bar(e->name, 0, EDU_BAR_SIZE);
	ASSERT_NE(NULL, e->bar) TH_LOG("mmap %s BAR0: %s", e->name, strerror(errno));
}

FIXTURE_SETUP(assign)
{
	int i, ret;

	self->dev = -1;
	self->vm = -1;
	self->trig = -1;
	self->resample = -1;
	ret = vext_mod_load(ASSIGN_MODULE, NULL);
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", ASSIGN_MODULE, strerror(-ret));
	ret = vext_debugfs_mount();
	ASSERT_EQ(0, ret) TH_LOG("debugfs: %s", strerror(-ret));
	for (i = 0; i < NR_EDU; i++)
		edu_setup(_metadata, &self->edu[i], edu_slot[i]);
	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	self->domid = get_domid(_metadata, self->vm);
	self->trig = efd_new();
	self->resample = efd_new();
	ASSERT_LE(0, self->trig);
	ASSERT_LE(0, self->resample);
}

FIXTURE_TEARDOWN(assign)
{
	int i;

	for (i = 0; i < NR_EDU; i++)
		if (self->edu[i].bar)
			munmap(self->edu[i].bar, EDU_BAR_SIZE);
	close_fd(&self->trig);
	close_fd(&self->resample);
	close_fd(&self->vm);
	close_fd(&self->dev);
}

/* Assign edu @i as @id with @flags and ack whatever an earlier test left. */
static void assign_edu(struct __test_metadata *_metadata,
		       struct _test_data_assign *self, int i, __u32 id, __u32 flags)
{
	long ret = assign_dev(self->vm, id, &self->edu[i], flags, -1);

	ASSERT_EQ(0, ret) TH_LOG("assigning %s: %s", self->edu[i].name,
				 strerror((int)-ret));
	edu_ack(&self->edu[i], ~0u);
	ASSERT_EQ(0, edu_status(&self->edu[i]));
}

static void expect_mode(struct __test_metadata *_metadata, int vm, __u32 id,
			bool pci_2_3)
{
	struct vext_assigned_dev_info info;

	ASSERT_EQ(0, dev_info(vm, id, &info));
	EXPECT_EQ(pci_2_3 ? (long long)VEXT_DEV_ASSIGN_PCI_2_3 : 0,
		  (long long)(info.flags & VEXT_DEV_ASSIGN_PCI_2_3));
}

/* The IRQ the device got, read from INFO once INTx is assigned. */
static int host_irq(struct __test_metadata *_metadata, int vm, __u32 id)
{
	struct vext_assigned_dev_info info;

	EXPECT_EQ(0, dev_info(vm, id, &info));
	EXPECT_NE(0, (long long)(info.state & VEXT_ASSIGNED_IRQ));
	EXPECT_NE(0u, info.host_irq);
	return (int)info.host_irq;
}

/* ---- capabilities and ownership ------------------------------------------ */

TEST_F(assign, caps)
{
	EXPECT_EQ(VEXT_MAX_ASSIGNED_DEVS,
		  vext_ioctl(self->dev, VEXT_CHECK_EXTENSION, VEXT_CAP_PCI_ASSIGN));
	EXPECT_EQ(1, vext_ioctl(self->dev, VEXT_CHECK_EXTENSION, VEXT_CAP_PCI_2_3));
	/* An unused number of the range. */
	EXPECT_EQ(-ENOTTY, vext_ioctl(self->vm, _IO(VEXTIO, 0x47), 0));
	EXPECT_EQ(-ENOTTY, vext_ioctl(self->vm, _IO(VEXTIO, 0x5f), 0));
}

/* Assignment enables the device and saves its state; deassignment restores it. */
TEST_F(assign, state_saved_restored)
{
	const struct edu *e = &self->edu[EDU_A];
	__u32 line, v;

	ASSERT_EQ(0, vext_pci_enabled(e->name));
	EXPECT_EQ(1, cmd_intx_disabled(e)) TH_LOG("vext-pci leaves INTx masked");
	ASSERT_EQ(0, vext_pci_cfg_read(e->name, PCI_INTERRUPT_LINE_OFF, 1, &line));
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	EXPECT_EQ(1, vext_pci_enabled(e->name));
	/* The VMM scribbles on config space meanwhile. */
	ASSERT_EQ(0, vext_pci_cfg_write(e->name, PCI_INTERRUPT_LINE_OFF, 1,
					(line + 1) & 0xff));
	ASSERT_EQ(0, vext_pci_cfg_read(e->name, PCI_INTERRUPT_LINE_OFF, 1, &v));
	ASSERT_EQ((line + 1) & 0xff, v);
	ASSERT_EQ(0, deassign_dev(self->vm, 1));
	ASSERT_EQ(0, vext_pci_cfg_read(e->name, PCI_INTERRUPT_LINE_OFF, 1, &v));
	EXPECT_EQ(line, v);
	EXPECT_EQ(0, vext_pci_enabled(e->name));
	EXPECT_EQ(1, cmd_intx_disabled(e));
}

/* Each device to one VM only; the other VM (another process) gets EBUSY. */
static int assign_in_child(void *arg)
{
	const struct edu *e = arg;
	int dev = vext_dev_open(), vm;
	long ret;

	if (dev < 0)
		return 10;
	vm = vext_create_vm(dev);
	if (vm < 0)
		return 11;
	ret = assign_dev(vm, 1, e, VEXT_DEV_ASSIGN_PCI_2_3, -1);
	return ret == -EBUSY ? 0 : ret == 0 ? 12 : 13;
}

TEST_F(assign, one_vm_per_device)
{
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	EXPECT_EQ(0, vext_run_child(assign_in_child, &self->edu[EDU_A]));
	/* In the same VM under another id: also busy. */
	EXPECT_EQ(-EBUSY, assign_dev(self->vm, 2, &self->edu[EDU_A], 0, -1));
	ASSERT_EQ(0, deassign_dev(self->vm, 1));
	/* Free again: the other VM may have it now. */
	EXPECT_EQ(12, vext_run_child(assign_in_child, &self->edu[EDU_A]));
}

/* ---- delivery --------------------------------------------------------------- */

/* N interrupts -> exactly N events, a 100k storm, ack by ioctl. */
TEST_F_TIMEOUT(assign, storm_2_3_unmask_ioctl, 200)
{
	const struct edu *e = &self->edu[EDU_A];
	long long irq0, del0, irq1, del1;
	unsigned long long line0 = 0, line1 = 0;
	char why[WHY_LEN] = "";
	__u64 t0, ns;
	int irq;

	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	expect_mode(_metadata, self->vm, 1, true);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	irq = host_irq(_metadata, self->vm, 1);
	ASSERT_EQ(0, vext_irq_line(irq, &line0, NULL, 0));
	irq0 = stat_of("irq");
	del0 = stat_of("delivered");
	t0 = vext_now_ns();
	ASSERT_EQ(0, run_irqs(e, self->vm, 1, self->trig, -1, STORM_IRQS,
			      why, sizeof(why))) TH_LOG("%s", why);
	ns = vext_now_ns() - t0;
	irq1 = stat_of("irq");
	del1 = stat_of("delivered");
	ASSERT_EQ(0, vext_irq_line(irq, &line1, NULL, 0));
	TH_LOG("%d interrupts in %.2f s (%.1f us each), irq %d",
	       STORM_IRQS, ns / 1e9, ns / 1e3 / STORM_IRQS, irq);
	EXPECT_EQ(STORM_IRQS, irq1 - irq0);
	EXPECT_EQ(STORM_IRQS, del1 - del0);
	EXPECT_LE((unsigned long long)STORM_IRQS, line1 - line0);
}

/* The resample eventfd acks in the kernel; re-assert when still pending. */
TEST_F(assign, resample_path)
{
	const struct edu *e = &self->edu[EDU_A];
	struct vext_assigned_dev_info info;
	long long rs0, ra0;
	char why[WHY_LEN] = "";

	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, self->resample));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(VEXT_ASSIGNED_IRQ | VEXT_ASSIGNED_RESAMPLE, info.state);
	rs0 = stat_of("resample");
	ASSERT_EQ(0, run_irqs(e, self->vm, 1, self->trig, self->resample, 2000,
			      why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(2000, stat_of("resample") - rs0);

	/* Ack through resample while the device still asserts: again. */
	ra0 = stat_of("reassert");
	edu_raise(e, 1);
	ASSERT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ((long long)(VEXT_ASSIGNED_HOST_MASKED | VEXT_ASSIGNED_PENDING),
		  (long long)(info.state & (VEXT_ASSIGNED_HOST_MASKED | VEXT_ASSIGNED_PENDING)));
	ASSERT_EQ(0, efd_signal(self->resample));
	EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS)) TH_LOG("no re-assert");
	EXPECT_EQ(1, stat_of("reassert") - ra0);
	edu_ack(e, 1);
	ASSERT_EQ(0, efd_signal(self->resample));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(0, (long long)(info.state & VEXT_ASSIGNED_HOST_MASKED));
	EXPECT_EQ(0, cmd_intx_disabled(e));

	/* An ack with nothing pending changes nothing. */
	ASSERT_EQ(0, efd_signal(self->resample));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	ASSERT_EQ(0, run_irqs(e, self->vm, 1, self->trig, self->resample, 10,
			      why, sizeof(why))) TH_LOG("%s", why);
}

/* The explicit ack: re-assert when still pending, then a clean unmask. */
TEST_F(assign, unmask_ioctl_reassert)
{
	const struct edu *e = &self->edu[EDU_A];
	struct vext_assigned_dev_info info;
	long long ra0;
	int i;

	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	edu_raise(e, 1);
	ASSERT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	EXPECT_EQ(1, cmd_intx_disabled(e)) TH_LOG("masked at the device");
	ra0 = stat_of("reassert");
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, unmask(self->vm, 1));
		EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS)) TH_LOG("re-assert %d", i);
	}
	EXPECT_EQ(3, stat_of("reassert") - ra0);
	edu_ack(e, 1);
	ASSERT_EQ(0, unmask(self->vm, 1));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	EXPECT_EQ(0, cmd_intx_disabled(e));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(VEXT_ASSIGNED_IRQ, info.state);
	/* A second ack is harmless. */
	ASSERT_EQ(0, unmask(self->vm, 1));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
}

/* The guest's mask: no events, lazy hardware masking, one delivery at unmask. */
TEST_F(assign, guest_mask)
{
	const struct edu *e = &self->edu[EDU_A];
	struct vext_assigned_dev_info info;
	long long held0;
	char why[WHY_LEN] = "";

	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	ASSERT_EQ(0, set_mask(self->vm, 1, true));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ((long long)VEXT_DEV_ASSIGN_MASK_INTX,
		  (long long)(info.flags & VEXT_DEV_ASSIGN_MASK_INTX));
	/* Masking at the hardware happens on demand only. */
	EXPECT_EQ(0, cmd_intx_disabled(e));

	held0 = stat_of("guest_masked");
	edu_raise(e, 1);
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS)) TH_LOG("event while masked");
	EXPECT_EQ(1, stat_of("guest_masked") - held0);
	EXPECT_EQ(1, cmd_intx_disabled(e));
	/* Acks while masked do not unmask or deliver. */
	ASSERT_EQ(0, unmask(self->vm, 1));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	EXPECT_EQ(1, cmd_intx_disabled(e));

	/* Unmask: the pending interrupt, once. */
	ASSERT_EQ(0, set_mask(self->vm, 1, false));
	EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS)) TH_LOG("delivered twice");
	edu_ack(e, 1);
	ASSERT_EQ(0, unmask(self->vm, 1));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));

	/* An interrupt that went away while masked is not delivered. */
	ASSERT_EQ(0, set_mask(self->vm, 1, true));
	edu_raise(e, 1);
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	edu_ack(e, 1);
	ASSERT_EQ(0, set_mask(self->vm, 1, false));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	EXPECT_EQ(0, cmd_intx_disabled(e));

	/* Masking an interrupt delivered and not acked: unmask waits for the ack. */
	edu_raise(e, 1);
	ASSERT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	ASSERT_EQ(0, set_mask(self->vm, 1, true));
	ASSERT_EQ(0, set_mask(self->vm, 1, false));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS)) TH_LOG("delivered twice");
	edu_ack(e, 1);
	ASSERT_EQ(0, unmask(self->vm, 1));
	ASSERT_EQ(0, run_irqs(e, self->vm, 1, self->trig, -1, 100, why,
			      sizeof(why))) TH_LOG("%s", why);
}

/* Assigned masked from the start: the first interrupt waits for the unmask. */
TEST_F(assign, masked_at_assignment)
{
	const struct edu *e = &self->edu[EDU_A];

	assign_edu(_metadata, self, EDU_A, 1,
		   VEXT_DEV_ASSIGN_PCI_2_3 | VEXT_DEV_ASSIGN_MASK_INTX);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, self->resample));
	edu_raise(e, 1);
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	ASSERT_EQ(0, efd_signal(self->resample));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	ASSERT_EQ(0, set_mask(self->vm, 1, false));
	EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	edu_ack(e, 1);
	ASSERT_EQ(0, efd_signal(self->resample));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	EXPECT_EQ(0, cmd_intx_disabled(e));
}

/* An interrupt pending when INTx is assigned is delivered at once. */
TEST_F(assign, pending_at_irq_assignment)
{
	const struct edu *e = &self->edu[EDU_A];

	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	edu_raise(e, 1);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	edu_ack(e, 1);
	ASSERT_EQ(0, unmask(self->vm, 1));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	/* Deassigning INTx leaves the device masked, the line quiet. */
	ASSERT_EQ(0, deassign_irq(self->vm, 1));
	EXPECT_EQ(1, cmd_intx_disabled(e));
	edu_raise(e, 1);
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	edu_ack(e, 1);
	/* And INTx can be assigned again. */
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	edu_raise(e, 1);
	EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	edu_ack(e, 1);
	ASSERT_EQ(0, unmask(self->vm, 1));
}

/* ---- sharing ---------------------------------------------------------------- */

struct storm_child {
	const struct edu *e;
	long n;
	int ready;	/* write end: one byte once the IRQ is assigned */
	int go;		/* read end: start when a byte arrives */
	int irq;	/* out, through the ready byte's pipe: not used */
};

/* A second VMM: its own VM, edu in 2.3 mode, n interrupts counted exactly. */
static int storm_child_main(void *arg)
{
	struct storm_child *c = arg;
	char why[WHY_LEN] = "", b = 1;
	int dev, vm, trig;
	long ret;

	dev = vext_dev_open();
	vm = dev < 0 ? -1 : vext_create_vm(dev);
	trig = efd_new();
	if (vm < 0 || trig < 0)
		return 10;
	ret = assign_dev(vm, 7, c->e, VEXT_DEV_ASSIGN_PCI_2_3, -1);
	if (ret) {
		fprintf(stderr, "# child: assign %s: %s\n", c->e->name,
			strerror((int)-ret));
		return 11;
	}
	edu_ack(c->e, ~0u);
	ret = assign_irq(vm, 7, trig, -1);
	if (ret) {
		fprintf(stderr, "# child: irq %s: %s\n", c->e->name,
			strerror((int)-ret));
		return 12;
	}
	if (write(c->ready, &b, 1) != 1 || read(c->go, &b, 1) != 1)
		return 13;
	if (run_irqs(c->e, vm, 7, trig, -1, c->n, why, sizeof(why))) {
		fprintf(stderr, "# child: %s\n", why);
		return 14;
	}
	return 0;
}

/* After a failure on a shared line: the line and vext's counters. */
static void log_line_state(struct __test_metadata *_metadata, int irq)
{
	char buf[1024], *p, *nl;
	unsigned long long count;

	if (!vext_irq_line(irq, &count, buf, sizeof(buf)))
		TH_LOG("irq %d: %llu interrupts, %s", irq, count, buf);
	if (vext_debugfs_read("assign_stats", buf, sizeof(buf)) < 0)
		return;
	for (p = buf; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = ' ';
	}
	TH_LOG("assign_stats: %s", buf);
}

static pid_t start_storm_child(struct __test_metadata *_metadata,
			       struct storm_child *c, int *go_w)
{
	int ready[2], go[2];
	char b;
	pid_t pid;

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	c->ready = ready[1];
	c->go = go[0];
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(ready[0]);
		close(go[1]);
		_exit(storm_child_main(c));
	}
	close(ready[1]);
	close(go[0]);
	*go_w = go[1];
	EXPECT_EQ(1, read(ready[0], &b, 1)) TH_LOG("the child did not get ready");
	close(ready[0]);
	return pid;
}

static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * edu A (slot 4) and edu B (slot 8) share a line: A is stormed in this VM
 * while B, in a second VM of a second process, gets its own interrupts;
 * each owner receives exactly its own.
 */
TEST_F_TIMEOUT(assign, shared_line_two_vms, 120)
{
	struct storm_child c = { .e = &self->edu[EDU_B], .n = 3000 };
	long long none0;
	char why[WHY_LEN] = "", b = 1;
	int go, irq_a, irq_b, ret;
	pid_t pid;

	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	irq_a = host_irq(_metadata, self->vm, 1);
	irq_b = vext_pci_irq(self->edu[EDU_B].name);
	pid = start_storm_child(_metadata, &c, &go);
	irq_b = vext_pci_irq(self->edu[EDU_B].name);
	ASSERT_EQ(irq_a, irq_b) TH_LOG("slots 4 and 8 should share a line");
	none0 = stat_of("irq_none");
	ASSERT_EQ(1, write(go, &b, 1));
	ret = run_irqs(&self->edu[EDU_A], self->vm, 1, self->trig, -1, 10000,
		       why, sizeof(why));
	EXPECT_EQ(0, ret) TH_LOG("%s", why);
	if (ret)
		log_line_state(_metadata, irq_a);
	EXPECT_EQ(0, reap(pid)) TH_LOG("the second VM lost or doubled interrupts");
	close(go);
	/* Each interrupt also visited the other owner's handler. */
	EXPECT_LT(0, stat_of("irq_none") - none0);
}

/* Find e1000's network interface: 0 and its name, or -errno. */
static int e1000_ifname(char *ifname, size_t len)
{
	char path[128];
	struct dirent *d;
	DIR *dir;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "%s/0000:00:%02x.0/net", VEXT_PCI_SYSFS,
		 E1000_SLOT);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		if (strlen(d->d_name) >= len)
			continue;
		memcpy(ifname, d->d_name, strlen(d->d_name) + 1);
		ret = 0;
		break;
	}
	closedir(dir);
	return ret;
}

static long long net_stat(const char *ifname, const char *stat)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, stat);
	if (vext_file_read(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

/* Set or clear IFF_UP of @ifname through socket @s: 0 or -errno. */
static int nic_set_up(int s, const char *ifname, bool up)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		return -errno;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr) ? -errno : 0;
}

/* A raw socket bound to @ifname, brought up; or -errno. */
static int nic_up(const char *ifname, unsigned char mac[6])
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ARP) };
	struct ifreq ifr;
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		goto err;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) || ioctl(s, SIOCGIFHWADDR, &ifr))
		goto err;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(s, SIOCGIFINDEX, &ifr))
		goto err;
	sll.sll_ifindex = ifr.ifr_ifindex;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)))
		goto err;
	return s;
err:
	close(s);
	return -errno;
}

/* Send one ARP request for QEMU's user-mode gateway 10.0.2.2. */
static int arp_who_has_gateway(int s, const unsigned char mac[6])
{
	unsigned char f[42];
	static const unsigned char sip[4] = { 10, 0, 2, 15 };
	static const unsigned char tip[4] = { 10, 0, 2, 2 };

	memset(f, 0xff, 6);			/* broadcast */
	memcpy(f + 6, mac, 6);
	f[12] = 0x08; f[13] = 0x06;		/* ARP */
	f[14] = 0; f[15] = 1;			/* Ethernet */
	f[16] = 0x08; f[17] = 0;		/* IPv4 */
	f[18] = 6; f[19] = 4;
	f[20] = 0; f[21] = 1;			/* request */
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, sip, 4);
	memset(f + 32, 0, 6);
	memcpy(f + 38, tip, 4);
	return send(s, f, sizeof(f), 0) == sizeof(f) ? 0 : -errno;
}

/*
 * edu C (slot 7) shares the e1000's line: assigned in 2.3 mode while
 * e1000's host driver keeps the NIC working (ARP requests answered by
 * QEMU's user network arrive, which needs e1000's interrupt handler).
 */
TEST_F_TIMEOUT(assign, shared_with_e1000, 120)
{
	const struct edu *e = &self->edu[EDU_C];
	char ifname[IFNAMSIZ], drv[32], actions[512], why[WHY_LEN] = "";
	unsigned char mac[6];
	long long rx0, rx1, tx0;
	int irq_c, irq_nic, s, i;
	__u64 end;

	ASSERT_EQ(0, vext_pci_driver("0000:00:03.0", drv, sizeof(drv)));
	ASSERT_STREQ("e1000", drv);
	ASSERT_EQ(0, e1000_ifname(ifname, sizeof(ifname)));
	s = nic_up(ifname, mac);
	ASSERT_LE(0, s) TH_LOG("bringing %s up: %s", ifname, strerror(-s));
	/* The link comes up within a few seconds (e1000's watchdog). */
	end = vext_now_ns() + 10000 * MS;
	for (;;) {
		char path[128], buf[8] = "";

		snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
		if (vext_file_read(path, buf, sizeof(buf)) > 0 && buf[0] == '1')
			break;
		ASSERT_LT(vext_now_ns(), end) TH_LOG("%s: no carrier", ifname);
		vext_sleep_ms(50);
	}

	assign_edu(_metadata, self, EDU_C, 3, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 3, self->trig, self->resample));
	irq_c = host_irq(_metadata, self->vm, 3);
	irq_nic = vext_pci_irq("0000:00:03.0");
	ASSERT_EQ(irq_nic, irq_c) TH_LOG("slot 7 should share the e1000's line");
	ASSERT_EQ(0, vext_irq_line(irq_c, NULL, actions, sizeof(actions)));
	EXPECT_NE(NULL, strstr(actions, ifname)) TH_LOG("line %d: %s", irq_c, actions);
	EXPECT_NE(NULL, strstr(actions, "vext-intx")) TH_LOG("line %d: %s", irq_c, actions);

	rx0 = net_stat(ifname, "rx_packets");
	tx0 = net_stat(ifname, "tx_packets");
	for (i = 0; i < 40; i++) {
		EXPECT_EQ(0, arp_who_has_gateway(s, mac));
		ASSERT_EQ(0, run_irqs(e, self->vm, 3, self->trig, self->resample,
				      100, why, sizeof(why))) TH_LOG("%s", why);
	}
	/* Replies may trail the last request a little. */
	end = vext_now_ns() + 5000 * MS;
	do {
		rx1 = net_stat(ifname, "rx_packets");
		if (rx1 - rx0 >= 20)
			break;
		vext_sleep_ms(20);
	} while (vext_now_ns() < end);
	TH_LOG("%s: %lld packets sent, %lld received during 4000 edu interrupts",
	       ifname, net_stat(ifname, "tx_packets") - tx0, rx1 - rx0);
	EXPECT_LE(40, net_stat(ifname, "tx_packets") - tx0);
	EXPECT_LE(20, rx1 - rx0) TH_LOG("the NIC stopped receiving");
	/* Down again, as the other tests found it (no watchdog, no traffic). */
	EXPECT_EQ(0, nic_set_up(s, ifname, false));
	close(s);
}

/* ---- exclusive mode --------------------------------------------------------- */

/* Has IRQ @irq a handler in /proc/interrupts other than vext's? */
static bool line_in_use(int irq)
{
	char actions[512], *p;

	if (vext_irq_line(irq, NULL, actions, sizeof(actions)))
		return false;
	/* "IO-APIC 11-fasteoi eth0, vext-intx(...)": past the chip and type. */
	p = strstr(actions, "fasteoi");
	if (!p)
		p = strstr(actions, "edge");
	if (!p)
		return false;
	p = strchr(p, ' ');
	return p && p[strspn(p, " ")];
}

/*
 * Without the 2.3 flag the line is exclusive: delivery still exact through
 * both acks (re-assert comes from the line firing again), and nobody else
 * may share the line meanwhile.
 */
TEST_F_TIMEOUT(assign, exclusive_mode, 120)
{
	const struct edu *a = &self->edu[EDU_A];
	struct vext_assigned_dev_info info;
	char why[WHY_LEN] = "", actions[512];
	long long irq0;
	int irq, trig2 = efd_new();

	ASSERT_LE(0, trig2);
	assign_edu(_metadata, self, EDU_A, 1, 0);
	expect_mode(_metadata, self->vm, 1, false);
	/*
	 * Exclusive needs a line nobody else uses: A's, unless e1000 has it.
	 * (6.12 lists no line without a handler in /proc/interrupts.)
	 */
	irq = vext_pci_irq(a->name);
	if (vext_irq_line(irq, NULL, actions, sizeof(actions)))
		strcpy(actions, "(not listed)");
	ASSERT_FALSE(line_in_use(irq)) TH_LOG("line %d busy: %s", irq, actions);

	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	ASSERT_EQ(0, run_irqs(a, self->vm, 1, self->trig, -1, 2000, why,
			      sizeof(why))) TH_LOG("%s", why);
	/* Still asserted at the ack: the line fires again. */
	irq0 = stat_of("irq");
	edu_raise(a, 1);
	ASSERT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	ASSERT_EQ(0, unmask(self->vm, 1));
	EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS)) TH_LOG("no re-assert");
	EXPECT_EQ(2, stat_of("irq") - irq0);
	edu_ack(a, 1);
	ASSERT_EQ(0, unmask(self->vm, 1));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));

	/* B shares A's line and may not join an exclusive line. */
	assign_edu(_metadata, self, EDU_B, 2, VEXT_DEV_ASSIGN_PCI_2_3);
	EXPECT_EQ(-EBUSY, assign_irq(self->vm, 2, trig2, -1));
	ASSERT_EQ(0, dev_info(self->vm, 2, &info));
	EXPECT_EQ(0, (long long)(info.state & VEXT_ASSIGNED_IRQ));

	/* Through the resample eventfd too. */
	ASSERT_EQ(0, deassign_irq(self->vm, 1));
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, self->resample));
	ASSERT_EQ(0, run_irqs(a, self->vm, 1, self->trig, self->resample, 2000,
			      why, sizeof(why))) TH_LOG("%s", why);
	/* Guest mask in exclusive mode: held, then delivered once. */
	ASSERT_EQ(0, set_mask(self->vm, 1, true));
	edu_raise(a, 1);
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	ASSERT_EQ(0, set_mask(self->vm, 1, false));
	EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	edu_ack(a, 1);
	ASSERT_EQ(0, efd_signal(self->resample));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	ASSERT_EQ(0, deassign_dev(self->vm, 1));
	/* Once A let the line go, B can share it. */
	EXPECT_EQ(0, assign_irq(self->vm, 2, trig2, -1));
	close(trig2);
}

/* The line of C is the e1000's: exclusive INTx is refused with EBUSY. */
/*
 * Bring e1000 up, so that its driver holds its IRQ (e1000 requests it on
 * open and frees it on close), and check that C's line is that one: the
 * raw socket to close (after nic_set_up(s, ifname, false)) at the end.
 */
static int nic_hold_line(struct __test_metadata *_metadata, char *ifname,
			 size_t len)
{
	unsigned char mac[6];
	char actions[512];
	int s, irq;

	ASSERT_EQ(0, e1000_ifname(ifname, len));
	s = nic_up(ifname, mac);
	ASSERT_LE(0, s) TH_LOG("bringing %s up: %s", ifname, strerror(-s));
	irq = vext_pci_irq("0000:00:03.0");
	ASSERT_EQ(0, vext_irq_line(irq, NULL, actions, sizeof(actions)));
	ASSERT_NE(NULL, strstr(actions, ifname)) TH_LOG("line %d: %s", irq, actions);
	return s;
}

TEST_F(assign, exclusive_refused_on_busy_line)
{
	struct vext_assigned_dev_info info;
	char ifname[IFNAMSIZ];
	int s = nic_hold_line(_metadata, ifname, sizeof(ifname));

	assign_edu(_metadata, self, EDU_C, 3, 0);
	expect_mode(_metadata, self->vm, 3, false);
	EXPECT_EQ(-EBUSY, assign_irq(self->vm, 3, self->trig, -1));
	ASSERT_EQ(0, dev_info(self->vm, 3, &info));
	EXPECT_EQ(0u, info.state);
	EXPECT_EQ(1, cmd_intx_disabled(&self->edu[EDU_C]));
	EXPECT_EQ(0, nic_set_up(s, ifname, false));
	close(s);
}

/*
 * A device that cannot mask INTx (simulated: fault_no_intx_mask) gets the
 * exclusive mode even when 2.3 is asked for, and INFO says so.
 */
TEST_F(assign, pci_2_3_dropped_when_unsupported)
{
	char ifname[IFNAMSIZ];
	int s = nic_hold_line(_metadata, ifname, sizeof(ifname));

	ASSERT_EQ(0, vext_param_write(ASSIGN_MODULE, "fault_no_intx_mask", "1"));
	assign_edu(_metadata, self, EDU_C, 3, VEXT_DEV_ASSIGN_PCI_2_3);
	EXPECT_EQ(0, vext_param_write(ASSIGN_MODULE, "fault_no_intx_mask", "0"));
	expect_mode(_metadata, self->vm, 3, false);
	EXPECT_EQ(-EBUSY, assign_irq(self->vm, 3, self->trig, -1));
	/* Asked for again without the fault: 2.3 it is. */
	ASSERT_EQ(0, deassign_dev(self->vm, 3));
	assign_edu(_metadata, self, EDU_C, 3, VEXT_DEV_ASSIGN_PCI_2_3);
	expect_mode(_metadata, self->vm, 3, true);
	EXPECT_EQ(0, assign_irq(self->vm, 3, self->trig, -1));
	EXPECT_EQ(0, nic_set_up(s, ifname, false));
	close(s);
}

/* ---- hot-unplug and process death ------------------------------------------- */

static void rebind_after_rescan(struct __test_metadata *_metadata,
				struct edu *e, unsigned int slot)
{
	__u64 end = vext_now_ns() + 5000 * MS;
	int ret;

	ASSERT_EQ(0, vext_pci_rescan());
	while (!vext_pci_exists(e->name)) {
		ASSERT_LT(vext_now_ns(), end) TH_LOG("%s not back after rescan", e->name);
		vext_sleep_ms(20);
	}
	munmap(e->bar, EDU_BAR_SIZE);
	e->bar = NULL;
	ret = vext_pci_bind(e->name, VEXT_PCI_DRV);
	ASSERT_EQ(0, ret) TH_LOG("rebinding %s: %s", e->name, strerror(-ret));
	edu_setup(_metadata, e, slot);
}

TEST_F_TIMEOUT(assign, hot_unplug, 120)
{
	struct edu *a = &self->edu[EDU_A];
	struct vext_assigned_dev_info info;
	char actions[512], why[WHY_LEN] = "";
	int err = efd_new(), trig2 = efd_new(), irq;
	long ret;

	ASSERT_LE(0, err);
	ASSERT_LE(0, trig2);
	ret = assign_dev(self->vm, 1, a, VEXT_DEV_ASSIGN_PCI_2_3, err);
	ASSERT_EQ(0, ret);
	edu_ack(a, ~0u);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, self->resample));
	irq = host_irq(_metadata, self->vm, 1);
	/* Removed with an interrupt delivered and the device asserting. */
	edu_raise(a, 1);
	ASSERT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	ASSERT_EQ(0, vext_pci_remove(a->name));
	EXPECT_EQ(1, vext_efd_wait(err, EVENT_MS)) TH_LOG("no error event");
	EXPECT_FALSE(vext_pci_exists(a->name));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(VEXT_ASSIGNED_GONE, info.state);
	EXPECT_EQ(-ENODEV, unmask(self->vm, 1));
	EXPECT_EQ(-ENODEV, set_mask(self->vm, 1, true));
	EXPECT_EQ(-ENODEV, assign_irq(self->vm, 1, self->trig, -1));
	if (!vext_irq_line(irq, NULL, actions, sizeof(actions)))
		EXPECT_EQ(NULL, strstr(actions, a->name)) TH_LOG("IRQ not freed: %s", actions);

	/* The VM still works: B (same line as A) is assigned and delivers. */
	assign_edu(_metadata, self, EDU_B, 2, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 2, trig2, -1));
	ASSERT_EQ(0, run_irqs(&self->edu[EDU_B], self->vm, 2, trig2, -1, 200,
			      why, sizeof(why))) TH_LOG("%s", why);

	/* Rescan: A is back (still asserting, still masked), assign it again. */
	rebind_after_rescan(_metadata, a, edu_slot[EDU_A]);
	EXPECT_EQ(-EEXIST, assign_dev(self->vm, 1, a, VEXT_DEV_ASSIGN_PCI_2_3, -1));
	ASSERT_EQ(0, deassign_dev(self->vm, 1));
	EXPECT_EQ(-ENOENT, deassign_dev(self->vm, 1));
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	ASSERT_EQ(0, run_irqs(a, self->vm, 1, self->trig, -1, 200, why,
			      sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, run_irqs(&self->edu[EDU_B], self->vm, 2, trig2, -1, 200,
			      why, sizeof(why))) TH_LOG("%s", why);

	/* An unbind counts as removal too. */
	ASSERT_EQ(0, vext_pci_bind(a->name, NULL));
	EXPECT_EQ(1, cmd_intx_disabled(a));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(VEXT_ASSIGNED_GONE, info.state);
	ASSERT_EQ(0, vext_pci_bind(a->name, VEXT_PCI_DRV));
	close(err);
	close(trig2);
}

/* A VMM thread delivering and acking until told to stop or the device goes. */
struct pump {
	pthread_t thread;
	const struct edu *e;
	int vm, trig, resample;
	int stop;
	long delivered;
	long err;		/* the ack's error that ended it, or 0 */
};

static void *pump_main(void *arg)
{
	struct pump *p = arg;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		long ret;

		edu_raise(p->e, 1);
		if (vext_efd_wait(p->trig, 100) > 0)
			p->delivered++;
		edu_ack(p->e, 1);
		ret = p->resample >= 0 ? efd_signal(p->resample) : unmask(p->vm, 1);
		if (ret) {
			p->err = ret;
			break;
		}
	}
	return NULL;
}

/* Removal racing with a VMM that delivers and acks as fast as it can. */
TEST_F_TIMEOUT(assign, hot_unplug_during_storm, 60)
{
	struct edu *a = &self->edu[EDU_A];
	struct pump p = { .e = a, .vm = self->vm, .trig = self->trig,
			  .resample = -1 };
	struct vext_assigned_dev_info info;
	char why[WHY_LEN] = "";
	int err = efd_new();

	ASSERT_LE(0, err);
	ASSERT_EQ(0, assign_dev(self->vm, 1, a, VEXT_DEV_ASSIGN_PCI_2_3, err));
	edu_ack(a, ~0u);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	ASSERT_EQ(0, pthread_create(&p.thread, NULL, pump_main, &p));
	vext_sleep_ms(500);
	ASSERT_EQ(0, vext_pci_remove(a->name));
	vext_sleep_ms(200);
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	pthread_join(p.thread, NULL);
	TH_LOG("%ld interrupts delivered before the removal", p.delivered);
	EXPECT_LT(0, p.delivered);
	EXPECT_EQ(-ENODEV, p.err);
	EXPECT_EQ(1, vext_efd_wait(err, EVENT_MS));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(VEXT_ASSIGNED_GONE, info.state);
	ASSERT_EQ(0, deassign_dev(self->vm, 1));
	rebind_after_rescan(_metadata, a, edu_slot[EDU_A]);
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	ASSERT_EQ(0, run_irqs(a, self->vm, 1, self->trig, -1, 100, why,
			      sizeof(why))) TH_LOG("%s", why);
	close(err);
}

/* A thread toggling the guest's mask without end. */
static void *mask_toggler(void *arg)
{
	struct pump *p = arg;
	bool m = false;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		m = !m;
		if (set_mask(p->vm, 1, m)) {
			p->err = -1;
			break;
		}
	}
	return NULL;
}

/*
 * The guest's mask toggled by one thread, acks by ioctl from a second and
 * by the resample eventfd from a third, while interrupts fire: the one
 * mutex and the irqlock keep the state consistent (no splat, no lost or
 * stuck interrupt), and delivery is exact again once it calms down.
 */
TEST_F_TIMEOUT(assign, concurrent_mask_and_acks, 90)
{
	struct edu *a = &self->edu[EDU_A];
	struct pump acker = { .e = a, .vm = self->vm, .trig = self->trig,
			      .resample = -1 };
	struct pump resampler = acker, toggler = acker;
	struct vext_assigned_dev_info info;
	char why[WHY_LEN] = "";

	resampler.resample = self->resample;
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, self->resample));
	ASSERT_EQ(0, pthread_create(&acker.thread, NULL, pump_main, &acker));
	ASSERT_EQ(0, pthread_create(&resampler.thread, NULL, pump_main, &resampler));
	ASSERT_EQ(0, pthread_create(&toggler.thread, NULL, mask_toggler, &toggler));
	vext_sleep_ms(3000);
	__atomic_store_n(&acker.stop, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&resampler.stop, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&toggler.stop, 1, __ATOMIC_RELEASE);
	pthread_join(acker.thread, NULL);
	pthread_join(resampler.thread, NULL);
	pthread_join(toggler.thread, NULL);
	EXPECT_EQ(0, acker.err);
	EXPECT_EQ(0, resampler.err);
	EXPECT_EQ(0, toggler.err);
	TH_LOG("%ld + %ld deliveries seen", acker.delivered, resampler.delivered);
	EXPECT_LT(0, acker.delivered + resampler.delivered);

	/* Calm: unmasked, device quiet, whatever is left acked and drained. */
	ASSERT_EQ(0, set_mask(self->vm, 1, false));
	edu_ack(a, ~0u);
	ASSERT_EQ(0, unmask(self->vm, 1));
	vext_efd_wait(self->trig, QUIET_MS);
	ASSERT_EQ(0, unmask(self->vm, 1));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(VEXT_ASSIGNED_IRQ | VEXT_ASSIGNED_RESAMPLE, info.state);
	EXPECT_EQ(0, cmd_intx_disabled(a));
	ASSERT_EQ(0, run_irqs(a, self->vm, 1, self->trig, -1, 200, why,
			      sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, run_irqs(a, self->vm, 1, self->trig, self->resample, 200,
			      why, sizeof(why))) TH_LOG("%s", why);
}

/* The child killed: A assigned, an interrupt delivered and left asserting. */
static int killed_child_main(const struct edu *a, int ready)
{
	int dev = vext_dev_open(), vm, trig = efd_new();
	char b = 1;

	vm = dev < 0 ? -1 : vext_create_vm(dev);
	if (vm < 0 || trig < 0)
		return 10;
	if (assign_dev(vm, 1, a, VEXT_DEV_ASSIGN_PCI_2_3, -1))
		return 11;
	edu_ack(a, ~0u);
	if (assign_irq(vm, 1, trig, -1))
		return 12;
	edu_raise(a, 1);
	if (vext_efd_wait(trig, EVENT_MS) != 1)
		return 13;
	if (write(ready, &b, 1) != 1)
		return 14;
	for (;;)
		pause();
}

/* Is @name assigned to nobody (debugfs assign_devices says "-")? */
static int unowned(const char *name)
{
	char buf[4096], *p;

	if (vext_debugfs_read("assign_devices", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, name);
	if (!p)
		return -1;
	p = strchr(p, '\n');
	return p && p[-1] == '-';
}

static bool wait_unowned(const char *name)
{
	__u64 end = vext_now_ns() + 5000 * MS;

	while (unowned(name) != 1) {
		if (vext_now_ns() > end)
			return false;
		vext_sleep_ms(5);
	}
	return true;
}

/*
 * kill -9 of a VMM with an assigned, asserting device, in a loop, while
 * B (same line) keeps delivering to this VM: everything is cleaned up and
 * the shared line keeps working.
 */
TEST_F_TIMEOUT(assign, kill_while_assigned, 150)
{
	struct edu *a = &self->edu[EDU_A];
	char why[WHY_LEN] = "";
	int i, trig2 = efd_new();

	ASSERT_LE(0, trig2);
	assign_edu(_metadata, self, EDU_B, 2, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 2, trig2, -1));
	for (i = 0; i < 20; i++) {
		int ready[2];
		char b;
		pid_t pid;

		ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(ready[0]);
			_exit(killed_child_main(a, ready[1]));
		}
		close(ready[1]);
		ASSERT_EQ(1, read(ready[0], &b, 1)) TH_LOG("child %d: %d", i, reap(pid));
		close(ready[0]);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(128 + SIGKILL, reap(pid));
		ASSERT_TRUE(wait_unowned(a->name)) TH_LOG("round %d", i);
		EXPECT_EQ(1, cmd_intx_disabled(a));
		EXPECT_EQ(1, edu_status(a) & 1) TH_LOG("A should still assert");
		ASSERT_EQ(0, run_irqs(&self->edu[EDU_B], self->vm, 2, trig2, -1,
				      50, why, sizeof(why))) TH_LOG("%s", why);
	}
	/* A is free and works in this VM. */
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	ASSERT_EQ(0, run_irqs(a, self->vm, 1, self->trig, -1, 100, why,
			      sizeof(why))) TH_LOG("%s", why);
	close(trig2);
}

/* Closing the VM fd deassigns everything: IRQ freed, device masked, free. */
TEST_F(assign, vm_close_deassigns)
{
	const struct edu *a = &self->edu[EDU_A];
	char actions[512];
	int irq, vm2;

	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, self->resample));
	irq = host_irq(_metadata, self->vm, 1);
	edu_raise(a, 1);
	ASSERT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	EXPECT_EQ(0, unowned(a->name));
	close_fd(&self->vm);
	EXPECT_EQ(1, unowned(a->name));
	EXPECT_EQ(1, cmd_intx_disabled(a));
	EXPECT_EQ(0, vext_pci_enabled(a->name));
	/* Gone from the line (6.12 does not even list a line without handler). */
	if (!vext_irq_line(irq, NULL, actions, sizeof(actions)))
		EXPECT_EQ(NULL, strstr(actions, "vext-intx")) TH_LOG("line %d: %s", irq, actions);
	/* Still asserting, but masked: assignable again, delivered at once. */
	vm2 = create_vm(_metadata, self->dev);
	ASSERT_EQ(0, assign_dev(vm2, 1, a, VEXT_DEV_ASSIGN_PCI_2_3, -1));
	ASSERT_EQ(0, assign_irq(vm2, 1, self->trig, -1));
	EXPECT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	edu_ack(a, 1);
	ASSERT_EQ(0, unmask(vm2, 1));
	EXPECT_EQ(0, vext_efd_wait(self->trig, QUIET_MS));
	close(vm2);
}

/* ---- bad inputs ----------------------------------------------------------- */

TEST_F(assign, bad_assign)
{
	struct edu *a = &self->edu[EDU_A], nodev = { .bus = 0, .devfn = 0x10 << 3 };
	struct vext_assigned_pci_dev d;
	int pipefd[2];
	long ret;

	/* Unknown flags: bit 0 (KVM's IOMMU flag) and bits above 2. */
	EXPECT_EQ(-EINVAL, assign_dev(self->vm, 1, a, 1, -1));
	EXPECT_EQ(-EINVAL, assign_dev(self->vm, 1, a, 1u << 3, -1));
	EXPECT_EQ(-EINVAL, assign_dev(self->vm, 1, a, 1u << 31, -1));
	/* Out-of-range address fields, reserved fields, err_fd < -1. */
	memset(&d, 0, sizeof(d));
	d.busnr = 256;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_PCI_DEVICE, (unsigned long)&d));
	d.busnr = 0;
	d.devfn = 256;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_PCI_DEVICE, (unsigned long)&d));
	d.devfn = a->devfn;
	d.segnr = 0x10000;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_PCI_DEVICE, (unsigned long)&d));
	d.segnr = 0;
	d.reserved[9] = 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_PCI_DEVICE, (unsigned long)&d));
	d.reserved[9] = 0;
	d.err_fd = -2;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_PCI_DEVICE, (unsigned long)&d));
	EXPECT_EQ(-EFAULT, vext_ioctl(self->vm, VEXT_ASSIGN_PCI_DEVICE, 8));
	/* Bad error eventfds. */
	EXPECT_EQ(-EBADF, assign_dev(self->vm, 1, a, 0, 1000));
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	EXPECT_EQ(-EINVAL, assign_dev(self->vm, 1, a, 0, pipefd[0]));
	/* Wrong devices: nothing at 00:10.0 (pc or q35), e1000 not given to vext-pci. */
	EXPECT_EQ(-ENODEV, assign_dev(self->vm, 1, &nodev, 0, -1));
	nodev.devfn = E1000_SLOT << 3;
	EXPECT_EQ(-EPERM, assign_dev(self->vm, 1, &nodev, 0, -1));
	d.devfn = a->devfn;
	d.segnr = 1;
	d.err_fd = -1;
	EXPECT_EQ(-ENODEV, vext_ioctl(self->vm, VEXT_ASSIGN_PCI_DEVICE, (unsigned long)&d));
	/* Double assignment; an id used twice. */
	ret = assign_dev(self->vm, 1, a, VEXT_DEV_ASSIGN_PCI_2_3, -1);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(-EBUSY, assign_dev(self->vm, 1, a, VEXT_DEV_ASSIGN_PCI_2_3, -1));
	EXPECT_EQ(-EEXIST, assign_dev(self->vm, 1, &self->edu[EDU_B], 0, -1));
	/* Deassign twice; unknown id; malformed deassign. */
	memset(&d, 0, sizeof(d));
	d.assigned_dev_id = 1;
	d.flags = VEXT_DEV_ASSIGN_PCI_2_3;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_DEASSIGN_PCI_DEVICE, (unsigned long)&d));
	EXPECT_EQ(-ENOENT, deassign_dev(self->vm, 99));
	EXPECT_EQ(0, deassign_dev(self->vm, 1));
	EXPECT_EQ(-ENOENT, deassign_dev(self->vm, 1));
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(assign, bad_irq_and_mask)
{
	struct vext_assigned_irq irq;
	struct vext_assigned_pci_dev d;
	struct vext_assigned_dev_info info;
	int pipefd[2];

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	/* No such device. */
	EXPECT_EQ(-ENOENT, assign_irq(self->vm, 1, self->trig, -1));
	EXPECT_EQ(-ENOENT, deassign_irq(self->vm, 1));
	EXPECT_EQ(-ENOENT, unmask(self->vm, 1));
	EXPECT_EQ(-ENOENT, set_mask(self->vm, 1, true));
	EXPECT_EQ(-ENOENT, dev_info(self->vm, 1, &info));
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	/* Nothing assigned yet. */
	EXPECT_EQ(-ENXIO, deassign_irq(self->vm, 1));
	EXPECT_EQ(-ENXIO, unmask(self->vm, 1));
	EXPECT_EQ(-EINVAL, unmask(self->vm, 1UL << 32));
	/* Bad flags and fields. */
	memset(&irq, 0, sizeof(irq));
	irq.assigned_dev_id = 1;
	irq.trigger_fd = self->trig;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_DEV_IRQ, (unsigned long)&irq));
	irq.flags = VEXT_DEV_IRQ_HOST_INTX | (1u << 2);
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_DEV_IRQ, (unsigned long)&irq));
	irq.flags = VEXT_DEV_IRQ_HOST_INTX;
	irq.resample_fd = self->resample;	/* without the flag */
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_DEV_IRQ, (unsigned long)&irq));
	irq.resample_fd = 0;
	irq.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_DEV_IRQ, (unsigned long)&irq));
	EXPECT_EQ(-EFAULT, vext_ioctl(self->vm, VEXT_ASSIGN_DEV_IRQ, 8));
	/* Bad fds. */
	EXPECT_EQ(-EBADF, assign_irq(self->vm, 1, -1, -1));
	EXPECT_EQ(-EBADF, assign_irq(self->vm, 1, 1000, -1));
	EXPECT_EQ(-EINVAL, assign_irq(self->vm, 1, pipefd[0], -1));
	EXPECT_EQ(-EBADF, assign_irq(self->vm, 1, self->trig, 1000));
	EXPECT_EQ(-EINVAL, assign_irq(self->vm, 1, self->trig, pipefd[1]));
	EXPECT_EQ(-EINVAL, assign_irq(self->vm, 1, self->trig, self->trig));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(0u, info.state);
	/* Twice. */
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	EXPECT_EQ(-EBUSY, assign_irq(self->vm, 1, self->trig, -1));
	/* Malformed deassign. */
	memset(&irq, 0, sizeof(irq));
	irq.assigned_dev_id = 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_DEASSIGN_DEV_IRQ, (unsigned long)&irq));
	irq.flags = VEXT_DEV_IRQ_HOST_INTX;
	irq.trigger_fd = self->trig;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_DEASSIGN_DEV_IRQ, (unsigned long)&irq));
	EXPECT_EQ(0, deassign_irq(self->vm, 1));
	EXPECT_EQ(-ENXIO, deassign_irq(self->vm, 1));
	/* SET_INTX_MASK: unknown flags, address fields, reserved. */
	memset(&d, 0, sizeof(d));
	d.assigned_dev_id = 1;
	d.flags = 1u << 5;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_SET_INTX_MASK, (unsigned long)&d));
	d.flags = VEXT_DEV_ASSIGN_MASK_INTX;
	d.busnr = 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_SET_INTX_MASK, (unsigned long)&d));
	d.busnr = 0;
	d.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGN_SET_INTX_MASK, (unsigned long)&d));
	d.reserved[0] = 0;
	EXPECT_EQ(0, vext_ioctl(self->vm, VEXT_ASSIGN_SET_INTX_MASK, (unsigned long)&d));
	/* INFO: output fields must come in zero. */
	memset(&info, 0, sizeof(info));
	info.assigned_dev_id = 1;
	info.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_ASSIGNED_DEV_INFO, (unsigned long)&info));
	ASSERT_EQ(0, dev_info(self->vm, 1, &info));
	EXPECT_EQ(VEXT_DEV_ASSIGN_PCI_2_3 | VEXT_DEV_ASSIGN_MASK_INTX, info.flags);
	EXPECT_EQ((__u32)self->edu[EDU_A].devfn, info.devfn);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* The VM fd works only in its own process (core), assignment included. */
static int unmask_from_child(void *arg)
{
	int vm = *(int *)arg;

	return unmask(vm, 1) == -EIO ? 0 : 1;
}

TEST_F(assign, other_process)
{
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	EXPECT_EQ(0, vext_run_child(unmask_from_child, &self->vm));
}

/* ---- tracepoints ---------------------------------------------------------- */

TEST_F(assign, tracepoints)
{
	static const char * const events[] = {
		"vext_assign_dev:", "vext_assign_irq:", "vext_assign_intx:",
		"vext_assign_mask:", "vext_assign_unmask:", "vext_assign_reassert:",
	};
	const struct edu *a = &self->edu[EDU_A];
	static char buf[1 << 16];
	struct stat st;
	unsigned int i;

	if (stat(TRACEFS "/events", &st))
		ASSERT_EQ(0, mount("tracefs", TRACEFS, "tracefs", 0, NULL));
	ASSERT_EQ(0, vext_file_write(TRACEFS "/tracing_on", "0"));
	ASSERT_EQ(0, vext_file_write(TRACEFS "/trace", ""));
	ASSERT_EQ(0, vext_file_write(TRACEFS "/events/vext_assign/enable", "1"));
	ASSERT_EQ(0, vext_file_write(TRACEFS "/tracing_on", "1"));

	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	edu_raise(a, 1);
	ASSERT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	ASSERT_EQ(0, unmask(self->vm, 1));		/* re-assert */
	ASSERT_EQ(1, vext_efd_wait(self->trig, EVENT_MS));
	edu_ack(a, 1);
	ASSERT_EQ(0, unmask(self->vm, 1));
	ASSERT_EQ(0, set_mask(self->vm, 1, true));
	ASSERT_EQ(0, set_mask(self->vm, 1, false));
	ASSERT_EQ(0, deassign_dev(self->vm, 1));

	ASSERT_EQ(0, vext_file_write(TRACEFS "/tracing_on", "0"));
	ASSERT_EQ(0, vext_file_write(TRACEFS "/events/vext_assign/enable", "0"));
	ASSERT_LT(0, vext_file_read(TRACEFS "/trace", buf, sizeof(buf)));
	/* As found: tracing on, the buffer empty. */
	EXPECT_EQ(0, vext_file_write(TRACEFS "/trace", ""));
	EXPECT_EQ(0, vext_file_write(TRACEFS "/tracing_on", "1"));
	for (i = 0; i < ARRAY_SIZE(events); i++)
		EXPECT_NE(NULL, strstr(buf, events[i])) TH_LOG("no event %u of the list", i);
	EXPECT_NE(NULL, strstr(buf, " assign"));
	EXPECT_NE(NULL, strstr(buf, "deassign"));
	EXPECT_NE(NULL, strstr(buf, "still-asserted"));
	EXPECT_NE(NULL, strstr(buf, "pci-2.3 on"));
	EXPECT_NE(NULL, strstr(buf, "pci-2.3 off"));
	EXPECT_NE(NULL, strstr(buf, "delivered"));
}

/* ---- the end: everything unloads, devices are left masked ----------------- */

TEST_F(assign, unload)
{
	static const char * const mods[] = {
		ASSIGN_MODULE, "vext_pn", "vext_percpu", "vext_gnt",
		"vext_test_comp", VEXT_CORE_MODULE,
	};
	char drv[32];
	unsigned int i;
	int ret;

	/* An assigned VM pins the module. */
	assign_edu(_metadata, self, EDU_A, 1, VEXT_DEV_ASSIGN_PCI_2_3);
	ASSERT_EQ(0, assign_irq(self->vm, 1, self->trig, -1));
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(ASSIGN_MODULE));
	close_fd(&self->vm);
	close_fd(&self->dev);
	for (i = 0; i < ARRAY_SIZE(mods); i++) {
		ret = vext_mod_unload(mods[i]);
		ASSERT_EQ(0, ret) TH_LOG("removing %s: %s", mods[i], strerror(-ret));
	}
	/* The devices were unbound and left with INTx masked. */
	for (i = 0; i < NR_EDU; i++) {
		EXPECT_EQ(-ENOENT, vext_pci_driver(self->edu[i].name, drv, sizeof(drv)));
		EXPECT_EQ(1, cmd_intx_disabled(&self->edu[i]));
		ASSERT_EQ(0, vext_pci_bind(self->edu[i].name, NULL));
	}
}

TEST_HARNESS_MAIN
