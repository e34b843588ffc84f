// SPDX-License-Identifier: GPL-2.0
/*
 * The hook mechanism: ftrace direct calls on the KVM functions listed in
 * include/hvl_hooks.h, into one trampoline. A hook either observes
 * (lifecycle) or redirects a call the glue (hvl_glue.c) answers completely
 * to a replacement with the same prototype; every other call runs KVM's
 * code untouched. Calls the glue forwards to KVM are never redirected.
 */
#include <linux/ftrace.h>
#include <linux/kallsyms.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/tracepoint.h>
#include <asm/ibt.h>
#include <asm/linkage.h>
#include <asm/nospec-branch.h>
#include "hvl.h"

/*
 * The filters the trampoline runs for KVM's own calls: each ends in RET
 * (KVM's code runs), jumps to 1f, which takes the call to
 * hvl_hook_decide() (that asks the hook's want()), or, for a _DIRECT
 * filter, enters the replacement itself. Their constants are UAPI or
 * fixed layouts, checked below. r10 and r11 are free on entry to any C
 * function (ftrace's own trampolines clobber them too): the filters use
 * them, and the trampoline carries the hook's index in r10.
 */
#define HVL_IOC_ENABLE_CAP		0x4068aea3
#define HVL_IOC_GET_MSR_INDEX_LIST	0xc004ae02
#define HVL_IOC_GET_SUPPORTED_HV_CPUID	0xc008aec1
#define HVL_IOC_HYPERV_EVENTFD		0x4018aebd
#define HVL_MSR_DATA_INDEX		4
#define HVL_ROUTE_TYPE			4

static_assert(KVM_ENABLE_CAP == HVL_IOC_ENABLE_CAP);
static_assert(KVM_GET_MSR_INDEX_LIST == HVL_IOC_GET_MSR_INDEX_LIST);
static_assert(KVM_GET_SUPPORTED_HV_CPUID == HVL_IOC_GET_SUPPORTED_HV_CPUID);
static_assert(KVM_HYPERV_EVENTFD == HVL_IOC_HYPERV_EVENTFD);
static_assert(offsetof(struct msr_data, index) == HVL_MSR_DATA_INDEX);
static_assert(offsetof(struct kvm_irq_routing_entry, type) == HVL_ROUTE_TYPE);

/* Where KVM keeps the guest's RCX, the MSR of a WRMSR exit. */
static const u32 hvl_tramp_vcpu_rcx __used = HVL_COMPAT_VCPU_RCX_OFFSET;

/* Where a vCPU points to its VM, and the VM keeps the VMM's Xen MSR. */
static const u32 hvl_tramp_vcpu_kvm __used = offsetof(struct kvm_vcpu, kvm);
static const u32 hvl_tramp_kvm_xen_msr __used = HVL_COMPAT_KVM_XEN_MSR_OFFSET;
static const u32 hvl_tramp_kvm_xen_flags __used = HVL_COMPAT_KVM_XEN_FLAGS_OFFSET;

/* Where KVM keeps the base of its own CPUID leaves in a vCPU. */
static const u32 hvl_tramp_kvm_cpuid_base __used =
	HVL_COMPAT_KVM_CPUID_BASE_OFFSET;

/* The capabilities we answer, as a bitmap; the decider sees larger ones. */
#define HVL_CAP_BITS	256
static DECLARE_BITMAP(hvl_tramp_caps, HVL_CAP_BITS) __used;

/* An ioctl other than a and b: KVM's (KVM_RUN among them). */
#define HVL_FILTER_IOCTL(a, b)						\
	"cmpl $" __stringify(a) ", %esi\n\t"				\
	"je 1f\n\t"						\
	"cmpl $" __stringify(b) ", %esi\n\t"				\
	"je 1f\n\t"						\
	ASM_RET

/* The direct filters' parts: the vCPU's struct kvm into r10 ... */
#define HVL_TRAMP_VCPU_KVM						\
	"movl hvl_tramp_vcpu_kvm(%rip), %r11d\n\t"			\
	"movq (%rdi,%r11), %r10\n\t"

/*
 * ... and entering target instead of the hooked function: counted in
 * flight as hvl_glue_enter() counts it, then returned into like the
 * decider's answer.
 */
#define HVL_TRAMP_ENTER(target)						\
	"lock incl hvl_glue_inflight(%rip)\n\t"				\
	"leaq " #target "(%rip), %r11\n\t"				\
	"movq %r11, (%rsp)\n"

/*
 * A hypercall of a vCPU with KVM's leaves at 0x40000000 (no Hyper-V
 * leaves), or of a VM whose VMM intercepts Xen hypercalls, is KVM's. Any
 * other enters target from here, without the decider (target decides:
 * Hyper-V's call or KVM's, which it forwards), unless some task is
 * forwarding a call: the decider then tells whether this is it.
 */
#define HVL_FILTER_HCALL_DIRECT(target)					\
	"movl hvl_tramp_kvm_cpuid_base(%rip), %r11d\n\t"		\
	"cmpl $" __stringify(KVM_CPUID_SIGNATURE) ", (%rdi,%r11)\n\t"	\
	"je 2f\n\t"							\
	HVL_TRAMP_VCPU_KVM						\
	"movl hvl_tramp_kvm_xen_flags(%rip), %r11d\n\t"		\
	"testl $" __stringify(KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL)	\
	", (%r10,%r11)\n\t"						\
	"jnz 2f\n\t"							\
	"leaq hvl_glue_fwds(%rip), %r11\n\t"				\
	"cmpq %r11, hvl_glue_fwds(%rip)\n\t"				\
	"jne 1f\n\t"						\
	HVL_TRAMP_ENTER(target)						\
	"2:\n\t"							\
	ASM_RET

/*
 * An MSR access the replacement answers: in the owned range, offered, and
 * not the VMM's Xen hypercall MSR (as hvl_msr_offered() decides). Enter
 * target from here, without the decider: that is every Hyper-V MSR exit,
 * and nothing forwards these calls to KVM past the hook. Anything else
 * goes back to KVM's code.
 */
#define HVL_FILTER_MSR_DIRECT(target)					\
	"movl " __stringify(HVL_MSR_DATA_INDEX) "(%rsi), %r11d\n\t"	\
	"subl $" __stringify(HVL_MSR_OWNED_FIRST) ", %r11d\n\t"	\
	"cmpl $" __stringify(HVL_MSR_OWNED_LAST - HVL_MSR_OWNED_FIRST) \
	", %r11d\n\t"							\
	"ja 2f\n\t"							\
	"btl %r11d, hvl_msr_offered_map(%rip)\n\t"			\
	"jnc 2f\n\t"							\
	HVL_TRAMP_VCPU_KVM						\
	"movl hvl_tramp_kvm_xen_msr(%rip), %r11d\n\t"			\
	"movl (%r10,%r11), %r11d\n\t"					\
	"cmpl " __stringify(HVL_MSR_DATA_INDEX) "(%rsi), %r11d\n\t"	\
	"je 2f\n\t"							\
	HVL_TRAMP_ENTER(target)						\
	"2:\n\t"							\
	ASM_RET

/* A WRMSR of none of the MSRs whose write may end KVM_RUN for the VMM. */
#define HVL_FILTER_WRMSR_EXIT						\
	"movl hvl_tramp_vcpu_rcx(%rip), %r11d\n\t"			\
	"movl (%rdi,%r11), %r11d\n\t"					\
	"cmpl $" __stringify(HV_X64_MSR_RESET) ", %r11d\n\t"		\
	"je 1f\n\t"						\
	"cmpl $" __stringify(HV_X64_MSR_CRASH_CTL) ", %r11d\n\t"	\
	"je 1f\n\t"						\
	"subl $" __stringify(HV_X64_MSR_SCONTROL) ", %r11d\n\t"	\
	"cmpl $" __stringify(HV_X64_MSR_SIMP - HV_X64_MSR_SCONTROL)	\
	", %r11d\n\t"							\
	"jbe 1f\n\t"						\
	"subl $" __stringify(HV_X64_MSR_SYNDBG_CONTROL -			\
			     HV_X64_MSR_SCONTROL) ", %r11d\n\t"		\
	"cmpl $" __stringify(HV_X64_MSR_SYNDBG_PENDING_BUFFER -		\
			     HV_X64_MSR_SYNDBG_CONTROL) ", %r11d\n\t"	\
	"jbe 1f\n\t"						\
	ASM_RET

/* A routing entry of another type than KVM_IRQ_ROUTING_HV_SINT. */
#define HVL_FILTER_HV_SINT						\
	"cmpl $" __stringify(KVM_IRQ_ROUTING_HV_SINT) ", "		\
	__stringify(HVL_ROUTE_TYPE) "(%rdx)\n\t"			\
	"je 1f\n\t"						\
	ASM_RET

/* No vCPU anywhere has an auto-EOI SINT. */
#define HVL_FILTER_AEOI							\
	"cmpl $0, hvl_synic_aeoi_users(%rip)\n\t"			\
	"jne 1f\n\t"						\
	ASM_RET

/* No synthetic timer anywhere waits to be looked at. */
#define HVL_FILTER_STIMER						\
	"cmpl $0, hvl_stimer_pending_timers(%rip)\n\t"				\
	"jne 1f\n\t"						\
	ASM_RET

/* A capability we do not offer. */
#define HVL_FILTER_CAP							\
	"cmpq $" __stringify(HVL_CAP_BITS) ", %rsi\n\t"			\
	"jae 1f\n\t"						\
	"btq %rsi, hvl_tramp_caps(%rip)\n\t"				\
	"jc 1f\n\t"						\
	ASM_RET

struct hvl_hook {
	const char *name;
	/* Redirect when want() says so ... */
	bool (*want)(unsigned long arg0, unsigned long arg1);
	void *target;
	/* ... or only watch the call. */
	void (*see)(unsigned long arg0);
	/* Without this hook, stop offering these features instead of failing. */
	u32 feature;
};

#define HVL_HOOK(func, ...)						\
	{ .name = #func, .want = hvl_glue_want_##func,			\
	  .target = hvl_glue_##func },
#define HVL_HOOK_DIRECT(func, ...)	HVL_HOOK(func)
#define HVL_HOOK_OPT(func, feat, ...)					\
	{ .name = #func, .want = hvl_glue_want_##func,			\
	  .target = hvl_glue_##func, .feature = feat },
#define HVL_SEE(func, feat)						\
	{ .name = #func, .see = hvl_glue_see_##func, .feature = feat },
#define HVL_WATCH(func, feat, ...)	HVL_SEE(func, feat)
static const struct hvl_hook hvl_hooks[] = {
#include "hvl_hooks.h"
};

/*
 * Where the trampoline returns to in each hooked function, in the order of
 * hvl_hooks[]: it names the function, and is learned (by kallsyms) on the
 * function's first call.
 */
static unsigned long hvl_hook_ret[ARRAY_SIZE(hvl_hooks)] __used;

/*
 * The hook a return address names, for a call the trampoline could not
 * place: the first call of each hooked function, which teaches it.
 */
static noinline const struct hvl_hook *hvl_hook_learn(unsigned long ret)
{
	char sym[KSYM_SYMBOL_LEN];
	size_t n;
	int i;

	for (i = 0; i < ARRAY_SIZE(hvl_hooks); i++)
		if (READ_ONCE(hvl_hook_ret[i]) == ret)
			return &hvl_hooks[i];
	sprint_symbol(sym, ret);
	for (i = 0; i < ARRAY_SIZE(hvl_hooks); i++) {
		n = strlen(hvl_hooks[i].name);
		if (!strncmp(sym, hvl_hooks[i].name, n) && sym[n] == '+') {
			WRITE_ONCE(hvl_hook_ret[i], ret);
			return &hvl_hooks[i];
		}
	}
	return NULL;
}

/*
 * The slow path of the trampoline: the replacement to enter instead of the
 * hooked function, or 0 to run KVM's code. The trampoline already found
 * the hook (idx in hvl_hooks[]) unless it has not seen its function yet.
 */
static unsigned long __used hvl_hook_decide(unsigned long arg0,
					    unsigned long arg1,
					    unsigned long ret,
					    unsigned long idx)
{
	const struct hvl_hook *hook;

	if (likely(idx < ARRAY_SIZE(hvl_hooks)))
		hook = &hvl_hooks[idx];
	else
		hook = hvl_hook_learn(ret);
	if (!hook)
		return 0;
	if (hook->see) {
		hook->see(arg0);
		return 0;
	}
	if (!hook->want(arg0, arg1) || hvl_glue_forwarded(hook->target))
		return 0;
	hvl_glue_enter();
	return (unsigned long)hook->target;
}

/*
 * Every hooked function starts with an ftrace direct call to hvl_hook_tramp
 * (ftrace_regs_caller jumps there instead when another ftrace user shares
 * the function, with the stack and argument registers as they were). For
 * each HOOK of the list, the return address picks its filter, which sends
 * KVM's common calls straight back without saving a register. Every other
 * call saves the argument registers and asks hvl_hook_decide(), with the
 * hook's index in r10 (-1 for a function not seen yet); the trampoline
 * enters a replacement by returning into it, and the replacement returns
 * to the hooked function's caller.
 */
#define HVL_HOOK(func, filter)						\
	"cmpq hvl_hook_ret+8*.Lhvl_i(%rip), %r11\n\t"		\
	"jne .Lhvl_next_" #func "\n\t"					\
	filter								\
	"1:\n\t"							\
	"movl $.Lhvl_i, %r10d\n\t"					\
	"jmp .Lhvl_decide\n\t"						\
	".Lhvl_next_" #func ":\n\t"					\
	".set .Lhvl_i, .Lhvl_i + 1\n\t"
/* A filter that enters the replacement itself never goes to 1f. */
#define HVL_HOOK_DIRECT(func, filter)					\
	"cmpq hvl_hook_ret+8*.Lhvl_i(%rip), %r11\n\t"		\
	"jne .Lhvl_next_" #func "\n\t"					\
	filter								\
	".Lhvl_next_" #func ":\n\t"					\
	".set .Lhvl_i, .Lhvl_i + 1\n\t"
/* The trampoline is the same for an optional hook; say so in the asm. */
#define HVL_HOOK_OPT(func, feat, ...)					\
	"# " #func " is optional: " #feat "\n\t"			\
	HVL_HOOK(func, __VA_ARGS__)
#define HVL_SEE(func, ...)						\
	HVL_HOOK(func, "")
#define HVL_WATCH(func, feat, ...)					\
	"# " #func " is watched for " #feat "\n\t"			\
	HVL_HOOK(func, __VA_ARGS__)
/* .Lhvl_i counts the hooks in the list's order, as hvl_hooks[] does. */
#define HVL_TRAMP_FIRST		".set .Lhvl_i, 0\n\t"
#define HVL_TRAMP_DECIDE	"movq $-1, %r10\n.Lhvl_decide:\n\t"

asm(".pushsection .text, \"ax\", @progbits\n"
	".globl hvl_hook_tramp\n"
	".type hvl_hook_tramp, @function\n"
	"hvl_hook_tramp:\n\t"
	ASM_ENDBR
	CALL_DEPTH_ACCOUNT
	"movq (%rsp), %r11\n\t"
	HVL_TRAMP_FIRST
#include "hvl_hooks.h"
	HVL_TRAMP_DECIDE
	"pushq %rbp\n\t"
	"movq %rsp, %rbp\n\t"
	"pushq %rdi\n\t"
	"pushq %rsi\n\t"
	"pushq %rdx\n\t"
	"pushq %rcx\n\t"
	"pushq %r8\n\t"
	"pushq %r9\n\t"
	"pushq %rax\n\t"
	"movq 8(%rbp), %rdx\n\t"	/* the return address into it */
	"movq %r10, %rcx\n\t"		/* the hook's index */
	"call hvl_hook_decide\n\t"
	"movq %rax, %r11\n\t"
	"popq %rax\n\t"
	"popq %r9\n\t"
	"popq %r8\n\t"
	"popq %rcx\n\t"
	"popq %rdx\n\t"
	"popq %rsi\n\t"
	"popq %rdi\n\t"
	"popq %rbp\n\t"
	"testq %r11, %r11\n\t"
	"jz 2f\n\t"
	"movq %r11, (%rsp)\n"	/* return into the replacement */
	"2:\n\t"
	ASM_RET
	".size hvl_hook_tramp, .-hvl_hook_tramp\n"
	".popsection\n");

/*
 * One ftrace_ops for every hook: loading and unloading then patch KVM's
 * text once each, not once per function, and all hooks appear together.
 */
static struct ftrace_ops hvl_hook_ops;

void hvl_hook_exit(void)
{
	int r = unregister_ftrace_direct(&hvl_hook_ops,
					 (unsigned long)hvl_hook_tramp, true);

	/* Only a dead ftrace fails here; KVM may then still call into us. */
	if (r)
		pr_err("cannot unhook KVM (%d): expect a crash in KVM\n", r);
	/*
	 * Unregistering waited (synchronize_rcu_tasks()) for every task to
	 * leave the trampoline, so a call it redirected is counted in flight
	 * by now. Wait for those to leave the replacements, then for every
	 * task to leave our text for good.
	 */
	hvl_glue_drain();
	synchronize_rcu_tasks();
}

/*
 * Point ftrace at every function of the list. Report in *unhooked the
 * features whose hook is missing in this kernel, for the module's init to
 * stop offering them; fail only when a required hook is missing.
 */
int hvl_hook_init(u32 *unhooked)
{
	const struct hvl_hook *hook;
	int i, r;

	*unhooked = 0;
	for (i = 0; i < ARRAY_SIZE(hvl_hooks); i++) {
		hook = &hvl_hooks[i];
		r = ftrace_set_filter(&hvl_hook_ops, (unsigned char *)hook->name,
				      strlen(hook->name), 0);
		if (r && hook->feature) {
			pr_warn("cannot hook %s (%d)\n", hook->name, r);
			*unhooked |= hook->feature;
		} else if (r) {
			pr_err("cannot hook %s (%d): is kvm loaded, with CONFIG_DYNAMIC_FTRACE?\n",
			       hook->name, r);
			ftrace_free_filter(&hvl_hook_ops);
			return r;
		}
	}
	return 0;
}

/*
 * Every EOI KVM's LAPIC handles: its kvm_eoi tracepoint, the one place
 * KVM without Hyper-V tells of an EOI (the SynIC's call in apic_set_eoi()
 * is compiled out). KVM is loaded before us; find the tracepoint among
 * its own.
 */
static struct tracepoint *hvl_hook_eoi_tp;

/* On every EOI of every VM: nothing more than a load without SynIC. */
static void hvl_hook_eoi_probe(void *data, struct kvm_lapic *apic, int vector)
{
	if (atomic_read(&hvl_synic_users))
		hvl_glue_see_kvm_eoi(apic, vector);
}

static int hvl_hook_tp_find(struct notifier_block *nb, unsigned long val,
			    void *data)
{
	struct tp_module *tp_mod = data;
	struct tracepoint *tp;
	unsigned int i;

	if (val != MODULE_STATE_COMING || strcmp(tp_mod->mod->name, "kvm"))
		return NOTIFY_OK;
	for (i = 0; i < tp_mod->mod->num_tracepoints; i++) {
		tp = tracepoint_ptr_deref(&tp_mod->mod->tracepoints_ptrs[i]);
		if (!strcmp(tp->name, "kvm_eoi"))
			hvl_hook_eoi_tp = tp;
	}
	return NOTIFY_OK;
}

/* 0, or the error that leaves the module without SynIC. */
int hvl_hook_eoi_init(void)
{
	struct notifier_block nb = { .notifier_call = hvl_hook_tp_find };
	int r;

	/* Registering calls us for every module with tracepoints now. */
	r = register_tracepoint_module_notifier(&nb);
	if (r)
		return r;
	unregister_tracepoint_module_notifier(&nb);
	if (!hvl_hook_eoi_tp) {
		pr_warn("cannot find KVM's kvm_eoi tracepoint\n");
		return -ENOENT;
	}
	r = tracepoint_probe_register(hvl_hook_eoi_tp, hvl_hook_eoi_probe, NULL);
	if (r) {
		pr_warn("cannot attach to KVM's kvm_eoi tracepoint (%d)\n", r);
		hvl_hook_eoi_tp = NULL;
	}
	return r;
}

void hvl_hook_eoi_exit(void)
{
	if (!hvl_hook_eoi_tp)
		return;
	tracepoint_probe_unregister(hvl_hook_eoi_tp, hvl_hook_eoi_probe, NULL);
	tracepoint_synchronize_unregister();
}

/* Start the hooks, once the module's init has settled what it offers. */
int hvl_hook_start(void)
{
	int i, r;

	for (i = 0; i < HVL_CAP_BITS; i++)
		if (hvl_cpuid_has_cap(i))
			__set_bit(i, hvl_tramp_caps);

	r = register_ftrace_direct(&hvl_hook_ops, (unsigned long)hvl_hook_tramp);
	if (r) {
		if (r == -EBUSY)
			pr_err("cannot hook KVM: a BPF trampoline, livepatch or kprobe already modifies a function we hook\n");
		else
			pr_err("cannot register the hooks (%d)\n", r);
		ftrace_free_filter(&hvl_hook_ops);
	}
	return r;
}
