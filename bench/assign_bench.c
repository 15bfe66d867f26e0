// SPDX-License-Identifier: GPL-2.0-only
/*
 * assign_bench - INTx delivery of vext_assign against VFIO, in the same
 * boot. Runs inside the bench VM (make bench: q35 with an emulated Intel
 * IOMMU, intel_iommu=on, two QEMU edu devices at slots 4 and 5) as root
 * and prints one
 * JSON object on stdout; progress and errors go to stderr as "# " lines.
 *
 *   assign_bench [-r ROUNDS] [-n IRQS]
 *
 * One edu is bound to vext-pci and assigned to a vext VM in PCI 2.3 mode
 * (VEXT_ASSIGN_DEV_IRQ with a trigger and a resample eventfd); the other is
 * bound to vfio-pci and opened through its IOMMU group
 * (VFIO_DEVICE_SET_IRQS: INTx trigger eventfd and unmask eventfd); VFIO
 * uses PCI 2.3 masking too. Both IRQs are steered to CPU 0
 * (/proc/irq/N/smp_affinity_list) and the benchmark runs pinned there, so
 * that single-threaded TCG never has to switch vCPUs for a delivery. Half
 * way through the rounds the two devices swap roles (everything is closed,
 * unbound and set up again), so that neither side keeps the slot, line or
 * device that may happen to be faster.
 *
 * One interrupt: take the time, raise it (edu BAR0+0x60), block in read()
 * on the trigger eventfd, take the time again: that is the
 * interrupt-to-eventfd wakeup latency. Then ack it at the device (0x64)
 * and in the kernel, by ioctl (VEXT_ASSIGNED_DEV_UNMASK, VFIO's
 * ACTION_UNMASK with DATA_NONE) or by signalling the resample/unmask
 * eventfd, which unmasks from the eventfd's wake-up callback in both. The
 * rate of these full cycles is the sustained interrupts per second.
 *
 * ROUNDS rounds (default 12, even), each measuring the four configurations
 * (vext/VFIO x ioctl/resample) once, IRQS interrupts each (default 2000,
 * after 200 untimed ones), in an order that rotates from round to round.
 * Reported: the median over the rounds of each configuration's median and
 * 99th-percentile latency and of its rate, and the ratios vext/VFIO: the
 * median over the rounds of the ratio within each round (vext and VFIO
 * measured back to back, so a host slowing the guest down for seconds
 * affects both sides of a ratio alike), and the ratio of the medians. The
 * targets (latency ratio <= 1.0, throughput ratio >= 1.0) are reported,
 * never enforced: under TCG only ratios from the same boot mean anything,
 * and mad_pct says how far apart the rounds were.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/vext.h>
#include <linux/vfio.h>

#include "bench_util.h"
#include "vext_pci.h"

#define DEF_ROUNDS	12
#define MAX_ROUNDS	51
#define DEF_IRQS	2000
#define MAX_IRQS	1000000
#define WARMUP		200
#define BENCH_CPU	0
#define SLOT_A		4
#define SLOT_B		5
#define WATCHDOG_S	20

enum kind { VEXT, VFIO, NR_KINDS };
enum ack { ACK_IOCTL, ACK_RESAMPLE, NR_ACKS };
static const char * const kind_names[NR_KINDS] = { "vext", "vfio" };
static const char * const ack_names[NR_ACKS] = { "ioctl", "resample" };

struct dev {
	enum kind kind;
	int slot;
	char name[VEXT_PCI_NAME_LEN];
	void *bar;
	int irq;
	int trigger, resample;
	int vm;				/* vext */
	int container, group, fd;	/* vfio */
};

#define VEXT_ID 1

static void set_irqs(struct dev *d, __u32 flags, int fd)
{
	struct {
		struct vfio_irq_set set;
		__s32 fd;
	} s = {
		.set = {
			.argsz = sizeof(s),
			.flags = flags,
			.index = VFIO_PCI_INTX_IRQ_INDEX,
			.start = 0,
			.count = 1,
		},
		.fd = fd,
	};

	if (ioctl(d->fd, VFIO_DEVICE_SET_IRQS, &s))
		bench_die(errno, "VFIO_DEVICE_SET_IRQS %#x", flags);
}

static void vfio_setup(struct dev *d)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_irq_info ii = {
		.argsz = sizeof(ii),
		.index = VFIO_PCI_INTX_IRQ_INDEX,
	};
	char path[PATH_MAX], link[PATH_MAX], *grp;
	ssize_t n;
	int ret;

	ret = vext_mod_load("vfio-pci", NULL);
	if (ret)
		bench_die(-ret, "loading vfio-pci");
	ret = vext_pci_bind(d->name, "vfio-pci");
	if (ret)
		bench_die(-ret, "binding %s to vfio-pci", d->name);
	snprintf(path, sizeof(path), "%s/%s/iommu_group", VEXT_PCI_SYSFS, d->name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		bench_die(errno, "%s (is the IOMMU on?)", path);
	link[n] = '\0';
	grp = strrchr(link, '/') + 1;

	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		bench_die(errno, "/dev/vfio/vfio");
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0)
		bench_die(EINVAL, "VFIO API or type1 IOMMU missing");
	snprintf(path, sizeof(path), "/dev/vfio/%s", grp);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		bench_die(errno, "%s", path);
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &st))
		bench_die(errno, "VFIO_GROUP_GET_STATUS");
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		bench_die(EBUSY, "IOMMU group %s is not viable", grp);
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		bench_die(errno, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU))
		bench_die(errno, "VFIO_SET_IOMMU");
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->name);
	if (d->fd < 0)
		bench_die(errno, "VFIO_GROUP_GET_DEVICE_FD %s", d->name);
	if (ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) || ii.count != 1)
		bench_die(errno ? errno : ENODEV, "%s has no INTx", d->name);
	/* Opening the device enabled it: BAR0 decodes now. */
	d->bar = vext_pci_map_bar(d->name, 0, EDU_BAR_SIZE);
	if (!d->bar)
		bench_die(errno, "mmap %s BAR0", d->name);
	vext_mmio_write32(d->bar, EDU_REG_IRQ_ACK, ~0u);
	set_irqs(d, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		 d->trigger);
	set_irqs(d, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
		 d->resample);
}

static void vext_setup(struct dev *d)
{
	struct vext_assigned_pci_dev a = {
		.assigned_dev_id = VEXT_ID,
		.devfn = d->slot << 3,
		.flags = VEXT_DEV_ASSIGN_PCI_2_3,
		.err_fd = -1,
	};
	struct vext_assigned_irq irq = {
		.assigned_dev_id = VEXT_ID,
		.flags = VEXT_DEV_IRQ_HOST_INTX | VEXT_DEV_IRQ_RESAMPLE,
		.trigger_fd = d->trigger,
		.resample_fd = d->resample,
	};
	struct vext_assigned_dev_info info = { .assigned_dev_id = VEXT_ID };
	int ret, dev;

	ret = vext_mod_load("vext_assign", NULL);
	if (ret)
		bench_die(-ret, "loading vext_assign");
	ret = vext_pci_bind(d->name, "vext-pci");
	if (ret)
		bench_die(-ret, "binding %s to vext-pci", d->name);
	dev = vext_dev_open();
	if (dev < 0)
		bench_die(-dev, "/dev/vext");
	d->vm = vext_create_vm(dev);
	if (d->vm < 0)
		bench_die(-d->vm, "VEXT_CREATE_VM");
	close(dev);
	if (ioctl(d->vm, VEXT_ASSIGN_PCI_DEVICE, &a))
		bench_die(errno, "VEXT_ASSIGN_PCI_DEVICE %s", d->name);
	d->bar = vext_pci_map_bar(d->name, 0, EDU_BAR_SIZE);
	if (!d->bar)
		bench_die(errno, "mmap %s BAR0", d->name);
	vext_mmio_write32(d->bar, EDU_REG_IRQ_ACK, ~0u);
	if (ioctl(d->vm, VEXT_ASSIGN_DEV_IRQ, &irq))
		bench_die(errno, "VEXT_ASSIGN_DEV_IRQ");
	if (ioctl(d->vm, VEXT_ASSIGNED_DEV_INFO, &info))
		bench_die(errno, "VEXT_ASSIGNED_DEV_INFO");
	if (!(info.flags & VEXT_DEV_ASSIGN_PCI_2_3))
		bench_die(EINVAL, "%s is not in PCI 2.3 mode", d->name);
}

static void ack_kernel(struct dev *d, enum ack how)
{
	static const struct vfio_irq_set unmask = {
		.argsz = sizeof(unmask),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
		.index = VFIO_PCI_INTX_IRQ_INDEX,
		.start = 0,
		.count = 1,
	};
	__u64 one = 1;
	int ret;

	if (how == ACK_RESAMPLE)
		ret = write(d->resample, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
	else if (d->kind == VEXT)
		ret = ioctl(d->vm, VEXT_ASSIGNED_DEV_UNMASK, VEXT_ID);
	else
		ret = ioctl(d->fd, VFIO_DEVICE_SET_IRQS, &unmask);
	if (ret)
		bench_die(errno, "%s: %s ack", kind_names[d->kind], ack_names[how]);
}

/* One interrupt; its latency in ns. */
static double one_irq(struct dev *d, enum ack how)
{
	__u64 t0, t1, v;

	t0 = bench_now_ns();
	vext_mmio_write32(d->bar, EDU_REG_IRQ_RAISE, 1);
	if (read(d->trigger, &v, sizeof(v)) != sizeof(v))
		bench_die(errno, "%s: trigger read", kind_names[d->kind]);
	t1 = bench_now_ns();
	if (v != 1)
		bench_die(EPROTO, "%s: %llu events for one interrupt",
			  kind_names[d->kind], (unsigned long long)v);
	vext_mmio_write32(d->bar, EDU_REG_IRQ_ACK, 1);
	ack_kernel(d, how);
	return (double)(t1 - t0);
}

struct result {
	double lat_median, lat_p99, rate;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(struct dev *d, enum ack how, int n, double *lat,
		    struct result *r)
{
	__u64 t0;
	int i;

	for (i = 0; i < WARMUP; i++)
		one_irq(d, how);
	alarm(WATCHDOG_S + n / 1000);
	t0 = bench_now_ns();
	for (i = 0; i < n; i++)
		lat[i] = one_irq(d, how);
	r->rate = n / ((bench_now_ns() - t0) / 1e9);
	alarm(0);
	qsort(lat, n, sizeof(*lat), cmp_double);
	r->lat_median = lat[n / 2];
	r->lat_p99 = lat[(int)((n - 1) * 0.99)];
}

static void steer_irq(int irq)
{
	char path[64], buf[16];
	int ret;

	snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", irq);
	ret = vext_file_write(path, "0");
	if (ret)
		bench_note("irq %d stays where it is (%s)", irq, strerror(-ret));
	else if (vext_file_read(path, buf, sizeof(buf)) > 0)
		bench_note("irq %d affinity %s", irq, strtok(buf, "\n"));
}

/* Phase 0: vext on the edu at SLOT_A, VFIO at SLOT_B; phase 1 swapped. */
static void setup_pair(struct dev *devs, int phase)
{
	int k;

	for (k = 0; k < NR_KINDS; k++) {
		struct dev *d = &devs[k];
		int ret;

		memset(d, 0, sizeof(*d));
		d->kind = k;
		d->slot = (k == VEXT) == (phase == 0) ? SLOT_A : SLOT_B;
		ret = vext_pci_find(EDU_VENDOR, EDU_DEVICE, d->slot, d->name);
		if (ret)
			bench_die(-ret, "no edu at slot %d", d->slot);
		d->trigger = eventfd(0, EFD_CLOEXEC);
		d->resample = eventfd(0, EFD_CLOEXEC);
		if (d->trigger < 0 || d->resample < 0)
			bench_die(errno, "eventfd");
		if (k == VEXT)
			vext_setup(d);
		else
			vfio_setup(d);
		d->irq = vext_pci_irq(d->name);
		steer_irq(d->irq);
	}
	for (k = 0; k < NR_KINDS; k++) {
		char actions[512] = "";

		vext_irq_line(devs[k].irq, NULL, actions, sizeof(actions));
		bench_note("phase %d: %s on %s, irq %d: %s", phase,
			   kind_names[k], devs[k].name, devs[k].irq, actions);
	}
}

/* Close everything (which deassigns) and unbind both devices. */
static void teardown_pair(struct dev *devs)
{
	int k, ret;

	for (k = 0; k < NR_KINDS; k++) {
		struct dev *d = &devs[k];

		munmap(d->bar, EDU_BAR_SIZE);
		if (k == VEXT) {
			close(d->vm);
		} else {
			close(d->fd);
			close(d->group);
			close(d->container);
		}
		close(d->trigger);
		close(d->resample);
		ret = vext_pci_bind(d->name, NULL);
		if (ret)
			bench_die(-ret, "unbinding %s", d->name);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	bench_die(ETIMEDOUT, "an interrupt was not delivered");
}

static int parse_arg(const char *s, int min, int max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < min || v > max)
		bench_die(EINVAL, "'%s' is not in %d..%d", s, min, max);
	return (int)v;
}

static void print_runs(const char *name, const double *v, int n, int last)
{
	int i;

	printf("      \"%s\": [", name);
	for (i = 0; i < n; i++)
		printf("%s%.0f", i ? ", " : "", v[i]);
	printf("]%s\n", last ? "" : ",");
}

int main(int argc, char **argv)
{
	static struct dev devs[NR_KINDS];
	double *lat, med[NR_KINDS][NR_ACKS][3], ratio[3];
	double *runs[NR_KINDS][NR_ACKS][3];
	int rounds = DEF_ROUNDS, n = DEF_IRQS, opt, r, k, a, m;
	struct utsname u;

	while ((opt = getopt(argc, argv, "r:n:")) != -1) {
		switch (opt) {
		case 'r':
			rounds = parse_arg(optarg, 2, MAX_ROUNDS) & ~1;
			break;
		case 'n':
			n = parse_arg(optarg, 10, MAX_IRQS);
			break;
		default:
			fprintf(stderr, "usage: %s [-r ROUNDS] [-n IRQS]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGALRM, on_alarm);
	lat = calloc(n > rounds ? n : rounds, sizeof(*lat));
	for (k = 0; k < NR_KINDS; k++)
		for (a = 0; a < NR_ACKS; a++)
			for (m = 0; m < 3; m++)
				runs[k][a][m] = calloc(rounds, sizeof(double));
	if (!lat)
		bench_die(ENOMEM, "calloc");

	if (vext_pin_cpu(BENCH_CPU))
		bench_die(errno, "pinning to CPU %d", BENCH_CPU);

	for (r = 0; r < rounds; r++) {
		if (r == 0 || r == rounds / 2) {
			if (r)
				teardown_pair(devs);
			setup_pair(devs, r ? 1 : 0);
		}
		for (m = 0; m < NR_KINDS * NR_ACKS; m++) {
			int c = (m + r) % (NR_KINDS * NR_ACKS);
			struct result res;

			k = c % NR_KINDS;
			a = c / NR_KINDS;
			measure(&devs[k], a, n, lat, &res);
			runs[k][a][0][r] = res.lat_median;
			runs[k][a][1][r] = res.lat_p99;
			runs[k][a][2][r] = res.rate;
			bench_note("round %d/%d %s/%s: median %.0f ns, p99 %.0f ns, %.0f irq/s",
				   r + 1, rounds, kind_names[k], ack_names[a],
				   res.lat_median, res.lat_p99, res.rate);
		}
	}
	for (k = 0; k < NR_KINDS; k++)
		for (a = 0; a < NR_ACKS; a++)
			for (m = 0; m < 3; m++)
				med[k][a][m] = bench_median(runs[k][a][m], rounds);

	uname(&u);
	printf("{\n");
	printf("  \"kernel\": \"%s\",\n", u.release);
	printf("  \"cpus\": %d,\n", vext_nr_cpus());
	printf("  \"devices\": {\"first_half\": {\"vext_slot\": %d, \"vfio_slot\": %d}, ",
	       SLOT_A, SLOT_B);
	printf("\"second_half\": {\"vext_slot\": %d, \"vfio_slot\": %d}},\n",
	       SLOT_B, SLOT_A);
	printf("  \"rounds\": %d,\n", rounds);
	printf("  \"irqs_per_measurement\": %d,\n", n);
	printf("  \"pinned_cpu\": %d,\n", BENCH_CPU);
	printf("  \"targets\": {\"ratio_latency_max\": 1.0, \"ratio_throughput_min\": 1.0},\n");
	for (a = 0; a < NR_ACKS; a++) {
		printf("  \"unmask_%s\": {\n", ack_names[a]);
		for (k = 0; k < NR_KINDS; k++) {
			printf("    \"%s\": {", kind_names[k]);
			printf("\"latency_median_ns\": %.0f, ", med[k][a][0]);
			printf("\"latency_p99_ns\": %.0f, ", med[k][a][1]);
			printf("\"irqs_per_s\": %.0f, ", med[k][a][2]);
			printf("\"mad_pct\": {\"median\": %.2f, ",
			       bench_mad_pct(runs[k][a][0], rounds));
			printf("\"p99\": %.2f, ", bench_mad_pct(runs[k][a][1], rounds));
			printf("\"rate\": %.2f}},\n", bench_mad_pct(runs[k][a][2], rounds));
		}
		for (m = 0; m < 3; m++) {
			for (r = 0; r < rounds; r++)
				lat[r] = runs[VEXT][a][m][r] / runs[VFIO][a][m][r];
			ratio[m] = bench_median(lat, rounds);
		}
		printf("    \"ratio_latency_median\": %.4f,\n", ratio[0]);
		printf("    \"ratio_latency_p99\": %.4f,\n", ratio[1]);
		printf("    \"ratio_throughput\": %.4f,\n", ratio[2]);
		printf("    \"ratio_of_medians\": {\"latency_median\": %.4f, ",
		       med[VEXT][a][0] / med[VFIO][a][0]);
		printf("\"latency_p99\": %.4f, ", med[VEXT][a][1] / med[VFIO][a][1]);
		printf("\"throughput\": %.4f},\n", med[VEXT][a][2] / med[VFIO][a][2]);
		printf("    \"target_met\": %s,\n",
		       ratio[0] <= 1.0 && ratio[2] >= 1.0 ? "true" : "false");
		printf("    \"runs\": {\n");
		for (k = 0; k < NR_KINDS; k++) {
			char name[64];

			snprintf(name, sizeof(name), "%s_latency_median_ns", kind_names[k]);
			print_runs(name, runs[k][a][0], rounds, 0);
			snprintf(name, sizeof(name), "%s_irqs_per_s", kind_names[k]);
			print_runs(name, runs[k][a][2], rounds, k == NR_KINDS - 1);
		}
		printf("    }\n");
		printf("  }%s\n", a == NR_ACKS - 1 ? "" : ",");
	}
	printf("}\n");
	fflush(stdout);

	/* Leave the devices unbound, the suite unloaded for the next one. */
	teardown_pair(devs);
	if (bench_mod_unload("vext_assign", 5000) || bench_mod_unload("vext_core", 5000))
		bench_die(EBUSY, "unloading vext_assign and vext_core");
	return 0;
}
