// SPDX-License-Identifier: GPL-2.0
/*
 * GUEST_OS_ID, the hypercall page and hypercall dispatch.
 */
#include <linux/kvm_host.h>
#include <asm/processor.h>
#include "hvl.h"
#include "hvl_trace.h"

int hvl_hypercall_set_guest_os_id(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				  u64 data)
{
	/* Zero is what a VM without state reads; a VMM writes it at reset. */
	if (!data && !vm)
		return 0;
	vm = vm ?: hvl_state_vm_get(vcpu->kvm);
	if (!vm)
		return -ENOMEM;
	mutex_lock(&vm->lock);
	WRITE_ONCE(vm->guest_os_id, data);
	/* Zeroing the guest OS ID disables the hypercall page. */
	if (!data)
		WRITE_ONCE(vm->hypercall, vm->hypercall & ~HV_X64_MSR_HYPERCALL_ENABLE);
	mutex_unlock(&vm->lock);
	return 0;
}

/* VMCALL on Intel, VMMCALL on AMD and Hygon, as KVM's patch_hypercall. */
static void hvl_hypercall_page_fill(u8 *insn)
{
	bool amd = boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
		   boot_cpu_data.x86_vendor == X86_VENDOR_HYGON;

	insn[0] = 0x0f;
	insn[1] = 0x01;
	insn[2] = amd ? 0xd9 : 0xc1;
	insn[3] = 0xc3;	/* ret */
}

int hvl_hypercall_set_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u64 data)
{
	u8 insn[HVL_HCPAGE_LEN];
	int r = 0;

	if (data & HVL_HYPERCALL_RSVD)
		return -EINVAL;
	/* Without a guest OS ID the write is dropped, as in-tree KVM does. */
	if (!vm)
		return 0;
	mutex_lock(&vm->lock);
	if (!vm->guest_os_id)
		goto unlock;
	if (data & HV_X64_MSR_HYPERCALL_ENABLE) {
		hvl_hypercall_page_fill(insn);
		if (kvm_vcpu_write_guest(vcpu, data & HV_HYP_PAGE_MASK, insn,
					 sizeof(insn))) {
			r = -EFAULT;
			goto unlock;
		}
	}
	WRITE_ONCE(vm->hypercall, data);
unlock:
	mutex_unlock(&vm->lock);
	return r;
}

/*
 * VMCALL/VMMCALL is a Hyper-V hypercall once a Hyper-V guest has set its
 * guest OS ID (in-tree kvm_hv_hypercall_enabled()); before that, and in
 * other guests, it stays KVM's own hypercall.
 */
bool hvl_hypercall_owned(struct kvm_vcpu *vcpu)
{
	struct hvl_vm *vm;

	if (hvl_compat_xen_hypercall(vcpu->kvm))
		return false;
	/*
	 * The state first: a VM that never used Hyper-V has none, and its
	 * KVM hypercalls then skip the walk of the vCPU's CPUID.
	 */
	vm = hvl_state_vm_find(vcpu->kvm);
	return vm && READ_ONCE(vm->guest_os_id) &&
	       hvl_cpuid_is_hv_guest(vcpu, hvl_state_vcpu_find_in(vm, vcpu));
}

/* The one place a hypercall's -errno becomes an HV_STATUS code. */
static u16 hvl_hypercall_status(int err)
{
	switch (err) {
	case 0:
		return HV_STATUS_SUCCESS;
	case -EOPNOTSUPP:
		return HV_STATUS_INVALID_HYPERCALL_CODE;
	case -EINVAL:
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	case -EACCES:
		return HV_STATUS_ACCESS_DENIED;
	}
	return HV_STATUS_INVALID_PARAMETER;
}

static int hvl_hypercall_dispatch(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				  const struct hvl_hc_input *in)
{
	struct hvl_vcpu *hv = hvl_state_vcpu_find_in(vm, vcpu);

	/* Access before input validation, in in-tree KVM's order. */
	if (in->code == HVCALL_NOTIFY_LONG_SPIN_WAIT &&
	    !hvl_spinlock_allowed(vcpu, hv))
		return -EACCES;
	if (in->rsvd)
		return -EINVAL;

	switch (in->code) {
	case HVCALL_NOTIFY_LONG_SPIN_WAIT:
		return hvl_spinlock_notify(vcpu, vm, in);
	}
	return -EOPNOTSUPP;
}

/* The VM's state is looked up once per hypercall and handed down. */
int hvl_hypercall_handle(struct kvm_vcpu *vcpu)
{
	struct hvl_vm *vm = hvl_state_vm_find(vcpu->kvm);
	struct hvl_hc_input in;
	bool longmode;
	u64 param, result;
	u16 status;

	/* TLFS: a hypercall from CPL > 0 or real mode raises #UD. */
	if (hvl_compat_get_cpl(vcpu) != 0 || !hvl_compat_is_protmode(vcpu)) {
		kvm_queue_exception(vcpu, UD_VECTOR);
		return 1;
	}

	longmode = hvl_compat_is_64bit(vcpu);
	if (longmode)
		param = hvl_compat_reg_read(vcpu, VCPU_REGS_RCX);
	else
		param = hvl_hc_join32(hvl_compat_reg_read(vcpu, VCPU_REGS_RDX),
				      hvl_compat_reg_read(vcpu, VCPU_REGS_RAX));
	in = hvl_hc_decode(param);

	status = hvl_hypercall_status(hvl_hypercall_dispatch(vcpu, vm, &in));
	trace_hvl_hypercall(vcpu->vcpu_id, in.code, in.fast, in.var_cnt,
			    in.rep_cnt, in.rep_idx, status);
	hvl_state_count(vm, HVL_STAT_HYPERCALL);
	if (status != HV_STATUS_SUCCESS)
		hvl_state_count(vm, HVL_STAT_HYPERCALL_FAILED);

	/* No implemented call is a rep call: zero reps completed. */
	result = hvl_hc_result(status, 0);
	if (longmode) {
		hvl_compat_reg_write(vcpu, VCPU_REGS_RAX, result);
	} else {
		hvl_compat_reg_write(vcpu, VCPU_REGS_RDX, result >> 32);
		hvl_compat_reg_write(vcpu, VCPU_REGS_RAX, (u32)result);
	}
	++vcpu->stat.hypercalls;
	return kvm_skip_emulated_instruction(vcpu);
}
