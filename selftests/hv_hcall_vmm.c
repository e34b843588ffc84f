// SPDX-License-Identifier: GPL-2.0
/*
 * Hyper-V hypercalls around the VMM (GUEST_OS_ID set, 64-bit callers):
 *   (a) KVM_CAP_HYPERV_ENFORCE_CPUID: a call whose 0x40000003.EBX or
 *       0x40000004.EAX bit the VMM left clear gets HV_STATUS_ACCESS_DENIED
 *       before its input, rep count, fast bit or code range is looked at
 *       (in-tree hv_check_hypercall_access()); each bit opens its calls;
 *   (b) PostMessage and SignalEvent without SynIC: the input statuses;
 *   (c) the synthetic debugger's calls: unknown without the debugger,
 *       OPERATION_DENIED without HV_X64_SYNDBG_OPTION_USE_HCALLS, else
 *       handed to the VMM;
 *   (d) extended hypercalls (0x8001-0x8041): fast -> INVALID_PARAMETER,
 *       slow -> KVM_EXIT_HYPERV/KVM_EXIT_HYPERV_HCALL with the input and
 *       both GPAs; the VMM's 64-bit result is the guest's RAX and the
 *       VMCALL/VMMCALL retires exactly once;
 *   (e) the VMM re-entering without a result, with immediate_exit, or
 *       destroying the VM while the call waits;
 *   (f) single-step: a call the kernel completes gives KVM_EXIT_DEBUG with
 *       RIP past it and its status in RAX; one handed to the VMM gives its
 *       exit first, the debug exit once the VMM's result retired it.
 * The flush and IPI calls are only checked for access (their results are
 * another feature's). Error cases come before the successful ones.
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; plain KVM has none of this (SKIP). Features the
 * supported CPUID does not offer are skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hv_hypercall.h"
#include "hvsys.h"

#define RSVD		BIT_ULL(31)			/* a reserved input bit */
#define REP(n)		((uint64_t)(n) << HV_HYPERCALL_REP_COMP_OFFSET)
#define FAST		HV_HYPERCALL_FAST_BIT
#define EXT		HV_EXT_CALL_QUERY_CAPABILITIES
#define CONN_ID		5				/* no such connection */
#define FLUSH_BITS	(HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED | \
			 HV_X64_CLUSTER_IPI_RECOMMENDED | \
			 HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED)
#define EBX_BITS	(HV_POST_MESSAGES | HV_SIGNAL_EVENTS | HV_DEBUGGING | \
			 HV_ENABLE_EXTENDED_HYPERCALLS)

static struct kvm_cpuid_entry2 sup[HVL_CPUID_NR_LEAVES];

static void require(uint32_t ebx, const char *what)
{
	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	if ((sup[LEAF_FEATURES].ebx & ebx) != ebx)
		test_skip("KVM_GET_SUPPORTED_HV_CPUID does not offer %s", what);
}

/* ---- guest: a list of hypercalls ---- */

struct hc {
	uint64_t rcx, rdx, r8;
	uint64_t rax;		/* out: RAX after the call */
	uint64_t vec;		/* out: exception vector, 0 if none */
};

#define MAX_HC		32
static struct hc hcs[MAX_HC];
static uint64_t nhc;

static void hc_guest(void)
{
	uint64_t i;

	for (;;) {
		for (i = 0; i < nhc; i++) {
			hcs[i].rax = GARBAGE;
			hcs[i].vec = hv_hcall(hcs[i].rcx, hcs[i].rdx, hcs[i].r8,
					      &hcs[i].rax);
		}
		GUEST_SYNC(nhc);
	}
}

/* The input and output pages: same GPAs in every VM of this test. */
static uint64_t in_gpa, out_gpa;

/* A Hyper-V VM with GUEST_OS_ID set and the leaves given; empty list. */
static struct kvm_vm *hc_vm(const struct kvm_cpuid_entry2 leaf[], bool enforce,
			    struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = hvsys_vm(0, 1, hc_guest, leaf, enforce, vcpu);

	vcpu_wrmsr(*vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	in_gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	out_gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	*(uint64_t *)addr_gpa2hva(vm, in_gpa, 8) = CONN_ID;
	nhc = 0;
	return vm;
}

/* Add a call; slow calls get the pages, fast ones CONN_ID in RDX. */
static unsigned int hc_add(uint64_t rcx)
{
	TEST_ASSERT(nhc < MAX_HC, "too many hypercalls");
	hcs[nhc] = (struct hc){
		.rcx = rcx, .rdx = rcx & FAST ? CONN_ID : in_gpa, .r8 = out_gpa,
	};
	return nhc++;
}

/* Run the list; false (with why) if anything but its GUEST_SYNC came. */
static bool hc_run(struct kvm_vcpu *vcpu, char *why, size_t len)
{
	struct ucall uc;
	uint64_t kind;

	sync_global_to_guest(vcpu->vm, hcs);
	sync_global_to_guest(vcpu->vm, nhc);
	vcpu_run_raw(vcpu);
	kind = vcpu_get_ucall(vcpu, &uc);
	if (kind == UCALL_SYNC) {
		sync_global_from_guest(vcpu->vm, hcs);
		return true;
	}
	if (kind == UCALL_ABORT || kind == UCALL_EXCEPTION)
		snprintf(why, len, "guest: %.200s", uc.msg);
	else
		hvx_exit_str(vcpu, why, len);
	return false;
}

/* Calls [from, to) all returned want (or, with not, anything but want). */
static bool hc_check(unsigned int from, unsigned int to, uint64_t want,
		     bool not, char *why, size_t len)
{
	unsigned int i;

	for (i = from; i < to; i++) {
		bool same = hcs[i].rax == want;

		if (hcs[i].vec || same == not) {
			snprintf(why, len, "input %#lx: vector %lu, RAX %#lx",
				 hcs[i].rcx, hcs[i].vec, hcs[i].rax);
			return false;
		}
	}
	snprintf(why, len, "%u calls", to - from);
	return true;
}

/* One VM: run calls (0-terminated), check them all against want. */
static void expect(const struct kvm_cpuid_entry2 leaf[], bool enforce,
		   const uint64_t *calls, uint64_t want, bool not, const char *what)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	bool ok;

	vm = hc_vm(leaf, enforce, &vcpu);
	while (*calls)
		hc_add(*calls++);
	ok = hc_run(vcpu, why, sizeof(why)) &&
	     hc_check(0, nhc, want, not, why, sizeof(why));
	tap_ok(ok, "%s -> %s%#lx (%s)", what, not ? "not " : "", want, why);
	vm_free(vm);
}

/* ---- (a) access first, under enforcement ---- */

static void test_access(void)
{
	static const uint64_t denied[] = {
		HVCALL_POST_MESSAGE, HVCALL_POST_MESSAGE | RSVD | REP(1) | FAST,
		HVCALL_SIGNAL_EVENT, HVCALL_SIGNAL_EVENT | FAST | REP(2),
		HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST,
		HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE | FAST,
		HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX, HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX,
		HVCALL_SEND_IPI, HVCALL_SEND_IPI_EX,
		EXT, EXT + 0x1f, HV_EXT_CALL_MAX, EXT | FAST, EXT | RSVD, 0
	};
	static const uint64_t dbg[] = {
		HVCALL_POST_DEBUG_DATA, HVCALL_RETRIEVE_DEBUG_DATA,
		HVCALL_RESET_DEBUG_SESSION, HVCALL_POST_DEBUG_DATA | FAST, 0
	};
	static const uint64_t dbg_slow[] = {
		HVCALL_POST_DEBUG_DATA, HVCALL_RETRIEVE_DEBUG_DATA,
		HVCALL_RESET_DEBUG_SESSION, 0
	};
	static const uint64_t beyond[] = { HV_EXT_CALL_MAX + 1, 0 };
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];

	require(0, NULL);
	memcpy(leaf, sup, sizeof(leaf));
	leaf[LEAF_FEATURES].ebx &= ~EBX_BITS;
	leaf[LEAF_RECOMMEND].eax &= ~FLUSH_BITS;
	expect(leaf, true, denied, HV_STATUS_ACCESS_DENIED, false,
	       "enforced, 0x40000003.EBX and 0x40000004.EAX bits clear: PostMessage, SignalEvent, the flush and IPI calls, extended calls 0x8001-0x8041, also fast or with reserved bits or reps,");
	if (hvsys_offers(sup, HVSYS_DEBUG))
		expect(leaf, true, dbg, HV_STATUS_ACCESS_DENIED, false,
		       "enforced, debugger allowed in 0x40000082 but no HV_DEBUGGING: the 3 debug calls (and one fast)");
	else
		tap_skip("the synthetic debugger is not offered");
	expect(leaf, true, beyond, HV_STATUS_INVALID_HYPERCALL_CODE, false,
	       "enforced: 0x8042 is no extended call, not gated");

	/* The debugger's calls are unknown, not denied, without the debugger. */
	leaf[LEAF_SYNDBG_CAPS].eax = 0;
	expect(leaf, true, dbg_slow, HV_STATUS_INVALID_HYPERCALL_CODE, false,
	       "enforced, no HV_DEBUGGING, debugger not allowed in 0x40000082: the debug calls are unknown,");
}

static void test_access_bits(void)
{
	static const uint64_t flush[] = {
		HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, 0
	};
	static const uint64_t flush_ex[] = {
		HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX, HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX, 0
	};
	static const uint64_t ipi[] = { HVCALL_SEND_IPI, 0 };
	static const uint64_t ipi_ex[] = { HVCALL_SEND_IPI_EX, 0 };
	static const uint64_t all[] = {
		HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST,
		HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX, HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX,
		HVCALL_SEND_IPI, HVCALL_SEND_IPI_EX, 0
	};
	static const uint64_t input[] = { HVCALL_POST_MESSAGE, HVCALL_SIGNAL_EVENT, 0 };
	static const uint64_t ext_fast[] = { EXT | FAST, HV_EXT_CALL_MAX | FAST, 0 };
	static const uint64_t dbg[] = { HVCALL_RESET_DEBUG_SESSION, 0 };
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	const uint32_t none = sup[LEAF_RECOMMEND].eax & ~FLUSH_BITS;

	require(0, NULL);
	memcpy(leaf, sup, sizeof(leaf));
	leaf[LEAF_FEATURES].ebx &= ~EBX_BITS;

	leaf[LEAF_RECOMMEND].eax = none | HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED;
	expect(leaf, true, flush, HV_STATUS_ACCESS_DENIED, true,
	       "enforced, 0x40000004.EAX bit 2 only: the flush calls");
	expect(leaf, true, flush_ex, HV_STATUS_ACCESS_DENIED, false,
	       "... their _EX forms (bit 11 too)");
	expect(leaf, true, ipi, HV_STATUS_ACCESS_DENIED, false, "... HvCallSendSyntheticClusterIpi");
	leaf[LEAF_RECOMMEND].eax = none | HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED;
	expect(leaf, true, all, HV_STATUS_ACCESS_DENIED, false,
	       "enforced, 0x40000004.EAX bit 11 only: all flush and IPI calls");
	leaf[LEAF_RECOMMEND].eax = none | HV_X64_CLUSTER_IPI_RECOMMENDED;
	expect(leaf, true, ipi, HV_STATUS_ACCESS_DENIED, true,
	       "enforced, 0x40000004.EAX bit 10 only: HvCallSendSyntheticClusterIpi");
	expect(leaf, true, ipi_ex, HV_STATUS_ACCESS_DENIED, false, "... its _EX form");
	leaf[LEAF_RECOMMEND].eax = none | FLUSH_BITS;
	expect(leaf, true, all, HV_STATUS_ACCESS_DENIED, true,
	       "enforced, bits 2, 10 and 11: all six");

	leaf[LEAF_FEATURES].ebx |= EBX_BITS;
	expect(leaf, true, input, HV_STATUS_INVALID_HYPERCALL_INPUT, false,
	       "enforced with HV_POST_MESSAGES and HV_SIGNAL_EVENTS, no SynIC: PostMessage, SignalEvent");
	expect(leaf, true, ext_fast, HV_STATUS_INVALID_PARAMETER, false,
	       "enforced with HV_ENABLE_EXTENDED_HYPERCALLS: fast extended calls");
	if (hvsys_offers(sup, HVSYS_DEBUG))
		expect(leaf, true, dbg, HV_STATUS_OPERATION_DENIED, false,
		       "enforced with HV_DEBUGGING, options without USE_HCALLS: HvResetDebugSession");
	else
		tap_skip("the synthetic debugger is not offered");
}

/* ---- (b) PostMessage and SignalEvent without SynIC ---- */

static void test_synic_calls(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	unsigned int a, b, c;
	bool ran;

	require(0, NULL);
	vm = hc_vm(sup, false, &vcpu);
	hc_add(HVCALL_POST_MESSAGE);
	hc_add(HVCALL_POST_MESSAGE | FAST);
	hc_add(HVCALL_POST_MESSAGE | REP(1));
	hc_add(HVCALL_SIGNAL_EVENT);
	hc_add(HVCALL_SIGNAL_EVENT | FAST);
	hcs[hc_add(HVCALL_SIGNAL_EVENT | FAST)].rdx = 1ull << 32 | CONN_ID;
	hcs[hc_add(HVCALL_SIGNAL_EVENT | FAST)].rdx = 1ull << 48 | CONN_ID;
	hc_add(HVCALL_SIGNAL_EVENT | REP(1));
	a = nhc;
	hcs[hc_add(HVCALL_SIGNAL_EVENT)].rdx = in_gpa + 4;
	hcs[hc_add(HVCALL_SIGNAL_EVENT)].rdx = in_gpa + HVL_PAGE_SIZE - 4;
	hcs[hc_add(HVCALL_SIGNAL_EVENT)].rdx = vm->mem_size + HVL_PAGE_SIZE;
	b = nhc;
	ran = hc_run(vcpu, why, sizeof(why));
	tap_ok(ran && hc_check(0, 3, HV_STATUS_INVALID_HYPERCALL_INPUT, false, why, sizeof(why)),
	       "PostMessage without SynIC, slow, fast, with a rep count -> INVALID_HYPERCALL_INPUT (%s)",
	       why);
	tap_ok(ran && hc_check(3, a, HV_STATUS_INVALID_HYPERCALL_INPUT, false, why, sizeof(why)),
	       "SignalEvent to an unknown connection (slow, fast, flag number, reserved bits, reps), no SynIC -> INVALID_HYPERCALL_INPUT (%s)",
	       why);
	tap_ok(ran && hc_check(a, b, HV_STATUS_INVALID_ALIGNMENT, false, why, sizeof(why)),
	       "SignalEvent with its input misaligned, across a page or outside memory -> INVALID_ALIGNMENT (%s)",
	       why);
	c = hc_add(HVCALL_NOTIFY_LONG_SPIN_WAIT);
	ran = hc_run(vcpu, why, sizeof(why));
	tap_ok(ran && hc_check(c, c + 1, HV_STATUS_SUCCESS, false, why, sizeof(why)),
	       "the calls after them still work (%s)", why);
	vm_free(vm);
}

/* ---- (d), (e): a call handed to the VMM ---- */

static const char *hc_blob(void)
{
	return is_amd() ? hvx_vmmcall : hvx_vmcall;
}

static const char *hc_blob_out(void)
{
	return is_amd() ? hvx_vmmcall_out : hvx_vmcall_out;
}

/* Run the vCPU, in the blob, to the exit of the call rcx (ingpa, outgpa). */
static bool hc_exit(struct kvm_vcpu *vcpu, uint64_t rcx, char *d, size_t len)
{
	struct kvm_hyperv_exit *h = &vcpu->run->hyperv;
	int r;

	vcpu_enter_blob(vcpu, hc_blob(), GARBAGE, rcx, in_gpa, out_gpa);
	r = vcpu_run_once(vcpu, false);
	hvx_exit_str(vcpu, d, len);
	return !r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_HCALL) &&
	       h->u.hcall.input == rcx && h->u.hcall.params[0] == in_gpa &&
	       h->u.hcall.params[1] == out_gpa;
}

/* Continue after the exit: the blob's OUT next, with RAX; describes it. */
static bool hc_done(struct kvm_vcpu *vcpu, uint64_t *rax, char *d, size_t len)
{
	struct kvm_regs regs;
	int r = vcpu_run_once(vcpu, false);

	vcpu_regs_get(vcpu, &regs);
	*rax = regs.rax;
	hvx_exit_str(vcpu, d, len);
	return !r && exit_is_out(vcpu, hc_blob_out());
}

static void test_ext_exit(void)
{
	const uint64_t result = 0x8877665544332211ull;
	struct kvm_hyperv_exit *h;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	char d[256];
	uint64_t rax, n0;
	bool ok;

	require(HV_ENABLE_EXTENDED_HYPERCALLS, "extended hypercalls");
	vm = hc_vm(sup, true, &vcpu);
	h = &vcpu->run->hyperv;
	n0 = vcpu_stat(vcpu, "hypercalls");
	ok = hc_exit(vcpu, EXT, d, sizeof(d));
	tap_ok(ok, "enforced with the bit: slow 0x8001 -> KVM_EXIT_HYPERV_HCALL with the input and both GPAs %#lx %#lx (%s)",
	       in_gpa, out_gpa, d);
	*(uint64_t *)addr_gpa2hva(vm, out_gpa, 8) = 0xb;
	h->u.hcall.result = result;
	ok = hc_done(vcpu, &rax, d, sizeof(d));
	tap_ok(ok && rax == result,
	       "the VMM's result %#lx is the guest's RAX (%#lx), the call retired once (%s)",
	       result, rax, d);
	if (n0 == (uint64_t)-1)
		tap_skip("no KVM binary statistics");
	else
		tap_ok(vcpu_stat(vcpu, "hypercalls") - n0 == 1,
		       "KVM counts it once (%lu)", vcpu_stat(vcpu, "hypercalls") - n0);
	vm_free(vm);

	/* From C: two calls in a row, each its own exit and result. */
	vm = hc_vm(sup, false, &vcpu);
	h = &vcpu->run->hyperv;
	hc_add(HV_EXT_CALL_MAX | REP(5));
	hc_add(EXT + 1);
	hcs[1].rdx = in_gpa + 8;
	hcs[1].r8 = out_gpa + 16;
	sync_global_to_guest(vm, hcs);
	sync_global_to_guest(vm, nhc);
	ok = vcpu_run_raw(vcpu) == KVM_EXIT_HYPERV && h->type == KVM_EXIT_HYPERV_HCALL &&
	     h->u.hcall.input == (HV_EXT_CALL_MAX | REP(5)) &&
	     h->u.hcall.params[0] == in_gpa && h->u.hcall.params[1] == out_gpa;
	tap_ok(ok, "0x8041 with a rep count: exits with its input as is (%s)",
	       hvx_exit_str(vcpu, d, sizeof(d)));
	h->u.hcall.result = 0x1111;
	ok = vcpu_run_raw(vcpu) == KVM_EXIT_HYPERV && h->type == KVM_EXIT_HYPERV_HCALL &&
	     h->u.hcall.input == EXT + 1 && h->u.hcall.params[0] == in_gpa + 8 &&
	     h->u.hcall.params[1] == out_gpa + 16;
	tap_ok(ok, "then the next call's own exit (%s)", hvx_exit_str(vcpu, d, sizeof(d)));
	h->u.hcall.result = HV_STATUS_INVALID_HYPERCALL_CODE;
	ok = vcpu_run(vcpu, &uc) == UCALL_SYNC;
	sync_global_from_guest(vm, hcs);
	tap_ok(ok && !hcs[0].vec && hcs[0].rax == 0x1111 && !hcs[1].vec &&
	       hcs[1].rax == HV_STATUS_INVALID_HYPERCALL_CODE,
	       "the guest got %#lx and %#lx, then reached its GUEST_SYNC",
	       hcs[0].rax, hcs[1].rax);

	/* Fast, reserved bits, beyond the range: no exit. */
	nhc = 0;
	hc_add(EXT | FAST);
	hc_add(HV_EXT_CALL_MAX | FAST);
	hc_add(EXT | RSVD);
	hc_add(HV_EXT_CALL_MAX + 1);
	ok = hc_run(vcpu, d, sizeof(d));
	tap_ok(ok && hc_check(0, 2, HV_STATUS_INVALID_PARAMETER, false, d, sizeof(d)),
	       "fast extended calls -> INVALID_PARAMETER, no exit (%s)", d);
	tap_ok(ok && hc_check(2, 3, HV_STATUS_INVALID_HYPERCALL_INPUT, false, d, sizeof(d)) &&
	       hc_check(3, 4, HV_STATUS_INVALID_HYPERCALL_CODE, false, d, sizeof(d)),
	       "with a reserved bit -> INVALID_HYPERCALL_INPUT, 0x8042 -> INVALID_HYPERCALL_CODE (%s)",
	       d);
	vm_free(vm);
}

static void test_vmm_side(void)
{
	struct kvm_hyperv_exit *h;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_regs regs;
	char d[256];
	uint64_t rax, left, n0;
	bool ok;
	int r;

	require(HV_ENABLE_EXTENDED_HYPERCALLS, "extended hypercalls");
	vm = hc_vm(sup, false, &vcpu);
	h = &vcpu->run->hyperv;

	/* No answer: the guest gets what the result field held. */
	ok = hc_exit(vcpu, EXT, d, sizeof(d));
	TEST_ASSERT(ok, "%s", d);
	left = h->u.hcall.result;
	ok = hc_done(vcpu, &rax, d, sizeof(d));
	tap_ok(ok && rax == left,
	       "re-entry without a result: the guest continues once (%s), RAX is the field's %#lx (%#lx)",
	       d, left, rax);

	/* Answered, then immediate_exit: completed before the EINTR. */
	n0 = vcpu_stat(vcpu, "hypercalls");
	ok = hc_exit(vcpu, EXT + 2, d, sizeof(d));
	TEST_ASSERT(ok, "%s", d);
	h->u.hcall.result = 0x4242;
	r = vcpu_run_once(vcpu, true);
	vcpu_regs_get(vcpu, &regs);
	tap_ok(r == EINTR && regs.rax == 0x4242 && regs.rip == (uint64_t)hc_blob_out(),
	       "answered, KVM_RUN with immediate_exit -> %s: RAX %#llx, RIP past the call already",
	       strerror(r), regs.rax);
	ok = hc_done(vcpu, &rax, d, sizeof(d));
	tap_ok(ok && rax == 0x4242 &&
	       (n0 == (uint64_t)-1 || vcpu_stat(vcpu, "hypercalls") - n0 == 1),
	       "the next KVM_RUN continues once (%s), RAX %#lx, counted once", d, rax);
	vm_free(vm);

	/* Destroyed while the call waits for the VMM; a fresh VM is clean. */
	vm = hc_vm(sup, false, &vcpu);
	ok = hc_exit(vcpu, EXT, d, sizeof(d));
	TEST_ASSERT(ok, "%s", d);
	vm_free(vm);
	vm = hc_vm(sup, false, &vcpu);
	hc_add(HVCALL_NOTIFY_LONG_SPIN_WAIT);
	ok = hc_run(vcpu, d, sizeof(d)) &&
	     hc_check(0, 1, HV_STATUS_SUCCESS, false, d, sizeof(d));
	ok = ok && hc_exit(vcpu, EXT + 3, d, sizeof(d));
	tap_ok(ok, "VM freed with a call waiting for the VMM; a fresh VM's calls are its own (%s)",
	       d);
	vm_free(vm);
}

/* ---- (c) the synthetic debugger's calls ---- */

static void test_syndbg_calls(void)
{
	static const uint64_t slow[] = {
		HVCALL_POST_DEBUG_DATA, HVCALL_RETRIEVE_DEBUG_DATA,
		HVCALL_RESET_DEBUG_SESSION, HVCALL_RESET_DEBUG_SESSION | FAST, 0
	};
	static const uint64_t fast[] = {
		HVCALL_POST_DEBUG_DATA | FAST, HVCALL_RETRIEVE_DEBUG_DATA | FAST, 0
	};
	static const uint64_t unknown[] = {
		HVCALL_POST_DEBUG_DATA, HVCALL_RETRIEVE_DEBUG_DATA,
		HVCALL_RESET_DEBUG_SESSION, 0
	};
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char d[256];
	uint64_t rax;
	bool ok;

	require(0, NULL);
	if (!hvsys_offers(sup, HVSYS_DEBUG))
		test_skip("the synthetic debugger is not offered");
	memcpy(leaf, sup, sizeof(leaf));
	leaf[LEAF_SYNDBG_CAPS].eax = 0;
	expect(leaf, false, unknown, HV_STATUS_INVALID_HYPERCALL_CODE, false,
	       "debugger not allowed in 0x40000082: the 3 debug calls are unknown");
	expect(leaf, false, fast, HV_STATUS_INVALID_PARAMETER, false,
	       "... fast Post/RetrieveDebugData fail on the fast bit first");
	expect(sup, false, slow, HV_STATUS_OPERATION_DENIED, false,
	       "debugger allowed, SYNDBG_OPTIONS without USE_HCALLS: the debug calls");
	expect(sup, false, fast, HV_STATUS_INVALID_PARAMETER, false,
	       "... fast Post/RetrieveDebugData");

	vm = hc_vm(sup, false, &vcpu);
	vcpu_wrmsr(vcpu, HV_X64_MSR_SYNDBG_OPTIONS, HV_X64_SYNDBG_OPTION_USE_HCALLS);
	ok = hc_exit(vcpu, HVCALL_POST_DEBUG_DATA, d, sizeof(d));
	tap_ok(ok, "with USE_HCALLS: HvPostDebugData -> KVM_EXIT_HYPERV_HCALL (%s)", d);
	vcpu->run->hyperv.u.hcall.result = HV_STATUS_SUCCESS;
	ok = hc_done(vcpu, &rax, d, sizeof(d));
	tap_ok(ok && rax == HV_STATUS_SUCCESS, "the VMM's status reaches the guest once (%s, %#lx)",
	       d, rax);
	vm_free(vm);
}

/* (f) Was the single-step's #DB the CPU's, before the call ran (Bochs)? */
static void skip_early_step(struct kvm_vm *vm, struct kvm_vcpu *vcpu, const char *d)
{
	if (exit_is_step_before(vcpu, (uint64_t)hc_blob())) {
		vm_free(vm);
		test_skip("the CPU trapped the single-step before executing the call (%s; Bochs' VMX does so at VM entry), so it never reached KVM",
			  d);
	}
}

static void test_single_step(void)
{
	struct kvm_regs regs;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t rax;
	char d[256];
	int r;

	require(0, "hypercalls");
	vm = hc_vm(sup, false, &vcpu);
	vcpu_enter_blob(vcpu, hc_blob(), GARBAGE, 0xbeef, in_gpa, out_gpa);
	if (vcpu_guest_debug(vcpu, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)) {
		vm_free(vm);
		test_skip("KVM_SET_GUEST_DEBUG(SINGLESTEP): %s", strerror(errno));
	}
	r = vcpu_run_once(vcpu, false);
	hvx_exit_str(vcpu, d, sizeof(d));
	skip_early_step(vm, vcpu, d);
	vcpu_regs_get(vcpu, &regs);
	tap_ok(!r && vcpu->run->exit_reason == KVM_EXIT_DEBUG &&
	       vcpu_rip(vcpu) == (uint64_t)hc_blob_out() &&
	       regs.rax == HV_STATUS_INVALID_HYPERCALL_CODE,
	       "an unknown call (0xbeef), completed in the kernel: KVM_EXIT_DEBUG, RIP past the call, RAX %#llx (%s)",
	       regs.rax, d);
	vm_free(vm);

	if (!(sup[LEAF_FEATURES].ebx & HV_ENABLE_EXTENDED_HYPERCALLS)) {
		tap_skip("KVM_GET_SUPPORTED_HV_CPUID does not offer extended hypercalls");
		return;
	}
	vm = hc_vm(sup, false, &vcpu);
	/* KVM steps from the RIP it had when asked: the call's. */
	vcpu_enter_blob(vcpu, hc_blob(), GARBAGE, EXT, in_gpa, out_gpa);
	TEST_ASSERT(!vcpu_guest_debug(vcpu, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP),
		    "KVM_SET_GUEST_DEBUG(SINGLESTEP) worked once");
	r = vcpu_run_once(vcpu, false);
	hvx_exit_str(vcpu, d, sizeof(d));
	skip_early_step(vm, vcpu, d);
	tap_ok(!r && exit_is_hyperv(vcpu, KVM_EXIT_HYPERV_HCALL) &&
	       vcpu_rip(vcpu) == (uint64_t)hc_blob(),
	       "a call handed to the VMM: KVM_EXIT_HYPERV_HCALL first, RIP on the call (%s)", d);
	vcpu->run->hyperv.u.hcall.result = HV_STATUS_SUCCESS;
	r = vcpu_run_once(vcpu, false);
	hvx_exit_str(vcpu, d, sizeof(d));
	vcpu_regs_get(vcpu, &regs);
	rax = regs.rax;
	tap_ok(!r && vcpu->run->exit_reason == KVM_EXIT_DEBUG &&
	       vcpu_rip(vcpu) == (uint64_t)hc_blob_out() && rax == HV_STATUS_SUCCESS,
	       "with the VMM's result: KVM_EXIT_DEBUG, RIP past the call, RAX the result %#lx (%s)",
	       rax, d);
	vm_free(vm);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env != HV_PLAIN)
		hv_leaves(sup);

	TEST_RUN("enforced: access denied before anything else", test_access());
	TEST_RUN("enforced: each bit opens its calls", test_access_bits());
	TEST_RUN("PostMessage and SignalEvent without SynIC", test_synic_calls());
	TEST_RUN("the synthetic debugger's calls", test_syndbg_calls());
	TEST_RUN("extended hypercalls: the exit and its result", test_ext_exit());
	TEST_RUN("extended hypercalls: the VMM's side", test_vmm_side());
	TEST_RUN("single-step over a hypercall", test_single_step());

	return tap_done();
}
