// SPDX-License-Identifier: GPL-2.0
/*
 * Hyper-V CPUID leaves as KVM's supported-CPUID UAPI reports them, the
 * capabilities that go with them, guest detection and
 * KVM_CAP_HYPERV_ENFORCE_CPUID: which MSRs and hypercalls a vCPU may use.
 */
#include <linux/cpu.h>
#include <linux/kvm_host.h>
#include "hvl.h"

/* 0x40000003.EBX and EDX as offered; see hvl_cpuid_offer_init(). */
u32 hvl_cpuid_features_ebx;
u32 hvl_cpuid_features_edx;

/* A leaf's register of the vCPU's CPUID, 0 where the VMM set no such leaf. */
static u32 hvl_cpuid_reg(struct kvm_vcpu *vcpu, u32 function, int reg)
{
	struct kvm_cpuid_entry2 *e = kvm_find_cpuid_entry(vcpu, function);

	if (!e)
		return 0;
	switch (reg) {
	case CPUID_EAX:
		return e->eax;
	case CPUID_EBX:
		return e->ebx;
	case CPUID_ECX:
		return e->ecx;
	}
	return e->edx;
}

/*
 * A vCPU is a Hyper-V guest when its VMM set 0x40000001.EAX = "Hv#1" and
 * did not put KVM's own leaves at 0x40000000 (0x40000001 is then KVM's).
 */
static bool hvl_cpuid_read_hv_guest(struct kvm_vcpu *vcpu)
{
	return hvl_compat_kvm_cpuid_base(vcpu) != KVM_CPUID_SIGNATURE &&
	       hvl_cpuid_reg(vcpu, HYPERV_CPUID_INTERFACE, CPUID_EAX) ==
	       HYPERV_CPUID_SIGNATURE_EAX;
}

/*
 * The leaves a Hyper-V exit consults. KVM refuses CPUID changes once a
 * vCPU has run, so from then on keep them in the vCPU's state instead of
 * walking its CPUID entries on every exit. Only the vCPU's own thread,
 * holding vcpu->mutex, gets here. The callers' tmp is left uninitialized
 * (it is a hot path): every field is set below before it is used.
 */
static const struct hvl_cpuid_cache *hvl_cpuid_cache(struct kvm_vcpu *vcpu,
						     struct hvl_vcpu *hv,
						     struct hvl_cpuid_cache *tmp)
{
	if (hv && hv->cpuid.known)
		return &hv->cpuid;
	tmp->hv_guest = hvl_cpuid_read_hv_guest(vcpu);
	tmp->features_eax = hvl_cpuid_reg(vcpu, HYPERV_CPUID_FEATURES, CPUID_EAX);
	tmp->features_ebx = hvl_cpuid_reg(vcpu, HYPERV_CPUID_FEATURES, CPUID_EBX);
	tmp->features_edx = hvl_cpuid_reg(vcpu, HYPERV_CPUID_FEATURES, CPUID_EDX);
	tmp->enlight_eax = hvl_cpuid_reg(vcpu, HYPERV_CPUID_ENLIGHTMENT_INFO,
					 CPUID_EAX);
	tmp->enlight_ebx = hvl_cpuid_reg(vcpu, HYPERV_CPUID_ENLIGHTMENT_INFO,
					 CPUID_EBX);
	tmp->syndbg_eax = hvl_cpuid_reg(vcpu,
					HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES,
					CPUID_EAX);
	tmp->nested = (hvl_cpuid_reg(vcpu, 1, CPUID_ECX) &
		       BIT(X86_FEATURE_VMX & 31)) ||
		      (hvl_cpuid_reg(vcpu, 0x80000001, CPUID_ECX) &
		       BIT(X86_FEATURE_SVM & 31));
	tmp->known = false;
	if (!hv || !hvl_compat_vcpu_has_run(vcpu))
		return tmp;
	hv->cpuid = *tmp;
	hv->cpuid.known = true;
	return &hv->cpuid;
}

/* hvl_cpuid_is_hv_guest() before the vCPU's state knows its CPUID. */
bool hvl_cpuid_is_hv_guest_slow(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv)
{
	struct hvl_cpuid_cache tmp __uninitialized;

	/* Without state, one leaf is enough: the others may never be asked. */
	if (!hv)
		return hvl_cpuid_read_hv_guest(vcpu);
	return hvl_cpuid_cache(vcpu, hv, &tmp)->hv_guest;
}

/*
 * Under enforcement, only what the VMM put in 0x40000003 is usable: feature
 * is an EAX bit or an HVL_EDX() bit.
 */
bool hvl_cpuid_allowed(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u64 feature)
{
	const struct hvl_cpuid_cache *c;
	struct hvl_cpuid_cache tmp __uninitialized;

	if (!hvl_cpuid_enforced(hv))
		return true;
	c = hvl_cpuid_cache(vcpu, hv, &tmp);
	return (c->features_eax | HVL_EDX(c->features_edx)) & feature;
}

/*
 * The synthetic debugger is on for a vCPU whose VMM allowed kernel
 * debugging in 0x40000082, enforcement or not (in-tree
 * kvm_hv_is_syndbg_enabled()).
 */
bool hvl_cpuid_syndbg_enabled(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv)
{
	struct hvl_cpuid_cache tmp __uninitialized;

	return hvl_cpuid_cache(vcpu, hv, &tmp)->syndbg_eax &
	       HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING;
}

/* Can the vCPU run nested guests (VMX or SVM in its CPUID)? */
bool hvl_cpuid_nested(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv)
{
	struct hvl_cpuid_cache tmp __uninitialized;

	return hvl_cpuid_cache(vcpu, hv, &tmp)->nested;
}

/*
 * May the vCPU make this hypercall? Under enforcement, only with the bit
 * that offers it (in-tree hv_check_hypercall_access(), which runs before
 * any check of the input). Calls nobody offers are allowed here and then
 * fail as unknown.
 */
bool hvl_cpuid_hypercall_allowed(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv,
				 u16 code)
{
	const struct hvl_cpuid_cache *c;
	struct hvl_cpuid_cache tmp __uninitialized;
	u32 ebx, rec;

	if (!hvl_cpuid_enforced(hv))
		return true;
	c = hvl_cpuid_cache(vcpu, hv, &tmp);
	ebx = c->features_ebx;
	rec = c->enlight_eax;

	switch (code) {
	case HVCALL_NOTIFY_LONG_SPIN_WAIT:
		return c->enlight_ebx && c->enlight_ebx != HVL_SPIN_RETRIES_NEVER;
	case HVCALL_POST_MESSAGE:
		return ebx & HV_POST_MESSAGES;
	case HVCALL_SIGNAL_EVENT:
		return ebx & HV_SIGNAL_EVENTS;
	case HVCALL_POST_DEBUG_DATA:
	case HVCALL_RETRIEVE_DEBUG_DATA:
	case HVCALL_RESET_DEBUG_SESSION:
		/* Without the debugger the call is unknown, not denied. */
		return !hvl_cpuid_syndbg_enabled(vcpu, hv) || (ebx & HV_DEBUGGING);
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX:
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX:
		if (!(rec & HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED))
			return false;
		fallthrough;
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST:
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE:
		return rec & HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED;
	case HVCALL_SEND_IPI_EX:
		if (!(rec & HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED))
			return false;
		fallthrough;
	case HVCALL_SEND_IPI:
		return rec & HV_X64_CLUSTER_IPI_RECOMMENDED;
	case HV_EXT_CALL_QUERY_CAPABILITIES ... HV_EXT_CALL_MAX:
		return ebx & HV_ENABLE_EXTENDED_HYPERCALLS;
	}
	return true;
}

/*
 * Settle 0x40000003.EBX and EDX from the EAX features the module offers;
 * wrmsr_exits: whether a guest WRMSR can end KVM_RUN with an exit to the
 * VMM (the crash MSRs and the debugger need it, as RESET does).
 */
void hvl_cpuid_offer_init(bool wrmsr_exits)
{
	hvl_cpuid_features_ebx = HV_ENABLE_EXTENDED_HYPERCALLS;
	/* The flush calls flush everything: GVA ranges included. */
	hvl_cpuid_features_edx = HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE |
				 HV_FEATURE_EXT_GVA_RANGES_FLUSH;
	if (hvl_cpuid_features & HV_ACCESS_FREQUENCY_MSRS)
		hvl_cpuid_features_edx |= HV_FEATURE_FREQUENCY_MSRS_AVAILABLE;
	/* SynIC's page and control writes are exits too. */
	if (!wrmsr_exits)
		hvl_cpuid_features &= ~(HV_MSR_RESET_AVAILABLE | HV_MSR_SYNIC_AVAILABLE);
	/* Timers post their messages through SynIC. */
	if (!(hvl_cpuid_features & HV_MSR_SYNIC_AVAILABLE))
		hvl_cpuid_features &= ~HV_MSR_SYNTIMER_AVAILABLE;
	if (hvl_cpuid_features & HV_MSR_SYNIC_AVAILABLE)
		hvl_cpuid_features_ebx |= HV_POST_MESSAGES | HV_SIGNAL_EVENTS;
	if (hvl_cpuid_features & HV_MSR_SYNTIMER_AVAILABLE)
		hvl_cpuid_features_edx |= HV_STIMER_DIRECT_MODE_AVAILABLE;
	if (!wrmsr_exits)
		return;
	hvl_cpuid_features_ebx |= HV_DEBUGGING;
	hvl_cpuid_features_edx |= HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE |
				  HV_X64_GUEST_DEBUGGING_AVAILABLE |
				  HV_FEATURE_DEBUG_MSRS_AVAILABLE;
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
	case KVM_CAP_HYPERV_SEND_IPI:
	case KVM_CAP_HYPERV_TLBFLUSH:
		return true;
	case KVM_CAP_HYPERV_VP_INDEX:
		return hvl_cpuid_features & HV_MSR_VP_INDEX_AVAILABLE;
	case KVM_CAP_HYPERV_TIME:
		return (hvl_cpuid_features & time) == time;
	case KVM_CAP_HYPERV_VAPIC:
		return hvl_cpuid_features & HV_MSR_APIC_ACCESS_AVAILABLE;
	case KVM_CAP_HYPERV_SYNIC:
	case KVM_CAP_HYPERV_SYNIC2:
	case KVM_CAP_HYPERV_EVENTFD:
		return hvl_cpuid_features & HV_MSR_SYNIC_AVAILABLE;
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
	struct hvl_cpuid_offer o = {
		.features_eax = hvl_cpuid_features,
		.features_ebx = hvl_cpuid_features_ebx,
		.features_edx = hvl_cpuid_features_edx,
		.recommend_eax = HV_X64_RELAXED_TIMING_RECOMMENDED |
				 HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED |
				 HV_X64_CLUSTER_IPI_RECOMMENDED |
				 HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED |
				 HV_DEPRECATING_AEOI_RECOMMENDED,
		.max_vcpus = KVM_MAX_VCPUS,
	};
	int i;

	if (o.features_eax & HV_MSR_APIC_ACCESS_AVAILABLE)
		o.recommend_eax |= HV_X64_APIC_ACCESS_RECOMMENDED;
	if (!cpu_smt_possible())
		o.recommend_eax |= HV_X64_NO_NONARCH_CORESHARING;
	/* Without an in-kernel LAPIC there is no APIC to access or IPI. */
	if (vcpu && !hvl_compat_lapic_in_kernel(vcpu)) {
		o.features_edx &= ~HV_STIMER_DIRECT_MODE_AVAILABLE;
		o.features_eax &= ~HV_MSR_APIC_ACCESS_AVAILABLE;
		o.recommend_eax &= ~(HV_X64_APIC_ACCESS_RECOMMENDED |
				     HV_X64_CLUSTER_IPI_RECOMMENDED);
	}
	hvl_cpuid_build(leaf, &o);
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
