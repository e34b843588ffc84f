// SPDX-License-Identifier: GPL-2.0
/*
 * Partition reference time against KVM's clock:
 *   (6) KVM_SET_CLOCK +1 s / -1 s: page and MSR take the step KVM made to
 *       kvmclock (the asked one within 1 %), and agree; the MSR alone
 *       follows too while the page is disabled;
 *   (7) without KVM's masterclock the page is invalid (sequence 0) and the
 *       MSR still counts at 10 MHz, monotonically.
 * Tolerances as in hv_reftime: page vs MSR 100 us, rates 0.1 %, not
 * widened for TCG.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there); "nohv" without the module
 * checks plain KVM where that is meaningful and SKIPs the rest.
 */
#include "hv_reftime.h"

/* ---- (6) KVM_SET_CLOCK forward and back ---- */

/* KVM's step must be the asked one this closely: it is real, not noise. */
#define STEP_SLACK	(STEP_UNITS / 100)

static void setclock_guest(uint64_t gpa, uint64_t kvgpa)
{
	const struct hv_tsc_page *p = (const void *)gpa;
	const struct pvclock_area *kv = (const void *)kvgpa;
	struct sample s;
	int tries;

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, kvgpa | 1);
	wrmsr(MSR_REF_TSC, gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE);
	for (;;) {
		for (tries = 0; !take_sample(p, &s); tries++)
			GUEST_ASSERT(tries < 100);
		GUEST_SYNC(s.seq, s.tsc1, s.t1, s.m, s.t2,
			   kvmclock_at(kv, s.tsc1));
	}
}

/*
 * A 1-vCPU Hyper-V VM running guest(page GPA, kvmclock area GPA), run to
 * its first GUEST_SYNC (in *uc), with the vCPU's TSC kHz in *khz; skips the
 * scenario where KVM cannot step the clock exactly.
 */
static struct kvm_vm *setclock_vm(void *guest, struct kvm_vcpu **vcpu,
				  uint64_t *khz, struct ucall *uc)
{
	struct kvm_vm *vm;

	if (hv_env == HV_PLAIN || !masterclock_ok)
		test_skip("%s", hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
	vm = vm_create_with_vcpus(1, guest, vcpu);
	vcpu_set_hv_cpuid(*vcpu);
	vcpu_wrmsr(*vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	vcpu_args_set(*vcpu, 2, vm_alloc(vm, HVL_PAGE_SIZE),
		      vm_alloc(vm, HVL_PAGE_SIZE));
	*khz = vcpu_tsc_khz(*vcpu);
	TEST_ASSERT_EQ(vcpu_run(*vcpu, uc), UCALL_SYNC);
	if (!(vm_get_clock(vm).flags & KVM_CLOCK_REALTIME)) {
		vm_free(vm);
		test_skip("KVM_GET_CLOCK has no KVM_CLOCK_REALTIME: cannot ask for an exact step");
	}
	return vm;
}

/* The step KVM made to kvmclock, in units, net of the time that passed. */
static int64_t kvm_step(uint64_t k0, uint64_t k1, uint64_t tsc0, uint64_t tsc1,
			uint64_t khz)
{
	return (int64_t)(k1 - k0) / 100 - tsc_to_units(tsc1 - tsc0, khz);
}

static void test_set_clock(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	struct sample s0, s1;
	uint64_t khz, k0, k1;
	int64_t kjump, pjump, mjump, unc;
	int step;

	vm = setclock_vm(setclock_guest, &vcpu, &khz, &uc);
	s0 = uc_sample(&uc);
	k0 = uc.args[5];

	for (step = 0; step < 2; step++) {
		int64_t want = step ? -STEP_UNITS : STEP_UNITS;
		const char *dir = step ? "back -1 s" : "forward +1 s";

		vm_set_clock_rel(vm, step ? -STEP_NS : STEP_NS);
		TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
		s1 = uc_sample(&uc);
		k1 = uc.args[5];
		kjump = kvm_step(k0, k1, s0.tsc1, s1.tsc1, khz);
		/* Page and kvmclock are read at the same TSC (tsc1). */
		pjump = (int64_t)(s1.t1 - s0.t1) - (int64_t)(k1 - k0) / 100;
		/* The MSR reads sit somewhere inside their page brackets. */
		mjump = (int64_t)(s1.m - s0.m) - (int64_t)(k1 - k0) / 100;
		unc = (int64_t)((s0.t2 - s0.t1) + (s1.t2 - s1.t1));
		tap_diag("%s: sequence %#lx -> %#lx, kvmclock stepped %+ld units (asked %+ld), page %+ld and MSR %+ld (+-%ld bracket) off that step, MSR vs page after: %lu outside",
			 dir, s0.seq, s1.seq, kjump, want, pjump, mjump, unc,
			 sample_dist(&s1));
		tap_ok(s1.seq != s0.seq && s1.seq && s1.seq != 0xffffffff,
		       "KVM_SET_CLOCK %s: the page sequence changes (%#lx -> %#lx)",
		       dir, s0.seq, s1.seq);
		tap_ok(abs64(kjump - want) <= STEP_SLACK &&
		       abs64(pjump) <= AGREE_UNITS,
		       "KVM_SET_CLOCK %s: the page takes kvmclock's step %+ld (asked %+ld, +-%ld) to within %+ld units (+-%d)",
		       dir, kjump, want, STEP_SLACK, pjump, AGREE_UNITS);
		tap_ok(abs64(kjump - want) <= STEP_SLACK &&
		       abs64(mjump) <= AGREE_UNITS + unc,
		       "KVM_SET_CLOCK %s: TIME_REF_COUNT takes kvmclock's step %+ld to within %+ld units (+-%d + %ld bracket)",
		       dir, kjump, mjump, AGREE_UNITS, unc);
		tap_ok(sample_dist(&s1) <= AGREE_UNITS,
		       "KVM_SET_CLOCK %s: MSR %lu and page [%lu, %lu] agree within %d units (%lu outside)",
		       dir, s1.m, s1.t1, s1.t2, AGREE_UNITS, sample_dist(&s1));
		s0 = s1;
		k0 = k1;
	}
	vm_free(vm);
}

/* The same steps with the page disabled: the MSR alone must follow. */
static void setclock_msr_guest(uint64_t gpa, uint64_t kvgpa)
{
	const struct pvclock_area *kv = (const void *)kvgpa;
	struct msr_at a;

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, kvgpa | 1);
	wrmsr(MSR_REF_TSC, gpa);	/* disabled */
	for (;;) {
		a = msr_at_tsc();
		GUEST_SYNC(a.tsc_mid, a.width, a.m, kvmclock_at(kv, a.tsc_mid));
	}
}

static void test_set_clock_msr(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t khz, a0[4], a1[4];
	int64_t kjump, mjump, unc;
	int step;

	vm = setclock_vm(setclock_msr_guest, &vcpu, &khz, &uc);
	memcpy(a0, uc.args, sizeof(a0));
	for (step = 0; step < 2; step++) {
		int64_t want = step ? -STEP_UNITS : STEP_UNITS;
		const char *dir = step ? "back -1 s" : "forward +1 s";

		vm_set_clock_rel(vm, step ? -STEP_NS : STEP_NS);
		TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
		memcpy(a1, uc.args, sizeof(a1));
		kjump = kvm_step(a0[3], a1[3], a0[0], a1[0], khz);
		/* kvmclock is read at the middle of the MSR's TSC bracket. */
		mjump = (int64_t)(a1[2] - a0[2]) - (int64_t)(a1[3] - a0[3]) / 100;
		unc = tsc_to_units((a0[1] + a1[1]) / 2, khz);
		tap_ok(abs64(kjump - want) <= STEP_SLACK &&
		       abs64(mjump) <= AGREE_UNITS + unc,
		       "page disabled, KVM_SET_CLOCK %s: TIME_REF_COUNT takes kvmclock's step %+ld (asked %+ld, +-%ld) to within %+ld units (+-%d + %ld read bracket; %lu -> %lu)",
		       dir, kjump, want, STEP_SLACK, mjump, AGREE_UNITS, unc,
		       a0[2], a1[2]);
		memcpy(a0, a1, sizeof(a0));
	}
	vm_free(vm);
}

/* ---- (7) no masterclock: the page is invalid, the MSR still counts ---- */

static struct mono inv_mono[2];
static uint64_t inv_latest;
static uint32_t inv_arrived;

static void invalid_guest(uint64_t id, uint64_t gpa, uint64_t khz)
{
	const struct hv_tsc_page *p = (const void *)gpa;
	struct mono *m = &inv_mono[id];
	uint64_t g, t, i;

	if (id == 0)
		wrmsr(MSR_REF_TSC, gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE);
	GUEST_SYNC(p->seq);
	if (id == 0)
		measure_rate(khz, 300, p, 1);
	else
		GUEST_SYNC(0);
	__atomic_fetch_add(&inv_arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&inv_arrived, __ATOMIC_SEQ_CST) < 2)
		cpu_relax();
	for (i = 0; i < MONO_MSR_READS; i++) {
		g = __atomic_load_n(&inv_latest, __ATOMIC_SEQ_CST);
		t = rdmsr(MSR_TIME_REF);
		if (t < g) {
			m->viol++;
			if (g - t > m->worst)
				m->worst = g - t;
		}
		atomic_max(&inv_latest, t);
		if (p->seq)
			m->seq_changes++;	/* here: page seen valid */
	}
	m->reads = i;
	GUEST_DONE();
}

static void low_tsc_guest(uint64_t gpa)
{
	wrmsr(MSR_REF_TSC, gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE);
	GUEST_SYNC(((const struct hv_tsc_page *)gpa)->seq);
	GUEST_DONE();
}

/*
 * A guest TSC below 10 MHz makes the scale overflow 64 bits: the page must
 * then be invalid although the masterclock runs.  KVM needs TSC scaling
 * to run a guest TSC slower than the host's.
 */
static void test_low_tsc_khz(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t gpa;
	int r, err;

	char scaling[16] = "?";
	FILE *f;

	if (hv_env == HV_PLAIN || !masterclock_ok)
		test_skip("%s", hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
	/* kvm_amd clears its tsc_scaling parameter without TSCRateMSR. */
	f = fopen("/sys/module/kvm_amd/parameters/tsc_scaling", "r");
	if (f) {
		if (!fgets(scaling, sizeof(scaling), f))
			strcpy(scaling, "?");
		scaling[strcspn(scaling, "\n")] = 0;
		fclose(f);
	}
	vm = vm_create_with_vcpus(1, low_tsc_guest, &vcpu);
	r = ioctl(vcpu->fd, KVM_SET_TSC_KHZ, 5000);
	err = errno;
	if (r) {
		vm_free(vm);
		test_skip("guest TSC below 10 MHz: KVM_SET_TSC_KHZ(5000) refused (%s; kvm_amd tsc_scaling=%s: KVM cannot run a guest TSC slower than the host's without TSC scaling), so the scale overflow cannot be forced here; the masterclock path below makes the page invalid instead",
			 strerror(err), scaling);
	}
	vcpu_set_hv_cpuid(vcpu);
	vcpu_wrmsr(vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	memset(addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE), 0xcc, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == 0,
	       "guest TSC at %lu kHz (scale would overflow), masterclock %s: the enabled page has sequence 0 (%#lx)",
	       vcpu_tsc_khz(vcpu), vm_clock_stable(vm) ? "on" : "off", uc.args[0]);
	vm_free(vm);
}

static void test_invalid(void)
{
	struct kvm_vcpu *vcpus[2];
	pthread_t th[2];
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t gpa, khz, seq0, viol, worst, valid_seen;
	bool mc;
	int i;

	if (hv_env == HV_PLAIN || !masterclock_ok)
		test_skip("%s", hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);

	/* Two vCPUs whose TSCs differ by 100 s: KVM cannot match them. */
	vm = vm_create_with_vcpus(2, invalid_guest, vcpus);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	khz = vcpu_tsc_khz(vcpus[0]);
	for (i = 0; i < 2; i++) {
		vcpu_set_hv_cpuid(vcpus[i]);
		vcpu_args_set(vcpus[i], 3, i, gpa, khz);
	}
	/* KVM writes sequence 0 itself: 0xcc would read as a valid page. */
	memset(addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE), 0xcc, HVL_PAGE_SIZE);
	vcpu_wrmsr(vcpus[0], HV_X64_MSR_GUEST_OS_ID, OS_ID);
	vcpu_wrmsr(vcpus[0], MSR_TSC, 1000000);
	vcpu_wrmsr(vcpus[1], MSR_TSC, 1000000 + 100 * khz * 1000);

	TEST_ASSERT_EQ(vcpu_run(vcpus[0], &uc), UCALL_SYNC);
	seq0 = uc.args[0];
	TEST_ASSERT_EQ(vcpu_run(vcpus[1], &uc), UCALL_SYNC);
	mc = vm_clock_stable(vm);
	if (mc) {
		vm_free(vm);
		test_skip("KVM kept its masterclock despite TSCs 100 s apart: cannot force an invalid page");
	}
	tap_ok(seq0 == 0 && uc.args[0] == 0,
	       "TSCs 100 s apart, KVM_GET_CLOCK without KVM_CLOCK_TSC_STABLE (masterclock off): enabled page has sequence 0 (%#lx, %#lx)",
	       seq0, uc.args[0]);
	TEST_ASSERT_EQ(vcpu_run(vcpus[0], &uc), UCALL_SYNC);
	tap_ok(uc.args[4] == 0, "still sequence 0 after %lu ms (%#lx)",
	       uc.args[1] / khz, uc.args[4]);
	check_rate(&uc, khz, "no masterclock");
	TEST_ASSERT_EQ(vcpu_run(vcpus[1], &uc), UCALL_SYNC);
	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, run_to_done, vcpus[i]);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	sync_global_from_guest(vm, inv_mono);
	viol = inv_mono[0].viol + inv_mono[1].viol;
	worst = inv_mono[0].worst > inv_mono[1].worst ? inv_mono[0].worst : inv_mono[1].worst;
	valid_seen = inv_mono[0].seq_changes + inv_mono[1].seq_changes;
	tap_ok(!viol && inv_mono[0].reads == MONO_MSR_READS &&
	       inv_mono[1].reads == MONO_MSR_READS && !valid_seen,
	       "no masterclock: TIME_REF_COUNT monotonic across 2 vCPUs (%d reads each, %lu backward, worst %lu units), page never valid (%lu)",
	       MONO_MSR_READS, viol, worst, valid_seen);
	vm_free(vm);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hvl_set_timeout(600);
	check_masterclock();

	TEST_RUN("KVM_SET_CLOCK forward and back", test_set_clock());
	TEST_RUN("KVM_SET_CLOCK with the page disabled", test_set_clock_msr());
	TEST_RUN("a guest TSC below 10 MHz", test_low_tsc_khz());
	TEST_RUN("no masterclock: the page is invalid, the MSR still counts",
		 test_invalid());
	return tap_done();
}
