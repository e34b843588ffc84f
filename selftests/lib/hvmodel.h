/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A model of the Hyper-V MSRs and hypercalls a guest and its VMM see, for
 * hv_fuzz: what in-tree KVM answers, and where hvenlight differs on
 * purpose (Documentation/hvenlight.rst), what the module answers.
 */
#ifndef HVL_SELFTEST_HVMODEL_H
#define HVL_SELFTEST_HVMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_util.h"
#include "hvl_abi.h"

#define HVM_MAXV	3
#define HVM_NR_MSRS	12
#define HVM_NR_VALID	9	/* the first ones are implemented */
#define HVM_TIME	(~0ull)	/* expected value: a time, range-checked */
#define HVM_KEEP	(~1ull)	/* expected RAX: unchanged */
#define HVM_ICR_RSVD	(0xfff00000ull | 3ull << 16 | 1ull << 13)
#define HVM_FEATURES	(HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | \
			 HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE | \
			 HV_MSR_APIC_ACCESS_AVAILABLE)
#define HVM_OS_ID	0x8100000000001234ull

struct hv_vmodel {
	bool enforce;
	uint32_t feat, retries;		/* 0x40000003.EAX, 0x40000004.EBX */
	uint64_t vp_index, vp_assist, icr, tpr;
};

struct hv_model {
	bool module;			/* hvenlight's differences apply */
	bool hv, irqchip;		/* Hyper-V CPUID; in-kernel LAPIC */
	uint64_t mem_size, hc_gpa, tsc_gpa, assist_gpa;
	uint64_t os_id, hypercall, ref_tsc;
	int page_stale;			/* 1 + the vCPU whose entry refreshes it */
	struct hv_vmodel v[HVM_MAXV];
};

extern const uint32_t hvm_msrs[HVM_NR_MSRS];

/* xorshift64: deterministic for a seed */
uint64_t rnd(uint64_t *s);
uint64_t below(uint64_t *s, uint64_t n);

bool hvm_partition_wide(uint32_t msr);
/*
 * An access to msr on vCPU k by the guest (CPL0) or the host: true when
 * the guest gets #GP or KVM_GET/SET_MSRS refuses; the value a read
 * returns in *out (HVM_TIME: a time). A write that succeeds updates f.
 */
bool hvm_msr(struct hv_model *f, int k, bool host, bool wr, uint32_t msr,
	     uint64_t v, uint64_t *out);
/* A hypercall's RAX afterwards (HVM_KEEP: unchanged) and its vector. */
uint64_t hvm_hcall(struct hv_model *f, int k, bool cpl3, uint64_t ctl,
		   uint64_t *vec);
/* A TPR read of got where exp was written: SVM keeps only bits 7:4. */
bool hvm_tpr_synced(uint32_t msr, uint64_t got, uint64_t exp);
/* Random inputs: a hypercall input value, a value for msr. */
uint64_t hvm_rnd_ctl(uint64_t *s);
uint64_t hvm_rnd_val(struct hv_model *f, uint64_t *s, uint32_t msr);

#endif
