/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host side of the Hyper-V tests: which environment they run in, and giving
 * a vCPU the Hyper-V CPUID leaves.
 */
#ifndef HVL_SELFTEST_HV_H
#define HVL_SELFTEST_HV_H

#include <stdint.h>

#include "kvm_util.h"
#include "hvl_abi.h"

/*
 * HV_MODULE: the nohv kernels with hvenlight, the target. HV_STOCK: in-tree
 * Hyper-V (stock, inhv), which must agree except where the module differs
 * on purpose. HV_PLAIN: KVM without Hyper-V at all.
 */
enum hv_env { HV_MODULE, HV_PLAIN, HV_STOCK };
extern enum hv_env hv_env;

#define NO_MODULE	"hvenlight not loaded: KVM without CONFIG_KVM_HYPERV has no Hyper-V"
#define INTENTIONAL(why) "intentional difference: " why

/* Set hv_env from HVL_KERNEL and HVL_MODULE_LOADED, and say which it is. */
void hv_env_init(void);

/*
 * Keep one extra VM open for the whole run.  Creating the first VM and
 * destroying the last one toggles KVM's preempt-notifier static key, i.e.
 * live-patches __schedule(); under QEMU's multi-threaded TCG a CPU now and
 * then executes the patch's stale int3 ("Oops: int3" in __schedule, seen on
 * the stock kernel).  With a VM always open the text is patched only once.
 */
void hold_kvm_open(void);

/*
 * The HVL_CPUID_NR_LEAVES leaves of KVM_GET_SUPPORTED_HV_CPUID on fd
 * (/dev/kvm or a vCPU), in hvl_cpuid_function() order, so that
 * leaf[function - 0x40000000] is 0x40000000-0x40000005; returns the
 * ioctl's result.
 */
int hv_leaves_fd(int fd, struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES]);

/* The same from /dev/kvm, read once; asserts that the ioctl works. */
void hv_leaves(struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES]);

/* Give the vCPU these leaves, first, where QEMU puts them. */
void vcpu_set_hv_leaves(struct kvm_vcpu *vcpu,
			const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES]);

/* The leaves KVM_GET_SUPPORTED_HV_CPUID on /dev/kvm reports, as they are. */
void vcpu_set_hv_cpuid(struct kvm_vcpu *vcpu);

/*
 * The same with the spinlock retry count (0x40000004.EBX) replaced, as a
 * VMM's hv_spinlocks=N does; 0xffffffff means never notify.
 */
void vcpu_set_hv_cpuid_retries(struct kvm_vcpu *vcpu, uint32_t retries);

#endif
