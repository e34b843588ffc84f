/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Hyper-V ABI subset hvenlight implements (TLFS 6.0) and the pure logic
 * around it. No kernel dependencies: the module, the host-side unit tests and
 * the guest selftests all include this header, so one definition serves all.
 */
#ifndef HVL_ABI_H
#define HVL_ABI_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/bits.h>
#else
#include <stdbool.h>
#include <linux/types.h>
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;
#define u128 __uint128_t
#define BIT(n)		(1UL << (n))
#define BIT_ULL(n)	(1ULL << (n))
#endif

/* CPUID leaves */
#define HVL_CPUID_VENDOR		0x40000000
#define HVL_CPUID_INTERFACE		0x40000001
#define HVL_CPUID_VERSION		0x40000002
#define HVL_CPUID_FEATURES		0x40000003
#define HVL_CPUID_ENLIGHTENMENTS	0x40000004
#define HVL_CPUID_LIMITS		0x40000005
#define HVL_CPUID_NR_LEAVES		6

#define HVL_SIGNATURE_HV1		0x31237648	/* "Hv#1" */

/* 0x40000003.EAX: which synthetic MSRs exist */
#define HVL_FEAT_TIME_REF_COUNT		BIT(1)
#define HVL_FEAT_APIC_ACCESS		BIT(4)
#define HVL_FEAT_HYPERCALL		BIT(5)
#define HVL_FEAT_VP_INDEX		BIT(6)
#define HVL_FEAT_REFERENCE_TSC		BIT(9)

/* 0x40000004.EAX: recommendations */
#define HVL_REC_APIC_ACCESS		BIT(3)
#define HVL_REC_RELAXED_TIMING		BIT(5)

/* 0x40000004.EBX: spinlock retries before notifying; all ones = never */
#define HVL_SPIN_RETRIES_DEFAULT	0xfff
#define HVL_SPIN_RETRIES_NEVER		0xffffffffu

/* Synthetic MSRs */
#define HVL_MSR_GUEST_OS_ID		0x40000000
#define HVL_MSR_HYPERCALL		0x40000001
#define HVL_MSR_VP_INDEX		0x40000002
#define HVL_MSR_TIME_REF_COUNT		0x40000020
#define HVL_MSR_REFERENCE_TSC		0x40000021
#define HVL_MSR_EOI			0x40000070
#define HVL_MSR_ICR			0x40000071
#define HVL_MSR_TPR			0x40000072
#define HVL_MSR_VP_ASSIST_PAGE		0x40000073
/* Every MSR the module may own; the hooks let no other reach it. */
#define HVL_MSR_OWNED_FIRST		HVL_MSR_GUEST_OS_ID
#define HVL_MSR_OWNED_LAST		HVL_MSR_VP_ASSIST_PAGE

#define HVL_HYPERCALL_ENABLE		BIT_ULL(0)
#define HVL_HYPERCALL_LOCKED		BIT_ULL(1)
#define HVL_HYPERCALL_RSVD		0xffcull	/* bits 11:2 */
#define HVL_REFTSC_ENABLE		BIT_ULL(0)
#define HVL_REFTSC_RSVD			0xffeull	/* bits 11:1 */
#define HVL_VP_ASSIST_ENABLE		BIT_ULL(0)
#define HVL_VP_ASSIST_RSVD		0xffeull	/* bits 11:1 */
#define HVL_PAGE_SHIFT			12
#define HVL_PAGE_MASK			(~0xfffull)

/* Hypercall input value */
#define HVL_HC_CODE_MASK		0xffffull
#define HVL_HC_FAST			BIT_ULL(16)
#define HVL_HC_VARHEAD_SHIFT		17
#define HVL_HC_VARHEAD_MASK		(0x3ffull << HVL_HC_VARHEAD_SHIFT)
#define HVL_HC_REP_COUNT_SHIFT		32
#define HVL_HC_REP_START_SHIFT		48
#define HVL_HC_REP_MASK			0xfffull
#define HVL_HC_RSVD			((0x1full << 27) | (0xfull << 44) | \
					 (0xfull << 60))

/* Hypercall codes */
#define HVL_HC_NOTIFY_LONG_SPIN_WAIT	0x0008

/* Hypercall status */
#define HVL_STATUS_SUCCESS			0
#define HVL_STATUS_INVALID_HYPERCALL_CODE	2
#define HVL_STATUS_INVALID_HYPERCALL_INPUT	3
#define HVL_STATUS_INVALID_ALIGNMENT		4
#define HVL_STATUS_INVALID_PARAMETER		5
#define HVL_STATUS_ACCESS_DENIED		6

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
		.fast = !!(param & HVL_HC_FAST),
		.var_cnt = (param & HVL_HC_VARHEAD_MASK) >> HVL_HC_VARHEAD_SHIFT,
		.rep_cnt = (param >> HVL_HC_REP_COUNT_SHIFT) & HVL_HC_REP_MASK,
		.rep_idx = (param >> HVL_HC_REP_START_SHIFT) & HVL_HC_REP_MASK,
		.rsvd = !!(param & HVL_HC_RSVD),
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
	return (u64)status | ((u64)(reps_done & HVL_HC_REP_MASK) << 32);
}

/*
 * Reference time from a TSC value: ((tsc * scale) >> 64) + offset, in 100 ns
 * units, exactly as a guest computes it from the reference TSC page.
 */
static inline u64 hvl_tsc_to_ref(u64 tsc, u64 scale, s64 offset)
{
	return (u64)(((u128)tsc * scale) >> 64) + (u64)offset;
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
	u128 s;
	u64 limb, rem = 0, q[4];
	int i;

	if (shift < -32 || shift > 31)
		return false;
	s = (u128)mul << (32 + shift);
	/* s / 100 by 32-bit limbs: no 128-bit division in the kernel. */
	for (i = 3; i >= 0; i--) {
		limb = (rem << 32) | (u64)((s >> (32 * i)) & 0xffffffffu);
		q[i] = limb / 100;
		rem = limb % 100;
	}
	if (q[3] || q[2])
		return false;
	*scale = (q[1] << 32) | q[0];
	*offset = (s64)(system_time / 100) -
		  (s64)(((u128)tsc_timestamp * *scale) >> 64);
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

/* Fill leaves 0x40000000-0x40000005 for the given feature masks. */
struct hvl_cpuid_leaf {
	u32 function, eax, ebx, ecx, edx;
};

static inline void hvl_cpuid_build(struct hvl_cpuid_leaf *leaf,
				   u32 features_eax, u32 recommend_eax,
				   u32 max_vcpus)
{
	/* "Linux KVM Hv", as in-tree KVM reports it */
	static const u32 vendor[3] = { 0x756e694c, 0x564b2078, 0x7648204d };
	unsigned int i;

	for (i = 0; i < HVL_CPUID_NR_LEAVES; i++) {
		leaf[i] = (struct hvl_cpuid_leaf){
			.function = HVL_CPUID_VENDOR + i };
	}
	leaf[0].eax = HVL_CPUID_LIMITS;
	leaf[0].ebx = vendor[0];
	leaf[0].ecx = vendor[1];
	leaf[0].edx = vendor[2];
	leaf[1].eax = HVL_SIGNATURE_HV1;
	/* Hyper-V 2016 (10.0 build 14393), as in-tree KVM reports it */
	leaf[2].eax = 0x00003839;
	leaf[2].ebx = 0x000a0000;
	leaf[3].eax = features_eax;
	leaf[4].eax = recommend_eax;
	leaf[4].ebx = HVL_SPIN_RETRIES_DEFAULT;
	leaf[5].eax = max_vcpus;
	leaf[5].ebx = 64;
}

#endif /* HVL_ABI_H */
