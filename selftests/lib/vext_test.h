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
#include <stddef.h>
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

/* ---- vext_percpu and vext_pn ------------------------------------------ */

#define VEXT_PERCPU_MODULE	"vext_percpu"
#define VEXT_PN_MODULE		"vext_pn"

/* debugfs: where it is mounted and the suite's directory in it. */
#define VEXT_DEBUGFS_MNT	"/sys/kernel/debug"
#define VEXT_DEBUGFS_DIR	VEXT_DEBUGFS_MNT "/vext"

/**
 * vext_shared_read() - consistent snapshot of a vCPU shared page
 * @shared: the mapping (from vext_map_shared())
 * @snap:   where to copy the page's struct
 *
 * Reads under the page's sequence count: retries while @seq is odd or
 * changed between the two reads of it.
 *
 * Return: 0, or -ETIMEDOUT if no consistent copy was read within a second.
 */
int vext_shared_read(const struct vext_vcpu_shared *shared,
		     struct vext_vcpu_shared *snap);

/**
 * vext_debugfs_mount() - make sure VEXT_DEBUGFS_DIR is reachable
 *
 * Mounts debugfs on VEXT_DEBUGFS_MNT unless the directory is already
 * visible (EBUSY from mount, i.e. mounted meanwhile, is fine).
 *
 * Return: 0 once VEXT_DEBUGFS_DIR exists, -errno otherwise (-ENOENT: debugfs
 * is mounted but vext_core has no directory there).
 */
int vext_debugfs_mount(void);

/**
 * vext_debugfs_read() - read a whole file of VEXT_DEBUGFS_DIR
 * @file: file name inside the directory
 * @buf:  buffer, NUL-terminated on success
 * @len:  its size
 *
 * Return: the number of bytes read, -EFBIG if the file does not fit, or
 * -errno.
 */
int vext_debugfs_read(const char *file, char *buf, size_t len);

/**
 * vext_debugfs_long() - read a file holding one decimal integer and "\n"
 * @file: file name inside VEXT_DEBUGFS_DIR
 * @val:  where to store the value
 *
 * Return: 0, -EPROTO if the file holds anything else, or -errno.
 */
int vext_debugfs_long(const char *file, long *val);

/**
 * vext_debugfs_wait_long() - poll vext_debugfs_long() until it reads @want
 * @file:       file name inside VEXT_DEBUGFS_DIR
 * @want:       the value waited for
 * @timeout_ms: bound of the wait
 * @last:       the last value read (or -1 if none could be read); may be NULL
 *
 * Return: 0 once the file reads @want, -ETIMEDOUT, or the read's -errno.
 */
int vext_debugfs_wait_long(const char *file, long want,
			   unsigned int timeout_ms, long *last);

/**
 * vext_debugfs_stat() - one counter of VEXT_DEBUGFS_DIR/stats
 * @name: counter name (first word of a "<name> <value>" line)
 * @val:  where to store the value
 *
 * Return: 0, -ENOENT if there is no such line, -EPROTO for a malformed
 * file, or -errno.
 */
int vext_debugfs_stat(const char *name, __u64 *val);

/* One line of VEXT_DEBUGFS_DIR/running_vcpu. */
struct vext_running_vcpu {
	int cpu;
	bool loaded;	/* false: "cpu<N> -" */
	int domid;	/* valid if @loaded */
	int vcpu_id;	/* valid if @loaded */
};

/**
 * vext_debugfs_running() - parse VEXT_DEBUGFS_DIR/running_vcpu
 * @lines: array receiving the lines in file order
 * @max:   its size
 *
 * Return: the number of lines, -EPROTO for a malformed line (or more than
 * @max of them), or -errno.
 */
int vext_debugfs_running(struct vext_running_vcpu *lines, int max);

/* ---- CPUs, time, processes -------------------------------------------- */

/* Pin the calling thread to @cpu: 0 or -errno. */
int vext_pin_cpu(int cpu);

/* Let the calling thread run on every online CPU again: 0 or -errno. */
int vext_unpin(void);

/* Number of online CPUs (at least 1). */
int vext_nr_cpus(void);

/* Number of possible CPUs (/sys/devices/system/cpu/possible), or -errno. */
int vext_nr_possible_cpus(void);

/* CLOCK_MONOTONIC in nanoseconds. */
__u64 vext_now_ns(void);

/* Sleep @ms milliseconds (nanosleep, restarted after signals). */
void vext_sleep_ms(unsigned int ms);

/**
 * vext_efd_wait() - wait for an eventfd to be signalled, and read it
 * @fd: the eventfd
 * @ms: how long, counting only the time the VM ran
 *
 * Under TCG on a shared host the whole test VM can be stopped for seconds;
 * a wait that straddles the stop would expire at once when the VM resumes,
 * possibly before the handler of an interrupt raised just before the stop
 * (an IRQ thread on PREEMPT_RT) has run. The rt row failed that way once
 * (the guest logged a "clocksource: Long readout interval" of 12 s just
 * then), and stopping QEMU for 6 s at random from the host reproduces it.
 * So this polls in 100 ms slices, and a slice that returns more than 1 s
 * later than asked counts as 100 ms. A lost event still fails after @ms of
 * running time.
 *
 * Return: the eventfd's count, or 0 if it was not signalled.
 */
long long vext_efd_wait(int fd, int ms);

/**
 * vext_run_child() - run @fn(@arg) in a forked child and wait for it
 * @fn:  the function; its return value is the child's exit code
 * @arg: its argument
 *
 * Return: the exit code, 128 + the signal that ended the child, or -errno.
 */
int vext_run_child(int (*fn)(void *), void *arg);

/* ---- binary statistics (VEXT_GET_STATS_FD) ----------------------------- */

/**
 * struct vext_stats - the parsed, constant part of a stats fd
 * @hdr:   the header at offset 0
 * @id:    the id string (NUL-terminated)
 * @desc:  @hdr.num_desc descriptors
 * @names: @hdr.num_desc names, @hdr.name_size bytes apart, NUL-terminated
 * @data_size: bytes of the data block (end of the last value)
 */
struct vext_stats {
	struct vext_stats_header hdr;
	char *id;
	struct vext_stats_desc *desc;
	char *names;
	size_t data_size;
};

/* VEXT_GET_STATS_FD on a VM or vCPU fd: the stats fd or -errno. */
int vext_get_stats_fd(int fd);

/**
 * vext_stats_parse() - read the header, id and descriptors of a stats fd
 * @stats_fd: the fd
 * @st:       filled in; release with vext_stats_free()
 *
 * Checks only what parsing needs: the reads are complete, name_size and
 * num_desc are sane (<= 4096), the id and every name are NUL-terminated
 * within name_size bytes, and every value lies within 64 KiB of data.
 *
 * Return: 0, -EPROTO for a malformed file, or -errno.
 */
int vext_stats_parse(int stats_fd, struct vext_stats *st);

/* Name of descriptor @i. */
static inline const char *vext_stats_name(const struct vext_stats *st,
					  unsigned int i)
{
	return st->names + (size_t)i * st->hdr.name_size;
}

/* Index of the descriptor called @name, or -ENOENT. */
int vext_stats_index(const struct vext_stats *st, const char *name);

/**
 * vext_stats_read() - read the data block once
 * @stats_fd: the fd
 * @st:       what vext_stats_parse() returned for it
 * @vals:     receives @st->hdr.num_desc values, the first of each descriptor
 *
 * Return: 0, -EPROTO if the data block is short, or -errno.
 */
int vext_stats_read(int stats_fd, const struct vext_stats *st, __u64 *vals);

/* Release what vext_stats_parse() allocated. */
void vext_stats_free(struct vext_stats *st);

#endif /* _VEXT_TEST_H */
