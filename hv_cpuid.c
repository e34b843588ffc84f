// SPDX-License-Identifier: GPL-2.0
/*
 * Hyper-V CPUID leaves 0x40000000-0x40000005 as KVM's supported-CPUID UAPI
 * reports them, the capabilities that go with them, guest detection and
 * KVM_CAP_HYPERV_ENFORCE_CPUID.
 */
#include <linux/kvm_host.h>
#include "hvl.h"

/*
 * A vCPU is a Hyper-V guest when its VMM set 0x40000001.EAX = "Hv#1" and
 * did not put KVM's own leaves at 0x40000000 (0x40000001 is then KVM's). KVM
 * refuses CPUID changes once a vCPU has run, so remember the answer in the
 * vCPU's state (if it has any) instead of walking its CPUID on every exit.
 * Only the vCPU's own thread, holding vcpu->mutex, gets here.
 */
bool hvl_cpuid_is_hv_guest(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv)
{
	struct kvm_cpuid_entry2 *e;
	bool hv_guest;

	if (hv && hv->cpuid_known)
		return hv->hv_guest;
	/* With KVM's leaves at 0x40000000, 0x40000001 is KVM's, not ours. */
	if (hvl_compat_kvm_cpuid_base(vcpu) == KVM_CPUID_SIGNATURE) {
		hv_guest = false;
	} else {
		e = kvm_find_cpuid_entry(vcpu, HYPERV_CPUID_INTERFACE);
		hv_guest = e && e->eax == HYPERV_CPUID_SIGNATURE_EAX;
	}
	if (hv && hvl_compat_vcpu_has_run(vcpu)) {
		hv->hv_guest = hv_guest;
		hv->cpuid_known = true;
	}
	return hv_guest;
}

/* Enforcement is per-vCPU state: a vCPU without any (NULL) has it off. */
bool hvl_cpuid_enforced(const struct hvl_vcpu *hv)
{
	return hv && hv->enforce_cpuid;
}

/* Under enforcement, only what the VMM put in 0x40000003.EAX is usable. */
bool hvl_cpuid_allowed(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 feature)
{
	struct kvm_cpuid_entry2 *e;

	if (!hvl_cpuid_enforced(hv))
		return true;
	e = kvm_find_cpuid_entry(vcpu, HYPERV_CPUID_FEATURES);
	return e && (e->eax & feature);
}

bool hvl_cpuid_has_cap(long ext)
{
	const u32 time = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE;

	switch (ext) {
	case KVM_CAP_HYPERV:
	case KVM_CAP_HYPERV_SPIN:
	case KVM_CAP_HYPERV_CPUID:
	case KVM_CAP_SYS_HYPERV_CPUID:
	case KVM_CAP_HYPERV_ENFORCE_CPUID:
		return true;
	case KVM_CAP_HYPERV_VP_INDEX:
		return hvl_cpuid_features & HV_MSR_VP_INDEX_AVAILABLE;
	case KVM_CAP_HYPERV_TIME:
		return (hvl_cpuid_features & time) == time;
	case KVM_CAP_HYPERV_VAPIC:
		return hvl_cpuid_features & HV_MSR_APIC_ACCESS_AVAILABLE;
	}
	return false;
}

int hvl_cpuid_check_extension(struct kvm *kvm, long ext)
{
	return hvl_cpuid_has_cap(ext);
}

/*
 * The leaves KVM_GET_SUPPORTED_HV_CPUID reports, for /dev/kvm (vcpu ==
 * NULL) or for a vCPU; returns how many were filled.
 */
int hvl_cpuid_supported(struct kvm_vcpu *vcpu,
			struct kvm_cpuid_entry2 ent[HVL_CPUID_NR_LEAVES])
{
	struct hvl_cpuid_leaf leaf[HVL_CPUID_NR_LEAVES];
	u32 feat = hvl_cpuid_features;
	u32 rec = HV_X64_RELAXED_TIMING_RECOMMENDED;
	int i;

	if (feat & HV_MSR_APIC_ACCESS_AVAILABLE)
		rec |= HV_X64_APIC_ACCESS_RECOMMENDED;
	/* Without an in-kernel LAPIC there is no APIC to access. */
	if (vcpu && !hvl_compat_lapic_in_kernel(vcpu)) {
		feat &= ~HV_MSR_APIC_ACCESS_AVAILABLE;
		rec &= ~HV_X64_APIC_ACCESS_RECOMMENDED;
	}
	hvl_cpuid_build(leaf, feat, rec, KVM_MAX_VCPUS);
	memset(ent, 0, HVL_CPUID_NR_LEAVES * sizeof(ent[0]));
	for (i = 0; i < HVL_CPUID_NR_LEAVES; i++) {
		ent[i].function = leaf[i].function;
		ent[i].eax = leaf[i].eax;
		ent[i].ebx = leaf[i].ebx;
		ent[i].ecx = leaf[i].ecx;
		ent[i].edx = leaf[i].edx;
	}
	return HVL_CPUID_NR_LEAVES;
}

/*
 * KVM_CAP_HYPERV_ENFORCE_CPUID, with vcpu->mutex held as for any vCPU
 * ioctl. Turning enforcement off needs no state where there is none.
 */
int hvl_cpuid_set_enforce(struct kvm_vcpu *vcpu, bool on)
{
	struct hvl_vcpu *hv;

	if (!on && !hvl_state_vcpu_find(vcpu))
		return 0;
	hv = hvl_state_vcpu_get(vcpu);
	if (!hv)
		return -ENOMEM;
	hv->enforce_cpuid = on;
	return 0;
}
