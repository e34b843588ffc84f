/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by hv_stimer_neg, hv_stimer and hv_stimer_vcpu (the synthetic
 * timers, STIMER0-3):
 *   - SynIC VMs: every vCPU gets KVM_CAP_HYPERV_SYNIC2 (as QEMU does it,
 *     before its CPUID), the Hyper-V leaves, a message page (SIMP, set by
 *     the host: a guest's SIMP write would exit to the VMM) and SINT1-4
 *     unmasked on vectors V_SINT0 + sint;
 *   - one guest handler for every timer vector: it logs the SIMP slot's
 *     message and TIME_REF_COUNT, frees the slot (then EOM if the message
 *     says msg_pending) and EOIs;
 *   - a LAPIC one-shot "alarm" so that the guest waits halted, with a
 *     bound, whatever the timers do;
 *   - the host's reading of those logs: a timer message as it must be, a
 *     periodic timer's ticks against its period (allowing for the ticks a
 *     loaded host makes it skip, only where the log shows why).
 * Each test is its own binary: all of this is static.
 */
#ifndef HVL_SELFTEST_HV_STIMER_H
#define HVL_SELFTEST_HV_STIMER_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvsys.h"
#include "apic.h"
#include "hvl_abi.h"

#define MS		((uint64_t)10000)	/* 1 ms in 100 ns units */
#define P10		(10 * MS)	/* a period */
/* Generous for TCG on a loaded host: an expiration is handled within 1 s. */
#define ST_BOUND	(1000 * MS)
#define ST_VCPUS	2
#define ST_SINTS	4		/* SINT1-4 are set up */

#define V_ALARM		0x31		/* the guest's LAPIC one-shot */
#define V_SINT0		0x40		/* SINT s raises V_SINT0 + s */
#define V_DIRECT0	0x60		/* direct-mode timer n: V_DIRECT0 + n */
#define PAYLOAD_SIZE	sizeof(struct hv_timer_message_payload)

static inline uint32_t st_config_msr(uint32_t n)
{
	return HV_X64_MSR_STIMER0_CONFIG + 2 * n;
}

static inline uint32_t st_count_msr(uint32_t n)
{
	return HV_X64_MSR_STIMER0_COUNT + 2 * n;
}

/* An enabled CONFIG in message mode on SINT sint. */
static inline uint64_t st_cfg_msg(uint32_t sint, bool periodic)
{
	union hv_stimer_config c = { .enable = 1, .periodic = periodic,
				     .sintx = sint };

	return c.as_uint64;
}

/* An enabled CONFIG in direct mode: timer n's vector V_DIRECT0 + n. */
static inline uint64_t st_cfg_direct(uint32_t n, bool periodic)
{
	union hv_stimer_config c = { .enable = 1, .periodic = periodic,
				     .direct_mode = 1,
				     .apic_vector = V_DIRECT0 + n };

	return c.as_uint64;
}

/* The same CONFIG with enable clear. */
static inline uint64_t st_off(uint64_t config)
{
	union hv_stimer_config c = { .as_uint64 = config };

	c.enable = 0;
	return c.as_uint64;
}

/* ---- guest ---- */

/* One timer interrupt as the handler saw it. */
struct st_event {
	uint32_t vector;
	uint32_t type;		/* the slot's message (message mode) */
	uint32_t size;
	uint32_t flags;
	uint32_t timer;
	uint32_t pad;
	uint64_t exp, dlv;	/* expiration and delivery time */
	uint64_t now;		/* TIME_REF_COUNT in the handler */
	uint64_t now2;		/* ... after it freed the slot */
};

#define ST_MAX_EV	96

struct st_log {
	uint64_t n;		/* events seen (only ST_MAX_EV are kept) */
	uint64_t alarms;	/* LAPIC one-shots that fired */
	struct st_event ev[ST_MAX_EV];
};

static struct st_log st_logs[ST_VCPUS];
static struct hv_message_page st_pages[ST_VCPUS] __attribute__((aligned(4096)));

static inline uint64_t st_now(void)
{
	return rdmsr(HV_X64_MSR_TIME_REF_COUNT);
}

static inline volatile struct hv_message *st_slot(uint32_t sint)
{
	return &st_pages[guest_vcpu_id()].sint_message[sint];
}

static inline volatile struct st_log *st_log(void)
{
	return &st_logs[guest_vcpu_id()];
}

static inline void st_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

static void __attribute__((unused)) st_handler(struct ex_regs *regs)
{
	volatile struct st_log *log = st_log();
	volatile struct hv_message *m;
	struct st_event e = { .vector = regs->vector };
	struct hv_timer_message_payload p;

	e.now = st_now();
	if (e.vector >= V_SINT0 && e.vector < V_SINT0 + HV_SYNIC_SINT_COUNT) {
		m = st_slot(e.vector - V_SINT0);
		e.type = m->header.message_type;
		e.size = m->header.payload_size;
		e.flags = m->header.message_flags.asu8;
		memcpy(&p, (const void *)m->u.payload, sizeof(p));
		e.timer = p.timer_index;
		e.exp = p.expiration_time;
		e.dlv = p.delivery_time;
		/* TLFS: free the slot, then EOM if a message waits for it */
		m->header.message_type = HVMSG_NONE;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (m->header.message_flags.msg_pending)
			wrmsr(HV_X64_MSR_EOM, 0);
	} else {
		e.timer = e.vector - V_DIRECT0;
	}
	e.now2 = st_now();
	if (log->n < ST_MAX_EV)
		memcpy((void *)&log->ev[log->n], &e, sizeof(e));
	log->n++;
	st_eoi();
}

static void __attribute__((unused)) st_alarm_handler(struct ex_regs *regs)
{
	(void)regs;
	st_log()->alarms++;
	st_eoi();
}

/* The LAPIC one-shot in delta 100 ns units (16 ns ticks), or off. */
static inline void st_alarm(uint64_t delta)
{
	uint64_t ticks = delta * 100 / 16 + 1;

	apic_write(APIC_TMICT, 0);
	apic_write(APIC_TDCR, 0x3);		/* divide by 16 */
	apic_write(APIC_LVTT, V_ALARM);		/* one-shot */
	apic_write(APIC_TMICT, ticks > 0xffffffffu ? 0xffffffffu : ticks);
}

static inline void st_alarm_off(void)
{
	apic_write(APIC_TMICT, 0);
}

/* A window with interrupts on: what is pending is taken. */
static inline void st_irq_window(void)
{
	asm volatile("sti; nop; nop; nop; cli" ::: "memory");
}

/*
 * Halted with interrupts on until TIME_REF_COUNT reaches until, or (with
 * p) *p reaches want; timer interrupts and the alarm wake it. Returns with
 * interrupts off, the alarm off, after taking what was pending.
 */
static inline void st_sleep(uint64_t until, volatile uint64_t *p, uint64_t want)
{
	uint64_t now;

	cli();
	for (;;) {
		if (p && *p >= want)
			break;
		now = st_now();
		if (now >= until)
			break;
		st_alarm(until - now);
		safe_halt();
		cli();
	}
	st_alarm_off();
	st_irq_window();
}

static inline void st_guest_init(void)
{
	apic_enable(0);
}

/* ---- host ---- */

static struct kvm_cpuid_entry2 st_sup[HVL_CPUID_NR_LEAVES];

/* The whole test skips without Hyper-V, SynIC or an in-kernel irqchip. */
static inline void st_init(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env == HV_PLAIN)
		return;
	hv_leaves(st_sup);
	if (kvm_check_cap(KVM_CAP_IRQCHIP) <= 0)
		tap_skip_all("no KVM_CAP_IRQCHIP: SynIC needs the in-kernel LAPIC");
}

/*
 * In a scenario: SKIP it on plain KVM or where the supported leaves do
 * not offer synthetic timers (and SynIC).
 */
static inline void st_require(void)
{
	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	if (kvm_check_cap(KVM_CAP_HYPERV_SYNIC2) <= 0)
		test_skip("no KVM_CAP_HYPERV_SYNIC2");
	if (!hvsys_offers(st_sup, HV_MSR_SYNIC_AVAILABLE | HV_MSR_SYNTIMER_AVAILABLE))
		test_skip("KVM_GET_SUPPORTED_HV_CPUID offers no SynIC and synthetic timers");
}

/* The message page and SINT1-4 of an active SynIC, as a VMM sets them. */
static inline void st_synic_setup(struct kvm_vcpu *vcpu, unsigned int i)
{
	uint32_t s;

	vcpu_wrmsr(vcpu, HV_X64_MSR_SIMP,
		   (uint64_t)&st_pages[i] | HV_SYNIC_SIMP_ENABLE);
	for (s = 1; s <= ST_SINTS; s++)
		vcpu_wrmsr(vcpu, HV_X64_MSR_SINT0 + s, V_SINT0 + s);
}

/*
 * A VM with n vCPUs at guest_code, all runnable, with these leaves (NULL:
 * the supported ones), KVM_CAP_HYPERV_ENFORCE_CPUID if enforce; with
 * synic, SynIC active and set up (st_synic_setup). The logs and message
 * pages start empty.
 */
static inline struct kvm_vm *st_vm(unsigned int n, void *guest_code,
				   const struct kvm_cpuid_entry2 *leaf,
				   bool enforce, bool synic,
				   struct kvm_vcpu **vcpus)
{
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_vm *vm = vm_create(0, VM_IRQCHIP);
	unsigned int i;
	int v;

	for (i = 0; i < n; i++) {
		vcpus[i] = vm_vcpu_add(vm, guest_code);
		TEST_ASSERT(!ioctl(vcpus[i]->fd, KVM_SET_MP_STATE, &runnable),
			    "KVM_SET_MP_STATE(RUNNABLE)");
		if (synic)
			TEST_ASSERT(!vcpu_enable_cap(vcpus[i], KVM_CAP_HYPERV_SYNIC2, 0),
				    "KVM_ENABLE_CAP(KVM_CAP_HYPERV_SYNIC2)");
		vcpu_set_hv_leaves(vcpus[i], leaf ? leaf : st_sup);
		if (enforce)
			TEST_ASSERT(!vcpu_enable_cap(vcpus[i], KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
				    "KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENFORCE_CPUID)");
		if (synic)
			st_synic_setup(vcpus[i], i);
	}
	for (v = 1; v <= ST_SINTS; v++)
		vm_install_handler(vm, V_SINT0 + v, st_handler);
	for (v = 0; v < HV_SYNIC_STIMER_COUNT; v++)
		vm_install_handler(vm, V_DIRECT0 + v, st_handler);
	vm_install_handler(vm, V_ALARM, st_alarm_handler);
	memset(st_logs, 0, sizeof(st_logs));
	memset(st_pages, 0, sizeof(st_pages));
	sync_global_to_guest(vm, st_logs);
	sync_global_to_guest(vm, st_pages);
	return vm;
}

/* Copy the guest's logs and message pages back. */
static inline void st_fetch(struct kvm_vm *vm)
{
	sync_global_from_guest(vm, st_logs);
	sync_global_from_guest(vm, st_pages);
}

/* The module's stimer_expirations counter for the VM, -1 without. */
static inline int64_t st_expirations(struct kvm_vm *vm)
{
	uint64_t v;

	if (hv_env != HV_MODULE ||
	    !vm_debugfs_read(vm, "hvenlight", "stimer_expirations", &v))
		return -1;
	return v;
}

/* ---- host: reading the logs ---- */

static inline unsigned int ev_count(int cpu, uint32_t vector)
{
	unsigned int i, n = 0;

	for (i = 0; i < st_logs[cpu].n && i < ST_MAX_EV; i++)
		n += st_logs[cpu].ev[i].vector == vector;
	return n;
}

/* The k-th event of vector on cpu, or NULL. */
static inline const struct st_event *ev_get(int cpu, uint32_t vector, unsigned int k)
{
	unsigned int i;

	for (i = 0; i < st_logs[cpu].n && i < ST_MAX_EV; i++)
		if (st_logs[cpu].ev[i].vector == vector && !k--)
			return &st_logs[cpu].ev[i];
	return NULL;
}

/*
 * A timer message as it must be: its type and size, no flags, timer
 * index, expiration_time exp (if not 0), delivered and handled no earlier
 * than its expiration, handled after its delivery time and within ST_BOUND
 * of the expiration (or of since, for a count in the past).
 */
static inline bool msg_ok_since(const struct st_event *e, uint32_t timer,
				uint64_t exp, uint64_t since, char *why, size_t len)
{
	uint64_t from = e && e->exp > since ? e->exp : since;
	bool ok = e && e->type == HVMSG_TIMER_EXPIRED && e->size == PAYLOAD_SIZE &&
		  !e->flags && e->timer == timer && (!exp || e->exp == exp) &&
		  e->dlv >= e->exp && e->now >= e->dlv && e->now - from <= ST_BOUND;

	if (!e)
		snprintf(why, len, " timer %u: no message", timer);
	else if (!ok)
		snprintf(why, len, " timer %u: type %#x size %u flags %#x index %u exp %lu (want %lu) delivery %lu handled %lu",
			 timer, e->type, e->size, e->flags, e->timer, e->exp, exp,
			 e->dlv, e->now);
	return ok;
}

static inline bool msg_ok(const struct st_event *e, uint32_t timer,
			  uint64_t exp, char *why, size_t len)
{
	return msg_ok_since(e, timer, exp, 0, why, len);
}

/* A direct-mode interrupt: handled no earlier than exp, within ST_BOUND. */
static inline bool direct_ok(const struct st_event *e, uint64_t exp)
{
	return e && e->now >= exp && e->now - exp <= ST_BOUND;
}

/*
 * The ticks of a periodic message-mode timer on vector: armed at t_arm
 * (TIME_REF_COUNT read before its COUNT write) with period p, counted up
 * to t_end = t_arm + n * p + p / 2, disabled at t_off. Every message must
 * be right; the expirations a multiple of p after the first, which comes
 * p (plus the time to the write) after t_arm; none after t_off. n +-1
 * expirations up to t_end, counting the ticks a loaded host made the
 * timer skip (a late tick re-arms it for the next period to come) or drop
 * (a periodic tick finding its slot busy): each missing one must come
 * after a moment the vCPU is known to have been busy with the tick before
 * it (its delivery time, or the handler's clock once it freed the slot).
 */
static inline bool periodic_ok(int cpu, uint32_t vector, uint32_t timer, uint64_t p,
			       uint64_t t_arm, uint64_t t_end, uint64_t t_off,
			       char *why, size_t len)
{
	uint64_t n = (t_end - t_arm) / p, e0 = 0, prev = 0, seen = 0, acc = 0;
	uint64_t gap, lim, tail = 0;
	unsigned int k, d = 0, missed = 0, unjust = 0, phase = 0, after = 0;
	const struct st_event *e;
	char bad[256] = "";

	for (k = 0; (e = ev_get(cpu, vector, k)); k++) {
		if (!bad[0])
			msg_ok(e, timer, 0, bad, sizeof(bad));
		if (e->exp > t_off)
			after++;
		if (e->exp > t_end)
			continue;
		if (d && (e->exp <= prev || (e->exp - prev) % p)) {
			phase++;
		} else if (d && e->exp - prev > p) {
			gap = (e->exp - prev) / p - 1;
			missed += gap;
			unjust += prev + gap * p > seen + p / 2;
		}
		if (!d)
			e0 = e->exp;
		prev = e->exp;
		seen = e->dlv > e->now2 ? e->dlv : e->now2;
		d++;
	}
	if (d) {
		lim = seen + p / 2 < t_end ? seen + p / 2 : t_end;
		tail = lim > prev ? (lim - prev) / p : 0;
		acc = (prev - e0) / p + 1 + tail;
	}
	snprintf(why, len, "%lu periods of %lu ms: %lu expirations (%u handled, %lu skipped or dropped after late ticks), the first %lu us after arming%s%s%s%s",
		 n, p / MS, acc, d, missed + tail, d ? (e0 - t_arm) / 10 : 0,
		 phase ? ", OUT OF PHASE" : "",
		 unjust ? ", MISSING WITHOUT A LATE TICK" : "",
		 after ? ", TICKS AFTER THE DISABLE" : "", bad);
	return d && !bad[0] && !phase && !unjust && !after && e0 >= t_arm + p &&
	       e0 <= t_arm + p + ST_BOUND && acc + 1 >= n && acc <= n + 1;
}

/* stimer_expirations moved by exactly want (module), else a SKIP. */
static inline void check_counter(struct kvm_vm *vm, int64_t before,
				 int64_t want, const char *what)
{
	int64_t now = st_expirations(vm);

	if (now < 0 || before < 0)
		tap_skip("stimer_expirations: hvenlight's debugfs counter, module only");
	else
		tap_ok(now - before == want, "debugfs stimer_expirations: %ld for %s (want %ld)",
		       now - before, what, want);
}

static inline bool slots_empty(int cpu)
{
	int s;

	for (s = 0; s < HV_SYNIC_SINT_COUNT; s++)
		if (st_pages[cpu].sint_message[s].header.message_type)
			return false;
	return true;
}

/* ---- host: vCPUs in threads ---- */

struct st_thread {
	struct kvm_vcpu *vcpu;
	uint64_t kind;		/* UCALL_DONE, or how it stopped */
	struct ucall uc;
};

static void *st_run_thread(void *arg)
{
	struct st_thread *t = arg;

	t->kind = vcpu_run_noabort(t->vcpu, &t->uc);
	return NULL;
}

/* Run the vCPUs in threads to their next ucall; true if all were DONE. */
static inline bool st_run_all(struct kvm_vcpu **vcpus, unsigned int n,
			      char *why, size_t len)
{
	struct st_thread t[ST_VCPUS] = {};
	pthread_t th[ST_VCPUS];
	unsigned int i;
	bool ok = true;

	for (i = 0; i < n; i++) {
		t[i].vcpu = vcpus[i];
		TEST_ASSERT(!pthread_create(&th[i], NULL, st_run_thread, &t[i]),
			    "pthread_create");
	}
	why[0] = 0;
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (t[i].kind != UCALL_DONE) {
			snprintf(why + strlen(why), len - strlen(why),
				 " vCPU %u: %s", i, t[i].uc.msg);
			ok = false;
		}
	}
	return ok;
}

/* Run one vCPU to GUEST_DONE; the reason in why if it stopped otherwise. */
static inline bool st_run(struct kvm_vcpu *vcpu, char *why, size_t len)
{
	struct ucall uc;
	uint64_t kind = vcpu_run_noabort(vcpu, &uc);

	snprintf(why, len, " %.200s", kind == UCALL_DONE ? "" : uc.msg);
	return kind == UCALL_DONE;
}

#endif
