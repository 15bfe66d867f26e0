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
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libkmod.h>

#include "vext_pci.h"
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
	int ret;

	ret = vext_param_path(path, sizeof(path), module, param);
	if (ret)
		return ret;
	return vext_file_write(path, val);
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

/* ---- vext_percpu and vext_pn ------------------------------------------ */

int vext_shared_read(const struct vext_vcpu_shared *shared,
		     struct vext_vcpu_shared *snap)
{
	__u64 deadline = vext_now_ns() + 1000000000ULL;
	unsigned long tries = 0;
	__u32 seq;

	for (;;) {
		seq = __atomic_load_n(&shared->seq, __ATOMIC_ACQUIRE);
		if (!(seq & 1)) {
			memcpy(snap, (const void *)shared, sizeof(*snap));
			/* The copy's loads complete before seq is read again. */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&shared->seq, __ATOMIC_RELAXED) == seq) {
				snap->seq = seq;
				return 0;
			}
		}
		if (!(++tries & 1023)) {
			if (vext_now_ns() > deadline)
				return -ETIMEDOUT;
			sched_yield();
		}
	}
}

static int vext_debugfs_path(char *buf, size_t len, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", VEXT_DEBUGFS_DIR, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vext_debugfs_mount(void)
{
	struct stat st;

	if (!stat(VEXT_DEBUGFS_DIR, &st))
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (mount("debugfs", VEXT_DEBUGFS_MNT, "debugfs", 0, NULL) &&
	    errno != EBUSY)
		return -errno;
	if (stat(VEXT_DEBUGFS_DIR, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int vext_debugfs_read(const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	size_t got = 0;
	int fd, ret;

	if (!len)
		return -EINVAL;
	ret = vext_debugfs_path(path, sizeof(path), file);
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (got == len - 1) {
			char extra;

			/* Full buffer: only fine if the file ends here. */
			n = read(fd, &extra, 1);
			ret = n < 0 ? -errno : n ? -EFBIG : 0;
			break;
		}
		n = read(fd, buf + got, len - 1 - got);
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

int vext_debugfs_long(const char *file, long *val)
{
	char buf[64], *end;
	int ret = vext_debugfs_read(file, buf, sizeof(buf));

	if (ret < 0)
		return ret;
	if (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9'))
		return -EPROTO;
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || strcmp(end, "\n"))
		return -EPROTO;
	return 0;
}

int vext_debugfs_wait_long(const char *file, long want,
			   unsigned int timeout_ms, long *last)
{
	__u64 deadline = vext_now_ns() + timeout_ms * 1000000ULL;
	long val = -1;
	int ret;

	for (;;) {
		ret = vext_debugfs_long(file, &val);
		if (ret < 0)
			val = -1;
		if (last)
			*last = val;
		if (ret < 0 && ret != -EPROTO)
			return ret;
		if (!ret && val == want)
			return 0;
		if (vext_now_ns() > deadline)
			return ret ? ret : -ETIMEDOUT;
		vext_sleep_ms(10);
	}
}

int vext_debugfs_stat(const char *name, __u64 *val)
{
	char buf[8192], *line, *save = NULL;
	int ret = vext_debugfs_read("stats", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char key[64], rest;
		unsigned long long v;

		if (sscanf(line, "%63s %llu %c", key, &v, &rest) != 2)
			return -EPROTO;
		if (!strcmp(key, name)) {
			*val = v;
			return 0;
		}
	}
	return -ENOENT;
}

/* Parse a decimal int at *p, advancing it: 0 or -EPROTO. */
static int vext_parse_int(const char **p, int *val)
{
	char *end;
	long v;

	if (**p < '0' || **p > '9')
		return -EPROTO;
	errno = 0;
	v = strtol(*p, &end, 10);
	if (errno || v > INT_MAX)
		return -EPROTO;
	*val = (int)v;
	*p = end;
	return 0;
}

/* "cpu<N> -" or "cpu<N> <domid> <vcpu_id>", exactly. */
static int vext_parse_running(const char *p, struct vext_running_vcpu *l)
{
	memset(l, 0, sizeof(*l));
	if (strncmp(p, "cpu", 3))
		return -EPROTO;
	p += 3;
	if (vext_parse_int(&p, &l->cpu) || *p++ != ' ')
		return -EPROTO;
	if (!strcmp(p, "-"))
		return 0;
	if (vext_parse_int(&p, &l->domid) || *p++ != ' ' ||
	    vext_parse_int(&p, &l->vcpu_id) || *p)
		return -EPROTO;
	l->loaded = true;
	return 0;
}

int vext_debugfs_running(struct vext_running_vcpu *lines, int max)
{
	char buf[16384], *line, *save = NULL;
	int ret = vext_debugfs_read("running_vcpu", buf, sizeof(buf));
	int n = 0;

	if (ret < 0)
		return ret;
	if (ret && buf[ret - 1] != '\n')
		return -EPROTO;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (n == max || vext_parse_running(line, &lines[n]))
			return -EPROTO;
		n++;
	}
	return n;
}

/* ---- CPUs, time, processes -------------------------------------------- */

int vext_pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int vext_unpin(void)
{
	int i, n = vext_nr_cpus();
	cpu_set_t set;

	CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE && i < n; i++)
		CPU_SET(i, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int vext_nr_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (int)n;
}

int vext_nr_possible_cpus(void)
{
	char buf[256], *p;
	int fd, n = 0;
	ssize_t len;

	fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return len < 0 ? -errno : -EPROTO;
	buf[len] = '\0';
	/* A list of ranges: "0-3,8,10-11\n". */
	for (p = buf; *p && *p != '\n';) {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p)
			return -EPROTO;
		if (*end == '-') {
			p = end + 1;
			b = strtol(p, &end, 10);
			if (end == p || b < a)
				return -EPROTO;
		}
		n += b - a + 1;
		p = end;
		if (*p == ',')
			p++;
	}
	return n ? n : -EPROTO;
}

__u64 vext_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void vext_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

#define VEXT_EFD_SLICE_MS	100
#define VEXT_EFD_STALL_MS	1000

long long vext_efd_wait(int fd, int ms)
{
	const __u64 ms_ns = 1000000ULL;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	__u64 budget = (__u64)ms * ms_ns, ran = 0;
	__u64 v = 0;

	while (ran < budget) {
		__u64 left = (budget - ran) / ms_ns, t0 = vext_now_ns(), dt;
		int slice = left < VEXT_EFD_SLICE_MS ? (int)left : VEXT_EFD_SLICE_MS;
		int r = poll(&p, 1, slice);

		if (r == 1)
			return read(fd, &v, sizeof(v)) == sizeof(v) ? (long long)v : 0;
		if (r < 0 && errno != EINTR)
			return 0;
		dt = vext_now_ns() - t0;
		if (dt > (__u64)(slice + VEXT_EFD_STALL_MS) * ms_ns)
			dt = (__u64)slice * ms_ns;
		ran += dt;
		if (!slice)
			break;
	}
	return 0;
}

int vext_run_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(fn(arg));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* ---- binary statistics (VEXT_GET_STATS_FD) ----------------------------- */

#define VEXT_STATS_MAX_NAME	4096
#define VEXT_STATS_MAX_DESC	4096
#define VEXT_STATS_MAX_DATA	65536

int vext_get_stats_fd(int fd)
{
	return vext_ioctl(fd, VEXT_GET_STATS_FD, 0);
}

/* pread exactly @len bytes: 0, -EPROTO if the file is shorter, or -errno. */
static int vext_pread_all(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, off + got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -EPROTO;
		got += n;
	}
	return 0;
}

int vext_stats_parse(int stats_fd, struct vext_stats *st)
{
	size_t dsz, i;
	char *raw = NULL;
	ssize_t n;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = vext_pread_all(stats_fd, &st->hdr, sizeof(st->hdr), 0);
	if (ret)
		return ret;
	if (!st->hdr.name_size || st->hdr.name_size > VEXT_STATS_MAX_NAME ||
	    st->hdr.num_desc > VEXT_STATS_MAX_DESC)
		return -EPROTO;

	/* The id: up to name_size bytes, the file may end after its NUL. */
	st->id = calloc(1, st->hdr.name_size + 1);
	if (!st->id)
		return -ENOMEM;
	n = pread(stats_fd, st->id, st->hdr.name_size, st->hdr.id_offset);
	if (n < 0) {
		ret = -errno;
		goto err;
	}
	if (!memchr(st->id, '\0', n)) {
		ret = -EPROTO;
		goto err;
	}

	dsz = sizeof(struct vext_stats_desc) + st->hdr.name_size;
	st->desc = calloc(st->hdr.num_desc + 1, sizeof(*st->desc));
	st->names = calloc(st->hdr.num_desc + 1, st->hdr.name_size);
	raw = malloc(dsz * st->hdr.num_desc + 1);
	if (!st->desc || !st->names || !raw) {
		ret = -ENOMEM;
		goto err;
	}
	ret = vext_pread_all(stats_fd, raw, dsz * st->hdr.num_desc,
			     st->hdr.desc_offset);
	if (ret)
		goto err;
	for (i = 0; i < st->hdr.num_desc; i++) {
		struct vext_stats_desc *d = &st->desc[i];
		char *name = st->names + i * st->hdr.name_size;
		size_t end;

		memcpy(d, raw + i * dsz, sizeof(*d));
		memcpy(name, raw + i * dsz + sizeof(*d), st->hdr.name_size);
		if (!memchr(name, '\0', st->hdr.name_size)) {
			ret = -EPROTO;
			goto err;
		}
		end = (size_t)d->offset + (size_t)d->size * sizeof(__u64);
		if (!d->size || end > VEXT_STATS_MAX_DATA) {
			ret = -EPROTO;
			goto err;
		}
		if (end > st->data_size)
			st->data_size = end;
	}
	free(raw);
	return 0;
err:
	free(raw);
	vext_stats_free(st);
	return ret;
}

int vext_stats_index(const struct vext_stats *st, const char *name)
{
	unsigned int i;

	for (i = 0; i < st->hdr.num_desc; i++)
		if (!strcmp(vext_stats_name(st, i), name))
			return i;
	return -ENOENT;
}

int vext_stats_read(int stats_fd, const struct vext_stats *st, __u64 *vals)
{
	unsigned char *data;
	unsigned int i;
	int ret;

	if (!st->data_size)
		return 0;
	data = malloc(st->data_size);
	if (!data)
		return -ENOMEM;
	ret = vext_pread_all(stats_fd, data, st->data_size,
			     st->hdr.data_offset);
	if (!ret)
		for (i = 0; i < st->hdr.num_desc; i++)
			memcpy(&vals[i], data + st->desc[i].offset,
			       sizeof(__u64));
	free(data);
	return ret;
}

void vext_stats_free(struct vext_stats *st)
{
	free(st->id);
	free(st->desc);
	free(st->names);
	st->id = NULL;
	st->desc = NULL;
	st->names = NULL;
}
