// SPDX-License-Identifier: GPL-2.0
/*
 * The glue between KVM's entry points and the Hyper-V semantics: for each
 * hooked function of include/hvl_hooks.h, the decider (hvl_glue_want_*),
 * the replacement (hvl_glue_*) or the observer (hvl_glue_see_*). The replacements
 * frame KVM's ioctls (user memory, argument parsing, forwarding what the
 * module does not answer to KVM) and call into hv_*.c with plain values.
 */
#include <linux/delay.h>
#include <linux/kvm_host.h>
#include <linux/uaccess.h>
#include "hvl.h"
#include "hvl_trace.h"

/* Replacements entered but not yet returned; rmmod waits for zero. */
atomic_t hvl_glue_inflight = ATOMIC_INIT(0);

static void hvl_glue_leave(void)
{
	atomic_dec(&hvl_glue_inflight);
}

/* Wait for every task inside a replacement to leave it; sleeps. */
void hvl_glue_drain(void)
{
	while (atomic_read(&hvl_glue_inflight))
		msleep(20);
}

/*
 * Tasks inside hvl_glue_forward(). The hooks cannot tell a forwarded call
 * by its caller's address: a graph tracer or a kretprobe on the same
 * function replaces that return address before our trampoline runs.
 */
struct hvl_glue_fwd {
	struct list_head node;
	struct task_struct *task;
};

LIST_HEAD(hvl_glue_fwds);
static DEFINE_SPINLOCK(hvl_glue_fwd_lock);

/* Hand an ioctl we do not answer to KVM's own handler, past our hook. */
static long hvl_glue_forward(struct file *filp, unsigned int ioctl,
			     unsigned long arg)
{
	struct hvl_glue_fwd fwd = { .task = current };
	long r;

	spin_lock(&hvl_glue_fwd_lock);
	list_add(&fwd.node, &hvl_glue_fwds);
	spin_unlock(&hvl_glue_fwd_lock);
	r = filp->f_op->unlocked_ioctl(filp, ioctl, arg);
	spin_lock(&hvl_glue_fwd_lock);
	list_del(&fwd.node);
	spin_unlock(&hvl_glue_fwd_lock);
	return r;
}

/* hvl_glue_forwarded() once some task forwards an ioctl. */
bool hvl_glue_forwarded_slow(void)
{
	struct hvl_glue_fwd *fwd;
	bool found = false;

	spin_lock(&hvl_glue_fwd_lock);
	list_for_each_entry(fwd, &hvl_glue_fwds, node)
		if (fwd->task == current)
			found = true;
	spin_unlock(&hvl_glue_fwd_lock);
	return found;
}

/* KVM_GET_SUPPORTED_HV_CPUID on /dev/kvm (vcpu == NULL) or a vCPU fd. */
static long hvl_glue_get_supported_hv_cpuid(struct kvm_vcpu *vcpu,
					    void __user *argp)
{
	struct kvm_cpuid_entry2 ent[HVL_CPUID_NR_LEAVES];
	struct kvm_cpuid2 __user *ucpuid = argp;
	struct kvm_cpuid2 hdr;

	if (copy_from_user(&hdr, ucpuid, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nent < HVL_CPUID_NR_LEAVES) {
		/* Tell the caller how many entries to allocate. */
		hdr.nent = HVL_CPUID_NR_LEAVES;
		return copy_to_user(ucpuid, &hdr, sizeof(hdr)) ? -EFAULT : -E2BIG;
	}
	hdr.nent = hvl_cpuid_supported(vcpu, ent);
	if (copy_to_user(ucpuid->entries, ent, hdr.nent * sizeof(ent[0])) ||
	    copy_to_user(ucpuid, &hdr, sizeof(hdr)))
		return -EFAULT;
	return 0;
}

/*
 * KVM_ENABLE_CAP on a vCPU: answer KVM_CAP_HYPERV_ENFORCE_CPUID, hand every
 * other capability to KVM's own ioctl.
 */
static long hvl_glue_enable_cap(struct file *filp, unsigned long arg)
{
	struct kvm_vcpu *vcpu = filp->private_data;
	struct kvm_enable_cap cap;
	long r;

	if (copy_from_user(&cap, (void __user *)arg, sizeof(cap)))
		return -EFAULT;
	if (cap.cap != KVM_CAP_HYPERV_ENFORCE_CPUID)
		return hvl_glue_forward(filp, KVM_ENABLE_CAP, arg);
	if (cap.flags)
		return -EINVAL;
	/* What kvm_vcpu_ioctl() holds around KVM's own KVM_ENABLE_CAP. */
	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;
	r = hvl_cpuid_set_enforce(vcpu, cap.args[0]);
	mutex_unlock(&vcpu->mutex);
	return r;
}

/*
 * KVM_GET_MSR_INDEX_LIST: KVM's own list, then the offered synthetic MSRs,
 * so that a VMM saves and restores them. KVM's list is static and private:
 * ask KVM for its count first (nmsrs 0, which it answers with E2BIG and
 * the count), so that a list too short for both fails with E2BIG before
 * anything is written, as in-tree KVM does; then let KVM write its part.
 */
static long hvl_glue_get_msr_index_list(struct file *filp, unsigned int ioctl,
					unsigned long arg)
{
	struct kvm_msr_list __user *ulist = (void __user *)arg;
	u32 ours[HVL_MSR_LIST_MAX];
	u32 n_user, n_kvm, n_ours;
	long r;

	n_ours = hvl_msr_list(ours);
	if (get_user(n_user, &ulist->nmsrs) || put_user(0, &ulist->nmsrs))
		return -EFAULT;
	r = hvl_glue_forward(filp, ioctl, arg);
	if (r != -E2BIG)
		return r ?: -EIO;
	if (get_user(n_kvm, &ulist->nmsrs) ||
	    put_user(n_kvm + n_ours, &ulist->nmsrs))
		return -EFAULT;
	if (n_user < n_kvm + n_ours)
		return -E2BIG;
	if (put_user(n_kvm, &ulist->nmsrs))
		return -EFAULT;
	r = hvl_glue_forward(filp, ioctl, arg);
	if (r)
		return r;
	if (put_user(n_kvm + n_ours, &ulist->nmsrs) ||
	    copy_to_user(ulist->indices + n_kvm, ours, n_ours * sizeof(u32)))
		return -EFAULT;
	return 0;
}

/* Replacements: each runs one module entry point, then leaves. */
int hvl_glue_kvm_set_msr_common(struct kvm_vcpu *vcpu, struct msr_data *msr)
{
	int r = hvl_msr_set(vcpu, msr);

	/* Not for a guest that is no Hyper-V guest: KVM answers it. */
	if (r != HVL_COMPAT_MSR_UNSUPPORTED)
		trace_hvl_msr(vcpu->vcpu_id, msr->index, msr->data, true,
			      msr->host_initiated, r);
	hvl_glue_leave();
	return r;
}

int hvl_glue_kvm_get_msr_common(struct kvm_vcpu *vcpu, struct msr_data *msr)
{
	int r = hvl_msr_get(vcpu, msr);

	if (r != HVL_COMPAT_MSR_UNSUPPORTED)
		trace_hvl_msr(vcpu->vcpu_id, msr->index, msr->data, false,
			      msr->host_initiated, r);
	hvl_glue_leave();
	return r;
}

int hvl_glue_kvm_emulate_hypercall(struct kvm_vcpu *vcpu)
{
	int r = hvl_hypercall_handle(vcpu);

	hvl_glue_leave();
	return r;
}

int hvl_glue_kvm_vm_ioctl_check_extension(struct kvm *kvm, long ext)
{
	int r = hvl_cpuid_check_extension(kvm, ext);

	hvl_glue_leave();
	return r;
}

long hvl_glue_kvm_dev_ioctl(struct file *filp, unsigned int ioctl,
			    unsigned long arg)
{
	long r;

	if (ioctl == KVM_GET_SUPPORTED_HV_CPUID)
		r = hvl_glue_get_supported_hv_cpuid(NULL, (void __user *)arg);
	else
		r = hvl_glue_get_msr_index_list(filp, ioctl, arg);
	hvl_glue_leave();
	return r;
}

long hvl_glue_kvm_vcpu_ioctl(struct file *filp, unsigned int ioctl,
			     unsigned long arg)
{
	struct kvm_vcpu *vcpu = filp->private_data;
	long r;

	if (!hvl_compat_vcpu_ioctl_allowed(vcpu))
		r = -EIO;
	else if (ioctl == KVM_GET_SUPPORTED_HV_CPUID)
		r = hvl_glue_get_supported_hv_cpuid(vcpu, (void __user *)arg);
	else
		r = hvl_glue_enable_cap(filp, arg);
	hvl_glue_leave();
	return r;
}

/*
 * Deciders see the hooked function's first two arguments and run before it,
 * preemptible: no sleeping, no user memory.
 */
bool hvl_glue_want_kvm_get_msr_common(unsigned long vcpu, unsigned long msr)
{
	return hvl_msr_offered((struct kvm_vcpu *)vcpu,
			       ((struct msr_data *)msr)->index);
}

bool hvl_glue_want_kvm_set_msr_common(unsigned long vcpu, unsigned long msr)
{
	return hvl_glue_want_kvm_get_msr_common(vcpu, msr);
}

bool hvl_glue_want_kvm_emulate_hypercall(unsigned long vcpu, unsigned long unused)
{
	return hvl_hypercall_owned((struct kvm_vcpu *)vcpu);
}

bool hvl_glue_want_kvm_vm_ioctl_check_extension(unsigned long kvm, unsigned long ext)
{
	return hvl_cpuid_has_cap(ext);
}

bool hvl_glue_want_kvm_dev_ioctl(unsigned long filp, unsigned long ioctl)
{
	return (unsigned int)ioctl == KVM_GET_SUPPORTED_HV_CPUID ||
	       (unsigned int)ioctl == KVM_GET_MSR_INDEX_LIST;
}

bool hvl_glue_want_kvm_vcpu_ioctl(unsigned long filp, unsigned long ioctl)
{
	return (unsigned int)ioctl == KVM_GET_SUPPORTED_HV_CPUID ||
	       (unsigned int)ioctl == KVM_ENABLE_CAP;
}

/* Observers: they run before the function, atomic; they must not sleep. */
void hvl_glue_see_kvm_arch_vcpu_destroy(unsigned long vcpu)
{
	hvl_state_vcpu_free((struct kvm_vcpu *)vcpu);
}

void hvl_glue_see_kvm_arch_free_vm(unsigned long kvm)
{
	hvl_state_vm_free((struct kvm *)kvm);
}

void hvl_glue_see_kvm_end_pvclock_update(unsigned long kvm)
{
	hvl_reftime_clock_update((struct kvm *)kvm);
}
