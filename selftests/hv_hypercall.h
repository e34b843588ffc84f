/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What hv_hypercall.c and hv_hypercall_modes.c share: a Hyper-V VM with its
 * guest OS ID set, the CPU's hypercall instruction, KVM's hypercall count.
 */
#ifndef HVL_SELFTEST_HV_HYPERCALL_H
#define HVL_SELFTEST_HV_HYPERCALL_H

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

/* ---- host helpers ---- */

#define OS_ID		0x8100000000001234ull
#define KVM_ENOSYS	1000
#define KVM_HC_UNKNOWN	0xabcdull	/* no such KVM hypercall number */
#define GARBAGE		0xdeadbeefcafef00dull

/* CPU vendor: VMMCALL on AMD and Hygon, VMCALL on Intel.  Host and guest. */
static inline bool is_amd(void)
{
	uint32_t a, b, c, d;

	cpuid_count(0, 0, &a, &b, &c, &d);
	return b == 0x68747541 /* "Auth" */ || b == 0x6f677948 /* "Hygo" */;
}

static inline const uint8_t *hc_page_bytes(void)
{
	static const uint8_t vmmcall[] = { 0x0f, 0x01, 0xd9, 0xc3 };
	static const uint8_t vmcall[] = { 0x0f, 0x01, 0xc1, 0xc3 };

	return is_amd() ? vmmcall : vmcall;
}

/* KVM's own count of completed hypercalls (all vCPUs), or -1. */
static inline int64_t kvm_hypercalls(struct kvm_vm *vm)
{
	uint64_t v;

	return vm_debugfs_read(vm, "hypercalls", NULL, &v) ? (int64_t)v : -1;
}

/* A VM with one Hyper-V vCPU at guest_code, GUEST_OS_ID set by the host. */
static inline struct kvm_vm *hv_vm(void *guest_code,
				   struct kvm_vcpu **vcpu, bool set_os_id)
{
	struct kvm_vm *vm = vm_create_with_vcpus(1, guest_code, vcpu);

	vcpu_set_hv_cpuid(*vcpu);
	if (set_os_id)
		vcpu_wrmsr(*vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	return vm;
}

/* ---- guest helpers ---- */

/* The hypercall instruction of this CPU, Hyper-V register convention. */
static inline uint8_t hv_hcall(uint64_t rcx, uint64_t rdx, uint64_t r8,
			       uint64_t *rax)
{
	return is_amd() ? vmmcall_safe(rcx, rdx, r8, rax) :
			  vmcall_safe(rcx, rdx, r8, rax);
}

/* Call through the hypercall page, as Windows and Linux guests do. */
static inline uint64_t call_page(uint64_t page, uint64_t rcx, uint64_t rax)
{
	uint64_t rdx = 0;
	register uint64_t r8 asm("r8") = 0;

	asm volatile("call *%[page]"
		     : "+a"(rax), "+c"(rcx), "+d"(rdx), "+r"(r8)
		     : [page] "r"(page)
		     : "memory", "rsi", "rdi", "r9", "r10", "r11");
	return rax;
}

#endif
