/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kselftest harness as the vext selftests include it.
 *
 * kselftest_harness.h comes from Debian's linux-source-6.1 at build time
 * (see selftests/Makefile). Its 6.1 version has an unused parameter in its
 * SIGALRM handler, which -Wextra -Werror rejects: silence exactly that
 * warning for the harness, and keep it for the tests.
 *
 * It also holds the small harness-aware helpers every test file uses.
 */
#ifndef _VEXT_HARNESS_H
#define _VEXT_HARNESS_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include "vext_test.h"

/*
 * Harness-aware wrappers shared by every test file: each ASSERTs that the
 * step worked and says why not.
 */
static inline int open_dev(struct __test_metadata *_metadata)
{
	int fd = vext_dev_open();

	ASSERT_LE(0, fd) TH_LOG("open %s: %s", VEXT_DEV_PATH, strerror(-fd));
	return fd;
}

static inline int create_vm(struct __test_metadata *_metadata, int dev)
{
	int fd = vext_create_vm(dev);

	ASSERT_LE(0, fd) TH_LOG("VEXT_CREATE_VM: %s", strerror(-fd));
	return fd;
}

static inline int create_vcpu(struct __test_metadata *_metadata, int vm,
			      unsigned long id)
{
	int fd = vext_create_vcpu(vm, id);

	ASSERT_LE(0, fd) TH_LOG("VEXT_CREATE_VCPU %lu: %s", id, strerror(-fd));
	return fd;
}

static inline int get_domid(struct __test_metadata *_metadata, int vm)
{
	int domid = vext_get_domid(vm);

	ASSERT_LE(VEXT_MIN_DOMID, domid) TH_LOG("domid %d", domid);
	ASSERT_GE(VEXT_MAX_DOMID, domid);
	return domid;
}

static inline struct vext_vcpu_shared *
map_shared(struct __test_metadata *_metadata, int vcpu)
{
	struct vext_vcpu_shared *p = vext_map_shared(vcpu);

	ASSERT_NE(NULL, p) TH_LOG("mmap of vCPU page: %s", strerror(errno));
	return p;
}

/* A synchronous "do this ioctl for me" thread. */
struct agent {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool busy;
	bool quit;
	int fd;
	unsigned long cmd;
	long ret;
};

static inline void *agent_main(void *arg)
{
	struct agent *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->busy && !a->quit)
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->quit)
			break;
		a->ret = vext_ioctl(a->fd, a->cmd, 0);
		a->busy = false;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static inline void agent_start(struct __test_metadata *_metadata, struct agent *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	ret = pthread_create(&a->thread, NULL, agent_main, a);
	ASSERT_EQ(0, ret) TH_LOG("pthread_create: %s", strerror(ret));
}

static inline long agent_ioctl(struct agent *a, int fd, unsigned long cmd)
{
	long ret;

	pthread_mutex_lock(&a->lock);
	a->fd = fd;
	a->cmd = cmd;
	a->busy = true;
	pthread_cond_broadcast(&a->cond);
	while (a->busy)
		pthread_cond_wait(&a->cond, &a->lock);
	ret = a->ret;
	pthread_mutex_unlock(&a->lock);
	return ret;
}

static inline void agent_stop(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->quit = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
}

#endif /* _VEXT_HARNESS_H */
