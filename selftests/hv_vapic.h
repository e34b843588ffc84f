/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the hv_vapic* tests (the virtual APIC enlightenment): Hyper-V
 * CPUID setups, the guest's vectors, interrupt handlers and EOI, and MSR
 * probes run in a fresh VM.  Each test is its own binary, so all of this is
 * static (apic.h's mode variable must be the same one the guest code here
 * and in the test sets); "inline" and "unused" keep unused parts quiet.
 */
#ifndef HVL_SELFTEST_HV_VAPIC_H
#define HVL_SELFTEST_HV_VAPIC_H

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <asm/kvm_para.h>

#include "kvm_util.h"
#include "hv.h"
#include "apic.h"
#include "hvl_abi.h"

/* ---- Hyper-V CPUID ---- */

enum hv_setup { HV_NONE, HV_FULL, HV_ENFORCE_NO_APIC, HV_ENFORCE_APIC };

static inline void vcpu_setup_hv(struct kvm_vcpu *vcpu, enum hv_setup how)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];

	if (how == HV_NONE)
		return;
	hv_leaves(leaf);
	if (how == HV_ENFORCE_NO_APIC) {
		leaf[3].eax &= ~HV_MSR_APIC_ACCESS_AVAILABLE;
		leaf[4].eax &= ~HV_X64_APIC_ACCESS_RECOMMENDED;
	}
	if (how == HV_ENFORCE_NO_APIC || how == HV_ENFORCE_APIC)
		TEST_ASSERT(!vcpu_enable_cap(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
			    "KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENFORCE_CPUID)");
	vcpu_set_hv_leaves(vcpu, leaf);
}

static inline bool vcpu_has_x2apic(struct kvm_vcpu *vcpu)
{
	struct kvm_cpuid_entry2 *e = vcpu_cpuid_entry(vcpu, 1, 0);

	return e && (e->ecx & (1u << 21));
}

/* ---- KVM statistics ---- */

/* The VM's debugfs "exits" (sum over its vCPUs), or -1 without debugfs. */
static inline uint64_t vm_debugfs_exits(struct kvm_vm *vm)
{
	uint64_t v;

	return vm_debugfs_read(vm, "exits", NULL, &v) ? v : (uint64_t)-1;
}

/* ---- guest: the local APIC ---- */

/* Vectors; the class (vector >> 4) matters for TPR and nesting. */
#define V_WD		0x31	/* SMP watchdog timer */
#define V_TPR_LOW	0x45
#define V_IPI		0x50
#define V_TIMER		0x58
#define V_REMOTE0	0xa0	/* SMP: one vector per round, V_REMOTE0 + round */
#define V_TPR_HIGH	0x65
#define V_NEST_PEND	0x60	/* below V_NEST_LOW's class: stays in IRR */
#define V_NEST_LOW	0x70
#define V_NEST_HIGH	0x90

#define MAX_CPUS	4

static inline bool apic_isr_bit(int vec)
{
	return apic_read(APIC_ISR + (vec / 32) * 0x10) & (1u << (vec % 32));
}

static inline bool apic_irr_bit(int vec)
{
	return apic_read(APIC_IRR + (vec / 32) * 0x10) & (1u << (vec % 32));
}

static inline uint32_t apic_isr_any(void)
{
	uint32_t any = 0;
	int i;

	for (i = 0; i < 8; i++)
		any |= apic_read(APIC_ISR + i * 0x10);
	return any;
}

/* HV ICR value with a physical destination: xAPIC 63:56, x2APIC 63:32. */
static inline uint64_t hv_icr_dest(uint32_t vec, uint32_t apic_id)
{
	return (apic_x2 ? (uint64_t)apic_id << 32 : (uint64_t)apic_id << 56) | vec;
}

/* ---- guest: interrupt handlers and the EOI ---- */

static volatile uint64_t vec_count[MAX_CPUS][256] __attribute__((unused));
static volatile uint64_t eoi_faults __attribute__((unused));

/* Assist page protocol (single-vCPU guests). */
static volatile uint64_t use_assist __attribute__((unused));
static volatile uint32_t *assist_word __attribute__((unused));
static volatile uint64_t assist_skips __attribute__((unused));
static volatile uint64_t assist_msr_eois __attribute__((unused));

static inline void hv_eoi(void)
{
	if (wrmsr_safe(HV_X64_MSR_EOI, 0))
		__atomic_add_fetch(&eoi_faults, 1, __ATOMIC_RELAXED);
}

/* What Windows and Linux do: no EOI if KVM said none is required. */
static inline void do_eoi(void)
{
	if (use_assist) {
		if (test_and_clear_bit0(assist_word)) {
			assist_skips++;
			return;
		}
		assist_msr_eois++;
	}
	hv_eoi();
}

static inline void count_handler(struct ex_regs *regs)
{
	vec_count[guest_vcpu_id()][regs->vector & 0xff]++;
	do_eoi();
}

static inline uint64_t cnt(int vec)
{
	return vec_count[guest_vcpu_id()][vec];
}

/* A window with interrupts enabled. */
static inline void irq_window(void)
{
	asm volatile("sti; nop; nop; nop; cli" ::: "memory");
}

/* Spin with IF=1 until *p != old or about `cycles` TSC cycles passed. */
static inline bool wait_change(volatile uint64_t *p, uint64_t old, uint64_t cycles)
{
	uint64_t t0 = rdtsc();
	bool changed;

	sti();
	while (*p == old && rdtsc() - t0 < cycles)
		asm volatile("" ::: "memory");
	cli();
	changed = *p != old;
	return changed;
}

static inline void spin_irq_on(uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	sti();
	while (rdtsc() - t0 < cycles)
		asm volatile("" ::: "memory");
	cli();
}

#define WAIT_CYCLES	3000000000ull	/* about a second or more */
#define GRACE_CYCLES	100000000ull	/* tens of ms: many timer periods */
#define TIMER_TICKS	100000		/* 100 us at divide-by-1 (1 GHz bus) */

/* ---- guest: MSR probes ---- */

struct probe {
	uint32_t msr;
	uint32_t write;
	uint64_t val;		/* in: what to write */
	uint64_t rval;		/* out: what rdmsr gave */
	uint64_t vec;		/* out: the exception vector, 0 if none */
};

#define MAX_PROBES	16
static struct probe probes[MAX_PROBES] __attribute__((unused));
static uint64_t nr_probes __attribute__((unused));
/* V_IPI handler runs after the probes */
static uint64_t probe_delivered __attribute__((unused));

/* APIC setup for a probe run. */
enum probe_apic { PA_XAPIC, PA_X2APIC, PA_NONE, PA_DISABLED };

static inline void probe_guest(uint64_t apic)
{
	uint64_t i;

	if (apic == PA_XAPIC || apic == PA_X2APIC)
		apic_enable(apic == PA_X2APIC);
	if (apic == PA_DISABLED)	/* xAPIC hardware-disabled */
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) & ~APIC_BASE_EN);
	for (i = 0; i < nr_probes; i++) {
		if (probes[i].write)
			probes[i].vec = wrmsr_safe(probes[i].msr, probes[i].val);
		else
			probes[i].vec = rdmsr_safe(probes[i].msr, &probes[i].rval);
	}
	if (apic == PA_XAPIC || apic == PA_X2APIC) {
		irq_window();
		probe_delivered = cnt(V_IPI);
	}
	GUEST_DONE();
}

static inline void set_probes(const struct probe *p, int n)
{
	TEST_ASSERT(n <= MAX_PROBES, "too many probes");
	memset(probes, 0, sizeof(probes));
	memcpy(probes, p, n * sizeof(*p));
	nr_probes = n;
}

/* Run probes[] in a fresh VM; results are left in probes[]. */
static inline void run_probes(unsigned int vm_flags, enum hv_setup how,
		       enum probe_apic apic, const struct probe *p, int n)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t kind;

	vm = vm_create(0, vm_flags);
	vcpu = vm_vcpu_add(vm, probe_guest);
	vcpu_setup_hv(vcpu, how);
	vcpu_args_set(vcpu, 1, (uint64_t)apic);
	vm_install_handler(vm, V_IPI, count_handler);
	set_probes(p, n);
	sync_global_to_guest(vm, probes);
	sync_global_to_guest(vm, nr_probes);
	kind = vcpu_run_noabort(vcpu, &uc);
	TEST_ASSERT(kind == UCALL_DONE, "probe guest: %s", uc.msg);
	sync_global_from_guest(vm, probes);
	sync_global_from_guest(vm, probe_delivered);
	vm_free(vm);
}

static const char *const vapic_names[] __attribute__((unused)) = {
	"EOI", "ICR", "TPR", "VP_ASSIST_PAGE",
};
static const uint32_t vapic_msrs[] __attribute__((unused)) = {
	HV_X64_MSR_EOI, HV_X64_MSR_ICR, HV_X64_MSR_TPR, HV_X64_MSR_VP_ASSIST_PAGE,
};

/* A page for the VP assist page, in the free area below the binary. */
#define ASSIST_GPA	0x200000ull

/* All four MSRs read then written (harmless values). */
static inline void all_four_probes(struct probe p[8])
{
	const uint64_t wval[] = { 0, ICR_SELF | V_IPI, 0, ASSIST_GPA | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE };
	int i;

	for (i = 0; i < 4; i++) {
		p[2 * i] = (struct probe){ .msr = vapic_msrs[i] };
		p[2 * i + 1] = (struct probe){ .msr = vapic_msrs[i], .write = 1,
					       .val = wval[i] };
	}
}

/* ---- every hv_vapic test ---- */

static bool x2ok __attribute__((unused));	/* KVM offers x2APIC */

/* The whole test skips without Hyper-V or an in-kernel irqchip. */
static inline void vapic_init(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	kvm_require();
	hv_env_init();
	if (hv_env == HV_PLAIN)
		tap_skip_all("%s", NO_MODULE);
	if (kvm_check_cap(KVM_CAP_HYPERV_CPUID) <= 0)
		tap_skip_all("no KVM_CAP_HYPERV_CPUID: no Hyper-V in this KVM");
	if (kvm_check_cap(KVM_CAP_IRQCHIP) <= 0)
		tap_skip_all("no KVM_CAP_IRQCHIP: nothing to enlighten");

	vm = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm, NULL);
	x2ok = vcpu_has_x2apic(vcpu);
	vm_free(vm);
	if (!x2ok)
		tap_diag("KVM offers no x2APIC: x2APIC checks skip");
}

/* In a scenario for x2APIC mode: skip it where KVM has no x2APIC. */
static inline void vapic_require_mode(uint64_t x2)
{
	if (x2 && !x2ok)
		test_skip("KVM offers no x2APIC");
}

#endif
