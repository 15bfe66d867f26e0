// SPDX-License-Identifier: GPL-2.0-only
/*
 * pn_bench - what vext_pn costs a context switch, and per-CPU counters
 * against a shared atomic. Runs inside the test VM (make bench) as root and
 * prints one JSON object on stdout; progress and errors go to stderr as
 * "# " lines. Exit status 0 only if every measurement was made.
 *
 *   pn_bench [-r ROUNDS] [-n ROUND_TRIPS] [-t TARGET_MS] [-c RUNS] [-o OPS]
 *
 * 1. Context switches: a pipe ping-pong between two threads pinned to CPU 0
 *    (the shape of `perf bench sched pipe`): A writes one byte to pipe 1 and
 *    reads pipe 2, B the reverse, so ROUND_TRIPS round trips are twice as
 *    many context switches. Three configurations, measured side by side in
 *    the same boot:
 *      unloaded     vext_pn, vext_percpu and vext_core not loaded
 *      key_off      vext_pn loaded (with its dependencies), no vCPU loaded,
 *                   debugfs pn_key reading 0 (key_off_delay_ms set to 0)
 *      both_loaded  one VM with two vCPUs, created after the modules were
 *                   loaded; each thread VEXT_VCPU_LOADs its own vCPU
 *                   before its loop and VEXT_VCPU_PUTs it after
 *    ROUNDS rounds (default 9), each measuring every configuration once;
 *    the order rotates from round to round so that no configuration always
 *    comes first (right after a module load, say). The median of each one
 *    is reported, with the ratios of the medians to "unloaded": the ones
 *    the targets apply to (they are reported, never enforced).
 *    Every measurement starts with untimed warm-up round trips (TCG
 *    translates the code paths of the new configuration then). Without
 *    -n, ROUND_TRIPS is calibrated once so that one measurement takes
 *    about TARGET_MS (default 350 ms). mad_pct (median absolute deviation
 *    over the median) tells how far apart the rounds were: under TCG guest
 *    time is host time, so a busy host slows the guest down for seconds
 *    at a time, and a ratio is only worth the spread of its rounds.
 *    both_loaded also checks, in the vCPUs' shared pages, that vext's
 *    notifier saw at least one switch-out per round trip.
 * 2. Counters: vext_percpu's debugfs bench_counters runs, on every online
 *    CPU at once, OPS this_cpu_inc() on a per-CPU counter and then OPS
 *    atomic64_inc() on one shared counter; RUNS runs, medians reported.
 *    Under single-threaded TCG the emulated CPUs take turns: no cache line
 *    is ever contended, and a CPU's timed loop also counts the time the
 *    other CPU was run in between, whichever loop that falls in.
 *
 * Only ratios of measurements from the same boot mean anything: under TCG
 * absolute times depend on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/vext.h>

#include "bench_util.h"

#define MAX_ROUNDS		51
#define DEF_ROUNDS		9
#define DEF_TARGET_MS		350
#define CAL_ROUND_TRIPS		1000	/* the calibration run */
#define MIN_ROUND_TRIPS		500
#define MAX_ROUND_TRIPS		2000000
#define MIN_WARMUP		200	/* warm-up: a tenth, at least this */
#define DEF_COUNTER_RUNS	5
#define DEF_COUNTER_OPS		1000000	/* bench_counters' maximum */
#define PING_CPU		0

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define UNLOAD_TIMEOUT_MS	5000
#define KEY_OFF_TIMEOUT_MS	10000

/* What the issue asks of the ratios to "unloaded". */
#define TARGET_KEY_OFF		1.01
#define TARGET_BOTH_LOADED	1.05

enum config { UNLOADED, KEY_OFF, BOTH_LOADED, NR_CONFIGS };
static const char * const config_names[NR_CONFIGS] = {
	[UNLOADED]	= "unloaded",
	[KEY_OFF]	= "key_off",
	[BOTH_LOADED]	= "both_loaded",
};

/* Unloaded in this order: each one uses the symbols of the next. */
static const char * const suite_modules[] = {
	"vext_pn", "vext_percpu", "vext_core"
};

/* One of the two ping-pong threads. */
struct pinger {
	int rfd, wfd;		/* the pipe ends it reads and writes */
	int vcpu;		/* the vCPU fd it loads, or -1 */
	int first;		/* A: writes first and does the timing */
	long warmup;		/* untimed round trips first */
	long round_trips;	/* then the timed ones */
	pthread_barrier_t *start;
	__u64 ns;		/* A: time of the timed round trips */
};

static void barrier_wait(pthread_barrier_t *b)
{
	int ret = pthread_barrier_wait(b);

	if (ret && ret != PTHREAD_BARRIER_SERIAL_THREAD)
		bench_die(ret, "pthread_barrier_wait");
}

static void *pinger_main(void *arg)
{
	struct pinger *p = arg;
	__u64 start = 0;
	long i, n = p->warmup + p->round_trips;
	ssize_t got;
	char c = 0;
	int ret;

	ret = vext_pin_cpu(PING_CPU);
	if (ret)
		bench_die(-ret, "pinning a ping-pong thread to CPU %d", PING_CPU);
	if (p->vcpu >= 0 && ioctl(p->vcpu, VEXT_VCPU_LOAD, 0))
		bench_die(errno, "VEXT_VCPU_LOAD");
	/* Both threads are on CPU 0 (and loaded) before A starts. */
	barrier_wait(p->start);
	for (i = 0; i < n; i++) {
		if (p->first) {
			if (i == p->warmup)
				start = bench_now_ns();
			if (write(p->wfd, &c, 1) != 1)
				bench_die(errno, "ping-pong write");
		}
		got = read(p->rfd, &c, 1);
		if (got != 1)
			bench_die(got < 0 ? errno : EPIPE, "ping-pong read");
		if (!p->first && write(p->wfd, &c, 1) != 1)
			bench_die(errno, "ping-pong write");
	}
	if (p->first)
		p->ns = bench_now_ns() - start;
	if (p->vcpu >= 0 && ioctl(p->vcpu, VEXT_VCPU_PUT, 0))
		bench_die(errno, "VEXT_VCPU_PUT");
	return NULL;
}

/*
 * One ping-pong run: ns per context switch of its timed part. @vcpu_a and
 * @vcpu_b are the vCPU fds the threads load, or -1.
 */
static double pingpong(int vcpu_a, int vcpu_b, long warmup, long round_trips)
{
	struct pinger a = { .vcpu = vcpu_a, .first = 1 };
	struct pinger b = { .vcpu = vcpu_b };
	pthread_barrier_t start;
	pthread_t ta, tb;
	int p1[2], p2[2], ret;

	if (pipe2(p1, O_CLOEXEC) || pipe2(p2, O_CLOEXEC))
		bench_die(errno, "pipe2");
	a.wfd = p1[1];
	b.rfd = p1[0];
	b.wfd = p2[1];
	a.rfd = p2[0];
	a.warmup = warmup;
	b.warmup = warmup;
	a.round_trips = round_trips;
	b.round_trips = round_trips;
	a.start = &start;
	b.start = &start;
	ret = pthread_barrier_init(&start, NULL, 2);
	if (ret)
		bench_die(ret, "pthread_barrier_init");
	ret = pthread_create(&ta, NULL, pinger_main, &a);
	if (!ret)
		ret = pthread_create(&tb, NULL, pinger_main, &b);
	if (ret)
		bench_die(ret, "pthread_create");
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	return a.ns / (2.0 * round_trips);
}

static void unload_suite(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(suite_modules); i++) {
		ret = bench_mod_unload(suite_modules[i], UNLOAD_TIMEOUT_MS);
		if (ret)
			bench_die(-ret, "unloading %s", suite_modules[i]);
	}
}

/* vext_pn loaded, no thread bound, the static keys off. */
static void load_key_off(void)
{
	long users;
	int ret;

	ret = vext_mod_load("vext_pn", NULL);
	if (ret)
		bench_die(-ret, "loading vext_pn");
	ret = vext_debugfs_mount();
	if (ret)
		bench_die(-ret, "debugfs %s", VEXT_DEBUGFS_DIR);
	ret = vext_param_write("vext_pn", "key_off_delay_ms", "0");
	if (ret)
		bench_die(-ret, "setting vext_pn key_off_delay_ms to 0");
	ret = vext_debugfs_wait_long("pn_key", 0, KEY_OFF_TIMEOUT_MS, NULL);
	if (ret)
		bench_die(-ret, "waiting for debugfs pn_key to read 0");
	ret = vext_debugfs_long("pn_users", &users);
	if (ret)
		bench_die(-ret, "reading debugfs pn_users");
	if (users)
		bench_die(EBUSY, "%ld thread(s) still bound", users);
}

/* Switch-outs vext's notifier counted in a vCPU's shared page. */
static __u64 switch_outs(const struct vext_vcpu_shared *s)
{
	return __atomic_load_n(&s->preempted, __ATOMIC_RELAXED) +
	       __atomic_load_n(&s->blocked, __ATOMIC_RELAXED);
}

static double measure_both_loaded(long warmup, long round_trips)
{
	struct vext_vcpu_shared *sh[2];
	int dev, vm, vcpu[2], i;
	double ns;

	load_key_off();
	dev = vext_dev_open();
	if (dev < 0)
		bench_die(-dev, "opening %s", VEXT_DEV_PATH);
	vm = ioctl(dev, VEXT_CREATE_VM, 0);
	if (vm < 0)
		bench_die(errno, "VEXT_CREATE_VM");
	for (i = 0; i < 2; i++) {
		vcpu[i] = ioctl(vm, VEXT_CREATE_VCPU, i);
		if (vcpu[i] < 0)
			bench_die(errno, "VEXT_CREATE_VCPU %d", i);
		sh[i] = mmap(NULL, sizeof(*sh[i]), PROT_READ, MAP_SHARED,
			     vcpu[i], VEXT_VCPU_SHARED_OFFSET);
		if (sh[i] == MAP_FAILED)
			bench_die(errno, "mapping vCPU %d's shared page", i);
	}
	ns = pingpong(vcpu[0], vcpu[1], warmup, round_trips);
	/* Proof that this configuration ran vext's notifier on each switch. */
	for (i = 0; i < 2; i++) {
		if (__atomic_load_n(&sh[i]->loaded, __ATOMIC_RELAXED))
			bench_die(EBUSY, "vCPU %d still loaded after PUT", i);
		if (switch_outs(sh[i]) < (__u64)round_trips)
			bench_die(EPROTO, "vCPU %d: %llu switch-outs counted for %ld round trips",
				  i, (unsigned long long)switch_outs(sh[i]),
				  warmup + round_trips);
		munmap(sh[i], sizeof(*sh[i]));
		close(vcpu[i]);
	}
	close(vm);
	close(dev);
	return ns;
}

static double measure(enum config config, long warmup, long round_trips)
{
	switch (config) {
	case UNLOADED:
		unload_suite();
		return pingpong(-1, -1, warmup, round_trips);
	case KEY_OFF:
		load_key_off();
		return pingpong(-1, -1, warmup, round_trips);
	default:
		return measure_both_loaded(warmup, round_trips);
	}
}

static long warmup_of(long round_trips)
{
	return round_trips / 10 > MIN_WARMUP ? round_trips / 10 : MIN_WARMUP;
}

/* Round trips for one measurement of about @target_ms (2 digits). */
static long calibrate(unsigned int target_ms)
{
	double ns = measure(UNLOADED, warmup_of(CAL_ROUND_TRIPS), CAL_ROUND_TRIPS);
	double want = target_ms * 1e6 / (2 * ns);
	long scale = 1, rt;

	while (want / scale >= 100)
		scale *= 10;
	rt = (long)(want / scale + 0.5) * scale;
	if (rt < MIN_ROUND_TRIPS)
		rt = MIN_ROUND_TRIPS;
	if (rt > MAX_ROUND_TRIPS)
		rt = MAX_ROUND_TRIPS;
	bench_note("calibration: %.1f ns/switch -> %ld round trips per measurement",
		   ns, rt);
	return rt;
}

/* One bench_counters run: mean ns per op, per-CPU and atomic. */
static void counters(long ops, int *cpus, double *pcpu, double *atomic)
{
	char path[] = VEXT_DEBUGFS_DIR "/bench_counters", buf[256];
	unsigned long got_ops;
	int fd, len, ret;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		bench_die(errno, "opening %s", path);
	len = snprintf(buf, sizeof(buf), "%ld", ops);
	ret = write(fd, buf, len);
	if (ret != len)
		bench_die(ret < 0 ? errno : EIO, "writing %ld to %s", ops, path);
	close(fd);
	ret = vext_debugfs_read("bench_counters", buf, sizeof(buf));
	if (ret < 0)
		bench_die(-ret, "reading %s", path);
	if (sscanf(buf, "cpus %d ops %lu percpu_ns %lf atomic_ns %lf",
		   cpus, &got_ops, pcpu, atomic) != 4 || got_ops != (unsigned long)ops)
		bench_die(EPROTO, "unexpected %s: '%s'", path, buf);
}

/* "<indent>"name": [v0, v1, ...]<end>" */
static void print_runs(const char *indent, const char *name, const double *v,
		       int n, const char *fmt, const char *end)
{
	int i;

	printf("%s\"%s\": [", indent, name);
	for (i = 0; i < n; i++) {
		if (i)
			fputs(", ", stdout);
		printf(fmt, v[i]);
	}
	printf("]%s\n", end);
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

static const char usage[] =
	"usage: pn_bench [-r ROUNDS] [-n ROUND_TRIPS] [-t TARGET_MS] [-c RUNS] [-o OPS]\n";

int main(int argc, char **argv)
{
	double cs[NR_CONFIGS][MAX_ROUNDS], med[NR_CONFIGS], rko, rbl;
	double pc[MAX_ROUNDS], at[MAX_ROUNDS], pcm, atm;
	int rounds = DEF_ROUNDS, runs = DEF_COUNTER_RUNS, cpus = 0;
	long rt = 0, ops = DEF_COUNTER_OPS, warmup;
	unsigned int target_ms = DEF_TARGET_MS;
	__u64 t0 = bench_now_ns();
	struct utsname u;
	int r, k, c, opt;

	while ((opt = getopt(argc, argv, "r:n:t:c:o:")) != -1) {
		switch (opt) {
		case 'r':
			rounds = parse_arg(optarg, 1, MAX_ROUNDS);
			break;
		case 'n':
			rt = parse_arg(optarg, MIN_ROUND_TRIPS, MAX_ROUND_TRIPS);
			break;
		case 't':
			target_ms = parse_arg(optarg, 10, 60000);
			break;
		case 'c':
			runs = parse_arg(optarg, 1, MAX_ROUNDS);
			break;
		case 'o':
			ops = parse_arg(optarg, 1, DEF_COUNTER_OPS);
			break;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (uname(&u))
		bench_die(errno, "uname");

	/* 1. Context switches. */
	if (!rt)
		rt = calibrate(target_ms);
	warmup = warmup_of(rt);
	for (r = 0; r < rounds; r++) {
		for (k = 0; k < NR_CONFIGS; k++) {
			c = (r + k) % NR_CONFIGS;
			cs[c][r] = measure(c, warmup, rt);
			bench_note("round %d/%d: %-11s %9.1f ns/switch",
				   r + 1, rounds, config_names[c], cs[c][r]);
		}
	}
	for (c = 0; c < NR_CONFIGS; c++)
		med[c] = bench_median(cs[c], rounds);
	rko = med[KEY_OFF] / med[UNLOADED];
	rbl = med[BOTH_LOADED] / med[UNLOADED];

	/* 2. Per-CPU counter against a shared atomic. */
	r = vext_mod_load("vext_percpu", NULL);
	if (r)
		bench_die(-r, "loading vext_percpu");
	r = vext_debugfs_mount();
	if (r)
		bench_die(-r, "debugfs %s", VEXT_DEBUGFS_DIR);
	for (r = 0; r < runs; r++) {
		counters(ops, &cpus, &pc[r], &at[r]);
		bench_note("counters %d/%d: percpu %.3f ns/op, atomic %.3f ns/op",
			   r + 1, runs, pc[r], at[r]);
	}
	pcm = bench_median(pc, runs);
	atm = bench_median(at, runs);
	unload_suite();
	bench_note("done in %.1f s", (bench_now_ns() - t0) / 1e9);

	printf("{\n");
	printf("  \"kernel\": \"%s\",\n", u.release);
	printf("  \"cpus\": %d,\n", vext_nr_cpus());
	printf("  \"context_switch\": {\n");
	printf("    \"unit\": \"ns/switch\",\n");
	for (c = 0; c < NR_CONFIGS; c++)
		printf("    \"%s\": %.1f,\n", config_names[c], med[c]);
	printf("    \"ratio_key_off\": %.4f,\n", rko);
	printf("    \"ratio_both_loaded\": %.4f,\n", rbl);
	printf("    \"target_ratio_key_off\": %.2f,\n", TARGET_KEY_OFF);
	printf("    \"target_ratio_both_loaded\": %.2f,\n", TARGET_BOTH_LOADED);
	printf("    \"target_met\": %s,\n",
	       rko <= TARGET_KEY_OFF && rbl <= TARGET_BOTH_LOADED ? "true" : "false");
	printf("    \"rounds\": %d,\n", rounds);
	printf("    \"round_trips\": %ld,\n", rt);
	printf("    \"warmup_round_trips\": %ld,\n", warmup);
	printf("    \"pinned_cpu\": %d,\n", PING_CPU);
	printf("    \"mad_pct\": {");
	for (c = 0; c < NR_CONFIGS; c++)
		printf("%s\"%s\": %.2f", c ? ", " : "", config_names[c],
		       bench_mad_pct(cs[c], rounds));
	printf("},\n");
	printf("    \"runs\": {\n");
	for (c = 0; c < NR_CONFIGS; c++)
		print_runs("      ", config_names[c], cs[c], rounds, "%.1f",
			   c < NR_CONFIGS - 1 ? "," : "");
	printf("    }\n");
	printf("  },\n");
	printf("  \"percpu_counter\": {\n");
	printf("    \"unit\": \"ns/op\",\n");
	printf("    \"percpu\": %.3f,\n", pcm);
	printf("    \"atomic\": %.3f,\n", atm);
	printf("    \"ratio_atomic_over_percpu\": %.3f,\n", atm / pcm);
	printf("    \"cpus\": %d,\n", cpus);
	printf("    \"ops_per_cpu\": %ld,\n", ops);
	printf("    \"runs\": {\n");
	print_runs("      ", "percpu", pc, runs, "%.3f", ",");
	print_runs("      ", "atomic", at, runs, "%.3f", "");
	printf("    }\n");
	printf("  }\n");
	printf("}\n");
	return fflush(stdout) ? 1 : 0;
}
