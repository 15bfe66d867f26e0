// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_test - the vext ioctl fuzzer (selftests/fuzz), as a kselftest.
 *
 *   fuzz_test [-s SEED] [-t SECONDS] [-j THREADS]
 *
 * Environment (what the VM's init passes from vext.fuzz_seed= and
 * vext.fuzz_seconds= on the kernel command line): VEXT_FUZZ_SEED,
 * VEXT_FUZZ_SECONDS, VEXT_FUZZ_THREADS; the options win. The default budget
 * is 24 s, the default seed random; the seed is printed first, and the
 * single-threaded phase replays exactly from it.
 *
 * It first checks its own fork: a child forked while another thread holds a
 * lock in the tables' data must not inherit it held (it would hang, and its
 * parent with it). Then it loads every module that has a table in
 * selftests/fuzz/ (the optional ones only where installed) and fuzzes for
 * the budget:
 *   1. single-threaded (40%): random and structure-aware calls on every fd
 *      type, forks waited for, and every 256 operations an audit of the
 *      kernel's state (debugfs) against what the fuzzer created;
 *   2. THREADS threads (60%) sharing the fd table, the last one closing,
 *      dup'ing, dup2'ing, forking and squeezing RLIMIT_NOFILE under the
 *      others; results are judged unless their fd changed under them.
 * Every judged result must be a success or an errno its description allows
 * (ENOTTY only for what no module implements, EFAULT only for bad
 * pointers, EIO for VM and vCPU fds in another process, ...). Then every fd
 * is closed and it checks that no VM is left, the modules' state and
 * reference counts are back at their baseline, and every module unloads.
 * Kernel splats are the runner's business (dmesg).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "fuzz_engine.h"
#include "vext_test.h"

#define DEFAULT_SECONDS		24
#define DEFAULT_THREADS		6
#define AUDIT_EVERY		256

struct worker {
	pthread_t thread;
	struct fz_thread t;
	__u64 deadline;
	bool chaos;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (vext_now_ns() < w->deadline)
		fz_step(&w->t, w->chaos);
	return NULL;
}

static unsigned long long env_ull(const char *name, unsigned long long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* Audit every loaded module's state; count a violation if one fails. */
static void audit(struct fz_thread *t)
{
	struct fz_module *m;

	fz_restore_rlimit();
	for (m = fz_modules; m; m = m->next) {
		if (!m->loaded || !m->audit)
			continue;
		t->msg[0] = '\0';
		if (m->audit(t))
			fz_violation(t, "audit");
	}
}

int main(int argc, char **argv)
{
	unsigned long long seed = 0, seconds, threads;
	struct fz_thread t0 = { 0 };
	struct worker *w;
	struct fz_module *m;
	unsigned long before, ops1;
	__u64 start, end1, end2;
	bool have_seed = false;
	int opt, i, bad;

	seconds = env_ull("VEXT_FUZZ_SECONDS", DEFAULT_SECONDS);
	threads = env_ull("VEXT_FUZZ_THREADS", DEFAULT_THREADS);
	if (getenv("VEXT_FUZZ_SEED") && *getenv("VEXT_FUZZ_SEED")) {
		seed = env_ull("VEXT_FUZZ_SEED", 0);
		have_seed = true;
	}
	while ((opt = getopt(argc, argv, "s:t:j:")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			have_seed = true;
			break;
		case 't':
			seconds = strtoull(optarg, NULL, 0);
			break;
		case 'j':
			threads = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-t SECONDS] [-j THREADS]\n",
				argv[0]);
			return 2;
		}
	}
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((unsigned long long)ts.tv_sec * 1000003ULL) ^ ts.tv_nsec ^
		       ((unsigned long long)getpid() << 32);
	}
	if (threads < 2)
		threads = 2;
	if (threads > 16)
		threads = 16;

	ksft_print_header();
	ksft_set_plan(7);
	ksft_print_msg("seed %llu, %llu s, %llu threads\n", seed, seconds, threads);
	ksft_print_msg("replay: fuzz_test -s %llu -t %llu, or make fuzz SEED=%llu SECONDS=%llu\n",
		       seed, seconds, seed, seconds);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* The engine itself: its forked children cannot deadlock. */
	{
		char why[128] = "";

		ksft_test_result(!fz_check_fork(why, sizeof(why)),
				 "forked children start without the locks other threads held%s%s\n",
				 *why ? ": " : "", why);
	}

	/* A clean start: whatever an earlier test left loaded goes. */
	fz_unload_modules(true);
	bad = fz_load_modules();
	ksft_test_result(!bad, "modules of every fuzz table load\n");
	if (bad || vext_debugfs_mount()) {
		ksft_test_result_skip("single-threaded fuzzing: no modules\n");
		ksft_test_result_skip("multi-threaded fuzzing: no modules\n");
		ksft_test_result_skip("state back at baseline: no modules\n");
		ksft_test_result_skip("module references back at baseline: no modules\n");
		ksft_test_result_skip("modules unload: no modules\n");
		fz_unload_modules(true);
		ksft_finished();
	}
	/* Every loaded module's reference count before any fd exists. */
	fz_snapshot_refs();

	fz_eng.seed = seed;
	fz_engine_setup();

	/* 1. Single-threaded: reproducible from the seed. */
	start = vext_now_ns();
	end1 = start + seconds * 400000000ULL;
	end2 = start + seconds * 1000000000ULL;
	fz_seed_thread(&t0, seed, 0);
	if (fz_arena_init(&t0))
		ksft_exit_fail_msg("arena: %s\n", strerror(errno));
	while (vext_now_ns() < end1) {
		fz_step(&t0, false);
		if (!(t0.ops % AUDIT_EVERY))
			audit(&t0);
	}
	audit(&t0);
	ops1 = t0.ops;
	ksft_test_result(!fz_eng.violations,
			 "single-threaded fuzzing: %lu operations, %lu violation(s)\n",
			 ops1, fz_eng.violations);

	/* 2. Threads sharing the table; the last one is the closer. */
	before = fz_eng.violations;
	fz_eng.threaded = true;
	w = calloc(threads, sizeof(*w));
	if (!w)
		ksft_exit_fail_msg("out of memory\n");
	for (i = 0; i < (int)threads; i++) {
		fz_seed_thread(&w[i].t, seed, i + 1);
		w[i].t.idx = i + 1;
		w[i].deadline = end2;
		w[i].chaos = i == (int)threads - 1;
		if (fz_arena_init(&w[i].t) ||
		    pthread_create(&w[i].thread, NULL, worker_main, &w[i]))
			ksft_exit_fail_msg("thread %d: %s\n", i, strerror(errno));
	}
	ops1 = 0;
	for (i = 0; i < (int)threads; i++) {
		pthread_join(w[i].thread, NULL);
		ops1 += w[i].t.ops;
	}
	fz_wait_spawned();
	fz_reap(true);
	ksft_test_result(fz_eng.violations == before,
			 "multi-threaded fuzzing: %llu threads, %lu operations, %lu violation(s)\n",
			 threads, ops1, fz_eng.violations - before);
	fz_print_stats();

	/* 3. Every fd closed: the kernel's state is back where it started. */
	fz_close_all();
	for (i = 0; i < (int)threads; i++)
		fz_arena_fini(&w[i].t);
	bad = 0;
	for (m = fz_modules; m; m = m->next) {
		if (!m->loaded || !m->stable)
			continue;
		t0.msg[0] = '\0';
		if (m->stable(&t0)) {
			fz_log("%s: %s", m->name, t0.msg);
			bad++;
		}
	}
	ksft_test_result(!bad, "state back at baseline with every fd closed\n");

	/* 4. Module references (taken per VM, per binding) all dropped. */
	fz_teardown_modules();
	ksft_test_result(!fz_check_refs(), "module references back at baseline\n");

	/* 5. Nothing pins a module. */
	ksft_test_result(!fz_unload_modules(false), "every module unloads\n");
	ksft_print_msg("seed %llu: %lu violation(s) in total\n", seed,
		       fz_eng.violations);
	fz_arena_fini(&t0);
	free(w);
	ksft_finished();
}
