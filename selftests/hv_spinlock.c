// SPDX-License-Identifier: GPL-2.0
/*
 * HvNotifyLongSpinWait and SMP guests: input validation, refusal when the
 * VMM did not offer it, VP indices and one clock on 4 vCPUs, and the
 * overcommit case it exists for: 4 vCPUs pinned to one host CPU taking turns
 * on a guest spinlock whose holder gets preempted. With notification after
 * a few spins the same work needs less host CPU time than plain spinning.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hvl_abi.h"

#define NR_VCPUS	4
#define ROUNDS		200	/* lock acquisitions per vCPU */
#define HOLD_LOOPS	20000	/* work inside the critical section */
#define SPIN_RETRIES	64	/* spins before notifying */

static uint64_t lock_word;
static uint64_t shared_counter;
static uint64_t notify;		/* 0: spin only, 1: notify the hypervisor */
static uint64_t notifications;

static uint64_t hypercall(uint64_t control)
{
	uint64_t status = 0;

	GUEST_ASSERT_EQ(vmmcall_safe(control, 0, 0, &status), 0);
	return status;
}

static void spin_lock(void)
{
	uint64_t spins = 0;

	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) {
		while (*(volatile uint64_t *)&lock_word) {
			if (notify && ++spins >= SPIN_RETRIES) {
				GUEST_ASSERT_EQ(hypercall(HVL_HC_NOTIFY_LONG_SPIN_WAIT),
						HVL_STATUS_SUCCESS);
				__atomic_fetch_add(&notifications, 1,
						   __ATOMIC_RELAXED);
				spins = 0;
			}
		}
	}
}

static void lock_guest(uint64_t id)
{
	volatile uint64_t x = 0;
	uint64_t i, j;

	if (id == 0)
		GUEST_ASSERT_EQ(wrmsr_safe(HVL_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
	GUEST_SYNC(0);
	for (i = 0; i < ROUNDS; i++) {
		spin_lock();
		/* Not atomic on purpose: the lock must protect it. */
		shared_counter++;
		for (j = 0; j < HOLD_LOOPS; j++)
			x += j;
		__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
	}
	GUEST_DONE();
}

static void vcpu_set_hv_cpuid(struct kvm_vcpu *vcpu, uint32_t retries)
{
	struct {
		struct kvm_cpuid2 hdr;
		struct kvm_cpuid_entry2 e[16];
	} c = { .hdr.nent = 16 };
	unsigned int i;

	TEST_ASSERT(!ioctl(kvm_fd(), KVM_GET_SUPPORTED_HV_CPUID, &c),
		    "KVM_GET_SUPPORTED_HV_CPUID");
	for (i = 0; i < c.hdr.nent; i++) {
		if (c.e[i].function == HVL_CPUID_ENLIGHTENMENTS)
			c.e[i].ebx = retries;
		vcpu_set_cpuid_entry(vcpu, &c.e[i]);
	}
}

static uint64_t thread_cpu_ns(void)
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

/* One overcommitted run; returns the vCPU threads' host CPU time. */
static uint64_t overcommit_run(bool with_notify, uint64_t *counter,
			       uint64_t *nr_notify)
{
	struct runner run[NR_VCPUS];
	struct kvm_vcpu *vcpus[NR_VCPUS];
	pthread_t threads[NR_VCPUS];
	struct kvm_vm *vm;
	uint64_t total = 0;
	int i;

	vm = vm_create_with_vcpus(NR_VCPUS, lock_guest, vcpus);
	notify = with_notify;
	sync_global_to_guest(vm, notify);
	for (i = 0; i < NR_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 1, (uint64_t)i);
		vcpu_set_hv_cpuid(vcpus[i], SPIN_RETRIES);
	}
	/* vCPU 0 sets the guest OS ID first, which enables hypercalls. */
	TEST_ASSERT_EQ(vcpu_run(vcpus[0], NULL), UCALL_SYNC);
	for (i = 1; i < NR_VCPUS; i++)
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], NULL), UCALL_SYNC);
	for (i = 0; i < NR_VCPUS; i++) {
		run[i].vcpu = vcpus[i];
		pthread_create(&threads[i], NULL, run_pinned, &run[i]);
	}
	for (i = 0; i < NR_VCPUS; i++) {
		pthread_join(threads[i], NULL);
		total += run[i].cpu_ns;
	}
	sync_global_from_guest(vm, shared_counter);
	sync_global_from_guest(vm, notifications);
	*counter = shared_counter;
	*nr_notify = notifications;
	vm_free(vm);
	return total;
}

/* Guest for the input checks: each call's status goes back via SYNC. */
static void status_guest(void)
{
	uint64_t ctl[] = {
		HVL_HC_NOTIFY_LONG_SPIN_WAIT | (1ull << HVL_HC_REP_COUNT_SHIFT),
		HVL_HC_NOTIFY_LONG_SPIN_WAIT | (1ull << HVL_HC_REP_START_SHIFT),
		HVL_HC_NOTIFY_LONG_SPIN_WAIT | (1ull << HVL_HC_VARHEAD_SHIFT),
		HVL_HC_NOTIFY_LONG_SPIN_WAIT | (1ull << 31),
		HVL_HC_NOTIFY_LONG_SPIN_WAIT,
		HVL_HC_NOTIFY_LONG_SPIN_WAIT | HVL_HC_FAST,
	};
	uint64_t i;

	GUEST_ASSERT_EQ(wrmsr_safe(HVL_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
	for (i = 0; i < ARRAY_SIZE(ctl); i++)
		GUEST_SYNC(hypercall(ctl[i]));
	GUEST_DONE();
}

static void test_status(uint32_t retries, bool enforce, const uint64_t *want,
			const char *what)
{
	static const char *const names[] = {
		"rep count", "rep start", "variable header", "reserved bit 31",
		"plain call", "fast call",
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	unsigned int i;

	vm = vm_create_with_vcpus(1, status_guest, &vcpu);
	if (enforce)
		TEST_ASSERT(!vcpu_enable_cap(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
			    "KVM_CAP_HYPERV_ENFORCE_CPUID");
	vcpu_set_hv_cpuid(vcpu, retries);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
		tap_ok(uc.args[0] == want[i], "%s, %s: status %llu (want %llu)",
		       what, names[i], (unsigned long long)uc.args[0],
		       (unsigned long long)want[i]);
	}
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	vm_free(vm);
}

/* SMP sanity: distinct VP indices 0-3 and one reference clock. */
static uint64_t vp_seen[NR_VCPUS];

static void smp_guest(uint64_t id)
{
	uint64_t vp, t0, t1;

	GUEST_ASSERT_EQ(rdmsr_safe(HVL_MSR_VP_INDEX, &vp), 0);
	vp_seen[id] = vp;
	GUEST_ASSERT_EQ(rdmsr_safe(HVL_MSR_TIME_REF_COUNT, &t0), 0);
	GUEST_SYNC(t0);
	GUEST_ASSERT_EQ(rdmsr_safe(HVL_MSR_TIME_REF_COUNT, &t1), 0);
	GUEST_SYNC(t1);
	GUEST_DONE();
}

static void test_smp(void)
{
	struct kvm_vcpu *vcpus[NR_VCPUS];
	uint64_t first[NR_VCPUS], max_first = 0;
	struct kvm_vm *vm;
	struct ucall uc;
	bool distinct = true, ordered = true;
	int i, j;

	vm = vm_create_with_vcpus(NR_VCPUS, smp_guest, vcpus);
	for (i = 0; i < NR_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 1, (uint64_t)i);
		vcpu_set_hv_cpuid(vcpus[i], SPIN_RETRIES);
	}
	/* Every vCPU's first read, then every second read: all later. */
	for (i = 0; i < NR_VCPUS; i++) {
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], &uc), UCALL_SYNC);
		first[i] = uc.args[0];
		if (first[i] > max_first)
			max_first = first[i];
	}
	for (i = 0; i < NR_VCPUS; i++) {
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], &uc), UCALL_SYNC);
		ordered &= uc.args[0] >= max_first;
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], NULL), UCALL_DONE);
	}
	sync_global_from_guest(vm, vp_seen);
	for (i = 0; i < NR_VCPUS; i++) {
		distinct &= vp_seen[i] == (uint64_t)i;
		for (j = 0; j < i; j++)
			distinct &= vp_seen[i] != vp_seen[j];
	}
	tap_ok(distinct, "4 vCPUs read VP indices 0-3, all distinct");
	tap_ok(ordered, "every vCPU's later TIME_REF_COUNT read is after all first reads");
	vm_free(vm);
}

int main(void)
{
	const uint64_t ok6[] = { 3, 3, 3, 3, 0, 0 };
	const uint64_t denied[] = { 6, 6, 6, 6, 6, 6 };
	uint64_t spin_ns, notify_ns, c1, c2, n1, n2;
	bool stock = getenv("HVL_KERNEL") && !strcmp(getenv("HVL_KERNEL"), "stock");

	kvm_require();
	if (!kvm_check_cap(KVM_CAP_HYPERV_CPUID))
		tap_skip_all("no Hyper-V support in this KVM (is hvenlight loaded?)");

	/* Refused first: under enforcement, without a retry count offered. */
	test_status(HVL_SPIN_RETRIES_NEVER, true, denied,
		    "enforced, retries 0xffffffff");
	test_status(0, true, denied, "enforced, retries 0");
	test_status(SPIN_RETRIES, true, ok6, "enforced, retries 64");
	test_status(HVL_SPIN_RETRIES_NEVER, false, ok6, "not enforced");

	test_smp();

	spin_ns = overcommit_run(false, &c1, &n1);
	notify_ns = overcommit_run(true, &c2, &n2);
	tap_ok(c1 == NR_VCPUS * ROUNDS && c2 == NR_VCPUS * ROUNDS,
	       "the lock held: %llu and %llu of %d increments",
	       (unsigned long long)c1, (unsigned long long)c2,
	       NR_VCPUS * ROUNDS);
	tap_ok(!n1 && n2, "notifications only when enabled (%llu)",
	       (unsigned long long)n2);
	tap_diag("overcommit, 4 vCPUs on 1 CPU: spin only %llu ms, with notification %llu ms of host CPU (%s)",
		 (unsigned long long)spin_ns / 1000000,
		 (unsigned long long)notify_ns / 1000000,
		 stock ? "in-tree Hyper-V" : "hvenlight");
	tap_ok(notify_ns < spin_ns,
	       "notification saves host CPU time for the same work");
	return tap_done();
}
