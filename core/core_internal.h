/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext_core internals shared by main.c, vm.c and vcpu.c. Not for other
 * modules: their API is include/vext/core.h.
 */
#ifndef _VEXT_CORE_INTERNAL_H
#define _VEXT_CORE_INTERNAL_H

#include <vext/core.h>

/* Core owns ioctl numbers 0x00..0x1f; components start above. */
#define VEXT_CORE_IOCTL_LAST	0x1f

/* main.c: component registry */
int vext_attach_components(struct vext_vm *vm);
void vext_detach_components(struct vext_vm *vm);
long vext_component_check_extension(u32 cap);

/* vm.c */
int vext_create_vm(unsigned long type);
const struct vext_component *vext_vm_component_for(struct vext_vm *vm,
						   unsigned int cmd);
void vext_domains_debugfs_init(struct dentry *dir);

/* vcpu.c */
int vext_create_vcpu(struct vext_vm *vm, unsigned long id);
void vext_vcpu_free(struct vext_vcpu *vcpu);

#endif /* _VEXT_CORE_INTERNAL_H */
