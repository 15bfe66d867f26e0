// SPDX-License-Identifier: GPL-2.0-only
/*
 * pn_test - kselftests of vext_pn and vext_percpu: VEXT_VCPU_LOAD/PUT and
 * their errors, the preemption counters of the vCPU shared page (preempted,
 * blocked, their times, migrations, the CPU), the running-vCPU pointer and
 * the per-CPU counters (through debugfs), the static key's policy, and the
 * lifetime of bindings when threads exit, processes die and fds are closed
 * under a loaded thread; a stress run; module unloading.
 *
 * Runs as root on a kernel with CONFIG_PREEMPT_NOTIFIERS where the suite is
 * installed and depmod'ed, with at least two CPUs for the tests that move
 * threads between CPUs (they SKIP otherwise). Loading vext_pn through
 * libkmod loads vext_percpu and vext_core too. Every test runs in its own
 * process (the harness forks); module state persists between tests, so
 * each fixture loads what it needs and creates its VMs afterwards
 * (components attach to VMs at creation).
 *
 * Counters are read under the shared page's sequence count. Whatever the
 * kernel does asynchronously (releasing the binding of a thread that has
 * exited, turning the key off after key_off_delay_ms) is polled for with a
 * bound, never waited for with a fixed sleep.
 *
 * Helper threads never use ASSERT/EXPECT (the harness is not thread-safe):
 * they record their first failure in their struct job and the test thread
 * checks it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vext_harness.h"
#include "vext_test.h"

#define PAGE		VEXT_TEST_PAGE
#define NR_VCPUS	4
#define MS		1000000ULL	/* ns */

/* Bound of every wait for something the kernel does asynchronously. */
#define ASYNC_MS	5000
/* Bound of the busy loops waiting for the scheduler to preempt a thread. */
#define PREEMPT_MS	10000

#define DEFAULT_KEY_OFF_DELAY_MS	1000

/* Modules that depend on vext_core and would keep it loaded. */
static const char * const other_dependents[] = {
	"vext_test_comp", "vext_assign", "vext_gnt",
};

/* Unloaded in this order; vext_pn loads the others as its dependencies. */
static const char * const suite[] = {
	VEXT_PN_MODULE, VEXT_PERCPU_MODULE, VEXT_CORE_MODULE,
};

#define ONCE_LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define ONCE_STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* Poll @cond every millisecond for up to @ms: true once it holds. */
#define WAIT_UNTIL(cond, ms) ({						\
	__u64 __end = vext_now_ns() + (__u64)(ms) * MS;			\
	bool __ok;							\
	while (!(__ok = (cond)) && vext_now_ns() < __end)		\
		vext_sleep_ms(1);					\
	__ok;								\
})

/* ---- helpers ---------------------------------------------------------- */

static void load_module(struct __test_metadata *_metadata, const char *name,
			const char *options)
{
	int ret = vext_mod_load(name, options);

	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", name, strerror(-ret));
	ASSERT_EQ(1, vext_mod_loaded(name));
}

/* vext_pn with its dependencies, and debugfs where the tests read it. */
static void load_suite(struct __test_metadata *_metadata)
{
	int ret;

	load_module(_metadata, VEXT_PN_MODULE, NULL);
	ASSERT_EQ(1, vext_mod_loaded(VEXT_PERCPU_MODULE));
	ASSERT_EQ(1, vext_mod_loaded(VEXT_CORE_MODULE));
	ret = vext_debugfs_mount();
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", VEXT_DEBUGFS_DIR, strerror(-ret));
}

/*
 * Remove a module; with @patient, retry for up to two seconds while it is
 * in use (what an asynchronous release still holds goes away by itself).
 */
static int remove_module(const char *name, bool patient)
{
	__u64 end = vext_now_ns() + 2000 * MS;
	int ret;

	for (;;) {
		ret = vext_mod_unload(name);
		if (!patient || ret != VEXT_MOD_IN_USE || vext_now_ns() > end)
			return ret;
		vext_sleep_ms(10);
	}
}

/* Unload the whole suite: every fd must be closed by now. */
static void unload_suite(struct __test_metadata *_metadata, bool patient)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(other_dependents); i++) {
		ret = vext_mod_unload(other_dependents[i]);
		ASSERT_EQ(0, ret) TH_LOG("removing %s: %s", other_dependents[i],
					 strerror(-ret));
	}
	for (i = 0; i < ARRAY_SIZE(suite); i++) {
		ret = remove_module(suite[i], patient);
		ASSERT_EQ(0, ret) TH_LOG("removing %s: %s (refcnt %d)", suite[i],
					 strerror(-ret), vext_mod_refcnt(suite[i]));
		ASSERT_EQ(0, vext_mod_loaded(suite[i]));
	}
	EXPECT_EQ(0, vext_dev_wait_gone());
}

/* A consistent copy of a shared page. */
static void snap(struct __test_metadata *_metadata,
		 const struct vext_vcpu_shared *page, struct vext_vcpu_shared *s)
{
	ASSERT_EQ(0, vext_shared_read(page, s))
		TH_LOG("shared page: seq stays odd (%u)", page->seq);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static long load(int vcpu)
{
	return vext_ioctl(vcpu, VEXT_VCPU_LOAD, 0);
}

static long put(int vcpu)
{
	return vext_ioctl(vcpu, VEXT_VCPU_PUT, 0);
}

/* pn_key: 0 or 1 if it reads exactly "0\n" or "1\n", else -errno. */
static int key_state(void)
{
	char buf[16];
	int n = vext_debugfs_read("pn_key", buf, sizeof(buf));

	if (n < 0)
		return n;
	if (!strcmp(buf, "0\n"))
		return 0;
	if (!strcmp(buf, "1\n"))
		return 1;
	return -EPROTO;
}

/* pn_users, or -errno. */
static long users(void)
{
	long val;
	int ret = vext_debugfs_long("pn_users", &val);

	return ret ? ret : val;
}

static void read_stat(struct __test_metadata *_metadata, const char *name,
		      __u64 *val)
{
	int ret = vext_debugfs_stat(name, val);

	ASSERT_EQ(0, ret) TH_LOG("debugfs stats: %s: %s", name, strerror(-ret));
}

static long key_off_delay(struct __test_metadata *_metadata)
{
	long val = -1;
	int ret = vext_param_read(VEXT_PN_MODULE, "key_off_delay_ms", &val);

	ASSERT_EQ(0, ret) TH_LOG("key_off_delay_ms: %s", strerror(-ret));
	return val;
}

static void set_key_off_delay(struct __test_metadata *_metadata, long ms)
{
	char buf[32];
	int ret;

	snprintf(buf, sizeof(buf), "%ld", ms);
	ret = vext_param_write(VEXT_PN_MODULE, "key_off_delay_ms", buf);
	ASSERT_EQ(0, ret) TH_LOG("key_off_delay_ms=%ld: %s", ms, strerror(-ret));
	ASSERT_EQ(ms, key_off_delay(_metadata));
}

/* No binding left anywhere (bounded wait for asynchronous releases). */
static void wait_no_users(struct __test_metadata *_metadata)
{
	long last = -1;
	int ret = vext_debugfs_wait_long("pn_users", 0, ASYNC_MS, &last);

	ASSERT_EQ(0, ret) TH_LOG("pn_users still %ld after %d ms: %s", last,
				 ASYNC_MS, strerror(-ret));
}

/* The key is off, within the off delay plus the usual bound. */
static void wait_key_off(struct __test_metadata *_metadata)
{
	long delay = key_off_delay(_metadata);

	ASSERT_TRUE(WAIT_UNTIL(key_state() == 0, delay + ASYNC_MS))
		TH_LOG("pn_key %d after %ld ms (pn_users %ld)", key_state(),
		       delay + ASYNC_MS, users());
}

/* ---- helper threads --------------------------------------------------- */

/* Values of job.state the test thread waits for. */
enum {
	ST_INIT,
	ST_RUNNING,	/* started (and pinned, loaded where it loads) */
	ST_PHASE1,
	ST_PHASE2,
	ST_PHASE3,
	ST_DONE,
	ST_FAILED,
};

/* Values of job.cmd. */
enum {
	CMD_NONE,
	CMD_GO,
	CMD_PHASE1,
	CMD_PHASE2,
	CMD_PHASE3,
	CMD_STOP,
};

struct job {
	pthread_t thread;
	bool started;
	int vcpu;			/* vCPU fd the job loads */
	const struct vext_vcpu_shared *page;	/* its shared page */
	int cpu;			/* CPU to run on, -1: any */
	unsigned long n;		/* iterations */
	int rfd;			/* pipe to block reading on */
	int cmd;			/* CMD_*, set by the test thread */
	int state;			/* ST_*, set by the job */
	unsigned long progress;		/* bumped while the job runs */
	long err;			/* first failure, -errno */
	char msg[200];			/* what failed */
	__u64 ns;			/* duration measured by the job */
	struct vext_vcpu_shared snap;	/* shared page as the job left it */
};

static void job_init(struct job *j, int vcpu,
		     const struct vext_vcpu_shared *page, int cpu)
{
	memset(j, 0, sizeof(*j));
	j->vcpu = vcpu;
	j->page = page;
	j->cpu = cpu;
	j->rfd = -1;
}

static void *job_failed(struct job *j, long err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
	j->err = err < 0 ? err : -EPROTO;
	ONCE_STORE(j->state, ST_FAILED);
	return NULL;
}

/* Pin the job to its CPU (if any): 0, or the job has failed. */
static int job_pin(struct job *j)
{
	int ret;

	if (j->cpu < 0)
		return 0;
	ret = vext_pin_cpu(j->cpu);
	if (ret) {
		job_failed(j, ret, "pinning to CPU%d", j->cpu);
		return ret;
	}
	if (sched_getcpu() != j->cpu) {
		job_failed(j, -EPROTO, "pinned to CPU%d, runs on CPU%d",
			   j->cpu, sched_getcpu());
		return -EPROTO;
	}
	return 0;
}

static int job_load(struct job *j)
{
	long ret = load(j->vcpu);

	if (ret)
		job_failed(j, ret < 0 ? ret : -EPROTO, "LOAD returned %ld", ret);
	return ret ? -1 : 0;
}

static int job_put(struct job *j)
{
	long ret = put(j->vcpu);

	if (ret)
		job_failed(j, ret < 0 ? ret : -EPROTO, "PUT returned %ld", ret);
	return ret ? -1 : 0;
}

static int job_snap(struct job *j, struct vext_vcpu_shared *s)
{
	if (vext_shared_read(j->page, s)) {
		job_failed(j, -ETIMEDOUT, "shared page: seq stays odd");
		return -1;
	}
	return 0;
}

static void job_start(struct __test_metadata *_metadata, struct job *j,
		      void *(*fn)(void *))
{
	int ret = pthread_create(&j->thread, NULL, fn, j);

	ASSERT_EQ(0, ret) TH_LOG("pthread_create: %s", strerror(ret));
	j->started = true;
}

static void job_join(struct job *j)
{
	if (j->started)
		pthread_join(j->thread, NULL);
	j->started = false;
}

/* Wait until the job reaches @state (or fails). */
static bool job_wait(struct job *j, int state, unsigned int ms)
{
	WAIT_UNTIL(ONCE_LOAD(j->state) == state ||
		   ONCE_LOAD(j->state) == ST_FAILED, ms);
	return ONCE_LOAD(j->state) == state;
}

/* Tell the job @cmd and wait for it to reach @state. */
static bool job_cmd(struct job *j, int cmd, int state)
{
	ONCE_STORE(j->cmd, cmd);
	return job_wait(j, state, ASYNC_MS);
}

/* The job did not fail. */
static void expect_job_ok(struct __test_metadata *_metadata,
			  const struct job *j)
{
	EXPECT_EQ(0, j->err) TH_LOG("job on vCPU fd %d: %s: %s", j->vcpu,
				    j->msg, strerror(-j->err));
}

/* The job reaches @state (bounded wait), else the test ends. */
static void assert_job_state(struct __test_metadata *_metadata,
			     struct job *j, int state)
{
	ASSERT_TRUE(job_wait(j, state, ASYNC_MS))
		TH_LOG("job on vCPU fd %d in state %d, wanted %d: %s",
		       j->vcpu, j->state, state, j->msg);
}

/* Spin (unloaded) on j->cpu until told to stop. */
static void *spinner(void *arg)
{
	struct job *j = arg;

	if (job_pin(j))
		return NULL;
	ONCE_STORE(j->state, ST_RUNNING);
	while (ONCE_LOAD(j->cmd) != CMD_STOP)
		__atomic_fetch_add(&j->progress, 1, __ATOMIC_RELAXED);
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/* LOAD and exit without PUT. */
static void *job_load_exit(void *arg)
{
	struct job *j = arg;

	if (job_pin(j) || job_load(j))
		return NULL;
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/*
 * LOAD, then until CMD_STOP: spin (j->n == 0) or sleep a millisecond at a
 * time (j->n != 0), bumping progress; then PUT unless j->rfd says not to
 * (rfd == -2: exit loaded, the fds may be gone).
 */
static void *job_hold(void *arg)
{
	struct job *j = arg;
	struct timespec ms = { .tv_nsec = 1000000 };

	if (job_pin(j) || job_load(j))
		return NULL;
	ONCE_STORE(j->state, ST_RUNNING);
	while (ONCE_LOAD(j->cmd) != CMD_STOP) {
		if (j->n)
			nanosleep(&ms, NULL);
		__atomic_fetch_add(&j->progress, 1, __ATOMIC_RELAXED);
	}
	if (j->rfd != -2 && job_put(j))
		return NULL;
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/* ---- fixture: one VM with NR_VCPUS vCPUs, suite loaded ------------------ */

FIXTURE(pn) {
	int dev;
	int vm;
	int domid;
	int nr_cpus;
	int vcpu[NR_VCPUS];
	struct vext_vcpu_shared *page[NR_VCPUS];
};

FIXTURE_SETUP(pn)
{
	int i;

	self->dev = -1;
	self->vm = -1;
	for (i = 0; i < NR_VCPUS; i++)
		self->vcpu[i] = -1;
	load_suite(_metadata);
	wait_no_users(_metadata);
	self->nr_cpus = vext_nr_cpus();
	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	self->domid = get_domid(_metadata, self->vm);
	for (i = 0; i < NR_VCPUS; i++) {
		self->vcpu[i] = create_vcpu(_metadata, self->vm, i);
		self->page[i] = map_shared(_metadata, self->vcpu[i]);
	}
}

FIXTURE_TEARDOWN(pn)
{
	int i;

	for (i = 0; i < NR_VCPUS; i++) {
		vext_unmap_shared(self->page[i]);
		close_fd(&self->vcpu[i]);
	}
	close_fd(&self->vm);
	close_fd(&self->dev);
}

TEST_F(pn, caps)
{
	static const char * const files[] = {
		"pn_key", "pn_users", "running_vcpu", "stats",
	};
	struct stat st;
	char path[256];
	unsigned int i;

	EXPECT_EQ(1, vext_ioctl(self->dev, VEXT_CHECK_EXTENSION,
				VEXT_CAP_PERCPU_STATS));
	EXPECT_EQ(1, vext_ioctl(self->dev, VEXT_CHECK_EXTENSION,
				VEXT_CAP_PREEMPT_NOTIFY));
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", VEXT_DEBUGFS_DIR, files[i]);
		EXPECT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path,
						     strerror(errno));
	}
	snprintf(path, sizeof(path),
		 "/sys/module/%s/parameters/key_off_delay_ms", VEXT_PN_MODULE);
	ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_EQ(0644U, st.st_mode & 07777);
	EXPECT_LE(0, key_off_delay(_metadata));
}

TEST_F(pn, unknown_ioctl)
{
	static const unsigned long vcpu_cmds[] = {
		_IO(VEXTIO, 0x21), _IO(VEXTIO, 0x2f),
		_IO(VEXTIO, 0x32), _IO(VEXTIO, 0x3f),
		/* LOAD, PUT and STATS_FD numbers with a direction or size. */
		_IOW(VEXTIO, 0x30, __u32), _IOR(VEXTIO, 0x31, __u32),
		_IOWR(VEXTIO, 0x30, __u64), _IOR(VEXTIO, 0x20, __u32),
	};
	static const unsigned long vm_cmds[] = {
		VEXT_VCPU_LOAD, VEXT_VCPU_PUT, _IO(VEXTIO, 0x32),
		_IO(VEXTIO, 0x21), _IOR(VEXTIO, 0x20, __u32),
	};
	static const unsigned long dev_cmds[] = {
		VEXT_VCPU_LOAD, VEXT_VCPU_PUT, VEXT_GET_STATS_FD,
	};
	struct vext_vcpu_shared s;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vcpu_cmds); i++) {
		EXPECT_EQ(-ENOTTY, vext_ioctl(self->vcpu[0], vcpu_cmds[i], 0))
			TH_LOG("vCPU ioctl %#lx", vcpu_cmds[i]);
	}
	for (i = 0; i < ARRAY_SIZE(vm_cmds); i++) {
		EXPECT_EQ(-ENOTTY, vext_ioctl(self->vm, vm_cmds[i], 0))
			TH_LOG("VM ioctl %#lx", vm_cmds[i]);
	}
	for (i = 0; i < ARRAY_SIZE(dev_cmds); i++) {
		EXPECT_EQ(-ENOTTY, vext_ioctl(self->dev, dev_cmds[i], 0))
			TH_LOG("/dev/vext ioctl %#lx", dev_cmds[i]);
	}
	/* None of them loaded anything. */
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(0ULL, s.loads);
	EXPECT_EQ(0U, s.loaded);
	EXPECT_EQ(0, users());
	EXPECT_EQ(-EINVAL, put(self->vcpu[0]));
}

TEST_F(pn, load_put)
{
	int cpu = self->nr_cpus - 1;
	struct vext_vcpu_shared s;

	ASSERT_EQ(0, vext_pin_cpu(cpu));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(0ULL, s.loads);
	EXPECT_EQ(0U, s.loaded);
	EXPECT_EQ(0ULL, s.preempted);
	EXPECT_EQ(0ULL, s.blocked);
	EXPECT_EQ(0ULL, s.preempted_ns);
	EXPECT_EQ(0ULL, s.blocked_ns);
	EXPECT_EQ(0ULL, s.migrations);
	EXPECT_EQ(0U, s.seq & 1);
	EXPECT_EQ(0, users());

	ASSERT_EQ(0, load(self->vcpu[0]));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(1ULL, s.loads);
	EXPECT_EQ(1U, s.loaded);
	EXPECT_EQ((__u32)cpu, s.cpu);
	EXPECT_EQ(1, users());
	EXPECT_EQ(1, key_state());

	/* This thread has it already. */
	EXPECT_EQ(-EALREADY, load(self->vcpu[0]));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(1ULL, s.loads);
	EXPECT_EQ(1U, s.loaded);
	EXPECT_EQ(1, users());

	EXPECT_EQ(0, put(self->vcpu[0]));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(1ULL, s.loads);
	EXPECT_EQ(0U, s.loaded);
	EXPECT_EQ(0, users());
	/* Not loaded any more. */
	EXPECT_EQ(-EINVAL, put(self->vcpu[0]));

	/* Again: counters accumulate over loads. */
	EXPECT_EQ(0, load(self->vcpu[0]));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(2ULL, s.loads);
	EXPECT_EQ(1U, s.loaded);
	EXPECT_EQ(0, put(self->vcpu[0]));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(2ULL, s.loads);
	EXPECT_EQ(0U, s.loaded);

	/* Other vCPUs were not touched. */
	snap(_metadata, self->page[1], &s);
	EXPECT_EQ(0ULL, s.loads);
	EXPECT_EQ(0U, s.loaded);
}

TEST_F(pn, bad_arg)
{
	static const unsigned long bad[] = { 1, 2, 1UL << 32, ~0UL };
	struct vext_vcpu_shared s;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, vext_ioctl(self->vcpu[0], VEXT_VCPU_LOAD,
					      bad[i]))
			TH_LOG("LOAD with %#lx", bad[i]);
	}
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(0ULL, s.loads);
	EXPECT_EQ(0U, s.loaded);
	EXPECT_EQ(0, users());

	ASSERT_EQ(0, load(self->vcpu[0]));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, vext_ioctl(self->vcpu[0], VEXT_VCPU_PUT,
					      bad[i]))
			TH_LOG("PUT with %#lx", bad[i]);
	}
	/* Still loaded: the bad PUTs did nothing. */
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(1ULL, s.loads);
	EXPECT_EQ(1U, s.loaded);
	EXPECT_EQ(1, users());
	EXPECT_EQ(-EALREADY, load(self->vcpu[0]));
	EXPECT_EQ(0, put(self->vcpu[0]));
	EXPECT_EQ(0, users());
}

/* `cpu` is set at LOAD: the CPU the loading thread runs on. */
TEST_F(pn, cpu_at_load)
{
	struct vext_vcpu_shared s;
	int cpu;

	for (cpu = 0; cpu < self->nr_cpus; cpu++) {
		ASSERT_EQ(0, vext_pin_cpu(cpu));
		ASSERT_EQ(0, load(self->vcpu[1]));
		snap(_metadata, self->page[1], &s);
		EXPECT_EQ((__u32)cpu, s.cpu);
		EXPECT_EQ((__u64)cpu + 1, s.loads);
		EXPECT_EQ(0, put(self->vcpu[1]));
		/* After PUT it still tells where the vCPU ran last. */
		snap(_metadata, self->page[1], &s);
		EXPECT_EQ((__u32)cpu, s.cpu);
	}
}

/* Another live thread: EBUSY for LOAD, EPERM for PUT. */
TEST_F(pn, other_thread)
{
	int v = self->vcpu[0];
	struct vext_vcpu_shared s;
	struct agent a;

	agent_start(_metadata, &a);
	ASSERT_EQ(0, load(v));
	EXPECT_EQ(-EBUSY, agent_ioctl(&a, v, VEXT_VCPU_LOAD));
	EXPECT_EQ(-EPERM, agent_ioctl(&a, v, VEXT_VCPU_PUT));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(1ULL, s.loads);
	EXPECT_EQ(1U, s.loaded);
	EXPECT_EQ(1, users());
	EXPECT_EQ(-EALREADY, load(v));
	EXPECT_EQ(0, put(v));

	/* And the other way round. */
	EXPECT_EQ(0, agent_ioctl(&a, v, VEXT_VCPU_LOAD));
	EXPECT_EQ(-EBUSY, load(v));
	EXPECT_EQ(-EPERM, put(v));
	EXPECT_EQ(-EALREADY, agent_ioctl(&a, v, VEXT_VCPU_LOAD));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(2ULL, s.loads);
	EXPECT_EQ(1U, s.loaded);
	EXPECT_EQ(1, users());
	EXPECT_EQ(0, agent_ioctl(&a, v, VEXT_VCPU_PUT));
	EXPECT_EQ(-EINVAL, agent_ioctl(&a, v, VEXT_VCPU_PUT));
	EXPECT_EQ(-EINVAL, put(v));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(2ULL, s.loads);
	EXPECT_EQ(0U, s.loaded);
	EXPECT_EQ(0, users());
	agent_stop(&a);
}

/* A thread holds at most one vCPU; a vCPU at most one thread. */
TEST_F(pn, one_vcpu_per_thread)
{
	struct vext_vcpu_shared s0, s1;
	int vm2, vcpu2;
	struct agent a;

	agent_start(_metadata, &a);
	ASSERT_EQ(0, load(self->vcpu[0]));
	EXPECT_EQ(-EBUSY, load(self->vcpu[1]));
	/* Not even one of another VM. */
	vm2 = create_vm(_metadata, self->dev);
	vcpu2 = create_vcpu(_metadata, vm2, 0);
	EXPECT_EQ(-EBUSY, load(vcpu2));
	snap(_metadata, self->page[1], &s1);
	EXPECT_EQ(0ULL, s1.loads);
	EXPECT_EQ(0U, s1.loaded);
	EXPECT_EQ(-EINVAL, put(self->vcpu[1]));
	EXPECT_EQ(1, users());

	/* Another thread takes vCPU 1; this one cannot put it. */
	EXPECT_EQ(0, agent_ioctl(&a, self->vcpu[1], VEXT_VCPU_LOAD));
	EXPECT_EQ(-EPERM, put(self->vcpu[1]));
	EXPECT_EQ(-EBUSY, agent_ioctl(&a, self->vcpu[0], VEXT_VCPU_LOAD));
	EXPECT_EQ(2, users());
	EXPECT_EQ(0, put(self->vcpu[0]));
	EXPECT_EQ(-EBUSY, load(self->vcpu[1]));
	EXPECT_EQ(1, users());
	EXPECT_EQ(0, agent_ioctl(&a, self->vcpu[1], VEXT_VCPU_PUT));
	EXPECT_EQ(0, users());

	/* Free again: this thread may take vCPU 1 now. */
	EXPECT_EQ(0, load(self->vcpu[1]));
	EXPECT_EQ(0, put(self->vcpu[1]));
	EXPECT_EQ(0, load(vcpu2));
	EXPECT_EQ(0, put(vcpu2));
	snap(_metadata, self->page[0], &s0);
	snap(_metadata, self->page[1], &s1);
	EXPECT_EQ(1ULL, s0.loads);
	EXPECT_EQ(2ULL, s1.loads);
	EXPECT_EQ(0U, s0.loaded);
	EXPECT_EQ(0U, s1.loaded);
	EXPECT_EQ(0, users());
	close(vcpu2);
	close(vm2);
	agent_stop(&a);
}

/* A thread that exits loaded: its binding goes, and never blocks others. */
TEST_F(pn, dead_owner)
{
	int v = self->vcpu[0], i, put_ok = 0, put_gone = 0;
	const struct vext_vcpu_shared *page = self->page[0];
	struct vext_vcpu_shared s;
	__u64 loads = 0;
	struct job j;
	long ret;

	/* Left alone, the binding is released shortly after the exit. */
	job_init(&j, v, page, -1);
	job_start(_metadata, &j, job_load_exit);
	job_join(&j);
	assert_job_state(_metadata, &j, ST_DONE);
	loads++;
	EXPECT_TRUE(WAIT_UNTIL(!vext_shared_read(page, &s) && !s.loaded,
			       ASYNC_MS))
		TH_LOG("loaded still %u %d ms after the thread exited",
		       s.loaded, ASYNC_MS);
	wait_no_users(_metadata);
	snap(_metadata, page, &s);
	EXPECT_EQ(loads, s.loads);
	ASSERT_EQ(0, load(v));
	loads++;
	EXPECT_EQ(0, put(v));
	EXPECT_EQ(-EINVAL, put(v));

	/*
	 * PUT once the binding is released: the dead owner's record may
	 * still be reaped (0) or be gone (EINVAL); never EPERM, and only once.
	 */
	job_init(&j, v, page, -1);
	job_start(_metadata, &j, job_load_exit);
	job_join(&j);
	assert_job_state(_metadata, &j, ST_DONE);
	loads++;
	EXPECT_TRUE(WAIT_UNTIL(!vext_shared_read(page, &s) && !s.loaded,
			       ASYNC_MS));
	wait_no_users(_metadata);
	ret = put(v);
	EXPECT_TRUE(ret == 0 || ret == -EINVAL) TH_LOG("PUT: %ld", ret);
	EXPECT_EQ(-EINVAL, put(v));

	/* LOAD right after the owner is joined: reaps it if still there. */
	for (i = 0; i < 20; i++) {
		job_init(&j, v, page, -1);
		job_start(_metadata, &j, job_load_exit);
		job_join(&j);
		assert_job_state(_metadata, &j, ST_DONE);
		loads++;
		ASSERT_EQ(0, load(v)) TH_LOG("round %d", i);
		loads++;
		snap(_metadata, page, &s);
		EXPECT_EQ(1U, s.loaded);
		EXPECT_EQ(loads, s.loads);
		/* Only this thread's binding is left. */
		EXPECT_TRUE(WAIT_UNTIL(users() == 1, ASYNC_MS))
			TH_LOG("round %d: pn_users %ld", i, users());
		EXPECT_EQ(0, put(v));
	}

	/* PUT right after: reaps it (0) or finds it released (EINVAL). */
	for (i = 0; i < 20; i++) {
		job_init(&j, v, page, -1);
		job_start(_metadata, &j, job_load_exit);
		job_join(&j);
		assert_job_state(_metadata, &j, ST_DONE);
		loads++;
		ret = put(v);
		if (ret == 0) {
			put_ok++;
		} else if (ret == -EINVAL) {
			put_gone++;
		} else {
			EXPECT_EQ(0, ret) TH_LOG("round %d: PUT: %s", i,
						 strerror(-ret));
		}
		EXPECT_TRUE(WAIT_UNTIL(!vext_shared_read(page, &s) &&
				       !s.loaded, ASYNC_MS))
			TH_LOG("round %d: still loaded", i);
		EXPECT_EQ(-EINVAL, put(v));
	}
	TH_LOG("PUT after the owner's exit: reaped %d, already released %d",
	       put_ok, put_gone);
	wait_no_users(_metadata);
	snap(_metadata, page, &s);
	EXPECT_EQ(loads, s.loads);
	EXPECT_EQ(0U, s.loaded);
}

static int ioctls_in_child(void *arg)
{
	int *fds = arg;		/* vm, vcpu0, vcpu1 */
	int fails = 0;

#define CHILD_EXPECT(expected, expr) do {				\
	long __e = (expected), __s = (expr);				\
	if (__e != __s) {						\
		fprintf(stderr, "# child: %s: expected %ld, got %ld\n",	\
			#expr, __e, __s);				\
		fails++;						\
	}								\
} while (0)
	CHILD_EXPECT(-EIO, load(fds[1]));
	CHILD_EXPECT(-EIO, put(fds[1]));
	CHILD_EXPECT(-EIO, load(fds[2]));
	CHILD_EXPECT(-EIO, put(fds[2]));
	CHILD_EXPECT(-EIO, vext_get_stats_fd(fds[1]));
	CHILD_EXPECT(-EIO, vext_get_stats_fd(fds[0]));
#undef CHILD_EXPECT
	/* Sleep a little: the child did not inherit a binding to clean up. */
	vext_sleep_ms(20);
	return fails;
}

/* Other processes get EIO; a fork does not inherit the binding. */
TEST_F(pn, other_process)
{
	int fds[3] = { self->vm, self->vcpu[0], self->vcpu[1] };
	struct vext_vcpu_shared s;

	ASSERT_EQ(0, load(self->vcpu[0]));
	EXPECT_EQ(0, vext_run_child(ioctls_in_child, fds));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(1U, s.loaded);
	EXPECT_EQ(1ULL, s.loads);
	EXPECT_EQ(1, users());
	EXPECT_EQ(-EALREADY, load(self->vcpu[0]));
	EXPECT_EQ(0, put(self->vcpu[0]));
	snap(_metadata, self->page[1], &s);
	EXPECT_EQ(0ULL, s.loads);
	EXPECT_EQ(0, users());
}

/* Counters add up over many loads and never go back. */
TEST_F(pn, counters_cumulative)
{
	struct vext_vcpu_shared prev, s;
	int i;

	snap(_metadata, self->page[2], &prev);
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, load(self->vcpu[2])) TH_LOG("round %d", i);
		if (i % 10 == 0)
			vext_sleep_ms(1);
		ASSERT_EQ(0, put(self->vcpu[2])) TH_LOG("round %d", i);
		snap(_metadata, self->page[2], &s);
		EXPECT_EQ((__u64)i + 1, s.loads);
		EXPECT_EQ(0U, s.loaded);
		EXPECT_LE(prev.preempted, s.preempted);
		EXPECT_LE(prev.blocked, s.blocked);
		EXPECT_LE(prev.preempted_ns, s.preempted_ns);
		EXPECT_LE(prev.blocked_ns, s.blocked_ns);
		EXPECT_LE(prev.migrations, s.migrations);
		prev = s;
	}
	/*
	 * Five 1 ms sleeps while loaded, but not five blocks: under TCG the
	 * other vCPU may run while the timer expires, and a sleeper woken
	 * before schedule() does not block (seen: 2 of 5 on a loaded host).
	 */
	EXPECT_LE(1ULL, s.blocked);
	EXPECT_LT(0ULL, s.blocked_ns);
}

/* LOAD pinned, spin until preempted a few times (bounded), PUT. */
static void *job_spin_preempted(void *arg)
{
	struct job *j = arg;
	struct vext_vcpu_shared s;
	__u64 t0, end;

	if (job_pin(j))
		return NULL;
	t0 = vext_now_ns();
	end = t0 + PREEMPT_MS * MS;
	if (job_load(j))
		return NULL;
	ONCE_STORE(j->state, ST_RUNNING);
	do {
		if (job_snap(j, &s))
			return NULL;
		j->progress++;
	} while (s.preempted < j->n && vext_now_ns() < end);
	if (job_put(j) || job_snap(j, &j->snap))
		return NULL;
	j->ns = vext_now_ns() - t0;
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/*
 * Off-CPU time cannot exceed the time the job measured around it (with
 * slack for the two clocks).
 */
static void check_off_time(struct __test_metadata *_metadata,
			   const struct job *j)
{
	__u64 off = j->snap.preempted_ns + j->snap.blocked_ns;

	EXPECT_GE(j->ns + j->ns / 10 + 20 * MS, off)
		TH_LOG("off CPU %llu ns in a %llu ns run",
		       (unsigned long long)off, (unsigned long long)j->ns);
}

/* Two busy threads on one CPU: the loaded one is preempted, not blocked. */
TEST_F(pn, preempted)
{
	struct job spin, j;

	if (self->nr_cpus > 1)
		ASSERT_EQ(0, vext_pin_cpu(1));
	job_init(&spin, -1, NULL, 0);
	job_start(_metadata, &spin, spinner);
	assert_job_state(_metadata, &spin, ST_RUNNING);
	job_init(&j, self->vcpu[0], self->page[0], 0);
	j.n = 5;
	job_start(_metadata, &j, job_spin_preempted);
	job_join(&j);
	ONCE_STORE(spin.cmd, CMD_STOP);
	job_join(&spin);
	expect_job_ok(_metadata, &spin);
	assert_job_state(_metadata, &j, ST_DONE);

	TH_LOG("preempted %llu (%llu ns), blocked %llu (%llu ns) in %llu ms",
	       (unsigned long long)j.snap.preempted,
	       (unsigned long long)j.snap.preempted_ns,
	       (unsigned long long)j.snap.blocked,
	       (unsigned long long)j.snap.blocked_ns,
	       (unsigned long long)(j.ns / MS));
	EXPECT_LE(1ULL, j.snap.preempted);
	EXPECT_LT(0ULL, j.snap.preempted_ns);
	/* It never slept (a stray page fault or kworker aside). */
	EXPECT_GE(2ULL, j.snap.blocked);
	if (!j.snap.blocked)
		EXPECT_EQ(0ULL, j.snap.blocked_ns);
	/* Pinned before LOAD: never switched in elsewhere. */
	EXPECT_EQ(0ULL, j.snap.migrations);
	EXPECT_EQ(0U, j.snap.cpu);
	EXPECT_EQ(1ULL, j.snap.loads);
	EXPECT_EQ(0U, j.snap.loaded);
	check_off_time(_metadata, &j);
	EXPECT_LT(0UL, spin.progress);
}

/* LOAD, sleep j->n x 1 ms, then block j->rfd reads (handshake), PUT. */
static void *job_sleep(void *arg)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	struct job *j = arg;
	unsigned long i;
	__u64 t0;
	char c;

	if (job_pin(j))
		return NULL;
	t0 = vext_now_ns();
	if (job_load(j))
		return NULL;
	ONCE_STORE(j->state, ST_RUNNING);
	for (i = 0; i < j->n; i++)
		nanosleep(&ms, NULL);
	for (i = 0; i < 5; i++) {
		ONCE_STORE(j->progress, i + 1);
		if (read(j->rfd, &c, 1) != 1)
			return job_failed(j, -errno, "read from the pipe");
	}
	if (job_put(j) || job_snap(j, &j->snap))
		return NULL;
	j->ns = vext_now_ns() - t0;
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/* A sleeping thread counts blocked switches, not preemptions. */
TEST_F(pn, blocked)
{
	int pipefd[2], cpu = self->nr_cpus > 1 ? 1 : 0;
	unsigned long i;
	struct job j;

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	if (self->nr_cpus > 1)
		ASSERT_EQ(0, vext_pin_cpu(0));
	job_init(&j, self->vcpu[1], self->page[1], cpu);
	j.n = 100;
	j.rfd = pipefd[0];
	job_start(_metadata, &j, job_sleep);
	/* Five reads that block: the byte comes 10 ms after the read began. */
	for (i = 1; i <= 5; i++) {
		EXPECT_TRUE(WAIT_UNTIL(ONCE_LOAD(j.progress) == i ||
				       ONCE_LOAD(j.state) == ST_FAILED,
				       ASYNC_MS));
		vext_sleep_ms(10);
		ASSERT_EQ(1, write(pipefd[1], "x", 1));
	}
	job_join(&j);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_job_state(_metadata, &j, ST_DONE);

	TH_LOG("blocked %llu (%llu ns), preempted %llu (%llu ns) in %llu ms",
	       (unsigned long long)j.snap.blocked,
	       (unsigned long long)j.snap.blocked_ns,
	       (unsigned long long)j.snap.preempted,
	       (unsigned long long)j.snap.preempted_ns,
	       (unsigned long long)(j.ns / MS));
	/*
	 * The 5 pipe reads always block; a 1 ms nanosleep does not when the
	 * timer fires before schedule() (TCG, loaded host: 104 of 105 seen).
	 */
	EXPECT_LE(95ULL, j.snap.blocked);
	EXPECT_LE(50 * MS, j.snap.blocked_ns);
	EXPECT_GE(20ULL, j.snap.preempted);
	EXPECT_EQ(0ULL, j.snap.migrations);
	EXPECT_EQ((__u32)cpu, j.snap.cpu);
	EXPECT_EQ(1ULL, j.snap.loads);
	EXPECT_EQ(0U, j.snap.loaded);
	check_off_time(_metadata, &j);
}

#define MIGRATE_ROUNDS	3

/* LOAD on CPU0, then CPU1 and back MIGRATE_ROUNDS times, checking each. */
static void *job_migrate(void *arg)
{
	struct job *j = arg;
	struct vext_vcpu_shared s;
	__u64 want = 0;
	int r, k;

	if (job_pin(j) || job_load(j) || job_snap(j, &s))
		return NULL;
	if (s.cpu != 0 || s.migrations)
		return job_failed(j, 0, "after LOAD on CPU0: cpu %u migrations %llu",
				  s.cpu, (unsigned long long)s.migrations);
	for (r = 0; r < MIGRATE_ROUNDS; r++) {
		for (k = 1; k >= 0; k--) {
			int cpu = k, ret = vext_pin_cpu(cpu);

			if (ret)
				return job_failed(j, ret, "pinning to CPU%d", cpu);
			if (sched_getcpu() != cpu)
				return job_failed(j, 0, "runs on CPU%d, not %d",
						  sched_getcpu(), cpu);
			want++;
			if (job_snap(j, &s))
				return NULL;
			if (s.cpu != (__u32)cpu || s.migrations != want)
				return job_failed(j, 0,
						  "moved to CPU%d (move %llu): cpu %u migrations %llu",
						  cpu, (unsigned long long)want,
						  s.cpu,
						  (unsigned long long)s.migrations);
		}
	}
	if (job_put(j) || job_snap(j, &j->snap))
		return NULL;
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/* Moving the loaded thread between CPUs counts migrations. */
TEST_F(pn, migrations)
{
	struct job j;

	if (self->nr_cpus < 2)
		SKIP(return, "needs two CPUs");
	job_init(&j, self->vcpu[2], self->page[2], 0);
	job_start(_metadata, &j, job_migrate);
	job_join(&j);
	expect_job_ok(_metadata, &j);
	EXPECT_EQ(2ULL * MIGRATE_ROUNDS, j.snap.migrations);
	EXPECT_EQ(0U, j.snap.cpu);
	/* Each move preempted it once at least (the migration stopper). */
	EXPECT_LE(2ULL * MIGRATE_ROUNDS, j.snap.preempted);
}

/*
 * LOAD pinned, then follow the test thread's commands: spin (RUNNING),
 * CMD_PHASE1 sleep loaded (PHASE1), CMD_PHASE2 spin loaded (PHASE2),
 * CMD_PHASE3 PUT and spin unloaded (PHASE3), CMD_STOP exit.
 */
static void *job_running(void *arg)
{
	struct timespec ms5 = { .tv_nsec = 5000000 };
	struct job *j = arg;

	if (job_pin(j) || job_load(j))
		return NULL;
	ONCE_STORE(j->state, ST_RUNNING);
	while (ONCE_LOAD(j->cmd) < CMD_PHASE1)
		j->progress++;
	ONCE_STORE(j->state, ST_PHASE1);
	while (ONCE_LOAD(j->cmd) < CMD_PHASE2)
		nanosleep(&ms5, NULL);
	ONCE_STORE(j->state, ST_PHASE2);
	while (ONCE_LOAD(j->cmd) < CMD_PHASE3)
		j->progress++;
	if (job_put(j))
		return NULL;
	ONCE_STORE(j->state, ST_PHASE3);
	while (ONCE_LOAD(j->cmd) < CMD_STOP)
		j->progress++;
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/*
 * Read running_vcpu: 1 if @cpu shows @domid/@vcpu_id, 0 if it shows "-",
 * 2 for another vCPU, -errno if unreadable. Also checks the whole file:
 * one line per possible CPU, in order, and @quiet_cpu (the CPU the reader
 * runs on, -1 for none) shows "-".
 */
static int running_on(struct __test_metadata *_metadata, int cpu, int domid,
		      int vcpu_id, int quiet_cpu)
{
	struct vext_running_vcpu lines[256];
	int n = vext_debugfs_running(lines, ARRAY_SIZE(lines));
	int i, possible = vext_nr_possible_cpus();

	if (n < 0)
		return n;
	EXPECT_EQ(possible, n);
	for (i = 0; i < n; i++) {
		int line_cpu = lines[i].cpu;

		EXPECT_EQ(i, line_cpu) TH_LOG("line %d", i);
	}
	if (cpu >= n || (quiet_cpu >= 0 && quiet_cpu >= n))
		return -ENOENT;
	if (quiet_cpu >= 0) {
		EXPECT_FALSE(lines[quiet_cpu].loaded)
			TH_LOG("cpu%d (the reader's) shows %d %d", quiet_cpu,
			       lines[quiet_cpu].domid, lines[quiet_cpu].vcpu_id);
	}
	if (!lines[cpu].loaded)
		return 0;
	return lines[cpu].domid == domid && lines[cpu].vcpu_id == vcpu_id ?
	       1 : 2;
}

/* Poll running_on() until it returns @want (bounded): its last result. */
static int wait_running(struct __test_metadata *_metadata, int cpu,
			int domid, int vcpu_id, int quiet_cpu, int want)
{
	__u64 end = vext_now_ns() + ASYNC_MS * MS;
	int ret;

	for (;;) {
		ret = running_on(_metadata, cpu, domid, vcpu_id, quiet_cpu);
		if (ret == want || vext_now_ns() > end)
			return ret;
		vext_sleep_ms(1);
	}
}

/* The running-vCPU pointer of each CPU, as debugfs shows it. */
TEST_F(pn, running_vcpu)
{
	int cpu;

	if (self->nr_cpus < 2)
		SKIP(return, "needs two CPUs");
	for (cpu = 0; cpu < 2; cpu++) {
		int other = !cpu, id = 2 + cpu, i, ret = -1;
		struct job j;

		/* The reader sits on the other CPU. */
		ASSERT_EQ(0, vext_pin_cpu(other));
		job_init(&j, self->vcpu[id], self->page[id], cpu);
		job_start(_metadata, &j, job_running);
		assert_job_state(_metadata, &j, ST_RUNNING);

		/* Spinning loaded: shown (a kworker may interrupt it). */
		ret = wait_running(_metadata, cpu, self->domid, id, other, 1);
		EXPECT_EQ(1, ret) TH_LOG("cpu%d while vCPU %d spins there",
					 cpu, id);

		/* Sleeping loaded: not running, so not shown. */
		ASSERT_TRUE(job_cmd(&j, CMD_PHASE1, ST_PHASE1));
		ret = wait_running(_metadata, cpu, self->domid, id, other, 0);
		EXPECT_EQ(0, ret) TH_LOG("cpu%d while vCPU %d sleeps", cpu, id);

		ASSERT_TRUE(job_cmd(&j, CMD_PHASE2, ST_PHASE2));
		ret = wait_running(_metadata, cpu, self->domid, id, other, 1);
		EXPECT_EQ(1, ret) TH_LOG("cpu%d while vCPU %d spins again",
					 cpu, id);

		/* After PUT: never shown again, though the thread spins on. */
		ASSERT_TRUE(job_cmd(&j, CMD_PHASE3, ST_PHASE3));
		for (i = 0; i < 20; i++) {
			ret = running_on(_metadata, cpu, self->domid, id, other);
			EXPECT_EQ(0, ret) TH_LOG("cpu%d after PUT, read %d",
						 cpu, i);
			vext_sleep_ms(1);
		}
		ASSERT_TRUE(job_cmd(&j, CMD_STOP, ST_DONE));
		job_join(&j);
		expect_job_ok(_metadata, &j);
	}
}

/* The per-CPU counters in debugfs, before and after. */
struct pcpu_stats {
	__u64 vcpu_loads;
	__u64 vcpu_puts;
	__u64 sched_out_preempted;
	__u64 sched_out_blocked;
	__u64 sched_in;
	__u64 migrations;
};

static void read_pcpu_stats(struct __test_metadata *_metadata,
			    struct pcpu_stats *st)
{
	read_stat(_metadata, "vcpu_loads", &st->vcpu_loads);
	read_stat(_metadata, "vcpu_puts", &st->vcpu_puts);
	read_stat(_metadata, "sched_out_preempted", &st->sched_out_preempted);
	read_stat(_metadata, "sched_out_blocked", &st->sched_out_blocked);
	read_stat(_metadata, "sched_in", &st->sched_in);
	read_stat(_metadata, "migrations", &st->migrations);
}

/* Preemptions, sleeps and (with two CPUs) moves while loaded, then PUT. */
static void *job_mixed(void *arg)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	struct vext_vcpu_shared s;
	struct job *j = arg;
	__u64 end;
	int i;

	if (job_pin(j) || job_load(j))
		return NULL;
	end = vext_now_ns() + PREEMPT_MS * MS;
	do {
		if (job_snap(j, &s))
			return NULL;
	} while (s.preempted < 3 && vext_now_ns() < end);
	for (i = 0; i < 20; i++)
		nanosleep(&ms, NULL);
	if (j->n > 1) {
		int ret = vext_pin_cpu(1);

		if (!ret)
			ret = vext_pin_cpu(0);
		if (ret)
			return job_failed(j, ret, "moving between CPUs");
	}
	if (job_put(j) || job_snap(j, &j->snap))
		return NULL;
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/* The per-CPU counters count exactly what the vCPU's page counts. */
TEST_F(pn, stats_match_page)
{
	struct pcpu_stats a, b;
	struct job spin, j;

	if (self->nr_cpus > 1)
		ASSERT_EQ(0, vext_pin_cpu(1));
	read_pcpu_stats(_metadata, &a);
	job_init(&spin, -1, NULL, 0);
	job_start(_metadata, &spin, spinner);
	assert_job_state(_metadata, &spin, ST_RUNNING);
	job_init(&j, self->vcpu[3], self->page[3], 0);
	j.n = self->nr_cpus;
	job_start(_metadata, &j, job_mixed);
	job_join(&j);
	ONCE_STORE(spin.cmd, CMD_STOP);
	job_join(&spin);
	assert_job_state(_metadata, &j, ST_DONE);
	read_pcpu_stats(_metadata, &b);

	TH_LOG("page: preempted %llu blocked %llu migrations %llu",
	       (unsigned long long)j.snap.preempted,
	       (unsigned long long)j.snap.blocked,
	       (unsigned long long)j.snap.migrations);
	EXPECT_LE(1ULL, j.snap.preempted);
	/*
	 * Each of the 20 sleeps blocks, unless the thread is preempted between
	 * setting its sleep state and schedule() and its timer fires before it
	 * runs again: that sleep is then one preemption and no block (seen on
	 * PREEMPT_RT).
	 */
	EXPECT_LE(20ULL, j.snap.blocked + j.snap.preempted);
	if (self->nr_cpus > 1)
		EXPECT_EQ(2ULL, j.snap.migrations);
	EXPECT_EQ(1ULL, b.vcpu_loads - a.vcpu_loads);
	EXPECT_EQ(1ULL, b.vcpu_puts - a.vcpu_puts);
	EXPECT_EQ(j.snap.preempted, b.sched_out_preempted - a.sched_out_preempted);
	EXPECT_EQ(j.snap.blocked, b.sched_out_blocked - a.sched_out_blocked);
	EXPECT_EQ(j.snap.migrations, b.migrations - a.migrations);
	/* Every switch-out while loaded was followed by a switch-in. */
	EXPECT_EQ(j.snap.preempted + j.snap.blocked, b.sched_in - a.sched_in);
}

#define SUM_N	1000

/* Wait for CMD_GO, then j->n LOAD/PUT pairs on j->cpu. */
static void *job_load_put_loop(void *arg)
{
	struct job *j = arg;
	unsigned long i;

	if (job_pin(j))
		return NULL;
	ONCE_STORE(j->state, ST_RUNNING);
	while (ONCE_LOAD(j->cmd) < CMD_GO)
		sched_yield();
	for (i = 0; i < j->n; i++) {
		if (job_load(j) || job_put(j))
			return NULL;
	}
	if (j->cpu >= 0 && sched_getcpu() != j->cpu)
		return job_failed(j, 0, "left CPU%d", j->cpu);
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

/* N LOAD/PUT pairs on each CPU add exactly N x CPUs to the sums. */
TEST_F_TIMEOUT(pn, percpu_sum_exact, 120)
{
	int nr = self->nr_cpus, i, *vcpu;
	struct vext_vcpu_shared **page, s;
	struct pcpu_stats a, b;
	struct job *j;

	j = calloc(nr, sizeof(*j));
	vcpu = calloc(nr, sizeof(*vcpu));
	page = calloc(nr, sizeof(*page));
	ASSERT_TRUE(j && vcpu && page);
	for (i = 0; i < nr; i++) {
		vcpu[i] = create_vcpu(_metadata, self->vm, 100 + i);
		page[i] = map_shared(_metadata, vcpu[i]);
	}
	read_pcpu_stats(_metadata, &a);
	for (i = 0; i < nr; i++) {
		job_init(&j[i], vcpu[i], page[i], i);
		j[i].n = SUM_N;
		job_start(_metadata, &j[i], job_load_put_loop);
	}
	for (i = 0; i < nr; i++)
		assert_job_state(_metadata, &j[i], ST_RUNNING);
	for (i = 0; i < nr; i++)
		ONCE_STORE(j[i].cmd, CMD_GO);
	for (i = 0; i < nr; i++) {
		job_join(&j[i]);
		expect_job_ok(_metadata, &j[i]);
	}
	read_pcpu_stats(_metadata, &b);
	EXPECT_EQ((__u64)SUM_N * nr, b.vcpu_loads - a.vcpu_loads);
	EXPECT_EQ((__u64)SUM_N * nr, b.vcpu_puts - a.vcpu_puts);
	for (i = 0; i < nr; i++) {
		snap(_metadata, page[i], &s);
		EXPECT_EQ((__u64)SUM_N, s.loads) TH_LOG("CPU%d", i);
		EXPECT_EQ(0U, s.loaded);
		vext_unmap_shared(page[i]);
		close(vcpu[i]);
	}
	EXPECT_EQ(0, users());
	free(j);
	free(vcpu);
	free(page);
}

/* ---- the static key: key_off_delay_ms = 0 ------------------------------ */

FIXTURE(pn_key) {
	int dev;
	int vm;
	int vcpu[2];
	struct vext_vcpu_shared *page[2];
};

FIXTURE_SETUP(pn_key)
{
	int i;

	self->dev = -1;
	self->vm = -1;
	self->vcpu[0] = -1;
	self->vcpu[1] = -1;
	load_suite(_metadata);
	set_key_off_delay(_metadata, 0);
	wait_no_users(_metadata);
	wait_key_off(_metadata);
	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	for (i = 0; i < 2; i++) {
		self->vcpu[i] = create_vcpu(_metadata, self->vm, i);
		self->page[i] = map_shared(_metadata, self->vcpu[i]);
	}
}

FIXTURE_TEARDOWN(pn_key)
{
	int i;

	for (i = 0; i < 2; i++) {
		vext_unmap_shared(self->page[i]);
		close_fd(&self->vcpu[i]);
	}
	close_fd(&self->vm);
	close_fd(&self->dev);
	vext_param_write(VEXT_PN_MODULE, "key_off_delay_ms", "1000");
}

/* Off with no users; a VM and vCPUs alone do not turn it on. */
TEST_F(pn_key, idle)
{
	char buf[16];

	EXPECT_EQ(2, vext_debugfs_read("pn_key", buf, sizeof(buf)));
	EXPECT_STREQ("0\n", buf);
	EXPECT_EQ(2, vext_debugfs_read("pn_users", buf, sizeof(buf)));
	EXPECT_STREQ("0\n", buf);
}

TEST_F(pn_key, load_put)
{
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, load(self->vcpu[0]));
		EXPECT_EQ(1, key_state()) TH_LOG("round %d", i);
		EXPECT_EQ(1, users());
		ASSERT_EQ(0, put(self->vcpu[0]));
		EXPECT_EQ(0, users());
		EXPECT_TRUE(WAIT_UNTIL(key_state() == 0, ASYNC_MS))
			TH_LOG("round %d: key still %d", i, key_state());
	}
}

/* On while any user is left. */
TEST_F(pn_key, two_users)
{
	struct agent a;
	int i;

	agent_start(_metadata, &a);
	ASSERT_EQ(0, load(self->vcpu[0]));
	ASSERT_EQ(0, agent_ioctl(&a, self->vcpu[1], VEXT_VCPU_LOAD));
	EXPECT_EQ(2, users());
	EXPECT_EQ(1, key_state());
	EXPECT_EQ(0, put(self->vcpu[0]));
	EXPECT_EQ(1, users());
	for (i = 0; i < 20; i++) {
		EXPECT_EQ(1, key_state()) TH_LOG("read %d", i);
		vext_sleep_ms(5);
	}
	EXPECT_EQ(0, agent_ioctl(&a, self->vcpu[1], VEXT_VCPU_PUT));
	EXPECT_EQ(0, users());
	EXPECT_TRUE(WAIT_UNTIL(key_state() == 0, ASYNC_MS));
	agent_stop(&a);
}

/* A loaded thread that exits (spinning or sleeping until then). */
TEST_F(pn_key, thread_exit)
{
	struct vext_vcpu_shared s;
	int i;

	for (i = 0; i < 2; i++) {
		struct job j;

		job_init(&j, self->vcpu[i], self->page[i], -1);
		j.n = i;	/* 0: spins, 1: sleeps */
		j.rfd = -2;	/* exit loaded */
		job_start(_metadata, &j, job_hold);
		assert_job_state(_metadata, &j, ST_RUNNING);
		EXPECT_EQ(1, users());
		EXPECT_EQ(1, key_state());
		vext_sleep_ms(20);
		ONCE_STORE(j.cmd, CMD_STOP);
		job_join(&j);
		assert_job_state(_metadata, &j, ST_DONE);
		EXPECT_TRUE(WAIT_UNTIL(!vext_shared_read(self->page[i], &s) &&
				       !s.loaded, ASYNC_MS))
			TH_LOG("vCPU %d still loaded", i);
		wait_no_users(_metadata);
		EXPECT_TRUE(WAIT_UNTIL(key_state() == 0, ASYNC_MS))
			TH_LOG("key %d after the %s thread exited", key_state(),
			       i ? "sleeping" : "spinning");
		/* And the vCPU is free for this thread. */
		EXPECT_EQ(0, load(self->vcpu[i]));
		EXPECT_EQ(0, put(self->vcpu[i]));
	}
}

static int child_loaded;

/* A thread of the child: LOAD, then spin or sleep forever. */
static void *child_thread(void *arg)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	long v = (long)arg;
	int fd = v >> 1;

	if (load(fd))
		_exit(10);
	__atomic_fetch_add(&child_loaded, 1, __ATOMIC_SEQ_CST);
	for (;;)
		if (v & 1)
			nanosleep(&ms, NULL);
}

/*
 * The child of the kill tests: its own VM with two vCPUs loaded by two
 * threads (one spins, one sleeps); writes 'R' to @wfd once both are loaded,
 * then waits to be killed (@how == 0) or exits by itself (@how == 1).
 */
static void child_load_two(int wfd, int how)
{
	pthread_t t;
	int dev, vm, v0, v1;

	dev = vext_dev_open();
	if (dev < 0)
		_exit(11);
	vm = vext_create_vm(dev);
	if (vm < 0)
		_exit(12);
	v0 = vext_create_vcpu(vm, 0);
	v1 = vext_create_vcpu(vm, 1);
	if (v0 < 0 || v1 < 0)
		_exit(13);
	if (pthread_create(&t, NULL, child_thread, (void *)(long)(v0 << 1)) ||
	    pthread_create(&t, NULL, child_thread,
			   (void *)(long)((v1 << 1) | 1)))
		_exit(14);
	while (__atomic_load_n(&child_loaded, __ATOMIC_SEQ_CST) < 2)
		sched_yield();
	/*
	 * A parent that does not wait for "ready" has closed its end: EPIPE
	 * (SIGPIPE is ignored) is fine then, the child must stay loaded until
	 * the parent's SIGKILL.
	 */
	if (write(wfd, "R", 1) != 1 && errno != EPIPE)
		_exit(15);
	if (how == 1) {
		vext_sleep_ms(10);
		_exit(0);	/* exit_group with both threads loaded */
	}
	for (;;)
		pause();
}

/*
 * Fork a child_load_two() child. Returns its pid; *@ready is true once it
 * reported both vCPUs loaded (when @wait_ready), else the child is still
 * setting up (or failed: its exit code tells).
 */
static pid_t fork_loader(struct __test_metadata *_metadata, int how,
			 bool wait_ready, bool *ready)
{
	struct pollfd pfd;
	int p[2];
	pid_t pid;
	char c = 0;

	*ready = false;
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		child_load_two(p[1], how);
		_exit(16);
	}
	close(p[1]);
	if (wait_ready) {
		pfd.fd = p[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 10000) == 1 && read(p[0], &c, 1) == 1 &&
		    c == 'R')
			*ready = true;
	}
	close(p[0]);
	return pid;
}

/* Wait for @pid: its exit code, or 128 + signal. */
static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	       128 + WTERMSIG(status);
}

/* kill -9 of a process with two loaded vCPUs. */
TEST_F(pn_key, kill)
{
	bool ready;
	pid_t pid;

	pid = fork_loader(_metadata, 0, true, &ready);
	EXPECT_TRUE(ready);
	if (ready) {
		EXPECT_EQ(2, users());
		EXPECT_EQ(1, key_state());
	}
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, reap(pid));
	wait_no_users(_metadata);
	EXPECT_TRUE(WAIT_UNTIL(key_state() == 0, ASYNC_MS))
		TH_LOG("key %d after the kill", key_state());
}

/* A process that exits with two loaded vCPUs. */
TEST_F(pn_key, process_exit)
{
	bool ready;
	pid_t pid;

	pid = fork_loader(_metadata, 1, true, &ready);
	EXPECT_TRUE(ready);
	EXPECT_EQ(0, reap(pid));
	wait_no_users(_metadata);
	EXPECT_TRUE(WAIT_UNTIL(key_state() == 0, ASYNC_MS))
		TH_LOG("key %d after the exit", key_state());
}

/* Destroying the VM under a loaded (and still living) thread. */
TEST_F(pn_key, vm_destroyed)
{
	struct vext_vcpu_shared s;
	int vm, vcpu;

	vm = create_vm(_metadata, self->dev);
	vcpu = create_vcpu(_metadata, vm, 0);
	ASSERT_EQ(0, load(vcpu));
	EXPECT_EQ(1, users());
	EXPECT_EQ(1, key_state());
	close(vcpu);
	close(vm);
	wait_no_users(_metadata);
	EXPECT_TRUE(WAIT_UNTIL(key_state() == 0, ASYNC_MS))
		TH_LOG("key %d after the VM went", key_state());
	vext_sleep_ms(10);	/* switches with no binding left */
	/* The thread holds nothing any more: it may load another vCPU. */
	ASSERT_EQ(0, load(self->vcpu[0]));
	snap(_metadata, self->page[0], &s);
	EXPECT_EQ(1U, s.loaded);
	EXPECT_EQ(1, users());
	EXPECT_EQ(0, put(self->vcpu[0]));
}

/* key_off_delay_ms keeps the key on for that long after the last PUT. */
TEST_F(pn_key, off_delay)
{
	__u64 t0, waited;

	set_key_off_delay(_metadata, 2000);
	ASSERT_EQ(0, load(self->vcpu[0]));
	ASSERT_EQ(0, put(self->vcpu[0]));
	EXPECT_EQ(0, users());
	EXPECT_EQ(1, key_state());
	/* Loads within the delay find it on. */
	ASSERT_EQ(0, load(self->vcpu[0]));
	EXPECT_EQ(1, key_state());
	ASSERT_EQ(0, put(self->vcpu[0]));
	t0 = vext_now_ns();
	vext_sleep_ms(500);
	EXPECT_EQ(1, key_state()) TH_LOG("off 500 ms into a 2000 ms delay");
	EXPECT_TRUE(WAIT_UNTIL(key_state() == 0, 2000 + ASYNC_MS));
	waited = vext_now_ns() - t0;
	TH_LOG("key off %llu ms after the last PUT",
	       (unsigned long long)(waited / MS));
	EXPECT_LE(1500 * MS, waited);
	set_key_off_delay(_metadata, 0);
}

/* ---- lifetime: fds closed under a loaded thread, then unload ------------ */

FIXTURE(lifetime) {
	int dev;
};

FIXTURE_VARIANT(lifetime) {
	bool sleeping;		/* the loaded thread sleeps, else it spins */
	bool mapped;		/* a mapping keeps the VM alive for a while */
};

FIXTURE_VARIANT_ADD(lifetime, spinning) {
	.sleeping = false, .mapped = false,
};

FIXTURE_VARIANT_ADD(lifetime, sleeping) {
	.sleeping = true, .mapped = false,
};

FIXTURE_VARIANT_ADD(lifetime, spinning_mapped) {
	.sleeping = false, .mapped = true,
};

FIXTURE_VARIANT_ADD(lifetime, sleeping_mapped) {
	.sleeping = true, .mapped = true,
};

FIXTURE_SETUP(lifetime)
{
	self->dev = -1;
	load_suite(_metadata);
	set_key_off_delay(_metadata, 0);
	wait_no_users(_metadata);
	wait_key_off(_metadata);
	self->dev = open_dev(_metadata);
}

FIXTURE_TEARDOWN(lifetime)
{
	close_fd(&self->dev);
}

/*
 * A thread is loaded; another thread closes its vCPU and VM fds. The loaded
 * thread keeps running; once the VM is gone so is the binding, the key
 * turns off and every module unloads, with the thread still running.
 */
TEST_F(lifetime, close_under_loaded_thread)
{
	struct vext_vcpu_shared *map = NULL, s, s2;
	unsigned long p0;
	int vm, vcpu0, vcpu1;
	struct job j;

	vm = create_vm(_metadata, self->dev);
	vcpu0 = create_vcpu(_metadata, vm, 0);
	vcpu1 = create_vcpu(_metadata, vm, 1);
	map = map_shared(_metadata, vcpu0);
	close_fd(&self->dev);

	job_init(&j, vcpu0, map, -1);
	j.n = variant->sleeping;
	j.rfd = -2;		/* never PUT: the fd will be gone */
	job_start(_metadata, &j, job_hold);
	assert_job_state(_metadata, &j, ST_RUNNING);
	EXPECT_EQ(1, users());
	EXPECT_EQ(1, key_state());
	if (!variant->mapped) {
		vext_unmap_shared(map);
		map = NULL;
	}

	close(vcpu1);
	close(vcpu0);
	close(vm);

	if (variant->mapped) {
		/* The mapping keeps the VM, so the binding lives on. */
		snap(_metadata, map, &s);
		EXPECT_EQ(1U, s.loaded);
		EXPECT_EQ(1, users());
		if (variant->sleeping) {
			EXPECT_TRUE(WAIT_UNTIL(!vext_shared_read(map, &s2) &&
					       s2.blocked > s.blocked + 5,
					       ASYNC_MS))
				TH_LOG("counters stopped with the fds closed");
		}
		vext_unmap_shared(map);
		map = NULL;
	}
	wait_no_users(_metadata);
	EXPECT_TRUE(WAIT_UNTIL(key_state() == 0, ASYNC_MS))
		TH_LOG("key %d after the VM went", key_state());

	/* The thread runs on, and on after every module is gone. */
	p0 = ONCE_LOAD(j.progress);
	EXPECT_TRUE(WAIT_UNTIL(ONCE_LOAD(j.progress) > p0 + 10, ASYNC_MS));
	unload_suite(_metadata, true);
	p0 = ONCE_LOAD(j.progress);
	EXPECT_TRUE(WAIT_UNTIL(ONCE_LOAD(j.progress) > p0 + 10, ASYNC_MS));
	vext_sleep_ms(100);
	ONCE_STORE(j.cmd, CMD_STOP);
	job_join(&j);
	expect_job_ok(_metadata, &j);
}

/* ---- stress ------------------------------------------------------------ */

FIXTURE(stress) {
	int dev;
	int vm;
	int domid;
	int vcpu[NR_VCPUS];
	struct vext_vcpu_shared *page[NR_VCPUS];
};

FIXTURE_SETUP(stress)
{
	int i;

	self->dev = -1;
	self->vm = -1;
	for (i = 0; i < NR_VCPUS; i++)
		self->vcpu[i] = -1;
	load_suite(_metadata);
	wait_no_users(_metadata);
	self->dev = open_dev(_metadata);
	self->vm = create_vm(_metadata, self->dev);
	self->domid = get_domid(_metadata, self->vm);
	for (i = 0; i < NR_VCPUS; i++) {
		self->vcpu[i] = create_vcpu(_metadata, self->vm, i);
		self->page[i] = map_shared(_metadata, self->vcpu[i]);
	}
}

FIXTURE_TEARDOWN(stress)
{
	int i;

	for (i = 0; i < NR_VCPUS; i++) {
		vext_unmap_shared(self->page[i]);
		close_fd(&self->vcpu[i]);
	}
	close_fd(&self->vm);
	close_fd(&self->dev);
}

#define STRESS_N	2000
#define STRESS_KILLS	20

/* j->n LOAD/PUT cycles, yielding or sleeping while loaded now and then. */
static void *job_stress(void *arg)
{
	struct timespec us = { .tv_nsec = 100000 };
	struct job *j = arg;
	unsigned long i;

	if (job_pin(j))
		return NULL;
	ONCE_STORE(j->state, ST_RUNNING);
	for (i = 0; i < j->n; i++) {
		if (job_load(j))
			return NULL;
		if (i % 50 == 0)
			sched_yield();
		if (i % 200 == 0)
			nanosleep(&us, NULL);
		if (job_put(j))
			return NULL;
		ONCE_STORE(j->progress, i + 1);
	}
	ONCE_STORE(j->state, ST_DONE);
	return NULL;
}

TEST_F_TIMEOUT(stress, load_put_kill, 200)
{
	int nr = vext_nr_cpus(), i, reads = 0, done;
	struct job spin[2], j[NR_VCPUS];
	struct vext_vcpu_shared s;
	int kills = 0, early = 0;

	/* Two spinners preempt four LOAD/PUT loops. */
	for (i = 0; i < 2; i++) {
		job_init(&spin[i], -1, NULL, i % nr);
		job_start(_metadata, &spin[i], spinner);
	}
	for (i = 0; i < NR_VCPUS; i++) {
		/* Two pinned, two free to migrate. */
		job_init(&j[i], self->vcpu[i], self->page[i],
			 i < 2 ? i % nr : -1);
		j[i].n = STRESS_N;
		job_start(_metadata, &j[i], job_stress);
	}
	/* Meanwhile the debugfs files stay well-formed and plausible. */
	do {
		struct vext_running_vcpu lines[256];
		int n, k;
		__u64 v;

		n = vext_debugfs_running(lines, ARRAY_SIZE(lines));
		ASSERT_LT(0, n) TH_LOG("running_vcpu: %s", strerror(-n));
		for (k = 0; k < n; k++) {
			if (!lines[k].loaded)
				continue;
			EXPECT_EQ(self->domid, lines[k].domid);
			EXPECT_GT(NR_VCPUS, lines[k].vcpu_id);
		}
		read_stat(_metadata, "vcpu_loads", &v);
		ASSERT_LE(0, users());
		ASSERT_LE(0, key_state());
		reads++;
		vext_sleep_ms(2);
		done = 0;
		for (k = 0; k < NR_VCPUS; k++)
			done += ONCE_LOAD(j[k].state) >= ST_DONE;
	} while (done < NR_VCPUS);
	for (i = 0; i < NR_VCPUS; i++) {
		job_join(&j[i]);
		expect_job_ok(_metadata, &j[i]);
		snap(_metadata, self->page[i], &s);
		EXPECT_EQ((__u64)STRESS_N, s.loads) TH_LOG("vCPU %d", i);
		EXPECT_EQ(0U, s.loaded);
	}
	for (i = 0; i < 2; i++) {
		ONCE_STORE(spin[i].cmd, CMD_STOP);
		job_join(&spin[i]);
	}
	EXPECT_EQ(0, users());
	TH_LOG("%d debugfs reads during the LOAD/PUT loops", reads);

	/* kill -9 of processes with loaded vCPUs, at all stages. */
	for (i = 0; i < STRESS_KILLS; i++) {
		bool wait_ready = i % 4 != 3, ready;
		pid_t pid = fork_loader(_metadata, 0, wait_ready, &ready);
		int ret;

		if (!wait_ready)
			vext_sleep_ms(i % 3);
		EXPECT_TRUE(ready || !wait_ready) TH_LOG("child %d not ready", i);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ret = reap(pid);
		EXPECT_EQ(128 + SIGKILL, ret) TH_LOG("child %d", i);
		if (ready)
			kills++;
		else
			early++;
	}
	TH_LOG("%d children killed loaded, %d during setup", kills, early);

	/* Everything goes: bindings, the key, the modules. */
	for (i = 0; i < NR_VCPUS; i++) {
		vext_unmap_shared(self->page[i]);
		self->page[i] = NULL;
		close_fd(&self->vcpu[i]);
	}
	close_fd(&self->vm);
	close_fd(&self->dev);
	wait_no_users(_metadata);
	wait_key_off(_metadata);
	unload_suite(_metadata, true);
}

/* ---- module loading and unloading -------------------------------------- */

FIXTURE(unload) {
	int unused;
};

FIXTURE_SETUP(unload)
{
	int ret = vext_debugfs_mount();

	/* Nothing may be loaded yet: only a failed mount matters here. */
	ASSERT_TRUE(!ret || ret == -ENOENT) TH_LOG("debugfs: %s",
						   strerror(-ret));
}

FIXTURE_TEARDOWN(unload)
{
}

/* A freshly loaded vext_pn: defaults, key off, counters at zero. */
TEST_F(unload, fresh_load)
{
	static const char * const names[] = {
		"vcpu_loads", "vcpu_puts", "sched_out_preempted",
		"sched_out_blocked", "sched_in", "migrations",
	};
	unsigned int i;
	__u64 v;

	unload_suite(_metadata, true);
	load_suite(_metadata);
	EXPECT_EQ(DEFAULT_KEY_OFF_DELAY_MS, key_off_delay(_metadata));
	EXPECT_EQ(0, key_state());
	EXPECT_EQ(0, users());
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		v = ~0ULL;
		read_stat(_metadata, names[i], &v);
		EXPECT_EQ(0ULL, v) TH_LOG("%s", names[i]);
	}
}

/* A VM pins vext_pn (and so everything) while it lives, loaded or not. */
TEST_F(unload, in_use)
{
	int dev, vm, vcpu;
	unsigned int i;

	load_suite(_metadata);
	dev = open_dev(_metadata);
	vm = create_vm(_metadata, dev);
	vcpu = create_vcpu(_metadata, vm, 0);
	close(dev);
	ASSERT_EQ(0, load(vcpu));
	for (i = 0; i < ARRAY_SIZE(suite); i++) {
		const char *name = suite[i];

		EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(name))
			TH_LOG("%s while loaded", name);
	}
	EXPECT_EQ(0, put(vcpu));
	for (i = 0; i < ARRAY_SIZE(suite); i++) {
		const char *name = suite[i];

		EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(name))
			TH_LOG("%s with fds open", name);
	}
	close(vm);
	EXPECT_EQ(VEXT_MOD_IN_USE, vext_mod_remove(VEXT_PN_MODULE));
	close(vcpu);
	/* Nothing asynchronous is pending after a PUT: no retries. */
	unload_suite(_metadata, false);
}

/*
 * The bound thread's own PUT frees the binding before it returns: nothing
 * of it pins vext_pn afterwards, and the last close lets every module go.
 * SCHED_FIFO on CPU 0, so that a work item queued there could not run
 * before the check. Regression test: the free went through vext_pn's
 * workqueue, and on PREEMPT_RT an rmmod right after the last close failed
 * with EWOULDBLOCK now and then (unload.late_component).
 */
TEST_F(unload, put_unpins_at_once)
{
	struct sched_param fifo = { .sched_priority = 1 }, other = { 0 };
	int dev, vm, vcpu, before, loaded, after;

	load_suite(_metadata);
	dev = open_dev(_metadata);
	vm = create_vm(_metadata, dev);
	vcpu = create_vcpu(_metadata, vm, 0);
	close(dev);
	ASSERT_EQ(0, vext_pin_cpu(0));
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO, &fifo))
		TH_LOG("SCHED_FIFO: %s", strerror(errno));
	before = vext_mod_refcnt(VEXT_PN_MODULE);
	ASSERT_EQ(0, load(vcpu));
	loaded = vext_mod_refcnt(VEXT_PN_MODULE);
	ASSERT_EQ(0, put(vcpu));
	after = vext_mod_refcnt(VEXT_PN_MODULE);
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &other));
	EXPECT_EQ(before + 1, loaded);
	EXPECT_EQ(before, after) TH_LOG("a PUT left %d reference(s) behind",
					after - before);
	close(vcpu);
	close(vm);
	unload_suite(_metadata, false);
}

/*
 * vext_pn loaded after a VM was created serves only VMs created later, and
 * is not pinned by the older VM.
 */
TEST_F(unload, late_component)
{
	int dev, old_vm, old_vcpu, vm, vcpu, domid;

	unload_suite(_metadata, true);
	load_module(_metadata, VEXT_CORE_MODULE, NULL);
	dev = open_dev(_metadata);
	old_vm = create_vm(_metadata, dev);
	domid = get_domid(_metadata, old_vm);
	old_vcpu = create_vcpu(_metadata, old_vm, 0);
	EXPECT_EQ(-ENOTTY, load(old_vcpu));

	load_suite(_metadata);
	EXPECT_EQ(1, vext_ioctl(dev, VEXT_CHECK_EXTENSION,
				VEXT_CAP_PREEMPT_NOTIFY));
	EXPECT_EQ(-ENOTTY, load(old_vcpu));
	EXPECT_EQ(-ENOTTY, put(old_vcpu));
	EXPECT_EQ(-ENOTTY, vext_get_stats_fd(old_vcpu));
	EXPECT_EQ(-ENOTTY, vext_get_stats_fd(old_vm));

	vm = create_vm(_metadata, dev);
	vcpu = create_vcpu(_metadata, vm, 0);
	EXPECT_EQ(0, load(vcpu));
	EXPECT_EQ(-ENOTTY, load(old_vcpu));
	EXPECT_EQ(0, put(vcpu));
	close(vcpu);
	close(vm);

	/* Only the old VM is left: it does not hold vext_pn or vext_percpu. */
	EXPECT_EQ(0, vext_mod_remove(VEXT_PN_MODULE));
	EXPECT_EQ(0, vext_mod_remove(VEXT_PERCPU_MODULE));
	EXPECT_EQ(domid, vext_get_domid(old_vm));
	EXPECT_EQ(-ENOTTY, load(old_vcpu));
	close(old_vcpu);
	close(old_vm);
	close(dev);
	EXPECT_EQ(0, vext_mod_remove(VEXT_CORE_MODULE));
}

TEST_HARNESS_MAIN
