// SPDX-License-Identifier: GPL-2.0
/*
 * Virtual APIC enlightenment: HV_X64_MSR_EOI/ICR/TPR and the VP assist
 * page, on one vCPU.  The refusals are in hv_vapic_neg (run first), IPIs
 * between vCPUs in hv_vapic_smp, the assist page at work in
 * hv_vapic_assist.  In xAPIC (MMIO at 0xfee00000) and in x2APIC mode:
 *   - KVM_CAP_HYPERV_VAPIC iff the supported CPUID has bit 4; enforced
 *     CPUID with bit 4 lets the MSRs work, as does the assist page with
 *     KVM's PV feature CPUID enforced;
 *   - self-IPIs sent through the ICR MSR and APIC timer one-shots,
 *     acknowledged through the EOI MSR: every one delivered exactly once;
 *   - TPR MSR: holds a pending lower-class vector until lowered, reads back
 *     what was written and agrees with the architectural TPR.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there with the reason); "nohv"
 * without the module has no Hyper-V at all: everything SKIPs.
 */
#include "hv_vapic.h"

/* ---- capabilities and CPUID (positive) ---- */

static void test_caps(void)
{
	struct kvm_cpuid_entry2 sys[HVL_CPUID_NR_LEAVES], v[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int cap, vmcap, r;
	bool bit;

	hv_leaves(sys);
	bit = sys[3].eax & HV_MSR_APIC_ACCESS_AVAILABLE;
	cap = kvm_check_cap(KVM_CAP_HYPERV_VAPIC);
	vm = vm_create(0, VM_IRQCHIP);
	vmcap = vm_check_cap(vm, KVM_CAP_HYPERV_VAPIC);
	tap_ok((cap > 0) == bit && (vmcap > 0) == bit && bit,
	       "KVM_CAP_HYPERV_VAPIC (/dev/kvm %d, VM %d) iff 0x40000003.EAX bit 4 (%d)",
	       cap, vmcap, bit);
	vcpu = vm_vcpu_add(vm, NULL);
	r = hv_leaves_fd(vcpu->fd, v);
	tap_ok(!r && (v[3].eax & HV_MSR_APIC_ACCESS_AVAILABLE) && (v[4].eax & HV_X64_APIC_ACCESS_RECOMMENDED),
	       "vCPU with in-kernel LAPIC: supported 0x40000003.EAX %#x, 0x40000004.EAX %#x offer APIC access",
	       v[3].eax, v[4].eax);
	vm_free(vm);
}

static void test_enforced_allowed(void)
{
	struct probe p[8];
	bool ok = true;
	int i;

	all_four_probes(p);
	run_probes(VM_IRQCHIP, HV_ENFORCE_APIC, PA_X2APIC, p, 8);
	/* all but the EOI read work */
	for (i = 1; i < 8; i++)
		ok = ok && !probes[i].vec;
	tap_ok(ok && probes[0].vec == GP_VECTOR && probe_delivered == 1,
	       "enforced CPUID with bit 4: ICR/TPR/VP_ASSIST_PAGE read+write and EOI write work (%lu %lu %lu %lu %lu %lu %lu), self-IPI delivered %lu",
	       probes[1].vec, probes[2].vec, probes[3].vec, probes[4].vec,
	       probes[5].vec, probes[6].vec, probes[7].vec, probe_delivered);
}

/*
 * A VMM may enforce KVM's own PV feature CPUID; a Hyper-V guest has no KVM
 * leaves (0x40000000 is Hyper-V's), so KVM_FEATURE_PV_EOI is not offered.
 * In-tree's assist page does not depend on it.
 */
static void test_assist_pv_enforced(void)
{
	const struct probe p[] = {
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE, .write = 1,
		  .val = ASSIST_GPA | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE },
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE },
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint32_t kvm_feat, i;
	int r;

	vm = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm, probe_guest);
	vcpu_setup_hv(vcpu, HV_FULL);
	/*
	 * KVM's leaves where QEMU puts them next to Hyper-V's (0x40000100),
	 * all PV features but PV EOI, e.g. -cpu ...,hv-vapic,kvm-pv-eoi=off,
	 * kvm-pv-enforce-cpuid=on.
	 */
	kvm_feat = 0;
	for (i = 0; i < kvm_supported_cpuid()->nent; i++)
		if (kvm_supported_cpuid()->entries[i].function == 0x40000001)
			kvm_feat = kvm_supported_cpuid()->entries[i].eax;
	vcpu_set_cpuid_leaf(vcpu, 0x40000100, 0x40000101, 0x4b4d564b, 0x564b4d56, 0x4d);
	vcpu_set_cpuid_leaf(vcpu, 0x40000101, kvm_feat & ~(1u << KVM_FEATURE_PV_EOI), 0, 0, 0);
	r = vcpu_enable_cap(vcpu, KVM_CAP_ENFORCE_PV_FEATURE_CPUID, 1);
	vcpu_args_set(vcpu, 1, (uint64_t)PA_X2APIC);
	set_probes(p, ARRAY_SIZE(p));
	sync_global_to_guest(vm, probes);
	sync_global_to_guest(vm, nr_probes);
	TEST_ASSERT(vcpu_run_noabort(vcpu, &uc) == UCALL_DONE, "probe guest: %s", uc.msg);
	sync_global_from_guest(vm, probes);
	tap_ok(!r && !probes[0].vec && !probes[1].vec &&
	       probes[1].rval == (ASSIST_GPA | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE),
	       "KVM_CAP_ENFORCE_PV_FEATURE_CPUID (%d), KVM leaves at 0x40000100 without PV EOI (%#x): VP_ASSIST_PAGE enable works (%lu), reads %#lx, as in-tree",
	       r, kvm_feat & ~(1u << KVM_FEATURE_PV_EOI), probes[0].vec, probes[1].rval);
	vm_free(vm);
}

/* ---- self-IPIs and timer interrupts, EOI through the MSR ---- */

#define N_IPI		50
#define N_TIMER		30

static void irq_guest(uint64_t x2)
{
	uint64_t i, base, sent = 0, early = 0, bad = 0, faults = 0;
	uint64_t armed = 0, lost = 0, dup = 0, icr_hv = 0, icr_vec;

	apic_enable(x2);
	for (i = 0; i < N_IPI; i++) {
		base = cnt(V_IPI);
		if (wrmsr_safe(HV_X64_MSR_ICR, ICR_SELF | V_IPI)) {
			faults++;
			continue;
		}
		sent++;
		if (cnt(V_IPI) != base)	/* IF is clear: must still be pending */
			early++;
		irq_window();
		if (cnt(V_IPI) != base + 1)
			bad++;
	}
	icr_vec = rdmsr_safe(HV_X64_MSR_ICR, &icr_hv);
	GUEST_SYNC(sent, cnt(V_IPI), early, bad, faults + eoi_faults, apic_isr_any());
	GUEST_SYNC(icr_vec, icr_hv, apic_read_icr());

	/* APIC timer one-shots, each acknowledged through the EOI MSR. */
	apic_write(APIC_TDCR, 0xb);		/* divide by 1 */
	apic_write(APIC_LVTT, V_TIMER);		/* one-shot */
	for (i = 0; i < N_TIMER && lost < 3; i++) {
		base = cnt(V_TIMER);
		apic_write(APIC_TMICT, TIMER_TICKS);
		armed++;
		if (!wait_change(&vec_count[guest_vcpu_id()][V_TIMER], base, WAIT_CYCLES))
			lost++;
		else if (cnt(V_TIMER) != base + 1)
			dup++;
	}
	spin_irq_on(GRACE_CYCLES);	/* nothing may come late or twice */
	apic_write(APIC_LVTT, APIC_LVT_MASKED);
	GUEST_SYNC(armed, cnt(V_TIMER), lost, dup, eoi_faults, apic_isr_any());
	GUEST_DONE();
}

static void test_irq(uint64_t x2)
{
	const char *mode = x2 ? "x2APIC" : "xAPIC";
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t *a = uc.args;

	vm = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm, irq_guest);
	vcpu_setup_hv(vcpu, HV_FULL);
	vcpu_args_set(vcpu, 1, x2);
	vm_install_handler(vm, V_IPI, count_handler);
	vm_install_handler(vm, V_TIMER, count_handler);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(a[0] == N_IPI && a[1] == N_IPI && !a[2] && !a[3] && !a[4] && !a[5],
	       "%s: %d self-IPIs via ICR MSR, EOI via EOI MSR: sent %lu, handled %lu, early %lu, not exactly once %lu, faults %lu, ISR %#lx",
	       mode, N_IPI, a[0], a[1], a[2], a[3], a[4], a[5]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(!a[0] && (uint32_t)a[1] == (ICR_SELF | V_IPI) && a[1] == a[2],
	       "%s: ICR MSR reads back %#lx (vector %lu), architectural ICR %#lx",
	       mode, a[1], a[0], a[2]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(a[0] == N_TIMER && a[1] == N_TIMER && !a[2] && !a[3] && !a[4] && !a[5],
	       "%s: %d APIC timer one-shots, EOI via EOI MSR: armed %lu, handled %lu, lost %lu, repeated %lu, EOI faults %lu, ISR %#lx",
	       mode, N_TIMER, a[0], a[1], a[2], a[3], a[4], a[5]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_DONE);
	vm_free(vm);
}

/* ---- TPR ---- */

static void tpr_guest(uint64_t x2)
{
	uint64_t v0, v1, v2, hv = 0, hv2 = 0, hv3 = 0;
	uint32_t arch, arch3, irr_held;
	uint64_t low_held, high_cnt, low_cnt, low_after;

	apic_enable(x2);
	v0 = wrmsr_safe(HV_X64_MSR_TPR, 0x50);
	v1 = rdmsr_safe(HV_X64_MSR_TPR, &hv);
	arch = apic_read(APIC_TASKPRI);
	GUEST_SYNC(v0, v1, hv, arch);

	/* class 4 < TPR class 5: stays pending with interrupts enabled */
	wrmsr(HV_X64_MSR_ICR, ICR_SELF | V_TPR_LOW);
	spin_irq_on(GRACE_CYCLES);
	low_held = cnt(V_TPR_LOW);
	irr_held = apic_irr_bit(V_TPR_LOW);
	/* class 6 > 5 is still delivered */
	wrmsr(HV_X64_MSR_ICR, ICR_SELF | V_TPR_HIGH);
	irq_window();
	high_cnt = cnt(V_TPR_HIGH);
	GUEST_SYNC(low_held, irr_held, high_cnt);

	/* architectural write, MSR read */
	apic_write(APIC_TASKPRI, 0x60);
	v2 = rdmsr_safe(HV_X64_MSR_TPR, &hv2);
	GUEST_SYNC(v2, hv2, cnt(V_TPR_LOW));

	/* lower it through the MSR: the held vector comes, once */
	v0 = wrmsr_safe(HV_X64_MSR_TPR, 0);
	low_cnt = cnt(V_TPR_LOW);	/* IF clear: not yet */
	irq_window();
	low_after = cnt(V_TPR_LOW);
	spin_irq_on(GRACE_CYCLES);
	v1 = rdmsr_safe(HV_X64_MSR_TPR, &hv3);
	arch3 = apic_read(APIC_TASKPRI);
	GUEST_SYNC(v0, low_cnt, low_after, cnt(V_TPR_LOW), hv3 | (uint64_t)v1 << 32, arch3);
	GUEST_SYNC(eoi_faults, apic_isr_any(), apic_irr_bit(V_TPR_LOW));
	GUEST_DONE();
}

static void test_tpr(uint64_t x2)
{
	const char *mode = x2 ? "x2APIC" : "xAPIC";
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t *a = uc.args;

	vm = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm, tpr_guest);
	vcpu_setup_hv(vcpu, HV_FULL);
	vcpu_args_set(vcpu, 1, x2);
	vm_install_handler(vm, V_TPR_LOW, count_handler);
	vm_install_handler(vm, V_TPR_HIGH, count_handler);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(!a[0] && !a[1] && a[2] == 0x50 && a[3] == 0x50,
	       "%s: TPR MSR write 0x50 (%lu) reads back %#lx (%lu), architectural TPR %#lx",
	       mode, a[0], a[2], a[1], a[3]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(a[0] == 0 && a[1] && a[2] == 1,
	       "%s: TPR 0x50 holds self-IPI 0x%x (handled %lu, IRR %lu) with IF=1, 0x%x gets through (%lu)",
	       mode, V_TPR_LOW, a[0], a[1], V_TPR_HIGH, a[2]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(!a[0] && a[1] == 0x60 && a[2] == 0,
	       "%s: architectural TPR write 0x60 is what the TPR MSR reads (%#lx, vector %lu)",
	       mode, a[1], a[0]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(!a[0] && a[1] == 0 && a[2] == 1 && a[3] == 1 && a[4] == 0 && a[5] == 0,
	       "%s: TPR MSR write 0 (%lu) releases 0x%x exactly once (before sti %lu, after %lu, later %lu); TPR reads %#lx, architectural %#lx",
	       mode, a[0], V_TPR_LOW, a[1], a[2], a[3], a[4], a[5]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(!a[0] && !a[1] && !a[2],
	       "%s: after the TPR test: EOI faults %lu, ISR %#lx, IRR(0x%x) %lu",
	       mode, a[0], a[1], V_TPR_LOW, a[2]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_DONE);
	vm_free(vm);
}

int main(void)
{
	vapic_init();
	TEST_RUN("KVM_CAP_HYPERV_VAPIC and the supported CPUID", test_caps());
	TEST_RUN("enforced CPUID with APIC access", test_enforced_allowed());
	TEST_RUN("VP_ASSIST_PAGE with KVM's PV features enforced",
		 test_assist_pv_enforced());
	TEST_RUN("xAPIC: self-IPIs and timer interrupts", test_irq(0));
	TEST_RUN("x2APIC: self-IPIs and timer interrupts",
		 vapic_require_mode(1); test_irq(1));
	TEST_RUN("xAPIC: TPR", test_tpr(0));
	TEST_RUN("x2APIC: TPR",
		 vapic_require_mode(1); test_tpr(1));
	return tap_done();
}
