// SPDX-License-Identifier: GPL-2.0
/*
 * HvNotifyLongSpinWait: a guest vCPU that spun hv_spinlocks times on a lock
 * tells us so; give its time to a vCPU that was preempted, likely the holder.
 */
#include <linux/kvm_host.h>
#include <linux/sched.h>
#include "hvl.h"

int hvl_spinlock_notify(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
			const struct hvl_hc_input *in)
{
	unsigned long switches;

	if (in->rep_cnt || in->rep_idx || in->var_cnt)
		return -EINVAL;

	hvl_state_count(vm, HVL_STAT_SPIN_WAIT);
	switches = current->nvcsw + current->nivcsw;
	/* Prefer vCPUs preempted in kernel mode, as in-tree KVM does. */
	kvm_vcpu_on_spin(vcpu, true);
	if (current->nvcsw + current->nivcsw != switches)
		hvl_state_count(vm, HVL_STAT_SPIN_YIELDED);
	return 0;
}
