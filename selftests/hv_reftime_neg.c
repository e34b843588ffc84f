// SPDX-License-Identifier: GPL-2.0
/*
 * Partition reference time, the refusals: the TIME_REF_COUNT MSR
 * (0x40000020) and the reference TSC page (REFERENCE_TSC, 0x40000021):
 *   (1) #GP without Hyper-V CPUID, under KVM_CAP_HYPERV_ENFORCE_CPUID
 *       without 0x40000003.EAX bits 1/9, on a guest write to
 *       TIME_REF_COUNT, on REFERENCE_TSC reserved bits 11:1; the host's
 *       writes;
 *   (2) a disabled page is never written.
 * What works is in hv_reftime and hv_reftime_clock; helpers in
 * hv_reftime.h.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there); "nohv" without the module
 * checks plain KVM where that is meaningful and SKIPs the rest.
 */
#include "hv_reftime.h"

/* ---- (1) negative cases ---- */

struct probe {
	uint8_t rvec_ref, wvec_ref;	/* TIME_REF_COUNT rdmsr/wrmsr vectors */
	uint8_t rvec_tsc, wvec_tsc;	/* REFERENCE_TSC rdmsr/wrmsr vectors */
	uint64_t ref_val, tsc_val;
};

static struct probe probe;

static void probe_guest(void)
{
	probe.rvec_ref = rdmsr_safe(MSR_TIME_REF, &probe.ref_val);
	probe.wvec_ref = wrmsr_safe(MSR_TIME_REF, 0);
	probe.rvec_tsc = rdmsr_safe(MSR_REF_TSC, &probe.tsc_val);
	/* A disabled page at GPA 0: harmless if it is accepted. */
	probe.wvec_tsc = wrmsr_safe(MSR_REF_TSC, 0);
	GUEST_DONE();
}

static struct probe run_probe(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	memset(&probe, 0xff, sizeof(probe));
	sync_global_to_guest(vcpu->vm, probe);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_DONE);
	sync_global_from_guest(vcpu->vm, probe);
	return probe;
}

/* Guest write attempts: values to TIME_REF_COUNT, reserved bits to REFERENCE_TSC. */
struct wprobe {
	uint64_t gpa;
	uint8_t ref_vec[3];
	uint64_t ref_before, ref_after;
	uint8_t tsc_vec[4];
	uint64_t tsc_after[4];
};

static struct wprobe wprobe;

static void write_guest(void)
{
	static const uint64_t rsvd[4] = { 1ull << 1, 1ull << 11, HVL_REFTSC_RSVD,
					  1ull << 5 };
	int i;

	wprobe.ref_before = rdmsr(MSR_TIME_REF);
	wprobe.ref_vec[0] = wrmsr_safe(MSR_TIME_REF, 0);
	wprobe.ref_vec[1] = wrmsr_safe(MSR_TIME_REF, wprobe.ref_before);
	wprobe.ref_vec[2] = wrmsr_safe(MSR_TIME_REF, 1ull << 50);
	wprobe.ref_after = rdmsr(MSR_TIME_REF);
	for (i = 0; i < 4; i++) {
		/* Reserved bits with and without the enable bit. */
		wprobe.tsc_vec[i] = wrmsr_safe(MSR_REF_TSC, wprobe.gpa | rsvd[i] |
					       (i & 1 ? 0 : HV_X64_MSR_TSC_REFERENCE_ENABLE));
		wprobe.tsc_after[i] = rdmsr(MSR_REF_TSC);
	}
	GUEST_DONE();
}

/* No "Hv#1": KVM's own #GP for both MSRs, reads and writes. */
static void test_non_hv_guest(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct probe p;

	vm = vm_create_with_vcpus(1, probe_guest, &vcpu);
	p = run_probe(vcpu);
	tap_ok(p.rvec_ref == GP_VECTOR && p.wvec_ref == GP_VECTOR,
	       "non-Hyper-V guest: rdmsr/wrmsr TIME_REF_COUNT -> #GP (%u/%u)",
	       p.rvec_ref, p.wvec_ref);
	tap_ok(p.rvec_tsc == GP_VECTOR && p.wvec_tsc == GP_VECTOR,
	       "non-Hyper-V guest: rdmsr/wrmsr REFERENCE_TSC -> #GP (%u/%u)",
	       p.rvec_tsc, p.wvec_tsc);
	vm_free(vm);
}

static void test_negative(void)
{
	const uint32_t both = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE;
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct probe p;
	uint64_t gpa, val, v2;
	uint8_t *page;
	size_t bad;
	bool ok;
	int r, i;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	hv_leaves(leaf);

	/* Enforced, everything supported but TIME_REF_COUNT. */
	vm = vm_create_with_vcpus(1, probe_guest, &vcpu);
	vcpu_set_hv_feat(vcpu, leaf[3].eax & ~HV_MSR_TIME_REF_COUNT_AVAILABLE);
	TEST_ASSERT(!vcpu_enable_cap(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
		    "KVM_ENABLE_CAP(HYPERV_ENFORCE_CPUID)");
	p = run_probe(vcpu);
	tap_ok(p.rvec_ref == GP_VECTOR && p.wvec_ref == GP_VECTOR &&
	       !p.rvec_tsc && !p.wvec_tsc,
	       "enforced without 0x40000003.EAX bit 1: TIME_REF_COUNT #GP (%u/%u), REFERENCE_TSC works (%u/%u)",
	       p.rvec_ref, p.wvec_ref, p.rvec_tsc, p.wvec_tsc);
	vm_free(vm);

	/* Enforced, everything supported but REFERENCE_TSC. */
	vm = vm_create_with_vcpus(1, probe_guest, &vcpu);
	vcpu_set_hv_feat(vcpu, leaf[3].eax & ~HV_MSR_REFERENCE_TSC_AVAILABLE);
	TEST_ASSERT(!vcpu_enable_cap(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
		    "KVM_ENABLE_CAP(HYPERV_ENFORCE_CPUID)");
	p = run_probe(vcpu);
	tap_ok(p.rvec_tsc == GP_VECTOR && p.wvec_tsc == GP_VECTOR &&
	       !p.rvec_ref && p.wvec_ref == GP_VECTOR,
	       "enforced without 0x40000003.EAX bit 9: REFERENCE_TSC #GP (%u/%u), TIME_REF_COUNT reads (%u)",
	       p.rvec_tsc, p.wvec_tsc, p.rvec_ref);
	vm_free(vm);

	/* Enforced, neither bit; the host is never gated. */
	vm = vm_create_with_vcpus(1, probe_guest, &vcpu);
	vcpu_set_hv_feat(vcpu, leaf[3].eax & ~both);
	TEST_ASSERT(!vcpu_enable_cap(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
		    "KVM_ENABLE_CAP(HYPERV_ENFORCE_CPUID)");
	p = run_probe(vcpu);
	ok = vcpu_get_msr(vcpu, MSR_TIME_REF, &val) == 1 &&
	     vcpu_get_msr(vcpu, MSR_REF_TSC, &v2) == 1 && v2 == 0;
	tap_ok(p.rvec_ref == GP_VECTOR && p.wvec_ref == GP_VECTOR &&
	       p.rvec_tsc == GP_VECTOR && p.wvec_tsc == GP_VECTOR && ok,
	       "enforced without bits 1 and 9: all four accesses #GP (%u %u %u %u); host reads still work",
	       p.rvec_ref, p.wvec_ref, p.rvec_tsc, p.wvec_tsc);
	vm_free(vm);

	/* Guest writes: TIME_REF_COUNT is read-only; REFERENCE_TSC bits 11:1. */
	vm = vm_create_with_vcpus(1, write_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	page = addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE);
	memset(page, 0xcc, HVL_PAGE_SIZE);
	memset(&wprobe, 0, sizeof(wprobe));
	wprobe.gpa = gpa;
	sync_global_to_guest(vm, wprobe);
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	sync_global_from_guest(vm, wprobe);
	tap_ok(wprobe.ref_vec[0] == GP_VECTOR && wprobe.ref_vec[1] == GP_VECTOR &&
	       wprobe.ref_vec[2] == GP_VECTOR &&
	       wprobe.ref_after >= wprobe.ref_before &&
	       wprobe.ref_after < (1ull << 50),
	       "guest wrmsr TIME_REF_COUNT (0, its value, 2^50) -> #GP (%u %u %u), count unaffected (%lu -> %lu)",
	       wprobe.ref_vec[0], wprobe.ref_vec[1], wprobe.ref_vec[2],
	       wprobe.ref_before, wprobe.ref_after);
	ok = page_all(page, 0xcc, &bad);
	if (hv_env == HV_STOCK) {
		tap_skip(INTENTIONAL("in-tree accepts REFERENCE_TSC bits 11:1 (vectors %u %u %u %u, MSR then %#lx)"),
			 wprobe.tsc_vec[0], wprobe.tsc_vec[1], wprobe.tsc_vec[2],
			 wprobe.tsc_vec[3], wprobe.tsc_after[3]);
	} else {
		bool all = true;

		for (i = 0; i < 4; i++)
			all = all && wprobe.tsc_vec[i] == GP_VECTOR &&
			      wprobe.tsc_after[i] == 0;
		tap_ok(all && ok,
		       "guest REFERENCE_TSC with bit 1, bit 11, bits 11:1, bit 5 -> #GP (%u %u %u %u), MSR stays 0, page untouched (first change at %zu)",
		       wprobe.tsc_vec[0], wprobe.tsc_vec[1], wprobe.tsc_vec[2],
		       wprobe.tsc_vec[3], bad);
	}

	/* Host: TIME_REF_COUNT writes are ignored; reserved bits refused. */
	r = vcpu_set_msr(vcpu, MSR_TIME_REF, 1ull << 50);
	val = vcpu_rdmsr(vcpu, MSR_TIME_REF);
	tap_ok(r == 1 && val < (1ull << 50),
	       "host TIME_REF_COUNT write accepted (%d) and ignored (reads %lu)", r, val);
	r = vcpu_set_msr(vcpu, MSR_REF_TSC, gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE | (1ull << 3));
	val = vcpu_rdmsr(vcpu, MSR_REF_TSC);
	if (hv_env == HV_STOCK)
		tap_skip(INTENTIONAL("in-tree host REFERENCE_TSC with bit 3: %d, MSR %#lx"),
			 r, val);
	else
		tap_ok(r == 0 && val == 0,
		       "host REFERENCE_TSC with bit 3 set is refused (%d), MSR stays %#lx",
		       r, val);
	vm_free(vm);
}

/* ---- (2) a disabled page is never written ---- */

struct disabled_out {
	uint8_t wvec;
	uint64_t msr;
	uint64_t seq;
};

static struct disabled_out dis;

#define DIS_UPDATES	3

/* Stage 0: write the page disabled; 1: enable; 2: disable; then read time. */
static void disabled_guest(uint64_t gpa)
{
	const struct hv_tsc_page *p = (const void *)gpa;

	dis.wvec = wrmsr_safe(MSR_REF_TSC, gpa);
	dis.msr = rdmsr(MSR_REF_TSC);
	for (int i = 0; i < 1 + DIS_UPDATES; i++)
		GUEST_SYNC(0, rdmsr(MSR_TIME_REF));
	wrmsr(MSR_REF_TSC, gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE);
	dis.seq = p->seq;
	GUEST_SYNC(1, rdmsr(MSR_TIME_REF));
	wrmsr(MSR_REF_TSC, gpa);
	for (;;)
		GUEST_SYNC(2, rdmsr(MSR_TIME_REF));
}

static void test_disabled(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t gpa;
	uint8_t *page;
	size_t bad;
	bool ok;
	int i;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = vm_create_with_vcpus(1, disabled_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_wrmsr(vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	page = addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE);
	memset(page, 0xcc, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);

	/* Run through clock updates: KVM_SET_CLOCK between the runs. */
	ok = vcpu_run(vcpu, &uc) == UCALL_SYNC && uc.args[0] == 0;
	for (i = 0; i < DIS_UPDATES; i++) {
		vm_set_clock_rel(vm, STEP_NS);
		ok = ok && vcpu_run(vcpu, &uc) == UCALL_SYNC && uc.args[0] == 0;
	}
	sync_global_from_guest(vm, dis);
	tap_ok(ok && !dis.wvec && dis.msr == gpa,
	       "guest REFERENCE_TSC = %#lx (enable bit 0): accepted (%u), reads back %#lx",
	       gpa, dis.wvec, dis.msr);
	ok = page_all(page, 0xcc, &bad);
	tap_ok(ok, "disabled page: %d KVM_SET_CLOCK updates, page still all 0xcc (first change at %zu)",
	       DIS_UPDATES, bad);

	/* Enabled, then disabled again: from then on no more writes. */
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	sync_global_from_guest(vm, dis);
	tap_ok(uc.args[0] == 1 && dis.seq != 0 && dis.seq != 0xcccccccc,
	       "enabling writes the page (sequence %#lx)", dis.seq);
	vm_set_clock_rel(vm, STEP_NS);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);	/* disabled now */
	memset(page, 0xcc, HVL_PAGE_SIZE);
	ok = true;
	for (i = 0; i < DIS_UPDATES; i++) {
		vm_set_clock_rel(vm, STEP_NS);
		ok = ok && vcpu_run(vcpu, &uc) == UCALL_SYNC && uc.args[0] == 2;
	}
	ok = ok && page_all(page, 0xcc, &bad);
	tap_ok(ok, "enabled then disabled: %d more KVM_SET_CLOCK updates, page still all 0xcc (first change at %zu)",
	       DIS_UPDATES, bad);
	vm_free(vm);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hvl_set_timeout(600);

	TEST_RUN("a guest without Hyper-V CPUID", test_non_hv_guest());
	TEST_RUN("enforced CPUID, guest and host writes", test_negative());
	TEST_RUN("a disabled page is never written", test_disabled());
	return tap_done();
}
