// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_assign: PCI device assignment with PCI 2.3 INTx masking.
 *
 * Ownership. The "vext-pci" driver has an empty ID table: it binds only
 * devices an administrator hands over with driver_override (like vfio-pci
 * and pci-stub). A bound device has its INTx masked at the device (when it
 * can be) so that it cannot raise a line nobody handles. Only bound
 * devices can be assigned, each to at most one VM.
 *
 * A VM assigns a device by PCI address (VEXT_ASSIGN_PCI_DEVICE): the
 * device is enabled and its PCI state saved; deassignment (or the VM's
 * destruction, or its process dying) frees its IRQ, restores the state
 * and disables the device again, leaving INTx masked. If the device is
 * removed (sysfs remove, unbind, hot-unplug) while assigned, the driver's
 * .remove frees the IRQ, signals the assignment's error eventfd and marks
 * it gone; the VM keeps working and drops the entry with DEASSIGN.
 *
 * The locks and what they protect are described in assign_internal.h; the
 * INTx path in intx.c.
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "assign_internal.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static bool fault_no_intx_mask;
module_param(fault_no_intx_mask, bool, 0644);
MODULE_PARM_DESC(fault_no_intx_mask,
		 "Fault injection: treat every device as unable to mask INTx (PCI 2.3 requests fall back to an exclusive line)");

static DEFINE_MUTEX(vext_assign_lock);
static LIST_HEAD(vext_pci_devs);

static struct vext_component vext_assign_comp;
static struct pci_driver vext_pci_driver;
static struct dentry *vext_assign_stats_file, *vext_assign_devs_file;

enum { WHAT_ASSIGN, WHAT_DEASSIGN, WHAT_GONE };

static void vext_adev_trace(const struct vext_adev *ad, int what)
{
	trace_vext_assign_dev(ad->avm->vm->domid, ad->id, ad->seg, ad->bus,
			      ad->devfn, (ad->pci_2_3 ? VEXT_DEV_ASSIGN_PCI_2_3 : 0) |
			      (ad->guest_masked ? VEXT_DEV_ASSIGN_MASK_INTX : 0),
			      what);
}

/* Bound device of @pdev, or NULL. vext_assign_lock held. */
static struct vext_pci_dev *vext_pci_find(struct pci_dev *pdev)
{
	struct vext_pci_dev *vpd;

	lockdep_assert_held(&vext_assign_lock);
	list_for_each_entry(vpd, &vext_pci_devs, node)
		if (vpd->pdev == pdev)
			return vpd;
	return NULL;
}

/*
 * Let go of the hardware: IRQ freed, state restored, device disabled,
 * INTx left masked, binding and reference dropped. Both locks held.
 */
static void vext_adev_release_hw(struct vext_adev *ad, bool restore)
{
	struct pci_dev *pdev = ad->pdev;

	lockdep_assert_held(&vext_assign_lock);
	lockdep_assert_held(&ad->avm->lock);
	vext_intx_deassign(ad);
	if (restore) {
		pci_load_and_free_saved_state(pdev, &ad->saved);
		pci_restore_state(pdev);
	} else {
		kfree(ad->saved);
		ad->saved = NULL;
	}
	if (pci_intx_mask_supported(pdev))
		pci_intx(pdev, 0);
	pci_disable_device(pdev);
	ad->vpd->owner = NULL;
	ad->vpd = NULL;
	ad->pdev = NULL;
	pci_dev_put(pdev);
}

/* Drop an assignment from its VM and free it. Both locks held. */
static void vext_adev_destroy(struct vext_adev *ad)
{
	struct vext_assign_vm *avm = ad->avm;

	if (!ad->gone)
		vext_adev_release_hw(ad, true);
	vext_adev_trace(ad, WHAT_DEASSIGN);
	xa_erase(&avm->devs, ad->id);
	avm->nr--;
	if (ad->err)
		eventfd_ctx_put(ad->err);
	kfree(ad);
}

static int vext_check_zero(const void *p, size_t len)
{
	return memchr_inv(p, 0, len) ? -EINVAL : 0;
}

static long vext_assign_device(struct vext_assign_vm *avm,
			       const struct vext_assigned_pci_dev *req)
{
	struct eventfd_ctx *err = NULL;
	struct vext_pci_dev *vpd;
	struct vext_adev *ad;
	struct pci_dev *pdev;
	long ret;

	if ((req->flags & ~VEXT_DEV_ASSIGN_VALID_FLAGS) ||
	    vext_check_zero(req->reserved, sizeof(req->reserved)) ||
	    req->segnr > 0xffff || req->busnr > 0xff || req->devfn > 0xff ||
	    req->err_fd < -1)
		return -EINVAL;
	if (req->err_fd >= 0) {
		err = eventfd_ctx_fdget(req->err_fd);
		if (IS_ERR(err))
			return PTR_ERR(err);
	}

	pdev = pci_get_domain_bus_and_slot(req->segnr, req->busnr, req->devfn);
	if (!pdev) {
		ret = -ENODEV;
		goto err_ctx;
	}

	mutex_lock(&vext_assign_lock);
	mutex_lock(&avm->lock);
	vpd = vext_pci_find(pdev);
	if (!vpd) {
		ret = -EPERM;		/* not handed to vext-pci */
		goto err_unlock;
	}
	if (vpd->owner) {
		ret = -EBUSY;
		goto err_unlock;
	}
	if (xa_load(&avm->devs, req->assigned_dev_id)) {
		ret = -EEXIST;
		goto err_unlock;
	}
	if (avm->nr >= VEXT_MAX_ASSIGNED_DEVS) {
		ret = -ENOSPC;
		goto err_unlock;
	}

	ad = kzalloc(sizeof(*ad), GFP_KERNEL_ACCOUNT);
	if (!ad) {
		ret = -ENOMEM;
		goto err_unlock;
	}
	ad->avm = avm;
	ad->id = req->assigned_dev_id;
	ad->seg = req->segnr;
	ad->bus = req->busnr;
	ad->devfn = req->devfn;
	ad->guest_masked = req->flags & VEXT_DEV_ASSIGN_MASK_INTX;
	vext_intx_init(ad);
	snprintf(ad->name, sizeof(ad->name), "vext-intx(%s)", pci_name(pdev));

	ret = xa_insert(&avm->devs, ad->id, ad, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_free;

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_erase;
	/*
	 * Enabling cleared INTx-disable (the PCI core does that for legacy
	 * interrupts): mask again before anything can assert unhandled, and
	 * before the state that deassignment restores is saved.
	 */
	if (pci_intx_mask_supported(pdev))
		pci_intx(pdev, 0);
	pci_save_state(pdev);
	ad->saved = pci_store_saved_state(pdev);
	if (!ad->saved) {
		ret = -ENOMEM;
		goto err_disable;
	}
	/* Sharing needs masking that works; otherwise say so in INFO. */
	if (req->flags & VEXT_DEV_ASSIGN_PCI_2_3)
		ad->pci_2_3 = !READ_ONCE(fault_no_intx_mask) &&
			      vext_intx_mask_sticks(pdev);

	ad->vpd = vpd;
	ad->pdev = pdev;		/* the lookup's reference */
	ad->err = err;
	vpd->owner = ad;
	avm->nr++;
	vext_adev_trace(ad, WHAT_ASSIGN);
	mutex_unlock(&avm->lock);
	mutex_unlock(&vext_assign_lock);
	return 0;

err_disable:
	pci_disable_device(pdev);
err_erase:
	xa_erase(&avm->devs, ad->id);
err_free:
	kfree(ad);
err_unlock:
	mutex_unlock(&avm->lock);
	mutex_unlock(&vext_assign_lock);
	pci_dev_put(pdev);
err_ctx:
	if (err)
		eventfd_ctx_put(err);
	return ret;
}

static long vext_deassign_device(struct vext_assign_vm *avm,
				 const struct vext_assigned_pci_dev *req)
{
	struct vext_adev *ad;
	long ret = 0;

	if (req->busnr || req->devfn || req->flags || req->segnr ||
	    req->err_fd > 0 || req->err_fd < -1 ||
	    vext_check_zero(req->reserved, sizeof(req->reserved)))
		return -EINVAL;

	mutex_lock(&vext_assign_lock);
	mutex_lock(&avm->lock);
	ad = xa_load(&avm->devs, req->assigned_dev_id);
	if (ad)
		vext_adev_destroy(ad);
	else
		ret = -ENOENT;
	mutex_unlock(&avm->lock);
	mutex_unlock(&vext_assign_lock);
	return ret;
}

/* The device of @id, present. VM lock held. */
static struct vext_adev *vext_adev_get(struct vext_assign_vm *avm, u32 id,
				       long *err)
{
	struct vext_adev *ad = xa_load(&avm->devs, id);

	lockdep_assert_held(&avm->lock);
	if (!ad)
		*err = -ENOENT;
	else if (ad->gone)
		*err = -ENODEV;
	return *err ? NULL : ad;
}

static long vext_assign_irq(struct vext_assign_vm *avm,
			    const struct vext_assigned_irq *req, bool assign)
{
	struct vext_adev *ad;
	long ret = 0;

	if (vext_check_zero(req->reserved, sizeof(req->reserved)))
		return -EINVAL;
	if (assign) {
		if (!(req->flags & VEXT_DEV_IRQ_HOST_INTX) ||
		    (req->flags & ~VEXT_DEV_IRQ_VALID_FLAGS) ||
		    (!(req->flags & VEXT_DEV_IRQ_RESAMPLE) && req->resample_fd))
			return -EINVAL;
	} else if (req->flags != VEXT_DEV_IRQ_HOST_INTX || req->trigger_fd ||
		   req->resample_fd) {
		return -EINVAL;
	}

	mutex_lock(&avm->lock);
	ad = vext_adev_get(avm, req->assigned_dev_id, &ret);
	if (!ad)
		goto out;
	if (assign) {
		if (ad->irq_on)
			ret = -EBUSY;
		else
			ret = vext_intx_assign(ad, req);
	} else {
		if (!ad->irq_on)
			ret = -ENXIO;
		else
			vext_intx_deassign(ad);
	}
out:
	mutex_unlock(&avm->lock);
	return ret;
}

static long vext_set_intx_mask(struct vext_assign_vm *avm,
			       const struct vext_assigned_pci_dev *req)
{
	struct vext_adev *ad;
	long ret = 0;

	if ((req->flags & ~VEXT_DEV_ASSIGN_VALID_FLAGS) || req->busnr ||
	    req->devfn || req->segnr || req->err_fd > 0 || req->err_fd < -1 ||
	    vext_check_zero(req->reserved, sizeof(req->reserved)))
		return -EINVAL;

	mutex_lock(&avm->lock);
	ad = vext_adev_get(avm, req->assigned_dev_id, &ret);
	if (ad)
		vext_intx_set_guest_mask(ad, req->flags & VEXT_DEV_ASSIGN_MASK_INTX);
	mutex_unlock(&avm->lock);
	return ret;
}

static long vext_dev_unmask(struct vext_assign_vm *avm, unsigned long id)
{
	struct vext_adev *ad;
	long ret = 0;

	if (id > U32_MAX)
		return -EINVAL;
	mutex_lock(&avm->lock);
	ad = vext_adev_get(avm, id, &ret);
	if (ad && !ad->irq_on)
		ret = -ENXIO;
	else if (ad)
		vext_intx_unmask(ad);
	mutex_unlock(&avm->lock);
	return ret;
}

static long vext_dev_info(struct vext_assign_vm *avm,
			  struct vext_assigned_dev_info *info)
{
	struct vext_adev *ad;
	long ret = 0;
	u32 id = info->assigned_dev_id;

	if (info->flags || info->state || info->host_irq || info->segnr ||
	    info->busnr || info->devfn || info->pad ||
	    vext_check_zero(info->reserved, sizeof(info->reserved)))
		return -EINVAL;

	mutex_lock(&avm->lock);
	ad = xa_load(&avm->devs, id);
	if (!ad) {
		ret = -ENOENT;
		goto out;
	}
	memset(info, 0, sizeof(*info));
	info->assigned_dev_id = id;
	info->segnr = ad->seg;
	info->busnr = ad->bus;
	info->devfn = ad->devfn;
	info->host_irq = ad->host_irq;
	if (ad->pci_2_3)
		info->flags |= VEXT_DEV_ASSIGN_PCI_2_3;
	spin_lock_irq(&ad->irqlock);
	if (ad->guest_masked)
		info->flags |= VEXT_DEV_ASSIGN_MASK_INTX;
	if (ad->irq_on && ad->host_masked)
		info->state |= VEXT_ASSIGNED_HOST_MASKED;
	if (ad->irq_on && ad->host_masked && ad->delivered)
		info->state |= VEXT_ASSIGNED_PENDING;
	spin_unlock_irq(&ad->irqlock);
	if (ad->irq_on)
		info->state |= VEXT_ASSIGNED_IRQ;
	if (ad->resample)
		info->state |= VEXT_ASSIGNED_RESAMPLE;
	if (ad->gone)
		info->state |= VEXT_ASSIGNED_GONE;
out:
	mutex_unlock(&avm->lock);
	return ret;
}

static long vext_assign_vm_ioctl(struct vext_vm *vm, unsigned int cmd,
				 unsigned long arg)
{
	struct vext_assign_vm *avm = vext_vm_data(vm, &vext_assign_comp);
	void __user *argp = (void __user *)arg;
	union {
		struct vext_assigned_pci_dev dev;
		struct vext_assigned_irq irq;
		struct vext_assigned_dev_info info;
	} u;
	long ret;

	switch (cmd) {
	case VEXT_ASSIGNED_DEV_UNMASK:
		return vext_dev_unmask(avm, arg);
	case VEXT_ASSIGN_PCI_DEVICE:
	case VEXT_DEASSIGN_PCI_DEVICE:
	case VEXT_ASSIGN_SET_INTX_MASK:
		if (copy_from_user(&u.dev, argp, sizeof(u.dev)))
			return -EFAULT;
		if (cmd == VEXT_ASSIGN_PCI_DEVICE)
			return vext_assign_device(avm, &u.dev);
		if (cmd == VEXT_DEASSIGN_PCI_DEVICE)
			return vext_deassign_device(avm, &u.dev);
		return vext_set_intx_mask(avm, &u.dev);
	case VEXT_ASSIGN_DEV_IRQ:
	case VEXT_DEASSIGN_DEV_IRQ:
		if (copy_from_user(&u.irq, argp, sizeof(u.irq)))
			return -EFAULT;
		return vext_assign_irq(avm, &u.irq, cmd == VEXT_ASSIGN_DEV_IRQ);
	case VEXT_ASSIGNED_DEV_INFO:
		if (copy_from_user(&u.info, argp, sizeof(u.info)))
			return -EFAULT;
		ret = vext_dev_info(avm, &u.info);
		if (!ret && copy_to_user(argp, &u.info, sizeof(u.info)))
			ret = -EFAULT;
		return ret;
	}
	return -ENOTTY;
}

static int vext_assign_vm_init(struct vext_vm *vm)
{
	struct vext_assign_vm *avm = kzalloc(sizeof(*avm), GFP_KERNEL_ACCOUNT);

	if (!avm)
		return -ENOMEM;
	avm->vm = vm;
	mutex_init(&avm->lock);
	xa_init(&avm->devs);
	vm->comp_data[vext_assign_comp.id] = avm;
	return 0;
}

/* The VM is being freed (last fd closed, or its process died). */
static void vext_assign_vm_destroy(struct vext_vm *vm)
{
	struct vext_assign_vm *avm = vext_vm_data(vm, &vext_assign_comp);
	struct vext_adev *ad;
	unsigned long id;

	if (!avm)
		return;
	mutex_lock(&vext_assign_lock);
	mutex_lock(&avm->lock);
	xa_for_each(&avm->devs, id, ad)
		vext_adev_destroy(ad);
	mutex_unlock(&avm->lock);
	mutex_unlock(&vext_assign_lock);
	xa_destroy(&avm->devs);
	mutex_destroy(&avm->lock);
	kfree(avm);
	vm->comp_data[vext_assign_comp.id] = NULL;
}

static const u32 vext_assign_caps[] = { VEXT_CAP_PCI_ASSIGN, VEXT_CAP_PCI_2_3 };

static long vext_assign_check_extension(u32 cap)
{
	/* PCI_ASSIGN: devices per VM; PCI_2_3: the shared-line mode exists. */
	return cap == VEXT_CAP_PCI_ASSIGN ? VEXT_MAX_ASSIGNED_DEVS : 1;
}

static struct vext_component vext_assign_comp = {
	.name		= "assign",
	.owner		= THIS_MODULE,
	.ioctl_first	= 0x40,
	.ioctl_last	= 0x5f,
	.caps		= vext_assign_caps,
	.nr_caps	= ARRAY_SIZE(vext_assign_caps),
	.check_extension = vext_assign_check_extension,
	.vm_init	= vext_assign_vm_init,
	.vm_destroy	= vext_assign_vm_destroy,
	.vm_ioctl	= vext_assign_vm_ioctl,
};

/* ---- the vext-pci driver ------------------------------------------------ */

static int vext_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vext_pci_dev *vpd;

	/* Endpoints only: a bridge's INTx and resources are not its own. */
	if (pdev->hdr_type != PCI_HEADER_TYPE_NORMAL)
		return -EINVAL;
	vpd = kzalloc(sizeof(*vpd), GFP_KERNEL);
	if (!vpd)
		return -ENOMEM;
	vpd->pdev = pdev;
	/* Quiet from now on: no handler may be installed for a while. */
	if (pci_intx_mask_supported(pdev))
		pci_intx(pdev, 0);
	mutex_lock(&vext_assign_lock);
	list_add_tail(&vpd->node, &vext_pci_devs);
	mutex_unlock(&vext_assign_lock);
	pci_set_drvdata(pdev, vpd);
	return 0;
}

/* Unbind, sysfs remove, hot-unplug: take the device from its VM. */
static void vext_pci_remove(struct pci_dev *pdev)
{
	struct vext_pci_dev *vpd = pci_get_drvdata(pdev);
	struct vext_adev *ad;

	mutex_lock(&vext_assign_lock);
	ad = vpd->owner;
	if (ad) {
		struct vext_assign_vm *avm = ad->avm;

		mutex_lock(&avm->lock);
		vext_adev_release_hw(ad, false);
		ad->gone = true;
		vext_adev_trace(ad, WHAT_GONE);
		if (ad->err)
			vext_eventfd_signal(ad->err);
		mutex_unlock(&avm->lock);
		pci_warn(pdev, "removed while assigned to domain %u\n",
			 avm->vm->domid);
	}
	list_del(&vpd->node);
	mutex_unlock(&vext_assign_lock);
	if (pci_intx_mask_supported(pdev))
		pci_intx(pdev, 0);
	pci_set_drvdata(pdev, NULL);
	kfree(vpd);
}

static struct pci_driver vext_pci_driver = {
	.name		= "vext-pci",
	.id_table	= NULL,		/* driver_override only */
	.probe		= vext_pci_probe,
	.remove		= vext_pci_remove,
};

/* ---- debugfs ---------------------------------------------------------------- */

static const char * const vext_assign_stat_names[VEXT_ASSIGN_STAT_NR] = {
	[VEXT_ASSIGN_STAT_IRQ]		= "irq",
	[VEXT_ASSIGN_STAT_IRQ_NONE]	= "irq_none",
	[VEXT_ASSIGN_STAT_DELIVERED]	= "delivered",
	[VEXT_ASSIGN_STAT_GUEST_MASKED]	= "guest_masked",
	[VEXT_ASSIGN_STAT_UNMASK]	= "unmask",
	[VEXT_ASSIGN_STAT_REASSERT]	= "reassert",
	[VEXT_ASSIGN_STAT_RESAMPLE]	= "resample",
};

static int vext_assign_stats_show(struct seq_file *m, void *unused)
{
	unsigned int i;
	int cpu;

	for (i = 0; i < VEXT_ASSIGN_STAT_NR; i++) {
		u64 sum = 0;

		for_each_possible_cpu(cpu)
			sum += per_cpu(vext_assign_stats, cpu).v[i];
		seq_printf(m, "%s %llu\n", vext_assign_stat_names[i], sum);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vext_assign_stats);

/* One line per bound device: bdf, owner (domid:id or -) and state. */
static int vext_assign_devs_show(struct seq_file *m, void *unused)
{
	struct vext_pci_dev *vpd;

	mutex_lock(&vext_assign_lock);
	list_for_each_entry(vpd, &vext_pci_devs, node) {
		struct vext_adev *ad = vpd->owner;
		u16 cmd;

		pci_read_config_word(vpd->pdev, PCI_COMMAND, &cmd);
		seq_printf(m, "%s intx_disable %d", pci_name(vpd->pdev),
			   !!(cmd & PCI_COMMAND_INTX_DISABLE));
		if (!ad) {
			seq_puts(m, " -\n");
			continue;
		}
		mutex_lock(&ad->avm->lock);
		spin_lock_irq(&ad->irqlock);
		seq_printf(m, " dom %u id %u %s irq %u host_masked %d guest_masked %d delivered %d\n",
			   ad->avm->vm->domid, ad->id,
			   ad->pci_2_3 ? "pci-2.3" : "exclusive", ad->host_irq,
			   ad->host_masked, ad->guest_masked, ad->delivered);
		spin_unlock_irq(&ad->irqlock);
		mutex_unlock(&ad->avm->lock);
	}
	mutex_unlock(&vext_assign_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vext_assign_devs);

static int __init vext_assign_init(void)
{
	int ret;

	ret = pci_register_driver(&vext_pci_driver);
	if (ret)
		return ret;
	vext_assign_stats_file = debugfs_create_file("assign_stats", 0444,
						     vext_debugfs_dir(), NULL,
						     &vext_assign_stats_fops);
	vext_assign_devs_file = debugfs_create_file("assign_devices", 0444,
						    vext_debugfs_dir(), NULL,
						    &vext_assign_devs_fops);
	ret = vext_register_component(&vext_assign_comp);
	if (ret) {
		debugfs_remove(vext_assign_devs_file);
		debugfs_remove(vext_assign_stats_file);
		pci_unregister_driver(&vext_pci_driver);
	}
	return ret;
}

static void __exit vext_assign_exit(void)
{
	/* No VM is attached: each would hold a reference on this module. */
	vext_unregister_component(&vext_assign_comp);
	debugfs_remove(vext_assign_devs_file);
	debugfs_remove(vext_assign_stats_file);
	pci_unregister_driver(&vext_pci_driver);
}

module_init(vext_assign_init);
module_exit(vext_assign_exit);

MODULE_DESCRIPTION("vext PCI device assignment with PCI 2.3 INTx masking and host IRQ sharing");
MODULE_AUTHOR("The vext developers");
MODULE_LICENSE("GPL");
