// SPDX-License-Identifier: GPL-2.0
/*
 * Partition reference time: the TIME_REF_COUNT MSR (0x40000020) and the
 * reference TSC page (REFERENCE_TSC, 0x40000021), from the guest and from
 * the host:
 *   (1) negative cases: #GP without Hyper-V CPUID, under
 *       KVM_CAP_HYPERV_ENFORCE_CPUID without 0x40000003.EAX bits 1/9, on a
 *       guest write to TIME_REF_COUNT, on REFERENCE_TSC reserved bits 11:1;
 *   (2) a disabled page is never written;
 *   (3) an enabled page is valid and agrees with the MSR;
 *   (4) TIME_REF_COUNT runs at 10 MHz against the guest TSC, page on and off;
 *   (5) page and MSR reads are monotonic within and across 4 vCPUs;
 *   (6) KVM_SET_CLOCK +1 s / -1 s: page and MSR take the step KVM made to
 *       kvmclock (the asked one within 1 %), and agree; the MSR alone
 *       follows too while the page is disabled;
 *   (7) without KVM's masterclock the page is invalid (sequence 0) and the
 *       MSR still counts at 10 MHz, monotonically;
 *   (8) save/restore of REFERENCE_TSC into a fresh VM revalidates the page;
 *   (9) KVM_CAP_HYPERV_TIME iff the supported CPUID has bits 1 and 9.
 * Error cases come before the successful ones.
 *
 * Tolerances: page vs MSR 100 us (1000 units of 100 ns), rates 0.1 %.  They
 * are not widened for slow (TCG) environments: a failure is a finding.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there); "nohv" without the module
 * checks plain KVM where that is meaningful and SKIPs the rest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

/* ---- constants ---- */

#define OS_ID		0x8100000000001234ull	/* "Linux", some version */
#define REF_HZ		10000000ull		/* TIME_REF_COUNT: 100 ns units */
#define AGREE_UNITS	1000			/* 100 us */
#define RATE_PPM	1000			/* 0.1 % */
#define STEP_NS		1000000000ll		/* KVM_SET_CLOCK step: 1 s */
#define STEP_UNITS	((int64_t)(STEP_NS / 100))

#define MSR_TIME_REF	HVL_MSR_TIME_REF_COUNT
#define MSR_REF_TSC	HVL_MSR_REFERENCE_TSC

/* ---- Hyper-V CPUID for a vCPU ---- */

/* A vCPU of a Hyper-V guest whose 0x40000003.EAX is feat. */
static void vcpu_set_hv_feat(struct kvm_vcpu *vcpu, uint32_t feat)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];

	hv_leaves(leaf);
	leaf[3].eax = feat;
	vcpu_set_hv_leaves(vcpu, leaf);
}

/* ---- host helpers ---- */

static uint64_t vcpu_tsc_khz(struct kvm_vcpu *vcpu)
{
	int r = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

	TEST_ASSERT(r > 0, "KVM_GET_TSC_KHZ");
	return r;
}

static struct kvm_clock_data vm_get_clock(struct kvm_vm *vm)
{
	struct kvm_clock_data c = {};

	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_CLOCK, &c), "KVM_GET_CLOCK");
	return c;
}

static bool vm_masterclock(struct kvm_vm *vm)
{
	return vm_get_clock(vm).flags & KVM_CLOCK_TSC_STABLE;
}

/* TSC cycles to 100 ns units at khz. */
static int64_t tsc_to_units(int64_t cycles, uint64_t khz)
{
	return (int64_t)((__int128)cycles * (int64_t)REF_HZ / (int64_t)(khz * 1000));
}

/* (got - want) / want in ppm. */
static int64_t err_ppm(int64_t got, int64_t want)
{
	return want ? (int64_t)((__int128)(got - want) * 1000000 / want) : INT64_MAX;
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

static bool page_all(const uint8_t *p, uint8_t v, size_t *bad)
{
	size_t i;

	for (i = 0; i < HVL_PAGE_SIZE; i++)
		if (p[i] != v) {
			*bad = i;
			return false;
		}
	*bad = HVL_PAGE_SIZE;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- guest: the page and the MSR ---- */

struct hv_tsc_page {
	volatile uint32_t seq;
	uint32_t reserved;
	volatile uint64_t scale;
	volatile int64_t offset;
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
 * Read the page with the TLFS protocol: false when the sequence is 0
 * (invalid, the guest must use the MSR); else the time, the TSC it was
 * computed from and the sequence.
 */
static bool page_read(const struct hv_tsc_page *p, uint64_t *t,
		      uint64_t *tscp, uint32_t *seqp)
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

/* One page / MSR / page triple: the MSR read lies between the two. */
struct sample {
	uint64_t seq;
	uint64_t tsc1;	/* TSC behind t1 */
	uint64_t t1;	/* page before */
	uint64_t m;	/* TIME_REF_COUNT */
	uint64_t t2;	/* page after */
};

static bool take_sample(const struct hv_tsc_page *p, struct sample *s)
{
	uint32_t seq1, seq2;

	if (!page_read(p, &s->t1, &s->tsc1, &seq1))
		return false;
	s->m = rdmsr(MSR_TIME_REF);
	if (!page_read(p, &s->t2, NULL, &seq2) || seq1 != seq2)
		return false;
	s->seq = seq1;
	return true;
}

/* Host side: how far the MSR is outside [t1, t2], in units (0 inside). */
static uint64_t sample_dist(const struct sample *s)
{
	if (s->m < s->t1)
		return s->t1 - s->m;
	if (s->m > s->t2)
		return s->m - s->t2;
	return 0;
}

/*
 * An MSR read bracketed by TSC reads, best (narrowest) of a few: the MSR
 * value belongs to a TSC within [tsc_a, tsc_b].
 */
struct msr_at {
	uint64_t tsc_mid, width, m;
};

static struct msr_at msr_at_tsc(void)
{
	struct msr_at best = { .width = ~0ull }, s;
	uint64_t a, b;
	int i;

	for (i = 0; i < 8; i++) {
		a = rdtsc_ordered();
		s.m = rdmsr(MSR_TIME_REF);
		b = rdtsc_ordered();
		s.width = b - a;
		s.tsc_mid = a + s.width / 2;
		if (s.width < best.width)
			best = s;
	}
	return best;
}

/*
 * KVM's own clock for this vCPU (kvmclock, ns), from the pvclock area KVM
 * keeps at the GPA written to MSR_KVM_SYSTEM_TIME_NEW. With the page
 * disabled, TIME_REF_COUNT is kvmclock / 100 (as in-tree); with the page
 * enabled, the page is built from the same parameters. KVM_SET_CLOCK moves
 * kvmclock by the step KVM computes, which is the asked one only up to how
 * stale KVM's masterclock snapshot was: measure against what KVM did.
 */

struct pvclock_area {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags, pad[2];
};

static uint64_t kvmclock_at(const struct pvclock_area *pv, uint64_t tsc)
{
	uint64_t ns, d;
	uint32_t v;

	do {
		v = pv->version;
		barrier();
		d = tsc - pv->tsc_timestamp;
		d = pv->shift < 0 ? d >> -pv->shift : d << pv->shift;
		ns = pv->system_time +
		     (uint64_t)(((unsigned __int128)d * pv->mul) >> 32);
		barrier();
	} while ((v & 1) || v != pv->version);
	return ns;
}

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
					       (i & 1 ? 0 : HVL_REFTSC_ENABLE));
		wprobe.tsc_after[i] = rdmsr(MSR_REF_TSC);
	}
	GUEST_DONE();
}

#define NEG_CHECKS	9

static void test_negative(void)
{
	const uint32_t both = HVL_FEAT_TIME_REF_COUNT | HVL_FEAT_REFERENCE_TSC;
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct probe p;
	uint64_t gpa, val, v2;
	uint8_t *page;
	size_t bad;
	bool ok;
	int r, i;

	/* No "Hv#1": KVM's own #GP for both MSRs, reads and writes. */
	vm = vm_create_with_vcpus(1, probe_guest, &vcpu);
	p = run_probe(vcpu);
	tap_ok(p.rvec_ref == GP_VECTOR && p.wvec_ref == GP_VECTOR,
	       "non-Hyper-V guest: rdmsr/wrmsr TIME_REF_COUNT -> #GP (%u/%u)",
	       p.rvec_ref, p.wvec_ref);
	tap_ok(p.rvec_tsc == GP_VECTOR && p.wvec_tsc == GP_VECTOR,
	       "non-Hyper-V guest: rdmsr/wrmsr REFERENCE_TSC -> #GP (%u/%u)",
	       p.rvec_tsc, p.wvec_tsc);
	vm_free(vm);

	if (hv_env == HV_PLAIN) {
		skip_n(NEG_CHECKS - 2, NO_MODULE);
		return;
	}
	hv_leaves(leaf);

	/* Enforced, everything supported but TIME_REF_COUNT. */
	vm = vm_create_with_vcpus(1, probe_guest, &vcpu);
	vcpu_set_hv_feat(vcpu, leaf[3].eax & ~HVL_FEAT_TIME_REF_COUNT);
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
	vcpu_set_hv_feat(vcpu, leaf[3].eax & ~HVL_FEAT_REFERENCE_TSC);
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
	r = vcpu_set_msr(vcpu, MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE | (1ull << 3));
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
	wrmsr(MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE);
	dis.seq = p->seq;
	GUEST_SYNC(1, rdmsr(MSR_TIME_REF));
	wrmsr(MSR_REF_TSC, gpa);
	for (;;)
		GUEST_SYNC(2, rdmsr(MSR_TIME_REF));
}

#define DIS_CHECKS	4

static void set_clock_rel(struct kvm_vm *vm, int64_t ns)
{
	struct kvm_clock_data c = vm_get_clock(vm);

	c.clock += ns;
	/* KVM adds the realtime that passes from GET to SET. */
	c.flags &= KVM_CLOCK_REALTIME;
	TEST_ASSERT(!ioctl(vm->fd, KVM_SET_CLOCK, &c), "KVM_SET_CLOCK");
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

	if (hv_env == HV_PLAIN) {
		skip_n(DIS_CHECKS, NO_MODULE);
		return;
	}
	vm = vm_create_with_vcpus(1, disabled_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_wrmsr(vcpu, HVL_MSR_GUEST_OS_ID, OS_ID);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	page = addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE);
	memset(page, 0xcc, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);

	/* Run through clock updates: KVM_SET_CLOCK between the runs. */
	ok = vcpu_run(vcpu, &uc) == UCALL_SYNC && uc.args[0] == 0;
	for (i = 0; i < DIS_UPDATES; i++) {
		set_clock_rel(vm, STEP_NS);
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
	set_clock_rel(vm, STEP_NS);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);	/* disabled now */
	memset(page, 0xcc, HVL_PAGE_SIZE);
	ok = true;
	for (i = 0; i < DIS_UPDATES; i++) {
		set_clock_rel(vm, STEP_NS);
		ok = ok && vcpu_run(vcpu, &uc) == UCALL_SYNC && uc.args[0] == 2;
	}
	ok = ok && page_all(page, 0xcc, &bad);
	tap_ok(ok, "enabled then disabled: %d more KVM_SET_CLOCK updates, page still all 0xcc (first change at %zu)",
	       DIS_UPDATES, bad);
	vm_free(vm);
}

/* ---- (3) an enabled page is valid and agrees with the MSR ---- */

#define NR_SAMPLES	1000

static struct sample samples[NR_SAMPLES];
static uint32_t first_seq;
static uint64_t first_scale;

static void valid_guest(uint64_t gpa)
{
	const struct hv_tsc_page *p = (const void *)gpa;
	int i, tries;

	wrmsr(MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE);
	/* Right after the write, without any other exit. */
	first_seq = p->seq;
	first_scale = p->scale;
	for (i = 0; i < NR_SAMPLES; i++) {
		for (tries = 0; !take_sample(p, &samples[i]); tries++)
			GUEST_ASSERT(tries < 100);
	}
	GUEST_DONE();
}

#define VALID_CHECKS	2

struct agree {
	uint64_t max_dist;	/* MSR outside the page bracket */
	uint64_t lat_min, lat_med, lat_max;	/* m - t1 */
	bool ordered;		/* t1 <= t2 everywhere */
};

static struct agree agreement(const struct sample *s, int n)
{
	static uint64_t lat[NR_SAMPLES];
	struct agree a = { .ordered = true };
	int i;

	TEST_ASSERT(n <= NR_SAMPLES, "too many samples");
	for (i = 0; i < n; i++) {
		if (sample_dist(&s[i]) > a.max_dist)
			a.max_dist = sample_dist(&s[i]);
		a.ordered = a.ordered && s[i].t1 <= s[i].t2;
		lat[i] = s[i].m > s[i].t1 ? s[i].m - s[i].t1 : 0;
	}
	qsort(lat, n, sizeof(lat[0]), cmp_u64);
	a.lat_min = lat[0];
	a.lat_med = lat[n / 2];
	a.lat_max = lat[n - 1];
	return a;
}

static bool masterclock_ok;
#define NO_MASTERCLOCK	"KVM's masterclock is off in a plain VM (host clocksource not TSC?): the page cannot be valid"

static void test_valid(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct agree a;
	uint64_t gpa, khz, want;
	int64_t ppm;

	if (hv_env == HV_PLAIN || !masterclock_ok) {
		skip_n(VALID_CHECKS, hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
		return;
	}
	vm = vm_create_with_vcpus(1, valid_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_wrmsr(vcpu, HVL_MSR_GUEST_OS_ID, OS_ID);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	memset(addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE), 0xcc, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);
	khz = vcpu_tsc_khz(vcpu);
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	sync_global_from_guest(vm, first_seq);
	sync_global_from_guest(vm, first_scale);
	sync_global_from_guest(vm, samples);

	/* scale = 10 MHz / TSC Hz * 2^64 */
	want = (uint64_t)(((unsigned __int128)REF_HZ << 64) / (khz * 1000));
	ppm = err_ppm((int64_t)(first_scale >> 16), (int64_t)(want >> 16));
	tap_ok(first_seq != 0 && first_seq != 0xffffffff && first_seq != 0xcccccccc &&
	       abs64(ppm) <= RATE_PPM,
	       "enabled page valid right after the write: sequence %#x, scale %#lx (%+ld ppm from 10 MHz at %lu kHz)",
	       first_seq, first_scale, ppm, khz);

	a = agreement(samples, NR_SAMPLES);
	tap_diag("page->MSR->page x%d: MSR outside the page bracket by at most %lu units; MSR - preceding page time min %lu, median %lu, max %lu units",
		 NR_SAMPLES, a.max_dist, a.lat_min, a.lat_med, a.lat_max);
	tap_ok(a.ordered && a.max_dist <= AGREE_UNITS,
	       "%d times page, MSR, page: the MSR lies within the page's bracket +-%d units (worst %lu)",
	       NR_SAMPLES, AGREE_UNITS, a.max_dist);
	/*
	 * How long an MSR read takes (an exit) is latency, not disagreement:
	 * the check above holds the MSR to the page within 100 us.
	 */
	tap_diag("MSR read latency after the page read (median %lu, min %lu, max %lu units)",
	       a.lat_med, a.lat_min, a.lat_max);
	vm_free(vm);
}

/* ---- (4) TIME_REF_COUNT at 10 MHz against the guest TSC ---- */

#define RATE_MS		500

/* Measure the MSR over ms of TSC cycles; page enabled (1) or disabled (0). */
static void measure_rate(uint64_t khz, uint64_t ms, const struct hv_tsc_page *p,
			 uint64_t mode)
{
	struct msr_at a, b;

	a = msr_at_tsc();
	while (rdtsc_ordered() - a.tsc_mid < khz * ms)
		cpu_relax();
	b = msr_at_tsc();
	GUEST_SYNC(mode, b.tsc_mid - a.tsc_mid, b.m - a.m, a.width + b.width,
		   p ? p->seq : 0);
}

static void rate_guest(uint64_t gpa, uint64_t khz)
{
	const struct hv_tsc_page *p = (const void *)gpa;

	wrmsr(MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE);
	measure_rate(khz, RATE_MS, p, 1);
	wrmsr(MSR_REF_TSC, gpa);
	measure_rate(khz, RATE_MS, p, 0);
	GUEST_DONE();
}

/*
 * Check one rate report: the MSR advanced dtsc * 10 MHz / TSC Hz, +-0.1 %
 * plus the uncertainty of where in their TSC brackets the reads fell.
 */
static void check_rate(const struct ucall *uc, uint64_t khz, const char *what)
{
	int64_t dtsc = uc->args[1], dref = uc->args[2];
	int64_t want = tsc_to_units(dtsc, khz);
	int64_t ppm = err_ppm(dref, want);
	int64_t unc = err_ppm(want + tsc_to_units(uc->args[3] / 2, khz), want);

	tap_diag("%s: %ld TSC cycles at %lu kHz = %ld units expected, MSR advanced %ld: %+ld ppm (read-bracket uncertainty %ld ppm)",
		 what, dtsc, khz, want, dref, ppm, unc);
	/* The reads sit anywhere in their brackets: widen by that, no more. */
	tap_ok(dtsc >= (int64_t)khz * 200 && abs64(ppm) <= RATE_PPM + unc,
	       "%s: TIME_REF_COUNT rate %+ld ppm from 10 MHz over %ld ms of guest TSC (limit %d + %ld bracket)",
	       what, ppm, dtsc / (int64_t)khz, RATE_PPM, unc);
}

#define RATE_CHECKS	2

static void test_rate(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t gpa, khz;

	if (hv_env == HV_PLAIN || !masterclock_ok) {
		skip_n(RATE_CHECKS, hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
		return;
	}
	vm = vm_create_with_vcpus(1, rate_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_wrmsr(vcpu, HVL_MSR_GUEST_OS_ID, OS_ID);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	khz = vcpu_tsc_khz(vcpu);
	vcpu_args_set(vcpu, 2, gpa, khz);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	TEST_ASSERT(uc.args[0] == 1 && uc.args[4] != 0,
		    "page not valid during the rate measurement (seq %#lx)", uc.args[4]);
	check_rate(&uc, khz, "page enabled");
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	TEST_ASSERT_EQ(uc.args[0], 0);
	check_rate(&uc, khz, "page disabled");
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	vm_free(vm);
}

/* ---- (5) monotonic within and across vCPUs ---- */

#define MONO_VCPUS	4
#define MONO_PAGE_READS	1000000
#define MONO_MSR_READS	2000

enum { PH_PAGE, PH_MSR, PH_MIXED, NR_PH };
static const char *const ph_names[] = { "page", "MSR", "page+MSR alternating" };

struct mono {
	uint64_t reads, viol, worst, fallback, seq_changes;
};

static struct mono mono[MONO_VCPUS][NR_PH];
static uint64_t latest[NR_PH];
static uint32_t arrived[NR_PH + 1];

static void atomic_max(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, false,
						       __ATOMIC_SEQ_CST,
						       __ATOMIC_RELAXED))
		;
}

static void guest_barrier(int phase, uint32_t n)
{
	__atomic_fetch_add(&arrived[phase], 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&arrived[phase], __ATOMIC_SEQ_CST) < n)
		cpu_relax();
}

/* One read of the reference time by page (MSR when invalid) or MSR. */
static uint64_t ref_read(const struct hv_tsc_page *p, bool msr, struct mono *m,
			 uint32_t *last_seq)
{
	uint64_t t;
	uint32_t seq;

	if (msr)
		return rdmsr(MSR_TIME_REF);
	if (!page_read(p, &t, NULL, &seq)) {
		m->fallback++;
		return rdmsr(MSR_TIME_REF);
	}
	if (seq != *last_seq) {
		if (*last_seq)
			m->seq_changes++;
		*last_seq = seq;
	}
	return t;
}

static void mono_phase(const struct hv_tsc_page *p, int ph, uint64_t n,
		       uint64_t id)
{
	struct mono *m = &mono[id][ph];
	uint32_t last_seq = 0;
	uint64_t g, t, i;

	guest_barrier(ph + 1, MONO_VCPUS);
	for (i = 0; i < n; i++) {
		g = __atomic_load_n(&latest[ph], __ATOMIC_SEQ_CST);
		t = ref_read(p, ph == PH_MSR || (ph == PH_MIXED && (i & 1)), m,
			     &last_seq);
		if (t < g) {
			m->viol++;
			if (g - t > m->worst)
				m->worst = g - t;
		}
		atomic_max(&latest[ph], t);
	}
	m->reads = n;
}

static void mono_guest(uint64_t id, uint64_t gpa)
{
	const struct hv_tsc_page *p = (const void *)gpa;

	/* Everybody starts once vCPU 0 has enabled the page. */
	if (id == 0) {
		wrmsr(MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE);
		__atomic_store_n(&arrived[0], 1, __ATOMIC_SEQ_CST);
	}
	while (!__atomic_load_n(&arrived[0], __ATOMIC_SEQ_CST))
		cpu_relax();
	mono_phase(p, PH_PAGE, MONO_PAGE_READS, id);
	mono_phase(p, PH_MSR, MONO_MSR_READS, id);
	mono_phase(p, PH_MIXED, MONO_MSR_READS * 2, id);
	GUEST_DONE();
}

static void *run_to_done(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	return NULL;
}

#define MONO_CHECKS	NR_PH

static void test_monotonic(void)
{
	struct kvm_vcpu *vcpus[MONO_VCPUS];
	pthread_t th[MONO_VCPUS];
	struct kvm_vm *vm;
	uint64_t gpa;
	int i, ph;

	if (hv_env == HV_PLAIN || !masterclock_ok) {
		skip_n(MONO_CHECKS, hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
		return;
	}
	vm = vm_create_with_vcpus(MONO_VCPUS, mono_guest, vcpus);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	for (i = 0; i < MONO_VCPUS; i++) {
		vcpu_set_hv_cpuid(vcpus[i]);
		vcpu_args_set(vcpus[i], 2, i, gpa);
	}
	vcpu_wrmsr(vcpus[0], HVL_MSR_GUEST_OS_ID, OS_ID);
	for (i = 0; i < MONO_VCPUS; i++)
		pthread_create(&th[i], NULL, run_to_done, vcpus[i]);
	for (i = 0; i < MONO_VCPUS; i++)
		pthread_join(th[i], NULL);
	sync_global_from_guest(vm, mono);

	for (ph = 0; ph < NR_PH; ph++) {
		uint64_t reads = 0, viol = 0, worst = 0, fb = 0, sc = 0, minr = ~0ull;

		for (i = 0; i < MONO_VCPUS; i++) {
			struct mono *m = &mono[i][ph];

			reads += m->reads;
			minr = m->reads < minr ? m->reads : minr;
			viol += m->viol;
			worst = m->worst > worst ? m->worst : worst;
			fb += m->fallback;
			sc += m->seq_changes;
		}
		tap_diag("%s: %lu reads (>= %lu per vCPU), %lu backward, worst %lu units, %lu page reads fell back to the MSR, %lu sequence changes seen",
			 ph_names[ph], reads, minr, viol, worst, fb, sc);
		tap_ok(!viol && minr == (ph == PH_PAGE ? MONO_PAGE_READS :
					 ph == PH_MSR ? MONO_MSR_READS : 2 * MONO_MSR_READS),
		       "%s reads monotonic within and across %d vCPUs (%lu per vCPU, %lu backward, worst %lu units)",
		       ph_names[ph], MONO_VCPUS, minr, viol, worst);
	}
	vm_free(vm);
}

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
	wrmsr(MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE);
	for (;;) {
		for (tries = 0; !take_sample(p, &s); tries++)
			GUEST_ASSERT(tries < 100);
		GUEST_SYNC(s.seq, s.tsc1, s.t1, s.m, s.t2,
			   kvmclock_at(kv, s.tsc1));
	}
}

static struct sample uc_sample(const struct ucall *uc)
{
	return (struct sample){ .seq = uc->args[0], .tsc1 = uc->args[1],
				.t1 = uc->args[2], .m = uc->args[3],
				.t2 = uc->args[4] };
}

/* A 1-vCPU Hyper-V VM running guest(page GPA, kvmclock area GPA). */
static struct kvm_vm *setclock_vm(void *guest, struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_with_vcpus(1, guest, vcpu);

	vcpu_set_hv_cpuid(*vcpu);
	vcpu_wrmsr(*vcpu, HVL_MSR_GUEST_OS_ID, OS_ID);
	vcpu_args_set(*vcpu, 2, vm_alloc(vm, HVL_PAGE_SIZE),
		      vm_alloc(vm, HVL_PAGE_SIZE));
	return vm;
}

/* The step KVM made to kvmclock, in units, net of the time that passed. */
static int64_t kvm_step(uint64_t k0, uint64_t k1, uint64_t tsc0, uint64_t tsc1,
			uint64_t khz)
{
	return (int64_t)(k1 - k0) / 100 - tsc_to_units(tsc1 - tsc0, khz);
}

#define CLOCK_CHECKS	8

static void test_set_clock(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	struct sample s0, s1;
	uint64_t khz, k0, k1;
	int64_t kjump, pjump, mjump, unc;
	int step;

	if (hv_env == HV_PLAIN || !masterclock_ok) {
		skip_n(CLOCK_CHECKS, hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
		return;
	}
	vm = setclock_vm(setclock_guest, &vcpu);
	khz = vcpu_tsc_khz(vcpu);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	s0 = uc_sample(&uc);
	k0 = uc.args[5];
	if (!(vm_get_clock(vm).flags & KVM_CLOCK_REALTIME)) {
		skip_n(CLOCK_CHECKS, "KVM_GET_CLOCK has no KVM_CLOCK_REALTIME: cannot ask for an exact step");
		vm_free(vm);
		return;
	}

	for (step = 0; step < 2; step++) {
		int64_t want = step ? -STEP_UNITS : STEP_UNITS;
		const char *dir = step ? "back -1 s" : "forward +1 s";

		set_clock_rel(vm, step ? -STEP_NS : STEP_NS);
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

#define CLOCK_MSR_CHECKS	2

static void test_set_clock_msr(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t khz, a0[4], a1[4];
	int64_t kjump, mjump, unc;
	int step;

	if (hv_env == HV_PLAIN || !masterclock_ok) {
		skip_n(CLOCK_MSR_CHECKS, hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
		return;
	}
	vm = setclock_vm(setclock_msr_guest, &vcpu);
	khz = vcpu_tsc_khz(vcpu);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	memcpy(a0, uc.args, sizeof(a0));
	if (!(vm_get_clock(vm).flags & KVM_CLOCK_REALTIME)) {
		skip_n(CLOCK_MSR_CHECKS, "KVM_GET_CLOCK has no KVM_CLOCK_REALTIME: cannot ask for an exact step");
		vm_free(vm);
		return;
	}
	for (step = 0; step < 2; step++) {
		int64_t want = step ? -STEP_UNITS : STEP_UNITS;
		const char *dir = step ? "back -1 s" : "forward +1 s";

		set_clock_rel(vm, step ? -STEP_NS : STEP_NS);
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
		wrmsr(MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE);
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

#define INVALID_CHECKS	5

static void low_tsc_guest(uint64_t gpa)
{
	wrmsr(MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE);
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
		tap_skip("guest TSC below 10 MHz: KVM_SET_TSC_KHZ(5000) refused (%s; kvm_amd tsc_scaling=%s: KVM cannot run a guest TSC slower than the host's without TSC scaling), so the scale overflow cannot be forced here; the masterclock path below makes the page invalid instead",
			 strerror(err), scaling);
		vm_free(vm);
		return;
	}
	vcpu_set_hv_cpuid(vcpu);
	vcpu_wrmsr(vcpu, HVL_MSR_GUEST_OS_ID, OS_ID);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	memset(addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE), 0xcc, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == 0,
	       "guest TSC at %lu kHz (scale would overflow), masterclock %s: the enabled page has sequence 0 (%#lx)",
	       vcpu_tsc_khz(vcpu), vm_masterclock(vm) ? "on" : "off", uc.args[0]);
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

	if (hv_env == HV_PLAIN || !masterclock_ok) {
		skip_n(INVALID_CHECKS, hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
		return;
	}
	test_low_tsc_khz();

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
	vcpu_wrmsr(vcpus[0], HVL_MSR_GUEST_OS_ID, OS_ID);
	vcpu_wrmsr(vcpus[0], MSR_TSC, 1000000);
	vcpu_wrmsr(vcpus[1], MSR_TSC, 1000000 + 100 * khz * 1000);

	TEST_ASSERT_EQ(vcpu_run(vcpus[0], &uc), UCALL_SYNC);
	seq0 = uc.args[0];
	TEST_ASSERT_EQ(vcpu_run(vcpus[1], &uc), UCALL_SYNC);
	mc = vm_masterclock(vm);
	if (mc) {
		skip_n(INVALID_CHECKS - 1,
		       "KVM kept its masterclock despite TSCs 100 s apart: cannot force an invalid page");
		vm_free(vm);
		return;
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

/* ---- (8) save/restore into a fresh VM ---- */

static void save_guest(uint64_t gpa)
{
	wrmsr(HVL_MSR_GUEST_OS_ID, OS_ID);
	wrmsr(MSR_REF_TSC, gpa | HVL_REFTSC_ENABLE);
	GUEST_SYNC(((const struct hv_tsc_page *)gpa)->seq);
	GUEST_DONE();
}

static void restored_guest(uint64_t gpa)
{
	const struct hv_tsc_page *p = (const void *)gpa;
	struct sample s;
	uint64_t seq = p->seq;

	/* No REFERENCE_TSC write here: the page must be valid already. */
	if (!take_sample(p, &s))
		GUEST_SYNC(seq, 0, 0, 0, 0);
	GUEST_SYNC(seq, s.tsc1, s.t1, s.m, s.t2);
	GUEST_DONE();
}

#define RESTORE_CHECKS	3

static void test_restore(void)
{
	struct kvm_vcpu *vcpu, *dst;
	struct kvm_vm *vm, *vm2;
	struct ucall uc;
	struct sample s;
	uint64_t gpa, gpa2, reftsc, osid, val;
	bool ok;

	if (hv_env == HV_PLAIN || !masterclock_ok) {
		skip_n(RESTORE_CHECKS, hv_env == HV_PLAIN ? NO_MODULE : NO_MASTERCLOCK);
		return;
	}
	vm = vm_create_with_vcpus(1, save_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	TEST_ASSERT(uc.args[0] != 0, "source page not valid");
	reftsc = vcpu_rdmsr(vcpu, MSR_REF_TSC);
	osid = vcpu_rdmsr(vcpu, HVL_MSR_GUEST_OS_ID);

	vm2 = vm_create_with_vcpus(1, restored_guest, &dst);
	vcpu_set_hv_cpuid(dst);
	gpa2 = vm_alloc(vm2, HVL_PAGE_SIZE);
	TEST_ASSERT_EQ(gpa2, gpa);	/* same layout, same binary */
	/* The fresh page is all zeroes: sequence 0 until KVM writes it. */
	vcpu_args_set(dst, 1, gpa2);
	ok = vcpu_set_msr(dst, HVL_MSR_GUEST_OS_ID, osid) == 1 &&
	     vcpu_set_msr(dst, MSR_REF_TSC, reftsc) == 1;
	val = vcpu_rdmsr(dst, MSR_REF_TSC);
	tap_ok(ok && reftsc == (gpa | HVL_REFTSC_ENABLE) && val == reftsc &&
	       vcpu_rdmsr(dst, HVL_MSR_GUEST_OS_ID) == osid,
	       "save/restore: REFERENCE_TSC %#lx and GUEST_OS_ID %#lx set in a fresh VM, read back exactly (%#lx)",
	       reftsc, osid, val);
	TEST_ASSERT_EQ(vcpu_run(dst, &uc), UCALL_SYNC);
	s = uc_sample(&uc);
	tap_ok(s.seq != 0 && s.seq != 0xffffffff,
	       "restored VM: the page is valid without a guest write (sequence %#lx)", s.seq);
	tap_ok(s.t1 && sample_dist(&s) <= AGREE_UNITS,
	       "restored VM: MSR %lu and page [%lu, %lu] agree within %d units",
	       s.m, s.t1, s.t2, AGREE_UNITS);
	vm_free(vm2);
	vm_free(vm);
}

/* ---- (9) KVM_CAP_HYPERV_TIME ---- */

#define CAP_CHECKS	1

static void test_cap(void)
{
	const uint32_t both = HVL_FEAT_TIME_REF_COUNT | HVL_FEAT_REFERENCE_TSC;
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vm *vm = vm_create(0, 0);
	uint32_t feat = 0;
	int dev, vmr;

	if (hv_env != HV_PLAIN) {
		hv_leaves(leaf);
		feat = leaf[3].eax;
	}
	dev = kvm_check_cap(KVM_CAP_HYPERV_TIME);
	vmr = vm_check_cap(vm, KVM_CAP_HYPERV_TIME);
	tap_ok((dev > 0) == ((feat & both) == both) && (vmr > 0) == (dev > 0),
	       "KVM_CAP_HYPERV_TIME (%d, VM %d) iff the supported 0x40000003.EAX %#x has bits 1 and 9",
	       dev, vmr, feat);
	vm_free(vm);
}

/* ---- main ---- */

static void trivial_guest(void)
{
	GUEST_SYNC(0);
	GUEST_DONE();
}

/* Does KVM run a plain VM on its masterclock here?  The page needs it. */
static void check_masterclock(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_vcpus(1, trivial_guest, &vcpu);

	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_SYNC);
	masterclock_ok = vm_masterclock(vm);
	tap_diag("KVM masterclock in a plain VM: %s; guest TSC %lu kHz",
		 masterclock_ok ? "yes" : "no", vcpu_tsc_khz(vcpu));
	vm_free(vm);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hvl_set_timeout(600);
	tap_plan(NEG_CHECKS + DIS_CHECKS + VALID_CHECKS + RATE_CHECKS +
		 MONO_CHECKS + CLOCK_CHECKS + CLOCK_MSR_CHECKS + INVALID_CHECKS + RESTORE_CHECKS +
		 CAP_CHECKS);
	check_masterclock();

	test_negative();
	test_disabled();
	test_valid();
	test_rate();
	test_monotonic();
	test_set_clock();
	test_set_clock_msr();
	test_invalid();
	test_restore();
	test_cap();

	return tap_done();
}
