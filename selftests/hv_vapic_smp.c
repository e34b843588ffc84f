// SPDX-License-Identifier: GPL-2.0
/*
 * Virtual APIC enlightenment across vCPUs, in xAPIC and in x2APIC mode:
 * 4 vCPUs in 4 threads send self-IPIs and IPIs to the next vCPU (physical
 * destination = APIC ID = vCPU id) through the ICR MSR; each arrives
 * exactly once, acknowledged through the EOI MSR.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there with the reason); "nohv"
 * without the module has no Hyper-V at all: everything SKIPs.
 */
#include "hv_vapic.h"

/* ---- SMP: IPIs to other vCPUs ---- */

#define NR_SMP		4
#define SMP_ROUNDS	20
#define WD_PERIOD	10000000	/* 10 ms */
#define WD_LIMIT	500		/* 5 s of watchdog ticks */

static volatile uint64_t smp_start, smp_end;
static volatile uint64_t smp_timeouts[NR_SMP], smp_faults[NR_SMP];
static volatile uint64_t self_tx[NR_SMP], remote_tx[NR_SMP], remote_rx[NR_SMP];

/*
 * IPIs from the previous vCPU. Each round has its own vector: the sender
 * does not wait for the receiver, and two IPIs of one vector would merge
 * in the IRR (architecturally) when the second comes before the first is
 * accepted.
 */
static void remote_handler(struct ex_regs *regs)
{
	uint64_t id = guest_vcpu_id();

	vec_count[id][regs->vector & 0xff]++;
	remote_rx[id]++;
	do_eoi();
}

/* How many of the round vectors came exactly once. */
static uint64_t remote_once(uint64_t id)
{
	uint64_t r, n = 0;

	for (r = 0; r < SMP_ROUNDS; r++)
		n += vec_count[id][V_REMOTE0 + r] == 1;
	return n;
}

/* Halt until *p >= want; the periodic watchdog bounds the wait. */
static void smp_wait(volatile uint64_t *p, uint64_t want)
{
	uint64_t id = guest_vcpu_id();
	uint64_t t0 = cnt(V_WD);

	cli();
	while (*p < want) {
		if (cnt(V_WD) - t0 > WD_LIMIT) {
			smp_timeouts[id]++;
			break;
		}
		safe_halt();
		cli();
	}
}

static void smp_barrier(volatile uint64_t *ctr)
{
	__atomic_add_fetch(ctr, 1, __ATOMIC_SEQ_CST);
	smp_wait(ctr, NR_SMP);
}

static void smp_guest(uint64_t id, uint64_t x2)
{
	uint64_t r, next = (id + 1) % NR_SMP, t0;

	apic_enable(x2);
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, APIC_TIMER_PERIODIC | V_WD);
	apic_write(APIC_TMICT, WD_PERIOD);
	smp_barrier(&smp_start);
	for (r = 0; r < SMP_ROUNDS; r++) {
		cli();
		if (wrmsr_safe(HV_X64_MSR_ICR, hv_icr_dest(V_IPI, id)))
			smp_faults[id]++;
		else
			self_tx[id]++;
		if (wrmsr_safe(HV_X64_MSR_ICR, hv_icr_dest(V_REMOTE0 + r, next)))
			smp_faults[id]++;
		else
			remote_tx[id]++;
		smp_wait(&vec_count[id][V_IPI], r + 1);
		if (smp_timeouts[id])
			break;
	}
	smp_wait(&remote_rx[id], SMP_ROUNDS);
	smp_barrier(&smp_end);
	/* a few more ticks: nothing late, nothing twice */
	t0 = cnt(V_WD);
	smp_wait(&vec_count[id][V_WD], t0 + 3);
	apic_write(APIC_LVTT, APIC_LVT_MASKED);
	apic_write(APIC_TMICT, 0);
	GUEST_SYNC(self_tx[id], cnt(V_IPI), remote_tx[id], remote_rx[id] | remote_once(id) << 32,
		   smp_timeouts[id] | smp_faults[id] << 16 | eoi_faults << 32,
		   apic_isr_any());
	GUEST_DONE();
}

struct smp_thread {
	struct kvm_vcpu *vcpu;
	struct ucall sync;
	uint64_t kind, done;
};

static void *smp_run(void *arg)
{
	struct smp_thread *t = arg;
	struct ucall uc;

	t->kind = vcpu_run_noabort(t->vcpu, &t->sync);
	if (t->kind == UCALL_SYNC)
		t->done = vcpu_run_noabort(t->vcpu, &uc);
	return NULL;
}

static void test_smp(uint64_t x2)
{
	const char *mode = x2 ? "x2APIC" : "xAPIC";
	struct kvm_vcpu *vcpus[NR_SMP];
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct smp_thread t[NR_SMP] = {};
	pthread_t th[NR_SMP];
	struct kvm_vm *vm;
	bool self_ok = true, remote_ok = true;
	char self_s[256] = "", remote_s[256] = "";
	int i, prev;

	vm = vm_create(0, VM_IRQCHIP);
	for (i = 0; i < NR_SMP; i++) {
		vcpus[i] = vm_vcpu_add(vm, smp_guest);
		vcpu_setup_hv(vcpus[i], HV_FULL);
		vcpu_args_set(vcpus[i], 2, (uint64_t)i, x2);
		/* With the in-kernel LAPIC, APs wait for INIT/SIPI: start them. */
		TEST_ASSERT(!ioctl(vcpus[i]->fd, KVM_SET_MP_STATE, &runnable),
			    "KVM_SET_MP_STATE(RUNNABLE)");
	}
	vm_install_handler(vm, V_WD, count_handler);
	vm_install_handler(vm, V_IPI, count_handler);
	for (i = 0; i < SMP_ROUNDS; i++)
		vm_install_handler(vm, V_REMOTE0 + i, remote_handler);
	for (i = 0; i < NR_SMP; i++) {
		t[i].vcpu = vcpus[i];
		TEST_ASSERT(!pthread_create(&th[i], NULL, smp_run, &t[i]), "pthread_create");
	}
	for (i = 0; i < NR_SMP; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NR_SMP; i++) {
		uint64_t *a = t[i].sync.args;

		if (t[i].kind != UCALL_SYNC || t[i].done != UCALL_DONE) {
			tap_diag("%s: vCPU %d stopped: %s", mode, i, t[i].sync.msg);
			self_ok = remote_ok = false;
			continue;
		}
		prev = (i + NR_SMP - 1) % NR_SMP;
		self_ok &= a[0] == SMP_ROUNDS && a[1] == SMP_ROUNDS && !a[4] && !a[5];
		/* received in total, and every round's vector exactly once */
		remote_ok &= (uint32_t)a[3] == SMP_ROUNDS && a[3] >> 32 == SMP_ROUNDS &&
			     t[prev].sync.args[2] == SMP_ROUNDS && !a[4] && !a[5];
		snprintf(self_s + strlen(self_s), sizeof(self_s) - strlen(self_s),
			 " %lu/%lu", a[1], a[0]);
		snprintf(remote_s + strlen(remote_s), sizeof(remote_s) - strlen(remote_s),
			 " %u/%lu(%lu once)", (uint32_t)a[3], t[prev].sync.args[2],
			 a[3] >> 32);
		if (a[4] || a[5])
			tap_diag("%s: vCPU %d: timeouts %lu, ICR faults %lu, EOI faults %lu, ISR %#lx",
				 mode, i, a[4] & 0xffff, (a[4] >> 16) & 0xffff,
				 a[4] >> 32, a[5]);
	}
	tap_ok(self_ok,
	       "%s, %d vCPUs in threads: %d self-IPIs each (ICR MSR, physical destination = own APIC ID) arrive exactly once (handled/sent:%s)",
	       mode, NR_SMP, SMP_ROUNDS, self_s);
	tap_ok(remote_ok,
	       "%s, %d vCPUs in threads: %d IPIs each to the next vCPU (vectors 0x%x + round) arrive exactly once (handled/sent by the previous:%s)",
	       mode, NR_SMP, SMP_ROUNDS, V_REMOTE0, remote_s);
	vm_free(vm);
}

int main(void)
{
	vapic_init();
	TEST_RUN("xAPIC: IPIs between 4 vCPUs", test_smp(0));
	TEST_RUN("x2APIC: IPIs between 4 vCPUs",
		 vapic_require_mode(1); test_smp(1));
	return tap_done();
}
