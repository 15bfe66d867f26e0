/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vext_gnt: kernel-internal API for grant users inside the kernel.
 *
 * A maptrack is "a domain that maps grants": it owns handles, each naming
 * one mapped grant, and performs grant ops as its domain id. Every VM has
 * one (its VM fd's VEXT_GNTTAB_OP and mmap use it); an in-kernel backend or
 * a gntdev-style device creates its own, typically as domain 0, and serves
 * mmap() of its own file with vext_gnt_mmap().
 *
 * Ops are struct vext_gnttab_op of the UAPI with the same meaning; with
 * VEXT_GNT_BATCH_KBUF, a COPY's @buf is a kernel address instead of a
 * user one.
 */
#ifndef _VEXT_GNT_H
#define _VEXT_GNT_H

#include <linux/bits.h>
#include <linux/types.h>
#include <linux/vext.h>

struct vext_gnt_maptrack;
struct vm_area_struct;

/* Kernel-only batch flag: COPY buffers are kernel addresses. */
#define VEXT_GNT_BATCH_KBUF	BIT(31)

struct vext_gnt_maptrack *vext_gnt_maptrack_create(u16 domid, u64 index_base);
void vext_gnt_maptrack_destroy(struct vext_gnt_maptrack *mt);
void vext_gnttab_batch(struct vext_gnt_maptrack *mt, struct vext_gnttab_op *ops,
		       unsigned int count, unsigned int flags);
void vext_gnttab_batch_retry(struct vext_gnt_maptrack *mt,
			     struct vext_gnttab_op *ops, unsigned int count,
			     unsigned int flags);
int vext_gnt_mmap(struct vext_gnt_maptrack *mt, struct vm_area_struct *vma,
		  u64 first_handle);

#endif /* _VEXT_GNT_H */
