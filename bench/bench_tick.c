// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's timer ticks: a one-vCPU guest that does nothing but take a
 * 1 ms tick, halted (HLT with interrupts on) in between, its handler
 * counting the tick and EOIing through the x2APIC EOI MSR:
 *
 *   - tick_stimer_direct: synthetic timer 0, periodic, direct mode (the
 *     vector straight to the LAPIC), in a Hyper-V guest with SynIC;
 *   - tick_lapic_tsc_deadline_hv: the LAPIC timer in TSC-deadline mode,
 *     re-armed by the handler (WRMSR IA32_TSC_DEADLINE), in the same kind
 *     of Hyper-V guest: what it does without hv-stimer;
 *   - tick_lapic_tsc_deadline: the same in a guest without Hyper-V.
 *
 * Per tick, over BENCH_REPS batches of TICKS: the vCPU's exits (its
 * "exits" statistic) and the CPU time of its thread, which is what the
 * tick costs the host CPU apart from the host timer interrupt (that runs
 * in whatever task the halted vCPU left the CPU to). With -icount a CPU
 * time is an instruction count. The guest's TSC per tick ("window") is the
 * period. Halt polling is off, so a halted vCPU blocks at once.
 *
 * While the vCPU is halted, host CPU 0 runs a SCHED_IDLE thread that only
 * spins: with -icount an idle CPU lets QEMU's clock follow the host's real
 * time, so a busy host would make timers late and the figures vary; a busy
 * CPU moves the clock by instructions alone.
 * A benchmark, not a test: it asserts nothing about speed.
 */
#include <sys/ioctl.h>

#include "bench.h"
#include "apic.h"
#include "overcommit.h"

#define TICKS		200
#define PERIOD_100NS	10000		/* 1 ms of reference time */
#define V_TICK		0x50

enum tick { TICK_STIMER, TICK_DEADLINE_HV, TICK_DEADLINE, TICK_NR };

static const char *const tick_names[TICK_NR] = {
	[TICK_STIMER] = "tick_stimer_direct",
	[TICK_DEADLINE_HV] = "tick_lapic_tsc_deadline_hv",
	[TICK_DEADLINE] = "tick_lapic_tsc_deadline",
};

/* Set by the host per VM: the timer, 1 ms in TSC cycles. */
static uint64_t mode, period_tsc;
static volatile uint64_t ticks, next_deadline;

static void tick_handler(struct ex_regs *regs)
{
	(void)regs;
	ticks++;
	if (mode != TICK_STIMER) {
		next_deadline += period_tsc;
		wrmsr(MSR_IA32_TSC_DEADLINE, next_deadline);
	}
	apic_write(APIC_EOI, 0);
}

/* Halt until n more ticks came; returns with interrupts off. */
static void wait_ticks(uint64_t n)
{
	uint64_t end = ticks + n;

	for (;;) {
		cli();
		if (ticks >= end)
			break;
		safe_halt();
	}
}

static void tick_guest(void)
{
	uint64_t t0;
	int rep;

	apic_enable(1);
	if (mode != TICK_DEADLINE)
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
	if (mode == TICK_STIMER) {
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_STIMER0_COUNT, PERIOD_100NS), 0);
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_STIMER0_CONFIG,
					   BENCH_STIMER_ENABLE | BENCH_STIMER_PERIODIC |
					   BENCH_STIMER_DIRECT |
					   BENCH_STIMER_VECTOR(V_TICK)), 0);
	} else {
		apic_write(APIC_LVTT, APIC_LVT_TSC_DEADLINE | V_TICK);
		next_deadline = rdtsc() + period_tsc;
		wrmsr(MSR_IA32_TSC_DEADLINE, next_deadline);
	}
	for (rep = 0; rep < BENCH_REPS; rep++) {
		wait_ticks(1);
		GUEST_SYNC(rep, 0);	/* host reads exits, CPU time */
		t0 = rdtsc();
		wait_ticks(TICKS);
		GUEST_SYNC(rep, rdtsc() - t0);
	}
	GUEST_DONE();
}

enum { VAL_CYCLES, VAL_EXITS, VAL_WINDOW, VAL_NR };
static struct bench_val vals[TICK_NR][VAL_NR];
static volatile bool filling;

/* Host CPU 0's idle time, at the lowest priority there is. */
static void *filler(void *arg)
{
	struct sched_param sp = { .sched_priority = 0 };

	(void)arg;
	bench_pin(false);
	TEST_ASSERT(!pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp),
		    "SCHED_IDLE");
	/* No PAUSE: under TCG each one leaves the translated code. */
	while (filling)
		;
	return NULL;
}

static void run_tick(enum tick t)
{
	struct kvm_cpuid_entry2 *e;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	pthread_t idle;
	uint64_t e0 = 0, c0 = 0, c1;
	struct ucall uc;
	long khz;
	int rep;

	vm = vm_create(0, VM_IRQCHIP);
	bench_no_halt_poll(vm);
	vcpu = vm_vcpu_add(vm, tick_guest);
	if (t != TICK_DEADLINE)
		TEST_ASSERT(!vcpu_enable_cap(vcpu, KVM_CAP_HYPERV_SYNIC2, 0),
			    "KVM_CAP_HYPERV_SYNIC2");
	e = vcpu_cpuid_entry(vcpu, 1, 0);
	TEST_ASSERT(e, "CPUID leaf 1");
	e->ecx |= 1u << 24;	/* TSC-deadline timer: KVM emulates it */
	vcpu_set_cpuid(vcpu);
	if (t != TICK_DEADLINE)
		vcpu_set_hv_cpuid(vcpu);
	khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ);
	TEST_ASSERT(khz > 0, "KVM_GET_TSC_KHZ");
	mode = t;
	period_tsc = khz;
	sync_global_to_guest(vm, mode);
	sync_global_to_guest(vm, period_tsc);
	vm_install_handler(vm, V_TICK, tick_handler);

	filling = true;
	TEST_ASSERT(!pthread_create(&idle, NULL, filler, NULL), "pthread_create");
	while (vcpu_run(vcpu, &uc) == UCALL_SYNC) {
		c1 = thread_cpu_ns();
		rep = uc.args[0];
		if (!uc.args[1]) {
			e0 = vcpu_stat(vcpu, "exits");
			c0 = thread_cpu_ns();
			continue;
		}
		/* Less the exit of the GUEST_SYNC that ends the batch. */
		vals[t][VAL_EXITS].v[rep] = vcpu_stat(vcpu, "exits") - e0 - 1;
		vals[t][VAL_CYCLES].v[rep] = c1 - c0;
		vals[t][VAL_WINDOW].v[rep] = uc.args[1];
	}
	filling = false;
	pthread_join(idle, NULL);
	vm_free(vm);
}

int main(void)
{
	int t, first;

	kvm_require();
	bench_pin(false);
	first = bench_have_stimer() ? TICK_STIMER : TICK_DEADLINE;
	for (t = first; t < TICK_NR; t++)
		run_tick(t);
	for (t = first; t < TICK_NR; t++) {
		vals[t][VAL_CYCLES].name = "cycles";
		vals[t][VAL_CYCLES].div = TICKS;
		vals[t][VAL_EXITS].name = "batch_exits";
		vals[t][VAL_EXITS].div = 1;
		vals[t][VAL_WINDOW].name = "window";
		vals[t][VAL_WINDOW].div = TICKS;
		bench_row(tick_names[t], t == TICK_DEADLINE ? "plain" : "hyperv",
			  "vCPU thread CPU time per tick", TICKS, vals[t], VAL_NR);
	}
	return 0;
}
