// SPDX-License-Identifier: GPL-2.0
/*
 * PV TLB flush with its targets running: vCPU 0 points a test page's PTE
 * at another page and flushes some VPs (HvFlushVirtualAddressSpace/List
 * and their Ex forms, slow and XMM input; VP indices set by the host so
 * that they differ from the vCPU indices), and the next read of each
 * flushed vCPU, which spins reading the page meanwhile, must find the new
 * page. The stale-TLB check of the kernel's hyperv_tlb_flush, with a
 * handshake instead of delays: vCPU 0 halts until every reader has looked.
 * A vCPU that was not flushed may find either page (any exit flushes its
 * TLB): it is only counted, to say how often a missing flush would have
 * shown. First the reader alone (2 vCPUs), then some of 3.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree; "nohv" without the
 * module has no Hyper-V: everything SKIPs.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hvpv.h"
#include "apic.h"

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

#define FL_MAX		3		/* vCPU 0 flushes, the others read */
#define FL_STOP		(~0ull)
#define FL_PTE_FLAGS	0x63ull		/* present, writable, accessed, dirty */
#define FL_V_WAKE	0x40		/* a reader's IPI: it has looked */
#define FL_V_TICK	0x41		/* vCPU 0's watchdog, every 10 ms */
#define FL_TICK_NS	10000000	/* APIC timer at divide-by-1: 1 GHz */
#define FL_WAIT		2000		/* ticks a reader may take to look */
#define FL_WAIT_SHORT	100		/* ... once one did not */

/* The token each worker is to find (0: none yet), and the last it checked. */
static volatile uint64_t fl_expect[FL_MAX], fl_done[FL_MAX];
/* What each worker found: the new page, the old one, neither. */
static volatile uint64_t fl_fresh[FL_MAX], fl_stale[FL_MAX], fl_other[FL_MAX];
static volatile uint64_t fl_timeouts[FL_MAX], fl_up;
static uint64_t fl_nr, fl_iters, fl_pte, fl_page[2], fl_token;

static void fl_worker(uint64_t id)
{
	volatile uint64_t *p = (volatile uint64_t *)HVPV_TEST_GVA;
	uint64_t e1, e2, val;

	__atomic_add_fetch(&fl_up, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		e1 = __atomic_load_n(&fl_expect[id], __ATOMIC_ACQUIRE);
		if (e1 == FL_STOP)
			break;
		val = *p;
		e2 = __atomic_load_n(&fl_expect[id], __ATOMIC_ACQUIRE);
		if (!e1 || e1 != e2 || fl_done[id] == e1)
			continue;
		if (val == e1)
			fl_fresh[id]++;
		else if (val == e1 - 1)
			fl_stale[id]++;
		else
			fl_other[id]++;
		__atomic_store_n(&fl_done[id], e1, __ATOMIC_RELEASE);
		/* This exit flushes the reader's TLB, but after its look. */
		apic_write(APIC_ICR2, 0);
		apic_write(APIC_ICR, FL_V_WAKE);
	}
	GUEST_DONE();
}

/* Remap the test page to the other page, flush, let the workers look. */
static void fl_round(struct hvpv_call *c, uint64_t *bound)
{
	uint64_t t = ++fl_token, page = fl_page[t & 1], rax = HVPV_GARBAGE, t0;
	unsigned int w;
	uint8_t vec;

	for (w = 1; w < fl_nr; w++)
		__atomic_store_n(&fl_expect[w], 0, __ATOMIC_RELEASE);
	*(volatile uint64_t *)page = t;
	*(volatile uint64_t *)fl_pte = page | FL_PTE_FLAGS;
	if (c->flags & HVPV_XMM)
		hvpv_xmm_load(c->xmm);
	vec = hvpv_hcall(c->control, c->rdx, c->r8, &rax);
	c->fault = vec;
	c->rax = rax;
	if (vec || rax != c->want_rax)
		c->late++;		/* here: calls with the wrong result */
	for (w = 1; w < fl_nr; w++)
		__atomic_store_n(&fl_expect[w], t, __ATOMIC_RELEASE);
	/*
	 * Halt until the readers have looked: vCPU 0's host CPU goes idle, so
	 * a reader's runs at once (QEMU's single TCG thread switches to it),
	 * most often before a timer tick of its own makes it leave the guest.
	 */
	t0 = hvpv_guest_rx(FL_V_TICK);
	for (w = 1; w < fl_nr; w++) {
		while (__atomic_load_n(&fl_done[w], __ATOMIC_ACQUIRE) != t) {
			if (hvpv_guest_rx(FL_V_TICK) - t0 > *bound) {
				fl_timeouts[w]++;
				*bound = FL_WAIT_SHORT;
				break;
			}
			asm volatile("sti; hlt; cli" ::: "memory");
		}
	}
}

static void fl_guest(uint64_t id)
{
	uint64_t bound = FL_WAIT, i, k;
	unsigned int w;

	hvpv_guest_init();
	apic_enable(0);
	if (id)
		fl_worker(id);
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, APIC_TIMER_PERIODIC | FL_V_TICK);
	apic_write(APIC_TMICT, FL_TICK_NS);
	while (fl_up < fl_nr - 1 && hvpv_guest_rx(FL_V_TICK) < bound)
		asm volatile("sti; hlt; cli" ::: "memory");
	GUEST_ASSERT_EQ(fl_up, fl_nr - 1);
	for (i = 0; i < hvpv_ncalls; i++) {
		for (k = 0; k < fl_iters; k++)
			fl_round(&hvpv_calls[i], &bound);
		GUEST_SYNC(i);
	}
	apic_write(APIC_LVTT, APIC_LVT_MASKED);
	for (w = 1; w < fl_nr; w++)
		fl_expect[w] = FL_STOP;
	GUEST_DONE();
}

struct fl_counts {
	uint64_t fresh[FL_MAX], stale[FL_MAX], other[FL_MAX], timeouts[FL_MAX];
};

/* The readers' counts as they are now in guest memory. */
static void fl_read(struct kvm_vm *vm, struct fl_counts *n)
{
	memcpy(n->fresh, addr_gpa2hva(vm, (uint64_t)&fl_fresh, sizeof(fl_fresh)),
	       sizeof(n->fresh));
	memcpy(n->stale, addr_gpa2hva(vm, (uint64_t)&fl_stale, sizeof(fl_stale)),
	       sizeof(n->stale));
	memcpy(n->other, addr_gpa2hva(vm, (uint64_t)&fl_other, sizeof(fl_other)),
	       sizeof(n->other));
	memcpy(n->timeouts, addr_gpa2hva(vm, (uint64_t)&fl_timeouts, sizeof(fl_timeouts)),
	       sizeof(n->timeouts));
}

struct fl_thread {
	struct kvm_vcpu *vcpu;
	int cpu;
	uint64_t kind;
	struct ucall uc;
};

/*
 * Keep the flusher off the readers' host CPU where there are two: a vCPU
 * thread that loses its CPU leaves the guest, and every exit flushes its
 * TLB (QEMU's TCG does on each world switch), so a stale entry could never
 * be seen. Under single-threaded TCG a reader's pending timer tick does the
 * same now and then: the diagnostic says how often a stale entry survived.
 */
static void fl_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % CPU_SETSIZE, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *fl_worker_thread(void *arg)
{
	struct fl_thread *t = arg;

	if (t->cpu >= 0)
		fl_pin(t->cpu);
	t->kind = vcpu_run_noabort(t->vcpu, &t->uc);
	return NULL;
}

static void fl_vm(unsigned int nr, const uint32_t *vps)
{
	const struct hvpv_opts o = { .nr = nr, .irqchip = true, .vp = vps };

	hvpv_require_hv();
	hvpv_reset();
	hvpv_vm_create(&V, &o, fl_guest);
}

/*
 * Run the calls in V, each iters times, and check: every call's result,
 * and each vCPU in its expect mask found the new page after every flush.
 */
static void fl_run(unsigned int iters)
{
	struct fl_counts prev = {}, now, d[HVPV_MAX_CALLS];
	struct fl_thread t[FL_MAX] = {};
	uint64_t pages, ctrl_stale = 0, ctrl_reads = 0;
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[FL_MAX];
	cpu_set_t saved;
	struct ucall uc;
	unsigned int i, w;

	/* The test page: page 0 holds token 2 and is mapped; 3 goes to page 1. */
	pages = vm_alloc(V.vm, 2 * HVL_PAGE_SIZE);
	fl_page[0] = pages;
	fl_page[1] = pages + HVL_PAGE_SIZE;
	fl_token = 2;
	fl_nr = V.nr;
	fl_iters = iters;
	*(uint64_t *)addr_gpa2hva(V.vm, fl_page[0], 8) = fl_token;
	fl_pte = hvpv_map_4k(V.vm, HVPV_TEST_GVA, fl_page[0]);
	sync_global_to_guest(V.vm, fl_page);
	sync_global_to_guest(V.vm, fl_token);
	sync_global_to_guest(V.vm, fl_pte);
	sync_global_to_guest(V.vm, fl_nr);
	sync_global_to_guest(V.vm, fl_iters);
	sync_global_to_guest(V.vm, hvpv_calls);
	sync_global_to_guest(V.vm, hvpv_ncalls);

	hvpv_start_aps(&V);
	TEST_ASSERT(!sched_getaffinity(0, sizeof(saved), &saved), "sched_getaffinity");
	if (ncpus >= 2)
		fl_pin(0);
	for (w = 1; w < V.nr; w++) {
		t[w].vcpu = V.vcpu[w];
		t[w].cpu = ncpus >= 2 ? 1 + (int)(w - 1) % (ncpus - 1) : -1;
		TEST_ASSERT(!pthread_create(&th[w], NULL, fl_worker_thread, &t[w]),
			    "pthread_create");
	}
	for (i = 0; i < hvpv_ncalls; i++) {
		TEST_ASSERT_EQ(vcpu_run(V.vcpu[0], &uc), UCALL_SYNC);
		fl_read(V.vm, &now);
		for (w = 0; w < V.nr; w++) {
			d[i].fresh[w] = now.fresh[w] - prev.fresh[w];
			d[i].stale[w] = now.stale[w] - prev.stale[w];
			d[i].other[w] = now.other[w] - prev.other[w];
			d[i].timeouts[w] = now.timeouts[w] - prev.timeouts[w];
		}
		prev = now;
	}
	TEST_ASSERT_EQ(vcpu_run(V.vcpu[0], &uc), UCALL_DONE);
	for (w = 1; w < V.nr; w++) {
		pthread_join(th[w], NULL);
		TEST_ASSERT(t[w].kind == UCALL_DONE, "vCPU %u: %s", w, t[w].uc.msg);
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	sync_global_from_guest(V.vm, hvpv_calls);

	for (i = 0; i < hvpv_ncalls; i++) {
		const struct hvpv_call *c = &hvpv_calls[i];
		char flushed[160] = "", other[96] = "";
		bool ok = !c->late;

		for (w = 1; w < V.nr; w++) {
			bool f = c->expect & (1u << w);
			char *s = f ? flushed : other;
			size_t len = f ? sizeof(flushed) : sizeof(other);

			if (f) {
				ok &= !d[i].stale[w] && !d[i].other[w] && !d[i].timeouts[w] &&
				      d[i].fresh[w] == iters;
			} else {
				ctrl_stale += d[i].stale[w];
				ctrl_reads += d[i].stale[w] + d[i].fresh[w];
			}
			snprintf(s + strlen(s), len - strlen(s),
				 " vCPU %u: %lu new, %lu old%s%s;", w,
				 d[i].fresh[w], d[i].stale[w],
				 d[i].other[w] ? ", other data" : "",
				 d[i].timeouts[w] ? ", did not look in time" : "");
		}
		tap_ok(ok, "%s: %u flushes, %u not returning %#lx (last %#lx%s); flushed:%s%s%s",
		       c->what, iters, c->late, c->want_rax, c->rax,
		       c->fault ? ", faulted" : "", *flushed ? flushed : " none;",
		       *other ? " not flushed (may see either page):" : "", other);
	}
	tap_diag("vCPUs not flushed found the old mapping in %lu of %lu reads%s", ctrl_stale,
		 ctrl_reads, ctrl_stale ?
		 ": stale TLB entries survive here, a missing flush shows" :
		 ": none stale, so the checks above could not have failed this time");
	hvpv_vm_free(&V);
}

#define B(vp)	HVPV_VP_BIT(vp)

/* 2 vCPUs, VP indices swapped: vCPU 0 is VP 1, the reader vCPU 1 is VP 0. */
static void test_running2(void)
{
	static const uint32_t vps[] = { 1, 0 };
	const uint32_t w = 1u << 1;

	fl_vm(2, vps);
	fl("Space slow, VP 0", SPACE, AAS, B(0), HVPV_OK)->expect = w;
	fl("List slow, VP 0", LIST | R(1), AAS, B(0), HVPV_OK_REPS(1))->expect = w;
	fl_ex("SpaceEx slow, VP 0", SPACE_EX, AAS, HVPV_SPARSE(1, B(0)), 1,
	      HVPV_OK)->expect = w;
	fl_ex("ListEx slow, VP 0", LIST_EX | R(1), AAS, HVPV_SPARSE(1, B(0)), 1,
	      HVPV_OK_REPS(1))->expect = w;
	fl("Space XMM, VP 0", SPACE | F, AAS, B(0), HVPV_OK)->expect = w;
	fl("List XMM, VP 0", LIST | F | R(1), AAS, B(0), HVPV_OK_REPS(1))->expect = w;
	fl_ex("SpaceEx XMM, VP 0", SPACE_EX | F, AAS, HVPV_SPARSE(1, B(0)), 1,
	      HVPV_OK)->expect = w;
	fl_ex("ListEx XMM, VP 0", LIST_EX | F | R(1), AAS, HVPV_SPARSE(1, B(0)), 1,
	      HVPV_OK_REPS(1))->expect = w;
	fl("Space slow, VP 1 (the flusher itself)", SPACE, AAS, B(1), HVPV_OK);
	fl_ex("SpaceEx slow, VP 64 (nobody)", SPACE_EX, AAS, HVPV_SPARSE(2, B(64)), 1,
	      HVPV_OK);
	fl_run(16);
}

/* 3 vCPUs: VP 2 (vCPU 0), VP 70 (vCPU 1, bank 1), VP 1 (vCPU 2). */
static void test_running3(void)
{
	static const uint32_t vps[] = { 2, 70, 1 };
	const uint32_t w1 = 1u << 1, w2 = 1u << 2;

	fl_vm(3, vps);
	fl("Space slow, VP 1 (vCPU 2)", SPACE, AAS, B(1), HVPV_OK)->expect = w2;
	fl_ex("SpaceEx slow, VP 70 (vCPU 1)", SPACE_EX, AAS, HVPV_SPARSE(2, B(70)), 1,
	      HVPV_OK)->expect = w1;
	fl_ex("ListEx XMM, VPs 1 and 70", LIST_EX | F | R(1), AAS,
	      HVPV_SPARSE(3, B(1), B(70)), 2, HVPV_OK_REPS(1))->expect = w1 | w2;
	fl("Space slow, HV_FLUSH_ALL_PROCESSORS", SPACE, AAS | ALLP, 0,
	   HVPV_OK)->expect = w1 | w2;
	fl_ex("SpaceEx XMM, HV_GENERIC_SET_ALL", SPACE_EX | F, AAS, HVPV_ALL, 0,
	      HVPV_OK)->expect = w1 | w2;
	fl("Space slow, empty mask (in-tree: all)", SPACE, AAS, 0, HVPV_OK)->expect = w1 | w2;
	fl_run(8);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env != HV_PLAIN && kvm_check_cap(KVM_CAP_IRQCHIP) <= 0)
		tap_skip_all("no KVM_CAP_IRQCHIP: vCPU 0 halts for its readers' IPIs");

	TEST_RUN("a flush with its target running (2 vCPUs): its next read sees the new mapping",
		 test_running2());
	TEST_RUN("a flush of some of 3 running vCPUs: the flushed ones see the new mapping",
		 test_running3());
	return tap_done();
}
