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
#define HYPERV_CPUID_NESTED_FEATURES		0x4000000A

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
#define HV_ACCESS_FREQUENCY_MSRS		BIT(11)
#define HV_ACCESS_REENLIGHTENMENT		BIT(13)
#define HV_ACCESS_TSC_INVARIANT			BIT(15)

/* HYPERV_CPUID_FEATURES.EBX: partition privileges */
#define HV_POST_MESSAGES			BIT(4)
#define HV_SIGNAL_EVENTS			BIT(5)
#define HV_DEBUGGING				BIT(11)
#define HV_ENABLE_EXTENDED_HYPERCALLS		BIT(20)

/* HYPERV_CPUID_FEATURES.EDX: other features */
#define HV_X64_GUEST_DEBUGGING_AVAILABLE	BIT(1)
#define HV_FEATURE_FREQUENCY_MSRS_AVAILABLE	BIT(8)
#define HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE	BIT(10)
#define HV_FEATURE_DEBUG_MSRS_AVAILABLE		BIT(11)

/* HYPERV_CPUID_ENLIGHTMENT_INFO.EAX: recommendations */
#define HV_X64_APIC_ACCESS_RECOMMENDED		BIT(3)
#define HV_X64_RELAXED_TIMING_RECOMMENDED	BIT(5)
#define HV_X64_NO_NONARCH_CORESHARING		BIT(18)

/* HYPERV_CPUID_NESTED_FEATURES.EAX */
#define HV_X64_NESTED_MSR_BITMAP		BIT(19)

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
#define HV_X64_MSR_CRASH_P0			0x40000100
#define HV_X64_MSR_CRASH_P1			0x40000101
#define HV_X64_MSR_CRASH_P2			0x40000102
#define HV_X64_MSR_CRASH_P3			0x40000103
#define HV_X64_MSR_CRASH_P4			0x40000104
#define HV_X64_MSR_CRASH_CTL			0x40000105
#define HV_X64_MSR_REENLIGHTENMENT_CONTROL	0x40000106
#define HV_X64_MSR_TSC_EMULATION_CONTROL	0x40000107
#define HV_X64_MSR_TSC_EMULATION_STATUS		0x40000108
#define HV_X64_MSR_TSC_INVARIANT_CONTROL	0x40000118

#define HV_CRASH_CTL_CRASH_NOTIFY		BIT_ULL(63)

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
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE	0x0002
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST	0x0003
#define HVCALL_NOTIFY_LONG_SPIN_WAIT		0x0008
#define HVCALL_SEND_IPI				0x000b
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX	0x0013
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX	0x0014
#define HVCALL_SEND_IPI_EX			0x0015
#define HVCALL_POST_MESSAGE			0x005c
#define HVCALL_SIGNAL_EVENT			0x005d
#define HVCALL_POST_DEBUG_DATA			0x0069
#define HVCALL_RETRIEVE_DEBUG_DATA		0x006a
#define HVCALL_RESET_DEBUG_SESSION		0x006b
#define HV_EXT_CALL_QUERY_CAPABILITIES		0x8001

/* Hypercall status */
#define HV_STATUS_SUCCESS			0
#define HV_STATUS_INVALID_HYPERCALL_CODE	2
#define HV_STATUS_INVALID_HYPERCALL_INPUT	3
#define HV_STATUS_INVALID_ALIGNMENT		4
#define HV_STATUS_INVALID_PARAMETER		5
#define HV_STATUS_ACCESS_DENIED			6
#define HV_STATUS_OPERATION_DENIED		8
#define HV_STATUS_INVALID_PORT_ID		17

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

/*
 * For the selftests: the 0x40000004.EAX bits that gate the flush and IPI
 * hypercalls, in-tree's 0x4000000A bits, and the first SynIC and synthetic
 * timer MSRs (in-tree KVM lists them in KVM_GET_MSR_INDEX_LIST).
 */
#define HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED	BIT(2)
#define HV_X64_CLUSTER_IPI_RECOMMENDED		BIT(10)
#define HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED	BIT(11)
#define HV_X64_NESTED_DIRECT_FLUSH		BIT(17)
#define HV_X64_NESTED_EVMCS1_PERF_GLOBAL_CTRL	BIT(0)
#define HV_X64_MSR_SCONTROL			0x40000080
#define HV_X64_MSR_STIMER0_CONFIG		0x400000B0

/*
 * PV IPI and PV TLB flush: the 0x40000003.EDX and 0x40000004.EAX bits
 * beside the ones above, the hypercall result fields, the flush flags and
 * the sparse VP set. The input structs have no padding, so they need no
 * packing.
 */
#define HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE	BIT(4)
#define HV_FEATURE_EXT_GVA_RANGES_FLUSH		BIT(14)
#define HV_DEPRECATING_AEOI_RECOMMENDED		BIT(9)

#define HV_HYPERCALL_RESULT_MASK		GENMASK_ULL(15, 0)
#define HV_HYPERCALL_REP_COMP_1			BIT_ULL(32)
#define HV_HYPERCALL_MAX_XMM_REGISTERS		6

#define HV_FLUSH_ALL_PROCESSORS			BIT(0)
#define HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES	BIT(1)
#define HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY	BIT(2)
#define HV_FLUSH_USE_EXTENDED_RANGE_FORMAT	BIT(3)

#define HV_IPI_LOW_VECTOR			0x10
#define HV_IPI_HIGH_VECTOR			0xff

enum HV_GENERIC_SET_FORMAT {
	HV_GENERIC_SET_SPARSE_4K,
	HV_GENERIC_SET_ALL,
};

#define HV_MAX_SPARSE_VCPU_BANKS		(64)
#define HV_VCPUS_PER_SPARSE_BANK		(64)

struct hv_vpset {
	__u64 format;
	__u64 valid_bank_mask;
	__u64 bank_contents[];
};

/* HvCallSendSyntheticClusterIpi */
struct hv_send_ipi {
	__u32 vector;
	__u32 reserved;
	__u64 cpu_mask;
};

/* HvCallSendSyntheticClusterIpiEx */
struct hv_send_ipi_ex {
	__u32 vector;
	__u32 reserved;
	struct hv_vpset vp_set;
};

/* HvFlushVirtualAddressSpace, HvFlushVirtualAddressList */
struct hv_tlb_flush {
	__u64 address_space;
	__u64 flags;
	__u64 processor_mask;
	__u64 gva_list[];
};

/* HvFlushVirtualAddressSpaceEx, HvFlushVirtualAddressListEx */
struct hv_tlb_flush_ex {
	__u64 address_space;
	__u64 flags;
	struct hv_vpset hv_vp_set;
	__u64 gva_list[];
};

/*
 * SynIC: the MSRs after SCONTROL (above), their fields, and the statuses a
 * VMM answers HvPostMessage and HvSignalEvent with.
 */
#define HV_X64_MSR_SVERSION			0x40000081
#define HV_X64_MSR_SIEFP			0x40000082
#define HV_X64_MSR_SIMP				0x40000083
#define HV_X64_MSR_EOM				0x40000084
#define HV_X64_MSR_SINT0			0x40000090
#define HV_X64_MSR_SINT15			0x4000009F

#define HV_SYNIC_SINT_COUNT			(16)
#define HV_SYNIC_VERSION_1			(0x1)
#define HV_SYNIC_FIRST_VALID_VECTOR		(16)
#define HV_SYNIC_CONTROL_ENABLE			BIT_ULL(0)
#define HV_SYNIC_SIMP_ENABLE			BIT_ULL(0)
#define HV_SYNIC_SIEFP_ENABLE			BIT_ULL(0)
#define HV_SYNIC_SINT_MASKED			BIT_ULL(16)
#define HV_SYNIC_SINT_AUTO_EOI			BIT_ULL(17)
#define HV_SYNIC_SINT_VECTOR_MASK		(0xFF)

#define HV_STATUS_INVALID_CONNECTION_ID		18
#define HV_STATUS_INSUFFICIENT_BUFFERS		19

/*
 * The SynIC message page and the synthetic timers: the timers' MSRs after
 * STIMER0_CONFIG (above), the direct-mode bit (0x40000003.EDX), the
 * message types, the message page's layout (no padding anywhere, so it
 * needs no packing), the timer message and the timer configuration.
 */
#define HV_STIMER_DIRECT_MODE_AVAILABLE		BIT(19)

#define HV_X64_MSR_STIMER0_COUNT		0x400000B1
#define HV_X64_MSR_STIMER1_CONFIG		0x400000B2
#define HV_X64_MSR_STIMER1_COUNT		0x400000B3
#define HV_X64_MSR_STIMER2_CONFIG		0x400000B4
#define HV_X64_MSR_STIMER2_COUNT		0x400000B5
#define HV_X64_MSR_STIMER3_CONFIG		0x400000B6
#define HV_X64_MSR_STIMER3_COUNT		0x400000B7

#define HV_SYNIC_STIMER_COUNT			(4)

#define HV_MESSAGE_SIZE				(256)
#define HV_MESSAGE_PAYLOAD_BYTE_COUNT		(240)
#define HV_MESSAGE_PAYLOAD_QWORD_COUNT		(30)

enum hv_message_type {
	HVMSG_NONE			= 0x00000000,
	HVMSG_TIMER_EXPIRED		= 0x80000010,
};

union hv_message_flags {
	__u8 asu8;
	struct {
		__u8 msg_pending:1;
		__u8 reserved:7;
	};
};

union hv_port_id {
	__u32 asu32;
	struct {
		__u32 id:24;
		__u32 reserved:8;
	} u;
};

struct hv_message_header {
	__u32 message_type;
	__u8 payload_size;
	union hv_message_flags message_flags;
	__u8 reserved[2];
	union {
		__u64 sender;
		union hv_port_id port;
	};
};

struct hv_message {
	struct hv_message_header header;
	union {
		__u64 payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
	} u;
};

struct hv_message_page {
	struct hv_message sint_message[HV_SYNIC_SINT_COUNT];
};

struct hv_timer_message_payload {
	__u32 timer_index;
	__u32 reserved;
	__u64 expiration_time;	/* When the timer expired */
	__u64 delivery_time;	/* When the message was delivered */
};

union hv_stimer_config {
	__u64 as_uint64;
	struct {
		__u64 enable:1;
		__u64 periodic:1;
		__u64 lazy:1;
		__u64 auto_enable:1;
		__u64 apic_vector:8;
		__u64 direct_mode:1;
		__u64 reserved_z0:3;
		__u64 sintx:4;
		__u64 reserved_z1:44;
	};
};

#endif /* HV_TLFS_USER_H */
