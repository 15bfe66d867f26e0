// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers of the vext benchmarks; see bench_util.h.
 *
 * Modules are loaded and removed through libkmod, as modprobe and rmmod
 * do, with a fresh context per call so nothing cached outlives a load or
 * a removal. libkmod's own messages are silenced: failures are reported
 * by the callers with their errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libkmod.h>

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

static void bench_kmod_quiet(void *data, int priority, const char *file,
			     int line, const char *fn, const char *format,
			     va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	(void)format;
	(void)args;
}

static struct kmod_ctx *bench_kmod_new(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);

	if (ctx)
		kmod_set_log_fn(ctx, bench_kmod_quiet, NULL);
	return ctx;
}

int bench_mod_load(const char *name)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_ctx *ctx;
	int ret;

	ctx = bench_kmod_new();
	if (!ctx)
		return -ENOMEM;
	ret = kmod_module_new_from_lookup(ctx, name, &list);
	if (!ret && !list)
		ret = -ENOENT;
	if (!ret) {
		kmod_list_foreach(l, list) {
			struct kmod_module *mod = kmod_module_get_module(l);

			ret = kmod_module_probe_insert_module(mod, 0, NULL, NULL,
							      NULL, NULL);
			kmod_module_unref(mod);
			if (ret)
				break;
		}
		kmod_module_unref_list(list);
	}
	kmod_unref(ctx);
	/* Positive values only come with blacklist flags we do not pass. */
	return ret > 0 ? -EINVAL : ret;
}

static int bench_mod_remove(const char *name)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	int ret;

	ctx = bench_kmod_new();
	if (!ctx)
		return -ENOMEM;
	ret = kmod_module_new_from_name(ctx, name, &mod);
	if (!ret) {
		ret = kmod_module_remove_module(mod, 0);
		kmod_module_unref(mod);
	}
	kmod_unref(ctx);
	return ret;
}

int bench_mod_unload(const char *name, unsigned int timeout_ms)
{
	__u64 deadline = bench_now_ns() + timeout_ms * 1000000ULL;
	int ret;

	for (;;) {
		ret = bench_mod_remove(name);
		if (!ret || ret == -ENOENT)
			return 0;
		/* EWOULDBLOCK: still referenced; EBUSY: still going away. */
		if (ret != -EWOULDBLOCK && ret != -EBUSY)
			return ret;
		if (bench_now_ns() > deadline)
			return ret;
		bench_sleep_ms(20);
	}
}

int bench_param_write(const char *module, const char *param, const char *val)
{
	char path[PATH_MAX];
	size_t len = strlen(val);
	ssize_t n;
	int fd, ret;

	ret = snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s",
		       module, param);
	if (ret < 0 || (size_t)ret >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	ret = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int bench_dev_open(void)
{
	int i, fd = -1;

	for (i = 0; i < 100; i++) {
		fd = open(BENCH_DEV_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		bench_sleep_ms(20);
	}
	return fd < 0 ? -errno : fd;
}

int bench_debugfs_mount(void)
{
	struct stat st;

	if (!stat(BENCH_DEBUGFS_DIR, &st))
		return 0;
	/* EBUSY: mounted meanwhile (or vext_core has no directory). */
	if (mount("debugfs", BENCH_DEBUGFS_MNT, "debugfs", 0, NULL) &&
	    errno != EBUSY)
		return -errno;
	return stat(BENCH_DEBUGFS_DIR, &st) ? -errno : 0;
}

int bench_debugfs_read(const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	size_t got = 0;
	int fd, ret = 0;

	if (!len)
		return -EINVAL;
	ret = snprintf(path, sizeof(path), "%s/%s", BENCH_DEBUGFS_DIR, file);
	if (ret < 0 || (size_t)ret >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = 0;
	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!n)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return ret ? ret : (int)got;
}

int bench_debugfs_long(const char *file, long *val)
{
	char buf[64], *end;
	int ret = bench_debugfs_read(file, buf, sizeof(buf));

	if (ret < 0)
		return ret;
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EPROTO;
	return 0;
}

int bench_debugfs_wait_long(const char *file, long want,
			    unsigned int timeout_ms)
{
	__u64 deadline = bench_now_ns() + timeout_ms * 1000000ULL;
	long val;
	int ret;

	for (;;) {
		ret = bench_debugfs_long(file, &val);
		if (!ret && val == want)
			return 0;
		if (ret && ret != -EPROTO)
			return ret;
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
		bench_sleep_ms(10);
	}
}

int bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int bench_nr_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (int)n;
}

__u64 bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void bench_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
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
