/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext_percpu: per-CPU state shared by the vext modules.
 *
 * - The running vCPU of each CPU (like KVM's kvm_running_vcpu): set on
 *   sched_in and cleared on sched_out by vext_pn; valid to read with
 *   preemption disabled.
 * - The suite's per-CPU event counters: one this_cpu_inc() (a single
 *   %gs-relative instruction on x86) on the hot path, summed on read.
 */
#ifndef _VEXT_PERCPU_H
#define _VEXT_PERCPU_H

#include <linux/percpu.h>
#include <linux/jump_label.h>
#include <vext/core.h>

/* Suite-wide counters; names in percpu/percpu.c (debugfs vext/stats). */
enum vext_stat {
	VEXT_STAT_VCPU_LOADS,
	VEXT_STAT_VCPU_PUTS,
	VEXT_STAT_SCHED_OUT_PREEMPTED,
	VEXT_STAT_SCHED_OUT_BLOCKED,
	VEXT_STAT_SCHED_IN,
	VEXT_STAT_MIGRATIONS,
	VEXT_STAT_NR
};

struct vext_pcpu_stats {
	u64 v[VEXT_STAT_NR];
};

DECLARE_PER_CPU(struct vext_pcpu_stats, vext_pcpu_stats);
DECLARE_PER_CPU(struct vext_vcpu *, vext_running_vcpu);
DECLARE_PER_CPU(u64, vext_running_tag);
/* On while at least one vCPU is loaded (flipped by vext_pn, may sleep). */
DECLARE_STATIC_KEY_FALSE(vext_running_key);

/**
 * vext_stat_inc() - count one event on this CPU
 * @stat: which counter
 *
 * Safe in any context, including hard IRQ and scheduler callbacks.
 */
static inline void vext_stat_inc(enum vext_stat stat)
{
	this_cpu_inc(vext_pcpu_stats.v[stat]);
}

u64 vext_stat_sum(enum vext_stat stat);

/**
 * vext_set_running_vcpu() - record the vCPU running on this CPU
 * @vcpu: the vCPU, or NULL when none runs
 *
 * Call with preemption disabled.
 */
static inline void vext_set_running_vcpu(struct vext_vcpu *vcpu)
{
	__this_cpu_write(vext_running_vcpu, vcpu);
	/* A copy of the ids that debugfs can read without dereferencing. */
	__this_cpu_write(vext_running_tag, vcpu ?
			 (u64)vcpu->vm->domid << 32 | vcpu->id | BIT_ULL(63) : 0);
}

/**
 * vext_get_running_vcpu() - the vCPU running on this CPU
 *
 * Call with preemption disabled. With no vCPU loaded anywhere this is a
 * patched-out branch: it costs a NOP.
 *
 * Return: the vCPU or NULL.
 */
static inline struct vext_vcpu *vext_get_running_vcpu(void)
{
	if (!static_branch_unlikely(&vext_running_key))
		return NULL;
	return __this_cpu_read(vext_running_vcpu);
}

void vext_forget_running_vcpu(struct vext_vcpu *vcpu);

#endif /* _VEXT_PERCPU_H */
