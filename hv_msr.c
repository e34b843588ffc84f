// SPDX-License-Identifier: GPL-2.0
/*
 * Synthetic MSR dispatch: which MSRs the module owns, the rules common to
 * all of them (enforcement, host access), VP_INDEX, and the MSR index list.
 */
#include <linux/kvm_host.h>
#include "hvl.h"

/*
 * The MSRs a VMM saves and restores, in in-tree KVM's list and order: not
 * the EOI/ICR/TPR accessors of APIC registers (KVM_GET_LAPIC carries those).
 */
static const u32 hvl_msrs[] = {
	HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL,
	HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_REFERENCE_TSC,
	HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY,
	HV_X64_MSR_CRASH_P0, HV_X64_MSR_CRASH_P1, HV_X64_MSR_CRASH_P2,
	HV_X64_MSR_CRASH_P3, HV_X64_MSR_CRASH_P4, HV_X64_MSR_CRASH_CTL,
	HV_X64_MSR_RESET,
	HV_X64_MSR_VP_INDEX,
	HV_X64_MSR_VP_RUNTIME,
	HV_X64_MSR_SCONTROL,
	HV_X64_MSR_STIMER0_CONFIG,
	HV_X64_MSR_VP_ASSIST_PAGE,
	HV_X64_MSR_REENLIGHTENMENT_CONTROL, HV_X64_MSR_TSC_EMULATION_CONTROL,
	HV_X64_MSR_TSC_EMULATION_STATUS,
	HV_X64_MSR_SYNDBG_OPTIONS,
	HV_X64_MSR_SYNDBG_CONTROL, HV_X64_MSR_SYNDBG_STATUS,
	HV_X64_MSR_SYNDBG_SEND_BUFFER, HV_X64_MSR_SYNDBG_RECV_BUFFER,
	HV_X64_MSR_SYNDBG_PENDING_BUFFER,
};

/*
 * The 0x40000003 bit that offers an MSR (an EAX bit, or HVL_EDX() of an
 * EDX bit); 0 for MSRs we never own. To own one outside
 * HVL_MSR_OWNED_FIRST..LAST, widen that range: the MSR hooks' filter reads
 * it.
 */
static u64 hvl_msr_feature(u32 msr)
{
	if (msr < HVL_MSR_OWNED_FIRST || msr > HVL_MSR_OWNED_LAST)
		return 0;
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
	case HV_X64_MSR_HYPERCALL:
		return HV_MSR_HYPERCALL_AVAILABLE;
	case HV_X64_MSR_VP_INDEX:
		return HV_MSR_VP_INDEX_AVAILABLE;
	case HV_X64_MSR_TIME_REF_COUNT:
		return HV_MSR_TIME_REF_COUNT_AVAILABLE;
	case HV_X64_MSR_REFERENCE_TSC:
		return HV_MSR_REFERENCE_TSC_AVAILABLE;
	case HV_X64_MSR_EOI:
	case HV_X64_MSR_ICR:
	case HV_X64_MSR_TPR:
	case HV_X64_MSR_VP_ASSIST_PAGE:
		return HV_MSR_APIC_ACCESS_AVAILABLE;
	case HV_X64_MSR_VP_RUNTIME:
		return HV_MSR_VP_RUNTIME_AVAILABLE;
	case HV_X64_MSR_SCONTROL ... HV_X64_MSR_SIMP:
	case HV_X64_MSR_EOM:
	case HV_X64_MSR_SINT0 ... HV_X64_MSR_SINT15:
		return HV_MSR_SYNIC_AVAILABLE;
	case HV_X64_MSR_STIMER0_CONFIG ... HV_X64_MSR_STIMER3_COUNT:
		return HV_MSR_SYNTIMER_AVAILABLE;
	case HV_X64_MSR_RESET:
		return HV_MSR_RESET_AVAILABLE;
	case HV_X64_MSR_TSC_FREQUENCY:
	case HV_X64_MSR_APIC_FREQUENCY:
		return HV_ACCESS_FREQUENCY_MSRS;
	case HV_X64_MSR_REENLIGHTENMENT_CONTROL:
	case HV_X64_MSR_TSC_EMULATION_CONTROL:
	case HV_X64_MSR_TSC_EMULATION_STATUS:
		return HV_ACCESS_REENLIGHTENMENT;
	case HV_X64_MSR_CRASH_P0 ... HV_X64_MSR_CRASH_CTL:
		return HVL_EDX(HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE);
	case HV_X64_MSR_SYNDBG_CONTROL ... HV_X64_MSR_SYNDBG_PENDING_BUFFER:
	case HV_X64_MSR_SYNDBG_OPTIONS:
		return HVL_EDX(HV_FEATURE_DEBUG_MSRS_AVAILABLE);
	}
	return 0;
}

/* The MSRs of that bit are offered. */
static bool hvl_msr_feature_offered(u64 feature)
{
	return feature & (hvl_cpuid_features | HVL_EDX(hvl_cpuid_features_edx));
}

/*
 * The offered MSRs of the owned range, settled once at load: the MSR hooks'
 * filter (hvl_hook.c) tests it on every access of the range.
 */
DECLARE_BITMAP(hvl_msr_offered_map,
	       HVL_MSR_OWNED_LAST - HVL_MSR_OWNED_FIRST + 1);

/* Once the module's init settled the features it offers. */
void hvl_msr_settle(void)
{
	u32 msr;

	for (msr = HVL_MSR_OWNED_FIRST; msr <= HVL_MSR_OWNED_LAST; msr++)
		if (hvl_msr_feature_offered(hvl_msr_feature(msr)))
			__set_bit(msr - HVL_MSR_OWNED_FIRST, hvl_msr_offered_map);
}

/* An MSR we may own: offered, and not the VMM's Xen hypercall MSR. */
bool hvl_msr_offered(struct kvm_vcpu *vcpu, u32 msr)
{
	u32 i = msr - HVL_MSR_OWNED_FIRST;

	return i <= HVL_MSR_OWNED_LAST - HVL_MSR_OWNED_FIRST &&
	       test_bit(i, hvl_msr_offered_map) &&
	       !hvl_compat_xen_msr(vcpu->kvm, msr);
}

/*
 * Own an offered MSR for the host always (that is migration) and for a
 * Hyper-V guest; any other guest gets KVM's answer for an MSR it does not
 * know (a #GP, unless KVM's ignore_msrs says otherwise). A Hyper-V guest's
 * vCPU gets its state now if it has none (as in-tree does on its first
 * Hyper-V MSR access), so that its next exits find it without a walk; *hv
 * stays NULL without memory, which only costs that.
 */
static inline bool hvl_msr_owned(struct kvm_vcpu *vcpu, struct hvl_vm **vm,
				 struct hvl_vcpu **hv, bool host)
{
	if (host)
		return true;
	if (!hvl_cpuid_is_hv_guest(vcpu, *hv))
		return false;
	if (unlikely(!*hv)) {
		*hv = hvl_state_vcpu_get(vcpu);
		if (*hv)
			*vm = (*hv)->vm;
	}
	return true;
}

static int hvl_msr_set_vp_index(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv,
				u64 data, bool host)
{
	/* The guest may only read its VP index. */
	if (!host)
		return -EPERM;
	if (data >= KVM_MAX_VCPUS)
		return -EINVAL;
	if (!hv && data == vcpu->vcpu_idx)
		return 0;
	hv = hv ?: hvl_state_vcpu_get(vcpu);
	if (!hv)
		return -ENOMEM;
	hvl_state_set_vp_index(hv->vm, hv, data);
	return 0;
}

/*
 * Account an access; an error becomes KVM's "1": #GP or a failed ioctl.
 * vm is the state looked up on entry; the access may have created it.
 */
static inline int hvl_msr_done(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
			       enum hvl_stat stat, int err)
{
	vm = vm ?: hvl_state_vm_find(vcpu->kvm);
	hvl_state_count(vm, stat);
	if (err)
		hvl_state_count(vm, HVL_STAT_MSR_GP);
	return err ? 1 : 0;
}

/*
 * Look the VM's and the vCPU's state up once per access and hand it down:
 * an MSR exit is a hot path. A write that succeeded leaves the vCPU's
 * state in *hvp, for the exit it may have asked for.
 */
int hvl_msr_set(struct kvm_vcpu *vcpu, struct msr_data *msr,
		struct hvl_vcpu **hvp)
{
	bool host = msr->host_initiated;
	struct hvl_vcpu *hv;
	struct hvl_vm *vm;
	int r;

	*hvp = NULL;
	hv = hvl_state_find(vcpu, &vm);
	if (!hvl_msr_owned(vcpu, &vm, &hv, host))
		return HVL_COMPAT_MSR_UNSUPPORTED;
	if (!host && hvl_cpuid_enforced(hv) &&
	    !hvl_cpuid_allowed(vcpu, hv, hvl_msr_feature(msr->index)))
		return hvl_msr_done(vcpu, vm, HVL_STAT_MSR_WRITE, -EACCES);

	switch (msr->index) {
	case HV_X64_MSR_GUEST_OS_ID:
		r = hvl_hypercall_set_guest_os_id(vcpu, vm, msr->data);
		break;
	case HV_X64_MSR_HYPERCALL:
		r = hvl_hypercall_set_msr(vcpu, vm, msr->data);
		break;
	case HV_X64_MSR_VP_INDEX:
		r = hvl_msr_set_vp_index(vcpu, hv, msr->data, host);
		break;
	case HV_X64_MSR_TIME_REF_COUNT:
	case HV_X64_MSR_REFERENCE_TSC:
		r = hvl_reftime_set_msr(vcpu, vm, msr->index, msr->data, host);
		break;
	case HV_X64_MSR_EOI:
	case HV_X64_MSR_ICR:
	case HV_X64_MSR_TPR:
	case HV_X64_MSR_VP_ASSIST_PAGE:
		r = hvl_vapic_set_msr(vcpu, hv, msr->index, msr->data, host);
		break;
	case HV_X64_MSR_SCONTROL ... HV_X64_MSR_SINT15:
		r = hvl_synic_set_msr(vcpu, vm, hv, msr->index, msr->data, host);
		break;
	case HV_X64_MSR_STIMER0_CONFIG ... HV_X64_MSR_STIMER3_COUNT:
		r = hvl_stimer_set_msr(vcpu, hv, msr->index, msr->data, host);
		break;
	default:
		r = hvl_sysmsr_set(vcpu, vm, hv, msr->index, msr->data, host);
		break;
	}
	/* The write may have created the vCPU's state. */
	*hvp = hv ?: hvl_state_vcpu_find(vcpu);
	return hvl_msr_done(vcpu, vm, HVL_STAT_MSR_WRITE, r);
}

int hvl_msr_get(struct kvm_vcpu *vcpu, struct msr_data *msr)
{
	bool host = msr->host_initiated;
	struct hvl_vcpu *hv;
	struct hvl_vm *vm;
	int r = 0;

	hv = hvl_state_find(vcpu, &vm);
	if (!hvl_msr_owned(vcpu, &vm, &hv, host))
		return HVL_COMPAT_MSR_UNSUPPORTED;
	if (!host && hvl_cpuid_enforced(hv) &&
	    !hvl_cpuid_allowed(vcpu, hv, hvl_msr_feature(msr->index)))
		return hvl_msr_done(vcpu, vm, HVL_STAT_MSR_READ, -EACCES);

	switch (msr->index) {
	case HV_X64_MSR_GUEST_OS_ID:
		msr->data = vm ? READ_ONCE(vm->guest_os_id) : 0;
		break;
	case HV_X64_MSR_HYPERCALL:
		msr->data = vm ? READ_ONCE(vm->hypercall) : 0;
		break;
	case HV_X64_MSR_VP_INDEX:
		msr->data = hv ? READ_ONCE(hv->vp_index) : vcpu->vcpu_idx;
		break;
	case HV_X64_MSR_TIME_REF_COUNT:
	case HV_X64_MSR_REFERENCE_TSC:
		r = hvl_reftime_get_msr(vcpu, vm, msr->index, &msr->data);
		break;
	case HV_X64_MSR_EOI:
	case HV_X64_MSR_ICR:
	case HV_X64_MSR_TPR:
	case HV_X64_MSR_VP_ASSIST_PAGE:
		r = hvl_vapic_get_msr(vcpu, hv, msr->index, &msr->data);
		break;
	case HV_X64_MSR_SCONTROL ... HV_X64_MSR_SINT15:
		r = hvl_synic_get_msr(vcpu, hv, msr->index, &msr->data, host);
		break;
	case HV_X64_MSR_STIMER0_CONFIG ... HV_X64_MSR_STIMER3_COUNT:
		r = hvl_stimer_get_msr(hv, msr->index, &msr->data);
		break;
	default:
		r = hvl_sysmsr_get(vcpu, vm, hv, msr->index, &msr->data, host);
		break;
	}
	return hvl_msr_done(vcpu, vm, HVL_STAT_MSR_READ, r);
}

/*
 * The offered MSRs a VMM must save and restore, for KVM_GET_MSR_INDEX_LIST
 * after KVM's own; returns how many.
 */
int hvl_msr_list(u32 indices[HVL_MSR_LIST_MAX])
{
	int i, n = 0;

	static_assert(ARRAY_SIZE(hvl_msrs) <= HVL_MSR_LIST_MAX);
	for (i = 0; i < ARRAY_SIZE(hvl_msrs); i++)
		if (hvl_msr_feature_offered(hvl_msr_feature(hvl_msrs[i])))
			indices[n++] = hvl_msrs[i];
	return n;
}
