/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Hyper-V system MSRs (VP_RUNTIME, the two frequencies, RESET, the
 * crash and re-enlightenment MSRs, the synthetic debugger) and the exits to
 * the VMM they and the hypercalls cause:
 *   - one table of those MSRs with the 0x40000003 bit that offers each;
 *   - a guest that runs a host-filled list of MSR reads and writes;
 *   - small code blobs (WRMSR, the forced-emulation WRMSR, OUT) that the
 *     host points a vCPU at, so that each KVM_RUN's exit and RIP can be
 *     checked one by one: a blob's instruction, then "out %al, $HVX_PORT"
 *     at its _out label, then HLT.
 * Used by hv_sysmsr, hv_exit, hv_hcall_vmm and hv_caps.
 */
#ifndef HVL_SELFTEST_HVSYS_H
#define HVL_SELFTEST_HVSYS_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

/* Indices into the hv_leaves() array (hvl_cpuid_function() order). */
#define LEAF_FEATURES		3	/* 0x40000003 */
#define LEAF_RECOMMEND		4	/* 0x40000004 */
#define LEAF_SYNDBG_CAPS	8	/* 0x40000082 */
#define LEAF_NESTED		9	/* 0x4000000A */

/* A 0x40000003 feature as one value: an EAX bit, or HVSYS_EDX(an EDX bit). */
#define HVSYS_EDX(bit)		((uint64_t)(bit) << 32)
#define HVSYS_CRASH		HVSYS_EDX(HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE)
#define HVSYS_DEBUG		HVSYS_EDX(HV_FEATURE_DEBUG_MSRS_AVAILABLE)

/* What a guest write of the MSR does (with an allowed value, wval). */
enum hvsys_wr {
	HVSYS_WR_GP,		/* read-only: #GP */
	HVSYS_WR_OK,		/* stored or ignored, no exit */
	HVSYS_WR_EXIT,		/* ends KVM_RUN with an exit: not probed */
};

struct hvsys_msr {
	uint32_t msr;
	const char *name;
	uint64_t feature;	/* what offers it and gates it under enforcement */
	enum hvsys_wr wr;
	uint64_t wval;		/* a guest write that is valid (HVSYS_WR_OK) */
	bool vm_wide;		/* partition-wide (in-tree kvm_hv_msr_partition_wide) */
};

extern const struct hvsys_msr hvsys_msrs[];
extern const unsigned int hvsys_nr_msrs;

/* The 0x40000003 features of these leaves as one value. */
uint64_t hvsys_features(const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES]);

/*
 * Do the leaves offer the feature? The debug MSRs also need kernel
 * debugging allowed in 0x40000082.EAX.
 */
bool hvsys_offers(const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES],
		  uint64_t feature);

/* Set or clear feature bits in the leaves' 0x40000003. */
void hvsys_set_features(struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES],
			uint64_t features, bool on);

/*
 * A VM (vm_create() flags) with n vCPUs at guest_code, each given these
 * leaves, with KVM_CAP_HYPERV_ENFORCE_CPUID if enforce. With VM_IRQCHIP
 * every vCPU is made runnable (not only the BSP).
 */
struct kvm_vm *hvsys_vm(unsigned int flags, unsigned int n, void *guest_code,
			const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES],
			bool enforce, struct kvm_vcpu **vcpus);

/*
 * In a scenario: SKIP it on plain KVM, or when these leaves (the supported
 * ones) do not offer feature (0: anything Hyper-V will do).
 */
void hvsys_require(const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES],
		   uint64_t feature, const char *what);

/* Append " 0xMSR(what 0xv)" to a message of len bytes. */
void hvsys_bad_add(char *bad, size_t len, uint32_t msr, const char *what,
		   uint64_t v);

/* ---- a list of guest MSR accesses ---- */

struct hvsys_op {
	uint32_t msr;
	uint8_t write;		/* in: write val, else read into val */
	uint8_t vec;		/* out: the exception vector, 0 if none */
	uint64_t val;
};

#define HVSYS_MAX_OPS	96
extern struct hvsys_op hvsys_ops[HVSYS_MAX_OPS];
extern uint64_t hvsys_nops;

/* Guest: run hvsys_ops[] in order, then GUEST_SYNC(hvsys_nops). */
void hvsys_ops_guest(void);

/* Host: start a new list; add a read or a write; returns its index. */
void hvsys_ops_clear(void);
unsigned int hvsys_op_rd(uint32_t msr);
unsigned int hvsys_op_wr(uint32_t msr, uint64_t val);

/*
 * Host: hand the list to the vCPU's VM, run the vCPU to hvsys_ops_guest's
 * GUEST_SYNC and copy the results back. False, with the exit described in
 * why, if KVM_RUN ended any other way (an exit to the VMM, an exception).
 */
bool hvsys_ops_run(struct kvm_vcpu *vcpu, char *why, size_t len);

/* Did ops [from, to) all get vector vec? why: "all N", or the first not. */
bool hvsys_ops_vec(unsigned int from, unsigned int to, uint8_t vec, char *why,
		   size_t len);

/* ---- exits, one KVM_RUN at a time ---- */

#define HVX_PORT	0xe0

/*
 * wrmsr (ECX, EDX:EAX); the forced-emulation prefix then wrmsr; just the
 * out; vmmcall and vmcall (RCX, RDX, R8 in, RAX out).
 */
extern const char hvx_wrmsr[], hvx_wrmsr_out[];
extern const char hvx_fep_wrmsr[], hvx_fep_wrmsr_out[];
extern const char hvx_out[];
extern const char hvx_vmmcall[], hvx_vmmcall_out[];
extern const char hvx_vmcall[], hvx_vmcall_out[];

/*
 * Point the vCPU at blob with these registers (the others are kept). After
 * an OUT exit, KVM completes the OUT on the next KVM_RUN if RIP is still on
 * it: enter a blob at another address than the last exit's.
 */
void vcpu_enter_blob(struct kvm_vcpu *vcpu, const char *blob, uint64_t rax,
		     uint64_t rcx, uint64_t rdx, uint64_t r8);
/*
 * Start guest_code over on a stopped vCPU, with the stack it had when it
 * was created (a vCPU left in a blob can run a C guest again).
 */
void vcpu_restart(struct kvm_vcpu *vcpu, void *guest_code);
/* ... at hvx_wrmsr (or the FEP one) writing val to msr. */
void vcpu_enter_wrmsr(struct kvm_vcpu *vcpu, const char *blob, uint32_t msr,
		      uint64_t val);

/*
 * One KVM_RUN, not retried on EINTR: 0 or the errno. With immediate,
 * run->immediate_exit is set for this call.
 */
int vcpu_run_once(struct kvm_vcpu *vcpu, bool immediate);

uint64_t vcpu_rip(struct kvm_vcpu *vcpu);

/* The last exit is a KVM_EXIT_SYSTEM_EVENT of this type with ndata 0. */
bool exit_is_event(struct kvm_vcpu *vcpu, uint32_t type);
/* The last exit is the blob's "out" at out (RIP still on it). */
bool exit_is_out(struct kvm_vcpu *vcpu, const char *out);
/* The last exit is KVM_EXIT_HYPERV of this type. */
bool exit_is_hyperv(struct kvm_vcpu *vcpu, uint32_t type);

/* The last exit in words, including system events and Hyper-V exits. */
const char *hvx_exit_str(struct kvm_vcpu *vcpu, char *buf, size_t len);

/* KVM_SET_GUEST_DEBUG with this control; returns the ioctl result. */
int vcpu_guest_debug(struct kvm_vcpu *vcpu, uint32_t control);
/*
 * The last exit is a single-step trap taken before the instruction at rip
 * ran (KVM_EXIT_DEBUG, DR6.BS, RIP still on it): the CPU's, not KVM's.
 */
bool exit_is_step_before(struct kvm_vcpu *vcpu, uint64_t rip);

/*
 * kvm.force_emulation_prefix: set it to val and return what it was, or -1
 * (errno set) if it cannot be written.
 */
int kvm_fep_set(int val);

#endif
