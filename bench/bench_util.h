/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers of the vext benchmarks (bench/<name>_bench.c) beyond what they
 * share with the selftests (selftests/lib/vext_test.h: modules through
 * libkmod, module parameters, debugfs, CPUs): messages, an unload that
 * waits out deferred references, time and medians. The benchmarks print
 * their one JSON object on stdout; everything else (progress, errors)
 * goes to stderr as "# " lines, which the runner skips when it collects
 * the JSON (scripts/bench-results.sh).
 *
 * Helpers return 0 (or a value) or a negative errno, except bench_die().
 */
#ifndef _VEXT_BENCH_UTIL_H
#define _VEXT_BENCH_UTIL_H

#include <stddef.h>
#include <stdnoreturn.h>
#include <linux/types.h>
#include "vext_test.h"

/* "# <program>: <message>: <strerror(err)>" on stderr, then exit(1). */
noreturn void bench_die(int err, const char *fmt, ...);

/* "# <program>: <message>" on stderr (progress). */
void bench_note(const char *fmt, ...);

/*
 * Make sure @name is not loaded: remove it (never forced), retrying for up
 * to @timeout_ms while it is still in use (a reference dropped by deferred
 * work after the last fd was closed). 0 once it is gone.
 */
int bench_mod_unload(const char *name, unsigned int timeout_ms);

/* CLOCK_MONOTONIC in nanoseconds. */
__u64 bench_now_ns(void);

/* Median of @n values (@v is left untouched). */
double bench_median(const double *v, int n);

/* Median absolute deviation of @v over its median, in percent. */
double bench_mad_pct(const double *v, int n);

#endif /* _VEXT_BENCH_UTIL_H */
