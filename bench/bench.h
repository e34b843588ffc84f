/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What make bench's newer programs (bench_synic, bench_ipi, bench_tick)
 * share: the TLFS names the committed hv_tlfs_user.h does not have yet,
 * the host side of a measurement (medians over batches, the JSON row
 * bench/report reads, as bench_ops prints it) and pinning to host CPU 0.
 */
#ifndef HVL_BENCH_H
#define HVL_BENCH_H

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

#define BENCH_REPS	9

/* TLFS names, where the header has none (yet). */
#ifndef HV_X64_MSR_SINT0
#define HV_X64_MSR_SINT0			0x40000090
#endif
#ifndef HV_X64_MSR_EOM
#define HV_X64_MSR_EOM				0x40000084
#endif
#ifndef HV_X64_MSR_STIMER0_COUNT
#define HV_X64_MSR_STIMER0_COUNT		0x400000B1
#endif
#ifndef HV_STIMER_DIRECT_MODE_AVAILABLE
#define HV_STIMER_DIRECT_MODE_AVAILABLE		BIT(19)
#endif
/* STIMERn_CONFIG: enable, periodic, direct mode, its APIC vector. */
#define BENCH_STIMER_ENABLE		BIT_ULL(0)
#define BENCH_STIMER_PERIODIC		BIT_ULL(1)
#define BENCH_STIMER_VECTOR(v)		((uint64_t)(v) << 4)
#define BENCH_STIMER_DIRECT		BIT_ULL(12)

#define MSR_IA32_TSC_DEADLINE		0x6e0
#define APIC_LVT_TSC_DEADLINE		(2u << 17)

/*
 * One quantity over the BENCH_REPS batches of a row: printed as
 * "<name>_median", "_min" and "_max", each divided by div (the batch for
 * a per-operation figure, 1 for a per-batch count).
 */
struct bench_val {
	const char *name;
	uint64_t div;
	uint64_t v[BENCH_REPS];
};

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * One JSON object per row, with bench_ops' fields: "cycles" and
 * "batch_exits" first, then any others; measure says what the cycles are
 * where they are not the guest's TSC per operation.
 */
static inline void bench_row(const char *op, const char *guest,
			     const char *measure, unsigned int batch,
			     struct bench_val *vals, unsigned int n)
{
	const char *kernel = getenv("HVL_KERNEL") ?: "?";
	const char *mod = getenv("HVL_MODULE_LOADED") ?: "0";
	struct bench_val *x;
	unsigned int i;

	printf("{\"kernel\": \"%s\", \"module\": %s, \"op\": \"%s\", \"guest\": \"%s\", "
	       "\"batch\": %u, \"reps\": %d", kernel, mod, op, guest, batch, BENCH_REPS);
	if (measure)
		printf(", \"measure\": \"%s\"", measure);
	for (i = 0; i < n; i++) {
		x = &vals[i];
		qsort(x->v, BENCH_REPS, sizeof(x->v[0]), bench_cmp_u64);
		printf(", \"%s_median\": %lu, \"%s_min\": %lu, \"%s_max\": %lu",
		       x->name, x->v[BENCH_REPS / 2] / x->div, x->name,
		       x->v[0] / x->div, x->name, x->v[BENCH_REPS - 1] / x->div);
	}
	printf("}\n");
	fflush(stdout);
}

/* Run the calling thread on host CPU 0 only; with rt, ahead of all others. */
static inline void bench_pin(bool rt)
{
	struct sched_param sp = { .sched_priority = 1 };
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(one), &one), "pin to CPU 0");
	if (rt)
		TEST_ASSERT(!pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp),
			    "SCHED_FIFO");
}

/* KVM's per-VM "exits" (all vCPUs) from its debugfs. */
static inline uint64_t bench_vm_exits(struct kvm_vm *vm)
{
	uint64_t v;

	TEST_ASSERT(vm_debugfs_read(vm, "exits", NULL, &v),
		    "read the VM's debugfs exits");
	return v;
}

/* No halt polling: a halted vCPU blocks at once, as the figures assume. */
static inline void bench_no_halt_poll(struct kvm_vm *vm)
{
	TEST_ASSERT(!vm_enable_cap(vm, KVM_CAP_HALT_POLL, 0),
		    "KVM_CAP_HALT_POLL 0");
}

/* Can this KVM give a guest SynIC and a direct-mode synthetic timer? */
static inline bool bench_have_stimer(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];

	if (kvm_check_cap(KVM_CAP_HYPERV_SYNIC2) <= 0 ||
	    kvm_check_cap(KVM_CAP_HYPERV_CPUID) <= 0)
		return false;
	hv_leaves(leaf);
	return (leaf[3].eax & HV_MSR_SYNIC_AVAILABLE) &&
	       (leaf[3].eax & HV_MSR_SYNTIMER_AVAILABLE) &&
	       (leaf[3].edx & HV_STIMER_DIRECT_MODE_AVAILABLE);
}

#endif
