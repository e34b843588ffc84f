// SPDX-License-Identifier: GPL-2.0
#include <sys/ioctl.h>

#include "reftime.h"
#include "hvl_abi.h"

bool ref_page_read(const struct hv_tsc_page *p, uint64_t *t, uint64_t *tscp,
		   uint32_t *seqp)
{
	uint64_t scale, tsc;
	int64_t offset;
	uint32_t seq;

	do {
		seq = p->seq;
		if (!seq)
			return false;
		barrier();
		scale = p->scale;
		offset = p->offset;
		tsc = rdtsc_ordered();
		barrier();
	} while (p->seq != seq);
	*t = hvl_tsc_to_ref(tsc, scale, offset);
	if (tscp)
		*tscp = tsc;
	if (seqp)
		*seqp = seq;
	return true;
}

void ref_take_sample(const struct hv_tsc_page *p, struct ref_sample *s)
{
	uint32_t seq1, seq2;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		if (!ref_page_read(p, &s->t1, NULL, &seq1)) {
			s->m = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
			s->t1 = s->t2 = s->m;
			s->seq = 0;
			return;
		}
		s->m = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
		if (ref_page_read(p, &s->t2, NULL, &seq2) && seq1 == seq2) {
			s->seq = seq1;
			return;
		}
	}
	GUEST_FAIL("the reference TSC page kept changing");
}

struct kvm_clock_data vm_get_clock(struct kvm_vm *vm)
{
	struct kvm_clock_data c = {};

	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_CLOCK, &c), "KVM_GET_CLOCK");
	return c;
}

uint64_t vm_clock_ns(struct kvm_vm *vm)
{
	return vm_get_clock(vm).clock;
}

uint64_t vm_clock_ns_try(struct kvm_vm *vm)
{
	struct kvm_clock_data c = {};

	return ioctl(vm->fd, KVM_GET_CLOCK, &c) ? 0 : c.clock;
}

bool vm_clock_stable(struct kvm_vm *vm)
{
	return vm_get_clock(vm).flags & KVM_CLOCK_TSC_STABLE;
}

void vm_set_clock_rel(struct kvm_vm *vm, int64_t ns)
{
	struct kvm_clock_data c = vm_get_clock(vm);

	c.clock += ns;
	/* KVM adds the realtime that passes from GET to SET. */
	c.flags &= KVM_CLOCK_REALTIME;
	TEST_ASSERT(!ioctl(vm->fd, KVM_SET_CLOCK, &c), "KVM_SET_CLOCK");
}

int vm_set_clock_abs(struct kvm_vm *vm, uint64_t ns)
{
	struct kvm_clock_data c = { .clock = ns };

	return ioctl(vm->fd, KVM_SET_CLOCK, &c);
}
