// SPDX-License-Identifier: GPL-2.0
/*
 * Partition reference time: the TIME_REF_COUNT MSR and the reference TSC
 * page, both derived from KVM's own clock for the guest (the vCPU's kvmclock
 * parameters), so that every vCPU reads one clock.
 *
 * The page is valid only while KVM's masterclock makes kvmclock a fixed
 * linear function of the guest TSC. Every change of that function (a
 * masterclock update, KVM_SET_CLOCK) ends in kvm_end_pvclock_update(),
 * which asks every vCPU to recompute its kvmclock parameters before it next
 * enters the guest. An observer there queues task work on the vCPU thread
 * doing the update; the work runs after that vCPU's recomputation and
 * before its entry, and rewrites the page from the fresh parameters. In
 * in-tree KVM, kvm_update_masterclock() requests the same page update.
 */
#include <linux/kvm_host.h>
#include <linux/task_work.h>
#include <asm/pvclock.h>
#include "hvl.h"

/* The header of the reference TSC page; the rest of the page is reserved. */
struct hvl_tsc_page {
	u32 sequence;
	u32 reserved;
	u64 scale;
	s64 offset;
};

/* Write the page with the TLFS update protocol; vm->lock held. */
static int hvl_reftime_write_page(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				  bool valid, u64 scale, s64 offset)
{
	gpa_t gpa = vm->reference_tsc & HVL_PAGE_MASK;
	struct hvl_tsc_page page = { .scale = scale, .offset = offset };
	u32 zero = 0;
	int r;

	/* Invalidate first: a guest reading meanwhile falls back to the MSR. */
	write_seqcount_begin(&vm->tsc_sc);
	vm->tsc_valid = false;
	write_seqcount_end(&vm->tsc_sc);
	r = kvm_vcpu_write_guest(vcpu, gpa, &zero, sizeof(zero));
	if (r || !valid)
		return r;

	r = kvm_vcpu_write_guest(vcpu, gpa + offsetof(struct hvl_tsc_page, scale),
				 &page.scale, sizeof(page.scale) + sizeof(page.offset));
	if (r)
		return r;
	page.sequence = hvl_tsc_seq_next(vm->tsc_seq);
	r = kvm_vcpu_write_guest(vcpu, gpa, &page.sequence,
				 sizeof(page.sequence));
	if (r)
		return r;

	write_seqcount_begin(&vm->tsc_sc);
	vm->tsc_seq = page.sequence;
	vm->tsc_scale = scale;
	vm->tsc_offset = offset;
	vm->tsc_valid = true;
	write_seqcount_end(&vm->tsc_sc);
	hvl_state_count(vm, HVL_STAT_TSC_PAGE_UPDATE);
	return 0;
}

/*
 * Bring the page in line with this vCPU's kvmclock; vm->lock held. Skip the
 * write when nothing changed, so that the guest's sequence stays put.
 */
static void hvl_reftime_refresh(struct kvm_vcpu *vcpu, struct hvl_vm *vm)
{
	struct pvclock_vcpu_time_info *c = &vcpu->arch.hv_clock;
	bool valid;
	u64 scale;
	s64 offset;

	if (!(vm->reference_tsc & HVL_REFTSC_ENABLE))
		return;
	valid = (c->flags & PVCLOCK_TSC_STABLE_BIT) && c->tsc_to_system_mul &&
		hvl_tsc_page_params(c->tsc_to_system_mul, c->tsc_shift,
				    c->system_time, c->tsc_timestamp,
				    &scale, &offset);
	if (!vm->tsc_dirty && valid == vm->tsc_valid &&
	    (!valid || (scale == vm->tsc_scale && offset == vm->tsc_offset)))
		return;
	/* A page outside guest memory stays unwritten, as in-tree KVM does. */
	vm->tsc_dirty = hvl_reftime_write_page(vcpu, vm, valid, scale, offset);
}

static void hvl_reftime_work(struct callback_head *cb)
{
	struct hvl_vm *vm = container_of(cb, struct hvl_vm, tsc_work);
	struct kvm_vcpu *vcpu = READ_ONCE(vm->tsc_work_vcpu);
	struct kvm *kvm = vcpu->kvm;
	int idx;

	/* An update from now on queues new work. */
	atomic_set(&vm->tsc_work_pending, 0);
	/* Task work also runs at exit, when the mm is already gone. */
	if (current->mm == kvm->mm) {
		idx = srcu_read_lock(&kvm->srcu);
		mutex_lock(&vm->lock);
		hvl_reftime_refresh(vcpu, vm);
		mutex_unlock(&vm->lock);
		srcu_read_unlock(&kvm->srcu, idx);
	}
	kvm_put_kvm(kvm);
	hvl_hook_release();
}

/*
 * Observer of kvm_end_pvclock_update(), before KVM lets vCPUs enter again;
 * atomic, interrupts off. On a vCPU thread (a masterclock update) KVM
 * recomputes this vCPU's clock next and then checks for task work before
 * entering the guest, so the work sees the new clock in time. Elsewhere (a
 * VMM's KVM_SET_CLOCK) there is no vCPU to run the work: have vCPU 0 do a
 * masterclock update of its own, as a REFERENCE_TSC write does, which
 * brings us back here on its thread.
 */
void hvl_reftime_clock_update(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu = kvm_get_running_vcpu();
	struct hvl_vm *vm = hvl_state_vm_find(kvm);

	if (!vm || !(READ_ONCE(vm->reference_tsc) & HVL_REFTSC_ENABLE))
		return;
	if (!vcpu || vcpu->kvm != kvm) {
		vcpu = kvm_get_vcpu(kvm, 0);
		if (vcpu)
			kvm_make_request(KVM_REQ_MASTERCLOCK_UPDATE, vcpu);
		return;
	}
	if (atomic_xchg(&vm->tsc_work_pending, 1))
		return;
	WRITE_ONCE(vm->tsc_work_vcpu, vcpu);
	kvm_get_kvm(vcpu->kvm);
	hvl_hook_hold();
	init_task_work(&vm->tsc_work, hvl_reftime_work);
	if (task_work_add(current, &vm->tsc_work, TWA_RESUME)) {
		atomic_set(&vm->tsc_work_pending, 0);
		hvl_hook_release();
		kvm_put_kvm_no_destroy(vcpu->kvm);
	}
}

/*
 * Reference time now, in 100 ns units. Never backwards across vCPUs, except
 * where the VMM set the clock back with KVM_SET_CLOCK: that moves KVM's
 * kvmclock_offset, and the guest must see the step it asked for.
 */
static u64 hvl_reftime_now(struct kvm_vcpu *vcpu, struct hvl_vm *vm)
{
	s64 epoch = READ_ONCE(vcpu->kvm->arch.kvmclock_offset);
	u64 tsc = kvm_read_l1_tsc(vcpu, rdtsc());
	u64 ref, last;
	unsigned int seq;
	bool valid;

	do {
		seq = read_seqcount_begin(&vm->tsc_sc);
		valid = vm->tsc_valid;
		ref = hvl_tsc_to_ref(tsc, vm->tsc_scale, vm->tsc_offset);
	} while (read_seqcount_retry(&vm->tsc_sc, seq));

	/* Without a valid page, kvmclock, as in-tree KVM does. */
	if (!valid)
		ref = vcpu->arch.hv_clock.tsc_to_system_mul ?
		      div_u64(__pvclock_read_cycles(&vcpu->arch.hv_clock, tsc),
			      100) : 0;

	if (epoch != READ_ONCE(vm->ref_epoch)) {
		WRITE_ONCE(vm->ref_epoch, epoch);
		atomic64_set(&vm->ref_last, ref);
		return ref;
	}
	last = atomic64_read(&vm->ref_last);
	do {
		if (ref <= last)
			return last;
	} while (!atomic64_try_cmpxchg(&vm->ref_last, &last, ref));
	return ref;
}

int hvl_reftime_set_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u32 msr,
			u64 data, bool host)
{
	if (msr == HVL_MSR_TIME_REF_COUNT)
		/* Read-only; a VMM restoring it is ignored, as in-tree. */
		return host ? 0 : -EPERM;

	if (data & HVL_REFTSC_RSVD)
		return -EINVAL;
	if (!data && !vm)
		return 0;
	vm = vm ?: hvl_state_vm_get(vcpu->kvm);
	if (!vm)
		return -ENOMEM;
	mutex_lock(&vm->lock);
	WRITE_ONCE(vm->reference_tsc, data);
	write_seqcount_begin(&vm->tsc_sc);
	vm->tsc_valid = false;
	write_seqcount_end(&vm->tsc_sc);
	vm->tsc_dirty = true;
	hvl_reftime_refresh(vcpu, vm);
	mutex_unlock(&vm->lock);
	/*
	 * As in-tree KVM: have KVM refresh its clock before the next entry;
	 * the observer above then rewrites the page from fresh parameters.
	 */
	if (data & HVL_REFTSC_ENABLE)
		kvm_make_request(KVM_REQ_MASTERCLOCK_UPDATE, vcpu);
	return 0;
}

int hvl_reftime_get_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u32 msr,
			u64 *data)
{
	if (msr == HVL_MSR_REFERENCE_TSC) {
		*data = vm ? READ_ONCE(vm->reference_tsc) : 0;
		return 0;
	}
	/* The clock must never go back: that needs per-VM state. */
	vm = vm ?: hvl_state_vm_get(vcpu->kvm);
	if (!vm)
		return -ENOMEM;
	*data = hvl_reftime_now(vcpu, vm);
	return 0;
}
