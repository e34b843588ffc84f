// SPDX-License-Identifier: GPL-2.0
/*
 * Synthetic timers: STIMER0-3 CONFIG and COUNT per vCPU, counting the
 * partition reference time (TIME_REF_COUNT). An expiration writes
 * HVMSG_TIMER_EXPIRED into the SynIC message slot of the timer's SINT and
 * raises the SINT, or (direct mode) sends the timer's vector to the LAPIC.
 * The host timer only marks the timer pending and kicks the vCPU; the
 * message and the interrupt are done in the vCPU's context before it next
 * enters the guest (guest memory, dirty logging), as KVM does for the
 * LAPIC timer.
 */
#include <linux/hrtimer.h>
#include <linux/kvm_host.h>
#include "hvl.h"

/*
 * Timers marked pending and not yet looked at, in all VMs: the timer hooks'
 * filter reads it, so that vCPUs pay for the hooks only in the moments
 * between some timer's expiration and its processing.
 */
atomic_t hvl_stimer_pending_timers = ATOMIC_INIT(0);

static struct hvl_vcpu *hvl_stimer_vcpu(struct hvl_stimer *t)
{
	return container_of(t, struct hvl_vcpu, stimer[t->index]);
}

/*
 * Have the vCPU look at the timer before it next enters the guest. Count
 * before setting the bit, and (hvl_stimer_process()) clear it before
 * uncounting: the count never drops below the bits set, or another CPU's
 * vCPU could clear its own bit and uncount ours, and our vCPU would block
 * with its timer expired while the filter reads zero.
 */
static void hvl_stimer_mark_pending(struct hvl_stimer *t, bool kick)
{
	atomic_inc(&hvl_stimer_pending_timers);
	if (test_and_set_bit(t->index, &hvl_stimer_vcpu(t)->stimer_pending))
		atomic_dec(&hvl_stimer_pending_timers);
	kvm_make_request(KVM_REQ_UNBLOCK, t->vcpu);
	if (kick)
		kvm_vcpu_kick(t->vcpu);
}

static void hvl_stimer_cleanup(struct hvl_stimer *t)
{
	hrtimer_cancel(&t->timer);
	if (test_and_clear_bit(t->index, &hvl_stimer_vcpu(t)->stimer_pending))
		atomic_dec(&hvl_stimer_pending_timers);
	t->msg_pending = false;
	t->exp_time = 0;
}

static enum hrtimer_restart hvl_stimer_fire(struct hrtimer *timer)
{
	hvl_stimer_mark_pending(container_of(timer, struct hvl_stimer, timer),
				true);
	return HRTIMER_NORESTART;
}

void hvl_stimer_init(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv)
{
	struct hvl_stimer *t;
	int i;

	for (i = 0; i < HV_SYNIC_STIMER_COUNT; i++) {
		t = &hv->stimer[i];
		t->index = i;
		t->vcpu = vcpu;
		hrtimer_init(&t->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
		t->timer.function = hvl_stimer_fire;
	}
}

/* The vCPU goes away: no timer of it fires afterwards. */
void hvl_stimer_free(struct hvl_vcpu *hv)
{
	int i;

	for (i = 0; i < HV_SYNIC_STIMER_COUNT; i++)
		hrtimer_cancel(&hv->stimer[i].timer);
	atomic_sub(hweight_long(xchg(&hv->stimer_pending, 0)),
		   &hvl_stimer_pending_timers);
}

/* A deadline 100 ns units from now, saturating. */
static ktime_t hvl_stimer_deadline(ktime_t now, u64 delta)
{
	if (delta >= KTIME_MAX / 100)
		return KTIME_MAX;
	return ktime_add_safe(now, 100 * delta);
}

/*
 * Arm an enabled timer with a non-zero count, in reference time (now): a
 * periodic timer from its last expiration, skipping the periods it missed
 * instead of storming; a one-shot in the past expires at once.
 */
static void hvl_stimer_start(struct hvl_stimer *t, u64 now)
{
	ktime_t know = ktime_get();
	u64 rem;

	if (t->config.periodic) {
		if (!t->exp_time) {
			t->exp_time = now + t->count;
		} else if (now >= t->exp_time) {
			div64_u64_rem(now - t->exp_time, t->count, &rem);
			t->exp_time = now + (t->count - rem);
		}
		hrtimer_start(&t->timer, hvl_stimer_deadline(know, t->exp_time - now),
			      HRTIMER_MODE_ABS);
		return;
	}
	t->exp_time = t->count;
	if (now >= t->count) {
		hvl_stimer_mark_pending(t, false);
		return;
	}
	hrtimer_start(&t->timer, hvl_stimer_deadline(know, t->count - now),
		      HRTIMER_MODE_ABS);
}

/* The expiration message: -EAGAIN while the slot is busy (retried on ack). */
static int hvl_stimer_send_msg(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
			       struct hvl_stimer *t)
{
	struct hv_message msg = {
		.header.message_type = HVMSG_TIMER_EXPIRED,
		.header.payload_size = sizeof(struct hv_timer_message_payload),
	};
	struct hv_timer_message_payload *p = (void *)msg.u.payload;

	p->timer_index = t->index;
	p->expiration_time = t->exp_time;
	p->delivery_time = hvl_reftime_now(vcpu, vm);
	/* Retrying periodic ticks would pile them up: drop one instead. */
	return hvl_synic_deliver_msg(vcpu, t->config.sintx, &msg,
				     t->config.periodic);
}

static void hvl_stimer_expire(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
			      struct hvl_stimer *t)
{
	int r = 0;

	t->msg_pending = true;
	/* A refused interrupt keeps the expiration pending, as in-tree. */
	if (t->config.direct_mode)
		r = !hvl_compat_apic_fixed(vcpu, t->config.apic_vector);
	else
		r = hvl_stimer_send_msg(vcpu, vm, t);
	hvl_state_count(vm, HVL_STAT_STIMER);
	if (!r) {
		t->msg_pending = false;
		if (!t->config.periodic)
			t->config.enable = 0;
	}
}

bool hvl_stimer_pending(struct kvm_vcpu *vcpu)
{
	struct hvl_vcpu *hv = hvl_state_vcpu_find(vcpu);

	return hv && READ_ONCE(hv->stimer_pending);
}

/* In the vCPU's context, before it enters the guest: due expirations. */
void hvl_stimer_process(struct kvm_vcpu *vcpu)
{
	struct hvl_stimer *t;
	struct hvl_vm *vm;
	struct hvl_vcpu *hv = hvl_state_find(vcpu, &vm);
	u64 now;
	int i;

	if (!hv)
		return;
	for (i = 0; i < HV_SYNIC_STIMER_COUNT; i++) {
		t = &hv->stimer[i];
		if (!test_and_clear_bit(i, &hv->stimer_pending))
			continue;
		atomic_dec(&hvl_stimer_pending_timers);
		if (!t->config.enable)
			continue;
		now = hvl_reftime_now(vcpu, vm);
		if (t->exp_time && now >= t->exp_time) {
			hvl_stimer_expire(vcpu, vm, t);
			/* Delivery may have taken a while: restart from now. */
			now = hvl_reftime_now(vcpu, vm);
		}
		if (t->config.enable && t->count) {
			if (!t->msg_pending)
				hvl_stimer_start(t, now);
		} else {
			hvl_stimer_cleanup(t);
		}
	}
}

/* The SINT a busy message slot waited on was acknowledged: retry. */
void hvl_stimer_acked(struct hvl_vcpu *hv, u32 sint)
{
	struct hvl_stimer *t;
	int i;

	for (i = 0; i < HV_SYNIC_STIMER_COUNT; i++) {
		t = &hv->stimer[i];
		if (t->msg_pending && t->config.enable &&
		    !t->config.direct_mode && t->config.sintx == sint)
			hvl_stimer_mark_pending(t, false);
	}
}

static int hvl_stimer_set_config(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv,
				 struct hvl_stimer *t, u64 data, bool host)
{
	union hv_stimer_config cfg = { .as_uint64 = data };

	if (!host && cfg.direct_mode &&
	    !hvl_cpuid_allowed(vcpu, hv, HVL_EDX(HV_STIMER_DIRECT_MODE_AVAILABLE)))
		return -EACCES;
	hvl_stimer_cleanup(t);
	/* Enabled without a SINT or direct mode, it would fire nowhere. */
	if (t->config.enable && !cfg.direct_mode && !cfg.sintx)
		cfg.enable = 0;
	t->config = cfg;
	if (t->config.enable)
		hvl_stimer_mark_pending(t, false);
	return 0;
}

static int hvl_stimer_set_count(struct hvl_stimer *t, u64 data, bool host)
{
	hvl_stimer_cleanup(t);
	t->count = data;
	/* A VMM restoring the count leaves the configuration alone. */
	if (!host) {
		if (!data)
			t->config.enable = 0;
		else if (t->config.auto_enable)
			t->config.enable = 1;
	}
	if (t->config.enable)
		hvl_stimer_mark_pending(t, false);
	return 0;
}

/* STIMERn_CONFIG at 0x400000B0 + 2n, STIMERn_COUNT after it. */
int hvl_stimer_set_msr(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 msr,
		       u64 data, bool host)
{
	u32 n = (msr - HV_X64_MSR_STIMER0_CONFIG) / 2;

	/* Without SynIC only a VMM's zero is taken (migration order). */
	if (!hvl_synic_active(hv) && (!host || data))
		return -EPERM;
	hv = hv ?: hvl_state_vcpu_get(vcpu);
	if (!hv)
		return -ENOMEM;
	if ((msr - HV_X64_MSR_STIMER0_CONFIG) % 2)
		return hvl_stimer_set_count(&hv->stimer[n], data, host);
	return hvl_stimer_set_config(vcpu, hv, &hv->stimer[n], data, host);
}

int hvl_stimer_get_msr(struct hvl_vcpu *hv, u32 msr, u64 *data)
{
	struct hvl_stimer *t;

	/* Readable without SynIC, as in-tree (enforcement aside). */
	*data = 0;
	if (!hv)
		return 0;
	t = &hv->stimer[(msr - HV_X64_MSR_STIMER0_CONFIG) / 2];
	*data = (msr - HV_X64_MSR_STIMER0_CONFIG) % 2 ? t->count :
		t->config.as_uint64;
	return 0;
}
