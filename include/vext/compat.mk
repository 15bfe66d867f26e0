# SPDX-License-Identifier: GPL-2.0-only
#
# Feature probes of the target kernel's headers ($(srctree) is the kernel
# source or headers tree Kbuild runs in). Each adds one -DVEXT_HAVE_* flag
# when the feature exists; include/vext/compat.h maps them to one API.

vext_probe = $(shell grep -qsE '$(1)' $(srctree)/$(2) && echo -D$(3))

# 6.3: vm_flags_set()/vm_flags_clear(); vma->vm_flags became read-only.
VEXT_COMPAT_FLAGS += $(call vext_probe,static inline void vm_flags_clear,include/linux/mm.h,VEXT_HAVE_VM_FLAGS_CLEAR)
# 6.8: eventfd_signal() lost its count argument.
VEXT_COMPAT_FLAGS += $(call vext_probe,void eventfd_signal\(struct eventfd_ctx \*ctx\),include/linux/eventfd.h,VEXT_HAVE_EVENTFD_SIGNAL_NOCOUNT)
# 6.12: task_is_runnable(); since delayed dequeue (6.12) ->on_rq alone no
# longer means "runnable" (KVM's syzbot fix).
VEXT_COMPAT_FLAGS += $(call vext_probe,static inline bool task_is_runnable,include/linux/sched.h,VEXT_HAVE_TASK_IS_RUNNABLE)
# 6.5: the gup calls lost their vmas argument (get_user_page_vma_remote()
# came with that change).
VEXT_COMPAT_FLAGS += $(call vext_probe,static inline struct page \*get_user_page_vma_remote,include/linux/mm.h,VEXT_HAVE_GUP_NO_VMAS)
