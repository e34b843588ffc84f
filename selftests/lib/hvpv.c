// SPDX-License-Identifier: GPL-2.0
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hvpv.h"
#include "apic.h"

#define HVPV_PTE_P		(1ull << 0)
#define HVPV_PTE_RW		(1ull << 1)
#define APIC_DEST_ALLBUT	0xc0000		/* ICR shorthand "all but self" */
/* How long vCPU 0 waits for an IPI: seconds of TSC even under TCG. */
#define HVPV_WAIT_CYCLES	20000000000ull
/* ... and after one did not come: the rest need not take as long. */
#define HVPV_WAIT_SHORT		1000000000ull

struct hvpv_call hvpv_calls[HVPV_MAX_CALLS];
uint64_t hvpv_ncalls;

/* Guest state; the host copies the configuration in before each run. */
static volatile uint64_t hvpv_rxg[HVPV_MAX_VCPUS][256];
static volatile uint64_t hvpv_finish, hvpv_up;
static uint64_t hvpv_nr, hvpv_use_apic;
static uint64_t hvpv_amd;
static uint32_t hvpv_vec_next = HVPV_V_FIRST;

/* ---- guest ---- */

void hvpv_xmm_load(const uint64_t *halves)
{
	/*
	 * XMM0-5 are not declared clobbered (-mgeneral-regs-only does not
	 * allow it); no code of the test binary uses them, so they keep
	 * these values until the hypercall reads them.
	 */
	asm volatile("movdqu 0(%0), %%xmm0\n\t"
		     "movdqu 16(%0), %%xmm1\n\t"
		     "movdqu 32(%0), %%xmm2\n\t"
		     "movdqu 48(%0), %%xmm3\n\t"
		     "movdqu 64(%0), %%xmm4\n\t"
		     "movdqu 80(%0), %%xmm5"
		     :: "r"(halves) : "memory");
}

uint8_t hvpv_hcall(uint64_t control, uint64_t rdx, uint64_t r8, uint64_t *rax)
{
	return hvpv_amd ? vmmcall_safe(control, rdx, r8, rax) :
			  vmcall_safe(control, rdx, r8, rax);
}

uint64_t hvpv_guest_rx(uint64_t vector)
{
	return hvpv_rxg[guest_vcpu_id()][vector & 0xff];
}

static void hvpv_count(struct ex_regs *regs)
{
	hvpv_rxg[guest_vcpu_id()][regs->vector & 0xff]++;
	apic_write(APIC_EOI, 0);
}

static void hvpv_irq_window(void)
{
	asm volatile("sti; nop; cli" ::: "memory");
}

/* Wait for the vCPUs in mask to count the vector once; false: timed out. */
static bool hvpv_wait(uint32_t vector, uint32_t mask, uint64_t bound)
{
	uint64_t t0 = rdtsc();
	unsigned int i;

	for (i = 0; i < hvpv_nr; i++) {
		if (!(mask & (1u << i)))
			continue;
		while (!hvpv_rxg[i][vector]) {
			if (rdtsc() - t0 > bound)
				return false;
			hvpv_irq_window();
			asm volatile("pause");
		}
	}
	return true;
}

static void hvpv_sender(void)
{
	uint64_t bound = HVPV_WAIT_CYCLES, t0 = rdtsc();
	struct hvpv_call *c;
	uint64_t i;

	/* Every receiver's APIC on before the first IPI. */
	while (hvpv_up < hvpv_nr - 1 && rdtsc() - t0 < bound)
		asm volatile("pause");
	GUEST_ASSERT_EQ(hvpv_up, hvpv_nr - 1);

	for (i = 0; i < hvpv_ncalls; i++) {
		c = &hvpv_calls[i];
		if (c->flags & HVPV_XMM)
			hvpv_xmm_load(c->xmm);
		if (c->flags & HVPV_SYNC)
			GUEST_SYNC(i);
		c->rax = HVPV_GARBAGE;
		c->fault = hvpv_hcall(c->control, c->rdx, c->r8, &c->rax);
		if (c->vector && c->expect && hvpv_use_apic &&
		    !hvpv_wait(c->vector, c->expect, bound)) {
			c->late = 1;
			bound = HVPV_WAIT_SHORT;
		}
	}
	hvpv_finish = 1;
	if (hvpv_use_apic && hvpv_nr > 1) {
		apic_write(APIC_ICR2, 0);
		apic_write(APIC_ICR, APIC_DEST_ALLBUT | HVPV_V_FENCE);
	}
	if (hvpv_use_apic)
		hvpv_irq_window();
	GUEST_DONE();
}

static void hvpv_receiver(void)
{
	__atomic_add_fetch(&hvpv_up, 1, __ATOMIC_SEQ_CST);
	while (!hvpv_finish)
		asm volatile("sti; hlt; cli" ::: "memory");
	hvpv_irq_window();
	GUEST_DONE();
}

void hvpv_guest_init(void)
{
	uint32_t a, b, c, d;

	cpuid_count(0, 0, &a, &b, &c, &d);
	hvpv_amd = b == 0x68747541 /* "Auth" */ || b == 0x6f677948 /* "Hygo" */;
}

static void hvpv_guest(uint64_t id)
{
	hvpv_guest_init();
	if (hvpv_use_apic)
		apic_enable(0);
	if (id)
		hvpv_receiver();
	else
		hvpv_sender();
}

/* ---- host ---- */

void hvpv_require_hv(void)
{
	if (hv_env == HV_PLAIN)
		test_skip("%s", NO_MODULE);
}

void hvpv_vm_create(struct hvpv_vm *v, const struct hvpv_opts *o,
		    void *guest_code)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	unsigned int i;
	int vec;

	TEST_ASSERT(o->nr && o->nr <= HVPV_MAX_VCPUS, "%u vCPUs", o->nr);
	memset(v, 0, sizeof(*v));
	v->nr = o->nr;
	v->irqchip = o->irqchip;
	v->vm = vm_create(0, o->irqchip ? VM_IRQCHIP : 0);
	hv_leaves(leaf);
	leaf[HVPV_LEAF_RECOMMEND].eax &= ~o->rec_clear;
	leaf[HVPV_LEAF_FEATURES].edx &= ~o->edx_clear;
	for (i = 0; i < o->nr; i++) {
		v->vcpu[i] = vm_vcpu_add(v->vm, guest_code ? guest_code : hvpv_guest);
		vcpu_args_set(v->vcpu[i], 1, (uint64_t)i);
		if (o->enforce)
			TEST_ASSERT(!vcpu_enable_cap(v->vcpu[i],
						     KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
				    "KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENFORCE_CPUID)");
		vcpu_set_hv_leaves(v->vcpu[i], leaf);
		if (o->vp)
			vcpu_wrmsr(v->vcpu[i], HV_X64_MSR_VP_INDEX, o->vp[i]);
	}
	vcpu_wrmsr(v->vcpu[0], HV_X64_MSR_GUEST_OS_ID, HVPV_OS_ID);
	if (!o->irqchip)
		return;
	vm_install_handler(v->vm, HV_IPI_LOW_VECTOR, hvpv_count);
	for (vec = HVPV_V_FENCE; vec <= HV_IPI_HIGH_VECTOR; vec++)
		if (vec != USER_RET_VECTOR)
			vm_install_handler(v->vm, vec, hvpv_count);
}

void hvpv_vm_free(struct hvpv_vm *v)
{
	vm_free(v->vm);
	v->vm = NULL;
}

void hvpv_start_aps(struct hvpv_vm *v)
{
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	unsigned int i;

	for (i = 1; v->irqchip && i < v->nr; i++)
		TEST_ASSERT(!ioctl(v->vcpu[i]->fd, KVM_SET_MP_STATE, &runnable),
			    "KVM_SET_MP_STATE(RUNNABLE)");
}

void hvpv_reset(void)
{
	memset(hvpv_calls, 0, sizeof(hvpv_calls));
	hvpv_ncalls = 0;
	hvpv_vec_next = HVPV_V_FIRST;
}

uint32_t hvpv_next_vector(void)
{
	uint32_t vec = hvpv_vec_next++;

	if (vec == USER_RET_VECTOR)
		vec = hvpv_vec_next++;
	TEST_ASSERT(vec < HV_IPI_HIGH_VECTOR, "out of IPI vectors");
	return vec;
}

uint64_t hvpv_input(struct hvpv_vm *v, const void *data, size_t len)
{
	uint64_t gpa = vm_alloc(v->vm, len);

	memcpy(addr_gpa2hva(v->vm, gpa, len), data, len);
	return gpa;
}

uint64_t hvpv_input_at_end(struct hvpv_vm *v, const void *data, size_t len)
{
	uint64_t gpa = v->vm->mem_size - len;

	TEST_ASSERT(v->vm->alloc_next <= (gpa & ~(HVL_PAGE_SIZE - 1)),
		    "the last page of guest memory is in use");
	memcpy(addr_gpa2hva(v->vm, gpa, len), data, len);
	return gpa;
}

struct hvpv_call *hvpv_add(const char *what, uint64_t control, uint64_t rdx,
			   uint64_t r8, uint64_t want_rax)
{
	struct hvpv_call *c;

	TEST_ASSERT(hvpv_ncalls < HVPV_MAX_CALLS, "too many calls");
	c = &hvpv_calls[hvpv_ncalls++];
	memset(c, 0, sizeof(*c));
	c->what = what;
	c->control = control;
	c->rdx = rdx;
	c->r8 = r8;
	c->want_rax = want_rax;
	return c;
}

/* Host XMM registers to all ones: what the guest loaded must not see it. */
static void hvpv_clobber_host_xmm(void)
{
	asm volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
		     "pcmpeqd %%xmm1, %%xmm1\n\t"
		     "pcmpeqd %%xmm2, %%xmm2\n\t"
		     "pcmpeqd %%xmm3, %%xmm3\n\t"
		     "pcmpeqd %%xmm4, %%xmm4\n\t"
		     "pcmpeqd %%xmm5, %%xmm5" ::: "memory");
}

struct hvpv_thread {
	struct kvm_vcpu *vcpu;
	uint64_t kind;
	struct ucall uc;
};

static void *hvpv_receiver_thread(void *arg)
{
	struct hvpv_thread *t = arg;

	t->kind = vcpu_run_noabort(t->vcpu, &t->uc);
	return NULL;
}

static void hvpv_snap(struct hvpv_vm *v)
{
	if (!v->snap_key)
		return;
	TEST_ASSERT(v->nsnap < ARRAY_SIZE(v->snap), "too many snapshots");
	v->snap_ok &= hvpv_counter(v, v->snap_key, &v->snap[v->nsnap++]);
}

void hvpv_run(struct hvpv_vm *v)
{
	struct hvpv_thread t[HVPV_MAX_VCPUS] = {};
	pthread_t th[HVPV_MAX_VCPUS];
	struct ucall uc;
	unsigned int i;

	/* Without an in-kernel LAPIC a receiver's HLT would exit. */
	TEST_ASSERT(v->irqchip || v->nr == 1, "receivers need the in-kernel LAPIC");
	hvpv_nr = v->nr;
	hvpv_use_apic = v->irqchip;
	sync_global_to_guest(v->vm, hvpv_nr);
	sync_global_to_guest(v->vm, hvpv_use_apic);
	sync_global_to_guest(v->vm, hvpv_calls);
	sync_global_to_guest(v->vm, hvpv_ncalls);
	hvpv_start_aps(v);
	for (i = 1; i < v->nr; i++) {
		t[i].vcpu = v->vcpu[i];
		TEST_ASSERT(!pthread_create(&th[i], NULL, hvpv_receiver_thread, &t[i]),
			    "pthread_create");
	}
	v->snap_ok = true;
	v->nsnap = 0;
	while (vcpu_run(v->vcpu[0], &uc) == UCALL_SYNC) {
		hvpv_snap(v);
		hvpv_clobber_host_xmm();
	}
	hvpv_snap(v);
	for (i = 1; i < v->nr; i++) {
		pthread_join(th[i], NULL);
		TEST_ASSERT(t[i].kind == UCALL_DONE, "vCPU %u: %s", i, t[i].uc.msg);
	}
	sync_global_from_guest(v->vm, hvpv_calls);
	memcpy(v->rx, addr_gpa2hva(v->vm, (uint64_t)&hvpv_rxg, sizeof(hvpv_rxg)),
	       sizeof(v->rx));
}

const char *hvpv_mask_str(uint32_t mask, char *buf, size_t len)
{
	size_t n = 0;
	unsigned int i;

	n += snprintf(buf + n, len - n, "{");
	for (i = 0; i < 32 && n < len; i++)
		if (mask & (1u << i))
			n += snprintf(buf + n, len - n, "%s%u",
				      n > 1 ? "," : "", i);
	if (n < len)
		snprintf(buf + n, len - n, "}");
	return buf;
}

unsigned int hvpv_check(struct hvpv_vm *v, const char *prefix)
{
	char got_s[32], want_s[32], res[64], ipi[96];
	unsigned int i, j, good = 0;
	uint32_t got;
	bool ok, once;

	for (i = 0; i < hvpv_ncalls; i++) {
		const struct hvpv_call *c = &hvpv_calls[i];

		if (c->want_fault)
			ok = c->fault == c->want_fault;
		else
			ok = !c->fault && c->rax == c->want_rax;
		if (c->fault)
			snprintf(res, sizeof(res), "vector %u (want %s%u)", c->fault,
				 c->want_fault ? "vector " : "RAX ",
				 c->want_fault ? c->want_fault : (unsigned int)c->want_rax);
		else if (c->want_fault)
			snprintf(res, sizeof(res), "RAX %#lx (want vector %u)", c->rax,
				 c->want_fault);
		else
			snprintf(res, sizeof(res), "RAX %#lx (want %#lx)", c->rax,
				 c->want_rax);
		ipi[0] = 0;
		if (c->vector && v->irqchip) {
			got = 0;
			once = true;
			for (j = 0; j < v->nr; j++) {
				if (v->rx[j][c->vector])
					got |= 1u << j;
				once &= v->rx[j][c->vector] <= 1;
			}
			ok &= got == c->expect && once && !c->late;
			snprintf(ipi, sizeof(ipi), ", vector %#x reached vCPUs %s%s (want %s)%s",
				 c->vector, hvpv_mask_str(got, got_s, sizeof(got_s)),
				 once ? "" : " more than once",
				 hvpv_mask_str(c->expect, want_s, sizeof(want_s)),
				 c->late ? ", waited in vain" : "");
		}
		tap_ok(ok, "%s%s: %s%s", prefix, c->what, res, ipi);
		good += ok;
	}
	return good;
}

bool hvpv_counter(struct hvpv_vm *v, const char *key, uint64_t *val)
{
	return vm_debugfs_read(v->vm, "hvenlight", key, val);
}

uint64_t hvpv_map_4k(struct kvm_vm *vm, uint64_t gva, uint64_t gpa)
{
	uint64_t *pml4, *pdpt, *pd, *pt, pdpt_gpa, pd_gpa, pt_gpa;
	const uint64_t addr = 0x000ffffffffff000ull;

	TEST_ASSERT(gva >= (4ull << 30) && gva < (5ull << 30) && !(gva & 0xfff),
		    "%s: GVA %#lx", __func__, gva);
	pml4 = addr_gpa2hva(vm, vm->pml4, HVL_PAGE_SIZE);
	pdpt_gpa = pml4[0] & addr;
	pdpt = addr_gpa2hva(vm, pdpt_gpa, HVL_PAGE_SIZE);
	if (!(pdpt[gva >> 30] & HVPV_PTE_P))
		pdpt[gva >> 30] = vm_alloc(vm, HVL_PAGE_SIZE) | HVPV_PTE_P | HVPV_PTE_RW;
	pd_gpa = pdpt[gva >> 30] & addr;
	pd = addr_gpa2hva(vm, pd_gpa, HVL_PAGE_SIZE);
	if (!(pd[(gva >> 21) & 511] & HVPV_PTE_P))
		pd[(gva >> 21) & 511] = vm_alloc(vm, HVL_PAGE_SIZE) | HVPV_PTE_P | HVPV_PTE_RW;
	pt_gpa = pd[(gva >> 21) & 511] & addr;
	pt = addr_gpa2hva(vm, pt_gpa, HVL_PAGE_SIZE);
	pt[(gva >> 12) & 511] = gpa | HVPV_PTE_P | HVPV_PTE_RW;
	return pt_gpa + ((gva >> 12) & 511) * 8;
}

/* ---- building flush calls ---- */

static unsigned int hvpv_nr_gvas(uint64_t control)
{
	unsigned int reps = (control & HV_HYPERCALL_REP_COMP_MASK) >>
			    HV_HYPERCALL_REP_COMP_OFFSET;

	return reps < HVPV_MAX_GVAS ? reps : HVPV_MAX_GVAS;
}

struct hvpv_call *hvpv_flush(struct hvpv_vm *v, const char *what, uint64_t control,
			     uint64_t flags, uint64_t mask, uint64_t want)
{
	uint64_t in[3 + HVPV_MAX_GVAS];
	unsigned int i, n = hvpv_nr_gvas(control);
	struct hvpv_call *c;

	if (control & HVPV_FAST) {
		c = hvpv_add(what, control, 0, flags, want);
		c->flags = HVPV_XMM;
		c->xmm[0] = mask;
		for (i = 1; i < HVPV_XMM_HALVES && i <= n; i++)
			c->xmm[i] = HVPV_TEST_GVA;
		return c;
	}
	in[0] = 0;
	in[1] = flags;
	in[2] = mask;
	for (i = 0; i < n; i++)
		in[3 + i] = HVPV_TEST_GVA;
	return hvpv_add(what, control, hvpv_input(v, in, (3 + n) * 8), 0, want);
}

struct hvpv_call *hvpv_flush_ex(struct hvpv_vm *v, const char *what, uint64_t control,
				uint64_t flags, struct hvpv_set s, unsigned int var_cnt,
				uint64_t want)
{
	uint64_t in[4 + HV_MAX_SPARSE_VCPU_BANKS + HVPV_MAX_GVAS];
	unsigned int i, k = 0, n = hvpv_nr_gvas(control);
	struct hvpv_call *c;

	control |= HVPV_VAR(var_cnt);
	if (control & HVPV_FAST) {
		c = hvpv_add(what, control, 0, flags, want);
		c->flags = HVPV_XMM;
		c->xmm[k++] = s.format;
		c->xmm[k++] = s.valid;
		for (i = 0; i < s.nbanks && k < HVPV_XMM_HALVES; i++)
			c->xmm[k++] = s.banks[i];
		for (i = 0; i < n && k < HVPV_XMM_HALVES; i++)
			c->xmm[k++] = HVPV_TEST_GVA;
		return c;
	}
	in[k++] = 0;
	in[k++] = flags;
	in[k++] = s.format;
	in[k++] = s.valid;
	for (i = 0; i < s.nbanks; i++)
		in[k++] = s.banks[i];
	for (i = 0; i < n; i++)
		in[k++] = HVPV_TEST_GVA;
	return hvpv_add(what, control, hvpv_input(v, in, k * 8), 0, want);
}
