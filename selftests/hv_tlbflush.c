// SPDX-License-Identifier: GPL-2.0
/*
 * HvFlushVirtualAddressSpace, HvFlushVirtualAddressList and their Ex
 * forms, slow (input page) and fast (XMM input), as in-tree KVM
 * (kvm_hv_flush_tlb) has them. Negative cases first:
 *   - var_cnt against the valid bank mask; rep count or start on the Space
 *     calls, a List call without reps or with a rep start, var_cnt on the
 *     non-Ex calls, reserved control bits; input outside guest memory
 *     (the GVA list is read up to 15 entries, as in-tree); more banks and
 *     GVAs than XMM0-5 hold;
 *   - KVM_CAP_HYPERV_ENFORCE_CPUID without 0x40000004.EAX remote TLB flush
 *     or Ex processor masks: HV_STATUS_ACCESS_DENIED before any input
 *     check; without XMM input (0x40000003.EDX) the fast forms raise #UD;
 * then every form succeeds and a List call reports all its reps completed
 * (RAX 43:32), without an in-kernel LAPIC too; last, the module's
 * pv_tlb_flushes counter. hv_tlbflush_smp flushes vCPUs that are running.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree; "nohv" without the
 * module has no Hyper-V: everything SKIPs.
 */
#include <stdio.h>
#include <string.h>

#include "hvpv.h"

#define SPACE		HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE
#define LIST		HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST
#define SPACE_EX	HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX
#define LIST_EX		HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX
#define F		HVPV_FAST
#define R(n)		HVPV_REPS(n)
#define AAS		HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES
#define ALLP		HV_FLUSH_ALL_PROCESSORS

static struct hvpv_vm V;

#define fl(...)		hvpv_flush(&V, __VA_ARGS__)
#define fl_ex(...)	hvpv_flush_ex(&V, __VA_ARGS__)

#define SP1	HVPV_SPARSE(1, 1)	/* VP 0: the one vCPU of the 1-vCPU VMs */

static void vm_up(unsigned int nr, bool enforce, uint32_t rec_clear,
		  uint32_t edx_clear, const uint32_t *vp)
{
	const struct hvpv_opts o = {
		.nr = nr, .enforce = enforce, .rec_clear = rec_clear,
		.edx_clear = edx_clear, .vp = vp,
	};

	hvpv_require_hv();
	hvpv_reset();
	hvpv_vm_create(&V, &o, NULL);
}

static void run_check(const char *prefix)
{
	hvpv_run(&V);
	hvpv_check(&V, prefix);
	hvpv_vm_free(&V);
}

/* ---- negative cases ---- */

static void test_banks(void)
{
	vm_up(1, false, 0, 0, NULL);
	fl_ex("SpaceEx slow, 1 valid bank, var_cnt 0", SPACE_EX, AAS, SP1, 0, HVPV_BAD);
	fl_ex("SpaceEx slow, banks 0-1 valid, var_cnt 1", SPACE_EX, AAS,
	      HVPV_SPARSE(3, 1, 0), 1, HVPV_BAD);
	fl_ex("ListEx slow, bank 0 valid, var_cnt 2", LIST_EX | R(1), AAS,
	      HVPV_SPARSE(1, 1, 0), 2, HVPV_BAD);
	fl_ex("SpaceEx XMM, bank 1 valid, var_cnt 0", SPACE_EX | F, AAS,
	      HVPV_SPARSE(2, 1), 0, HVPV_BAD);
	fl_ex("ListEx XMM, banks 0 and 2 valid, var_cnt 1", LIST_EX | F | R(1), AAS,
	      HVPV_SPARSE(5, 1), 1, HVPV_BAD);
	fl_ex("SpaceEx slow, HV_GENERIC_SET_ALL with bank 0 valid, var_cnt 0", SPACE_EX,
	      AAS, HVPV_SET(HV_GENERIC_SET_ALL, 1), 0, HVPV_BAD);
	fl_ex("SpaceEx slow, format 2 (taken as all) with bank 0 valid, var_cnt 0",
	      SPACE_EX, AAS, HVPV_SET(2, 1), 0, HVPV_BAD);
	run_check("");
}

static void test_control(void)
{
	vm_up(1, false, 0, 0, NULL);
	fl("Space slow, rep count 1", SPACE | R(1), AAS, 1, HVPV_BAD);
	fl("Space slow, rep start 1", SPACE | HVPV_REP_START(1), AAS, 1, HVPV_BAD);
	fl("Space XMM, rep count 1", SPACE | F | R(1), AAS, 1, HVPV_BAD);
	fl_ex("SpaceEx slow, rep count 1", SPACE_EX | R(1), AAS, SP1, 1, HVPV_BAD);
	fl_ex("SpaceEx XMM, rep start 1", SPACE_EX | F | HVPV_REP_START(1), AAS, SP1, 1,
	      HVPV_BAD);
	fl("List slow, rep count 0", LIST, AAS, 1, HVPV_BAD);
	fl("List slow, rep count 2, rep start 1", LIST | R(2) | HVPV_REP_START(1), AAS, 1,
	   HVPV_BAD);
	fl("List XMM, rep count 0", LIST | F, AAS, 1, HVPV_BAD);
	fl_ex("ListEx slow, rep count 0", LIST_EX, AAS, SP1, 1, HVPV_BAD);
	fl_ex("ListEx XMM, rep count 1, rep start 1", LIST_EX | F | R(1) |
	      HVPV_REP_START(1), AAS, SP1, 1, HVPV_BAD);
	fl("Space slow, var_cnt 1 on the non-Ex call", SPACE | HVPV_VAR(1), AAS, 1,
	   HVPV_BAD);
	fl("List slow, var_cnt 1 on the non-Ex call", LIST | R(1) | HVPV_VAR(1), AAS, 1,
	   HVPV_BAD);
	fl("Space XMM, var_cnt 1 on the non-Ex call", SPACE | F | HVPV_VAR(1), AAS, 1,
	   HVPV_BAD);
	fl("Space slow, reserved bit 27", SPACE | 1ull << 27, AAS, 1, HVPV_BAD);
	fl("List slow, reserved bit 31", LIST | R(1) | 1ull << 31, AAS, 1, HVPV_BAD);
	fl("Space XMM, reserved bit 30", SPACE | F | 1ull << 30, AAS, 1, HVPV_BAD);
	fl_ex("SpaceEx slow, reserved bit 44", SPACE_EX | 1ull << 44, AAS, SP1, 1,
	      HVPV_BAD);
	fl_ex("ListEx slow, reserved bit 63", LIST_EX | R(1) | 1ull << 63, AAS, SP1, 1,
	      HVPV_BAD);
	run_check("");
}

/* Each VM has one end of memory: one input placed there per VM. */
static void test_outside(void)
{
	uint64_t hdr[3] = { 0, AAS | ALLP, 0 };
	uint64_t hdr_ex[4] = { 0, AAS, HV_GENERIC_SET_SPARSE_4K, 1 };
	uint64_t gpa;

	vm_up(1, false, 0, 0, NULL);
	hvpv_add("Space slow, input GPA = end of guest memory", SPACE, V.vm->mem_size, 0,
		 HVPV_BAD);
	hvpv_add("SpaceEx slow, input GPA 1 TiB", SPACE_EX, 1ull << 40, 0, HVPV_BAD);
	hvpv_add("Space slow, input straddles the end of guest memory", SPACE,
		 hvpv_input_at_end(&V, hdr, 8), 0, HVPV_BAD);
	run_check("");

	vm_up(1, false, 0, 0, NULL);
	gpa = hvpv_input_at_end(&V, hdr, sizeof(hdr));
	hvpv_add("Space slow, input in the last 24 bytes", SPACE, gpa, 0, HVPV_OK);
	hvpv_add("List slow, the same input, its 1 GVA beyond", LIST | R(1), gpa, 0,
		 HVPV_BAD);
	hvpv_add("List slow, the same input, 15 GVAs beyond", LIST | R(15), gpa, 0,
		 HVPV_BAD);
	hvpv_add("List slow, the same input, 16 GVAs beyond: more than in-tree reads",
		 LIST | R(16), gpa, 0, HVPV_OK_REPS(16));
	run_check("");

	vm_up(1, false, 0, 0, NULL);
	gpa = hvpv_input_at_end(&V, hdr_ex, sizeof(hdr_ex));
	hvpv_add("SpaceEx slow, header in the last 32 bytes, its bank beyond",
		 SPACE_EX | HVPV_VAR(1), gpa, 0, HVPV_BAD);
	run_check("");

	vm_up(1, false, 0, 0, NULL);
	hdr_ex[2] = HV_GENERIC_SET_ALL;
	hdr_ex[3] = 0;
	gpa = hvpv_input_at_end(&V, hdr_ex, sizeof(hdr_ex));
	hvpv_add("SpaceEx slow, HV_GENERIC_SET_ALL header in the last 32 bytes",
		 SPACE_EX, gpa, 0, HVPV_OK);
	hvpv_add("ListEx slow, the same header, its 1 GVA beyond", LIST_EX | R(1), gpa,
		 0, HVPV_BAD);
	hvpv_add("ListEx slow, the same header, 16 GVAs beyond: more than in-tree reads",
		 LIST_EX | R(16), gpa, 0, HVPV_OK_REPS(16));
	run_check("");
}

static void test_xmm_limits(void)
{
	struct hvpv_set ten = HVPV_SPARSE(0x3ff, 1), eleven = HVPV_SPARSE(0x7ff, 1);

	vm_up(1, false, 0, 0, NULL);
	fl("List XMM, 11 GVAs: all the halves after the mask", LIST | F | R(11), AAS, 1,
	   HVPV_OK_REPS(11));
	fl("List XMM, 12 GVAs", LIST | F | R(12), AAS, 1, HVPV_BAD);
	fl("List XMM, 16 GVAs: more than in-tree reads, none read", LIST | F | R(16), AAS,
	   1, HVPV_OK_REPS(16));
	fl_ex("SpaceEx XMM, 10 banks: all the halves after format and mask", SPACE_EX | F,
	      AAS, ten, 10, HVPV_OK);
	fl_ex("SpaceEx XMM, 11 banks", SPACE_EX | F, AAS, eleven, 11, HVPV_BAD);
	fl_ex("ListEx XMM, 1 bank and 9 GVAs", LIST_EX | F | R(9), AAS, SP1, 1,
	      HVPV_OK_REPS(9));
	fl_ex("ListEx XMM, 1 bank and 10 GVAs", LIST_EX | F | R(10), AAS, SP1, 1, HVPV_BAD);
	fl_ex("ListEx XMM, 10 banks and 1 GVA", LIST_EX | F | R(1), AAS, ten, 10, HVPV_BAD);
	fl_ex("ListEx XMM, HV_GENERIC_SET_ALL and 10 GVAs", LIST_EX | F | R(10), AAS,
	      HVPV_ALL, 0, HVPV_OK_REPS(10));
	fl_ex("ListEx XMM, HV_GENERIC_SET_ALL and 11 GVAs", LIST_EX | F | R(11), AAS,
	      HVPV_ALL, 0, HVPV_BAD);
	run_check("");
}

#define REC_FLUSH	HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED
#define REC_EX		HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED
#define XMM_IN		HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE

/* The four calls, slow and XMM: results for the non-Ex and the Ex ones. */
static void eight_forms(uint64_t want, uint64_t want_ex)
{
	fl("Space slow", SPACE, AAS, 1, want);
	fl("List slow", LIST | R(1), AAS, 1, want ? want : HVPV_OK_REPS(1));
	fl_ex("SpaceEx slow", SPACE_EX, AAS, SP1, 1, want_ex);
	fl_ex("ListEx slow", LIST_EX | R(1), AAS, SP1, 1, want_ex ? want_ex : HVPV_OK_REPS(1));
	fl("Space XMM", SPACE | F, AAS, 1, want);
	fl("List XMM", LIST | F | R(1), AAS, 1, want ? want : HVPV_OK_REPS(1));
	fl_ex("SpaceEx XMM", SPACE_EX | F, AAS, SP1, 1, want_ex);
	fl_ex("ListEx XMM", LIST_EX | F | R(1), AAS, SP1, 1, want_ex ? want_ex : HVPV_OK_REPS(1));
}

static void test_enforce(void)
{
	vm_up(1, true, REC_FLUSH | REC_EX, 0, NULL);
	eight_forms(HVPV_DENIED, HVPV_DENIED);
	fl("Space slow, reserved bit 27 (access is checked first)", SPACE | 1ull << 27,
	   AAS, 1, HVPV_DENIED);
	fl("List slow, rep count 0 (access is checked first)", LIST, AAS, 1, HVPV_DENIED);
	run_check("enforced, no remote flush, no Ex masks: ");

	vm_up(1, true, REC_EX, 0, NULL);
	eight_forms(HVPV_OK, HVPV_DENIED);
	run_check("enforced, remote flush, no Ex masks: ");

	vm_up(1, true, REC_FLUSH, 0, NULL);
	eight_forms(HVPV_DENIED, HVPV_DENIED);
	run_check("enforced, Ex masks without remote flush: ");

	vm_up(1, true, 0, 0, NULL);
	eight_forms(HVPV_OK, HVPV_OK);
	run_check("enforced, all offered: ");

	vm_up(1, false, REC_FLUSH | REC_EX, 0, NULL);
	eight_forms(HVPV_OK, HVPV_OK);
	run_check("not enforced, none offered: ");
}

static void test_xmm_enforce(void)
{
	unsigned int i;

	vm_up(1, true, 0, XMM_IN, NULL);
	eight_forms(HVPV_OK, HVPV_OK);
	for (i = 4; i < 8; i++)
		hvpv_calls[i].want_fault = UD_VECTOR;
	fl("Space XMM, reserved bit 27: input checked before the XMM bit",
	   SPACE | F | 1ull << 27, AAS, 1, HVPV_BAD);
	run_check("enforced, no XMM input (fast: #UD): ");

	vm_up(1, true, REC_FLUSH | REC_EX, XMM_IN, NULL);
	fl("Space XMM: access denied before the XMM bit", SPACE | F, AAS, 1, HVPV_DENIED);
	fl_ex("ListEx XMM: access denied before the XMM bit", LIST_EX | F | R(1), AAS,
	      SP1, 1, HVPV_DENIED);
	run_check("enforced, nothing offered: ");

	vm_up(1, false, 0, XMM_IN, NULL);
	eight_forms(HVPV_OK, HVPV_OK);
	run_check("not enforced, no XMM input offered: ");
}

/* ---- success: status and reps ---- */

static void test_forms(void)
{
	vm_up(1, false, 0, 0, NULL);
	fl("Space slow, VP 0", SPACE, AAS, 1, HVPV_OK);
	fl("Space slow, HV_FLUSH_ALL_PROCESSORS", SPACE, AAS | ALLP, 0, HVPV_OK);
	fl("Space slow, empty mask (in-tree: all)", SPACE, AAS, 0, HVPV_OK);
	fl("Space slow, only VPs nobody has", SPACE, AAS, ~1ull, HVPV_OK);
	fl("Space XMM, VP 0", SPACE | F, AAS, 1, HVPV_OK);
	fl("List slow, 1 rep", LIST | R(1), AAS, 1, HVPV_OK_REPS(1));
	fl("List slow, 15 reps", LIST | R(15), AAS, 1, HVPV_OK_REPS(15));
	fl("List slow, 16 reps", LIST | R(16), 0, 1, HVPV_OK_REPS(16));
	fl("List slow, 4095 reps", LIST | R(4095), AAS | ALLP, 0, HVPV_OK_REPS(4095));
	fl("List XMM, 3 reps", LIST | F | R(3), AAS, 1, HVPV_OK_REPS(3));
	fl_ex("SpaceEx slow, VP 0", SPACE_EX, AAS, SP1, 1, HVPV_OK);
	fl_ex("SpaceEx slow, HV_GENERIC_SET_ALL", SPACE_EX, AAS, HVPV_ALL, 0, HVPV_OK);
	fl_ex("SpaceEx slow, format 2 (in-tree: all)", SPACE_EX, AAS, HVPV_SET(2, 0), 0,
	      HVPV_OK);
	fl_ex("SpaceEx slow, empty sparse set", SPACE_EX, AAS, HVPV_EMPTY, 0, HVPV_OK);
	fl_ex("SpaceEx XMM, VP 0", SPACE_EX | F, AAS, SP1, 1, HVPV_OK);
	fl_ex("ListEx slow, 3 reps", LIST_EX | R(3), AAS, SP1, 1, HVPV_OK_REPS(3));
	fl_ex("ListEx slow, HV_GENERIC_SET_ALL, 2 reps", LIST_EX | R(2), AAS, HVPV_ALL, 0,
	      HVPV_OK_REPS(2));
	fl_ex("ListEx slow, empty sparse set, 5 reps", LIST_EX | R(5), AAS, HVPV_EMPTY, 0,
	      HVPV_OK_REPS(5));
	fl_ex("ListEx XMM, 2 reps", LIST_EX | F | R(2), AAS, SP1, 1, HVPV_OK_REPS(2));
	run_check("no in-kernel LAPIC needed: ");
}

/* ---- the module's counter ---- */

static void test_counter(void)
{
	const uint64_t *n = V.snap;

	if (hv_env == HV_STOCK)
		test_skip("%s", INTENTIONAL("the hvenlight debugfs file is the module's own"));
	vm_up(1, false, 0, 0, NULL);
	V.snap_key = "pv_tlb_flushes";
	/* n[0] .. n[1]: 5 successful calls that flush someone */
	fl("Space slow", SPACE, AAS, 1, HVPV_OK)->flags |= HVPV_SYNC;
	fl("List slow", LIST | R(2), AAS, 1, HVPV_OK_REPS(2));
	fl_ex("SpaceEx slow", SPACE_EX, AAS, SP1, 1, HVPV_OK);
	fl_ex("ListEx XMM", LIST_EX | F | R(1), AAS, SP1, 1, HVPV_OK_REPS(1));
	fl_ex("SpaceEx slow, HV_GENERIC_SET_ALL", SPACE_EX, AAS, HVPV_ALL, 0, HVPV_OK);
	/* n[1] .. n[2]: 5 failed ones */
	fl("List slow, rep count 0", LIST, AAS, 1, HVPV_BAD)->flags |= HVPV_SYNC;
	fl("Space slow, rep count 1", SPACE | R(1), AAS, 1, HVPV_BAD);
	fl_ex("SpaceEx slow, var_cnt 0 for bank 0", SPACE_EX, AAS, SP1, 0, HVPV_BAD);
	fl("Space slow, reserved bit 27", SPACE | 1ull << 27, AAS, 1, HVPV_BAD);
	hvpv_add("Space slow, input outside memory", SPACE, 1ull << 40, 0, HVPV_BAD);
	/* n[2] .. n[3]: 2 successful ones naming only VPs nobody has */
	fl("Space slow, VPs 1-63", SPACE, AAS, ~1ull, HVPV_OK)->flags |= HVPV_SYNC;
	fl_ex("SpaceEx XMM, bank 3", SPACE_EX | F, AAS, HVPV_SPARSE(8, ~0ull), 1, HVPV_OK);
	/* n[3] .. n[4]: 2 successful ones with an empty sparse set */
	fl_ex("SpaceEx slow, empty sparse set", SPACE_EX, AAS, HVPV_EMPTY, 0,
	      HVPV_OK)->flags |= HVPV_SYNC;
	fl_ex("ListEx slow, empty sparse set, 1 rep", LIST_EX | R(1), AAS, HVPV_EMPTY, 0,
	      HVPV_OK_REPS(1));
	hvpv_run(&V);
	hvpv_check(&V, "");
	TEST_ASSERT(V.snap_ok && V.nsnap == 5, "reading pv_tlb_flushes (%u reads)", V.nsnap);
	tap_ok(n[1] - n[0] == 5,
	       "pv_tlb_flushes +%lu for 5 successful calls that flush vCPUs (from %lu)",
	       n[1] - n[0], n[0]);
	tap_ok(n[2] == n[1], "pv_tlb_flushes +%lu for 5 failed calls", n[2] - n[1]);
	tap_ok(n[3] - n[2] == 2,
	       "pv_tlb_flushes +%lu for 2 successful calls naming only VPs nobody has",
	       n[3] - n[2]);
	tap_ok(n[4] - n[3] == 2,
	       "pv_tlb_flushes +%lu for 2 successful calls with an empty sparse set",
	       n[4] - n[3]);
	hvpv_vm_free(&V);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();

	TEST_RUN("Ex: var_cnt must match the valid bank mask", test_banks());
	TEST_RUN("rep count, rep start, var_cnt and reserved bits in the control word",
		 test_control());
	TEST_RUN("input outside guest memory", test_outside());
	TEST_RUN("XMM input: at most 12 halves of header, banks and GVAs", test_xmm_limits());
	TEST_RUN("enforcement: 0x40000004.EAX remote TLB flush and Ex masks", test_enforce());
	TEST_RUN("enforcement: XMM input (0x40000003.EDX bit 4)", test_xmm_enforce());
	TEST_RUN("every form: status and reps completed", test_forms());
	TEST_RUN("the module's pv_tlb_flushes counter", test_counter());
	return tap_done();
}
