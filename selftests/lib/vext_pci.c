// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI helpers of the vext selftests and benchmarks; see vext_pci.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vext_pci.h"

int vext_file_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, ret;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	ret = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int vext_file_read(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	int fd;

	if (!len)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (!n)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return (int)got;
}

static int vext_pci_attr(const char *name, const char *attr, char *path,
			 size_t len)
{
	int n = snprintf(path, len, "%s/%s/%s", VEXT_PCI_SYSFS, name, attr);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int vext_pci_read_hex(const char *name, const char *attr,
			     unsigned long *val)
{
	char path[PATH_MAX], buf[64], *end;
	int ret = vext_pci_attr(name, attr, path, sizeof(path));

	if (!ret)
		ret = vext_file_read(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	errno = 0;
	*val = strtoul(buf, &end, 0);
	if (errno || end == buf)
		return -EPROTO;
	return 0;
}

int vext_pci_find(unsigned int vendor, unsigned int device, unsigned int slot,
		  char *name)
{
	char want[VEXT_PCI_NAME_LEN];
	unsigned long v, d;
	int ret;

	snprintf(want, sizeof(want), "0000:00:%02x.0", slot & 0x1f);
	ret = vext_pci_read_hex(want, "vendor", &v);
	if (!ret)
		ret = vext_pci_read_hex(want, "device", &d);
	if (ret)
		return ret == -ENOENT ? -ENOENT : ret;
	if (v != vendor || d != device)
		return -ENOENT;
	memcpy(name, want, sizeof(want));
	return 0;
}

int vext_pci_exists(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (vext_pci_attr(name, "", path, sizeof(path)))
		return 0;
	return !stat(path, &st);
}

int vext_pci_driver(const char *name, char *drv, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX], *base;
	ssize_t n;
	int ret = vext_pci_attr(name, "driver", path, sizeof(path));

	if (ret)
		return ret;
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	strcpy(drv, base);
	return 0;
}

int vext_pci_bind(const char *name, const char *driver)
{
	char path[PATH_MAX], cur[64];
	int ret;

	ret = vext_pci_driver(name, cur, sizeof(cur));
	if (!ret && driver && !strcmp(cur, driver))
		return 0;
	if (!ret) {
		ret = vext_pci_attr(name, "driver/unbind", path, sizeof(path));
		if (!ret)
			ret = vext_file_write(path, name);
		if (ret)
			return ret;
	} else if (ret != -ENOENT) {
		return ret;
	}
	ret = vext_pci_attr(name, "driver_override", path, sizeof(path));
	if (!ret)
		ret = vext_file_write(path, driver ? driver : "\n");
	if (ret || !driver)
		return ret;
	ret = vext_file_write("/sys/bus/pci/drivers_probe", name);
	if (ret)
		return ret;
	ret = vext_pci_driver(name, cur, sizeof(cur));
	if (ret == -ENOENT || (!ret && strcmp(cur, driver)))
		return -ENXIO;
	return ret;
}

int vext_pci_irq(const char *name)
{
	unsigned long v;
	int ret = vext_pci_read_hex(name, "irq", &v);

	return ret ? ret : (int)v;
}

int vext_pci_enabled(const char *name)
{
	unsigned long v;
	int ret = vext_pci_read_hex(name, "enable", &v);

	return ret ? ret : !!v;
}

void *vext_pci_map_bar(const char *name, int bar, size_t size)
{
	char path[PATH_MAX], attr[16];
	void *p;
	int fd;

	snprintf(attr, sizeof(attr), "resource%d", bar);
	if (vext_pci_attr(name, attr, path, sizeof(path))) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static int vext_pci_cfg_open(const char *name, int flags)
{
	char path[PATH_MAX];
	int fd, ret = vext_pci_attr(name, "config", path, sizeof(path));

	if (ret)
		return ret;
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int vext_pci_cfg_read(const char *name, unsigned int off, unsigned int len,
		      __u32 *val)
{
	__u32 v = 0;
	ssize_t n;
	int fd;

	if (len != 1 && len != 2 && len != 4)
		return -EINVAL;
	fd = vext_pci_cfg_open(name, O_RDONLY);
	if (fd < 0)
		return fd;
	n = pread(fd, &v, len, off);
	close(fd);
	if (n != (ssize_t)len)
		return n < 0 ? -errno : -EIO;
	*val = v;	/* x86: little-endian, as config space */
	return 0;
}

int vext_pci_cfg_write(const char *name, unsigned int off, unsigned int len,
		       __u32 val)
{
	ssize_t n;
	int fd;

	if (len != 1 && len != 2 && len != 4)
		return -EINVAL;
	fd = vext_pci_cfg_open(name, O_WRONLY);
	if (fd < 0)
		return fd;
	n = pwrite(fd, &val, len, off);
	close(fd);
	if (n != (ssize_t)len)
		return n < 0 ? -errno : -EIO;
	return 0;
}

int vext_pci_remove(const char *name)
{
	char path[PATH_MAX];
	int ret = vext_pci_attr(name, "remove", path, sizeof(path));

	return ret ? ret : vext_file_write(path, "1");
}

int vext_pci_rescan(void)
{
	return vext_file_write("/sys/bus/pci/rescan", "1");
}

int vext_irq_line(int irq, unsigned long long *count, char *actions,
		  size_t len)
{
	char line[1024];
	FILE *f = fopen("/proc/interrupts", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long sum = 0;
		char *p = line, *end;
		long n;

		while (*p == ' ')
			p++;
		n = strtol(p, &end, 10);
		if (end == p || *end != ':' || n != irq)
			continue;
		p = end + 1;
		for (;;) {
			unsigned long long c = strtoull(p, &end, 10);

			if (end == p)
				break;
			sum += c;
			p = end;
		}
		while (*p == ' ')
			p++;
		if (count)
			*count = sum;
		if (actions && len) {
			snprintf(actions, len, "%s", p);
			actions[strcspn(actions, "\n")] = '\0';
		}
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}
