// SPDX-License-Identifier: GPL-2.0-only
/*
 * vext_percpu: binary statistics fds, in the layout of KVM_GET_STATS_FD.
 *
 *   struct vext_stats_header | id string | descriptors | __u64 values
 *
 * The header, id and descriptors are built once when the fd is created; the
 * values are read fresh on every pread() that reaches them. vCPU values come
 * from the vCPU's shared page (read under its sequence count), so the stats
 * fd and the page can never disagree; VM values are sums over its vCPUs.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>
#include "percpu_internal.h"

#define VEXT_STATS_NAME_SIZE	48
#define VEXT_STATS_DESC_SIZE	(sizeof(struct vext_stats_desc) + VEXT_STATS_NAME_SIZE)

struct vext_stat_def {
	const char *name;
	u32 flags;
	s16 exponent;
};

#define CUMUL		(VEXT_STATS_TYPE_CUMULATIVE | VEXT_STATS_UNIT_NONE)
#define CUMUL_NS	(VEXT_STATS_TYPE_CUMULATIVE | VEXT_STATS_UNIT_SECONDS | \
			 VEXT_STATS_BASE_POW10)

/* The per-vCPU values, in the order of struct vext_stats_snap. */
static const struct vext_stat_def vext_vcpu_stat_defs[] = {
	{ "loads",		CUMUL,		0 },
	{ "preempted",		CUMUL,		0 },
	{ "blocked",		CUMUL,		0 },
	{ "preempted_ns",	CUMUL_NS,	-9 },
	{ "blocked_ns",		CUMUL_NS,	-9 },
	{ "migrations",		CUMUL,		0 },
	{ "loaded",		VEXT_STATS_TYPE_INSTANT | VEXT_STATS_UNIT_BOOLEAN, 0 },
};

/* A VM has the same values summed, "loaded" counting, plus "vcpus". */
static const struct vext_stat_def vext_vm_stat_defs[] = {
	{ "loads",		CUMUL,		0 },
	{ "preempted",		CUMUL,		0 },
	{ "blocked",		CUMUL,		0 },
	{ "preempted_ns",	CUMUL_NS,	-9 },
	{ "blocked_ns",		CUMUL_NS,	-9 },
	{ "migrations",		CUMUL,		0 },
	{ "loaded",		VEXT_STATS_TYPE_INSTANT | VEXT_STATS_UNIT_NONE, 0 },
	{ "vcpus",		VEXT_STATS_TYPE_INSTANT | VEXT_STATS_UNIT_NONE, 0 },
};

#define VEXT_NR_VCPU_STATS	ARRAY_SIZE(vext_vcpu_stat_defs)
#define VEXT_NR_VM_STATS	ARRAY_SIZE(vext_vm_stat_defs)

struct vext_stats_file {
	struct vext_vm *vm;		/* reference held */
	struct vext_vcpu *vcpu;		/* NULL for a VM fd; lives with @vm */
	size_t meta_size;		/* header + id + descriptors */
	unsigned int nr;
	u8 meta[];
};

/* One consistent copy of a vCPU's counters, read under its seqcount. */
static void vext_vcpu_snapshot(const struct vext_vcpu *vcpu,
			       u64 *v)
{
	const struct vext_vcpu_shared *s = vcpu->shared;
	u32 seq;

	do {
		while ((seq = READ_ONCE(s->seq)) & 1)
			cpu_relax();
		smp_rmb();	/* seq before the values; pairs with write_begin */
		v[0] = READ_ONCE(s->loads);
		v[1] = READ_ONCE(s->preempted);
		v[2] = READ_ONCE(s->blocked);
		v[3] = READ_ONCE(s->preempted_ns);
		v[4] = READ_ONCE(s->blocked_ns);
		v[5] = READ_ONCE(s->migrations);
		v[6] = READ_ONCE(s->loaded);
		smp_rmb();	/* values before seq again; pairs with write_end */
	} while (READ_ONCE(s->seq) != seq);
}

static void vext_stats_values(struct vext_stats_file *sf, u64 *vals)
{
	u64 v[VEXT_NR_VCPU_STATS];
	struct vext_vcpu *vcpu;
	unsigned long id;
	unsigned int i;

	if (sf->vcpu) {
		vext_vcpu_snapshot(sf->vcpu, vals);
		return;
	}
	memset(vals, 0, sizeof(u64) * VEXT_NR_VM_STATS);
	/* vCPUs are freed only with the VM, which we hold. */
	xa_for_each(&sf->vm->vcpus, id, vcpu) {
		vext_vcpu_snapshot(vcpu, v);
		for (i = 0; i < VEXT_NR_VCPU_STATS; i++)
			vals[i] += v[i];
		vals[VEXT_NR_VCPU_STATS]++;
	}
}

static ssize_t vext_stats_read(struct file *filp, char __user *buf,
			       size_t len, loff_t *ppos)
{
	struct vext_stats_file *sf = filp->private_data;
	u64 vals[VEXT_NR_VM_STATS];
	size_t total = sf->meta_size + sf->nr * sizeof(u64);
	size_t done = 0, n;
	loff_t pos = *ppos;

	if (pos < 0)
		return -EINVAL;
	if (pos >= total)
		return 0;
	len = min_t(size_t, len, total - pos);

	if (pos < sf->meta_size) {
		n = min_t(size_t, len, sf->meta_size - pos);
		if (copy_to_user(buf, sf->meta + pos, n))
			return -EFAULT;
		done = n;
		pos += n;
	}
	if (done < len) {
		vext_stats_values(sf, vals);
		n = len - done;
		if (copy_to_user(buf + done, (u8 *)vals + (pos - sf->meta_size), n))
			return -EFAULT;
		done += n;
		pos += n;
	}
	*ppos = pos;
	return done;
}

static int vext_stats_release(struct inode *inode, struct file *filp)
{
	struct vext_stats_file *sf = filp->private_data;

	vext_vm_put(sf->vm);
	kfree(sf);
	return 0;
}

static const struct file_operations vext_stats_fops = {
	.owner		= THIS_MODULE,
	.read		= vext_stats_read,
	.release	= vext_stats_release,
	.llseek		= generic_file_llseek,
};

static int vext_stats_fd(struct vext_vm *vm, struct vext_vcpu *vcpu,
			 const struct vext_stat_def *defs, unsigned int nr,
			 const char *id)
{
	struct vext_stats_header *hdr;
	struct vext_stats_file *sf;
	size_t desc_off = sizeof(*hdr) + VEXT_STATS_NAME_SIZE;
	size_t meta = desc_off + nr * VEXT_STATS_DESC_SIZE;
	struct file *file;
	unsigned int i;
	int fd;

	sf = kzalloc(struct_size(sf, meta, meta), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return -ENOMEM;
	sf->vm = vm;
	sf->vcpu = vcpu;
	sf->meta_size = meta;
	sf->nr = nr;

	hdr = (struct vext_stats_header *)sf->meta;
	hdr->name_size = VEXT_STATS_NAME_SIZE;
	hdr->num_desc = nr;
	hdr->id_offset = sizeof(*hdr);
	hdr->desc_offset = desc_off;
	hdr->data_offset = meta;
	strscpy(sf->meta + hdr->id_offset, id, VEXT_STATS_NAME_SIZE);
	for (i = 0; i < nr; i++) {
		struct vext_stats_desc *d = (void *)(sf->meta + desc_off +
						     i * VEXT_STATS_DESC_SIZE);

		d->flags = defs[i].flags;
		d->exponent = defs[i].exponent;
		d->size = 1;
		d->offset = i * sizeof(u64);
		strscpy((char *)(d + 1), defs[i].name, VEXT_STATS_NAME_SIZE);
	}

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		goto err_free;
	file = anon_inode_getfile("vext-stats", &vext_stats_fops, sf, O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto err_free;
	}
	file->f_mode |= FMODE_PREAD;
	vext_vm_get(vm);
	fd_install(fd, file);
	return fd;

err_free:
	kfree(sf);
	return fd;
}

int vext_stats_fd_vm(struct vext_vm *vm)
{
	char id[VEXT_STATS_NAME_SIZE];

	snprintf(id, sizeof(id), "vext-%u", vm->domid);
	return vext_stats_fd(vm, NULL, vext_vm_stat_defs, VEXT_NR_VM_STATS, id);
}

int vext_stats_fd_vcpu(struct vext_vcpu *vcpu)
{
	char id[VEXT_STATS_NAME_SIZE];

	snprintf(id, sizeof(id), "vext-%u/vcpu-%u", vcpu->vm->domid, vcpu->id);
	return vext_stats_fd(vcpu->vm, vcpu, vext_vcpu_stat_defs,
			     VEXT_NR_VCPU_STATS, id);
}
