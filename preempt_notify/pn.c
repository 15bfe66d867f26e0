// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_pn: preempt notifiers for vCPU threads, gated by static keys.
 *
 * VEXT_VCPU_LOAD binds the calling thread to a vCPU: a preempt notifier on
 * the thread records, in the vCPU's shared page, how often and how long it
 * was off the CPU while runnable (preempted) or sleeping (blocked), and its
 * migrations, and keeps the per-CPU running vCPU up to date.
 *
 * Static keys. preempt_notifier_inc()/dec() and vext's own key may sleep
 * (text patching), so they are flipped only from process context with no
 * lock but vext_pn_key_lock held: when the first thread binds, and
 * key_off_delay_ms after the last bound thread's notifier is unlinked, so
 * LOAD/PUT loops do not patch kernel text each time (Linux commits
 * 6efde1d3716b and 2ecd9d29abb1).
 * Preemption is disabled only around the notifier list add/del.
 *
 * Lifetime of a binding (struct vext_pn_binding). Two sides hold it:
 *  - the vCPU side: pv->b, dropped by PUT, by a reaping LOAD/PUT or when
 *    the vCPU is destroyed;
 *  - the task side: the notifier linked on the thread's list. Only the
 *    thread itself may unlink it (the list is walked locklessly by the
 *    scheduler on the thread's CPU). It is dropped
 *      a) by the thread's own PUT, or when the thread itself destroys the
 *         vCPU (closing the last fd);
 *      b) by a task_work queued on the thread when another thread lets go
 *         of the vCPU side (TWA_SIGNAL: the thread unlinks on its way back
 *         to user space, or in exit_task_work() if it is exiting);
 *      c) after the thread's final context switch, when it died bound:
 *         sched_out sees TASK_DEAD and raises an irq_work (safe under the
 *         runqueue lock, unlike a wakeup), which queues a work item that
 *         waits for an RCU grace period (the switch, run with preemption
 *         off, is then over and the list is never walked again).
 * Before the vCPU side lets go from another thread it clears b->vcpu and
 * waits for a grace period: the callbacks run with preemption disabled, so
 * afterwards none still uses the vCPU, which may then be freed.
 * Every binding holds a module reference until it is freed. When the last
 * reference goes in a vCPU ioctl or in the VM's free (always in case a),
 * the VM's own reference on vext_pn still holds the module: the binding
 * is freed there and then, so the thread's own PUT leaves nothing pinning
 * the module. When it goes in the thread's task_work or the dead-task work
 * (cases b and c), the free goes through vext_pn_wq instead: module exit
 * destroys that workqueue, so no work runs module code after unload.
 */
#include <linux/debugfs.h>
#include <linux/irq_work.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>
#include <vext/percpu.h>

static unsigned int key_off_delay_ms = 1000;
module_param(key_off_delay_ms, uint, 0644);
MODULE_PARM_DESC(key_off_delay_ms,
		 "Delay before the static keys go off after the last vCPU is put (ms)");

static struct workqueue_struct *vext_pn_wq;

/*
 * vext_pn_key_lock protects vext_pn_users and vext_pn_key_on. It is a mutex
 * because static key updates sleep; it is never taken in atomic context.
 */
static DEFINE_MUTEX(vext_pn_key_lock);
static unsigned int vext_pn_users;
static bool vext_pn_key_on;

static void vext_pn_key_off_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(vext_pn_key_off, vext_pn_key_off_fn);

static struct dentry *vext_pn_key_file, *vext_pn_users_file;

#ifdef CONFIG_PREEMPT_NOTIFIERS

/**
 * struct vext_pn_binding - a vCPU bound to a thread
 * @pn:           the notifier, linked on @task's list while the task side holds
 * @vcpu:         the vCPU, or NULL once the vCPU side has let go
 * @task:         the bound thread (reference held)
 * @refs:         one for the vCPU side, one for the task side
 * @out_ns:       local_clock() at the last sched_out (task side only)
 * @out_preempted: the last sched_out was a preemption (task side only)
 * @twork:        unlink request run by @task (case b above)
 * @exit_iw:      raised by the final sched_out of a dead @task (case c)
 * @dead_work:    process-context step of case c
 * @free_work:    the final free, queued by the last side to let go
 */
struct vext_pn_binding {
	struct preempt_notifier pn;
	struct vext_vcpu __rcu *vcpu;
	struct task_struct *task;
	refcount_t refs;
	u64 out_ns;
	bool out_preempted;
	struct callback_head twork;
	struct irq_work exit_iw;
	struct work_struct dead_work;
	struct work_struct free_work;
};

/**
 * struct vext_pn_vcpu - vext_pn's state of one vCPU
 * @lock: serialises LOAD, PUT and destruction; protects @b
 * @b:    the binding of the vCPU side, or NULL when not loaded
 */
struct vext_pn_vcpu {
	struct mutex lock;	/* LOAD, PUT, destroy; @b */
	struct vext_pn_binding *b;
};

static struct vext_component vext_pn_comp;

/* seqcount writer side of the shared page; only the bound thread writes. */
static void vext_pn_write_begin(struct vext_vcpu_shared *s)
{
	WRITE_ONCE(s->seq, s->seq + 1);
	smp_wmb();	/* odd seq visible before the values change */
}

static void vext_pn_write_end(struct vext_vcpu_shared *s)
{
	smp_wmb();	/* values visible before seq is even again */
	WRITE_ONCE(s->seq, s->seq + 1);
}

/* ---- static keys: process context only ------------------------------ */

static void vext_pn_user_get(void)
{
	mutex_lock(&vext_pn_key_lock);
	if (!vext_pn_users++ && !vext_pn_key_on) {
		preempt_notifier_inc();
		static_branch_enable(&vext_running_key);
		vext_pn_key_on = true;
	}
	mutex_unlock(&vext_pn_key_lock);
}

static void vext_pn_user_put(void)
{
	mutex_lock(&vext_pn_key_lock);
	if (!--vext_pn_users)
		mod_delayed_work(vext_pn_wq, &vext_pn_key_off,
				 msecs_to_jiffies(READ_ONCE(key_off_delay_ms)));
	mutex_unlock(&vext_pn_key_lock);
}

static void vext_pn_key_off_fn(struct work_struct *work)
{
	mutex_lock(&vext_pn_key_lock);
	if (!vext_pn_users && vext_pn_key_on) {
		static_branch_disable(&vext_running_key);
		preempt_notifier_dec();
		vext_pn_key_on = false;
	}
	mutex_unlock(&vext_pn_key_lock);
}

/* ---- binding lifetime ------------------------------------------------ */

static void vext_pn_binding_free(struct vext_pn_binding *b)
{
	put_task_struct(b->task);
	kfree(b);
	module_put(THIS_MODULE);
}

static void vext_pn_free_fn(struct work_struct *work)
{
	/* Safe: module exit flushes vext_pn_wq before the text goes away. */
	vext_pn_binding_free(container_of(work, struct vext_pn_binding, free_work));
}

/*
 * Drop a reference on @b. @pinned: the caller holds vext_pn by other means
 * (a VM's reference, taken when the VM was created: a vCPU ioctl, or the
 * VM's free), so the last reference may free @b and drop the module here,
 * and nothing of a closed VM keeps vext_pn in use after close() returns.
 * Otherwise (the bound thread's task_work, the dead-task work) the final
 * module_put() must not run in our own text: the free is left to
 * vext_pn_wq, which module exit flushes.
 */
static void vext_pn_binding_put(struct vext_pn_binding *b, bool pinned)
{
	if (!refcount_dec_and_test(&b->refs))
		return;
	if (pinned)
		vext_pn_binding_free(b);
	else
		queue_work(vext_pn_wq, &b->free_work);
}

/*
 * The task side is done: the notifier is off the thread's list for good.
 * The thread no longer counts as a user of the static keys.
 */
static void vext_pn_task_side_done(struct vext_pn_binding *b, bool pinned)
{
	vext_pn_user_put();
	vext_pn_binding_put(b, pinned);
}

/* Case b: runs in the bound thread. */
static void vext_pn_unlink_twork(struct callback_head *head)
{
	struct vext_pn_binding *b = container_of(head, struct vext_pn_binding, twork);

	preempt_disable();
	preempt_notifier_unregister(&b->pn);
	preempt_enable();
	vext_pn_task_side_done(b, false);
}

/* Case c, process context: wait until the final switch is over. */
static void vext_pn_dead_fn(struct work_struct *work)
{
	struct vext_pn_binding *b = container_of(work, struct vext_pn_binding,
						 dead_work);

	synchronize_rcu();
	vext_pn_task_side_done(b, false);
}

/* Case c, hard IRQ (or the irq_work thread on PREEMPT_RT). */
static void vext_pn_dead_iw(struct irq_work *iw)
{
	struct vext_pn_binding *b = container_of(iw, struct vext_pn_binding, exit_iw);

	queue_work(vext_pn_wq, &b->dead_work);
}

/* ---- the notifier callbacks: keep them short ------------------------- */

/* IRQs off, runqueue lock held, current is the bound thread. */
static void vext_pn_sched_out(struct preempt_notifier *pn,
			      struct task_struct *next)
{
	struct vext_pn_binding *b = container_of(pn, struct vext_pn_binding, pn);
	struct vext_vcpu *vcpu = rcu_dereference_sched(b->vcpu);
	bool dead = READ_ONCE(current->__state) == TASK_DEAD;
	bool preempted = !dead && vext_task_runnable(current);

	vext_set_running_vcpu(NULL);
	b->out_ns = local_clock();
	b->out_preempted = preempted;
	if (vcpu) {
		struct vext_vcpu_shared *s = vcpu->shared;

		vext_pn_write_begin(s);
		if (dead)
			WRITE_ONCE(s->loaded, 0);
		else if (preempted)
			WRITE_ONCE(s->preempted, s->preempted + 1);
		else
			WRITE_ONCE(s->blocked, s->blocked + 1);
		vext_pn_write_end(s);
	}
	if (dead)
		irq_work_queue(&b->exit_iw);
	else
		vext_stat_inc(preempted ? VEXT_STAT_SCHED_OUT_PREEMPTED :
				VEXT_STAT_SCHED_OUT_BLOCKED);
}

/* Preemption disabled, IRQs on, current is the bound thread. */
static void vext_pn_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct vext_pn_binding *b = container_of(pn, struct vext_pn_binding, pn);
	struct vext_vcpu *vcpu = rcu_dereference_sched(b->vcpu);
	struct vext_vcpu_shared *s;
	s64 off;

	vext_stat_inc(VEXT_STAT_SCHED_IN);
	if (!vcpu)
		return;
	vext_set_running_vcpu(vcpu);
	s = vcpu->shared;
	/* local_clock() of two CPUs may disagree slightly: never go back. */
	off = max_t(s64, local_clock() - b->out_ns, 0);

	vext_pn_write_begin(s);
	if (b->out_preempted)
		WRITE_ONCE(s->preempted_ns, s->preempted_ns + off);
	else
		WRITE_ONCE(s->blocked_ns, s->blocked_ns + off);
	if (s->cpu != cpu) {
		WRITE_ONCE(s->migrations, s->migrations + 1);
		WRITE_ONCE(s->cpu, cpu);
		vext_stat_inc(VEXT_STAT_MIGRATIONS);
	}
	vext_pn_write_end(s);
}

static struct preempt_ops vext_pn_ops = {
	.sched_in	= vext_pn_sched_in,
	.sched_out	= vext_pn_sched_out,
};

/* ---- LOAD / PUT -------------------------------------------------------- */

static bool vext_pn_task_gone(const struct task_struct *t)
{
	return READ_ONCE(t->flags) & PF_EXITING;
}

/*
 * Does current already have a live vext binding (on any vCPU)? One whose
 * vCPU side let go and that waits for its unlink task_work does not count.
 */
static bool vext_pn_current_bound(void)
{
	struct preempt_notifier *n;
	bool bound = false;

	/* Only current changes its own list; preemption off keeps it still. */
	preempt_disable();
	hlist_for_each_entry(n, &current->preempt_notifiers, link) {
		struct vext_pn_binding *b;

		if (n->ops != &vext_pn_ops)
			continue;
		b = container_of(n, struct vext_pn_binding, pn);
		if (rcu_access_pointer(b->vcpu)) {
			bound = true;
			break;
		}
	}
	preempt_enable();
	return bound;
}

/* Let go of the vCPU side of pv->b. Called with pv->lock held. */
static void vext_pn_detach(struct vext_vcpu *vcpu, struct vext_pn_vcpu *pv)
{
	struct vext_pn_binding *b = pv->b;
	struct vext_vcpu_shared *s = vcpu->shared;

	might_sleep();
	pv->b = NULL;
	vext_stat_inc(VEXT_STAT_VCPU_PUTS);

	if (b->task == current) {
		/* Case a: we are the bound thread and unlink ourselves. */
		preempt_disable();
		preempt_notifier_unregister(&b->pn);
		vext_set_running_vcpu(NULL);
		vext_pn_write_begin(s);
		WRITE_ONCE(s->loaded, 0);
		vext_pn_write_end(s);
		preempt_enable();
		refcount_dec(&b->refs);		/* vCPU side; never the last */
		vext_pn_task_side_done(b, true);
		return;
	}

	/* Stop the callbacks from touching the vCPU, then wait them out. */
	RCU_INIT_POINTER(b->vcpu, NULL);
	synchronize_rcu();
	vext_forget_running_vcpu(vcpu);
	/*
	 * No callback writes the page any more: we are its only writer.
	 * Not preemptible in between, as every seqcount writer: a reader
	 * (the vCPU's stats fd) spins while seq is odd, and one of higher
	 * priority on this CPU would never let us finish.
	 */
	preempt_disable();
	vext_pn_write_begin(s);
	WRITE_ONCE(s->loaded, 0);
	vext_pn_write_end(s);
	preempt_enable();

	/*
	 * Case b. If the thread is past exit_task_work() this fails, and its
	 * final sched_out drops the task side instead (case c).
	 */
	init_task_work(&b->twork, vext_pn_unlink_twork);
	task_work_add(b->task, &b->twork, TWA_SIGNAL);
	vext_pn_binding_put(b, true);
}

static long vext_pn_load(struct vext_vcpu *vcpu, struct vext_pn_vcpu *pv)
{
	struct vext_vcpu_shared *s = vcpu->shared;
	struct vext_pn_binding *b;
	long ret = 0;

	mutex_lock(&pv->lock);
	if (pv->b) {
		if (pv->b->task == current) {
			ret = -EALREADY;
			goto out;
		}
		if (!vext_pn_task_gone(pv->b->task)) {
			ret = -EBUSY;
			goto out;
		}
		vext_pn_detach(vcpu, pv);	/* reap a dead owner's binding */
	}
	if (vext_pn_current_bound()) {
		ret = -EBUSY;
		goto out;
	}

	b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	__module_get(THIS_MODULE);
	vext_pn_user_get();		/* may sleep: before preempt_disable() */
	preempt_notifier_init(&b->pn, &vext_pn_ops);
	rcu_assign_pointer(b->vcpu, vcpu);
	b->task = get_task_struct(current);
	refcount_set(&b->refs, 2);
	init_irq_work(&b->exit_iw, vext_pn_dead_iw);
	INIT_WORK(&b->dead_work, vext_pn_dead_fn);
	INIT_WORK(&b->free_work, vext_pn_free_fn);

	preempt_disable();
	vext_pn_write_begin(s);
	WRITE_ONCE(s->loads, s->loads + 1);
	WRITE_ONCE(s->loaded, 1);
	WRITE_ONCE(s->cpu, smp_processor_id());
	vext_pn_write_end(s);
	vext_set_running_vcpu(vcpu);
	preempt_notifier_register(&b->pn);
	preempt_enable();

	pv->b = b;
	vext_stat_inc(VEXT_STAT_VCPU_LOADS);
out:
	mutex_unlock(&pv->lock);
	return ret;
}

static long vext_pn_put(struct vext_vcpu *vcpu, struct vext_pn_vcpu *pv)
{
	long ret = 0;

	mutex_lock(&pv->lock);
	if (!pv->b)
		ret = -EINVAL;
	else if (pv->b->task != current && !vext_pn_task_gone(pv->b->task))
		ret = -EPERM;
	else
		vext_pn_detach(vcpu, pv);
	mutex_unlock(&pv->lock);
	return ret;
}

static long vext_pn_vcpu_ioctl(struct vext_vcpu *vcpu, unsigned int cmd,
			       unsigned long arg)
{
	struct vext_pn_vcpu *pv = vext_vcpu_data(vcpu, &vext_pn_comp);

	switch (cmd) {
	case VEXT_VCPU_LOAD:
		return arg ? -EINVAL : vext_pn_load(vcpu, pv);
	case VEXT_VCPU_PUT:
		return arg ? -EINVAL : vext_pn_put(vcpu, pv);
	}
	return -ENOTTY;
}

static int vext_pn_vcpu_init(struct vext_vcpu *vcpu)
{
	struct vext_pn_vcpu *pv = kzalloc(sizeof(*pv), GFP_KERNEL_ACCOUNT);

	if (!pv)
		return -ENOMEM;
	mutex_init(&pv->lock);
	vcpu->comp_data[vext_pn_comp.id] = pv;
	return 0;
}

static void vext_pn_vcpu_destroy(struct vext_vcpu *vcpu)
{
	struct vext_pn_vcpu *pv = vext_vcpu_data(vcpu, &vext_pn_comp);

	if (!pv)
		return;
	/* The VM is being freed: no ioctl can race with us. */
	mutex_lock(&pv->lock);
	if (pv->b)
		vext_pn_detach(vcpu, pv);
	mutex_unlock(&pv->lock);
	mutex_destroy(&pv->lock);
	kfree(pv);
	vcpu->comp_data[vext_pn_comp.id] = NULL;
}

#define VEXT_PN_HAVE_NOTIFIERS	1

#else /* !CONFIG_PREEMPT_NOTIFIERS */

static long vext_pn_vcpu_ioctl(struct vext_vcpu *vcpu, unsigned int cmd,
			       unsigned long arg)
{
	if (cmd == VEXT_VCPU_LOAD || cmd == VEXT_VCPU_PUT)
		return -EOPNOTSUPP;
	return -ENOTTY;
}

#define vext_pn_vcpu_init	NULL
#define vext_pn_vcpu_destroy	NULL
#define VEXT_PN_HAVE_NOTIFIERS	0

#endif /* CONFIG_PREEMPT_NOTIFIERS */

static long vext_pn_check_extension(u32 cap)
{
	/* 0 on a kernel without CONFIG_PREEMPT_NOTIFIERS: LOAD -> EOPNOTSUPP. */
	return VEXT_PN_HAVE_NOTIFIERS;
}

static const u32 vext_pn_caps[] = { VEXT_CAP_PREEMPT_NOTIFY };

static struct vext_component vext_pn_comp = {
	.name		= "pn",
	.owner		= THIS_MODULE,
	.ioctl_first	= 0x30,
	.ioctl_last	= 0x3f,
	.caps		= vext_pn_caps,
	.nr_caps	= ARRAY_SIZE(vext_pn_caps),
	.check_extension = vext_pn_check_extension,
	.vcpu_init	= vext_pn_vcpu_init,
	.vcpu_destroy	= vext_pn_vcpu_destroy,
	.vcpu_ioctl	= vext_pn_vcpu_ioctl,
};

static int vext_pn_key_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "%d\n", static_key_enabled(&vext_running_key));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vext_pn_key);

static int vext_pn_users_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "%u\n", READ_ONCE(vext_pn_users));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vext_pn_users);

static int __init vext_pn_init(void)
{
	int ret;

	vext_pn_wq = alloc_workqueue("vext_pn", 0, 0);
	if (!vext_pn_wq)
		return -ENOMEM;
	vext_pn_key_file = debugfs_create_file("pn_key", 0444, vext_debugfs_dir(),
					       NULL, &vext_pn_key_fops);
	vext_pn_users_file = debugfs_create_file("pn_users", 0444,
						 vext_debugfs_dir(), NULL,
						 &vext_pn_users_fops);
	ret = vext_register_component(&vext_pn_comp);
	if (ret) {
		debugfs_remove(vext_pn_users_file);
		debugfs_remove(vext_pn_key_file);
		destroy_workqueue(vext_pn_wq);
	}
	return ret;
}

static void __exit vext_pn_exit(void)
{
	vext_unregister_component(&vext_pn_comp);
	debugfs_remove(vext_pn_users_file);
	debugfs_remove(vext_pn_key_file);
	/* Every binding is freed (each held a module reference): key off now. */
	cancel_delayed_work_sync(&vext_pn_key_off);
	vext_pn_key_off_fn(NULL);
	/* Waits for the last free work, which dropped our last reference. */
	destroy_workqueue(vext_pn_wq);
}

module_init(vext_pn_init);
module_exit(vext_pn_exit);

MODULE_DESCRIPTION("vext preempt notifiers for vCPU threads, gated by static keys");
MODULE_AUTHOR("The vext developers");
MODULE_LICENSE("GPL");
