/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest op batches: the host fills a batch of Hyper-V MSR accesses,
 * hypercalls (CPL0 or CPL3) and reference TSC page reads in guest memory,
 * the guest runs them all and stops at a GUEST_SYNC, the host reads the
 * results. One exit to the VMM per batch, not per op. Also a 32-bit
 * protected-mode hypercall loop. Used by hv_fuzz.
 */
#ifndef HVL_SELFTEST_HVBATCH_H
#define HVL_SELFTEST_HVBATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_util.h"

#define HVB_MAX		48

enum { K_RDMSR, K_WRMSR, K_HCALL, K_PAGE, K_RDMSR_U, K_WRMSR_U, K_HCALL_U };
extern const char *const hvb_kind_name[];

struct gop {
	uint32_t kind, msr;
	uint64_t val, rax;	/* in: MSR value or hypercall input; RAX */
	uint64_t vec, out;	/* out: the exception vector, the value */
};

struct gbatch {
	uint64_t n;
	struct gop op[HVB_MAX];
};

/* VMMCALL (AMD, Hygon) or VMCALL (Intel); sync it to the guest. */
extern bool hvb_amd;
bool hvb_is_amd(void);

/*
 * Guest: GUEST_SYNC, then run the batch at batch_gpa, for ever. A page
 * read returns the time, or 0 when the page at tsc_gpa is invalid.
 */
void hvb_guest(uint64_t batch_gpa, uint64_t tsc_gpa);

/*
 * 32-bit code: the hypercall with EDX:EAX as input, then
 * "out %eax, $0xe0", then again. Start with vcpu_set_pm32().
 */
extern char hvb32_vmmcall[], hvb32_vmcall[];

#endif
