// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's SynIC, synthetic timer and VMM-answered operations, timed
 * as bench_ops times its own: guest cycles (TSC) and VM exits (KVM's
 * per-VM "exits") per operation, BENCH_REPS batches of BATCH.
 *
 * A one-vCPU Hyper-V guest with SynIC (KVM_CAP_HYPERV_SYNIC2, as QEMU
 * enables it) reads and writes SINT2 (unmasked, a vector of its own, no
 * auto-EOI), writes EOM, rewrites STIMER0_COUNT of an enabled one-shot
 * direct-mode timer (100 s ahead: it re-arms and never fires), and makes
 * the extended hypercall HvExtCallQueryCapabilities (0x8001), which ends
 * KVM_RUN with KVM_EXIT_HYPERV_HCALL; the host answers success and
 * re-enters, so that row's cycles include the trip to the VMM.
 *
 * Then a guest without Hyper-V runs CPUID exits while another VM holds an
 * enabled synthetic timer: what a timer anywhere on the host costs every
 * other VM's exits (with plain KVM the other VM has no timer).
 * A benchmark, not a test: it asserts nothing about speed.
 */
#include "bench.h"

#define BATCH		1000
#define INPUT_GPA	0x203000ull
#define OUTPUT_GPA	0x204000ull
#define V_SINT		0x40
#define V_STIMER	0x41
#define SINT		2
#define FAR_AHEAD	1000000000ull	/* 100 s of reference time */

enum op { OP_SINT_READ, OP_SINT_WRITE, OP_EOM, OP_STIMER_COUNT, OP_EXT_HCALL,
	  OP_CPUID_BESIDE_STIMER, OP_NR };

#define OP_FIRST_PLAIN	OP_CPUID_BESIDE_STIMER

static const char *const op_names[OP_NR] = {
	[OP_SINT_READ] = "synic_sint_read",
	[OP_SINT_WRITE] = "synic_sint_write",
	[OP_EOM] = "synic_eom_write",
	[OP_STIMER_COUNT] = "stimer_count_write",
	[OP_EXT_HCALL] = "hypercall_exit_to_vmm",
	[OP_CPUID_BESIDE_STIMER] = "cpuid_exit_beside_stimer_vm",
};

/* Set by the host per VM: Hyper-V set-up (1: with a timer), the ops. */
static uint64_t hyperv, first_op, last_op;
/* The timer's COUNT, and what the extended calls returned, ORed. */
static uint64_t far_count, ext_status;

static inline void do_op(enum op op)
{
	uint32_t a, b, c, d;
	uint64_t v;

	switch (op) {
	case OP_SINT_READ:
		v = rdmsr(HV_X64_MSR_SINT0 + SINT);
		break;
	case OP_SINT_WRITE:
		wrmsr(HV_X64_MSR_SINT0 + SINT, V_SINT);
		break;
	case OP_EOM:
		wrmsr(HV_X64_MSR_EOM, 0);
		break;
	case OP_STIMER_COUNT:
		wrmsr(HV_X64_MSR_STIMER0_COUNT, far_count);
		break;
	case OP_EXT_HCALL:
		v = 0;
		vmmcall_safe(HV_EXT_CALL_QUERY_CAPABILITIES, INPUT_GPA,
			     OUTPUT_GPA, &v);
		ext_status |= v;
		break;
	case OP_CPUID_BESIDE_STIMER:
		asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			     : "a"(0), "c"(0));
		break;
	default:
		break;
	}
	(void)v;
}

static void bench_guest(void)
{
	uint64_t t0, t1, op;
	int rep, i;

	if (hyperv) {
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_SINT0 + SINT, V_SINT), 0);
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_STIMER0_CONFIG,
					   BENCH_STIMER_ENABLE | BENCH_STIMER_DIRECT |
					   BENCH_STIMER_VECTOR(V_STIMER)), 0);
		far_count = rdmsr(HV_X64_MSR_TIME_REF_COUNT) + FAR_AHEAD;
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_STIMER0_COUNT, far_count), 0);
	}
	for (op = first_op; op < last_op; op++) {
		for (rep = 0; rep < BENCH_REPS; rep++) {
			GUEST_SYNC(op, rep, 0);	/* host reads exits */
			t0 = rdtsc();
			for (i = 0; i < BATCH; i++)
				do_op(op);
			t1 = rdtsc();
			GUEST_SYNC(op, rep, t1 - t0);
		}
		GUEST_ASSERT_EQ(ext_status, HV_STATUS_SUCCESS);
	}
	GUEST_DONE();
}

static struct bench_val cycles[OP_NR], exits[OP_NR], vmm_exits;
static bool have[OP_NR];
static uint64_t nr_vmm_exits;

/*
 * To the next ucall, answering the extended hypercalls on the way as a
 * VMM does: success, an empty capability mask in the output page.
 */
static uint64_t run_to_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct kvm_hyperv_exit *h = &vcpu->run->hyperv;
	uint64_t kind;
	char buf[512];

	while (vcpu_run_raw(vcpu) == KVM_EXIT_HYPERV) {
		TEST_ASSERT(h->type == KVM_EXIT_HYPERV_HCALL &&
			    (h->u.hcall.input & HVL_HC_CODE_MASK) ==
			    HV_EXT_CALL_QUERY_CAPABILITIES,
			    "unexpected KVM_EXIT_HYPERV type %u", h->type);
		*(uint64_t *)addr_gpa2hva(vcpu->vm, h->u.hcall.params[1], 8) = 0;
		h->u.hcall.result = HV_STATUS_SUCCESS;
		nr_vmm_exits++;
	}
	kind = vcpu_get_ucall(vcpu, uc);
	TEST_ASSERT(kind == UCALL_SYNC || kind == UCALL_DONE, "vCPU %u: %s",
		    vcpu->id, kind == UCALL_NONE ?
		    vcpu_exit_str(vcpu, buf, sizeof(buf)) : vcpu->uc.msg);
	return kind;
}

/* A one-vCPU VM at bench_guest: Hyper-V with SynIC (hv) or plain. */
static struct kvm_vm *bench_vm(bool hv, uint64_t first, uint64_t last,
			       struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create(0, VM_IRQCHIP);

	*vcpu = vm_vcpu_add(vm, bench_guest);
	hyperv = hv;
	first_op = first;
	last_op = last;
	sync_global_to_guest(vm, hyperv);
	sync_global_to_guest(vm, first_op);
	sync_global_to_guest(vm, last_op);
	if (hv) {
		/* QEMU's order: SynIC before the CPUID. */
		TEST_ASSERT(!vcpu_enable_cap(*vcpu, KVM_CAP_HYPERV_SYNIC2, 0),
			    "KVM_CAP_HYPERV_SYNIC2");
		vcpu_set_hv_cpuid(*vcpu);
	}
	return vm;
}

static void run_ops(struct kvm_vm *vm, struct kvm_vcpu *vcpu)
{
	uint64_t e0 = 0, v0 = 0;
	struct ucall uc;
	int op, rep;

	while (run_to_ucall(vcpu, &uc) == UCALL_SYNC) {
		op = uc.args[0];
		rep = uc.args[1];
		if (!uc.args[2]) {
			e0 = bench_vm_exits(vm);
			v0 = nr_vmm_exits;
			continue;
		}
		/* Less the exit of the GUEST_SYNC that ends the batch. */
		exits[op].v[rep] = bench_vm_exits(vm) - e0 - 1;
		cycles[op].v[rep] = uc.args[2];
		if (op == OP_EXT_HCALL)
			vmm_exits.v[rep] = nr_vmm_exits - v0;
		have[op] = true;
	}
}

int main(void)
{
	struct kvm_vcpu *vcpu, *nvcpu;
	struct kvm_vm *vm, *neighbour;
	bool hv;
	int op;

	kvm_require();
	bench_pin(false);
	hv = bench_have_stimer();
	if (hv) {
		vm = bench_vm(true, 0, OP_FIRST_PLAIN, &vcpu);
		*(uint64_t *)addr_gpa2hva(vm, OUTPUT_GPA, 8) = 0;
		run_ops(vm, vcpu);
		vm_free(vm);
	}
	/* The neighbour sets its timer up and stops, alive, before the rows. */
	neighbour = bench_vm(hv, 0, 0, &nvcpu);
	TEST_ASSERT_EQ(run_to_ucall(nvcpu, NULL), UCALL_DONE);
	vm = bench_vm(false, OP_FIRST_PLAIN, OP_NR, &vcpu);
	run_ops(vm, vcpu);
	vm_free(vm);
	vm_free(neighbour);

	for (op = 0; op < OP_NR; op++) {
		if (!have[op])
			continue;
		cycles[op].name = "cycles";
		cycles[op].div = BATCH;
		exits[op].name = "batch_exits";
		exits[op].div = 1;
		vmm_exits.name = "batch_vmm_exits";
		vmm_exits.div = 1;
		bench_row(op_names[op], op < OP_FIRST_PLAIN ? "hyperv" : "plain",
			  NULL, BATCH, (struct bench_val[]){ cycles[op], exits[op],
			  vmm_exits }, op == OP_EXT_HCALL ? 3 : 2);
	}
	return 0;
}
