// SPDX-License-Identifier: GPL-2.0
/*
 * Partition reference time: the TIME_REF_COUNT MSR and the reference TSC
 * page, both derived from KVM's own clock for the guest (the vCPU's kvmclock
 * parameters), so that every vCPU reads one clock.
 *
 * The page is valid only while KVM's masterclock makes kvmclock a fixed
 * linear function of the guest TSC. KVM recomputes its parameters in
 * kvm_guest_time_update() on every clock change (masterclock update,
 * KVM_SET_CLOCK, TSC frequency change); an observer there queues task work
 * that rewrites the page before the vCPU next enters the guest.
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
 * Observer of kvm_guest_time_update(), on the vCPU thread before KVM has
 * recomputed the clock; atomic. KVM checks for task work after that and
 * before entering the guest, so the work sees the new clock in time.
 */
void hvl_reftime_clock_update(struct kvm_vcpu *vcpu)
{
	struct hvl_vm *vm = hvl_state_vm_find(vcpu->kvm);

	if (!vm || !(READ_ONCE(vm->reference_tsc) & HVL_REFTSC_ENABLE) ||
	    atomic_xchg(&vm->tsc_work_pending, 1))
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

int hvl_reftime_set_msr(struct kvm_vcpu *vcpu, u32 msr, u64 data, bool host)
{
	struct hvl_vm *vm;

	if (msr == HVL_MSR_TIME_REF_COUNT)
		/* Read-only; a VMM restoring it is ignored, as in-tree. */
		return host ? 0 : -EPERM;

	if (data & HVL_REFTSC_RSVD)
		return -EINVAL;
	if (!data && !hvl_state_vm_find(vcpu->kvm))
		return 0;
	vm = hvl_state_vm_get(vcpu->kvm);
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

int hvl_reftime_get_msr(struct kvm_vcpu *vcpu, u32 msr, u64 *data)
{
	struct hvl_vm *vm;

	if (msr == HVL_MSR_REFERENCE_TSC) {
		vm = hvl_state_vm_find(vcpu->kvm);
		*data = vm ? READ_ONCE(vm->reference_tsc) : 0;
		return 0;
	}
	/* The clock must never go back: that needs per-VM state. */
	vm = hvl_state_vm_get(vcpu->kvm);
	if (!vm)
		return -ENOMEM;
	*data = hvl_reftime_now(vcpu, vm);
	return 0;
}
