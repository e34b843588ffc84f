// SPDX-License-Identifier: GPL-2.0
/*
 * The KVM glue: ftrace hooks on KVM's entry points. A hook either observes
 * (lifecycle) or redirects a call it answers completely to a replacement
 * with the same prototype; every other call runs KVM's code untouched.
 * Calls the module forwards to KVM (hvl_hook_forward) are never redirected.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/kallsyms.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <asm/ibt.h>
#include <asm/linkage.h>
#include <asm/nospec-branch.h>
#include "hvl.h"

/* Replacements entered but not yet returned; rmmod waits for zero. */
static atomic_t hvl_hook_inflight = ATOMIC_INIT(0);

static void hvl_hook_leave(void)
{
	atomic_dec(&hvl_hook_inflight);
}

/* Deferred work that will run module code counts as in flight too. */
void hvl_hook_hold(void)
{
	atomic_inc(&hvl_hook_inflight);
}

void hvl_hook_release(void)
{
	atomic_dec(&hvl_hook_inflight);
}

/*
 * Tasks inside hvl_hook_forward(). The hooks cannot tell a forwarded call
 * by its caller's address: a graph tracer or a kretprobe on the same
 * function replaces that return address before our trampoline runs.
 */
struct hvl_hook_fwd {
	struct list_head node;
	struct task_struct *task;
};

static LIST_HEAD(hvl_hook_fwds);
static DEFINE_SPINLOCK(hvl_hook_fwd_lock);

/* Hand an ioctl we do not answer to KVM's own handler, past our hook. */
long hvl_hook_forward(struct file *filp, unsigned int ioctl,
		      unsigned long arg)
{
	struct hvl_hook_fwd fwd = { .task = current };
	long r;

	spin_lock(&hvl_hook_fwd_lock);
	list_add(&fwd.node, &hvl_hook_fwds);
	spin_unlock(&hvl_hook_fwd_lock);
	r = filp->f_op->unlocked_ioctl(filp, ioctl, arg);
	spin_lock(&hvl_hook_fwd_lock);
	list_del(&fwd.node);
	spin_unlock(&hvl_hook_fwd_lock);
	return r;
}

static bool hvl_hook_forwarded(void)
{
	struct hvl_hook_fwd *fwd;
	bool found = false;

	if (list_empty_careful(&hvl_hook_fwds))
		return false;
	spin_lock(&hvl_hook_fwd_lock);
	list_for_each_entry(fwd, &hvl_hook_fwds, node)
		if (fwd->task == current)
			found = true;
	spin_unlock(&hvl_hook_fwd_lock);
	return found;
}

/* Replacements: each runs one module entry point, then leaves. */
static int hvl_glue_set_msr(struct kvm_vcpu *vcpu, struct msr_data *msr)
{
	int r = hvl_msr_set(vcpu, msr);

	hvl_hook_leave();
	return r;
}

static int hvl_glue_get_msr(struct kvm_vcpu *vcpu, struct msr_data *msr)
{
	int r = hvl_msr_get(vcpu, msr);

	hvl_hook_leave();
	return r;
}

static int hvl_glue_hypercall(struct kvm_vcpu *vcpu)
{
	int r = hvl_hypercall_handle(vcpu);

	hvl_hook_leave();
	return r;
}

static int hvl_glue_check_extension(struct kvm *kvm, long ext)
{
	int r = hvl_cpuid_check_extension(kvm, ext);

	hvl_hook_leave();
	return r;
}

static long hvl_glue_dev_ioctl(struct file *filp, unsigned int ioctl,
			       unsigned long arg)
{
	long r;

	if (ioctl == KVM_GET_SUPPORTED_HV_CPUID)
		r = hvl_cpuid_get_supported(NULL, (void __user *)arg);
	else
		r = hvl_msr_get_index_list(filp, ioctl, arg);
	hvl_hook_leave();
	return r;
}

static long hvl_glue_vcpu_ioctl(struct file *filp, unsigned int ioctl,
				unsigned long arg)
{
	struct kvm_vcpu *vcpu = filp->private_data;
	long r;

	/* The checks kvm_vcpu_ioctl() makes before any vCPU ioctl. */
	if (vcpu->kvm->mm != current->mm || vcpu->kvm->vm_dead)
		r = -EIO;
	else if (ioctl == KVM_GET_SUPPORTED_HV_CPUID)
		r = hvl_cpuid_get_supported(vcpu, (void __user *)arg);
	else
		r = hvl_cpuid_enable_cap(filp, arg);
	hvl_hook_leave();
	return r;
}

/*
 * Deciders see the hooked function's first two arguments and run before it,
 * preemptible: no sleeping, no user memory.
 */
static bool hvl_want_msr(unsigned long vcpu, unsigned long msr)
{
	return hvl_msr_offered((struct kvm_vcpu *)vcpu,
			       ((struct msr_data *)msr)->index);
}

static bool hvl_want_hypercall(unsigned long vcpu, unsigned long unused)
{
	return hvl_hypercall_owned((struct kvm_vcpu *)vcpu);
}

static bool hvl_want_check_extension(unsigned long kvm, unsigned long ext)
{
	return hvl_cpuid_has_cap(ext);
}

static bool hvl_want_dev_ioctl(unsigned long filp, unsigned long ioctl)
{
	return (unsigned int)ioctl == KVM_GET_SUPPORTED_HV_CPUID ||
	       (unsigned int)ioctl == KVM_GET_MSR_INDEX_LIST;
}

static bool hvl_want_vcpu_ioctl(unsigned long filp, unsigned long ioctl)
{
	return (unsigned int)ioctl == KVM_GET_SUPPORTED_HV_CPUID ||
	       (unsigned int)ioctl == KVM_ENABLE_CAP;
}

static void hvl_see_vcpu_destroy(unsigned long vcpu)
{
	hvl_state_vcpu_free((struct kvm_vcpu *)vcpu);
}

static void hvl_see_free_vm(unsigned long kvm)
{
	hvl_state_vm_free((struct kvm *)kvm);
}

static void hvl_see_clock_update(unsigned long kvm)
{
	hvl_reftime_clock_update((struct kvm *)kvm);
}

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

/* The hooks the trampoline filters itself, by their place below. */
#define HVL_HOOK_VCPU_IOCTL	0
#define HVL_HOOK_HYPERCALL	1
#define HVL_HOOK_GET_MSR	2
#define HVL_HOOK_SET_MSR	3
#define HVL_HOOK_CHECK_EXT	4
#define HVL_HOOK_DEV_IOCTL	5

/* Hottest first: the trampoline and hvl_hook_find() look in this order. */
static const struct hvl_hook hvl_hooks[] = {
	/* Every vCPU ioctl, KVM_RUN included. */
	[HVL_HOOK_VCPU_IOCTL] = { "kvm_vcpu_ioctl", hvl_want_vcpu_ioctl,
				  hvl_glue_vcpu_ioctl },
	[HVL_HOOK_HYPERCALL] = { "kvm_emulate_hypercall", hvl_want_hypercall,
				 hvl_glue_hypercall },
	/* Every MSR the vendor module leaves to KVM's common code. */
	[HVL_HOOK_GET_MSR] = { "kvm_get_msr_common", hvl_want_msr,
			       hvl_glue_get_msr },
	[HVL_HOOK_SET_MSR] = { "kvm_set_msr_common", hvl_want_msr,
			       hvl_glue_set_msr },
	[HVL_HOOK_CHECK_EXT] = { "kvm_vm_ioctl_check_extension",
				 hvl_want_check_extension,
				 hvl_glue_check_extension },
	[HVL_HOOK_DEV_IOCTL] = { "kvm_dev_ioctl", hvl_want_dev_ioctl,
				 hvl_glue_dev_ioctl },
	/*
	 * Static in x86.c, but with three callers. (kvm_guest_time_update()
	 * has one, and compilers inline it where KASAN does not bloat it.)
	 */
	{ "kvm_end_pvclock_update", .see = hvl_see_clock_update,
	  .feature = HVL_FEAT_REFERENCE_TSC },
	{ "kvm_arch_vcpu_destroy", .see = hvl_see_vcpu_destroy },
	{ "kvm_arch_free_vm", .see = hvl_see_free_vm },
};

/*
 * Where the trampoline returns to in each hooked function: it names the
 * function, and is learned (by kallsyms) on the function's first call.
 */
static unsigned long hvl_hook_ret[ARRAY_SIZE(hvl_hooks)] __used;

static const struct hvl_hook *hvl_hook_find(unsigned long ret)
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
 * hooked function, or 0 to run KVM's code.
 */
static unsigned long __used hvl_hook_decide(unsigned long arg0,
					    unsigned long arg1,
					    unsigned long ret)
{
	const struct hvl_hook *hook = hvl_hook_find(ret);

	if (!hook)
		return 0;
	if (hook->see) {
		hook->see(arg0);
		return 0;
	}
	if (!hook->want(arg0, arg1) || hvl_hook_forwarded())
		return 0;
	atomic_inc(&hvl_hook_inflight);
	return (unsigned long)hook->target;
}

/*
 * Every hooked function starts with an ftrace direct call to hvl_hook_tramp
 * (ftrace_regs_caller jumps there instead when another ftrace user shares
 * the function, with the stack and argument registers as they were).
 * For the hot hooks, a filter of a few instructions sends KVM's common
 * calls straight back without saving a register: KVM_RUN and every ioctl
 * we do not answer, a hypercall of a vCPU with KVM's leaves at 0x40000000
 * (it has no Hyper-V leaves), an MSR outside the Hyper-V range we own, a
 * capability we do not offer. Every other call saves the argument
 * registers and asks hvl_hook_decide(); the trampoline enters a
 * replacement by returning into it, and the replacement returns to the
 * hooked function's caller.
 *
 * The filters' constants are UAPI or fixed layouts, checked below. r11 is
 * free on entry to any C function; ftrace's own trampolines clobber it too.
 */
#define HVL_IOC_ENABLE_CAP		0x4068aea3
#define HVL_IOC_GET_MSR_INDEX_LIST	0xc004ae02
#define HVL_IOC_GET_SUPPORTED_HV_CPUID	0xc008aec1
#define HVL_MSR_DATA_INDEX		4

static_assert(KVM_ENABLE_CAP == HVL_IOC_ENABLE_CAP);
static_assert(KVM_GET_MSR_INDEX_LIST == HVL_IOC_GET_MSR_INDEX_LIST);
static_assert(KVM_GET_SUPPORTED_HV_CPUID == HVL_IOC_GET_SUPPORTED_HV_CPUID);
static_assert(offsetof(struct msr_data, index) == HVL_MSR_DATA_INDEX);

/* Where KVM keeps the base of its own CPUID leaves in a vCPU. */
static const u32 hvl_tramp_kvm_cpuid_base __used =
	HVL_COMPAT_KVM_CPUID_BASE_OFFSET;

/* The capabilities we answer, as a bitmap; the decider sees larger ones. */
#define HVL_CAP_BITS	256
static DECLARE_BITMAP(hvl_tramp_caps, HVL_CAP_BITS) __used;

/* Run filter when the return address in r11 is that of hook i. */
#define HVL_TRAMP_CASE(i, next, filter)					\
	"cmpq hvl_hook_ret+8*" __stringify(i) "(%rip), %r11\n\t"	\
	"jne " #next "f\n\t"						\
	filter								\
	#next ":\n\t"

/* A filter ends in RET (KVM's code) or jumps to the decider at 1. */
#define HVL_FILTER_IOCTL(a, b)						\
	"cmpl $" __stringify(a) ", %esi\n\t"				\
	"je 1f\n\t"							\
	"cmpl $" __stringify(b) ", %esi\n\t"				\
	"je 1f\n\t"							\
	ASM_RET

#define HVL_FILTER_KVM_GUEST						\
	"movl hvl_tramp_kvm_cpuid_base(%rip), %r11d\n\t"		\
	"cmpl $" __stringify(KVM_CPUID_SIGNATURE) ", (%rdi,%r11)\n\t"	\
	"jne 1f\n\t"							\
	ASM_RET

#define HVL_FILTER_MSR							\
	"movl " __stringify(HVL_MSR_DATA_INDEX) "(%rsi), %r11d\n\t"	\
	"subl $" __stringify(HVL_MSR_OWNED_FIRST) ", %r11d\n\t"	\
	"cmpl $" __stringify(HVL_MSR_OWNED_LAST - HVL_MSR_OWNED_FIRST) \
	", %r11d\n\t"							\
	"jbe 1f\n\t"							\
	ASM_RET

#define HVL_FILTER_CAP							\
	"cmpq $" __stringify(HVL_CAP_BITS) ", %rsi\n\t"			\
	"jae 1f\n\t"							\
	"btq %rsi, hvl_tramp_caps(%rip)\n\t"				\
	"jc 1f\n\t"							\
	ASM_RET

asm(".pushsection .text, \"ax\", @progbits\n"
	".globl hvl_hook_tramp\n"
	".type hvl_hook_tramp, @function\n"
	"hvl_hook_tramp:\n\t"
	ASM_ENDBR
	CALL_DEPTH_ACCOUNT
	"movq (%rsp), %r11\n\t"
	HVL_TRAMP_CASE(HVL_HOOK_VCPU_IOCTL, 10,
		       HVL_FILTER_IOCTL(HVL_IOC_GET_SUPPORTED_HV_CPUID,
					HVL_IOC_ENABLE_CAP))
	HVL_TRAMP_CASE(HVL_HOOK_HYPERCALL, 11, HVL_FILTER_KVM_GUEST)
	HVL_TRAMP_CASE(HVL_HOOK_GET_MSR, 12, HVL_FILTER_MSR)
	HVL_TRAMP_CASE(HVL_HOOK_SET_MSR, 13, HVL_FILTER_MSR)
	HVL_TRAMP_CASE(HVL_HOOK_CHECK_EXT, 14, HVL_FILTER_CAP)
	HVL_TRAMP_CASE(HVL_HOOK_DEV_IOCTL, 1,
		       HVL_FILTER_IOCTL(HVL_IOC_GET_SUPPORTED_HV_CPUID,
					HVL_IOC_GET_MSR_INDEX_LIST))
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
	while (atomic_read(&hvl_hook_inflight))
		msleep(20);
	synchronize_rcu_tasks();
}

int hvl_hook_init(void)
{
	const struct hvl_hook *hook;
	int i, r;

	for (i = 0; i < ARRAY_SIZE(hvl_hooks); i++) {
		hook = &hvl_hooks[i];
		r = ftrace_set_filter(&hvl_hook_ops, (unsigned char *)hook->name,
				      strlen(hook->name), 0);
		if (r && hook->feature) {
			pr_warn("cannot hook %s (%d): not offering feature 0x%x\n",
				hook->name, r, hook->feature);
			hvl_cpuid_features &= ~hook->feature;
		} else if (r) {
			pr_err("cannot hook %s (%d): is kvm loaded, with CONFIG_DYNAMIC_FTRACE?\n",
			       hook->name, r);
			goto free_filter;
		}
	}
	/* After the loop: a hook missing there may take a capability along. */
	for (i = 0; i < HVL_CAP_BITS; i++)
		if (hvl_cpuid_has_cap(i))
			__set_bit(i, hvl_tramp_caps);

	r = register_ftrace_direct(&hvl_hook_ops, (unsigned long)hvl_hook_tramp);
	if (r) {
		if (r == -EBUSY)
			pr_err("cannot hook KVM: a BPF trampoline, livepatch or kprobe already modifies a function we hook\n");
		else
			pr_err("cannot register the hooks (%d)\n", r);
		goto free_filter;
	}
	return 0;

free_filter:
	ftrace_free_filter(&hvl_hook_ops);
	return r;
}
