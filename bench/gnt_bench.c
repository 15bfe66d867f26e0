// SPDX-License-Identifier: GPL-2.0-only
/*
 * gnt_bench - what mapping and copying a grant costs, against the plain
 * alternatives. Runs inside the test VM (make bench) as root and prints one
 * JSON object on stdout; progress and errors go to stderr as "# " lines.
 * Exit status 0 only if every measurement was made.
 *
 *   gnt_bench [-r ROUNDS] [-t TARGET_MS]
 *
 * Two processes, as in real use: a forked guest VMM backs 64 pages of
 * private anonymous memory as its VM's memory (touched, so resident) and
 * grants each of them, writable, to the VM of the measuring process (the
 * backend). Measurements, each a loop of ITERS iterations:
 *
 *   grant_1      MAP one grant (one VEXT_GNTTAB_OP), mmap its page, read a
 *                word of it, munmap, UNMAP (a second VEXT_GNTTAB_OP)
 *   memfd_1      mmap one page of a shared 64-page memfd, read a word of
 *                it (a page-cache fault), munmap
 *   grant_64     MAP 64 grants in one VEXT_GNTTAB_OP, one mmap of the 64
 *                pages (consecutive indices), read a word of each page,
 *                munmap, UNMAP the 64 in one VEXT_GNTTAB_OP
 *   memfd_64     mmap the 64 pages of the memfd, read a word of each page,
 *                munmap
 *   grant_64_ops   (breakdown) grant_64 without the mmap: the two ioctls
 *   grant_64_defer (breakdown) the same with VEXT_GNTMAP_defer: no pinning
 *   copy         one 4 KiB COPY op per VEXT_GNTTAB_OP, from the grant into
 *                a local buffer (refs in turn)
 *   copy_b64     64 such COPY ops per VEXT_GNTTAB_OP
 *   pvr          process_vm_readv() of 4 KiB of the guest's memory (the
 *                same pages, same two processes), one page per call
 *   memcpy       memcpy() of 4 KiB within the process (the limit)
 *   xen_1, xen_64          grant_1 and grant_64 through Debian's unmodified
 *                          libxengnttab on /dev/xen/gntdev, as domain 0:
 *                          xengnttab_map_grant_ref(s) (MAP_GRANT_REF ioctl
 *                          and mmap), read a word of each page,
 *                          xengnttab_unmap (GET_OFFSET_FOR_VADDR ioctl,
 *                          munmap, UNMAP_GRANT_REF ioctl)
 *   xen_copy, xen_copy_b64 copy and copy_b64 through xengnttab_grant_copy
 *                          (one GRANT_COPY ioctl of 1 or 64 segments)
 *
 * The gntdev ABI's ratios come from PAIRS back-to-back pairs of short
 * measurements (each about a fifth of TARGET_MS, the order alternating),
 * the median of the pairs' ratios: the machine's load changes between
 * the rounds far more than within a pair.
 *
 * The guest grants each page twice: refs 0..63 to the backend's VM (the
 * VM-fd path), refs 64..127 to domain 0 (the gntdev path); vext_gnt is
 * loaded with xen_names=1.
 * Map costs are reported in ns per page, copies in MB/s. ROUNDS rounds
 * (default 7) each measure every configuration once, in an order that
 * rotates from round to round; medians, their spread (mad_pct) and the
 * ratios the targets apply to are reported (never enforced):
 *   batched map+unmap per page <= 2x the memfd mmap+munmap cost
 *   (grant_64 / memfd_64), COPY >= 0.9x process_vm_readv (copy / pvr), and
 *   the gntdev ABI costs <= 1.1x the VM-fd path (xen_* / grant_*, copy*).
 * ITERS is calibrated per configuration so that one measurement takes about
 * TARGET_MS (default 150 ms), after untimed warm-up iterations (TCG
 * translates the code paths first). Only ratios from the same boot mean
 * anything: under TCG absolute times depend on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vext.h>
#include <xengnttab.h>

#include "bench_util.h"

#define PAGE		4096UL
#define NPAGES		64
#define GPA_BASE	0x100000ULL
#define MAX_ROUNDS	51
#define DEF_ROUNDS	7
#define DEF_TARGET_MS	150
#define CAL_ITERS	20
#define MIN_ITERS	10
#define MAX_ITERS	2000000
#define GNT_MODULE	"vext_gnt"

#define TARGET_MAP_RATIO	2.0
#define TARGET_COPY_RATIO	0.9
#define TARGET_XEN_RATIO	1.1
/* Pairs measured for each gntdev ratio. */
#define PAIRS			15
/* The guest's grants to domain 0: refs XEN_REF0.. */
#define XEN_REF0		NPAGES

enum config { GRANT_1, MEMFD_1, GRANT_64, MEMFD_64, GRANT_64_OPS,
	      GRANT_64_DEFER, COPY, COPY_B64, PVR, MEMCPY, XEN_1, XEN_64,
	      XEN_COPY, XEN_COPY_B64, NR_CONFIGS };
static const char * const names[NR_CONFIGS] = {
	"grant_1", "memfd_1", "grant_64", "memfd_64", "grant_64_ops",
	"grant_64_defer", "copy", "copy_b64", "pvr", "memcpy", "xen_1",
	"xen_64", "xen_copy", "xen_copy_b64",
};

/* Pages (map) or 4 KiB copies per iteration. */
static const int per_iter[NR_CONFIGS] = {
	1, 1, 64, 64, 64, 64, 1, 64, 1, 1, 1, 64, 1, 64,
};

static xengnttab_handle *xgt;
static __u32 xen_domids[NPAGES], xen_refs[NPAGES];
static xengnttab_grant_copy_segment_t segs[NPAGES];

static int vm, guest_domid, memfd;
static pid_t guest_pid;
static unsigned long guest_mem;
static struct vext_gnttab_op ops[NPAGES];
/* NPAGES page-aligned copy buffers, then the memcpy source page. */
static char (*buf)[PAGE];
static char *src;
static unsigned long sink;

/* Read one byte the compiler may not elide. */
#define TOUCH(p)	(sink += __atomic_load_n((char *)(p), __ATOMIC_RELAXED))

/* ---- the guest ------------------------------------------------------- */

struct hello {
	int domid;
	unsigned long mem;
};

static int guest_main(int backend, int up, int down)
{
	struct vext_gnt_setup_table st = { .nr_frames = 1 };
	struct vext_userspace_memory_region r = {
		.guest_phys_addr = GPA_BASE, .memory_size = NPAGES * PAGE,
	};
	struct vext_grant_entry_v1 *t;
	struct hello h = { -1, 0 };
	int dev, gvm, i;
	char *mem;
	char c;

	dev = vext_dev_open();
	gvm = dev < 0 ? -1 : vext_create_vm(dev);
	mem = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gvm < 0 || mem == MAP_FAILED)
		goto out;
	memset(mem, 0x5a, NPAGES * PAGE);
	r.userspace_addr = (unsigned long)mem;
	if (ioctl(gvm, VEXT_SET_USER_MEMORY_REGION, &r) ||
	    ioctl(gvm, VEXT_GNT_SETUP_TABLE, &st) != 1)
		goto out;
	t = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gvm,
		 VEXT_GNT_TABLE_OFFSET);
	if (t == MAP_FAILED)
		goto out;
	for (i = 0; i < 2 * NPAGES; i++) {
		t[i].frame = GPA_BASE / PAGE + i % NPAGES;
		t[i].domid = i < NPAGES ? backend : 0;
		__atomic_store_n(&t[i].flags, VEXT_GTF_permit_access,
				 __ATOMIC_RELEASE);
	}
	h.domid = vext_get_domid(gvm);
	h.mem = (unsigned long)mem;
out:
	if (write(up, &h, sizeof(h)) != sizeof(h) || h.domid < 0)
		return 1;
	/* Serve until the backend closes its end. */
	while (read(down, &c, 1) > 0)
		;
	return 0;
}

static void guest_start(int backend)
{
	int up[2], down[2];
	struct hello h;

	if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC))
		bench_die(errno, "pipe");
	guest_pid = fork();
	if (guest_pid < 0)
		bench_die(errno, "fork");
	if (!guest_pid) {
		close(up[0]);
		close(down[1]);
		_exit(guest_main(backend, up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &h, sizeof(h)) != sizeof(h) || h.domid < 0)
		bench_die(EIO, "the guest VMM did not start");
	close(up[0]);
	guest_domid = h.domid;
	guest_mem = h.mem;
	/* down[1] stays open: the guest serves until we exit. */
}

/* ---- the measured loops ---------------------------------------------- */

static void gnttab(int n)
{
	struct vext_gnttab_batch b = { .ops = (unsigned long)ops, .count = n };
	int i;

	if (ioctl(vm, VEXT_GNTTAB_OP, &b))
		bench_die(errno, "VEXT_GNTTAB_OP");
	for (i = 0; i < n; i++)
		if (ops[i].status)
			bench_die(EIO, "op %d (cmd %u): status %d", i, ops[i].cmd,
				  ops[i].status);
}

static void set_maps(int n, __u16 flags)
{
	int i;

	for (i = 0; i < n; i++)
		ops[i] = (struct vext_gnttab_op){
			.cmd = VEXT_GNTTABOP_map_grant_ref,
			.domid = guest_domid, .ref = i, .flags = flags,
		};
}

/* MAP @n grants, mmap them unless @ops_only, UNMAP them. */
static void grant_map(int n, bool ops_only, __u16 flags)
{
	char *p;
	int i;

	set_maps(n, flags);
	gnttab(n);
	if (!ops_only) {
		p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vm,
			 ops[0].index);
		if (p == MAP_FAILED)
			bench_die(errno, "mmap of %d grants", n);
		for (i = 0; i < n; i++)
			TOUCH(p + i * PAGE);
		munmap(p, n * PAGE);
	}
	for (i = 0; i < n; i++)
		ops[i].cmd = VEXT_GNTTABOP_unmap_grant_ref;
	gnttab(n);
}

static void memfd_map(int n)
{
	char *p;
	int i;

	p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (p == MAP_FAILED)
		bench_die(errno, "mmap of the memfd");
	for (i = 0; i < n; i++)
		TOUCH(p + i * PAGE);
	munmap(p, n * PAGE);
}

static void grant_copy(int n, long it)
{
	int i;

	for (i = 0; i < n; i++)
		ops[i] = (struct vext_gnttab_op){
			.cmd = VEXT_GNTTABOP_copy, .domid = guest_domid,
			.ref = (it + i) % NPAGES, .buf = (unsigned long)buf[i],
			.len = PAGE,
		};
	gnttab(n);
}

/* The same through libxengnttab as domain 0. */
static void xen_map(int n)
{
	char *p;
	int i;

	p = xengnttab_map_grant_refs(xgt, n, xen_domids, xen_refs,
				     PROT_READ | PROT_WRITE);
	if (!p)
		bench_die(errno, "xengnttab_map_grant_refs of %d", n);
	for (i = 0; i < n; i++)
		TOUCH(p + i * PAGE);
	if (xengnttab_unmap(xgt, p, n))
		bench_die(errno, "xengnttab_unmap of %d", n);
}

static void xen_copy(int n, long it)
{
	int i;

	for (i = 0; i < n; i++) {
		segs[i] = (xengnttab_grant_copy_segment_t){
			.flags = GNTCOPY_source_gref, .len = PAGE,
			.dest.virt = buf[i],
		};
		segs[i].source.foreign.domid = guest_domid;
		segs[i].source.foreign.ref = XEN_REF0 + (it + i) % NPAGES;
	}
	if (xengnttab_grant_copy(xgt, n, segs))
		bench_die(errno, "xengnttab_grant_copy");
	for (i = 0; i < n; i++)
		if (segs[i].status)
			bench_die(EIO, "segment %d: status %d", i, segs[i].status);
}

static void pvr(long it)
{
	struct iovec local = { buf[0], PAGE };
	struct iovec remote = {
		(void *)(guest_mem + (it % NPAGES) * PAGE), PAGE,
	};

	if (process_vm_readv(guest_pid, &local, 1, &remote, 1, 0) != PAGE)
		bench_die(errno, "process_vm_readv");
}

static void run(enum config c, long iters)
{
	long it;

	for (it = 0; it < iters; it++) {
		switch (c) {
		case GRANT_1:
			grant_map(1, false, 0);
			break;
		case MEMFD_1:
			memfd_map(1);
			break;
		case GRANT_64:
			grant_map(NPAGES, false, 0);
			break;
		case GRANT_64_OPS:
			grant_map(NPAGES, true, 0);
			break;
		case GRANT_64_DEFER:
			grant_map(NPAGES, true, VEXT_GNTMAP_defer);
			break;
		case MEMFD_64:
			memfd_map(NPAGES);
			break;
		case COPY:
			grant_copy(1, it);
			break;
		case COPY_B64:
			grant_copy(NPAGES, it);
			break;
		case PVR:
			pvr(it);
			break;
		case MEMCPY:
			memcpy(buf[it % NPAGES], src, PAGE);
			TOUCH(buf[it % NPAGES]);
			break;
		case XEN_1:
			xen_map(1);
			break;
		case XEN_64:
			xen_map(NPAGES);
			break;
		case XEN_COPY:
			xen_copy(1, it);
			break;
		case XEN_COPY_B64:
			xen_copy(NPAGES, it);
			break;
		case NR_CONFIGS:
			break;
		}
	}
}

/* One measurement: ns per page (or per 4 KiB copied). */
static double measure(enum config c, long iters)
{
	__u64 t0;

	run(c, iters / 10 + 1);
	t0 = bench_now_ns();
	run(c, iters);
	return (double)(bench_now_ns() - t0) / ((double)iters * per_iter[c]);
}

/*
 * Median over PAIRS back-to-back measurements of @a and @b of the ratio
 * of their times per page; each measurement runs @iters / 5 iterations.
 */
static double paired_ratio(enum config a, enum config b, long iters_a,
			   long iters_b, double *ratios)
{
	long ia = iters_a / 5 + 1, ib = iters_b / 5 + 1;
	double ta, tb;
	int i;

	for (i = 0; i < PAIRS; i++) {
		if (i & 1) {
			tb = measure(b, ib);
			ta = measure(a, ia);
		} else {
			ta = measure(a, ia);
			tb = measure(b, ib);
		}
		ratios[i] = ta / tb;
	}
	return bench_median(ratios, PAIRS);
}

static long calibrate(enum config c, unsigned int target_ms)
{
	double ns = measure(c, CAL_ITERS) * per_iter[c];
	long iters = (long)(target_ms * 1e6 / ns);

	if (iters < MIN_ITERS)
		iters = MIN_ITERS;
	if (iters > MAX_ITERS)
		iters = MAX_ITERS;
	return iters;
}

static void print_runs(const char *name, const double *v, int n,
		       const char *end)
{
	int i;

	printf("      \"%s\": [", name);
	for (i = 0; i < n; i++)
		printf("%s%.1f", i ? ", " : "", v[i]);
	printf("]%s\n", end);
}

static double mbps(double ns_per_4k)
{
	return PAGE / ns_per_4k * 1e3;
}

static long parse_arg(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		bench_die(EINVAL, "'%s' is not a number in %ld..%ld", s, min, max);
	return v;
}

int main(int argc, char **argv)
{
	double res[NR_CONFIGS][MAX_ROUNDS], med[NR_CONFIGS], mad[NR_CONFIGS];
	unsigned int target_ms = DEF_TARGET_MS;
	int rounds = DEF_ROUNDS, r, k, opt, dev, domid, ret;
	long iters[NR_CONFIGS];
	static const enum config xa[4] = { XEN_1, XEN_64, XEN_COPY, XEN_COPY_B64 };
	static const enum config xb[4] = { GRANT_1, GRANT_64, COPY, COPY_B64 };
	double rmap1, rmap64, rcopy, rx[4], pr[4][PAIRS], rxm[4];
	bool xen_ok;
	__u64 t0 = bench_now_ns();
	struct utsname u;

	while ((opt = getopt(argc, argv, "r:t:")) != -1) {
		switch (opt) {
		case 'r':
			rounds = parse_arg(optarg, 1, MAX_ROUNDS);
			break;
		case 't':
			target_ms = parse_arg(optarg, 10, 60000);
			break;
		default:
			fputs("usage: gnt_bench [-r ROUNDS] [-t TARGET_MS]\n", stderr);
			return 2;
		}
	}
	if (uname(&u))
		bench_die(errno, "uname");
	/* With the Xen node names, for libxengnttab. */
	ret = bench_mod_unload(GNT_MODULE, 5000);
	if (!ret)
		ret = vext_mod_load(GNT_MODULE, "xen_names=1");
	if (ret)
		bench_die(-ret, "loading %s", GNT_MODULE);
	dev = vext_dev_open();
	if (dev < 0)
		bench_die(-dev, "opening %s", VEXT_DEV_PATH);
	vm = vext_create_vm(dev);
	if (vm < 0)
		bench_die(-vm, "VEXT_CREATE_VM");
	domid = vext_get_domid(vm);
	guest_start(domid);
	xgt = xengnttab_open(NULL, 0);
	if (!xgt)
		bench_die(errno, "xengnttab_open");
	for (k = 0; k < NPAGES; k++) {
		xen_domids[k] = guest_domid;
		xen_refs[k] = XEN_REF0 + k;
	}
	memfd = memfd_create("gnt_bench", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, NPAGES * PAGE))
		bench_die(errno, "memfd");
	memfd_map(NPAGES);	/* allocate its pages once */
	buf = mmap(NULL, (NPAGES + 1) * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		bench_die(errno, "buffers");
	src = buf[NPAGES];
	memset(src, 0xa5, PAGE);

	for (k = 0; k < NR_CONFIGS; k++) {
		iters[k] = calibrate(k, target_ms);
		bench_note("calibration: %-8s %ld iterations", names[k], iters[k]);
	}
	for (r = 0; r < rounds; r++) {
		for (k = 0; k < NR_CONFIGS; k++) {
			int c = (r + k) % NR_CONFIGS;

			res[c][r] = measure(c, iters[c]);
			bench_note("round %d/%d: %-8s %10.1f ns per page", r + 1,
				   rounds, names[c], res[c][r]);
		}
	}
	for (k = 0; k < NR_CONFIGS; k++) {
		med[k] = bench_median(res[k], rounds);
		mad[k] = bench_mad_pct(res[k], rounds);
	}
	rmap1 = med[GRANT_1] / med[MEMFD_1];
	rmap64 = med[GRANT_64] / med[MEMFD_64];
	/* Throughput ratio: time of pvr over time of a copy. */
	rcopy = med[PVR] / med[COPY];
	/* The gntdev ABI over the VM-fd path: time ratios, paired. */
	xen_ok = true;
	for (k = 0; k < 4; k++) {
		rxm[k] = med[xa[k]] / med[xb[k]];
		rx[k] = paired_ratio(xa[k], xb[k], iters[xa[k]], iters[xb[k]],
				     pr[k]);
		bench_note("paired: %-12s / %-8s %.3f", names[xa[k]],
			   names[xb[k]], rx[k]);
		xen_ok &= rx[k] <= TARGET_XEN_RATIO;
	}

	xengnttab_close(xgt);
	close(vm);
	close(dev);
	kill(guest_pid, SIGKILL);
	waitpid(guest_pid, NULL, 0);
	ret = bench_mod_unload(GNT_MODULE, 5000);
	if (ret)
		bench_die(-ret, "unloading %s", GNT_MODULE);
	bench_note("done in %.1f s", (bench_now_ns() - t0) / 1e9);

	printf("{\n");
	printf("  \"kernel\": \"%s\",\n", u.release);
	printf("  \"cpus\": %d,\n", vext_nr_cpus());
	printf("  \"rounds\": %d,\n", rounds);
	printf("  \"map\": {\n");
	printf("    \"unit\": \"ns/page\",\n");
	printf("    \"what\": \"%s\",\n",
	       "map+mmap+read+munmap+unmap vs mmap+read+munmap of a shared memfd");
	for (k = GRANT_1; k <= GRANT_64_DEFER; k++)
		printf("    \"%s\": %.1f,\n", names[k], med[k]);
	printf("    \"grant_1_ops_per_s\": %.0f,\n", 1e9 / med[GRANT_1]);
	printf("    \"grant_64_pages_per_s\": %.0f,\n", 1e9 / med[GRANT_64]);
	printf("    \"ratio_1\": %.3f,\n", rmap1);
	printf("    \"ratio_64\": %.3f,\n", rmap64);
	printf("    \"target_ratio_64\": %.1f,\n", TARGET_MAP_RATIO);
	printf("    \"target_met\": %s,\n", rmap64 <= TARGET_MAP_RATIO ? "true" : "false");
	printf("    \"mad_pct\": {");
	for (k = GRANT_1; k <= GRANT_64_DEFER; k++)
		printf("%s\"%s\": %.2f", k ? ", " : "", names[k], mad[k]);
	printf("},\n");
	printf("    \"runs\": {\n");
	for (k = GRANT_1; k <= GRANT_64_DEFER; k++)
		print_runs(names[k], res[k], rounds, k == GRANT_64_DEFER ? "" : ",");
	printf("    }\n");
	printf("  },\n");
	printf("  \"copy_4k\": {\n");
	printf("    \"unit\": \"MB/s\",\n");
	for (k = COPY; k <= MEMCPY; k++)
		printf("    \"%s\": %.1f,\n", names[k], mbps(med[k]));
	printf("    \"ratio_copy_over_pvr\": %.3f,\n", rcopy);
	printf("    \"ratio_copy_b64_over_pvr\": %.3f,\n", med[PVR] / med[COPY_B64]);
	printf("    \"ratio_copy_over_memcpy\": %.3f,\n", med[MEMCPY] / med[COPY]);
	printf("    \"target_ratio\": %.1f,\n", TARGET_COPY_RATIO);
	printf("    \"target_met\": %s,\n", rcopy >= TARGET_COPY_RATIO ? "true" : "false");
	printf("    \"mad_pct\": {");
	for (k = COPY; k <= MEMCPY; k++)
		printf("%s\"%s\": %.2f", k > COPY ? ", " : "", names[k], mad[k]);
	printf("},\n");
	printf("    \"runs_ns_per_4k\": {\n");
	for (k = COPY; k <= MEMCPY; k++)
		print_runs(names[k], res[k], rounds, k == MEMCPY ? "" : ",");
	printf("    }\n");
	printf("  },\n");
	printf("  \"gntdev_abi\": {\n");
	printf("    \"what\": \"%s\",\n",
	       "libxengnttab on /dev/xen/gntdev as domain 0 vs the VM-fd path (grant_1, grant_64, copy, copy_b64)");
	printf("    \"unit\": \"ns/page (map), MB/s (copy)\",\n");
	printf("    \"xen_1\": %.1f,\n", med[XEN_1]);
	printf("    \"xen_64\": %.1f,\n", med[XEN_64]);
	printf("    \"xen_copy\": %.1f,\n", mbps(med[XEN_COPY]));
	printf("    \"xen_copy_b64\": %.1f,\n", mbps(med[XEN_COPY_B64]));
	printf("    \"ratio_map_1\": %.3f,\n", rx[0]);
	printf("    \"ratio_map_64\": %.3f,\n", rx[1]);
	printf("    \"ratio_copy\": %.3f,\n", rx[2]);
	printf("    \"ratio_copy_b64\": %.3f,\n", rx[3]);
	printf("    \"ratio_of_round_medians\": {");
	for (k = 0; k < 4; k++)
		printf("%s\"%s\": %.3f", k ? ", " : "", names[xa[k]], rxm[k]);
	printf("},\n");
	printf("    \"pairs\": %d,\n", PAIRS);
	printf("    \"pair_ratios\": {\n");
	for (k = 0; k < 4; k++) {
		printf("      \"%s\": [", names[xa[k]]);
		for (r = 0; r < PAIRS; r++)
			printf("%s%.3f", r ? ", " : "", pr[k][r]);
		printf("]%s\n", k == 3 ? "" : ",");
	}
	printf("    },\n");
	printf("    \"target_ratio\": %.1f,\n", TARGET_XEN_RATIO);
	printf("    \"target_met\": %s,\n", xen_ok ? "true" : "false");
	printf("    \"mad_pct\": {");
	for (k = XEN_1; k < NR_CONFIGS; k++)
		printf("%s\"%s\": %.2f", k > XEN_1 ? ", " : "", names[k], mad[k]);
	printf("},\n");
	printf("    \"runs_ns_per_page\": {\n");
	for (k = XEN_1; k < NR_CONFIGS; k++)
		print_runs(names[k], res[k], rounds, k == NR_CONFIGS - 1 ? "" : ",");
	printf("    }\n");
	printf("  }\n");
	printf("}\n");
	return 0;
}
