/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext_core: kernel-internal API for vext components.
 *
 * A component is a module that adds ioctls (and per-VM/per-vCPU state) to the
 * VM and vCPU fds that vext_core owns. It registers a struct vext_component
 * at module init and unregisters it at module exit.
 *
 * Lifetime: when a VM is created, core takes a reference on the module of
 * every registered component (try_module_get) and calls its @vm_init; the
 * reference is dropped after @vm_destroy when the VM is freed. A component
 * that registers later is therefore attached to VMs created later only; for
 * older VMs its ioctls answer -ENOTTY. Because attached VMs pin the module,
 * vext_unregister_component() never races with an ioctl of an attached VM.
 */
#ifndef _VEXT_CORE_H
#define _VEXT_CORE_H

#include <linux/types.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/xarray.h>
#include <linux/mm_types.h>
#include <linux/vext.h>

/* Maximum number of components registered at once. */
#define VEXT_MAX_COMPONENTS	8

struct vext_vm;
struct vext_vcpu;
struct vext_component;

/**
 * struct vext_memslot - one guest-physical memory slot of a VM
 * @gpa:   guest-physical base address, page aligned
 * @size:  length in bytes, page aligned, non-zero
 * @uaddr: user-space address backing @gpa in the VMM that created the slot
 * @flags: VEXT_MEM_* flags
 */
struct vext_memslot {
	u64 gpa;
	u64 size;
	u64 uaddr;
	u32 flags;
};

/**
 * struct vext_vm - one VM (domain)
 * @refcount:   held by the VM fd and by every vCPU fd; the VM is freed when
 *              the last reference goes
 * @domid:      unique domain id, VEXT_MIN_DOMID..VEXT_MAX_DOMID
 * @mm:         mm of the creating process (grabbed with mmgrab())
 * @lock:       protects @slots, @nr_vcpus and vCPU creation
 * @slots:      memory slots; @size == 0 means the slot is unused
 * @vcpus:      vCPUs by id (xarray, its own lock for lookups)
 * @nr_vcpus:   number of vCPUs created
 * @comp:       components attached at creation (NULL where none)
 * @comp_data:  per-component private data, set by the component's @vm_init
 */
struct vext_vm {
	struct kref refcount;
	u16 domid;
	struct mm_struct *mm;
	struct mutex lock;	/* slots, nr_vcpus, vCPU creation */
	struct vext_memslot slots[VEXT_NR_MEMSLOTS];
	struct xarray vcpus;
	unsigned int nr_vcpus;
	const struct vext_component *comp[VEXT_MAX_COMPONENTS];
	void *comp_data[VEXT_MAX_COMPONENTS];
};

/**
 * struct vext_vcpu - one vCPU of a VM; lives as long as its VM
 * @vm:         owning VM
 * @id:         vCPU id given by user space
 * @shared:     the page mapped read-only into user space at offset 0
 * @comp_data:  per-component private data, set by the component's @vcpu_init
 */
struct vext_vcpu {
	struct vext_vm *vm;
	u32 id;
	struct vext_vcpu_shared *shared;
	void *comp_data[VEXT_MAX_COMPONENTS];
};

/**
 * struct vext_component - what a component module hands to core
 * @name:           short name, for messages and debugfs
 * @owner:          THIS_MODULE
 * @ioctl_first:    first ioctl command number (_IOC_NR) this component owns
 * @ioctl_last:     last ioctl command number it owns (inclusive)
 * @caps:           capability numbers the component answers
 * @nr_caps:        number of entries in @caps
 * @check_extension: value returned for one of @caps (optional; 1 if NULL);
 *                  called in process context without core locks held
 * @vm_init:        called for each new VM, may sleep; a negative return
 *                  fails VEXT_CREATE_VM with that errno (optional)
 * @vm_destroy:     called when the VM is freed (optional)
 * @vcpu_init:      called for each new vCPU, may sleep (optional)
 * @vcpu_destroy:   called when a vCPU is freed, before @vm_destroy (optional)
 * @vm_ioctl:       handles VM-fd ioctls in [@ioctl_first, @ioctl_last]
 * @vcpu_ioctl:     handles vCPU-fd ioctls in [@ioctl_first, @ioctl_last]
 * @vm_mmap:        handles mmap() of the VM fd at byte offsets
 *                  VEXT_MMAP_OFFSET(nr) .. VEXT_MMAP_OFFSET(nr + 1) - 1 for
 *                  every nr in [@ioctl_first, @ioctl_last] (optional: such
 *                  offsets fail with -ENODEV without it). Called with the
 *                  caller's mmap lock held for writing, in the process that
 *                  created the VM; @vma->vm_file is the VM fd's file
 * @id:             slot index assigned by core, valid while registered
 *
 * ioctl handlers run in process context with no core lock held and may
 * sleep. Unknown commands in the component's range must return -ENOTTY.
 */
struct vext_component {
	const char *name;
	struct module *owner;
	unsigned int ioctl_first;
	unsigned int ioctl_last;
	const u32 *caps;
	unsigned int nr_caps;
	long (*check_extension)(u32 cap);
	int (*vm_init)(struct vext_vm *vm);
	void (*vm_destroy)(struct vext_vm *vm);
	int (*vcpu_init)(struct vext_vcpu *vcpu);
	void (*vcpu_destroy)(struct vext_vcpu *vcpu);
	long (*vm_ioctl)(struct vext_vm *vm, unsigned int cmd, unsigned long arg);
	long (*vcpu_ioctl)(struct vext_vcpu *vcpu, unsigned int cmd,
			   unsigned long arg);
	int (*vm_mmap)(struct vext_vm *vm, struct vm_area_struct *vma);
	unsigned int id;
};

struct dentry;

int vext_register_component(struct vext_component *comp);
struct dentry *vext_debugfs_dir(void);
void vext_unregister_component(struct vext_component *comp);

void vext_vm_get(struct vext_vm *vm);
void vext_vm_put(struct vext_vm *vm);
struct vext_vm *vext_vm_get_by_domid(u16 domid);
int vext_vm_gpa_to_hva(struct vext_vm *vm, u64 gpa, u64 *hva, bool write);

/**
 * vext_vm_data() - a component's private data for a VM
 * @vm:   the VM
 * @comp: the component asking
 *
 * Return: what @comp's @vm_init stored, or NULL.
 */
static inline void *vext_vm_data(struct vext_vm *vm,
				 const struct vext_component *comp)
{
	return vm->comp_data[comp->id];
}

/**
 * vext_vcpu_data() - a component's private data for a vCPU
 * @vcpu: the vCPU
 * @comp: the component asking
 *
 * Return: what @comp's @vcpu_init stored, or NULL.
 */
static inline void *vext_vcpu_data(struct vext_vcpu *vcpu,
				   const struct vext_component *comp)
{
	return vcpu->comp_data[comp->id];
}

#endif /* _VEXT_CORE_H */
