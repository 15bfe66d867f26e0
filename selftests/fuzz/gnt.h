/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What fuzz/gnt.c (vext_gnt's VM-fd interface) shares with fuzz/gntdev.c
 * (its gntdev and gntalloc devices): the memory VMs grant and the helpers
 * that write their grant tables.
 */
#ifndef _VEXT_FUZZ_GNT_H
#define _VEXT_FUZZ_GNT_H

#include <linux/vext.h>
#include "fuzz.h"

#define FZ_GNT_MODULE		"vext_gnt"
/* The memory granted: a slot of this many pages, the last few untouched. */
#define FZ_GNT_PAGES		16
#define FZ_GNT_COLD		4
#define FZ_GNT_SLOT		(VEXT_NR_MEMSLOTS - 1)
#define FZ_GNT_GPA		0x100000000ULL
#define FZ_GNT_GPFN		(FZ_GNT_GPA / 4096)

/* The granted memory (NULL before gnt's set-up). */
extern unsigned char *fz_gnt_mem;

/* An entry's flags/domid word, stored as the granter's protocol wants. */
void fz_gnt_write(struct vext_grant_entry_v1 *e, __u16 flags, __u16 domid,
		  __u32 frame);

/* The domid of a live VM of the table (@self's mostly), or a bad one. */
__u16 fz_gnt_domid(struct fz_thread *t, struct fz_obj *self);

/*
 * Give VM @vm (fd @fd, made by this process) a table of a frame or two
 * and, with @slot or now and then, the granted memory slot; map its frame
 * 0. Returns the mapping (a page) or NULL with errno set (0 if the table
 * could not be set up).
 */
struct vext_grant_entry_v1 *fz_gnt_table(struct fz_thread *t, int fd,
					 struct fz_obj *vm, bool slot);

/* A per-op status vext answers. */
bool fz_gnt_status_known(int st);

/*
 * failslab context set-up: fd[0] a granting VM with the granted slot and
 * frame 0 of its table mapped at map[0], fd[1] the VM its refs 0-5 grant
 * gpfns FZ_GNT_GPFN + 0-5 to (ref 1 read-only); val[0] the granter's domid.
 */
int fz_gnt_s_granter(struct fz_sctx *s);

#endif /* _VEXT_FUZZ_GNT_H */
