// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <sys/ioctl.h>

#include "hv.h"
#include "hvl_abi.h"

static void set_hv_cpuid(struct kvm_vcpu *vcpu, bool set_retries,
			 uint32_t retries)
{
	struct {
		struct kvm_cpuid2 hdr;
		struct kvm_cpuid_entry2 e[16];
	} c = { .hdr.nent = 16 };
	unsigned int i;

	TEST_ASSERT(!ioctl(kvm_fd(), KVM_GET_SUPPORTED_HV_CPUID, &c),
		    "KVM_GET_SUPPORTED_HV_CPUID");
	for (i = 0; i < c.hdr.nent; i++) {
		if (set_retries && c.e[i].function == HVL_CPUID_ENLIGHTENMENTS)
			c.e[i].ebx = retries;
		vcpu_set_cpuid_entry(vcpu, &c.e[i]);
	}
}

void vcpu_set_hv_cpuid(struct kvm_vcpu *vcpu)
{
	set_hv_cpuid(vcpu, false, 0);
}

void vcpu_set_hv_cpuid_retries(struct kvm_vcpu *vcpu, uint32_t retries)
{
	set_hv_cpuid(vcpu, true, retries);
}
