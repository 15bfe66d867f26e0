// SPDX-License-Identifier: GPL-2.0-only
/*
 * gnt_test - kselftests of vext_gnt: grant tables, VEXT_GNTTAB_OP (map,
 * unmap, copy) with exact per-op GNTST statuses, mmap of mapped grants,
 * GTF_reading/GTF_writing, the physmap ioctls, eagain (injected through
 * debugfs and real, with a page swapped out to zram), teardown when
 * either side is killed, concurrency against a granter rewriting its
 * entries, and module unloading.
 *
 * Two processes, as in real use: every test forks a "guest" VMM (struct
 * guest) that creates its VM, backs 64 guest pages at GPA_BASE with
 * private anonymous memory (each 8-byte word holds pattern(gpfn, word)),
 * sets up a 2-frame grant table and mmaps it. It obeys commands sent over
 * a pipe (grant a ref, read an entry's flags, peek/poke its memory, page a
 * page out, change its physmap, rewrite entries from a thread), because
 * its VM fd works only in its own process. The test process is the
 * backend: it creates its own VM and maps the guest's grants through it.
 *
 * Runs as root in the test VM, where the suite is installed; loading
 * vext_gnt through libkmod loads vext_core. Helper threads never use
 * ASSERT/EXPECT (the harness is not thread-safe): they count what they saw
 * and the test thread checks the counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vext_harness.h"
#include "vext_test.h"
#include "vext_pci.h"

#define PAGE		VEXT_TEST_PAGE
#define MS		1000000ULL
#define GNT_MODULE	"vext_gnt"

#define GPA_BASE	0x100000ULL
#define GPFN_BASE	(GPA_BASE / PAGE)
#define NR_GUEST_PAGES	64
#define NR_FRAMES	2
#define NR_REFS		(NR_FRAMES * VEXT_GNT_ENTRIES_PER_FRAME)
/* A gpfn outside the guest's memory slot. */
#define GPFN_NONE	0x5000

/* What an op answers when the ioctl itself failed: 1000 + errno. */
#define IOCTL_FAILED	1000

#define DEFAULT_TIMEOUT_MS	32640

/* Entry flags as unsigned long, like gflags() returns them. */
#define PERMIT		((unsigned long)VEXT_GTF_permit_access)
#define RO		((unsigned long)VEXT_GTF_readonly)
#define READING		((unsigned long)VEXT_GTF_reading)
#define WRITING		((unsigned long)VEXT_GTF_writing)

/* Poll @cond every millisecond for up to @ms: true once it holds. */
#define WAIT_UNTIL(cond, ms) ({						\
	__u64 __end = vext_now_ns() + (__u64)(ms) * MS;			\
	bool __ok;							\
	while (!(__ok = (cond)) && vext_now_ns() < __end)		\
		vext_sleep_ms(1);					\
	__ok;								\
})

static __u64 pattern(__u64 gpfn, unsigned int word)
{
	return 0x6e74000000000000ULL | gpfn << 16 | word;
}

/* ---- the guest VMM ----------------------------------------------------- */

enum guest_op {
	G_GRANT,	/* ref, a = domid, b = flags, v = gpfn */
	G_FLAGS,	/* ref -> flags */
	G_SETHDR,	/* ref, a = flags | domid << 16 (raw word) */
	G_PEEK,		/* a = gpfn, b = word -> value */
	G_POKE,		/* a = gpfn, b = word, v = value */
	G_PAGEOUT,	/* a = gpfn -> resident after MADV_PAGEOUT (0/1) */
	G_RESIDENT,	/* a = gpfn -> resident (0/1) */
	G_ADD,		/* a = domid, b = idx, v = gpfn -> 0 or -errno */
	G_REMOVE,	/* a = domid, v = gpfn -> 0 or -errno */
	G_REWRITE_START,/* ref = nr refs, a = backend domid */
	G_REWRITE_STOP,	/* -> rewrites done */
	G_EXIT,
};

struct gcmd {
	__u32 op;
	__u32 ref;
	__u32 a;
	__u32 b;
	__u64 v;
};

struct grep {
	__s64 ret;
	__u64 v;
};

struct guest {
	pid_t pid;
	int cmd;
	int rep;
	int domid;
};

struct gstate {
	int vm;
	char *mem;
	struct vext_grant_entry_v1 *table;
	pthread_t rewriter;
	bool rewriting;
	int stop;
	__u32 nr_rewrite;
	__u16 backend;
	__u64 rewrites;
};

union hdr {
	__u32 word;
	struct {
		__u16 flags;
		__u16 domid;
	} f;
};

static __u32 *hdr_word(struct vext_grant_entry_v1 *e)
{
	return (__u32 *)e;
}

static void grant(struct vext_grant_entry_v1 *e, __u16 domid, __u16 flags,
		  __u32 gpfn)
{
	union hdr h = { .f = { .flags = flags, .domid = domid } };

	__atomic_store_n(&e->frame, gpfn, __ATOMIC_RELAXED);
	__atomic_store_n(hdr_word(e), h.word, __ATOMIC_RELEASE);
}

static int resident(struct gstate *gs, __u32 gpfn)
{
	unsigned char vec = 0;

	if (mincore(gs->mem + (gpfn - GPFN_BASE) * PAGE, PAGE, &vec))
		return -errno;
	return vec & 1;
}

/*
 * Rewrite entries 0..nr-1 for ever, as a granter may: grant to the
 * backend read-write or read-only, revoke, grant to another domain, move
 * the frame. Like Linux's gnttab_end_foreign_access, it keeps the
 * reading/writing bits vext set (cmpxchg on the flags/domid word).
 */
static void *rewriter_main(void *arg)
{
	struct gstate *gs = arg;
	__u64 n = 0;

	while (!__atomic_load_n(&gs->stop, __ATOMIC_ACQUIRE)) {
		__u32 ref = n % gs->nr_rewrite;
		struct vext_grant_entry_v1 *e = &gs->table[ref];
		union hdr old, new;

		__atomic_store_n(&e->frame, GPFN_BASE + (n / 7) % NR_GUEST_PAGES,
				 __ATOMIC_RELAXED);
		old.word = __atomic_load_n(hdr_word(e), __ATOMIC_ACQUIRE);
		do {
			new.word = old.word;
			new.f.flags &= VEXT_GTF_reading | VEXT_GTF_writing;
			switch ((n / 3) % 4) {
			case 0:
				new.f.flags |= VEXT_GTF_permit_access;
				new.f.domid = gs->backend;
				break;
			case 1:
				new.f.flags |= VEXT_GTF_permit_access |
					       VEXT_GTF_readonly;
				new.f.domid = gs->backend;
				break;
			case 2:
				break;	/* revoked */
			case 3:
				new.f.flags |= VEXT_GTF_permit_access;
				new.f.domid = gs->backend ^ 1;
				break;
			}
		} while (!__atomic_compare_exchange_n(hdr_word(e), &old.word,
						      new.word, false,
						      __ATOMIC_ACQ_REL,
						      __ATOMIC_ACQUIRE));
		n++;
	}
	gs->rewrites = n;
	return NULL;
}

static void guest_cmd(struct gstate *gs, const struct gcmd *c, struct grep *r)
{
	struct vext_grant_entry_v1 *e = &gs->table[c->ref % NR_REFS];
	char *page = gs->mem + ((c->a - GPFN_BASE) % NR_GUEST_PAGES) * PAGE;
	union hdr h;

	switch (c->op) {
	case G_GRANT:
		grant(e, c->a, c->b, c->v);
		break;
	case G_FLAGS:
		r->v = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
		break;
	case G_SETHDR:
		h.word = c->a;
		__atomic_store_n(hdr_word(e), h.word, __ATOMIC_RELEASE);
		break;
	case G_PEEK:
		r->v = __atomic_load_n((__u64 *)page + c->b % 512, __ATOMIC_ACQUIRE);
		break;
	case G_POKE:
		__atomic_store_n((__u64 *)page + c->b % 512, c->v, __ATOMIC_RELEASE);
		break;
	case G_PAGEOUT:
		if (madvise(page, PAGE, MADV_PAGEOUT))
			r->ret = -errno;
		else
			r->ret = resident(gs, c->a);
		break;
	case G_RESIDENT:
		r->ret = resident(gs, c->a);
		break;
	case G_ADD: {
		struct vext_add_to_physmap x = {
			.domid = c->a, .space = VEXT_MAPSPACE_grant_table,
			.idx = c->b, .gpfn = c->v,
		};

		r->ret = vext_ioctl(gs->vm, VEXT_ADD_TO_PHYSMAP, (unsigned long)&x);
		break;
	}
	case G_REMOVE: {
		struct vext_remove_from_physmap x = { .domid = c->a, .gpfn = c->v };

		r->ret = vext_ioctl(gs->vm, VEXT_REMOVE_FROM_PHYSMAP,
				    (unsigned long)&x);
		break;
	}
	case G_REWRITE_START:
		gs->nr_rewrite = c->ref;
		gs->backend = c->a;
		gs->stop = 0;
		r->ret = -pthread_create(&gs->rewriter, NULL, rewriter_main, gs);
		gs->rewriting = !r->ret;
		break;
	case G_REWRITE_STOP:
		if (gs->rewriting) {
			__atomic_store_n(&gs->stop, 1, __ATOMIC_RELEASE);
			pthread_join(gs->rewriter, NULL);
			gs->rewriting = false;
		}
		r->v = gs->rewrites;
		break;
	default:
		r->ret = -EINVAL;
	}
}

static int write_all(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len ? 0 : -EIO;
}

static int read_all(int fd, void *buf, size_t len)
{
	return read(fd, buf, len) == (ssize_t)len ? 0 : -EIO;
}

/* The guest process: build the VM, report the domid, obey commands. */
static int guest_main(int cmd, int rep)
{
	struct vext_gnt_setup_table st = { .nr_frames = NR_FRAMES };
	struct gstate gs = { };
	struct grep r = { };
	struct gcmd c;
	unsigned int p, w;
	int dev;

	dev = vext_dev_open();
	gs.vm = dev < 0 ? dev : vext_create_vm(dev);
	if (gs.vm < 0)
		goto fail;
	gs.mem = mmap(NULL, NR_GUEST_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gs.mem == MAP_FAILED)
		goto fail;
	for (p = 0; p < NR_GUEST_PAGES; p++)
		for (w = 0; w < PAGE / 8; w++)
			((__u64 *)(gs.mem + p * PAGE))[w] = pattern(GPFN_BASE + p, w);
	if (vext_set_region(gs.vm, 0, 0, GPA_BASE, NR_GUEST_PAGES * PAGE,
			    (unsigned long)gs.mem))
		goto fail;
	if (vext_ioctl(gs.vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st) != NR_FRAMES)
		goto fail;
	gs.table = mmap(NULL, NR_FRAMES * PAGE, PROT_READ | PROT_WRITE,
			MAP_SHARED, gs.vm, VEXT_GNT_TABLE_OFFSET);
	if (gs.table == MAP_FAILED)
		goto fail;
	r.ret = vext_get_domid(gs.vm);
	if (write_all(rep, &r, sizeof(r)))
		return 1;
	while (!read_all(cmd, &c, sizeof(c)) && c.op != G_EXIT) {
		memset(&r, 0, sizeof(r));
		guest_cmd(&gs, &c, &r);
		if (write_all(rep, &r, sizeof(r)))
			return 1;
	}
	return 0;
fail:
	r.ret = -errno ? -errno : -EIO;
	write_all(rep, &r, sizeof(r));
	return 1;
}

/* Fork a guest; 0 and its domid in @g, or -errno. */
static int guest_start(struct guest *g)
{
	int cmd[2], rep[2];
	struct grep r;

	if (pipe2(cmd, O_CLOEXEC) || pipe2(rep, O_CLOEXEC))
		return -errno;
	g->pid = fork();
	if (g->pid < 0)
		return -errno;
	if (!g->pid) {
		close(cmd[1]);
		close(rep[0]);
		_exit(guest_main(cmd[0], rep[1]));
	}
	close(cmd[0]);
	close(rep[1]);
	g->cmd = cmd[1];
	g->rep = rep[0];
	if (read_all(g->rep, &r, sizeof(r)))
		return -EIO;
	if (r.ret < 0)
		return r.ret;
	g->domid = r.ret;
	return 0;
}

/* One command: the guest's ret, with its value in *@v (may be NULL). */
static long gcall(struct guest *g, __u32 op, __u32 ref, __u32 a, __u32 b,
		  __u64 v, __u64 *val)
{
	struct gcmd c = { .op = op, .ref = ref, .a = a, .b = b, .v = v };
	struct grep r;

	if (write_all(g->cmd, &c, sizeof(c)) || read_all(g->rep, &r, sizeof(r)))
		return -EPIPE;
	if (val)
		*val = r.v;
	return r.ret;
}

static long ggrant(struct guest *g, __u32 ref, int domid, __u16 flags,
		   __u64 gpfn)
{
	return gcall(g, G_GRANT, ref, domid, flags, gpfn, NULL);
}

/* The entry's flags as the guest reads them, or ~0. */
static unsigned long gflags(struct guest *g, __u32 ref)
{
	__u64 v = ~0ULL;

	gcall(g, G_FLAGS, ref, 0, 0, 0, &v);
	return v;
}

static long gadd(struct guest *g, __u32 domid, __u32 idx, __u64 gpfn)
{
	return gcall(g, G_ADD, 0, domid, idx, gpfn, NULL);
}

static long gremove(struct guest *g, __u32 domid, __u64 gpfn)
{
	return gcall(g, G_REMOVE, 0, domid, 0, gpfn, NULL);
}

static __u64 gpeek(struct guest *g, __u64 gpfn, unsigned int word)
{
	__u64 v = 0;

	gcall(g, G_PEEK, 0, gpfn, word, 0, &v);
	return v;
}

static void guest_stop(struct guest *g)
{
	int status;

	if (g->pid <= 0)
		return;
	gcall(g, G_EXIT, 0, 0, 0, 0, NULL);
	close(g->cmd);
	close(g->rep);
	waitpid(g->pid, &status, 0);
	g->pid = 0;
}

static void guest_kill(struct guest *g)
{
	int status;

	kill(g->pid, SIGKILL);
	waitpid(g->pid, &status, 0);
	close(g->cmd);
	close(g->rep);
	g->pid = 0;
}

/* ---- the backend's helpers ----------------------------------------------- */

static long gnttab(int vm, struct vext_gnttab_op *ops, unsigned int n,
		   unsigned int flags)
{
	struct vext_gnttab_batch b = {
		.ops = (uintptr_t)ops, .count = n, .flags = flags,
	};

	return vext_ioctl(vm, VEXT_GNTTAB_OP, (unsigned long)&b);
}

/* MAP one grant: its status (IOCTL_FAILED + errno if the ioctl failed). */
static int map1(int vm, int domid, __u32 ref, __u16 flags, __u32 *handle,
		__u64 *index, unsigned int bflags)
{
	struct vext_gnttab_op op = {
		.cmd = VEXT_GNTTABOP_map_grant_ref, .domid = domid,
		.ref = ref, .flags = flags, .handle = ~0U,
	};
	long ret = gnttab(vm, &op, 1, bflags);

	if (ret)
		return IOCTL_FAILED - ret;
	if (handle)
		*handle = op.handle;
	if (index)
		*index = op.index;
	return op.status;
}

static int unmap1(int vm, __u32 handle)
{
	struct vext_gnttab_op op = {
		.cmd = VEXT_GNTTABOP_unmap_grant_ref, .handle = handle,
	};
	long ret = gnttab(vm, &op, 1, 0);

	return ret ? IOCTL_FAILED - ret : op.status;
}

static int copy1(int vm, int domid, __u32 ref, __u16 flags, void *buf,
		 __u16 offset, __u16 len)
{
	struct vext_gnttab_op op = {
		.cmd = VEXT_GNTTABOP_copy, .domid = domid, .ref = ref,
		.flags = flags, .buf = (uintptr_t)buf, .offset = offset,
		.len = len,
	};
	long ret = gnttab(vm, &op, 1, 0);

	return ret ? IOCTL_FAILED - ret : op.status;
}

/* mmap @n pages at @index of the VM fd: the mapping, or NULL (errno). */
static void *gmap(int vm, __u64 index, unsigned int n, int prot)
{
	void *p = mmap(NULL, n * PAGE, prot, MAP_SHARED, vm, (off_t)index);

	return p == MAP_FAILED ? NULL : p;
}

/* One line of debugfs vext/gnt/domains. */
struct dominfo {
	int frames;
	long active;
	long maps;
	int dead;
};

/* 0 and the line of @domid, -ENOENT if it has none, or -errno. */
static int dom_info(int domid, struct dominfo *di)
{
	char buf[8192], *line;
	int ret = vext_debugfs_read("gnt/domains", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	for (line = strchr(buf, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		int d;

		if (sscanf(line + 1, "%d %d %ld %ld %d", &d, &di->frames,
			   &di->active, &di->maps, &di->dead) == 5 && d == domid)
			return 0;
	}
	return -ENOENT;
}

static bool dom_gone(int domid)
{
	struct dominfo di;

	return dom_info(domid, &di) == -ENOENT;
}

static long dom_active(int domid)
{
	struct dominfo di;

	return dom_info(domid, &di) ? -1 : di.active;
}

static int set_inject(int domid, long n)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d %ld\n", domid, n);
	return vext_file_write(VEXT_DEBUGFS_DIR "/gnt/inject_eagain", buf);
}

static int set_timeout(long ms)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", ms);
	return vext_param_write(GNT_MODULE, "eagain_timeout_ms", buf);
}

static void load_gnt(struct __test_metadata *_metadata)
{
	int ret = vext_mod_load(GNT_MODULE, NULL);

	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", GNT_MODULE, strerror(-ret));
	ret = vext_debugfs_mount();
	ASSERT_EQ(0, ret) TH_LOG("debugfs: %s", strerror(-ret));
}

/* ---- the fixture: a guest VMM and the backend's own VM -------------------- */

FIXTURE(gnt) {
	int dev;
	int vm;		/* the backend's VM */
	int domid;	/* the backend's domid */
	struct guest g;
};

FIXTURE_SETUP(gnt)
{
	int ret;

	memset(&self->g, 0, sizeof(self->g));
	load_gnt(_metadata);
	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	self->domid = get_domid(_metadata, self->vm);
	ret = guest_start(&self->g);
	ASSERT_EQ(0, ret) TH_LOG("guest: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(gnt)
{
	if (self->g.pid > 0)
		set_inject(self->g.domid, 0);
	set_timeout(DEFAULT_TIMEOUT_MS);
	guest_stop(&self->g);
	close(self->vm);
	close(self->dev);
}

/* In a child: 0 if @arg is not mapped (mincore answers ENOMEM). */
static int child_mincore(void *arg)
{
	unsigned char vec;

	return mincore(arg, PAGE, &vec) == -1 && errno == ENOMEM ? 0 : 1;
}

TEST_F(gnt, capability_and_setup)
{
	struct vext_gnt_setup_table st = { };
	void *p;

	EXPECT_EQ(VEXT_GNT_MAX_FRAMES,
		  vext_ioctl(self->dev, VEXT_CHECK_EXTENSION, VEXT_CAP_GRANT_TABLE));
	/* Bounds, flags, growth only. */
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st));
	st.nr_frames = VEXT_GNT_MAX_FRAMES + 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st));
	st.nr_frames = 1;
	st.flags = 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st));
	st.flags = 0;
	EXPECT_EQ(-EFAULT, vext_ioctl(self->vm, VEXT_GNT_SETUP_TABLE, 8));
	/* No table yet: no frame to map. */
	EXPECT_EQ(NULL, gmap(self->vm, VEXT_GNT_TABLE_OFFSET, 1, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	st.nr_frames = 3;
	EXPECT_EQ(3, vext_ioctl(self->vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st));
	st.nr_frames = 2;
	EXPECT_EQ(3, vext_ioctl(self->vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st));
	st.nr_frames = VEXT_GNT_MAX_FRAMES;
	EXPECT_EQ(VEXT_GNT_MAX_FRAMES,
		  vext_ioctl(self->vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st));

	/* The table maps shared only, within its size; it starts zeroed. */
	p = gmap(self->vm, VEXT_GNT_TABLE_OFFSET, VEXT_GNT_MAX_FRAMES,
		 PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p) TH_LOG("table mmap: %s", strerror(errno));
	EXPECT_EQ(0ULL, ((__u64 *)p)[VEXT_GNT_MAX_FRAMES * 512 - 1]);
	munmap(p, VEXT_GNT_MAX_FRAMES * PAGE);
	EXPECT_EQ(NULL, gmap(self->vm, VEXT_GNT_TABLE_OFFSET + PAGE,
			     VEXT_GNT_MAX_FRAMES, PROT_READ));
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, self->vm,
		 VEXT_GNT_TABLE_OFFSET);
	EXPECT_EQ(MAP_FAILED, p);
	/* A fork()ed child does not inherit the table mapping. */
	p = gmap(self->vm, VEXT_GNT_TABLE_OFFSET, 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, vext_run_child(child_mincore, p));
	munmap(p, PAGE);
	/* Offsets of vext_gnt that name nothing. */
	EXPECT_EQ(NULL, gmap(self->vm, VEXT_GNT_TABLE_OFFSET +
			     VEXT_GNT_MAX_FRAMES * PAGE, 1, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, gmap(self->vm, VEXT_MMAP_OFFSET(0x7f), 1, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, dom_info(self->domid, &(struct dominfo){ }));
}

TEST_F(gnt, batch_ioctl_errors)
{
	struct vext_gnttab_op op = { .cmd = VEXT_GNTTABOP_unmap_grant_ref };

	EXPECT_EQ(0, gnttab(self->vm, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, gnttab(self->vm, &op, 1, 2));
	EXPECT_EQ(-EINVAL, gnttab(self->vm, &op, VEXT_GNTTAB_MAX_OPS + 1, 0));
	EXPECT_EQ(-EFAULT, gnttab(self->vm, (void *)8, 1, 0));
	EXPECT_EQ(-EFAULT, vext_ioctl(self->vm, VEXT_GNTTAB_OP, 8));
	EXPECT_EQ(-ENOTTY, vext_ioctl(self->vm, _IO(VEXTIO, 0x7f), 0));
}

/*
 * The basic round trip: grant, map, mmap, read and write both ways,
 * GTF_reading|GTF_writing while mapped, cleared after.
 */
TEST_F(gnt, map_rw_unmap)
{
	__u64 gpfn = GPFN_BASE + 5, index;
	__u32 handle;
	__u64 *p;

	ASSERT_EQ(0, ggrant(&self->g, 7, self->domid, VEXT_GTF_permit_access, gpfn));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 7, 0, &handle,
					&index, 0));
	EXPECT_EQ(VEXT_GNT_MAP_OFFSET + (__u64)handle * PAGE, index);
	EXPECT_EQ(PERMIT | READING | WRITING,
		  gflags(&self->g, 7));

	p = gmap(self->vm, index, 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(pattern(gpfn, 0), p[0]);
	EXPECT_EQ(pattern(gpfn, 511), p[511]);
	/* Backend -> guest. */
	p[3] = 0x1234567890abcdefULL;
	EXPECT_EQ(0x1234567890abcdefULL, gpeek(&self->g, gpfn, 3));
	/* Guest -> backend. */
	EXPECT_EQ(0, gcall(&self->g, G_POKE, 0, gpfn, 9, 0xfeedULL, NULL));
	EXPECT_EQ(0xfeedULL, __atomic_load_n(&p[9], __ATOMIC_ACQUIRE));

	/* Unmap the handle first: the mapping keeps the grant in use. */
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	EXPECT_EQ(VEXT_GNTST_bad_handle, unmap1(self->vm, handle));
	EXPECT_EQ(PERMIT | READING | WRITING,
		  gflags(&self->g, 7));
	EXPECT_EQ(0xfeedULL, p[9]);
	munmap(p, PAGE);
	EXPECT_EQ(PERMIT, gflags(&self->g, 7));
	EXPECT_EQ(0, dom_active(self->g.domid));

	/* Map, munmap, unmap: cleared at the unmap. */
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 7, 0, &handle,
					&index, 0));
	p = gmap(self->vm, index, 1, PROT_READ);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0x1234567890abcdefULL, p[3]);
	munmap(p, PAGE);
	EXPECT_NE(0UL, gflags(&self->g, 7) & WRITING);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	EXPECT_EQ(PERMIT, gflags(&self->g, 7));
}

/* Two users of a grant: the flags go with the last of them. */
TEST_F(gnt, flags_follow_last_user)
{
	__u32 h1, h2;

	ASSERT_EQ(0, ggrant(&self->g, 1, self->domid, VEXT_GTF_permit_access,
			    GPFN_BASE));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 1, 0, &h1, NULL, 0));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 1,
					VEXT_GNTMAP_readonly, &h2, NULL, 0));
	EXPECT_NE(h1, h2);
	EXPECT_EQ(PERMIT | READING | WRITING,
		  gflags(&self->g, 1));
	/* The writer goes: reading stays for the reader. */
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, h1));
	EXPECT_EQ(PERMIT | READING, gflags(&self->g, 1));
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, h2));
	EXPECT_EQ(PERMIT, gflags(&self->g, 1));
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/* A read-only grant maps read-only, and stays so. */
TEST_F(gnt, readonly_enforced)
{
	__u64 gpfn = GPFN_BASE + 2, index;
	char buf[16];
	__u32 handle;
	__u64 *p;

	ASSERT_EQ(0, ggrant(&self->g, 3, self->domid,
			    VEXT_GTF_permit_access | VEXT_GTF_readonly, gpfn));
	EXPECT_EQ(VEXT_GNTST_permission_denied,
		  map1(self->vm, self->g.domid, 3, 0, NULL, NULL, 0));
	EXPECT_EQ(PERMIT | RO, gflags(&self->g, 3));
	EXPECT_EQ(VEXT_GNTST_permission_denied,
		  copy1(self->vm, self->g.domid, 3, VEXT_GNTCOPY_to_grant, buf, 0, 8));

	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 3,
					VEXT_GNTMAP_readonly, &handle, &index, 0));
	EXPECT_EQ(PERMIT | RO | READING,
		  gflags(&self->g, 3));
	EXPECT_EQ(NULL, gmap(self->vm, index, 1, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EPERM, errno);
	p = gmap(self->vm, index, 1, PROT_READ);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(pattern(gpfn, 1), p[1]);
	/* No VM_MAYWRITE: mprotect cannot make it writable. */
	EXPECT_EQ(-1, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* Nor can it be mapped privately. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, self->vm,
				   index));
	munmap(p, PAGE);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	EXPECT_EQ(PERMIT | RO, gflags(&self->g, 3));

	/* A read-only map of a writable grant sets reading only. */
	ASSERT_EQ(0, ggrant(&self->g, 4, self->domid, VEXT_GTF_permit_access, gpfn));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 4,
					VEXT_GNTMAP_readonly, &handle, &index, 0));
	EXPECT_EQ(PERMIT | READING, gflags(&self->g, 4));
	EXPECT_EQ(NULL, gmap(self->vm, index, 1, PROT_READ | PROT_WRITE));
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
}

/* Errors of single ops: each answers its own GNTST code. */
TEST_F(gnt, op_errors)
{
	struct vext_gnttab_op ops[6];
	char buf[64];
	int other, ret;

	ASSERT_EQ(0, ggrant(&self->g, 0, self->domid, VEXT_GTF_permit_access,
			    GPFN_BASE));
	/* Wrong domid: granted to somebody else. */
	other = self->domid == VEXT_MAX_DOMID ? self->domid - 1 : self->domid + 1;
	ASSERT_EQ(0, ggrant(&self->g, 1, other, VEXT_GTF_permit_access, GPFN_BASE));
	EXPECT_EQ(VEXT_GNTST_permission_denied,
		  map1(self->vm, self->g.domid, 1, 0, NULL, NULL, 0));
	EXPECT_EQ(VEXT_GNTST_permission_denied,
		  copy1(self->vm, self->g.domid, 1, 0, buf, 0, 8));
	/* Bad refs: beyond the table; a never written entry. */
	EXPECT_EQ(VEXT_GNTST_bad_gntref,
		  map1(self->vm, self->g.domid, NR_REFS, 0, NULL, NULL, 0));
	EXPECT_EQ(VEXT_GNTST_bad_gntref,
		  map1(self->vm, self->g.domid, ~0U, 0, NULL, NULL, 0));
	EXPECT_EQ(VEXT_GNTST_bad_gntref,
		  copy1(self->vm, self->g.domid, NR_REFS + 5, 0, buf, 0, 8));
	EXPECT_EQ(VEXT_GNTST_permission_denied,
		  map1(self->vm, self->g.domid, 2, 0, NULL, NULL, 0));
	/*
	 * Bad domains: a domid no VM has, one beyond the range; a VM without
	 * a table. The host (domain 0) has a table, written by the kernel for
	 * gntalloc (xen_test): references 0-7 are never granted.
	 */
	EXPECT_EQ(VEXT_GNTST_bad_domain,
		  map1(self->vm, VEXT_MAX_DOMID, 0, 0, NULL, NULL, 0));
	ret = map1(self->vm, 0, 0, 0, NULL, NULL, 0);
	EXPECT_TRUE(ret == VEXT_GNTST_bad_gntref ||
		    ret == VEXT_GNTST_permission_denied) TH_LOG("host ref 0: %d", ret);
	EXPECT_EQ(VEXT_GNTST_bad_domain,
		  map1(self->vm, VEXT_MAX_DOMID + 1, 0, 0, NULL, NULL, 0));
	EXPECT_EQ(VEXT_GNTST_bad_gntref,
		  map1(self->vm, self->domid, 0, 0, NULL, NULL, 0));
	/* A grant naming a frame outside the granter's memory. */
	ASSERT_EQ(0, ggrant(&self->g, 5, self->domid, VEXT_GTF_permit_access,
			    GPFN_NONE));
	EXPECT_EQ(VEXT_GNTST_bad_page,
		  map1(self->vm, self->g.domid, 5, 0, NULL, NULL, 0));
	EXPECT_EQ(PERMIT, gflags(&self->g, 5));
	/* Unknown op, flags, padding; a page-crossing or too long copy. */
	memset(ops, 0, sizeof(ops));
	ops[0].cmd = 3;
	ops[1].cmd = VEXT_GNTTABOP_map_grant_ref;
	ops[1].flags = 1;
	ops[2].cmd = VEXT_GNTTABOP_map_grant_ref;
	ops[2].pad = 1;
	ops[3].cmd = VEXT_GNTTABOP_copy;
	ops[3].buf = (uintptr_t)buf;
	ops[3].offset = 4090;
	ops[3].len = 7;
	ops[4].cmd = VEXT_GNTTABOP_copy;
	ops[4].buf = (uintptr_t)buf;
	ops[4].len = 4097;
	ops[5].cmd = VEXT_GNTTABOP_copy;
	ops[5].buf = 8;
	ops[5].len = 8;
	for (other = 0; other < 6; other++)
		ops[other].domid = self->g.domid;
	ASSERT_EQ(0, gnttab(self->vm, ops, 6, 0));
	EXPECT_EQ(VEXT_GNTST_general_error, ops[0].status);
	EXPECT_EQ(VEXT_GNTST_general_error, ops[1].status);
	EXPECT_EQ(VEXT_GNTST_general_error, ops[2].status);
	EXPECT_EQ(VEXT_GNTST_bad_copy_arg, ops[3].status);
	EXPECT_EQ(VEXT_GNTST_bad_copy_arg, ops[4].status);
	EXPECT_EQ(VEXT_GNTST_bad_virt_addr, ops[5].status);
	EXPECT_EQ(VEXT_GNTST_bad_handle, unmap1(self->vm, 12345));
	EXPECT_EQ(VEXT_GNTST_bad_handle, unmap1(self->vm, ~0U));
	EXPECT_EQ(PERMIT, gflags(&self->g, 0));
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/* A revoked entry cannot be mapped any more; a live mapping stays. */
TEST_F(gnt, revoked_entry)
{
	__u64 gpfn = GPFN_BASE + 9, index;
	__u32 handle;
	__u64 *p;

	ASSERT_EQ(0, ggrant(&self->g, 11, self->domid, VEXT_GTF_permit_access, gpfn));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 11, 0, &handle,
					&index, 0));
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	ASSERT_EQ(0, ggrant(&self->g, 11, self->domid, VEXT_GTF_invalid, gpfn));
	EXPECT_EQ(VEXT_GNTST_permission_denied,
		  map1(self->vm, self->g.domid, 11, 0, NULL, NULL, 0));
	/* accept_transfer and transitive are not supported grant types. */
	ASSERT_EQ(0, ggrant(&self->g, 11, self->domid, VEXT_GTF_accept_transfer, gpfn));
	EXPECT_EQ(VEXT_GNTST_permission_denied,
		  map1(self->vm, self->g.domid, 11, 0, NULL, NULL, 0));

	/* Revoking while mapped (what a correct granter never does). */
	ASSERT_EQ(0, ggrant(&self->g, 11, self->domid, VEXT_GTF_permit_access, gpfn));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 11, 0, &handle,
					&index, 0));
	p = gmap(self->vm, index, 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, gcall(&self->g, G_SETHDR, 11, 0, 0, 0, NULL));
	EXPECT_EQ(VEXT_GNTST_permission_denied,
		  map1(self->vm, self->g.domid, 11, 0, NULL, NULL, 0));
	EXPECT_EQ(pattern(gpfn, 4), p[4]);
	munmap(p, PAGE);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	EXPECT_EQ(0UL, gflags(&self->g, 11));
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/* COPY both ways, with offsets; a grant that is only copied is not held. */
TEST_F(gnt, copy)
{
	__u64 gpfn = GPFN_BASE + 20, buf[64], v = 0xabcdef;
	unsigned int i;

	ASSERT_EQ(0, ggrant(&self->g, 30, self->domid, VEXT_GTF_permit_access, gpfn));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(VEXT_GNTST_okay,
		  copy1(self->vm, self->g.domid, 30, 0, buf, 0, sizeof(buf)));
	for (i = 0; i < 64; i++)
		EXPECT_EQ(pattern(gpfn, i), buf[i]);
	EXPECT_EQ(VEXT_GNTST_okay,
		  copy1(self->vm, self->g.domid, 30, 0, buf, PAGE - 16, 16));
	EXPECT_EQ(pattern(gpfn, 510), buf[0]);
	EXPECT_EQ(pattern(gpfn, 511), buf[1]);
	EXPECT_EQ(VEXT_GNTST_okay,
		  copy1(self->vm, self->g.domid, 30, VEXT_GNTCOPY_to_grant, &v,
			8 * 100, 8));
	EXPECT_EQ(v, gpeek(&self->g, gpfn, 100));
	/* Zero bytes at the very end is fine. */
	EXPECT_EQ(VEXT_GNTST_okay,
		  copy1(self->vm, self->g.domid, 30, 0, buf, PAGE, 0));
	EXPECT_EQ(PERMIT, gflags(&self->g, 30));
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/* 1000 ops of every kind, good and bad: each status exactly right. */
TEST_F(gnt, batch_1000_mixed)
{
	enum { NOPS = 1000, NGRANTS = 100 };
	static struct vext_gnttab_op ops[NOPS];
	static __u64 bufs[NOPS][8];
	static int want[NOPS];
	__u32 r, i, last = 0, nmaps = 0, want_maps = 0;
	bool first = true;

	for (r = 0; r < NGRANTS; r++) {
		__u16 flags = VEXT_GTF_permit_access;
		int domid = self->domid;

		if (r % 10 == 3)
			flags |= VEXT_GTF_readonly;
		if (r % 10 == 7)
			domid = self->domid ^ 1;
		if (r % 10 == 9)
			flags = VEXT_GTF_invalid;
		ASSERT_EQ(0, ggrant(&self->g, r, domid, flags, GPFN_BASE + r % 64));
	}
	for (i = 0; i < NOPS; i++) {
		struct vext_gnttab_op *op = &ops[i];
		__u32 ref = (i / 8) % NGRANTS;
		bool denied = ref % 10 == 7 || ref % 10 == 9;

		memset(op, 0, sizeof(*op));
		op->domid = self->g.domid;
		op->ref = ref;
		switch (i % 8) {
		case 0:
			op->cmd = VEXT_GNTTABOP_map_grant_ref;
			want[i] = denied || ref % 10 == 3 ?
				VEXT_GNTST_permission_denied : VEXT_GNTST_okay;
			break;
		case 1:
			op->cmd = VEXT_GNTTABOP_map_grant_ref;
			op->flags = VEXT_GNTMAP_readonly;
			want[i] = denied ? VEXT_GNTST_permission_denied :
				VEXT_GNTST_okay;
			break;
		case 2:
			op->cmd = VEXT_GNTTABOP_map_grant_ref;
			op->ref = NR_REFS + i;
			want[i] = VEXT_GNTST_bad_gntref;
			break;
		case 3:
			op->cmd = VEXT_GNTTABOP_map_grant_ref;
			op->domid = VEXT_MAX_DOMID;	/* no VM has it */
			want[i] = VEXT_GNTST_bad_domain;
			break;
		case 4:
			op->cmd = VEXT_GNTTABOP_unmap_grant_ref;
			op->handle = 60000 + i;
			want[i] = VEXT_GNTST_bad_handle;
			break;
		case 5:
			op->cmd = VEXT_GNTTABOP_copy;
			op->buf = (uintptr_t)bufs[i];
			op->offset = 8 * (i % 64);
			op->len = sizeof(bufs[i]);
			want[i] = denied ? VEXT_GNTST_permission_denied :
				VEXT_GNTST_okay;
			break;
		case 6:
			op->cmd = VEXT_GNTTABOP_copy;
			op->buf = (uintptr_t)bufs[i];
			op->offset = 4000;
			op->len = 200;
			want[i] = VEXT_GNTST_bad_copy_arg;
			break;
		case 7:
			op->cmd = 99;
			want[i] = VEXT_GNTST_general_error;
			break;
		}
	}
	ASSERT_EQ(0, gnttab(self->vm, ops, NOPS, 0));
	for (i = 0; i < NOPS; i++) {
		EXPECT_EQ(want[i], ops[i].status) TH_LOG("op %u (kind %u, ref %u)",
							 i, i % 8, ops[i].ref);
		if (ops[i].cmd == VEXT_GNTTABOP_copy && want[i] == VEXT_GNTST_okay) {
			EXPECT_EQ(pattern(GPFN_BASE + ops[i].ref % 64, i % 64),
				  bufs[i][0]) TH_LOG("copy op %u", i);
		}
		if (ops[i].cmd == VEXT_GNTTABOP_map_grant_ref &&
		    want[i] == VEXT_GNTST_okay)
			want_maps++;
		if (ops[i].cmd != VEXT_GNTTABOP_map_grant_ref ||
		    ops[i].status != VEXT_GNTST_okay)
			continue;
		/* Successful maps: increasing handles, their indices. */
		if (!first)
			EXPECT_LT(last, ops[i].handle);
		EXPECT_EQ(VEXT_GNT_MAP_OFFSET + (__u64)ops[i].handle * PAGE,
			  ops[i].index);
		first = false;
		last = ops[i].handle;
		nmaps++;
	}
	EXPECT_EQ(want_maps, nmaps);
	EXPECT_EQ(189U, nmaps);	/* 88 writable, 101 read-only */
	EXPECT_LT(0, dom_active(self->g.domid));

	/* Unmap them all in one batch; then again: bad_handle. */
	for (i = 0; i < NOPS; i++) {
		bool mapped = ops[i].cmd == VEXT_GNTTABOP_map_grant_ref &&
			      ops[i].status == VEXT_GNTST_okay;

		ops[i].cmd = VEXT_GNTTABOP_unmap_grant_ref;
		ops[i].handle = mapped ? ops[i].handle : 60000 + i;
		want[i] = mapped ? VEXT_GNTST_okay : VEXT_GNTST_bad_handle;
	}
	ASSERT_EQ(0, gnttab(self->vm, ops, NOPS, 0));
	for (i = 0; i < NOPS; i++)
		EXPECT_EQ(want[i], ops[i].status) TH_LOG("unmap op %u", i);
	ASSERT_EQ(0, gnttab(self->vm, ops, NOPS, 0));
	for (i = 0; i < NOPS; i++)
		EXPECT_EQ(VEXT_GNTST_bad_handle, ops[i].status);
	EXPECT_EQ(0, dom_active(self->g.domid));
	for (r = 0; r < NGRANTS; r++)
		EXPECT_EQ(0UL, gflags(&self->g, r) & (READING | WRITING));
}

/* A batch of 64 maps gets consecutive indices: one mmap for all. */
TEST_F(gnt, batch_64_one_mmap)
{
	struct vext_gnttab_op ops[64];
	unsigned int i;
	__u64 *p;

	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, ggrant(&self->g, 100 + i, self->domid,
				    VEXT_GTF_permit_access, GPFN_BASE + i));
		ops[i] = (struct vext_gnttab_op){
			.cmd = VEXT_GNTTABOP_map_grant_ref,
			.domid = self->g.domid, .ref = 100 + i,
		};
	}
	ASSERT_EQ(0, gnttab(self->vm, ops, 64, 0));
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(VEXT_GNTST_okay, ops[i].status);
		EXPECT_EQ(ops[0].handle + i, ops[i].handle);
	}
	p = gmap(self->vm, ops[0].index, 64, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p) TH_LOG("mmap of 64: %s", strerror(errno));
	for (i = 0; i < 64; i++)
		EXPECT_EQ(pattern(GPFN_BASE + i, i), p[i * 512 + i]);
	/* No partial munmap (no split); one more page than mapped fails. */
	EXPECT_EQ(-1, munmap(p, PAGE));
	EXPECT_EQ(NULL, gmap(self->vm, ops[0].index, 65, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, munmap(p, 64 * PAGE));
	for (i = 0; i < 64; i++)
		ops[i].cmd = VEXT_GNTTABOP_unmap_grant_ref;
	ASSERT_EQ(0, gnttab(self->vm, ops, 64, 0));
	for (i = 0; i < 64; i++)
		EXPECT_EQ(VEXT_GNTST_okay, ops[i].status);
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/*
 * Injected eagain: answered per op; the retrying helper (the batch flag
 * VEXT_GNTTAB_RETRY_EAGAIN runs the exported vext_gnttab_batch_retry())
 * absorbs it, and past its bound reports bad_page.
 */
TEST_F(gnt, eagain_injected)
{
	struct vext_gnttab_op op;
	__u64 t0, ms;
	__u32 handle;
	char buf[8];

	ASSERT_EQ(0, ggrant(&self->g, 2, self->domid, VEXT_GTF_permit_access,
			    GPFN_BASE + 1));
	ASSERT_EQ(0, set_inject(self->g.domid, 2));
	EXPECT_EQ(VEXT_GNTST_eagain, map1(self->vm, self->g.domid, 2, 0, NULL, NULL, 0));
	/* Nothing is held by an op that answered eagain. */
	EXPECT_EQ(PERMIT, gflags(&self->g, 2));
	EXPECT_EQ(VEXT_GNTST_eagain, map1(self->vm, self->g.domid, 2, 0, NULL, NULL, 0));
	EXPECT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 2, 0, &handle, NULL, 0));
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));

	/* The helper retries (1, 2, 3, 4, 5 ms) and succeeds. */
	ASSERT_EQ(0, set_inject(self->g.domid, 5));
	t0 = vext_now_ns();
	EXPECT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 2, 0, &handle, NULL,
					VEXT_GNTTAB_RETRY_EAGAIN));
	EXPECT_LE(15 * MS, vext_now_ns() - t0);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	ASSERT_EQ(0, set_inject(self->g.domid, 3));
	op = (struct vext_gnttab_op){
		.cmd = VEXT_GNTTABOP_copy, .domid = self->g.domid, .ref = 2,
		.buf = (uintptr_t)buf, .len = 8,
	};
	ASSERT_EQ(0, gnttab(self->vm, &op, 1, VEXT_GNTTAB_RETRY_EAGAIN));
	EXPECT_EQ(VEXT_GNTST_okay, op.status);
	EXPECT_EQ(pattern(GPFN_BASE + 1, 0), *(__u64 *)buf);

	/* Past the bound: bad_page, never an endless eagain. */
	ASSERT_EQ(0, set_timeout(300));
	ASSERT_EQ(0, set_inject(self->g.domid, 1000000));
	t0 = vext_now_ns();
	EXPECT_EQ(VEXT_GNTST_bad_page, map1(self->vm, self->g.domid, 2, 0, NULL, NULL,
					    VEXT_GNTTAB_RETRY_EAGAIN));
	ms = (vext_now_ns() - t0) / MS;
	EXPECT_LE(300ULL, ms);
	EXPECT_GT(5000ULL, ms);
	EXPECT_EQ(PERMIT, gflags(&self->g, 2));
	ASSERT_EQ(0, set_inject(self->g.domid, 0));
	/* The parameter is bounded. */
	EXPECT_EQ(-EINVAL, set_timeout(600001));
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/*
 * Deferred maps pin at mmap time, as gntdev does: EAGAIN from mmap while
 * the page is unavailable, then success; past the bound EFAULT for good.
 */
TEST_F(gnt, eagain_mmap_deferred)
{
	__u64 gpfn = GPFN_BASE + 33, index, t0;
	__u32 handle;
	__u64 *p;
	int n;

	ASSERT_EQ(0, ggrant(&self->g, 40, self->domid, VEXT_GTF_permit_access, gpfn));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 40,
					VEXT_GNTMAP_defer, &handle, &index, 0));
	/* The grant is held already. */
	EXPECT_EQ(PERMIT | READING | WRITING,
		  gflags(&self->g, 40));
	ASSERT_EQ(0, set_inject(self->g.domid, 3));
	for (n = 0; n < 3; n++) {
		EXPECT_EQ(NULL, gmap(self->vm, index, 1, PROT_READ | PROT_WRITE));
		EXPECT_EQ(EAGAIN, errno);
	}
	p = gmap(self->vm, index, 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p) TH_LOG("mmap after eagain: %s", strerror(errno));
	EXPECT_EQ(pattern(gpfn, 7), p[7]);
	munmap(p, PAGE);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	EXPECT_EQ(PERMIT, gflags(&self->g, 40));

	/* A page that never comes back: EAGAIN, then EFAULT for good. */
	ASSERT_EQ(0, set_timeout(300));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 40,
					VEXT_GNTMAP_defer, &handle, &index, 0));
	ASSERT_EQ(0, set_inject(self->g.domid, 1000000));
	t0 = vext_now_ns();
	do {
		p = gmap(self->vm, index, 1, PROT_READ);
		if (!p && errno == EAGAIN)
			vext_sleep_ms(1);
	} while (!p && errno == EAGAIN && vext_now_ns() - t0 < 5000 * MS);
	EXPECT_EQ(NULL, p);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_LE(300 * MS, vext_now_ns() - t0);
	ASSERT_EQ(0, set_inject(self->g.domid, 0));
	EXPECT_EQ(NULL, gmap(self->vm, index, 1, PROT_READ));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	EXPECT_EQ(PERMIT, gflags(&self->g, 40));
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/* zram swap for the real eagain test: 0 once swap is on. */
static int zram_swap_on(void)
{
	char buf[4096];
	FILE *f;
	int fd, ret;

	f = fopen("/proc/swaps", "re");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
		if (strstr(buf, "/dev/zram0"))
			return 0;
	}
	ret = vext_mod_load("zram", "num_devices=1");
	if (ret)
		return ret;
	fd = open("/sys/block/zram0/disksize", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write(fd, "64M", 3) == 3 ? 0 : -errno;
	close(fd);
	if (ret)
		return ret;
	if (system("mkswap /dev/zram0 >/dev/null 2>&1 && swapon /dev/zram0"))
		return -EIO;
	return 0;
}

/*
 * Real eagain: the guest pages a granted page out to zram (MADV_PAGEOUT;
 * mincore says it is gone). A map must answer eagain at once instead of
 * faulting the page in itself, and must have started the fault-in: the
 * page becomes resident again without the guest touching it, and a
 * retried map then succeeds with the page's contents intact. The
 * retrying helper turns the same situation into okay in one call.
 */
TEST_F(gnt, eagain_real_pageout)
{
	__u64 gpfn = GPFN_BASE + 50, index;
	int ret, st = 0, tries;
	__u32 handle;
	__u64 *p;

	ret = zram_swap_on();
	ASSERT_EQ(0, ret) TH_LOG("zram swap: %s", strerror(-ret));
	ASSERT_EQ(0, ggrant(&self->g, 50, self->domid, VEXT_GTF_permit_access, gpfn));
	ASSERT_EQ(0, ggrant(&self->g, 51, self->domid, VEXT_GTF_permit_access, gpfn + 1));

	for (tries = 0; tries < 20; tries++) {
		ret = gcall(&self->g, G_PAGEOUT, 0, gpfn, 0, 0, NULL);
		if (ret == 0)
			break;
	}
	ASSERT_EQ(0, ret) TH_LOG("page still resident after MADV_PAGEOUT (%d)", ret);
	st = map1(self->vm, self->g.domid, 50, 0, &handle, &index, 0);
	EXPECT_EQ(VEXT_GNTST_eagain, st);
	EXPECT_EQ(PERMIT, gflags(&self->g, 50));
	/* vext started the swap-in: the guest did not touch the page. */
	EXPECT_TRUE(WAIT_UNTIL(gcall(&self->g, G_RESIDENT, 0, gpfn, 0, 0, NULL) == 1,
			       5000));
	EXPECT_TRUE(WAIT_UNTIL((st = map1(self->vm, self->g.domid, 50, 0, &handle,
					  &index, 0)) != VEXT_GNTST_eagain, 5000));
	ASSERT_EQ(VEXT_GNTST_okay, st);
	p = gmap(self->vm, index, 1, PROT_READ);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(pattern(gpfn, 0), p[0]);
	EXPECT_EQ(pattern(gpfn, 511), p[511]);
	munmap(p, PAGE);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));

	/* The same through the retrying helper: okay in one call. */
	for (tries = 0; tries < 20; tries++) {
		ret = gcall(&self->g, G_PAGEOUT, 0, gpfn + 1, 0, 0, NULL);
		if (ret == 0)
			break;
	}
	ASSERT_EQ(0, ret);
	EXPECT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 51,
					VEXT_GNTMAP_readonly, &handle, &index,
					VEXT_GNTTAB_RETRY_EAGAIN));
	p = gmap(self->vm, index, 1, PROT_READ);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(pattern(gpfn + 1, 5), p[5]);
	munmap(p, PAGE);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/*
 * The physmap: a grant table frame placed at a gpfn can be granted (the
 * backend then reads the table through it); a removed gpfn fails new maps
 * with bad_page while an existing mapping stays readable; only the VM
 * itself changes its physmap.
 */
TEST_F(gnt, physmap)
{
	char buf[8];
	__u64 gpfn = GPFN_BASE + 60, tgpfn = 0x9000, index, index2;
	struct vext_grant_entry_v1 *t;
	struct vext_add_to_physmap add = {
		.domid = self->g.domid, .space = VEXT_MAPSPACE_grant_table,
		.idx = 0, .gpfn = tgpfn,
	};
	struct vext_remove_from_physmap rm = { .domid = self->g.domid, .gpfn = gpfn };
	__u32 handle, handle2;
	__u64 *p;

	/* Another VM's fd may not change the guest's physmap. */
	EXPECT_EQ(-EPERM, vext_ioctl(self->vm, VEXT_ADD_TO_PHYSMAP, (unsigned long)&add));
	EXPECT_EQ(-EPERM, vext_ioctl(self->vm, VEXT_REMOVE_FROM_PHYSMAP,
				     (unsigned long)&rm));
	/* Argument checks, on the guest's own fd. */
	EXPECT_EQ(-EINVAL, gadd(&self->g, VEXT_DOMID_SELF, NR_FRAMES, tgpfn));
	EXPECT_EQ(-EINVAL, gadd(&self->g, VEXT_DOMID_SELF, 0, 1ULL << 32));
	EXPECT_EQ(-ENOENT, gremove(&self->g, VEXT_DOMID_SELF, GPFN_NONE));
	EXPECT_EQ(-EPERM, gadd(&self->g, self->domid, 0, tgpfn));

	/* Table frame 0 at tgpfn, granted read-only as ref 2. */
	ASSERT_EQ(0, gadd(&self->g, VEXT_DOMID_SELF, 0, tgpfn));
	ASSERT_EQ(0, ggrant(&self->g, 2, self->domid,
			    VEXT_GTF_permit_access | VEXT_GTF_readonly, tgpfn));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 2,
					VEXT_GNTMAP_readonly, &handle, &index, 0));
	t = gmap(self->vm, index, 1, PROT_READ);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(self->domid, t[2].domid);
	EXPECT_EQ(tgpfn, t[2].frame);
	EXPECT_EQ(PERMIT | RO | READING,
		  __atomic_load_n(&t[2].flags, __ATOMIC_ACQUIRE));
	munmap(t, PAGE);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	/* Moving the frame: the old gpfn is empty again. */
	ASSERT_EQ(0, gadd(&self->g, self->g.domid, 0, tgpfn + 1));
	EXPECT_EQ(VEXT_GNTST_bad_page, map1(self->vm, self->g.domid, 2,
					    VEXT_GNTMAP_readonly, NULL, NULL, 0));
	ASSERT_EQ(0, gremove(&self->g, VEXT_DOMID_SELF, tgpfn + 1));
	EXPECT_EQ(-ENOENT, gremove(&self->g, VEXT_DOMID_SELF, tgpfn + 1));

	/* Remove guest memory at gpfn while the backend maps it. */
	ASSERT_EQ(0, ggrant(&self->g, 3, self->domid, VEXT_GTF_permit_access, gpfn));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 3, 0, &handle,
					&index, 0));
	ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, self->g.domid, 3, VEXT_GNTMAP_defer,
					&handle2, &index2, 0));
	p = gmap(self->vm, index, 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, gremove(&self->g, self->g.domid, gpfn));
	EXPECT_EQ(-ENOENT, gremove(&self->g, VEXT_DOMID_SELF, gpfn));
	EXPECT_EQ(VEXT_GNTST_bad_page, map1(self->vm, self->g.domid, 3, 0, NULL, NULL, 0));
	EXPECT_EQ(VEXT_GNTST_bad_page, copy1(self->vm, self->g.domid, 3, 0, buf, 0, 8));
	/* What was mapped before stays valid until unmapped. */
	EXPECT_EQ(pattern(gpfn, 1), p[1]);
	p[2] = 77;
	EXPECT_EQ(77ULL, gpeek(&self->g, gpfn, 2));
	munmap(p, PAGE);
	/* So does a deferred map made before the removal. */
	p = gmap(self->vm, index2, 1, PROT_READ);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(77ULL, p[2]);
	munmap(p, PAGE);
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
	EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle2));
	/* A table frame placed on the hole fills it. */
	ASSERT_EQ(0, gadd(&self->g, VEXT_DOMID_SELF, 1, gpfn));
	EXPECT_EQ(VEXT_GNTST_okay, copy1(self->vm, self->g.domid, 3, 0, &index, 0, 8));
	EXPECT_EQ(0, dom_active(self->g.domid));
}

/*
 * The granter is killed while the backend maps and writes its pages, ten
 * times: the pages stay pinned and usable until the backend unmaps, the
 * dead domain stays listed (dead) until then and is freed afterwards; no
 * new map reaches it.
 */
TEST_F(gnt, kill_granter_while_mapped)
{
	int round;

	guest_stop(&self->g);
	for (round = 0; round < 10; round++) {
		struct guest g = { };
		struct dominfo di;
		__u64 gpfn = GPFN_BASE + round, index, index2;
		__u32 handle, handle2;
		__u64 *p;
		int ret;

		ret = guest_start(&g);
		ASSERT_EQ(0, ret) TH_LOG("guest: %s", strerror(-ret));
		ASSERT_EQ(0, ggrant(&g, round, self->domid, VEXT_GTF_permit_access, gpfn));
		ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, g.domid, round, 0, &handle,
						&index, 0));
		ASSERT_EQ(VEXT_GNTST_okay, map1(self->vm, g.domid, round,
						VEXT_GNTMAP_defer, &handle2, &index2, 0));
		p = gmap(self->vm, index, 1, PROT_READ | PROT_WRITE);
		ASSERT_NE(NULL, p);
		p[0] = round;
		guest_kill(&g);

		EXPECT_TRUE(WAIT_UNTIL(!dom_info(g.domid, &di) && di.dead, 5000));
		EXPECT_EQ(VEXT_GNTST_bad_domain, map1(self->vm, g.domid, round, 0,
						      NULL, NULL, 0));
		/* Still the granter's page, still writable. */
		EXPECT_EQ((__u64)round, p[0]);
		EXPECT_EQ(pattern(gpfn, 1), p[1]);
		p[1] = 1;
		/* A deferred map can no longer be pinned: the mm is gone. */
		EXPECT_EQ(NULL, gmap(self->vm, index2, 1, PROT_READ));
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle2));
		EXPECT_EQ(VEXT_GNTST_okay, unmap1(self->vm, handle));
		EXPECT_FALSE(dom_gone(g.domid));
		munmap(p, PAGE);
		EXPECT_TRUE(WAIT_UNTIL(dom_gone(g.domid), 5000));
	}
}

struct backend_args {
	int guest_domid;
	int up[2];	/* backend -> test: its domid, then "r" when mapped */
	int down[2];	/* test -> backend: "g" once the grants exist */
};

/* A backend process: map, mmap, report, then hammer the page. */
static int backend_main(void *arg)
{
	struct backend_args *a = arg;
	__u64 index, sum = 0, *p;
	int dev, vm, domid;
	__u32 handle;
	char buf[64], c;

	dev = vext_dev_open();
	vm = dev < 0 ? dev : vext_create_vm(dev);
	domid = vm < 0 ? vm : vext_get_domid(vm);
	if (domid < 0 || write(a->up[1], &domid, sizeof(domid)) != sizeof(domid))
		return 2;
	if (read(a->down[0], &c, 1) != 1)
		return 3;
	if (map1(vm, a->guest_domid, 0, 0, &handle, &index, 0))
		return 4;
	if (map1(vm, a->guest_domid, 1, VEXT_GNTMAP_readonly, NULL, NULL, 0))
		return 5;
	p = gmap(vm, index, 1, PROT_READ | PROT_WRITE);
	if (!p)
		return 6;
	if (write(a->up[1], "r", 1) != 1)
		return 7;
	for (;;) {
		__atomic_fetch_add(&p[0], 1, __ATOMIC_RELAXED);
		sum += __atomic_load_n(&p[1], __ATOMIC_RELAXED);
		copy1(vm, a->guest_domid, 1, 0, buf, 0, sizeof(buf));
	}
	return sum == 0;
}

/*
 * The backend is killed mid-traffic, ten times: its maps and mappings go
 * with it, the guest's entries lose GTF_reading/GTF_writing, its domain
 * object is freed, and the guest keeps working.
 */
TEST_F(gnt, kill_backend_mid_traffic)
{
	int round;

	for (round = 0; round < 10; round++) {
		struct backend_args a = { .guest_domid = self->g.domid };
		int status, bdomid = -1;
		pid_t pid;
		char c;

		ASSERT_EQ(0, pipe2(a.up, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(a.down, O_CLOEXEC));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(a.up[0]);
			close(a.down[1]);
			_exit(backend_main(&a));
		}
		close(a.up[1]);
		close(a.down[0]);
		ASSERT_EQ((ssize_t)sizeof(bdomid), read(a.up[0], &bdomid, sizeof(bdomid)));
		ASSERT_EQ(0, ggrant(&self->g, 0, bdomid, VEXT_GTF_permit_access,
				    GPFN_BASE + 10));
		ASSERT_EQ(0, ggrant(&self->g, 1, bdomid, VEXT_GTF_permit_access,
				    GPFN_BASE + 11));
		ASSERT_EQ(1, write(a.down[1], "g", 1));
		ASSERT_EQ(1, read(a.up[0], &c, 1)) TH_LOG("backend did not map");
		close(a.up[0]);
		close(a.down[1]);
		EXPECT_EQ(PERMIT | READING | WRITING,
			  gflags(&self->g, 0));
		EXPECT_EQ(PERMIT | READING,
			  gflags(&self->g, 1));
		vext_sleep_ms(20 + 10 * round);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("backend status %#x", status);
		EXPECT_TRUE(WAIT_UNTIL(dom_gone(bdomid), 5000));
		EXPECT_EQ(PERMIT, gflags(&self->g, 0));
		EXPECT_EQ(PERMIT, gflags(&self->g, 1));
		EXPECT_EQ(0, dom_active(self->g.domid));
		/* The backend's increments reached the guest's page. */
		EXPECT_NE(pattern(GPFN_BASE + 10, 0), gpeek(&self->g, GPFN_BASE + 10, 0));
	}
}

struct worker {
	pthread_t thread;
	int vm;
	int guest;
	unsigned int id;
	int *stop;
	unsigned long ok, denied, other, bad;
};

/* Map, mmap, read, unmap refs 0..15 until told to stop. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int i = w->id;

	while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
		__u16 flags = i % 3 ? 0 : VEXT_GNTMAP_readonly;
		__u32 ref = i++ % 16, handle;
		__u64 index, *p;
		int st;

		st = map1(w->vm, w->guest, ref, flags, &handle, &index, 0);
		if (st == VEXT_GNTST_okay) {
			p = gmap(w->vm, index, 1, PROT_READ);
			/* Whatever frame it named: one of the guest's pages. */
			if (!p || p[0] >> 32 != pattern(0, 0) >> 32)
				w->bad++;
			if (p)
				munmap(p, PAGE);
			if (unmap1(w->vm, handle) != VEXT_GNTST_okay)
				w->bad++;
			w->ok++;
		} else if (st == VEXT_GNTST_permission_denied) {
			w->denied++;
		} else if (st == VEXT_GNTST_general_error) {
			w->other++;	/* the flags kept changing */
		} else {
			w->bad++;
		}
	}
	return NULL;
}

/*
 * Four threads map, mmap and unmap while the guest rewrites the entries
 * all the time (permit/readonly/revoke/other domid, frame moves): every
 * op answers okay, permission_denied or general_error (unstable flags),
 * and when everything stopped no entry is left with reading/writing set.
 */
TEST_F(gnt, concurrent_map_unmap_vs_rewrite)
{
	struct worker w[4];
	__u64 rewrites = 0;
	unsigned long ok = 0, denied = 0;
	int stop = 0, i, r;

	for (r = 0; r < 16; r++)
		ASSERT_EQ(0, ggrant(&self->g, r, self->domid, VEXT_GTF_permit_access,
				    GPFN_BASE + r));
	ASSERT_EQ(0, gcall(&self->g, G_REWRITE_START, 16, self->domid, 0, 0, NULL));
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ .vm = self->vm, .guest = self->g.domid,
					.id = i, .stop = &stop };
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, worker_main, &w[i]));
	}
	vext_sleep_ms(3000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 4; i++)
		pthread_join(w[i].thread, NULL);
	gcall(&self->g, G_REWRITE_STOP, 0, 0, 0, 0, &rewrites);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0UL, w[i].bad) TH_LOG("worker %d: %lu bad", i, w[i].bad);
		ok += w[i].ok;
		denied += w[i].denied;
	}
	TH_LOG("%lu maps, %lu denied, %llu rewrites", ok, denied,
	       (unsigned long long)rewrites);
	EXPECT_LT(0UL, ok);
	EXPECT_LT(0UL, denied);
	EXPECT_LT(0ULL, rewrites);
	EXPECT_EQ(0, dom_active(self->g.domid));
	for (r = 0; r < 16; r++)
		EXPECT_EQ(0UL, gflags(&self->g, r) & (READING | WRITING));
}

/* ---- module lifetime ------------------------------------------------------ */

/*
 * A frame move that cannot allocate must leave the frame where it was.
 * The guest process's every slab allocation fails for the one ioctl
 * (failslab, make-it-fail on its task, probability 100): a single
 * injection (fail-nth) cannot get there, the xarray retries a failed
 * GFP_NOWAIT node allocation with GFP_KERNEL. Needs the debug row's
 * CONFIG_FAILSLAB; skipped elsewhere.
 */
static const char *const failslab_attrs[][3] = {
	/* file, for the test, afterwards */
	{ "ignore-gfp-wait", "N", "Y" },
	{ "task-filter", "Y", "N" },
	{ "interval", "1", "1" },
	{ "times", "-1", "1" },
	{ "verbose", "0", "2" },
	{ "probability", "100", "0" },
};

static int set_failslab(int col)
{
	char path[128];
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(failslab_attrs); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/failslab/%s",
			 failslab_attrs[i][0]);
		ret = vext_file_write(path, failslab_attrs[i][col]);
		if (ret)
			return ret;
	}
	return 0;
}

static int make_it_fail(pid_t pid, bool on)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", pid);
	return vext_file_write(path, on ? "1" : "0");
}

TEST_F(gnt, physmap_move_enomem_keeps_frame)
{
	const __u64 old_gpfn = 0x9000, new_gpfn = 0xa000;
	long ret;

	if (access("/sys/kernel/debug/failslab/probability", W_OK))
		SKIP(return, "no failslab (CONFIG_FAILSLAB: the debug row)");
	ASSERT_EQ(0, gadd(&self->g, VEXT_DOMID_SELF, 1, old_gpfn));
	ASSERT_EQ(0, set_failslab(1));
	ASSERT_EQ(0, make_it_fail(self->g.pid, true));
	ret = gadd(&self->g, VEXT_DOMID_SELF, 1, new_gpfn);
	make_it_fail(self->g.pid, false);
	ASSERT_EQ(0, set_failslab(2));
	ASSERT_EQ(-ENOMEM, ret) TH_LOG("the move did not fail: %s", strerror((int)-ret));
	/* Still at the old gpfn, not at the new one. */
	EXPECT_EQ(-ENOENT, gremove(&self->g, VEXT_DOMID_SELF, new_gpfn));
	EXPECT_EQ(0, gremove(&self->g, VEXT_DOMID_SELF, old_gpfn))
		TH_LOG("the failed move unplaced the frame");
}

FIXTURE(mod) {
	int dummy;
};

FIXTURE_SETUP(mod)
{
	load_gnt(_metadata);
}

FIXTURE_TEARDOWN(mod)
{
}

/*
 * A VM pins vext_gnt, and so does a mapping (through the VM fd it holds);
 * with everything closed the module unloads, and loads again.
 */
TEST_F(mod, unload)
{
	struct guest g = { };
	__u64 index;
	__u32 handle;
	int dev, vm, domid, ret;
	void *p;

	dev = open_dev(_metadata);
	vm = create_vm(_metadata, dev);
	domid = get_domid(_metadata, vm);
	ret = guest_start(&g);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, ggrant(&g, 0, domid, VEXT_GTF_permit_access, GPFN_BASE));
	ASSERT_EQ(VEXT_GNTST_okay, map1(vm, g.domid, 0, 0, &handle, &index, 0));
	p = gmap(vm, index, 1, PROT_READ);
	ASSERT_NE(NULL, p);
	guest_stop(&g);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(GNT_MODULE));
	close(vm);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(GNT_MODULE));
	EXPECT_EQ(pattern(GPFN_BASE, 3), ((__u64 *)p)[3]);
	munmap(p, PAGE);
	close(dev);
	EXPECT_TRUE(WAIT_UNTIL(vext_mod_remove(GNT_MODULE) == 0, 5000));
	EXPECT_EQ(0, vext_mod_loaded(GNT_MODULE));
	load_gnt(_metadata);
	EXPECT_EQ(1, vext_mod_loaded(GNT_MODULE));
}

TEST_HARNESS_MAIN
