/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host-side API: VMs and vCPUs on /dev/kvm running 64-bit guest code that
 * lives in the test binary itself.  Include this one header in a test; it
 * brings in the guest API, ucalls, TAP output and TEST_ASSERT too.
 *
 * Guest memory is one slot at GPA 0 (64 MiB by default).  The PT_LOAD
 * segments of /proc/self/exe are copied to GPA == their link address, and
 * the first 4 GiB (at least all of memory) are identity mapped with 2 MiB
 * pages, so a symbol's address is the same in the host, as a GVA and as a
 * GPA.  The library allocates its own structures above the binary; the
 * memory below it (0x1000 up to 0x400000) is left free for tests.
 */
#ifndef HVL_KVM_UTIL_H
#define HVL_KVM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/kvm.h>

#include "x86.h"
#include "ucall.h"
#include "guest.h"
#include "tap.h"
#include "test_util.h"

#define HVL_MAX_VCPUS		32
#define HVL_DEFAULT_MEM		(64ULL << 20)
#define HVL_PAGE_SIZE		4096ULL

/* vm_create() flags */
#define VM_IRQCHIP		(1u << 0)	/* KVM_CREATE_IRQCHIP before vCPUs */

struct kvm_vcpu;

struct kvm_vm {
	int fd;
	unsigned int flags;
	uint8_t *mem;			/* host mapping of GPA 0 */
	uint64_t mem_size;
	uint64_t alloc_next;		/* vm_alloc() bump pointer (GPA) */
	uint64_t pml4, gdt, idt;	/* GPAs of the system tables */
	unsigned int nr_vcpus;
	struct kvm_vcpu *vcpus[HVL_MAX_VCPUS];
};

struct kvm_vcpu {
	struct kvm_vm *vm;
	uint32_t id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	struct kvm_cpuid2 *cpuid;	/* what KVM_SET_CPUID2 last got */
	uint64_t stack_top;		/* CPL0 stack */
	uint64_t user_stack_top;	/* CPL3 stack */
	uint64_t tss, percpu;		/* GPAs */
	struct ucall uc;		/* last ucall */
};

/* ---- /dev/kvm ---- */

int kvm_fd(void);				/* opened once, asserts */
void kvm_require(void);				/* tap_skip_all() without usable KVM */
int kvm_check_cap(long cap);			/* KVM_CHECK_EXTENSION on /dev/kvm */
void kvm_require_cap(long cap);			/* tap_skip_all() if cap is 0 */
const struct kvm_cpuid2 *kvm_supported_cpuid(void);

/* ---- VMs ---- */

/* mem_size 0 means HVL_DEFAULT_MEM; flags: VM_IRQCHIP. */
struct kvm_vm *vm_create(uint64_t mem_size, unsigned int flags);
/* Default VM with nr vCPUs all starting at guest_code. */
struct kvm_vm *vm_create_with_vcpus(unsigned int nr, void *guest_code,
				    struct kvm_vcpu **vcpus);
void vm_free(struct kvm_vm *vm);
int vm_check_cap(struct kvm_vm *vm, long cap);
/* KVM_ENABLE_CAP with args[0] = arg0; returns the ioctl result. */
int vm_enable_cap(struct kvm_vm *vm, uint32_t cap, uint64_t arg0);

/* Zeroed, page-aligned guest memory; returns its GPA (== GVA). */
uint64_t vm_alloc(struct kvm_vm *vm, uint64_t size);
/* Host pointer for a GPA; fails the test if [gpa, gpa+len) is not memory. */
void *addr_gpa2hva(struct kvm_vm *vm, uint64_t gpa, uint64_t len);
/* Install a guest exception/interrupt handler from the host side. */
void vm_install_handler(struct kvm_vm *vm, int vector, guest_handler_t handler);

/* Copy a global between the host process and the VM's copy of it. */
#define sync_global_to_guest(vm, g)					\
	memcpy(addr_gpa2hva(vm, (uint64_t)&(g), sizeof(g)), &(g), sizeof(g))
#define sync_global_from_guest(vm, g)					\
	memcpy(&(g), addr_gpa2hva(vm, (uint64_t)&(g), sizeof(g)), sizeof(g))

/* ---- vCPUs ---- */

/*
 * Add the next vCPU (id = vm->nr_vcpus): its stacks, TSS and per-vCPU
 * area, CPUID from KVM_GET_SUPPORTED_CPUID (APIC id = vCPU id), and long
 * mode at CPL0 entering guest_code(id).  A guest_code that returns is
 * treated as GUEST_DONE().
 */
struct kvm_vcpu *vm_vcpu_add(struct kvm_vm *vm, void *guest_code);
/*
 * vcpu_args_set(vcpu, n, a, b, ...): n (up to 6) arguments for guest_code
 * (RDI, RSI, ...).  Each value is converted to uint64_t, so plain ints are
 * fine; n must match the number of values.
 */
#define vcpu_args_set(vcpu, n, ...)					\
	__vcpu_args_set(vcpu, n, ARRAY_SIZE(((uint64_t[]){ __VA_ARGS__ })), \
			(uint64_t[]){ __VA_ARGS__ })
void __vcpu_args_set(struct kvm_vcpu *vcpu, unsigned int n,
		     unsigned int nvals, const uint64_t *args);
int vcpu_enable_cap(struct kvm_vcpu *vcpu, uint32_t cap, uint64_t arg0);

/*
 * CPUID.  KVM refuses changes after the first KVM_RUN, so do this first.
 * vcpu_set_cpuid_leaf() adds or replaces (function, index) and applies;
 * vcpu_cpuid_entry() finds an entry to edit in place, then vcpu_set_cpuid().
 */
struct kvm_cpuid_entry2 *vcpu_cpuid_entry(struct kvm_vcpu *vcpu,
					  uint32_t function, uint32_t index);
void vcpu_set_cpuid_entry(struct kvm_vcpu *vcpu,
			  const struct kvm_cpuid_entry2 *entry);
/* Put these entries first, replacing any with the same (function, index). */
void vcpu_set_cpuid_first(struct kvm_vcpu *vcpu,
			  const struct kvm_cpuid_entry2 *entries, unsigned int n);
void vcpu_set_cpuid_leaf(struct kvm_vcpu *vcpu, uint32_t function,
			 uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx);
void vcpu_remove_cpuid_entry(struct kvm_vcpu *vcpu, uint32_t function,
			     uint32_t index);
int __vcpu_set_cpuid(struct kvm_vcpu *vcpu);	/* returns the ioctl result */
void vcpu_set_cpuid(struct kvm_vcpu *vcpu);

/*
 * A file of the VM's debugfs directory (/sys/kernel/debug/kvm/PID-FD/):
 * its number (key NULL, e.g. KVM's "exits") or the value of its
 * "key: value" line. False when the file or the key is not there.
 */
bool vm_debugfs_read(struct kvm_vm *vm, const char *file, const char *key,
		     uint64_t *val);

/*
 * A vCPU statistic by name (e.g. "exits") from KVM_GET_STATS_FD, or -1
 * when KVM has no binary statistics; asserts on a short read.
 */
uint64_t vcpu_stat(struct kvm_vcpu *vcpu, const char *name);

/* Registers: these assert success. */
void vcpu_regs_get(struct kvm_vcpu *vcpu, struct kvm_regs *regs);
void vcpu_regs_set(struct kvm_vcpu *vcpu, const struct kvm_regs *regs);
void vcpu_sregs_get(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);
void vcpu_sregs_set(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs);

/*
 * MSRs.  vcpu_get_msr()/vcpu_set_msr() return the KVM_GET/SET_MSRS result
 * as is: 1 on success, 0 if KVM refused the MSR, -1 (errno) on error.
 * vcpu_rdmsr()/vcpu_wrmsr() fail the test unless it worked.
 */
int vcpu_get_msr(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t *val);
int vcpu_set_msr(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t val);
uint64_t vcpu_rdmsr(struct kvm_vcpu *vcpu, uint32_t msr);
void vcpu_wrmsr(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t val);

/* Start guest_code at CPL3 (CS/SS DPL3; exceptions use the TSS RSP0 stack). */
void vcpu_set_cpl3(struct kvm_vcpu *vcpu);
/*
 * Start in flat 32-bit protected mode, paging off, at code_gpa (< 4 GiB),
 * CS = KERNEL_CS32, data segments flat, ESP = the vCPU's stack, no IDT (an
 * exception is a triple fault).  Other GPRs are left for the test to set.
 * Use vcpu_run_raw() and read the result registers with vcpu_regs_get();
 * the blob can stop with "out %eax, $port" (port < 0x100 keeps EDX intact).
 */
void vcpu_set_pm32(struct kvm_vcpu *vcpu, uint64_t code_gpa);

/* ---- running ---- */

/* One KVM_RUN (retried on EINTR); returns run->exit_reason. */
uint32_t vcpu_run_raw(struct kvm_vcpu *vcpu);
/* Decode the last exit as a ucall: its kind, or UCALL_NONE. uc may be NULL. */
uint64_t vcpu_get_ucall(struct kvm_vcpu *vcpu, struct ucall *uc);
/*
 * Run until the next ucall and return its kind (SYNC or DONE), filling uc
 * (may be NULL; vcpu->uc always has it).  Fails the test on a failed
 * GUEST_ASSERT, an unhandled guest exception or any exit that is not a
 * ucall (triple fault, entry failure, MMIO, HLT, ...).
 */
#define vcpu_run(vcpu, uc)	__vcpu_run(vcpu, uc, false, __FILE__, __LINE__)
/* Same, but returns UCALL_ABORT / UCALL_EXCEPTION (see uc->msg) instead. */
#define vcpu_run_noabort(vcpu, uc) __vcpu_run(vcpu, uc, true, __FILE__, __LINE__)
/* The two above; file and line name the caller in failure reports. */
uint64_t __vcpu_run(struct kvm_vcpu *vcpu, struct ucall *uc, bool noabort,
		    const char *file, int line);
/* Describe the last exit (reason, details, RIP) for messages. */
const char *vcpu_exit_str(struct kvm_vcpu *vcpu, char *buf, size_t len);
const char *exit_reason_str(uint32_t reason);

#endif
