// SPDX-License-Identifier: GPL-2.0
/*
 * HvFlushVirtualAddressSpace/List and their Ex forms: flush the guest TLB
 * of a set of VPs with one hypercall instead of an IPI to each. Every
 * target's whole guest TLB is flushed before the call returns: a superset
 * of any address space or address list the guest names, so every rep of a
 * List call is done, as in-tree KVM's fallback does.
 */
#include <linux/kvm_host.h>
#include "hvl.h"

/* The GVA entries a List call may carry that in-tree KVM reads (checks). */
#define HVL_TLBFLUSH_ENTRIES	15

/* The target set of the non-Ex forms. */
static int hvl_tlbflush_read(struct kvm_vcpu *vcpu, struct hvl_hc *hc,
			     struct hvl_vpset *set)
{
	struct hv_tlb_flush flush;

	if (hc->in.fast) {
		flush.address_space = hc->ingpa;
		flush.flags = hc->outgpa;
		flush.processor_mask = hc->xmm[0];
		hc->xmm_used = 1;
	} else {
		if (kvm_read_guest(vcpu->kvm, hc->ingpa, &flush, sizeof(flush)))
			return -EINVAL;
		hc->data_offset = sizeof(flush);
	}
	set->valid = BIT_ULL(0);
	set->banks[0] = flush.processor_mask;
	/*
	 * As in-tree: Windows Server 2012 sends an empty mask without the
	 * all-processors flag and expects a flush; treat it as all.
	 */
	set->all = (flush.flags & HV_FLUSH_ALL_PROCESSORS) ||
		   !flush.processor_mask;
	return 0;
}

/* The Ex forms; 1: a sparse set with no banks, nothing to flush. */
static int hvl_tlbflush_read_ex(struct kvm_vcpu *vcpu, struct hvl_hc *hc,
				struct hvl_vpset *set)
{
	struct hv_tlb_flush_ex ex;
	int r;

	if (hc->in.fast) {
		ex.address_space = hc->ingpa;
		ex.flags = hc->outgpa;
		ex.hv_vp_set.format = hc->xmm[0];
		ex.hv_vp_set.valid_bank_mask = hc->xmm[1];
		hc->xmm_used = 2;
	} else {
		if (kvm_read_guest(vcpu->kvm, hc->ingpa, &ex, sizeof(ex)))
			return -EINVAL;
		hc->data_offset = sizeof(ex);
	}
	set->valid = ex.hv_vp_set.valid_bank_mask;
	set->all = ex.hv_vp_set.format != HV_GENERIC_SET_SPARSE_4K;
	if (hc->in.var_cnt != hweight64(set->valid))
		return -EINVAL;
	if (!set->all) {
		if (!hc->in.var_cnt)
			return 1;
		r = hvl_vpset_read(vcpu, hc, set);
		if (r)
			return r;
	}
	/* The GVA list follows the banks, even where the set is "all". */
	if (hc->in.fast)
		hc->xmm_used += hc->in.var_cnt;
	else
		hc->data_offset += hc->in.var_cnt * sizeof(u64);
	return 0;
}

/*
 * Full TLB flush for a guest that may run guests of its own: flushing only
 * the current context would miss L1's own entries while a target runs L2
 * (KVM without Hyper-V flushes none on the way back to L1 on VMX).
 */
static unsigned int hvl_tlbflush_request(struct kvm_vcpu *vcpu)
{
	return hvl_cpuid_nested(vcpu, hvl_state_vcpu_find(vcpu)) ?
	       KVM_REQ_TLB_FLUSH : KVM_REQ_TLB_FLUSH_GUEST;
}

int hvl_tlbflush(struct kvm_vcpu *vcpu, struct hvl_vm *vm, struct hvl_hc *hc)
{
	/* Filled before use: spare the flush zeroing them on entry. */
	DECLARE_BITMAP(targets, KVM_MAX_VCPUS) __uninitialized;
	u64 entries[HVL_TLBFLUSH_ENTRIES] __uninitialized;
	struct hvl_vpset set = {};
	u16 code = hc->in.code;
	int r;

	if (code == HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST ||
	    code == HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE)
		r = hvl_tlbflush_read(vcpu, hc, &set);
	else
		r = hvl_tlbflush_read_ex(vcpu, hc, &set);
	if (r < 0)
		return r;
	/* A full flush does every rep at once. */
	if (r) {
		hvl_state_count(vm, HVL_STAT_TLB_FLUSH);
		hc->reps_done = hc->in.rep_cnt;
		return 0;
	}
	/* The entries are not needed for a full flush, but must be readable. */
	if ((code == HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST ||
	     code == HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX) &&
	    hc->in.rep_cnt <= HVL_TLBFLUSH_ENTRIES &&
	    hvl_vpset_read_data(vcpu, hc, hc->in.rep_cnt, entries))
		return -EINVAL;

	hvl_state_count(vm, HVL_STAT_TLB_FLUSH);
	hc->reps_done = hc->in.rep_cnt;
	if (set.all) {
		kvm_make_all_cpus_request(vcpu->kvm, hvl_tlbflush_request(vcpu));
		return 0;
	}
	hvl_vpset_vcpus(vcpu->kvm, vm, &set, targets);
	hvl_compat_request_wait(vcpu->kvm, hvl_tlbflush_request(vcpu), targets);
	return 0;
}
