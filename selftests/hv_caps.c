// SPDX-License-Identifier: GPL-2.0
/*
 * What a VMM discovers before it creates a Hyper-V guest: the Hyper-V
 * capabilities (KVM_CHECK_EXTENSION on /dev/kvm and on a VM fd), the
 * supported Hyper-V CPUID (KVM_GET_SUPPORTED_HV_CPUID on /dev/kvm and on a
 * vCPU fd) and the synthetic MSRs in KVM_GET_MSR_INDEX_LIST.  Error cases
 * come before the successful call.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there); "nohv" without the module
 * checks plain KVM: none of this exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"
#include "hvsys.h"

/* ---- helpers ---- */

static struct kvm_cpuid2 *cpuid2_alloc(uint32_t nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	TEST_ASSERT(c, "calloc");
	c->nent = nent;
	return c;
}

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid2 *c,
						uint32_t fn, int *count)
{
	const struct kvm_cpuid_entry2 *e = NULL;
	uint32_t i;

	*count = 0;
	for (i = 0; i < c->nent; i++) {
		if (c->entries[i].function == fn) {
			e = e ?: &c->entries[i];
			(*count)++;
		}
	}
	return e;
}

static const char *cap_name(long cap)
{
	switch (cap) {
#define C(x) case KVM_CAP_##x: return "KVM_CAP_" #x
	C(HYPERV); C(HYPERV_SPIN); C(HYPERV_VP_INDEX); C(HYPERV_CPUID);
	C(SYS_HYPERV_CPUID); C(HYPERV_ENFORCE_CPUID); C(HYPERV_TIME);
	C(HYPERV_VAPIC); C(HYPERV_SYNIC); C(HYPERV_SYNIC2);
	C(HYPERV_TLBFLUSH); C(HYPERV_SEND_IPI); C(HYPERV_DIRECT_TLBFLUSH);
	C(HYPERV_EVENTFD); C(HYPERV_ENLIGHTENED_VMCS);
#undef C
	}
	return "?";
}

/* ---- capabilities ---- */

static const long always_caps[] = {
	KVM_CAP_HYPERV, KVM_CAP_HYPERV_SPIN, KVM_CAP_HYPERV_VP_INDEX,
	KVM_CAP_HYPERV_CPUID, KVM_CAP_SYS_HYPERV_CPUID,
	KVM_CAP_HYPERV_ENFORCE_CPUID, KVM_CAP_HYPERV_TLBFLUSH,
	KVM_CAP_HYPERV_SEND_IPI,
};

/* The SynIC capabilities, which follow 0x40000003.EAX bit 2. */
static const long synic_caps[] = {
	KVM_CAP_HYPERV_SYNIC, KVM_CAP_HYPERV_SYNIC2, KVM_CAP_HYPERV_EVENTFD,
};

/* Capabilities of the nested features (vendor-module code =n lacks). */
static const long unimplemented_caps[] = {
	KVM_CAP_HYPERV_DIRECT_TLBFLUSH, KVM_CAP_HYPERV_ENLIGHTENED_VMCS,
};

/* The 0x40000003.EAX of the /dev/kvm supported Hyper-V CPUID, or 0. */
static uint32_t sys_features_eax(void)
{
	struct kvm_cpuid2 *c = cpuid2_alloc(64);
	const struct kvm_cpuid_entry2 *e;
	uint32_t eax = 0;
	int n;

	if (!ioctl(kvm_fd(), KVM_GET_SUPPORTED_HV_CPUID, c)) {
		e = find_leaf(c, HYPERV_CPUID_FEATURES, &n);
		eax = e ? e->eax : 0;
	}
	free(c);
	return eax;
}

static void test_caps(void)
{
	struct kvm_vm *vm = vm_create(0, 0);
	const uint32_t time = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE;
	uint32_t feat = sys_features_eax();
	char bad[512] = "";
	unsigned int i;
	int dev, vmr;

	for (i = 0; i < ARRAY_SIZE(always_caps); i++) {
		long cap = always_caps[i];

		dev = kvm_check_cap(cap);
		vmr = vm_check_cap(vm, cap);
		if (hv_env == HV_PLAIN)
			tap_ok(dev == 0 && vmr == 0,
			       "plain KVM: %s is 0 on /dev/kvm (%d) and on a VM fd (%d)",
			       cap_name(cap), dev, vmr);
		else
			tap_ok(dev > 0 && vmr > 0,
			       "%s is reported on /dev/kvm (%d) and on a VM fd (%d)",
			       cap_name(cap), dev, vmr);
	}

	/* _TIME and _VAPIC follow the supported CPUID, on both fds. */
	dev = kvm_check_cap(KVM_CAP_HYPERV_TIME);
	vmr = vm_check_cap(vm, KVM_CAP_HYPERV_TIME);
	tap_ok((dev > 0) == ((feat & time) == time) && (vmr > 0) == (dev > 0),
	       "KVM_CAP_HYPERV_TIME (%d / VM %d) iff 0x40000003.EAX has TIME_REF_COUNT and REFERENCE_TSC (%#x)",
	       dev, vmr, feat);
	dev = kvm_check_cap(KVM_CAP_HYPERV_VAPIC);
	vmr = vm_check_cap(vm, KVM_CAP_HYPERV_VAPIC);
	tap_ok((dev > 0) == !!(feat & HV_MSR_APIC_ACCESS_AVAILABLE) &&
	       (vmr > 0) == (dev > 0),
	       "KVM_CAP_HYPERV_VAPIC (%d / VM %d) iff 0x40000003.EAX has APIC_ACCESS (%#x)",
	       dev, vmr, feat);

	for (i = 0; i < ARRAY_SIZE(synic_caps); i++) {
		dev = kvm_check_cap(synic_caps[i]);
		vmr = vm_check_cap(vm, synic_caps[i]);
		tap_ok((dev > 0) == !!(feat & HV_MSR_SYNIC_AVAILABLE) &&
		       (vmr > 0) == (dev > 0),
		       "%s (%d / VM %d) iff 0x40000003.EAX has SynIC (%#x)",
		       cap_name(synic_caps[i]), dev, vmr, feat);
	}

	/* A VMM must not be told about features the module lacks. */
	for (i = 0; i < ARRAY_SIZE(unimplemented_caps); i++) {
		long cap = unimplemented_caps[i];

		dev = kvm_check_cap(cap);
		vmr = vm_check_cap(vm, cap);
		if (dev > 0 || vmr > 0)
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
				 " %s=%d/%d", cap_name(cap), dev, vmr);
	}
	if (hv_env == HV_STOCK)
		tap_skip(INTENTIONAL("in-tree KVM has the nested features (reported:%s)"),
			 bad);
	else
		tap_ok(!bad[0], "capabilities of unimplemented features are not reported%s%s",
		       bad[0] ? ":" : "", bad);
	vm_free(vm);
}

/* ---- KVM_GET_SUPPORTED_HV_CPUID ---- */

/* Returns the entries of a successful nent-11 call, or NULL. */
static struct kvm_cpuid2 *check_hv_cpuid(int fd, const char *what)
{
	const struct kvm_cpuid_entry2 *e, *e2;
	struct kvm_cpuid2 *c;
	int r, err, n, missing = 0, dups = 0;
	bool ok;

	if (hv_env == HV_PLAIN) {
		c = cpuid2_alloc(11);
		r = ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c);
		err = errno;
		tap_ok(r == -1 && err == EINVAL,
		       "plain KVM: KVM_GET_SUPPORTED_HV_CPUID on %s fails with EINVAL (%d, %s)",
		       what, r, strerror(err));
		free(c);
		return NULL;
	}

	/* nent 0: too small; QEMU retries with more. */
	c = cpuid2_alloc(0);
	r = ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c);
	err = errno;
	tap_ok(r == -1 && err == E2BIG, "%s: nent 0 -> E2BIG (%d, %s)", what, r,
	       strerror(err));
	tap_ok(c->nent == 0, "%s: E2BIG leaves nent alone, as in-tree (%u)", what,
	       c->nent);
	free(c);

	c = cpuid2_alloc(HVL_CPUID_NR_LEAVES - 1);
	r = ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c);
	err = errno;
	tap_ok(r == -1 && err == E2BIG && c->nent == HVL_CPUID_NR_LEAVES - 1,
	       "%s: nent %d -> E2BIG (%d, %s), nent left %u", what,
	       HVL_CPUID_NR_LEAVES - 1, r, strerror(err), c->nent);
	free(c);

	r = ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, (void *)8);
	err = errno;
	tap_ok(r == -1 && err == EFAULT, "%s: bad pointer -> EFAULT (%d, %s)",
	       what, r, strerror(err));

	/* nent 11 is QEMU's first try. */
	c = cpuid2_alloc(11);
	r = ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c);
	err = errno;
	tap_ok(r == 0 && c->nent >= HVL_CPUID_NR_LEAVES && c->nent < 11,
	       "%s: nent 11 succeeds, %u entries returned (%d, %s)", what,
	       c->nent, r, r ? strerror(err) : "ok");
	if (r) {
		/* Failed above already: nothing more to look at. */
		free(c);
		return NULL;
	}

	for (r = 0; r < HVL_CPUID_NR_LEAVES; r++) {
		find_leaf(c, hvl_cpuid_function(r), &n);
		missing += n == 0;
	}
	for (r = 0; r < (int)c->nent; r++) {
		find_leaf(c, c->entries[r].function, &n);
		dups += n > 1;
	}
	tap_ok(!missing && !dups,
	       "%s: leaves 0x40000000-0x40000005, 0x40000080-0x40000082 and 0x4000000A present (%d missing), no duplicate leaves (%d)",
	       what, missing, dups);

	e = find_leaf(c, HYPERV_CPUID_INTERFACE, &n);
	tap_ok(e && e->eax == HYPERV_CPUID_SIGNATURE_EAX, "%s: 0x40000001.EAX is \"Hv#1\" (%#x)",
	       what, e ? e->eax : 0);

	e = find_leaf(c, HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS, &n);
	ok = e && e->eax == HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES && e->ebx == 0x756e694c &&
	     e->ecx == 0x564b2078 && e->edx == 0x7648204d;
	tap_ok(ok, "%s: 0x40000000: max leaf %#x == 0x40000082, vendor \"Linux KVM Hv\"",
	       what, e ? e->eax : 0);

	/* The synthetic debugger's leaves, as in-tree fills them. */
	e = find_leaf(c, HYPERV_CPUID_SYNDBG_VENDOR_AND_MAX_FUNCTIONS, &n);
	e2 = find_leaf(c, HYPERV_CPUID_SYNDBG_INTERFACE, &n);
	ok = e && !e->eax && e->ebx == 0x756e694c && e->ecx == 0x564b2078 &&
	     e->edx == 0x7648204d && e2 && e2->eax == HVL_SYNDBG_INTERFACE_EAX &&
	     !e2->ebx && !e2->ecx && !e2->edx;
	tap_ok(ok, "%s: 0x40000080: EAX %#x == 0, vendor \"Linux KVM Hv\"; 0x40000081: EAX %#x == \"VS#1\"",
	       what, e ? e->eax : 0, e2 ? e2->eax : 0);

	/* Each feature in all the bits that name it, or in none. */
	e = find_leaf(c, HYPERV_CPUID_FEATURES, &n);
	e2 = find_leaf(c, HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES, &n);
	if (e && e2) {
		bool freq = e->eax & HV_ACCESS_FREQUENCY_MSRS;
		bool dbg = e->edx & HV_FEATURE_DEBUG_MSRS_AVAILABLE;

		ok = freq == !!(e->edx & HV_FEATURE_FREQUENCY_MSRS_AVAILABLE) &&
		     dbg == !!(e->ebx & HV_DEBUGGING) &&
		     dbg == !!(e->edx & HV_X64_GUEST_DEBUGGING_AVAILABLE) &&
		     dbg == !!(e2->eax & HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING);
	} else {
		ok = false;
	}
	tap_ok(ok, "%s: frequencies in 0x40000003.EAX and EDX alike, the debugger in EBX, EDX and 0x40000082.EAX alike (%#x/%#x/%#x, %#x)",
	       what, e ? e->eax : 0, e ? e->ebx : 0, e ? e->edx : 0, e2 ? e2->eax : 0);

	e = find_leaf(c, HYPERV_CPUID_NESTED_FEATURES, &n);
	tap_ok(e && (e->eax & HV_X64_NESTED_MSR_BITMAP),
	       "%s: 0x4000000A.EAX %#x has the enlightened MSR bitmap", what, e ? e->eax : 0);

	e = find_leaf(c, HYPERV_CPUID_ENLIGHTMENT_INFO, &n);
	tap_ok(e && e->ebx == HVL_SPIN_RETRIES_DEFAULT &&
	       (e->eax & HV_X64_RELAXED_TIMING_RECOMMENDED),
	       "%s: 0x40000004: EBX spin retries %#x == 0xfff, EAX %#x has relaxed timing",
	       what, e ? e->ebx : 0, e ? e->eax : 0);

	e = find_leaf(c, HYPERV_CPUID_FEATURES, &n);
	tap_ok(e && (e->eax & HV_MSR_HYPERCALL_AVAILABLE) && (e->eax & HV_MSR_VP_INDEX_AVAILABLE),
	       "%s: 0x40000003.EAX %#x has the hypercall and VP index bits",
	       what, e ? e->eax : 0);

	/* Exactly the module's leaves and no feature it does not implement. */
	if (hv_env == HV_STOCK) {
		e = find_leaf(c, HYPERV_CPUID_FEATURES, &n);
		tap_skip(INTENTIONAL("in-tree offers SynIC, IPIs, flushes, ... (%#x/%#x/%#x)"),
			 e ? e->eax : 0, e ? e->ebx : 0, e ? e->edx : 0);
		e = find_leaf(c, HYPERV_CPUID_NESTED_FEATURES, &n);
		tap_skip(INTENTIONAL("in-tree's 0x4000000A has direct flush, eVMCS bits (%#x/%#x)"),
			 e ? e->eax : 0, e ? e->ebx : 0);
	} else {
		const struct kvm_cpuid_entry2 *f = find_leaf(c, HYPERV_CPUID_FEATURES, &n);
		const struct kvm_cpuid_entry2 *r4 = find_leaf(c, HYPERV_CPUID_ENLIGHTMENT_INFO, &n);
		const struct kvm_cpuid_entry2 *nf = find_leaf(c, HYPERV_CPUID_NESTED_FEATURES, &n);
		const uint32_t eax = HV_MSR_VP_RUNTIME_AVAILABLE | HV_MSR_TIME_REF_COUNT_AVAILABLE |
				     HV_MSR_SYNIC_AVAILABLE | HV_MSR_SYNTIMER_AVAILABLE |
				     HV_MSR_APIC_ACCESS_AVAILABLE | HV_MSR_HYPERCALL_AVAILABLE |
				     HV_MSR_VP_INDEX_AVAILABLE | HV_MSR_RESET_AVAILABLE |
				     HV_MSR_REFERENCE_TSC_AVAILABLE | HV_ACCESS_FREQUENCY_MSRS |
				     HV_ACCESS_REENLIGHTENMENT;
		const uint32_t ebx = HV_POST_MESSAGES | HV_SIGNAL_EVENTS | HV_DEBUGGING |
				     HV_ENABLE_EXTENDED_HYPERCALLS;
		const uint32_t edx = HV_X64_GUEST_DEBUGGING_AVAILABLE |
				     HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE |
				     HV_FEATURE_FREQUENCY_MSRS_AVAILABLE |
				     HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE |
				     HV_FEATURE_DEBUG_MSRS_AVAILABLE |
				     HV_FEATURE_EXT_GVA_RANGES_FLUSH |
				     HV_STIMER_DIRECT_MODE_AVAILABLE;
		const uint32_t rec = HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED |
				     HV_X64_APIC_ACCESS_RECOMMENDED |
				     HV_X64_RELAXED_TIMING_RECOMMENDED |
				     HV_DEPRECATING_AEOI_RECOMMENDED |
				     HV_X64_CLUSTER_IPI_RECOMMENDED |
				     HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED |
				     HV_X64_NO_NONARCH_CORESHARING;

		ok = f && r4 && c->nent == HVL_CPUID_NR_LEAVES && !(f->eax & ~eax) &&
		     !(f->ebx & ~ebx) && !f->ecx && !(f->edx & ~edx) && !(r4->eax & ~rec) &&
		     !!(f->eax & HV_MSR_APIC_ACCESS_AVAILABLE) ==
		     !!(r4->eax & HV_X64_APIC_ACCESS_RECOMMENDED);
		tap_ok(ok, "%s: only the module's leaves (%u) and features (0x40000003 %#x/%#x/%#x/%#x, 0x40000004.EAX %#x)",
		       what, c->nent, f ? f->eax : 0, f ? f->ebx : 0, f ? f->ecx : 0,
		       f ? f->edx : 0, r4 ? r4->eax : 0);
		tap_ok(nf && nf->eax == HV_X64_NESTED_MSR_BITMAP && !nf->ebx && !nf->ecx &&
		       !nf->edx,
		       "%s: 0x4000000A only the enlightened MSR bitmap (%#x/%#x)", what,
		       nf ? nf->eax : 0, nf ? nf->ebx : 0);
	}
	return c;
}

static void test_hv_cpuid_dev(void)
{
	free(check_hv_cpuid(kvm_fd(), "/dev/kvm"));
}

static void test_hv_cpuid_vcpu(void)
{
	struct kvm_vm *vm = vm_create(0, 0);
	struct kvm_vcpu *vcpu = vm_vcpu_add(vm, NULL);

	free(check_hv_cpuid(vcpu->fd, "vCPU fd"));
	vm_free(vm);
}

/* The nent-11 call (checked above) on fd, or NULL if it fails. */
static struct kvm_cpuid2 *hv_cpuid(int fd)
{
	struct kvm_cpuid2 *c = cpuid2_alloc(11);

	if (!ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c))
		return c;
	free(c);
	return NULL;
}

static void test_hv_cpuid_forms(void)
{
	struct kvm_cpuid2 *sys, *vc, *vc_irq;
	const struct kvm_cpuid_entry2 *a, *b;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm, *vm_irq;
	int n;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	sys = hv_cpuid(kvm_fd());
	vm = vm_create(0, 0);
	vcpu = vm_vcpu_add(vm, NULL);
	vc = hv_cpuid(vcpu->fd);
	vm_irq = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm_irq, NULL);
	vc_irq = hv_cpuid(vcpu->fd);
	if (!sys || !vc || !vc_irq) {
		free(vc_irq);
		free(sys);
		free(vc);
		vm_free(vm_irq);
		vm_free(vm);
		test_skip("no supported Hyper-V CPUID");
	}
	{
		uint32_t fn;
		bool ok = true;

		/*
		 * With an in-kernel LAPIC the vCPU form is the system form.
		 * In-tree KVM on VMX recommends eVMCS (0x40000004.EAX bit 14)
		 * on /dev/kvm, and on a vCPU only once its VMM enabled
		 * KVM_CAP_HYPERV_ENLIGHTENED_VMCS; the module offers no eVMCS.
		 */
		uint32_t evmcs = hv_env == HV_STOCK ? BIT(14) : 0;

		for (fn = HYPERV_CPUID_FEATURES; fn <= HYPERV_CPUID_ENLIGHTMENT_INFO; fn++) {
			uint32_t mask = fn == HYPERV_CPUID_ENLIGHTMENT_INFO ? ~evmcs : ~0u;

			a = find_leaf(sys, fn, &n);
			b = find_leaf(vc_irq, fn, &n);
			ok = ok && a && b && (a->eax & mask) == b->eax && a->ebx == b->ebx;
		}
		tap_ok(ok, "vCPU fd with in-kernel irqchip: 0x40000003/4 equal the /dev/kvm form%s",
		       evmcs ? " (but for in-tree's eVMCS recommendation on VMX, 0x40000004.EAX bit 14)" : "");

		/* Without one it may only drop (LAPIC-dependent) bits. */
		ok = true;
		for (fn = HYPERV_CPUID_FEATURES; fn <= HYPERV_CPUID_ENLIGHTMENT_INFO; fn++) {
			a = find_leaf(sys, fn, &n);
			b = find_leaf(vc, fn, &n);
			ok = ok && a && b && !(b->eax & ~a->eax) && !(b->edx & ~a->edx);
			if (a && b && a->eax != b->eax)
				tap_diag("leaf %#x.EAX without irqchip %#x, /dev/kvm %#x",
					 fn, b->eax, a->eax);
		}
		tap_ok(ok, "vCPU fd without irqchip: 0x40000003/4 a subset of the /dev/kvm form");
	}
	free(vc_irq);
	free(sys);
	free(vc);
	vm_free(vm_irq);
	vm_free(vm);
}

/* ---- KVM_GET_MSR_INDEX_LIST ---- */

static bool list_has(const struct kvm_msr_list *l, uint32_t msr)
{
	uint32_t i;

	for (i = 0; i < l->nmsrs; i++)
		if (l->indices[i] == msr)
			return true;
	return false;
}

/*
 * Exactly in-tree's list, as far as the features that carry each MSR are
 * offered (on stock: all of them). EOI, ICR and TPR are APIC register
 * accessors, not state: in-tree does not list them, and a VMM that saves
 * every listed MSR cannot read EOI at all.
 */
static void check_intree_list(const struct kvm_msr_list *l, uint32_t nhv,
			      const char *hv)
{
	static const struct { uint32_t msr; uint64_t feat; } intree[] = {
		{ HV_X64_MSR_GUEST_OS_ID, HV_MSR_HYPERCALL_AVAILABLE },
		{ HV_X64_MSR_HYPERCALL, HV_MSR_HYPERCALL_AVAILABLE },
		{ HV_X64_MSR_TIME_REF_COUNT, HV_MSR_TIME_REF_COUNT_AVAILABLE },
		{ HV_X64_MSR_REFERENCE_TSC, HV_MSR_REFERENCE_TSC_AVAILABLE },
		{ HV_X64_MSR_TSC_FREQUENCY, HV_ACCESS_FREQUENCY_MSRS },
		{ HV_X64_MSR_APIC_FREQUENCY, HV_ACCESS_FREQUENCY_MSRS },
		{ HV_X64_MSR_CRASH_P0, HVSYS_CRASH },
		{ HV_X64_MSR_CRASH_P1, HVSYS_CRASH },
		{ HV_X64_MSR_CRASH_P2, HVSYS_CRASH },
		{ HV_X64_MSR_CRASH_P3, HVSYS_CRASH },
		{ HV_X64_MSR_CRASH_P4, HVSYS_CRASH },
		{ HV_X64_MSR_CRASH_CTL, HVSYS_CRASH },
		{ HV_X64_MSR_RESET, HV_MSR_RESET_AVAILABLE },
		{ HV_X64_MSR_VP_INDEX, HV_MSR_VP_INDEX_AVAILABLE },
		{ HV_X64_MSR_VP_RUNTIME, HV_MSR_VP_RUNTIME_AVAILABLE },
		{ HV_X64_MSR_SCONTROL, HV_MSR_SYNIC_AVAILABLE },
		{ HV_X64_MSR_STIMER0_CONFIG, HV_MSR_SYNTIMER_AVAILABLE },
		{ HV_X64_MSR_VP_ASSIST_PAGE, HV_MSR_APIC_ACCESS_AVAILABLE },
		{ HV_X64_MSR_REENLIGHTENMENT_CONTROL, HV_ACCESS_REENLIGHTENMENT },
		{ HV_X64_MSR_TSC_EMULATION_CONTROL, HV_ACCESS_REENLIGHTENMENT },
		{ HV_X64_MSR_TSC_EMULATION_STATUS, HV_ACCESS_REENLIGHTENMENT },
		{ HV_X64_MSR_TSC_INVARIANT_CONTROL, HV_ACCESS_TSC_INVARIANT },
		{ HV_X64_MSR_SYNDBG_OPTIONS, HVSYS_DEBUG },
		{ HV_X64_MSR_SYNDBG_CONTROL, HVSYS_DEBUG },
		{ HV_X64_MSR_SYNDBG_STATUS, HVSYS_DEBUG },
		{ HV_X64_MSR_SYNDBG_SEND_BUFFER, HVSYS_DEBUG },
		{ HV_X64_MSR_SYNDBG_RECV_BUFFER, HVSYS_DEBUG },
		{ HV_X64_MSR_SYNDBG_PENDING_BUFFER, HVSYS_DEBUG },
	};
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	char bad[512] = "";
	uint32_t i, nwant = 0;

	hv_leaves(leaf);
	for (i = 0; i < ARRAY_SIZE(intree); i++) {
		bool offered = hvsys_offers(leaf, intree[i].feat);

		nwant += offered;
		if (list_has(l, intree[i].msr) != offered)
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
				 " %#x(%s)", intree[i].msr,
				 offered ? "missing" : "not offered");
	}
	tap_ok(!bad[0] && nhv == nwant,
	       "exactly in-tree's Hyper-V MSRs of the offered features (0x40000003 %#x/%#x, %u of %zu), no EOI/ICR/TPR%s%s; listed:%s",
	       leaf[LEAF_FEATURES].eax, leaf[LEAF_FEATURES].edx, nwant,
	       ARRAY_SIZE(intree), bad[0] ? "; wrong:" : "", bad, hv);
}

static void test_msr_index_list(void)
{
	struct kvm_msr_list hdr = { .nmsrs = 0 }, *l;
	uint32_t total, i, j, dups = 0, nhv = 0;
	char hv[512] = "";
	int r, err;

	r = ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, &hdr);
	err = errno;
	tap_ok(r == -1 && err == E2BIG && hdr.nmsrs > 0,
	       "KVM_GET_MSR_INDEX_LIST nmsrs 0 -> E2BIG (%d, %s) with the count %u",
	       r, strerror(err), hdr.nmsrs);
	total = hdr.nmsrs;
	TEST_ASSERT(total > 0 && total < 4096, "MSR count %u", total);

	/* One short: KVM's own part fits, the appended synthetic MSRs do not. */
	l = calloc(1, sizeof(*l) + (total + 16) * sizeof(l->indices[0]));
	TEST_ASSERT(l, "calloc");
	l->nmsrs = total - 1;
	r = ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, l);
	err = errno;
	tap_ok(r == -1 && err == E2BIG && l->nmsrs == total,
	       "nmsrs count-1 -> E2BIG (%d, %s), count %u (want %u)", r,
	       strerror(err), l->nmsrs, total);

	l->nmsrs = total;
	r = ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, l);
	tap_ok(r == 0 && l->nmsrs == total, "full list: %d, %u MSRs", r, l->nmsrs);
	if (r)
		l->nmsrs = 0;

	for (i = 0; i < l->nmsrs; i++) {
		for (j = i + 1; j < l->nmsrs; j++)
			dups += l->indices[i] == l->indices[j];
		if (l->indices[i] >= HVL_MSR_OWNED_FIRST && l->indices[i] <= HVL_MSR_OWNED_LAST) {
			nhv++;
			snprintf(hv + strlen(hv), sizeof(hv) - strlen(hv), " %#x",
				 l->indices[i]);
		}
	}
	tap_ok(!dups && list_has(l, MSR_TSC) && list_has(l, MSR_KVM_SYSTEM_TIME_NEW),
	       "no duplicates (%u), KVM's own MSRs (TSC, KVM_SYSTEM_TIME_NEW) still listed",
	       dups);

	if (hv_env == HV_PLAIN) {
		tap_ok(nhv == 0, "plain KVM: no Hyper-V MSRs in the list (%u:%s)", nhv, hv);
	} else {
		tap_ok(list_has(l, HV_X64_MSR_GUEST_OS_ID) && list_has(l, HV_X64_MSR_HYPERCALL) &&
		       list_has(l, HV_X64_MSR_VP_INDEX),
		       "GUEST_OS_ID, HYPERCALL and VP_INDEX are listed");
		check_intree_list(l, nhv, hv);
	}
	free(l);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();

	TEST_RUN("capabilities", test_caps());
	TEST_RUN("KVM_GET_SUPPORTED_HV_CPUID on /dev/kvm", test_hv_cpuid_dev());
	TEST_RUN("KVM_GET_SUPPORTED_HV_CPUID on a vCPU fd", test_hv_cpuid_vcpu());
	TEST_RUN("vCPU forms of the supported CPUID", test_hv_cpuid_forms());
	TEST_RUN("KVM_GET_MSR_INDEX_LIST", test_msr_index_list());

	return tap_done();
}
