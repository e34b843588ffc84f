// SPDX-License-Identifier: GPL-2.0
/*
 * HvCallSendSyntheticClusterIpi and HvCallSendSyntheticClusterIpiEx, in
 * their slow (input page), fast (registers) and XMM-input forms, as in-tree
 * KVM (kvm_hv_send_ipi) has them. vCPU 0 makes the calls; every vCPU counts
 * each vector in its interrupt handler, so each IPI must arrive exactly
 * once at the vCPUs it names and nowhere else. The host sets the VP
 * indices (KVM_SET_MSRS VP_INDEX) so that none equals a vCPU index and two
 * are in banks 1 and 2 of a sparse set. Negative cases first:
 *   - var_cnt against the valid bank mask; vectors outside 0x10-0xff;
 *     VP indices nobody has (success, no IPI); rep count, rep start,
 *     var_cnt on the non-Ex call and reserved control bits; input outside
 *     guest memory; more banks than XMM0-5 hold; no in-kernel LAPIC;
 *   - KVM_CAP_HYPERV_ENFORCE_CPUID without the 0x40000004.EAX bits (cluster
 *     IPI, Ex processor masks): HV_STATUS_ACCESS_DENIED, before any input
 *     check; without XMM input (0x40000003.EDX) the fast Ex form raises #UD;
 * then 1, some and all of 4 vCPUs in every form, HV_GENERIC_SET_ALL, XMM
 * input that crosses an exit to the VMM, and the module's pv_ipis counter.
 * The kernel's hyperv_ipi checks the basic delivery with fixed delays; this
 * adds the counting, the remapped VP indices and the refusals.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree; "nohv" without the
 * module has no Hyper-V: everything SKIPs.
 */
#include <stdio.h>
#include <string.h>

#include "hvpv.h"

/* VP indices of vCPUs 0-3: none is a vCPU index; banks 0, 0, 1 and 2. */
#define VP0	7
#define VP1	4
#define VP2	69
#define VP3	130
static const uint32_t vps[HVPV_MAX_VCPUS] = { VP0, VP1, VP2, VP3 };

#define BIT_VP(vp)	HVPV_VP_BIT(vp)
#define ALL4		0xf
#define NO_VCPU		0

static struct hvpv_vm V;

/* ---- building calls ---- */

/* The vector to count: its low byte, where a handler counts it. */
static uint32_t counted(uint32_t vector)
{
	uint32_t v = vector & 0xff;

	return v == HV_IPI_LOW_VECTOR || (v > HVPV_V_FENCE && v != USER_RET_VECTOR) ? v : 0;
}

static struct hvpv_call *with_ipi(struct hvpv_call *c, uint32_t vector,
				  uint32_t expect)
{
	c->vector = counted(vector);
	c->expect = expect;
	return c;
}

/* HvCallSendSyntheticClusterIpi, slow: the input in a page. */
static struct hvpv_call *ipi(const char *what, uint64_t extra, uint32_t vector,
			     uint64_t mask, uint32_t expect, uint64_t want)
{
	struct hv_send_ipi in = { .vector = vector, .cpu_mask = mask };

	return with_ipi(hvpv_add(what, HVCALL_SEND_IPI | extra,
				 hvpv_input(&V, &in, sizeof(in)), 0, want),
			vector, expect);
}

/* Fast: the vector (and the reserved half) in RDX, the mask in R8. */
static struct hvpv_call *ipi_fast(const char *what, uint64_t extra, uint64_t rdx,
				  uint64_t mask, uint32_t expect, uint64_t want)
{
	return with_ipi(hvpv_add(what, HVCALL_SEND_IPI | HVPV_FAST | extra, rdx,
				 mask, want), (uint32_t)rdx, expect);
}

/* HvCallSendSyntheticClusterIpiEx, slow. */
static struct hvpv_call *ipi_ex(const char *what, uint64_t extra, uint32_t vector,
				struct hvpv_set s, unsigned int var_cnt,
				uint32_t expect, uint64_t want)
{
	uint8_t buf[sizeof(struct hv_send_ipi_ex) + sizeof(s.banks)];
	struct hv_send_ipi_ex *in = (void *)buf;

	memset(buf, 0, sizeof(buf));
	in->vector = vector;
	in->vp_set.format = s.format;
	in->vp_set.valid_bank_mask = s.valid;
	memcpy(in->vp_set.bank_contents, s.banks, s.nbanks * sizeof(s.banks[0]));
	return with_ipi(hvpv_add(what, HVCALL_SEND_IPI_EX | HVPV_VAR(var_cnt) | extra,
				 hvpv_input(&V, buf, sizeof(*in) + s.nbanks * 8), 0,
				 want), vector, expect);
}

/* Fast with XMM input: vector in RDX, format in R8, mask and banks in XMM. */
static struct hvpv_call *ipi_xmm(const char *what, uint64_t extra, uint64_t rdx,
				 struct hvpv_set s, unsigned int var_cnt,
				 uint32_t expect, uint64_t want)
{
	struct hvpv_call *c;

	c = hvpv_add(what, HVCALL_SEND_IPI_EX | HVPV_FAST | HVPV_VAR(var_cnt) | extra,
		     rdx, s.format, want);
	c->flags = HVPV_XMM;
	c->xmm[0] = s.valid;
	TEST_ASSERT(s.nbanks < HVPV_XMM_HALVES, "%u banks in XMM", s.nbanks);
	memcpy(&c->xmm[1], s.banks, s.nbanks * sizeof(s.banks[0]));
	return with_ipi(c, (uint32_t)rdx, expect);
}

#define NV	hvpv_next_vector()

/* ---- running them ---- */

static void vm_up(unsigned int nr, bool irqchip, bool enforce, uint32_t rec_clear,
		  uint32_t edx_clear)
{
	const struct hvpv_opts o = {
		.nr = nr, .irqchip = irqchip, .enforce = enforce,
		.rec_clear = rec_clear, .edx_clear = edx_clear,
		.vp = irqchip ? vps : NULL,
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
	struct hvpv_set all64 = HVPV_SPARSE(~0ull, BIT_VP(VP1));

	vm_up(4, true, false, 0, 0);
	ipi_ex("Ex slow, 1 valid bank, var_cnt 0", 0, NV, HVPV_SPARSE(1, BIT_VP(VP1)), 0,
	       NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, banks 0-1 valid, var_cnt 1", 0, NV,
	       HVPV_SPARSE(3, BIT_VP(VP1), BIT_VP(VP2)), 1, NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, bank 0 valid, var_cnt 2", 0, NV,
	       HVPV_SPARSE(1, BIT_VP(VP1), BIT_VP(VP2)), 2, NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, no valid bank, var_cnt 1", 0, NV, HVPV_SPARSE(0, BIT_VP(VP1)), 1,
	       NO_VCPU, HVPV_BAD);
	all64.nbanks = 64;
	ipi_ex("Ex slow, 64 valid banks, var_cnt 63", 0, NV, all64, 63, NO_VCPU, HVPV_BAD);
	ipi_xmm("Ex XMM, banks 0 and 2 valid, var_cnt 1", 0, NV,
		HVPV_SPARSE(5, BIT_VP(VP1), BIT_VP(VP3)), 1, NO_VCPU, HVPV_BAD);
	ipi_xmm("Ex XMM, bank 1 valid, var_cnt 0", 0, NV, HVPV_SPARSE(2, BIT_VP(VP2)), 0,
		NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, HV_GENERIC_SET_ALL with bank 0 valid, var_cnt 0 (checked for ALL too)",
	       0, NV, HVPV_SET(HV_GENERIC_SET_ALL, 1), 0, NO_VCPU,
	       HVPV_BAD);
	ipi_xmm("Ex XMM, HV_GENERIC_SET_ALL with bank 0 valid, var_cnt 0", 0, NV,
		HVPV_SET(HV_GENERIC_SET_ALL, 1), 0, NO_VCPU, HVPV_BAD);
	run_check("");
}

static void test_vectors(void)
{
	vm_up(4, true, false, 0, 0);
	ipi("slow, vector 0x0f", 0, 0x0f, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi("slow, vector 0", 0, 0, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi("slow, vector 0x100 + a valid low byte (the u32 field)", 0, 0x100 | NV,
	    BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi("slow, vector 0xffffff00 + a valid low byte", 0, 0xffffff00u | NV,
	    BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi_fast("fast, vector 0x0f", 0, 0x0f, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi_fast("fast, vector 0x100 + a valid low byte", 0, 0x100 | NV, BIT_VP(VP1),
		 NO_VCPU, HVPV_BAD);
	ipi_fast("fast, valid vector but the reserved upper half of RDX set", 0,
		 1ull << 32 | NV, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, vector 0x0f", 0, 0x0f, HVPV_SPARSE(1, BIT_VP(VP1)), 1, NO_VCPU,
	       HVPV_BAD);
	ipi_ex("Ex slow, vector 0x200 + a valid low byte", 0, 0x200 | NV,
	       HVPV_SPARSE(1, BIT_VP(VP1)), 1, NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, HV_GENERIC_SET_ALL, vector 0x05", 0, 0x05, HVPV_ALL, 0, NO_VCPU,
	       HVPV_BAD);
	ipi_xmm("Ex XMM, vector 0x0f", 0, 0x0f, HVPV_SPARSE(1, BIT_VP(VP1)), 1, NO_VCPU,
		HVPV_BAD);
	ipi_xmm("Ex XMM, vector 0x1ff", 0, 0x1ff, HVPV_SPARSE(1, BIT_VP(VP1)), 1, NO_VCPU,
		HVPV_BAD);
	/* In-tree: nobody to send to is success before the vector is looked at. */
	ipi_ex("Ex slow, empty sparse set, vector 0x05: success (no target, in-tree)",
	       0, 0x05, HVPV_EMPTY, 0, NO_VCPU, HVPV_OK);
	/* In-tree: the Ex form takes the vector from RDX's low half only. */
	ipi_xmm("Ex XMM, RDX upper half set: only the low half is the vector (in-tree)",
		0, 1ull << 32 | NV, HVPV_SPARSE(1, BIT_VP(VP1)), 1, 1u << 1, HVPV_OK);
	run_check("");
}

static void test_unknown_vp(void)
{
	vm_up(4, true, false, 0, 0);
	ipi("slow, VPs 0-3 (the vCPU indices, nobody's VP index)", 0, NV, 0xf,
	    NO_VCPU, HVPV_OK);
	ipi_fast("fast, every VP 0-63 but the two in use", 0, NV,
		 ~(BIT_VP(VP0) | BIT_VP(VP1)), NO_VCPU, HVPV_OK);
	ipi("slow, empty mask", 0, NV, 0, NO_VCPU, HVPV_OK);
	ipi_ex("Ex slow, bank 1 without VP 69", 0, NV, HVPV_SPARSE(2, ~BIT_VP(VP2)), 1,
	       NO_VCPU, HVPV_OK);
	ipi_ex("Ex slow, banks 3 and 63 full (63: beyond KVM_MAX_VCPUS)", 0, NV,
	       HVPV_SPARSE(1ull << 3 | 1ull << 63, ~0ull, ~0ull), 2, NO_VCPU, HVPV_OK);
	ipi_xmm("Ex XMM, banks 0 and 2 without the VPs in use", 0, NV,
		HVPV_SPARSE(5, ~(BIT_VP(VP0) | BIT_VP(VP1)), ~BIT_VP(VP3)), 2, NO_VCPU,
		HVPV_OK);
	ipi_ex("Ex slow, empty sparse set", 0, NV, HVPV_EMPTY, 0, NO_VCPU, HVPV_OK);
	run_check("");
}

static void test_control(void)
{
	static const struct { const char *what; uint64_t bit; } rsvd[] = {
		{ "slow, reserved bit 27", 1ull << 27 },
		{ "slow, reserved bit 31", 1ull << 31 },
		{ "slow, reserved bit 44", 1ull << 44 },
		{ "slow, reserved bit 63", 1ull << 63 },
	};
	unsigned int i;

	vm_up(4, true, false, 0, 0);
	ipi("slow, rep count 1", HVPV_REPS(1), NV, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi("slow, rep start 1", HVPV_REP_START(1), NV, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi_fast("fast, rep count 1", HVPV_REPS(1), NV, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi("slow, var_cnt 1 on the non-Ex call", HVPV_VAR(1), NV, BIT_VP(VP1), NO_VCPU,
	    HVPV_BAD);
	ipi_fast("fast, var_cnt 1 on the non-Ex call", HVPV_VAR(1), NV, BIT_VP(VP1),
		 NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, rep count 1", HVPV_REPS(1), NV, HVPV_SPARSE(1, BIT_VP(VP1)), 1,
	       NO_VCPU, HVPV_BAD);
	ipi_xmm("Ex XMM, rep start 1", HVPV_REP_START(1), NV, HVPV_SPARSE(1, BIT_VP(VP1)),
		1, NO_VCPU, HVPV_BAD);
	for (i = 0; i < ARRAY_SIZE(rsvd); i++)
		ipi(rsvd[i].what, rsvd[i].bit, NV, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi_fast("fast, reserved bit 30", 1ull << 30, NV, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, reserved bit 47", 1ull << 47, NV, HVPV_SPARSE(1, BIT_VP(VP1)), 1,
	       NO_VCPU, HVPV_BAD);
	ipi_xmm("Ex XMM, reserved bit 60", 1ull << 60, NV, HVPV_SPARSE(1, BIT_VP(VP1)), 1,
		NO_VCPU, HVPV_BAD);
	run_check("");
}

/*
 * Slow input that is not all in guest memory. Each VM has one end of
 * memory, so each placement at the end gets its own (2 vCPUs).
 */
static void test_outside(void)
{
	struct hv_send_ipi in = { .cpu_mask = BIT_VP(VP1) };
	uint8_t ex[sizeof(struct hv_send_ipi_ex)] = {};
	struct hv_send_ipi_ex *inx = (void *)ex;
	struct hvpv_call *c;
	uint32_t vec;

	vm_up(2, true, false, 0, 0);
	in.vector = NV;
	c = hvpv_add("slow, input GPA = end of guest memory", HVCALL_SEND_IPI,
		     V.vm->mem_size, 0, HVPV_BAD);
	with_ipi(c, in.vector, NO_VCPU);
	c = hvpv_add("slow, input GPA 1 TiB", HVCALL_SEND_IPI, 1ull << 40, 0, HVPV_BAD);
	with_ipi(c, NV, NO_VCPU);
	/* The vector in the last 8 bytes of memory, the mask beyond. */
	vec = NV;
	c = hvpv_add("slow, input straddles the end of guest memory", HVCALL_SEND_IPI,
		     hvpv_input_at_end(&V, &vec, 8), 0, HVPV_BAD);
	with_ipi(c, vec, NO_VCPU);
	run_check("");

	vm_up(2, true, false, 0, 0);
	in.vector = NV;
	c = hvpv_add("slow, input in the last 16 bytes of guest memory: read", HVCALL_SEND_IPI,
		     hvpv_input_at_end(&V, &in, sizeof(in)), 0, HVPV_OK);
	with_ipi(c, in.vector, 1u << 1);
	run_check("");

	vm_up(2, true, false, 0, 0);
	inx->vector = NV;
	inx->vp_set.valid_bank_mask = 1;
	c = hvpv_add("Ex slow, header in the last 24 bytes, its bank beyond",
		     HVCALL_SEND_IPI_EX | HVPV_VAR(1),
		     hvpv_input_at_end(&V, ex, sizeof(ex)), 0, HVPV_BAD);
	with_ipi(c, inx->vector, NO_VCPU);
	run_check("");

	/* In-tree reads no bank for HV_GENERIC_SET_ALL, var_cnt or not. */
	vm_up(2, true, false, 0, 0);
	inx->vector = NV;
	inx->vp_set.format = HV_GENERIC_SET_ALL;
	c = hvpv_add("Ex slow, HV_GENERIC_SET_ALL header in the last 24 bytes, var_cnt 1: no bank read",
		     HVCALL_SEND_IPI_EX | HVPV_VAR(1),
		     hvpv_input_at_end(&V, ex, sizeof(ex)), 0, HVPV_OK);
	with_ipi(c, inx->vector, 3);
	run_check("");
}

static void test_xmm_banks(void)
{
	struct hvpv_set s = HVPV_SPARSE(0xfff, BIT_VP(VP1), BIT_VP(VP2), BIT_VP(VP3));
	struct hvpv_set all64 = HVPV_SPARSE(~0ull, BIT_VP(VP1));

	vm_up(4, true, false, 0, 0);
	s.nbanks = 11;
	ipi_xmm("Ex XMM, 12 banks: more than the 11 halves after the mask", 0, NV, s,
		12, NO_VCPU, HVPV_BAD);
	s.valid = 0x7ff;
	ipi_xmm("Ex XMM, 11 banks: all the registers hold", 0, NV, s, 11,
		1u << 1 | 1u << 2 | 1u << 3, HVPV_OK);
	all64.nbanks = 11;
	ipi_xmm("Ex XMM, 64 banks", 0, NV, all64, 64, NO_VCPU, HVPV_BAD);
	run_check("");
}

static void test_no_lapic(void)
{
	vm_up(1, false, false, 0, 0);
	ipi("slow", 0, 0x30, 1, NO_VCPU, HVPV_BAD);
	ipi_fast("fast", 0, 0x30, 1, NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, HV_GENERIC_SET_ALL", 0, 0x30, HVPV_ALL, 0, NO_VCPU, HVPV_BAD);
	ipi_ex("Ex slow, empty sparse set", 0, 0x30, HVPV_EMPTY, 0, NO_VCPU, HVPV_BAD);
	ipi_xmm("Ex XMM, VP 0", 0, 0x30, HVPV_SPARSE(1, 1), 1, NO_VCPU, HVPV_BAD);
	run_check("no in-kernel LAPIC: ");
}

#define REC_IPI		HV_X64_CLUSTER_IPI_RECOMMENDED
#define REC_EX		HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED
#define XMM_IN		HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE

/* The four forms to VP1 (vCPU 1) with one result each: non-Ex, Ex. */
static void four_forms(uint64_t want, uint64_t want_ex)
{
	uint32_t to1 = 1u << 1;

	ipi("slow", 0, NV, BIT_VP(VP1), want ? NO_VCPU : to1, want);
	ipi_fast("fast", 0, NV, BIT_VP(VP1), want ? NO_VCPU : to1, want);
	ipi_ex("Ex slow", 0, NV, HVPV_SPARSE(1, BIT_VP(VP1)), 1, want_ex ? NO_VCPU : to1,
	       want_ex);
	ipi_xmm("Ex XMM", 0, NV, HVPV_SPARSE(1, BIT_VP(VP1)), 1, want_ex ? NO_VCPU : to1,
		want_ex);
}

static void test_enforce(void)
{
	vm_up(2, true, true, REC_IPI | REC_EX, 0);
	four_forms(HVPV_DENIED, HVPV_DENIED);
	ipi("slow, reserved bit 27 (access is checked first)", 1ull << 27, NV,
	    BIT_VP(VP1), NO_VCPU, HVPV_DENIED);
	ipi("slow, vector 0x0f (access is checked first)", 0, 0x0f, BIT_VP(VP1),
	    NO_VCPU, HVPV_DENIED);
	run_check("enforced, no cluster IPI, no Ex masks: ");

	vm_up(2, true, true, REC_EX, 0);
	four_forms(HVPV_OK, HVPV_DENIED);
	run_check("enforced, cluster IPI, no Ex masks: ");

	vm_up(2, true, true, REC_IPI, 0);
	four_forms(HVPV_DENIED, HVPV_DENIED);
	run_check("enforced, Ex masks without cluster IPI: ");

	vm_up(2, true, true, 0, 0);
	four_forms(HVPV_OK, HVPV_OK);
	run_check("enforced, all offered: ");

	vm_up(2, true, false, REC_IPI | REC_EX, 0);
	four_forms(HVPV_OK, HVPV_OK);
	run_check("not enforced, none offered: ");
}

static void test_xmm_enforce(void)
{
	vm_up(2, true, true, 0, XMM_IN);
	four_forms(HVPV_OK, HVPV_OK);
	hvpv_calls[hvpv_ncalls - 1].want_fault = UD_VECTOR;
	hvpv_calls[hvpv_ncalls - 1].expect = NO_VCPU;
	hvpv_calls[hvpv_ncalls - 1].what = "Ex XMM: #UD";
	ipi_xmm("Ex fast, HV_GENERIC_SET_ALL, no bank in XMM: #UD all the same", 0, NV,
		HVPV_ALL, 0, NO_VCPU, 0)->want_fault = UD_VECTOR;
	ipi_xmm("Ex fast, reserved bit 27: input checked before the XMM bit", 1ull << 27,
		NV, HVPV_SPARSE(1, BIT_VP(VP1)), 1, NO_VCPU, HVPV_BAD);
	run_check("enforced, no XMM input: ");

	vm_up(2, true, true, REC_IPI | REC_EX, XMM_IN);
	ipi_xmm("Ex XMM: access denied before the XMM bit", 0, NV, HVPV_SPARSE(1, BIT_VP(VP1)),
		1, NO_VCPU, HVPV_DENIED);
	run_check("enforced, nothing offered: ");

	vm_up(2, true, false, 0, XMM_IN);
	ipi_xmm("Ex XMM", 0, NV, HVPV_SPARSE(1, BIT_VP(VP1)), 1, 1u << 1, HVPV_OK);
	run_check("not enforced, no XMM input offered: ");
}

/* ---- delivery ---- */

static void test_delivery(void)
{
	struct hvpv_set s64 = HVPV_SPARSE(~0ull, BIT_VP(VP1), BIT_VP(VP2), BIT_VP(VP3));

	vm_up(4, true, false, 0, 0);
	ipi("slow, 1 vCPU (VP 4 = vCPU 1)", 0, NV, BIT_VP(VP1), 1u << 1, HVPV_OK);
	ipi("slow, itself (VP 7 = vCPU 0)", 0, NV, BIT_VP(VP0), 1u << 0, HVPV_OK);
	ipi_fast("fast, some: itself and VP 4", 0, NV, BIT_VP(VP0) | BIT_VP(VP1),
		 1u << 0 | 1u << 1, HVPV_OK);
	ipi("slow, VP 4 beside VPs 0 and 1 that nobody has", 0, NV,
	    BIT_VP(VP1) | 3, 1u << 1, HVPV_OK);
	ipi("slow, vector 0x10 (the lowest)", 0, HV_IPI_LOW_VECTOR, BIT_VP(VP1), 1u << 1,
	    HVPV_OK);
	ipi_fast("fast, vector 0xff (the highest)", 0, HV_IPI_HIGH_VECTOR, BIT_VP(VP1),
		 1u << 1, HVPV_OK);
	ipi_ex("Ex slow, 1 vCPU in bank 1 (VP 69)", 0, NV, HVPV_SPARSE(2, BIT_VP(VP2)), 1,
	       1u << 2, HVPV_OK);
	ipi_ex("Ex slow, some: banks 0 and 2 (VPs 4, 130)", 0, NV,
	       HVPV_SPARSE(5, BIT_VP(VP1), BIT_VP(VP3)), 2, 1u << 1 | 1u << 3, HVPV_OK);
	ipi_ex("Ex slow, all 4 in banks 0-2", 0, NV,
	       HVPV_SPARSE(7, BIT_VP(VP0) | BIT_VP(VP1), BIT_VP(VP2), BIT_VP(VP3)), 3, ALL4,
	       HVPV_OK);
	s64.nbanks = 64;
	ipi_ex("Ex slow, all 64 banks valid (VPs 4, 69, 130 set)", 0, NV, s64, 64,
	       1u << 1 | 1u << 2 | 1u << 3, HVPV_OK);
	ipi_ex("Ex slow, HV_GENERIC_SET_ALL", 0, NV, HVPV_ALL, 0, ALL4, HVPV_OK);
	ipi_xmm("Ex XMM, 1 vCPU in bank 2 (VP 130)", 0, NV, HVPV_SPARSE(4, BIT_VP(VP3)), 1,
		1u << 3, HVPV_OK);
	ipi_xmm("Ex XMM, some: itself, VPs 69 and 130", 0, NV,
		HVPV_SPARSE(7, BIT_VP(VP0), BIT_VP(VP2), BIT_VP(VP3)), 3,
		1u << 0 | 1u << 2 | 1u << 3, HVPV_OK);
	ipi_xmm("Ex fast, HV_GENERIC_SET_ALL", 0, NV, HVPV_ALL, 0, ALL4, HVPV_OK);
	ipi_xmm("Ex XMM loaded before an exit to the VMM (its XMM clobbered meanwhile)",
		0, NV, HVPV_SPARSE(3, BIT_VP(VP1), BIT_VP(VP2)), 2, 1u << 1 | 1u << 2,
		HVPV_OK)->flags |= HVPV_SYNC;
	run_check("");
}

/* ---- the module's counter ---- */

static void test_counter(void)
{
	const uint64_t *n = V.snap;

	if (hv_env == HV_STOCK)
		test_skip("%s", INTENTIONAL("the hvenlight debugfs file is the module's own"));
	vm_up(4, true, false, 0, 0);
	V.snap_key = "pv_ipis";
	/* n[0] .. n[1]: 5 successful calls that reach vCPUs */
	ipi("slow", 0, NV, BIT_VP(VP1), 1u << 1, HVPV_OK)->flags |= HVPV_SYNC;
	ipi_fast("fast", 0, NV, BIT_VP(VP1), 1u << 1, HVPV_OK);
	ipi_ex("Ex slow", 0, NV, HVPV_SPARSE(2, BIT_VP(VP2)), 1, 1u << 2, HVPV_OK);
	ipi_xmm("Ex XMM", 0, NV, HVPV_SPARSE(4, BIT_VP(VP3)), 1, 1u << 3, HVPV_OK);
	ipi_xmm("Ex fast, HV_GENERIC_SET_ALL", 0, NV, HVPV_ALL, 0, ALL4, HVPV_OK);
	/* n[1] .. n[2]: 5 failed ones */
	ipi("slow, vector 0x0f", 0, 0x0f, BIT_VP(VP1), NO_VCPU, HVPV_BAD)->flags |= HVPV_SYNC;
	ipi_ex("Ex slow, var_cnt 0 for bank 0", 0, NV, HVPV_SPARSE(1, BIT_VP(VP1)), 0,
	       NO_VCPU, HVPV_BAD);
	ipi("slow, rep count 1", HVPV_REPS(1), NV, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	ipi("slow, reserved bit 27", 1ull << 27, NV, BIT_VP(VP1), NO_VCPU, HVPV_BAD);
	hvpv_add("slow, input outside memory", HVCALL_SEND_IPI, 1ull << 40, 0, HVPV_BAD);
	/* n[2] .. n[3]: 2 successful ones naming only VPs nobody has */
	ipi("slow, empty mask", 0, NV, 0, NO_VCPU, HVPV_OK)->flags |= HVPV_SYNC;
	ipi_xmm("Ex XMM, bank 3", 0, NV, HVPV_SPARSE(8, ~0ull), 1, NO_VCPU, HVPV_OK);
	/* n[3] .. n[4]: 1 successful one with an empty sparse set */
	ipi_ex("Ex slow, empty sparse set", 0, NV, HVPV_EMPTY, 0, NO_VCPU,
	       HVPV_OK)->flags |= HVPV_SYNC;
	hvpv_run(&V);
	hvpv_check(&V, "");
	TEST_ASSERT(V.snap_ok && V.nsnap == 5, "reading pv_ipis (%u reads)", V.nsnap);
	tap_ok(n[1] - n[0] == 5, "pv_ipis +%lu for 5 successful calls that reach vCPUs (from %lu)",
	       n[1] - n[0], n[0]);
	tap_ok(n[2] == n[1], "pv_ipis +%lu for 5 failed calls", n[2] - n[1]);
	tap_ok(n[3] - n[2] == 2,
	       "pv_ipis +%lu for 2 successful calls naming only VPs nobody has (empty mask, bank 3)",
	       n[3] - n[2]);
	tap_ok(n[4] - n[3] == 1, "pv_ipis +%lu for 1 successful call with an empty sparse set",
	       n[4] - n[3]);
	hvpv_vm_free(&V);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env != HV_PLAIN && kvm_check_cap(KVM_CAP_IRQCHIP) <= 0)
		tap_skip_all("no KVM_CAP_IRQCHIP: no LAPIC to send IPIs to");

	TEST_RUN("Ex: var_cnt must match the valid bank mask", test_banks());
	TEST_RUN("vectors outside 0x10-0xff", test_vectors());
	TEST_RUN("VP indices nobody has: success, no IPI", test_unknown_vp());
	TEST_RUN("rep count, rep start, var_cnt and reserved bits in the control word",
		 test_control());
	TEST_RUN("input outside guest memory", test_outside());
	TEST_RUN("XMM input: at most 11 banks", test_xmm_banks());
	TEST_RUN("no in-kernel LAPIC", test_no_lapic());
	TEST_RUN("enforcement: 0x40000004.EAX cluster IPI and Ex masks", test_enforce());
	TEST_RUN("enforcement: XMM input (0x40000003.EDX bit 4)", test_xmm_enforce());
	TEST_RUN("every form to 1, some and all of 4 vCPUs with remapped VP indices: each IPI exactly once",
		 test_delivery());
	TEST_RUN("the module's pv_ipis counter", test_counter());
	return tap_done();
}
