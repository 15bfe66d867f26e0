/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext_assign: state shared by assign.c (ownership, ioctls, the vext-pci
 * driver) and intx.c (the INTx path).
 *
 * Locks, outermost first (the 2012 review of KVM's PCI 2.3 patch asked
 * what each one protects; here it is):
 *
 *  vext_assign_lock   (mutex, global) the list of devices bound to
 *                     vext-pci and the device <-> assignment links
 *                     (vext_pci_dev.owner, vext_adev.vpd). Taken by
 *                     assign, deassign, VM destruction and the driver's
 *                     probe/remove, never on an interrupt path.
 *  vext_assign_vm.lock (mutex, one per VM) the VM's table of assigned
 *                     devices and, for each of them, everything that only
 *                     changes from process context: the IRQ being
 *                     requested or freed, the eventfds, the saved PCI
 *                     state. It is also the one lock serialising every
 *                     mask and unmask request from outside the interrupt
 *                     path (SET_INTX_MASK, UNMASK, IRQ setup/teardown,
 *                     removal), as VFIO learnt to do (CVE-2024-26810).
 *  vext_adev.irqlock  (spinlock, taken with IRQs off) the device's mask
 *                     state: host_masked, guest_masked, delivered, and
 *                     the INTx-disable bit / line disable they stand for.
 *                     The hard handler and the resample eventfd's wake-up
 *                     callback take only this lock; nothing under it
 *                     sleeps or takes an eventfd's lock.
 *
 * Lifetime: a vext_adev belongs to its VM's table and is freed by
 * DEASSIGN or VM destruction, with the VM lock held, after its IRQ is
 * freed, its resample callback unhooked and its re-signal work flushed.
 * Removal of the PCI device (vext-pci's .remove) tears the IRQ down and
 * unlinks the device but leaves the vext_adev in the table, marked gone.
 */
#ifndef _VEXT_ASSIGN_INTERNAL_H
#define _VEXT_ASSIGN_INTERNAL_H

#include <linux/eventfd.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <vext/core.h>

struct vext_adev;

/**
 * struct vext_pci_dev - a device bound to the vext-pci driver
 * @pdev:         the device
 * @node:         on vext_pci_devs (vext_assign_lock)
 * @owner:        the assignment using it, or NULL (vext_assign_lock)
 */
struct vext_pci_dev {
	struct pci_dev *pdev;
	struct list_head node;
	struct vext_adev *owner;
};

/**
 * struct vext_assign_vm - vext_assign's state of one VM
 * @vm:    the VM
 * @lock:  see the top of this file
 * @devs:  assigned devices by assigned_dev_id
 * @nr:    number of entries in @devs
 */
struct vext_assign_vm {
	struct vext_vm *vm;
	struct mutex lock;	/* devs, nr; mask/unmask requests */
	struct xarray devs;
	unsigned int nr;
};

/**
 * struct vext_adev - a device assigned to a VM
 * @avm:          owning VM state
 * @id:           assigned_dev_id
 * @vpd:          the vext-pci binding, NULL once the device is gone
 * @pdev:         the device (reference held), NULL once gone
 * @seg, @bus, @devfn: its address, kept for queries after removal
 * @saved:        PCI state saved at assignment
 * @err:          eventfd signalled on removal, or NULL
 * @gone:         the device was removed from under the VM
 * @pci_2_3:      shared-line mode in force (INTx masked at the device)
 * @irq_on:       the IRQ is requested
 * @host_irq:     the IRQ number while @irq_on
 * @trigger:      eventfd signalled per delivered interrupt (@irq_on)
 * @resample:     resample eventfd or NULL
 * @resample_wait: our entry on @resample's wait queue
 * @resample_pt:  poll table used to hook @resample_wait
 * @resignal_work: signals @trigger when the resample callback found the
 *                device still asserting (it may not signal itself)
 * @irqlock:      protects the four fields below, see the top of the file
 * @host_masked:  INTx is masked by us: the INTx-disable bit (@pci_2_3) or
 *                the disabled line (exclusive mode)
 * @guest_masked: the guest's mask (VEXT_ASSIGN_SET_INTX_MASK)
 * @delivered:    @trigger was signalled for the current masked period and
 *                the VMM owes an ack (UNMASK or the resample eventfd)
 * @name:         IRQ action name, "vext-intx(<bdf>)"
 */
struct vext_adev {
	struct vext_assign_vm *avm;
	u32 id;
	struct vext_pci_dev *vpd;
	struct pci_dev *pdev;
	u16 seg;
	u8 bus;
	u8 devfn;
	struct pci_saved_state *saved;
	struct eventfd_ctx *err;
	bool gone;
	bool pci_2_3;
	bool irq_on;
	unsigned int host_irq;
	struct eventfd_ctx *trigger;
	struct eventfd_ctx *resample;
	wait_queue_entry_t resample_wait;
	poll_table resample_pt;
	struct work_struct resignal_work;
	spinlock_t irqlock;	/* the mask state below */
	bool host_masked;
	bool guest_masked;
	bool delivered;
	char name[32];
};

/* Per-CPU event counters, summed in debugfs vext/assign_stats. */
enum vext_assign_stat {
	VEXT_ASSIGN_STAT_IRQ,		/* interrupts claimed by the handler */
	VEXT_ASSIGN_STAT_IRQ_NONE,	/* handler calls that were not ours */
	VEXT_ASSIGN_STAT_DELIVERED,	/* trigger signals (all paths) */
	VEXT_ASSIGN_STAT_GUEST_MASKED,	/* interrupts held while guest-masked */
	VEXT_ASSIGN_STAT_UNMASK,	/* hardware unmasks */
	VEXT_ASSIGN_STAT_REASSERT,	/* unmask found INTx still asserted */
	VEXT_ASSIGN_STAT_RESAMPLE,	/* resample eventfd signals handled */
	VEXT_ASSIGN_STAT_NR
};

struct vext_assign_pcpu {
	u64 v[VEXT_ASSIGN_STAT_NR];
};

DECLARE_PER_CPU(struct vext_assign_pcpu, vext_assign_stats);

static inline void vext_assign_stat_inc(enum vext_assign_stat s)
{
	this_cpu_inc(vext_assign_stats.v[s]);
}

/* intx.c */
void vext_intx_init(struct vext_adev *ad);
int vext_intx_assign(struct vext_adev *ad, const struct vext_assigned_irq *irq);
void vext_intx_deassign(struct vext_adev *ad);
void vext_intx_unmask(struct vext_adev *ad);
void vext_intx_set_guest_mask(struct vext_adev *ad, bool masked);
bool vext_intx_mask_sticks(struct pci_dev *pdev);

#endif /* _VEXT_ASSIGN_INTERNAL_H */
