/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _VEXT_PERCPU_INTERNAL_H
#define _VEXT_PERCPU_INTERNAL_H

#include <vext/percpu.h>

int vext_stats_fd_vm(struct vext_vm *vm);
int vext_stats_fd_vcpu(struct vext_vcpu *vcpu);

#endif /* _VEXT_PERCPU_INTERNAL_H */
