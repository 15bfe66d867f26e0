/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vext ioctl fuzzer and error-path sweep: what a module's table file
 * (selftests/fuzz/<module>.c) describes, and the engine it plugs into.
 *
 * A module adds its coverage without touching the engine: one file that
 * defines a struct fz_module with
 *  - the kernel modules to load (modprobe names) and the ioctl number range
 *    it owns (unknown numbers in it must fail with ENOTTY);
 *  - its fd types (struct fz_fdtype): how to open a root one (/dev/...),
 *    how to learn an object's identity when an ioctl returns one;
 *  - its ioctls (struct fz_ioctl): number, the fd types they apply to, the
 *    argument (0, a scalar or a pointer to a struct whose fields have kinds:
 *    flags, count, index, fd, pointer, sizes and addresses, with limits),
 *    the errnos they may fail with, and an optional check of the result;
 *  - other operations on its fds (mmap, pread, ...), chosen at random;
 *  - failslab scenarios (struct fz_scenario) for failslab_dtest;
 * and registers it with FZ_MODULE(name). Nothing else is needed: the
 * engine finds every registered module at start-up.
 *
 * Everything the engine generates comes from a per-thread xorshift PRNG
 * seeded from the run's seed, so a single-threaded run is reproducible.
 */
#ifndef _VEXT_FUZZ_H
#define _VEXT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <linux/vext.h>

/* printf-like checking; spelt so that it is not taken for the kernel's. */
#define FZ_FORMAT	format
#define FZ_PRINTF(a, b)	__attribute__((FZ_FORMAT(printf, a, b)))

#define FZ_MAX_ON		4	/* fd types an ioctl applies to */
#define FZ_MAX_FIELDS		12
#define FZ_MAX_ERRS		16
#define FZ_MAX_MODS		4	/* kernel modules per fz_module */
#define FZ_MAX_MODULES		8	/* fz_modules registered */

struct fz_thread;
struct fz_obj;
struct fz_call;

/**
 * struct fz_fdtype - a kind of file descriptor
 * @name:     for messages and the statistics
 * @mm_bound: its ioctls fail with EIO in a process other than the creator
 * @open:     for root types (/dev/vext): open one, return the fd or -errno
 * @init:     fill a new object's identity (@obj->val) once an ioctl returned
 *            @fd; @parent is the object the ioctl was issued on, @arg its
 *            argument. Return 0, or -1 with a message in @t (violation)
 * @fini:     release what @init set up (optional)
 *
 * Filled by the engine: @id, @next.
 */
struct fz_fdtype {
	const char *name;
	bool mm_bound;
	int (*open)(void);
	int (*init)(struct fz_thread *t, struct fz_obj *obj, int fd,
		    struct fz_obj *parent, __u64 arg);
	void (*fini)(struct fz_obj *obj);
	unsigned int id;
	struct fz_fdtype *next;
};

/* Sets up the locks in a module's data about an object (fz_obj_data()). */
typedef void fz_data_init_t(void *data);

/*
 * An object behind one or more fds of the table (dups share it). val[] is
 * the fd type's to use (domid, vCPU id, ...); bits[] a 1024-bit set (vCPU
 * ids of a VM). @parent is referenced (a vCPU's VM, a stats fd's owner).
 */
struct fz_obj {
	int refs;
	int owner;		/* pid of the process that made it */
	const struct fz_fdtype *type;
	struct fz_obj *parent;
	__u64 val[4];
	__u64 bits[16];
	void *priv;		/* the fd type's; freed by its @fini */
	void *mdata[FZ_MAX_MODULES];	/* fz_obj_data(), free()d with it */
	fz_data_init_t *minit[FZ_MAX_MODULES];	/* the init of each, or NULL */
};

/* Kinds of struct fields (and of a scalar ioctl argument). */
enum fz_kind {
	FZ_VALUE,	/* anything; small values preferred */
	FZ_FLAGS,	/* @limit = mask of the valid bits */
	FZ_INDEX,	/* < @limit; @pool > 0: mostly < @pool (collisions) */
	FZ_COUNT,	/* <= @limit */
	FZ_SIZE,	/* bytes, multiple of @align, <= @limit */
	FZ_GPA,		/* an address in a guest space, @align aligned */
	FZ_UADDR,	/* a user-space address, as a __u64 (not read by us) */
	FZ_FD,		/* an fd of type @fdtype */
	FZ_PTR,		/* pointer to @elem bytes times the @count_field's value */
	FZ_PAD,		/* padding: 0; @must_zero: non-zero is rejected */
};

/**
 * struct fz_field - one field of an ioctl's struct (or its scalar argument)
 * @name:        for messages
 * @off, @size:  where it is (size 1, 2, 4 or 8)
 * @kind:        what it is, see enum fz_kind
 * @limit:       see enum fz_kind
 * @align:       FZ_SIZE, FZ_GPA, FZ_UADDR
 * @pool:        FZ_INDEX
 * @fdtype:      FZ_FD
 * @elem:        FZ_PTR: bytes per element (the whole buffer if no count)
 * @count_field: FZ_PTR: index in the field array of the count, or -1
 * @out:         FZ_PTR: the kernel writes to the buffer too (a read-only
 *               one is then a bad pointer)
 * @must_zero:   FZ_PAD
 * @strict:      a value outside the limits (unknown flags, index >= limit,
 *               count > limit) must make the ioctl fail
 */
struct fz_field {
	const char *name;
	unsigned short off, size;
	enum fz_kind kind;
	__u64 limit;
	__u64 align;
	unsigned int pool;
	const struct fz_fdtype *fdtype;
	unsigned int elem;
	int count_field;
	bool out;
	bool must_zero;
	bool strict;
};

enum fz_argkind {
	FZ_ARG_ZERO,	/* must be 0: non-zero fails with EINVAL */
	FZ_ARG_SCALAR,	/* @arg describes the value */
	FZ_ARG_STRUCT,	/* a pointer to @size bytes with @fields */
};

/**
 * struct fz_ioctl - one ioctl
 * @name:    for messages and statistics
 * @cmd:     the command; _IOC_DIR tells whether the kernel writes back
 * @on:      the fd types it applies to (NULL-terminated unless full)
 * @argkind: see enum fz_argkind
 * @arg:     FZ_ARG_SCALAR: the argument's description
 * @size, @fields, @nr_fields: FZ_ARG_STRUCT
 * @errs:    errnos it may fail with, 0-terminated. Added by the engine:
 *           EFAULT when a pointer was bad, EIO in another process for
 *           mm-bound fd types, EMFILE/ENFILE when @ret returns an fd
 * @ret:     on success it returns a new fd of this type (or NULL)
 * @weight:  how often to pick it (default 10)
 * @prepare: adjust the generated argument (@c->buf for a struct, before
 *           it is copied to the memory passed; @c->arg for a scalar)
 *           before the call (optional); it may set @c->invalid
 * @check:   judge the result (optional): return 0 if fine, else -1 with a
 *           message set by fz_fail()
 * @used:    FZ_ARG_STRUCT of variable length (optional): the bytes of the
 *           struct in @c->buf the kernel reads or writes. A pointer that
 *           straddles the end of the memory then counts as bad only if
 *           they do not fit before it.
 * @weight and the rest are zero-initialised by C for tables.
 */
struct fz_ioctl {
	const char *name;
	unsigned long cmd;
	const struct fz_fdtype *on[FZ_MAX_ON];
	enum fz_argkind argkind;
	struct fz_field arg;
	unsigned int size;
	const struct fz_field *fields;
	unsigned int nr_fields;
	int errs[FZ_MAX_ERRS];
	const struct fz_fdtype *ret;
	unsigned int weight;
	void (*prepare)(struct fz_thread *t, struct fz_call *c);
	int (*check)(struct fz_thread *t, struct fz_call *c);
	size_t (*used)(const struct fz_call *c);
};

/**
 * struct fz_call - one generated ioctl call, as the check hook sees it
 * @io:       the description
 * @obj:      the object of the fd the call was made on (NULL: bogus fd)
 * @fd:       the fd used
 * @arg:      the argument passed (a scalar, or the struct's address)
 * @buf:      for FZ_ARG_STRUCT: a private copy of the struct as sent
 * @bad_ptr:  a pointer of the call was bad (EFAULT allowed)
 * @bad_arg:  the struct pointer itself was bad (success is a bug)
 * @invalid:  a strict field was out of its limits (success is a bug)
 * @foreign:  the call runs in a process other than the fd's creator
 * @ret:      the result: >= 0, or -errno
 * @why:      set by fz_fail()
 */
struct fz_call {
	const struct fz_ioctl *io;
	struct fz_obj *obj;
	int fd;
	__u64 arg;
	unsigned char buf[256];
	void *uptr;
	bool bad_ptr;
	bool bad_arg;
	bool invalid;
	bool foreign;
	long ret;
	char why[256];
};

/**
 * struct fz_op - another operation on fds of some types (mmap, pread...)
 * @name:   for statistics
 * @on:     the fd types (NULL-terminated unless full)
 * @weight: how often (default 10)
 * @run:    do it on @fd (object @obj): return 0, or -1 after fz_fail()
 *          for a violation. @racy: the fd may be closed/replaced meanwhile
 *          (then only crashes count)
 */
struct fz_op {
	const char *name;
	const struct fz_fdtype *on[FZ_MAX_ON];
	unsigned int weight;
	int (*run)(struct fz_thread *t, int fd, struct fz_obj *obj);
};

/*
 * One step of a failslab scenario: a single system call (or a few, which
 * are then injected together). Returns >= 0 on success or -errno, and may
 * leave results in the context for the following steps.
 */
struct fz_sctx {
	int dev;		/* /dev/vext, opened before the scenario */
	int fd[8];		/* fds made by the steps (-1: none) */
	void *map[4];		/* mappings made by the steps */
	size_t map_len[4];
	__u64 val[4];
};

/**
 * struct fz_scenario - a failslab scenario (failslab_dtest)
 * @name:   for TAP
 * @setup:  build the state the step needs, never injected (optional)
 * @step:   the injected system call(s): >= 0 or -errno
 * @verify: after a success, check the result works (optional): 0 or -1
 * @errs:   errnos an injected failure may yield (0-terminated)
 *
 * The driver closes every fd and mapping in the context after each try.
 */
struct fz_scenario {
	const char *name;
	int (*setup)(struct fz_sctx *s);
	long (*step)(struct fz_sctx *s);
	int (*verify)(struct fz_sctx *s, long ret);
	int errs[FZ_MAX_ERRS];
};

/**
 * struct fz_module - everything one vext module adds
 * @name:         for messages
 * @kmods:        kernel modules to load, in this order (modprobe names);
 *                the first one decides whether the module is present
 * @optional:     not being installed is not a failure (a test module)
 * @nr_first, @nr_last: the ioctl numbers it owns (vext magic)
 * @fdtypes:      its fd types, NULL-terminated
 * @ioctls, @nr_ioctls, @ops, @nr_ops, @scenarios, @nr_scenarios
 * @setup:        once the kernel modules are loaded, prepare what the
 *                module's ioctls need (bind devices, map buffers): 0 or
 *                -errno (optional)
 * @teardown:     undo @setup before the modules are unloaded (optional)
 * @stable:       return 0 if the module's debugfs state is at its baseline
 *                with no fd open (optional; message through fz_fail())
 * @audit:        compare the kernel's state (debugfs) with the live objects
 *                while no other thread or process runs (optional): 0 or -1
 *
 * Filled by the engine: @loaded, @refs (the kernel modules' reference
 * counts with no fd open), @torn (@teardown ran), @idx, @next.
 */
struct fz_module {
	const char *name;
	const char *kmods[FZ_MAX_MODS];
	bool optional;
	unsigned int nr_first, nr_last;
	struct fz_fdtype **fdtypes;
	const struct fz_ioctl *ioctls;
	unsigned int nr_ioctls;
	const struct fz_op *ops;
	unsigned int nr_ops;
	const struct fz_scenario *scenarios;
	unsigned int nr_scenarios;
	int (*setup)(void);
	void (*teardown)(void);
	int (*stable)(struct fz_thread *t);
	int (*audit)(struct fz_thread *t);
	bool loaded;
	int refs[FZ_MAX_MODS];
	bool torn;
	unsigned int idx;
	struct fz_module *next;
};

void fz_register(struct fz_module *m);

#define FZ_MODULE(var)						\
	static void __attribute__((constructor)) fz_reg_##var(void)	\
	{								\
		fz_register(&(var));					\
	}

#define FZ_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- engine services for the tables ---------------------------------- */

/*
 * The modules registered, ordered by their first ioctl number: vext_core
 * first, and every module after the ones it uses (the ranges follow the
 * module graph), so loading walks the list and unloading walks it back.
 */
extern struct fz_module *fz_modules;

/* A "# " line on stdout (printf format), whole even with threads. */
FZ_PRINTF(1, 2) void fz_log(const char *fmt, ...);

/* Record a violation (printf format); returns -1 for "return fz_fail()". */
FZ_PRINTF(2, 3) int fz_fail(struct fz_thread *t, const char *fmt, ...);

/*
 * Several threads (or processes) use the table: a model of the kernel's
 * state may be off, so checks that rely on one must stay loose.
 */
bool fz_threaded(void);

/* Random numbers from the thread's generator. */
__u64 fz_rand(struct fz_thread *t);
/* Uniform in [0, n); 0 if n is 0. */
__u64 fz_below(struct fz_thread *t, __u64 n);
/* True with probability pct/100. */
bool fz_chance(struct fz_thread *t, unsigned int pct);

/*
 * A buffer of @len bytes for the kernel to read (and write if @out) that
 * is good (returned in *good true) or bad (unmapped, NULL, kernel,
 * read-only for @out, straddling a guard page), chosen at random; the
 * content is random. Valid until the next call from this thread.
 */
void *fz_buffer(struct fz_thread *t, size_t len, bool out, bool *good);

/* A user address for the kernel to record but not touch (FZ_UADDR). */
__u64 fz_uaddr(struct fz_thread *t, __u64 align, __u64 len);

/*
 * In a module op: did the fd it works on get closed or replaced meanwhile?
 * Then what it saw says nothing (its violation would not be counted).
 */
bool fz_racy(struct fz_thread *t);

/* The value of field @f in the struct at @buf. */
__u64 fz_get_field(const unsigned char *buf, const struct fz_field *f);

/*
 * Module @m's own data about object @obj (another module's fd type: a VM),
 * @size bytes, zeroed and passed to @init when first asked for, free()d
 * with the object. Several threads may use it: the module locks it as it
 * needs. @init (one function per module, or NULL) sets up those locks and
 * nothing else: a forked child calls it again on the data it inherits, as
 * another thread of the parent may have held a lock at the fork.
 */
void *fz_obj_data(struct fz_obj *obj, const struct fz_module *m, size_t size,
		  fz_data_init_t *init);

/*
 * The engine's fork: a child forked while another thread holds a lock in
 * an object's module data must not inherit it held. 0 if it does not,
 * else -1 and @why says what happened.
 */
int fz_check_fork(char *why, size_t len);

/* Take / drop a reference on an object. */
void fz_obj_get(struct fz_obj *obj);
void fz_obj_put(struct fz_obj *obj);

/*
 * Keep a mapping (made by a module op) so that the engine unmaps it later;
 * @obj is referenced while it lives.
 */
void fz_keep_map(struct fz_thread *t, void *addr, size_t len,
		 struct fz_obj *obj);

/*
 * Call @v->fn on every live object of @type (under the engine's object
 * lock: no engine call from it). Stops at and returns the first non-zero.
 */
struct fz_visitor {
	int (*fn)(struct fz_visitor *v, struct fz_obj *obj);
};

int fz_visit_objs(const struct fz_fdtype *type, struct fz_visitor *v);

/* An fd of @type of the table (a good one to pass as an argument), or -1. */
int fz_pick_fd(struct fz_thread *t, const struct fz_fdtype *type,
	       struct fz_obj **obj);

/* vext_core's fd types (fuzz/core.c) and vext_percpu's stats fd. */
extern struct fz_fdtype fz_vext_dev, fz_vext_vm, fz_vext_vcpu, fz_vext_stats;

/*
 * SET_USER_MEMORY_REGION on VM @vm (fd @fd) outside the generated calls,
 * keeping core's model of the VM's slots (and its audit) in step: 0 or
 * -errno.
 */
int fz_vm_set_region(int fd, struct fz_obj *vm,
		     const struct vext_userspace_memory_region *r);

/* The engine's fd types for non-vext fds (the bogus-fd tests). */
extern struct fz_fdtype fz_eventfd, fz_pipe, fz_null, fz_memfd;

/* ---- debugfs and module state for @stable hooks ------------------------ */

/*
 * A VM that a module's scenario set-up keeps for the whole sweep (a holder
 * of shared state): the @stable hooks do not count domain @domid.
 */
void fz_hold_domid(unsigned int domid, bool hold);
bool fz_held_domid(unsigned int domid);
unsigned int fz_nr_held(void);

/* Lines of /sys/kernel/debug/vext/domains after its header, or -errno. */
int fz_debugfs_domains(int *domids, int *vcpus, int *slots, int max);

#endif /* _VEXT_FUZZ_H */
