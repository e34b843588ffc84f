/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure logic of the Hyper-V ABI subset hvenlight implements (TLFS 6.0),
 * on the kernel's TLFS names. The module, the host-side unit tests and the
 * guest selftests all include this header, so one definition serves all:
 * in the kernel the names and the math64 helpers are the kernel's own,
 * outside it hv_tlfs_user.h and the helpers below give the same.
 */
#ifndef HVL_ABI_H
#define HVL_ABI_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/bits.h>
#include <linux/math64.h>
#include <asm/hyperv-tlfs.h>
#else
#include <stdbool.h>
#include <linux/types.h>
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;
#define u128 __uint128_t
#include "hv_tlfs_user.h"

/* The kernel's math64 helpers, for the host-side builds of this logic. */
static inline u64 mul_u64_u64_shr(u64 a, u64 b, unsigned int shift)
{
	return (u64)(((__uint128_t)a * b) >> shift);
}

static inline u64 mul_u64_u64_div_u64(u64 a, u64 b, u64 c)
{
	return (u64)(((__uint128_t)a * b) / c);
}

static inline u64 div_u64(u64 a, u32 b)
{
	return a / b;
}
#endif

/*
 * The TLFS names are the kernel's (<asm/hyperv-tlfs.h>, or hv_tlfs_user.h
 * with the same names and values outside the kernel). These are
 * hvenlight's own, for what the kernel's header does not name.
 */

/* "Hv#1" in 0x40000001.EAX: KVM's private name (arch/x86/kvm/hyperv.h). */
#define HYPERV_CPUID_SIGNATURE_EAX	0x31237648

/* The synthetic debugger, by KVM's private names (arch/x86/kvm/hyperv.h). */
#define HYPERV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS	0x40000080
#define HYPERV_CPUID_SYNDBG_INTERFACE			0x40000081
#define HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES	0x40000082
#define HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING	BIT(1)
#define HV_X64_MSR_SYNDBG_CONTROL		0x400000F1
#define HV_X64_MSR_SYNDBG_STATUS		0x400000F2
#define HV_X64_MSR_SYNDBG_SEND_BUFFER		0x400000F3
#define HV_X64_MSR_SYNDBG_RECV_BUFFER		0x400000F4
#define HV_X64_MSR_SYNDBG_PENDING_BUFFER	0x400000F5
#define HV_X64_MSR_SYNDBG_OPTIONS		0x400000FF
#define HV_X64_SYNDBG_OPTION_USE_HCALLS		BIT(2)
/* "VS#1" in 0x40000081.EAX */
#define HVL_SYNDBG_INTERFACE_EAX		0x31235356

/* The extended hypercalls KVM hands to the VMM (hyperv.c's range). */
#define HV_EXT_CALL_MAX			(HV_EXT_CALL_QUERY_CAPABILITIES + 64)

/*
 * The leaves KVM_GET_SUPPORTED_HV_CPUID reports, in in-tree KVM's order:
 * 0x40000000-0x40000005, the synthetic debugger's 0x40000080-0x40000082,
 * and the nested features 0x4000000A.
 */
#define HVL_CPUID_NR_LEAVES		10

static inline u32 hvl_cpuid_function(unsigned int i)
{
	if (i <= 5)
		return HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS + i;
	if (i <= 8)
		return HYPERV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS + i - 6;
	return HYPERV_CPUID_NESTED_FEATURES;
}

/* HYPERV_CPUID_ENLIGHTMENT_INFO.EBX: spin retries; all ones = never */
#define HVL_SPIN_RETRIES_DEFAULT	0xfff
#define HVL_SPIN_RETRIES_NEVER		0xffffffffu

/* Every MSR the module may own; the hooks let no other reach it. */
#define HVL_MSR_OWNED_FIRST		HV_X64_MSR_GUEST_OS_ID
#define HVL_MSR_OWNED_LAST		0x400001ff

/* Reserved bits of the page MSRs (must be zero; 0 is the enable bit). */
#define HVL_HYPERCALL_LOCKED		BIT_ULL(1)
#define HVL_HYPERCALL_RSVD		0xffcull	/* bits 11:2 */
#define HVL_REFTSC_RSVD			0xffeull	/* bits 11:1 */
#define HVL_VP_ASSIST_RSVD		0xffeull	/* bits 11:1 */

/* Hypercall input value: the call code in 15:0, rep fields 12 bits wide. */
#define HVL_HC_CODE_MASK		0xffffull
#define HVL_HC_REP_MASK			0xfffull

/* The instruction bytes a hypercall page holds: VMCALL/VMMCALL, then RET. */
#define HVL_HCPAGE_LEN			4

struct hvl_hc_input {
	u16 code;
	bool fast;
	u16 var_cnt;
	u16 rep_cnt;
	u16 rep_idx;
	bool rsvd;
};

/* Split a hypercall input value into its fields (TLFS "Hypercall Inputs"). */
static inline struct hvl_hc_input hvl_hc_decode(u64 param)
{
	struct hvl_hc_input in = {
		.code = param & HVL_HC_CODE_MASK,
		.fast = !!(param & HV_HYPERCALL_FAST_BIT),
		.var_cnt = (param & HV_HYPERCALL_VARHEAD_MASK) >>
			   HV_HYPERCALL_VARHEAD_OFFSET,
		.rep_cnt = (param & HV_HYPERCALL_REP_COMP_MASK) >>
			   HV_HYPERCALL_REP_COMP_OFFSET,
		.rep_idx = (param & HV_HYPERCALL_REP_START_MASK) >>
			   HV_HYPERCALL_REP_START_OFFSET,
		.rsvd = !!(param & HV_HYPERCALL_RSVD_MASK),
	};
	return in;
}

/*
 * Assemble the input value: 64-bit callers pass it in RCX, 32-bit callers in
 * EDX:EAX. The GPAs follow the same rule (RDX/R8 or EBX:ECX/EDI:ESI).
 */
static inline u64 hvl_hc_join32(u64 hi, u64 lo)
{
	return (hi << 32) | (lo & 0xffffffffull);
}

/* The result value: status in 15:0, reps completed in 43:32. */
static inline u64 hvl_hc_result(u16 status, u16 reps_done)
{
	return (u64)status |
	       ((u64)(reps_done & HVL_HC_REP_MASK) << HV_HYPERCALL_REP_COMP_OFFSET);
}

/*
 * Reference time from a TSC value: ((tsc * scale) >> 64) + offset, in 100 ns
 * units, exactly as a guest computes it from the reference TSC page.
 */
static inline u64 hvl_tsc_to_ref(u64 tsc, u64 scale, s64 offset)
{
	return mul_u64_u64_shr(tsc, scale, 64) + (u64)offset;
}

/*
 * Derive the reference TSC page from a pvclock: ns = system_time +
 * ((tsc - tsc_timestamp) << shift (or >> -shift)) * mul >> 32.
 * In 100 ns units that is tsc * scale >> 64 + offset with
 * scale = mul * 2^(32 + shift) / 100. Refuse (return false) when scale would
 * not fit in 64 bits: the guest then falls back to the TIME_REF_COUNT MSR.
 */
static inline bool hvl_tsc_page_params(u32 mul, signed char shift,
				       u64 system_time, u64 tsc_timestamp,
				       u64 *scale, s64 *offset)
{
	if (shift < -32 || shift > 31)
		return false;
	/* mul * 2^(32 + shift) < 100 * 2^64, or the quotient overflows. */
	if (shift > 0 && (mul >> (32 - shift)) >= 100)
		return false;
	*scale = mul_u64_u64_div_u64(mul, 1ULL << (32 + shift), 100);
	*offset = (s64)div_u64(system_time, 100) -
		  (s64)mul_u64_u64_shr(tsc_timestamp, *scale, 64);
	return true;
}

/* Advance a TSC page sequence: never 0 (invalid) nor 0xFFFFFFFF. */
static inline u32 hvl_tsc_seq_next(u32 seq)
{
	seq++;
	if (seq == 0 || seq == 0xffffffffu)
		seq = 1;
	return seq;
}

/* What the leaves offer: 0x40000003, 0x40000004.EAX, the limits. */
struct hvl_cpuid_offer {
	u32 features_eax, features_ebx, features_edx;
	u32 recommend_eax;
	u32 max_vcpus;
};

struct hvl_cpuid_leaf {
	u32 function, eax, ebx, ecx, edx;
};

/* Fill the HVL_CPUID_NR_LEAVES leaves for an offer. */
static inline void hvl_cpuid_build(struct hvl_cpuid_leaf *leaf,
				   const struct hvl_cpuid_offer *o)
{
	/* "Linux KVM Hv", as in-tree KVM reports it */
	static const u32 vendor[3] = { 0x756e694c, 0x564b2078, 0x7648204d };
	unsigned int i;

	for (i = 0; i < HVL_CPUID_NR_LEAVES; i++)
		leaf[i] = (struct hvl_cpuid_leaf){ .function = hvl_cpuid_function(i) };
	leaf[0].eax = HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES;
	leaf[0].ebx = vendor[0];
	leaf[0].ecx = vendor[1];
	leaf[0].edx = vendor[2];
	leaf[1].eax = HYPERV_CPUID_SIGNATURE_EAX;
	/* Hyper-V 2016 (10.0 build 14393), as in-tree KVM reports it */
	leaf[2].eax = 0x00003839;
	leaf[2].ebx = 0x000a0000;
	leaf[3].eax = o->features_eax;
	leaf[3].ebx = o->features_ebx;
	leaf[3].edx = o->features_edx;
	leaf[4].eax = o->recommend_eax;
	leaf[4].ebx = HVL_SPIN_RETRIES_DEFAULT;
	leaf[5].eax = o->max_vcpus;
	leaf[5].ebx = 64;
	leaf[6].ebx = vendor[0];
	leaf[6].ecx = vendor[1];
	leaf[6].edx = vendor[2];
	leaf[7].eax = HVL_SYNDBG_INTERFACE_EAX;
	if (o->features_edx & HV_FEATURE_DEBUG_MSRS_AVAILABLE)
		leaf[8].eax = HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING;
	/*
	 * The enlightened MSR bitmap only lets an L1 hypervisor say that its
	 * bitmap did not change; KVM without Hyper-V merges it on every
	 * nested entry regardless, which honours the promise.
	 */
	leaf[9].eax = HV_X64_NESTED_MSR_BITMAP;
}

#endif /* HVL_ABI_H */
