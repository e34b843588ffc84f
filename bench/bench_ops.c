// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's operations: per operation, guest cycles (TSC) and VM exits
 * (KVM's own per-VM "exits" statistic in debugfs). Each operation runs in
 * REPS batches of BATCH; one JSON object per operation gives the median,
 * minimum and maximum over the batches. A benchmark, not a test: it asserts
 * nothing about speed.
 *
 * Two one-vCPU VMs: a Hyper-V guest (Hyper-V CPUID, GUEST_OS_ID, TSC page)
 * for the enlightened operations, and a guest that never touches Hyper-V
 * for what the module must not slow down: a KVM paravirt MSR and hypercall,
 * CPUID, an xAPIC MMIO EOI. The host side adds two ioctls the module
 * watches, timed with the host TSC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "apic.h"
#include "hvl_abi.h"

#define BATCH		1000
#define REPS		9
#define TSCPAGE_GPA	0x201000ull
#define ASSIST_GPA	0x202000ull
#define V_BENCH		0x50
#define KVM_HC_VAPIC_POLL_IRQ	1

/*
 * Guest operations, Hyper-V guest first; the interrupt rows send a self-IPI
 * through the xAPIC MMIO ICR (the same in every row) and differ in the EOI.
 * The assist-page row is the Hyper-V guest's last: it leaves the page on.
 */
enum op { OP_TSC_PAGE, OP_TIME_REF_COUNT, OP_SPIN_WAIT, OP_EOI_MSR,
	  OP_EOI_ASSIST, OP_KVM_MSR, OP_KVM_HC, OP_CPUID, OP_EOI_MMIO,
	  OP_GUEST_NR,
	  OP_IOCTL_VCPU = OP_GUEST_NR, OP_IOCTL_DEV, OP_NR };

#define OP_FIRST_PLAIN	OP_KVM_MSR

static const char *const op_names[OP_NR] = {
	[OP_TSC_PAGE] = "tsc_page_read",
	[OP_TIME_REF_COUNT] = "time_ref_count_msr_read",
	[OP_SPIN_WAIT] = "hv_notify_long_spin_wait",
	[OP_EOI_MSR] = "self_ipi_eoi_msr",
	[OP_EOI_ASSIST] = "self_ipi_eoi_assist_page",
	[OP_KVM_MSR] = "kvm_pv_msr_read_unowned",
	[OP_KVM_HC] = "kvm_hypercall_unowned",
	[OP_CPUID] = "cpuid_exit",
	[OP_EOI_MMIO] = "self_ipi_eoi_mmio",
	[OP_IOCTL_VCPU] = "host_vcpu_ioctl_get_regs",
	[OP_IOCTL_DEV] = "host_dev_ioctl_check_extension",
};

/* Set by the host per VM: this one is the Hyper-V guest. */
static uint64_t hyperv;

static volatile uint64_t eoi_op, irqs;

static void ipi_handler(struct ex_regs *regs)
{
	(void)regs;
	irqs++;
	/* What Windows does: no EOI when KVM said none is needed. */
	if (eoi_op == OP_EOI_ASSIST &&
	    test_and_clear_bit0((volatile uint32_t *)ASSIST_GPA))
		return;
	if (eoi_op == OP_EOI_MMIO)
		apic_write(APIC_EOI, 0);
	else
		wrmsr(HV_X64_MSR_EOI, 0);
}

struct tsc_page {
	volatile uint32_t sequence;
	uint32_t reserved;
	volatile uint64_t scale;
	volatile int64_t offset;
};

static inline void do_op(enum op op)
{
	struct tsc_page *p = (struct tsc_page *)TSCPAGE_GPA;
	uint64_t v, status;
	uint32_t seq, a, b, c, d;

	switch (op) {
	case OP_TSC_PAGE:
		do {
			seq = p->sequence;
			v = hvl_tsc_to_ref(rdtsc(), p->scale, p->offset);
		} while (p->sequence != seq);
		break;
	case OP_TIME_REF_COUNT:
		rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &v);
		break;
	case OP_SPIN_WAIT:
		status = 0;
		vmmcall_safe(HVCALL_NOTIFY_LONG_SPIN_WAIT, 0, 0, &status);
		break;
	case OP_KVM_MSR:
		rdmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, &v);
		break;
	case OP_KVM_HC:
		v = KVM_HC_VAPIC_POLL_IRQ;
		vmmcall_safe(0, 0, 0, &v);
		break;
	case OP_CPUID:
		asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			     : "a"(0), "c"(0));
		break;
	case OP_EOI_MMIO:
	case OP_EOI_MSR:
	case OP_EOI_ASSIST:
		v = irqs;
		apic_write(APIC_ICR, ICR_SELF | V_BENCH);
		while (irqs == v)
			cpu_relax();
		break;
	default:
		break;
	}
}

static void bench_guest(void)
{
	int op, first = hyperv ? 0 : OP_FIRST_PLAIN;
	int last = hyperv ? OP_FIRST_PLAIN : OP_GUEST_NR;
	uint64_t t0, t1, v;
	int rep, i;

	if (hyperv) {
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_REFERENCE_TSC,
					   TSCPAGE_GPA | HV_X64_MSR_TSC_REFERENCE_ENABLE), 0);
		/* A first read lets KVM finish the clock update it asked for. */
		rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &v);
	}
	apic_enable(0);
	sti();
	for (op = first; op < last; op++) {
		eoi_op = op;
		if (op == OP_EOI_ASSIST)
			GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_VP_ASSIST_PAGE,
						   ASSIST_GPA | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE), 0);
		for (rep = 0; rep < REPS; rep++) {
			GUEST_SYNC(op, rep, 0);	/* host reads exits */
			t0 = rdtsc();
			for (i = 0; i < BATCH; i++)
				do_op(op);
			t1 = rdtsc();
			GUEST_SYNC(op, rep, t1 - t0);
		}
	}
	GUEST_DONE();
}

static uint64_t read_stat(struct kvm_vm *vm, const char *name)
{
	uint64_t v;

	TEST_ASSERT(vm_debugfs_read(vm, name, NULL, &v),
		    "read the VM's debugfs %s", name);
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t cycles[OP_NR][REPS], exits[OP_NR][REPS];
static bool have[OP_NR];

/* Run one VM's share of the guest operations. */
static void run_guest_ops(bool hv)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t e0 = 0;
	int op, rep;

	vm = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm, bench_guest);
	vm_install_handler(vm, V_BENCH, ipi_handler);
	hyperv = hv;
	sync_global_to_guest(vm, hyperv);
	if (hv)
		vcpu_set_hv_cpuid(vcpu);
	while (vcpu_run(vcpu, &uc) == UCALL_SYNC) {
		op = uc.args[0];
		rep = uc.args[1];
		if (!uc.args[2]) {
			e0 = read_stat(vm, "exits");
			continue;
		}
		/* Less the exit of the GUEST_SYNC that ends the batch. */
		exits[op][rep] = read_stat(vm, "exits") - e0 - 1;
		cycles[op][rep] = uc.args[2];
		have[op] = true;
	}
	vm_free(vm);
}

/* Ioctls the module sees and passes on: host TSC cycles, no guest exits. */
static void run_host_ops(void)
{
	struct kvm_regs regs;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t t0;
	int rep, i;

	vm = vm_create_with_vcpus(1, bench_guest, &vcpu);
	for (rep = 0; rep < REPS; rep++) {
		t0 = rdtsc();
		for (i = 0; i < BATCH; i++)
			TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_REGS, &regs), "KVM_GET_REGS");
		cycles[OP_IOCTL_VCPU][rep] = rdtsc() - t0;
		t0 = rdtsc();
		for (i = 0; i < BATCH; i++)
			TEST_ASSERT(ioctl(kvm_fd(), KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS) > 0,
				    "KVM_CHECK_EXTENSION");
		cycles[OP_IOCTL_DEV][rep] = rdtsc() - t0;
	}
	have[OP_IOCTL_VCPU] = have[OP_IOCTL_DEV] = true;
	vm_free(vm);
}

int main(void)
{
	const char *kernel = getenv("HVL_KERNEL") ?: "?";
	const char *mod = getenv("HVL_MODULE_LOADED") ?: "0";
	int op;

	kvm_require();
	/* The Hyper-V guest needs all it uses: TSC page, spin wait, vAPIC. */
	if (kvm_check_cap(KVM_CAP_HYPERV_TIME) > 0 &&
	    kvm_check_cap(KVM_CAP_HYPERV_SPIN) > 0 &&
	    kvm_check_cap(KVM_CAP_HYPERV_VAPIC) > 0)
		run_guest_ops(true);
	run_guest_ops(false);
	run_host_ops();
	for (op = 0; op < OP_NR; op++) {
		if (!have[op])
			continue;
		qsort(cycles[op], REPS, sizeof(uint64_t), cmp_u64);
		qsort(exits[op], REPS, sizeof(uint64_t), cmp_u64);
		printf("{\"kernel\": \"%s\", \"module\": %s, \"op\": \"%s\", \"guest\": \"%s\", "
		       "\"batch\": %d, \"reps\": %d, "
		       "\"cycles_median\": %lu, \"cycles_min\": %lu, \"cycles_max\": %lu, "
		       "\"batch_exits_median\": %lu, \"batch_exits_min\": %lu, \"batch_exits_max\": %lu}\n",
		       kernel, mod, op_names[op],
		       op < OP_FIRST_PLAIN ? "hyperv" : op < OP_GUEST_NR ? "plain" : "host",
		       BATCH, REPS,
		       cycles[op][REPS / 2] / BATCH, cycles[op][0] / BATCH,
		       cycles[op][REPS - 1] / BATCH,
		       exits[op][REPS / 2], exits[op][0], exits[op][REPS - 1]);
	}
	return 0;
}
