// SPDX-License-Identifier: GPL-2.0
/*
 * Virtual APIC enlightenment (HV_X64_MSR_EOI/ICR/TPR and the VP assist
 * page), the refusals; run before hv_vapic, hv_vapic_smp, hv_vapic_assist:
 *   - a guest without "Hv#1", or one under KVM_CAP_HYPERV_ENFORCE_CPUID
 *     without 0x40000003.EAX bit 4, gets #GP on all four MSRs;
 *   - a VM without in-kernel irqchip gets #GP on EOI/ICR/TPR (as in-tree);
 *   - EOI is write-only; bits 63:32 of EOI/TPR and the ICR's reserved bits
 *     are #GP; VP_ASSIST_PAGE reserved bits 11:1 and a GPA outside guest
 *     memory are #GP;
 *   - KVM_GET_SUPPORTED_HV_CPUID on a vCPU without in-kernel LAPIC offers
 *     no APIC access (0x40000003.EAX bit 4, 0x40000004.EAX bit 3).
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there with the reason); "nohv"
 * without the module has no Hyper-V at all: everything SKIPs.
 */
#include "hv_vapic.h"

/* ---- negative tests ---- */

static void test_not_hv_and_enforced(void)
{
	struct probe p[8];
	int i;

	/* (a) no "Hv#1": KVM's #GP for all four, read and write. */
	all_four_probes(p);
	run_probes(VM_IRQCHIP, HV_NONE, PA_X2APIC, p, 8);
	for (i = 0; i < 4; i++)
		tap_ok(probes[2 * i].vec == GP_VECTOR && probes[2 * i + 1].vec == GP_VECTOR,
		       "non-Hyper-V guest: rdmsr/wrmsr %s -> #GP (%lu/%lu)",
		       vapic_names[i], probes[2 * i].vec, probes[2 * i + 1].vec);

	/* (b) enforced CPUID without 0x40000003.EAX bit 4. */
	all_four_probes(p);
	run_probes(VM_IRQCHIP, HV_ENFORCE_NO_APIC, PA_X2APIC, p, 8);
	for (i = 0; i < 4; i++)
		tap_ok(probes[2 * i].vec == GP_VECTOR && probes[2 * i + 1].vec == GP_VECTOR,
		       "enforced CPUID without APIC access (bit 4): rdmsr/wrmsr %s -> #GP (%lu/%lu)",
		       vapic_names[i], probes[2 * i].vec, probes[2 * i + 1].vec);
}

static void test_no_irqchip(void)
{
	const struct probe p[] = {
		{ .msr = HV_X64_MSR_EOI, .write = 1, .val = 0 },
		{ .msr = HV_X64_MSR_ICR },
		{ .msr = HV_X64_MSR_ICR, .write = 1, .val = ICR_SELF | V_IPI },
		{ .msr = HV_X64_MSR_TPR },
		{ .msr = HV_X64_MSR_TPR, .write = 1, .val = 0x20 },
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE, .write = 1,
		  .val = ASSIST_GPA | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE },
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE },
	};

	/* Plain VM: no KVM_CREATE_IRQCHIP, so no in-kernel LAPIC. */
	run_probes(0, HV_FULL, PA_NONE, p, ARRAY_SIZE(p));
	tap_ok(probes[0].vec == GP_VECTOR,
	       "no in-kernel irqchip: wrmsr EOI -> #GP (%lu)", probes[0].vec);
	tap_ok(probes[1].vec == GP_VECTOR && probes[2].vec == GP_VECTOR,
	       "no in-kernel irqchip: rdmsr/wrmsr ICR -> #GP (%lu/%lu)",
	       probes[1].vec, probes[2].vec);
	tap_ok(probes[3].vec == GP_VECTOR && probes[4].vec == GP_VECTOR,
	       "no in-kernel irqchip: rdmsr/wrmsr TPR -> #GP (%lu/%lu)",
	       probes[3].vec, probes[4].vec);
	/* Not part of the contract: in-tree only needs guest memory here. */
	tap_diag("no in-kernel irqchip: wrmsr VP_ASSIST_PAGE(enable) vector %lu, then reads %#lx (vector %lu)",
		 probes[5].vec, probes[6].rval, probes[6].vec);
}

static void test_bad_values(uint64_t x2)
{
	const char *mode = x2 ? "x2APIC" : "xAPIC";
	const struct probe p[] = {
		{ .msr = HV_X64_MSR_EOI },
		{ .msr = HV_X64_MSR_EOI, .write = 1, .val = 1ull << 32 },
		{ .msr = HV_X64_MSR_TPR, .write = 1, .val = 1ull << 32 },
		{ .msr = HV_X64_MSR_TPR },
		/* ICR reserved bits (x2APIC format 31:20, 17:16, 13) */
		{ .msr = HV_X64_MSR_ICR, .write = 1, .val = (1ull << 13) | V_IPI },
		{ .msr = HV_X64_MSR_ICR, .write = 1, .val = (1ull << 20) | V_IPI },
	};

	run_probes(VM_IRQCHIP, HV_FULL, x2 ? PA_X2APIC : PA_XAPIC, p, ARRAY_SIZE(p));
	tap_ok(probes[0].vec == GP_VECTOR,
	       "%s: rdmsr EOI (write-only) -> #GP (%lu)", mode, probes[0].vec);
	tap_ok(probes[1].vec == GP_VECTOR && probes[2].vec == GP_VECTOR &&
	       !probes[3].vec && probes[3].rval == 0,
	       "%s: EOI/TPR with bit 32 -> #GP (%lu/%lu), TPR unchanged (%#lx)",
	       mode, probes[1].vec, probes[2].vec, probes[3].rval);
	tap_ok(probes[4].vec == GP_VECTOR && probes[5].vec == GP_VECTOR &&
	       probe_delivered == 0,
	       "%s: ICR with reserved bit 13 / bit 20 -> #GP (%lu/%lu) as in-tree, nothing sent (%lu delivered)",
	       mode, probes[4].vec, probes[5].vec, probe_delivered);
}

/*
 * kvm_intel with flexpriority maps a private memslot, the APIC-access page,
 * at 0xfee00000 for a VM with an in-kernel LAPIC, so there the APIC page is
 * guest memory to KVM (kvm_gfn_to_hva_cache_init() succeeds, in-tree's
 * VP_ASSIST_PAGE write included). kvm_amd without AVIC has no such slot.
 */
static bool vmx_apic_access_page(void)
{
	FILE *f = fopen("/sys/module/kvm_intel/parameters/flexpriority", "r");
	int c = f ? fgetc(f) : EOF;

	if (f)
		fclose(f);
	return c == 'Y';
}

static void test_assist_bad(void)
{
	const struct probe p[] = {
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE, .write = 1,
		  .val = ASSIST_GPA | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE | 2 },
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE, .write = 1,
		  .val = ASSIST_GPA | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE | 0x800 },
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE },
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE, .write = 1, .val = 0 },
		/* 256 MiB: beyond the VM's 64 MiB */
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE, .write = 1,
		  .val = 0x10000000ull | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE },
		/* the APIC page: MMIO, not memory */
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE, .write = 1,
		  .val = APIC_MMIO | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE },
		{ .msr = HV_X64_MSR_VP_ASSIST_PAGE },
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t val;
	int r;

	run_probes(VM_IRQCHIP, HV_FULL, PA_X2APIC, p, ARRAY_SIZE(p));
	if (hv_env == HV_STOCK) {
		tap_skip(INTENTIONAL("in-tree 6.12 ignores VP_ASSIST_PAGE bits 11:1 (vectors %lu/%lu, then reads %#lx)"),
			 probes[0].vec, probes[1].vec, probes[2].rval);
	} else {
		tap_ok(probes[0].vec == GP_VECTOR && probes[1].vec == GP_VECTOR &&
		       !probes[2].vec && probes[2].rval == 0,
		       "VP_ASSIST_PAGE with reserved bit 1 / bit 11 -> #GP (%lu/%lu), MSR still %#lx",
		       probes[0].vec, probes[1].vec, probes[2].rval);
	}
	if (vmx_apic_access_page()) {
		tap_ok(probes[4].vec == GP_VECTOR && !probes[5].vec &&
		       !probes[6].vec && probes[6].rval == (APIC_MMIO | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE),
		       "VP_ASSIST_PAGE at a GPA outside memory (256 MiB) -> #GP (%lu); at the APIC page, which VMX KVM backs with its APIC-access memslot, accepted as in-tree (%lu), MSR %#lx",
		       probes[4].vec, probes[5].vec, probes[6].rval);
	} else {
		tap_ok(probes[4].vec == GP_VECTOR && probes[5].vec == GP_VECTOR &&
		       !probes[6].vec && probes[6].rval == 0,
		       "VP_ASSIST_PAGE at a GPA outside memory (256 MiB, APIC page) -> #GP (%lu/%lu), MSR still %#lx",
		       probes[4].vec, probes[5].vec, probes[6].rval);
	}

	/* The host gets the same answer (KVM_SET_MSRS processes 0). */
	vm = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm, probe_guest);
	vcpu_setup_hv(vcpu, HV_FULL);
	r = vcpu_set_msr(vcpu, HV_X64_MSR_VP_ASSIST_PAGE, 0x10000000ull | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE);
	val = 0xdead;
	vcpu_get_msr(vcpu, HV_X64_MSR_VP_ASSIST_PAGE, &val);
	tap_ok(r == 0 && val == 0,
	       "host KVM_SET_MSRS(VP_ASSIST_PAGE) outside memory is refused (%d), MSR still %#lx",
	       r, val);
	vm_free(vm);
}

static void test_supported_cpuid_no_lapic(void)
{
	struct kvm_cpuid_entry2 sys[HVL_CPUID_NR_LEAVES], v[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	bool sys_ok, vcpu_ok;
	int r;

	hv_leaves(sys);
	sys_ok = (sys[3].eax & HV_MSR_APIC_ACCESS_AVAILABLE) && (sys[4].eax & HV_X64_APIC_ACCESS_RECOMMENDED);
	vm = vm_create(0, 0);
	vcpu = vm_vcpu_add(vm, NULL);
	r = hv_leaves_fd(vcpu->fd, v);
	vcpu_ok = !r && !(v[3].eax & HV_MSR_APIC_ACCESS_AVAILABLE) && !(v[4].eax & HV_X64_APIC_ACCESS_RECOMMENDED);
	if (hv_env == HV_STOCK)
		tap_skip(INTENTIONAL("in-tree 6.12 offers APIC access without in-kernel LAPIC (vCPU form: 0x40000003.EAX %#x, 0x40000004.EAX %#x)"),
			 v[3].eax, v[4].eax);
	else
		tap_ok(sys_ok && vcpu_ok,
		       "KVM_GET_SUPPORTED_HV_CPUID: /dev/kvm offers APIC access (%#x/%#x), a vCPU without in-kernel LAPIC does not (%d, %#x/%#x)",
		       sys[3].eax, sys[4].eax, r, v[3].eax, v[4].eax);
	vm_free(vm);
}

/*
 * Hardware-disabled xAPIC (APIC_BASE.EN = 0): in-tree reaches the register
 * file directly, so a TPR write through the MSR sticks and reads back.
 */
static void test_apic_disabled(void)
{
	const struct probe p[] = {
		{ .msr = HV_X64_MSR_TPR, .write = 1, .val = 0x30 },
		{ .msr = HV_X64_MSR_TPR },
	};

	run_probes(VM_IRQCHIP, HV_FULL, PA_DISABLED, p, ARRAY_SIZE(p));
	if (hv_env == HV_MODULE) {
		tap_skip(INTENTIONAL("with the APIC hardware-disabled the module reaches xAPIC registers through the APIC's MMIO handler, which ignores them (write vector %lu, reads %#lx); in-tree writes the register file"),
			 probes[0].vec, probes[1].rval);
		return;
	}
	tap_ok(!probes[0].vec && !probes[1].vec && probes[1].rval == 0x30,
	       "APIC hardware-disabled: TPR MSR write 0x30 (%lu) reads back %#lx (%lu), as in-tree",
	       probes[0].vec, probes[1].rval, probes[1].vec);
}

int main(void)
{
	vapic_init();
	TEST_RUN("no Hyper-V, or enforced CPUID without APIC access",
		 test_not_hv_and_enforced());
	TEST_RUN("no in-kernel irqchip", test_no_irqchip());
	TEST_RUN("xAPIC: bad values", test_bad_values(0));
	TEST_RUN("x2APIC: bad values",
		 vapic_require_mode(1); test_bad_values(1));
	TEST_RUN("VP_ASSIST_PAGE: reserved bits, GPA outside memory",
		 test_assist_bad());
	TEST_RUN("supported CPUID of a vCPU without in-kernel LAPIC",
		 test_supported_cpuid_no_lapic());
	TEST_RUN("APIC hardware-disabled", test_apic_disabled());
	return tap_done();
}
