// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_sleep_atomic - a test-only module that plants the preempt-notifier
 * bug of Linux commit 6efde1d3716b ("sched/preempt, kvm: Fix KVM
 * preempt_notifier usage") and nothing else.
 *
 * On load it increments and decrements a static key with preemption
 * disabled, as preempt_notifier_register() once did from KVM's vcpu_load().
 * static_key_slow_inc() takes cpus_read_lock() and jump_label_mutex, both
 * sleeping locks; uncontended, they do not actually sleep, so a stock kernel
 * says nothing. A kernel with CONFIG_DEBUG_ATOMIC_SLEEP reports "BUG:
 * sleeping function called from invalid context". The debug row's runner
 * self-test boots with this module and must report that boot as failed:
 * it proves the row sees what a stock kernel hides. Never part of the suite.
 */
#include <linux/module.h>
#include <linux/jump_label.h>
#include <linux/preempt.h>

static DEFINE_STATIC_KEY_FALSE(vext_sleep_atomic_key);

static int __init vext_sleep_atomic_init(void)
{
	preempt_disable();
	static_branch_inc(&vext_sleep_atomic_key);
	static_branch_dec(&vext_sleep_atomic_key);
	preempt_enable();
	pr_info("vext_sleep_atomic: toggled a static key with preemption disabled\n");
	return 0;
}
module_init(vext_sleep_atomic_init);

static void __exit vext_sleep_atomic_exit(void)
{
}
module_exit(vext_sleep_atomic_exit);

MODULE_DESCRIPTION("vext test module: static key flipped in atomic context (debug row self-test)");
MODULE_LICENSE("GPL");
