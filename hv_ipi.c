// SPDX-License-Identifier: GPL-2.0
/*
 * HvCallSendSyntheticClusterIpi and HvCallSendSyntheticClusterIpiEx: one
 * hypercall sends a fixed interrupt to a set of VPs, in place of an ICR
 * write (and an exit) per target.
 */
#include <linux/kvm_host.h>
#include "hvl.h"
#include "hvl_trace.h"

/* The vector and target set of HvCallSendSyntheticClusterIpi. */
static int hvl_ipi_read(struct kvm_vcpu *vcpu, const struct hvl_hc *hc,
			u32 *vector, struct hvl_vpset *set)
{
	struct hv_send_ipi ipi;

	if (hc->in.fast) {
		/* The reserved half of the first register must be zero. */
		if (hc->ingpa >> 32)
			return -EINVAL;
		ipi.vector = hc->ingpa;
		ipi.cpu_mask = hc->outgpa;
	} else if (kvm_read_guest(vcpu->kvm, hc->ingpa, &ipi, sizeof(ipi))) {
		return -EINVAL;
	}
	*vector = ipi.vector;
	set->valid = BIT_ULL(0);
	set->banks[0] = ipi.cpu_mask;
	return 0;
}

/* The same for the Ex form; 1: a sparse set with no banks, nobody to send to. */
static int hvl_ipi_read_ex(struct kvm_vcpu *vcpu, struct hvl_hc *hc,
			   u32 *vector, struct hvl_vpset *set)
{
	struct hv_send_ipi_ex ex;

	if (hc->in.fast) {
		ex.vector = hc->ingpa;
		ex.vp_set.format = hc->outgpa;
		ex.vp_set.valid_bank_mask = hc->xmm[0];
		hc->xmm_used = 1;
	} else {
		if (kvm_read_guest(vcpu->kvm, hc->ingpa, &ex, sizeof(ex)))
			return -EINVAL;
		hc->data_offset = offsetof(struct hv_send_ipi_ex,
					   vp_set.bank_contents);
	}
	*vector = ex.vector;
	set->valid = ex.vp_set.valid_bank_mask;
	set->all = ex.vp_set.format == HV_GENERIC_SET_ALL;
	if (hc->in.var_cnt != hweight64(set->valid))
		return -EINVAL;
	if (set->all)
		return 0;
	if (!hc->in.var_cnt)
		return 1;
	return hvl_vpset_read(vcpu, hc, set);
}

int hvl_ipi_send(struct kvm_vcpu *vcpu, struct hvl_vm *vm, struct hvl_hc *hc)
{
	/* Filled before use: spare the call zeroing it on entry. */
	DECLARE_BITMAP(targets, KVM_MAX_VCPUS) __uninitialized;
	struct hvl_vpset set = {};
	struct kvm_vcpu *v;
	unsigned long i;
	u32 vector;
	int r;

	if (!hvl_compat_lapic_in_kernel(vcpu))
		return -EINVAL;
	if (hc->in.code == HVCALL_SEND_IPI)
		r = hvl_ipi_read(vcpu, hc, &vector, &set);
	else
		r = hvl_ipi_read_ex(vcpu, hc, &vector, &set);
	if (r < 0)
		return r;
	/* An empty sparse set succeeds without a vector check, as in-tree. */
	if (!r && (vector < HV_IPI_LOW_VECTOR || vector > HV_IPI_HIGH_VECTOR))
		return -EINVAL;
	hvl_state_count(vm, HVL_STAT_IPI);
	if (r)
		return 0;
	hvl_vpset_vcpus(vcpu->kvm, vm, &set, targets);
	for_each_set_bit(i, targets, atomic_read(&vcpu->kvm->online_vcpus)) {
		v = kvm_get_vcpu(vcpu->kvm, i);
		if (v)
			hvl_compat_apic_fixed(v, vector);
	}
	return 0;
}
