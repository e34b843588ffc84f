/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The synthetic interrupt controller (SynIC), shared by hv_synic_neg,
 * hv_synic and hv_synic_irq:
 *   - the SynIC MSRs (SCONTROL, SVERSION, SIEFP, SIMP, EOM, SINT0-15) by
 *     name, and their values right after activation;
 *   - Hyper-V VMs whose vCPUs get KVM_CAP_HYPERV_SYNIC(2) the way QEMU
 *     does it (before KVM_SET_CPUID2), and the VM ioctls around SynIC:
 *     KVM_HYPERV_EVENTFD, KVM_SET_GSI_ROUTING with KVM_IRQ_ROUTING_HV_SINT
 *     entries, KVM_IRQFD (plain and resampling), KVM_IRQ_LINE_STATUS, each
 *     returning the errno instead of asserting;
 *   - a guest that runs a host-filled list of hypercalls (the CPU's own
 *     VMCALL or VMMCALL) and reports each one's RAX or exception.
 */
#ifndef HVL_SELFTEST_SYNIC_H
#define HVL_SELFTEST_SYNIC_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvsys.h"
#include "hvl_abi.h"

#define SYNIC_NR_MSRS		(5 + HV_SYNIC_SINT_COUNT)
#define SYNIC_OS_ID		0x8100000000001234ull
#define SYNIC_GARBAGE		0xdeadbeefcafef00dull

/* SCONTROL, SVERSION, SIEFP, SIMP, EOM, SINT0 ... SINT15. */
extern const uint32_t synic_msrs[SYNIC_NR_MSRS];

/* "SCONTROL", ..., "SINT15"; "0x40000085"-style for anything else. */
const char *synic_msr_name(uint32_t msr);

/* What the MSR reads right after KVM_ENABLE_CAP (in-tree synic_init()). */
uint64_t synic_msr_initial(uint32_t msr);

/*
 * In a scenario: SKIP it on plain KVM, or when KVM_CHECK_EXTENSION lacks
 * SYNIC, SYNIC2 or EVENTFD, or the supported leaves lack the SynIC bit.
 */
void synic_require(const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES]);

/*
 * KVM_ENABLE_CAP on a vCPU with flags and args[0]: 0 or the errno.
 * cap is KVM_CAP_HYPERV_SYNIC or KVM_CAP_HYPERV_SYNIC2.
 */
int vcpu_synic_enable(struct kvm_vcpu *vcpu, uint32_t cap, uint64_t arg0,
		      uint32_t flags);

/*
 * A VM (vm_create() flags) with n vCPUs at guest_code, every one made
 * runnable with VM_IRQCHIP. Each vCPU i with bit i of active set gets
 * KVM_ENABLE_CAP(cap) first, as QEMU does, then the leaves (leaf NULL:
 * none, no Hyper-V guest) and, with enforce, KVM_CAP_HYPERV_ENFORCE_CPUID.
 * GUEST_OS_ID is set, so hypercalls work.
 */
struct kvm_vm *synic_vm(unsigned int flags, unsigned int n, void *guest_code,
			const struct kvm_cpuid_entry2 *leaf, bool enforce,
			uint32_t cap, uint32_t active, struct kvm_vcpu **vcpus);

/* KVM_HYPERV_EVENTFD: 0 or the errno. */
int vm_hv_eventfd(struct kvm_vm *vm, uint32_t conn_id, int fd, uint32_t flags);

/* An eventfd (non-blocking): new, signal once, read and reset (0 if none). */
int efd_new(void);
void efd_signal(int fd);
uint64_t efd_take(int fd);

/* One KVM_IRQ_ROUTING_HV_SINT entry: gsi -> SINT sint of VP vp. */
struct sint_route {
	uint32_t gsi, vp, sint;
};

/* KVM_SET_GSI_ROUTING with just these entries: 0 or the errno. */
int vm_sint_routes(struct kvm_vm *vm, const struct sint_route *r, unsigned int n);

/*
 * KVM_IRQFD: fd on gsi (resamplefd >= 0: a resampling irqfd), or its
 * deassignment, which waits until any injection it started is done.
 */
int vm_irqfd(struct kvm_vm *vm, int fd, uint32_t gsi, int resamplefd);
int vm_irqfd_deassign(struct kvm_vm *vm, int fd, uint32_t gsi);

/* KVM_IRQ_LINE_STATUS level 1 then 0 on gsi: the first status (errno: -1). */
int vm_irq_pulse(struct kvm_vm *vm, uint32_t gsi);

/* Is msr in KVM_GET_MSR_INDEX_LIST? */
bool kvm_msr_listed(uint32_t msr);

/* ---- a list of hypercalls ---- */

struct synic_hc {
	uint64_t rcx, rdx, r8;
	uint64_t rax;		/* out: RAX after the call */
	uint64_t vec;		/* out: exception vector, 0 if none */
};

#define SYNIC_MAX_HC	16
extern struct synic_hc synic_hcs[SYNIC_MAX_HC];
extern uint64_t synic_nhc;

/* Guest: make the calls in order, then GUEST_SYNC(synic_nhc); again. */
void synic_hc_guest(void);

/* Host: start a new list; add a call; returns its index. */
void synic_hc_clear(void);
unsigned int synic_hc_add(uint64_t rcx, uint64_t rdx, uint64_t r8);

/*
 * Host: run the list on the vCPU to the guest's GUEST_SYNC and copy the
 * results back; false, with the exit in why, if KVM_RUN ended otherwise.
 */
bool synic_hc_run(struct kvm_vcpu *vcpu, char *why, size_t len);

/* Did calls [from, to) all return want, without exception? why: the first not. */
bool synic_hc_check(unsigned int from, unsigned int to, uint64_t want,
		    char *why, size_t len);

/* The CPU's hypercall blob (lib/hvsys.h) and the label after it. */
const char *synic_hc_blob(void);
const char *synic_hc_blob_out(void);

#endif
