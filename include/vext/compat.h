/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext compat: the one place where kernel API differences between the
 * kernels vext supports (Debian 6.1 and 6.12 LTS) are bridged. The
 * VEXT_HAVE_* macros come from header probes in include/vext/compat.mk,
 * never from LINUX_VERSION_CODE. Included first in every vext source file.
 */
#ifndef _VEXT_COMPAT_H
#define _VEXT_COMPAT_H

/*
 * Force-included before any kernel header, so it also sets the message
 * prefix of every vext module ("vext_core: ...").
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/eventfd.h>
#include <linux/sched.h>

/* vma flag updates: helpers since 6.3, direct writes before. */
#ifndef VEXT_HAVE_VM_FLAGS_CLEAR
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/* Signal an eventfd once: the count argument went away in 6.8. */
static inline void vext_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef VEXT_HAVE_EVENTFD_SIGNAL_NOCOUNT
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * Is @p runnable (preempted) rather than sleeping? Meaningful in a
 * preempt notifier's sched_out. Before 6.12 ->on_rq says it; from 6.12 a
 * sleeping task may stay on the runqueue ("delayed dequeue").
 */
static inline bool vext_task_runnable(struct task_struct *p)
{
#ifdef VEXT_HAVE_TASK_IS_RUNNABLE
	return task_is_runnable(p);
#else
	return READ_ONCE(p->on_rq);
#endif
}

/*
 * pin_user_pages_remote() without the vmas argument that 6.5 removed. The
 * caller holds @mm's mmap lock; @locked as for the kernel function.
 */
static inline long vext_pin_user_pages_remote(struct mm_struct *mm,
					      unsigned long start,
					      unsigned long nr_pages,
					      unsigned int gup_flags,
					      struct page **pages, int *locked)
{
#ifdef VEXT_HAVE_GUP_NO_VMAS
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     locked);
#else
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL, locked);
#endif
}

#endif /* _VEXT_COMPAT_H */
