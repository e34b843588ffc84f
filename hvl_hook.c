// SPDX-License-Identifier: GPL-2.0
/*
 * The KVM glue: ftrace hooks on KVM's entry points. A hook either observes
 * (lifecycle) or redirects a call it answers completely to a replacement
 * with the same prototype; every other call runs KVM's code untouched.
 * Calls the module makes into KVM itself are never redirected.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/kallsyms.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
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

/* Replacements: each runs one module entry point, then leaves. */
static bool hvl_glue_valid_msr(struct kvm_vcpu *vcpu, u32 msr)
{
	/* An offered Hyper-V MSR: KVM then calls the two below for it. */
	hvl_hook_leave();
	return true;
}

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
 * Deciders run in the ftrace callback and see the hooked function's first
 * two arguments: no sleeping, no user memory.
 */
static bool hvl_want_msr_index(unsigned long vcpu, unsigned long index)
{
	return hvl_msr_offered((struct kvm_vcpu *)vcpu, index);
}

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
	/* Where ftrace calls us from for this function, learned on first call. */
	unsigned long ip;
};

/* Hottest first: hvl_hook_find() looks in this order. */
static struct hvl_hook hvl_hooks[] = {
	/* Every vCPU ioctl, KVM_RUN included. */
	{ "kvm_vcpu_ioctl", hvl_want_vcpu_ioctl, hvl_glue_vcpu_ioctl },
	{ "kvm_emulate_hypercall", hvl_want_hypercall, hvl_glue_hypercall },
	/*
	 * KVM asks its PMU code about an MSR only when its own switch has no
	 * case for it: hook there, and the MSRs KVM handles pay nothing.
	 */
	{ "kvm_pmu_is_valid_msr", hvl_want_msr_index, hvl_glue_valid_msr },
	{ "kvm_pmu_get_msr", hvl_want_msr, hvl_glue_get_msr },
	{ "kvm_pmu_set_msr", hvl_want_msr, hvl_glue_set_msr },
	/*
	 * Static in x86.c, but with three callers. (kvm_guest_time_update()
	 * has one, and compilers inline it where KASAN does not bloat it.)
	 */
	{ "kvm_end_pvclock_update", .see = hvl_see_clock_update,
	  .feature = HVL_FEAT_REFERENCE_TSC },
	{ "kvm_vm_ioctl_check_extension", hvl_want_check_extension,
	  hvl_glue_check_extension },
	{ "kvm_dev_ioctl", hvl_want_dev_ioctl, hvl_glue_dev_ioctl },
	{ "kvm_arch_vcpu_destroy", .see = hvl_see_vcpu_destroy },
	{ "kvm_arch_free_vm", .see = hvl_see_free_vm },
};

/*
 * One ftrace_ops for every hook: loading and unloading then patch KVM's
 * text once each, not once per function, and all hooks appear together.
 */
static struct ftrace_ops hvl_hook_ops;

/* The hook for a traced function's ip; named by kallsyms on first use. */
static struct hvl_hook *hvl_hook_find(unsigned long ip)
{
	char sym[KSYM_SYMBOL_LEN];
	size_t n;
	int i;

	for (i = 0; i < ARRAY_SIZE(hvl_hooks); i++)
		if (READ_ONCE(hvl_hooks[i].ip) == ip)
			return &hvl_hooks[i];
	sprint_symbol(sym, ip);
	for (i = 0; i < ARRAY_SIZE(hvl_hooks); i++) {
		n = strlen(hvl_hooks[i].name);
		if (!strncmp(sym, hvl_hooks[i].name, n) && sym[n] == '+') {
			WRITE_ONCE(hvl_hooks[i].ip, ip);
			return &hvl_hooks[i];
		}
	}
	return NULL;
}

static void notrace hvl_hook_thunk(unsigned long ip, unsigned long parent_ip,
				   struct ftrace_ops *op,
				   struct ftrace_regs *fregs)
{
	unsigned long arg0 = ftrace_regs_get_argument(fregs, 0);
	unsigned long arg1 = ftrace_regs_get_argument(fregs, 1);
	struct hvl_hook *hook;
	int bit;

	/* Also disables preemption: deciders may use RCU and must not sleep. */
	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	/* Our own calls into KVM (parent_ip in this module) reach KVM's code. */
	hook = hvl_hook_find(ip);
	if (!hook) {
		/* Not one of ours; let it run. */
	} else if (hook->see) {
		hook->see(arg0);
	} else if (hook->want(arg0, arg1) &&
		   !within_module(parent_ip, THIS_MODULE)) {
		atomic_inc(&hvl_hook_inflight);
		ftrace_regs_set_instruction_pointer(fregs,
						    (unsigned long)hook->target);
	}
	ftrace_test_recursion_unlock(bit);
}

void hvl_hook_exit(void)
{
	unregister_ftrace_function(&hvl_hook_ops);
	ftrace_free_filter(&hvl_hook_ops);
	/*
	 * No new call is redirected now; wait for the ones inside a
	 * replacement, then for every task to leave our text for good.
	 */
	while (atomic_read(&hvl_hook_inflight))
		msleep(20);
	synchronize_rcu_tasks();
}

int hvl_hook_init(void)
{
	struct hvl_hook *hook;
	int i, r;

	hvl_hook_ops.func = hvl_hook_thunk;
	/*
	 * No SAVE_REGS: the arguments and the redirect need no full pt_regs.
	 * RECURSION: the thunk guards itself, ftrace need not wrap it.
	 */
	hvl_hook_ops.flags = FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_RECURSION;
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
	r = register_ftrace_function(&hvl_hook_ops);
	if (r) {
		pr_err("cannot register the hooks (%d)\n", r);
		goto free_filter;
	}
	return 0;

free_filter:
	ftrace_free_filter(&hvl_hook_ops);
	return r;
}
