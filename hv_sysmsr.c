// SPDX-License-Identifier: GPL-2.0
/*
 * The system MSRs: VP_RUNTIME, the TSC and APIC frequencies, RESET, the
 * crash MSRs, re-enlightenment and the synthetic debugger. RESET, a crash
 * notification and the debugger's doorbells end KVM_RUN with an exit to
 * the VMM: they ask for it in the vCPU's state, and the glue delivers it.
 */
#include <linux/kvm_host.h>
#include <linux/sched/cputime.h>
#include "hvl.h"

/* The vCPU task's CPU time in 100 ns units, as in-tree KVM counts it. */
static u64 hvl_sysmsr_task_runtime(void)
{
	u64 utime, stime;

	task_cputime_adjusted(current, &utime, &stime);
	return div_u64(utime + stime, 100);
}

static int hvl_sysmsr_exit(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv,
			   enum hvl_exit_kind kind,
			   const struct kvm_hyperv_exit *hyperv)
{
	hv = hv ?: hvl_state_vcpu_get(vcpu);
	if (!hv)
		return -ENOMEM;
	hvl_state_exit_request(hv, kind, hyperv);
	return 0;
}

/* The debugger's doorbell: the VMM moves the data (KVM_EXIT_HYPERV_SYNDBG). */
static int hvl_sysmsr_syndbg_exit(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				  struct hvl_vcpu *hv, u32 msr)
{
	struct kvm_hyperv_exit e = { .type = KVM_EXIT_HYPERV_SYNDBG };

	e.u.syndbg.msr = msr;
	e.u.syndbg.control = READ_ONCE(vm->syndbg.control);
	e.u.syndbg.send_page = READ_ONCE(vm->syndbg.send_page);
	e.u.syndbg.recv_page = READ_ONCE(vm->syndbg.recv_page);
	e.u.syndbg.pending_page = READ_ONCE(vm->syndbg.pending_page);
	return hvl_sysmsr_exit(vcpu, hv, HVL_EXIT_HYPERV, &e);
}

/* The debugger's MSRs, partition-wide; the guest needs 0x40000082. */
static int hvl_sysmsr_syndbg_set(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				 struct hvl_vcpu *hv, u32 msr, u64 data,
				 bool host)
{
	struct hvl_syndbg *d = &vm->syndbg;

	switch (msr) {
	case HV_X64_MSR_SYNDBG_CONTROL:
		WRITE_ONCE(d->control, data);
		break;
	case HV_X64_MSR_SYNDBG_STATUS:
		WRITE_ONCE(d->status, data);
		break;
	case HV_X64_MSR_SYNDBG_SEND_BUFFER:
		WRITE_ONCE(d->send_page, data);
		break;
	case HV_X64_MSR_SYNDBG_RECV_BUFFER:
		WRITE_ONCE(d->recv_page, data);
		break;
	case HV_X64_MSR_SYNDBG_PENDING_BUFFER:
		WRITE_ONCE(d->pending_page, data);
		break;
	case HV_X64_MSR_SYNDBG_OPTIONS:
		WRITE_ONCE(d->options, data);
		break;
	}
	if (!host && (msr == HV_X64_MSR_SYNDBG_CONTROL ||
		      msr == HV_X64_MSR_SYNDBG_PENDING_BUFFER))
		return hvl_sysmsr_syndbg_exit(vcpu, vm, hv, msr);
	return 0;
}

static u64 hvl_sysmsr_syndbg_get(const struct hvl_syndbg *d, u32 msr)
{
	switch (msr) {
	case HV_X64_MSR_SYNDBG_CONTROL:
		return READ_ONCE(d->control);
	case HV_X64_MSR_SYNDBG_STATUS:
		return READ_ONCE(d->status);
	case HV_X64_MSR_SYNDBG_SEND_BUFFER:
		return READ_ONCE(d->send_page);
	case HV_X64_MSR_SYNDBG_RECV_BUFFER:
		return READ_ONCE(d->recv_page);
	case HV_X64_MSR_SYNDBG_PENDING_BUFFER:
		return READ_ONCE(d->pending_page);
	case HV_X64_MSR_SYNDBG_OPTIONS:
		return READ_ONCE(d->options);
	}
	return 0;
}

/*
 * The VMM answered a debugger exit: the status of a CONTROL write is the
 * guest's to read (msr as the VMM left it in the exit, as in-tree).
 */
void hvl_sysmsr_syndbg_complete(struct kvm_vcpu *vcpu, u32 msr, u64 status)
{
	struct hvl_vm *vm = hvl_state_vm_find(vcpu->kvm);

	if (vm && msr == HV_X64_MSR_SYNDBG_CONTROL)
		WRITE_ONCE(vm->syndbg.status, status);
}

static bool hvl_sysmsr_is_syndbg(u32 msr)
{
	return msr == HV_X64_MSR_SYNDBG_OPTIONS ||
	       (msr >= HV_X64_MSR_SYNDBG_CONTROL &&
		msr <= HV_X64_MSR_SYNDBG_PENDING_BUFFER);
}

/* Partition-wide MSRs, which need the VM's state to hold a non-zero value. */
static int hvl_sysmsr_set_pw(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
			     struct hvl_vcpu *hv, u32 msr, u64 data, bool host)
{
	if (msr == HV_X64_MSR_TSC_EMULATION_STATUS && data && !host)
		return -EPERM;
	/* A guest's crash notification is not stored: it is an exit. */
	if (msr == HV_X64_MSR_CRASH_CTL && !host)
		return data & HV_CRASH_CTL_CRASH_NOTIFY ?
		       hvl_sysmsr_exit(vcpu, hv, HVL_EXIT_CRASH, NULL) : 0;
	if (!vm && !data)
		return 0;
	vm = vm ?: hvl_state_vm_get(vcpu->kvm);
	if (!vm)
		return -ENOMEM;

	switch (msr) {
	case HV_X64_MSR_CRASH_P0 ... HV_X64_MSR_CRASH_P4:
		WRITE_ONCE(vm->crash_param[msr - HV_X64_MSR_CRASH_P0], data);
		return 0;
	case HV_X64_MSR_CRASH_CTL:
		WRITE_ONCE(vm->crash_ctl, data & HV_CRASH_CTL_CRASH_NOTIFY);
		return 0;
	case HV_X64_MSR_REENLIGHTENMENT_CONTROL:
		WRITE_ONCE(vm->reenlightenment_control, data);
		return 0;
	case HV_X64_MSR_TSC_EMULATION_CONTROL:
		WRITE_ONCE(vm->tsc_emulation_control, data);
		return 0;
	case HV_X64_MSR_TSC_EMULATION_STATUS:
		WRITE_ONCE(vm->tsc_emulation_status, data);
		return 0;
	}
	return hvl_sysmsr_syndbg_set(vcpu, vm, hv, msr, data, host);
}

int hvl_sysmsr_set(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
		   struct hvl_vcpu *hv, u32 msr, u64 data, bool host)
{
	if (hvl_sysmsr_is_syndbg(msr) && !host &&
	    !hvl_cpuid_syndbg_enabled(vcpu, hv))
		return -EPERM;

	switch (msr) {
	case HV_X64_MSR_VP_RUNTIME:
		if (!host)
			return -EPERM;
		hv = hv ?: hvl_state_vcpu_get(vcpu);
		if (!hv)
			return -ENOMEM;
		hv->runtime_offset = data - hvl_sysmsr_task_runtime();
		return 0;
	case HV_X64_MSR_TSC_FREQUENCY:
	case HV_X64_MSR_APIC_FREQUENCY:
		/* Read-only; a VMM restoring them is ignored, as in-tree. */
		return host ? 0 : -EPERM;
	case HV_X64_MSR_RESET:
		/* Any write but 1 is ignored, even from the VMM. */
		return data == 1 ? hvl_sysmsr_exit(vcpu, hv, HVL_EXIT_RESET,
						   NULL) : 0;
	case HV_X64_MSR_CRASH_P0 ... HV_X64_MSR_CRASH_CTL:
	case HV_X64_MSR_REENLIGHTENMENT_CONTROL:
	case HV_X64_MSR_TSC_EMULATION_CONTROL:
	case HV_X64_MSR_TSC_EMULATION_STATUS:
	case HV_X64_MSR_SYNDBG_CONTROL ... HV_X64_MSR_SYNDBG_PENDING_BUFFER:
	case HV_X64_MSR_SYNDBG_OPTIONS:
		return hvl_sysmsr_set_pw(vcpu, vm, hv, msr, data, host);
	}
	return -EINVAL;
}

int hvl_sysmsr_get(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
		   struct hvl_vcpu *hv, u32 msr, u64 *data, bool host)
{
	if (hvl_sysmsr_is_syndbg(msr) && !host &&
	    !hvl_cpuid_syndbg_enabled(vcpu, hv))
		return -EPERM;

	*data = 0;
	switch (msr) {
	case HV_X64_MSR_VP_RUNTIME:
		*data = hvl_sysmsr_task_runtime() + (hv ? hv->runtime_offset : 0);
		return 0;
	case HV_X64_MSR_TSC_FREQUENCY:
		*data = (u64)hvl_compat_virtual_tsc_khz(vcpu) * 1000;
		return 0;
	case HV_X64_MSR_APIC_FREQUENCY:
		*data = div64_u64(NSEC_PER_SEC,
				  hvl_compat_apic_bus_cycle_ns(vcpu->kvm));
		return 0;
	case HV_X64_MSR_RESET:
		return 0;
	}
	if (!vm)
		return hvl_sysmsr_is_syndbg(msr) ||
		       (msr >= HV_X64_MSR_CRASH_P0 &&
			msr <= HV_X64_MSR_TSC_EMULATION_STATUS) ? 0 : -EINVAL;

	switch (msr) {
	case HV_X64_MSR_CRASH_P0 ... HV_X64_MSR_CRASH_P4:
		*data = READ_ONCE(vm->crash_param[msr - HV_X64_MSR_CRASH_P0]);
		return 0;
	case HV_X64_MSR_CRASH_CTL:
		*data = READ_ONCE(vm->crash_ctl);
		return 0;
	case HV_X64_MSR_REENLIGHTENMENT_CONTROL:
		*data = READ_ONCE(vm->reenlightenment_control);
		return 0;
	case HV_X64_MSR_TSC_EMULATION_CONTROL:
		*data = READ_ONCE(vm->tsc_emulation_control);
		return 0;
	case HV_X64_MSR_TSC_EMULATION_STATUS:
		*data = READ_ONCE(vm->tsc_emulation_status);
		return 0;
	}
	if (hvl_sysmsr_is_syndbg(msr)) {
		*data = hvl_sysmsr_syndbg_get(&vm->syndbg, msr);
		return 0;
	}
	return -EINVAL;
}
