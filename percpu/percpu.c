// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_percpu: the running vCPU of each CPU, the suite's per-CPU counters
 * and the binary statistics fds (VEXT_GET_STATS_FD).
 */
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include "percpu_internal.h"

DEFINE_PER_CPU(struct vext_pcpu_stats, vext_pcpu_stats);
EXPORT_PER_CPU_SYMBOL_GPL(vext_pcpu_stats);
DEFINE_PER_CPU(struct vext_vcpu *, vext_running_vcpu);
EXPORT_PER_CPU_SYMBOL_GPL(vext_running_vcpu);
DEFINE_PER_CPU(u64, vext_running_tag);
EXPORT_PER_CPU_SYMBOL_GPL(vext_running_tag);
DEFINE_STATIC_KEY_FALSE(vext_running_key);
EXPORT_SYMBOL_GPL(vext_running_key);

static const char * const vext_stat_names[VEXT_STAT_NR] = {
	[VEXT_STAT_VCPU_LOADS]		= "vcpu_loads",
	[VEXT_STAT_VCPU_PUTS]		= "vcpu_puts",
	[VEXT_STAT_SCHED_OUT_PREEMPTED]	= "sched_out_preempted",
	[VEXT_STAT_SCHED_OUT_BLOCKED]	= "sched_out_blocked",
	[VEXT_STAT_SCHED_IN]		= "sched_in",
	[VEXT_STAT_MIGRATIONS]		= "migrations",
};

static struct dentry *vext_percpu_stats_file, *vext_percpu_running_file;

/**
 * vext_stat_sum() - a suite counter summed over every possible CPU
 * @stat: which counter
 *
 * The sum is exact once the increments it should see have completed; it
 * may miss increments racing with it.
 *
 * Return: the total.
 */
u64 vext_stat_sum(enum vext_stat stat)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu(vext_pcpu_stats, cpu).v[stat]);
	return sum;
}
EXPORT_SYMBOL_GPL(vext_stat_sum);

/**
 * vext_forget_running_vcpu() - clear @vcpu from every CPU's running slot
 * @vcpu: a vCPU about to be freed
 *
 * For a vCPU whose thread can no longer set it (its notifier callbacks are
 * known to have stopped using it): a CPU whose slot still names @vcpu gets
 * NULL. cmpxchg, so a slot the owning CPU rewrote meanwhile is left alone.
 * Process context; callers wait for an RCU grace period before freeing.
 */
void vext_forget_running_vcpu(struct vext_vcpu *vcpu)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		if (cmpxchg(per_cpu_ptr(&vext_running_vcpu, cpu), vcpu, NULL) == vcpu)
			WRITE_ONCE(*per_cpu_ptr(&vext_running_tag, cpu), 0);
	}
}
EXPORT_SYMBOL_GPL(vext_forget_running_vcpu);

static int vext_percpu_stats_show(struct seq_file *m, void *unused)
{
	unsigned int i;

	for (i = 0; i < VEXT_STAT_NR; i++)
		seq_printf(m, "%s %llu\n", vext_stat_names[i], vext_stat_sum(i));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vext_percpu_stats);

static int vext_percpu_running_show(struct seq_file *m, void *unused)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		u64 tag = READ_ONCE(per_cpu(vext_running_tag, cpu));

		if (tag)
			seq_printf(m, "cpu%d %u %u\n", cpu,
				   (u32)(tag >> 32) & 0x7fffffff, (u32)tag);
		else
			seq_printf(m, "cpu%d -\n", cpu);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vext_percpu_running);

static long vext_percpu_vm_ioctl(struct vext_vm *vm, unsigned int cmd,
				 unsigned long arg)
{
	if (cmd != VEXT_GET_STATS_FD)
		return -ENOTTY;
	return arg ? -EINVAL : vext_stats_fd_vm(vm);
}

static long vext_percpu_vcpu_ioctl(struct vext_vcpu *vcpu, unsigned int cmd,
				   unsigned long arg)
{
	if (cmd != VEXT_GET_STATS_FD)
		return -ENOTTY;
	return arg ? -EINVAL : vext_stats_fd_vcpu(vcpu);
}

static const u32 vext_percpu_caps[] = { VEXT_CAP_PERCPU_STATS };

static struct vext_component vext_percpu_comp = {
	.name		= "percpu",
	.owner		= THIS_MODULE,
	.ioctl_first	= 0x20,
	.ioctl_last	= 0x2f,
	.caps		= vext_percpu_caps,
	.nr_caps	= ARRAY_SIZE(vext_percpu_caps),
	.vm_ioctl	= vext_percpu_vm_ioctl,
	.vcpu_ioctl	= vext_percpu_vcpu_ioctl,
};

static int __init vext_percpu_init(void)
{
	int ret;

	vext_percpu_stats_file = debugfs_create_file("stats", 0444,
						     vext_debugfs_dir(), NULL,
						     &vext_percpu_stats_fops);
	vext_percpu_running_file = debugfs_create_file("running_vcpu", 0444,
						       vext_debugfs_dir(), NULL,
						       &vext_percpu_running_fops);

	/* Last: once registered, VMs may attach to us. */
	ret = vext_register_component(&vext_percpu_comp);
	if (ret) {
		debugfs_remove(vext_percpu_running_file);
		debugfs_remove(vext_percpu_stats_file);
	}
	return ret;
}

static void __exit vext_percpu_exit(void)
{
	vext_unregister_component(&vext_percpu_comp);
	debugfs_remove(vext_percpu_running_file);
	debugfs_remove(vext_percpu_stats_file);
}

module_init(vext_percpu_init);
module_exit(vext_percpu_exit);

MODULE_DESCRIPTION("vext per-CPU state: running vCPU, counters, binary stats");
MODULE_AUTHOR("The vext developers");
MODULE_LICENSE("GPL");
