/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the vext selftests: module loading through libkmod,
 * /dev/vext, module parameters in sysfs, and thin wrappers around the
 * vext ioctls that return -errno instead of setting errno.
 *
 * Every helper returns a negative errno on failure and never exits, so the
 * tests decide what a failure means.
 */
#ifndef _VEXT_TEST_H
#define _VEXT_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <linux/types.h>
#include <linux/vext.h>

#define VEXT_DEV_PATH		"/dev/vext"
#define VEXT_CORE_MODULE	"vext_core"

/* The test machine (x86-64) has 4 KiB pages; the tables below rely on it. */
#define VEXT_TEST_PAGE		4096UL

/*
 * What delete_module(2) reports for a module that is in use (open fds,
 * dependent modules): EWOULDBLOCK, i.e. EAGAIN. EBUSY only means the
 * module is still initialising or already going away.
 */
#define VEXT_MOD_IN_USE		(-EWOULDBLOCK)

/**
 * vext_mod_load() - load a module and its dependencies (modprobe)
 * @name:    module name, looked up in modules.dep of the running kernel
 * @options: module parameters ("a=1 b=2") or NULL
 *
 * A module that is already loaded is left as it is (its parameters are not
 * changed): unload it first to load it with different @options.
 *
 * Return: 0 once loaded; -ENOENT if no such module is installed; the
 * module init's error otherwise (e.g. -EINVAL).
 */
int vext_mod_load(const char *name, const char *options);

/**
 * vext_mod_remove() - unload a module (delete_module, never forced)
 * @name: module name
 *
 * Return: 0 once removed; -ENOENT if it was not loaded; VEXT_MOD_IN_USE
 * while it is in use; another -errno otherwise.
 */
int vext_mod_remove(const char *name);

/**
 * vext_mod_unload() - make sure a module is not loaded
 * @name: module name
 *
 * Return: 0 if it is not loaded (any more), else what vext_mod_remove()
 * returned.
 */
int vext_mod_unload(const char *name);

/**
 * vext_mod_loaded() - is a module loaded?
 * @name: module name
 *
 * Return: 1 if loaded (live, coming or built in), 0 if not, -errno on error.
 */
int vext_mod_loaded(const char *name);

/**
 * vext_mod_refcnt() - a loaded module's reference count
 * @name: module name
 *
 * Return: the count, or -errno (-ENOENT if not loaded).
 */
int vext_mod_refcnt(const char *name);

/**
 * vext_dev_open() - open /dev/vext read-write with O_CLOEXEC
 *
 * Waits up to two seconds for the device node to appear (devtmpfs or udev
 * create it right after the module registers the misc device).
 *
 * Return: the fd, or -errno.
 */
int vext_dev_open(void);

/**
 * vext_dev_wait_gone() - wait until /dev/vext has disappeared
 *
 * Return: 0 once it is gone, -ETIMEDOUT after two seconds.
 */
int vext_dev_wait_gone(void);

/**
 * vext_param_read() - read an integer or boolean module parameter
 * @module: module name
 * @param:  parameter name (/sys/module/@module/parameters/@param)
 * @val:    where to store the value (Y/N read as 1/0)
 *
 * Return: 0 or -errno.
 */
int vext_param_read(const char *module, const char *param, long *val);

/**
 * vext_param_write() - write a writable module parameter
 * @module: module name
 * @param:  parameter name
 * @val:    the string to write
 *
 * Return: 0 or -errno.
 */
int vext_param_write(const char *module, const char *param, const char *val);

/**
 * vext_ioctl() - ioctl(2) returning -errno on failure
 * @fd:  file descriptor
 * @cmd: command
 * @arg: argument (integer or pointer)
 *
 * Return: the ioctl's non-negative result, or -errno.
 */
static inline long vext_ioctl(int fd, unsigned long cmd, unsigned long arg)
{
	long ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* VEXT_CREATE_VM on a /dev/vext fd: the VM fd or -errno. */
int vext_create_vm(int dev_fd);

/* VEXT_CREATE_VCPU: the vCPU fd or -errno. */
int vext_create_vcpu(int vm_fd, unsigned long id);

/* VEXT_GET_DOMID: the domid or -errno. */
int vext_get_domid(int vm_fd);

/* VEXT_SET_USER_MEMORY_REGION with the given fields: 0 or -errno. */
int vext_set_region(int vm_fd, __u32 slot, __u32 flags, __u64 gpa,
		    __u64 size, __u64 uaddr);

/**
 * vext_map_shared() - map a vCPU's shared page read-only (MAP_SHARED)
 * @vcpu_fd: the vCPU fd
 *
 * Return: the mapping, or NULL with errno set.
 */
struct vext_vcpu_shared *vext_map_shared(int vcpu_fd);

/* Unmap what vext_map_shared() returned. */
void vext_unmap_shared(struct vext_vcpu_shared *shared);

/* FD_CLOEXEC of @fd: 1, 0 or -errno. */
int vext_fd_cloexec(int fd);

#endif /* _VEXT_TEST_H */
