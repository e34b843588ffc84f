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
#include "hvl_trace.h"

/* Scale and offset go into the page with one write. */
static_assert(offsetof(struct ms_hyperv_tsc_page, tsc_offset) ==
	      offsetof(struct ms_hyperv_tsc_page, tsc_scale) + sizeof(u64));

/* Write the page with the TLFS update protocol; vm->lock held. */
static int hvl_reftime_write_page(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				  bool valid, u32 gen, u64 scale, s64 offset)
{
	gpa_t gpa = vm->reference_tsc & HV_HYP_PAGE_MASK;
	u64 params[2] = { scale, offset };
	u32 seq = 0;
	int r;

	/* Invalidate first: a guest reading meanwhile falls back to the MSR. */
	write_seqcount_begin(&vm->tsc_sc);
	vm->tsc_valid = false;
	write_seqcount_end(&vm->tsc_sc);
	r = kvm_vcpu_write_guest(vcpu, gpa + offsetof(struct ms_hyperv_tsc_page,
						      tsc_sequence),
				 &seq, sizeof(seq));
	if (r)
		return r;
	if (!valid) {
		trace_hvl_tsc_page(vcpu->vcpu_id, gpa, 0, 0, 0);
		return 0;
	}

	r = kvm_vcpu_write_guest(vcpu, gpa + offsetof(struct ms_hyperv_tsc_page,
						      tsc_scale),
				 params, sizeof(params));
	if (r)
		return r;
	seq = hvl_tsc_seq_next(vm->tsc_seq);
	r = kvm_vcpu_write_guest(vcpu, gpa + offsetof(struct ms_hyperv_tsc_page,
						      tsc_sequence),
				 &seq, sizeof(seq));
	if (r)
		return r;
	trace_hvl_tsc_page(vcpu->vcpu_id, gpa, seq, scale, offset);

	write_seqcount_begin(&vm->tsc_sc);
	vm->tsc_seq = seq;
	vm->tsc_gen = gen;
	vm->tsc_scale = scale;
	vm->tsc_offset = offset;
	vm->tsc_valid = true;
	write_seqcount_end(&vm->tsc_sc);
	hvl_state_count(vm, HVL_STAT_TSC_PAGE_UPDATE);
	return 0;
}

/*
 * Take the parameters of the page as the guest has it (a migrated guest's
 * page, which this VM never wrote); false when it holds none. vm->lock held.
 */
static bool hvl_reftime_adopt(struct kvm_vcpu *vcpu, struct hvl_vm *vm)
{
	struct {
		u32 seq, rsvd;
		u64 scale;
		s64 offset;
	} p;

	static_assert(offsetof(struct ms_hyperv_tsc_page, tsc_offset) ==
		      offsetof(typeof(p), offset));
	if (kvm_vcpu_read_guest(vcpu, vm->reference_tsc & HV_HYP_PAGE_MASK,
				&p, sizeof(p)) || !p.seq)
		return false;
	write_seqcount_begin(&vm->tsc_sc);
	vm->tsc_seq = p.seq;
	vm->tsc_scale = p.scale;
	vm->tsc_offset = p.offset;
	vm->tsc_valid = true;
	write_seqcount_end(&vm->tsc_sc);
	vm->tsc_dirty = false;
	return true;
}

/*
 * A guest using re-enlightenment (TSC emulation control set) expects to be
 * told of a TSC change, not to find new parameters: keep its page across
 * host clock changes until it enables the page itself, as in-tree KVM
 * does, and answer TIME_REF_COUNT from the page it has. vm->lock held.
 */
static bool hvl_reftime_keep(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u32 gen)
{
	if (!READ_ONCE(vm->tsc_emulation_control) || vm->tsc_guest_set)
		return false;
	if (!vm->tsc_valid && !hvl_reftime_adopt(vcpu, vm))
		return false;
	write_seqcount_begin(&vm->tsc_sc);
	vm->tsc_gen = gen;
	write_seqcount_end(&vm->tsc_sc);
	return true;
}

/*
 * Bring the page in line with this vCPU's kvmclock; vm->lock held. Skip the
 * write when nothing changed, so that the guest's sequence stays put.
 * Return false when the page could not be brought up to date now.
 */
static bool hvl_reftime_refresh(struct kvm_vcpu *vcpu, struct hvl_vm *vm)
{
	const struct pvclock_vcpu_time_info *c = hvl_compat_pvclock(vcpu);
	bool fresh, valid;
	u64 scale;
	s64 offset;
	u32 gen;

	if (!(vm->reference_tsc & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return true;
	/* Write guest memory only as this vCPU, in its own VM (dirty logging). */
	if (kvm_get_running_vcpu() != vcpu || current->mm != vcpu->kvm->mm)
		return false;
	/*
	 * The clock generation first: parameters computed before a pending
	 * clock update are not fresh for it, and readers then use kvmclock.
	 */
	gen = atomic_read(&vm->clock_gen);
	/* Pairs with the observer's increment before KVM sets the requests. */
	smp_rmb();
	fresh = !kvm_test_request(KVM_REQ_MCLOCK_INPROGRESS, vcpu) &&
		!kvm_test_request(KVM_REQ_CLOCK_UPDATE, vcpu);
	if (hvl_reftime_keep(vcpu, vm, gen))
		return true;
	valid = fresh && (c->flags & PVCLOCK_TSC_STABLE_BIT) &&
		c->tsc_to_system_mul &&
		hvl_tsc_page_params(c->tsc_to_system_mul, c->tsc_shift,
				    c->system_time, c->tsc_timestamp,
				    &scale, &offset);
	if (!vm->tsc_dirty && valid == vm->tsc_valid &&
	    (!valid || (scale == vm->tsc_scale && offset == vm->tsc_offset))) {
		write_seqcount_begin(&vm->tsc_sc);
		vm->tsc_gen = gen;
		write_seqcount_end(&vm->tsc_sc);
		return fresh;
	}
	/* A page outside guest memory stays unwritten, as in-tree KVM does. */
	vm->tsc_dirty = hvl_reftime_write_page(vcpu, vm, valid, gen, scale,
					       offset);
	if (!vm->tsc_dirty && valid)
		vm->tsc_guest_set = false;
	return fresh;
}

/* Task work on a vCPU thread that did a KVM clock update. */
struct hvl_tsc_work {
	struct callback_head cb;
	struct hvl_vm *vm;
	struct kvm_vcpu *vcpu;
	atomic_t pending;
};

static void hvl_reftime_work(struct callback_head *cb)
{
	struct hvl_tsc_work *w = container_of(cb, struct hvl_tsc_work, cb);
	struct kvm_vcpu *vcpu = w->vcpu;
	struct kvm *kvm = vcpu->kvm;
	struct hvl_vm *vm = w->vm;
	bool done;
	int idx;

	/* An update from now on queues new work. */
	atomic_set(&w->pending, 0);
	/* Order the reset before reading the clock it now covers. */
	smp_mb__after_atomic();
	idx = srcu_read_lock(&kvm->srcu);
	mutex_lock(&vm->lock);
	done = hvl_reftime_refresh(vcpu, vm);
	mutex_unlock(&vm->lock);
	srcu_read_unlock(&kvm->srcu, idx);
	/*
	 * Outside KVM_RUN (it ended for a signal, the task is exiting) or
	 * with a newer clock update pending, keep the refresh pending: the
	 * vCPU's next entry then does a masterclock update of its own, which
	 * brings us back here with the vCPU loaded before it enters.
	 */
	if (!done)
		kvm_make_request(KVM_REQ_MASTERCLOCK_UPDATE, vcpu);
	kvm_put_kvm(kvm);
	hvl_state_release();
}

static void hvl_reftime_queue(struct hvl_vm *vm, struct kvm_vcpu *vcpu)
{
	/* Pairs with hvl_reftime_alloc_works(): the count is set first. */
	struct hvl_tsc_work *works = smp_load_acquire(&vm->tsc_works);
	struct hvl_tsc_work *w;

	if (!works || vcpu->vcpu_idx >= READ_ONCE(vm->nr_tsc_works))
		return;
	w = &works[vcpu->vcpu_idx];
	if (atomic_xchg(&w->pending, 1))
		return;
	w->vm = vm;
	w->vcpu = vcpu;
	kvm_get_kvm(vcpu->kvm);
	hvl_state_hold();
	init_task_work(&w->cb, hvl_reftime_work);
	if (task_work_add(current, &w->cb, TWA_RESUME)) {
		atomic_set(&w->pending, 0);
		hvl_state_release();
		kvm_put_kvm_no_destroy(vcpu->kvm);
	}
}

/*
 * Observer of kvm_end_pvclock_update(), before KVM lets vCPUs enter again;
 * atomic, interrupts off, kvm->arch.tsc_write_lock held (which serializes
 * the observers of one VM). Readers of the page's parameters see them stale
 * from here on and read KVM's clock instead until a refresh. On a vCPU
 * thread (a masterclock update) KVM recomputes this vCPU's clock next and
 * then runs task work before entering the guest, so the work sees the new
 * clock in time. Elsewhere (a VMM's KVM_SET_CLOCK) there is no vCPU to run
 * the work: have every vCPU do a masterclock update of its own before it
 * next enters, as a REFERENCE_TSC write does; whichever enters first
 * rewrites the page, as in-tree KVM's first clock update does.
 */
void hvl_reftime_clock_update(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu = kvm_get_running_vcpu();
	struct hvl_vm *vm = hvl_state_vm_find(kvm);
	unsigned long i;
	u32 gen;

	if (!vm)
		return;
	gen = atomic_inc_return(&vm->clock_gen);
	/* Only KVM_SET_CLOCK moves the offset: the VMM stepped the clock. */
	if (hvl_compat_kvmclock_offset(kvm) != vm->step_offset) {
		vm->step_offset = hvl_compat_kvmclock_offset(kvm);
		WRITE_ONCE(vm->step_gen, gen);
	}
	if (!(READ_ONCE(vm->reference_tsc) & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;
	if (vcpu && vcpu->kvm == kvm) {
		hvl_reftime_queue(vm, vcpu);
		return;
	}
	kvm_for_each_vcpu(i, vcpu, kvm)
		kvm_make_request(KVM_REQ_MASTERCLOCK_UPDATE, vcpu);
}

/*
 * Reference time now, in 100 ns units: from the page's parameters while
 * they are fresh, from KVM's clock for the VM otherwise (as in-tree KVM,
 * whose page is then not in its SET state). Never backwards across vCPUs,
 * except where the VMM set the clock with KVM_SET_CLOCK: the guest must see
 * the step it asked for. A read belongs to the timeline of the latest step
 * before it; one that raced with a newer step leaves the clamp alone.
 */
u64 hvl_reftime_now(struct kvm_vcpu *vcpu, struct hvl_vm *vm)
{
	unsigned int seq;
	u32 gen, step;
	bool fresh;
	u64 ref, scale;
	s64 offset;

	do {
		gen = atomic_read(&vm->clock_gen);
		/* Pairs with the observer's increment: gen, then the page. */
		smp_rmb();
		do {
			seq = read_seqcount_begin(&vm->tsc_sc);
			fresh = vm->tsc_valid && vm->tsc_gen == gen;
			scale = vm->tsc_scale;
			offset = vm->tsc_offset;
		} while (read_seqcount_retry(&vm->tsc_sc, seq));
		if (fresh)
			ref = hvl_tsc_to_ref(kvm_read_l1_tsc(vcpu, rdtsc()),
					     scale, offset);
		else
			ref = div_u64(hvl_compat_kvmclock_ns(vcpu->kvm), 100);
		/* The value, then its step ... */
		smp_rmb();
		step = READ_ONCE(vm->step_gen);
		/* ... then gen again: a change means a clock update raced. */
		smp_rmb();
	} while (atomic_read(&vm->clock_gen) != gen);

	spin_lock(&vm->ref_lock);
	if ((s32)(step - vm->ref_step) > 0) {
		vm->ref_step = step;
		vm->ref_last = ref;
	} else if (step == vm->ref_step) {
		if (ref < vm->ref_last)
			ref = vm->ref_last;
		else
			vm->ref_last = ref;
	}
	spin_unlock(&vm->ref_lock);
	return ref;
}

/* The task work items, before the page is first enabled; vm->lock held. */
static int hvl_reftime_alloc_works(struct kvm *kvm, struct hvl_vm *vm)
{
	struct hvl_tsc_work *works;

	if (vm->tsc_works)
		return 0;
	works = kvcalloc(kvm->max_vcpus, sizeof(*works), GFP_KERNEL_ACCOUNT);
	if (!works)
		return -ENOMEM;
	WRITE_ONCE(vm->nr_tsc_works, kvm->max_vcpus);
	/* Publish the items after their count; see hvl_reftime_queue(). */
	smp_store_release(&vm->tsc_works, works);
	return 0;
}

int hvl_reftime_set_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u32 msr,
			u64 data, bool host)
{
	int r = 0;

	if (msr == HV_X64_MSR_TIME_REF_COUNT)
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
	if (data & HV_X64_MSR_TSC_REFERENCE_ENABLE)
		r = hvl_reftime_alloc_works(vcpu->kvm, vm);
	if (!r) {
		WRITE_ONCE(vm->reference_tsc, data);
		write_seqcount_begin(&vm->tsc_sc);
		vm->tsc_valid = false;
		write_seqcount_end(&vm->tsc_sc);
		vm->tsc_dirty = true;
		/* The guest's own page is computed afresh, whatever it uses. */
		vm->tsc_guest_set = !host && (data & HV_X64_MSR_TSC_REFERENCE_ENABLE);
		hvl_reftime_refresh(vcpu, vm);
	}
	mutex_unlock(&vm->lock);
	/*
	 * As in-tree KVM: have KVM refresh its clock before the next entry;
	 * the observer above then rewrites the page from fresh parameters.
	 */
	if (!r && (data & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		kvm_make_request(KVM_REQ_MASTERCLOCK_UPDATE, vcpu);
	return r;
}

int hvl_reftime_get_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u32 msr,
			u64 *data)
{
	if (msr == HV_X64_MSR_REFERENCE_TSC) {
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
