/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fuzzer engine's internals, shared by engine.c and the drivers
 * (fuzz_test.c, failslab_dtest.c). Module tables use fuzz.h only.
 */
#ifndef _VEXT_FUZZ_ENGINE_H
#define _VEXT_FUZZ_ENGINE_H

#include <errno.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <linux/vext.h>
#include "fuzz.h"

#define VEXTIO_FZ	VEXTIO

#define FZ_SLOTS	48	/* the shared fd table */
#define FZ_MAPS		24	/* kept mappings */
#define FZ_MAX_TYPES	24
#define FZ_MAX_IOCTLS	96
#define FZ_MAX_OPS	32
#define FZ_MAX_REPORTS	30	/* violations printed */
#define FZ_RESERVE	(64UL << 20)	/* PROT_NONE reservation for FZ_UADDR */

struct fz_thread {
	__u64 rng;
	unsigned int idx;
	unsigned long ops;
	unsigned long violations;
	unsigned char *arena;
	unsigned int bufidx;
	bool child;
	const struct fz_ref *racy_ref;
	char msg[512];
};

struct fz_slot {
	pthread_mutex_t lock;
	unsigned int gen;	/* bumped before the fd changes */
	int fd;			/* -1: free */
	struct fz_obj *obj;
};

/* A snapshot of a slot, holding a reference on its object. */
struct fz_ref {
	unsigned int slot;
	unsigned int gen;
	int fd;
	struct fz_obj *obj;
};

struct fz_map {
	void *addr;
	size_t len;
	pid_t owner;		/* the process that mapped it */
	struct fz_obj *obj;
};

struct fz_engine {
	__u64 seed;
	bool threaded;		/* several threads run: fork does not wait */
	bool no_fork;
	unsigned long violations;
	unsigned int children;
	unsigned int spawned;	/* short-lived threads running */
	struct fz_slot slots[FZ_SLOTS];
	pthread_mutex_t map_lock;
	struct fz_map maps[FZ_MAPS];
	void *reserve;
	struct rlimit nofile;	/* RLIMIT_NOFILE at the start */
	struct fz_fdtype *types[FZ_MAX_TYPES];
	bool type_vext[FZ_MAX_TYPES];
	unsigned int nr_types;
	const struct fz_ioctl *ioctls[FZ_MAX_IOCTLS];
	unsigned long io_calls[FZ_MAX_IOCTLS], io_ok[FZ_MAX_IOCTLS],
		      io_racy[FZ_MAX_IOCTLS];
	__u64 io_ns[FZ_MAX_IOCTLS];	/* time spent in the calls */
	unsigned int nr_ioctls;
	const struct fz_op *ops[FZ_MAX_OPS];
	unsigned long op_calls[FZ_MAX_OPS];
	__u64 op_ns[FZ_MAX_OPS];
	unsigned int nr_ops;
};

extern struct fz_engine fz_eng;

static inline long vext_fz_ioctl(int fd, unsigned long cmd, unsigned long arg)
{
	long ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

void fz_seed_thread(struct fz_thread *t, __u64 seed, unsigned int idx);
int fz_arena_init(struct fz_thread *t);
void fz_arena_fini(struct fz_thread *t);
void fz_engine_setup(void);
void fz_step(struct fz_thread *t, bool chaos);
void fz_close_all(void);
void fz_wait_spawned(void);
void fz_restore_rlimit(void);
void fz_reap(bool wait);
void fz_print_stats(void);
void fz_violation(struct fz_thread *t, const char *what);
struct fz_obj *fz_obj_new(const struct fz_fdtype *type, struct fz_obj *parent);
bool fz_slot_get(unsigned int i, struct fz_ref *r);
bool fz_slot_changed(const struct fz_ref *r);
void fz_slot_add(struct fz_thread *t, int fd, struct fz_obj *obj);
void fz_slot_close(unsigned int i);
bool fz_slot_pick(struct fz_thread *t, const struct fz_fdtype *type,
		  struct fz_ref *r);
void fz_fill(struct fz_thread *t, void *dst, const void *src, size_t len);
__u64 fz_get_field(const unsigned char *buf, const struct fz_field *f);
void fz_unmap(struct fz_thread *t, bool all);

/*
 * The drivers' set-up and tear-down (fuzz_test, failslab_dtest), each
 * returning the number of problems, logged:
 *  - fz_load_modules(): load every table's kernel modules in order (an
 *    optional one may be missing: then it is not @loaded) and run the
 *    loaded ones' @setup;
 *  - fz_snapshot_refs(): record the loaded modules' reference counts;
 *  - fz_teardown_modules(): run the loaded ones' @teardown, once (what
 *    they hold, e.g. a VM of their own, goes before fz_check_refs());
 *  - fz_check_refs(): wait up to 5 s for them to be back there;
 *  - fz_unload_modules(): fz_teardown_modules(), then unload every
 *    table's kernel modules, last first (retrying a busy one for 5 s;
 *    @quiet: nothing logged, for a clean start).
 */
int fz_load_modules(void);
void fz_snapshot_refs(void);
void fz_teardown_modules(void);
int fz_check_refs(void);
int fz_unload_modules(bool quiet);

#endif /* _VEXT_FUZZ_ENGINE_H */
