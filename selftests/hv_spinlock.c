// SPDX-License-Identifier: GPL-2.0
/*
 * HvNotifyLongSpinWait and SMP guests: input validation, refusal when the
 * VMM did not offer it, VP indices and one clock on 4 vCPUs, and the
 * overcommit case it exists for: 4 vCPUs pinned to one host CPU taking turns
 * on a guest spinlock whose holder gets preempted. With notification after
 * a few spins the same work burns fewer spins on a held lock, counted by
 * the guest: the host CPU time of an emulated CPU (TCG) is too noisy to
 * decide the direction, so it is reported, and make bench measures it
 * under -icount.
 * The overcommit scenario is in lib/overcommit.c, shared with bench_spin.
 */
#include <stdlib.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"
#include "overcommit.h"

#define NR_VCPUS	OVERCOMMIT_VCPUS
#define ROUNDS		OVERCOMMIT_ROUNDS
#define SPIN_RETRIES	OVERCOMMIT_SPIN_RETRIES

/* Guest for the input checks: each call's status goes back via SYNC. */
static void status_guest(void)
{
	uint64_t ctl[] = {
		HVCALL_NOTIFY_LONG_SPIN_WAIT | (1ull << HV_HYPERCALL_REP_COMP_OFFSET),
		HVCALL_NOTIFY_LONG_SPIN_WAIT | (1ull << HV_HYPERCALL_REP_START_OFFSET),
		HVCALL_NOTIFY_LONG_SPIN_WAIT | (1ull << HV_HYPERCALL_VARHEAD_OFFSET),
		HVCALL_NOTIFY_LONG_SPIN_WAIT | (1ull << 31),
		HVCALL_NOTIFY_LONG_SPIN_WAIT,
		HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT,
	};
	uint64_t i;

	GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
	for (i = 0; i < ARRAY_SIZE(ctl); i++)
		GUEST_SYNC(guest_hypercall(ctl[i]));
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
	vcpu_set_hv_cpuid_retries(vcpu, retries);
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

	GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_VP_INDEX, &vp), 0);
	vp_seen[id] = vp;
	GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &t0), 0);
	GUEST_SYNC(t0);
	GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &t1), 0);
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
		vcpu_set_hv_cpuid_retries(vcpus[i], SPIN_RETRIES);
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

static void test_overcommit(void)
{
	struct overcommit_result so, no;

	overcommit_run(false, ROUNDS, &so);
	overcommit_run(true, ROUNDS, &no);
	tap_ok(so.counter == NR_VCPUS * ROUNDS && no.counter == NR_VCPUS * ROUNDS,
	       "the lock held: %llu and %llu of %d increments",
	       (unsigned long long)so.counter, (unsigned long long)no.counter,
	       NR_VCPUS * ROUNDS);
	tap_diag("overcommit, 4 vCPUs on 1 CPU: spin only %llu ms, with notification %llu ms of host CPU (%s)",
		 (unsigned long long)so.cpu_ns / 1000000,
		 (unsigned long long)no.cpu_ns / 1000000,
		 hv_env == HV_STOCK ? "in-tree Hyper-V" : "hvenlight");
	/*
	 * Without notification a waiter that never read the lock held means
	 * no vCPU was ever preempted inside its critical section: the
	 * scenario did not happen (in Bochs, in-tree Hyper-V alike, each
	 * vCPU ran its rounds to the end), and neither check can say more.
	 */
	if (!so.spins && !no.spins) {
		tap_skip("notifications only when enabled: no waiter ever found the lock held (0 spins with and without notification), no lock holder was preempted here");
		tap_skip("notification wastes fewer spins: no lock holder was preempted here (0 spins either way)");
		return;
	}
	tap_ok(!so.notifications && no.notifications,
	       "notifications only when enabled (%llu)",
	       (unsigned long long)no.notifications);
	tap_ok(no.spins < so.spins,
	       "notification wastes fewer spins on a held lock for the same work: %llu with, %llu without",
	       (unsigned long long)no.spins, (unsigned long long)so.spins);
}

int main(void)
{
	const uint64_t ok6[] = { 3, 3, 3, 3, 0, 0 };
	const uint64_t denied[] = { 6, 6, 6, 6, 6, 6 };

	kvm_require();
	hv_env_init();
	if (!kvm_check_cap(KVM_CAP_HYPERV_CPUID))
		tap_skip_all("no Hyper-V support in this KVM (is hvenlight loaded?)");

	/* Refused first: under enforcement, without a retry count offered. */
	TEST_RUN("enforced, retries 0xffffffff",
		 test_status(HVL_SPIN_RETRIES_NEVER, true, denied,
			     "enforced, retries 0xffffffff"));
	TEST_RUN("enforced, retries 0",
		 test_status(0, true, denied, "enforced, retries 0"));
	TEST_RUN("enforced, retries 64",
		 test_status(SPIN_RETRIES, true, ok6, "enforced, retries 64"));
	TEST_RUN("not enforced",
		 test_status(HVL_SPIN_RETRIES_NEVER, false, ok6, "not enforced"));
	TEST_RUN("4 vCPUs: VP indices and one reference clock", test_smp());
	TEST_RUN("overcommit: HvNotifyLongSpinWait", test_overcommit());
	return tap_done();
}
