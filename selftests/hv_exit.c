// SPDX-License-Identifier: GPL-2.0
/*
 * Exits to the VMM from a guest WRMSR: RESET = 1 (KVM_EXIT_SYSTEM_EVENT,
 * KVM_SYSTEM_EVENT_RESET), CRASH_CTL with the notify bit
 * (KVM_SYSTEM_EVENT_CRASH) and the synthetic debugger's CONTROL and
 * PENDING_BUFFER (KVM_EXIT_HYPERV_SYNDBG):
 *   (a) no exit where none is due: other values, host writes, a guest
 *       without "Hv#1", enforcement without the feature bit;
 *   (b) each exit: KVM_RUN returns 0 with it, RIP is past the WRMSR, and
 *       the next KVM_RUN continues the guest (exactly one exit);
 *   (c) robustness: a host RESET write, immediate_exit, single-step, the
 *       instruction emulator (forced-emulation prefix), a VMM that
 *       re-enters without handling, VMs destroyed with an exit pending.
 * The vCPUs run small blobs (lib/hvsys.h) so each exit's RIP is exact.
 * Error cases come before the successful ones.
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; the one intentional difference is that a WRMSR
 * done by KVM's instruction emulator may first end KVM_RUN with EINTR on
 * the module. Plain KVM has none of this (SKIP).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hvsys.h"

#define NOTIFY		HV_CRASH_CTL_CRASH_NOTIFY

static struct kvm_cpuid_entry2 sup[HVL_CPUID_NR_LEAVES];

/* Run once and describe: "KVM_RUN 0: <exit>" or "KVM_RUN <errno>". */
static int run(struct kvm_vcpu *vcpu, bool immediate, char *buf, size_t len)
{
	int r = vcpu_run_once(vcpu, immediate);
	int n = snprintf(buf, len, "KVM_RUN %s: ", r ? strerror(r) : "0");

	hvx_exit_str(vcpu, buf + n, len - n);
	return r;
}

/* ---- (a) no exit where none is due ---- */

/* The writes that would exit if allowed, as far as the leaves offer them. */
static unsigned int add_exit_writes(void)
{
	if (hvsys_offers(sup, HV_MSR_RESET_AVAILABLE))
		hvsys_op_wr(HV_X64_MSR_RESET, 1);
	if (hvsys_offers(sup, HVSYS_CRASH))
		hvsys_op_wr(HV_X64_MSR_CRASH_CTL, NOTIFY);
	if (hvsys_offers(sup, HVSYS_DEBUG)) {
		hvsys_op_wr(HV_X64_MSR_SYNDBG_CONTROL, 1);
		hvsys_op_wr(HV_X64_MSR_SYNDBG_PENDING_BUFFER, 0x1000);
	}
	return hvsys_nops;
}

static void test_no_exit(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	char why[256], vecs[128];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	unsigned int n, rd_reset = 0, rd_ctl = 0;
	bool ran;

	hvsys_require(sup, 0, NULL);

	/* A guest without "Hv#1": the writes are #GP, nothing else. */
	vm = vm_create_with_vcpus(1, hvsys_ops_guest, &vcpu);
	hvsys_ops_clear();
	n = add_exit_writes();
	if (!n) {
		vm_free(vm);
		test_skip("neither RESET, the crash MSRs nor the debugger are offered");
	}
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	tap_ok(ran && hvsys_ops_vec(0, n, GP_VECTOR, vecs, sizeof(vecs)),
	       "guest without \"Hv#1\": RESET=1, CRASH_CTL notify, SYNDBG_CONTROL/PENDING -> #GP, no exit (%s; %s)",
	       why, vecs);
	vm_free(vm);

	/* Enforced without the bits: #GP, no exit. */
	memcpy(leaf, sup, sizeof(leaf));
	hvsys_set_features(leaf, HV_MSR_RESET_AVAILABLE | HVSYS_CRASH | HVSYS_DEBUG, false);
	vm = hvsys_vm(0, 1, hvsys_ops_guest, leaf, true, &vcpu);
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	tap_ok(ran && hvsys_ops_vec(0, n, GP_VECTOR, vecs, sizeof(vecs)),
	       "enforced without the RESET, crash and debug bits: the same writes -> #GP, no exit (%s; %s)",
	       why, vecs);
	vm_free(vm);

	/*
	 * A Hyper-V guest writing values that ask for nothing, after host
	 * writes that ask for nothing either (a host CRASH_CTL notify is
	 * QEMU's "crash reporting on", SYNDBG_CONTROL/PENDING from the host
	 * are state restores).
	 */
	vm = hvsys_vm(0, 1, hvsys_ops_guest, sup, false, &vcpu);
	hvsys_ops_clear();
	if (hvsys_offers(sup, HV_MSR_RESET_AVAILABLE)) {
		TEST_ASSERT_EQ(vcpu_set_msr(vcpu, HV_X64_MSR_RESET, 0), 1);
		TEST_ASSERT_EQ(vcpu_set_msr(vcpu, HV_X64_MSR_RESET, 2), 1);
		hvsys_op_wr(HV_X64_MSR_RESET, 0);
		hvsys_op_wr(HV_X64_MSR_RESET, 2);
		hvsys_op_wr(HV_X64_MSR_RESET, ~1ull);
		rd_reset = hvsys_op_rd(HV_X64_MSR_RESET);
	}
	if (hvsys_offers(sup, HVSYS_CRASH)) {
		vcpu_wrmsr(vcpu, HV_X64_MSR_CRASH_CTL, NOTIFY);
		hvsys_op_wr(HV_X64_MSR_CRASH_CTL, 0);
		hvsys_op_wr(HV_X64_MSR_CRASH_CTL, ~NOTIFY);
		rd_ctl = hvsys_op_rd(HV_X64_MSR_CRASH_CTL);
	}
	if (hvsys_offers(sup, HVSYS_DEBUG)) {
		vcpu_wrmsr(vcpu, HV_X64_MSR_SYNDBG_CONTROL, 5);
		vcpu_wrmsr(vcpu, HV_X64_MSR_SYNDBG_PENDING_BUFFER, 0x5000);
		hvsys_op_wr(HV_X64_MSR_SYNDBG_OPTIONS, 0);
		hvsys_op_wr(HV_X64_MSR_SYNDBG_STATUS, 7);
		hvsys_op_wr(HV_X64_MSR_SYNDBG_SEND_BUFFER, 0x2000);
		hvsys_op_wr(HV_X64_MSR_SYNDBG_RECV_BUFFER, 0x3000);
	}
	n = hvsys_nops;
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	tap_ok(ran && hvsys_ops_vec(0, n, 0, vecs, sizeof(vecs)),
	       "host RESET 0/2, CRASH_CTL notify, SYNDBG_CONTROL/PENDING; guest RESET 0/2/~1, CRASH_CTL without notify, the other SYNDBG MSRs: no fault, no exit (%s; %s)",
	       why, vecs);
	if (rd_reset || rd_ctl)
		tap_ok(ran && (!rd_reset || !hvsys_ops[rd_reset].val) &&
		       (!rd_ctl || hvsys_ops[rd_ctl].val == NOTIFY),
		       "the guest reads RESET 0 (%#lx) and the host's CRASH_CTL %#llx (%#lx): its writes were not stored",
		       rd_reset ? hvsys_ops[rd_reset].val : 0, NOTIFY,
		       rd_ctl ? hvsys_ops[rd_ctl].val : 0);
	vm_free(vm);
}

/* ---- (b) the exits ---- */

static void test_guest_reset(void)
{
	static const unsigned int flags[] = { 0, VM_IRQCHIP };
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	char d1[256], d2[256], d3[256];
	unsigned int i;
	int r1, r2, r3;

	hvsys_require(sup, HV_MSR_RESET_AVAILABLE, "RESET");
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		vm = hvsys_vm(flags[i], 2, NULL, sup, false, vcpus);
		vcpu_enter_blob(vcpus[0], hvx_out, 0, 0, 0, 0);
		vcpu_enter_wrmsr(vcpus[1], hvx_wrmsr, HV_X64_MSR_RESET, 1);

		r1 = run(vcpus[1], false, d1, sizeof(d1));
		tap_ok(!r1 && exit_is_event(vcpus[1], KVM_SYSTEM_EVENT_RESET) &&
		       vcpu_rip(vcpus[1]) == (uint64_t)hvx_wrmsr_out,
		       "%s: guest RESET=1 ends KVM_RUN with KVM_SYSTEM_EVENT_RESET, RIP past the WRMSR (%#lx): %s",
		       flags[i] ? "in-kernel irqchip" : "no irqchip",
		       (uint64_t)hvx_wrmsr_out, d1);
		r2 = run(vcpus[1], false, d2, sizeof(d2));
		r3 = run(vcpus[0], false, d3, sizeof(d3));
		tap_ok(!r2 && exit_is_out(vcpus[1], hvx_wrmsr_out),
		       "the next KVM_RUN continues the guest: one exit only (%s)", d2);
		tap_ok(!r3 && exit_is_out(vcpus[0], hvx_out),
		       "the other vCPU has no exit pending (%s)", d3);
		vm_free(vm);
	}
}

static void test_guest_crash(void)
{
	const uint64_t p[5] = {
		0x1111222233334444ull, 0xdeadbeef, 0, ~0ull, 0x8000000000000001ull,
	};
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	uint64_t got[5], ctl;
	char why[256], d[256];
	unsigned int i;
	bool ran, ok;
	int r;

	hvsys_require(sup, HVSYS_CRASH, "the crash MSRs");
	vm = hvsys_vm(0, 2, hvsys_ops_guest, sup, false, vcpus);
	vcpu_wrmsr(vcpus[0], HV_X64_MSR_CRASH_CTL, NOTIFY);	/* as QEMU */
	hvsys_ops_clear();
	for (i = 0; i < 5; i++)
		hvsys_op_wr(HV_X64_MSR_CRASH_P0 + i, p[i]);
	ran = hvsys_ops_run(vcpus[0], why, sizeof(why));
	TEST_ASSERT(ran, "guest CRASH_P0-P4 writes: %s", why);

	vcpu_enter_wrmsr(vcpus[0], hvx_wrmsr, HV_X64_MSR_CRASH_CTL, NOTIFY | 0x5);
	r = run(vcpus[0], false, d, sizeof(d));
	tap_ok(!r && exit_is_event(vcpus[0], KVM_SYSTEM_EVENT_CRASH) &&
	       vcpu_rip(vcpus[0]) == (uint64_t)hvx_wrmsr_out,
	       "guest CRASH_CTL notify ends KVM_RUN with KVM_SYSTEM_EVENT_CRASH, RIP past the WRMSR: %s",
	       d);
	ok = true;
	for (i = 0; i < 5; i++) {
		got[i] = vcpu_rdmsr(vcpus[1], HV_X64_MSR_CRASH_P0 + i);
		ok = ok && got[i] == p[i];
	}
	ctl = vcpu_rdmsr(vcpus[1], HV_X64_MSR_CRASH_CTL);
	tap_ok(ok && ctl == NOTIFY,
	       "the VMM reads the guest's P0-P4 on the other vCPU (%#lx %#lx %#lx %#lx %#lx) and its own CRASH_CTL %#lx",
	       got[0], got[1], got[2], got[3], got[4], ctl);
	r = run(vcpus[0], false, d, sizeof(d));
	tap_ok(!r && exit_is_out(vcpus[0], hvx_wrmsr_out),
	       "the next KVM_RUN continues the guest: one exit only (%s)", d);

	/* CRASH_CTL 0 from the host does not stop the guest's notify. */
	vcpu_wrmsr(vcpus[1], HV_X64_MSR_CRASH_CTL, 0);
	vcpu_enter_wrmsr(vcpus[1], hvx_wrmsr, HV_X64_MSR_CRASH_CTL, NOTIFY);
	r = run(vcpus[1], false, d, sizeof(d));
	ctl = vcpu_rdmsr(vcpus[0], HV_X64_MSR_CRASH_CTL);
	tap_ok(!r && exit_is_event(vcpus[1], KVM_SYSTEM_EVENT_CRASH) && !ctl,
	       "host CRASH_CTL 0: a guest notify still exits (%s), CRASH_CTL stays %#lx",
	       d, ctl);
	r = run(vcpus[1], false, d, sizeof(d));
	tap_ok(!r && exit_is_out(vcpus[1], hvx_wrmsr_out), "and continues once (%s)", d);
	vm_free(vm);
}

/* ---- (c) robustness ---- */

static void test_host_reset(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char d1[256], d2[256];
	int s, r1, r2;

	hvsys_require(sup, HV_MSR_RESET_AVAILABLE, "RESET");
	vm = hvsys_vm(0, 1, NULL, sup, false, &vcpu);
	vcpu_enter_blob(vcpu, hvx_out, 0, 0, 0, 0);
	s = vcpu_set_msr(vcpu, HV_X64_MSR_RESET, 1);
	r1 = run(vcpu, false, d1, sizeof(d1));
	tap_ok(s == 1 && !r1 && exit_is_event(vcpu, KVM_SYSTEM_EVENT_RESET) &&
	       vcpu_rip(vcpu) == (uint64_t)hvx_out,
	       "host RESET=1 (%d): the next KVM_RUN exits with RESET before the guest runs (%s)",
	       s, d1);
	r2 = run(vcpu, false, d2, sizeof(d2));
	tap_ok(!r2 && exit_is_out(vcpu, hvx_out), "then the guest runs (%s)", d2);

	/*
	 * immediate_exit neither loses nor delivers the pending exit (a new
	 * vCPU: the last one's OUT completion would move RIP past hvx_out).
	 */
	vm_free(vm);
	vm = hvsys_vm(0, 1, NULL, sup, false, &vcpu);
	vcpu_enter_blob(vcpu, hvx_out, 0, 0, 0, 0);
	s = vcpu_set_msr(vcpu, HV_X64_MSR_RESET, 1);
	r1 = vcpu_run_once(vcpu, true);
	r2 = run(vcpu, false, d2, sizeof(d2));
	tap_ok(s == 1 && r1 == EINTR && !r2 &&
	       exit_is_event(vcpu, KVM_SYSTEM_EVENT_RESET) &&
	       vcpu_rip(vcpu) == (uint64_t)hvx_out,
	       "host RESET=1, KVM_RUN with immediate_exit -> %s; the next KVM_RUN has the exit (%s)",
	       strerror(r1), d2);
	r2 = run(vcpu, false, d2, sizeof(d2));
	tap_ok(!r2 && exit_is_out(vcpu, hvx_out), "then the guest runs (%s)", d2);
	vm_free(vm);
}

static void test_single_step(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char d[256];
	int r;

	hvsys_require(sup, HV_MSR_RESET_AVAILABLE, "RESET");
	vm = hvsys_vm(0, 1, NULL, sup, false, &vcpu);
	vcpu_enter_wrmsr(vcpu, hvx_wrmsr, HV_X64_MSR_RESET, 1);
	if (vcpu_guest_debug(vcpu, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)) {
		vm_free(vm);
		test_skip("KVM_SET_GUEST_DEBUG(SINGLESTEP): %s", strerror(errno));
	}
	r = run(vcpu, false, d, sizeof(d));
	if (!r && exit_is_step_before(vcpu, (uint64_t)hvx_wrmsr)) {
		vm_free(vm);
		test_skip("the CPU trapped the single-step before executing the WRMSR (%s; Bochs' VMX does so at VM entry), so the write never reached KVM",
			  d);
	}
	tap_ok(!r && vcpu->run->exit_reason == KVM_EXIT_DEBUG &&
	       vcpu_rip(vcpu) == (uint64_t)hvx_wrmsr_out,
	       "single-step: the RESET WRMSR gives KVM_EXIT_DEBUG first, RIP past it (%s)", d);
	r = run(vcpu, false, d, sizeof(d));
	tap_ok(!r && exit_is_event(vcpu, KVM_SYSTEM_EVENT_RESET) &&
	       vcpu_rip(vcpu) == (uint64_t)hvx_wrmsr_out,
	       "the next KVM_RUN, still single-stepping, gives the RESET exit before any instruction (%s)",
	       d);
	TEST_ASSERT(!vcpu_guest_debug(vcpu, 0), "KVM_SET_GUEST_DEBUG(0)");
	r = run(vcpu, false, d, sizeof(d));
	tap_ok(!r && exit_is_out(vcpu, hvx_wrmsr_out),
	       "single-step off: the guest continues, no second exit (%s)", d);
	vm_free(vm);
}

/* Run a forced-emulation WRMSR to its exit; counts the EINTRs before it. */
static int run_fep(struct kvm_vcpu *vcpu, unsigned int *eintr, char *d, size_t len)
{
	int r, i;

	*eintr = 0;
	for (i = 0; i < 3; i++) {
		r = run(vcpu, false, d, len);
		if (r != EINTR || vcpu->run->exit_reason != KVM_EXIT_INTR)
			break;
		(*eintr)++;
	}
	return r;
}

static void test_fep(void)
{
	/* The module's intentional difference: one EINTR may come first. */
	const unsigned int allowed = hv_env == HV_MODULE ? 1 : 0;
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	unsigned int eintr;
	char d[256];
	int old, r;

	hvsys_require(sup, HV_MSR_RESET_AVAILABLE, "RESET");
	old = kvm_fep_set(1);
	if (old < 0)
		test_skip("kvm.force_emulation_prefix cannot be set: %s", strerror(errno));
	vm = hvsys_vm(0, 2, NULL, sup, false, vcpus);
	vcpu_enter_wrmsr(vcpus[0], hvx_fep_wrmsr, HV_X64_MSR_RESET, 1);
	r = run_fep(vcpus[0], &eintr, d, sizeof(d));
	tap_ok(!r && exit_is_event(vcpus[0], KVM_SYSTEM_EVENT_RESET) &&
	       vcpu_rip(vcpus[0]) == (uint64_t)hvx_fep_wrmsr_out && eintr <= allowed,
	       "emulated WRMSR RESET=1 (forced-emulation prefix): the RESET exit, RIP past it, after %u EINTR (%u allowed here): %s",
	       eintr, allowed, d);
	r = run(vcpus[0], false, d, sizeof(d));
	tap_ok(!r && exit_is_out(vcpus[0], hvx_fep_wrmsr_out),
	       "the next KVM_RUN continues the guest: one exit only (%s)", d);

	if (hvsys_offers(sup, HVSYS_CRASH)) {
		vcpu_enter_wrmsr(vcpus[0], hvx_fep_wrmsr, HV_X64_MSR_CRASH_CTL, NOTIFY);
		r = run_fep(vcpus[0], &eintr, d, sizeof(d));
		tap_ok(!r && exit_is_event(vcpus[0], KVM_SYSTEM_EVENT_CRASH) &&
		       vcpu_rip(vcpus[0]) == (uint64_t)hvx_fep_wrmsr_out && eintr <= allowed,
		       "emulated WRMSR CRASH_CTL notify: the CRASH exit after %u EINTR (%u allowed): %s",
		       eintr, allowed, d);
		r = run(vcpus[0], false, d, sizeof(d));
		tap_ok(!r && exit_is_out(vcpus[0], hvx_fep_wrmsr_out),
		       "and the guest continues once (%s)", d);
	}

	/* Left as it stands after one KVM_RUN: freed with vm_free() below. */
	vcpu_enter_wrmsr(vcpus[1], hvx_fep_wrmsr, HV_X64_MSR_RESET, 1);
	r = vcpu_run_once(vcpus[1], false);
	tap_diag("second vCPU's emulated RESET left after one KVM_RUN (%s, exit %u) as the VM is freed",
		 r ? strerror(r) : "0", vcpus[1]->run->exit_reason);
	vm_free(vm);
	kvm_fep_set(old);
}

static void test_syndbg(void)
{
	struct kvm_hyperv_exit *h;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], d[512];
	uint64_t st, delivered;
	bool ran;
	int r;

	hvsys_require(sup, HVSYS_DEBUG, "the synthetic debugger");
	vm = hvsys_vm(0, 1, hvsys_ops_guest, sup, false, &vcpu);
	h = &vcpu->run->hyperv;
	vcpu_wrmsr(vcpu, HV_X64_MSR_SYNDBG_STATUS, 0x55);
	vcpu_wrmsr(vcpu, HV_X64_MSR_SYNDBG_CONTROL, 0x10);
	hvsys_ops_clear();
	hvsys_op_wr(HV_X64_MSR_SYNDBG_SEND_BUFFER, 0x2000);
	hvsys_op_wr(HV_X64_MSR_SYNDBG_RECV_BUFFER, 0x3000);
	hvsys_op_wr(HV_X64_MSR_SYNDBG_OPTIONS, 0);
	ran = hvsys_ops_run(vcpu, why, sizeof(why));
	TEST_ASSERT(ran, "SYNDBG buffer writes: %s", why);

	vcpu_enter_wrmsr(vcpu, hvx_wrmsr, HV_X64_MSR_SYNDBG_PENDING_BUFFER, 0x4000);
	r = run(vcpu, false, d, sizeof(d));
	tap_ok(!r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_SYNDBG) &&
	       h->u.syndbg.msr == HV_X64_MSR_SYNDBG_PENDING_BUFFER &&
	       h->u.syndbg.control == 0x10 && h->u.syndbg.send_page == 0x2000 &&
	       h->u.syndbg.recv_page == 0x3000 && h->u.syndbg.pending_page == 0x4000 &&
	       vcpu_rip(vcpu) == (uint64_t)hvx_wrmsr_out,
	       "guest PENDING_BUFFER write: KVM_EXIT_HYPERV_SYNDBG with the MSR, CONTROL and the 3 buffers, RIP past the WRMSR (%s)",
	       d);
	h->u.syndbg.status = 0x77;
	r = run(vcpu, false, d, sizeof(d));
	st = vcpu_rdmsr(vcpu, HV_X64_MSR_SYNDBG_STATUS);
	tap_ok(!r && exit_is_out(vcpu, hvx_wrmsr_out) && st == 0x55,
	       "re-entry continues once (%s); a PENDING_BUFFER exit's status is not stored (STATUS %#lx)",
	       d, st);

	vcpu_enter_wrmsr(vcpu, hvx_wrmsr, HV_X64_MSR_SYNDBG_CONTROL, 0x21);
	r = run(vcpu, false, d, sizeof(d));
	tap_ok(!r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_SYNDBG) &&
	       h->u.syndbg.msr == HV_X64_MSR_SYNDBG_CONTROL &&
	       h->u.syndbg.control == 0x21 && h->u.syndbg.send_page == 0x2000 &&
	       h->u.syndbg.recv_page == 0x3000 && h->u.syndbg.pending_page == 0x4000 &&
	       vcpu_rip(vcpu) == (uint64_t)hvx_wrmsr_out,
	       "guest CONTROL write: KVM_EXIT_HYPERV_SYNDBG with the new CONTROL (%s)", d);
	h->u.syndbg.status = 0x99;
	r = run(vcpu, false, d, sizeof(d));
	st = vcpu_rdmsr(vcpu, HV_X64_MSR_SYNDBG_STATUS);
	tap_ok(!r && exit_is_out(vcpu, hvx_wrmsr_out) && st == 0x99,
	       "the VMM's status 0x99 is SYNDBG_STATUS after re-entry (%#lx), the guest continues once (%s)",
	       st, d);

	/* A VMM that does not look at the exit: what KVM handed out is stored. */
	vcpu_enter_wrmsr(vcpu, hvx_wrmsr, HV_X64_MSR_SYNDBG_CONTROL, 0x22);
	r = run(vcpu, false, d, sizeof(d));
	delivered = h->u.syndbg.status;
	TEST_ASSERT(!r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_SYNDBG), "%s", d);
	r = run(vcpu, false, d, sizeof(d));
	st = vcpu_rdmsr(vcpu, HV_X64_MSR_SYNDBG_STATUS);
	tap_ok(!r && exit_is_out(vcpu, hvx_wrmsr_out) && st == delivered,
	       "re-entry without handling: the guest continues once (%s), STATUS is the exit's own %#lx (%#lx)",
	       d, delivered, st);

	/* immediate_exit: the answer is taken before the EINTR. */
	vcpu_enter_wrmsr(vcpu, hvx_wrmsr, HV_X64_MSR_SYNDBG_CONTROL, 0x23);
	r = run(vcpu, false, d, sizeof(d));
	TEST_ASSERT(!r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_SYNDBG), "%s", d);
	h->u.syndbg.status = 0xab;
	r = vcpu_run_once(vcpu, true);
	st = vcpu_rdmsr(vcpu, HV_X64_MSR_SYNDBG_STATUS);
	tap_ok(r == EINTR && st == 0xab && vcpu_rip(vcpu) == (uint64_t)hvx_wrmsr_out,
	       "answered, then KVM_RUN with immediate_exit -> %s: STATUS %#lx already stored",
	       strerror(r), st);
	r = run(vcpu, false, d, sizeof(d));
	st = vcpu_rdmsr(vcpu, HV_X64_MSR_SYNDBG_STATUS);
	tap_ok(!r && exit_is_out(vcpu, hvx_wrmsr_out) && st == 0xab,
	       "the next KVM_RUN continues the guest once (%s), STATUS %#lx", d, st);
	vm_free(vm);
}

static void test_destroy_pending(void)
{
	const bool dbg = hvsys_offers(sup, HVSYS_DEBUG);
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	char d0[256], d1[256];
	int i, r0, r1;
	bool ok = true;

	hvsys_require(sup, HV_MSR_RESET_AVAILABLE, "RESET");
	for (i = 0; i < 3; i++) {
		vm = hvsys_vm(0, 2, NULL, sup, false, vcpus);
		vcpu_enter_blob(vcpus[0], hvx_out, 0, 0, 0, 0);
		TEST_ASSERT_EQ(vcpu_set_msr(vcpus[1], HV_X64_MSR_RESET, 1), 1);
		if (dbg) {
			/* The exit delivered, its completion never run. */
			vcpu_enter_wrmsr(vcpus[0], hvx_wrmsr, HV_X64_MSR_SYNDBG_CONTROL, 1);
			r0 = run(vcpus[0], false, d0, sizeof(d0));
			TEST_ASSERT(!r0 && exit_is_hyperv(vcpus[0], KVM_EXIT_HYPERV_SYNDBG),
				    "%s", d0);
		}
		vm_free(vm);

		vm = hvsys_vm(0, 2, NULL, sup, false, vcpus);
		vcpu_enter_blob(vcpus[0], hvx_out, 0, 0, 0, 0);
		vcpu_enter_blob(vcpus[1], hvx_out, 0, 0, 0, 0);
		r0 = run(vcpus[0], false, d0, sizeof(d0));
		r1 = run(vcpus[1], false, d1, sizeof(d1));
		if (r0 || r1 || !exit_is_out(vcpus[0], hvx_out) ||
		    !exit_is_out(vcpus[1], hvx_out)) {
			tap_diag("fresh VM %d: vCPU 0 %s; vCPU 1 %s", i, d0, d1);
			ok = false;
		}
		vm_free(vm);
	}
	tap_ok(ok, "3 VMs freed with a host RESET pending on vCPU 1%s; the fresh VM after each runs both vCPUs without a stale exit",
	       dbg ? " and a SYNDBG exit unanswered on vCPU 0" : "");
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env != HV_PLAIN)
		hv_leaves(sup);

	TEST_RUN("no exit where none is due", test_no_exit());
	TEST_RUN("RESET from the guest", test_guest_reset());
	TEST_RUN("CRASH_CTL notify from the guest", test_guest_crash());
	TEST_RUN("RESET from the host, immediate_exit", test_host_reset());
	TEST_RUN("single-step over the WRMSR", test_single_step());
	TEST_RUN("WRMSR through the instruction emulator", test_fep());
	TEST_RUN("synthetic debugger exits", test_syndbg());
	TEST_RUN("VMs destroyed with an exit pending", test_destroy_pending());

	return tap_done();
}
