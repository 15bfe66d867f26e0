// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_assign: the INTx path of an assigned device.
 *
 * Two modes, chosen at assignment (VEXT_ASSIGNED_DEV_INFO reports which):
 *
 *  PCI 2.3 (shared line). The device can mask its own INTx (command
 *  register bit 10) and says whether it asserts (status bit 3). The IRQ is
 *  requested IRQF_SHARED; the hard handler claims an interrupt only if the
 *  device is not masked by us already and pci_check_and_mask_intx() finds
 *  it asserting, which masks it in the same locked config cycle. Everything
 *  else on the line is someone else's: IRQ_NONE.
 *
 *  Exclusive. The device cannot mask itself (or the VMM did not ask for
 *  sharing): the line must be ours alone. It is requested with
 *  IRQF_NO_AUTOEN, so it starts disabled with a depth of exactly one and
 *  is enabled once by the first unmask (requesting it enabled and then
 *  disabling it could stack two disables, CVE-2024-27437), and without
 *  IRQF_SHARED, so that no later request can join the line. The handler
 *  disables the line (disable_irq_nosync(), once per masked period,
 *  tracked by host_masked) and the ack re-enables it (enable_irq()). A
 *  line already in use refuses the request: -EBUSY.
 *  No IRQF_ONESHOT (as in VFIO): genirq never force-threads a handler
 *  requested with it, so on PREEMPT_RT this handler would run in hard IRQ
 *  context, where irqlock (a spinlock_t) and eventfd_signal() sleep; the
 *  selftests hit "BUG: scheduling while atomic" that way on Debian's 6.12
 *  RT kernel. disable_irq_nosync() alone keeps the line off until the ack.
 *
 * Both handlers use only irqlock and eventfd_signal(), so on PREEMPT_RT
 * they run force-threaded, like VFIO's.
 *
 * Delivery: the handler signals the trigger eventfd unless the guest has
 * INTx masked; then it only masks (masking at the hardware happens on
 * demand, when an interrupt actually arrives) and holds the interrupt.
 * Ack (VEXT_ASSIGNED_DEV_UNMASK or the resample eventfd): while the guest
 * masks, the ack is only recorded; otherwise the device is unmasked with
 * pci_check_and_unmask_intx(), and if it still asserts it stays masked and
 * the trigger is signalled again, so no interrupt is ever lost. When the
 * guest unmasks, a held interrupt that still asserts is delivered once.
 *
 * The resample eventfd's wake-up callback does the unmask directly, under
 * the eventfd's wait-queue lock (as VFIO's virqfd does); a re-signal from
 * there is deferred to a work item, because signalling one eventfd from
 * another's wake-up (KVM's resampler signals with current->in_eventfd set)
 * is not allowed.
 */
#include <linux/file.h>
#include <linux/interrupt.h>
#include <linux/poll.h>
#include "assign_internal.h"
#include "trace.h"

enum { SRC_IOCTL, SRC_RESAMPLE, SRC_GUEST };
enum { R_UNMASKED, R_ASSERTED, R_IDLE, R_GUEST_MASKED };

DEFINE_PER_CPU(struct vext_assign_pcpu, vext_assign_stats);

static u16 vext_adev_domid(const struct vext_adev *ad)
{
	return ad->avm->vm->domid;
}

/**
 * vext_intx_mask_sticks() - mask INTx at @pdev and check that it took
 * @pdev: the device
 *
 * The kernel already tried to toggle the INTx-disable bit at enumeration
 * (broken_intx_masking); this checks again, in the masking direction only
 * (never unmasking a device that may assert), that setting it sticks.
 *
 * Return: true if @pdev supports PCI 2.3 INTx masking; it is masked then.
 */
bool vext_intx_mask_sticks(struct pci_dev *pdev)
{
	u16 cmd;

	if (!pci_intx_mask_supported(pdev))
		return false;
	pci_intx(pdev, 0);
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	return cmd & PCI_COMMAND_INTX_DISABLE;
}

/*
 * Unmask at the hardware. Called with irqlock held, host_masked set, the
 * guest not masking. R_ASSERTED: still asserted, stays masked, the caller
 * signals the trigger again.
 */
static int vext_intx_hw_unmask(struct vext_adev *ad)
{
	if (!ad->pci_2_3) {
		ad->host_masked = false;
		ad->delivered = false;
		enable_irq(ad->host_irq);
	} else if (pci_check_and_unmask_intx(ad->pdev)) {
		ad->host_masked = false;
		ad->delivered = false;
	} else {
		ad->delivered = true;
		return R_ASSERTED;
	}
	vext_assign_stat_inc(VEXT_ASSIGN_STAT_UNMASK);
	return R_UNMASKED;
}

/* The VMM's ack, from the UNMASK ioctl or the resample eventfd. irqlock held. */
static int vext_intx_ack(struct vext_adev *ad)
{
	if (!ad->irq_on || !ad->host_masked)
		return R_IDLE;
	if (ad->guest_masked) {
		/* No unmask now: the guest's unmask will look again. */
		ad->delivered = false;
		return R_GUEST_MASKED;
	}
	return vext_intx_hw_unmask(ad);
}

static void vext_intx_signal(struct vext_adev *ad, bool reassert)
{
	vext_assign_stat_inc(VEXT_ASSIGN_STAT_DELIVERED);
	if (reassert) {
		vext_assign_stat_inc(VEXT_ASSIGN_STAT_REASSERT);
		trace_vext_assign_reassert(vext_adev_domid(ad), ad->id);
	}
	vext_eventfd_signal(ad->trigger);
}

static irqreturn_t vext_intx_handler(int irq, void *data)
{
	struct vext_adev *ad = data;
	bool claimed = false, deliver = false;
	unsigned long flags;

	spin_lock_irqsave(&ad->irqlock, flags);
	if (!ad->pci_2_3) {
		/* An exclusive line: the interrupt is ours. */
		claimed = true;
		if (!ad->host_masked) {
			disable_irq_nosync(irq);
			ad->host_masked = true;
			deliver = !ad->guest_masked;
			ad->delivered = deliver;
		}
	} else if (!ad->host_masked && pci_check_and_mask_intx(ad->pdev)) {
		claimed = true;
		ad->host_masked = true;
		deliver = !ad->guest_masked;
		ad->delivered = deliver;
	}
	spin_unlock_irqrestore(&ad->irqlock, flags);

	if (!claimed) {
		vext_assign_stat_inc(VEXT_ASSIGN_STAT_IRQ_NONE);
		return IRQ_NONE;
	}
	vext_assign_stat_inc(VEXT_ASSIGN_STAT_IRQ);
	trace_vext_assign_intx(vext_adev_domid(ad), ad->id, irq, deliver);
	if (deliver)
		vext_intx_signal(ad, false);
	else
		vext_assign_stat_inc(VEXT_ASSIGN_STAT_GUEST_MASKED);
	return IRQ_HANDLED;
}

/**
 * vext_intx_unmask() - the VMM acks the delivered interrupt (ioctl)
 * @ad: the device, with its VM's lock held and its IRQ assigned
 */
void vext_intx_unmask(struct vext_adev *ad)
{
	int r;

	lockdep_assert_held(&ad->avm->lock);
	spin_lock_irq(&ad->irqlock);
	r = vext_intx_ack(ad);
	spin_unlock_irq(&ad->irqlock);
	trace_vext_assign_unmask(vext_adev_domid(ad), ad->id, SRC_IOCTL, r);
	if (r == R_ASSERTED)
		vext_intx_signal(ad, true);
}

/**
 * vext_intx_set_guest_mask() - the guest's INTx mask
 * @ad:     the device, with its VM's lock held
 * @masked: the new mask
 *
 * Masking takes effect at the next interrupt. Unmasking looks at an
 * interrupt held meanwhile (or acked while masked) and delivers it once if
 * the device still asserts; one delivered and not yet acked stays so.
 */
void vext_intx_set_guest_mask(struct vext_adev *ad, bool masked)
{
	int r = R_IDLE;

	lockdep_assert_held(&ad->avm->lock);
	spin_lock_irq(&ad->irqlock);
	ad->guest_masked = masked;
	if (!masked && ad->irq_on && ad->host_masked && !ad->delivered)
		r = vext_intx_hw_unmask(ad);
	spin_unlock_irq(&ad->irqlock);
	trace_vext_assign_mask(vext_adev_domid(ad), ad->id, masked);
	if (!masked)
		trace_vext_assign_unmask(vext_adev_domid(ad), ad->id, SRC_GUEST, r);
	if (r == R_ASSERTED)
		vext_intx_signal(ad, false);
}

/* Deferred re-signal of the resample path. */
static void vext_intx_resignal_fn(struct work_struct *work)
{
	struct vext_adev *ad = container_of(work, struct vext_adev, resignal_work);

	/* Cancelled (synchronously) before the trigger is released. */
	vext_intx_signal(ad, true);
}

/*
 * Wake-up callback of the resample eventfd: runs with its wait-queue lock
 * held and IRQs off, in whatever context signalled it.
 */
static int vext_intx_resample_wake(wait_queue_entry_t *wait, unsigned int mode,
				   int sync, void *key)
{
	struct vext_adev *ad = container_of(wait, struct vext_adev, resample_wait);
	unsigned long flags;
	u64 cnt;
	int r;

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	eventfd_ctx_do_read(ad->resample, &cnt);
	vext_assign_stat_inc(VEXT_ASSIGN_STAT_RESAMPLE);

	spin_lock_irqsave(&ad->irqlock, flags);
	r = vext_intx_ack(ad);
	spin_unlock_irqrestore(&ad->irqlock, flags);
	trace_vext_assign_unmask(vext_adev_domid(ad), ad->id, SRC_RESAMPLE, r);
	if (r == R_ASSERTED)
		queue_work(system_highpri_wq, &ad->resignal_work);
	return 0;
}

static void vext_intx_resample_queue(struct file *file, wait_queue_head_t *wqh,
				     poll_table *pt)
{
	struct vext_adev *ad = container_of(pt, struct vext_adev, resample_pt);

	add_wait_queue(wqh, &ad->resample_wait);
}

/**
 * vext_intx_init() - initialise the INTx state of a new assignment
 * @ad: the assignment
 */
void vext_intx_init(struct vext_adev *ad)
{
	spin_lock_init(&ad->irqlock);
	INIT_WORK(&ad->resignal_work, vext_intx_resignal_fn);
}

/* Take a reference on the eventfd behind @fd: -EBADF, -EINVAL or 0. */
static int vext_intx_get_eventfd(int fd, struct eventfd_ctx **ctx,
				 struct file **filep)
{
	struct file *file = fd >= 0 ? fget(fd) : NULL;
	struct eventfd_ctx *c;

	if (!file)
		return -EBADF;
	c = eventfd_ctx_fileget(file);
	if (IS_ERR(c)) {
		fput(file);
		return PTR_ERR(c);
	}
	*ctx = c;
	if (filep)
		*filep = file;
	else
		fput(file);
	return 0;
}

/**
 * vext_intx_assign() - request the device's INTx and start delivering it
 * @ad:  the device, with its VM's lock held, present and without an IRQ
 * @req: the validated request
 *
 * Return: 0; -ENODEV if the device has no INTx (pin or IRQ); -EBADF or
 * -EINVAL for a bad eventfd (or one used as both trigger and resample);
 * -EBUSY if an exclusive line is in use (or a shared one is held
 * exclusively); another request_irq() error.
 */
int vext_intx_assign(struct vext_adev *ad, const struct vext_assigned_irq *req)
{
	struct pci_dev *pdev = ad->pdev;
	struct eventfd_ctx *trigger, *resample = NULL;
	struct file *rfile = NULL;
	unsigned long irqflags;
	int ret;

	lockdep_assert_held(&ad->avm->lock);
	if (!pdev->pin || !pdev->irq || pdev->irq == IRQ_NOTCONNECTED)
		return -ENODEV;
	ret = vext_intx_get_eventfd(req->trigger_fd, &trigger, NULL);
	if (ret)
		return ret;
	if (req->flags & VEXT_DEV_IRQ_RESAMPLE) {
		ret = vext_intx_get_eventfd(req->resample_fd, &resample, &rfile);
		if (ret)
			goto err_trigger;
		/* Its own ack would swallow every delivery. */
		if (resample == trigger) {
			fput(rfile);
			eventfd_ctx_put(resample);
			ret = -EINVAL;
			goto err_trigger;
		}
	}

	ad->trigger = trigger;
	ad->resample = resample;
	ad->host_irq = pdev->irq;
	spin_lock_irq(&ad->irqlock);
	ad->host_masked = true;		/* until the first unmask below */
	ad->delivered = false;
	spin_unlock_irq(&ad->irqlock);

	/*
	 * IRQF_PROBE_SHARED: a line held in a way we cannot join is an
	 * expected answer here (-EBUSY, explained below), not a driver bug for
	 * genirq to report with a stack dump (CONFIG_DEBUG_SHIRQ).
	 */
	if (ad->pci_2_3) {
		/* Masked since the device was bound; the handler ignores it. */
		pci_intx(pdev, 0);
		irqflags = IRQF_SHARED | IRQF_PROBE_SHARED;
	} else {
		irqflags = IRQF_NO_AUTOEN | IRQF_PROBE_SHARED;
	}
	ret = request_irq(ad->host_irq, vext_intx_handler, irqflags, ad->name, ad);
	if (ret == -EBUSY)
		pci_info_ratelimited(pdev, "IRQ %u: %s\n", ad->host_irq,
				     ad->pci_2_3 ? "held exclusively by another driver" :
				     "in use, cannot be had exclusively");
	if (ret)
		goto err_resample;
	/* Exclusive: the line is off; let the device drive it. */
	if (!ad->pci_2_3)
		pci_intx(pdev, 1);

	spin_lock_irq(&ad->irqlock);
	ad->irq_on = true;
	spin_unlock_irq(&ad->irqlock);

	if (resample) {
		/* Signals sent before this point are not acks of anything. */
		init_waitqueue_func_entry(&ad->resample_wait, vext_intx_resample_wake);
		init_poll_funcptr(&ad->resample_pt, vext_intx_resample_queue);
		vfs_poll(rfile, &ad->resample_pt);
		fput(rfile);
	}
	trace_vext_assign_irq(vext_adev_domid(ad), ad->id, ad->host_irq,
			      ad->pci_2_3, true);

	/* Start unmasked unless the guest masks: a pending one is delivered. */
	vext_intx_set_guest_mask(ad, ad->guest_masked);
	return 0;

err_resample:
	ad->trigger = NULL;
	ad->resample = NULL;
	ad->host_irq = 0;
	if (resample) {
		fput(rfile);
		eventfd_ctx_put(resample);
	}
err_trigger:
	eventfd_ctx_put(trigger);
	return ret;
}

/**
 * vext_intx_deassign() - stop delivering and free the IRQ
 * @ad: the device, with its VM's lock held and its IRQ assigned
 *
 * The device is left with INTx disabled (if it can be), so that it cannot
 * raise a line that nobody handles any more ("nobody cared").
 */
void vext_intx_deassign(struct vext_adev *ad)
{
	u64 cnt;

	lockdep_assert_held(&ad->avm->lock);
	if (!ad->irq_on)
		return;
	/* First no more acks: after this no resample callback runs. */
	if (ad->resample)
		eventfd_ctx_remove_wait_queue(ad->resample, &ad->resample_wait, &cnt);

	spin_lock_irq(&ad->irqlock);
	ad->irq_on = false;
	/* The handler must not claim the line from now on. */
	if (pci_intx_mask_supported(ad->pdev))
		pci_intx(ad->pdev, 0);
	if (ad->pci_2_3)
		ad->host_masked = true;
	spin_unlock_irq(&ad->irqlock);

	free_irq(ad->host_irq, ad);	/* waits for a running handler */
	cancel_work_sync(&ad->resignal_work);
	trace_vext_assign_irq(vext_adev_domid(ad), ad->id, ad->host_irq,
			      ad->pci_2_3, false);

	spin_lock_irq(&ad->irqlock);
	ad->host_masked = false;
	ad->delivered = false;
	spin_unlock_irq(&ad->irqlock);
	eventfd_ctx_put(ad->trigger);
	ad->trigger = NULL;
	if (ad->resample)
		eventfd_ctx_put(ad->resample);
	ad->resample = NULL;
	ad->host_irq = 0;
}
