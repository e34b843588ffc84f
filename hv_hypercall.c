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
static bool hvl_hypercall_owned_by(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				   struct hvl_vcpu *hv)
{
	/*
	 * The state first: a VM that never used Hyper-V has none, and its
	 * KVM hypercalls then skip the walk of the vCPU's CPUID.
	 */
	return vm && READ_ONCE(vm->guest_os_id) &&
	       !hvl_compat_xen_hypercall(vcpu->kvm) &&
	       hvl_cpuid_is_hv_guest(vcpu, hv);
}

bool hvl_hypercall_owned(struct kvm_vcpu *vcpu)
{
	struct hvl_vcpu *hv;
	struct hvl_vm *vm;

	hv = hvl_state_find(vcpu, &vm);
	return hvl_hypercall_owned_by(vcpu, vm, hv);
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
	case -EFAULT:
		return HV_STATUS_INVALID_ALIGNMENT;
	case -EACCES:
		return HV_STATUS_ACCESS_DENIED;
	case -EPERM:
		return HV_STATUS_OPERATION_DENIED;
	case -ENOMEM:
		return HV_STATUS_INSUFFICIENT_MEMORY;
	}
	return HV_STATUS_INVALID_PARAMETER;
}

/* dispatch: the VMM answers this call (KVM_EXIT_HYPERV_HCALL). */
#define HVL_HC_TO_VMM	1
/* dispatch: the call raises #UD (XMM input the VMM did not offer). */
#define HVL_HC_UD	2

/* The calls whose fast form takes input in XMM registers. */
static bool hvl_hypercall_xmm(u16 code)
{
	switch (code) {
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST:
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE:
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX:
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX:
	case HVCALL_SEND_IPI_EX:
		return true;
	}
	return false;
}

/*
 * HvSignalEvent: the connection ID (in the input page, or the register
 * for a fast call) must be a plain one; signal its eventfd, or -ENOENT
 * when it has none (the VMM may know the connection).
 */
static int hvl_hypercall_signal_event(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				      const struct hvl_hc *hc)
{
	u64 conn = hc->ingpa;

	if (!hc->in.fast) {
		if (!IS_ALIGNED(hc->ingpa, sizeof(u64)) ||
		    kvm_vcpu_read_guest(vcpu, hc->ingpa, &conn, sizeof(conn)))
			return -EFAULT;
	}
	/* A "flag number" in 47:32 is allowed but never registered. */
	if (conn & GENMASK_ULL(47, 32))
		return -ENOENT;
	if (conn & ~(u64)KVM_HYPERV_CONN_ID_MASK)
		return -EINVAL;
	return hvl_synic_signal(vm, conn);
}

/* The synthetic debugger's calls go to the VMM when it asked for them. */
static int hvl_hypercall_syndbg(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				struct hvl_vcpu *hv, const struct hvl_hc *hc)
{
	if (hc->in.fast && hc->in.code != HVCALL_RESET_DEBUG_SESSION)
		return -ERANGE;
	if (!hvl_cpuid_syndbg_enabled(vcpu, hv))
		return -EOPNOTSUPP;
	if (!vm || !(READ_ONCE(vm->syndbg.options) & HV_X64_SYNDBG_OPTION_USE_HCALLS))
		return -EPERM;
	return HVL_HC_TO_VMM;
}

static int hvl_hypercall_dispatch(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				  struct hvl_vcpu *hv, struct hvl_hc *hc)
{
	const struct hvl_hc_input *in = &hc->in;
	bool rep = in->rep_cnt || in->rep_idx;
	int r;

	/* Access before any check of the input, in in-tree KVM's order. */
	if (hvl_cpuid_enforced(hv) &&
	    !hvl_cpuid_hypercall_allowed(vcpu, hv, in->code))
		return -EACCES;
	if (in->rsvd)
		return -EINVAL;
	if (in->fast && hvl_hypercall_xmm(in->code)) {
		if (!hvl_cpuid_allowed(vcpu, hv,
				       HVL_EDX(HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE)))
			return HVL_HC_UD;
		hvl_compat_read_xmm(hc->xmm);
	}

	switch (in->code) {
	case HVCALL_NOTIFY_LONG_SPIN_WAIT:
		return hvl_spinlock_notify(vcpu, vm, in);
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST:
		if (in->var_cnt)
			return -EINVAL;
		fallthrough;
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX:
		if (!in->rep_cnt || in->rep_idx)
			return -EINVAL;
		return hvl_tlbflush(vcpu, vm, hc);
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE:
		if (in->var_cnt)
			return -EINVAL;
		fallthrough;
	case HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX:
		if (rep)
			return -EINVAL;
		return hvl_tlbflush(vcpu, vm, hc);
	case HVCALL_SEND_IPI:
		if (in->var_cnt)
			return -EINVAL;
		fallthrough;
	case HVCALL_SEND_IPI_EX:
		if (rep)
			return -EINVAL;
		return hvl_ipi_send(vcpu, vm, hc);
	case HVCALL_SIGNAL_EVENT:
		if (rep || in->var_cnt)
			return -EINVAL;
		r = hvl_hypercall_signal_event(vcpu, vm, hc);
		if (r != -ENOENT)
			return r;
		/* Maybe the VMM knows the connection: as a message would. */
		fallthrough;
	case HVCALL_POST_MESSAGE:
		/* Do not bother a VMM that has no way to handle it. */
		if (rep || in->var_cnt || !hvl_synic_active(hv))
			return -EINVAL;
		return HVL_HC_TO_VMM;
	case HVCALL_POST_DEBUG_DATA:
	case HVCALL_RETRIEVE_DEBUG_DATA:
	case HVCALL_RESET_DEBUG_SESSION:
		return hvl_hypercall_syndbg(vcpu, vm, hv, hc);
	case HV_EXT_CALL_QUERY_CAPABILITIES ... HV_EXT_CALL_MAX:
		/* Their input and output are pages: no fast form. */
		if (in->fast)
			return -ERANGE;
		return HVL_HC_TO_VMM;
	}
	return -EOPNOTSUPP;
}

/*
 * Finish a hypercall with its result value (status and reps completed):
 * the guest's RAX (EDX:EAX in 32-bit mode), the instruction retired. Also
 * the completion of a call the VMM answered, with the VMM's result.
 */
static int hvl_hypercall_finish(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				u64 param, u64 result, bool longmode)
{
	struct hvl_hc_input in = hvl_hc_decode(param);
	u16 status = result & HVL_HC_CODE_MASK;

	trace_hvl_hypercall(vcpu->vcpu_id, in.code, in.fast, in.var_cnt,
			    in.rep_cnt, in.rep_idx, status);
	hvl_state_count(vm, HVL_STAT_HYPERCALL);
	if (status != HV_STATUS_SUCCESS)
		hvl_state_count(vm, HVL_STAT_HYPERCALL_FAILED);
	if (longmode) {
		hvl_compat_reg_write(vcpu, VCPU_REGS_RAX, result);
	} else {
		hvl_compat_reg_write(vcpu, VCPU_REGS_RDX, result >> 32);
		hvl_compat_reg_write(vcpu, VCPU_REGS_RAX, (u32)result);
	}
	++vcpu->stat.hypercalls;
	return kvm_skip_emulated_instruction(vcpu);
}

int hvl_hypercall_complete(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u64 param,
			   u64 result)
{
	return hvl_hypercall_finish(vcpu, vm, param, result,
				    hvl_compat_is_64bit(vcpu));
}

/* The registers of a hypercall: RCX, RDX, R8, or pairs in 32-bit mode. */
static void hvl_hypercall_read(struct kvm_vcpu *vcpu, struct hvl_hc *hc)
{
	hc->longmode = hvl_compat_is_64bit(vcpu);
	if (hc->longmode) {
		hc->param = hvl_compat_reg_read(vcpu, VCPU_REGS_RCX);
		hc->ingpa = hvl_compat_reg_read(vcpu, VCPU_REGS_RDX);
		hc->outgpa = hvl_compat_reg_read(vcpu, VCPU_REGS_R8);
	} else {
		hc->param = hvl_hc_join32(hvl_compat_reg_read(vcpu, VCPU_REGS_RDX),
					  hvl_compat_reg_read(vcpu, VCPU_REGS_RAX));
		hc->ingpa = hvl_hc_join32(hvl_compat_reg_read(vcpu, VCPU_REGS_RBX),
					  hvl_compat_reg_read(vcpu, VCPU_REGS_RCX));
		hc->outgpa = hvl_hc_join32(hvl_compat_reg_read(vcpu, VCPU_REGS_RDI),
					   hvl_compat_reg_read(vcpu, VCPU_REGS_RSI));
	}
	hc->in = hvl_hc_decode(hc->param);
	hc->xmm_used = 0;
	hc->data_offset = 0;
	hc->reps_done = 0;
}

/*
 * Ask the VMM for the call's result: KVM_EXIT_HYPERV_HCALL, its payload
 * written in place (what an earlier exit left in the union cleared).
 */
static void hvl_hypercall_to_vmm(struct hvl_vcpu *hv, const struct hvl_hc *hc)
{
	struct kvm_hyperv_exit *e = &hv->exit.hyperv;

	e->type = KVM_EXIT_HYPERV_HCALL;
	e->u.hcall.input = hc->param;
	e->u.hcall.result = 0;
	e->u.hcall.params[0] = hc->ingpa;
	e->u.hcall.params[1] = hc->outgpa;
	hvl_state_exit_request(hv, HVL_EXIT_HYPERV, NULL);
}

/*
 * A hypercall, as KVM's exit handler: 1 to go on running the guest, 0
 * when the call asked for an exit to the VMM (KVM_EXIT_HYPERV, HCALL) in
 * the vCPU's state, which the glue delivers (the call then completes with
 * the VMM's result on re-entry), -ENOENT when it is no Hyper-V hypercall
 * (hvl_hypercall_owned()): KVM's own. The VM's state is looked up
 * once per hypercall and handed down.
 */
int hvl_hypercall_handle(struct kvm_vcpu *vcpu)
{
	/* hvl_hypercall_read() sets all but the XMM input, read where used. */
	struct hvl_hc hc __uninitialized;
	struct hvl_vcpu *hv;
	struct hvl_vm *vm;
	int r;

	hv = hvl_state_find(vcpu, &vm);
	if (!hvl_hypercall_owned_by(vcpu, vm, hv))
		return -ENOENT;
	/* TLFS: a hypercall from CPL > 0 or real mode raises #UD. */
	if (hvl_compat_get_cpl(vcpu) != 0 || !hvl_compat_is_protmode(vcpu)) {
		kvm_queue_exception(vcpu, UD_VECTOR);
		return 1;
	}
	/*
	 * Give the vCPU its own state too (the VM has some: the guest set its
	 * guest OS ID), as in-tree does for a Hyper-V vCPU, so that its next
	 * exit finds both without a walk; without memory, go on without it.
	 */
	hv = hv ?: hvl_state_vcpu_get(vcpu);
	hvl_hypercall_read(vcpu, &hc);
	r = hvl_hypercall_dispatch(vcpu, vm, hv, &hc);
	if (r == HVL_HC_UD) {
		kvm_queue_exception(vcpu, UD_VECTOR);
		return 1;
	}
	if (r != HVL_HC_TO_VMM)
		return hvl_hypercall_finish(vcpu, vm, hc.param,
					    hvl_hc_result(hvl_hypercall_status(r),
							  r ? 0 : hc.reps_done),
					    hc.longmode);
	if (!hv)
		return hvl_hypercall_finish(vcpu, vm, hc.param,
					    hvl_hc_result(hvl_hypercall_status(-ENOMEM), 0),
					    hc.longmode);
	hvl_hypercall_to_vmm(hv, &hc);
	return 0;
}
