// SPDX-License-Identifier: GPL-2.0-only
/*
 * stats_test - kselftests of the binary statistics fds of vext_percpu
 * (VEXT_GET_STATS_FD on VM and vCPU fds): header, id, descriptors, values
 * that match the vCPU shared pages (and their sums for a VM), live re-reads
 * of the data block, pread/write semantics, errors, and the fd's lifetime.
 *
 * Runs as root on a kernel where the suite is installed and depmod'ed.
 * vext_pn is loaded (with vext_percpu and vext_core as its dependencies) so
 * that the counters move; VMs are created afterwards.
 *
 * Values are compared with the shared pages "at the same moment": the pages
 * are read before and after the stats fd, and the comparison counts only
 * when no page changed in between (the vCPUs are PUT, or their loaded
 * thread is asleep, so that is the normal case).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vext_harness.h"
#include "vext_test.h"

#define NAME_SIZE	48
#define NR_VCPUS	3
#define MAX_DESC	16

static const int vcpu_ids[NR_VCPUS] = { 0, 5, 9 };

static const char * const suite[] = {
	VEXT_PN_MODULE, VEXT_PERCPU_MODULE, VEXT_CORE_MODULE,
};

#define NS_FLAGS	(VEXT_STATS_TYPE_CUMULATIVE | VEXT_STATS_UNIT_SECONDS | \
			 VEXT_STATS_BASE_POW10)
#define COUNT_FLAGS	(VEXT_STATS_TYPE_CUMULATIVE | VEXT_STATS_UNIT_NONE | \
			 VEXT_STATS_BASE_POW10)

struct want_desc {
	const char *name;
	__u32 flags;
	__s16 exponent;
};

static const struct want_desc vcpu_descs[] = {
	{ "loads",		COUNT_FLAGS,	0 },
	{ "preempted",		COUNT_FLAGS,	0 },
	{ "blocked",		COUNT_FLAGS,	0 },
	{ "migrations",		COUNT_FLAGS,	0 },
	{ "preempted_ns",	NS_FLAGS,	-9 },
	{ "blocked_ns",		NS_FLAGS,	-9 },
	{ "loaded",		VEXT_STATS_TYPE_INSTANT | VEXT_STATS_UNIT_BOOLEAN, 0 },
};

static const struct want_desc vm_descs[] = {
	{ "loads",		COUNT_FLAGS,	0 },
	{ "preempted",		COUNT_FLAGS,	0 },
	{ "blocked",		COUNT_FLAGS,	0 },
	{ "migrations",		COUNT_FLAGS,	0 },
	{ "preempted_ns",	NS_FLAGS,	-9 },
	{ "blocked_ns",		NS_FLAGS,	-9 },
	{ "loaded",		VEXT_STATS_TYPE_INSTANT | VEXT_STATS_UNIT_NONE, 0 },
	{ "vcpus",		VEXT_STATS_TYPE_INSTANT | VEXT_STATS_UNIT_NONE, 0 },
};

/* ---- helpers ---------------------------------------------------------- */

static void load_module(struct __test_metadata *_metadata, const char *name)
{
	int ret = vext_mod_load(name, NULL);

	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", name, strerror(-ret));
	ASSERT_EQ(1, vext_mod_loaded(name));
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int stats_fd(struct __test_metadata *_metadata, int fd)
{
	int sfd = vext_get_stats_fd(fd);

	ASSERT_LE(0, sfd) TH_LOG("VEXT_GET_STATS_FD: %s", strerror(-sfd));
	return sfd;
}

static void parse(struct __test_metadata *_metadata, int sfd,
		  struct vext_stats *st)
{
	int ret = vext_stats_parse(sfd, st);

	ASSERT_EQ(0, ret) TH_LOG("parsing the stats fd: %s", strerror(-ret));
	ASSERT_GE((__u32)MAX_DESC, st->hdr.num_desc);
}

static void read_values(struct __test_metadata *_metadata, int sfd,
			const struct vext_stats *st, __u64 *vals)
{
	int ret = vext_stats_read(sfd, st, vals);

	ASSERT_EQ(0, ret) TH_LOG("reading the values: %s", strerror(-ret));
}

static __u64 value_of(const struct vext_stats *st, const __u64 *vals,
		      const char *name)
{
	int i = vext_stats_index(st, name);

	return i < 0 ? ~0ULL : vals[i];
}

/* What a vCPU's stats fd must show for @name, from its shared page. */
static __u64 page_value(const struct vext_vcpu_shared *s, const char *name)
{
	if (!strcmp(name, "loads"))
		return s->loads;
	if (!strcmp(name, "preempted"))
		return s->preempted;
	if (!strcmp(name, "blocked"))
		return s->blocked;
	if (!strcmp(name, "migrations"))
		return s->migrations;
	if (!strcmp(name, "preempted_ns"))
		return s->preempted_ns;
	if (!strcmp(name, "blocked_ns"))
		return s->blocked_ns;
	if (!strcmp(name, "loaded"))
		return s->loaded;
	return ~0ULL;
}

static bool ranges_overlap(__u64 a, __u64 alen, __u64 b, __u64 blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * The constant part of a stats fd: header, id, and exactly the descriptors
 * of @want (in any order). Returns the file's size (end of its last part).
 */
static __u64 check_layout(struct __test_metadata *_metadata, int sfd,
			  const struct vext_stats *st, const char *id,
			  const struct want_desc *want, unsigned int nr_want)
{
	const struct vext_stats_header *h = &st->hdr;
	__u64 dsz = sizeof(struct vext_stats_desc) + h->name_size;
	__u64 parts[4][2] = {
		{ 0, sizeof(*h) },
		{ h->id_offset, strlen(st->id) + 1 },
		{ h->desc_offset, dsz * h->num_desc },
		{ h->data_offset, sizeof(__u64) * h->num_desc },
	};
	bool seen[MAX_DESC] = { false }, used[MAX_DESC] = { false };
	__u64 end = 0;
	unsigned int i, k;
	char buf[8];

	EXPECT_EQ(0U, h->flags);
	EXPECT_EQ((__u32)NAME_SIZE, h->name_size);
	EXPECT_EQ(nr_want, h->num_desc);
	EXPECT_STREQ(id, st->id);
	EXPECT_GT((size_t)NAME_SIZE, strlen(st->id));

	/* Header, id, descriptors and data do not overlap. */
	for (i = 0; i < 4; i++) {
		for (k = i + 1; k < 4; k++) {
			EXPECT_FALSE(ranges_overlap(parts[i][0], parts[i][1],
						    parts[k][0], parts[k][1]))
				TH_LOG("parts %u [%llu+%llu] and %u [%llu+%llu]",
				       i, (unsigned long long)parts[i][0],
				       (unsigned long long)parts[i][1], k,
				       (unsigned long long)parts[k][0],
				       (unsigned long long)parts[k][1]);
		}
		if (parts[i][0] + parts[i][1] > end)
			end = parts[i][0] + parts[i][1];
	}
	EXPECT_EQ(0U, h->data_offset % sizeof(__u64));

	for (i = 0; i < h->num_desc && i < MAX_DESC; i++) {
		const struct vext_stats_desc *d = &st->desc[i];
		const char *name = vext_stats_name(st, i);
		int w = -1;

		for (k = 0; k < nr_want; k++)
			if (!strcmp(want[k].name, name))
				w = k;
		EXPECT_LE(0, w) TH_LOG("unexpected statistic '%s'", name);
		if (w < 0)
			continue;
		EXPECT_FALSE(seen[w]) TH_LOG("'%s' twice", name);
		seen[w] = true;
		EXPECT_EQ(want[w].flags, d->flags) TH_LOG("flags of %s", name);
		EXPECT_EQ(want[w].exponent, d->exponent)
			TH_LOG("exponent of %s", name);
		EXPECT_EQ(1, d->size) TH_LOG("size of %s", name);
		EXPECT_EQ(0U, d->bucket_size) TH_LOG("bucket_size of %s", name);
		/* One __u64 each, all within the data block, none shared. */
		EXPECT_EQ(0U, d->offset % sizeof(__u64)) TH_LOG("%s", name);
		EXPECT_GE(sizeof(__u64) * (h->num_desc - 1), d->offset)
			TH_LOG("offset of %s", name);
		k = d->offset / sizeof(__u64);
		if (k < MAX_DESC) {
			EXPECT_FALSE(used[k]) TH_LOG("offset of %s reused", name);
			used[k] = true;
		}
	}
	for (k = 0; k < nr_want; k++) {
		const char *name = want[k].name;

		EXPECT_TRUE(seen[k]) TH_LOG("'%s' missing", name);
	}

	/* The file ends after its last part. */
	EXPECT_EQ(0, pread(sfd, buf, sizeof(buf), end));
	return end;
}

/* A consistent copy of each page; true if all are as in @before. */
static bool snap_pages(struct __test_metadata *_metadata,
		       struct vext_vcpu_shared * const *pages, int n,
		       struct vext_vcpu_shared *snaps,
		       const struct vext_vcpu_shared *before)
{
	bool same = true;
	int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, vext_shared_read(pages[i], &snaps[i]));
		if (before && before[i].seq != snaps[i].seq)
			same = false;
	}
	return same;
}

/*
 * Read the values of @sfd while none of @pages changes: @snaps are the
 * pages of that moment.
 */
static void read_stable(struct __test_metadata *_metadata, int sfd,
			const struct vext_stats *st, __u64 *vals,
			struct vext_vcpu_shared * const *pages, int n,
			struct vext_vcpu_shared *snaps)
{
	struct vext_vcpu_shared before[NR_VCPUS + 1];
	int tries;

	ASSERT_GE(NR_VCPUS + 1, n);
	for (tries = 0; tries < 50; tries++) {
		snap_pages(_metadata, pages, n, before, NULL);
		read_values(_metadata, sfd, st, vals);
		if (snap_pages(_metadata, pages, n, snaps, before))
			return;
		vext_sleep_ms(2);
	}
	ASSERT_TRUE(false) TH_LOG("the shared pages never stood still");
}

/* A vCPU's values are its page's. */
static void check_vcpu_values(struct __test_metadata *_metadata, int sfd,
			      const struct vext_stats *st,
			      struct vext_vcpu_shared *page)
{
	struct vext_vcpu_shared s;
	__u64 vals[MAX_DESC];
	unsigned int i;

	read_stable(_metadata, sfd, st, vals, &page, 1, &s);
	for (i = 0; i < st->hdr.num_desc; i++) {
		const char *name = vext_stats_name(st, i);

		EXPECT_EQ(page_value(&s, name), vals[i]) TH_LOG("%s", name);
	}
}

/* A VM's values are the sums over @pages, plus their number. */
static void check_vm_values(struct __test_metadata *_metadata, int sfd,
			    const struct vext_stats *st,
			    struct vext_vcpu_shared * const *pages, int n)
{
	struct vext_vcpu_shared s[NR_VCPUS + 1];
	__u64 vals[MAX_DESC];
	unsigned int i;
	int k;

	read_stable(_metadata, sfd, st, vals, pages, n, s);
	for (i = 0; i < st->hdr.num_desc; i++) {
		const char *name = vext_stats_name(st, i);
		__u64 sum = 0;

		if (!strcmp(name, "vcpus")) {
			sum = n;
		} else {
			for (k = 0; k < n; k++)
				sum += page_value(&s[k], name);
		}
		EXPECT_EQ(sum, vals[i]) TH_LOG("%s", name);
	}
}

/* LOAD, sleep @sleeps x 1 ms while loaded, PUT: moves blocked/blocked_ns. */
static void busy_vcpu(struct __test_metadata *_metadata, int vcpu,
		      int sleeps)
{
	int i;

	ASSERT_EQ(0, vext_ioctl(vcpu, VEXT_VCPU_LOAD, 0));
	for (i = 0; i < sleeps; i++)
		vext_sleep_ms(1);
	sched_yield();
	ASSERT_EQ(0, vext_ioctl(vcpu, VEXT_VCPU_PUT, 0));
}

/* ---- fixture: a VM with NR_VCPUS vCPUs ---------------------------------- */

FIXTURE(stats) {
	int dev;
	int vm;
	int domid;
	int vcpu[NR_VCPUS];
	struct vext_vcpu_shared *page[NR_VCPUS];
};

FIXTURE_SETUP(stats)
{
	int i;

	self->dev = -1;
	self->vm = -1;
	for (i = 0; i < NR_VCPUS; i++)
		self->vcpu[i] = -1;
	load_module(_metadata, VEXT_PN_MODULE);
	ASSERT_EQ(1, vext_mod_loaded(VEXT_PERCPU_MODULE));
	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	self->domid = vext_get_domid(self->vm);
	ASSERT_LE(VEXT_MIN_DOMID, self->domid);
	for (i = 0; i < NR_VCPUS; i++) {
		self->vcpu[i] = create_vcpu(_metadata, self->vm, vcpu_ids[i]);
		self->page[i] = map_shared(_metadata, self->vcpu[i]);
	}
}

FIXTURE_TEARDOWN(stats)
{
	int i;

	for (i = 0; i < NR_VCPUS; i++) {
		vext_unmap_shared(self->page[i]);
		close_fd(&self->vcpu[i]);
	}
	close_fd(&self->vm);
	close_fd(&self->dev);
}

TEST_F(stats, caps)
{
	EXPECT_EQ(1, vext_ioctl(self->dev, VEXT_CHECK_EXTENSION,
				VEXT_CAP_PERCPU_STATS));
	EXPECT_EQ(24U, sizeof(struct vext_stats_header));
	EXPECT_EQ(16U, sizeof(struct vext_stats_desc));
}

TEST_F(stats, vcpu_fd)
{
	struct vext_stats st;
	char id[64];
	int sfd, i;

	for (i = 0; i < NR_VCPUS; i++) {
		sfd = stats_fd(_metadata, self->vcpu[i]);
		EXPECT_EQ(1, vext_fd_cloexec(sfd));
		EXPECT_EQ(O_RDONLY, fcntl(sfd, F_GETFL) & O_ACCMODE);
		parse(_metadata, sfd, &st);
		snprintf(id, sizeof(id), "vext-%d/vcpu-%d", self->domid,
			 vcpu_ids[i]);
		check_layout(_metadata, sfd, &st, id, vcpu_descs,
			     ARRAY_SIZE(vcpu_descs));
		/* A fresh vCPU: all zero, as its page. */
		check_vcpu_values(_metadata, sfd, &st, self->page[i]);
		vext_stats_free(&st);
		close(sfd);
	}
}

TEST_F(stats, vm_fd)
{
	struct vext_vcpu_shared *none = NULL;
	struct vext_stats st;
	int sfd, vm2, sfd2;
	char id[64];

	sfd = stats_fd(_metadata, self->vm);
	EXPECT_EQ(1, vext_fd_cloexec(sfd));
	EXPECT_EQ(O_RDONLY, fcntl(sfd, F_GETFL) & O_ACCMODE);
	parse(_metadata, sfd, &st);
	snprintf(id, sizeof(id), "vext-%d", self->domid);
	check_layout(_metadata, sfd, &st, id, vm_descs, ARRAY_SIZE(vm_descs));
	check_vm_values(_metadata, sfd, &st, self->page, NR_VCPUS);
	vext_stats_free(&st);
	close(sfd);

	/* A VM without vCPUs: zeros, vcpus 0. */
	vm2 = create_vm(_metadata, self->dev);
	sfd2 = stats_fd(_metadata, vm2);
	parse(_metadata, sfd2, &st);
	snprintf(id, sizeof(id), "vext-%d", vext_get_domid(vm2));
	check_layout(_metadata, sfd2, &st, id, vm_descs, ARRAY_SIZE(vm_descs));
	check_vm_values(_metadata, sfd2, &st, &none, 0);
	vext_stats_free(&st);
	close(sfd2);
	close(vm2);
}

TEST_F(stats, bad_arg)
{
	static const unsigned long bad[] = { 1, 2, 1UL << 32, ~0UL };
	unsigned int i;
	int probe, probe2;

	/* No fd is created (or leaked) by the failures. */
	probe = dup(0);
	ASSERT_LE(0, probe);
	close(probe);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, vext_ioctl(self->vcpu[0], VEXT_GET_STATS_FD,
					      bad[i]))
			TH_LOG("vCPU fd, argument %#lx", bad[i]);
		EXPECT_EQ(-EINVAL, vext_ioctl(self->vm, VEXT_GET_STATS_FD,
					      bad[i]))
			TH_LOG("VM fd, argument %#lx", bad[i]);
	}
	probe2 = dup(0);
	EXPECT_EQ(probe, probe2);
	close(probe2);
	/* Not on /dev/vext, nor with another direction or size. */
	EXPECT_EQ(-ENOTTY, vext_ioctl(self->dev, VEXT_GET_STATS_FD, 0));
	EXPECT_EQ(-ENOTTY, vext_ioctl(self->vm, _IOR(VEXTIO, 0x20, __u32), 0));
	EXPECT_EQ(-ENOTTY, vext_ioctl(self->vcpu[0], _IOR(VEXTIO, 0x20, __u32), 0));
}

/* Values equal the page's for a PUT vCPU and for a loaded, sleeping one. */
TEST_F(stats, vcpu_values)
{
	struct vext_vcpu_shared s;
	struct vext_stats st;
	__u64 vals[MAX_DESC];
	struct agent a;
	int sfd;

	busy_vcpu(_metadata, self->vcpu[1], 20);
	busy_vcpu(_metadata, self->vcpu[1], 5);
	sfd = stats_fd(_metadata, self->vcpu[1]);
	parse(_metadata, sfd, &st);
	check_vcpu_values(_metadata, sfd, &st, self->page[1]);
	read_stable(_metadata, sfd, &st, vals, &self->page[1], 1, &s);
	EXPECT_EQ(2ULL, value_of(&st, vals, "loads"));
	/*
	 * Not one block per sleep: a sleeper preempted between setting its
	 * state and schedule() counts as preempted, and under TCG the host
	 * may stall the guest until the timer already fired, so the sleep
	 * does not switch out at all (seen: 24 of 25).
	 */
	EXPECT_LT(0ULL, value_of(&st, vals, "blocked"));
	EXPECT_LT(0ULL, value_of(&st, vals, "blocked_ns"));
	EXPECT_EQ(0ULL, value_of(&st, vals, "loaded"));

	/* Loaded by a thread that sleeps: loaded reads 1 in both. */
	agent_start(_metadata, &a);
	ASSERT_EQ(0, agent_ioctl(&a, self->vcpu[1], VEXT_VCPU_LOAD));
	vext_sleep_ms(5);
	check_vcpu_values(_metadata, sfd, &st, self->page[1]);
	read_stable(_metadata, sfd, &st, vals, &self->page[1], 1, &s);
	EXPECT_EQ(1ULL, value_of(&st, vals, "loaded"));
	EXPECT_EQ(3ULL, value_of(&st, vals, "loads"));
	EXPECT_EQ(0, agent_ioctl(&a, self->vcpu[1], VEXT_VCPU_PUT));
	agent_stop(&a);
	check_vcpu_values(_metadata, sfd, &st, self->page[1]);

	/* The other vCPUs are untouched. */
	vext_stats_free(&st);
	close(sfd);
	sfd = stats_fd(_metadata, self->vcpu[0]);
	parse(_metadata, sfd, &st);
	read_values(_metadata, sfd, &st, vals);
	EXPECT_EQ(0ULL, value_of(&st, vals, "loads"));
	vext_stats_free(&st);
	close(sfd);
}

/* Parse once, re-read the data block: the values are live. */
TEST_F(stats, live_values)
{
	struct vext_stats st, vst;
	__u64 vals[MAX_DESC], vvals[MAX_DESC];
	int sfd, vsfd, i;

	sfd = stats_fd(_metadata, self->vcpu[2]);
	vsfd = stats_fd(_metadata, self->vm);
	parse(_metadata, sfd, &st);
	parse(_metadata, vsfd, &vst);
	for (i = 1; i <= 5; i++) {
		ASSERT_EQ(0, vext_ioctl(self->vcpu[2], VEXT_VCPU_LOAD, 0));
		read_values(_metadata, sfd, &st, vals);
		read_values(_metadata, vsfd, &vst, vvals);
		EXPECT_EQ((__u64)i, value_of(&st, vals, "loads"));
		EXPECT_EQ(1ULL, value_of(&st, vals, "loaded"));
		EXPECT_EQ((__u64)i, value_of(&vst, vvals, "loads"));
		EXPECT_EQ(1ULL, value_of(&vst, vvals, "loaded"));
		ASSERT_EQ(0, vext_ioctl(self->vcpu[2], VEXT_VCPU_PUT, 0));
		read_values(_metadata, sfd, &st, vals);
		read_values(_metadata, vsfd, &vst, vvals);
		EXPECT_EQ(0ULL, value_of(&st, vals, "loaded"));
		EXPECT_EQ(0ULL, value_of(&vst, vvals, "loaded"));
	}
	check_vcpu_values(_metadata, sfd, &st, self->page[2]);
	vext_stats_free(&st);
	vext_stats_free(&vst);
	close(sfd);
	close(vsfd);
}

/* A VM's values are the sums over its vCPUs; "vcpus" counts them. */
TEST_F(stats, vm_sums)
{
	struct vext_vcpu_shared *pages[NR_VCPUS + 1];
	__u64 vals[MAX_DESC];
	struct vext_stats st;
	struct agent a;
	int sfd, v3, i;

	busy_vcpu(_metadata, self->vcpu[0], 10);
	busy_vcpu(_metadata, self->vcpu[0], 3);
	busy_vcpu(_metadata, self->vcpu[1], 7);
	agent_start(_metadata, &a);
	ASSERT_EQ(0, agent_ioctl(&a, self->vcpu[2], VEXT_VCPU_LOAD));

	sfd = stats_fd(_metadata, self->vm);
	parse(_metadata, sfd, &st);
	check_vm_values(_metadata, sfd, &st, self->page, NR_VCPUS);
	read_values(_metadata, sfd, &st, vals);
	EXPECT_EQ(4ULL, value_of(&st, vals, "loads"));
	EXPECT_EQ(1ULL, value_of(&st, vals, "loaded"));
	EXPECT_EQ((__u64)NR_VCPUS, value_of(&st, vals, "vcpus"));
	/*
	 * 20 sleeps, but not necessarily 20 blocks (see vcpu_values): the rt
	 * row counted 19 in 3 runs of 30. The sums are checked exactly above.
	 */
	EXPECT_LT(0ULL, value_of(&st, vals, "blocked"));

	/* Two loaded: "loaded" counts them. */
	ASSERT_EQ(0, vext_ioctl(self->vcpu[0], VEXT_VCPU_LOAD, 0));
	read_values(_metadata, sfd, &st, vals);
	EXPECT_EQ(2ULL, value_of(&st, vals, "loaded"));
	ASSERT_EQ(0, vext_ioctl(self->vcpu[0], VEXT_VCPU_PUT, 0));
	EXPECT_EQ(0, agent_ioctl(&a, self->vcpu[2], VEXT_VCPU_PUT));
	agent_stop(&a);

	/* A closed vCPU fd does not remove the vCPU; a new one is counted. */
	for (i = 0; i < NR_VCPUS; i++)
		pages[i] = self->page[i];
	close_fd(&self->vcpu[1]);
	v3 = create_vcpu(_metadata, self->vm, 77);
	pages[NR_VCPUS] = map_shared(_metadata, v3);
	busy_vcpu(_metadata, v3, 2);
	check_vm_values(_metadata, sfd, &st, pages, NR_VCPUS + 1);
	read_values(_metadata, sfd, &st, vals);
	EXPECT_EQ((__u64)NR_VCPUS + 1, value_of(&st, vals, "vcpus"));
	EXPECT_EQ(6ULL, value_of(&st, vals, "loads"));
	EXPECT_EQ(0ULL, value_of(&st, vals, "loaded"));
	vext_unmap_shared(pages[NR_VCPUS]);
	close(v3);
	vext_stats_free(&st);
	close(sfd);
}

/* pread at any offset, past the end, partial; no writes. */
TEST_F(stats, read_semantics)
{
	unsigned char whole[4096], piece[4096];
	struct vext_stats st;
	__u64 end, off;
	ssize_t n;
	int sfd, err;

	busy_vcpu(_metadata, self->vcpu[0], 3);
	sfd = stats_fd(_metadata, self->vcpu[0]);
	parse(_metadata, sfd, &st);
	end = check_layout(_metadata, sfd, &st, st.id, vcpu_descs,
			   ARRAY_SIZE(vcpu_descs));
	ASSERT_GT(sizeof(whole), end);

	/* One read of everything returns exactly the file. */
	n = pread(sfd, whole, sizeof(whole), 0);
	EXPECT_EQ((ssize_t)end, n);
	/* Byte by byte, the same bytes (the vCPU is PUT: values stand still). */
	for (off = 0; off < end; off++) {
		ASSERT_EQ(1, pread(sfd, &piece[off], 1, off))
			TH_LOG("offset %llu", (unsigned long long)off);
	}
	EXPECT_EQ(0, memcmp(whole, piece, end));
	/* Partial reads at the end, nothing after it. */
	EXPECT_EQ(4, pread(sfd, piece, 16, end - 4));
	EXPECT_EQ(0, memcmp(piece, whole + end - 4, 4));
	EXPECT_EQ(0, pread(sfd, piece, 16, end));
	EXPECT_EQ(0, pread(sfd, piece, 16, end + 1));
	EXPECT_EQ(0, pread(sfd, piece, 16, 1 << 20));
	EXPECT_EQ(0, pread(sfd, piece, 16, 1LL << 40));
	/* The data block alone, unaligned pieces included. */
	EXPECT_EQ(3, pread(sfd, piece, 3, st.hdr.data_offset + 5));
	EXPECT_EQ(0, memcmp(piece, whole + st.hdr.data_offset + 5, 3));
	/* read() follows the file position. */
	EXPECT_EQ(24, read(sfd, piece, 24));
	EXPECT_EQ(0, memcmp(piece, whole, 24));

	/* Read-only (pwrite may also fail as on any unseekable-for-write fd). */
	n = write(sfd, whole, 8);
	err = errno;
	EXPECT_EQ(-1, n);
	EXPECT_TRUE(err == EBADF || err == EINVAL)
		TH_LOG("write: %s", strerror(err));
	n = pwrite(sfd, whole, 8, 0);
	err = errno;
	EXPECT_EQ(-1, n);
	EXPECT_TRUE(err == EBADF || err == EINVAL || err == ESPIPE)
		TH_LOG("pwrite: %s", strerror(err));
	/* Unchanged by the attempts. */
	n = pread(sfd, piece, sizeof(piece), 0);
	EXPECT_EQ((ssize_t)end, n);
	EXPECT_EQ(0, memcmp(whole, piece, end));
	vext_stats_free(&st);
	close(sfd);
}

static int stats_in_child(void *arg)
{
	int *fds = arg;
	int fails = 0;

	if (vext_get_stats_fd(fds[0]) != -EIO)
		fails++;
	if (vext_get_stats_fd(fds[1]) != -EIO)
		fails++;
	return fails;
}

/* Another process gets EIO. */
TEST_F(stats, other_process)
{
	int fds[2] = { self->vm, self->vcpu[0] };

	EXPECT_EQ(0, vext_run_child(stats_in_child, fds));
}

/* Many stats fds at once, each its own. */
TEST_F(stats, many_fds)
{
	enum { NR = 200 };
	int sfd[NR], i;

	for (i = 0; i < NR; i++) {
		sfd[i] = stats_fd(_metadata, i & 1 ? self->vm :
				  self->vcpu[i % NR_VCPUS]);
		if (i)
			EXPECT_NE(sfd[i - 1], sfd[i]);
	}
	for (i = 0; i < NR; i++)
		close(sfd[i]);
}

/* ---- lifetime: the stats fd outlives the VM and vCPU fds --------------- */

FIXTURE(stats_lifetime) {
	int unused;
};

FIXTURE_SETUP(stats_lifetime)
{
	load_module(_metadata, VEXT_PN_MODULE);
}

FIXTURE_TEARDOWN(stats_lifetime)
{
}

/*
 * vext_pn frees a vCPU binding, and drops the module reference the binding
 * holds, from a work item that VEXT_VCPU_PUT queues (vext_pn_free_fn() in
 * preempt_notify/pn.c). So for a moment after the last fd is closed,
 * vext_pn may still be in use: on the rt row after 49 of 6000 last closes
 * (gone within 15 ms), and outlives_fds failed that way once.
 * Wait for @name's references to go, for up to @ms: 0, or the count left.
 */
static int wait_unreferenced(const char *name, int ms)
{
	__u64 end = vext_now_ns() + (__u64)ms * 1000000;
	int refs;

	while ((refs = vext_mod_refcnt(name)) > 0 && vext_now_ns() < end)
		vext_sleep_ms(1);
	return refs;
}

/*
 * The stats fds keep the VM (and the modules it uses) alive after its VM
 * and vCPU fds are closed; the last close lets everything unload. With
 * @fifo the test runs SCHED_FIFO on one CPU, where the vCPU is PUT, so
 * vext_pn's deferred free cannot run before the test sleeps: the unload
 * must wait for it.
 */
static void outlives_fds(struct __test_metadata *_metadata, bool fifo)
{
	struct vext_stats st, vst;
	__u64 a[MAX_DESC], b[MAX_DESC];
	int dev, vm, vcpu, sfd, vsfd, domid, refs;
	unsigned int i;
	char id[64];

	if (fifo) {
		struct sched_param sp = { .sched_priority = 1 };

		ASSERT_EQ(0, vext_pin_cpu(0));
		ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO, &sp))
			TH_LOG("SCHED_FIFO: %s", strerror(errno));
	}
	dev = open_dev(_metadata);
	vm = create_vm(_metadata, dev);
	domid = vext_get_domid(vm);
	vcpu = create_vcpu(_metadata, vm, 3);
	close(dev);
	busy_vcpu(_metadata, vcpu, 4);
	sfd = stats_fd(_metadata, vcpu);
	vsfd = stats_fd(_metadata, vm);
	parse(_metadata, sfd, &st);
	parse(_metadata, vsfd, &vst);
	read_values(_metadata, sfd, &st, a);
	close(vcpu);
	close(vm);

	/* The stats fds keep the VM: same id, same values. */
	vext_stats_free(&st);
	parse(_metadata, sfd, &st);
	snprintf(id, sizeof(id), "vext-%d/vcpu-3", domid);
	EXPECT_STREQ(id, st.id);
	read_values(_metadata, sfd, &st, b);
	for (i = 0; i < st.hdr.num_desc; i++) {
		const char *name = vext_stats_name(&st, i);

		EXPECT_EQ(a[i], b[i]) TH_LOG("%s", name);
	}
	read_values(_metadata, vsfd, &vst, b);
	EXPECT_EQ(1ULL, value_of(&vst, b, "vcpus"));
	EXPECT_EQ(1ULL, value_of(&vst, b, "loads"));
	/* ... and so the modules the VM uses. */
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_PN_MODULE));
	close(sfd);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_PN_MODULE));
	read_values(_metadata, vsfd, &vst, b);
	EXPECT_EQ(1ULL, value_of(&vst, b, "loads"));
	close(vsfd);
	vext_stats_free(&st);
	vext_stats_free(&vst);

	/*
	 * Last fd closed: everything unloads (the thread's own PUT freed its
	 * binding; the wait covers a binding whose free was deferred).
	 */
	refs = wait_unreferenced(VEXT_PN_MODULE, 5000);
	EXPECT_EQ(0, refs) TH_LOG("%s still has %d references 5 s after the last close",
				  VEXT_PN_MODULE, refs);
	for (i = 0; i < ARRAY_SIZE(suite); i++) {
		const char *name = suite[i];
		int ret = vext_mod_remove(name);

		EXPECT_EQ(0, ret) TH_LOG("removing %s: %s", name,
					 strerror(-ret));
	}
	EXPECT_EQ(0, vext_dev_wait_gone());
}

TEST_F(stats_lifetime, outlives_fds)
{
	outlives_fds(_metadata, false);
}

/* The same with vext_pn's work items held off until the test sleeps. */
TEST_F(stats_lifetime, outlives_fds_late_free)
{
	outlives_fds(_metadata, true);
}

/*
 * A vCPU whose creation fails after its components were attached (here:
 * no fd left for it) must never be seen by the VM's statistics, which
 * walk the VM's vCPUs without the VM's lock. Regression test: core used
 * to publish the vCPU in the VM before getting its fd, and to free it
 * when that failed, while a reader could be summing its shared page.
 */
struct phantom_reader {
	int sfd;
	const struct vext_stats *st;
	bool stop;
	unsigned long reads, phantoms, errors;
};

static void *phantom_read(void *arg)
{
	struct phantom_reader *r = arg;
	__u64 vals[MAX_DESC];
	int i = vext_stats_index(r->st, "vcpus");

	vext_pin_cpu(1);
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		if (vext_stats_read(r->sfd, r->st, vals) || i < 0)
			r->errors++;
		else if (vals[i])
			r->phantoms++;
		r->reads++;
	}
	return NULL;
}

TEST_F(stats_lifetime, failed_vcpu_never_counted)
{
	struct phantom_reader r = { 0 };
	struct rlimit old, rl;
	unsigned long tries = 0, emfile = 0;
	struct vext_stats st;
	pthread_t thread;
	int dev, vm, probe, ret, vcpu;
	__u64 deadline;

	dev = open_dev(_metadata);
	vm = create_vm(_metadata, dev);
	r.sfd = stats_fd(_metadata, vm);
	parse(_metadata, r.sfd, &st);
	r.st = &st;
	ASSERT_EQ(0, pthread_create(&thread, NULL, phantom_read, &r));

	/* No fd can be made from here on: every CREATE_VCPU gets EMFILE. */
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, probe);
	close(probe);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	rl = old;
	rl.rlim_cur = probe;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	vext_pin_cpu(0);
	deadline = vext_now_ns() + 3000000000ULL;
	while (vext_now_ns() < deadline) {
		ret = vext_create_vcpu(vm, tries++ % 64);
		if (ret >= 0)
			close(ret);
		emfile += ret == -EMFILE;
	}
	setrlimit(RLIMIT_NOFILE, &old);
	vext_unpin();
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);

	TH_LOG("%lu creations (%lu EMFILE), %lu reads", tries, emfile, r.reads);
	EXPECT_EQ(tries, emfile);
	EXPECT_EQ(0UL, r.errors);
	EXPECT_EQ(0UL, r.phantoms) TH_LOG("%lu of %lu reads counted a vCPU that never existed",
					  r.phantoms, r.reads);
	/* The ids stayed free. */
	vcpu = create_vcpu(_metadata, vm, 0);
	close(vcpu);
	vext_stats_free(&st);
	close(r.sfd);
	close(vm);
	close(dev);
}

TEST_HARNESS_MAIN
