/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reference time helpers shared by hv_clockstep and hv_fuzz: the guest's
 * view of the reference TSC page and TIME_REF_COUNT, and the VMM's
 * KVM_GET_CLOCK/KVM_SET_CLOCK.
 */
#ifndef HVL_SELFTEST_REFTIME_H
#define HVL_SELFTEST_REFTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_util.h"

/* The page's header, as the guest reads it. */
struct hv_tsc_page {
	volatile uint32_t seq;
	uint32_t reserved;
	volatile uint64_t scale;
	volatile int64_t offset;
};

/* One page / MSR / page triple: the MSR read lies between the two. */
struct ref_sample {
	uint64_t seq;	/* 0: the page was invalid, t1 = t2 = MSR */
	uint64_t t1;	/* page before */
	uint64_t m;	/* TIME_REF_COUNT */
	uint64_t t2;	/* page after */
};

#define barrier()	asm volatile("" ::: "memory")

/* RDTSC after every earlier load: "lfence; rdtsc" as Linux's rdtsc_ordered. */
static inline uint64_t rdtsc_ordered(void)
{
	uint32_t lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

/*
 * Guest: read the page with the TLFS protocol: false when the sequence is
 * 0 (invalid, the guest must use the MSR); else the time, and where asked
 * the TSC it was computed from and the sequence.
 */
bool ref_page_read(const struct hv_tsc_page *p, uint64_t *t, uint64_t *tscp,
		   uint32_t *seq);
/* Guest: a sample; retried while the page changes under it. */
void ref_take_sample(const struct hv_tsc_page *p, struct ref_sample *s);

/* Host: KVM_GET_CLOCK, asserting that it works. */
struct kvm_clock_data vm_get_clock(struct kvm_vm *vm);
/* Host: KVM's clock for the VM (ns), as KVM_GET_CLOCK reads it. */
uint64_t vm_clock_ns(struct kvm_vm *vm);
/* The same, 0 when KVM_GET_CLOCK fails (the VM's fd is gone). */
uint64_t vm_clock_ns_try(struct kvm_vm *vm);
/* Host: is the VM on KVM's masterclock (the page is valid only then)? */
bool vm_clock_stable(struct kvm_vm *vm);
/* Host: KVM_SET_CLOCK to now + ns (realtime-corrected when KVM can). */
void vm_set_clock_rel(struct kvm_vm *vm, int64_t ns);
/* Host: KVM_SET_CLOCK to an absolute ns value; returns the ioctl result. */
int vm_set_clock_abs(struct kvm_vm *vm, uint64_t ns);

#endif
