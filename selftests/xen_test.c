// SPDX-License-Identifier: GPL-2.0-only
/*
 * xen_test - kselftests of vext_gnt's gntdev and gntalloc devices, driven
 * through Debian's unmodified libxengnttab and libxengntshr (Xen 4.17):
 * the library opens /dev/xen/gntdev and /dev/xen/gntalloc, which vext_gnt
 * creates when loaded with xen_names=1.
 *
 * A forked "guest" VMM creates its VM, backs GUEST_PAGES pages at GPA_BASE
 * with a shared anonymous mapping made before the fork (so the test sees
 * the guest's memory directly) and writes grants into its table on
 * command. The test process is the backend: as domain 0 through the
 * library, or as its own VM.
 *
 * Runs as root in the test VM. Helper processes never use ASSERT/EXPECT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xengnttab.h>
#include <xen/gntalloc.h>
#include <linux/userfaultfd.h>

#include "vext_harness.h"
#include "vext_test.h"
#include "vext_pci.h"

#define PAGE		VEXT_TEST_PAGE
#define MS		1000000ULL
#define GNT_MODULE	"vext_gnt"
#define GNTDEV_PATH	"/dev/xen/gntdev"
#define GNTALLOC_PATH	"/dev/xen/gntalloc"

#define GPA_BASE	0x100000ULL
#define GPFN_BASE	(GPA_BASE / PAGE)
#define GUEST_PAGES	16

/* Xen's GNTST values as libxengnttab reports them per segment. */
#define ST_OKAY		0
#define ST_PERM		(-8)

static __u64 pattern(unsigned int page, unsigned int word)
{
	return 0x78656e0000000000ULL | (__u64)page << 16 | word;
}

/* ---- the guest VMM ----------------------------------------------------- */

struct gcmd {
	__u32 ref;
	__u16 domid;
	__u16 flags;
	__u32 page;	/* guest page, 0..GUEST_PAGES-1 */
};

struct guest {
	pid_t pid;
	int cmd;
	int rep;
	int domid;
	__u64 *mem;	/* the guest's memory, shared with the test */
};

static void grant(struct vext_grant_entry_v1 *e, __u16 domid, __u16 flags,
		  __u32 gpfn)
{
	__u32 word = flags | (__u32)domid << 16;

	__atomic_store_n(&e->frame, gpfn, __ATOMIC_RELAXED);
	__atomic_store_n((__u32 *)e, word, __ATOMIC_RELEASE);
}

static int guest_main(struct guest *g, int cmd, int rep)
{
	struct vext_gnt_setup_table st = { .nr_frames = 1 };
	struct vext_grant_entry_v1 *table;
	struct gcmd c;
	int dev, vm, domid, ret = 0;

	dev = open(VEXT_DEV_PATH, O_RDWR | O_CLOEXEC);
	vm = dev < 0 ? -1 : vext_create_vm(dev);
	domid = vm < 0 ? vm : vext_get_domid(vm);
	if (domid > 0 &&
	    (vext_set_region(vm, 0, 0, GPA_BASE, GUEST_PAGES * PAGE,
			     (uintptr_t)g->mem) ||
	     vext_ioctl(vm, VEXT_GNT_SETUP_TABLE, (unsigned long)&st) < 0))
		domid = -EIO;
	table = domid < 0 ? MAP_FAILED :
		mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vm,
		     VEXT_GNT_TABLE_OFFSET);
	if (table == MAP_FAILED && domid > 0)
		domid = -errno;
	if (write(rep, &domid, sizeof(domid)) != sizeof(domid) || domid < 0)
		return 1;
	while (read(cmd, &c, sizeof(c)) == sizeof(c)) {
		grant(&table[c.ref % VEXT_GNT_ENTRIES_PER_FRAME], c.domid,
		      c.flags, GPFN_BASE + c.page % GUEST_PAGES);
		if (write(rep, &ret, sizeof(ret)) != sizeof(ret))
			return 1;
	}
	return 0;
}

static int guest_start(struct guest *g)
{
	int cmd[2], rep[2];
	unsigned int p, w;

	g->mem = mmap(NULL, GUEST_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->mem == MAP_FAILED)
		return -errno;
	for (p = 0; p < GUEST_PAGES; p++)
		for (w = 0; w < PAGE / 8; w++)
			g->mem[p * PAGE / 8 + w] = pattern(p, w);
	if (pipe2(cmd, O_CLOEXEC) || pipe2(rep, O_CLOEXEC))
		return -errno;
	g->pid = fork();
	if (g->pid < 0)
		return -errno;
	if (!g->pid) {
		close(cmd[1]);
		close(rep[0]);
		_exit(guest_main(g, cmd[0], rep[1]));
	}
	close(cmd[0]);
	close(rep[1]);
	g->cmd = cmd[1];
	g->rep = rep[0];
	if (read(g->rep, &g->domid, sizeof(g->domid)) != sizeof(g->domid))
		return -EIO;
	return g->domid < 0 ? g->domid : 0;
}

/* The guest grants its page @page as @ref to @domid. */
static int guest_grant(struct guest *g, __u32 ref, __u16 domid, __u16 flags,
		       __u32 page)
{
	struct gcmd c = { .ref = ref, .domid = domid, .flags = flags,
			  .page = page };
	int ret;

	if (write(g->cmd, &c, sizeof(c)) != sizeof(c) ||
	    read(g->rep, &ret, sizeof(ret)) != sizeof(ret))
		return -EIO;
	return ret;
}

static void guest_stop(struct guest *g)
{
	int status;

	if (g->pid <= 0)
		return;
	close(g->cmd);
	close(g->rep);
	waitpid(g->pid, &status, 0);
	g->pid = 0;
}

static __u64 gword(struct guest *g, unsigned int page, unsigned int word)
{
	return __atomic_load_n(&g->mem[page * PAGE / 8 + word], __ATOMIC_ACQUIRE);
}

/* ---- helpers ------------------------------------------------------------ */

static int set_inject(int domid, long n)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d %ld\n", domid, n);
	return vext_file_write(VEXT_DEBUGFS_DIR "/gnt/inject_eagain", buf);
}

/*
 * vext_gnt with the Xen node names: reloaded if it was loaded without
 * them (by an earlier test).
 */
static void load_gnt_xen(struct __test_metadata *_metadata)
{
	int ret;

	if (access(GNTDEV_PATH, F_OK)) {
		ret = vext_mod_unload(GNT_MODULE);
		ASSERT_EQ(0, ret) TH_LOG("unloading %s: %s", GNT_MODULE,
					 strerror(-ret));
	}
	ret = vext_mod_load(GNT_MODULE, "xen_names=1");
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", GNT_MODULE, strerror(-ret));
	ASSERT_EQ(0, access(GNTDEV_PATH, R_OK | W_OK));
	ASSERT_EQ(0, access(GNTALLOC_PATH, R_OK | W_OK));
	ret = vext_debugfs_mount();
	ASSERT_EQ(0, ret) TH_LOG("debugfs: %s", strerror(-ret));
}

static int set_param(const char *name, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return vext_param_write(GNT_MODULE, name, buf);
}

/* VEXT_GNTTAB_OP with one op on @vm: the op's status, or 1000 + errno. */
static int vm_op(int vm, struct vext_gnttab_op *op)
{
	struct vext_gnttab_batch b = { .ops = (uintptr_t)op, .count = 1 };
	long ret = vext_ioctl(vm, VEXT_GNTTAB_OP, (unsigned long)&b);

	return ret ? 1000 - (int)ret : op->status;
}

/* ---- the fixture --------------------------------------------------------- */

FIXTURE(xen) {
	int dev;
	struct guest g;
	xengnttab_handle *xgt;
};

FIXTURE_SETUP(xen)
{
	int ret;

	memset(&self->g, 0, sizeof(self->g));
	load_gnt_xen(_metadata);
	self->dev = vext_dev_open();
	ASSERT_LE(0, self->dev) TH_LOG("%s: %s", VEXT_DEV_PATH, strerror(-self->dev));
	ret = guest_start(&self->g);
	ASSERT_EQ(0, ret) TH_LOG("guest: %s", strerror(-ret));
	self->xgt = xengnttab_open(NULL, 0);
	ASSERT_NE(NULL, self->xgt) TH_LOG("xengnttab_open: %s", strerror(errno));
}

FIXTURE_TEARDOWN(xen)
{
	if (self->xgt)
		xengnttab_close(self->xgt);
	if (self->g.pid > 0)
		set_inject(self->g.domid, 0);
	guest_stop(&self->g);
	set_param("gntdev_max_per_open", 65536);
	set_param("gntdev_max_total", 262144);
	set_param("gntalloc_max_per_open", 1024);
	set_param("gntalloc_max_total", 1024);
	close(self->dev);
}

TEST_F(xen, devices_and_capability)
{
	struct stat st;

	ASSERT_EQ(0, stat(GNTDEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(0, stat(GNTALLOC_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(1, vext_ioctl(self->dev, VEXT_CHECK_EXTENSION,
				VEXT_CAP_GNTDEV_ABI));
	/* Current Linux answers ENOTTY, which the library accepts. */
	EXPECT_EQ(0, xengnttab_set_max_grants(self->xgt, 128));
}

/* Map read-write and read-only through the library; the guest sees writes. */
TEST_F(xen, map_rw_ro)
{
	__u32 domids[4], refs[4] = { 12, 13, 14, 15 };
	__u64 *p, *q, *r;
	unsigned int i;

	ASSERT_EQ(0, guest_grant(&self->g, 10, 0, VEXT_GTF_permit_access, 0));
	ASSERT_EQ(0, guest_grant(&self->g, 11, 0, VEXT_GTF_permit_access |
				 VEXT_GTF_readonly, 1));
	for (i = 0; i < 4; i++) {
		domids[i] = self->g.domid;
		ASSERT_EQ(0, guest_grant(&self->g, refs[i], 0,
					 VEXT_GTF_permit_access, 2 + i));
	}

	p = xengnttab_map_grant_ref(self->xgt, self->g.domid, 10,
				    PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p) TH_LOG("map: %s", strerror(errno));
	EXPECT_EQ(pattern(0, 0), p[0]);
	EXPECT_EQ(pattern(0, 511), p[511]);
	p[7] = 0x5a5a;
	EXPECT_EQ(0x5a5aULL, gword(&self->g, 0, 7));

	/* Read-only grant: no writable mapping, a read-only one works. */
	errno = 0;
	q = xengnttab_map_grant_ref(self->xgt, self->g.domid, 11,
				    PROT_READ | PROT_WRITE);
	EXPECT_EQ(NULL, q);
	EXPECT_EQ(EPERM, errno);
	q = xengnttab_map_grant_ref(self->xgt, self->g.domid, 11, PROT_READ);
	ASSERT_NE(NULL, q) TH_LOG("map ro: %s", strerror(errno));
	EXPECT_EQ(pattern(1, 3), q[3]);
	EXPECT_EQ(-1, mprotect(q, PAGE, PROT_READ | PROT_WRITE));

	/* Four grants in one mapping. */
	r = xengnttab_map_grant_refs(self->xgt, 4, domids, refs,
				     PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, r) TH_LOG("map 4: %s", strerror(errno));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(pattern(2 + i, 9), r[i * PAGE / 8 + 9]);

	/* A grant not made to domain 0 (nor made at all). */
	EXPECT_EQ(NULL, xengnttab_map_grant_ref(self->xgt, self->g.domid, 99,
						PROT_READ));
	EXPECT_EQ(NULL, xengnttab_map_grant_ref(self->xgt, 0x7000, 10, PROT_READ));

	EXPECT_EQ(0, xengnttab_unmap(self->xgt, q, 1));
	EXPECT_EQ(0, xengnttab_unmap(self->xgt, r, 4));
	/* A wrong count is refused; the mapping stays. */
	EXPECT_EQ(-1, xengnttab_unmap(self->xgt, p, 2));
	EXPECT_EQ(pattern(0, 1), p[1]);

	/* The granting VM goes while the page is mapped: it stays usable. */
	guest_stop(&self->g);
	EXPECT_EQ(pattern(0, 2), p[2]);
	p[3] = 0x77;
	EXPECT_EQ(0x77ULL, gword(&self->g, 0, 3));
	EXPECT_EQ(0, xengnttab_unmap(self->xgt, p, 1));
}

/* xengnttab_grant_copy both ways, read-only enforced, local->local refused. */
TEST_F(xen, grant_copy)
{
	xengnttab_grant_copy_segment_t seg[3];
	char buf[PAGE], in[300];

	ASSERT_EQ(0, guest_grant(&self->g, 10, 0, VEXT_GTF_permit_access, 4));
	ASSERT_EQ(0, guest_grant(&self->g, 11, 0, VEXT_GTF_permit_access |
				 VEXT_GTF_readonly, 5));
	memset(seg, 0, sizeof(seg));
	memset(buf, 0, sizeof(buf));
	memset(in, 0xab, sizeof(in));
	/* From the grant into buf. */
	seg[0].source.foreign.domid = self->g.domid;
	seg[0].source.foreign.ref = 10;
	seg[0].source.foreign.offset = 16;
	seg[0].dest.virt = buf;
	seg[0].len = 64;
	seg[0].flags = GNTCOPY_source_gref;
	/* From in into the grant. */
	seg[1].source.virt = in;
	seg[1].dest.foreign.domid = self->g.domid;
	seg[1].dest.foreign.ref = 10;
	seg[1].dest.foreign.offset = 800;
	seg[1].len = sizeof(in);
	seg[1].flags = GNTCOPY_dest_gref;
	/* Into the read-only grant. */
	seg[2] = seg[1];
	seg[2].dest.foreign.ref = 11;
	ASSERT_EQ(0, xengnttab_grant_copy(self->xgt, 3, seg));
	EXPECT_EQ(ST_OKAY, seg[0].status);
	EXPECT_EQ(ST_OKAY, seg[1].status);
	EXPECT_EQ(ST_PERM, seg[2].status);
	EXPECT_EQ(pattern(4, 2), *(__u64 *)buf);
	EXPECT_EQ(pattern(4, 9), *(__u64 *)(buf + 56));
	EXPECT_EQ(0xababababababababULL, gword(&self->g, 4, 100));
	EXPECT_EQ(0xababababababababULL, gword(&self->g, 4, 136));
	EXPECT_EQ(pattern(4, 138), gword(&self->g, 4, 138));
	EXPECT_EQ(pattern(5, 100), gword(&self->g, 5, 100));

	/* Local to local, and a grant side crossing its page: EINVAL. */
	seg[0].flags = 0;
	EXPECT_EQ(-1, xengnttab_grant_copy(self->xgt, 1, seg));
	EXPECT_EQ(EINVAL, errno);
	seg[1].dest.foreign.offset = PAGE - 8;
	EXPECT_EQ(-1, xengnttab_grant_copy(self->xgt, 1, &seg[1]));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * A host process shares pages with libxengntshr; a vext VM maps them by
 * domid 0 through its VM fd; the unmap notification clears its byte when
 * the sharer unmaps.
 */
TEST_F(xen, gntshr_vm_maps)
{
	struct vext_gnttab_op op;
	xengntshr_handle *xgs;
	__u32 refs[2], nref, roref;
	char *area, *narea, *roarea, *vmp, *vmn;
	int vm, domid;

	vm = vext_create_vm(self->dev);
	ASSERT_LE(0, vm);
	domid = vext_get_domid(vm);
	ASSERT_LT(0, domid);
	xgs = xengntshr_open(NULL, 0);
	ASSERT_NE(NULL, xgs) TH_LOG("xengntshr_open: %s", strerror(errno));

	area = xengntshr_share_pages(xgs, domid, 2, refs, 1);
	ASSERT_NE(NULL, area) TH_LOG("share: %s", strerror(errno));
	narea = xengntshr_share_page_notify(xgs, domid, &nref, 1, 100, -1);
	ASSERT_NE(NULL, narea) TH_LOG("share notify: %s", strerror(errno));
	roarea = xengntshr_share_pages(xgs, domid, 1, &roref, 0);
	ASSERT_NE(NULL, roarea);
	area[PAGE + 5] = 0x42;
	narea[100] = 1;
	roarea[0] = 0x33;

	/* The VM maps the second shared page writable. */
	memset(&op, 0, sizeof(op));
	op.cmd = VEXT_GNTTABOP_map_grant_ref;
	op.ref = refs[1];
	ASSERT_EQ(0, vm_op(vm, &op));
	vmp = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vm, op.index);
	ASSERT_NE(MAP_FAILED, vmp);
	EXPECT_EQ(0x42, vmp[5]);
	vmp[6] = 0x43;
	EXPECT_EQ(0x43, area[PAGE + 6]);

	/* Read-only share: no writable map, a read-only one works. */
	memset(&op, 0, sizeof(op));
	op.cmd = VEXT_GNTTABOP_map_grant_ref;
	op.ref = roref;
	EXPECT_EQ(VEXT_GNTST_permission_denied, vm_op(vm, &op));
	op.flags = VEXT_GNTMAP_readonly;
	EXPECT_EQ(0, vm_op(vm, &op));
	op.cmd = VEXT_GNTTABOP_unmap_grant_ref;
	EXPECT_EQ(0, vm_op(vm, &op));
	/* Not granted to this domain. */
	memset(&op, 0, sizeof(op));
	op.cmd = VEXT_GNTTABOP_map_grant_ref;
	op.ref = 3;
	EXPECT_EQ(VEXT_GNTST_permission_denied, vm_op(vm, &op));

	/* The notified page: mapped, then the sharer unmaps it. */
	memset(&op, 0, sizeof(op));
	op.cmd = VEXT_GNTTABOP_map_grant_ref;
	op.ref = nref;
	ASSERT_EQ(0, vm_op(vm, &op));
	vmn = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, vm, op.index);
	ASSERT_NE(MAP_FAILED, vmn);
	EXPECT_EQ(1, vmn[100]);
	EXPECT_EQ(0, xengntshr_unshare(xgs, narea, 1));
	EXPECT_EQ(0, vmn[100]);
	/* Revoked: a new map fails; the VM's mapping stays. */
	memset(&op, 0, sizeof(op));
	op.cmd = VEXT_GNTTABOP_map_grant_ref;
	op.ref = nref;
	EXPECT_EQ(VEXT_GNTST_permission_denied, vm_op(vm, &op));

	EXPECT_EQ(0, xengntshr_unshare(xgs, area, 2));
	EXPECT_EQ(0, xengntshr_unshare(xgs, roarea, 1));
	/* The sharer's pages live on in the VM's mappings. */
	EXPECT_EQ(0x43, vmp[6]);
	munmap(vmp, PAGE);
	munmap(vmn, PAGE);
	xengntshr_close(xgs);
	close(vm);
}

/* Injected eagain: mmap answers EAGAIN, the library retries and succeeds. */
TEST_F(xen, eagain_retried)
{
	__u64 *p;
	char buf[256], needle[16];
	__u64 t0;

	ASSERT_EQ(0, guest_grant(&self->g, 10, 0, VEXT_GTF_permit_access, 6));
	ASSERT_EQ(0, set_inject(self->g.domid, 5));
	t0 = vext_now_ns();
	p = xengnttab_map_grant_ref(self->xgt, self->g.domid, 10, PROT_READ);
	ASSERT_NE(NULL, p) TH_LOG("map: %s", strerror(errno));
	/* Five EAGAINs, each followed by the library's usleep(1000). */
	EXPECT_LE(5 * MS, vext_now_ns() - t0);
	EXPECT_EQ(pattern(6, 0), p[0]);
	/* Every injection was consumed. */
	ASSERT_LE(0, vext_debugfs_read("gnt/inject_eagain", buf, sizeof(buf)));
	snprintf(needle, sizeof(needle), "%d ", self->g.domid);
	EXPECT_EQ(NULL, strstr(buf, needle)) TH_LOG("pending: %s", buf);
	EXPECT_EQ(0, xengnttab_unmap(self->xgt, p, 1));
}

/* Caps: exceeding a cap fails cleanly and frees nothing mapped. */
TEST_F(xen, caps)
{
	__u32 domids[4], refs[4] = { 20, 21, 22, 23 }, sref[3];
	xengntshr_handle *xgs, *xgs2;
	xengnttab_handle *xgt2;
	__u64 *p, *q;
	unsigned int i;
	void *a;

	for (i = 0; i < 4; i++) {
		domids[i] = self->g.domid;
		ASSERT_EQ(0, guest_grant(&self->g, refs[i], 0,
					 VEXT_GTF_permit_access, 8 + i));
	}
	ASSERT_EQ(0, guest_grant(&self->g, 24, 0, VEXT_GTF_permit_access, 12));
	ASSERT_EQ(0, set_param("gntdev_max_per_open", 4));
	p = xengnttab_map_grant_refs(self->xgt, 4, domids, refs,
				     PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p) TH_LOG("map 4: %s", strerror(errno));
	errno = 0;
	q = xengnttab_map_grant_ref(self->xgt, self->g.domid, 24, PROT_READ);
	EXPECT_EQ(NULL, q);
	EXPECT_EQ(ENOSPC, errno);
	/* What was mapped is intact and still writable. */
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(pattern(8 + i, 1), p[i * PAGE / 8 + 1]);
		p[i * PAGE / 8 + 2] = i;
		EXPECT_EQ(i, gword(&self->g, 8 + i, 2));
	}
	EXPECT_EQ(0, xengnttab_unmap(self->xgt, p, 4));
	/* Room again. */
	q = xengnttab_map_grant_ref(self->xgt, self->g.domid, 24, PROT_READ);
	ASSERT_NE(NULL, q) TH_LOG("map after unmap: %s", strerror(errno));
	EXPECT_EQ(0, xengnttab_unmap(self->xgt, q, 1));

	/* The global cap counts every fd's grants. */
	ASSERT_EQ(0, set_param("gntdev_max_per_open", 65536));
	ASSERT_EQ(0, set_param("gntdev_max_total", 4));
	xgt2 = xengnttab_open(NULL, 0);
	ASSERT_NE(NULL, xgt2);
	p = xengnttab_map_grant_refs(self->xgt, 3, domids, refs, PROT_READ);
	ASSERT_NE(NULL, p);
	errno = 0;
	EXPECT_EQ(NULL, xengnttab_map_grant_refs(xgt2, 2, domids, refs + 2,
						 PROT_READ));
	EXPECT_EQ(ENOSPC, errno);
	q = xengnttab_map_grant_ref(xgt2, self->g.domid, 24, PROT_READ);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(pattern(8, 3), p[3]);
	EXPECT_EQ(pattern(12, 3), q[3]);
	EXPECT_EQ(0, xengnttab_unmap(xgt2, q, 1));
	EXPECT_EQ(0, xengnttab_unmap(self->xgt, p, 3));
	xengnttab_close(xgt2);
	ASSERT_EQ(0, set_param("gntdev_max_total", 262144));

	/* gntalloc's caps. */
	ASSERT_EQ(0, set_param("gntalloc_max_per_open", 2));
	xgs = xengntshr_open(NULL, 0);
	ASSERT_NE(NULL, xgs);
	errno = 0;
	EXPECT_EQ(NULL, xengntshr_share_pages(xgs, self->g.domid, 3, sref, 1));
	EXPECT_EQ(ENOSPC, errno);
	a = xengntshr_share_pages(xgs, self->g.domid, 2, sref, 1);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(NULL, xengntshr_share_pages(xgs, self->g.domid, 1, sref, 1));
	EXPECT_EQ(0, xengntshr_unshare(xgs, a, 2));
	a = xengntshr_share_pages(xgs, self->g.domid, 1, sref, 1);
	EXPECT_NE(NULL, a);
	if (a)
		xengntshr_unshare(xgs, a, 1);
	/* The global one. */
	ASSERT_EQ(0, set_param("gntalloc_max_per_open", 1024));
	ASSERT_EQ(0, set_param("gntalloc_max_total", 2));
	xgs2 = xengntshr_open(NULL, 0);
	ASSERT_NE(NULL, xgs2);
	a = xengntshr_share_pages(xgs, self->g.domid, 2, sref, 1);
	ASSERT_NE(NULL, a);
	errno = 0;
	EXPECT_EQ(NULL, xengntshr_share_pages(xgs2, self->g.domid, 1, sref, 1));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(0, xengntshr_unshare(xgs, a, 2));
	a = xengntshr_share_pages(xgs2, self->g.domid, 1, sref, 1);
	EXPECT_NE(NULL, a);
	if (a)
		xengntshr_unshare(xgs2, a, 1);
	xengntshr_close(xgs2);
	xengntshr_close(xgs);
}

/* A gntdev fd bound to a VM acts as that VM's domain. */
TEST_F(xen, bind_vm)
{
	struct vext_gnt_bind_device bd = { };
	xengntshr_handle *xgs;
	__u64 *p;
	int vm, domid;

	vm = vext_create_vm(self->dev);
	ASSERT_LE(0, vm);
	domid = vext_get_domid(vm);
	ASSERT_LT(0, domid);
	ASSERT_EQ(0, guest_grant(&self->g, 30, domid, VEXT_GTF_permit_access, 7));
	ASSERT_EQ(0, guest_grant(&self->g, 31, 0, VEXT_GTF_permit_access, 7));

	bd.fd = xengnttab_fd(self->xgt);
	bd.flags = 1;
	EXPECT_EQ(-EINVAL, vext_ioctl(vm, VEXT_GNT_BIND_DEVICE, (unsigned long)&bd));
	bd.flags = 0;
	ASSERT_EQ(0, vext_ioctl(vm, VEXT_GNT_BIND_DEVICE, (unsigned long)&bd));
	EXPECT_EQ(-EBUSY, vext_ioctl(vm, VEXT_GNT_BIND_DEVICE, (unsigned long)&bd));

	p = xengnttab_map_grant_ref(self->xgt, self->g.domid, 30, PROT_READ);
	ASSERT_NE(NULL, p) TH_LOG("map as the VM: %s", strerror(errno));
	EXPECT_EQ(pattern(7, 5), p[5]);
	/* Grants to domain 0 are not the VM's. */
	EXPECT_EQ(NULL, xengnttab_map_grant_ref(self->xgt, self->g.domid, 31,
						PROT_READ));
	EXPECT_EQ(0, xengnttab_unmap(self->xgt, p, 1));

	/* Not for gntalloc, nor any other file; a closed fd is EBADF. */
	xgs = xengntshr_open(NULL, 0);
	ASSERT_NE(NULL, xgs);
	bd.fd = xengntshr_fd(xgs);
	EXPECT_EQ(-EINVAL, vext_ioctl(vm, VEXT_GNT_BIND_DEVICE, (unsigned long)&bd));
	bd.fd = self->dev;
	EXPECT_EQ(-EINVAL, vext_ioctl(vm, VEXT_GNT_BIND_DEVICE, (unsigned long)&bd));
	bd.fd = 999;
	EXPECT_EQ(-EBADF, vext_ioctl(vm, VEXT_GNT_BIND_DEVICE, (unsigned long)&bd));
	xengntshr_close(xgs);
	/* The binding holds the VM: closing its fd first is fine. */
	close(vm);
}

/* gntdev's unmap notification clears the guest's byte at unmap. */
TEST_F(xen, gntdev_unmap_notify)
{
	char *p;

	ASSERT_EQ(0, guest_grant(&self->g, 10, 0, VEXT_GTF_permit_access, 13));
	ASSERT_EQ(0, guest_grant(&self->g, 11, 0, VEXT_GTF_permit_access |
				 VEXT_GTF_readonly, 13));
	p = xengnttab_map_grant_ref_notify(self->xgt, self->g.domid, 10,
					   PROT_READ | PROT_WRITE, 8, -1);
	ASSERT_NE(NULL, p) TH_LOG("map notify: %s", strerror(errno));
	p[8] = 1;
	EXPECT_EQ(1, ((char *)self->g.mem)[13 * PAGE + 8]);
	EXPECT_EQ(0, xengnttab_unmap(self->xgt, p, 1));
	EXPECT_EQ(0, ((char *)self->g.mem)[13 * PAGE + 8]);

	/* No event channels: the library unmaps and fails. */
	errno = 0;
	EXPECT_EQ(NULL, xengnttab_map_grant_ref_notify(self->xgt, self->g.domid,
						       10, PROT_READ | PROT_WRITE,
						       8, 3));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Clear-byte needs a writable mapping. */
	errno = 0;
	EXPECT_EQ(NULL, xengnttab_map_grant_ref_notify(self->xgt, self->g.domid,
						       11, PROT_READ, 8, -1));
	EXPECT_EQ(EINVAL, errno);
}

/* A page that never comes back: EFAULT after eagain_timeout_ms, not a loop. */
TEST_F(xen, eagain_bounded)
{
	__u64 t0, ms;

	ASSERT_EQ(0, guest_grant(&self->g, 10, 0, VEXT_GTF_permit_access, 6));
	ASSERT_EQ(0, set_param("eagain_timeout_ms", 300));
	ASSERT_EQ(0, set_inject(self->g.domid, 1000000));
	t0 = vext_now_ns();
	errno = 0;
	EXPECT_EQ(NULL, xengnttab_map_grant_ref(self->xgt, self->g.domid, 10,
						PROT_READ));
	EXPECT_EQ(EFAULT, errno);
	ms = (vext_now_ns() - t0) / MS;
	EXPECT_LE(300ULL, ms);
	EXPECT_GT(20000ULL, ms);
	ASSERT_EQ(0, set_inject(self->g.domid, 0));
	ASSERT_EQ(0, set_param("eagain_timeout_ms", 32640));
	/* The grant was let go: it maps again. */
	EXPECT_NE(NULL, xengnttab_map_grant_ref(self->xgt, self->g.domid, 10,
						PROT_READ));
}

/*
 * Files closed under live mappings: a gntdev mapping outlives its fd; a
 * VM's map of a shared page outlives the sharer's fd and its mapping.
 */
TEST_F(xen, close_under_mappings)
{
	struct vext_gnttab_op op;
	xengntshr_handle *xgs;
	char *p, *area, *vmp;
	__u32 ref;
	int vm, domid;

	ASSERT_EQ(0, guest_grant(&self->g, 10, 0, VEXT_GTF_permit_access, 14));
	p = xengnttab_map_grant_ref(self->xgt, self->g.domid, 10,
				    PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, p);
	xengnttab_close(self->xgt);
	self->xgt = NULL;
	EXPECT_EQ(pattern(14, 0), *(__u64 *)p);
	p[16] = 9;
	EXPECT_EQ(9, ((char *)self->g.mem)[14 * PAGE + 16]);
	EXPECT_EQ(0, munmap(p, PAGE));

	vm = vext_create_vm(self->dev);
	ASSERT_LE(0, vm);
	domid = vext_get_domid(vm);
	xgs = xengntshr_open(NULL, 0);
	ASSERT_NE(NULL, xgs);
	area = xengntshr_share_pages(xgs, domid, 1, &ref, 1);
	ASSERT_NE(NULL, area);
	area[0] = 0x61;
	memset(&op, 0, sizeof(op));
	op.cmd = VEXT_GNTTABOP_map_grant_ref;
	op.ref = ref;
	ASSERT_EQ(0, vm_op(vm, &op));
	xengntshr_close(xgs);
	vmp = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vm, op.index);
	ASSERT_NE(MAP_FAILED, vmp);
	EXPECT_EQ(0x61, vmp[0]);
	EXPECT_EQ(0, munmap(area, PAGE));
	vmp[1] = 0x62;
	EXPECT_EQ(0x61, vmp[0]);
	op.cmd = VEXT_GNTTABOP_unmap_grant_ref;
	EXPECT_EQ(0, vm_op(vm, &op));
	EXPECT_EQ(0x62, vmp[1]);
	EXPECT_EQ(0, munmap(vmp, PAGE));
	close(vm);
}

/* gntalloc's raw ioctls: ALLOC_GREF of @count pages to @domid, or -errno. */
static long gntalloc_alloc(int fd, __u16 domid, __u32 count,
			   struct ioctl_gntalloc_alloc_gref *op)
{
	memset(op, 0, sizeof(*op));
	op->domid = domid;
	op->flags = GNTALLOC_FLAG_WRITABLE;
	op->count = count;
	return vext_ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, (unsigned long)op);
}

/*
 * A count that wraps the cap's 32-bit arithmetic round to below the
 * limit (2^32 - 1 with grefs held) is over the cap: ENOSPC, no attempt
 * at a 32 GiB array, and the counts stay right.
 */
TEST_F(xen, gntalloc_count_past_cap)
{
	struct ioctl_gntalloc_alloc_gref op;
	static const __u32 counts[] = { 0xffffffff, 0xfffffffe, 0x80000000, 1025 };
	unsigned int i;
	int fd;

	fd = open(GNTALLOC_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, gntalloc_alloc(fd, self->g.domid, 2, &op));
	for (i = 0; i < ARRAY_SIZE(counts); i++)
		EXPECT_EQ(-ENOSPC, gntalloc_alloc(fd, self->g.domid, counts[i], &op))
			TH_LOG("count %#x", counts[i]);
	/* Two held: two more fit under a cap of four, a fifth does not. */
	ASSERT_EQ(0, set_param("gntalloc_max_per_open", 4));
	EXPECT_EQ(-ENOSPC, gntalloc_alloc(fd, self->g.domid, 0xffffffff, &op));
	EXPECT_EQ(-ENOSPC, gntalloc_alloc(fd, self->g.domid, 3, &op));
	EXPECT_EQ(0, gntalloc_alloc(fd, self->g.domid, 2, &op));
	EXPECT_EQ(-ENOSPC, gntalloc_alloc(fd, self->g.domid, 1, &op));
	close(fd);
}

/*
 * Two ALLOC_GREFs racing, where the one that reserved the lower index
 * lists its grefs last: the file's list stays in index order, so an mmap
 * and a DEALLOC spanning both find them. The first ALLOC_GREF is held in
 * its copy of gref_ids to user space by a userfaultfd page while the
 * second one runs. Regression test: the list was in listing order, and
 * both answered EINVAL.
 */
struct uffd_alloc {
	int fd;
	struct ioctl_gntalloc_alloc_gref *op;
	long ret;
};

static void *uffd_alloc_main(void *arg)
{
	struct uffd_alloc *a = arg;

	a->ret = vext_ioctl(a->fd, IOCTL_GNTALLOC_ALLOC_GREF, (unsigned long)a->op);
	return NULL;
}

TEST_F(xen, gntalloc_racing_allocs_stay_in_order)
{
	const size_t ids = offsetof(struct ioctl_gntalloc_alloc_gref, gref_ids);
	struct ioctl_gntalloc_dealloc_gref dealloc = { .index = 0, .count = 2 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zero = { 0 };
	struct ioctl_gntalloc_alloc_gref op;
	struct uffd_alloc a = { 0 };
	struct uffd_msg msg;
	struct pollfd pfd;
	char *area, *p;
	pthread_t th;
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	area = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	reg.range.start = (uintptr_t)area + PAGE;
	reg.range.len = PAGE;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	/* The header on the first page, gref_ids at the start of the second. */
	a.op = (void *)(area + PAGE - ids);
	a.op->domid = self->g.domid;
	a.op->flags = GNTALLOC_FLAG_WRITABLE;
	a.op->count = 1;
	a.op->index = ~0ULL;
	a.fd = open(GNTALLOC_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, a.fd);
	ASSERT_EQ(0, pthread_create(&th, NULL, uffd_alloc_main, &a));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 10000)) TH_LOG("ALLOC_GREF never wrote gref_ids");
	ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	/* The first one has index 0 and waits: the second gets index 1. */
	ASSERT_EQ(0, gntalloc_alloc(a.fd, self->g.domid, 1, &op));
	EXPECT_EQ(PAGE, op.index);
	zero.range = reg.range;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, a.ret);
	EXPECT_EQ(0ULL, a.op->index);

	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, a.fd, 0);
	EXPECT_NE(MAP_FAILED, p) TH_LOG("mmap of both: %s", strerror(errno));
	if (p != MAP_FAILED)
		EXPECT_EQ(0, munmap(p, 2 * PAGE));
	EXPECT_EQ(0, vext_ioctl(a.fd, IOCTL_GNTALLOC_DEALLOC_GREF,
				(unsigned long)&dealloc));
	close(a.fd);
	close(uffd);
	munmap(area, 2 * PAGE);
}

/*
 * An mmap far longer than the pages the file holds fails with EINVAL
 * before anything is sized after its length (4 GiB: an 8 MiB array).
 */
TEST_F(xen, gntalloc_mmap_past_grefs)
{
	struct ioctl_gntalloc_alloc_gref op;
	static const size_t lens[] = { 1ULL << 32, 1ULL << 30, 2 * PAGE };
	unsigned int i;
	char *p;
	int fd;

	fd = open(GNTALLOC_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, gntalloc_alloc(fd, self->g.domid, 1, &op));
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		errno = 0;
		p = mmap(NULL, lens[i], PROT_READ, MAP_SHARED | MAP_NORESERVE, fd,
			 op.index);
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("length %#zx", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("length %#zx", lens[i]);
		if (p != MAP_FAILED)
			munmap(p, lens[i]);
	}
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, op.index);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	EXPECT_EQ(0, munmap(p, PAGE));
	close(fd);
}

struct churn {
	int domid;
	__u32 ref;
	int rounds;
	int failures;
};

/* Map, check and unmap one grant through a handle of its own. */
static void *churn_main(void *arg)
{
	struct churn *c = arg;
	xengnttab_handle *xgt = xengnttab_open(NULL, 0);
	int i;

	if (!xgt) {
		c->failures = c->rounds;
		return NULL;
	}
	for (i = 0; i < c->rounds; i++) {
		__u64 *p = xengnttab_map_grant_ref(xgt, c->domid, c->ref,
						   PROT_READ | PROT_WRITE);

		if (!p || p[1] != pattern(15, 1) || xengnttab_unmap(xgt, p, 1))
			c->failures++;
	}
	xengnttab_close(xgt);
	return NULL;
}

/* Threads mapping one grant through their own fds while shares churn. */
TEST_F(xen, concurrent_churn)
{
	struct churn c[3];
	pthread_t t[3];
	xengntshr_handle *xgs;
	unsigned int i, shared = 0;
	__u32 ref;
	void *a;

	ASSERT_EQ(0, guest_grant(&self->g, 40, 0, VEXT_GTF_permit_access, 15));
	for (i = 0; i < 3; i++) {
		c[i] = (struct churn){ .domid = self->g.domid, .ref = 40,
				       .rounds = 200 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, churn_main, &c[i]));
	}
	xgs = xengntshr_open(NULL, 0);
	ASSERT_NE(NULL, xgs);
	for (i = 0; i < 200; i++) {
		a = xengntshr_share_pages(xgs, self->g.domid, 1, &ref, 1);
		if (a) {
			shared++;
			xengntshr_unshare(xgs, a, 1);
		}
	}
	xengntshr_close(xgs);
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, c[i].failures);
	}
	EXPECT_EQ(200U, shared);
}

FIXTURE(mod) {
	int dummy;
};

FIXTURE_SETUP(mod)
{
	load_gnt_xen(_metadata);
}

FIXTURE_TEARDOWN(mod)
{
}

/* Everything closed: the module unloads (nothing leaked a reference). */
TEST_F(mod, unload)
{
	int ret;

	ret = vext_mod_unload(GNT_MODULE);
	EXPECT_EQ(0, ret) TH_LOG("unloading %s: %s", GNT_MODULE, strerror(-ret));
	EXPECT_NE(0, access(GNTDEV_PATH, F_OK));
}

TEST_HARNESS_MAIN
