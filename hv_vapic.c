// SPDX-License-Identifier: GPL-2.0
/*
 * Virtual APIC enlightenment: the EOI, ICR and TPR MSRs reach KVM's
 * in-kernel local APIC with the effect of the architectural access, and the
 * VP assist page's APIC-assist word rides on KVM's PV EOI, whose "no EOI
 * required" bit 0 has the same meaning.
 */
#include <linux/kvm_host.h>
#include <asm/apicdef.h>
#include <asm/kvm_para.h>
#include "hvl.h"

/* As KVM's x2APIC ICR write checks, for the xAPIC path too. */
#define HVL_ICR_RESERVED	(GENMASK_ULL(31, 20) | GENMASK_ULL(17, 16) | \
				 BIT_ULL(13))

/*
 * One APIC register, 64 bits for ICR. In x2APIC mode through KVM's x2APIC
 * MSR, otherwise through the APIC's MMIO handler: either way exactly what
 * the guest's own access would do.
 */
static int hvl_vapic_access(struct kvm_vcpu *vcpu, u32 reg, u64 *data,
			    bool write)
{
	struct msr_data msr = {
		.index = APIC_BASE_MSR + (reg >> 4),
		.data = *data,
	};
	u32 lo = *data, hi = *data >> 32;
	int r;

	if (hvl_compat_x2apic(vcpu)) {
		r = write ? kvm_set_msr_common(vcpu, &msr) :
			    kvm_get_msr_common(vcpu, &msr);
		*data = msr.data;
		return r ? -EINVAL : 0;
	}
	if (reg != APIC_ICR) {
		if (write && hi)
			return -EINVAL;
		r = hvl_compat_apic_mmio(vcpu, reg, &lo, write);
		*data = lo;
		return r;
	}
	/* xAPIC ICR: the destination half first, the write to ICR sends. */
	r = hvl_compat_apic_mmio(vcpu, APIC_ICR2, &hi, write);
	if (!r)
		r = hvl_compat_apic_mmio(vcpu, APIC_ICR, &lo, write);
	/*
	 * The MMIO write kept only ICR2's destination bits 31:24; in-tree
	 * KVM stores the MSR's bits 63:32 whole, and reads them back so.
	 */
	if (!r && write)
		hvl_compat_apic_set_icr2(vcpu, *data >> 32);
	if (!r && !write)
		*data = (u64)hi << 32 | lo;
	return r;
}

static int hvl_vapic_set_assist(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv,
				u64 data)
{
	u32 zero = 0;
	int r;

	if (data & HVL_VP_ASSIST_RSVD)
		return -EINVAL;
	if (!data && !hv)
		return 0;
	hv = hv ?: hvl_state_vcpu_get(vcpu);
	if (!hv)
		return -ENOMEM;
	if (data & HV_X64_MSR_VP_ASSIST_PAGE_ENABLE) {
		/*
		 * Clear only the APIC-assist word, as in-tree KVM does: the
		 * rest of the page may hold state that must survive migration.
		 */
		if (kvm_vcpu_write_guest(vcpu, data & HV_HYP_PAGE_MASK, &zero,
					 sizeof(zero)))
			return -EFAULT;
		r = hvl_compat_pv_eoi_set(vcpu, (data & HV_HYP_PAGE_MASK) | KVM_MSR_ENABLED);
	} else {
		r = hvl_compat_pv_eoi_set(vcpu, 0);
	}
	if (!r)
		WRITE_ONCE(hv->vp_assist, data);
	return r;
}

int hvl_vapic_set_msr(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 msr,
		      u64 data, bool host)
{
	/*
	 * A VMM resetting the assist page needs no APIC; everything else
	 * does, a VMM's write of 0 to EOI, ICR or TPR too, as in-tree.
	 */
	if (!hvl_compat_lapic_in_kernel(vcpu))
		return host && !data && msr == HV_X64_MSR_VP_ASSIST_PAGE ?
		       0 : -ENODEV;

	switch (msr) {
	case HV_X64_MSR_EOI:
		if (data >> 32)
			return -EINVAL;
		kvm_lapic_set_eoi(vcpu);
		return 0;
	case HV_X64_MSR_ICR:
		if (data & HVL_ICR_RESERVED)
			return -EINVAL;
		return hvl_vapic_access(vcpu, APIC_ICR, &data, true);
	case HV_X64_MSR_TPR:
		return hvl_vapic_access(vcpu, APIC_TASKPRI, &data, true);
	case HV_X64_MSR_VP_ASSIST_PAGE:
		return hvl_vapic_set_assist(vcpu, hv, data);
	}
	return -EINVAL;
}

int hvl_vapic_get_msr(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 msr,
		      u64 *data)
{
	*data = 0;
	if (msr == HV_X64_MSR_VP_ASSIST_PAGE) {
		*data = hv ? READ_ONCE(hv->vp_assist) : 0;
		return 0;
	}
	if (!hvl_compat_lapic_in_kernel(vcpu))
		return -ENODEV;
	switch (msr) {
	case HV_X64_MSR_ICR:
		return hvl_vapic_access(vcpu, APIC_ICR, data, false);
	case HV_X64_MSR_TPR:
		return hvl_vapic_access(vcpu, APIC_TASKPRI, data, false);
	}
	/* EOI is write-only. */
	return -EINVAL;
}
