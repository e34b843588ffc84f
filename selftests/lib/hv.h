/* SPDX-License-Identifier: GPL-2.0 */
/* Host side: giving a vCPU the Hyper-V CPUID leaves. */
#ifndef HVL_SELFTEST_HV_H
#define HVL_SELFTEST_HV_H

#include <stdint.h>

#include "kvm_util.h"

/* The leaves KVM_GET_SUPPORTED_HV_CPUID on /dev/kvm reports, as they are. */
void vcpu_set_hv_cpuid(struct kvm_vcpu *vcpu);

/*
 * The same with the spinlock retry count (0x40000004.EBX) replaced, as a
 * VMM's hv_spinlocks=N does; 0xffffffff means never notify.
 */
void vcpu_set_hv_cpuid_retries(struct kvm_vcpu *vcpu, uint32_t retries);

#endif
