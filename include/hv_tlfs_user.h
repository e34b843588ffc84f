/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's Hyper-V TLFS names (<asm/hyperv-tlfs.h>, which userspace
 * cannot include) for the unit tests and the selftests, with the kernel's
 * values: the subset hvenlight and its tests use. The module itself uses
 * the kernel's header.
 */
#ifndef HV_TLFS_USER_H
#define HV_TLFS_USER_H

#include <linux/types.h>

#ifndef BIT
#define BIT(n)			(1UL << (n))
#endif
#ifndef BIT_ULL
#define BIT_ULL(n)		(1ULL << (n))
#endif
#ifndef GENMASK_ULL
#define GENMASK_ULL(h, l)	((~0ULL << (l)) & (~0ULL >> (63 - (h))))
#endif

/* CPUID leaves */
#define HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS	0x40000000
#define HYPERV_CPUID_INTERFACE			0x40000001
#define HYPERV_CPUID_VERSION			0x40000002
#define HYPERV_CPUID_FEATURES			0x40000003
#define HYPERV_CPUID_ENLIGHTMENT_INFO		0x40000004
#define HYPERV_CPUID_IMPLEMENT_LIMITS		0x40000005

/* HYPERV_CPUID_FEATURES.EAX: which synthetic MSRs exist */
#define HV_MSR_VP_RUNTIME_AVAILABLE		BIT(0)
#define HV_MSR_TIME_REF_COUNT_AVAILABLE		BIT(1)
#define HV_MSR_SYNIC_AVAILABLE			BIT(2)
#define HV_MSR_SYNTIMER_AVAILABLE		BIT(3)
#define HV_MSR_APIC_ACCESS_AVAILABLE		BIT(4)
#define HV_MSR_HYPERCALL_AVAILABLE		BIT(5)
#define HV_MSR_VP_INDEX_AVAILABLE		BIT(6)
#define HV_MSR_RESET_AVAILABLE			BIT(7)
#define HV_MSR_REFERENCE_TSC_AVAILABLE		BIT(9)

/* HYPERV_CPUID_ENLIGHTMENT_INFO.EAX: recommendations */
#define HV_X64_APIC_ACCESS_RECOMMENDED		BIT(3)
#define HV_X64_RELAXED_TIMING_RECOMMENDED	BIT(5)

/* Synthetic MSRs */
#define HV_X64_MSR_GUEST_OS_ID			0x40000000
#define HV_X64_MSR_HYPERCALL			0x40000001
#define HV_X64_MSR_VP_INDEX			0x40000002
#define HV_X64_MSR_RESET			0x40000003
#define HV_X64_MSR_VP_RUNTIME			0x40000010
#define HV_X64_MSR_TIME_REF_COUNT		0x40000020
#define HV_X64_MSR_REFERENCE_TSC		0x40000021
#define HV_X64_MSR_TSC_FREQUENCY		0x40000022
#define HV_X64_MSR_APIC_FREQUENCY		0x40000023
#define HV_X64_MSR_EOI				0x40000070
#define HV_X64_MSR_ICR				0x40000071
#define HV_X64_MSR_TPR				0x40000072
#define HV_X64_MSR_VP_ASSIST_PAGE		0x40000073

#define HV_X64_MSR_HYPERCALL_ENABLE		0x00000001
#define HV_X64_MSR_VP_ASSIST_PAGE_ENABLE	0x00000001
#define HV_X64_MSR_TSC_REFERENCE_ENABLE		0x00000001

#define HV_HYP_PAGE_SHIFT			12
#define HV_HYP_PAGE_SIZE			BIT(HV_HYP_PAGE_SHIFT)
#define HV_HYP_PAGE_MASK			(~(HV_HYP_PAGE_SIZE - 1))

/* Hypercall input value */
#define HV_HYPERCALL_FAST_BIT			BIT(16)
#define HV_HYPERCALL_VARHEAD_OFFSET		17
#define HV_HYPERCALL_VARHEAD_MASK		GENMASK_ULL(26, 17)
#define HV_HYPERCALL_RSVD0_MASK			GENMASK_ULL(31, 27)
#define HV_HYPERCALL_REP_COMP_OFFSET		32
#define HV_HYPERCALL_REP_COMP_MASK		GENMASK_ULL(43, 32)
#define HV_HYPERCALL_RSVD1_MASK			GENMASK_ULL(47, 44)
#define HV_HYPERCALL_REP_START_OFFSET		48
#define HV_HYPERCALL_REP_START_MASK		GENMASK_ULL(59, 48)
#define HV_HYPERCALL_RSVD2_MASK			GENMASK_ULL(63, 60)
#define HV_HYPERCALL_RSVD_MASK			(HV_HYPERCALL_RSVD0_MASK | \
						 HV_HYPERCALL_RSVD1_MASK | \
						 HV_HYPERCALL_RSVD2_MASK)

/* Hypercall codes */
#define HVCALL_NOTIFY_LONG_SPIN_WAIT		0x0008

/* Hypercall status */
#define HV_STATUS_SUCCESS			0
#define HV_STATUS_INVALID_HYPERCALL_CODE	2
#define HV_STATUS_INVALID_HYPERCALL_INPUT	3
#define HV_STATUS_INVALID_ALIGNMENT		4
#define HV_STATUS_INVALID_PARAMETER		5
#define HV_STATUS_ACCESS_DENIED			6

/*
 * The reference TSC page (guests read it with their own barriers); no
 * padding anywhere, so it needs no packing.
 */
struct ms_hyperv_tsc_page {
	__u32 tsc_sequence;
	__u32 reserved1;
	__u64 tsc_scale;
	__s64 tsc_offset;
	__u64 reserved2[509];
};

#endif /* HV_TLFS_USER_H */
