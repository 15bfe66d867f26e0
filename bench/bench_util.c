// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers of the vext benchmarks; see bench_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

noreturn void bench_die(int err, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "# %s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err));
	exit(1);
}

void bench_note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# %s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int bench_mod_unload(const char *name, unsigned int timeout_ms)
{
	__u64 deadline = bench_now_ns() + timeout_ms * 1000000ULL;
	int ret;

	for (;;) {
		ret = vext_mod_remove(name);
		if (!ret || ret == -ENOENT)
			return 0;
		/* EWOULDBLOCK: still referenced; EBUSY: still going away. */
		if (ret != -EWOULDBLOCK && ret != -EBUSY)
			return ret;
		if (bench_now_ns() > deadline)
			return ret;
		vext_sleep_ms(20);
	}
}

__u64 bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(const double *v, int n)
{
	double *s, m;

	if (n < 1)
		return 0;
	s = malloc(n * sizeof(*s));
	if (!s)
		bench_die(ENOMEM, "median");
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), bench_cmp_double);
	m = n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

double bench_mad_pct(const double *v, int n)
{
	double med = bench_median(v, n), *d, mad;
	int i;

	if (n < 1 || med == 0)
		return 0;
	d = malloc(n * sizeof(*d));
	if (!d)
		bench_die(ENOMEM, "median");
	for (i = 0; i < n; i++)
		d[i] = v[i] > med ? v[i] - med : med - v[i];
	mad = bench_median(d, n);
	free(d);
	return 100 * mad / med;
}
