/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal KVM VMM for the selftests, in the style of the kernel's KVM
 * selftests: one KVM VM with an in-kernel irqchip, flat guest memory at
 * guest physical address 0, vCPUs in 16-bit real mode running a tiny guest
 * program assembled at build time (the guest programs are in vext_kvm.c).
 *
 * It exists to prove that vext composes with a real KVM: vCPU threads that
 * call VEXT_VCPU_LOAD before their KVM_RUN loop, KVM irqfds fed by vext
 * eventfds, guest memory that vext also sees. The test VM's '-cpu max'
 * exposes AMD SVM, so Debian's kvm and kvm-amd load inside it.
 */
#ifndef _VEXT_KVM_H
#define _VEXT_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <linux/kvm.h>

/* Guest physical layout (all below 1 MiB, real mode). */
#define VEXT_KVM_MEM_SIZE	0x80000UL	/* 512 KiB of guest memory */
#define VEXT_KVM_MMIO_GPA	0x80000UL	/* a device BAR, segment 0x8000 */
#define VEXT_KVM_MMIO_MAX	0x10000UL
#define VEXT_KVM_CODE_GPA	0x1000UL	/* the guest program */
#define VEXT_KVM_DATA_GPA	0x500UL		/* guest-visible counters */
#define VEXT_KVM_DATA_SLOTS	16		/* 32-bit words at DATA_GPA */

/* I/O ports the guest programs write to (KVM_EXIT_IO). */
#define VEXT_KVM_PORT_DONE	0x0e9	/* "finished", value in AL */

/* A guest program: bytes of 16-bit code, copied to VEXT_KVM_CODE_GPA. */
struct vext_kvm_prog {
	const char *name;
	const __u8 *start;
	const __u8 *end;
};

/*
 * spin: forever increments the 32-bit word at DATA_GPA + 4 * (vCPU index
 * held in SI at entry); never exits on its own.
 */
extern const struct vext_kvm_prog vext_kvm_prog_spin;

/*
 * intx: takes interrupts from one 8259 line, level-triggered (IRQ L from
 * data word VEXT_KVM_INTX_LINE, set before the vCPU runs); counts them in
 * data word VEXT_KVM_INTX_COUNT and EOIs each; sets data word
 * VEXT_KVM_INTX_READY once interrupts are on; halts in between (KVM_RUN
 * does not return: HLT stays in the kernel with the in-kernel irqchip).
 * Only vCPU 0 takes 8259 interrupts. If data word VEXT_KVM_INTX_DEV_SEG is
 * not 0, a QEMU edu device's BAR 0 is mapped at that real-mode segment
 * (vext_kvm_map_mmio(): VEXT_KVM_MMIO_GPA >> 4) and the handler acks the
 * device before the EOI, as a driver does: it reads the interrupt status
 * (0x24) and writes it to the ack register (0x64); an interrupt that finds
 * nothing pending is counted in VEXT_KVM_INTX_SPURIOUS instead.
 */
extern const struct vext_kvm_prog vext_kvm_prog_intx;
#define VEXT_KVM_INTX_COUNT	0
#define VEXT_KVM_INTX_READY	1
#define VEXT_KVM_INTX_SPURIOUS	13
#define VEXT_KVM_INTX_DEV_SEG	14
#define VEXT_KVM_INTX_LINE	15

/*
 * grant: writes VEXT_KVM_GRANT_MSG into the page at gpfn (data word
 * VEXT_KVM_GRANT_GPFN), then grant entry VEXT_KVM_GRANT_REF of the grant
 * table frame mapped at real-mode segment VEXT_KVM_GRANT_TABLE_SEG, readonly,
 * to domain VEXT_KVM_GRANT_DOMID; then sets VEXT_KVM_GRANT_DONE and halts.
 */
extern const struct vext_kvm_prog vext_kvm_prog_grant;
#define VEXT_KVM_GRANT_DONE		1
#define VEXT_KVM_GRANT_GPFN		2
#define VEXT_KVM_GRANT_REF		3
#define VEXT_KVM_GRANT_DOMID		4
#define VEXT_KVM_GRANT_TABLE_SEG	5
#define VEXT_KVM_GRANT_MSG		"granted by guest"	/* 16 bytes */

/* The programs' bytes (assembled in vext_kvm.c). */
extern const __u8 vext_guest_spin[], vext_guest_spin_end[];
extern const __u8 vext_guest_intx[], vext_guest_intx_end[];
extern const __u8 vext_guest_grant[], vext_guest_grant_end[];

#define VEXT_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct vext_kvm_vcpu {
	int fd;
	unsigned int id;
	struct kvm_run *run;
	size_t run_size;
};

struct vext_kvm_vm {
	int kvm_fd;
	int fd;
	__u8 *mem;			/* host view of guest memory */
	size_t mem_size;
};

/*
 * struct vext_kvm_runner - a thread running one vCPU (vext_kvm_runner_*)
 * @thread:    the thread
 * @kv:        the vCPU it runs (set by the caller)
 * @vext_vcpu: a vext vCPU fd for callers that bind one (not used here)
 * @cpu:       a host CPU for callers that pin (not used here)
 * @stop:      set by vext_kvm_runner_stop()
 * @running:   set once the thread is about to enter KVM_RUN
 * @err:       -errno of the step that failed, 0 if none
 * @what:      that step
 * @runs:      KVM_RUN calls made
 */
struct vext_kvm_runner {
	pthread_t thread;
	struct vext_kvm_vcpu kv;
	int vext_vcpu;
	int cpu;
	int stop;
	int running;
	int err;
	const char *what;
	unsigned long runs;
};

/**
 * vext_kvm_runner_start() - start a thread that keeps @r->kv in KVM_RUN
 * until vext_kvm_runner_stop() (EINTR is retried; any exit to user space
 * is recorded in @r->err and ends the thread)
 * @r: the runner, @r->kv created
 *
 * Return: 0 or -errno.
 */
int vext_kvm_runner_start(struct vext_kvm_runner *r);

/**
 * vext_kvm_runner_stop() - stop the thread (immediate_exit, then SIGUSR1
 * until it has exited) and join it; needs vext_kvm_kick_init()
 * @r: the runner
 */
void vext_kvm_runner_stop(struct vext_kvm_runner *r);

/**
 * vext_kvm_load_modules() - load KVM in the test VM (irqbypass, ccp, kvm,
 * kvm_amd; built-in ones count as loaded)
 *
 * Return: 0, or -errno of the first module that failed (-ENOENT: not
 * installed; -ENODEV from kvm_amd: no SVM).
 */
int vext_kvm_load_modules(void);

/**
 * vext_kvm_vm_create() - a KVM VM with an in-kernel irqchip (PIC, IOAPIC,
 * local APICs) and VEXT_KVM_MEM_SIZE bytes of zeroed memory at GPA 0
 * @vm: filled in
 *
 * Return: 0 or -errno (which step failed is printed on stderr).
 */
int vext_kvm_vm_create(struct vext_kvm_vm *vm);

/**
 * vext_kvm_vm_destroy() - close the VM and unmap its memory
 * @vm: from vext_kvm_vm_create(); its vCPUs must be destroyed first
 */
void vext_kvm_vm_destroy(struct vext_kvm_vm *vm);

/**
 * vext_kvm_load_prog() - copy a guest program to VEXT_KVM_CODE_GPA
 * @vm:   the VM
 * @prog: the program
 */
void vext_kvm_load_prog(struct vext_kvm_vm *vm, const struct vext_kvm_prog *prog);

/**
 * vext_kvm_vcpu_create() - a vCPU in real mode at CS:IP 0:CODE_GPA, DS=SS=0,
 * SP just below the program, SI = @id
 * @vm:   the VM
 * @id:   vCPU id (0 is the BSP)
 * @vcpu: filled in
 *
 * Return: 0 or -errno.
 */
int vext_kvm_vcpu_create(struct vext_kvm_vm *vm, unsigned int id,
			 struct vext_kvm_vcpu *vcpu);

/**
 * vext_kvm_vcpu_destroy() - unmap kvm_run and close the vCPU
 * @vcpu: from vext_kvm_vcpu_create()
 */
void vext_kvm_vcpu_destroy(struct vext_kvm_vcpu *vcpu);

/**
 * vext_kvm_data() - the guest's 32-bit data word @i (DATA_GPA + 4 * @i),
 * read once from the host
 * @vm: the VM
 * @i:  index below VEXT_KVM_DATA_SLOTS
 */
__u32 vext_kvm_data(const struct vext_kvm_vm *vm, unsigned int i);

/**
 * vext_kvm_set_data() - set the guest's 32-bit data word @i
 * @vm:  the VM
 * @i:   index below VEXT_KVM_DATA_SLOTS
 * @val: the value
 */
void vext_kvm_set_data(struct vext_kvm_vm *vm, unsigned int i, __u32 val);

/**
 * vext_kvm_map_mmio() - map host memory (a device BAR's mmap) into the
 * guest at VEXT_KVM_MMIO_GPA, memory slot 1
 * @vm:   the VM
 * @hva:  the mapping, page aligned
 * @size: bytes, at most VEXT_KVM_MMIO_MAX, a multiple of the page size
 *
 * Return: 0 or -errno.
 */
int vext_kvm_map_mmio(struct vext_kvm_vm *vm, void *hva, size_t size);

/**
 * vext_kvm_irqfd() - KVM_IRQFD: @trigger_fd raises GSI @gsi
 * @vm:          the VM
 * @trigger_fd:  eventfd whose signal asserts the line
 * @resample_fd: eventfd KVM signals when the guest EOIs the line (the line
 *               is then deasserted: level-triggered resampling), or -1
 * @gsi:         the line (0-15 reach the 8259s and the IOAPIC)
 * @deassign:    remove the irqfd of @trigger_fd instead
 *
 * Return: 0 or -errno.
 */
int vext_kvm_irqfd(struct vext_kvm_vm *vm, int trigger_fd, int resample_fd,
		   unsigned int gsi, bool deassign);

/**
 * vext_kvm_kick_init() - install a no-op SIGUSR1 handler (no SA_RESTART),
 * so that pthread_kill(thread, SIGUSR1) makes a KVM_RUN in that thread
 * return -EINTR
 */
void vext_kvm_kick_init(void);

#endif /* _VEXT_KVM_H */
