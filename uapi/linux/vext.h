/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vext: KVM-style virtualization services for any VMM on a stock kernel.
 *
 * This is the one user-space ABI of the vext module suite. Every ioctl is
 * described in Documentation/api.rst; the comments here are a summary.
 *
 * File descriptors (KVM style):
 *   /dev/vext   system ioctls: VEXT_GET_API_VERSION, VEXT_CHECK_EXTENSION,
 *               VEXT_CREATE_VM (returns a VM fd)
 *   VM fd       one domain: VEXT_GET_DOMID, VEXT_CREATE_VCPU (returns a
 *               vCPU fd), VEXT_SET_USER_MEMORY_REGION, component ioctls
 *   vCPU fd     mmap() offset 0 maps struct vext_vcpu_shared read-only;
 *               component ioctls
 *
 * Only fixed-width __u8/__u16/__u32/__u64 types are used and every struct has
 * explicit padding, so the layout is identical for 32- and 64-bit callers
 * and for C and C++.
 */
#ifndef _UAPI_LINUX_VEXT_H
#define _UAPI_LINUX_VEXT_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/const.h>

/*
 * Bumped only on an incompatible change of this header. New features are
 * discovered with VEXT_CHECK_EXTENSION, never by comparing versions.
 */
#define VEXT_API_VERSION	1

/*
 * ioctl magic 0xA7. Documentation/userspace-api/ioctl/ioctl-number.rst lists
 * no user of 0xA7 (checked in Linux 6.1 and in mainline): it lies in the
 * 0xA0-0xAF block next to the other hypervisor interfaces (0xA2 ACRN,
 * 0xAE KVM, 0xAF Freescale hypervisor) without overlapping any of them.
 *
 * Command numbers are split into ranges, one per component; core routes a
 * VM or vCPU ioctl to the component that owns its range:
 *   0x00-0x0f  system (/dev/vext)          core
 *   0x10-0x1f  VM and vCPU                 core
 *   0x20-0x2f  per-CPU state and stats     vext_percpu
 *   0x30-0x3f  preempt notifiers           vext_pn
 *   0x40-0x5f  PCI device assignment       vext_assign
 *   0x60-0x7f  grant tables                vext_gnt
 *   0x80-0xef  reserved
 *   0xf0-0xff  test component of the selftests (never in a release)
 */
#define VEXTIO			0xA7

/*
 * mmap() offsets of a VM fd are split the same way: bits 32-39 of the byte
 * offset name an ioctl number, and the component owning that number serves
 * the mapping (bits 0-31 are its own). Offsets whose number no attached
 * component owns fail with ENODEV; offsets of 2^40 and above with EINVAL.
 * 32-bit callers need a 64-bit off_t (mmap64).
 */
#define VEXT_MMAP_SHIFT		32
#define VEXT_MMAP_OFFSET(nr)	((__u64)(nr) << VEXT_MMAP_SHIFT)

/* Capabilities, the argument of VEXT_CHECK_EXTENSION. 0 means "absent". */
#define VEXT_CAP_CORE			0	/* always 1 */
#define VEXT_CAP_MAX_VCPUS		1	/* max vCPUs per VM */
#define VEXT_CAP_MAX_VCPU_ID		2	/* vCPU ids are < this */
#define VEXT_CAP_NR_MEMSLOTS		3	/* memory slots per VM */
#define VEXT_CAP_MAX_DOMID		4	/* largest domid handed out */
#define VEXT_CAP_VCPU_SHARED_PAGE	5	/* vext_vcpu_shared version */
#define VEXT_CAP_PERCPU_STATS		16	/* vext_percpu: stats fds */
#define VEXT_CAP_PREEMPT_NOTIFY		32	/* vext_pn: vCPU load/put */
#define VEXT_CAP_PCI_ASSIGN		48	/* vext_assign: INTx assignment */
#define VEXT_CAP_PCI_2_3		49	/* vext_assign: shared-line INTx */
#define VEXT_CAP_GRANT_TABLE		64	/* vext_gnt: max grant frames */
#define VEXT_CAP_GNTDEV_ABI		65	/* vext_gnt: gntdev/gntalloc */

/* Limits of core, also reported through the capabilities above. */
#define VEXT_MAX_VCPUS			64
#define VEXT_MAX_VCPU_ID		1024
#define VEXT_NR_MEMSLOTS		32
#define VEXT_MIN_DOMID			1
#define VEXT_MAX_DOMID			0x7fef
/* Largest single memory slot: 2^40 bytes (1 TiB). */
#define VEXT_MAX_MEMSLOT_SIZE		_BITULL(40)

/* ---- /dev/vext ioctls ---------------------------------------------- */

/* Returns VEXT_API_VERSION. Argument must be 0. */
#define VEXT_GET_API_VERSION		_IO(VEXTIO, 0x00)
/* Argument: a VEXT_CAP_* number. Returns 0 (absent) or a positive value. */
#define VEXT_CHECK_EXTENSION		_IO(VEXTIO, 0x01)
/* Argument: VM type, must be 0. Returns a new VM fd (O_CLOEXEC). */
#define VEXT_CREATE_VM			_IO(VEXTIO, 0x02)

/* ---- VM ioctls (core) ---------------------------------------------- */

/* Argument: vCPU id < VEXT_MAX_VCPU_ID. Returns a new vCPU fd. */
#define VEXT_CREATE_VCPU		_IO(VEXTIO, 0x10)
#define VEXT_SET_USER_MEMORY_REGION	_IOW(VEXTIO, 0x11, \
					     struct vext_userspace_memory_region)
/* Argument must be 0. Returns the VM's domid (1..VEXT_MAX_DOMID). */
#define VEXT_GET_DOMID			_IO(VEXTIO, 0x12)

/*
 * struct vext_userspace_memory_region - one guest-physical memory slot
 * @slot:            slot number, < VEXT_NR_MEMSLOTS
 * @flags:           VEXT_MEM_* flags; unknown bits are rejected
 * @guest_phys_addr: guest-physical base, page aligned
 * @memory_size:     bytes, page aligned, at most VEXT_MAX_MEMSLOT_SIZE;
 *                   0 deletes the slot
 * @userspace_addr:  page-aligned address in the caller's memory backing it
 *
 * Same layout and semantics as KVM's struct kvm_userspace_memory_region:
 * slots may not overlap in guest-physical space; an existing slot may only
 * be moved (new guest_phys_addr, everything else unchanged) or deleted.
 */
struct vext_userspace_memory_region {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
};

/* Bit 0 is reserved (KVM's dirty logging); bit 1 matches KVM_MEM_READONLY. */
#define VEXT_MEM_READONLY		_BITUL(1)
#define VEXT_MEM_VALID_FLAGS		VEXT_MEM_READONLY

/* ---- vCPU shared page ------------------------------------------------ */

#define VEXT_VCPU_SHARED_VERSION	1
#define VEXT_VCPU_SHARED_OFFSET		0	/* mmap offset on the vCPU fd */

/*
 * struct vext_vcpu_shared - the page mapped read-only at offset 0 of a vCPU fd
 * @version:  VEXT_VCPU_SHARED_VERSION the kernel filled in
 * @size:     bytes of this struct the kernel knows about (grows compatibly)
 * @vcpu_id:  id given to VEXT_CREATE_VCPU
 * @domid:    domid of the owning VM
 * @seq:      sequence count: odd while the kernel updates the fields below;
 *            a reader retries until it reads the same even value before and
 *            after the fields (with a read barrier on either side)
 * @pad0:     zero
 *
 * The fields after @pad0 are filled by components while they are loaded
 * (Documentation/api.rst lists them); @data is reserved and reads as zero.
 */
struct vext_vcpu_shared {
	__u32 version;
	__u32 size;
	__u32 vcpu_id;
	__u32 domid;
	__u32 seq;
	__u32 pad0;
	/* vext_pn (VEXT_CAP_PREEMPT_NOTIFY): see Documentation/api.rst */
	__u64 loads;		/* successful VEXT_VCPU_LOADs */
	__u64 preempted;	/* switched out while runnable */
	__u64 blocked;		/* switched out while sleeping */
	__u64 preempted_ns;	/* time off CPU after a preemption */
	__u64 blocked_ns;	/* time off CPU while blocked */
	__u64 migrations;	/* switched in on another CPU than before */
	__u32 cpu;		/* CPU of the last switch-in */
	__u32 loaded;		/* 1 while a thread is loaded */
	__u64 data[54];		/* reserved for components, zero */
};

/* ---- vext_percpu (0x20-0x2f): binary statistics -------------------- */

/*
 * VM and vCPU ioctl. Argument must be 0. Returns a read-only fd (O_CLOEXEC)
 * to read with pread(): struct vext_stats_header at offset 0, the id string
 * at id_offset, num_desc descriptors at desc_offset (each
 * sizeof(struct vext_stats_desc) + name_size bytes), and num_desc __u64
 * values at data_offset. The layout follows KVM_GET_STATS_FD: parse the
 * descriptors once, then re-read only the data block.
 */
#define VEXT_GET_STATS_FD		_IO(VEXTIO, 0x20)

struct vext_stats_header {
	__u32 flags;
	__u32 name_size;
	__u32 num_desc;
	__u32 id_offset;
	__u32 desc_offset;
	__u32 data_offset;
};

#define VEXT_STATS_TYPE_SHIFT		0
#define VEXT_STATS_TYPE_MASK		(0xF << VEXT_STATS_TYPE_SHIFT)
#define VEXT_STATS_TYPE_CUMULATIVE	(0x0 << VEXT_STATS_TYPE_SHIFT)
#define VEXT_STATS_TYPE_INSTANT		(0x1 << VEXT_STATS_TYPE_SHIFT)
#define VEXT_STATS_TYPE_PEAK		(0x2 << VEXT_STATS_TYPE_SHIFT)

#define VEXT_STATS_UNIT_SHIFT		4
#define VEXT_STATS_UNIT_MASK		(0xF << VEXT_STATS_UNIT_SHIFT)
#define VEXT_STATS_UNIT_NONE		(0x0 << VEXT_STATS_UNIT_SHIFT)
#define VEXT_STATS_UNIT_BYTES		(0x1 << VEXT_STATS_UNIT_SHIFT)
#define VEXT_STATS_UNIT_SECONDS		(0x2 << VEXT_STATS_UNIT_SHIFT)
#define VEXT_STATS_UNIT_CYCLES		(0x3 << VEXT_STATS_UNIT_SHIFT)
#define VEXT_STATS_UNIT_BOOLEAN		(0x4 << VEXT_STATS_UNIT_SHIFT)

#define VEXT_STATS_BASE_SHIFT		8
#define VEXT_STATS_BASE_MASK		(0xF << VEXT_STATS_BASE_SHIFT)
#define VEXT_STATS_BASE_POW10		(0x0 << VEXT_STATS_BASE_SHIFT)
#define VEXT_STATS_BASE_POW2		(0x1 << VEXT_STATS_BASE_SHIFT)

/*
 * struct vext_stats_desc - one statistic
 * @flags:       VEXT_STATS_TYPE_* | VEXT_STATS_UNIT_* | VEXT_STATS_BASE_*
 * @exponent:    value * base^exponent is in @flags' unit (-9: nanoseconds)
 * @size:        number of __u64 values (1)
 * @offset:      of the first value, from data_offset, in bytes
 * @bucket_size: 0 (no histograms yet)
 *
 * The NUL-terminated name (name_size bytes) follows each descriptor; it
 * is not a struct member so that the header stays valid ISO C and C++.
 */
struct vext_stats_desc {
	__u32 flags;
	__s16 exponent;
	__u16 size;
	__u32 offset;
	__u32 bucket_size;
};

/* ---- vext_pn (0x30-0x3f): vCPU load/put ----------------------------- */

/* vCPU ioctls, argument must be 0. See Documentation/api.rst. */
#define VEXT_VCPU_LOAD			_IO(VEXTIO, 0x30)
#define VEXT_VCPU_PUT			_IO(VEXTIO, 0x31)

/* ---- vext_assign (0x40-0x5f): PCI device assignment, INTx --------- */

/*
 * Devices are handed to vext by binding them to the "vext-pci" driver
 * (driver_override); a VM then assigns one by its PCI address and receives
 * its INTx through an eventfd. Documentation/api.rst, section 6, describes
 * every ioctl, errno and the masking rules.
 */

/* struct vext_assigned_pci_dev flags. */
#define VEXT_DEV_ASSIGN_PCI_2_3		_BITUL(1)	/* share the line (INTx masking) */
#define VEXT_DEV_ASSIGN_MASK_INTX	_BITUL(2)	/* the guest masks INTx */
#define VEXT_DEV_ASSIGN_VALID_FLAGS	(VEXT_DEV_ASSIGN_PCI_2_3 | \
					 VEXT_DEV_ASSIGN_MASK_INTX)

/* Assigned devices per VM. */
#define VEXT_MAX_ASSIGNED_DEVS		16

/*
 * struct vext_assigned_pci_dev - argument of VEXT_ASSIGN_PCI_DEVICE,
 * VEXT_DEASSIGN_PCI_DEVICE and VEXT_ASSIGN_SET_INTX_MASK
 * @assigned_dev_id: the VMM's name for the device, unique within the VM
 * @busnr:           PCI bus number (0-255)
 * @devfn:           PCI device and function, (slot << 3) | function
 * @flags:           VEXT_DEV_ASSIGN_* flags
 * @segnr:           PCI segment (domain) number (0-65535)
 * @err_fd:          ASSIGN: an eventfd signalled once when the device is
 *                   removed from under the VM (hot-unplug, unbind), or -1
 * @reserved:        zero
 *
 * DEASSIGN reads only @assigned_dev_id; SET_INTX_MASK reads
 * @assigned_dev_id and the VEXT_DEV_ASSIGN_MASK_INTX bit of @flags. The
 * other fields must be zero there (@err_fd: -1 or 0).
 */
struct vext_assigned_pci_dev {
	__u32 assigned_dev_id;
	__u32 busnr;
	__u32 devfn;
	__u32 flags;
	__u32 segnr;
	__s32 err_fd;
	__u32 reserved[10];
};

/* struct vext_assigned_irq flags. */
#define VEXT_DEV_IRQ_HOST_INTX		_BITUL(0)	/* the one IRQ type */
#define VEXT_DEV_IRQ_RESAMPLE		_BITUL(1)	/* @resample_fd is valid */
#define VEXT_DEV_IRQ_VALID_FLAGS	(VEXT_DEV_IRQ_HOST_INTX | \
					 VEXT_DEV_IRQ_RESAMPLE)

/*
 * struct vext_assigned_irq - argument of VEXT_ASSIGN_DEV_IRQ and
 * VEXT_DEASSIGN_DEV_IRQ
 * @assigned_dev_id: the device
 * @flags:           VEXT_DEV_IRQ_HOST_INTX, optionally VEXT_DEV_IRQ_RESAMPLE
 * @trigger_fd:      eventfd signalled for each interrupt delivered
 * @resample_fd:     with VEXT_DEV_IRQ_RESAMPLE: eventfd whose signal acks
 *                   the interrupt (KVM's irqfd resamplefd fits here)
 * @reserved:        zero
 *
 * DEASSIGN_DEV_IRQ reads @assigned_dev_id and @flags (exactly
 * VEXT_DEV_IRQ_HOST_INTX); the other fields must be zero.
 */
struct vext_assigned_irq {
	__u32 assigned_dev_id;
	__u32 flags;
	__s32 trigger_fd;
	__s32 resample_fd;
	__u32 reserved[4];
};

/* struct vext_assigned_dev_info state bits. */
#define VEXT_ASSIGNED_IRQ		_BITUL(0)	/* INTx assigned */
#define VEXT_ASSIGNED_RESAMPLE		_BITUL(1)	/* ... with a resample fd */
#define VEXT_ASSIGNED_HOST_MASKED	_BITUL(2)	/* INTx masked by vext */
#define VEXT_ASSIGNED_PENDING		_BITUL(3)	/* awaiting the VMM's ack */
#define VEXT_ASSIGNED_GONE		_BITUL(4)	/* the device was removed */

/*
 * struct vext_assigned_dev_info - argument of VEXT_ASSIGNED_DEV_INFO
 * @assigned_dev_id: in: the device
 * @flags:           out: VEXT_DEV_ASSIGN_PCI_2_3 if the shared-line mode is
 *                   in force (it is dropped when the device cannot mask
 *                   INTx), VEXT_DEV_ASSIGN_MASK_INTX if the guest masks
 * @state:           out: VEXT_ASSIGNED_* bits
 * @host_irq:        out: the host IRQ (0 if none)
 * @segnr:           out: PCI segment
 * @busnr:           out: PCI bus
 * @devfn:           out: PCI device and function
 * @pad:             zero
 * @reserved:        zero
 */
struct vext_assigned_dev_info {
	__u32 assigned_dev_id;
	__u32 flags;
	__u32 state;
	__u32 host_irq;
	__u32 segnr;
	__u32 busnr;
	__u32 devfn;
	__u32 pad;
	__u64 reserved[4];
};

/* VM ioctls. */
#define VEXT_ASSIGN_PCI_DEVICE		_IOW(VEXTIO, 0x40, struct vext_assigned_pci_dev)
#define VEXT_DEASSIGN_PCI_DEVICE	_IOW(VEXTIO, 0x41, struct vext_assigned_pci_dev)
#define VEXT_ASSIGN_DEV_IRQ		_IOW(VEXTIO, 0x42, struct vext_assigned_irq)
#define VEXT_DEASSIGN_DEV_IRQ		_IOW(VEXTIO, 0x43, struct vext_assigned_irq)
#define VEXT_ASSIGN_SET_INTX_MASK	_IOW(VEXTIO, 0x44, struct vext_assigned_pci_dev)
/* Argument: the assigned_dev_id. Acks the delivered interrupt. */
#define VEXT_ASSIGNED_DEV_UNMASK	_IO(VEXTIO, 0x45)
#define VEXT_ASSIGNED_DEV_INFO		_IOWR(VEXTIO, 0x46, struct vext_assigned_dev_info)
/* ---- vext_gnt (0x60-0x7f): grant tables ----------------------------- */

/*
 * Every VM is a domain with a grant table in Xen's v1 layout. See
 * Documentation/api.rst ("Grant tables") for the model, the rules a map
 * follows and the eagain policy. Names and numbers below follow Xen's
 * include/xen/interface/grant_table.h with a VEXT_ prefix.
 */

/* Grant table size: at most 64 frames of 512 entries, 32768 grants. */
#define VEXT_GNT_MAX_FRAMES		64
#define VEXT_GNT_ENTRIES_PER_FRAME	512
/* Mapped grants (handles) one domain may hold at once. */
#define VEXT_GNT_MAX_HANDLES		65536
/* Ops in one VEXT_GNTTAB_OP batch (gntdev's limit too). */
#define VEXT_GNTTAB_MAX_OPS		65536
/* Xen's DOMID_SELF: "the domain of the VM fd" in the physmap ioctls. */
#define VEXT_DOMID_SELF			0x7ff0

/*
 * VM-fd mmap offsets of vext_gnt: table frame i at VEXT_GNT_TABLE_OFFSET +
 * i * 4096; the page of grant handle h at VEXT_GNT_MAP_OFFSET + h * 4096
 * (the index a MAP op returns). Both MAP_SHARED only.
 */
#define VEXT_GNT_TABLE_OFFSET		VEXT_MMAP_OFFSET(0x60)
#define VEXT_GNT_MAP_OFFSET		VEXT_MMAP_OFFSET(0x61)

/*
 * struct vext_grant_entry_v1 - one grant, written by the granting domain
 * @flags: VEXT_GTF_* (type, permissions; reading/writing set by vext)
 * @domid: the domain allowed to use the grant
 * @frame: the guest frame number (gpfn) granted
 */
struct vext_grant_entry_v1 {
	__u16 flags;
	__u16 domid;
	__u32 frame;
};

#define VEXT_GTF_invalid		0
#define VEXT_GTF_permit_access		1
#define VEXT_GTF_accept_transfer	2	/* not supported */
#define VEXT_GTF_transitive		3	/* v2 only, not supported */
#define VEXT_GTF_type_mask		3
#define VEXT_GTF_readonly		_BITUL(2)
#define VEXT_GTF_reading		_BITUL(3)
#define VEXT_GTF_writing		_BITUL(4)

/* Per-op status codes: Xen's GNTST_* values. */
#define VEXT_GNTST_okay			0
#define VEXT_GNTST_general_error	(-1)
#define VEXT_GNTST_bad_domain		(-2)
#define VEXT_GNTST_bad_gntref		(-3)
#define VEXT_GNTST_bad_handle		(-4)
#define VEXT_GNTST_bad_virt_addr	(-5)
#define VEXT_GNTST_bad_dev_addr		(-6)
#define VEXT_GNTST_no_device_space	(-7)
#define VEXT_GNTST_permission_denied	(-8)
#define VEXT_GNTST_bad_page		(-9)
#define VEXT_GNTST_bad_copy_arg		(-10)
#define VEXT_GNTST_address_too_big	(-11)
#define VEXT_GNTST_eagain		(-12)
#define VEXT_GNTST_no_space		(-13)

/*
 * VM ioctl. Grow the VM's grant table to @nr_frames frames (1 ..
 * VEXT_GNT_MAX_FRAMES); a smaller number than the current one changes
 * nothing. Returns the number of frames the table has.
 */
#define VEXT_GNT_SETUP_TABLE		_IOW(VEXTIO, 0x60, struct vext_gnt_setup_table)

struct vext_gnt_setup_table {
	__u32 nr_frames;
	__u32 flags;		/* must be 0 */
};

/* VM ioctl: a batch of grant ops performed as the VM's domain. */
#define VEXT_GNTTAB_OP			_IOW(VEXTIO, 0x61, struct vext_gnttab_batch)

/*
 * struct vext_gnttab_batch - argument of VEXT_GNTTAB_OP
 * @ops:   user address of @count struct vext_gnttab_op; each op's status
 *         (and, for MAP, handle and index) is written back
 * @count: number of ops, at most VEXT_GNTTAB_MAX_OPS
 * @flags: VEXT_GNTTAB_* flags
 */
struct vext_gnttab_batch {
	__u64 ops;
	__u32 count;
	__u32 flags;
};

/* Retry eagain ops in the kernel with the bounded backoff (api.rst). */
#define VEXT_GNTTAB_RETRY_EAGAIN	_BITUL(0)
#define VEXT_GNTTAB_VALID_FLAGS		VEXT_GNTTAB_RETRY_EAGAIN

#define VEXT_GNTTABOP_map_grant_ref	0
#define VEXT_GNTTABOP_unmap_grant_ref	1
#define VEXT_GNTTABOP_copy		2

/*
 * struct vext_gnttab_op - one grant op
 * @cmd:    VEXT_GNTTABOP_*
 * @status: out: VEXT_GNTST_*
 * @domid:  MAP, COPY: the granting domain
 * @flags:  MAP: VEXT_GNTMAP_*; COPY: VEXT_GNTCOPY_*
 * @ref:    MAP, COPY: the grant reference in @domid's table
 * @handle: MAP: out, the new handle; UNMAP: in, the handle to release
 * @index:  MAP: out, the mmap offset of the mapped page on the VM fd
 * @buf:    COPY: the local buffer (an address in the caller)
 * @offset: COPY: byte offset in the granted page
 * @len:    COPY: bytes; @offset + @len may not cross the page
 * @pad:    must be 0
 */
struct vext_gnttab_op {
	__u16 cmd;
	__s16 status;
	__u16 domid;
	__u16 flags;
	__u32 ref;
	__u32 handle;
	__u64 index;
	__u64 buf;
	__u16 offset;
	__u16 len;
	__u32 pad;
};

/* MAP flags. GNTMAP_readonly keeps Xen's value. */
#define VEXT_GNTMAP_readonly		_BITUL(2)
/*
 * Check and hold the grant now, pin its page at mmap() time: mmap then
 * fails with EAGAIN while the page is not resident (gntdev's behaviour).
 */
#define VEXT_GNTMAP_defer		_BITUL(8)
#define VEXT_GNTMAP_VALID_FLAGS		(VEXT_GNTMAP_readonly | VEXT_GNTMAP_defer)

/* COPY flags: the default direction is from the grant into @buf. */
#define VEXT_GNTCOPY_to_grant		_BITUL(0)
#define VEXT_GNTCOPY_VALID_FLAGS	VEXT_GNTCOPY_to_grant

/* XENMAPSPACE_grant_table: @idx is a grant table frame. */
#define VEXT_MAPSPACE_grant_table	1

/*
 * VM ioctl: place frame @idx of @space at guest frame @gpfn of domain
 * @domid's physmap (which must be the VM's own: its domid or
 * VEXT_DOMID_SELF; -EPERM otherwise). Replaces what was at @gpfn; a frame
 * placed before at another gpfn moves.
 */
#define VEXT_ADD_TO_PHYSMAP		_IOW(VEXTIO, 0x62, struct vext_add_to_physmap)

struct vext_add_to_physmap {
	__u16 domid;
	__u16 pad0;
	__u32 space;
	__u64 idx;
	__u64 gpfn;
};

/*
 * VM ioctl: remove whatever is at @gpfn of domain @domid's physmap (same
 * permission rule); grants naming @gpfn then fail with bad_page.
 */
#define VEXT_REMOVE_FROM_PHYSMAP	_IOW(VEXTIO, 0x63, struct vext_remove_from_physmap)

struct vext_remove_from_physmap {
	__u16 domid;
	__u16 pad0;
	__u32 pad1;
	__u64 gpfn;
};

/*
 * The gntdev- and gntalloc-compatible devices of vext_gnt (the ABI of
 * Linux's include/uapi/xen/gntdev.h and gntalloc.h; VEXT_CAP_GNTDEV_ABI
 * answers 1 when they are registered). A process opening them acts as
 * domain 0, the host.
 *
 * VM ioctl: make the gntdev fd @fd act as the VM's domain instead: its
 * maps and copies then use grants made to the VM's domid. Allowed once,
 * before the gntdev fd maps or copies anything (-EBUSY otherwise); the fd
 * holds a reference on the VM until it is closed. -EINVAL for a gntalloc
 * fd (a VM shares its own memory through its grant table) or any other
 * file; -EBADF if @fd is not open. @flags must be 0.
 */
#define VEXT_GNT_BIND_DEVICE		_IOW(VEXTIO, 0x64, struct vext_gnt_bind_device)

struct vext_gnt_bind_device {
	__s32 fd;
	__u32 flags;
};

#endif /* _UAPI_LINUX_VEXT_H */
