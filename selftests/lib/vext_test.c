// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers shared by the vext selftests; see vext_test.h.
 *
 * Modules are loaded and removed through libkmod (as modprobe and rmmod
 * do), never by running those tools. Each call uses a fresh libkmod
 * context, so nothing cached survives a module being loaded or removed.
 * libkmod's own messages are silent unless VEXT_TEST_KMOD_LOG is set in
 * the environment (then they go to stderr as TAP comments): the tests
 * provoke failures on purpose and report the errno themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libkmod.h>

#include "vext_test.h"

#define VEXT_WAIT_STEP_NS	20000000L	/* 20 ms */
#define VEXT_WAIT_STEPS		100		/* 2 s */

static void vext_kmod_log(void *data, int priority, const char *file,
			  int line, const char *fn, const char *format,
			  va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	fprintf(stderr, "# libkmod: %s: ", fn);
	vfprintf(stderr, format, args);
}

static void vext_kmod_quiet(void *data, int priority, const char *file,
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

static struct kmod_ctx *vext_kmod_new(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);

	if (!ctx)
		return NULL;
	kmod_set_log_fn(ctx, getenv("VEXT_TEST_KMOD_LOG") ?
			vext_kmod_log : vext_kmod_quiet, NULL);
	return ctx;
}

static void vext_sleep_step(void)
{
	struct timespec ts = { .tv_nsec = VEXT_WAIT_STEP_NS };

	nanosleep(&ts, NULL);
}

int vext_mod_load(const char *name, const char *options)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_ctx *ctx;
	int ret;

	ctx = vext_kmod_new();
	if (!ctx)
		return -ENOMEM;
	ret = kmod_module_new_from_lookup(ctx, name, &list);
	if (ret < 0)
		goto out;
	if (!list) {
		ret = -ENOENT;
		goto out;
	}
	kmod_list_foreach(l, list) {
		struct kmod_module *mod = kmod_module_get_module(l);

		ret = kmod_module_probe_insert_module(mod, 0, options, NULL,
						      NULL, NULL);
		kmod_module_unref(mod);
		if (ret)
			break;
	}
	kmod_module_unref_list(list);
out:
	kmod_unref(ctx);
	/* Positive values only come with blacklist flags we do not pass. */
	return ret > 0 ? -EINVAL : ret;
}

int vext_mod_remove(const char *name)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	int ret;

	ctx = vext_kmod_new();
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

int vext_mod_unload(const char *name)
{
	int ret = vext_mod_remove(name);

	return ret == -ENOENT ? 0 : ret;
}

int vext_mod_loaded(const char *name)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	int ret;

	ctx = vext_kmod_new();
	if (!ctx)
		return -ENOMEM;
	ret = kmod_module_new_from_name(ctx, name, &mod);
	if (!ret) {
		ret = kmod_module_get_initstate(mod);
		kmod_module_unref(mod);
		if (ret == -ENOENT)
			ret = 0;
		else if (ret >= 0)
			ret = ret != KMOD_MODULE_GOING;
	}
	kmod_unref(ctx);
	return ret;
}

int vext_mod_refcnt(const char *name)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	int ret;

	ctx = vext_kmod_new();
	if (!ctx)
		return -ENOMEM;
	ret = kmod_module_new_from_name(ctx, name, &mod);
	if (!ret) {
		ret = kmod_module_get_refcnt(mod);
		kmod_module_unref(mod);
	}
	kmod_unref(ctx);
	return ret;
}

int vext_dev_open(void)
{
	int i, fd = -1;

	for (i = 0; i < VEXT_WAIT_STEPS; i++) {
		fd = open(VEXT_DEV_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		vext_sleep_step();
	}
	return fd < 0 ? -errno : fd;
}

int vext_dev_wait_gone(void)
{
	struct stat st;
	int i;

	for (i = 0; i < VEXT_WAIT_STEPS; i++) {
		if (stat(VEXT_DEV_PATH, &st) && errno == ENOENT)
			return 0;
		vext_sleep_step();
	}
	return -ETIMEDOUT;
}

static int vext_param_path(char *buf, size_t len, const char *module,
			   const char *param)
{
	int n = snprintf(buf, len, "/sys/module/%s/parameters/%s", module,
			 param);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vext_param_read(const char *module, const char *param, long *val)
{
	char path[PATH_MAX], buf[64], *end;
	ssize_t n;
	int fd, ret;

	ret = vext_param_path(path, sizeof(path), module, param);
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	buf[n] = '\0';
	if (buf[0] == 'Y' || buf[0] == 'N') {
		*val = buf[0] == 'Y';
		return 0;
	}
	errno = 0;
	*val = strtol(buf, &end, 0);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

int vext_param_write(const char *module, const char *param, const char *val)
{
	char path[PATH_MAX];
	size_t len = strlen(val);
	ssize_t n;
	int fd, ret;

	ret = vext_param_path(path, sizeof(path), module, param);
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	ret = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int vext_create_vm(int dev_fd)
{
	return vext_ioctl(dev_fd, VEXT_CREATE_VM, 0);
}

int vext_create_vcpu(int vm_fd, unsigned long id)
{
	return vext_ioctl(vm_fd, VEXT_CREATE_VCPU, id);
}

int vext_get_domid(int vm_fd)
{
	return vext_ioctl(vm_fd, VEXT_GET_DOMID, 0);
}

int vext_set_region(int vm_fd, __u32 slot, __u32 flags, __u64 gpa,
		    __u64 size, __u64 uaddr)
{
	struct vext_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
	};

	return vext_ioctl(vm_fd, VEXT_SET_USER_MEMORY_REGION,
			  (unsigned long)&r);
}

struct vext_vcpu_shared *vext_map_shared(int vcpu_fd)
{
	void *p = mmap(NULL, VEXT_TEST_PAGE, PROT_READ, MAP_SHARED, vcpu_fd,
		       VEXT_VCPU_SHARED_OFFSET);

	return p == MAP_FAILED ? NULL : p;
}

void vext_unmap_shared(struct vext_vcpu_shared *shared)
{
	if (shared)
		munmap(shared, VEXT_TEST_PAGE);
}

int vext_fd_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags < 0 ? -errno : !!(flags & FD_CLOEXEC);
}
