// SPDX-License-Identifier: GPL-2.0
/*
 * Synthetic timers in message mode (hv_stimer_neg.c: what must fail;
 * hv_stimer_vcpu.c: direct mode, halted and several vCPUs, the host's
 * view), each timer interrupt logged by the guest with the message in its
 * SIMP slot and TIME_REF_COUNT at that moment:
 *   (a) one-shots: HVMSG_TIMER_EXPIRED in the slot of the timer's SINT,
 *       timer_index, expiration_time = COUNT, delivery_time >= it; handled
 *       no earlier than the expiration and within ST_BOUND after it (1 s:
 *       TCG on a loaded host); the timer then disabled; a COUNT or CONFIG
 *       write re-arms it;
 *   (b) a one-shot count in the past: the message is in the slot as soon
 *       as the WRMSR retires;
 *   (c) periodic: N ticks in N periods +-1, every expiration a multiple of
 *       the period after the first, ticks skipped only after a late one;
 *   (d) auto-enable (and lazy) on the guest's COUNT write;
 *   (e) a busy slot: msg_pending set, the message delivered once the guest
 *       frees the slot and writes EOM; periodic ticks are dropped instead.
 * With the module, its debugfs stimer_expirations counts the expirations.
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; plain KVM skips.
 */
#include "hv_stimer.h"

#define DUMMY_TYPE	0x1234u	/* a guest's stand-in for an unread message */

/* ---- (a) one-shots in message mode ---- */

static uint64_t os_count[4], os_cfg[4], os_cnt[4];

static void oneshot_guest(void)
{
	uint64_t t0, n;

	st_guest_init();
	cli();
	t0 = st_now();
	for (n = 0; n < 4; n++) {
		os_count[n] = t0 + (10 + 10 * n) * MS;
		if (n < 2) {	/* CONFIG first, then COUNT; and the other way */
			wrmsr(st_config_msr(n), st_cfg_msg(n + 1, false));
			wrmsr(st_count_msr(n), os_count[n]);
		} else {
			wrmsr(st_count_msr(n), os_count[n]);
			wrmsr(st_config_msr(n), st_cfg_msg(n + 1, false));
		}
	}
	st_sleep(os_count[3] + ST_BOUND, &st_log()->n, 4);
	st_sleep(st_now() + 10 * MS, NULL, 0);
	for (n = 0; n < 4; n++) {
		os_cfg[n] = rdmsr(st_config_msr(n));
		os_cnt[n] = rdmsr(st_count_msr(n));
	}
	GUEST_DONE();
}

static void test_oneshot(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[512] = "", lat[256] = "";
	const struct st_event *e;
	bool ran, ok = true, off = true;
	int64_t c0;
	int n;

	st_require();
	vm = st_vm(1, oneshot_guest, NULL, false, true, &vcpu);
	c0 = st_expirations(vm);
	ran = st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, os_count);
	sync_global_from_guest(vm, os_cfg);
	sync_global_from_guest(vm, os_cnt);
	for (n = 0; n < 4; n++) {
		e = ev_get(0, V_SINT0 + n + 1, 0);
		ok &= ev_count(0, V_SINT0 + n + 1) == 1 &&
		      msg_ok(e, n, os_count[n], bad + strlen(bad), sizeof(bad) - strlen(bad));
		if (e)
			snprintf(lat + strlen(lat), sizeof(lat) - strlen(lat), " %lu/%lu",
				 (e->dlv - e->exp) / 10, (e->now - e->exp) / 10);
		off &= os_cfg[n] == st_off(st_cfg_msg(n + 1, false)) && os_cnt[n] == os_count[n];
	}
	tap_ok(ran && ok && st_logs[0].n == 4,
	       "STIMER0-3 one-shot at +10/20/30/40 ms on SINT1-4: one HVMSG_TIMER_EXPIRED each in its slot, timer_index, expiration_time = COUNT, delivery_time >= it, handled no earlier and within 1 s (us late delivered/handled:%s)%s%s",
	       lat, bad, why);
	tap_ok(off, "... each CONFIG then reads disabled, COUNT unchanged");
	check_counter(vm, c0, 4, "4 one-shots");
	vm_free(vm);
}

/* ---- (a) re-arming by COUNT and CONFIG writes ---- */

static uint64_t re_count0, re_count1, re_t0, re_t1;

/*
 * STIMER0 armed for +400 ms, then COUNT = +5 ms; STIMER1 armed for +100 ms
 * on SINT1, then moved to SINT2 by a CONFIG write. re_t0 and re_t1: when
 * the rewrites were done (a loaded host may have been slower than that).
 */
static void rearm_guest(void)
{
	uint64_t t0;

	st_guest_init();
	cli();
	t0 = st_now();
	wrmsr(st_config_msr(0), st_cfg_msg(1, false));
	wrmsr(st_count_msr(0), t0 + 400 * MS);
	wrmsr(st_config_msr(1), st_cfg_msg(1, false));
	re_count1 = t0 + 100 * MS;
	wrmsr(st_count_msr(1), re_count1);
	re_count0 = st_now() + 5 * MS;
	wrmsr(st_count_msr(0), re_count0);
	re_t0 = st_now();
	wrmsr(st_config_msr(1), st_cfg_msg(2, false));
	re_t1 = st_now();
	st_sleep(t0 + 450 * MS, NULL, 0);
	GUEST_DONE();
}

static void test_rearm(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[512] = "";
	bool ran, ok;

	st_require();
	vm = st_vm(1, rearm_guest, NULL, false, true, &vcpu);
	ran = st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, re_count0);
	sync_global_from_guest(vm, re_count1);
	sync_global_from_guest(vm, re_t0);
	sync_global_from_guest(vm, re_t1);
	if (ran && (re_t0 >= re_count0 || re_t1 >= re_count1)) {
		vm_free(vm);
		test_skip("the host was too slow: the rewrites came after the deadlines (%lu/%lu us late)",
			  re_t0 > re_count0 ? (re_t0 - re_count0) / 10 : 0,
			  re_t1 > re_count1 ? (re_t1 - re_count1) / 10 : 0);
	}
	ok = msg_ok(ev_get(0, V_SINT0 + 1, 0), 0, re_count0, bad, sizeof(bad));
	ok = msg_ok(ev_get(0, V_SINT0 + 2, 0), 1, re_count1, bad + strlen(bad),
		    sizeof(bad) - strlen(bad)) && ok;
	tap_ok(ran && ok && st_logs[0].n == 2,
	       "STIMER0 at +400 ms re-armed by COUNT = +5 ms fires once at +5 ms; STIMER1 at +100 ms moved from SINT1 to SINT2 by a CONFIG write fires once on SINT2 (%lu messages in 450 ms)%s%s",
	       st_logs[0].n, bad, why);
	vm_free(vm);
}

/* ---- (b) a count in the past ---- */

static uint64_t past_type[3], past_exp[3], past_n[3], past_cnt[3], past_at[3];

/*
 * Three one-shots due at once: CONFIG, then COUNT 1; COUNT (the time just
 * read), then CONFIG; then CONFIG alone, the fired timer's COUNT being in
 * the past by now.
 */
static void past_guest(void)
{
	volatile struct hv_message *m = st_slot(1);
	int i;

	st_guest_init();
	cli();
	for (i = 0; i < 3; i++) {
		past_at[i] = st_now();
		past_cnt[i] = i == 0 ? 1 : i == 1 ? past_at[i] : past_cnt[1];
		if (i == 0)
			wrmsr(st_config_msr(0), st_cfg_msg(1, false));
		if (i < 2)
			wrmsr(st_count_msr(0), past_cnt[i]);
		if (i > 0)
			wrmsr(st_config_msr(0), st_cfg_msg(1, false));
		past_type[i] = m->header.message_type;
		past_exp[i] = ((volatile struct hv_timer_message_payload *)
			       m->u.payload)->expiration_time;
		st_irq_window();
		past_n[i] = st_log()->n;
	}
	GUEST_DONE();
}

static void test_past(void)
{
	static const char *const how[] = {
		"CONFIG, then COUNT 1",
		"COUNT = TIME_REF_COUNT just read, then CONFIG",
		"CONFIG alone, the fired timer's COUNT now in the past (in-tree: fires again)",
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[256];
	bool ran;
	int i;

	st_require();
	vm = st_vm(1, past_guest, NULL, false, true, &vcpu);
	ran = st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, past_type);
	sync_global_from_guest(vm, past_exp);
	sync_global_from_guest(vm, past_n);
	sync_global_from_guest(vm, past_cnt);
	sync_global_from_guest(vm, past_at);
	for (i = 0; i < 3; i++) {
		bad[0] = 0;
		tap_ok(ran && past_type[i] == HVMSG_TIMER_EXPIRED && past_exp[i] == past_cnt[i] &&
		       past_n[i] == (uint64_t)i + 1 &&
		       msg_ok_since(ev_get(0, V_SINT0 + 1, i), 0, past_cnt[i], past_at[i],
				    bad, sizeof(bad)),
		       "one-shot due at once, %s: the message is in the slot when the WRMSR retires (type %#lx, expiration %lu = %lu), handled in the next interrupt window (%lu)%s%s",
		       how[i], past_type[i], past_exp[i], past_cnt[i], past_n[i], bad, why);
	}
	vm_free(vm);
}

/* ---- (c) periodic ---- */

#define PER_N	20
static uint64_t per_arm, per_end, per_off;

static void periodic_guest(void)
{
	st_guest_init();
	cli();
	wrmsr(st_config_msr(2), st_cfg_msg(3, true));
	per_arm = st_now();
	wrmsr(st_count_msr(2), P10);
	per_end = per_arm + PER_N * P10 + P10 / 2;
	st_sleep(per_end, NULL, 0);
	wrmsr(st_config_msr(2), 0);
	per_off = st_now();
	st_sleep(per_off + 3 * P10, NULL, 0);
	GUEST_DONE();
}

static void test_periodic(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], msg[512];
	uint64_t i, maxlate = 0;
	int64_t c0, c1;
	bool ran;

	st_require();
	vm = st_vm(1, periodic_guest, NULL, false, true, &vcpu);
	c0 = st_expirations(vm);
	ran = st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, per_arm);
	sync_global_from_guest(vm, per_end);
	sync_global_from_guest(vm, per_off);
	tap_ok(ran && periodic_ok(0, V_SINT0 + 3, 2, P10, per_arm, per_end, per_off,
				  msg, sizeof(msg)) && st_logs[0].n == ev_count(0, V_SINT0 + 3),
	       "STIMER2 periodic 10 ms on SINT3: %s; none after CONFIG 0%s", msg, why);
	/* A tick is dropped (busy slot) only when the one before came late. */
	for (i = 0; i < st_logs[0].n && i < ST_MAX_EV; i++)
		if (st_logs[0].ev[i].now2 - st_logs[0].ev[i].exp > maxlate)
			maxlate = st_logs[0].ev[i].now2 - st_logs[0].ev[i].exp;
	c1 = st_expirations(vm);
	if (c1 >= 0 && c0 >= 0)
		tap_ok((uint64_t)(c1 - c0) == st_logs[0].n ||
		       ((uint64_t)(c1 - c0) > st_logs[0].n && maxlate >= P10 / 2),
		       "debugfs stimer_expirations: %ld for %lu ticks handled (more only after a late tick: %lu us at most)",
		       c1 - c0, st_logs[0].n, maxlate / 10);
	else
		tap_skip("stimer_expirations: hvenlight's debugfs counter, module only");
	vm_free(vm);
}

/* ---- (d) auto-enable and lazy ---- */

static uint64_t au_cfg[6], au_count[2], au_tread[2], au_arm, au_end, au_off;

static void auto_guest(void)
{
	union hv_stimer_config c = { .auto_enable = 1, .lazy = 1, .sintx = 1 };
	union hv_stimer_config cp = { .auto_enable = 1, .periodic = 1, .sintx = 2 };
	volatile uint64_t *n = &st_log()->n;
	int i;

	st_guest_init();
	cli();
	wrmsr(st_config_msr(1), c.as_uint64);
	for (i = 0; i < 2; i++) {
		au_count[i] = st_now() + 5 * MS;
		wrmsr(st_count_msr(1), au_count[i]);
		au_cfg[2 * i] = rdmsr(st_config_msr(1));
		au_tread[i] = st_now();
		st_sleep(au_count[i] + ST_BOUND, n, i + 1);
		au_cfg[2 * i + 1] = rdmsr(st_config_msr(1));
	}
	st_sleep(st_now() + 10 * MS, NULL, 0);
	wrmsr(st_config_msr(2), cp.as_uint64);
	au_arm = st_now();
	wrmsr(st_count_msr(2), 5 * MS);
	au_cfg[4] = rdmsr(st_config_msr(2));
	au_end = au_arm + 4 * 5 * MS + 5 * MS / 2;
	st_sleep(au_end, NULL, 0);
	wrmsr(st_count_msr(2), 0);
	au_off = st_now();
	au_cfg[5] = rdmsr(st_config_msr(2));
	st_sleep(au_off + 20 * MS, NULL, 0);
	GUEST_DONE();
}

static void test_auto(void)
{
	union hv_stimer_config c = { .auto_enable = 1, .lazy = 1, .sintx = 1 };
	union hv_stimer_config cp = { .auto_enable = 1, .periodic = 1, .sintx = 2 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[512] = "", msg[512];
	bool ran, ok, en = true;
	int i;

	st_require();
	vm = st_vm(1, auto_guest, NULL, false, true, &vcpu);
	ran = st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, au_cfg);
	sync_global_from_guest(vm, au_count);
	sync_global_from_guest(vm, au_tread);
	/* Read back enabled, unless it was due (and done) by then. */
	for (i = 0; i < 2; i++)
		en &= au_cfg[2 * i] == (c.as_uint64 | 1) ||
		      (au_cfg[2 * i] == c.as_uint64 && au_tread[i] >= au_count[i]);
	sync_global_from_guest(vm, au_arm);
	sync_global_from_guest(vm, au_end);
	sync_global_from_guest(vm, au_off);
	ok = msg_ok(ev_get(0, V_SINT0 + 1, 0), 1, au_count[0], bad, sizeof(bad));
	ok = msg_ok(ev_get(0, V_SINT0 + 1, 1), 1, au_count[1], bad + strlen(bad),
		    sizeof(bad) - strlen(bad)) && ok;
	tap_ok(ran && ok && ev_count(0, V_SINT0 + 1) == 2 && en &&
	       au_cfg[1] == c.as_uint64 && au_cfg[3] == c.as_uint64,
	       "one-shot with auto_enable and lazy (CONFIG %#lx): each COUNT write enables it (%#lx, %#lx), it fires once and is disabled again (%#lx, %#lx)%s%s",
	       (uint64_t)c.as_uint64, au_cfg[0], au_cfg[2], au_cfg[1], au_cfg[3], bad, why);
	tap_ok(ran && au_cfg[4] == (cp.as_uint64 | 1) && au_cfg[5] == cp.as_uint64 &&
	       periodic_ok(0, V_SINT0 + 2, 2, 5 * MS, au_arm, au_end, au_off, msg, sizeof(msg)),
	       "periodic with auto_enable (%#lx): COUNT 5 ms enables it (%#lx), %s; COUNT 0 disables it (%#lx)",
	       (uint64_t)cp.as_uint64, au_cfg[4], msg, au_cfg[5]);
	vm_free(vm);
}

/* ---- (e) a busy slot ---- */

struct busy {
	uint64_t type0, flags0, cfg0, n0, type1, flags1;
	uint64_t t_eom, type2, timer2, exp2, flags2, n1, cfg1;
	uint64_t type3, flags3, irr3, n2, n3;
};

static struct busy busy;

static void busy_guest(void)
{
	volatile struct hv_message *m = st_slot(1), *m2 = st_slot(2);
	volatile struct hv_timer_message_payload *pl = (void *)m->u.payload;
	struct busy *b = &busy;
	uint64_t t0;

	st_guest_init();
	cli();
	m->header.message_type = DUMMY_TYPE;
	wrmsr(st_config_msr(0), st_cfg_msg(1, false));
	wrmsr(st_count_msr(0), 1);
	b->type0 = m->header.message_type;
	b->flags0 = m->header.message_flags.asu8;
	b->cfg0 = rdmsr(st_config_msr(0));
	st_sleep(st_now() + 10 * MS, NULL, 0);
	b->n0 = st_log()->n;
	b->type1 = m->header.message_type;
	b->flags1 = m->header.message_flags.asu8;
	/* TLFS: free the slot, then EOM since msg_pending is set */
	m->header.message_type = HVMSG_NONE;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	b->t_eom = st_now();
	wrmsr(HV_X64_MSR_EOM, 0);
	b->type2 = m->header.message_type;
	b->timer2 = pl->timer_index;
	b->exp2 = pl->expiration_time;
	b->flags2 = m->header.message_flags.asu8;
	st_irq_window();
	b->n1 = st_log()->n;
	b->cfg1 = rdmsr(st_config_msr(0));

	/* A periodic timer on a busy slot: ticks dropped, not retried. */
	m2->header.message_type = DUMMY_TYPE;
	wrmsr(st_config_msr(1), st_cfg_msg(2, true));
	t0 = st_now();
	wrmsr(st_count_msr(1), 5 * MS);
	while (st_now() < t0 + 30 * MS)
		;
	b->type3 = m2->header.message_type;
	b->flags3 = m2->header.message_flags.asu8;
	b->irr3 = apic_read(APIC_IRR + (V_SINT0 + 2) / 32 * 0x10) >> (V_SINT0 + 2) % 32 & 1;
	m2->header.message_type = HVMSG_NONE;
	b->n2 = st_log()->n;
	st_sleep(st_now() + ST_BOUND, &st_log()->n, b->n2 + 2);
	b->n3 = st_log()->n;
	wrmsr(st_config_msr(1), 0);
	GUEST_DONE();
}

static void test_busy(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct busy *b = &busy;
	char why[256], bad[256] = "";
	int64_t c0;
	bool ran;

	st_require();
	vm = st_vm(1, busy_guest, NULL, false, true, &vcpu);
	c0 = st_expirations(vm);
	ran = st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, busy);
	tap_ok(ran && b->type0 == DUMMY_TYPE && b->flags0 == 1 && b->cfg0 == st_cfg_msg(1, false) &&
	       b->n0 == 0 && b->type1 == DUMMY_TYPE && b->flags1 == 1,
	       "one-shot due while its slot holds an unread message: msg_pending set (flags %#lx), the slot kept (type %#lx), the timer stays enabled (%#lx), no SINT in 10 ms (%lu)%s",
	       b->flags0, b->type0, b->cfg0, b->n0, why);
	tap_ok(ran && b->type2 == HVMSG_TIMER_EXPIRED && b->timer2 == 0 && b->exp2 == 1 &&
	       b->flags2 == 0 && b->n1 == 1 &&
	       msg_ok_since(ev_get(0, V_SINT0 + 1, 0), 0, 1, b->t_eom, bad, sizeof(bad)) &&
	       b->cfg1 == st_off(st_cfg_msg(1, false)),
	       "the guest frees the slot and writes EOM: the timer message is there when the WRMSR retires (type %#lx, timer %lu, flags %#lx), its SINT follows once (%lu), the timer is then disabled (%#lx)%s",
	       b->type2, b->timer2, b->flags2, b->n1, b->cfg1, bad);
	tap_ok(ran && b->type3 == DUMMY_TYPE && b->flags3 == 0 && !b->irr3 && b->n2 == b->n1 &&
	       b->n3 >= b->n2 + 2,
	       "periodic 5 ms on a busy slot for 30 ms: ticks dropped (no msg_pending: %#lx, slot kept, SINT2 not raised: IRR %lu), once freed the ticks come again (%lu)",
	       b->flags3, b->irr3, b->n3 - b->n2);
	if (st_expirations(vm) >= 0)
		tap_diag("stimer_expirations: %ld (each attempt of the busy one-shot and each dropped periodic tick counts)",
			 st_expirations(vm) - c0);
	vm_free(vm);
}

int main(void)
{
	st_init();
	if (hv_env == HV_PLAIN)
		tap_skip_all("%s", NO_MODULE);
	TEST_RUN("one-shots in message mode", test_oneshot());
	TEST_RUN("re-arming by COUNT and CONFIG writes", test_rearm());
	TEST_RUN("a one-shot count in the past", test_past());
	TEST_RUN("periodic", test_periodic());
	TEST_RUN("auto-enable and lazy", test_auto());
	TEST_RUN("busy message slot", test_busy());
	return tap_done();
}
