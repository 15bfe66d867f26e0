// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext with a real KVM guest inside the test VM (nested: the VM's '-cpu max'
 * has AMD SVM, Debian's kvm and kvm-amd load in it).
 *
 *   kvm_pn.*   vCPU threads bind their vext vCPU with VEXT_VCPU_LOAD and
 *              then sit in KVM_RUN with a spinning real-mode guest; two of
 *              them pinned to one host CPU must see involuntary preemptions
 *              counted in their shared pages while the guests make
 *              progress. KVM's own preempt notifier and vext's coexist on
 *              the same threads (the runner fails the boot on any splat).
 *   kvm_intx.* the guest side of assigned INTx: a real-mode guest taking
 *              level-triggered 8259 interrupts from a KVM irqfd with a
 *              resamplefd, counting and EOIing each. The baseline feeds
 *              the irqfd from the test itself: N signals, N guest EOIs
 *              seen on the resamplefd, N counted by the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vext_harness.h"
#include "vext_kvm.h"
#include "vext_pci.h"
#include "vext_test.h"

#define NR_THREADS	2

/* Is this a PREEMPT_RT kernel? ("PREEMPT_RT" in its version string) */
static bool vext_kernel_is_rt(void)
{
	struct utsname u;

	return !uname(&u) && strstr(u.version, "PREEMPT_RT");
}

static void *kvm_pn_main(void *arg)
{
	struct vext_kvm_runner *t = arg;
	int ret;

	ret = vext_pin_cpu(t->cpu);
	if (ret) {
		t->err = ret;
		t->what = "pinning";
		return NULL;
	}
	if (ioctl(t->vext_vcpu, VEXT_VCPU_LOAD, 0)) {
		t->err = -errno;
		t->what = "VEXT_VCPU_LOAD";
		return NULL;
	}
	__atomic_store_n(&t->running, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&t->stop, __ATOMIC_SEQ_CST)) {
		t->runs++;
		ret = ioctl(t->kv.fd, KVM_RUN, 0);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			t->err = -errno;
			t->what = "KVM_RUN";
			break;
		}
		/* The spinning guest never exits on its own. */
		t->err = -EPROTO;
		t->what = "KVM_RUN exit reason";
		fprintf(stderr, "vCPU %u: unexpected exit reason %u\n", t->kv.id,
			t->kv.run->exit_reason);
		break;
	}
	if (ioctl(t->vext_vcpu, VEXT_VCPU_PUT, 0) && !t->err) {
		t->err = -errno;
		t->what = "VEXT_VCPU_PUT";
	}
	return NULL;
}

FIXTURE(kvm_pn)
{
	int dev, vm;
	int vcpu[NR_THREADS];
	struct vext_vcpu_shared *page[NR_THREADS];
	struct vext_kvm_vm kvm;
	struct vext_kvm_runner t[NR_THREADS];
};

FIXTURE_SETUP(kvm_pn)
{
	int i, ret;

	ret = vext_mod_load("vext_pn", NULL);
	ASSERT_EQ(0, ret) TH_LOG("modprobe vext_pn: %s", strerror(-ret));
	ret = vext_kvm_load_modules();
	if (ret == -EOPNOTSUPP && vext_kernel_is_rt())
		SKIP(return, "KVM on PREEMPT_RT needs a constant TSC, which TCG does not emulate");
	ASSERT_EQ(0, ret) TH_LOG("KVM does not load in the test VM: %s", strerror(-ret));
	ret = vext_kvm_vm_create(&self->kvm);
	ASSERT_EQ(0, ret) TH_LOG("KVM VM: %s", strerror(-ret));
	vext_kvm_load_prog(&self->kvm, &vext_kvm_prog_spin);
	vext_kvm_kick_init();

	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	for (i = 0; i < NR_THREADS; i++) {
		self->vcpu[i] = create_vcpu(_metadata, self->vm, i);
		self->page[i] = map_shared(_metadata, self->vcpu[i]);
		ret = vext_kvm_vcpu_create(&self->kvm, i, &self->t[i].kv);
		ASSERT_EQ(0, ret) TH_LOG("KVM vCPU %d: %s", i, strerror(-ret));
		self->t[i].vext_vcpu = self->vcpu[i];
	}
}

FIXTURE_TEARDOWN(kvm_pn)
{
	/* Skipped in setup, before anything was created. */
	if (_metadata->skip)
		return;
	int i;

	for (i = 0; i < NR_THREADS; i++) {
		vext_kvm_vcpu_destroy(&self->t[i].kv);
		if (self->page[i])
			vext_unmap_shared(self->page[i]);
		close(self->vcpu[i]);
	}
	vext_kvm_vm_destroy(&self->kvm);
	close(self->vm);
	close(self->dev);
}

/* Two vCPU threads in KVM_RUN on one host CPU preempt each other. */
TEST_F(kvm_pn, preempted_in_kvm_run)
{
	__u32 before[NR_THREADS];
	struct vext_vcpu_shared s;
	int i, ret;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;

	for (i = 0; i < NR_THREADS; i++) {
		self->t[i].cpu = 0;
		ret = pthread_create(&self->t[i].thread, NULL, kvm_pn_main, &self->t[i]);
		ASSERT_EQ(0, ret);
	}
	for (i = 0; i < NR_THREADS; i++) {
		int waited = 0;

		while (!__atomic_load_n(&self->t[i].running, __ATOMIC_SEQ_CST) &&
		       !self->t[i].err && waited++ < 2000)
			vext_sleep_ms(1);
		ASSERT_EQ(0, self->t[i].err)
			TH_LOG("vCPU %d: %s: %s", i, self->t[i].what,
			       strerror(-self->t[i].err));
		ASSERT_TRUE(self->t[i].running);
	}
	vext_sleep_ms(300);
	for (i = 0; i < NR_THREADS; i++)
		before[i] = vext_kvm_data(&self->kvm, i);
	/* Both guests run, in turns, on the one host CPU. */
	vext_sleep_ms(1500);
	for (i = 0; i < NR_THREADS; i++) {
		ASSERT_EQ(0, vext_shared_read(self->page[i], &s));
		EXPECT_EQ(1U, s.loaded) TH_LOG("vCPU %d not loaded while in KVM_RUN", i);
		EXPECT_NE(before[i], vext_kvm_data(&self->kvm, i))
			TH_LOG("guest %d made no progress", i);
	}
	for (i = 0; i < NR_THREADS; i++)
		vext_kvm_runner_stop(&self->t[i]);

	for (i = 0; i < NR_THREADS; i++) {
		EXPECT_EQ(0, self->t[i].err)
			TH_LOG("vCPU %d: %s: %s", i,
			       self->t[i].what ? self->t[i].what : "?",
			       strerror(-self->t[i].err));
		ASSERT_EQ(0, vext_shared_read(self->page[i], &s));
		TH_LOG("vCPU %d: guest count %u, %lu KVM_RUN calls, preempted %llu (%llu ns),",
		       i, vext_kvm_data(&self->kvm, i), self->t[i].runs,
		       (unsigned long long)s.preempted,
		       (unsigned long long)s.preempted_ns);
		TH_LOG("vCPU %d: blocked %llu, migrations %llu", i,
		       (unsigned long long)s.blocked,
		       (unsigned long long)s.migrations);
		EXPECT_EQ(1ULL, s.loads);
		EXPECT_EQ(0U, s.loaded);
		/* Preempted by the other vCPU thread while in the guest. */
		EXPECT_LE(1ULL, s.preempted);
		EXPECT_LT(0ULL, s.preempted_ns);
		/* Pinned: the thread never changed CPUs while loaded. */
		EXPECT_EQ(0ULL, s.migrations);
		EXPECT_NE(0U, vext_kvm_data(&self->kvm, i));
	}
}

/* ---- kvm_intx ------------------------------------------------------- */

#define INTX_GSI	5	/* an 8259 line KVM allows level-triggered */

FIXTURE(kvm_intx)
{
	struct vext_kvm_vm kvm;
	struct vext_kvm_runner t;
	int trigger, resample;
};

/* Run vCPU 0 of the intx guest until it has interrupts on. */
static void start_intx_guest(struct __test_metadata *_metadata,
			     struct vext_kvm_vm *kvm, struct vext_kvm_runner *t)
{
	int waited = 0;

	ASSERT_EQ(0, vext_kvm_runner_start(t));
	while (!vext_kvm_data(kvm, VEXT_KVM_INTX_READY) && !t->err && waited++ < 5000)
		vext_sleep_ms(1);
	ASSERT_EQ(0, t->err) TH_LOG("%s: %s", t->what, strerror(-t->err));
	ASSERT_EQ(1U, vext_kvm_data(kvm, VEXT_KVM_INTX_READY))
		TH_LOG("the guest did not enable interrupts");
}

FIXTURE_SETUP(kvm_intx)
{
	int ret;

	ret = vext_kvm_load_modules();
	if (ret == -EOPNOTSUPP && vext_kernel_is_rt())
		SKIP(return, "KVM on PREEMPT_RT needs a constant TSC, which TCG does not emulate");
	ASSERT_EQ(0, ret) TH_LOG("KVM does not load in the test VM: %s", strerror(-ret));
	ret = vext_kvm_vm_create(&self->kvm);
	ASSERT_EQ(0, ret) TH_LOG("KVM VM: %s", strerror(-ret));
	vext_kvm_load_prog(&self->kvm, &vext_kvm_prog_intx);
	vext_kvm_set_data(&self->kvm, VEXT_KVM_INTX_LINE, INTX_GSI);
	vext_kvm_kick_init();
	ret = vext_kvm_vcpu_create(&self->kvm, 0, &self->t.kv);
	ASSERT_EQ(0, ret) TH_LOG("KVM vCPU: %s", strerror(-ret));
	self->trigger = eventfd(0, EFD_CLOEXEC);
	self->resample = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->trigger);
	ASSERT_LE(0, self->resample);
	start_intx_guest(_metadata, &self->kvm, &self->t);
}

FIXTURE_TEARDOWN(kvm_intx)
{
	/* Skipped in setup, before anything was created. */
	if (_metadata->skip)
		return;
	if (self->t.kv.run)
		vext_kvm_runner_stop(&self->t);
	vext_kvm_vcpu_destroy(&self->t.kv);
	vext_kvm_vm_destroy(&self->kvm);
	close(self->trigger);
	close(self->resample);
}

TEST_F(kvm_intx, irqfd_resample_baseline)
{
	const unsigned int n = 500;
	__u64 one = 1, acks = 0;
	unsigned int i, c;
	int ret;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;

	ret = vext_kvm_irqfd(&self->kvm, self->trigger, self->resample, INTX_GSI, false);
	ASSERT_EQ(0, ret) TH_LOG("KVM_IRQFD with resample: %s", strerror(-ret));
	for (i = 0; i < n; i++) {
		ASSERT_EQ((ssize_t)sizeof(one), write(self->trigger, &one, sizeof(one)));
		/* The guest's EOI of this one comes back on the resamplefd. */
		ret = (int)vext_efd_wait(self->resample, 5000);
		ASSERT_EQ(1, ret) TH_LOG("interrupt %u: no EOI (guest count %u)", i,
					 vext_kvm_data(&self->kvm, VEXT_KVM_INTX_COUNT));
		acks += ret;
	}
	EXPECT_EQ(n, acks);
	/*
	 * None lost. Without a device to ask, the guest cannot tell a spurious
	 * injection from a real one: under a loaded host KVM was seen to inject
	 * one more (501 for 500) once. Tolerated up to 1%, and logged; the
	 * kvm_assign tests, whose guest asks the device, count exactly.
	 */
	c = vext_kvm_data(&self->kvm, VEXT_KVM_INTX_COUNT);
	EXPECT_LE(n, c);
	EXPECT_GE(n + n / 100, c);
	if (c != n)
		TH_LOG("%u signals, %u interrupts taken by the guest", n, c);
	/* No interrupt without a signal. */
	vext_sleep_ms(50);
	EXPECT_EQ(c, vext_kvm_data(&self->kvm, VEXT_KVM_INTX_COUNT));
	EXPECT_EQ(0, self->t.err);
	ret = vext_kvm_irqfd(&self->kvm, self->trigger, -1, INTX_GSI, true);
	EXPECT_EQ(0, ret);
}

/* ---- kvm_assign ----------------------------------------------------- */

#define EDU_SLOT_SHARED	7	/* shares its line with the e1000 at slot 3 */
#define ASSIGN_DEV_ID	7

FIXTURE(kvm_assign)
{
	struct vext_kvm_vm kvm;
	struct vext_kvm_runner t;
	char name[VEXT_PCI_NAME_LEN];
	void *bar;
	int dev, vm, trigger, resample;
};

/*
 * Bring every network interface but lo up: the e1000's driver requests its
 * (shared) IRQ only when its interface is up. Returns how many it brought up.
 */
static int nics_up(void)
{
	struct dirent *e;
	struct ifreq ifr;
	int s, n = 0;
	DIR *dir;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	dir = opendir("/sys/class/net");
	if (s < 0 || !dir)
		goto out;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "lo") ||
		    strlen(e->d_name) >= IFNAMSIZ)
			continue;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, e->d_name, strlen(e->d_name));
		if (ioctl(s, SIOCGIFFLAGS, &ifr))
			continue;
		ifr.ifr_flags |= IFF_UP;
		if (!ioctl(s, SIOCSIFFLAGS, &ifr))
			n++;
	}
out:
	if (dir)
		closedir(dir);
	if (s >= 0)
		close(s);
	return n;
}

FIXTURE_SETUP(kvm_assign)
{
	struct vext_assigned_pci_dev d = { 0 };
	struct vext_assigned_irq irq = { 0 };
	int ret;

	ret = vext_mod_load("vext_assign", NULL);
	ASSERT_EQ(0, ret) TH_LOG("modprobe vext_assign: %s", strerror(-ret));
	ASSERT_LT(0, nics_up()) TH_LOG("no NIC to share the line with");
	ret = vext_kvm_load_modules();
	if (ret == -EOPNOTSUPP && vext_kernel_is_rt())
		SKIP(return, "KVM on PREEMPT_RT needs a constant TSC, which TCG does not emulate");
	ASSERT_EQ(0, ret) TH_LOG("KVM does not load in the test VM: %s", strerror(-ret));
	ret = vext_pci_find(EDU_VENDOR, EDU_DEVICE, EDU_SLOT_SHARED, self->name);
	ASSERT_EQ(0, ret) TH_LOG("no edu device at slot %d", EDU_SLOT_SHARED);
	ret = vext_pci_bind(self->name, "vext-pci");
	ASSERT_EQ(0, ret) TH_LOG("binding %s to vext-pci: %s", self->name, strerror(-ret));
	self->bar = vext_pci_map_bar(self->name, 0, 4096);
	ASSERT_NE(NULL, self->bar) TH_LOG("BAR 0 of %s: %s", self->name, strerror(errno));
	/* Whatever an earlier test left raised. */
	vext_mmio_write32(self->bar, EDU_REG_IRQ_ACK,
			  vext_mmio_read32(self->bar, EDU_REG_IRQ_STATUS));

	ret = vext_kvm_vm_create(&self->kvm);
	ASSERT_EQ(0, ret) TH_LOG("KVM VM: %s", strerror(-ret));
	ret = vext_kvm_map_mmio(&self->kvm, self->bar, 4096);
	ASSERT_EQ(0, ret) TH_LOG("edu BAR as guest memory: %s", strerror(-ret));
	vext_kvm_load_prog(&self->kvm, &vext_kvm_prog_intx);
	vext_kvm_set_data(&self->kvm, VEXT_KVM_INTX_LINE, INTX_GSI);
	vext_kvm_set_data(&self->kvm, VEXT_KVM_INTX_DEV_SEG, VEXT_KVM_MMIO_GPA >> 4);
	vext_kvm_kick_init();
	ret = vext_kvm_vcpu_create(&self->kvm, 0, &self->t.kv);
	ASSERT_EQ(0, ret) TH_LOG("KVM vCPU: %s", strerror(-ret));

	self->trigger = eventfd(0, EFD_CLOEXEC);
	self->resample = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, self->trigger);
	ASSERT_LE(0, self->resample);
	ret = vext_kvm_irqfd(&self->kvm, self->trigger, self->resample, INTX_GSI, false);
	ASSERT_EQ(0, ret) TH_LOG("KVM_IRQFD with resample: %s", strerror(-ret));

	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	d.assigned_dev_id = ASSIGN_DEV_ID;
	d.devfn = EDU_SLOT_SHARED << 3;
	d.flags = VEXT_DEV_ASSIGN_PCI_2_3;
	d.err_fd = -1;
	ret = vext_ioctl(self->vm, VEXT_ASSIGN_PCI_DEVICE, (unsigned long)&d);
	ASSERT_EQ(0, ret) TH_LOG("VEXT_ASSIGN_PCI_DEVICE: %s", strerror(-ret));
	irq.assigned_dev_id = ASSIGN_DEV_ID;
	irq.flags = VEXT_DEV_IRQ_HOST_INTX | VEXT_DEV_IRQ_RESAMPLE;
	irq.trigger_fd = self->trigger;
	irq.resample_fd = self->resample;
	ret = vext_ioctl(self->vm, VEXT_ASSIGN_DEV_IRQ, (unsigned long)&irq);
	ASSERT_EQ(0, ret) TH_LOG("VEXT_ASSIGN_DEV_IRQ: %s", strerror(-ret));

	start_intx_guest(_metadata, &self->kvm, &self->t);
}

FIXTURE_TEARDOWN(kvm_assign)
{
	/* Skipped in setup, before anything was created. */
	if (_metadata->skip)
		return;
	if (self->t.kv.run)
		vext_kvm_runner_stop(&self->t);
	close(self->vm);
	close(self->dev);
	vext_kvm_vcpu_destroy(&self->t.kv);
	vext_kvm_vm_destroy(&self->kvm);
	if (self->bar)
		munmap(self->bar, 4096);
	close(self->trigger);
	close(self->resample);
}

/* Wait up to @ms for the guest's interrupt count to reach @want. */
static __u32 wait_count(struct vext_kvm_vm *kvm, __u32 want, int ms)
{
	__u32 c;

	while ((c = vext_kvm_data(kvm, VEXT_KVM_INTX_COUNT)) < want && ms-- > 0)
		vext_sleep_ms(1);
	return c;
}

static void set_guest_mask(struct __test_metadata *_metadata, int vm, bool masked)
{
	struct vext_assigned_pci_dev d = { 0 };
	int ret;

	d.assigned_dev_id = ASSIGN_DEV_ID;
	d.flags = masked ? VEXT_DEV_ASSIGN_MASK_INTX : 0;
	ret = vext_ioctl(vm, VEXT_ASSIGN_SET_INTX_MASK, (unsigned long)&d);
	ASSERT_EQ(0, ret) TH_LOG("VEXT_ASSIGN_SET_INTX_MASK %d: %s", masked, strerror(-ret));
}

/* N interrupts raised at the device, N handled by the KVM guest. */
TEST_F(kvm_assign, intx_end_to_end)
{
	const __u32 n = 300;
	unsigned long long before = 0, after = 0;
	struct vext_assigned_dev_info info = { .assigned_dev_id = ASSIGN_DEV_ID };
	char actions[256];
	__u32 i, c;
	int ret, hirq;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;

	ret = vext_ioctl(self->vm, VEXT_ASSIGNED_DEV_INFO, (unsigned long)&info);
	ASSERT_EQ(0, ret);
	EXPECT_NE(0U, info.flags & (__u32)VEXT_DEV_ASSIGN_PCI_2_3) TH_LOG("not in PCI 2.3 mode");
	hirq = (int)info.host_irq;
	ASSERT_EQ(0, vext_irq_line(hirq, &before, actions, sizeof(actions)));
	TH_LOG("host IRQ %d: %s", hirq, actions);
	EXPECT_NE(NULL, strstr(actions, "eth")) TH_LOG("the line is not shared with the NIC");

	for (i = 0; i < n; i++) {
		vext_mmio_write32(self->bar, EDU_REG_IRQ_RAISE, 1);
		c = wait_count(&self->kvm, i + 1, 5000);
		ASSERT_EQ(i + 1, c) TH_LOG("interrupt %u never reached the guest", i);
	}
	/* Nothing more: every interrupt was acked by the guest, once. */
	vext_sleep_ms(100);
	EXPECT_EQ(n, vext_kvm_data(&self->kvm, VEXT_KVM_INTX_COUNT));
	EXPECT_EQ(0U, vext_mmio_read32(self->bar, EDU_REG_IRQ_STATUS));
	ASSERT_EQ(0, vext_irq_line(hirq, &after, NULL, 0));
	/*
	 * Not one host interrupt per raise: one raised while the previous is
	 * still masked at the device is re-signalled by the unmask path.
	 */
	EXPECT_LT(before, after) TH_LOG("host IRQ %d: %llu -> %llu", hirq, before, after);
	EXPECT_EQ(0, self->t.err);
	TH_LOG("%u interrupts raised, %u handled by the KVM guest, %llu host interrupts",
	       n, vext_kvm_data(&self->kvm, VEXT_KVM_INTX_COUNT), after - before);
	TH_LOG("%u spurious (nothing pending at the device)",
	       vext_kvm_data(&self->kvm, VEXT_KVM_INTX_SPURIOUS));
}

/* The guest's mask holds an interrupt back; unmasking delivers it once. */
TEST_F(kvm_assign, guest_mask_view)
{
	__u32 c;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;

	vext_mmio_write32(self->bar, EDU_REG_IRQ_RAISE, 1);
	c = wait_count(&self->kvm, 1, 5000);
	ASSERT_EQ(1U, c);

	set_guest_mask(_metadata, self->vm, true);
	vext_mmio_write32(self->bar, EDU_REG_IRQ_RAISE, 1);
	vext_sleep_ms(200);
	EXPECT_EQ(1U, vext_kvm_data(&self->kvm, VEXT_KVM_INTX_COUNT))
		TH_LOG("an interrupt reached the guest while it had INTx masked");
	EXPECT_EQ(1U, vext_mmio_read32(self->bar, EDU_REG_IRQ_STATUS));

	set_guest_mask(_metadata, self->vm, false);
	c = wait_count(&self->kvm, 2, 5000);
	EXPECT_EQ(2U, c) TH_LOG("the pending interrupt was not delivered at unmask");
	vext_sleep_ms(200);
	EXPECT_EQ(2U, vext_kvm_data(&self->kvm, VEXT_KVM_INTX_COUNT))
		TH_LOG("the pending interrupt was delivered more than once");
	EXPECT_EQ(0U, vext_mmio_read32(self->bar, EDU_REG_IRQ_STATUS));
}

/* ---- kvm_gnt -------------------------------------------------------- */

#define GRANT_GPFN	3
#define GRANT_REF	1

/*
 * The backend: its own vext VM (its own domain). Sends its domid, waits for
 * the granting domain's, checks that a writable map is refused, maps the
 * grant readonly and reads it. Exit status: 0, or the step that failed (+ a "# " line).
 */
static int grant_backend(int to_parent, int from_parent)
{
	struct vext_gnttab_batch b = { 0 };
	struct vext_gnttab_op op;
	int dev, vm, domid, granter;
	char *page;

	dev = vext_dev_open();
	vm = dev >= 0 ? vext_create_vm(dev) : -1;
	domid = vm >= 0 ? vext_get_domid(vm) : -1;
	if (domid < 0 || write(to_parent, &domid, sizeof(domid)) != sizeof(domid))
		return 10;
	/* "go": the granting domain, once its guest wrote the grant. */
	if (read(from_parent, &granter, sizeof(granter)) != sizeof(granter))
		return 11;

	memset(&op, 0, sizeof(op));
	op.cmd = VEXT_GNTTABOP_map_grant_ref;
	op.domid = granter;
	op.ref = GRANT_REF;
	b.ops = (unsigned long)&op;
	b.count = 1;
	/* A writable mapping of a readonly grant: permission_denied. */
	if (ioctl(vm, VEXT_GNTTAB_OP, &b) || op.status != VEXT_GNTST_permission_denied) {
		printf("# backend: writable map: status %d\n", op.status);
		return 12;
	}
	memset(&op, 0, sizeof(op));
	op.cmd = VEXT_GNTTABOP_map_grant_ref;
	op.domid = granter;
	op.ref = GRANT_REF;
	op.flags = VEXT_GNTMAP_readonly;
	if (ioctl(vm, VEXT_GNTTAB_OP, &b) || op.status != VEXT_GNTST_okay) {
		printf("# backend: readonly map: status %d\n", op.status);
		return 13;
	}
	page = mmap(NULL, 4096, PROT_READ, MAP_SHARED, vm, (off_t)op.index);
	if (page == MAP_FAILED) {
		printf("# backend: mmap: %s\n", strerror(errno));
		return 14;
	}
	if (memcmp(page, VEXT_KVM_GRANT_MSG, 16)) {
		printf("# backend: read '%.16s'\n", page);
		return 15;
	}
	munmap(page, 4096);
	op.cmd = VEXT_GNTTABOP_unmap_grant_ref;
	if (ioctl(vm, VEXT_GNTTAB_OP, &b) || op.status != VEXT_GNTST_okay)
		return 16;
	return 0;
}

FIXTURE(kvm_gnt)
{
	int unused;
};

FIXTURE_SETUP(kvm_gnt)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(kvm_gnt)
{
}

TEST_F(kvm_gnt, guest_written_grant)
{
	struct vext_gnt_setup_table st = { .nr_frames = 1 };
	struct vext_add_to_physmap xatp = { 0 };
	struct vext_grant_entry_v1 *table;
	struct vext_kvm_runner t = { 0 };
	int up[2], down[2], status, ret, waited = 0;
	int dev, vm, domid, backend_domid;
	struct vext_kvm_vm kvm;
	pid_t pid;

	ret = vext_mod_load("vext_gnt", NULL);
	ASSERT_EQ(0, ret) TH_LOG("modprobe vext_gnt: %s", strerror(-ret));
	ret = vext_kvm_load_modules();
	if (ret == -EOPNOTSUPP && vext_kernel_is_rt())
		SKIP(return, "KVM on PREEMPT_RT needs a constant TSC, which TCG does not emulate");
	ASSERT_EQ(0, ret) TH_LOG("KVM does not load in the test VM: %s", strerror(-ret));
	ASSERT_EQ(0, pipe2(up, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(down, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(up[0]);
		close(down[1]);
		_exit(grant_backend(up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	ASSERT_EQ((ssize_t)sizeof(backend_domid),
		  read(up[0], &backend_domid, sizeof(backend_domid)));

	/* The guest's VMM: a KVM VM and a vext VM over the same RAM. */
	ret = vext_kvm_vm_create(&kvm);
	ASSERT_EQ(0, ret) TH_LOG("KVM VM: %s", strerror(-ret));
	dev = open_dev(_metadata);
	vm = create_vm(_metadata, dev);
	domid = get_domid(_metadata, vm);
	ret = vext_set_region(vm, 0, 0, 0, kvm.mem_size, (unsigned long)kvm.mem);
	ASSERT_EQ(0, ret) TH_LOG("VEXT_SET_USER_MEMORY_REGION: %s", strerror(-ret));
	ret = vext_ioctl(vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st);
	ASSERT_LE(1, ret) TH_LOG("VEXT_GNT_SETUP_TABLE: %s", strerror(-ret));
	table = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vm,
		     VEXT_GNT_TABLE_OFFSET);
	ASSERT_NE(MAP_FAILED, table) TH_LOG("mmap of grant frame 0: %s", strerror(errno));
	/* Frame 0 of the table at gpfn 0x80, for vext and for KVM. */
	xatp.domid = VEXT_DOMID_SELF;
	xatp.space = VEXT_MAPSPACE_grant_table;
	xatp.idx = 0;
	xatp.gpfn = VEXT_KVM_MMIO_GPA >> 12;
	ret = vext_ioctl(vm, VEXT_ADD_TO_PHYSMAP, (unsigned long)&xatp);
	ASSERT_EQ(0, ret) TH_LOG("VEXT_ADD_TO_PHYSMAP: %s", strerror(-ret));
	ret = vext_kvm_map_mmio(&kvm, table, 4096);
	ASSERT_EQ(0, ret) TH_LOG("grant frame as guest memory: %s", strerror(-ret));

	vext_kvm_load_prog(&kvm, &vext_kvm_prog_grant);
	vext_kvm_set_data(&kvm, VEXT_KVM_GRANT_GPFN, GRANT_GPFN);
	vext_kvm_set_data(&kvm, VEXT_KVM_GRANT_REF, GRANT_REF);
	vext_kvm_set_data(&kvm, VEXT_KVM_GRANT_DOMID, backend_domid);
	vext_kvm_set_data(&kvm, VEXT_KVM_GRANT_TABLE_SEG, VEXT_KVM_MMIO_GPA >> 4);
	vext_kvm_kick_init();
	ret = vext_kvm_vcpu_create(&kvm, 0, &t.kv);
	ASSERT_EQ(0, ret) TH_LOG("KVM vCPU: %s", strerror(-ret));
	ASSERT_EQ(0, vext_kvm_runner_start(&t));
	while (!vext_kvm_data(&kvm, VEXT_KVM_GRANT_DONE) && !t.err && waited++ < 5000)
		vext_sleep_ms(1);
	ASSERT_EQ(1U, vext_kvm_data(&kvm, VEXT_KVM_GRANT_DONE))
		TH_LOG("the guest did not finish (%s: %s)", t.what ? t.what : "-",
		       strerror(-t.err));
	/* What the guest wrote, seen through vext's mapping of the table. */
	EXPECT_EQ(VEXT_GTF_permit_access | VEXT_GTF_readonly, table[GRANT_REF].flags);
	EXPECT_EQ(backend_domid, table[GRANT_REF].domid);
	EXPECT_EQ((__u32)GRANT_GPFN, table[GRANT_REF].frame);

	/* Now the backend maps it, naming this domain. */
	ASSERT_EQ((ssize_t)sizeof(domid), write(down[1], &domid, sizeof(domid)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("backend failed at step %d", WEXITSTATUS(status));

	vext_kvm_runner_stop(&t);
	vext_kvm_vcpu_destroy(&t.kv);
	vext_kvm_vm_destroy(&kvm);
	munmap(table, 4096);
	close(vm);
	close(dev);
	close(up[0]);
	close(down[1]);
}

TEST_HARNESS_MAIN
