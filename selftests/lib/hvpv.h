/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PV IPI and PV TLB flush hypercalls (HvCallSendSyntheticClusterIpi(Ex),
 * HvFlushVirtualAddressSpace/List(Ex)), shared by hv_pvipi and hv_tlbflush:
 *   - a VM of up to HVPV_MAX_VCPUS Hyper-V vCPUs, VP indices set by the
 *     host (KVM_SET_MSRS VP_INDEX) so that they differ from the vCPU
 *     indices, optionally with enforcement and CPUID bits taken away;
 *   - a host-filled list of calls that vCPU 0 makes in order, in the slow
 *     (input page), fast (registers) or XMM-input form; each call's result
 *     (RAX, or the exception it raised) is compared with what in-tree KVM
 *     returns, and a call that sends an IPI names the vCPUs it must reach:
 *     every vCPU counts each vector in its interrupt handler, vCPU 0 waits
 *     for the IPIs it expects (generous bound), and the counts must come
 *     out exactly once per expected vCPU and zero elsewhere;
 *   - a 4 KiB mapping above the identity map, for a stale-TLB check.
 */
#ifndef HVL_SELFTEST_HVPV_H
#define HVL_SELFTEST_HVPV_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

#define HVPV_MAX_VCPUS		4
#define HVPV_MAX_CALLS		64
#define HVPV_XMM_HALVES		(2 * HV_HYPERCALL_MAX_XMM_REGISTERS)
#define HVPV_OS_ID		0x8100000000001234ull
#define HVPV_GARBAGE		0xdeadbeefcafef00dull

/* Indices into the hv_leaves() array. */
#define HVPV_LEAF_FEATURES	3	/* 0x40000003 */
#define HVPV_LEAF_RECOMMEND	4	/* 0x40000004 */

/* The three 0x40000004.EAX bits the calls are gated on under enforcement. */
#define HVPV_REC_ALL	(HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED |		\
			 HV_X64_CLUSTER_IPI_RECOMMENDED |		\
			 HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED)

/* The control word: code, rep count and start, variable header size. */
#define HVPV_REPS(n)		((uint64_t)(n) << HV_HYPERCALL_REP_COMP_OFFSET)
#define HVPV_REP_START(n)	((uint64_t)(n) << HV_HYPERCALL_REP_START_OFFSET)
#define HVPV_VAR(n)		((uint64_t)(n) << HV_HYPERCALL_VARHEAD_OFFSET)
#define HVPV_FAST		HV_HYPERCALL_FAST_BIT

/* The result in-tree KVM returns: status, reps completed in 43:32. */
#define HVPV_OK			HV_STATUS_SUCCESS
#define HVPV_BAD		HV_STATUS_INVALID_HYPERCALL_INPUT
#define HVPV_DENIED		HV_STATUS_ACCESS_DENIED
#define HVPV_OK_REPS(n)		HVPV_REPS(n)

/* struct hvpv_call.flags */
#define HVPV_XMM	(1u << 0)	/* XMM0-5 := xmm[] just before the call */
#define HVPV_SYNC	(1u << 1)	/* then out to the host, who clobbers its XMM */

/* Vectors: the fence wakes the receivers at the end (lowest priority). */
#define HVPV_V_FENCE	0x20
#define HVPV_V_FIRST	0x21		/* the first vector hvpv_next_vector() gives */

struct hvpv_call {
	/* the call */
	uint64_t control, rdx, r8;
	uint64_t xmm[HVPV_XMM_HALVES];
	uint32_t flags;
	/* the IPI it sends (0: none to count) and the vCPUs it must reach */
	uint32_t vector;
	uint32_t expect;
	/* what in-tree KVM does: RAX, or the exception (RAX then untouched) */
	uint64_t want_rax;
	uint8_t want_fault;
	/* results */
	uint8_t fault;
	uint8_t late;		/* an expected IPI did not come in time */
	uint64_t rax;
	const char *what;	/* host only */
};

/* A VP set (TLFS HV_VP_SET): format, valid bank mask, the banks after it. */
struct hvpv_set {
	uint64_t format, valid;
	uint64_t banks[HV_MAX_SPARSE_VCPU_BANKS];
	unsigned int nbanks;
};

#define HVPV_SPARSE(v, ...)						\
	((struct hvpv_set){ HV_GENERIC_SET_SPARSE_4K, v, { __VA_ARGS__ },	\
			    ARRAY_SIZE(((uint64_t[]){ __VA_ARGS__ })) })
#define HVPV_EMPTY	((struct hvpv_set){ HV_GENERIC_SET_SPARSE_4K, 0, { 0 }, 0 })
#define HVPV_SET(f, v)	((struct hvpv_set){ f, v, { 0 }, 0 })
#define HVPV_ALL	HVPV_SET(HV_GENERIC_SET_ALL, 0)

/* VP index vp's bit in its bank. */
#define HVPV_VP_BIT(vp)	(1ull << ((vp) % HV_VCPUS_PER_SPARSE_BANK))

struct hvpv_opts {
	unsigned int nr;	/* vCPUs, at most HVPV_MAX_VCPUS */
	bool irqchip;		/* in-kernel LAPIC, enabled by the guest */
	bool enforce;		/* KVM_CAP_HYPERV_ENFORCE_CPUID */
	uint32_t rec_clear;	/* 0x40000004.EAX bits taken away */
	uint32_t edx_clear;	/* 0x40000003.EDX bits taken away */
	const uint32_t *vp;	/* VP index of each vCPU, NULL: as they are */
};

struct hvpv_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[HVPV_MAX_VCPUS];
	unsigned int nr;
	bool irqchip;
	uint64_t rx[HVPV_MAX_VCPUS][256];	/* after hvpv_run(): counts */
	/*
	 * snap_key: the module counter hvpv_run() reads before each HVPV_SYNC
	 * call and once at the end, into snap[]; snap_ok: every read worked.
	 */
	const char *snap_key;
	uint64_t snap[8];
	unsigned int nsnap;
	bool snap_ok;
};

/* The calls of the next hvpv_run(), filled by the host. */
extern struct hvpv_call hvpv_calls[HVPV_MAX_CALLS];
extern uint64_t hvpv_ncalls;

/* ---- guest ---- */

/* Each vCPU's first call, in a guest of the test's own: the CPU vendor. */
void hvpv_guest_init(void);
/* Load XMM0-5 from 12 halves (XMM0 low first). */
void hvpv_xmm_load(const uint64_t *halves);
/* The hypercall instruction of this CPU: the vector it raised, 0 if none. */
uint8_t hvpv_hcall(uint64_t control, uint64_t rdx, uint64_t r8, uint64_t *rax);
/* This vCPU's count of a vector so far (its interrupt handler counts). */
uint64_t hvpv_guest_rx(uint64_t vector);

/* ---- host ---- */

/*
 * Create the VM: every vCPU gets the supported Hyper-V leaves (less the
 * bits o asks to clear), GUEST_OS_ID is set, and the VP indices; all start
 * at guest_code (NULL: the call-list guest of hvpv_run()).
 */
void hvpv_vm_create(struct hvpv_vm *v, const struct hvpv_opts *o,
		    void *guest_code);
void hvpv_vm_free(struct hvpv_vm *v);

/* Start the APs (in-kernel LAPIC: they wait for INIT/SIPI otherwise). */
void hvpv_start_aps(struct hvpv_vm *v);

/* Empty the call list; the vectors restart at HVPV_V_FIRST. */
void hvpv_reset(void);

/* A fresh vector for the next IPI that is counted. */
uint32_t hvpv_next_vector(void);

/*
 * Flush calls: HvFlushVirtualAddressSpace or List (by control; HVPV_FAST:
 * the mask and GVAs in XMM, else an input page), and the Ex forms with a
 * VP set and var_cnt. A List call carries min(reps, HVPV_MAX_GVAS)
 * entries, each HVPV_TEST_GVA (in XMM: as many as fit).
 */
#define HVPV_TEST_GVA	(4ull << 30)
#define HVPV_MAX_GVAS	16
struct hvpv_call *hvpv_flush(struct hvpv_vm *v, const char *what, uint64_t control,
			     uint64_t flags, uint64_t mask, uint64_t want);
struct hvpv_call *hvpv_flush_ex(struct hvpv_vm *v, const char *what, uint64_t control,
				uint64_t flags, struct hvpv_set s, unsigned int var_cnt,
				uint64_t want);

/* A copy of len bytes of input in a fresh page of guest memory: its GPA. */
uint64_t hvpv_input(struct hvpv_vm *v, const void *data, size_t len);
/* The same, placed so that it ends exactly where guest memory ends. */
uint64_t hvpv_input_at_end(struct hvpv_vm *v, const void *data, size_t len);

/* Append a call; returns it for the fields the helpers do not set. */
struct hvpv_call *hvpv_add(const char *what, uint64_t control, uint64_t rdx,
			   uint64_t r8, uint64_t want_rax);

/* Run the list on vCPU 0 (the others receive), copy results back. */
void hvpv_run(struct hvpv_vm *v);

/*
 * One TAP check per call: its result and, for a counted IPI, the count of
 * its vector on each vCPU (1 where expected, else 0).  Returns how many
 * calls came out as in-tree KVM has them.
 */
unsigned int hvpv_check(struct hvpv_vm *v, const char *prefix);

/* A bitmap of vCPUs as "{0,2}" into buf. */
const char *hvpv_mask_str(uint32_t mask, char *buf, size_t len);

/* The module's per-VM debugfs counter, false where there is none. */
bool hvpv_counter(struct hvpv_vm *v, const char *key, uint64_t *val);

/*
 * Map the 4 KiB guest page at gpa at gva (4 GiB <= gva < 5 GiB, above the
 * identity map); returns the GPA of the PTE, which the guest can rewrite
 * through the identity map.
 */
uint64_t hvpv_map_4k(struct kvm_vm *vm, uint64_t gva, uint64_t gpa);

/* Skip the scenario where there is no Hyper-V (plain KVM). */
void hvpv_require_hv(void);

#endif
