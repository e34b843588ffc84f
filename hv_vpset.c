// SPDX-License-Identifier: GPL-2.0
/*
 * The variable part of a hypercall's input (after its fixed header: in the
 * input page, or in XMM registers for a fast call) and the sparse VP sets
 * the IPI and TLB flush calls carry in it, as in-tree KVM reads them.
 */
#include <linux/kvm_host.h>
#include "hvl.h"

static int hvl_vpset_read_capped(struct kvm_vcpu *vcpu, const struct hvl_hc *hc,
				 u16 cnt, u16 cap, u64 *data)
{
	u16 n = min(cnt, cap);
	unsigned int i;

	if (hc->in.fast) {
		/* Each XMM register holds two words; some hold the header. */
		if (cnt > ARRAY_SIZE(hc->xmm) - hc->xmm_used)
			return -EINVAL;
		for (i = 0; i < n; i++)
			data[i] = hc->xmm[hc->xmm_used + i];
		return 0;
	}
	return kvm_read_guest(vcpu->kvm, hc->ingpa + hc->data_offset, data,
			      n * sizeof(*data)) ? -EINVAL : 0;
}

/* cnt words of the call's variable input. */
int hvl_vpset_read_data(struct kvm_vcpu *vcpu, const struct hvl_hc *hc,
			u16 cnt, u64 *data)
{
	return hvl_vpset_read_capped(vcpu, hc, cnt, cnt, data);
}

/* The var_cnt banks of a sparse set whose valid mask set->valid has. */
int hvl_vpset_read(struct kvm_vcpu *vcpu, const struct hvl_hc *hc,
		   struct hvl_vpset *set)
{
	static_assert(HVL_VPSET_BANKS_USED <= HV_MAX_SPARSE_VCPU_BANKS);
	if (hc->in.var_cnt > HV_MAX_SPARSE_VCPU_BANKS)
		return -EINVAL;
	return hvl_vpset_read_capped(vcpu, hc, hc->in.var_cnt,
				     HVL_VPSET_BANKS_USED, set->banks);
}

bool hvl_vpset_has(const struct hvl_vpset *set, u32 vp_index)
{
	u32 bank = vp_index / HV_VCPUS_PER_SPARSE_BANK;
	unsigned int k;

	if (set->all)
		return true;
	if (bank >= HVL_VPSET_BANKS_USED || !(set->valid & BIT_ULL(bank)))
		return false;
	/* The bank's word: as many words before it as valid bits below it. */
	k = bank ? hweight64(set->valid & GENMASK_ULL(bank - 1, 0)) : 0;
	return set->banks[k] & BIT_ULL(vp_index % HV_VCPUS_PER_SPARSE_BANK);
}

/*
 * The vCPUs whose VP index is in the set, as a bitmap by vCPU index. While
 * every VP index of the VM is its vCPU's index (no VMM set another; in-tree
 * has the same fast path), bank n of the set is word n of the bitmap.
 */
void hvl_vpset_vcpus(struct kvm *kvm, struct hvl_vm *vm,
		     const struct hvl_vpset *set, unsigned long *vcpus)
{
	struct kvm_vcpu *v;
	unsigned long i;
	unsigned int k = 0;

	static_assert(HV_VCPUS_PER_SPARSE_BANK == BITS_PER_LONG);
	bitmap_zero(vcpus, KVM_MAX_VCPUS);
	if (!set->all && (!vm || !atomic_read(&vm->vp_index_mismatch))) {
		for (i = 0; i < HVL_VPSET_BANKS_USED; i++)
			if (set->valid & BIT_ULL(i))
				vcpus[i] = set->banks[k++];
		return;
	}
	kvm_for_each_vcpu(i, v, kvm)
		if (hvl_vpset_has(set, hvl_state_vp_index(vm, v)))
			__set_bit(i, vcpus);
}
