// SPDX-License-Identifier: GPL-2.0
/*
 * SynIC, what is refused (the successful paths: hv_synic, hv_synic_irq):
 *   (a) KVM_ENABLE_CAP(KVM_CAP_HYPERV_SYNIC/SYNIC2) without an in-kernel
 *       irqchip, with flags, SYNIC2 with args[0] != 0: EINVAL, nothing
 *       activated;
 *   (b) before activation every SynIC MSR is #GP for the guest; the host
 *       reads the defaults and may write 0 only;
 *   (c) after activation: #GP for a vCPU without "Hv#1", under enforcement
 *       without 0x40000003.EAX bit 2, for the unused MSRs 0x40000085-8F,
 *       for SVERSION writes, for SINT vectors below 16 unless masked, for
 *       a message or event page enabled outside guest memory (SYNIC, which
 *       clears it; SYNIC2 does not look);
 *   (d) HvPostMessage and HvSignalEvent inputs refused with SynIC active,
 *       and from a vCPU without SynIC in the same VM: no exit;
 *   (e) KVM_HYPERV_EVENTFD: bad flags or connection ID (EINVAL), bad fd
 *       (EBADF, EINVAL), duplicate (EEXIST), unknown deassign (ENOENT).
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; plain KVM has no SynIC (SKIP).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "synic.h"

#define SYNIC2		KVM_CAP_HYPERV_SYNIC2
#define MASKED		HV_SYNIC_SINT_MASKED
#define AEOI		HV_SYNIC_SINT_AUTO_EOI
#define FAST		HV_HYPERCALL_FAST_BIT
#define REP(n)		((uint64_t)(n) << HV_HYPERCALL_REP_COMP_OFFSET)
#define OUTSIDE		0x80000000ull	/* a GPA beyond the VM's memory */

static struct kvm_cpuid_entry2 sup[HVL_CPUID_NR_LEAVES];

/* A guest write each SynIC MSR would accept once active. */
static uint64_t valid_write(uint32_t msr)
{
	return msr == HV_X64_MSR_SCONTROL ? 1 : synic_msr_initial(msr);
}

/* Add a read and a write of every SynIC MSR; returns how many. */
static unsigned int add_all(void)
{
	unsigned int i;

	for (i = 0; i < SYNIC_NR_MSRS; i++) {
		hvsys_op_rd(synic_msrs[i]);
		hvsys_op_wr(synic_msrs[i], valid_write(synic_msrs[i]));
	}
	return hvsys_nops;
}

/* Run the list: did all of it raise #GP without an exit? */
static bool all_gp(struct kvm_vcpu *vcpu, char *why, size_t len)
{
	char run[256], vecs[128] = "-";
	bool ran, ok;

	ran = hvsys_ops_run(vcpu, run, sizeof(run));
	ok = ran && hvsys_ops_vec(0, hvsys_nops, GP_VECTOR, vecs, sizeof(vecs));
	snprintf(why, len, "%.120s; %.100s", run, vecs);
	return ok;
}

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

/* ---- (a) KVM_ENABLE_CAP ---- */

static void test_enable_cap(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[256] = "";
	int r1, r2, r3, r4, r5;
	bool inactive;

	synic_require(sup);
	vm = synic_vm(0, 1, hvsys_ops_guest, sup, false, 0, 0, &vcpu);
	r1 = vcpu_synic_enable(vcpu, KVM_CAP_HYPERV_SYNIC, 0, 0);
	r2 = vcpu_synic_enable(vcpu, SYNIC2, 0, 0);
	hvsys_ops_clear();
	hvsys_op_rd(HV_X64_MSR_SCONTROL);
	inactive = all_gp(vcpu, why, sizeof(why)) &&
		   host_is(vcpu, HV_X64_MSR_SCONTROL, 0, bad, sizeof(bad));
	tap_ok(r1 == EINVAL && r2 == EINVAL && inactive,
	       "no in-kernel irqchip: SYNIC -> %s, SYNIC2 -> %s; SynIC stays off (guest SCONTROL: %s; host%s)",
	       strerror(r1), strerror(r2), why, bad);
	vm_free(vm);

	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, sup, false, 0, 0, &vcpu);
	r1 = vcpu_synic_enable(vcpu, SYNIC2, 1, 0);
	r2 = vcpu_synic_enable(vcpu, SYNIC2, ~0ull, 0);
	r3 = vcpu_synic_enable(vcpu, SYNIC2, 0, 1);
	r4 = vcpu_synic_enable(vcpu, KVM_CAP_HYPERV_SYNIC, 0, 1);
	inactive = all_gp(vcpu, why, sizeof(why)) &&
		   host_is(vcpu, HV_X64_MSR_SCONTROL, 0, bad, sizeof(bad));
	tap_ok(r1 == EINVAL && r2 == EINVAL && r3 == EINVAL && r4 == EINVAL && inactive,
	       "irqchip: SYNIC2 args[0] 1 -> %s, ~0 -> %s; flags 1: SYNIC2 -> %s, SYNIC -> %s; SynIC stays off (%s;%s)",
	       strerror(r1), strerror(r2), strerror(r3), strerror(r4), why, bad);

	/* SYNIC (not SYNIC2) takes no argument and ignores it. */
	bad[0] = 0;
	r5 = vcpu_synic_enable(vcpu, KVM_CAP_HYPERV_SYNIC, 5, 0);
	tap_ok(!r5 && host_is(vcpu, HV_X64_MSR_SCONTROL, 1, bad, sizeof(bad)),
	       "SYNIC with args[0] 5 -> %s: active, SCONTROL 1%s", strerror(r5), bad);
	vm_free(vm);
}

/* ---- (b) before activation ---- */

static void test_before_guest(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	bool ok;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, sup, false, 0, 0, &vcpu);
	hvsys_ops_clear();
	add_all();
	ok = all_gp(vcpu, why, sizeof(why));
	tap_ok(ok, "Hyper-V guest, SynIC offered, no KVM_ENABLE_CAP: rdmsr and wrmsr of the %u SynIC MSRs #GP, no exit (%s)",
	       SYNIC_NR_MSRS, why);
	vm_free(vm);

	memcpy(leaf, sup, sizeof(leaf));
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, leaf, true, 0, 0, &vcpu);
	ok = all_gp(vcpu, why, sizeof(why));
	tap_ok(ok, "the same, enforced with the SynIC bit (%s)", why);
	vm_free(vm);
}

static void test_before_host(void)
{
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	char rd[512] = "", nz[512] = "", zero[512] = "", after[512] = "";
	uint64_t want, v;
	unsigned int i;
	uint32_t msr;
	int r;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, sup, false, 0, 0, vcpus);
	vcpus[1] = vm_vcpu_add(vm, NULL);	/* no "Hv#1" at all */
	for (i = 0; i < SYNIC_NR_MSRS; i++) {
		msr = synic_msrs[i];
		want = msr == HV_X64_MSR_SCONTROL ? 0 : synic_msr_initial(msr);
		host_is(vcpus[0], msr, want, rd, sizeof(rd));
		host_is(vcpus[1], msr, want, rd, sizeof(rd));
	}
	tap_ok(!rd[0], "host KVM_GET_MSRS before activation (with and without \"Hv#1\"): SCONTROL 0, SVERSION 1, SINTs masked, the rest 0%s",
	       rd);

	for (i = 0; i < SYNIC_NR_MSRS; i++) {
		msr = synic_msrs[i];
		v = msr >= HV_X64_MSR_SINT0 ? MASKED | 0x20 : 0x1001;
		r = vcpu_set_msr(vcpus[0], msr, v);
		if (r != 0)
			hvsys_bad_add(nz, sizeof(nz), msr, "set", r);
		want = msr == HV_X64_MSR_SCONTROL ? 0 : synic_msr_initial(msr);
		host_is(vcpus[0], msr, want, nz, sizeof(nz));
	}
	tap_ok(!nz[0], "host KVM_SET_MSRS of a non-zero value before activation is refused, nothing changes%s",
	       nz);

	for (i = 0; i < SYNIC_NR_MSRS; i++) {
		r = vcpu_set_msr(vcpus[0], synic_msrs[i], 0);
		if (r != 1)
			hvsys_bad_add(zero, sizeof(zero), synic_msrs[i], "set 0", r);
	}
	tap_ok(!zero[0], "host writes of 0 before activation are accepted (a VMM's reset)%s", zero);

	/* In-tree stores them: SVERSION and the SINTs stay 0. */
	r = vcpu_synic_enable(vcpus[0], SYNIC2, 0, 0);
	for (i = 0; i < SYNIC_NR_MSRS; i++) {
		msr = synic_msrs[i];
		host_is(vcpus[0], msr, msr == HV_X64_MSR_SCONTROL, after, sizeof(after));
	}
	tap_ok(!r && !after[0], "then SYNIC2 (%s): SCONTROL 1, the zeros written before stay (SVERSION and SINTs 0)%s",
	       strerror(r), after);
	vm_free(vm);
}

/* ---- (c) after activation ---- */

static void test_not_hv(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[128] = "";
	bool ok;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, NULL, false, SYNIC2, 1, &vcpu);
	hvsys_ops_clear();
	add_all();
	ok = all_gp(vcpu, why, sizeof(why));
	tap_ok(ok && host_is(vcpu, HV_X64_MSR_SCONTROL, 1, bad, sizeof(bad)),
	       "SYNIC2 on a vCPU without \"Hv#1\": the guest's rdmsr/wrmsr of all %u #GP, no exit (%s); the host reads SCONTROL 1%s",
	       SYNIC_NR_MSRS, why, bad);
	vm_free(vm);
}

static void test_enforced(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[256] = "";
	int r;
	bool ok;

	synic_require(sup);
	memcpy(leaf, sup, sizeof(leaf));
	hvsys_set_features(leaf, HV_MSR_SYNIC_AVAILABLE, false);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, leaf, true, SYNIC2, 1, &vcpu);
	hvsys_ops_clear();
	add_all();
	ok = all_gp(vcpu, why, sizeof(why));
	tap_ok(ok, "SYNIC2, enforced without 0x40000003.EAX bit 2: the guest's rdmsr/wrmsr of all %u #GP, no exit (%s)",
	       SYNIC_NR_MSRS, why);
	r = vcpu_set_msr(vcpu, HV_X64_MSR_SIMP, 0x5000 | HV_SYNIC_SIMP_ENABLE);
	ok = r == 1 && host_is(vcpu, HV_X64_MSR_SIMP, 0x5001, bad, sizeof(bad));
	r = vcpu_set_msr(vcpu, HV_X64_MSR_SINT0 + 3, 0x33);
	ok = ok && r == 1 && host_is(vcpu, HV_X64_MSR_SINT0 + 3, 0x33, bad, sizeof(bad));
	tap_ok(ok, "the host is not gated: SIMP 0x5001, SINT3 0x33 written and read back%s", bad);
	vm_free(vm);

	hvsys_set_features(leaf, HV_MSR_SYNIC_AVAILABLE, true);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, leaf, true, SYNIC2, 1, &vcpu);
	hvsys_ops_clear();
	hvsys_op_rd(HV_X64_MSR_SCONTROL);
	hvsys_op_wr(HV_X64_MSR_EOM, 0);
	ok = hvsys_ops_run(vcpu, why, sizeof(why)) && !hvsys_ops[0].vec &&
	     !hvsys_ops[1].vec && hvsys_ops[0].val == 1;
	tap_ok(ok, "enforced with the bit: SCONTROL reads %#lx (vector %u), EOM written (vector %u): %s",
	       hvsys_ops[0].val, hvsys_ops[0].vec, hvsys_ops[1].vec, why);
	vm_free(vm);
}

static void test_unused_msrs(void)
{
	static const uint32_t unused[] = { 0x40000085, 0x4000008a, 0x4000008f };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[256] = "";
	unsigned int i;
	uint64_t v;
	int r;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, sup, false, SYNIC2, 1, &vcpu);
	hvsys_ops_clear();
	for (i = 0; i < ARRAY_SIZE(unused); i++) {
		hvsys_op_rd(unused[i]);
		hvsys_op_wr(unused[i], 0);
		r = vcpu_get_msr(vcpu, unused[i], &v);
		if (r != 0)
			hvsys_bad_add(bad, sizeof(bad), unused[i], "get", r);
		r = vcpu_set_msr(vcpu, unused[i], 0);
		if (r != 0)
			hvsys_bad_add(bad, sizeof(bad), unused[i], "set 0", r);
	}
	tap_ok(all_gp(vcpu, why, sizeof(why)),
	       "SynIC active: rdmsr/wrmsr of 0x40000085, 0x4000008A, 0x4000008F (between EOM and SINT0) #GP (%s)",
	       why);
	tap_ok(!bad[0], "the host's KVM_GET/SET_MSRS of them are refused%s", bad);
	vm_free(vm);
}

static void test_sversion_eom(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[128] = "";
	bool ran;
	int r;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, sup, false, SYNIC2, 1, &vcpu);
	hvsys_ops_clear();
	hvsys_op_wr(HV_X64_MSR_SVERSION, 1);
	hvsys_op_wr(HV_X64_MSR_SVERSION, 2);
	hvsys_op_rd(HV_X64_MSR_SVERSION);
	hvsys_op_rd(HV_X64_MSR_EOM);
	hvsys_op_wr(HV_X64_MSR_EOM, 0);
	hvsys_op_wr(HV_X64_MSR_EOM, ~0ull);
	hvsys_op_rd(HV_X64_MSR_EOM);
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	tap_ok(ran && hvsys_ops[0].vec == GP_VECTOR && hvsys_ops[1].vec == GP_VECTOR &&
	       !hvsys_ops[2].vec && hvsys_ops[2].val == HV_SYNIC_VERSION_1,
	       "SVERSION is read-only to the guest: writes of 1 and 2 -> vectors %u %u, it reads %#lx (%s)",
	       hvsys_ops[0].vec, hvsys_ops[1].vec, hvsys_ops[2].val, why);
	tap_ok(ran && !hvsys_ops[3].vec && !hvsys_ops[3].val && !hvsys_ops[4].vec &&
	       !hvsys_ops[5].vec && !hvsys_ops[6].vec && !hvsys_ops[6].val,
	       "EOM reads 0 (%#lx, then %#lx) and takes any write (vectors %u %u)",
	       hvsys_ops[3].val, hvsys_ops[6].val, hvsys_ops[4].vec, hvsys_ops[5].vec);

	r = vcpu_set_msr(vcpu, HV_X64_MSR_SVERSION, 5);
	hvsys_ops_clear();
	hvsys_op_rd(HV_X64_MSR_SVERSION);
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	tap_ok(r == 1 && ran && hvsys_ops[0].val == 5 &&
	       host_is(vcpu, HV_X64_MSR_SVERSION, 5, bad, sizeof(bad)),
	       "the host may write SVERSION (%d): 5, and the guest reads %#lx%s",
	       r, hvsys_ops[0].val, bad);
	vm_free(vm);
}

static void test_sint_rules(void)
{
	const uint64_t rsvd = BIT_ULL(18) | BIT_ULL(40) | BIT_ULL(63);
	struct { uint64_t val; uint8_t gp; } w[] = {
		{ 0x10, 0 }, { 0x00, 1 }, { 0x0f, 1 }, { 0x0f | AEOI, 1 },
		{ 0x00 | MASKED, 0 }, { 0x0f | MASKED | AEOI, 0 }, { 0xff, 0 },
		{ 0x33 | MASKED | rsvd, 0 },
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[512] = "";
	uint64_t last = MASKED;
	unsigned int i, op;
	bool ran;
	int r1, r2;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 1, hvsys_ops_guest, sup, false, SYNIC2, 1, &vcpu);
	hvsys_ops_clear();
	for (i = 0; i < ARRAY_SIZE(w); i++) {
		hvsys_op_wr(HV_X64_MSR_SINT0 + 2, w[i].val);
		hvsys_op_rd(HV_X64_MSR_SINT0 + 2);
	}
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	for (i = 0; ran && i < ARRAY_SIZE(w); i++) {
		op = 2 * i;
		if (!w[i].gp)
			last = w[i].val;
		if (hvsys_ops[op].vec != (w[i].gp ? GP_VECTOR : 0))
			hvsys_bad_add(bad, sizeof(bad), HV_X64_MSR_SINT0 + 2,
				      "write vector", w[i].val);
		if (hvsys_ops[op + 1].val != last)
			hvsys_bad_add(bad, sizeof(bad), HV_X64_MSR_SINT0 + 2,
				      "then reads", hvsys_ops[op + 1].val);
	}
	tap_ok(ran && !bad[0],
	       "guest SINT2 writes: vector 0x10 ok; 0, 0xf, 0xf|auto-EOI unmasked -> #GP, value kept; masked 0 and 0xf ok; 0xff ok; reserved bits 18/40/63 stored (%s)%s",
	       why, bad);

	bad[0] = 0;
	r1 = vcpu_set_msr(vcpu, HV_X64_MSR_SINT0 + 4, 0);
	r2 = vcpu_set_msr(vcpu, HV_X64_MSR_SINT0 + 5, 0x05 | AEOI);
	tap_ok(r1 == 1 && r2 == 1 &&
	       host_is(vcpu, HV_X64_MSR_SINT0 + 4, 0, bad, sizeof(bad)) &&
	       host_is(vcpu, HV_X64_MSR_SINT0 + 5, 0x05 | AEOI, bad, sizeof(bad)),
	       "the host may write SINT vectors below 16 unmasked: SINT4 0 (%d), SINT5 0x20005 (%d)%s",
	       r1, r2, bad);
	vm_free(vm);
}

static void test_page_outside(void)
{
	struct kvm_hyperv_exit *h;
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	char why[256], bad[256] = "", d[256];
	int r;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 2, hvsys_ops_guest, sup, false,
		      KVM_CAP_HYPERV_SYNIC, 1, vcpus);
	TEST_ASSERT(!vcpu_synic_enable(vcpus[1], SYNIC2, 0, 0), "SYNIC2");
	hvsys_ops_clear();
	hvsys_op_wr(HV_X64_MSR_SIMP, OUTSIDE | HV_SYNIC_SIMP_ENABLE);
	hvsys_op_wr(HV_X64_MSR_SIEFP, OUTSIDE | HV_SYNIC_SIEFP_ENABLE);
	tap_ok(all_gp(vcpus[0], why, sizeof(why)) &&
	       host_is(vcpus[0], HV_X64_MSR_SIMP, 0, bad, sizeof(bad)) &&
	       host_is(vcpus[0], HV_X64_MSR_SIEFP, 0, bad, sizeof(bad)),
	       "SYNIC: enabling SIMP or SIEFP at %#llx (no memory: nothing to clear) -> #GP, no exit, not stored (%s)%s",
	       OUTSIDE, why, bad);

	/* SYNIC2 does not clear: the write is taken and exits. */
	h = &vcpus[1]->run->hyperv;
	vcpu_enter_wrmsr(vcpus[1], hvx_wrmsr, HV_X64_MSR_SIMP, OUTSIDE | 1);
	r = vcpu_run_once(vcpus[1], false);
	hvx_exit_str(vcpus[1], d, sizeof(d));
	tap_ok(!r && exit_is_hyperv(vcpus[1], KVM_EXIT_HYPERV_SYNIC) &&
	       h->u.synic.msr == HV_X64_MSR_SIMP && h->u.synic.msg_page == (OUTSIDE | 1) &&
	       vcpu_rip(vcpus[1]) == (uint64_t)hvx_wrmsr_out,
	       "SYNIC2: the same SIMP write is stored and ends KVM_RUN with KVM_EXIT_HYPERV_SYNIC (%s, msg_page %#llx)",
	       d, h->u.synic.msg_page);
	vm_free(vm);
}

/* ---- (d) hypercalls ---- */

static void test_hcall_inputs(void)
{
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	uint64_t in, out, *page;
	char why[256], chk[256];
	unsigned int a, b;
	bool ok;

	synic_require(sup);
	vm = synic_vm(VM_IRQCHIP, 2, synic_hc_guest, sup, false, SYNIC2, 1, vcpus);
	in = vm_alloc(vm, HVL_PAGE_SIZE);
	out = vm_alloc(vm, HVL_PAGE_SIZE);
	page = addr_gpa2hva(vm, in, 16);
	page[0] = BIT_ULL(48) | 5;	/* a connection ID with reserved bits */

	synic_hc_clear();
	synic_hc_add(HVCALL_POST_MESSAGE | REP(1), in, out);
	synic_hc_add(HVCALL_POST_MESSAGE | 1ull << HV_HYPERCALL_VARHEAD_OFFSET, in, out);
	synic_hc_add(HVCALL_POST_MESSAGE | BIT_ULL(31), in, out);
	synic_hc_add(HVCALL_SIGNAL_EVENT | REP(1), in, out);
	synic_hc_add(HVCALL_SIGNAL_EVENT | FAST, BIT_ULL(48) | 5, 0);
	synic_hc_add(HVCALL_SIGNAL_EVENT | FAST, BIT_ULL(24) | 5, 0);
	synic_hc_add(HVCALL_SIGNAL_EVENT, in, out);
	a = synic_nhc;
	synic_hc_add(HVCALL_SIGNAL_EVENT, in + 4, out);
	synic_hc_add(HVCALL_SIGNAL_EVENT, in + HVL_PAGE_SIZE - 4, out);
	synic_hc_add(HVCALL_SIGNAL_EVENT, vm->mem_size + HVL_PAGE_SIZE, out);
	b = synic_nhc;
	ok = synic_hc_run(vcpus[0], why, sizeof(why));
	tap_ok(ok && synic_hc_check(0, a, HV_STATUS_INVALID_HYPERCALL_INPUT, chk, sizeof(chk)),
	       "SynIC active: PostMessage with reps, a variable header or a reserved bit, SignalEvent with reps or a connection ID with reserved bits (fast, slow) -> INVALID_HYPERCALL_INPUT, no exit (%s; %s)",
	       why, chk);
	tap_ok(ok && synic_hc_check(a, b, HV_STATUS_INVALID_ALIGNMENT, chk, sizeof(chk)),
	       "slow SignalEvent misaligned, across a page, outside memory -> INVALID_ALIGNMENT, no exit (%s)",
	       chk);

	synic_hc_clear();
	synic_hc_add(HVCALL_POST_MESSAGE, in, out);
	synic_hc_add(HVCALL_POST_MESSAGE | FAST, 1, 2);
	synic_hc_add(HVCALL_SIGNAL_EVENT | FAST, 5, 0);
	ok = synic_hc_run(vcpus[1], why, sizeof(why));
	tap_ok(ok && synic_hc_check(0, synic_nhc, HV_STATUS_INVALID_HYPERCALL_INPUT, chk, sizeof(chk)),
	       "SynIC is per vCPU: vCPU 1 without it, PostMessage (slow, fast) and SignalEvent to an unknown connection -> INVALID_HYPERCALL_INPUT, no exit (%s; %s)",
	       why, chk);
	vm_free(vm);
}

/* ---- (e) KVM_HYPERV_EVENTFD ---- */

static void test_eventfd_errors(void)
{
	struct kvm_vm *vm;
	int e1, e2, null, r[12];

	synic_require(sup);
	e1 = efd_new();
	e2 = efd_new();
	null = open("/dev/null", O_RDONLY);
	TEST_ASSERT(null >= 0, "/dev/null");
	vm = vm_create(0, 0);		/* no irqchip needed */
	r[0] = vm_hv_eventfd(vm, 5, e1, 2);
	r[1] = vm_hv_eventfd(vm, 5, e1, KVM_HYPERV_EVENTFD_DEASSIGN | 2);
	r[2] = vm_hv_eventfd(vm, KVM_HYPERV_CONN_ID_MASK + 1, e1, 0);
	r[3] = vm_hv_eventfd(vm, ~0u, e1, KVM_HYPERV_EVENTFD_DEASSIGN);
	r[4] = vm_hv_eventfd(vm, 5, -1, 2);
	tap_ok(r[0] == EINVAL && r[1] == EINVAL && r[2] == EINVAL && r[3] == EINVAL &&
	       r[4] == EINVAL,
	       "flags 2 -> %s, DEASSIGN|2 -> %s, conn_id 0x1000000 -> %s, 0xffffffff (deassign) -> %s, flags 2 with fd -1 -> %s",
	       strerror(r[0]), strerror(r[1]), strerror(r[2]), strerror(r[3]),
	       strerror(r[4]));
	r[5] = vm_hv_eventfd(vm, 5, -1, 0);
	r[6] = vm_hv_eventfd(vm, 5, null, 0);
	tap_ok(r[5] == EBADF && r[6] == EINVAL,
	       "fd -1 -> %s, /dev/null (no eventfd) -> %s", strerror(r[5]), strerror(r[6]));
	r[7] = vm_hv_eventfd(vm, 5, e1, 0);
	r[8] = vm_hv_eventfd(vm, 5, e2, 0);
	r[9] = vm_hv_eventfd(vm, 6, e1, KVM_HYPERV_EVENTFD_DEASSIGN);
	tap_ok(!r[7] && r[8] == EEXIST && r[9] == ENOENT,
	       "connection 5 -> %s, again with another eventfd -> %s; deassign unknown 6 -> %s",
	       strerror(r[7]), strerror(r[8]), strerror(r[9]));
	r[10] = vm_hv_eventfd(vm, 5, -1, KVM_HYPERV_EVENTFD_DEASSIGN);
	r[11] = vm_hv_eventfd(vm, 5, -1, KVM_HYPERV_EVENTFD_DEASSIGN);
	tap_ok(!r[10] && r[11] == ENOENT,
	       "deassign 5 (fd ignored) -> %s, a second time -> %s",
	       strerror(r[10]), strerror(r[11]));
	r[0] = vm_hv_eventfd(vm, KVM_HYPERV_CONN_ID_MASK, e2, 0);
	r[1] = vm_hv_eventfd(vm, 0, e2, 0);
	tap_ok(!r[0] && !r[1], "the highest (0xffffff) and the lowest (0) IDs -> %s, %s; left assigned as the VM goes",
	       strerror(r[0]), strerror(r[1]));
	vm_free(vm);
	close(e1);
	close(e2);
	close(null);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env != HV_PLAIN)
		hv_leaves(sup);

	TEST_RUN("KVM_ENABLE_CAP refused", test_enable_cap());
	TEST_RUN("before activation: the guest", test_before_guest());
	TEST_RUN("before activation: the host", test_before_host());
	TEST_RUN("active on a vCPU without Hyper-V", test_not_hv());
	TEST_RUN("enforced without the SynIC bit", test_enforced());
	TEST_RUN("MSRs between EOM and SINT0", test_unused_msrs());
	TEST_RUN("SVERSION read-only, EOM", test_sversion_eom());
	TEST_RUN("SINT vector rules", test_sint_rules());
	TEST_RUN("a page enabled outside memory", test_page_outside());
	TEST_RUN("hypercall inputs refused", test_hcall_inputs());
	TEST_RUN("KVM_HYPERV_EVENTFD refused", test_eventfd_errors());

	return tap_done();
}
