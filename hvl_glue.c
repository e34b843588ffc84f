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
#include <linux/task_work.h>
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
 * Tasks calling KVM's own code for a hooked function, each with the
 * replacement it stands in for. The hooks cannot tell a forwarded call by
 * its caller's address: a graph tracer or a kretprobe on the same function
 * replaces that return address before our trampoline runs.
 */
struct hvl_glue_fwd {
	struct list_head node;
	struct task_struct *task;
	const void *target;
};

LIST_HEAD(hvl_glue_fwds);
static DEFINE_SPINLOCK(hvl_glue_fwd_lock);

/* Until hvl_glue_fwd_end(), the hook of target lets this task through. */
static void hvl_glue_fwd_begin(struct hvl_glue_fwd *fwd, const void *target)
{
	fwd->task = current;
	fwd->target = target;
	spin_lock(&hvl_glue_fwd_lock);
	list_add(&fwd->node, &hvl_glue_fwds);
	spin_unlock(&hvl_glue_fwd_lock);
}

static void hvl_glue_fwd_end(struct hvl_glue_fwd *fwd)
{
	spin_lock(&hvl_glue_fwd_lock);
	list_del(&fwd->node);
	spin_unlock(&hvl_glue_fwd_lock);
}

/* Hand an ioctl we do not answer to KVM's own handler, past our hook. */
static long hvl_glue_forward(const void *target, struct file *filp,
			     unsigned int ioctl, unsigned long arg)
{
	struct hvl_glue_fwd fwd;
	long r;

	hvl_glue_fwd_begin(&fwd, target);
	r = filp->f_op->unlocked_ioctl(filp, ioctl, arg);
	hvl_glue_fwd_end(&fwd);
	return r;
}

/* hvl_glue_forwarded() once some task forwards a call. */
bool hvl_glue_forwarded_slow(const void *target)
{
	struct hvl_glue_fwd *fwd;
	bool found = false;

	spin_lock(&hvl_glue_fwd_lock);
	list_for_each_entry(fwd, &hvl_glue_fwds, node)
		if (fwd->task == current && fwd->target == target)
			found = true;
	spin_unlock(&hvl_glue_fwd_lock);
	return found;
}

/*
 * Exits to the VMM. A Hyper-V operation asks for one in the vCPU's state
 * (hvl_state_exit_request()); KVM built without Hyper-V has no request bit
 * that would end KVM_RUN for it, so the glue ends it from the exit handler
 * that ran the operation (the instruction retired, RIP past it, as
 * in-tree's request-based exit leaves it) or, where that handler already
 * ended KVM_RUN for something else or is not ours, from the completion
 * KVM runs first on the next KVM_RUN.
 */
static int hvl_glue_exit_late(struct kvm_vcpu *vcpu);

/* The VMM's answer, on re-entry: the calls it completes. */
static int hvl_glue_exit_complete(struct kvm_vcpu *vcpu)
{
	struct hvl_vcpu *hv = hvl_state_vcpu_find(vcpu);
	struct kvm_run *run = vcpu->run;
	u32 type;

	if (!hv)
		return 1;
	type = hv->exit_done_type;
	hv->exit_done_type = 0;
	switch (type) {
	case KVM_EXIT_HYPERV_HCALL:
		return hvl_hypercall_complete(vcpu, hv->vm,
					      run->hyperv.u.hcall.input,
					      run->hyperv.u.hcall.result);
	case KVM_EXIT_HYPERV_SYNDBG:
		hvl_sysmsr_syndbg_complete(vcpu, run->hyperv.u.syndbg.msr,
					   run->hyperv.u.syndbg.status);
		break;
	}
	return 1;
}

/* Put the pending exit in vcpu->run: the caller ends KVM_RUN with 0. */
static int hvl_glue_exit_fill(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv)
{
	struct kvm_run *run = vcpu->run;
	struct hvl_exit *e = &hv->exit;

	switch (e->kind) {
	case HVL_EXIT_RESET:
	case HVL_EXIT_CRASH:
		run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
		run->system_event.type = e->kind == HVL_EXIT_RESET ?
					 KVM_SYSTEM_EVENT_RESET :
					 KVM_SYSTEM_EVENT_CRASH;
		run->system_event.ndata = 0;
		break;
	case HVL_EXIT_HYPERV:
		run->exit_reason = KVM_EXIT_HYPERV;
		run->hyperv = e->hyperv;
		/* A call or the debugger takes the VMM's answer on re-entry. */
		if (e->hyperv.type != KVM_EXIT_HYPERV_SYNIC) {
			hv->exit_done_type = e->hyperv.type;
			hvl_compat_set_cui(vcpu, hvl_glue_exit_complete);
		}
		break;
	case HVL_EXIT_NONE:
		return 1;
	}
	trace_hvl_exit(vcpu->vcpu_id, run->exit_reason,
		       e->kind == HVL_EXIT_HYPERV ? e->hyperv.type :
		       run->system_event.type);
	hvl_state_count(hv->vm, HVL_STAT_EXIT);
	e->kind = HVL_EXIT_NONE;
	return 0;
}

/*
 * Deliver the pending exit on the next KVM_RUN, before the guest runs,
 * after the completion KVM had there (the exit of an MMIO access, say).
 */
static void hvl_glue_exit_arm(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv)
{
	hvl_compat_cui_t cui = hvl_compat_cui(vcpu);

	if (cui == hvl_glue_exit_late)
		return;
	hv->exit_prev_cui = cui;
	hvl_compat_set_cui(vcpu, hvl_glue_exit_late);
}

static int hvl_glue_exit_late(struct kvm_vcpu *vcpu)
{
	struct hvl_vcpu *hv = hvl_state_vcpu_find(vcpu);
	hvl_compat_cui_t prev;
	int r;

	if (!hv)
		return 1;
	prev = hv->exit_prev_cui;
	hv->exit_prev_cui = NULL;
	if (prev) {
		r = prev(vcpu);
		if (r <= 0) {
			/* That ended this KVM_RUN: ours comes on the next. */
			hvl_glue_exit_arm(vcpu, hv);
			return r;
		}
	}
	/* A KVM_RUN with immediate_exit returns -EINTR: ours on the next. */
	if (!hvl_compat_vcpu_wants_to_run(vcpu)) {
		hvl_glue_exit_arm(vcpu, hv);
		return 1;
	}
	return hvl_glue_exit_fill(vcpu, hv);
}

/*
 * Task work after KVM_RUN returned for the signal it raised, before the
 * VMM runs: arm the exit for the next KVM_RUN, as the vCPU's ioctls do,
 * under vcpu->mutex.
 */
static void hvl_glue_exit_kick_work(struct callback_head *cb)
{
	struct hvl_vcpu *hv = container_of(cb, struct hvl_vcpu, exit_kick);
	struct kvm_vcpu *vcpu = hv->exit_kick_vcpu;
	struct kvm *kvm = vcpu->kvm;

	mutex_lock(&vcpu->mutex);
	if (hv->exit.kind != HVL_EXIT_NONE)
		hvl_glue_exit_arm(vcpu, hv);
	atomic_set(&hv->exit_kicked, 0);
	mutex_unlock(&vcpu->mutex);
	/* vcpu and hv may be gone after this. */
	kvm_put_kvm(kvm);
	hvl_state_release();
}

/*
 * An MSR write asked for an exit outside hvl_glue_kvm_emulate_wrmsr(): from
 * the VMM (KVM_SET_MSRS), or from the guest through KVM's instruction
 * emulator. Deliver it on the next KVM_RUN. For the guest, also end this
 * one before the guest runs again, with a signal's -EINTR (nothing else
 * stops KVM's run loop from here), and arm the exit only once KVM_RUN
 * returned: a completion set while the emulator runs would make it throw
 * the instruction's result away and return for it.
 */
static void hvl_glue_exit_defer(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv,
				bool host)
{
	if (!hv || hv->exit.kind == HVL_EXIT_NONE ||
	    hvl_glue_forwarded(hvl_glue_kvm_emulate_wrmsr))
		return;
	if (host) {
		hvl_glue_exit_arm(vcpu, hv);
		return;
	}
	if (atomic_xchg(&hv->exit_kicked, 1))
		return;
	/* The VM, and with it vcpu and hv, lives until the work ran. */
	kvm_get_kvm(vcpu->kvm);
	hv->exit_kick_vcpu = vcpu;
	hvl_state_hold();
	init_task_work(&hv->exit_kick, hvl_glue_exit_kick_work);
	if (task_work_add(current, &hv->exit_kick, TWA_SIGNAL)) {
		atomic_set(&hv->exit_kicked, 0);
		hvl_state_release();
		kvm_put_kvm_no_destroy(vcpu->kvm);
	}
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
	/* As in-tree KVM, leave nent alone: callers retry with more. */
	if (hdr.nent < HVL_CPUID_NR_LEAVES)
		return -E2BIG;
	hdr.nent = hvl_cpuid_supported(vcpu, ent);
	if (copy_to_user(ucpuid->entries, ent, hdr.nent * sizeof(ent[0])) ||
	    copy_to_user(ucpuid, &hdr, sizeof(hdr)))
		return -EFAULT;
	return 0;
}

/*
 * KVM_ENABLE_CAP on a vCPU: answer KVM_CAP_HYPERV_ENFORCE_CPUID and the
 * SynIC ones, hand every other capability to KVM's own ioctl.
 */
static long hvl_glue_enable_cap(struct file *filp, unsigned long arg)
{
	struct kvm_vcpu *vcpu = filp->private_data;
	struct kvm_enable_cap cap;
	long r;

	if (copy_from_user(&cap, (void __user *)arg, sizeof(cap)))
		return -EFAULT;
	switch (cap.cap) {
	case KVM_CAP_HYPERV_ENFORCE_CPUID:
		break;
	case KVM_CAP_HYPERV_SYNIC:
	case KVM_CAP_HYPERV_SYNIC2:
		if (hvl_cpuid_has_cap(cap.cap))
			break;
		fallthrough;
	default:
		return hvl_glue_forward(hvl_glue_kvm_vcpu_ioctl, filp,
					KVM_ENABLE_CAP, arg);
	}
	if (cap.flags)
		return -EINVAL;
	/* SYNIC2 takes no argument. */
	if (cap.cap == KVM_CAP_HYPERV_SYNIC2 && cap.args[0])
		return -EINVAL;
	/* What kvm_vcpu_ioctl() holds around KVM's own KVM_ENABLE_CAP. */
	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;
	if (cap.cap == KVM_CAP_HYPERV_ENFORCE_CPUID)
		r = hvl_cpuid_set_enforce(vcpu, cap.args[0]);
	else
		r = hvl_synic_activate(vcpu, cap.cap == KVM_CAP_HYPERV_SYNIC2);
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
	r = hvl_glue_forward(hvl_glue_kvm_dev_ioctl, filp, ioctl, arg);
	if (r != -E2BIG)
		return r ?: -EIO;
	if (get_user(n_kvm, &ulist->nmsrs) ||
	    put_user(n_kvm + n_ours, &ulist->nmsrs))
		return -EFAULT;
	if (n_user < n_kvm + n_ours)
		return -E2BIG;
	if (put_user(n_kvm, &ulist->nmsrs))
		return -EFAULT;
	r = hvl_glue_forward(hvl_glue_kvm_dev_ioctl, filp, ioctl, arg);
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
	struct hvl_vcpu *hv;
	int r = hvl_msr_set(vcpu, msr, &hv);

	/* Not for a guest that is no Hyper-V guest: KVM answers it. */
	if (r != HVL_COMPAT_MSR_UNSUPPORTED)
		trace_hvl_msr(vcpu->vcpu_id, msr->index, msr->data, true,
			      msr->host_initiated, r);
	if (!r)
		hvl_glue_exit_defer(vcpu, hv, msr->host_initiated);
	hvl_glue_leave();
	return r;
}

/*
 * A WRMSR exit for an MSR whose write may end KVM_RUN: KVM's own handler
 * (filters, userspace MSR exits, the write through our MSR hook and the
 * instruction skip), then the exit the write asked for.
 */
int hvl_glue_kvm_emulate_wrmsr(struct kvm_vcpu *vcpu)
{
	struct hvl_glue_fwd fwd;
	struct hvl_vcpu *hv;
	int r;

	hvl_glue_fwd_begin(&fwd, hvl_glue_kvm_emulate_wrmsr);
	r = kvm_emulate_wrmsr(vcpu);
	hvl_glue_fwd_end(&fwd);
	hv = hvl_state_vcpu_find(vcpu);
	if (hv && hv->exit.kind != HVL_EXIT_NONE) {
		/* Single-step's debug exit or an error ended it: ours next. */
		if (r > 0)
			r = hvl_glue_exit_fill(vcpu, hv);
		else
			hvl_glue_exit_arm(vcpu, hv);
	}
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

/*
 * Every hypercall of a vCPU without KVM's leaves at 0x40000000 (the
 * trampoline enters here without asking the decider): Hyper-V's once the
 * guest enabled them, else KVM's own.
 */
int hvl_glue_kvm_emulate_hypercall(struct kvm_vcpu *vcpu)
{
	struct hvl_glue_fwd fwd;
	struct hvl_vcpu *hv;
	int r = hvl_hypercall_handle(vcpu);

	if (r == -ENOENT) {
		hvl_glue_fwd_begin(&fwd, hvl_glue_kvm_emulate_hypercall);
		r = kvm_emulate_hypercall(vcpu);
		hvl_glue_fwd_end(&fwd);
	} else if (!r) {
		/*
		 * The call asked the VMM: KVM_EXIT_HYPERV now, completed on
		 * re-entry. Without a pending exit the 0 is single-step's
		 * debug exit from the completed call's skip: KVM's, as it is.
		 */
		hv = hvl_state_vcpu_find(vcpu);
		if (hv && hv->exit.kind != HVL_EXIT_NONE)
			r = hvl_glue_exit_fill(vcpu, hv);
	}
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
 * A KVM_IRQ_ROUTING_HV_SINT route's injection (KVM_IRQ_LINE, an irqfd):
 * raise the SINT on its VP. KVM frees routes before the VM, and the VM's
 * state (taken when the route was made) pins the module until then.
 */
static int hvl_glue_hv_sint_set(struct kvm_kernel_irq_routing_entry *e,
				struct kvm *kvm, int irq_source_id, int level,
				bool line_status)
{
	if (!level)
		return -1;
	return hvl_synic_set_irq(kvm, e->hv_sint.vcpu, e->hv_sint.sint);
}

int hvl_glue_kvm_set_routing_entry(struct kvm *kvm,
				   struct kvm_kernel_irq_routing_entry *e,
				   const struct kvm_irq_routing_entry *ue)
{
	int r = 0;

	if (!hvl_state_vm_get(kvm)) {
		r = -ENOMEM;
	} else {
		e->set = hvl_glue_hv_sint_set;
		e->hv_sint.vcpu = ue->u.hv_sint.vcpu;
		e->hv_sint.sint = ue->u.hv_sint.sint;
	}
	hvl_glue_leave();
	return r;
}

/* KVM_HYPERV_EVENTFD on a VM. */
int hvl_glue_kvm_arch_vm_ioctl(struct file *filp, unsigned int ioctl,
			       unsigned long arg)
{
	struct kvm *kvm = filp->private_data;
	struct kvm_hyperv_eventfd ev;
	int r;

	if (copy_from_user(&ev, (void __user *)arg, sizeof(ev)))
		r = -EFAULT;
	else if ((ev.flags & ~KVM_HYPERV_EVENTFD_DEASSIGN) ||
		 (ev.conn_id & ~KVM_HYPERV_CONN_ID_MASK))
		r = -EINVAL;
	else
		r = hvl_synic_eventfd(kvm, ev.conn_id, ev.fd,
				      ev.flags & KVM_HYPERV_EVENTFD_DEASSIGN);
	hvl_glue_leave();
	return r;
}

/*
 * The acknowledgment of an interrupt KVM injects, on a VM with an auto-EOI
 * SINT: KVM's own, then the EOI the guest will not write. KVM's ack put the
 * vector in service above everything else there, so the EOI is of it.
 */
void hvl_glue_kvm_apic_ack_interrupt(struct kvm_vcpu *vcpu, int vector)
{
	struct hvl_glue_fwd fwd;

	hvl_glue_fwd_begin(&fwd, hvl_glue_kvm_apic_ack_interrupt);
	kvm_apic_ack_interrupt(vcpu, vector);
	hvl_glue_fwd_end(&fwd);
	if (hvl_synic_auto_eoi(vcpu, vector)) {
		/* An auto-EOI is no acknowledgment of the SINT. */
		hvl_glue_fwd_begin(&fwd, hvl_glue_see_kvm_eoi);
		kvm_lapic_set_eoi(vcpu);
		hvl_glue_fwd_end(&fwd);
	}
	hvl_glue_leave();
}

/* Every EOI KVM handles (the kvm_eoi tracepoint); atomic. */
void hvl_glue_see_kvm_eoi(struct kvm_lapic *apic, int vector)
{
	struct kvm_vcpu *vcpu = hvl_compat_apic_vcpu(apic);

	if (vcpu && !hvl_glue_forwarded(hvl_glue_see_kvm_eoi))
		hvl_synic_eoi(vcpu, vector);
}

/*
 * Asked before the vCPU blocks and after every exit: a synthetic timer to
 * look at counts as a pending timer (it wakes a halted vCPU).
 */
int hvl_glue_kvm_cpu_has_pending_timer(struct kvm_vcpu *vcpu)
{
	hvl_glue_leave();
	return 1;
}

/*
 * Before KVM injects its own pending timers, with the vCPU loaded and
 * kvm->srcu held, in process context: the synthetic timers' expirations
 * (guest memory writes, which may sleep). The VM's state, which a vCPU
 * with timers has, pins the module meanwhile.
 */
void hvl_glue_see_kvm_inject_pending_timer_irqs(unsigned long vcpu)
{
	if (hvl_stimer_pending((struct kvm_vcpu *)vcpu))
		hvl_stimer_process((struct kvm_vcpu *)vcpu);
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

bool hvl_glue_want_kvm_emulate_wrmsr(unsigned long vcpu, unsigned long unused)
{
	struct kvm_vcpu *v = (struct kvm_vcpu *)vcpu;

	return hvl_msr_offered(v, hvl_compat_reg_read(v, VCPU_REGS_RCX));
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

bool hvl_glue_want_kvm_set_routing_entry(unsigned long kvm, unsigned long e)
{
	return hvl_cpuid_features & HV_MSR_SYNIC_AVAILABLE;
}

bool hvl_glue_want_kvm_arch_vm_ioctl(unsigned long filp, unsigned long ioctl)
{
	return (unsigned int)ioctl == KVM_HYPERV_EVENTFD &&
	       (hvl_cpuid_features & HV_MSR_SYNIC_AVAILABLE);
}

bool hvl_glue_want_kvm_apic_ack_interrupt(unsigned long vcpu,
					  unsigned long vector)
{
	return hvl_synic_auto_eoi((struct kvm_vcpu *)vcpu, vector);
}

bool hvl_glue_want_kvm_cpu_has_pending_timer(unsigned long vcpu,
					     unsigned long unused)
{
	return hvl_stimer_pending((struct kvm_vcpu *)vcpu);
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

/*
 * A routing table was committed (under kvm->irq_lock): each SINT's acks go
 * to the GSI of its route, the highest where there are several, as
 * in-tree's walk of the table.
 */
void hvl_glue_see_kvm_arch_irq_routing_update(unsigned long kvm)
{
	hvl_compat_hv_sint_routes((struct kvm *)kvm, hvl_synic_route);
}

void hvl_glue_see_kvm_end_pvclock_update(unsigned long kvm)
{
	hvl_reftime_clock_update((struct kvm *)kvm);
}
