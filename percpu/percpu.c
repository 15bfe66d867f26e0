// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_percpu: the running vCPU of each CPU, the suite's per-CPU counters
 * and the binary statistics fds (VEXT_GET_STATS_FD).
 */
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/cpu.h>
#include <linux/math64.h>
#include <linux/timekeeping.h>
#include <linux/smp.h>
#include <linux/uaccess.h>
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
static struct dentry *vext_percpu_bench_file;

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

/*
 * debugfs bench_counters: writing N runs, on every online CPU at once,
 * N this_cpu_inc() on a per-CPU counter and then N atomic64_inc() on one
 * shared counter; reading prints the mean cost of each per operation.
 * It shows why hot paths count per CPU. Runs with IRQs off (on_each_cpu),
 * so N is bounded.
 */
#define VEXT_BENCH_MAX_OPS	1000000

static DEFINE_PER_CPU(u64, vext_bench_pcpu);
static DEFINE_PER_CPU(u64, vext_bench_pcpu_ns);
static DEFINE_PER_CPU(u64, vext_bench_atomic_ns);
static atomic64_t vext_bench_shared;
static DEFINE_MUTEX(vext_bench_lock);	/* one run at a time; the results */
static unsigned long vext_bench_ops;

static void vext_bench_run(void *arg)
{
	unsigned long i, n = *(unsigned long *)arg;
	u64 t0, t1, t2;

	/*
	 * Not local_clock(): with an unstable sched clock it is clamped to the
	 * current tick window, and the tick cannot run with IRQs off here.
	 */
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		this_cpu_inc(vext_bench_pcpu);
	t1 = ktime_get_ns();
	for (i = 0; i < n; i++)
		atomic64_inc(&vext_bench_shared);
	t2 = ktime_get_ns();
	__this_cpu_write(vext_bench_pcpu_ns, t1 - t0);
	__this_cpu_write(vext_bench_atomic_ns, t2 - t1);
}

static ssize_t vext_bench_write(struct file *file, const char __user *buf,
				size_t len, loff_t *ppos)
{
	unsigned long n;
	int ret;

	ret = kstrtoul_from_user(buf, len, 0, &n);
	if (ret)
		return ret;
	if (!n || n > VEXT_BENCH_MAX_OPS)
		return -EINVAL;
	mutex_lock(&vext_bench_lock);
	cpus_read_lock();
	on_each_cpu(vext_bench_run, &n, 1);
	cpus_read_unlock();
	vext_bench_ops = n;
	mutex_unlock(&vext_bench_lock);
	return len;
}

static int vext_bench_show(struct seq_file *m, void *unused)
{
	u64 pcpu = 0, atomic = 0;
	unsigned int cpus = 0;
	int cpu;

	mutex_lock(&vext_bench_lock);
	if (!vext_bench_ops) {
		mutex_unlock(&vext_bench_lock);
		return -ENODATA;
	}
	for_each_online_cpu(cpu) {
		pcpu += per_cpu(vext_bench_pcpu_ns, cpu);
		atomic += per_cpu(vext_bench_atomic_ns, cpu);
		cpus++;
	}
	/* Mean picoseconds per operation, printed as ns with 3 decimals. */
	pcpu = div64_u64(pcpu * 1000, (u64)vext_bench_ops * cpus);
	atomic = div64_u64(atomic * 1000, (u64)vext_bench_ops * cpus);
	seq_printf(m, "cpus %u ops %lu percpu_ns %llu.%03llu atomic_ns %llu.%03llu\n",
		   cpus, vext_bench_ops, pcpu / 1000, pcpu % 1000,
		   atomic / 1000, atomic % 1000);
	mutex_unlock(&vext_bench_lock);
	return 0;
}

static int vext_bench_open(struct inode *inode, struct file *file)
{
	return single_open(file, vext_bench_show, NULL);
}

static const struct file_operations vext_bench_fops = {
	.owner		= THIS_MODULE,
	.open		= vext_bench_open,
	.read		= seq_read,
	.write		= vext_bench_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

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
	vext_percpu_bench_file = debugfs_create_file("bench_counters", 0600,
						     vext_debugfs_dir(), NULL,
						     &vext_bench_fops);

	/* Last: once registered, VMs may attach to us. */
	ret = vext_register_component(&vext_percpu_comp);
	if (ret) {
		debugfs_remove(vext_percpu_bench_file);
		debugfs_remove(vext_percpu_running_file);
		debugfs_remove(vext_percpu_stats_file);
	}
	return ret;
}

static void __exit vext_percpu_exit(void)
{
	vext_unregister_component(&vext_percpu_comp);
	debugfs_remove(vext_percpu_bench_file);
	debugfs_remove(vext_percpu_running_file);
	debugfs_remove(vext_percpu_stats_file);
}

module_init(vext_percpu_init);
module_exit(vext_percpu_exit);

MODULE_DESCRIPTION("vext per-CPU state: running vCPU, counters, binary stats");
MODULE_AUTHOR("The vext developers");
MODULE_LICENSE("GPL");
