/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * PCI helpers of the vext selftests and benchmarks: find devices in sysfs,
 * bind them to a driver with driver_override, map their BARs, read their
 * config space, remove and rescan them, and count a line's interrupts.
 *
 * Devices are named by their sysfs name, "0000:00:04.0". Every helper
 * returns a negative errno on failure and never exits.
 */
#ifndef _VEXT_PCI_H
#define _VEXT_PCI_H

#include <stddef.h>
#include <linux/types.h>

#define VEXT_PCI_SYSFS		"/sys/bus/pci/devices"
#define VEXT_PCI_NAME_LEN	16	/* "0000:00:04.0" and its NUL */

/* QEMU's edu device (hw/misc/edu.c, docs/specs/edu.rst). */
#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_BAR_SIZE		0x100000UL	/* 1 MiB */
#define EDU_REG_ID		0x00	/* 0x010000ed */
#define EDU_REG_IRQ_STATUS	0x24	/* bits raised and not acked */
#define EDU_REG_IRQ_RAISE	0x60	/* OR bits into the status: INTx up */
#define EDU_REG_IRQ_ACK		0x64	/* clear bits: INTx down when 0 */

/**
 * vext_pci_find() - the device with this vendor, device and slot on bus 0
 * @vendor: vendor id
 * @device: device id
 * @slot:   device number on bus 0 of segment 0 (function 0)
 * @name:   receives its name (VEXT_PCI_NAME_LEN bytes)
 *
 * Return: 0, -ENOENT if there is none, or -errno.
 */
int vext_pci_find(unsigned int vendor, unsigned int device, unsigned int slot,
		  char *name);

/* The name of @name's driver into @drv (@len bytes): 0, -ENOENT if none. */
int vext_pci_driver(const char *name, char *drv, size_t len);

/**
 * vext_pci_bind() - bind a device to a driver through driver_override
 * @name:   the device
 * @driver: the driver ("vext-pci"); NULL: unbind and clear the override
 *
 * Unbinds the device from its current driver first unless that already is
 * @driver, then asks the PCI core to probe it again.
 *
 * Return: 0 once bound to @driver (or to nothing, for NULL); -ENXIO if the
 * probe did not bind it; -errno.
 */
int vext_pci_bind(const char *name, const char *driver);

/* The device's IRQ as sysfs "irq" says: >= 0, or -errno. */
int vext_pci_irq(const char *name);

/* sysfs "enable" of the device: 0 or 1 (enable count > 0), or -errno. */
int vext_pci_enabled(const char *name);

/**
 * vext_pci_map_bar() - mmap a BAR through sysfs resource<N>
 * @name: the device
 * @bar:  BAR number
 * @size: bytes to map
 *
 * Access it with vext_mmio_read32()/vext_mmio_write32() only.
 *
 * Return: the mapping or NULL with errno set. Unmap with munmap().
 */
void *vext_pci_map_bar(const char *name, int bar, size_t size);

/*
 * One 32-bit MMIO access at @off of a mapped BAR: relaxed atomics compile
 * to exactly one aligned load or store, which the compiler may neither
 * merge, split, elide nor move across the system calls around it.
 */
static inline void vext_mmio_write32(void *bar, unsigned int off, __u32 val)
{
	__atomic_store_n((__u32 *)((char *)bar + off), val, __ATOMIC_RELAXED);
}

static inline __u32 vext_mmio_read32(void *bar, unsigned int off)
{
	return __atomic_load_n((__u32 *)((char *)bar + off), __ATOMIC_RELAXED);
}

/* Read/write @len (1, 2 or 4) bytes of config space at @off: 0 or -errno. */
int vext_pci_cfg_read(const char *name, unsigned int off, unsigned int len,
		      __u32 *val);
int vext_pci_cfg_write(const char *name, unsigned int off, unsigned int len,
		       __u32 val);

/* sysfs remove of the device, and a rescan of every bus: 0 or -errno. */
int vext_pci_remove(const char *name);
int vext_pci_rescan(void);

/* Does sysfs have the device? 1, 0. */
int vext_pci_exists(const char *name);

/**
 * vext_irq_line() - one line of /proc/interrupts
 * @irq:     the IRQ number
 * @count:   receives the sum of the per-CPU counts (may be NULL)
 * @actions: receives the rest of the line, handler names included (may be
 *           NULL)
 * @len:     size of @actions
 *
 * Return: 0, -ENOENT if the IRQ has no line, or -errno.
 */
int vext_irq_line(int irq, unsigned long long *count, char *actions,
		  size_t len);

/**
 * vext_file_write() - write a string to a file (sysfs, tracefs)
 * @path: the file
 * @val:  the string
 *
 * Return: 0 or -errno.
 */
int vext_file_write(const char *path, const char *val);

/* Read up to @len - 1 bytes of a file, NUL-terminated: bytes read or -errno. */
int vext_file_read(const char *path, char *buf, size_t len);

#endif /* _VEXT_PCI_H */
