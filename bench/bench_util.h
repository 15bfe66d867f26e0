/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers of the vext benchmarks (bench/<name>_bench.c): modules through
 * libkmod, module parameters, debugfs, CPUs and time, medians.
 *
 * A small private copy of what selftests/lib does, so that the benchmarks
 * build and behave the same whatever the selftests' helpers become. The
 * benchmarks print their one JSON object on stdout; everything else
 * (progress, errors) goes to stderr as "# " lines, which the runner skips
 * when it collects the JSON (scripts/bench-results.sh).
 *
 * Helpers return 0 (or a value) or a negative errno, except bench_die().
 */
#ifndef _VEXT_BENCH_UTIL_H
#define _VEXT_BENCH_UTIL_H

#include <stddef.h>
#include <stdnoreturn.h>
#include <linux/types.h>

#define BENCH_DEV_PATH		"/dev/vext"
#define BENCH_DEBUGFS_MNT	"/sys/kernel/debug"
#define BENCH_DEBUGFS_DIR	BENCH_DEBUGFS_MNT "/vext"

/* "# <program>: <message>: <strerror(err)>" on stderr, then exit(1). */
noreturn void bench_die(int err, const char *fmt, ...);

/* "# <program>: <message>" on stderr (progress). */
void bench_note(const char *fmt, ...);

/* modprobe @name (and its dependencies); loaded already is fine. */
int bench_mod_load(const char *name);

/*
 * Make sure @name is not loaded: remove it (never forced), retrying for up
 * to @timeout_ms while it is still in use (a reference dropped by deferred
 * work after the last fd was closed). 0 once it is gone.
 */
int bench_mod_unload(const char *name, unsigned int timeout_ms);

/* Write @val to /sys/module/@module/parameters/@param. */
int bench_param_write(const char *module, const char *param, const char *val);

/* Open /dev/vext read-write, waiting up to 2 s for the node to appear. */
int bench_dev_open(void);

/* Mount debugfs unless BENCH_DEBUGFS_DIR is visible already. */
int bench_debugfs_mount(void);

/* Read BENCH_DEBUGFS_DIR/@file into @buf (NUL-terminated): bytes read. */
int bench_debugfs_read(const char *file, char *buf, size_t len);

/* Read a file of BENCH_DEBUGFS_DIR holding one decimal number. */
int bench_debugfs_long(const char *file, long *val);

/* Poll bench_debugfs_long(@file) every 10 ms until it reads @want. */
int bench_debugfs_wait_long(const char *file, long want,
			    unsigned int timeout_ms);

/* Pin the calling thread to @cpu. */
int bench_pin_cpu(int cpu);

/* Online CPUs (at least 1). */
int bench_nr_cpus(void);

/* CLOCK_MONOTONIC in nanoseconds. */
__u64 bench_now_ns(void);

/* Sleep @ms milliseconds. */
void bench_sleep_ms(unsigned int ms);

/* Median of @n values (@v is left untouched). */
double bench_median(const double *v, int n);

/* Median absolute deviation of @v over its median, in percent. */
double bench_mad_pct(const double *v, int n);

#endif /* _VEXT_BENCH_UTIL_H */
