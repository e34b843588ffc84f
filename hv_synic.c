// SPDX-License-Identifier: GPL-2.0
/*
 * The synthetic interrupt controller (SynIC): per-vCPU SCONTROL, SVERSION,
 * SIEFP, SIMP, EOM and SINT0-15, synthetic interrupts delivered to the
 * vCPU's in-kernel LAPIC, their acknowledgments (EOI of a SINT's vector,
 * EOM) and the connection IDs HvSignalEvent signals through an eventfd.
 * The message and event pages belong to the VMM: a guest's write of
 * SCONTROL, SIEFP or SIMP asks for KVM_EXIT_HYPERV_SYNIC.
 */
#include <linux/eventfd.h>
#include <linux/kvm_host.h>
#include "hvl.h"

/* vCPUs with an auto-EOI SINT: the interrupt-ack hook's filter reads it. */
atomic_t hvl_synic_aeoi_users = ATOMIC_INIT(0);
/* vCPUs with an active SynIC: EOIs are looked at only while there are. */
atomic_t hvl_synic_users = ATOMIC_INIT(0);

void hvl_synic_init(struct hvl_synic *s)
{
	int i;

	s->version = HV_SYNIC_VERSION_1;
	for (i = 0; i < HVL_SYNIC_SINTS; i++) {
		atomic64_set(&s->sint[i], HV_SYNIC_SINT_MASKED);
		atomic_set(&s->sint_to_gsi[i], -1);
	}
}

static int hvl_synic_vector(u64 sint)
{
	if (sint & HV_SYNIC_SINT_MASKED)
		return -1;
	return sint & HV_SYNIC_SINT_VECTOR_MASK;
}

/*
 * KVM_CAP_HYPERV_SYNIC(2) on a vCPU with an in-kernel irqchip;
 * dont_zero: SYNIC2, the guest's pages are not cleared when it enables
 * them.
 */
int hvl_synic_activate(struct kvm_vcpu *vcpu, bool dont_zero)
{
	struct hvl_vcpu *hv;

	if (!hvl_compat_irqchip_in_kernel(vcpu->kvm))
		return -EINVAL;
	hv = hvl_state_vcpu_get(vcpu);
	if (!hv)
		return -ENOMEM;
	hv->synic.dont_zero = dont_zero;
	hv->synic.control = HV_SYNIC_CONTROL_ENABLE;
	if (!hv->synic.active)
		atomic_inc(&hvl_synic_users);
	WRITE_ONCE(hv->synic.active, true);
	return 0;
}

bool hvl_synic_active(const struct hvl_vcpu *hv)
{
	return hv && READ_ONCE(hv->synic.active);
}

/*
 * A vCPU with an unmasked SINT keeps APICv inhibited in its VM: KVM
 * without Hyper-V cannot put SINT vectors in the EOI-exit bitmap, and an
 * EOI the hardware completes alone would never acknowledge the SINT. The
 * same covers auto-EOI, which needs every SINT interrupt acked by KVM.
 */
static void hvl_synic_update_vectors(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				     struct hvl_synic *s)
{
	/* Zeroed below: not twice. */
	DECLARE_BITMAP(vec, 256) __uninitialized;
	DECLARE_BITMAP(aeoi, 256) __uninitialized;
	bool used, had_aeoi, has_aeoi;
	int i, v;
	u64 sint;

	bitmap_zero(vec, 256);
	bitmap_zero(aeoi, 256);
	for (i = 0; i < HVL_SYNIC_SINTS; i++) {
		sint = atomic64_read(&s->sint[i]);
		v = hvl_synic_vector(sint);
		if (v < HV_SYNIC_FIRST_VALID_VECTOR)
			continue;
		__set_bit(v, vec);
		if (sint & HV_SYNIC_SINT_AUTO_EOI)
			__set_bit(v, aeoi);
	}
	had_aeoi = !bitmap_empty(s->auto_eoi, 256);
	has_aeoi = !bitmap_empty(aeoi, 256);
	bitmap_copy(s->vectors, vec, 256);
	bitmap_copy(s->auto_eoi, aeoi, 256);
	if (had_aeoi != has_aeoi)
		atomic_add(has_aeoi ? 1 : -1, &hvl_synic_aeoi_users);

	used = !bitmap_empty(vec, 256);
	if (used == s->apicv_inhibit)
		return;
	s->apicv_inhibit = used;
	mutex_lock(&vm->lock);
	vm->synic_inhibits += used ? 1 : -1;
	hvl_compat_apicv_inhibit(vcpu->kvm, vm->synic_inhibits);
	mutex_unlock(&vm->lock);
}

static int hvl_synic_set_sint(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
			      struct hvl_synic *s, int sint, u64 data,
			      bool host)
{
	bool masked = data & HV_SYNIC_SINT_MASKED;

	/*
	 * Vectors 0-15 are invalid, but nested Hyper-V writes the default
	 * 0x10000 (masked) at boot and a VMM may zero the register.
	 */
	if ((data & HV_SYNIC_SINT_VECTOR_MASK) < HV_SYNIC_FIRST_VALID_VECTOR &&
	    !host && !masked)
		return -EINVAL;
	atomic64_set(&s->sint[sint], data);
	hvl_synic_update_vectors(vcpu, vm, s);
	return 0;
}

/* Let the VMM see a page or control change (KVM_EXIT_HYPERV_SYNIC). */
static void hvl_synic_exit(struct hvl_vcpu *hv, u32 msr)
{
	struct kvm_hyperv_exit e = { .type = KVM_EXIT_HYPERV_SYNIC };

	e.u.synic.msr = msr;
	e.u.synic.control = hv->synic.control;
	e.u.synic.evt_page = hv->synic.evt_page;
	e.u.synic.msg_page = hv->synic.msg_page;
	hvl_state_exit_request(hv, HVL_EXIT_HYPERV, &e);
}

/*
 * A page the guest enables is cleared first, except with SYNIC2 (SIEFP's
 * and SIMP's enable bits are both bit 0).
 */
static int hvl_synic_set_page(struct kvm_vcpu *vcpu, struct hvl_synic *s,
			      u64 *page, u64 data, bool host)
{
	if ((data & HV_SYNIC_SIMP_ENABLE) && !host && !s->dont_zero &&
	    kvm_clear_guest(vcpu->kvm, data & PAGE_MASK, PAGE_SIZE))
		return -EFAULT;
	*page = data;
	return 0;
}

/*
 * The guest acknowledged what SINT sint delivered: tell the route's
 * resampling irqfd, if the VMM connected one.
 */
static void hvl_synic_acked(struct kvm_vcpu *vcpu, struct hvl_synic *s,
			    int sint)
{
	int gsi = atomic_read(&s->sint_to_gsi[sint]);

	hvl_stimer_acked(container_of(s, struct hvl_vcpu, synic), sint);
	if (gsi != -1)
		hvl_compat_notify_acked_gsi(vcpu->kvm, gsi);
}

int hvl_synic_set_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
		      struct hvl_vcpu *hv, u32 msr, u64 data, bool host)
{
	struct hvl_synic *s;
	int i, r = 0;

	/* Before activation only the VMM may write, and only zero. */
	if (!hvl_synic_active(hv) && (!host || data))
		return -EPERM;
	hv = hv ?: hvl_state_vcpu_get(vcpu);
	vm = vm ?: hvl_state_vm_get(vcpu->kvm);
	if (!hv || !vm)
		return -ENOMEM;
	s = &hv->synic;

	switch (msr) {
	case HV_X64_MSR_SCONTROL:
		s->control = data;
		break;
	case HV_X64_MSR_SVERSION:
		if (!host)
			return -EPERM;
		s->version = data;
		return 0;
	case HV_X64_MSR_SIEFP:
		r = hvl_synic_set_page(vcpu, s, &s->evt_page, data, host);
		break;
	case HV_X64_MSR_SIMP:
		r = hvl_synic_set_page(vcpu, s, &s->msg_page, data, host);
		break;
	case HV_X64_MSR_EOM:
		for (i = 0; hvl_synic_active(hv) && i < HVL_SYNIC_SINTS; i++)
			hvl_synic_acked(vcpu, s, i);
		return 0;
	case HV_X64_MSR_SINT0 ... HV_X64_MSR_SINT15:
		return hvl_synic_set_sint(vcpu, vm, s, msr - HV_X64_MSR_SINT0,
					  data, host);
	default:
		return -EINVAL;
	}
	if (!r && !host)
		hvl_synic_exit(hv, msr);
	return r;
}

int hvl_synic_get_msr(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 msr,
		      u64 *data, bool host)
{
	/* Set up below only where used: no zeroing on every read. */
	struct hvl_synic fresh __uninitialized, *s = &fresh;

	if (!hvl_synic_active(hv) && !host)
		return -EPERM;
	/* A vCPU without state reads what a fresh SynIC holds. */
	if (hv) {
		s = &hv->synic;
	} else {
		memset(&fresh, 0, sizeof(fresh));
		hvl_synic_init(&fresh);
	}

	switch (msr) {
	case HV_X64_MSR_SCONTROL:
		*data = s->control;
		return 0;
	case HV_X64_MSR_SVERSION:
		*data = s->version;
		return 0;
	case HV_X64_MSR_SIEFP:
		*data = s->evt_page;
		return 0;
	case HV_X64_MSR_SIMP:
		*data = s->msg_page;
		return 0;
	case HV_X64_MSR_EOM:
		*data = 0;
		return 0;
	case HV_X64_MSR_SINT0 ... HV_X64_MSR_SINT15:
		*data = atomic64_read(&s->sint[msr - HV_X64_MSR_SINT0]);
		return 0;
	}
	return -EINVAL;
}

/* The vCPU of a VP index, or NULL (in-tree get_vcpu_by_vpidx()). */
static struct kvm_vcpu *hvl_synic_vcpu(struct kvm *kvm, struct hvl_vm *vm,
				       u32 vp_index)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	if (vp_index >= KVM_MAX_VCPUS)
		return NULL;
	vcpu = kvm_get_vcpu(kvm, vp_index);
	if (vcpu && hvl_state_vp_index(vm, vcpu) == vp_index)
		return vcpu;
	kvm_for_each_vcpu(i, vcpu, kvm)
		if (hvl_state_vp_index(vm, vcpu) == vp_index)
			return vcpu;
	return NULL;
}

/* The active SynIC of a VP, or NULL. */
static struct hvl_vcpu *hvl_synic_find(struct kvm *kvm, struct hvl_vm *vm,
				       u32 vp_index, struct kvm_vcpu **vcpu)
{
	struct hvl_vcpu *hv;

	*vcpu = hvl_synic_vcpu(kvm, vm, vp_index);
	hv = *vcpu ? hvl_state_vcpu_find_in(vm, *vcpu) : NULL;
	return hvl_synic_active(hv) ? hv : NULL;
}

/*
 * Raise SINT sint of an active SynIC: 1, 0 when the LAPIC refused it, or
 * -ENOENT while the SINT is masked.
 */
static int hvl_synic_raise(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 sint)
{
	int vector = hvl_synic_vector(atomic64_read(&hv->synic.sint[sint]));

	if (vector < 0)
		return -ENOENT;
	return hvl_compat_apic_fixed(vcpu, vector);
}

/*
 * Raise SINT sint of a VP: its vector to the vCPU's LAPIC. 1, 0 when the
 * LAPIC refused it, -ENOENT while the SINT is masked, -EINVAL without an
 * active SynIC. Any context.
 */
int hvl_synic_set_irq(struct kvm *kvm, u32 vp_index, u32 sint)
{
	struct hvl_vm *vm = hvl_state_vm_find(kvm);
	struct kvm_vcpu *vcpu;
	struct hvl_vcpu *hv;

	if (!vm || sint >= HVL_SYNIC_SINTS)
		return -EINVAL;
	hv = hvl_synic_find(kvm, vm, vp_index, &vcpu);
	if (!hv)
		return -EINVAL;
	return hvl_synic_raise(vcpu, hv, sint);
}

/*
 * Post a message in the vCPU's message page, slot sint, and raise the
 * SINT; in the vCPU's context. A busy slot gets its msg_pending flag, so
 * that the guest writes EOM when it frees it: -EAGAIN (retry on the ack),
 * or 0 with no_retry (the message is dropped).
 */
int hvl_synic_deliver_msg(struct kvm_vcpu *vcpu, u32 sint,
			  const struct hv_message *msg, bool no_retry)
{
	int off = offsetof(struct hv_message_page, sint_message[sint]);
	struct hvl_vcpu *hv = hvl_state_vcpu_find(vcpu);
	union hv_message_flags flags = { .msg_pending = 1 };
	u32 type;
	gfn_t gfn;
	int r;

	if (!hvl_synic_active(hv) || sint >= HVL_SYNIC_SINTS ||
	    !(hv->synic.msg_page & HV_SYNIC_SIMP_ENABLE))
		return -ENOENT;
	gfn = hv->synic.msg_page >> PAGE_SHIFT;
	r = kvm_vcpu_read_guest_page(vcpu, gfn, &type, off +
				     offsetof(struct hv_message, header.message_type),
				     sizeof(type));
	if (r < 0)
		return r;
	if (type != HVMSG_NONE) {
		if (no_retry)
			return 0;
		r = kvm_vcpu_write_guest_page(vcpu, gfn, &flags, off +
					      offsetof(struct hv_message,
						       header.message_flags),
					      sizeof(flags));
		return r < 0 ? r : -EAGAIN;
	}
	r = kvm_vcpu_write_guest_page(vcpu, gfn, msg, off, sizeof(msg->header) +
				      msg->header.payload_size);
	if (r < 0)
		return r;
	/* Written but refused by the LAPIC: retried on the SINT's ack. */
	r = hvl_synic_raise(vcpu, hv, sint);
	if (r < 0)
		return r;
	return r ? 0 : -EFAULT;
}

/* A KVM_IRQ_ROUTING_HV_SINT route on gsi: its acks go to that GSI. */
void hvl_synic_route(struct kvm *kvm, u32 vp_index, u32 sint, int gsi)
{
	struct hvl_vm *vm = hvl_state_vm_find(kvm);
	struct kvm_vcpu *vcpu;
	struct hvl_vcpu *hv;

	hv = vm ? hvl_synic_find(kvm, vm, vp_index, &vcpu) : NULL;
	if (hv && sint < HVL_SYNIC_SINTS)
		atomic_set(&hv->synic.sint_to_gsi[sint], gsi);
}

/* The guest EOIed vector: acknowledge every SINT that uses it. Atomic. */
void hvl_synic_eoi(struct kvm_vcpu *vcpu, int vector)
{
	struct hvl_vcpu *hv = hvl_state_vcpu_find(vcpu);
	int i;

	if (!hvl_synic_active(hv) || vector < 0 || vector > 255 ||
	    !test_bit(vector, hv->synic.vectors))
		return;
	for (i = 0; i < HVL_SYNIC_SINTS; i++)
		if (hvl_synic_vector(atomic64_read(&hv->synic.sint[i])) == vector)
			hvl_synic_acked(vcpu, &hv->synic, i);
}

/* The vCPU goes away: it no longer counts as a SynIC user. Atomic. */
void hvl_synic_free(struct hvl_vcpu *hv)
{
	if (!bitmap_empty(hv->synic.auto_eoi, 256))
		atomic_dec(&hvl_synic_aeoi_users);
	if (hv->synic.active)
		atomic_dec(&hvl_synic_users);
}

/* Is vector one of the vCPU's auto-EOI SINT vectors? */
bool hvl_synic_auto_eoi(struct kvm_vcpu *vcpu, int vector)
{
	struct hvl_vcpu *hv = hvl_state_vcpu_find(vcpu);

	return hvl_synic_active(hv) && vector >= 0 && vector < 256 &&
	       test_bit(vector, hv->synic.auto_eoi);
}

/* HvSignalEvent's fast path: the eventfd the VMM put on a connection. */
int hvl_synic_signal(struct hvl_vm *vm, u32 conn_id)
{
	struct eventfd_ctx *eventfd;

	if (!vm)
		return -ENOENT;
	rcu_read_lock();
	eventfd = idr_find(&vm->conn_to_evt, conn_id);
	if (eventfd)
		eventfd_signal(eventfd);
	rcu_read_unlock();
	return eventfd ? 0 : -ENOENT;
}

/* KVM_HYPERV_EVENTFD: connect conn_id to fd, or disconnect it. */
int hvl_synic_eventfd(struct kvm *kvm, u32 conn_id, int fd, bool deassign)
{
	struct hvl_vm *vm = hvl_state_vm_get(kvm);
	struct eventfd_ctx *eventfd;
	int r;

	if (!vm)
		return -ENOMEM;
	if (deassign) {
		mutex_lock(&vm->lock);
		eventfd = idr_remove(&vm->conn_to_evt, conn_id);
		mutex_unlock(&vm->lock);
		if (!eventfd)
			return -ENOENT;
		/* HvSignalEvent finds it under RCU, hypercalls under srcu. */
		synchronize_rcu();
		eventfd_ctx_put(eventfd);
		return 0;
	}
	eventfd = eventfd_ctx_fdget(fd);
	if (IS_ERR(eventfd))
		return PTR_ERR(eventfd);
	mutex_lock(&vm->lock);
	r = idr_alloc(&vm->conn_to_evt, eventfd, conn_id, conn_id + 1,
		      GFP_KERNEL_ACCOUNT);
	mutex_unlock(&vm->lock);
	if (r >= 0)
		return 0;
	eventfd_ctx_put(eventfd);
	return r == -ENOSPC ? -EEXIST : r;
}
