// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vext ioctl fuzzer's engine: a table of fds shared by the threads,
 * argument generation from the modules' descriptions, and the judgement of
 * every result against what the description allows. See fuzz.h and
 * fuzz_test.c.
 *
 * Races are the point of the multi-threaded phase, so a result is judged
 * only if the fd it used was not closed or replaced while the call ran:
 * every table slot has a generation count that close, dup2 and fd reuse
 * bump before they touch the fd, and a call whose slot changed under it is
 * counted as "racy" and only has to not crash the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_engine.h"
#include "vext_test.h"

#define PAGE		4096UL
/* A forked child's bound: it runs at most 80 operations. */
#define FZ_CHILD_SECONDS	120

struct fz_module *fz_modules;

/* Sorted by the first ioctl number (see fuzz.h), whatever the link order. */
void fz_register(struct fz_module *m)
{
	static unsigned int nr;
	struct fz_module **pos = &fz_modules;

	if (nr == FZ_MAX_MODULES)
		abort();
	m->idx = nr++;

	while (*pos && (*pos)->nr_first <= m->nr_first)
		pos = &(*pos)->next;
	m->next = *pos;
	*pos = m;
}

struct fz_engine fz_eng;

/* ---- random numbers ------------------------------------------------- */

static __u64 fz_splitmix(__u64 *x)
{
	__u64 z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void fz_seed_thread(struct fz_thread *t, __u64 seed, unsigned int idx)
{
	__u64 x = seed ^ ((__u64)idx << 40);

	t->rng = fz_splitmix(&x) | 1;
}

__u64 fz_rand(struct fz_thread *t)
{
	__u64 x = t->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

__u64 fz_below(struct fz_thread *t, __u64 n)
{
	return n ? fz_rand(t) % n : 0;
}

bool fz_chance(struct fz_thread *t, unsigned int pct)
{
	return fz_below(t, 100) < pct;
}

/* ---- messages ------------------------------------------------------- */

static pthread_mutex_t fz_print_lock = PTHREAD_MUTEX_INITIALIZER;

int fz_fail(struct fz_thread *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void fz_log(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fz_print_lock);
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&fz_print_lock);
}

/* A violation: print it (the first few) and count it. */
void fz_violation(struct fz_thread *t, const char *what)
{
	unsigned long n = __atomic_add_fetch(&fz_eng.violations, 1,
					     __ATOMIC_RELAXED);

	t->violations++;
	if (n <= FZ_MAX_REPORTS)
		fz_log("VIOLATION (pid %d thread %u op %lu, seed %llu): %s: %s",
		       getpid(), t->idx, t->ops, (unsigned long long)fz_eng.seed,
		       what, t->msg[0] ? t->msg : "?");
	else if (n == FZ_MAX_REPORTS + 1)
		fz_log("more violations: not printed");
	t->msg[0] = '\0';
}

/* ---- objects -------------------------------------------------------- */

static pthread_mutex_t fz_obj_lock = PTHREAD_MUTEX_INITIALIZER;
struct fz_objnode {
	struct fz_obj obj;
	struct fz_objnode *prev, *next;
};

static struct fz_objnode fz_objs = { .prev = &fz_objs, .next = &fz_objs };

struct fz_obj *fz_obj_new(const struct fz_fdtype *type, struct fz_obj *parent)
{
	struct fz_objnode *n = calloc(1, sizeof(*n));

	if (!n)
		abort();
	n->obj.refs = 1;
	n->obj.owner = getpid();
	n->obj.type = type;
	n->obj.parent = parent;
	if (parent)
		fz_obj_get(parent);
	pthread_mutex_lock(&fz_obj_lock);
	n->next = &fz_objs;
	n->prev = fz_objs.prev;
	fz_objs.prev->next = n;
	fz_objs.prev = n;
	pthread_mutex_unlock(&fz_obj_lock);
	return &n->obj;
}

void fz_obj_get(struct fz_obj *obj)
{
	__atomic_add_fetch(&obj->refs, 1, __ATOMIC_RELAXED);
}

void fz_obj_put(struct fz_obj *obj)
{
	struct fz_objnode *n;
	struct fz_obj *parent;
	unsigned int i;

	while (obj) {
		if (__atomic_sub_fetch(&obj->refs, 1, __ATOMIC_ACQ_REL))
			return;
		n = (struct fz_objnode *)obj;
		pthread_mutex_lock(&fz_obj_lock);
		n->prev->next = n->next;
		n->next->prev = n->prev;
		pthread_mutex_unlock(&fz_obj_lock);
		if (obj->type->fini)
			obj->type->fini(obj);
		for (i = 0; i < FZ_MAX_MODULES; i++)
			free(obj->mdata[i]);
		parent = obj->parent;
		free(n);
		obj = parent;
	}
}

void *fz_obj_data(struct fz_obj *obj, const struct fz_module *m, size_t size,
		  fz_data_init_t *init)
{
	void *p = __atomic_load_n(&obj->mdata[m->idx], __ATOMIC_ACQUIRE);
	void *none = NULL;

	if (p)
		return p;
	p = calloc(1, size);
	if (!p)
		abort();
	if (init)
		init(p);
	/* Before publishing: a module's data always has the same init. */
	__atomic_store_n(&obj->minit[m->idx], init, __ATOMIC_RELAXED);
	if (!__atomic_compare_exchange_n(&obj->mdata[m->idx], &none, p, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(p);
		p = none;
	}
	return p;
}

/*
 * In a forked child (one thread): set up again the locks in the modules'
 * data of every object, all inherited. Another thread of the parent may
 * have held one at the fork, which nobody would ever release here. (The
 * data itself may then be half updated: the threaded phase's checks are
 * loose anyway; in the single-threaded phase no other thread runs.)
 */
static void fz_reinit_obj_data(void)
{
	struct fz_objnode *n;
	unsigned int i;

	pthread_mutex_lock(&fz_obj_lock);
	for (n = fz_objs.next; n != &fz_objs; n = n->next)
		for (i = 0; i < FZ_MAX_MODULES; i++)
			if (n->obj.mdata[i] && n->obj.minit[i])
				n->obj.minit[i](n->obj.mdata[i]);
	pthread_mutex_unlock(&fz_obj_lock);
}

int fz_visit_objs(const struct fz_fdtype *type, struct fz_visitor *v)
{
	struct fz_objnode *n;
	int ret = 0;

	pthread_mutex_lock(&fz_obj_lock);
	for (n = fz_objs.next; n != &fz_objs && !ret; n = n->next)
		if (!type || n->obj.type == type)
			ret = v->fn(v, &n->obj);
	pthread_mutex_unlock(&fz_obj_lock);
	return ret;
}

/* ---- the fd table --------------------------------------------------- */

/*
 * Snapshot a slot: fd, object (referenced) and generation. Returns false
 * for an empty slot.
 */
bool fz_slot_get(unsigned int i, struct fz_ref *r)
{
	struct fz_slot *s = &fz_eng.slots[i];
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = s->fd >= 0;
	if (ok) {
		r->slot = i;
		r->fd = s->fd;
		r->obj = s->obj;
		r->gen = s->gen;
		fz_obj_get(r->obj);
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* Did the slot change since the snapshot? */
bool fz_slot_changed(const struct fz_ref *r)
{
	return __atomic_load_n(&fz_eng.slots[r->slot].gen, __ATOMIC_ACQUIRE) !=
		r->gen;
}

/*
 * Put a new fd in a free slot (taking over the caller's object reference).
 * With no free slot, the fd is closed and the reference dropped.
 */
void fz_slot_add(struct fz_thread *t, int fd, struct fz_obj *obj)
{
	unsigned int i, start = fz_below(t, FZ_SLOTS);

	for (i = 0; i < FZ_SLOTS; i++) {
		struct fz_slot *s = &fz_eng.slots[(start + i) % FZ_SLOTS];

		pthread_mutex_lock(&s->lock);
		if (s->fd < 0) {
			__atomic_add_fetch(&s->gen, 1, __ATOMIC_RELEASE);
			s->fd = fd;
			s->obj = obj;
			pthread_mutex_unlock(&s->lock);
			return;
		}
		pthread_mutex_unlock(&s->lock);
	}
	close(fd);
	fz_obj_put(obj);
}

/* Empty a slot and close its fd: the generation moves first. */
void fz_slot_close(unsigned int i)
{
	struct fz_slot *s = &fz_eng.slots[i];
	struct fz_obj *obj;
	int fd;

	pthread_mutex_lock(&s->lock);
	fd = s->fd;
	obj = s->obj;
	if (fd >= 0) {
		__atomic_add_fetch(&s->gen, 1, __ATOMIC_RELEASE);
		/*
		 * Closed under the lock: once another slot can get this number
		 * back from the kernel, this slot no longer claims it.
		 */
		close(fd);
		s->fd = -1;
		s->obj = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		fz_obj_put(obj);
}

/* Number of free slots (a hint). */
static unsigned int fz_free_slots(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < FZ_SLOTS; i++)
		n += __atomic_load_n(&fz_eng.slots[i].fd, __ATOMIC_RELAXED) < 0;
	return n;
}

/* A random occupied slot, preferring fds of @type (NULL: any). */
bool fz_slot_pick(struct fz_thread *t, const struct fz_fdtype *type,
		  struct fz_ref *r)
{
	unsigned int i, start = fz_below(t, FZ_SLOTS);

	for (i = 0; i < FZ_SLOTS; i++) {
		unsigned int idx = (start + i) % FZ_SLOTS;

		if (!fz_slot_get(idx, r))
			continue;
		if (!type || r->obj->type == type)
			return true;
		fz_obj_put(r->obj);
	}
	return false;
}

/* A random occupied slot whose type is one of @on[]. */
static bool fz_slot_pick_on(struct fz_thread *t,
			    const struct fz_fdtype *const *on, struct fz_ref *r)
{
	unsigned int i, n = 0, start;

	while (n < FZ_MAX_ON && on[n])
		n++;
	start = fz_below(t, n);
	for (i = 0; i < n; i++)
		if (fz_slot_pick(t, on[(start + i) % n], r))
			return true;
	return false;
}

int fz_pick_fd(struct fz_thread *t, const struct fz_fdtype *type,
	       struct fz_obj **obj)
{
	struct fz_ref r;

	if (!fz_slot_pick(t, type, &r))
		return -1;
	if (obj)
		*obj = r.obj;
	else
		fz_obj_put(r.obj);
	return r.fd;
}

/* ---- memory --------------------------------------------------------- */

/*
 * Per-thread arena, 9 pages: two buffer regions, each
 *   [guard][read-only][read-write][read-write]   and a final guard.
 */
#define FZ_ARENA_PAGES	9

int fz_arena_init(struct fz_thread *t)
{
	unsigned char *a = mmap(NULL, FZ_ARENA_PAGES * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int r;

	if (a == MAP_FAILED)
		return -errno;
	for (r = 0; r < FZ_ARENA_PAGES * PAGE; r++)
		a[r] = fz_rand(t);
	for (r = 0; r < 2; r++) {
		mprotect(a + (4 * r) * PAGE, PAGE, PROT_NONE);
		mprotect(a + (4 * r + 1) * PAGE, PAGE, PROT_READ);
	}
	mprotect(a + 8 * PAGE, PAGE, PROT_NONE);
	t->arena = a;
	return 0;
}

void fz_arena_fini(struct fz_thread *t)
{
	if (t->arena)
		munmap(t->arena, FZ_ARENA_PAGES * PAGE);
	t->arena = NULL;
}

static const __u64 fz_kernel_addrs[] = {
	0xffff888000000000ULL,	/* direct map */
	0xffffffff81000000ULL,	/* kernel text */
	0xffffffffff600000ULL,	/* vsyscall page */
	0x8000000000000000ULL,	/* non-canonical */
	0x0000800000000000ULL,	/* first address past user space (4-level) */
	0xfffffffffffff000ULL,	/* last page */
};

void *fz_buffer(struct fz_thread *t, size_t len, bool out, bool *good)
{
	unsigned char *region;
	unsigned int r = t->bufidx;

	t->bufidx ^= 1;
	region = t->arena + 4 * r * PAGE;	/* its guard page */
	if (!len)
		len = 1;
	if (len <= 2 * PAGE && fz_chance(t, 80)) {
		/* Good: anywhere in the read-write pages, maybe misaligned. */
		size_t room = 2 * PAGE - len;
		size_t off = fz_chance(t, 70) ? (room / 8 ? fz_below(t, room / 8) * 8 : 0)
					      : fz_below(t, room + 1);

		*good = true;
		return region + 2 * PAGE + off;
	}
	*good = false;
	switch (fz_below(t, 7)) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)(1 + fz_below(t, PAGE));
	case 2:
		return region;				/* PROT_NONE */
	case 3:
		/* Straddles into the guard page after the region. */
		if (len >= 2)
			return region + 4 * PAGE - len / 2 - fz_below(t, len / 2);
		return region + 4 * PAGE;
	case 4:
		if (!out && len <= PAGE) {
			/* Read-only memory is fine when the kernel only reads. */
			*good = true;
			return region + 2 * PAGE - len;
		}
		if (len <= PAGE)
			return region + PAGE;		/* read-only: bad for out */
		return region;
	case 5:
		r = fz_below(t, FZ_ARRAY_SIZE(fz_kernel_addrs));
		return (void *)(uintptr_t)fz_kernel_addrs[r];
	default:
		return (void *)(uintptr_t)(fz_kernel_addrs[0] + fz_below(t, 1 << 30));
	}
}

/* The bytes writable from @p on in @t's arena (its read-write pages), or 0. */
static size_t fz_buffer_room(struct fz_thread *t, const void *p)
{
	uintptr_t a = (uintptr_t)t->arena, q = (uintptr_t)p;
	unsigned int r;

	for (r = 0; r < 2; r++) {
		uintptr_t rw = a + 4 * r * PAGE + 2 * PAGE;

		if (q >= rw && q < rw + 2 * PAGE)
			return rw + 2 * PAGE - q;
	}
	return 0;
}

/* Write @len bytes of @src at @dst, which may be in the read-only page. */
void fz_fill(struct fz_thread *t, void *dst, const void *src, size_t len)
{
	uintptr_t ro0 = (uintptr_t)t->arena + PAGE, ro1 = ro0 + 4 * PAGE;
	uintptr_t d = (uintptr_t)dst;
	uintptr_t ro = d >= ro1 && d < ro1 + PAGE ? ro1 :
		       d >= ro0 && d < ro0 + PAGE ? ro0 : 0;

	if (ro)
		mprotect((void *)ro, PAGE, PROT_READ | PROT_WRITE);
	memcpy(dst, src, len);
	if (ro)
		mprotect((void *)ro, PAGE, PROT_READ);
}

__u64 fz_uaddr(struct fz_thread *t, __u64 align, __u64 len)
{
	__u64 a, top = 1ULL << 47;

	if (!align)
		align = 1;
	switch (fz_below(t, 10)) {
	case 0:
	case 1:
	case 2:
		/* Inside the big reservation (never touched by the kernel). */
		a = (uintptr_t)fz_eng.reserve +
		    fz_below(t, FZ_RESERVE / PAGE) * PAGE;
		break;
	case 3:
		a = (uintptr_t)t->arena + 2 * PAGE;
		break;
	case 4:
		a = 0;
		break;
	case 5:
		a = top - len;			/* ends exactly at the top */
		break;
	case 6:
		a = top - len + PAGE;		/* one page too far */
		break;
	case 7:
		a = fz_kernel_addrs[fz_below(t, FZ_ARRAY_SIZE(fz_kernel_addrs))];
		break;
	case 8:
		a = fz_rand(t);
		break;
	default:
		a = -len;			/* wraps */
		break;
	}
	if (fz_chance(t, 90))
		a &= ~(align - 1);
	return a;
}

void fz_keep_map(struct fz_thread *t, void *addr, size_t len,
		 struct fz_obj *obj)
{
	unsigned int i, start = fz_below(t, FZ_MAPS);

	pthread_mutex_lock(&fz_eng.map_lock);
	for (i = 0; i < FZ_MAPS; i++) {
		struct fz_map *m = &fz_eng.maps[(start + i) % FZ_MAPS];

		if (!m->addr) {
			m->addr = addr;
			m->len = len;
			m->owner = getpid();
			m->obj = obj;
			if (obj)
				fz_obj_get(obj);
			pthread_mutex_unlock(&fz_eng.map_lock);
			return;
		}
	}
	pthread_mutex_unlock(&fz_eng.map_lock);
	munmap(addr, len);
}

/* Unmap one kept mapping (a random one, or every one with @all). */
void fz_unmap(struct fz_thread *t, bool all)
{
	unsigned int i, start = t ? fz_below(t, FZ_MAPS) : 0;

	for (i = 0; i < FZ_MAPS; i++) {
		struct fz_map *m = &fz_eng.maps[(start + i) % FZ_MAPS];
		struct fz_obj *obj;
		void *addr;
		size_t len;
		pid_t owner;

		pthread_mutex_lock(&fz_eng.map_lock);
		addr = m->addr;
		len = m->len;
		obj = m->obj;
		owner = m->owner;
		m->addr = NULL;
		m->obj = NULL;
		pthread_mutex_unlock(&fz_eng.map_lock);
		if (!addr)
			continue;
		/*
		 * A fork child did not inherit VM_DONTCOPY mappings (grants):
		 * something else of its own may be there now.
		 */
		if (owner == getpid())
			munmap(addr, len);
		if (obj)
			fz_obj_put(obj);
		if (!all)
			return;
	}
}

/* ---- the engine's own fd types ---------------------------------------- */

static int fz_open_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

static int fz_open_pipe(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	close(p[1]);
	return p[0];
}

static int fz_open_null(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int fz_open_memfd(void)
{
	int fd = memfd_create("vext-fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, PAGE)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

struct fz_fdtype fz_eventfd = { .name = "eventfd", .open = fz_open_eventfd };
struct fz_fdtype fz_pipe = { .name = "pipe", .open = fz_open_pipe };
struct fz_fdtype fz_null = { .name = "null", .open = fz_open_null };
struct fz_fdtype fz_memfd = { .name = "memfd", .open = fz_open_memfd };

static struct fz_fdtype *fz_foreign_types[] = {
	&fz_eventfd, &fz_pipe, &fz_null, &fz_memfd,
};

/* ---- registry of types and ioctls ---------------------------------------- */

static void fz_add_type(struct fz_fdtype *type, bool vext)
{
	unsigned int i;

	for (i = 0; i < fz_eng.nr_types; i++)
		if (fz_eng.types[i] == type)
			return;
	if (fz_eng.nr_types == FZ_MAX_TYPES)
		abort();
	type->id = fz_eng.nr_types;
	fz_eng.types[fz_eng.nr_types] = type;
	fz_eng.type_vext[fz_eng.nr_types++] = vext;
}

/* Collect the loaded modules' types and ioctls. */
void fz_engine_setup(void)
{
	struct fz_module *m;
	unsigned int i;

	for (i = 0; i < FZ_ARRAY_SIZE(fz_foreign_types); i++)
		fz_add_type(fz_foreign_types[i], false);
	for (m = fz_modules; m; m = m->next) {
		if (!m->loaded)
			continue;
		for (i = 0; m->fdtypes && m->fdtypes[i]; i++)
			fz_add_type(m->fdtypes[i], true);
		for (i = 0; i < m->nr_ioctls; i++) {
			if (fz_eng.nr_ioctls == FZ_MAX_IOCTLS)
				abort();
			fz_eng.ioctls[fz_eng.nr_ioctls++] = &m->ioctls[i];
		}
		for (i = 0; i < m->nr_ops; i++) {
			if (fz_eng.nr_ops == FZ_MAX_OPS)
				abort();
			fz_eng.ops[fz_eng.nr_ops++] = &m->ops[i];
		}
	}
	for (i = 0; i < FZ_SLOTS; i++) {
		pthread_mutex_init(&fz_eng.slots[i].lock, NULL);
		fz_eng.slots[i].fd = -1;
	}
	pthread_mutex_init(&fz_eng.map_lock, NULL);
	getrlimit(RLIMIT_NOFILE, &fz_eng.nofile);
	fz_eng.reserve = mmap(NULL, FZ_RESERVE, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fz_eng.reserve == MAP_FAILED)
		fz_eng.reserve = NULL;
}

static bool fz_on(const struct fz_ioctl *io, const struct fz_fdtype *type)
{
	unsigned int i;

	for (i = 0; i < FZ_MAX_ON && io->on[i]; i++)
		if (io->on[i] == type)
			return true;
	return false;
}

/* Is @cmd a known ioctl of fds of @type? */
static bool fz_known(unsigned long cmd, const struct fz_fdtype *type)
{
	unsigned int i;

	for (i = 0; i < fz_eng.nr_ioctls; i++)
		if (fz_eng.ioctls[i]->cmd == cmd && fz_on(fz_eng.ioctls[i], type))
			return true;
	return false;
}

/* Does a registered module (loaded or not) own ioctl number @nr? */
static bool fz_owned_nr(unsigned int nr)
{
	struct fz_module *m;

	for (m = fz_modules; m; m = m->next)
		if (nr >= m->nr_first && nr <= m->nr_last)
			return true;
	/* The reserved block: nobody may answer there. */
	return nr >= 0x80 && nr <= 0xef;
}

/* ---- argument generation --------------------------------------------------- */

static const __u64 fz_big[] = {
	0x7fffffffULL, 0x80000000ULL, 0xffffffffULL, 0x100000000ULL,
	0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL,
};

static __u64 fz_trunc(__u64 v, unsigned int size)
{
	return size >= 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

static int fz_make(struct fz_thread *t, const struct fz_fdtype *type,
		   unsigned int depth);

/* A value of a field; marks @c->invalid or @c->bad_ptr as it goes. */
static __u64 fz_gen_value(struct fz_thread *t, struct fz_call *c,
			  const struct fz_field *f, const __u64 *counts)
{
	__u64 v, lim = f->limit, al = f->align ? f->align : 1;
	bool good;

	switch (f->kind) {
	case FZ_FLAGS:
		v = fz_rand(t) & lim;
		if (fz_chance(t, 25)) {
			v |= fz_chance(t, 50) ? ~0ULL : 1ULL << fz_below(t, 8 * f->size);
			v = fz_trunc(v, f->size);
			if (f->strict && (v & ~lim))
				c->invalid = true;
		}
		return v;
	case FZ_INDEX:
	case FZ_COUNT:
		switch (fz_below(t, 10)) {
		case 0:
			v = lim;
			break;
		case 1:
			v = lim + 1 + fz_below(t, 4);
			break;
		case 2:
			v = fz_big[fz_below(t, FZ_ARRAY_SIZE(fz_big))];
			break;
		case 3:
			v = lim ? lim - 1 : 0;
			break;
		case 4:
			v = 0;
			break;
		default:
			v = f->pool && fz_chance(t, 80) ? fz_below(t, f->pool)
							: fz_below(t, lim + (f->kind == FZ_COUNT));
		}
		v = fz_trunc(v, f->size);
		if (f->strict && (f->kind == FZ_INDEX ? v >= lim : v > lim))
			c->invalid = true;
		return v;
	case FZ_SIZE:
		switch (fz_below(t, 10)) {
		case 0:
			v = 0;
			break;
		case 1:
			v = lim;
			break;
		case 2:
			v = lim + al;
			break;
		case 3:
			v = fz_big[fz_below(t, FZ_ARRAY_SIZE(fz_big))];
			break;
		case 4:
			v = 1 + fz_below(t, al * 4);		/* unaligned */
			break;
		default:
			v = (1 + fz_below(t, 16)) * al;
		}
		return fz_trunc(v, f->size);
	case FZ_GPA:
		switch (fz_below(t, 8)) {
		case 0:
			v = -(al * (1 + fz_below(t, 4)));
			break;
		case 1:
			v = fz_rand(t);
			break;
		case 2:
			v = fz_big[fz_below(t, FZ_ARRAY_SIZE(fz_big))] & ~(al - 1);
			break;
		default:
			/* A small space, so that ranges overlap often. */
			v = fz_below(t, 24) * al * 4;
		}
		if (fz_chance(t, 5))
			v |= 1 + fz_below(t, al - 1 ? al - 1 : 1);
		return fz_trunc(v, f->size);
	case FZ_UADDR:
		return fz_trunc(fz_uaddr(t, al, al * (1 + fz_below(t, 16))), f->size);
	case FZ_FD:
		switch (fz_below(t, 10)) {
		case 0:
			return fz_trunc(-1ULL, f->size);
		case 1:
			return 1 << 20;
		case 2:
			return fz_pick_fd(t, NULL, NULL);
		default:
			v = fz_pick_fd(t, f->fdtype, NULL);
			if ((int)v < 0 && f->fdtype && !fz_make(t, f->fdtype, 1))
				v = fz_pick_fd(t, f->fdtype, NULL);
			return fz_trunc(v, f->size);
		}
	case FZ_PTR: {
		__u64 n = f->count_field >= 0 ? counts[f->count_field] : 1;
		size_t len = n > (2 * PAGE) / (f->elem ? f->elem : 1) ?
			     2 * PAGE + 1 : n * f->elem;
		void *p = fz_buffer(t, len, f->out, &good);

		if (!good || len > 2 * PAGE)
			c->bad_ptr = true;
		return (uintptr_t)p;
	}
	case FZ_PAD:
		if (fz_chance(t, 90))
			return 0;
		if (f->must_zero && f->strict)
			c->invalid = true;
		return fz_trunc(fz_rand(t) | 1, f->size);
	case FZ_VALUE:
	default:
		if (fz_chance(t, 60))
			return fz_below(t, 70);
		if (fz_chance(t, 50))
			return fz_trunc(fz_big[fz_below(t, FZ_ARRAY_SIZE(fz_big))], f->size);
		return fz_trunc(fz_rand(t), f->size);
	}
}

static void fz_put_field(unsigned char *buf, const struct fz_field *f, __u64 v)
{
	__u8 b = v;
	__u16 h = v;
	__u32 w = v;

	switch (f->size) {
	case 1:
		memcpy(buf + f->off, &b, 1);
		break;
	case 2:
		memcpy(buf + f->off, &h, 2);
		break;
	case 4:
		memcpy(buf + f->off, &w, 4);
		break;
	default:
		memcpy(buf + f->off, &v, 8);
	}
}

__u64 fz_get_field(const unsigned char *buf, const struct fz_field *f)
{
	__u8 b;
	__u16 h;
	__u32 w;
	__u64 q;

	switch (f->size) {
	case 1:
		memcpy(&b, buf + f->off, 1);
		return b;
	case 2:
		memcpy(&h, buf + f->off, 2);
		return h;
	case 4:
		memcpy(&w, buf + f->off, 4);
		return w;
	default:
		memcpy(&q, buf + f->off, 8);
		return q;
	}
}

/* Build the argument of @c (its io and fd are set). */
static void fz_gen_args(struct fz_thread *t, struct fz_call *c)
{
	const struct fz_ioctl *io = c->io;
	__u64 counts[FZ_MAX_FIELDS] = { 0 };
	unsigned int i, pass;
	size_t used, room;
	bool good;

	switch (io->argkind) {
	case FZ_ARG_ZERO:
		c->arg = fz_chance(t, 85) ? 0 : fz_chance(t, 50) ? 1 : fz_rand(t);
		if (c->arg)
			c->invalid = true;
		break;
	case FZ_ARG_SCALAR:
		c->arg = fz_gen_value(t, c, &io->arg, counts);
		break;
	case FZ_ARG_STRUCT:
		memset(c->buf, 0, sizeof(c->buf));
		if (io->size > sizeof(c->buf))
			abort();
		/* Counts first: pointers size their buffers after them. */
		for (pass = 0; pass < 2; pass++) {
			for (i = 0; i < io->nr_fields; i++) {
				const struct fz_field *f = &io->fields[i];

				bool ptr = f->kind == FZ_PTR;

				if (pass != ptr)
					continue;
				counts[i] = fz_gen_value(t, c, f, counts);
				fz_put_field(c->buf, f, counts[i]);
			}
		}
		if (io->prepare)
			io->prepare(t, c);
		if (fz_chance(t, 3))
			for (i = 0; i < io->size; i++)
				c->buf[i] = fz_rand(t);	/* garbage: no judgement */
		c->uptr = fz_buffer(t, io->size, _IOC_DIR(io->cmd) & _IOC_READ,
				    &good);
		room = good ? io->size : fz_buffer_room(t, c->uptr);
		/*
		 * A struct straddling the guard page gets its first bytes too:
		 * the kernel must read what was generated, not what an earlier
		 * call left there. It is good if what the kernel touches fits.
		 */
		if (room)
			fz_fill(t, c->uptr, c->buf, room < io->size ? room : io->size);
		used = io->used ? io->used(c) : io->size;
		if (!good && room && used < io->size && room >= used)
			good = true;
		c->bad_arg = !good;
		if (!good)
			c->bad_ptr = true;
		c->arg = (uintptr_t)c->uptr;
		return;
	}
	if (io->prepare)
		io->prepare(t, c);
}

/* ---- judging ---------------------------------------------------------------- */

static bool fz_in(const int *errs, int e)
{
	unsigned int i;

	for (i = 0; i < FZ_MAX_ERRS && errs[i]; i++)
		if (errs[i] == e)
			return true;
	return false;
}

/*
 * Judge @c (made on a fd of the right type, not racy): returns 0 or -1
 * with t->msg set. A success that returned an fd registers it.
 */
static int fz_judge(struct fz_thread *t, struct fz_call *c)
{
	const struct fz_ioctl *io = c->io;
	bool mm = c->obj->type->mm_bound && c->foreign;
	int e;

	if (c->ret >= 0) {
		if (mm)
			return fz_fail(t, "succeeded (%ld) in another process",
				       c->ret);
		if (c->invalid)
			return fz_fail(t, "succeeded (%ld) with an out-of-limits arg %#llx",
				       c->ret, (unsigned long long)c->arg);
		if (c->bad_arg)
			return fz_fail(t, "succeeded (%ld) with a bad struct pointer %#llx",
				       c->ret, (unsigned long long)c->arg);
	} else {
		e = -c->ret;
		if (mm && e != EIO)
			return fz_fail(t, "%s in another process, expected EIO", strerror(e));
		if (!mm && !fz_in(io->errs, e) &&
		    !(e == EFAULT && c->bad_ptr) &&
		    !((e == EMFILE || e == ENFILE) && io->ret))
			return fz_fail(t, "unexpected errno %s (arg %#llx%s)", strerror(e),
				       (unsigned long long)c->arg,
				       c->bad_ptr ? ", bad pointer" : "");
	}
	if (io->check && io->check(t, c))
		return -1;
	return 0;
}

/* Register the fd a successful call returned. */
static int fz_adopt(struct fz_thread *t, struct fz_call *c)
{
	struct fz_obj *obj;
	int ret = 0;

	obj = fz_obj_new(c->io->ret, c->obj);
	if (c->io->ret->init)
		ret = c->io->ret->init(t, obj, c->ret, c->obj, c->arg);
	fz_slot_add(t, c->ret, obj);
	return ret;
}

void fz_stat_io(const struct fz_ioctl *io, long ret, bool racy, __u64 ns)
{
	unsigned int i;

	for (i = 0; i < fz_eng.nr_ioctls; i++) {
		if (fz_eng.ioctls[i] != io)
			continue;
		__atomic_add_fetch(&fz_eng.io_calls[i], 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&fz_eng.io_ns[i], ns, __ATOMIC_RELAXED);
		if (ret >= 0)
			__atomic_add_fetch(&fz_eng.io_ok[i], 1, __ATOMIC_RELAXED);
		if (racy)
			__atomic_add_fetch(&fz_eng.io_racy[i], 1, __ATOMIC_RELAXED);
		return;
	}
}

/* ---- operations ------------------------------------------------------------- */

static const struct fz_ioctl *fz_pick_ioctl(struct fz_thread *t)
{
	unsigned int i, total = 0;
	__u64 r;

	for (i = 0; i < fz_eng.nr_ioctls; i++)
		total += fz_eng.ioctls[i]->weight ? fz_eng.ioctls[i]->weight : 10;
	r = fz_below(t, total);
	for (i = 0; i < fz_eng.nr_ioctls; i++) {
		unsigned int w = fz_eng.ioctls[i]->weight ? fz_eng.ioctls[i]->weight : 10;

		if (r < w)
			return fz_eng.ioctls[i];
		r -= w;
	}
	return fz_eng.ioctls[0];
}

/* One described ioctl on an fd of the right type (or a bogus one). */
static void fz_op_ioctl(struct fz_thread *t, const struct fz_ioctl *io,
			bool bogus)
{
	struct fz_call c;
	struct fz_ref r;
	bool racy, have;
	__u64 ns;
	int ret;

	memset(&c, 0, sizeof(c));
	c.io = io;
	if (bogus) {
		have = fz_slot_pick(t, NULL, &r);
		if (!have || fz_chance(t, 20)) {
			/* A number that is no fd at all. */
			if (have)
				fz_obj_put(r.obj);
			c.fd = fz_chance(t, 50) ? -1 : 1 << 20;
			c.arg = 0;
			ret = vext_fz_ioctl(c.fd, io->cmd, 0);
			if (ret != -EBADF) {
				fz_fail(t, "ioctl on fd %d: %s, expected EBADF", c.fd,
					ret < 0 ? strerror(-ret) : "success");
				fz_violation(t, io->name);
			}
			return;
		}
	} else if (!fz_slot_pick_on(t, io->on, &r)) {
		fz_make(t, io->on[0], 0);
		return;
	}
	c.fd = r.fd;
	c.obj = r.obj;
	c.foreign = r.obj->owner != getpid();
	fz_gen_args(t, &c);
	ns = vext_now_ns();
	c.ret = vext_fz_ioctl(c.fd, io->cmd, c.arg);
	ns = vext_now_ns() - ns;
	racy = fz_slot_changed(&r);
	if (!racy && fz_on(io, r.obj->type)) {
		fz_stat_io(io, c.ret, false, ns);
		if (fz_judge(t, &c))
			fz_violation(t, io->name);
		if (c.ret >= 0 && io->ret && fz_adopt(t, &c))
			fz_violation(t, io->name);
	} else if (!racy) {
		/* A known command on an fd of another type. */
		bool mm = r.obj->type->mm_bound && c.foreign;
		long want = mm ? -EIO : -ENOTTY;

		if (fz_eng.type_vext[r.obj->type->id] || c.ret != -EINVAL) {
			if (c.ret != want && !fz_known(io->cmd, r.obj->type)) {
				fz_fail(t, "on a %s fd: %s, expected %s",
					r.obj->type->name,
					c.ret < 0 ? strerror(-c.ret) : "success",
					strerror(-want));
				fz_violation(t, io->name);
			}
		}
		if (c.ret >= 0 && io->ret)
			close(c.ret);
	} else {
		fz_stat_io(io, c.ret, true, ns);
		if (c.ret >= 0 && io->ret)
			close(c.ret);	/* who knows what it is */
	}
	fz_obj_put(r.obj);
}

/* An ioctl number no module implements, on a vext fd: ENOTTY. */
static void fz_op_unknown(struct fz_thread *t)
{
	const struct fz_ioctl *io = fz_pick_ioctl(t);
	unsigned long cmd;
	unsigned int nr;
	struct fz_ref r;
	bool foreign;
	long ret;
	bool good;
	void *p;

	switch (fz_below(t, 4)) {
	case 0:	/* a known command with other size or direction bits */
		cmd = _IOC(fz_below(t, 4), _IOC_TYPE(io->cmd), _IOC_NR(io->cmd),
			   fz_below(t, 4) ? fz_below(t, 64) : fz_below(t, 1 << 14));
		break;
	case 1:	/* another magic */
		cmd = _IOC(fz_below(t, 4), fz_below(t, 256), fz_below(t, 256),
			   fz_below(t, 64));
		if (_IOC_TYPE(cmd) == VEXTIO_FZ)
			cmd ^= 1 << _IOC_TYPESHIFT;
		break;
	default: /* any number with vext's magic */
		cmd = _IOC(fz_below(t, 4), VEXTIO_FZ, fz_below(t, 256),
			   fz_below(t, 4) ? fz_below(t, 64) : fz_below(t, 1 << 14));
	}
	nr = _IOC_NR(cmd);
	if (_IOC_TYPE(cmd) == VEXTIO_FZ && !fz_owned_nr(nr))
		return;		/* a range of a module the fuzzer does not know */
	if (!fz_slot_pick(t, NULL, &r))
		return;
	if (!fz_eng.type_vext[r.obj->type->id] || fz_known(cmd, r.obj->type)) {
		fz_obj_put(r.obj);
		return;
	}
	p = fz_buffer(t, _IOC_SIZE(cmd), true, &good);
	ret = vext_fz_ioctl(r.fd, cmd, fz_chance(t, 50) ? (uintptr_t)p : fz_rand(t));
	foreign = r.obj->owner != getpid() && r.obj->type->mm_bound;
	if (!fz_slot_changed(&r) && ret != (foreign ? -EIO : -ENOTTY)) {
		fz_fail(t, "unknown cmd %#lx on a %s fd: %s, expected %s", cmd,
			r.obj->type->name, ret < 0 ? strerror(-ret) : "success",
			foreign ? "EIO" : "ENOTTY");
		fz_violation(t, "unknown ioctl");
	}
	fz_obj_put(r.obj);
}

/* Make an fd of @type: open a root type, or run an ioctl that returns one. */
static int fz_make(struct fz_thread *t, const struct fz_fdtype *type,
		   unsigned int depth)
{
	unsigned int i, n = 0;
	const struct fz_ioctl *cands[8];
	const struct fz_ioctl *io;
	struct fz_ref r;
	struct fz_call c;
	__u64 ns;

	if (type->open) {
		int fd = type->open();

		if (fd < 0)
			return fd;
		fz_slot_add(t, fd, fz_obj_new(type, NULL));
		return 0;
	}
	if (depth > 4)
		return -ELOOP;
	for (i = 0; i < fz_eng.nr_ioctls && n < 8; i++)
		if (fz_eng.ioctls[i]->ret == type)
			cands[n++] = fz_eng.ioctls[i];
	if (!n)
		return -ENOENT;
	io = cands[fz_below(t, n)];
	/* A parent of the right type that this process may use. */
	for (i = 0; i < 4; i++) {
		if (!fz_slot_pick(t, io->on[0], &r))
			break;
		if (r.obj->type == io->on[0] &&
		    (!io->on[0]->mm_bound || r.obj->owner == getpid()))
			goto have;
		fz_obj_put(r.obj);
	}
	return fz_make(t, io->on[0], depth + 1);
have:
	/* A well-formed call: the generator's "good" values, no garbage. */
	memset(&c, 0, sizeof(c));
	c.io = io;
	c.fd = r.fd;
	c.obj = r.obj;
	if (io->argkind == FZ_ARG_SCALAR)
		c.arg = io->arg.pool ? fz_below(t, io->arg.pool) :
			io->arg.limit ? fz_below(t, io->arg.limit) : 0;
	else if (io->argkind == FZ_ARG_STRUCT)
		fz_gen_args(t, &c);
	ns = vext_now_ns();
	c.ret = vext_fz_ioctl(c.fd, io->cmd, c.arg);
	ns = vext_now_ns() - ns;
	if (!fz_slot_changed(&r)) {
		fz_stat_io(io, c.ret, false, ns);
		if (fz_judge(t, &c))
			fz_violation(t, io->name);
		if (c.ret >= 0 && fz_adopt(t, &c))
			fz_violation(t, io->name);
	} else if (c.ret >= 0) {
		close(c.ret);
	}
	fz_obj_put(r.obj);
	return 0;
}

static void fz_op_module(struct fz_thread *t)
{
	unsigned int idx = fz_below(t, fz_eng.nr_ops);
	const struct fz_op *op = fz_eng.ops[idx];
	struct fz_ref r;
	__u64 ns;
	int ret;

	if (!fz_slot_pick_on(t, op->on, &r)) {
		fz_make(t, op->on[0], 0);
		return;
	}
	__atomic_add_fetch(&fz_eng.op_calls[idx], 1, __ATOMIC_RELAXED);
	t->msg[0] = '\0';
	t->racy_ref = &r;
	ns = vext_now_ns();
	ret = op->run(t, r.fd, r.obj);
	__atomic_add_fetch(&fz_eng.op_ns[idx], vext_now_ns() - ns, __ATOMIC_RELAXED);
	t->racy_ref = NULL;
	if (ret && !fz_slot_changed(&r))
		fz_violation(t, op->name);
	fz_obj_put(r.obj);
}

bool fz_threaded(void)
{
	return fz_eng.threaded;
}

bool fz_racy(struct fz_thread *t)
{
	return t->racy_ref && fz_slot_changed(t->racy_ref);
}

static void fz_op_close(struct fz_thread *t)
{
	fz_slot_close(fz_below(t, FZ_SLOTS));
}

static void fz_op_dup(struct fz_thread *t)
{
	struct fz_ref r;
	int fd;

	if (!fz_slot_pick(t, NULL, &r))
		return;
	fd = fcntl(r.fd, F_DUPFD_CLOEXEC, fz_chance(t, 50) ? 0 : 100);
	if (fd < 0 || fz_slot_changed(&r)) {
		if (fd >= 0)
			close(fd);
		fz_obj_put(r.obj);
		return;
	}
	fz_slot_add(t, fd, r.obj);	/* the reference goes with it */
}

/* dup2 one slot's fd over another's: the target's file is replaced. */
static void fz_op_dup2(struct fz_thread *t)
{
	unsigned int dst = fz_below(t, FZ_SLOTS);
	struct fz_slot *s = &fz_eng.slots[dst];
	struct fz_obj *old;
	struct fz_ref r;

	if (!fz_slot_pick(t, NULL, &r))
		return;
	if (r.slot == dst) {
		fz_obj_put(r.obj);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->fd < 0 || s->fd == r.fd || fz_slot_changed(&r)) {
		pthread_mutex_unlock(&s->lock);
		fz_obj_put(r.obj);
		return;
	}
	__atomic_add_fetch(&s->gen, 1, __ATOMIC_RELEASE);
	if (dup3(r.fd, s->fd, O_CLOEXEC) < 0) {
		/* r.fd was closed meanwhile: the target is untouched. */
		pthread_mutex_unlock(&s->lock);
		fz_obj_put(r.obj);
		return;
	}
	old = s->obj;
	s->obj = r.obj;
	pthread_mutex_unlock(&s->lock);
	fz_obj_put(old);
}

/*
 * Lower RLIMIT_NOFILE below the fds in use (new fds then fail with EMFILE,
 * the error path between "object built" and "fd installed"), or restore it.
 */
static void fz_op_rlimit(struct fz_thread *t)
{
	struct rlimit rl = fz_eng.nofile;

	if (fz_chance(t, 50))
		rl.rlim_cur = 4 + fz_below(t, FZ_SLOTS + 16);
	setrlimit(RLIMIT_NOFILE, &rl);
}

void fz_restore_rlimit(void)
{
	setrlimit(RLIMIT_NOFILE, &fz_eng.nofile);
}

static void fz_op_foreign(struct fz_thread *t)
{
	fz_make(t, fz_foreign_types[fz_below(t, FZ_ARRAY_SIZE(fz_foreign_types))], 0);
}

static void fz_op_open_root(struct fz_thread *t)
{
	unsigned int i, start = fz_below(t, fz_eng.nr_types);

	for (i = 0; i < fz_eng.nr_types; i++) {
		struct fz_fdtype *type = fz_eng.types[(start + i) % fz_eng.nr_types];

		if (type->open && fz_eng.type_vext[type->id]) {
			fz_make(t, type, 0);
			return;
		}
	}
}

/* Reap children that finished; count their violations. */
void fz_reap(bool wait)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, wait ? 0 : WNOHANG)) > 0) {
		__atomic_sub_fetch(&fz_eng.children, 1, __ATOMIC_RELAXED);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		__atomic_add_fetch(&fz_eng.violations, 1, __ATOMIC_RELAXED);
		if (WIFEXITED(status))
			fz_log("child %d: %d violation(s)", pid, WEXITSTATUS(status));
		else
			fz_log("child %d: killed by signal %d", pid, WTERMSIG(status));
	}
}

/*
 * fork() with every lock of the engine held, so that no close, dup2 or
 * add is half done and the child's table matches the fds it inherits.
 * The child sets up the locks in the module data again
 * (fz_reinit_obj_data()) and gets a bound: one that hangs anyway dies of
 * SIGALRM, which its parent counts as a violation, rather than holding
 * the fds it inherited past the run.
 */
static pid_t fz_fork(void)
{
	unsigned int i;
	pid_t pid;

	fflush(stdout);
	pthread_mutex_lock(&fz_print_lock);
	for (i = 0; i < FZ_SLOTS; i++)
		pthread_mutex_lock(&fz_eng.slots[i].lock);
	pthread_mutex_lock(&fz_eng.map_lock);
	pthread_mutex_lock(&fz_obj_lock);
	pid = fork();
	pthread_mutex_unlock(&fz_obj_lock);
	pthread_mutex_unlock(&fz_eng.map_lock);
	for (i = 0; i < FZ_SLOTS; i++)
		pthread_mutex_unlock(&fz_eng.slots[i].lock);
	pthread_mutex_unlock(&fz_print_lock);
	if (!pid) {
		alarm(FZ_CHILD_SECONDS);
		fz_reinit_obj_data();
		fz_eng.children = 0;
		fz_eng.violations = 0;
	}
	return pid;
}

struct fz_fork_check {
	pthread_mutex_t lock;
	pthread_mutex_t *held;
	bool locked, release;
};

static void fz_fork_check_init(void *data)
{
	pthread_mutex_init(data, NULL);
}

static void *fz_fork_check_holder(void *arg)
{
	struct fz_fork_check *c = arg;

	pthread_mutex_lock(c->held);
	pthread_mutex_lock(&c->lock);
	c->locked = true;
	while (!c->release) {
		pthread_mutex_unlock(&c->lock);
		usleep(1000);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(c->held);
	return NULL;
}

int fz_check_fork(char *why, size_t len)
{
	struct fz_fork_check c = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct fz_obj *obj = fz_obj_new(&fz_null, NULL);
	bool locked = false;
	int status = -1;
	pthread_t th;
	pid_t pid;

	c.held = fz_obj_data(obj, fz_modules, sizeof(pthread_mutex_t),
			     fz_fork_check_init);
	if (pthread_create(&th, NULL, fz_fork_check_holder, &c)) {
		snprintf(why, len, "pthread_create: %s", strerror(errno));
		fz_obj_put(obj);
		return -1;
	}
	while (!locked) {
		usleep(1000);
		pthread_mutex_lock(&c.lock);
		locked = c.locked;
		pthread_mutex_unlock(&c.lock);
	}
	pid = fz_fork();
	if (!pid) {
		pthread_mutex_t *m = fz_obj_data(obj, fz_modules,
						 sizeof(pthread_mutex_t),
						 fz_fork_check_init);
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		_exit(pthread_mutex_timedlock(m, &ts) ? 1 : 0);
	}
	if (pid > 0 && waitpid(pid, &status, 0) != pid)
		status = -1;
	pthread_mutex_lock(&c.lock);
	c.release = true;
	pthread_mutex_unlock(&c.lock);
	pthread_join(th, NULL);
	fz_obj_put(obj);
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(why, len,
			 "the child waited 5 s for a lock that another thread held at the fork");
		return -1;
	}
	return 0;
}

/*
 * fork: the child inherits every fd and mapping and runs random operations
 * in a process that did not make them (vext answers EIO to VM and vCPU
 * ioctls there) while creating its own VMs, then exits with the fds open,
 * so that the last references may go in its exit. With @wait the parent
 * waits for it (single-threaded phase: keeps the run reproducible).
 */
static void fz_op_fork(struct fz_thread *t, bool wait)
{
	__u64 seed = fz_rand(t);
	unsigned int i;
	pid_t pid;

	if (__atomic_load_n(&fz_eng.children, __ATOMIC_RELAXED) >= 2)
		return fz_reap(false);
	pid = fz_fork();
	if (pid < 0)
		return;
	if (!pid) {
		struct fz_thread ct;
		unsigned int n = 20 + fz_below(t, 60);

		memset(&ct, 0, sizeof(ct));
		fz_seed_thread(&ct, seed, 1000);
		ct.idx = 1000;
		ct.child = true;
		if (fz_arena_init(&ct))
			_exit(0);
		for (i = 0; i < n; i++)
			fz_step(&ct, false);
		fz_reap(true);
		_exit(ct.violations > 100 ? 100 : ct.violations);
	}
	__atomic_add_fetch(&fz_eng.children, 1, __ATOMIC_RELAXED);
	if (wait)
		fz_reap(true);
}

/* A short-lived thread: a few operations, then it exits (maybe bound). */
struct fz_spawn {
	struct fz_thread t;
	unsigned int n;
};

static void *fz_spawn_main(void *arg)
{
	struct fz_spawn *s = arg;
	unsigned int i;

	for (i = 0; i < s->n; i++)
		fz_step(&s->t, false);
	fz_arena_fini(&s->t);
	free(s);
	__atomic_sub_fetch(&fz_eng.spawned, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Start a thread that runs a few operations and exits, often with a vCPU
 * loaded (vext_pn then unbinds it after its last switch, and a LOAD from
 * another thread reaps the binding). Single-threaded, it is waited for, so
 * the run stays reproducible.
 */
static void fz_op_thread(struct fz_thread *t)
{
	static unsigned int seq;
	struct fz_spawn *s;
	pthread_t th;

	if (__atomic_load_n(&fz_eng.spawned, __ATOMIC_ACQUIRE) >= 4)
		return;
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	fz_seed_thread(&s->t, fz_rand(t), 0);
	s->t.idx = 2000 + __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	s->n = 1 + fz_below(t, 12);
	if (fz_arena_init(&s->t)) {
		free(s);
		return;
	}
	__atomic_add_fetch(&fz_eng.spawned, 1, __ATOMIC_ACQ_REL);
	if (pthread_create(&th, NULL, fz_spawn_main, s)) {
		__atomic_sub_fetch(&fz_eng.spawned, 1, __ATOMIC_RELEASE);
		fz_arena_fini(&s->t);
		free(s);
		return;
	}
	if (fz_eng.threaded)
		pthread_detach(th);
	else
		pthread_join(th, NULL);
}

/* Wait for the short-lived threads to finish. */
void fz_wait_spawned(void)
{
	while (__atomic_load_n(&fz_eng.spawned, __ATOMIC_ACQUIRE))
		usleep(1000);
}

/* One random operation. @chaos: the closer/duper thread's weights. */
void fz_step(struct fz_thread *t, bool chaos)
{
	unsigned int free = fz_free_slots();
	unsigned int w_ioctl = chaos ? 10 : 60, w_bogus = 6, w_unknown = 6,
		     w_close = chaos ? 30 : (free < FZ_SLOTS / 4 ? 25 : 5),
		     w_dup = chaos ? 15 : 3, w_dup2 = chaos ? 15 : 2,
		     w_foreign = 2, w_root = 2, w_unmap = 3,
		     w_rlimit = t->child ? 0 : (chaos ? 3 : 1),
		     w_thread = t->child || t->idx >= 2000 ? 0 : 2,
		     w_fork = t->child ? 0 : (chaos ? 2 : (fz_eng.no_fork ? 0 : 1)),
		     w_mod = fz_eng.nr_ops ? 20 : 0;
	unsigned int total = w_ioctl + w_bogus + w_unknown + w_close + w_dup +
			     w_dup2 + w_foreign + w_root + w_unmap + w_fork + w_mod +
			     w_rlimit + w_thread;
	__u64 r = fz_below(t, total);

	t->ops++;
	t->msg[0] = '\0';
	if (r < w_ioctl)
		return fz_op_ioctl(t, fz_pick_ioctl(t), false);
	r -= w_ioctl;
	if (r < w_bogus)
		return fz_op_ioctl(t, fz_pick_ioctl(t), true);
	r -= w_bogus;
	if (r < w_unknown)
		return fz_op_unknown(t);
	r -= w_unknown;
	if (r < w_close)
		return fz_op_close(t);
	r -= w_close;
	if (r < w_dup)
		return fz_op_dup(t);
	r -= w_dup;
	if (r < w_dup2)
		return fz_op_dup2(t);
	r -= w_dup2;
	if (r < w_foreign)
		return fz_op_foreign(t);
	r -= w_foreign;
	if (r < w_root)
		return fz_op_open_root(t);
	r -= w_root;
	if (r < w_unmap)
		return fz_unmap(t, false);
	r -= w_unmap;
	if (r < w_rlimit)
		return fz_op_rlimit(t);
	r -= w_rlimit;
	if (r < w_thread)
		return fz_op_thread(t);
	r -= w_thread;
	if (r < w_fork)
		return fz_op_fork(t, !fz_eng.threaded);
	return fz_op_module(t);
}

/* Close every slot and mapping. */
void fz_close_all(void)
{
	unsigned int i;

	fz_restore_rlimit();
	for (i = 0; i < FZ_SLOTS; i++)
		fz_slot_close(i);
	fz_unmap(NULL, true);
}

/* Print the per-ioctl statistics. */
void fz_print_stats(void)
{
	unsigned int i;

	for (i = 0; i < fz_eng.nr_ioctls; i++)
		fz_log("  %-28s calls %6lu ok %6lu racy %5lu %7llu ms",
		       fz_eng.ioctls[i]->name, fz_eng.io_calls[i], fz_eng.io_ok[i],
		       fz_eng.io_racy[i],
		       (unsigned long long)(fz_eng.io_ns[i] / 1000000));
	for (i = 0; i < fz_eng.nr_ops; i++)
		fz_log("  %-28s runs  %6lu %27llu ms", fz_eng.ops[i]->name,
		       fz_eng.op_calls[i],
		       (unsigned long long)(fz_eng.op_ns[i] / 1000000));
}

static unsigned int fz_held[4];

void fz_hold_domid(unsigned int domid, bool hold)
{
	unsigned int i;

	for (i = 0; i < FZ_ARRAY_SIZE(fz_held); i++) {
		if (hold && !fz_held[i]) {
			fz_held[i] = domid;
			return;
		}
		if (!hold && fz_held[i] == domid)
			fz_held[i] = 0;
	}
}

bool fz_held_domid(unsigned int domid)
{
	unsigned int i;

	for (i = 0; i < FZ_ARRAY_SIZE(fz_held); i++)
		if (domid && fz_held[i] == domid)
			return true;
	return false;
}

unsigned int fz_nr_held(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < FZ_ARRAY_SIZE(fz_held); i++)
		n += !!fz_held[i];
	return n;
}

int fz_debugfs_domains(int *domids, int *vcpus, int *slots, int max)
{
	char buf[65536], *line, *save = NULL;
	int n = 0, ret = vext_debugfs_read("domains", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	line = strtok_r(buf, "\n", &save);	/* the header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		int d, v, s;

		if (sscanf(line, "%d %d %d", &d, &v, &s) != 3)
			return -EPROTO;
		if (n < max) {
			domids[n] = d;
			vcpus[n] = v;
			slots[n] = s;
		}
		n++;
	}
	return n;
}

/* ---- the drivers' set-up and tear-down --------------------------------- */

int fz_load_modules(void)
{
	struct fz_module *m;
	int bad = 0, ret;
	unsigned int j;

	for (m = fz_modules; m; m = m->next) {
		for (j = 0; j < FZ_MAX_MODS && m->kmods[j]; j++) {
			ret = vext_mod_load(m->kmods[j], NULL);
			if (ret) {
				if (!m->optional || ret != -ENOENT) {
					fz_log("loading %s: %s", m->kmods[j], strerror(-ret));
					bad++;
				}
				break;
			}
		}
		m->loaded = j > 0 && (j == FZ_MAX_MODS || !m->kmods[j]);
		if (m->loaded && m->setup) {
			ret = m->setup();
			if (ret) {
				fz_log("module %s: setup: %s", m->name, strerror(-ret));
				bad++;
			}
		}
		m->torn = false;
		fz_log("module %s: %s", m->name,
		       m->loaded ? "loaded" : "not installed, skipped");
	}
	return bad;
}

void fz_snapshot_refs(void)
{
	struct fz_module *m;
	unsigned int j;

	for (m = fz_modules; m; m = m->next)
		for (j = 0; j < FZ_MAX_MODS; j++)
			m->refs[j] = m->loaded && m->kmods[j] ?
				     vext_mod_refcnt(m->kmods[j]) : -1;
}

int fz_check_refs(void)
{
	struct fz_module *m;
	unsigned int j;
	int bad = 0;

	for (m = fz_modules; m; m = m->next) {
		for (j = 0; j < FZ_MAX_MODS; j++) {
			int now = -1, tries = 0;

			if (m->refs[j] < 0 || !m->kmods[j])
				continue;
			while ((now = vext_mod_refcnt(m->kmods[j])) != m->refs[j] &&
			       tries++ < 50)
				vext_sleep_ms(100);
			if (now != m->refs[j]) {
				fz_log("%s: refcnt %d, was %d", m->kmods[j], now,
				       m->refs[j]);
				bad++;
			}
		}
	}
	return bad;
}

void fz_teardown_modules(void)
{
	struct fz_module *order[32], *m;
	int n = 0, i;

	for (m = fz_modules; m && n < 32; m = m->next)
		order[n++] = m;
	for (i = n - 1; i >= 0; i--) {
		if (order[i]->loaded && order[i]->teardown && !order[i]->torn)
			order[i]->teardown();
		order[i]->torn = true;
	}
}

int fz_unload_modules(bool quiet)
{
	struct fz_module *order[32], *m;
	int n = 0, i, j, ret, bad = 0;

	fz_teardown_modules();
	for (m = fz_modules; m && n < 32; m = m->next)
		order[n++] = m;
	for (i = n - 1; i >= 0; i--) {
		for (j = FZ_MAX_MODS - 1; j >= 0; j--) {
			const char *k = order[i]->kmods[j];
			int tries = 0;

			if (!k)
				continue;
			/* In-use can be transient (bindings freed by work items). */
			while ((ret = vext_mod_unload(k)) == VEXT_MOD_IN_USE &&
			       tries++ < 50)
				vext_sleep_ms(100);
			if (ret) {
				bad++;
				if (!quiet)
					fz_log("rmmod %s: %s (refcnt %d)", k,
					       strerror(-ret), vext_mod_refcnt(k));
			}
		}
		order[i]->loaded = false;
	}
	return bad;
}
