// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's IPIs and TLB shootdowns to other vCPUs: vCPU 0 of a
 * five-vCPU VM sends, vCPUs 1 to 4 receive, halted (HLT with interrupts
 * on) between interrupts, and count what they get. Targets are vCPUs 1..N,
 * N = 1, 2, 4:
 *
 *   - IPI: HvCallSendSyntheticClusterIpi (fast form: vector and VP mask in
 *     registers) in a Hyper-V guest, against one ICR write per target in a
 *     guest without Hyper-V, x2APIC (WRMSR) and xAPIC (ICR2 and ICR MMIO);
 *     the receivers EOI through their APIC (MSR in x2APIC mode, MMIO in
 *     xAPIC mode);
 *   - TLB shootdown: HvFlushVirtualAddressSpace (input page, processor
 *     mask) in the Hyper-V guest, against an x2APIC IPI to each target
 *     whose handler reloads CR3 and acknowledges, the sender waiting for
 *     every acknowledgment.
 *
 * All vCPU threads run on host CPU 0, the receivers with SCHED_FIFO: each
 * interrupt is handled, to the receiver's next HLT, before the sender
 * runs on, so every delivery is counted and none is merged with the next.
 * So the guest's TSC between the sender's reads covers the receivers' work
 * too ("window"), and the sender's own cost is its thread's CPU time. The
 * rows' cycles are the sender's cost until its operation is done: for an
 * IPI, the sender's thread CPU time per operation (an IPI is done once it
 * is sent); for a shootdown, the guest TSC per operation (it is done once
 * every target has flushed; a PV flush does not wake a halted target).
 * Exits are the sender's (its vCPU's "exits"); batch_vm_exits are all
 * vCPUs'. With -icount there is one clock for all of it: a CPU time is an
 * instruction count of its own, whatever ran meanwhile.
 * A benchmark, not a test: it asserts nothing about speed.
 */
#include <sys/ioctl.h>

#include "bench.h"
#include "apic.h"
#include "overcommit.h"

#define BATCH		200
#define NR_VCPUS	5
#define FLUSH_GPA	0x205000ull
#define V_IPI		0x40
#define V_FLUSH		0x41

enum op { OP_PV_IPI_1, OP_PV_IPI_2, OP_PV_IPI_4,
	  OP_PV_FLUSH_1, OP_PV_FLUSH_2, OP_PV_FLUSH_4,
	  OP_X2APIC_IPI_1, OP_X2APIC_IPI_2, OP_X2APIC_IPI_4,
	  OP_SHOOTDOWN_1, OP_SHOOTDOWN_2, OP_SHOOTDOWN_4,
	  OP_XAPIC_IPI_1, OP_XAPIC_IPI_2, OP_XAPIC_IPI_4, OP_NR };

/* The three VMs, each with its share of the operations. */
enum vm_kind { VM_HYPERV, VM_X2APIC, VM_XAPIC, VM_NR };

static const struct {
	enum op first, last;
} vm_kinds[VM_NR] = {
	[VM_HYPERV] = { OP_PV_IPI_1, OP_X2APIC_IPI_1 },
	[VM_X2APIC] = { OP_X2APIC_IPI_1, OP_XAPIC_IPI_1 },
	[VM_XAPIC] = { OP_XAPIC_IPI_1, OP_NR },
};

static const char *const op_names[OP_NR] = {
	[OP_PV_IPI_1] = "ipi_pv_hcall_1",
	[OP_PV_IPI_2] = "ipi_pv_hcall_2",
	[OP_PV_IPI_4] = "ipi_pv_hcall_4",
	[OP_PV_FLUSH_1] = "tlb_flush_pv_hcall_1",
	[OP_PV_FLUSH_2] = "tlb_flush_pv_hcall_2",
	[OP_PV_FLUSH_4] = "tlb_flush_pv_hcall_4",
	[OP_X2APIC_IPI_1] = "ipi_x2apic_icr_1",
	[OP_X2APIC_IPI_2] = "ipi_x2apic_icr_2",
	[OP_X2APIC_IPI_4] = "ipi_x2apic_icr_4",
	[OP_SHOOTDOWN_1] = "tlb_shootdown_x2apic_ipi_1",
	[OP_SHOOTDOWN_2] = "tlb_shootdown_x2apic_ipi_2",
	[OP_SHOOTDOWN_4] = "tlb_shootdown_x2apic_ipi_4",
	[OP_XAPIC_IPI_1] = "ipi_xapic_icr_1",
	[OP_XAPIC_IPI_2] = "ipi_xapic_icr_2",
	[OP_XAPIC_IPI_4] = "ipi_xapic_icr_4",
};

static bool op_is_flush(enum op op)
{
	return (op >= OP_PV_FLUSH_1 && op <= OP_PV_FLUSH_4) ||
	       (op >= OP_SHOOTDOWN_1 && op <= OP_SHOOTDOWN_4);
}

/* 1, 2, 4 targets for the first, second and third op of each kind. */
static unsigned int op_targets(enum op op)
{
	return 1u << ((op - OP_PV_IPI_1) % 3);
}

/* HvFlushVirtualAddressSpace's input (TLFS HV_INPUT_FLUSH_VIRTUAL_ADDRESS_SPACE). */
struct flush_input {
	uint64_t address_space, flags, processor_mask;
};

/* Set by the host per VM. */
static uint64_t x2apic, first_op, last_op;

/* Guest: receivers up, stop, acknowledgments, deliveries per vCPU. */
static volatile uint64_t ready, stop, acks, status;
static uint64_t rx[NR_VCPUS];

static void ipi_handler(struct ex_regs *regs)
{
	(void)regs;
	__atomic_fetch_add(&rx[guest_vcpu_id()], 1, __ATOMIC_RELAXED);
	apic_write(APIC_EOI, 0);
}

static void flush_handler(struct ex_regs *regs)
{
	uint64_t cr3 = get_cr3();

	(void)regs;
	asm volatile("mov %0, %%cr3" :: "r"(cr3) : "memory");
	__atomic_fetch_add(&acks, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&rx[guest_vcpu_id()], 1, __ATOMIC_RELAXED);
	apic_write(APIC_EOI, 0);
}

/* A fixed interrupt to APIC ID dest, through the ICR of this mode. */
static inline void send_icr(uint32_t dest, uint32_t vector)
{
	if (x2apic) {
		wrmsr(X2APIC_MSR(APIC_ICR), (uint64_t)dest << 32 | vector);
	} else {
		apic_write(APIC_ICR2, dest << 24);
		apic_write(APIC_ICR, vector);
	}
}

static inline void do_op(enum op op, unsigned int n)
{
	struct flush_input *f = (void *)FLUSH_GPA;
	uint64_t mask = ((1ull << n) - 1) << 1;
	uint64_t v = 0;
	unsigned int t;

	switch (op) {
	case OP_PV_IPI_1 ... OP_PV_IPI_4:
		vmmcall_safe(HVCALL_SEND_IPI | HV_HYPERCALL_FAST_BIT, V_IPI, mask, &v);
		status |= v;
		break;
	case OP_PV_FLUSH_1 ... OP_PV_FLUSH_4:
		f->processor_mask = mask;
		vmmcall_safe(HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, FLUSH_GPA, 0, &v);
		status |= v;
		break;
	case OP_X2APIC_IPI_1 ... OP_X2APIC_IPI_4:
	case OP_XAPIC_IPI_1 ... OP_XAPIC_IPI_4:
		for (t = 1; t <= n; t++)
			send_icr(t, V_IPI);
		break;
	case OP_SHOOTDOWN_1 ... OP_SHOOTDOWN_4:
		acks = 0;
		for (t = 1; t <= n; t++)
			send_icr(t, V_FLUSH);
		while (__atomic_load_n(&acks, __ATOMIC_ACQUIRE) < n)
			cpu_relax();
		break;
	default:
		break;
	}
}

static void ipi_guest(uint64_t id)
{
	struct flush_input *f = (void *)FLUSH_GPA;
	uint64_t t0, t1, op;
	int rep, i;
	unsigned int n;

	apic_enable(x2apic);
	if (id) {
		__atomic_fetch_add(&ready, 1, __ATOMIC_RELEASE);
		for (;;) {
			cli();
			if (stop)
				break;
			safe_halt();
		}
		GUEST_DONE();
	}
	while (ready < NR_VCPUS - 1)
		cpu_relax();
	if (first_op == OP_PV_IPI_1) {
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
		f->address_space = get_cr3();
		f->flags = 0;
	}
	for (op = first_op; op < last_op; op++) {
		n = op_targets(op);
		for (rep = 0; rep < BENCH_REPS; rep++) {
			GUEST_SYNC(op, rep, 0);	/* host reads exits, CPU time */
			t0 = rdtsc();
			for (i = 0; i < BATCH; i++)
				do_op(op, n);
			t1 = rdtsc();
			GUEST_SYNC(op, rep, t1 - t0);
		}
		GUEST_ASSERT_EQ(status, HV_STATUS_SUCCESS);
	}
	stop = 1;
	for (i = 1; i < NR_VCPUS; i++)
		send_icr(i, V_IPI);
	GUEST_DONE();
}

/* Per op: cycles, sender CPU, window, sender exits, all exits, deliveries. */
enum { VAL_CYCLES, VAL_CPU, VAL_WINDOW, VAL_EXITS, VAL_VM_EXITS, VAL_RX, VAL_NR };
static struct bench_val vals[OP_NR][VAL_NR];
static bool have[OP_NR];

static void *receiver(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	bench_pin(true);
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	return NULL;
}

static uint64_t rx_sum(struct kvm_vm *vm)
{
	uint64_t s = 0;
	int i;

	sync_global_from_guest(vm, rx);
	for (i = 1; i < NR_VCPUS; i++)
		s += rx[i];
	return s;
}

static void run_vm(enum vm_kind kind)
{
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	uint64_t e0 = 0, v0 = 0, r0 = 0, c0 = 0, c1;
	struct kvm_vcpu *vcpus[NR_VCPUS];
	pthread_t threads[NR_VCPUS];
	struct kvm_vm *vm;
	struct ucall uc;
	int i, op, rep;

	vm = vm_create(0, VM_IRQCHIP);
	bench_no_halt_poll(vm);
	x2apic = kind != VM_XAPIC;
	first_op = vm_kinds[kind].first;
	last_op = vm_kinds[kind].last;
	for (i = 0; i < NR_VCPUS; i++) {
		vcpus[i] = vm_vcpu_add(vm, ipi_guest);
		if (kind == VM_HYPERV)
			vcpu_set_hv_cpuid(vcpus[i]);
		if (i)
			TEST_ASSERT(!ioctl(vcpus[i]->fd, KVM_SET_MP_STATE, &runnable),
				    "KVM_SET_MP_STATE");
	}
	sync_global_to_guest(vm, x2apic);
	sync_global_to_guest(vm, first_op);
	sync_global_to_guest(vm, last_op);
	vm_install_handler(vm, V_IPI, ipi_handler);
	vm_install_handler(vm, V_FLUSH, flush_handler);
	for (i = 1; i < NR_VCPUS; i++)
		TEST_ASSERT(!pthread_create(&threads[i], NULL, receiver, vcpus[i]),
			    "pthread_create");

	while (vcpu_run(vcpus[0], &uc) == UCALL_SYNC) {
		c1 = thread_cpu_ns();
		op = uc.args[0];
		rep = uc.args[1];
		if (!uc.args[2]) {
			e0 = vcpu_stat(vcpus[0], "exits");
			v0 = bench_vm_exits(vm);
			r0 = rx_sum(vm);
			c0 = thread_cpu_ns();
			continue;
		}
		/* Less the exit of the GUEST_SYNC that ends the batch. */
		vals[op][VAL_EXITS].v[rep] = vcpu_stat(vcpus[0], "exits") - e0 - 1;
		vals[op][VAL_VM_EXITS].v[rep] = bench_vm_exits(vm) - v0 - 1;
		vals[op][VAL_RX].v[rep] = rx_sum(vm) - r0;
		vals[op][VAL_CPU].v[rep] = c1 - c0;
		vals[op][VAL_WINDOW].v[rep] = uc.args[2];
		vals[op][VAL_CYCLES].v[rep] = op_is_flush(op) ? uc.args[2] : c1 - c0;
		have[op] = true;
	}
	for (i = 1; i < NR_VCPUS; i++)
		pthread_join(threads[i], NULL);
	vm_free(vm);
}

int main(void)
{
	static const char *const names[VAL_NR] = {
		[VAL_CYCLES] = "cycles", [VAL_CPU] = "sender_cpu",
		[VAL_WINDOW] = "window", [VAL_EXITS] = "batch_exits",
		[VAL_VM_EXITS] = "batch_vm_exits", [VAL_RX] = "batch_deliveries",
	};
	int op, k;

	kvm_require();
	bench_pin(false);
	if (kvm_check_cap(KVM_CAP_HYPERV_SEND_IPI) > 0 &&
	    kvm_check_cap(KVM_CAP_HYPERV_TLBFLUSH) > 0)
		run_vm(VM_HYPERV);
	run_vm(VM_X2APIC);
	run_vm(VM_XAPIC);
	for (op = 0; op < OP_NR; op++) {
		if (!have[op])
			continue;
		for (k = 0; k < VAL_NR; k++) {
			vals[op][k].name = names[k];
			vals[op][k].div = k == VAL_CYCLES || k == VAL_CPU ||
					  k == VAL_WINDOW ? BATCH : 1;
		}
		bench_row(op_names[op],
			  op < OP_X2APIC_IPI_1 ? "hyperv" : "plain",
			  op_is_flush(op) ?
			  "sender guest TSC until every target flushed" :
			  "sender vCPU thread CPU time",
			  BATCH, vals[op], VAL_NR);
	}
	return 0;
}
