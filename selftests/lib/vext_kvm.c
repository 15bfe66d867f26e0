// SPDX-License-Identifier: GPL-2.0-only
/*
 * A minimal KVM VMM for the selftests (see vext_kvm.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vext_kvm.h"
#include "vext_test.h"

/*
 * The guest programs, assembled by the compiler with this file: 16-bit
 * code, position independent (no symbol is referenced from inside), in a
 * read-only section of the test binary, copied into guest memory.
 */
asm(".pushsection .rodata.vext_guest, \"a\", @progbits\n"
	".code16\n"
    /* spin: BX = DATA_GPA + 4 * SI; forever: (BX) += 1 */
	".global vext_guest_spin, vext_guest_spin_end\n"
	"vext_guest_spin:\n"
	"	mov %si, %bx\n"
	"	shl $2, %bx\n"
	"	add $0x500, %bx\n"
	"1:	addl $1, (%bx)\n"
	"	jmp 1b\n"
	"vext_guest_spin_end:\n"
	/*
	 * intx: IRQ line L (0-15) from data word 15. Installs the handler in
	 * the real-mode IVT at vector 0x20 + L, programs both 8259s (vectors
	 * 0x20/0x28, every line masked but L and the cascade), makes L
	 * level-triggered in the ELCR, sets data word 1 ("ready") and halts
	 * with interrupts on. The handler increments data word 0 and sends
	 * the EOI (to the slave too for L >= 8).
	 */
	".global vext_guest_intx, vext_guest_intx_end\n"
	"vext_guest_intx:\n"
	"	cli\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	mov 0x53c, %cx\n"
	"	mov %cx, %bx\n"
	"	add $0x20, %bx\n"
	"	shl $2, %bx\n"
	"	movw $(0x1000 + vext_guest_intx_isr - vext_guest_intx), (%bx)\n"
	"	movw $0, 2(%bx)\n"
	"	mov $0x11, %al\n"
	"	out %al, $0x20\n"
	"	mov $0x20, %al\n"
	"	out %al, $0x21\n"
	"	mov $0x04, %al\n"
	"	out %al, $0x21\n"
	"	mov $0x01, %al\n"
	"	out %al, $0x21\n"
	"	mov $0x11, %al\n"
	"	out %al, $0xa0\n"
	"	mov $0x28, %al\n"
	"	out %al, $0xa1\n"
	"	mov $0x02, %al\n"
	"	out %al, $0xa1\n"
	"	mov $0x01, %al\n"
	"	out %al, $0xa1\n"
	"	mov $1, %bx\n"
	"	shl %cl, %bx\n"
	"	mov %bx, %si\n"
	"	not %bx\n"
	"	cmp $8, %cx\n"
	"	jb 1f\n"
	"	and $0xfffb, %bx\n"
	"1:	mov %bl, %al\n"
	"	out %al, $0x21\n"
	"	mov %bh, %al\n"
	"	out %al, $0xa1\n"
	"	mov %si, %bx\n"
	"	mov $0x4d0, %dx\n"
	"	mov %bl, %al\n"
	"	out %al, %dx\n"
	"	mov $0x4d1, %dx\n"
	"	mov %bh, %al\n"
	"	out %al, %dx\n"
	"	movl $1, 0x504\n"
	"	sti\n"
	"2:	hlt\n"
	"	jmp 2b\n"
	"vext_guest_intx_isr:\n"
	"	pushl %eax\n"
	"	push %cx\n"
	"	push %es\n"
	/*
	 * A device BAR mapped at segment ES (data word 14): read its status
	 * and ack it; an interrupt with nothing pending at the device is
	 * spurious, counted apart in word 13, as a driver would not claim it.
	 */
	"	mov 0x538, %ax\n"
	"	test %ax, %ax\n"
	"	jz 4f\n"
	"	mov %ax, %es\n"
	"	movl %es:0x24, %eax\n"
	"	movl %eax, %es:0x64\n"
	"	test %eax, %eax\n"
	"	jnz 4f\n"
	"	addl $1, 0x534\n"
	"	jmp 5f\n"
	"4:	addl $1, 0x500\n"
	"5:\n"
	"	mov 0x53c, %cx\n"
	"	mov $0x20, %al\n"
	"	cmp $8, %cx\n"
	"	jb 3f\n"
	"	out %al, $0xa0\n"
	"3:	out %al, $0x20\n"
	"	pop %es\n"
	"	pop %cx\n"
	"	popl %eax\n"
	"	iret\n"
	"vext_guest_intx_end:\n"
	/*
	 * grant: fills the page at gpfn P (data word 2) with the 16 bytes of
	 * its message, then writes grant entry R (word 3) of the table frame
	 * mapped at segment T (word 5): domid D (word 4), frame P, and last
	 * the flags, permit_access | readonly (Xen's order: the entry is
	 * complete before it is valid). Sets word 1 and halts.
	 */
	".global vext_guest_grant, vext_guest_grant_end\n"
	"vext_guest_grant:\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	mov 0x508, %ax\n"
	"	shl $8, %ax\n"
	"	mov %ax, %es\n"
	"	mov $(0x1000 + vext_guest_grant_msg - vext_guest_grant), %si\n"
	"	xor %di, %di\n"
	"	mov $16, %cx\n"
	"	cld\n"
	"	rep movsb\n"
	"	mov 0x514, %ax\n"
	"	mov %ax, %es\n"
	"	mov 0x50c, %bx\n"
	"	shl $3, %bx\n"
	"	mov 0x510, %ax\n"
	"	mov %ax, %es:2(%bx)\n"
	"	movl 0x508, %eax\n"
	"	movl %eax, %es:4(%bx)\n"
	"	movw $5, %es:(%bx)\n"
	"	movl $1, 0x504\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	"vext_guest_grant_msg:\n"
	"	.ascii \"granted by guest\"\n"
	"vext_guest_grant_end:\n"
	".code64\n"
	".popsection\n");

const struct vext_kvm_prog vext_kvm_prog_spin = {
	.name = "spin",
	.start = vext_guest_spin,
	.end = vext_guest_spin_end,
};

/* ioctl that returns -errno and says which step failed. */
static int kvm_ioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	int ret = ioctl(fd, cmd, arg);

	if (ret < 0) {
		ret = -errno;
		fprintf(stderr, "vext_kvm: %s: %s\n", what, strerror(errno));
	}
	return ret;
}

const struct vext_kvm_prog vext_kvm_prog_grant = {
	.name = "grant",
	.start = vext_guest_grant,
	.end = vext_guest_grant_end,
};

const struct vext_kvm_prog vext_kvm_prog_intx = {
	.name = "intx",
	.start = vext_guest_intx,
	.end = vext_guest_intx_end,
};

void vext_kvm_set_data(struct vext_kvm_vm *vm, unsigned int i, __u32 val)
{
	__u32 *p = (__u32 *)(vm->mem + VEXT_KVM_DATA_GPA);

	if (i < VEXT_KVM_DATA_SLOTS)
		__atomic_store_n(&p[i], val, __ATOMIC_SEQ_CST);
}

int vext_kvm_map_mmio(struct vext_kvm_vm *vm, void *hva, size_t size)
{
	struct kvm_userspace_memory_region region = {
		.slot = 1,
		.guest_phys_addr = VEXT_KVM_MMIO_GPA,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (size > VEXT_KVM_MMIO_MAX)
		return -EINVAL;
	return kvm_ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region,
			 "KVM_SET_USER_MEMORY_REGION (MMIO)");
}

int vext_kvm_irqfd(struct vext_kvm_vm *vm, int trigger_fd, int resample_fd,
		   unsigned int gsi, bool deassign)
{
	struct kvm_irqfd irqfd = {
		.fd = trigger_fd,
		.gsi = gsi,
	};

	if (resample_fd >= 0) {
		irqfd.flags |= KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = resample_fd;
	}
	if (deassign)
		irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	return ioctl(vm->fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

int vext_kvm_load_modules(void)
{
	static const char * const mods[] = {
		"irqbypass", "ccp", "kvm", "kvm_amd",
	};
	unsigned int i;
	int ret;

	for (i = 0; i < VEXT_ARRAY_SIZE(mods); i++) {
		ret = vext_mod_load(mods[i], NULL);
		/* ccp is only a dependency of kvm_amd's SEV support. */
		if (ret == -ENOENT && !strcmp(mods[i], "ccp"))
			continue;
		if (ret) {
			fprintf(stderr, "vext_kvm: loading %s: %s\n", mods[i],
				strerror(-ret));
			return ret;
		}
	}
	return access("/dev/kvm", R_OK | W_OK) ? -errno : 0;
}

int vext_kvm_vm_create(struct vext_kvm_vm *vm)
{
	struct kvm_userspace_memory_region region = { 0 };
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		fprintf(stderr, "vext_kvm: open /dev/kvm: %s\n", strerror(errno));
		return ret;
	}
	ret = kvm_ioctl(vm->kvm_fd, KVM_GET_API_VERSION, NULL, "KVM_GET_API_VERSION");
	if (ret != KVM_API_VERSION) {
		ret = ret < 0 ? ret : -EPROTO;
		goto fail;
	}
	ret = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	if (ret < 0)
		goto fail;
	vm->fd = ret;
	/* Where QEMU puts it; needed on Intel only, harmless on AMD. */
	ret = ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	if (ret < 0) {
		ret = -errno;
		fprintf(stderr, "vext_kvm: KVM_SET_TSS_ADDR: %s\n", strerror(errno));
		goto fail;
	}
	ret = kvm_ioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");
	if (ret < 0)
		goto fail;

	vm->mem_size = VEXT_KVM_MEM_SIZE;
	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		ret = -errno;
		vm->mem = NULL;
		fprintf(stderr, "vext_kvm: guest memory: %s\n", strerror(errno));
		goto fail;
	}
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = vm->mem_size;
	region.userspace_addr = (uintptr_t)vm->mem;
	ret = kvm_ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region,
			"KVM_SET_USER_MEMORY_REGION");
	if (ret < 0)
		goto fail;
	return 0;
fail:
	vext_kvm_vm_destroy(vm);
	return ret;
}

void vext_kvm_vm_destroy(struct vext_kvm_vm *vm)
{
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	vm->fd = -1;
	vm->kvm_fd = -1;
	vm->mem = NULL;
}

void vext_kvm_load_prog(struct vext_kvm_vm *vm, const struct vext_kvm_prog *prog)
{
	memcpy(vm->mem + VEXT_KVM_CODE_GPA, prog->start, prog->end - prog->start);
}

int vext_kvm_vcpu_create(struct vext_kvm_vm *vm, unsigned int id,
			 struct vext_kvm_vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_segment data;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->id = id;
	ret = kvm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL,
			"KVM_GET_VCPU_MMAP_SIZE");
	if (ret < 0)
		return ret;
	vcpu->run_size = ret;
	ret = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (ret < 0) {
		ret = -errno;
		fprintf(stderr, "vext_kvm: KVM_CREATE_VCPU %u: %s\n", id, strerror(errno));
		return ret;
	}
	vcpu->fd = ret;
	vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		vcpu->run = NULL;
		goto fail;
	}

	ret = kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	if (ret < 0)
		goto fail;
	/* Real mode, every segment at 0. */
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	data = sregs.cs;
	data.type = 3;		/* data, read/write, accessed */
	sregs.ds = data;
	sregs.es = data;
	sregs.fs = data;
	sregs.gs = data;
	sregs.ss = data;
	ret = kvm_ioctl(vcpu->fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	if (ret < 0)
		goto fail;
	memset(&regs, 0, sizeof(regs));
	regs.rip = VEXT_KVM_CODE_GPA;
	regs.rsp = VEXT_KVM_CODE_GPA;
	regs.rsi = id;
	regs.rflags = 0x2;
	ret = kvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	if (ret < 0)
		goto fail;
	/*
	 * With the in-kernel local APIC an application processor waits for
	 * INIT/SIPI; these vCPUs all start at once at the program.
	 */
	ret = kvm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
	if (ret < 0)
		goto fail;
	return 0;
fail:
	vext_kvm_vcpu_destroy(vcpu);
	return ret;
}

void vext_kvm_vcpu_destroy(struct vext_kvm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

__u32 vext_kvm_data(const struct vext_kvm_vm *vm, unsigned int i)
{
	const __u32 *p = (const __u32 *)(vm->mem + VEXT_KVM_DATA_GPA);

	/* The guest writes it concurrently: one untorn load. */
	return i < VEXT_KVM_DATA_SLOTS ? __atomic_load_n(&p[i], __ATOMIC_RELAXED) : 0;
}

static void kick_handler(int sig)
{
	(void)sig;
}

void vext_kvm_kick_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/* A runner's thread: KVM_RUN until stopped; a guest exit is an error. */
static void *runner_main(void *arg)
{
	struct vext_kvm_runner *t = arg;
	int ret;

	__atomic_store_n(&t->running, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&t->stop, __ATOMIC_SEQ_CST)) {
		t->runs++;
		ret = ioctl(t->kv.fd, KVM_RUN, 0);
		if (ret < 0 && errno == EINTR)
			continue;
		t->err = ret < 0 ? -errno : -EPROTO;
		t->what = ret < 0 ? "KVM_RUN" : "KVM_RUN exit reason";
		if (ret >= 0)
			fprintf(stderr, "vext_kvm: vCPU %u: exit reason %u\n",
				t->kv.id, t->kv.run->exit_reason);
		break;
	}
	return NULL;
}

int vext_kvm_runner_start(struct vext_kvm_runner *r)
{
	return -pthread_create(&r->thread, NULL, runner_main, r);
}

void vext_kvm_runner_stop(struct vext_kvm_runner *r)
{
	__atomic_store_n(&r->stop, 1, __ATOMIC_SEQ_CST);
	/* A KVM_RUN entered after this returns -EINTR at once. */
	r->kv.run->immediate_exit = 1;
	while (pthread_tryjoin_np(r->thread, NULL) == EBUSY) {
		pthread_kill(r->thread, SIGUSR1);
		vext_sleep_ms(5);
	}
}
