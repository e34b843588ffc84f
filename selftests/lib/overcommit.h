/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The overcommit spinlock scenario HvNotifyLongSpinWait exists for, shared
 * by the hv_spinlock test and the bench_spin benchmark: OVERCOMMIT_VCPUS
 * vCPUs pinned to host CPU 0 take turns on a test-and-set lock in guest
 * memory, so a waiter often spins while the holder is preempted.  With
 * notification the waiters call the hypervisor after OVERCOMMIT_SPIN_RETRIES
 * spins instead of burning their whole time slice.
 */
#ifndef HVL_OVERCOMMIT_H
#define HVL_OVERCOMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_util.h"
#include "hv.h"

#define OVERCOMMIT_VCPUS	4
#define OVERCOMMIT_ROUNDS	200	/* hv_spinlock's lock acquisitions per vCPU */
#define OVERCOMMIT_SPIN_RETRIES	64	/* spins before notifying */

/* Guest: a hypercall without input or output; asserts it did not fault. */
uint64_t guest_hypercall(uint64_t control);

/* CLOCK_THREAD_CPUTIME_ID of the calling thread, in ns. */
uint64_t thread_cpu_ns(void);

struct overcommit_result {
	uint64_t cpu_ns;	/* the vCPU threads' summed host CPU time */
	uint64_t counter;	/* critical sections the guest completed */
	uint64_t notifications;	/* HvNotifyLongSpinWait calls */
	uint64_t spins;		/* reads of a held lock, all vCPUs together */
};

/*
 * One overcommitted run in a fresh VM: each vCPU takes the lock rounds
 * times; counter is OVERCOMMIT_VCPUS * rounds if the lock held. spins is
 * the host CPU burnt waiting as a count, free of the time accounting
 * noise of an emulated CPU. Without KVM_CAP_HYPERV_CPUID (plain KVM) the
 * vCPUs get no Hyper-V CPUID and only with_notify == false works.
 */
void overcommit_run(bool with_notify, uint64_t rounds,
		    struct overcommit_result *res);

#endif
