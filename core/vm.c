// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_core: VMs (domains), their fds and memory slots.
 *
 * A VM is reference counted: its fd holds one reference and every vCPU fd
 * another, so the VM lives until the last of them is closed (a mapping of a
 * vCPU page holds its file and therefore the VM too). The domid is released
 * only when the VM is freed, and domids are handed out cyclically, so a
 * stale domid does not name a new VM right after the old one went away.
 */
#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "core_internal.h"

/*
 * Live VMs by domid. An entry is reserved (NULL) while its VM is being
 * built and published only once the VM is complete; the xarray's own lock
 * serialises lookups against removal.
 */
static DEFINE_XARRAY_ALLOC(vext_domains);
static u32 vext_next_domid = VEXT_MIN_DOMID;

static void vext_vm_free(struct kref *kref)
{
	struct vext_vm *vm = container_of(kref, struct vext_vm, refcount);
	struct vext_vcpu *vcpu;
	unsigned long id;

	xa_for_each(&vm->vcpus, id, vcpu)
		vext_vcpu_free(vcpu);
	xa_destroy(&vm->vcpus);
	vext_detach_components(vm);
	mmdrop(vm->mm);
	/* Last: only now may the domid name another VM. */
	xa_erase(&vext_domains, vm->domid);
	mutex_destroy(&vm->lock);
	kfree(vm);
}

/**
 * vext_vm_get() - take a reference on a VM
 * @vm: a VM the caller already holds a reference on
 */
void vext_vm_get(struct vext_vm *vm)
{
	kref_get(&vm->refcount);
}
EXPORT_SYMBOL_GPL(vext_vm_get);

/**
 * vext_vm_put() - drop a reference on a VM
 * @vm: the VM; freed (with all its vCPUs) when this was the last reference
 *
 * May sleep: freeing runs the components' destroy hooks.
 */
void vext_vm_put(struct vext_vm *vm)
{
	might_sleep();
	kref_put(&vm->refcount, vext_vm_free);
}
EXPORT_SYMBOL_GPL(vext_vm_put);

/**
 * vext_vm_get_by_domid() - look up a live VM by domid
 * @domid: the domain id
 *
 * Return: the VM with a reference taken (release with vext_vm_put()), or
 * NULL if no complete, live VM has that domid.
 */
struct vext_vm *vext_vm_get_by_domid(u16 domid)
{
	struct vext_vm *vm;

	xa_lock(&vext_domains);
	vm = xa_load(&vext_domains, domid);
	if (vm && !kref_get_unless_zero(&vm->refcount))
		vm = NULL;
	xa_unlock(&vext_domains);
	return vm;
}
EXPORT_SYMBOL_GPL(vext_vm_get_by_domid);

/**
 * vext_vm_gpa_to_hva() - translate a guest-physical address
 * @vm:    the VM
 * @gpa:   guest-physical address
 * @hva:   where to store the user-space address in the VM creator's mm
 * @write: the caller intends to write through the translation
 *
 * Return: 0 on success; -ENOENT if no memory slot covers @gpa; -EPERM if
 * @write is set and the slot is read-only.
 */
int vext_vm_gpa_to_hva(struct vext_vm *vm, u64 gpa, u64 *hva, bool write)
{
	int ret = -ENOENT;
	unsigned int i;

	mutex_lock(&vm->lock);
	for (i = 0; i < VEXT_NR_MEMSLOTS; i++) {
		const struct vext_memslot *s = &vm->slots[i];

		if (!s->size || gpa < s->gpa || gpa - s->gpa >= s->size)
			continue;
		if (write && (s->flags & VEXT_MEM_READONLY)) {
			ret = -EPERM;
		} else {
			*hva = s->uaddr + (gpa - s->gpa);
			ret = 0;
		}
		break;
	}
	mutex_unlock(&vm->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(vext_vm_gpa_to_hva);

static bool vext_slots_overlap(const struct vext_memslot *s, u64 gpa, u64 size)
{
	return s->size && gpa < s->gpa + s->size && s->gpa < gpa + size;
}

/*
 * KVM's rules: page-aligned, no overlap, size 0 deletes, an existing slot
 * may only be moved. Validation that needs no lock comes first.
 */
static int vext_set_memory_region(struct vext_vm *vm,
				  const struct vext_userspace_memory_region *mem)
{
	struct vext_memslot *slot;
	unsigned int i, idx;
	int ret = 0;

	if (mem->flags & ~VEXT_MEM_VALID_FLAGS)
		return -EINVAL;
	if (mem->slot >= VEXT_NR_MEMSLOTS)
		return -EINVAL;
	idx = array_index_nospec(mem->slot, VEXT_NR_MEMSLOTS);
	if (!PAGE_ALIGNED(mem->guest_phys_addr) ||
	    !PAGE_ALIGNED(mem->memory_size) ||
	    !PAGE_ALIGNED(mem->userspace_addr))
		return -EINVAL;
	if (mem->memory_size) {
		if (mem->memory_size > VEXT_MAX_MEMSLOT_SIZE ||
		    mem->guest_phys_addr + mem->memory_size < mem->guest_phys_addr ||
		    mem->userspace_addr != (unsigned long)mem->userspace_addr ||
		    !access_ok(u64_to_user_ptr(mem->userspace_addr),
			       mem->memory_size))
			return -EINVAL;
	}

	mutex_lock(&vm->lock);
	slot = &vm->slots[idx];
	if (!mem->memory_size) {
		if (!slot->size)
			ret = -EINVAL;
		else
			memset(slot, 0, sizeof(*slot));
		goto out;
	}
	if (slot->size) {
		if (slot->size != mem->memory_size ||
		    slot->uaddr != mem->userspace_addr ||
		    slot->flags != mem->flags) {
			ret = -EINVAL;
			goto out;
		}
		if (slot->gpa == mem->guest_phys_addr)
			goto out;
	}
	for (i = 0; i < VEXT_NR_MEMSLOTS; i++) {
		if (i != idx && vext_slots_overlap(&vm->slots[i],
						   mem->guest_phys_addr,
						   mem->memory_size)) {
			ret = -EEXIST;
			goto out;
		}
	}
	slot->gpa = mem->guest_phys_addr;
	slot->size = mem->memory_size;
	slot->uaddr = mem->userspace_addr;
	slot->flags = mem->flags;
out:
	mutex_unlock(&vm->lock);
	return ret;
}

/* The component attached to @vm that owns ioctl number @nr, or NULL. */
static const struct vext_component *
vext_vm_component_for_nr(struct vext_vm *vm, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < VEXT_MAX_COMPONENTS; i++) {
		const struct vext_component *comp = vm->comp[i];

		if (comp && nr >= comp->ioctl_first && nr <= comp->ioctl_last)
			return comp;
	}
	return NULL;
}

/* The component attached to @vm that owns @cmd's number, or NULL. */
const struct vext_component *vext_vm_component_for(struct vext_vm *vm,
						   unsigned int cmd)
{
	if (_IOC_TYPE(cmd) != VEXTIO)
		return NULL;
	return vext_vm_component_for_nr(vm, _IOC_NR(cmd));
}

static long vext_vm_ioctl(struct file *filp, unsigned int cmd,
			  unsigned long arg)
{
	struct vext_vm *vm = filp->private_data;
	const struct vext_component *comp;

	/* The fd is the capability, but only in the process that made it. */
	if (vm->mm != current->mm)
		return -EIO;

	switch (cmd) {
	case VEXT_CREATE_VCPU:
		return vext_create_vcpu(vm, arg);
	case VEXT_GET_DOMID:
		return arg ? -EINVAL : vm->domid;
	case VEXT_SET_USER_MEMORY_REGION: {
		struct vext_userspace_memory_region mem;

		if (copy_from_user(&mem, (void __user *)arg, sizeof(mem)))
			return -EFAULT;
		return vext_set_memory_region(vm, &mem);
	}
	}

	comp = vext_vm_component_for(vm, cmd);
	if (!comp || !comp->vm_ioctl)
		return -ENOTTY;
	return comp->vm_ioctl(vm, cmd, arg);
}

/*
 * mmap of a VM fd: bits 32-39 of the offset name an ioctl number, whose
 * component serves the mapping (uapi/linux/vext.h). Core maps nothing
 * itself.
 */
static int vext_vm_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct vext_vm *vm = filp->private_data;
	const struct vext_component *comp;
	unsigned long nr;

	if (vm->mm != current->mm)
		return -EIO;
	nr = vma->vm_pgoff >> (VEXT_MMAP_SHIFT - PAGE_SHIFT);
	if (nr > _IOC_NRMASK)
		return -EINVAL;
	comp = vext_vm_component_for_nr(vm, nr);
	if (!comp || !comp->vm_mmap)
		return -ENODEV;
	return comp->vm_mmap(vm, vma);
}

static int vext_vm_release(struct inode *inode, struct file *filp)
{
	vext_vm_put(filp->private_data);
	return 0;
}

static const struct file_operations vext_vm_fops = {
	.owner		= THIS_MODULE,
	.release	= vext_vm_release,
	.unlocked_ioctl	= vext_vm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= vext_vm_mmap,
	.llseek		= noop_llseek,
};

/* VEXT_CREATE_VM: build a VM, publish its domid, return its fd. */
int vext_create_vm(unsigned long type)
{
	struct vext_vm *vm;
	u32 domid;
	int ret;

	if (type)
		return -EINVAL;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return -ENOMEM;
	kref_init(&vm->refcount);
	mutex_init(&vm->lock);
	xa_init(&vm->vcpus);
	vm->mm = current->mm;
	mmgrab(vm->mm);

	/* Reserve the domid now; lookups see the VM only once it is complete. */
	ret = xa_alloc_cyclic(&vext_domains, &domid, NULL,
			      XA_LIMIT(VEXT_MIN_DOMID, VEXT_MAX_DOMID),
			      &vext_next_domid, GFP_KERNEL);
	if (ret < 0) {
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto err_mm;
	}
	vm->domid = domid;

	ret = vext_attach_components(vm);
	if (ret)
		goto err_domid;

	xa_store(&vext_domains, domid, vm, GFP_KERNEL);

	ret = anon_inode_getfd("vext-vm", &vext_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (ret < 0)
		vext_vm_put(vm);	/* frees the VM and its domid */
	return ret;

err_domid:
	xa_erase(&vext_domains, domid);
err_mm:
	mmdrop(vm->mm);
	mutex_destroy(&vm->lock);
	kfree(vm);
	return ret;
}

/* debugfs: vext/domains lists every live VM. */
static int vext_domains_show(struct seq_file *m, void *unused)
{
	unsigned long domid = 0;
	struct vext_vm *vm;

	seq_puts(m, "domid vcpus slots\n");
	for (;;) {
		unsigned int i, slots = 0;

		/* Take the reference under the lock that vext_vm_free() needs. */
		xa_lock(&vext_domains);
		vm = xa_find(&vext_domains, &domid, VEXT_MAX_DOMID, XA_PRESENT);
		if (vm && !kref_get_unless_zero(&vm->refcount))
			vm = ERR_PTR(-ENOENT);
		xa_unlock(&vext_domains);
		if (!vm)
			break;
		if (IS_ERR(vm))
			goto next;

		mutex_lock(&vm->lock);
		for (i = 0; i < VEXT_NR_MEMSLOTS; i++)
			slots += !!vm->slots[i].size;
		seq_printf(m, "%5lu %5u %5u\n", domid, vm->nr_vcpus, slots);
		mutex_unlock(&vm->lock);
		vext_vm_put(vm);
next:
		domid++;
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vext_domains);

void vext_domains_debugfs_init(struct dentry *dir)
{
	debugfs_create_file("domains", 0444, dir, NULL, &vext_domains_fops);
}
