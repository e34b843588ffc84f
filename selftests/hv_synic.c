// SPDX-License-Identifier: GPL-2.0
/*
 * SynIC, its MSRs, exits and hypercalls (what is refused: hv_synic_neg;
 * interrupts: hv_synic_irq):
 *   (a) KVM_CHECK_EXTENSION SYNIC, SYNIC2, EVENTFD; the SynIC CPUID bits;
 *       SCONTROL (only) in KVM_GET_MSR_INDEX_LIST;
 *   (b) activation, before KVM_SET_CPUID2 as QEMU does it and after: the
 *       values; again: SCONTROL back to 1, the rest kept;
 *   (c) a guest write of SCONTROL, SIEFP or SIMP ends KVM_RUN with exactly
 *       one KVM_EXIT_HYPERV_SYNIC (msr, control, evt_page, msg_page), RIP
 *       past the WRMSR; EOM, SINT and host writes do not exit; under
 *       single-step KVM_EXIT_DEBUG comes first and the SynIC exit on the
 *       next KVM_RUN; an emulated WRMSR (forced emulation) exits once;
 *   (d) SYNIC clears a page the guest enables, SYNIC2 does not; the host's
 *       writes never clear;
 *   (e) host round trip of every SynIC MSR, and a restore in QEMU's order
 *       into a fresh vCPU that its guest then reads;
 *   (f) HvPostMessage: KVM_EXIT_HYPERV_HCALL, the VMM's result in RAX,
 *       the instruction retired once;
 *   (g) HvSignalEvent on a connection with an eventfd: signalled once per
 *       call, no exit, also from a vCPU without SynIC; an unknown
 *       connection (or a flag number) exits to the VMM instead.
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; plain KVM has no SynIC (SKIP).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "synic.h"

#define SYNIC1		KVM_CAP_HYPERV_SYNIC
#define SYNIC2		KVM_CAP_HYPERV_SYNIC2
#define MASKED		HV_SYNIC_SINT_MASKED
#define AEOI		HV_SYNIC_SINT_AUTO_EOI
#define FAST		HV_HYPERCALL_FAST_BIT
#define FILL		0xa5

static struct kvm_cpuid_entry2 sup[HVL_CPUID_NR_LEAVES];

static bool host_is(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t want,
		    char *bad, size_t len)
{
	uint64_t v = ~0ull;
	int r = vcpu_get_msr(vcpu, msr, &v);

	if (r == 1 && v == want)
		return true;
	hvsys_bad_add(bad, len, msr, r == 1 ? "reads" : "get fails", v);
	return false;
}

/* One KVM_RUN, described in d. */
static int run(struct kvm_vcpu *vcpu, char *d, size_t len)
{
	int r = vcpu_run_once(vcpu, false);
	int n = snprintf(d, len, "KVM_RUN %s: ", r ? strerror(r) : "0");

	hvx_exit_str(vcpu, d + n, len - n);
	return r;
}

/* ---- (a) ---- */

static void test_caps(void)
{
	static const long caps[] = {
		KVM_CAP_HYPERV_SYNIC, KVM_CAP_HYPERV_SYNIC2, KVM_CAP_HYPERV_EVENTFD,
	};
	const struct kvm_cpuid_entry2 *f = &sup[LEAF_FEATURES];
	char bad[512] = "";
	struct kvm_vm *vm;
	unsigned int i;
	int d, v;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = vm_create(0, VM_IRQCHIP);
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		d = kvm_check_cap(caps[i]);
		v = vm_check_cap(vm, caps[i]);
		if (d <= 0 || v <= 0)
			hvsys_bad_add(bad, sizeof(bad), caps[i], "/dev/kvm, VM", d << 8 | v);
	}
	tap_ok(!bad[0], "KVM_CHECK_EXTENSION SYNIC, SYNIC2, EVENTFD > 0 on /dev/kvm and a VM%s",
	       bad);
	vm_free(vm);
	tap_ok((f->eax & HV_MSR_SYNIC_AVAILABLE) &&
	       (f->ebx & (HV_POST_MESSAGES | HV_SIGNAL_EVENTS)) ==
	       (HV_POST_MESSAGES | HV_SIGNAL_EVENTS),
	       "KVM_GET_SUPPORTED_HV_CPUID: 0x40000003.EAX %#x has SynIC (bit 2), EBX %#x PostMessages and SignalEvents (bits 4, 5)",
	       f->eax, f->ebx);
	bad[0] = 0;
	for (i = 1; i < SYNIC_NR_MSRS; i++)
		if (kvm_msr_listed(synic_msrs[i]))
			hvsys_bad_add(bad, sizeof(bad), synic_msrs[i], "listed", 1);
	tap_ok(kvm_msr_listed(HV_X64_MSR_SCONTROL) && !bad[0],
	       "KVM_GET_MSR_INDEX_LIST has SCONTROL, as in-tree none of the other SynIC MSRs%s",
	       bad);
}

/* ---- (b) ---- */

static void test_activation(void)
{
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	char why[256], bad[512] = "", gbad[512] = "";
	unsigned int i, j;
	uint64_t want;
	bool ran[2];
	int r;

	synic_require(sup);
	/* vCPU 0: SYNIC2 before KVM_SET_CPUID2 (QEMU); vCPU 1: after. */
	vm = synic_vm(VM_IRQCHIP, 2, hvsys_ops_guest, sup, false, SYNIC2, 1, vcpus);
	r = vcpu_synic_enable(vcpus[1], SYNIC2, 0, 0);
	TEST_ASSERT(!r, "SYNIC2 after KVM_SET_CPUID2: %s", strerror(r));
	hvsys_ops_clear();
	for (i = 0; i < SYNIC_NR_MSRS; i++)
		hvsys_op_rd(synic_msrs[i]);
	for (j = 0; j < 2; j++) {
		ran[j] = hvsys_ops_run(vcpus[j], why, sizeof(why));
		for (i = 0; ran[j] && i < SYNIC_NR_MSRS; i++) {
			want = synic_msr_initial(synic_msrs[i]);
			if (hvsys_ops[i].vec || hvsys_ops[i].val != want)
				hvsys_bad_add(gbad, sizeof(gbad), synic_msrs[i],
					      j ? "vCPU 1 reads" : "vCPU 0 reads",
					      hvsys_ops[i].vec ? 0xf000 | hvsys_ops[i].vec :
					      hvsys_ops[i].val);
			host_is(vcpus[j], synic_msrs[i], want, bad, sizeof(bad));
		}
	}
	tap_ok(ran[0] && ran[1] && !gbad[0],
	       "after SYNIC2 (before or after KVM_SET_CPUID2) the guest reads SCONTROL 1, SVERSION 1, SIEFP/SIMP/EOM 0, SINT0-15 0x10000 (%s)%s",
	       why, gbad);
	tap_ok(!bad[0], "the host reads the same%s", bad);

	bad[0] = 0;
	vcpu_wrmsr(vcpus[0], HV_X64_MSR_SCONTROL, 0);
	vcpu_wrmsr(vcpus[0], HV_X64_MSR_SINT0, 0x40);
	vcpu_wrmsr(vcpus[0], HV_X64_MSR_SIMP, 0x3000);
	r = vcpu_synic_enable(vcpus[0], SYNIC1, 0, 0);
	tap_ok(!r && host_is(vcpus[0], HV_X64_MSR_SCONTROL, 1, bad, sizeof(bad)) &&
	       host_is(vcpus[0], HV_X64_MSR_SINT0, 0x40, bad, sizeof(bad)) &&
	       host_is(vcpus[0], HV_X64_MSR_SIMP, 0x3000, bad, sizeof(bad)),
	       "activated again (SYNIC, %s): SCONTROL back to 1, SINT0 0x40 and SIMP 0x3000 kept%s",
	       strerror(r), bad);
	vm_free(vm);
}

/* ---- (c) ---- */

/* The guest writes msr = val: one KVM_EXIT_HYPERV_SYNIC with this payload. */
static void expect_exit(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t val,
			uint64_t control, uint64_t evt, uint64_t msg)
{
	struct kvm_hyperv_exit *h = &vcpu->run->hyperv;
	char d1[256], d2[256];
	bool ok;
	int r;

	vcpu_enter_wrmsr(vcpu, hvx_wrmsr, msr, val);
	r = run(vcpu, d1, sizeof(d1));
	ok = !r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_SYNIC) &&
	     h->u.synic.msr == msr && h->u.synic.control == control &&
	     h->u.synic.evt_page == evt && h->u.synic.msg_page == msg &&
	     vcpu_rip(vcpu) == (uint64_t)hvx_wrmsr_out;
	snprintf(d1 + strlen(d1), sizeof(d1) - strlen(d1),
		 " msr %#x control %#llx evt %#llx msg %#llx", h->u.synic.msr,
		 h->u.synic.control, h->u.synic.evt_page, h->u.synic.msg_page);
	r = run(vcpu, d2, sizeof(d2));
	tap_ok(ok && !r && exit_is_out(vcpu, hvx_wrmsr_out),
	       "guest %s = %#lx: KVM_EXIT_HYPERV_SYNIC, control %#lx evt %#lx msg %#lx, RIP past the WRMSR (%s); then the guest continues (%s)",
	       synic_msr_name(msr), val, control, evt, msg, d1, d2);
}

static void test_exits(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t evt, msg;
	char why[256], d[256], bad[256] = "";
	bool ran;
	int r;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, sup, false, SYNIC2, 1, &vcpu);
	evt = vm_alloc(vm, HVL_PAGE_SIZE);
	msg = vm_alloc(vm, HVL_PAGE_SIZE);
	expect_exit(vcpu, HV_X64_MSR_SIEFP, evt | 1, 1, evt | 1, 0);
	expect_exit(vcpu, HV_X64_MSR_SIMP, msg | 1, 1, evt | 1, msg | 1);
	expect_exit(vcpu, HV_X64_MSR_SCONTROL, 0, 0, evt | 1, msg | 1);
	expect_exit(vcpu, HV_X64_MSR_SCONTROL, 1, 1, evt | 1, msg | 1);
	expect_exit(vcpu, HV_X64_MSR_SIMP, msg, 1, evt | 1, msg);
	expect_exit(vcpu, HV_X64_MSR_SIEFP, 0, 1, 0, msg);

	/* No exit: EOM, SINTs, reads; the values are what the exits said. */
	vcpu_restart(vcpu, hvsys_ops_guest);
	hvsys_ops_clear();
	hvsys_op_wr(HV_X64_MSR_EOM, 0);
	hvsys_op_wr(HV_X64_MSR_SINT0, MASKED | 0x50);
	hvsys_op_wr(HV_X64_MSR_SINT15, 0x51 | AEOI);
	hvsys_op_rd(HV_X64_MSR_SCONTROL);
	hvsys_op_rd(HV_X64_MSR_SIEFP);
	hvsys_op_rd(HV_X64_MSR_SIMP);
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	tap_ok(ran && hvsys_ops_vec(0, 3, 0, d, sizeof(d)) && hvsys_ops[3].val == 1 &&
	       !hvsys_ops[4].val && hvsys_ops[5].val == msg,
	       "guest EOM and SINT writes do not exit (%s); it reads SCONTROL %#lx, SIEFP %#lx, SIMP %#lx",
	       why, hvsys_ops[3].val, hvsys_ops[4].val, hvsys_ops[5].val);

	vcpu_wrmsr(vcpu, HV_X64_MSR_SCONTROL, 0);
	vcpu_wrmsr(vcpu, HV_X64_MSR_SIEFP, evt | 1);
	vcpu_wrmsr(vcpu, HV_X64_MSR_SIMP, msg | 1);
	vcpu_wrmsr(vcpu, HV_X64_MSR_SCONTROL, 1);
	vcpu_enter_blob(vcpu, hvx_out, 0, 0, 0, 0);
	r = run(vcpu, d, sizeof(d));
	tap_ok(!r && exit_is_out(vcpu, hvx_out) &&
	       host_is(vcpu, HV_X64_MSR_SIEFP, evt | 1, bad, sizeof(bad)) &&
	       host_is(vcpu, HV_X64_MSR_SIMP, msg | 1, bad, sizeof(bad)),
	       "host writes of SCONTROL, SIEFP, SIMP are stored and exit nothing (%s)%s",
	       d, bad);
	vm_free(vm);
}

/* Run a vCPU to its next non-EINTR KVM_RUN; counts the EINTRs. */
static int run_past_eintr(struct kvm_vcpu *vcpu, unsigned int *eintr, char *d,
			  size_t len)
{
	int r, i;

	*eintr = 0;
	for (i = 0; i < 3; i++) {
		r = run(vcpu, d, len);
		if (r != EINTR || vcpu->run->exit_reason != KVM_EXIT_INTR)
			break;
		(*eintr)++;
	}
	return r;
}

static void test_exit_paths(void)
{
	struct kvm_hyperv_exit *h;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	unsigned int eintr;
	uint64_t msg;
	char d[256];
	int old, r;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, NULL, sup, false, SYNIC2, 1, &vcpu);
	h = &vcpu->run->hyperv;
	msg = vm_alloc(vm, HVL_PAGE_SIZE);

	/* Single-step: KVM_EXIT_DEBUG first, the SynIC exit on the next run. */
	vcpu_enter_wrmsr(vcpu, hvx_wrmsr, HV_X64_MSR_SIMP, msg | 1);
	if (vcpu_guest_debug(vcpu, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)) {
		tap_skip("KVM_SET_GUEST_DEBUG(SINGLESTEP): %s", strerror(errno));
	} else if (r = run(vcpu, d, sizeof(d)),
		   !r && exit_is_step_before(vcpu, (uint64_t)hvx_wrmsr)) {
		TEST_ASSERT(!vcpu_guest_debug(vcpu, 0), "KVM_SET_GUEST_DEBUG(0)");
		tap_skip("single-step over a guest SIMP write: the CPU trapped before executing it (%s; Bochs' VMX does so at VM entry), so the write never reached KVM",
			 d);
		tap_skip("the SynIC exit after the step: no step over the WRMSR here");
		tap_skip("single-step off: no step over the WRMSR here");
	} else {
		tap_ok(!r && vcpu->run->exit_reason == KVM_EXIT_DEBUG &&
		       vcpu_rip(vcpu) == (uint64_t)hvx_wrmsr_out,
		       "single-step over a guest SIMP write: KVM_EXIT_DEBUG first, RIP past it (%s)", d);
		r = run(vcpu, d, sizeof(d));
		tap_ok(!r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_SYNIC) &&
		       h->u.synic.msr == HV_X64_MSR_SIMP && h->u.synic.msg_page == (msg | 1) &&
		       vcpu_rip(vcpu) == (uint64_t)hvx_wrmsr_out,
		       "the next KVM_RUN gives the SynIC exit before any instruction (%s)", d);
		TEST_ASSERT(!vcpu_guest_debug(vcpu, 0), "KVM_SET_GUEST_DEBUG(0)");
		r = run(vcpu, d, sizeof(d));
		tap_ok(!r && exit_is_out(vcpu, hvx_wrmsr_out),
		       "single-step off: the guest continues, no second exit (%s)", d);
	}

	/* The instruction emulator (forced-emulation prefix). */
	old = kvm_fep_set(1);
	if (old < 0) {
		tap_skip("kvm.force_emulation_prefix cannot be set: %s", strerror(errno));
		vm_free(vm);
		return;
	}
	vcpu_enter_wrmsr(vcpu, hvx_fep_wrmsr, HV_X64_MSR_SIMP, msg);
	r = run_past_eintr(vcpu, &eintr, d, sizeof(d));
	tap_ok(!r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_SYNIC) &&
	       h->u.synic.msr == HV_X64_MSR_SIMP && h->u.synic.msg_page == msg &&
	       vcpu_rip(vcpu) == (uint64_t)hvx_fep_wrmsr_out &&
	       eintr <= (hv_env == HV_MODULE),
	       "emulated guest SIMP write (forced-emulation prefix): KVM_EXIT_HYPERV_SYNIC, RIP past it, after %u EINTR (none in-tree; one on the module, documented) (%s)",
	       eintr, d);
	r = run(vcpu, d, sizeof(d));
	tap_ok(!r && exit_is_out(vcpu, hvx_fep_wrmsr_out),
	       "the next KVM_RUN continues the guest: one exit only (%s)", d);
	kvm_fep_set(old);
	vm_free(vm);
}

/* ---- (d) ---- */

static unsigned int page_bytes(struct kvm_vm *vm, uint64_t gpa, uint8_t b)
{
	uint8_t *p = addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE);
	unsigned int i, n = 0;

	for (i = 0; i < HVL_PAGE_SIZE; i++)
		n += p[i] == b;
	return n;
}

/* The guest writes msr = val and exits; how many bytes of page stay FILL. */
static unsigned int guest_page_write(struct kvm_vcpu *vcpu, uint32_t msr,
				     uint64_t val, uint64_t page)
{
	char d[256];
	int r;

	memset(addr_gpa2hva(vcpu->vm, page, HVL_PAGE_SIZE), FILL, HVL_PAGE_SIZE);
	vcpu_enter_wrmsr(vcpu, hvx_wrmsr, msr, val);
	r = run(vcpu, d, sizeof(d));
	TEST_ASSERT(!r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_SYNIC), "%s", d);
	return page_bytes(vcpu->vm, page, FILL);
}

static void test_page_clear(void)
{
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	uint64_t p[4];
	unsigned int i, n[6];

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 2, NULL, sup, false, SYNIC1, 1, vcpus);
	TEST_ASSERT(!vcpu_synic_enable(vcpus[1], SYNIC2, 0, 0), "SYNIC2");
	for (i = 0; i < ARRAY_SIZE(p); i++)
		p[i] = vm_alloc(vm, HVL_PAGE_SIZE);

	n[0] = guest_page_write(vcpus[0], HV_X64_MSR_SIMP, p[0] | 1, p[0]);
	n[1] = guest_page_write(vcpus[0], HV_X64_MSR_SIEFP, p[1] | 1, p[1]);
	tap_ok(page_bytes(vm, p[0], 0) == HVL_PAGE_SIZE &&
	       page_bytes(vm, p[1], 0) == HVL_PAGE_SIZE,
	       "SYNIC: the guest enables SIMP and SIEFP: both pages cleared (%u, %u bytes of the fill left)",
	       n[0], n[1]);
	n[2] = guest_page_write(vcpus[0], HV_X64_MSR_SIMP, p[2], p[2]);
	memset(addr_gpa2hva(vm, p[3], HVL_PAGE_SIZE), FILL, HVL_PAGE_SIZE);
	vcpu_wrmsr(vcpus[0], HV_X64_MSR_SIEFP, p[3] | 1);
	n[3] = page_bytes(vm, p[3], FILL);
	tap_ok(n[2] == HVL_PAGE_SIZE && n[3] == HVL_PAGE_SIZE,
	       "SYNIC: a guest SIMP write without the enable bit, a host SIEFP write with it: not cleared (%u, %u of %llu)",
	       n[2], n[3], HVL_PAGE_SIZE);
	n[4] = guest_page_write(vcpus[1], HV_X64_MSR_SIMP, p[0] | 1, p[0]);
	n[5] = guest_page_write(vcpus[1], HV_X64_MSR_SIEFP, p[1] | 1, p[1]);
	tap_ok(n[4] == HVL_PAGE_SIZE && n[5] == HVL_PAGE_SIZE,
	       "SYNIC2: the guest enables SIMP and SIEFP: the pages keep their contents (%u, %u of %llu)",
	       n[4], n[5], HVL_PAGE_SIZE);
	vm_free(vm);
}

/* ---- (e) ---- */

static uint64_t state_val(uint32_t msr)
{
	unsigned int i;

	switch (msr) {
	case HV_X64_MSR_SCONTROL:
		return 0x8001;
	case HV_X64_MSR_SVERSION:
		return 0x12345678;
	case HV_X64_MSR_SIEFP:
		return 0x7000 | HV_SYNIC_SIEFP_ENABLE;
	case HV_X64_MSR_SIMP:
		return 0x8000 | HV_SYNIC_SIMP_ENABLE;
	case HV_X64_MSR_EOM:
		return 0;
	}
	i = msr - HV_X64_MSR_SINT0;
	if (i == 15)
		return 0x03;	/* the host may write a vector below 16 */
	return (0x20 + i) | (i & 1 ? MASKED : 0) | (i % 3 ? 0 : AEOI);
}

static void test_round_trip(void)
{
	struct kvm_vcpu *src, *dst;
	struct kvm_vm *vm, *vm2;
	char why[256], bad[768] = "", gbad[768] = "";
	unsigned int i, fill_left;
	uint64_t v[SYNIC_NR_MSRS];
	bool ran;
	int r;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, NULL, sup, false, SYNIC2, 1, &src);
	for (i = 0; i < SYNIC_NR_MSRS; i++) {
		r = vcpu_set_msr(src, synic_msrs[i], state_val(synic_msrs[i]));
		if (r != 1)
			hvsys_bad_add(bad, sizeof(bad), synic_msrs[i], "set", r);
	}
	for (i = 0; i < SYNIC_NR_MSRS; i++)
		host_is(src, synic_msrs[i], state_val(synic_msrs[i]), bad, sizeof(bad));
	tap_ok(!bad[0], "host KVM_SET_MSRS then KVM_GET_MSRS of all %u SynIC MSRs (SINTs with auto-EOI, masked, vector 3): the same values%s",
	       SYNIC_NR_MSRS, bad);
	for (i = 0; i < SYNIC_NR_MSRS; i++)
		v[i] = vcpu_rdmsr(src, synic_msrs[i]);

	/* A fresh VM, SYNIC (clearing) to show the restore clears nothing. */
	vm2 = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, sup, false, SYNIC1, 1, &dst);
	memset(addr_gpa2hva(vm2, 0x7000, HVL_PAGE_SIZE), FILL, HVL_PAGE_SIZE);
	bad[0] = 0;
	for (i = 1; i < SYNIC_NR_MSRS; i++) {	/* SVERSION, then QEMU's order */
		if (synic_msrs[i] == HV_X64_MSR_EOM)
			continue;
		if (i == 2 && vcpu_set_msr(dst, HV_X64_MSR_SCONTROL, v[0]) != 1)
			hvsys_bad_add(bad, sizeof(bad), HV_X64_MSR_SCONTROL, "set", v[0]);
		if (vcpu_set_msr(dst, synic_msrs[i], v[i]) != 1)
			hvsys_bad_add(bad, sizeof(bad), synic_msrs[i], "set", v[i]);
	}
	fill_left = page_bytes(vm2, 0x7000, FILL);
	hvsys_ops_clear();
	for (i = 0; i < SYNIC_NR_MSRS; i++)
		hvsys_op_rd(synic_msrs[i]);
	ran = hvsys_ops_run(dst, why, sizeof(why));
	for (i = 0; ran && i < SYNIC_NR_MSRS; i++)
		if (hvsys_ops[i].vec || hvsys_ops[i].val != v[i])
			hvsys_bad_add(gbad, sizeof(gbad), synic_msrs[i], "guest reads",
				      hvsys_ops[i].val);
	tap_ok(!bad[0] && ran && !gbad[0],
	       "restored into a fresh vCPU (SVERSION, SCONTROL, SIEFP, SIMP, SINT0-15): its guest reads them all (%s)%s%s",
	       why, bad, gbad);
	tap_ok(fill_left == HVL_PAGE_SIZE,
	       "the restore of SIEFP with its enable bit cleared nothing in the page (%u of %llu bytes kept)",
	       fill_left, HVL_PAGE_SIZE);
	vm_free(vm2);
	vm_free(vm);
}

/* ---- (f) ---- */

/* The vCPU runs the call rcx in the blob; the exit must carry its input. */
static bool hcall_exit(struct kvm_vcpu *vcpu, uint64_t rcx, uint64_t rdx,
		       uint64_t r8, uint64_t want_param0, char *d, size_t len)
{
	struct kvm_hyperv_exit *h = &vcpu->run->hyperv;
	int r;

	vcpu_enter_blob(vcpu, synic_hc_blob(), SYNIC_GARBAGE, rcx, rdx, r8);
	r = run(vcpu, d, len);
	return !r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_HCALL) &&
	       h->u.hcall.input == rcx && h->u.hcall.params[0] == want_param0 &&
	       h->u.hcall.params[1] == r8 && vcpu_rip(vcpu) == (uint64_t)synic_hc_blob();
}

/* The VMM answers result; the guest goes on to the OUT with it in RAX. */
static bool hcall_done(struct kvm_vcpu *vcpu, uint64_t result, uint64_t *rax,
		       char *d, size_t len)
{
	struct kvm_regs regs;
	int r;

	vcpu->run->hyperv.u.hcall.result = result;
	r = run(vcpu, d, len);
	vcpu_regs_get(vcpu, &regs);
	*rax = regs.rax;
	return !r && exit_is_out(vcpu, synic_hc_blob_out());
}

/*
 * Both: the exit as hcall_exit() wants it, and the answer (given whenever
 * the call did exit, so the next call starts clean).
 */
static bool hcall_round(struct kvm_vcpu *vcpu, uint64_t rcx, uint64_t rdx,
			uint64_t r8, uint64_t want_param0, uint64_t result,
			uint64_t *rax, char *d, char *d2, size_t len)
{
	bool ok = hcall_exit(vcpu, rcx, rdx, r8, want_param0, d, len);

	if (!exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_HCALL))
		return false;
	return hcall_done(vcpu, result, rax, d2, len) && ok;
}

static void test_post_message(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t in, out, rax = 0, n0, n1;
	char d[256], d2[256] = "-";
	bool ok;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, synic_hc_guest, sup, false, SYNIC2, 1, &vcpu);
	in = vm_alloc(vm, HVL_PAGE_SIZE);
	out = vm_alloc(vm, HVL_PAGE_SIZE);
	n0 = vcpu_stat(vcpu, "hypercalls");
	ok = hcall_exit(vcpu, HVCALL_POST_MESSAGE, in, out, in, d, sizeof(d));
	tap_ok(ok, "HvPostMessage -> KVM_EXIT_HYPERV_HCALL with its input and GPAs %#lx %#lx, RIP still on the call (%s)",
	       in, out, d);
	ok = exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_HCALL) &&
	     hcall_done(vcpu, HV_STATUS_INSUFFICIENT_BUFFERS, &rax, d2, sizeof(d2));
	n1 = vcpu_stat(vcpu, "hypercalls");
	tap_ok(ok && rax == HV_STATUS_INSUFFICIENT_BUFFERS &&
	       (n0 == (uint64_t)-1 || n1 - n0 == 1),
	       "the VMM's INSUFFICIENT_BUFFERS is the guest's RAX (%#lx) on re-entry, the call retired once (%s; KVM counted %lu)",
	       rax, d2, n1 - n0);

	ok = hcall_round(vcpu, HVCALL_POST_MESSAGE | FAST, 0x1122, 0x3344, 0x1122,
			 HV_STATUS_SUCCESS, &rax, d, d2, sizeof(d));
	tap_ok(ok && rax == HV_STATUS_SUCCESS,
	       "fast HvPostMessage: the exit carries RDX and R8 (%s); SUCCESS reaches the guest (%s)",
	       d, d2);

	/* From C: two calls, each its own exit and answer. */
	vcpu_restart(vcpu, synic_hc_guest);
	synic_hc_clear();
	synic_hc_add(HVCALL_POST_MESSAGE, in, out);
	synic_hc_add(HVCALL_POST_MESSAGE, in + 256, out);
	sync_global_to_guest(vm, synic_hcs);
	sync_global_to_guest(vm, synic_nhc);
	ok = run(vcpu, d, sizeof(d)) == 0 && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_HCALL) &&
	     vcpu->run->hyperv.u.hcall.params[0] == in;
	vcpu->run->hyperv.u.hcall.result = 0x13;
	ok = ok && run(vcpu, d, sizeof(d)) == 0 &&
	     exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_HCALL) &&
	     vcpu->run->hyperv.u.hcall.params[0] == in + 256;
	vcpu->run->hyperv.u.hcall.result = 0;
	ok = ok && vcpu_run(vcpu, &uc) == UCALL_SYNC;
	sync_global_from_guest(vm, synic_hcs);
	tap_ok(ok && synic_hcs[0].rax == 0x13 && !synic_hcs[1].rax &&
	       !synic_hcs[0].vec && !synic_hcs[1].vec,
	       "two calls from C: one exit each, the guest got %#lx and %#lx (%s)",
	       synic_hcs[0].rax, synic_hcs[1].rax, d);
	vm_free(vm);
}

/* ---- (g) ---- */

static void test_signal_eventfd(void)
{
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	uint64_t in, c1, c2, c3;
	char why[256], chk[256];
	int e1, e2, e3, r;
	bool ok;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 2, synic_hc_guest, sup, false, SYNIC2, 1, vcpus);
	e1 = efd_new();
	e2 = efd_new();
	e3 = efd_new();
	in = vm_alloc(vm, HVL_PAGE_SIZE);
	*(uint64_t *)addr_gpa2hva(vm, in, 8) = 7;
	TEST_ASSERT(!vm_hv_eventfd(vm, 7, e1, 0), "KVM_HYPERV_EVENTFD 7");
	TEST_ASSERT(!vm_hv_eventfd(vm, KVM_HYPERV_CONN_ID_MASK, e2, 0), "KVM_HYPERV_EVENTFD max");
	r = vm_hv_eventfd(vm, 7, e3, 0);

	synic_hc_clear();
	synic_hc_add(HVCALL_SIGNAL_EVENT | FAST, 7, 0);
	synic_hc_add(HVCALL_SIGNAL_EVENT, in, 0);
	synic_hc_add(HVCALL_SIGNAL_EVENT | FAST, KVM_HYPERV_CONN_ID_MASK, 0);
	ok = synic_hc_run(vcpus[0], why, sizeof(why)) &&
	     synic_hc_check(0, 3, HV_STATUS_SUCCESS, chk, sizeof(chk));
	c1 = efd_take(e1);
	c2 = efd_take(e2);
	c3 = efd_take(e3);
	tap_ok(ok, "HvSignalEvent on connections 7 (fast, slow) and 0xffffff with KVM_HYPERV_EVENTFD -> SUCCESS, no exit (%s; %s)",
	       why, chk);
	tap_ok(c1 == 2 && c2 == 1 && !c3 && r == EEXIST,
	       "each eventfd counts its calls exactly: 7 -> %lu (2), 0xffffff -> %lu (1); the refused duplicate (%s) -> %lu (0)",
	       c1, c2, strerror(r), c3);

	synic_hc_clear();
	synic_hc_add(HVCALL_SIGNAL_EVENT | FAST, 7, 0);
	ok = synic_hc_run(vcpus[1], why, sizeof(why)) &&
	     synic_hc_check(0, 1, HV_STATUS_SUCCESS, chk, sizeof(chk));
	c1 = efd_take(e1);
	tap_ok(ok && c1 == 1,
	       "from vCPU 1 without SynIC too: SUCCESS, no exit, the eventfd counts %lu (%s; %s)",
	       c1, why, chk);
	vm_free(vm);
	close(e1);
	close(e2);
	close(e3);
}

static void test_signal_vmm(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t in, rax = 0, c;
	char d[256], d2[256] = "-";
	int e1;
	bool ok;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, NULL, sup, false, SYNIC2, 1, &vcpu);
	e1 = efd_new();
	TEST_ASSERT(!vm_hv_eventfd(vm, 7, e1, 0), "KVM_HYPERV_EVENTFD 7");
	in = vm_alloc(vm, HVL_PAGE_SIZE);
	*(uint64_t *)addr_gpa2hva(vm, in, 8) = 9;

	ok = hcall_round(vcpu, HVCALL_SIGNAL_EVENT | FAST, 9, 0x55, 9,
			 HV_STATUS_INVALID_CONNECTION_ID, &rax, d, d2, sizeof(d));
	tap_ok(ok && rax == HV_STATUS_INVALID_CONNECTION_ID,
	       "fast HvSignalEvent to unknown connection 9 -> KVM_EXIT_HYPERV_HCALL with params[0] 9 (%s); the VMM's INVALID_CONNECTION_ID is RAX once (%s)",
	       d, d2);

	/*
	 * In-tree hands over the connection ID it read, not the GPA, while
	 * the input value still says "slow"; the module hands over the call
	 * as made (QEMU reads a slow call's ID from params[0] in memory).
	 */
	ok = hcall_round(vcpu, HVCALL_SIGNAL_EVENT, in, 0x66,
			 hv_env == HV_MODULE ? in : 9, HV_STATUS_SUCCESS,
			 &rax, d, d2, sizeof(d));
	tap_ok(ok && rax == HV_STATUS_SUCCESS,
	       "slow HvSignalEvent, input page %#lx holding connection 9 -> KVM_EXIT_HYPERV_HCALL with params[0] %s (%s); SUCCESS reaches the guest (%s)",
	       in, hv_env == HV_MODULE ?
	       "the input page, as the guest made the call (" INTENTIONAL("in-tree: the ID read") ")" :
	       "9, the connection ID read (in-tree)", d, d2);

	ok = hcall_round(vcpu, HVCALL_SIGNAL_EVENT | FAST, 1ull << 32 | 7, 0,
			 1ull << 32 | 7, HV_STATUS_SUCCESS, &rax, d, d2, sizeof(d));
	c = efd_take(e1);
	tap_ok(ok && !c, "connection 7 with flag number 1: to the VMM, not the eventfd (%s; eventfd %lu)",
	       d, c);

	TEST_ASSERT(!vm_hv_eventfd(vm, 7, -1, KVM_HYPERV_EVENTFD_DEASSIGN), "deassign 7");
	ok = hcall_round(vcpu, HVCALL_SIGNAL_EVENT | FAST, 7, 0, 7, HV_STATUS_SUCCESS,
			 &rax, d, d2, sizeof(d));
	c = efd_take(e1);
	tap_ok(ok && !c, "after KVM_HYPERV_EVENTFD deassigns 7: it goes to the VMM (%s; eventfd %lu)",
	       d, c);
	vm_free(vm);
	close(e1);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env != HV_PLAIN)
		hv_leaves(sup);

	TEST_RUN("capabilities, CPUID, MSR list", test_caps());
	TEST_RUN("activation", test_activation());
	TEST_RUN("SCONTROL, SIEFP, SIMP exits", test_exits());
	TEST_RUN("SIMP exit: single-step, instruction emulator", test_exit_paths());
	TEST_RUN("SYNIC clears pages, SYNIC2 does not", test_page_clear());
	TEST_RUN("host round trip and restore", test_round_trip());
	TEST_RUN("HvPostMessage to the VMM", test_post_message());
	TEST_RUN("HvSignalEvent through eventfds", test_signal_eventfd());
	TEST_RUN("HvSignalEvent to the VMM", test_signal_vmm());

	return tap_done();
}
