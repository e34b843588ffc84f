/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one list of KVM functions hvenlight hooks, hottest first (each
 * costs every call of the functions after it two instructions): the
 * trampoline compares return addresses in this order. hvl_hook.c includes it
 * once for each thing it generates from it (the hook table, the
 * trampoline's filter chain). Adding a hook is adding a line:
 *
 *   HVL_HOOK(function, filter): enter hvl_glue_<function>() instead of the
 *	function when hvl_glue_want_<function>() says so. The trampoline first runs
 *	filter (asm from hvl_hook.c: HVL_FILTER_*) so that KVM's own calls go
 *	back to KVM without saving a register.
 *   HVL_HOOK_DIRECT(function, filter): the same, with a filter that knows
 *	the answer and enters the replacement itself: want() then only
 *	decides the function's first call, which teaches the trampoline.
 *   HVL_HOOK_OPT(function, feature, filter): the same, for a hook the
 *	module can do without by not offering feature.
 *   HVL_SEE(function, feature): call hvl_glue_see_<function>() before every
 *	call.
 *   HVL_WATCH(function, feature, filter): the same for the calls filter
 *	passes, in the caller's context.
 *	Where the function cannot be hooked the module stops offering feature
 *	(0: the hook is required and the module does not load).
 */

/*
 * Every vCPU ioctl, KVM_RUN included. First although exits are more
 * frequent: a vCPU ioctl such as KVM_GET_REGS is about 1000 instructions
 * of KVM's, the cheapest call hooked, where two more for each hook before
 * it would show (make bench's host_vcpu_ioctl row); an exit is 2500 or more.
 */
HVL_HOOK(kvm_vcpu_ioctl,
	 HVL_FILTER_IOCTL(HVL_IOC_GET_SUPPORTED_HV_CPUID, HVL_IOC_ENABLE_CAP))
/* After every exit and before blocking: synthetic timers. */
HVL_HOOK_OPT(kvm_cpu_has_pending_timer, HV_MSR_SYNTIMER_AVAILABLE,
	     HVL_FILTER_STIMER)
/* Every MSR the vendor module leaves to KVM's common code. */
HVL_HOOK_DIRECT(kvm_get_msr_common,
		HVL_FILTER_MSR_DIRECT(hvl_glue_kvm_get_msr_common))
HVL_HOOK_DIRECT(kvm_set_msr_common,
		HVL_FILTER_MSR_DIRECT(hvl_glue_kvm_set_msr_common))
/*
 * Every WRMSR exit on VMX and SVM: the exits to the VMM that a write asks
 * for (RESET; without it also no crash MSRs and no debugger).
 */
HVL_HOOK_OPT(kvm_emulate_wrmsr, HV_MSR_RESET_AVAILABLE, HVL_FILTER_WRMSR_EXIT)
HVL_HOOK(kvm_emulate_hypercall,
	 HVL_FILTER_HCALL_DIRECT(hvl_glue_kvm_emulate_hypercall))
/* Every interrupt KVM injects without APICv: auto-EOI SINTs. */
HVL_HOOK_OPT(kvm_apic_ack_interrupt, HV_MSR_SYNIC_AVAILABLE, HVL_FILTER_AEOI)
HVL_WATCH(kvm_inject_pending_timer_irqs, HV_MSR_SYNTIMER_AVAILABLE,
	  HVL_FILTER_STIMER)
HVL_HOOK(kvm_vm_ioctl_check_extension, HVL_FILTER_CAP)
/* Every routing entry of KVM_SET_GSI_ROUTING: KVM_IRQ_ROUTING_HV_SINT. */
HVL_HOOK_OPT(kvm_set_routing_entry, HV_MSR_SYNIC_AVAILABLE, HVL_FILTER_HV_SINT)
/* Every VM ioctl KVM's generic code does not know: KVM_HYPERV_EVENTFD. */
HVL_HOOK_OPT(kvm_arch_vm_ioctl, HV_MSR_SYNIC_AVAILABLE,
	     HVL_FILTER_IOCTL(HVL_IOC_HYPERV_EVENTFD, HVL_IOC_HYPERV_EVENTFD))
HVL_HOOK(kvm_dev_ioctl,
	 HVL_FILTER_IOCTL(HVL_IOC_GET_SUPPORTED_HV_CPUID,
			  HVL_IOC_GET_MSR_INDEX_LIST))
/*
 * Static in x86.c, but with three callers. (kvm_guest_time_update() has
 * one, and compilers inline it where KASAN does not bloat it.)
 */
HVL_SEE(kvm_end_pvclock_update, HV_MSR_REFERENCE_TSC_AVAILABLE)
/* After KVM_SET_GSI_ROUTING commits a table (empty in KVM without Hyper-V). */
HVL_SEE(kvm_arch_irq_routing_update, HV_MSR_SYNIC_AVAILABLE)
HVL_SEE(kvm_arch_vcpu_destroy, 0)
HVL_SEE(kvm_arch_free_vm, 0)

#undef HVL_HOOK
#undef HVL_HOOK_DIRECT
#undef HVL_HOOK_OPT
#undef HVL_SEE
#undef HVL_WATCH
