// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzer table of vext_assign: the PCI assignment ioctls of VM fds
 * (0x40-0x46) on QEMU's edu devices, bound to vext-pci at set-up; and its
 * failslab scenarios.
 *
 * Addresses are those of the edu devices most of the time, else the
 * e1000 NIC (never bound to vext-pci: EPERM), the host bridge, random
 * ones and ones past the limits. Eventfds are the engine's (real ones,
 * closed ones, other fd types). Besides the ioctls it raises and acks the
 * edus' INTx (through BAR0), signals and drains eventfds (resample acks),
 * unbinds and rebinds an edu under the VMs (the "gone" path) and flips
 * the fault_no_intx_mask parameter (exclusive lines).
 *
 * Invariants beyond the errnos of Documentation/api.rst:
 *  - every argument the rules reject fails with EINVAL;
 *  - only bound devices (the edus) can be assigned;
 *  - single-threaded, a per-VM model of the assigned ids: EEXIST, ENOSPC,
 *    ENOENT and DEASSIGN's success exactly when the model says so, and
 *    INFO reports the address the id was assigned with;
 *  - INFO's output is self-consistent (no IRQ: no host IRQ, resample,
 *    mask or pending bits; reserved fields zero);
 *  - debugfs assign_devices: a device nobody owns, or owned without an
 *    IRQ, has INTx disabled; an owner is a live VM of the fuzzer (audit);
 *    with every fd closed no device is owned (stable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vext.h>

#include "fuzz.h"
#include "vext_pci.h"
#include "vext_test.h"

#define FZ_ASSIGN_MODULE	"vext_assign"
#define FZ_PCI_DRV		"vext-pci"
#define FZ_NR_EDU		3
#define E1000_VENDOR		0x8086
#define E1000_DEVICE		0x100e
#define FZ_PCI_COMMAND		0x04
#define FZ_PCI_INTX_DISABLE	0x400

static struct fz_module fz_assign;

struct fz_pcidev {
	char name[VEXT_PCI_NAME_LEN];
	__u32 seg, bus, devfn;
	void *bar;
	pthread_mutex_t lock;	/* unbind/rebind */
};

/* edu at slots 4 and 8 share a line, 7 shares the e1000's (run-vm.sh). */
static const unsigned int fz_edu_slot[FZ_NR_EDU] = { 4, 8, 7 };
static struct fz_pcidev fz_edu[FZ_NR_EDU];
static unsigned int fz_nr_edu;
static struct fz_pcidev fz_nic;
static bool fz_have_nic;
static pid_t fz_assign_pid;
/* failslab_dtest's holder of the shared line, see fz_s_holder() */
static char fz_holder_name[VEXT_PCI_NAME_LEN];
static void fz_holder_release(void);

/*
 * Enabling or disabling a device looks its IRQ up in ACPI's _PRT, which
 * PIIX builds in an AML loop: about a second under TCG, with the locks
 * that every assignment ioctl takes held. Real assignments (and unbinds)
 * are rationed to one per FZ_EDU_GAP_MS, so that the other ioctls keep
 * their pace; the rest of the addresses cost nothing.
 */
#define FZ_EDU_GAP_MS		1500

static __u64 fz_edu_next;

static bool fz_edu_token(void)
{
	__u64 now = vext_now_ns(), next = __atomic_load_n(&fz_edu_next,
							  __ATOMIC_RELAXED);

	return now >= next &&
	       __atomic_compare_exchange_n(&fz_edu_next, &next,
					   now + FZ_EDU_GAP_MS * 1000000ULL, false,
					   __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static int fz_pci_addr(struct fz_pcidev *d)
{
	unsigned int seg, bus, slot, fn;

	if (sscanf(d->name, "%x:%x:%x.%x", &seg, &bus, &slot, &fn) != 4)
		return -EINVAL;
	d->seg = seg;
	d->bus = bus;
	d->devfn = slot << 3 | fn;
	return 0;
}

static int fz_assign_setup(void)
{
	unsigned int i;
	int ret;

	fz_assign_pid = getpid();
	vext_param_write(FZ_ASSIGN_MODULE, "fault_no_intx_mask", "N");
	for (i = 0; i < FZ_NR_EDU; i++) {
		struct fz_pcidev *d = &fz_edu[fz_nr_edu];

		if (vext_pci_find(EDU_VENDOR, EDU_DEVICE, fz_edu_slot[i], d->name))
			continue;
		ret = fz_pci_addr(d);
		if (!ret)
			ret = vext_pci_bind(d->name, FZ_PCI_DRV);
		if (ret) {
			fz_log("assign: binding %s to %s: %s", d->name, FZ_PCI_DRV,
			       strerror(-ret));
			return ret;
		}
		d->bar = vext_pci_map_bar(d->name, 0, EDU_BAR_SIZE);
		if (d->bar) {
			vext_mmio_write32(d->bar, EDU_REG_IRQ_ACK, ~0u);
		} else {
			/* INTx is raised through BAR0 only: not fatal. */
			fz_log("assign: mapping BAR0 of %s: %s", d->name,
			       strerror(errno));
		}
		pthread_mutex_init(&d->lock, NULL);
		fz_nr_edu++;
	}
	fz_have_nic = !vext_pci_find(E1000_VENDOR, E1000_DEVICE, 3, fz_nic.name) &&
		      !fz_pci_addr(&fz_nic);
	fz_log("assign: %u edu device(s) bound to %s%s", fz_nr_edu, FZ_PCI_DRV,
	       fz_have_nic ? ", the e1000 as a negative case" : "");
	return 0;
}

static unsigned long fz_session_tries, fz_session_assigned, fz_session_irqs;

static void fz_assign_teardown(void)
{
	unsigned int i;

	fz_holder_release();
	if (fz_session_tries)
		fz_log("assign: device sessions assigned %lu edu(s) in %lu tries, %lu IRQ(s)",
		       fz_session_assigned, fz_session_tries, fz_session_irqs);
	vext_param_write(FZ_ASSIGN_MODULE, "fault_no_intx_mask", "N");
	for (i = 0; i < fz_nr_edu; i++) {
		if (!fz_edu[i].bar)
			continue;
		/* Nothing left asserting for the next test. */
		vext_mmio_write32(fz_edu[i].bar, EDU_REG_IRQ_ACK, ~0u);
		munmap(fz_edu[i].bar, EDU_BAR_SIZE);
		fz_edu[i].bar = NULL;
	}
	/* An unbind op may have been cut short: every edu bound again. */
	for (i = 0; i < fz_nr_edu; i++)
		vext_pci_bind(fz_edu[i].name, FZ_PCI_DRV);
	fz_nr_edu = 0;
}

/* A line of debugfs assign_devices. */
struct fz_assign_line {
	char name[32];
	int intx_disable;
	bool owned;
	unsigned int dom, id, irq;
};

/* ---- the model: a VM's assigned ids ----------------------------------- */

struct fz_adev {
	bool used;
	__u32 id, seg, bus, devfn;
};

struct fz_avm {
	pthread_mutex_t lock;
	struct fz_adev dev[VEXT_MAX_ASSIGNED_DEVS];
};

static void fz_avm_init(void *data)
{
	struct fz_avm *a = data;

	pthread_mutex_init(&a->lock, NULL);
}

static struct fz_avm *fz_avm(struct fz_obj *vm)
{
	return fz_obj_data(vm, &fz_assign, sizeof(struct fz_avm), fz_avm_init);
}

/* The model's entry of @id, or NULL; a->lock held. */
static struct fz_adev *fz_adev_find(struct fz_avm *a, __u32 id)
{
	unsigned int i;

	for (i = 0; i < VEXT_MAX_ASSIGNED_DEVS; i++)
		if (a->dev[i].used && a->dev[i].id == id)
			return &a->dev[i];
	return NULL;
}

static unsigned int fz_adev_count(struct fz_avm *a)
{
	unsigned int i, n = 0;

	for (i = 0; i < VEXT_MAX_ASSIGNED_DEVS; i++)
		n += a->dev[i].used;
	return n;
}

/* Is the model reliable for this call? One thread, its own VM. */
static bool fz_model_ok(const struct fz_call *c)
{
	return !fz_threaded() && !c->foreign && !c->bad_arg;
}

/* ---- argument descriptions --------------------------------------------- */

#define DEV_OFF(f)	offsetof(struct vext_assigned_pci_dev, f)
#define IRQ_OFF(f)	offsetof(struct vext_assigned_irq, f)
#define INFO_OFF(f)	offsetof(struct vext_assigned_dev_info, f)

/* assigned_dev_id: mostly a few ids (collisions), sometimes any 32 bits. */
#define FZ_ID_FIELD(where)						\
	{ .name = "assigned_dev_id", .off = (where), .size = 4,		\
	  .kind = FZ_INDEX, .limit = 0x100000000ULL, .pool = 5 }
#define FZ_ZERO(what, where, bytes)					\
	{ .name = (what), .off = (where), .size = (bytes), .kind = FZ_PAD, \
	  .must_zero = true, .strict = true }

static const struct fz_field fz_assign_fields[] = {
	FZ_ID_FIELD(DEV_OFF(assigned_dev_id)),
	{ .name = "busnr", .off = DEV_OFF(busnr), .size = 4, .kind = FZ_INDEX,
	  .limit = 0x100, .pool = 2, .strict = true },
	{ .name = "devfn", .off = DEV_OFF(devfn), .size = 4, .kind = FZ_INDEX,
	  .limit = 0x100, .strict = true },
	{ .name = "flags", .off = DEV_OFF(flags), .size = 4, .kind = FZ_FLAGS,
	  .limit = VEXT_DEV_ASSIGN_VALID_FLAGS, .strict = true },
	{ .name = "segnr", .off = DEV_OFF(segnr), .size = 4, .kind = FZ_INDEX,
	  .limit = 0x10000, .pool = 1, .strict = true },
	{ .name = "err_fd", .off = DEV_OFF(err_fd), .size = 4, .kind = FZ_FD,
	  .fdtype = &fz_eventfd },
	FZ_ZERO("reserved[0-1]", DEV_OFF(reserved), 8),
	FZ_ZERO("reserved[4-5]", DEV_OFF(reserved) + 16, 8),
	FZ_ZERO("reserved[8-9]", DEV_OFF(reserved) + 32, 8),
};

/* DEASSIGN and SET_INTX_MASK: the id (and the mask flag), the rest zero. */
static const struct fz_field fz_deassign_fields[] = {
	FZ_ID_FIELD(DEV_OFF(assigned_dev_id)),
	FZ_ZERO("busnr", DEV_OFF(busnr), 4),
	FZ_ZERO("devfn", DEV_OFF(devfn), 4),
	FZ_ZERO("flags", DEV_OFF(flags), 4),
	FZ_ZERO("segnr", DEV_OFF(segnr), 4),
	{ .name = "err_fd", .off = DEV_OFF(err_fd), .size = 4, .kind = FZ_VALUE },
	FZ_ZERO("reserved[0-1]", DEV_OFF(reserved), 8),
	FZ_ZERO("reserved[8-9]", DEV_OFF(reserved) + 32, 8),
};

static const struct fz_field fz_mask_fields[] = {
	FZ_ID_FIELD(DEV_OFF(assigned_dev_id)),
	FZ_ZERO("busnr", DEV_OFF(busnr), 4),
	FZ_ZERO("devfn", DEV_OFF(devfn), 4),
	{ .name = "flags", .off = DEV_OFF(flags), .size = 4, .kind = FZ_FLAGS,
	  .limit = VEXT_DEV_ASSIGN_VALID_FLAGS, .strict = true },
	FZ_ZERO("segnr", DEV_OFF(segnr), 4),
	{ .name = "err_fd", .off = DEV_OFF(err_fd), .size = 4, .kind = FZ_VALUE },
	FZ_ZERO("reserved[2-3]", DEV_OFF(reserved) + 8, 8),
};

static const struct fz_field fz_irq_fields[] = {
	FZ_ID_FIELD(IRQ_OFF(assigned_dev_id)),
	{ .name = "flags", .off = IRQ_OFF(flags), .size = 4, .kind = FZ_FLAGS,
	  .limit = VEXT_DEV_IRQ_VALID_FLAGS, .strict = true },
	{ .name = "trigger_fd", .off = IRQ_OFF(trigger_fd), .size = 4,
	  .kind = FZ_FD, .fdtype = &fz_eventfd },
	{ .name = "resample_fd", .off = IRQ_OFF(resample_fd), .size = 4,
	  .kind = FZ_FD, .fdtype = &fz_eventfd },
	FZ_ZERO("reserved[0-1]", IRQ_OFF(reserved), 8),
	FZ_ZERO("reserved[2-3]", IRQ_OFF(reserved) + 8, 8),
};

static const struct fz_field fz_deirq_fields[] = {
	FZ_ID_FIELD(IRQ_OFF(assigned_dev_id)),
	{ .name = "flags", .off = IRQ_OFF(flags), .size = 4, .kind = FZ_VALUE },
	FZ_ZERO("trigger_fd", IRQ_OFF(trigger_fd), 4),
	FZ_ZERO("resample_fd", IRQ_OFF(resample_fd), 4),
	FZ_ZERO("reserved[0-1]", IRQ_OFF(reserved), 8),
	FZ_ZERO("reserved[2-3]", IRQ_OFF(reserved) + 8, 8),
};

static const struct fz_field fz_info_fields[] = {
	FZ_ID_FIELD(INFO_OFF(assigned_dev_id)),
	FZ_ZERO("flags", INFO_OFF(flags), 4),
	FZ_ZERO("state", INFO_OFF(state), 4),
	FZ_ZERO("host_irq", INFO_OFF(host_irq), 4),
	FZ_ZERO("segnr", INFO_OFF(segnr), 4),
	FZ_ZERO("busnr", INFO_OFF(busnr), 4),
	FZ_ZERO("devfn", INFO_OFF(devfn), 4),
	FZ_ZERO("pad", INFO_OFF(pad), 4),
	FZ_ZERO("reserved[0]", INFO_OFF(reserved), 8),
	FZ_ZERO("reserved[3]", INFO_OFF(reserved) + 24, 8),
};

/* ---- the rules: what each ioctl rejects with EINVAL up front -------------- */

static bool fz_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len--)
		if (*b++)
			return false;
	return true;
}

static bool fz_assign_bad(const struct vext_assigned_pci_dev *d)
{
	return (d->flags & ~VEXT_DEV_ASSIGN_VALID_FLAGS) ||
	       !fz_zero(d->reserved, sizeof(d->reserved)) ||
	       d->segnr > 0xffff || d->busnr > 0xff || d->devfn > 0xff ||
	       d->err_fd < -1;
}

/* DEASSIGN (@mask false) and SET_INTX_MASK (flags allowed). */
static bool fz_deassign_bad(const struct vext_assigned_pci_dev *d, bool mask)
{
	return (mask ? (d->flags & ~VEXT_DEV_ASSIGN_VALID_FLAGS) : d->flags) ||
	       d->busnr || d->devfn || d->segnr || d->err_fd > 0 ||
	       d->err_fd < -1 || !fz_zero(d->reserved, sizeof(d->reserved));
}

static bool fz_irq_bad(const struct vext_assigned_irq *irq, bool assign)
{
	if (!fz_zero(irq->reserved, sizeof(irq->reserved)))
		return true;
	if (!assign)
		return irq->flags != VEXT_DEV_IRQ_HOST_INTX || irq->trigger_fd ||
		       irq->resample_fd;
	return !(irq->flags & VEXT_DEV_IRQ_HOST_INTX) ||
	       (irq->flags & ~VEXT_DEV_IRQ_VALID_FLAGS) ||
	       (!(irq->flags & VEXT_DEV_IRQ_RESAMPLE) && irq->resample_fd);
}

/* ---- prepare: real addresses, ids in use, the fd rules ------------------- */

/* An id the model knows for this VM (often), to hit the existing entries. */
static void fz_pick_id(struct fz_thread *t, struct fz_call *c, __u32 *id)
{
	struct fz_avm *a;
	unsigned int i, start;

	if (!c->obj || !fz_chance(t, 50))
		return;
	a = fz_avm(c->obj);
	pthread_mutex_lock(&a->lock);
	start = fz_below(t, VEXT_MAX_ASSIGNED_DEVS);
	for (i = 0; i < VEXT_MAX_ASSIGNED_DEVS; i++) {
		struct fz_adev *d = &a->dev[(start + i) % VEXT_MAX_ASSIGNED_DEVS];

		if (d->used) {
			*id = d->id;
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
}

/* -1 or 0 (both allowed) mostly; else anything, which is rejected. */
static __s32 fz_pick_zero_fd(struct fz_thread *t)
{
	if (fz_chance(t, 90))
		return fz_chance(t, 50) ? -1 : 0;
	return fz_chance(t, 50) ? (__s32)fz_below(t, 64) : (__s32)fz_rand(t);
}

static void fz_prepare_assign(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_pci_dev *d = (void *)c->buf;
	const struct fz_pcidev *p = NULL;
	unsigned int r = fz_below(t, 100);

	if (r < 10 && fz_nr_edu && fz_edu_token())
		p = &fz_edu[fz_below(t, fz_nr_edu)];
	else if (r < 20 && fz_have_nic)
		p = &fz_nic;	/* bound to e1000: EPERM */
	if (p) {
		d->segnr = p->seg;
		d->busnr = p->bus;
		d->devfn = p->devfn;
	} else if (r < 25) {
		d->segnr = 0;		/* the host bridge */
		d->busnr = 0;
		d->devfn = 0;
	}
	if (fz_chance(t, 5))
		d->err_fd = fz_chance(t, 50) ? -2 : (__s32)0x80000000;
	fz_pick_id(t, c, &d->assigned_dev_id);
	c->invalid = fz_assign_bad(d);
}

static void fz_prepare_deassign(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_pci_dev *d = (void *)c->buf;

	d->err_fd = fz_pick_zero_fd(t);
	fz_pick_id(t, c, &d->assigned_dev_id);
	c->invalid = fz_deassign_bad(d, c->io->cmd == VEXT_ASSIGN_SET_INTX_MASK);
}

static void fz_prepare_irq(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_irq *irq = (void *)c->buf;

	if (fz_chance(t, 85))
		irq->flags |= VEXT_DEV_IRQ_HOST_INTX;
	if (!(irq->flags & VEXT_DEV_IRQ_RESAMPLE)) {
		if (fz_chance(t, 85))
			irq->resample_fd = 0;
	} else if (fz_chance(t, 5)) {
		irq->resample_fd = irq->trigger_fd;	/* the same eventfd */
	}
	fz_pick_id(t, c, &irq->assigned_dev_id);
	c->invalid = fz_irq_bad(irq, true);
}

static void fz_prepare_deirq(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_irq *irq = (void *)c->buf;

	if (fz_chance(t, 85))
		irq->flags = VEXT_DEV_IRQ_HOST_INTX;
	fz_pick_id(t, c, &irq->assigned_dev_id);
	c->invalid = fz_irq_bad(irq, false);
}

static void fz_prepare_unmask(struct fz_thread *t, struct fz_call *c)
{
	__u32 id = c->arg;

	if (c->arg > 0xffffffffULL)
		return;
	fz_pick_id(t, c, &id);
	c->arg = id;
}

static void fz_prepare_info(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_dev_info *info = (void *)c->buf;

	fz_pick_id(t, c, &info->assigned_dev_id);
}

/* ---- checks -------------------------------------------------------------- */

static bool fz_is_edu(__u32 seg, __u32 bus, __u32 devfn)
{
	unsigned int i;

	for (i = 0; i < fz_nr_edu; i++)
		if (fz_edu[i].seg == seg && fz_edu[i].bus == bus &&
		    fz_edu[i].devfn == devfn)
			return true;
	return false;
}

static int fz_check_assign(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_pci_dev d;
	struct fz_adev *e;
	struct fz_avm *a;
	int ret = 0;

	if (c->foreign || c->bad_arg)
		return 0;
	memcpy(&d, c->buf, sizeof(d));
	if (fz_assign_bad(&d))
		return c->ret == -EINVAL ? 0 :
		       fz_fail(t, "flags %#x seg %u bus %u devfn %u err_fd %d: %s",
			       d.flags, d.segnr, d.busnr, d.devfn, d.err_fd,
			       c->ret < 0 ? strerror(-c->ret) : "success");
	if (c->ret >= 0 && !fz_is_edu(d.segnr, d.busnr, d.devfn))
		return fz_fail(t, "assigned %04x:%02x:%02x.%x, not bound to %s",
			       d.segnr, d.busnr, d.devfn >> 3, d.devfn & 7,
			       FZ_PCI_DRV);
	a = fz_avm(c->obj);
	pthread_mutex_lock(&a->lock);
	e = fz_adev_find(a, d.assigned_dev_id);
	if (c->ret >= 0) {
		if (e && fz_model_ok(c)) {
			ret = fz_fail(t, "id %u assigned twice", d.assigned_dev_id);
		} else if (!e) {
			unsigned int i;

			for (i = 0; i < VEXT_MAX_ASSIGNED_DEVS; i++)
				if (!a->dev[i].used)
					break;
			if (i == VEXT_MAX_ASSIGNED_DEVS) {
				if (fz_model_ok(c))
					ret = fz_fail(t, "more than %d devices assigned",
						      VEXT_MAX_ASSIGNED_DEVS);
			} else {
				a->dev[i] = (struct fz_adev){ .used = true,
					.id = d.assigned_dev_id, .seg = d.segnr,
					.bus = d.busnr, .devfn = d.devfn };
			}
		}
	} else if (fz_model_ok(c)) {
		if (c->ret == -EEXIST && !e)
			ret = fz_fail(t, "EEXIST for id %u, never assigned",
				      d.assigned_dev_id);
		else if (c->ret == -ENOSPC && fz_adev_count(a) < VEXT_MAX_ASSIGNED_DEVS)
			ret = fz_fail(t, "ENOSPC with %u devices", fz_adev_count(a));
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

static int fz_check_deassign(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_pci_dev d;
	struct fz_adev *e;
	struct fz_avm *a;
	int ret = 0;

	if (c->foreign || c->bad_arg)
		return 0;
	memcpy(&d, c->buf, sizeof(d));
	if (fz_deassign_bad(&d, false))
		return c->ret == -EINVAL ? 0 : fz_fail(t, "malformed: %s",
			c->ret < 0 ? strerror(-c->ret) : "success");
	a = fz_avm(c->obj);
	pthread_mutex_lock(&a->lock);
	e = fz_adev_find(a, d.assigned_dev_id);
	if (fz_model_ok(c) && (c->ret >= 0 || c->ret == -ENOENT) &&
	    !e != (c->ret == -ENOENT))
		ret = fz_fail(t, "id %u %s: %s", d.assigned_dev_id,
			      e ? "assigned" : "never assigned",
			      c->ret < 0 ? strerror(-c->ret) : "success");
	if (c->ret >= 0 && e)
		e->used = false;
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/*
 * One thread: ENOENT only for the ids the model does not have, success
 * only for those it has (the other errnos come from other rules).
 */
static int fz_check_known(struct fz_thread *t, struct fz_call *c, __u32 id)
{
	struct fz_avm *a;
	bool known;

	if (!fz_model_ok(c) || (c->ret < 0 && c->ret != -ENOENT))
		return 0;
	a = fz_avm(c->obj);
	pthread_mutex_lock(&a->lock);
	known = fz_adev_find(a, id);
	pthread_mutex_unlock(&a->lock);
	if (known == (c->ret == -ENOENT))
		return fz_fail(t, "id %u %s: %s", id,
			       known ? "assigned" : "never assigned",
			       c->ret < 0 ? strerror(-c->ret) : "success");
	return 0;
}

static int fz_check_irq(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_irq irq;

	memcpy(&irq, c->buf, sizeof(irq));
	if (c->bad_arg || c->foreign)
		return 0;
	if (fz_irq_bad(&irq, c->io->cmd == VEXT_ASSIGN_DEV_IRQ))
		return c->ret == -EINVAL ? 0 : fz_fail(t, "flags %#x fds %d %d: %s",
			irq.flags, irq.trigger_fd, irq.resample_fd,
			c->ret < 0 ? strerror(-c->ret) : "success");
	return fz_check_known(t, c, irq.assigned_dev_id);
}

static int fz_check_mask(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_pci_dev d;

	memcpy(&d, c->buf, sizeof(d));
	if (c->bad_arg || c->foreign)
		return 0;
	if (fz_deassign_bad(&d, true))
		return c->ret == -EINVAL ? 0 : fz_fail(t, "malformed: %s",
			c->ret < 0 ? strerror(-c->ret) : "success");
	return fz_check_known(t, c, d.assigned_dev_id);
}

static int fz_check_unmask(struct fz_thread *t, struct fz_call *c)
{
	if (c->arg > 0xffffffffULL)
		return 0;
	return fz_check_known(t, c, c->arg);
}

static int fz_check_info(struct fz_thread *t, struct fz_call *c)
{
	struct vext_assigned_dev_info in, out;
	__u32 irq_bits = VEXT_ASSIGNED_RESAMPLE | VEXT_ASSIGNED_HOST_MASKED |
			 VEXT_ASSIGNED_PENDING;
	struct fz_adev *e;
	struct fz_avm *a;
	int ret = 0;

	if (c->bad_arg || c->foreign)
		return 0;
	memcpy(&in, c->buf, sizeof(in));
	if (fz_check_known(t, c, in.assigned_dev_id))
		return -1;
	if (c->ret < 0)
		return 0;
	memcpy(&out, c->uptr, sizeof(out));
	if (out.assigned_dev_id != in.assigned_dev_id || out.pad ||
	    !fz_zero(out.reserved, sizeof(out.reserved)) ||
	    (out.flags & ~VEXT_DEV_ASSIGN_VALID_FLAGS) || (out.state & ~0x1fu))
		return fz_fail(t, "id %u: answered id %u flags %#x state %#x pad %u",
			       in.assigned_dev_id, out.assigned_dev_id, out.flags,
			       out.state, out.pad);
	if (!(out.state & VEXT_ASSIGNED_IRQ) && (out.host_irq || (out.state & irq_bits)))
		return fz_fail(t, "id %u: no IRQ, yet host_irq %u state %#x",
			       in.assigned_dev_id, out.host_irq, out.state);
	if ((out.state & VEXT_ASSIGNED_IRQ) &&
	    (!out.host_irq || (out.state & VEXT_ASSIGNED_GONE)))
		return fz_fail(t, "id %u: IRQ %u with state %#x",
			       in.assigned_dev_id, out.host_irq, out.state);
	if (!fz_model_ok(c))
		return 0;
	a = fz_avm(c->obj);
	pthread_mutex_lock(&a->lock);
	e = fz_adev_find(a, in.assigned_dev_id);
	if (e && (e->seg != out.segnr || e->bus != out.busnr || e->devfn != out.devfn))
		ret = fz_fail(t, "id %u: assigned as %x:%x:%x, INFO says %x:%x:%x",
			      e->id, e->seg, e->bus, e->devfn, out.segnr,
			      out.busnr, out.devfn);
	pthread_mutex_unlock(&a->lock);
	return ret;
}

static const struct fz_ioctl fz_assign_ioctls[] = {
	{
		.name = "ASSIGN_PCI_DEVICE", .cmd = VEXT_ASSIGN_PCI_DEVICE,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_assigned_pci_dev),
		.fields = fz_assign_fields,
		.nr_fields = FZ_ARRAY_SIZE(fz_assign_fields),
		.errs = { EINVAL, EBADF, ENODEV, EPERM, EBUSY, EEXIST, ENOSPC,
			  ENOMEM, EIO },
		.weight = 12, .prepare = fz_prepare_assign,
		.check = fz_check_assign,
	}, {
		.name = "DEASSIGN_PCI_DEVICE", .cmd = VEXT_DEASSIGN_PCI_DEVICE,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_assigned_pci_dev),
		.fields = fz_deassign_fields,
		.nr_fields = FZ_ARRAY_SIZE(fz_deassign_fields),
		.errs = { EINVAL, ENOENT }, .weight = 6,
		.prepare = fz_prepare_deassign, .check = fz_check_deassign,
	}, {
		.name = "ASSIGN_DEV_IRQ", .cmd = VEXT_ASSIGN_DEV_IRQ,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_assigned_irq),
		.fields = fz_irq_fields, .nr_fields = FZ_ARRAY_SIZE(fz_irq_fields),
		.errs = { EINVAL, EBADF, ENOENT, ENODEV, EBUSY, ENOMEM },
		.weight = 10, .prepare = fz_prepare_irq, .check = fz_check_irq,
	}, {
		.name = "DEASSIGN_DEV_IRQ", .cmd = VEXT_DEASSIGN_DEV_IRQ,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_assigned_irq),
		.fields = fz_deirq_fields,
		.nr_fields = FZ_ARRAY_SIZE(fz_deirq_fields),
		.errs = { EINVAL, ENOENT, ENODEV, ENXIO }, .weight = 5,
		.prepare = fz_prepare_deirq, .check = fz_check_irq,
	}, {
		.name = "ASSIGN_SET_INTX_MASK", .cmd = VEXT_ASSIGN_SET_INTX_MASK,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_assigned_pci_dev),
		.fields = fz_mask_fields, .nr_fields = FZ_ARRAY_SIZE(fz_mask_fields),
		.errs = { EINVAL, ENOENT, ENODEV }, .weight = 6,
		.prepare = fz_prepare_deassign, .check = fz_check_mask,
	}, {
		.name = "ASSIGNED_DEV_UNMASK", .cmd = VEXT_ASSIGNED_DEV_UNMASK,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_SCALAR,
		.arg = { .name = "id", .size = 8, .kind = FZ_INDEX,
			 .limit = 0x100000000ULL, .pool = 5, .strict = true },
		.errs = { EINVAL, ENOENT, ENODEV, ENXIO }, .weight = 6,
		.prepare = fz_prepare_unmask, .check = fz_check_unmask,
	}, {
		.name = "ASSIGNED_DEV_INFO", .cmd = VEXT_ASSIGNED_DEV_INFO,
		.on = { &fz_vext_vm }, .argkind = FZ_ARG_STRUCT,
		.size = sizeof(struct vext_assigned_dev_info),
		.fields = fz_info_fields, .nr_fields = FZ_ARRAY_SIZE(fz_info_fields),
		.errs = { EINVAL, ENOENT }, .weight = 6,
		.prepare = fz_prepare_info, .check = fz_check_info,
	},
};

/* ---- operations ------------------------------------------------------------ */

/* Raise an edu's INTx, and mostly ack it again (a moment later). */
static int fz_op_edu_irq(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	struct fz_pcidev *d;

	(void)fd;
	(void)obj;
	if (!fz_nr_edu)
		return 0;
	d = &fz_edu[fz_below(t, fz_nr_edu)];
	if (!d->bar)
		return 0;
	if (fz_chance(t, 70)) {
		vext_mmio_write32(d->bar, EDU_REG_IRQ_RAISE, 1);
		if (fz_chance(t, 20))
			usleep(fz_below(t, 1000));
	}
	if (fz_chance(t, 80))
		vext_mmio_write32(d->bar, EDU_REG_IRQ_ACK, ~0u);
	return 0;
}

/* Signal (a resample ack) or drain (a trigger) an eventfd. */
static int fz_op_eventfd(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	__u64 v = 1 + fz_below(t, 3);
	ssize_t n;

	(void)obj;
	if (fz_chance(t, 50))
		n = write(fd, &v, sizeof(v));
	else
		n = read(fd, &v, sizeof(v));
	(void)n;
	return 0;
}

/*
 * Unbind an edu from vext-pci and bind it again: an assignment of it goes
 * "gone" under its VM (error eventfd, INFO's GONE, ENODEV). The parent
 * process only: bindings are global.
 */
static int fz_op_rebind(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	struct fz_pcidev *d;
	int ret, tries = 0;

	(void)fd;
	(void)obj;
	if (!fz_nr_edu || getpid() != fz_assign_pid || fz_chance(t, 80) ||
	    !fz_edu_token())
		return 0;
	d = &fz_edu[fz_below(t, fz_nr_edu)];
	if (pthread_mutex_trylock(&d->lock))
		return 0;
	vext_pci_bind(d->name, NULL);
	if (fz_chance(t, 50))
		usleep(fz_below(t, 5000));
	/* Another thread may squeeze RLIMIT_NOFILE for a while. */
	while ((ret = vext_pci_bind(d->name, FZ_PCI_DRV)) == -EMFILE && tries++ < 100)
		usleep(10000);
	pthread_mutex_unlock(&d->lock);
	if (ret && ret != -EMFILE)
		return fz_fail(t, "binding %s to %s again: %s", d->name, FZ_PCI_DRV,
			       strerror(-ret));
	return 0;
}

/* PCI 2.3 requests fall back to exclusive lines while it is set. */
static int fz_op_nomask(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	(void)fd;
	(void)obj;
	if (getpid() == fz_assign_pid && fz_chance(t, 30))
		vext_param_write(FZ_ASSIGN_MODULE, "fault_no_intx_mask",
				 fz_chance(t, 30) ? "Y" : "N");
	return 0;
}

static bool fz_errno_in(long ret, const int *ok)
{
	if (ret >= 0)
		return true;
	for (; *ok; ok++)
		if (-ret == *ok)
			return true;
	return false;
}

static long fz_ioctl_ret(int fd, unsigned long cmd, unsigned long arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static int fz_assign_devices(struct fz_assign_line *l, int max);

/* An edu nobody has assigned (debugfs), mostly; any edu else. */
static struct fz_pcidev *fz_free_edu(struct fz_thread *t)
{
	struct fz_assign_line l[8];
	int i, n = fz_assign_devices(l, 8);
	unsigned int j, start = fz_below(t, fz_nr_edu);

	for (j = 0; j < fz_nr_edu; j++) {
		struct fz_pcidev *p = &fz_edu[(start + j) % fz_nr_edu];

		for (i = 0; i < n; i++)
			if (!strcmp(l[i].name, p->name) && !l[i].owned)
				return p;
	}
	return &fz_edu[start];
}

/* An eventfd of the table (others signal it), or a new one of ours. */
static int fz_session_efd(struct fz_thread *t, int *mine)
{
	int fd = fz_chance(t, 50) ? fz_pick_fd(t, &fz_eventfd, NULL) : -1;

	if (fd >= 0)
		return fd;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	*mine = fd;
	return fd;
}

/*
 * A VMM's use of an assigned device, well-formed, in a random order: the
 * random ioctls rarely find the one VM (of many) that has a device. The
 * VM gets an edu first when it has none (rationed, see fz_edu_token()).
 */
static int fz_op_session(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	static const int assign_errs[] = { EBUSY, EEXIST, ENOSPC, ENOMEM, EPERM,
					   ENODEV, 0 };
	static const int irq_errs[] = { EBUSY, ENOENT, ENODEV, ENOMEM, EBADF,
					EINVAL, ENXIO, 0 };
	struct fz_avm *a = fz_avm(obj);
	struct fz_adev dev = { .used = false };
	int efd[2] = { -1, -1 }, use[2] = { -1, -1 };
	unsigned int i, n, k;
	long ret = 0;

	if (obj->owner != getpid() || !fz_nr_edu)
		return 0;
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < VEXT_MAX_ASSIGNED_DEVS && !dev.used; i++)
		if (a->dev[i].used)
			dev = a->dev[i];
	pthread_mutex_unlock(&a->lock);
	if (!dev.used) {
		struct fz_pcidev *p = fz_free_edu(t);
		struct vext_assigned_pci_dev d = {
			.assigned_dev_id = fz_below(t, 5), .segnr = p->seg,
			.busnr = p->bus, .devfn = p->devfn, .err_fd = -1,
			.flags = (fz_chance(t, 75) ? VEXT_DEV_ASSIGN_PCI_2_3 : 0) |
				 (fz_chance(t, 20) ? VEXT_DEV_ASSIGN_MASK_INTX : 0),
		};

		if (!fz_edu_token())
			return 0;
		__atomic_add_fetch(&fz_session_tries, 1, __ATOMIC_RELAXED);
		if (fz_chance(t, 50))
			d.err_fd = fz_session_efd(t, &efd[0]);
		ret = fz_ioctl_ret(fd, VEXT_ASSIGN_PCI_DEVICE, (uintptr_t)&d);
		if (efd[0] >= 0)
			close(efd[0]);
		efd[0] = -1;
		if (fz_racy(t))
			return 0;
		if (!fz_errno_in(ret, assign_errs))
			return fz_fail(t, "assigning %s: %s", p->name, strerror(-ret));
		if (ret)
			return 0;
		__atomic_add_fetch(&fz_session_assigned, 1, __ATOMIC_RELAXED);
		dev = (struct fz_adev){ .used = true, .id = d.assigned_dev_id,
					.seg = d.segnr, .bus = d.busnr, .devfn = d.devfn };
		pthread_mutex_lock(&a->lock);
		for (i = 0; i < VEXT_MAX_ASSIGNED_DEVS; i++) {
			if (a->dev[i].used && a->dev[i].id == dev.id)
				break;
			if (!a->dev[i].used) {
				a->dev[i] = dev;
				break;
			}
		}
		pthread_mutex_unlock(&a->lock);
	}
	n = 2 + fz_below(t, 8);
	for (k = 0; k < n && !fz_racy(t); k++) {
		struct vext_assigned_irq irq = { .assigned_dev_id = dev.id,
						 .flags = VEXT_DEV_IRQ_HOST_INTX };
		struct vext_assigned_pci_dev m = { .assigned_dev_id = dev.id,
						   .err_fd = -1 };
		struct vext_assigned_dev_info info = { .assigned_dev_id = dev.id };
		const char *what = "?";
		__u64 v = 1;

		switch (fz_below(t, 7)) {
		case 0:
			what = "ASSIGN_DEV_IRQ";
			for (i = 0; i < 2; i++) {
				if (efd[i] >= 0)
					close(efd[i]);
				efd[i] = -1;
				use[i] = -1;
			}
			use[0] = fz_session_efd(t, &efd[0]);
			irq.trigger_fd = use[0];
			if (fz_chance(t, 60)) {
				irq.flags |= VEXT_DEV_IRQ_RESAMPLE;
				use[1] = fz_session_efd(t, &efd[1]);
				irq.resample_fd = use[1];
			}
			ret = fz_ioctl_ret(fd, VEXT_ASSIGN_DEV_IRQ, (uintptr_t)&irq);
			if (!ret)
				__atomic_add_fetch(&fz_session_irqs, 1, __ATOMIC_RELAXED);
			break;
		case 1:
			what = "DEASSIGN_DEV_IRQ";
			ret = fz_ioctl_ret(fd, VEXT_DEASSIGN_DEV_IRQ, (uintptr_t)&irq);
			break;
		case 2:
			what = "SET_INTX_MASK";
			m.flags = fz_chance(t, 50) ? VEXT_DEV_ASSIGN_MASK_INTX : 0;
			ret = fz_ioctl_ret(fd, VEXT_ASSIGN_SET_INTX_MASK, (uintptr_t)&m);
			break;
		case 3:
			what = "UNMASK";
			ret = fz_ioctl_ret(fd, VEXT_ASSIGNED_DEV_UNMASK, dev.id);
			break;
		case 4:
			what = "INFO";
			ret = fz_ioctl_ret(fd, VEXT_ASSIGNED_DEV_INFO, (uintptr_t)&info);
			break;
		case 5:
			/* The guest's EOI through the resample eventfd. */
			if (use[1] >= 0 && write(use[1], &v, sizeof(v)) < 0)
				v = 0;	/* a table fd closed meanwhile */
			break;
		default:
			for (i = 0; i < fz_nr_edu; i++) {
				struct fz_pcidev *p = &fz_edu[i];

				if (p->devfn != dev.devfn || !p->bar)
					continue;
				vext_mmio_write32(p->bar, EDU_REG_IRQ_RAISE, 1);
				if (fz_chance(t, 30))
					usleep(200);
				if (use[0] >= 0 && read(use[0], &v, sizeof(v)) < 0)
					v = 0;
				if (fz_chance(t, 85))
					vext_mmio_write32(p->bar, EDU_REG_IRQ_ACK, ~0u);
			}
			break;
		}
		if (!fz_racy(t) && !fz_errno_in(ret, irq_errs)) {
			ret = fz_fail(t, "id %u: %s: %s", dev.id, what, strerror(-ret));
			break;
		}
		ret = 0;
	}
	/* Our eventfds go: the kernel keeps what it holds of them. */
	for (i = 0; i < 2; i++)
		if (efd[i] >= 0)
			close(efd[i]);
	return ret ? -1 : 0;
}

static const struct fz_op fz_assign_ops[] = {
	{ .name = "device session", .on = { &fz_vext_vm }, .weight = 10,
	  .run = fz_op_session },
	{ .name = "edu INTx raise/ack", .on = { &fz_vext_vm }, .weight = 10,
	  .run = fz_op_edu_irq },
	{ .name = "eventfd signal/drain", .on = { &fz_eventfd }, .weight = 10,
	  .run = fz_op_eventfd },
	{ .name = "edu unbind/rebind", .on = { &fz_vext_vm }, .weight = 2,
	  .run = fz_op_rebind },
	{ .name = "fault_no_intx_mask", .on = { &fz_vext_vm }, .weight = 2,
	  .run = fz_op_nomask },
};

/* ---- audit and stable: debugfs assign_devices ---------------------------- */

/* The lines of assign_devices: count, or -errno. */
static int fz_assign_devices(struct fz_assign_line *l, int max)
{
	char buf[4096], *line, *save = NULL;
	int n = 0, ret = vext_debugfs_read("assign_devices", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save), n++) {
		char owner[8] = "";

		memset(&l[n], 0, sizeof(l[n]));
		if (sscanf(line, "%31s intx_disable %d %7s", l[n].name,
			   &l[n].intx_disable, owner) != 3)
			return -EPROTO;
		l[n].owned = strcmp(owner, "-");
		if (l[n].owned &&
		    sscanf(line, "%*s intx_disable %*d dom %u id %u %*s irq %u",
			   &l[n].dom, &l[n].id, &l[n].irq) != 3)
			return -EPROTO;
	}
	return n;
}

struct fz_assign_audit {
	struct fz_visitor v;
	unsigned int dom;
	bool found;
};

static int fz_assign_find_vm(struct fz_visitor *v, struct fz_obj *obj)
{
	struct fz_assign_audit *a = (struct fz_assign_audit *)v;

	if (obj->owner == getpid() && obj->val[0] == a->dom)
		a->found = true;
	return 0;
}

static int fz_assign_audit(struct fz_thread *t)
{
	struct fz_assign_line l[8];
	int i, n = fz_assign_devices(l, 8);

	if (n < 0)
		return fz_fail(t, "debugfs assign_devices: %s", strerror(-n));
	for (i = 0; i < n; i++) {
		struct fz_assign_audit a = { .v.fn = fz_assign_find_vm,
					     .dom = l[i].dom };

		if ((!l[i].owned || !l[i].irq) && l[i].intx_disable != 1)
			return fz_fail(t, "%s: INTx enabled with %s", l[i].name,
				       l[i].owned ? "no IRQ" : "no owner");
		if (!l[i].owned)
			continue;
		fz_visit_objs(&fz_vext_vm, &a.v);
		if (!a.found)
			return fz_fail(t, "%s: owned by domain %u, not a live VM",
				       l[i].name, l[i].dom);
	}
	return 0;
}

static int fz_assign_stable(struct fz_thread *t)
{
	struct fz_assign_line l[8];
	int i, n = fz_assign_devices(l, 8);

	if (n < 0)
		return fz_fail(t, "debugfs assign_devices: %s", strerror(-n));
	for (i = 0; i < n; i++)
		if (strcmp(l[i].name, fz_holder_name) &&
		    (l[i].owned || l[i].intx_disable != 1))
			return fz_fail(t, "%s: %s, intx_disable %d", l[i].name,
				       l[i].owned ? "still assigned" : "free",
				       l[i].intx_disable);
	return 0;
}

/* ---- failslab scenarios ------------------------------------------------------ */

/*
 * Context: fd[0] the VM, fd[1] trigger, fd[2] resample, fd[3] error
 * eventfd; the first edu as id 7.
 *
 * The holder: a VM of the driver's own that keeps the second edu (slot 8,
 * on the first one's line) assigned with its IRQ requested in PCI 2.3
 * mode for the whole sweep, so that the line's GSI stays mapped and its
 * /proc/irq/N directory registered. Otherwise the scenarios' first
 * request_irq() registers it, and an allocation failure injected there
 * (register_irq_proc() ignores each failed proc_create) ends in
 * "WARNING: ... remove_proc_entry: name 'smp_affinity'" when the last
 * pci_disable_device() unmaps the GSI and frees the descriptor: a genirq
 * weakness, not vext's, that the sweep would otherwise report forever.
 *
 * It also enables the first edu through sysfs "enable", so that the
 * scenarios' pci_enable_device() and pci_disable_device() only count:
 * each real one evaluates ACPI's _PRT, hundreds of allocations of
 * ACPICA's (not vext's) that would make the sweep far too long on the
 * debug kernel. INTx is masked again at once (enabling unmasks it).
 */
#define FZ_S_ID		7

static long fz_s_ioctl(int fd, unsigned long cmd, const void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int fz_holder_vm = -1, fz_holder_efd = -1, fz_holder_domid;

/*
 * sysfs "enable" of @p (which refuses while a driver is bound: unbound
 * for the write, bound to vext-pci again), INTx masked: 0 or -errno.
 */
static int fz_pci_enable(const struct fz_pcidev *p, bool on)
{
	char path[128];
	__u32 cmd;
	int ret;

	snprintf(path, sizeof(path), "%s/%s/enable", VEXT_PCI_SYSFS, p->name);
	ret = vext_pci_bind(p->name, NULL);
	if (!ret)
		ret = vext_file_write(path, on ? "1" : "0");
	if (!ret)
		ret = vext_pci_bind(p->name, FZ_PCI_DRV);
	else
		vext_pci_bind(p->name, FZ_PCI_DRV);
	if (!ret)
		ret = vext_pci_cfg_read(p->name, FZ_PCI_COMMAND, 2, &cmd);
	if (!ret)
		ret = vext_pci_cfg_write(p->name, FZ_PCI_COMMAND, 2,
					 cmd | FZ_PCI_INTX_DISABLE);
	return ret;
}

static int fz_s_holder(int dev)
{
	const struct fz_pcidev *p = &fz_edu[1];
	struct vext_assigned_pci_dev d = {
		.assigned_dev_id = 1, .segnr = p->seg, .busnr = p->bus,
		.devfn = p->devfn, .flags = VEXT_DEV_ASSIGN_PCI_2_3, .err_fd = -1,
	};
	struct vext_assigned_irq irq = {
		.assigned_dev_id = 1, .flags = VEXT_DEV_IRQ_HOST_INTX,
	};
	long ret;

	if (fz_holder_vm >= 0 || fz_nr_edu < 2)
		return 0;
	fz_holder_vm = ioctl(dev, VEXT_CREATE_VM, 0);
	fz_holder_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fz_holder_vm < 0 || fz_holder_efd < 0)
		return -errno;
	irq.trigger_fd = fz_holder_efd;
	ret = fz_s_ioctl(fz_holder_vm, VEXT_ASSIGN_PCI_DEVICE, &d);
	if (!ret)
		ret = fz_s_ioctl(fz_holder_vm, VEXT_ASSIGN_DEV_IRQ, &irq);
	if (ret) {
		fz_log("assign: the holder of %s: %s", p->name, strerror(-ret));
		return (int)ret;
	}
	memcpy(fz_holder_name, p->name, sizeof(fz_holder_name));
	fz_holder_domid = ioctl(fz_holder_vm, VEXT_GET_DOMID, 0);
	fz_hold_domid(fz_holder_domid, true);
	ret = fz_pci_enable(&fz_edu[0], true);
	if (ret)
		fz_log("assign: enabling %s: %s", fz_edu[0].name, strerror(-ret));
	return (int)ret;
}

static void fz_holder_release(void)
{
	if (fz_holder_vm >= 0) {
		fz_pci_enable(&fz_edu[0], false);
		close(fz_holder_vm);
		fz_hold_domid(fz_holder_domid, false);
	}
	if (fz_holder_efd >= 0)
		close(fz_holder_efd);
	fz_holder_vm = -1;
	fz_holder_efd = -1;
	fz_holder_name[0] = '\0';
}

static int fz_s_vm(struct fz_sctx *s)
{
	int i;

	if (!fz_nr_edu)
		return -ENODEV;
	i = fz_s_holder(s->dev);
	if (i)
		return i;
	s->fd[0] = ioctl(s->dev, VEXT_CREATE_VM, 0);
	if (s->fd[0] < 0)
		return -errno;
	for (i = 1; i <= 3; i++) {
		s->fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->fd[i] < 0)
			return -errno;
	}
	return 0;
}

static long fz_st_assign(struct fz_sctx *s)
{
	struct vext_assigned_pci_dev d = {
		.assigned_dev_id = FZ_S_ID, .segnr = fz_edu[0].seg,
		.busnr = fz_edu[0].bus, .devfn = fz_edu[0].devfn,
		.flags = VEXT_DEV_ASSIGN_PCI_2_3, .err_fd = s->fd[3],
	};

	return fz_s_ioctl(s->fd[0], VEXT_ASSIGN_PCI_DEVICE, &d);
}

static long fz_s_info(struct fz_sctx *s, struct vext_assigned_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	info->assigned_dev_id = FZ_S_ID;
	return fz_s_ioctl(s->fd[0], VEXT_ASSIGNED_DEV_INFO, info);
}

static int fz_sv_assign(struct fz_sctx *s, long ret)
{
	struct vext_assigned_dev_info info;

	(void)ret;
	if (fz_s_info(s, &info) || info.devfn != fz_edu[0].devfn ||
	    info.busnr != fz_edu[0].bus || (info.state & ~VEXT_ASSIGNED_HOST_MASKED))
		return -1;
	/* The device is taken now (its owner is checked before the id). */
	return fz_st_assign(s) == -EBUSY ? 0 : -1;
}

static int fz_s_assigned(struct fz_sctx *s)
{
	int ret = fz_s_vm(s);

	return ret ? ret : (int)fz_st_assign(s);
}

static long fz_st_irq(struct fz_sctx *s)
{
	struct vext_assigned_irq irq = {
		.assigned_dev_id = FZ_S_ID,
		.flags = VEXT_DEV_IRQ_HOST_INTX | VEXT_DEV_IRQ_RESAMPLE,
		.trigger_fd = s->fd[1], .resample_fd = s->fd[2],
	};

	return fz_s_ioctl(s->fd[0], VEXT_ASSIGN_DEV_IRQ, &irq);
}

/* An interrupt of the edu arrives on the trigger; the resample acks it. */
static int fz_sv_irq(struct fz_sctx *s, long ret)
{
	struct vext_assigned_dev_info info;
	struct pollfd p = { .fd = s->fd[1], .events = POLLIN };
	__u64 v = 1;
	int ok;

	(void)ret;
	if (fz_s_info(s, &info) ||
	    (info.state & (VEXT_ASSIGNED_IRQ | VEXT_ASSIGNED_RESAMPLE)) !=
	    (VEXT_ASSIGNED_IRQ | VEXT_ASSIGNED_RESAMPLE))
		return -1;
	if (!fz_edu[0].bar)
		return 0;
	vext_mmio_write32(fz_edu[0].bar, EDU_REG_IRQ_RAISE, 1);
	ok = poll(&p, 1, 5000) == 1 && read(s->fd[1], &v, sizeof(v)) == sizeof(v);
	vext_mmio_write32(fz_edu[0].bar, EDU_REG_IRQ_ACK, ~0u);
	v = 1;
	if (write(s->fd[2], &v, sizeof(v)) != sizeof(v))
		ok = 0;
	return ok ? 0 : -1;
}

static int fz_s_irq(struct fz_sctx *s)
{
	int ret = fz_s_assigned(s);

	return ret ? ret : (int)fz_st_irq(s);
}

static long fz_st_mask(struct fz_sctx *s)
{
	struct vext_assigned_pci_dev d = {
		.assigned_dev_id = FZ_S_ID, .flags = VEXT_DEV_ASSIGN_MASK_INTX,
		.err_fd = -1,
	};
	long ret = fz_s_ioctl(s->fd[0], VEXT_ASSIGN_SET_INTX_MASK, &d);

	if (ret)
		return ret;
	d.flags = 0;
	ret = fz_s_ioctl(s->fd[0], VEXT_ASSIGN_SET_INTX_MASK, &d);
	if (ret)
		return ret;
	return ioctl(s->fd[0], VEXT_ASSIGNED_DEV_UNMASK, FZ_S_ID) ? -errno : 0;
}

static int fz_sv_mask(struct fz_sctx *s, long ret)
{
	struct vext_assigned_dev_info info;

	(void)ret;
	return !fz_s_info(s, &info) && !(info.flags & VEXT_DEV_ASSIGN_MASK_INTX) ?
	       0 : -1;
}

static long fz_st_deassign(struct fz_sctx *s)
{
	struct vext_assigned_pci_dev d = { .assigned_dev_id = FZ_S_ID, .err_fd = -1 };

	return fz_s_ioctl(s->fd[0], VEXT_DEASSIGN_PCI_DEVICE, &d);
}

static int fz_sv_deassign(struct fz_sctx *s, long ret)
{
	struct vext_assigned_dev_info info;

	(void)ret;
	/* Gone from the VM, and free to assign again. */
	if (fz_s_info(s, &info) != -ENOENT || fz_st_assign(s))
		return -1;
	return 0;
}

static const struct fz_scenario fz_assign_scenarios[] = {
	{ .name = "ASSIGN_PCI_DEVICE", .setup = fz_s_vm, .step = fz_st_assign,
	  .verify = fz_sv_assign, .errs = { ENOMEM } },
	{ .name = "ASSIGN_DEV_IRQ (resample)", .setup = fz_s_assigned,
	  .step = fz_st_irq, .verify = fz_sv_irq, .errs = { ENOMEM } },
	{ .name = "SET_INTX_MASK, UNMASK", .setup = fz_s_irq, .step = fz_st_mask,
	  .verify = fz_sv_mask, .errs = { ENOMEM } },
	{ .name = "DEASSIGN_PCI_DEVICE", .setup = fz_s_irq,
	  .step = fz_st_deassign, .verify = fz_sv_deassign, .errs = { ENOMEM } },
};

static struct fz_fdtype *fz_assign_types[] = { NULL };

static struct fz_module fz_assign = {
	.name = "assign",
	.kmods = { FZ_ASSIGN_MODULE },
	.nr_first = 0x40, .nr_last = 0x5f,
	.fdtypes = fz_assign_types,
	.ioctls = fz_assign_ioctls, .nr_ioctls = FZ_ARRAY_SIZE(fz_assign_ioctls),
	.ops = fz_assign_ops, .nr_ops = FZ_ARRAY_SIZE(fz_assign_ops),
	.scenarios = fz_assign_scenarios,
	.nr_scenarios = FZ_ARRAY_SIZE(fz_assign_scenarios),
	.setup = fz_assign_setup,
	.teardown = fz_assign_teardown,
	.stable = fz_assign_stable,
	.audit = fz_assign_audit,
};

FZ_MODULE(fz_assign)
