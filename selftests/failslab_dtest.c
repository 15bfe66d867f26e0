// SPDX-License-Identifier: GPL-2.0-only
/*
 * failslab_dtest - the error-path sweep, for the debug kernel row.
 *
 *   failslab_dtest [-n MAX_INJECTIONS] [-s SCENARIO-SUBSTRING]
 *
 * For every failslab scenario of every module table in selftests/fuzz/
 * (struct fz_scenario: create a VM, create a vCPU, set a memory slot, map
 * the shared page, get a stats fd, load and put a vCPU, ...) it injects an
 * allocation failure at the 1st, 2nd, ... Nth fault-injectable call of the
 * scenario's step, with the per-task /proc/thread-self/fail-nth of
 * Documentation/fault-injection/fault-injection.rst, until the step runs
 * to its end without consuming the injection. After each injection:
 *  - the step failed with an errno the scenario allows (ENOMEM, ...), or
 *    it succeeded and its result works (the failure was absorbed, e.g. an
 *    allocation with a fallback);
 *  - with everything closed, no VM is left (debugfs), the modules' state
 *    is at its baseline (their @stable hooks) and the same scenario then
 *    succeeds without injection (the state stayed usable).
 * At the end the modules' reference counts are back at baseline and every
 * module unloads; kmemleak (the runner's scan on the debug kernel) finds
 * any allocation an error path forgot to free.
 *
 * Fault injection: fail-nth counts only calls that reach should_fail(),
 * so failslab and fail_page_alloc must not filter the allocations out.
 * It sets (and restores at exit), in /sys/kernel/debug:
 *   failslab/ignore-gfp-wait N       GFP_KERNEL allocations count too
 *   failslab/cache-filter N
 *   failslab/verbose 0               no "forcing a failure" and no stack
 *                                    dump (the runner fails on "Call Trace")
 *   fail_page_alloc/ignore-gfp-wait N, min-order 0, verbose 0
 *                                    (page allocations: the vCPU's shared
 *                                    page, page tables), if present
 * probability stays 0, so nothing fails but the Nth call of this thread.
 * The process is mlockall()ed, so that no user page fault of its own needs
 * an allocation while an injection is armed.
 *
 * Skips (exit 4) on a kernel without CONFIG_FAULT_INJECTION_DEBUG_FS and
 * CONFIG_FAILSLAB (Debian's stock kernels). Named *_dtest so that only the
 * debug row runs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "fuzz_engine.h"
#include "vext_test.h"

#define DEFAULT_MAX	400
#define DBG		"/sys/kernel/debug"

struct knob {
	const char *path;
	const char *value;
	char saved[32];
	bool set;
};

static struct knob knobs[] = {
	{ .path = DBG "/failslab/ignore-gfp-wait", .value = "N" },
	{ .path = DBG "/failslab/cache-filter", .value = "N" },
	{ .path = DBG "/failslab/verbose", .value = "0" },
	{ .path = DBG "/fail_page_alloc/ignore-gfp-wait", .value = "N" },
	{ .path = DBG "/fail_page_alloc/min-order", .value = "0" },
	{ .path = DBG "/fail_page_alloc/verbose", .value = "0" },
};

static int nth_fd = -1;

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void restore_knobs(void)
{
	unsigned int i;

	for (i = 0; i < FZ_ARRAY_SIZE(knobs); i++)
		if (knobs[i].set)
			write_str(knobs[i].path, knobs[i].saved);
}

/* Arm the injection at the @n-th call (0 disarms). */
static int arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth_fd, buf, len, 0) == len ? 0 : -errno;
}

/* What is left of the armed count: 0 once the injection happened. */
static long armed_left(void)
{
	char buf[16];
	ssize_t n = pread(nth_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static void sctx_init(struct fz_sctx *s, int dev)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->dev = dev;
	for (i = 0; i < FZ_ARRAY_SIZE(s->fd); i++)
		s->fd[i] = -1;
}

static void sctx_fini(struct fz_sctx *s)
{
	unsigned int i;

	for (i = 0; i < FZ_ARRAY_SIZE(s->map); i++)
		if (s->map[i])
			munmap(s->map[i], s->map_len[i]);
	/* Last made first: a vCPU before its VM. */
	for (i = FZ_ARRAY_SIZE(s->fd); i-- > 0;)
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	sctx_init(s, s->dev);
}

static bool in_errs(const int *errs, int e)
{
	unsigned int i;

	for (i = 0; i < FZ_MAX_ERRS && errs[i]; i++)
		if (errs[i] == e)
			return true;
	return false;
}

/* Every loaded module's state at its baseline. */
static int stable(struct fz_thread *t)
{
	struct fz_module *m;

	for (m = fz_modules; m; m = m->next) {
		if (!m->loaded || !m->stable)
			continue;
		t->msg[0] = '\0';
		if (m->stable(t))
			return -1;
	}
	return 0;
}

/* One run of the scenario without injection: 0 if it works. */
static int clean_run(const struct fz_scenario *sc, int dev, char *why,
		     size_t len)
{
	struct fz_sctx s;
	long ret = 0;

	sctx_init(&s, dev);
	if (sc->setup)
		ret = sc->setup(&s);
	if (ret >= 0)
		ret = sc->step(&s);
	if (ret >= 0 && sc->verify && sc->verify(&s, ret)) {
		snprintf(why, len, "its result does not work");
		ret = -1;
	} else if (ret < 0) {
		snprintf(why, len, "%s", strerror(-ret));
	}
	sctx_fini(&s);
	return ret < 0 ? -1 : 0;
}

/*
 * Sweep one scenario. Returns the number of problems; *points gets the
 * number of injection points, *absorbed those the step survived.
 */
static int sweep(const struct fz_module *m, const struct fz_scenario *sc,
		 int dev, unsigned int max, unsigned int *points,
		 unsigned int *absorbed)
{
	struct fz_thread t = { 0 };
	char why[256];
	unsigned int n;
	int bad = 0;

	*points = *absorbed = 0;
	if (clean_run(sc, dev, why, sizeof(why))) {
		fz_log("%s: %s: fails without injection: %s", m->name, sc->name, why);
		return 1;
	}
	for (n = 1; n <= max; n++) {
		struct fz_sctx s;
		long ret = 0, left;

		sctx_init(&s, dev);
		if (sc->setup)
			ret = sc->setup(&s);
		if (ret < 0) {
			fz_log("%s: %s: setup failed: %s", m->name, sc->name,
			       strerror(-ret));
			sctx_fini(&s);
			return bad + 1;
		}
		if (arm(n)) {
			fz_log("writing fail-nth: %s", strerror(errno));
			sctx_fini(&s);
			return bad + 1;
		}
		ret = sc->step(&s);
		left = armed_left();
		arm(0);
		if (left != 0) {
			/* The step made fewer than n injectable calls: done. */
			if (ret < 0 || (sc->verify && sc->verify(&s, ret))) {
				fz_log("%s: %s: n=%u not injected, yet %s", m->name,
				       sc->name, n, ret < 0 ? strerror(-ret) :
				       "its result does not work");
				bad++;
			}
			sctx_fini(&s);
			*points = n - 1;
			break;
		}
		if (ret >= 0) {
			(*absorbed)++;
			if (sc->verify && sc->verify(&s, ret)) {
				fz_log("%s: %s: injection %u: success that does not work",
				       m->name, sc->name, n);
				bad++;
			}
		} else if (!in_errs(sc->errs, -ret)) {
			fz_log("%s: %s: injection %u: %s", m->name, sc->name, n,
			       strerror(-ret));
			bad++;
		}
		sctx_fini(&s);
		if (stable(&t)) {
			fz_log("%s: %s: injection %u left state behind: %s", m->name,
			       sc->name, n, t.msg);
			bad++;
		}
		if (clean_run(sc, dev, why, sizeof(why))) {
			fz_log("%s: %s: after injection %u the scenario fails: %s",
			       m->name, sc->name, n, why);
			bad++;
		}
		if (bad > 5)
			return bad;
	}
	if (n > max) {
		fz_log("%s: %s: still injecting after %u calls", m->name, sc->name, max);
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	unsigned int max = DEFAULT_MAX, i, nr = 0;
	struct fz_module *m;
	int opt, dev, ret, bad;

	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		switch (opt) {
		case 'n':
			max = strtoul(optarg, NULL, 0);
			break;
		case 's':
			only = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-n MAX] [-s SCENARIO]\n", argv[0]);
			return 2;
		}
	}

	ksft_print_header();
	vext_debugfs_mount();
	if (access("/proc/thread-self/fail-nth", W_OK))
		ksft_exit_skip("no fail-nth: kernel without CONFIG_FAULT_INJECTION\n");
	if (access(DBG "/failslab", F_OK))
		ksft_exit_skip("no failslab: kernel without CONFIG_FAILSLAB and its debugfs\n");

	/* Load the modules first: their scenarios make the plan. */
	fz_unload_modules(true);
	bad = fz_load_modules();
	for (m = fz_modules; m; m = m->next) {
		if (!m->loaded)
			continue;
		for (i = 0; i < m->nr_scenarios; i++)
			if (!only || strstr(m->scenarios[i].name, only))
				nr++;
	}
	ksft_set_plan(nr + 3);
	ksft_test_result(!bad, "modules of every table load\n");
	if (bad)
		ksft_exit_fail_msg("cannot load the modules\n");

	for (i = 0; i < FZ_ARRAY_SIZE(knobs); i++) {
		if (read_str(knobs[i].path, knobs[i].saved, sizeof(knobs[i].saved)))
			continue;	/* fail_page_alloc is optional */
		if (write_str(knobs[i].path, knobs[i].value))
			ksft_exit_fail_msg("%s: %s\n", knobs[i].path, strerror(errno));
		knobs[i].set = true;
	}
	atexit(restore_knobs);
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0)
		ksft_exit_fail_msg("fail-nth: %s\n", strerror(errno));
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		ksft_print_msg("mlockall: %s (page-fault allocations may be injected)\n",
			       strerror(errno));

	fz_snapshot_refs();

	dev = vext_dev_open();
	if (dev < 0)
		ksft_exit_fail_msg("/dev/vext: %s\n", strerror(-dev));
	for (m = fz_modules; m; m = m->next) {
		if (!m->loaded)
			continue;
		for (i = 0; i < m->nr_scenarios; i++) {
			const struct fz_scenario *sc = &m->scenarios[i];
			unsigned int points, absorbed;

			if (only && !strstr(sc->name, only))
				continue;
			ret = sweep(m, sc, dev, max, &points, &absorbed);
			ksft_test_result(!ret, "%s: %s: %u injection points, %u absorbed\n",
					 m->name, sc->name, points, absorbed);
		}
	}
	close(dev);
	munlockall();

	fz_teardown_modules();
	ksft_test_result(!fz_check_refs(), "module references back at baseline\n");
	ksft_test_result(!fz_unload_modules(false), "every module unloads\n");
	ksft_finished();
}
