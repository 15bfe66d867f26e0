// SPDX-License-Identifier: GPL-2.0-only
/*
 * pn_bench - what vext_pn costs a context switch, and per-CPU counters
 * against a shared atomic. Runs inside the test VM (make bench) and prints
 * one JSON object.
 *
 * Context switches: a pipe ping-pong between two threads pinned to CPU 0
 * (the shape of `perf bench sched pipe`), in three configurations measured
 * side by side, interleaved over ROUNDS rounds, median reported:
 *   unloaded     vext_pn, vext_percpu and vext_core not loaded
 *   key_off      modules loaded, no vCPU loaded, vext's key off
 *   both_loaded  each thread has its own vCPU loaded (VEXT_VCPU_LOAD)
 *
 * Counters: vext_percpu's debugfs bench_counters runs N this_cpu_inc and N
 * atomic64_inc on one shared counter on every CPU at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "vext_test.h"

#define ROUNDS		5
#define ROUND_TRIPS	20000
#define COUNTER_OPS	1000000

enum { UNLOADED, KEY_OFF, BOTH_LOADED, NR_CONFIGS };
static const char * const config_names[NR_CONFIGS] = {
	"unloaded", "key_off", "both_loaded"
};

struct pinger {
	int rfd, wfd;		/* pipe ends this thread reads and writes */
	int vcpu;		/* vCPU fd to load, or -1 */
	int first;		/* starts the exchange */
	int err;
	double ns;		/* elapsed, measured by the first thread */
};

static void die(const char *what, int err)
{
	fprintf(stderr, "pn_bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *pinger_main(void *arg)
{
	struct pinger *p = arg;
	double start;
	char c = 0;
	int i;

	if (vext_pin_cpu(0)) {
		p->err = errno;
		return NULL;
	}
	if (p->vcpu >= 0 && ioctl(p->vcpu, VEXT_VCPU_LOAD, 0)) {
		p->err = errno;
		return NULL;
	}
	start = now_ns();
	for (i = 0; i < ROUND_TRIPS; i++) {
		if (p->first && write(p->wfd, &c, 1) != 1)
			p->err = errno;
		if (read(p->rfd, &c, 1) != 1)
			p->err = errno;
		if (!p->first && write(p->wfd, &c, 1) != 1)
			p->err = errno;
		if (p->err)
			break;
	}
	p->ns = now_ns() - start;
	if (p->vcpu >= 0 && ioctl(p->vcpu, VEXT_VCPU_PUT, 0))
		p->err = errno;
	return NULL;
}

/* ns per context switch of one ping-pong run; vCPU fds or -1. */
static double pingpong(int vcpu_a, int vcpu_b)
{
	struct pinger a = { .vcpu = vcpu_a, .first = 1 };
	struct pinger b = { .vcpu = vcpu_b };
	int p1[2], p2[2];
	pthread_t ta, tb;

	if (pipe(p1) || pipe(p2))
		die("pipe", errno);
	a.wfd = p1[1];
	b.rfd = p1[0];
	b.wfd = p2[1];
	a.rfd = p2[0];
	if (pthread_create(&ta, NULL, pinger_main, &a) ||
	    pthread_create(&tb, NULL, pinger_main, &b))
		die("pthread_create", EAGAIN);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	if (a.err || b.err)
		die("ping-pong", a.err ? a.err : b.err);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	return a.ns / (2.0 * ROUND_TRIPS);
}

static void unload_all(void)
{
	static const char * const mods[] = { "vext_pn", "vext_percpu", "vext_core" };
	unsigned int i;
	int ret;

	for (i = 0; i < 3; i++) {
		ret = vext_mod_unload(mods[i]);
		if (ret)
			die(mods[i], -ret);
	}
}

static void load_pn_key_off(void)
{
	int ret = vext_mod_load("vext_pn", NULL);

	if (ret)
		die("loading vext_pn", -ret);
	ret = vext_debugfs_mount();
	if (ret)
		die("debugfs", -ret);
	ret = vext_param_write("vext_pn", "key_off_delay_ms", "0");
	if (ret)
		die("key_off_delay_ms", -ret);
	ret = vext_debugfs_wait_long("pn_key", 0, 10000, NULL);
	if (ret)
		die("waiting for pn_key 0", -ret);
}

static double measure(int config)
{
	int dev, vm, v0, v1;
	double ns;

	switch (config) {
	case UNLOADED:
		unload_all();
		return pingpong(-1, -1);
	case KEY_OFF:
		load_pn_key_off();
		return pingpong(-1, -1);
	}
	load_pn_key_off();
	dev = vext_dev_open();
	if (dev < 0)
		die("open /dev/vext", -dev);
	vm = vext_create_vm(dev);
	v0 = vm < 0 ? vm : vext_create_vcpu(vm, 0);
	v1 = v0 < 0 ? v0 : vext_create_vcpu(vm, 1);
	if (v1 < 0)
		die("creating the VM", -v1);
	ns = pingpong(v0, v1);
	close(v1);
	close(v0);
	close(vm);
	close(dev);
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One bench_counters run: mean ns per op, per-CPU and atomic. */
static void counters(double *pcpu, double *atomic)
{
	char buf[256];
	int fd, ret;

	fd = open("/sys/kernel/debug/vext/bench_counters", O_WRONLY);
	if (fd < 0)
		die("bench_counters", errno);
	ret = dprintf(fd, "%d", COUNTER_OPS);
	close(fd);
	if (ret < 0)
		die("running bench_counters", errno);
	ret = vext_debugfs_read("bench_counters", buf, sizeof(buf));
	if (ret < 0)
		die("reading bench_counters", -ret);
	if (sscanf(buf, "cpus %*u ops %*u percpu_ns %lf atomic_ns %lf",
		   pcpu, atomic) != 2)
		die("parsing bench_counters", EPROTO);
}

int main(void)
{
	double cs[NR_CONFIGS][ROUNDS], med[NR_CONFIGS];
	double pc[ROUNDS], at[ROUNDS], pcm, atm;
	struct utsname u;
	int r, c;

	for (r = 0; r < ROUNDS; r++)
		for (c = 0; c < NR_CONFIGS; c++)
			cs[c][r] = measure(c);
	for (c = 0; c < NR_CONFIGS; c++)
		med[c] = median(cs[c], ROUNDS);

	load_pn_key_off();
	for (r = 0; r < ROUNDS; r++)
		counters(&pc[r], &at[r]);
	pcm = median(pc, ROUNDS);
	atm = median(at, ROUNDS);
	unload_all();

	uname(&u);
	printf("{\n  \"kernel\": \"%s\",\n  \"cpus\": %d,\n", u.release, vext_nr_cpus());
	printf("  \"context_switch\": {\n    \"unit\": \"ns/switch\",\n");
	printf("    \"rounds\": %d,\n    \"round_trips\": %d,\n", ROUNDS, ROUND_TRIPS);
	for (c = 0; c < NR_CONFIGS; c++) {
		printf("    \"%s\": %.1f,\n", config_names[c], med[c]);
		printf("    \"%s_runs\": [", config_names[c]);
		for (r = 0; r < ROUNDS; r++)
			printf("%s%.1f", r ? ", " : "", cs[c][r]);
		printf("],\n");
	}
	printf("    \"ratio_key_off\": %.3f,\n", med[KEY_OFF] / med[UNLOADED]);
	printf("    \"ratio_both_loaded\": %.3f,\n", med[BOTH_LOADED] / med[UNLOADED]);
	printf("    \"target_met\": %s\n  },\n",
	       med[KEY_OFF] / med[UNLOADED] <= 1.01 &&
	       med[BOTH_LOADED] / med[UNLOADED] <= 1.05 ? "true" : "false");
	printf("  \"percpu_counter\": {\n    \"unit\": \"ns/op\",\n");
	printf("    \"ops_per_cpu\": %d,\n", COUNTER_OPS);
	printf("    \"percpu\": %.3f,\n    \"atomic\": %.3f,\n", pcm, atm);
	printf("    \"ratio_atomic_over_percpu\": %.2f\n  }\n}\n", atm / pcm);
	return 0;
}
