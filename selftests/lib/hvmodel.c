// SPDX-License-Identifier: GPL-2.0
/*
 * The expected results of Hyper-V MSR accesses and hypercalls: in-tree
 * KVM's semantics (arch/x86/kvm/hyperv.c, lapic.c of 6.12) plus, with
 * model->module, the differences Documentation/hvenlight.rst lists.
 */
#include "hvmodel.h"

uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

uint64_t below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

const uint32_t hvm_msrs[HVM_NR_MSRS] = {
	HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL, HV_X64_MSR_VP_INDEX,
	HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_REFERENCE_TSC, HV_X64_MSR_EOI,
	HV_X64_MSR_ICR, HV_X64_MSR_TPR, HV_X64_MSR_VP_ASSIST_PAGE,
	/* Hyper-V MSRs neither in-tree KVM nor the module implements. */
	0x40000005, 0x40000030, 0x40000074,
};
static uint32_t msr_feature(uint32_t msr)
{
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
	case HV_X64_MSR_HYPERCALL:
		return HV_MSR_HYPERCALL_AVAILABLE;
	case HV_X64_MSR_VP_INDEX:
		return HV_MSR_VP_INDEX_AVAILABLE;
	case HV_X64_MSR_TIME_REF_COUNT:
		return HV_MSR_TIME_REF_COUNT_AVAILABLE;
	case HV_X64_MSR_REFERENCE_TSC:
		return HV_MSR_REFERENCE_TSC_AVAILABLE;
	case HV_X64_MSR_EOI: case HV_X64_MSR_ICR: case HV_X64_MSR_TPR:
	case HV_X64_MSR_VP_ASSIST_PAGE:
		return HV_MSR_APIC_ACCESS_AVAILABLE;
	}
	return 0;
}

bool hvm_partition_wide(uint32_t msr)
{
	return msr == HV_X64_MSR_GUEST_OS_ID || msr == HV_X64_MSR_HYPERCALL ||
	       msr == HV_X64_MSR_REFERENCE_TSC;
}

static bool in_mem(struct hv_model *f, uint64_t gpa)
{
	return (gpa & HV_HYP_PAGE_MASK) < f->mem_size;
}

/*
 * An MSR access on vCPU k: the expected #GP (guest) or refusal (host) as
 * true, the value read in *out; a write that succeeds updates the model.
 */
bool hvm_msr(struct hv_model *f, int k, bool host, bool wr, uint32_t msr,
		    uint64_t v, uint64_t *out)
{
	struct hv_vmodel *m = &f->v[k];
	uint32_t feat = msr_feature(msr);

	*out = 0;
	if (!feat || (!host && !f->hv) ||
	    (!host && m->enforce && !(m->feat & feat)))
		return true;
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		if (!wr) {
			*out = f->os_id;
		} else {
			f->os_id = v;
			if (!v)
				f->hypercall &= ~1ull;
		}
		return false;
	case HV_X64_MSR_HYPERCALL:
		if (!wr) {
			*out = f->hypercall;
			return false;
		}
		if (f->module && (v & HVL_HYPERCALL_RSVD))
			return true;	/* documented: reserved bits 11:2 */
		if (!f->os_id)
			return false;	/* dropped, as in-tree */
		if ((v & 1) && !in_mem(f, v))
			return true;
		f->hypercall = v;
		return false;
	case HV_X64_MSR_VP_INDEX:
		if (!wr) {
			*out = m->vp_index;
			return false;
		}
		if (!host)
			return true;
		/* documented: the module refuses any value >= KVM_MAX_VCPUS */
		if (f->module ? v >= 1024 : (uint32_t)v >= 1024)
			return true;
		m->vp_index = f->module ? v : (uint32_t)v;
		return false;
	case HV_X64_MSR_TIME_REF_COUNT:
		*out = HVM_TIME;
		return wr && !host;
	case HV_X64_MSR_REFERENCE_TSC:
		if (!wr) {
			*out = f->ref_tsc;
			return false;
		}
		if (f->module && (v & HVL_REFTSC_RSVD))
			return true;	/* documented: reserved bits 11:1 */
		f->ref_tsc = v;
		/*
		 * In-tree KVM rewrites the page after a VMM's write at the
		 * writing vCPU's next clock update, which only its next entry
		 * brings: other vCPUs meanwhile read the page as it was. The
		 * module rewrites it at once (or marks it invalid).
		 */
		__atomic_store_n(&f->page_stale, host && !f->module && (v & 1) ?
				 k + 1 : 0, __ATOMIC_RELAXED);
		return false;
	case HV_X64_MSR_VP_ASSIST_PAGE:
		if (!wr) {
			*out = m->vp_assist;
			return false;
		}
		/* documented: no APIC to assist; reserved bits 11:1 */
		if (f->module && ((!f->irqchip && (v || !host)) ||
			      (v & HVL_VP_ASSIST_RSVD)))
			return true;
		if ((v & 1) && !in_mem(f, v))
			return true;
		m->vp_assist = v;
		return false;
	}
	/* EOI, ICR, TPR: the in-kernel APIC's registers. */
	if (!f->irqchip)
		return true;
	if (msr == HV_X64_MSR_EOI)
		return !wr || v >> 32;
	if (msr == HV_X64_MSR_ICR) {
		if (!wr)
			*out = m->icr;
		else if (v & HVM_ICR_RSVD)
			return true;
		else
			m->icr = v & ~(1ull << 12);
		return false;
	}
	if (!wr)
		*out = m->tpr;
	else if (v >> 32)
		return true;
	else
		m->tpr = v & 0xff;
	return false;
}

/* A hypercall's expected RAX (HVM_KEEP: unchanged) and vector. */
uint64_t hvm_hcall(struct hv_model *f, int k, bool cpl3, uint64_t ctl,
			  uint64_t *vec)
{
	struct hv_vmodel *m = &f->v[k];
	struct hvl_hc_input in = hvl_hc_decode(ctl);
	uint32_t st;

	*vec = 0;
	if (!f->hv || !f->os_id)	/* KVM's own hypercall */
		return cpl3 ? (uint64_t)-1 : (uint64_t)-1000;
	if (cpl3) {
		*vec = UD_VECTOR;
		return HVM_KEEP;
	}
	if (m->enforce && in.code == HVCALL_NOTIFY_LONG_SPIN_WAIT &&
	    !(m->retries && m->retries != ~0u))
		st = HV_STATUS_ACCESS_DENIED;
	else if (in.rsvd)
		st = HV_STATUS_INVALID_HYPERCALL_INPUT;
	else if (in.code == HVCALL_NOTIFY_LONG_SPIN_WAIT)
		st = in.rep_cnt || in.rep_idx || in.var_cnt ?
		     HV_STATUS_INVALID_HYPERCALL_INPUT : HV_STATUS_SUCCESS;
	else
		st = HV_STATUS_INVALID_HYPERCALL_CODE;
	return st;
}

/* ---- random inputs ---- */

static const uint16_t codes[] = { 0x0, 0x1, 0x4, 0x6, 0x7, 0x9, 0xa, 0x10,
				  0x50, 0x1234, 0x7fff };

uint64_t hvm_rnd_ctl(uint64_t *s)
{
	uint64_t c = below(s, 10) < 7 ? HVCALL_NOTIFY_LONG_SPIN_WAIT :
		     codes[below(s, ARRAY_SIZE(codes))];

	if (!below(s, 5))
		c |= HV_HYPERCALL_FAST_BIT;
	if (!below(s, 10))
		c |= below(s, 1024) << HV_HYPERCALL_VARHEAD_OFFSET;
	if (!below(s, 10))
		c |= below(s, 4096) << HV_HYPERCALL_REP_COMP_OFFSET;
	if (!below(s, 20))
		c |= below(s, 4096) << HV_HYPERCALL_REP_START_OFFSET;
	if (!below(s, 10))
		c |= rnd(s) & HV_HYPERCALL_RSVD_MASK;
	return c;
}

uint64_t hvm_rnd_val(struct hv_model *f, uint64_t *s, uint32_t msr)
{
	uint64_t page = below(s, 10) ? 0 : 0xfe000000ull;	/* outside */

	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		return below(s, 5) ? HVM_OS_ID : 0;
	case HV_X64_MSR_HYPERCALL:
		page = page ?: f->hc_gpa;
		return page | below(s, 2) | (below(s, 10) ? 0 : rnd(s) & HVL_HYPERCALL_RSVD);
	case HV_X64_MSR_REFERENCE_TSC:
		page = page ?: f->tsc_gpa;
		return page | (below(s, 4) ? 1 : 0) | (below(s, 10) ? 0 : rnd(s) & HVL_REFTSC_RSVD);
	case HV_X64_MSR_VP_ASSIST_PAGE:
		page = page ?: f->assist_gpa + 4096 * below(s, HVM_MAXV);
		return below(s, 5) ? 0 : page | below(s, 2) |
		       (below(s, 10) ? 0 : rnd(s) & HVL_VP_ASSIST_RSVD);
	case HV_X64_MSR_ICR:	/* fixed, to APIC ID 0x7f: nobody */
		return 0x7full << 56 | (rnd(s) & 0x00ffffff00000000ull) |
		       (rnd(s) & 0xc800) | (0x30 + below(s, 0xd0)) |
		       (below(s, 10) ? 0 : rnd(s) & HVM_ICR_RSVD);
	case HV_X64_MSR_VP_INDEX:
		return below(s, 3) ? below(s, 8) : rnd(s);
	}
	return below(s, 10) ? below(s, 256) : rnd(s);
}

/*
 * SVM keeps TPR bits 7:4 in V_TPR while the guest runs; KVM syncs the
 * APIC's TPR from it on exits, so the low nibble reads 0 afterwards.
 */
bool hvm_tpr_synced(uint32_t msr, uint64_t got, uint64_t exp)
{
	return msr == HV_X64_MSR_TPR && got == (exp & 0xf0);
}
