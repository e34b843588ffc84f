// SPDX-License-Identifier: GPL-2.0
/*
 * The overcommit spinlock scenario (see overcommit.h).  The guest half lives
 * here too: the library copies the whole binary into guest memory, so these
 * globals have the same address in the host and in the guest and
 * sync_global_to_guest()/sync_global_from_guest() work on them from here.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <time.h>

#include "overcommit.h"
#include "hvl_abi.h"

#define HOLD_LOOPS	20000	/* work inside the critical section */

static uint64_t lock_word;
static uint64_t shared_counter;
static uint64_t notify;		/* 0: spin only, 1: notify the hypervisor */
static uint64_t notifications;
static uint64_t wasted_spins;	/* reads of a held lock, all vCPUs */

uint64_t guest_hypercall(uint64_t control)
{
	uint64_t status = 0;

	GUEST_ASSERT_EQ(vmmcall_safe(control, 0, 0, &status), 0);
	return status;
}

static void spin_lock(void)
{
	uint64_t spins = 0, total = 0;

	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) {
		while (*(volatile uint64_t *)&lock_word) {
			total++;
			if (notify && ++spins >= OVERCOMMIT_SPIN_RETRIES) {
				GUEST_ASSERT_EQ(guest_hypercall(HVCALL_NOTIFY_LONG_SPIN_WAIT),
						HV_STATUS_SUCCESS);
				__atomic_fetch_add(&notifications, 1,
						   __ATOMIC_RELAXED);
				spins = 0;
			}
		}
	}
	__atomic_fetch_add(&wasted_spins, total, __ATOMIC_RELAXED);
}

static void lock_guest(uint64_t id, uint64_t rounds, uint64_t hyperv)
{
	volatile uint64_t x = 0;
	uint64_t i, j;

	if (id == 0 && hyperv)
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
	GUEST_SYNC(0);
	for (i = 0; i < rounds; i++) {
		spin_lock();
		/* Not atomic on purpose: the lock must protect it. */
		shared_counter++;
		for (j = 0; j < HOLD_LOOPS; j++)
			x += j;
		__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
	}
	GUEST_DONE();
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct runner {
	struct kvm_vcpu *vcpu;
	uint64_t cpu_ns;
};

static void *run_pinned(void *arg)
{
	struct runner *r = arg;
	cpu_set_t one;
	uint64_t t0;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(one), &one), "pin to CPU 0");
	t0 = thread_cpu_ns();
	TEST_ASSERT_EQ(vcpu_run(r->vcpu, NULL), UCALL_DONE);
	r->cpu_ns = thread_cpu_ns() - t0;
	return NULL;
}

void overcommit_run(bool with_notify, uint64_t rounds,
		    struct overcommit_result *res)
{
	struct runner run[OVERCOMMIT_VCPUS];
	struct kvm_vcpu *vcpus[OVERCOMMIT_VCPUS];
	pthread_t threads[OVERCOMMIT_VCPUS];
	bool hyperv = kvm_check_cap(KVM_CAP_HYPERV_CPUID) > 0;
	struct kvm_vm *vm;
	int i;

	TEST_ASSERT(hyperv || !with_notify,
		    "notification needs Hyper-V CPUID (KVM_CAP_HYPERV_CPUID)");
	vm = vm_create_with_vcpus(OVERCOMMIT_VCPUS, lock_guest, vcpus);
	notify = with_notify;
	sync_global_to_guest(vm, notify);
	for (i = 0; i < OVERCOMMIT_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 3, i, rounds, hyperv);
		if (hyperv)
			vcpu_set_hv_cpuid_retries(vcpus[i], OVERCOMMIT_SPIN_RETRIES);
	}
	/* vCPU 0 sets the guest OS ID first, which enables hypercalls. */
	TEST_ASSERT_EQ(vcpu_run(vcpus[0], NULL), UCALL_SYNC);
	for (i = 1; i < OVERCOMMIT_VCPUS; i++)
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], NULL), UCALL_SYNC);
	for (i = 0; i < OVERCOMMIT_VCPUS; i++) {
		run[i].vcpu = vcpus[i];
		TEST_ASSERT(!pthread_create(&threads[i], NULL, run_pinned, &run[i]),
			    "pthread_create");
	}
	res->cpu_ns = 0;
	for (i = 0; i < OVERCOMMIT_VCPUS; i++) {
		pthread_join(threads[i], NULL);
		res->cpu_ns += run[i].cpu_ns;
	}
	sync_global_from_guest(vm, shared_counter);
	sync_global_from_guest(vm, notifications);
	sync_global_from_guest(vm, wasted_spins);
	res->counter = shared_counter;
	res->notifications = notifications;
	res->spins = wasted_spins;
	vm_free(vm);
}
