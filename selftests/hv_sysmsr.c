// SPDX-License-Identifier: GPL-2.0
/*
 * The Hyper-V system MSRs (lib/hvsys.h's table): VP_RUNTIME, TSC_FREQUENCY,
 * APIC_FREQUENCY, RESET, CRASH_P0-P4 and CRASH_CTL, the re-enlightenment
 * MSRs and the synthetic debugger's, as MSRs (their exits: hv_exit.c):
 *   (a) a guest without "Hv#1" (or without kernel debugging in 0x40000082,
 *       for the debugger's) gets #GP; plain KVM refuses the host too;
 *   (b) KVM_CAP_HYPERV_ENFORCE_CPUID: each 0x40000003 bit opens exactly
 *       its MSRs; the host is never gated;
 *   (c) read-only MSRs and values a guest may not write, host writes that
 *       are ignored or masked;
 *   (d) the values: TSC_FREQUENCY = KVM_GET_TSC_KHZ x 1000 (also after
 *       KVM_SET_TSC_KHZ), APIC_FREQUENCY = 1 GHz / the APIC bus cycle;
 *       VP_RUNTIME grows with the vCPU thread's CPU time and not while the
 *       vCPU is halted (in userspace or in the kernel);
 *   (e) host round trips: VP_RUNTIME per vCPU, the rest partition-wide;
 *   (f) migration of every listed Hyper-V MSR into a fresh VM.
 * Features the supported CPUID does not offer are skipped.
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; plain KVM only runs (a).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "hvsys.h"
#include "apic.h"

#ifndef KVM_CAP_X86_APIC_BUS_CYCLES_NS
#define KVM_CAP_X86_APIC_BUS_CYCLES_NS	237
#endif

#define NOTIFY		HV_CRASH_CTL_CRASH_NOTIFY
#define MS		10000ull	/* 1 ms in 100 ns units */

static struct kvm_cpuid_entry2 sup[HVL_CPUID_NR_LEAVES];

static const struct { uint64_t feature; const char *name; } groups[] = {
	{ HV_MSR_VP_RUNTIME_AVAILABLE, "VP_RUNTIME" },
	{ HV_MSR_RESET_AVAILABLE, "RESET" },
	{ HV_ACCESS_FREQUENCY_MSRS, "frequencies" },
	{ HV_ACCESS_REENLIGHTENMENT, "re-enlightenment" },
	{ HVSYS_CRASH, "crash" },
	{ HVSYS_DEBUG, "debug" },
};

static uint64_t thread_cpu_100ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (ts.tv_sec * 1000000000ull + ts.tv_nsec) / 100;
}

/* ---- (a) a guest without Hyper-V ---- */

static void test_non_hv(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], vecs[128], hbad[512] = "";
	unsigned int i, n = 0;
	uint64_t v;
	bool ran;
	int r;

	vm = vm_create_with_vcpus(1, hvsys_ops_guest, &vcpu);
	hvsys_ops_clear();
	for (i = 0; i < hvsys_nr_msrs; i++) {
		hvsys_op_rd(hvsys_msrs[i].msr);
		hvsys_op_wr(hvsys_msrs[i].msr, hvsys_msrs[i].wval);
	}
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	tap_ok(ran && hvsys_ops_vec(0, hvsys_nops, GP_VECTOR, vecs, sizeof(vecs)),
	       "guest without \"Hv#1\": rdmsr/wrmsr of the %u system MSRs #GP, no exit (%s; %s)",
	       hvsys_nr_msrs, why, vecs);

	for (i = 0; i < hvsys_nr_msrs; i++) {
		r = vcpu_get_msr(vcpu, hvsys_msrs[i].msr, &v);
		if (r != (hv_env == HV_PLAIN ? 0 : 1)) {
			hvsys_bad_add(hbad, sizeof(hbad), hvsys_msrs[i].msr, "get", r);
			n++;
		}
	}
	if (hv_env == HV_PLAIN)
		tap_ok(!n, "plain KVM: KVM_GET_MSRS refuses all of them%s", hbad);
	else
		tap_ok(!n, "the host still reads all of them (a VMM saving state)%s", hbad);
	vm_free(vm);

	if (hv_env == HV_PLAIN || !hvsys_offers(sup, HVSYS_DEBUG))
		return;
	/* "Hv#1", but kernel debugging not allowed in 0x40000082. */
	memcpy(leaf, sup, sizeof(leaf));
	leaf[LEAF_SYNDBG_CAPS].eax = 0;
	vm = hvsys_vm(0, 1, hvsys_ops_guest, leaf, false, &vcpu);
	hvsys_ops_clear();
	for (i = 0; i < hvsys_nr_msrs; i++) {
		if (hvsys_msrs[i].feature != HVSYS_DEBUG)
			continue;
		hvsys_op_rd(hvsys_msrs[i].msr);
		hvsys_op_wr(hvsys_msrs[i].msr, hvsys_msrs[i].wval);
	}
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	tap_ok(ran && hvsys_ops_vec(0, hvsys_nops, GP_VECTOR, vecs, sizeof(vecs)),
	       "0x40000082.EAX without ALLOW_KERNEL_DEBUGGING: the SYNDBG MSRs #GP for the guest, no exit (%s; %s)",
	       why, vecs);
	r = vcpu_set_msr(vcpu, HV_X64_MSR_SYNDBG_SEND_BUFFER, 0x5000);
	tap_ok(r == 1 && vcpu_rdmsr(vcpu, HV_X64_MSR_SYNDBG_SEND_BUFFER) == 0x5000,
	       "... the host still writes and reads them (%d)", r);
	vm_free(vm);
}

/* ---- (b) enforcement ---- */

/*
 * Probe every offered system MSR on a new enforced vCPU with these leaves:
 * a read, and a write where one is allowed. Those with a feature in open
 * must work (a write of a read-only MSR #GP), the others #GP.
 */
static bool probe_enforced(const struct kvm_cpuid_entry2 leaf[], uint64_t open,
			   char *bad, size_t len)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	unsigned int i;
	bool ran;

	vm = hvsys_vm(0, 1, hvsys_ops_guest, leaf, true, &vcpu);
	hvsys_ops_clear();
	for (i = 0; i < hvsys_nr_msrs; i++) {
		const struct hvsys_msr *m = &hvsys_msrs[i];

		if (!hvsys_offers(sup, m->feature))
			continue;
		hvsys_op_rd(m->msr);
		if (m->wr != HVSYS_WR_EXIT || !(m->feature & open))
			hvsys_op_wr(m->msr, m->wval);
	}
	bad[0] = 0;
	ran = hvsys_ops_run(vcpu, why, len);
	if (!ran)
		snprintf(bad, len, " %s", why);
	for (i = 0; ran && i < hvsys_nops; i++) {
		const struct hvsys_op *op = &hvsys_ops[i];
		const struct hvsys_msr *m;
		unsigned int j;
		uint8_t want = GP_VECTOR;

		for (j = 0; hvsys_msrs[j].msr != op->msr; j++)
			;
		m = &hvsys_msrs[j];
		if ((m->feature & open) && (!op->write || m->wr == HVSYS_WR_OK))
			want = 0;
		if (op->vec != want)
			hvsys_bad_add(bad, len, op->msr, op->write ? "wr" : "rd", op->vec);
	}
	vm_free(vm);
	return !bad[0];
}

static void test_enforce(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	uint64_t all = 0, v;
	char bad[1024];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	unsigned int i;
	bool ok;

	hvsys_require(sup, 0, NULL);
	for (i = 0; i < ARRAY_SIZE(groups); i++)
		if (hvsys_offers(sup, groups[i].feature))
			all |= groups[i].feature;
	if (!all)
		test_skip("none of the system MSR features is offered");

	memcpy(leaf, sup, sizeof(leaf));
	hvsys_set_features(leaf, all, false);
	tap_ok(probe_enforced(leaf, 0, bad, sizeof(bad)),
	       "enforced, none of their bits (0x40000003 %#lx cleared): every offered system MSR #GP, no exit%s",
	       all, bad);

	for (i = 0; i < ARRAY_SIZE(groups); i++) {
		if (!(all & groups[i].feature))
			continue;
		memcpy(leaf, sup, sizeof(leaf));
		hvsys_set_features(leaf, all & ~groups[i].feature, false);
		tap_ok(probe_enforced(leaf, groups[i].feature, bad, sizeof(bad)),
		       "enforced, only the %s bit: its MSRs work (writes of read-only ones #GP), the others #GP%s",
		       groups[i].name, bad);
	}

	if (all & HVSYS_DEBUG) {
		memcpy(leaf, sup, sizeof(leaf));
		leaf[LEAF_SYNDBG_CAPS].eax = 0;
		tap_ok(probe_enforced(leaf, all & ~HVSYS_DEBUG, bad, sizeof(bad)),
		       "enforced, the debug MSRs bit but no ALLOW_KERNEL_DEBUGGING in 0x40000082: the SYNDBG MSRs #GP%s",
		       bad);
	}

	/* The host is never gated. */
	memcpy(leaf, sup, sizeof(leaf));
	hvsys_set_features(leaf, all, false);
	vm = hvsys_vm(0, 1, NULL, leaf, true, &vcpu);
	ok = true;
	for (i = 0; i < hvsys_nr_msrs; i++) {
		if (!(all & hvsys_msrs[i].feature))
			continue;
		ok = ok && vcpu_get_msr(vcpu, hvsys_msrs[i].msr, &v) == 1 &&
		     vcpu_set_msr(vcpu, hvsys_msrs[i].msr, v) == 1;
	}
	tap_ok(ok, "enforced without the bits: the host reads and writes back each of them");
	vm_free(vm);
}

/* ---- (c) read-only MSRs, values the guest may not write ---- */

static void test_readonly(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	uint64_t v0, v1;
	unsigned int i;
	int r;

	hvsys_require(sup, 0, NULL);
	vm = hvsys_vm(0, 1, hvsys_ops_guest, sup, false, &vcpu);

	if (hvsys_offers(sup, HV_MSR_VP_RUNTIME_AVAILABLE)) {
		hvsys_ops_clear();
		hvsys_op_rd(HV_X64_MSR_VP_RUNTIME);
		hvsys_op_wr(HV_X64_MSR_VP_RUNTIME, 1ull << 50);
		hvsys_op_rd(HV_X64_MSR_VP_RUNTIME);
		TEST_ASSERT(hvsys_ops_run(vcpu, why, sizeof(why)), "%s", why);
		tap_ok(hvsys_ops[1].vec == GP_VECTOR && !hvsys_ops[0].vec &&
		       hvsys_ops[2].val >= hvsys_ops[0].val &&
		       hvsys_ops[2].val < 1ull << 50,
		       "guest wrmsr VP_RUNTIME -> #GP (%u), the value goes on (%#lx, then %#lx)",
		       hvsys_ops[1].vec, hvsys_ops[0].val, hvsys_ops[2].val);
	}

	if (hvsys_offers(sup, HV_ACCESS_FREQUENCY_MSRS)) {
		const uint32_t f[2] = { HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY };

		for (i = 0; i < 2; i++) {
			v0 = vcpu_rdmsr(vcpu, f[i]);
			hvsys_ops_clear();
			hvsys_op_wr(f[i], 12345);
			hvsys_op_rd(f[i]);
			TEST_ASSERT(hvsys_ops_run(vcpu, why, sizeof(why)), "%s", why);
			r = vcpu_set_msr(vcpu, f[i], 54321);
			v1 = vcpu_rdmsr(vcpu, f[i]);
			tap_ok(hvsys_ops[0].vec == GP_VECTOR && hvsys_ops[1].val == v0 &&
			       r == 1 && v1 == v0,
			       "%s: guest write #GP (%u), host write accepted (%d) and ignored: %lu, %lu, %lu",
			       i ? "APIC_FREQUENCY" : "TSC_FREQUENCY", hvsys_ops[0].vec,
			       r, v0, hvsys_ops[1].val, v1);
		}
	}

	if (hvsys_offers(sup, HV_ACCESS_REENLIGHTENMENT)) {
		hvsys_ops_clear();
		hvsys_op_wr(HV_X64_MSR_TSC_EMULATION_STATUS, 1);
		hvsys_op_wr(HV_X64_MSR_TSC_EMULATION_STATUS, NOTIFY);
		hvsys_op_wr(HV_X64_MSR_TSC_EMULATION_STATUS, 0);
		TEST_ASSERT(hvsys_ops_run(vcpu, why, sizeof(why)), "%s", why);
		tap_ok(hvsys_ops[0].vec == GP_VECTOR && hvsys_ops[1].vec == GP_VECTOR &&
		       !hvsys_ops[2].vec,
		       "guest TSC_EMULATION_STATUS: 1 and bit 63 #GP (%u %u), 0 works (%u)",
		       hvsys_ops[0].vec, hvsys_ops[1].vec, hvsys_ops[2].vec);
		r = vcpu_set_msr(vcpu, HV_X64_MSR_TSC_EMULATION_STATUS, 1);
		hvsys_ops_clear();
		hvsys_op_rd(HV_X64_MSR_TSC_EMULATION_STATUS);
		TEST_ASSERT(hvsys_ops_run(vcpu, why, sizeof(why)), "%s", why);
		tap_ok(r == 1 && hvsys_ops[0].val == 1,
		       "host TSC_EMULATION_STATUS 1 is stored (%d), the guest reads %#lx",
		       r, hvsys_ops[0].val);
	}

	if (hvsys_offers(sup, HVSYS_CRASH)) {
		r = vcpu_set_msr(vcpu, HV_X64_MSR_CRASH_CTL, ~0ull);
		v0 = vcpu_rdmsr(vcpu, HV_X64_MSR_CRASH_CTL);
		vcpu_wrmsr(vcpu, HV_X64_MSR_CRASH_CTL, 0x1234);
		v1 = vcpu_rdmsr(vcpu, HV_X64_MSR_CRASH_CTL);
		tap_ok(r == 1 && v0 == NOTIFY && v1 == 0,
		       "host CRASH_CTL keeps only the notify bit: ~0 -> %#lx, 0x1234 -> %#lx",
		       v0, v1);
	}

	if (hvsys_offers(sup, HV_MSR_RESET_AVAILABLE)) {
		r = vcpu_set_msr(vcpu, HV_X64_MSR_RESET, 0);
		v0 = vcpu_rdmsr(vcpu, HV_X64_MSR_RESET);
		hvsys_ops_clear();
		hvsys_op_wr(HV_X64_MSR_RESET, 0);
		hvsys_op_rd(HV_X64_MSR_RESET);
		TEST_ASSERT(hvsys_ops_run(vcpu, why, sizeof(why)), "%s", why);
		tap_ok(r == 1 && !v0 && !hvsys_ops[0].vec && !hvsys_ops[1].vec &&
		       !hvsys_ops[1].val,
		       "RESET reads 0 for the host (%d, %#lx) and the guest (%u, %#lx)",
		       r, v0, hvsys_ops[1].vec, hvsys_ops[1].val);
	}
	vm_free(vm);
}

/* ---- (d) the frequencies ---- */

static void test_frequencies(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	uint64_t host, want;
	int khz, ns, r;

	hvsys_require(sup, HV_ACCESS_FREQUENCY_MSRS, "the frequency MSRs");
	vm = hvsys_vm(0, 1, hvsys_ops_guest, sup, false, &vcpu);
	khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	TEST_ASSERT(khz > 0, "KVM_GET_TSC_KHZ");
	ns = vm_check_cap(vm, KVM_CAP_X86_APIC_BUS_CYCLES_NS);
	ns = ns > 0 ? ns : 1;
	hvsys_ops_clear();
	hvsys_op_rd(HV_X64_MSR_TSC_FREQUENCY);
	hvsys_op_rd(HV_X64_MSR_APIC_FREQUENCY);
	TEST_ASSERT(hvsys_ops_run(vcpu, why, sizeof(why)), "%s", why);
	host = vcpu_rdmsr(vcpu, HV_X64_MSR_TSC_FREQUENCY);
	tap_ok(hvsys_ops[0].val == khz * 1000ull && host == khz * 1000ull,
	       "TSC_FREQUENCY: guest %lu, host %lu == KVM_GET_TSC_KHZ %d x 1000",
	       hvsys_ops[0].val, host, khz);
	host = vcpu_rdmsr(vcpu, HV_X64_MSR_APIC_FREQUENCY);
	tap_ok(hvsys_ops[1].val == 1000000000ull / ns && host == hvsys_ops[1].val,
	       "APIC_FREQUENCY: guest %lu, host %lu == 1 GHz / the default bus cycle %d ns",
	       hvsys_ops[1].val, host, ns);

	/* A faster TSC works with or without TSC scaling (catch-up). */
	r = ioctl(vcpu->fd, KVM_SET_TSC_KHZ, khz + khz / 4);
	if (r) {
		tap_skip("KVM_SET_TSC_KHZ(%d) refused here", khz + khz / 4);
	} else {
		khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
		hvsys_ops_clear();
		hvsys_op_rd(HV_X64_MSR_TSC_FREQUENCY);
		TEST_ASSERT(hvsys_ops_run(vcpu, why, sizeof(why)), "%s", why);
		tap_ok(hvsys_ops[0].val == khz * 1000ull,
		       "after KVM_SET_TSC_KHZ: TSC_FREQUENCY %lu == %d kHz x 1000",
		       hvsys_ops[0].val, khz);
	}
	vm_free(vm);

	/* KVM_CAP_X86_APIC_BUS_CYCLES_NS (an in-kernel LAPIC, no vCPU yet). */
	vm = vm_create(0, VM_IRQCHIP);
	r = vm_enable_cap(vm, KVM_CAP_X86_APIC_BUS_CYCLES_NS, 4);
	if (r) {
		vm_free(vm);
		tap_skip("KVM_CAP_X86_APIC_BUS_CYCLES_NS not available");
		return;
	}
	vcpu = vm_vcpu_add(vm, hvsys_ops_guest);
	vcpu_set_hv_leaves(vcpu, sup);
	hvsys_ops_clear();
	hvsys_op_rd(HV_X64_MSR_APIC_FREQUENCY);
	TEST_ASSERT(hvsys_ops_run(vcpu, why, sizeof(why)), "%s", why);
	host = vcpu_rdmsr(vcpu, HV_X64_MSR_APIC_FREQUENCY);
	want = 250000000;
	tap_ok(hvsys_ops[0].val == want && host == want,
	       "APIC bus cycle 4 ns: APIC_FREQUENCY guest %lu, host %lu == %lu",
	       hvsys_ops[0].val, host, want);
	vm_free(vm);
}

/* ---- (d) VP_RUNTIME ---- */

#define SPIN		(200 * MS)	/* run time the guest spins for */
#define GIVE_UP		(100000 * MS)	/* reference time it gives up after */
#define HALT		(300 * MS)

static void spin_guest(void)
{
	uint64_t r0, r1, t0, t1, n = 0;
	int i;

	t0 = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	r0 = rdmsr(HV_X64_MSR_VP_RUNTIME);
	do {
		for (i = 0; i < 2000; i++)
			cpu_relax();
		r1 = rdmsr(HV_X64_MSR_VP_RUNTIME);
		t1 = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
		n++;
	} while (r1 - r0 < SPIN && t1 - t0 < GIVE_UP);
	GUEST_SYNC(r0, r1, t0, t1, n);
}

static void test_runtime_spin(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t h0, h1, c0, c1, dr, dc, slack;

	hvsys_require(sup, HV_MSR_VP_RUNTIME_AVAILABLE | HV_MSR_TIME_REF_COUNT_AVAILABLE,
		"VP_RUNTIME and TIME_REF_COUNT");
	vm = hvsys_vm(0, 1, spin_guest, sup, false, &vcpu);
	h0 = vcpu_rdmsr(vcpu, HV_X64_MSR_VP_RUNTIME);
	c0 = thread_cpu_100ns();
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	c1 = thread_cpu_100ns();
	h1 = vcpu_rdmsr(vcpu, HV_X64_MSR_VP_RUNTIME);
	tap_ok(uc.args[1] - uc.args[0] >= SPIN,
	       "VP_RUNTIME grew by %lu (100 ns) while the guest spun (%lu reads, %lu of reference time)",
	       uc.args[1] - uc.args[0], uc.args[4], uc.args[3] - uc.args[2]);
	tap_ok(h0 <= uc.args[0] && uc.args[0] <= uc.args[1] && uc.args[1] <= h1,
	       "host before %lu <= guest %lu <= %lu <= host after %lu", h0,
	       uc.args[0], uc.args[1], h1);
	/* Both count the same thread; VP_RUNTIME may lag by a tick at each end. */
	dr = h1 - h0;
	dc = c1 - c0;
	slack = 25 * MS + dc / 10;
	tap_ok(dr + slack >= dc && dr <= dc + slack,
	       "VP_RUNTIME grew by %lu, the vCPU thread's CPU time by %lu (100 ns; %lu slack)",
	       dr, dc, slack);
	vm_free(vm);
}

static void hlt_guest(void)
{
	uint64_t r0, t0;

	t0 = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	r0 = rdmsr(HV_X64_MSR_VP_RUNTIME);
	hlt();
	GUEST_SYNC(r0, rdmsr(HV_X64_MSR_VP_RUNTIME), t0,
		   rdmsr(HV_X64_MSR_TIME_REF_COUNT));
}

#define TIMER_VEC	0xec

static uint64_t timer_fired;	/* written by the guest's handler */

static void timer_handler(struct ex_regs *regs)
{
	(void)regs;
	__atomic_add_fetch(&timer_fired, 1, __ATOMIC_RELAXED);
	apic_write(APIC_EOI, 0);
}

/* HLT in the kernel until the LAPIC timer fires after `ticks`. */
static void lapic_hlt_guest(uint64_t ticks)
{
	uint64_t r0, t0;

	apic_enable(0);
	guest_install_handler(TIMER_VEC, timer_handler);
	apic_write(APIC_TDCR, 0xb);		/* divide by 1 */
	apic_write(APIC_LVTT, TIMER_VEC);	/* one-shot */
	t0 = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	r0 = rdmsr(HV_X64_MSR_VP_RUNTIME);
	apic_write(APIC_TMICT, ticks);
	while (!__atomic_load_n(&timer_fired, __ATOMIC_RELAXED))
		safe_halt();
	cli();
	GUEST_SYNC(r0, rdmsr(HV_X64_MSR_VP_RUNTIME), t0,
		   rdmsr(HV_X64_MSR_TIME_REF_COUNT),
		   __atomic_load_n(&timer_fired, __ATOMIC_RELAXED));
}

static void test_runtime_halted(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t freq, dr, dt, c0, c1;
	uint32_t reason;

	hvsys_require(sup, HV_MSR_VP_RUNTIME_AVAILABLE | HV_MSR_TIME_REF_COUNT_AVAILABLE,
		"VP_RUNTIME and TIME_REF_COUNT");

	/* No in-kernel irqchip: HLT exits; the VMM sleeps meanwhile. */
	vm = hvsys_vm(0, 1, hlt_guest, sup, false, &vcpu);
	reason = vcpu_run_raw(vcpu);
	c0 = thread_cpu_100ns();
	usleep(HALT / 10);
	c1 = thread_cpu_100ns();
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	dr = uc.args[1] - uc.args[0];
	dt = uc.args[3] - uc.args[2];
	tap_ok(reason == KVM_EXIT_HLT && dt >= HALT && dr < dt / 3,
	       "HLT exit to the VMM (%s), %lu of reference time halted: VP_RUNTIME grew by only %lu (100 ns; the VMM used %lu)",
	       exit_reason_str(reason), dt, dr, c1 - c0);
	vm_free(vm);

	/* In-kernel LAPIC: HLT waits in KVM for the LAPIC timer. */
	vm = hvsys_vm(VM_IRQCHIP, 1, lapic_hlt_guest, sup, false, &vcpu);
	freq = vcpu_rdmsr(vcpu, HV_X64_MSR_APIC_FREQUENCY);
	if (!freq)
		freq = 1000000000;
	vcpu_args_set(vcpu, 1, freq / 10000000 * HALT);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	dr = uc.args[1] - uc.args[0];
	dt = uc.args[3] - uc.args[2];
	tap_ok(uc.args[4] == 1 && dt >= HALT * 9 / 10 && dr < dt / 3,
	       "HLT in KVM until the LAPIC timer (%lu interrupt), %lu of reference time: VP_RUNTIME grew by only %lu (100 ns)",
	       uc.args[4], dt, dr);
	vm_free(vm);
}

/* ---- (e) host round trips ---- */

static void test_roundtrip(void)
{
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	char why[256], bad[1024] = "", gbad[1024] = "";
	uint64_t v, want[32];
	unsigned int i;
	int r;

	hvsys_require(sup, 0, NULL);
	vm = hvsys_vm(0, 2, hvsys_ops_guest, sup, false, vcpus);

	if (hvsys_offers(sup, HV_MSR_VP_RUNTIME_AVAILABLE)) {
		const uint64_t big = 1000000000000ull;
		uint64_t v0;

		r = vcpu_set_msr(vcpus[1], HV_X64_MSR_VP_RUNTIME, big);
		v = vcpu_rdmsr(vcpus[1], HV_X64_MSR_VP_RUNTIME);
		v0 = vcpu_rdmsr(vcpus[0], HV_X64_MSR_VP_RUNTIME);
		hvsys_ops_clear();
		hvsys_op_rd(HV_X64_MSR_VP_RUNTIME);
		TEST_ASSERT(hvsys_ops_run(vcpus[1], why, sizeof(why)), "%s", why);
		tap_ok(r == 1 && v >= big && v < big + 10000 * MS &&
		       hvsys_ops[0].val >= v && hvsys_ops[0].val < big + 10000 * MS &&
		       v0 < big,
		       "host VP_RUNTIME %lu on vCPU 1 (%d): reads %lu, guest %lu; per vCPU: vCPU 0 %lu",
		       big, r, v, hvsys_ops[0].val, v0);
	}

	/* Partition-wide: written on vCPU 0, read on vCPU 1 and by its guest. */
	hvsys_ops_clear();
	for (i = 0; i < hvsys_nr_msrs; i++) {
		const struct hvsys_msr *m = &hvsys_msrs[i];

		want[i] = 0;
		if (!m->vm_wide || m->msr == HV_X64_MSR_RESET ||
		    !hvsys_offers(sup, m->feature))
			continue;
		want[i] = m->msr == HV_X64_MSR_CRASH_CTL ? NOTIFY :
			  0xa5a5000000000000ull | (uint64_t)m->msr << 8 | i;
		vcpu_wrmsr(vcpus[0], m->msr, want[i]);
		hvsys_op_rd(m->msr);
	}
	TEST_ASSERT(hvsys_ops_run(vcpus[1], why, sizeof(why)), "%s", why);
	for (i = 0; i < hvsys_nr_msrs; i++) {
		const struct hvsys_msr *m = &hvsys_msrs[i];
		unsigned int j;

		if (!want[i])
			continue;
		v = vcpu_rdmsr(vcpus[1], m->msr);
		if (v != want[i])
			hvsys_bad_add(bad, sizeof(bad), m->msr, "host", v);
		for (j = 0; hvsys_ops[j].msr != m->msr; j++)
			;
		if (hvsys_ops[j].vec || hvsys_ops[j].val != want[i])
			hvsys_bad_add(gbad, sizeof(gbad), m->msr, "guest", hvsys_ops[j].val);
	}
	tap_ok(!bad[0], "partition-wide MSRs written on vCPU 0 read back on vCPU 1%s", bad);
	tap_ok(!gbad[0], "... and vCPU 1's guest reads them%s", gbad);

	/* The guest's writes on vCPU 1 reach the host on vCPU 0. */
	hvsys_ops_clear();
	for (i = 0; i < hvsys_nr_msrs; i++) {
		const struct hvsys_msr *m = &hvsys_msrs[i];

		if (!m->vm_wide || m->wr != HVSYS_WR_OK || m->msr == HV_X64_MSR_RESET ||
		    m->msr == HV_X64_MSR_CRASH_CTL || !hvsys_offers(sup, m->feature))
			continue;
		hvsys_op_wr(m->msr, m->wval);
	}
	TEST_ASSERT(hvsys_ops_run(vcpus[1], why, sizeof(why)), "%s", why);
	bad[0] = 0;
	for (i = 0; i < hvsys_nops; i++) {
		v = vcpu_rdmsr(vcpus[0], hvsys_ops[i].msr);
		if (hvsys_ops[i].vec || v != hvsys_ops[i].val)
			hvsys_bad_add(bad, sizeof(bad), hvsys_ops[i].msr, "host", v);
	}
	tap_ok(hvsys_nops && !bad[0],
	       "%lu guest writes on vCPU 1 read back by the host on vCPU 0%s",
	       hvsys_nops, bad);
	vm_free(vm);
}

/* ---- (f) migration ---- */

static void test_migration(void)
{
	struct kvm_msr_list hdr = { .nmsrs = 0 }, *l;
	struct kvm_vcpu *src, *dst;
	struct kvm_vm *vm, *vm2;
	char why[256], bad[1024] = "", miss[512] = "";
	uint64_t val[64], v;
	uint32_t msr[64], i, j, n = 0;
	bool listed;

	hvsys_require(sup, 0, NULL);
	ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, &hdr);
	l = calloc(1, sizeof(*l) + hdr.nmsrs * sizeof(l->indices[0]));
	TEST_ASSERT(l, "calloc");
	l->nmsrs = hdr.nmsrs;
	TEST_ASSERT(!ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, l), "KVM_GET_MSR_INDEX_LIST");
	for (i = 0; i < l->nmsrs && n < ARRAY_SIZE(msr); i++)
		if (l->indices[i] >= HVL_MSR_OWNED_FIRST && l->indices[i] <= HVL_MSR_OWNED_LAST)
			msr[n++] = l->indices[i];
	free(l);
	for (i = 0; i < hvsys_nr_msrs; i++) {
		listed = false;
		for (j = 0; j < n; j++)
			listed = listed || msr[j] == hvsys_msrs[i].msr;
		if (hvsys_offers(sup, hvsys_msrs[i].feature) && !listed)
			snprintf(miss + strlen(miss), sizeof(miss) - strlen(miss),
				 " %s", hvsys_msrs[i].name);
	}
	tap_ok(!miss[0], "KVM_GET_MSR_INDEX_LIST names each offered system MSR%s%s",
	       miss[0] ? ", not:" : "", miss);

	/* State worth carrying, set by the guest where it can. */
	vm = hvsys_vm(0, 1, hvsys_ops_guest, sup, false, &src);
	vcpu_wrmsr(src, HV_X64_MSR_GUEST_OS_ID, 0x8100000000001234ull);
	if (hvsys_offers(sup, HV_MSR_VP_RUNTIME_AVAILABLE))
		vcpu_wrmsr(src, HV_X64_MSR_VP_RUNTIME, 1000000000000ull);
	if (hvsys_offers(sup, HVSYS_CRASH))
		vcpu_wrmsr(src, HV_X64_MSR_CRASH_CTL, NOTIFY);
	hvsys_ops_clear();
	for (i = 0; i < hvsys_nr_msrs; i++)
		if (hvsys_msrs[i].wr == HVSYS_WR_OK && hvsys_msrs[i].wval &&
		    hvsys_offers(sup, hvsys_msrs[i].feature))
			hvsys_op_wr(hvsys_msrs[i].msr, hvsys_msrs[i].wval);
	TEST_ASSERT(hvsys_ops_run(src, why, sizeof(why)), "%s", why);

	vm2 = hvsys_vm(0, 1, hvsys_ops_guest, sup, false, &dst);
	for (i = 0; i < n; i++) {
		if (vcpu_get_msr(src, msr[i], &val[i]) != 1 ||
		    vcpu_set_msr(dst, msr[i], val[i]) != 1) {
			hvsys_bad_add(bad, sizeof(bad), msr[i], "save/restore", val[i]);
			continue;
		}
		v = vcpu_rdmsr(dst, msr[i]);
		if (msr[i] == HV_X64_MSR_TIME_REF_COUNT)
			continue;
		if (msr[i] == HV_X64_MSR_VP_RUNTIME ?
		    v < val[i] || v > val[i] + 10000 * MS : v != val[i])
			hvsys_bad_add(bad, sizeof(bad), msr[i], "restored", v);
	}
	tap_ok(!bad[0], "the %u listed Hyper-V MSRs saved from one VM read back the same in a fresh one%s",
	       n, bad);

	/* The restore asked for no exit; the guest sees the state. */
	hvsys_ops_clear();
	for (i = 0; i < hvsys_nr_msrs; i++)
		if (hvsys_msrs[i].wr == HVSYS_WR_OK && hvsys_msrs[i].wval &&
		    hvsys_offers(sup, hvsys_msrs[i].feature))
			hvsys_op_rd(hvsys_msrs[i].msr);
	bad[0] = 0;
	if (hvsys_ops_run(dst, why, sizeof(why))) {
		for (i = 0; i < hvsys_nops; i++)
			for (j = 0; j < hvsys_nr_msrs; j++)
				if (hvsys_msrs[j].msr == hvsys_ops[i].msr &&
				    hvsys_ops[i].val != hvsys_msrs[j].wval)
					hvsys_bad_add(bad, sizeof(bad), hvsys_ops[i].msr,
						"guest", hvsys_ops[i].val);
	} else {
		snprintf(bad, sizeof(bad), " %s", why);
	}
	tap_ok(!bad[0], "the migrated guest runs without an exit and reads the %lu values its source wrote%s",
	       hvsys_nops, bad);
	vm_free(vm2);
	vm_free(vm);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env != HV_PLAIN)
		hv_leaves(sup);

	TEST_RUN("a guest without Hyper-V CPUID", test_non_hv());
	TEST_RUN("KVM_CAP_HYPERV_ENFORCE_CPUID", test_enforce());
	TEST_RUN("read-only MSRs and values a guest may not write", test_readonly());
	TEST_RUN("TSC_FREQUENCY and APIC_FREQUENCY", test_frequencies());
	TEST_RUN("VP_RUNTIME while the vCPU runs", test_runtime_spin());
	TEST_RUN("VP_RUNTIME while the vCPU is halted", test_runtime_halted());
	TEST_RUN("host round trips", test_roundtrip());
	TEST_RUN("migration of the listed MSRs", test_migration());

	return tap_done();
}
