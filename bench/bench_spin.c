// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's overcommit spinlock figures: 4 vCPUs pinned to one host CPU
 * taking turns on a guest spinlock (lib/overcommit.c), once spinning only
 * and once notifying the hypervisor (HvNotifyLongSpinWait) after a few
 * spins.  The figure is lock acquisitions per host CPU second of the vCPU
 * threads.  The two ways alternate, REPS runs each, so both see the same
 * host conditions; prints one JSON object per way with the median, minimum
 * and maximum over the runs.  Without KVM_CAP_HYPERV_SPIN (plain KVM) only
 * the spin-only row.  A benchmark, not a test: it asserts nothing about
 * speed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "kvm_util.h"
#include "overcommit.h"

#define REPS		5
#define ROUNDS		OVERCOMMIT_ROUNDS	/* lock acquisitions per vCPU */

enum way { SPIN_ONLY, SPIN_NOTIFY, WAY_NR };

static const char *const way_names[WAY_NR] = {
	[SPIN_ONLY] = "overcommit_spin_only",
	[SPIN_NOTIFY] = "overcommit_spin_notify",
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	uint64_t acq[WAY_NR][REPS], cpu_ns[WAY_NR][REPS], notes[WAY_NR][REPS];
	uint64_t spins[WAY_NR][REPS];
	struct overcommit_result r;
	const char *kernel = getenv("HVL_KERNEL") ?: "?";
	const char *mod = getenv("HVL_MODULE_LOADED") ?: "0";
	int way, rep, nr_ways;

	kvm_require();
	nr_ways = kvm_check_cap(KVM_CAP_HYPERV_SPIN) > 0 ? WAY_NR : 1;
	for (rep = 0; rep < REPS; rep++) {
		for (way = 0; way < nr_ways; way++) {
			overcommit_run(way == SPIN_NOTIFY, ROUNDS, &r);
			cpu_ns[way][rep] = r.cpu_ns;
			notes[way][rep] = r.notifications;
			spins[way][rep] = r.spins;
			/* A lock that did not hold makes the figure meaningless. */
			TEST_ASSERT_EQ(r.counter, OVERCOMMIT_VCPUS * ROUNDS);
			/* Hundredths: a slow host can manage only a few per second. */
			acq[way][rep] = r.counter * 100000000000ull /
					(cpu_ns[way][rep] ?: 1);
		}
	}
	for (way = 0; way < nr_ways; way++) {
		qsort(acq[way], REPS, sizeof(uint64_t), cmp_u64);
		qsort(cpu_ns[way], REPS, sizeof(uint64_t), cmp_u64);
		qsort(notes[way], REPS, sizeof(uint64_t), cmp_u64);
		qsort(spins[way], REPS, sizeof(uint64_t), cmp_u64);
		printf("{\"kernel\": \"%s\", \"module\": %s, \"op\": \"%s\", "
		       "\"vcpus\": %d, \"rounds\": %d, \"reps\": %d, "
		       "\"acq_per_cpu_s_median\": %lu.%02lu, \"acq_per_cpu_s_min\": %lu.%02lu, "
		       "\"acq_per_cpu_s_max\": %lu.%02lu, "
		       "\"notifications_median\": %lu, \"spins_median\": %lu, \"cpu_ms_median\": %lu}\n",
		       kernel, mod, way_names[way], OVERCOMMIT_VCPUS, ROUNDS, REPS,
		       acq[way][REPS / 2] / 100, acq[way][REPS / 2] % 100,
		       acq[way][0] / 100, acq[way][0] % 100,
		       acq[way][REPS - 1] / 100, acq[way][REPS - 1] % 100,
		       notes[way][REPS / 2], spins[way][REPS / 2],
		       cpu_ns[way][REPS / 2] / 1000000);
	}
	return 0;
}
