/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the hv_reftime* tests (the reference time: the
 * TIME_REF_COUNT MSR and the reference TSC page): the page and MSR from the
 * guest, KVM's clocks from the host.  Each test is its own binary, so these
 * are static; "inline" only keeps unused ones quiet.
 */
#ifndef HVL_SELFTEST_HV_REFTIME_H
#define HVL_SELFTEST_HV_REFTIME_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"
#include "reftime.h"

/* ---- constants ---- */

#define OS_ID		0x8100000000001234ull	/* "Linux", some version */
#define REF_HZ		10000000ull		/* TIME_REF_COUNT: 100 ns units */
#define AGREE_UNITS	1000			/* 100 us */
#define RATE_PPM	1000			/* 0.1 % */
#define STEP_NS		1000000000ll		/* KVM_SET_CLOCK step: 1 s */
#define STEP_UNITS	((int64_t)(STEP_NS / 100))

#define MSR_TIME_REF	HV_X64_MSR_TIME_REF_COUNT
#define MSR_REF_TSC	HV_X64_MSR_REFERENCE_TSC

/* ---- Hyper-V CPUID for a vCPU ---- */

/* A vCPU of a Hyper-V guest whose 0x40000003.EAX is feat. */
static inline void vcpu_set_hv_feat(struct kvm_vcpu *vcpu, uint32_t feat)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];

	hv_leaves(leaf);
	leaf[3].eax = feat;
	vcpu_set_hv_leaves(vcpu, leaf);
}

/* ---- host helpers ---- */

static inline uint64_t vcpu_tsc_khz(struct kvm_vcpu *vcpu)
{
	int r = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

	TEST_ASSERT(r > 0, "KVM_GET_TSC_KHZ");
	return r;
}

/* TSC cycles to 100 ns units at khz. */
static inline int64_t tsc_to_units(int64_t cycles, uint64_t khz)
{
	return (int64_t)((__int128)cycles * (int64_t)REF_HZ / (int64_t)(khz * 1000));
}

/* (got - want) / want in ppm. */
static inline int64_t err_ppm(int64_t got, int64_t want)
{
	return want ? (int64_t)((__int128)(got - want) * 1000000 / want) : INT64_MAX;
}

static inline int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

static inline bool page_all(const uint8_t *p, uint8_t v, size_t *bad)
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

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- guest: the page and the MSR ---- */

/* One page / MSR / page triple: the MSR read lies between the two. */
struct sample {
	uint64_t seq;
	uint64_t tsc1;	/* TSC behind t1 */
	uint64_t t1;	/* page before */
	uint64_t m;	/* TIME_REF_COUNT */
	uint64_t t2;	/* page after */
};

static inline bool take_sample(const struct hv_tsc_page *p,
			       struct sample *s)
{
	uint32_t seq1, seq2;

	if (!ref_page_read(p, &s->t1, &s->tsc1, &seq1))
		return false;
	s->m = rdmsr(MSR_TIME_REF);
	if (!ref_page_read(p, &s->t2, NULL, &seq2) || seq1 != seq2)
		return false;
	s->seq = seq1;
	return true;
}

/* Host side: how far the MSR is outside [t1, t2], in units (0 inside). */
static inline uint64_t sample_dist(const struct sample *s)
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

static inline struct msr_at msr_at_tsc(void)
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

static inline uint64_t kvmclock_at(const struct pvclock_area *pv,
				   uint64_t tsc)
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

static bool masterclock_ok __attribute__((unused));
#define NO_MASTERCLOCK	"KVM's masterclock is off in a plain VM (host clocksource not TSC?): the page cannot be valid"

#define RATE_MS		500

/* Measure the MSR over ms of TSC cycles; page enabled (1) or disabled (0). */
static inline void measure_rate(uint64_t khz, uint64_t ms,
				const struct hv_tsc_page *p, uint64_t mode)
{
	struct msr_at a, b;

	a = msr_at_tsc();
	while (rdtsc_ordered() - a.tsc_mid < khz * ms)
		cpu_relax();
	b = msr_at_tsc();
	GUEST_SYNC(mode, b.tsc_mid - a.tsc_mid, b.m - a.m, a.width + b.width,
		   p ? p->seq : 0);
}

/*
 * Check one rate report: the MSR advanced dtsc * 10 MHz / TSC Hz, +-0.1 %
 * plus the uncertainty of where in their TSC brackets the reads fell.
 */
static inline void check_rate(const struct ucall *uc, uint64_t khz,
			      const char *what)
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

#define MONO_MSR_READS	2000

struct mono {
	uint64_t reads, viol, worst, fallback, seq_changes;
};

static inline void atomic_max(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, false,
						       __ATOMIC_SEQ_CST,
						       __ATOMIC_RELAXED))
		;
}

static inline void *run_to_done(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	return NULL;
}

static inline struct sample uc_sample(const struct ucall *uc)
{
	return (struct sample){ .seq = uc->args[0], .tsc1 = uc->args[1],
				.t1 = uc->args[2], .m = uc->args[3],
				.t2 = uc->args[4] };
}

static inline void trivial_guest(void)
{
	GUEST_SYNC(0);
	GUEST_DONE();
}

/* Does KVM run a plain VM on its masterclock here?  The page needs it. */
static inline void check_masterclock(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_vcpus(1, trivial_guest, &vcpu);

	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_SYNC);
	masterclock_ok = vm_clock_stable(vm);
	tap_diag("KVM masterclock in a plain VM: %s; guest TSC %lu kHz",
		 masterclock_ok ? "yes" : "no", vcpu_tsc_khz(vcpu));
	vm_free(vm);
}

#endif
