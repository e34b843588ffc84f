// SPDX-License-Identifier: GPL-2.0
/*
 * Synthetic timers and their vCPUs (hv_stimer.c: message mode), each timer
 * interrupt logged by the guest with TIME_REF_COUNT at that moment (and
 * the message in its SIMP slot):
 *   (f) direct mode: the timer's vector once per expiration, no earlier
 *       than it and within ST_BOUND, never a message; periodic: at most one
 *       interrupt per period;
 *   (g) a halted vCPU (HLT with interrupts on) is woken by its timer, in
 *       message and in direct mode, and by each periodic tick; with
 *       interrupts off, in-tree's pending timer ends the HLT all the same
 *       (the host sends an NMI after 3 s where it does not);
 *   (h) 4 timers on each of 2 vCPUs at once: one-shots, periodic messages
 *       and periodic direct mode, each in its own vCPU's page;
 *   (i) the host: CONFIG/COUNT round trips, STIMER0_CONFIG in
 *       KVM_GET_MSR_INDEX_LIST, a periodic timer migrated by its MSRs
 *       (SynIC MSRs, CONFIGs, COUNTs, then the LAPIC, all before the first
 *       KVM_RUN) ticks in the new VM with its period before the guest
 *       touches it.
 * With the module, its debugfs stimer_expirations counts the expirations.
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; plain KVM skips.
 */
#include "hv_stimer.h"

/* ---- (f) direct mode ---- */

#define DIR_N	10
static uint64_t dir_count[3], dir_n[3], dir_cfg[3], dir_nper, dir_arm, dir_off;

static void direct_guest(void)
{
	union hv_stimer_config c = { .as_uint64 = st_cfg_direct(3, false) };
	volatile uint64_t *n = &st_log()->n;
	int i;

	st_guest_init();
	cli();
	c.sintx = 1;		/* ignored in direct mode */
	for (i = 0; i < 3; i++) {
		dir_count[i] = st_now() + 5 * MS;
		/* COUNT first: the fired timer's old COUNT is in the past. */
		wrmsr(st_count_msr(3), dir_count[i]);
		wrmsr(st_config_msr(3), c.as_uint64);
		st_sleep(dir_count[i] + ST_BOUND, n, i + 1);
		st_sleep(st_now() + 5 * MS, NULL, 0);
		dir_n[i] = *n;
		dir_cfg[i] = rdmsr(st_config_msr(3));
	}
	GUEST_SYNC(0);
	wrmsr(st_config_msr(3), st_cfg_direct(3, true));
	dir_arm = st_now();
	wrmsr(st_count_msr(3), P10);
	st_sleep(dir_arm + DIR_N * P10 + P10 / 2, NULL, 0);
	wrmsr(st_config_msr(3), 0);
	dir_off = st_now();
	st_sleep(dir_off + 3 * P10, NULL, 0);
	dir_nper = *n - 3;
	GUEST_DONE();
}

static void test_direct(void)
{
	union hv_stimer_config c = { .as_uint64 = st_cfg_direct(3, false) };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], lat[128] = "";
	bool ran, ok = true;
	int64_t c0, c1, c2;
	struct ucall uc;
	uint64_t maxd;
	int i;

	st_require();
	if (!(st_sup[LEAF_FEATURES].edx & HV_STIMER_DIRECT_MODE_AVAILABLE))
		test_skip("KVM_GET_SUPPORTED_HV_CPUID offers no direct mode");
	c.sintx = 1;
	vm = st_vm(1, direct_guest, NULL, false, true, &vcpu);
	c0 = st_expirations(vm);
	ran = vcpu_run_noabort(vcpu, &uc) == UCALL_SYNC;
	c1 = st_expirations(vm);
	ran = ran && st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, dir_count);
	sync_global_from_guest(vm, dir_n);
	sync_global_from_guest(vm, dir_cfg);
	sync_global_from_guest(vm, dir_nper);
	sync_global_from_guest(vm, dir_arm);
	sync_global_from_guest(vm, dir_off);
	maxd = (dir_off - dir_arm) / P10;
	for (i = 0; i < 3; i++) {
		const struct st_event *e = ev_get(0, V_DIRECT0 + 3, i);

		ok &= dir_n[i] == (uint64_t)i + 1 && direct_ok(e, dir_count[i]) &&
		      dir_cfg[i] == st_off(c.as_uint64);
		if (e)
			snprintf(lat + strlen(lat), sizeof(lat) - strlen(lat), " %lu",
				 (e->now - dir_count[i]) / 10);
	}
	tap_ok(ran && ok && slots_empty(0),
	       "direct mode one-shot (CONFIG %#lx, SINTx 1 ignored), 3 times: vector %#x once each (%lu, %lu, %lu), no earlier than COUNT, within 1 s (us late:%s), then disabled; no message in any slot%s",
	       (uint64_t)c.as_uint64, V_DIRECT0 + 3, dir_n[0], dir_n[1], dir_n[2], lat, why);
	tap_ok(ran && dir_nper >= 1 && dir_nper <= maxd && slots_empty(0) &&
	       ev_count(0, V_DIRECT0 + 3) == st_logs[0].n,
	       "direct mode periodic 10 ms for %lu periods up to its disable: %lu interrupts (at most one per period), no message",
	       maxd, dir_nper);
	c2 = st_expirations(vm);
	if (c2 >= 0 && c1 >= 0 && c0 >= 0)
		tap_ok(c1 - c0 == 3 && (uint64_t)(c2 - c1) >= dir_nper,
		       "debugfs stimer_expirations: %ld for the 3 one-shots, %ld for the %lu periodic interrupts (not fewer)",
		       c1 - c0, c2 - c1, dir_nper);
	else
		tap_skip("stimer_expirations: hvenlight's debugfs counter, module only");
	vm_free(vm);
}

/* ---- (g) a halted vCPU ---- */

static uint64_t h_exp[2], h_woke[2], h_n[3], h_alarms[3];

static void halt_guest(void)
{
	volatile struct st_log *log = st_log();
	int i;

	st_guest_init();
	for (i = 0; i < 2; i++) {
		cli();
		h_exp[i] = st_now() + 20 * MS;
		wrmsr(st_config_msr(i), i ? st_cfg_direct(1, false) : st_cfg_msg(1, false));
		wrmsr(st_count_msr(i), h_exp[i]);
		st_alarm(5000 * MS);
		safe_halt();
		cli();
		h_woke[i] = st_now();
		h_n[i] = log->n;
		h_alarms[i] = log->alarms;
		st_alarm_off();
	}
	wrmsr(st_config_msr(2), st_cfg_msg(3, true));
	wrmsr(st_count_msr(2), P10);
	st_alarm(5000 * MS);
	for (i = 0; i < 5; i++) {
		safe_halt();
		cli();
	}
	h_n[2] = log->n - 2;
	h_alarms[2] = log->alarms;
	st_alarm_off();
	wrmsr(st_config_msr(2), 0);
	GUEST_DONE();
}

static void test_halted(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	bool ran;
	int i;

	st_require();
	vm = st_vm(1, halt_guest, NULL, false, true, &vcpu);
	ran = st_run(vcpu, why, sizeof(why));
	sync_global_from_guest(vm, h_exp);
	sync_global_from_guest(vm, h_woke);
	sync_global_from_guest(vm, h_n);
	sync_global_from_guest(vm, h_alarms);
	for (i = 0; i < 2; i++)
		tap_ok(ran && h_n[i] == (uint64_t)i + 1 && !h_alarms[i] && h_woke[i] >= h_exp[i] &&
		       h_woke[i] - h_exp[i] <= ST_BOUND,
		       "%s one-shot at +20 ms, the vCPU in HLT with interrupts on: woken by it (%lu timer interrupts, %lu alarms), %lu us after the expiration%s",
		       i ? "direct-mode" : "message-mode", h_n[i] - i, h_alarms[i],
		       h_woke[i] >= h_exp[i] ? (h_woke[i] - h_exp[i]) / 10 : 0, why);
	tap_ok(ran && h_n[2] >= 5 && !h_alarms[2],
	       "periodic 10 ms: 5 HLTs in a row, each ended by a tick (%lu ticks, %lu alarms)",
	       h_n[2], h_alarms[2]);
	vm_free(vm);
}

/* ---- (g) HLT with interrupts off ---- */

static uint64_t hc_exp, hc_woke, hc_n, hc_nmis, hc_n2, hc_pre;

static void nmi_handler(struct ex_regs *regs)
{
	(void)regs;
	hc_nmis++;
}

static void hltcli_guest(void)
{
	st_guest_init();
	cli();
	hc_exp = st_now() + 5 * MS;
	wrmsr(st_count_msr(3), hc_exp);
	wrmsr(st_config_msr(3), st_cfg_msg(1, false));
	/* Due already (a slow host)? Nothing exits between this and HLT. */
	hc_pre = st_slot(1)->header.message_type;
	asm volatile("hlt" ::: "memory");
	hc_woke = st_now();
	hc_n = st_log()->n;
	st_irq_window();
	hc_n2 = st_log()->n;
	GUEST_DONE();
}

/* After a while, an NMI (KVM_SIGNAL_MSI) ends a HLT that nothing else ends. */
struct hc_run {
	struct kvm_vcpu *vcpu;
	volatile bool done;
	char why[256];
	bool ran;
};

static void *hc_thread(void *arg)
{
	struct hc_run *h = arg;

	h->ran = st_run(h->vcpu, h->why, sizeof(h->why));
	h->done = true;
	return NULL;
}

static void test_hlt_cli(void)
{
	struct kvm_msi nmi = { .address_lo = 0xfee00000, .data = 0x400 };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct hc_run h = {};
	struct kvm_vm *vm;
	pthread_t th;
	int i;

	st_require();
	vm = st_vm(1, hltcli_guest, NULL, false, true, &h.vcpu);
	vm_install_handler(vm, NMI_VECTOR, nmi_handler);
	TEST_ASSERT(!pthread_create(&th, NULL, hc_thread, &h), "pthread_create");
	for (i = 0; i < 300 && !h.done; i++)
		nanosleep(&ts, NULL);
	if (!h.done)
		TEST_ASSERT(ioctl(vm->fd, KVM_SIGNAL_MSI, &nmi) >= 0, "KVM_SIGNAL_MSI(NMI)");
	pthread_join(th, NULL);
	st_fetch(vm);
	sync_global_from_guest(vm, hc_exp);
	sync_global_from_guest(vm, hc_woke);
	sync_global_from_guest(vm, hc_n);
	sync_global_from_guest(vm, hc_nmis);
	sync_global_from_guest(vm, hc_n2);
	sync_global_from_guest(vm, hc_pre);
	if (h.ran && hc_pre) {
		vm_free(vm);
		test_skip("the host was too slow: the timer was due before the HLT");
	}
	if (hv_env == HV_MODULE)
		tap_ok(h.ran && hc_nmis && !hc_n,
		       "HLT with interrupts off, a one-shot due at +5 ms: the vCPU stays halted, as on hardware, until the host's NMI (%lu NMIs), the SINT not taken yet (%lu) (" INTENTIONAL("in-tree's pending timer ends the HLT") ")%s",
		       hc_nmis, hc_n, h.why);
	else
		tap_ok(h.ran && !hc_nmis && hc_woke >= hc_exp && !hc_n,
		       "in-tree: HLT with interrupts off, a one-shot due at +5 ms: its pending expiration ends the HLT (kvm_vcpu_has_events), the SINT not taken yet (%lu); %s (%lu NMIs)%s",
		       hc_n, hc_nmis ? "still halted after 3 s, ended by an NMI" : "not by the host's NMI",
		       hc_nmis, h.why);
	tap_ok(h.ran && hc_n2 == 1 &&
	       msg_ok_since(ev_get(0, V_SINT0 + 1, 0), 3, hc_exp, hc_woke, h.why, sizeof(h.why)),
	       "... after the HLT, STI takes the SINT once, with the timer's message (%lu)%s",
	       hc_n2, h.why);
	vm_free(vm);
}

/* ---- (h) 4 timers on each of 2 vCPUs ---- */

#define SMP_P3	(15 * MS)
static uint64_t smp_c[ST_VCPUS][2], smp_arm[ST_VCPUS][2], smp_end[ST_VCPUS], smp_off[ST_VCPUS];

static void smp_guest(uint64_t id)
{
	uint64_t t0;
	int n;

	st_guest_init();
	cli();
	t0 = st_now();
	smp_c[id][0] = t0 + (10 + 3 * id) * MS;
	smp_c[id][1] = t0 + (25 + 3 * id) * MS;
	wrmsr(st_config_msr(0), st_cfg_msg(1, false));
	wrmsr(st_count_msr(0), smp_c[id][0]);
	wrmsr(st_count_msr(1), smp_c[id][1]);
	wrmsr(st_config_msr(1), st_cfg_msg(2, false));
	wrmsr(st_config_msr(2), st_cfg_msg(3, true));
	smp_arm[id][0] = st_now();
	wrmsr(st_count_msr(2), P10);
	wrmsr(st_config_msr(3), st_cfg_direct(3, true));
	smp_arm[id][1] = st_now();
	wrmsr(st_count_msr(3), SMP_P3);
	smp_end[id] = smp_arm[id][0] + 15 * P10 + P10 / 2;
	st_sleep(smp_end[id], NULL, 0);
	for (n = 0; n < HV_SYNIC_STIMER_COUNT; n++)
		wrmsr(st_config_msr(n), 0);
	smp_off[id] = st_now();
	st_sleep(smp_off[id] + 3 * SMP_P3, NULL, 0);
	GUEST_DONE();
}

static void test_smp(void)
{
	struct kvm_vcpu *vcpus[ST_VCPUS];
	struct kvm_vm *vm;
	char why[512], bad[512], msg[512];
	uint64_t nd, maxd;
	bool ran, ok;
	int i;

	st_require();
	vm = st_vm(ST_VCPUS, smp_guest, NULL, false, true, vcpus);
	for (i = 0; i < ST_VCPUS; i++)
		vcpu_args_set(vcpus[i], 1, (uint64_t)i);
	ran = st_run_all(vcpus, ST_VCPUS, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, smp_c);
	sync_global_from_guest(vm, smp_arm);
	sync_global_from_guest(vm, smp_end);
	sync_global_from_guest(vm, smp_off);
	for (i = 0; i < ST_VCPUS; i++) {
		bad[0] = 0;
		ok = ev_count(i, V_SINT0 + 1) == 1 && ev_count(i, V_SINT0 + 2) == 1;
		ok = msg_ok(ev_get(i, V_SINT0 + 1, 0), 0, smp_c[i][0], bad, sizeof(bad)) && ok;
		ok = msg_ok(ev_get(i, V_SINT0 + 2, 0), 1, smp_c[i][1], bad + strlen(bad),
			    sizeof(bad) - strlen(bad)) && ok;
		tap_ok(ran && ok, "vCPU %d: its one-shots STIMER0 (SINT1) and STIMER1 (SINT2) once each, in its own message page, with its own COUNTs%s%s",
		       i, bad, why);
		ok = periodic_ok(i, V_SINT0 + 3, 2, P10, smp_arm[i][0], smp_end[i], smp_off[i],
				 msg, sizeof(msg));
		tap_ok(ran && ok, "vCPU %d: STIMER2 periodic on SINT3: %s", i, msg);
		nd = ev_count(i, V_DIRECT0 + 3);
		maxd = (smp_off[i] - smp_arm[i][1]) / SMP_P3 + 1;
		tap_ok(ran && nd >= 1 && nd <= maxd &&
		       st_logs[i].n == nd + 2 + ev_count(i, V_SINT0 + 3) && slots_empty(i),
		       "vCPU %d: STIMER3 direct periodic 15 ms: %lu interrupts in %lu periods, nothing else arrived, no message left",
		       i, nd, maxd - 1);
	}
	vm_free(vm);
}

/* ---- (i) the host's view: round trips, the MSR list, migration ---- */

static bool msr_listed(uint32_t msr)
{
	struct kvm_msr_list *l;
	bool found = false;
	uint32_t i;

	l = calloc(1, sizeof(*l) + 4096 * sizeof(l->indices[0]));
	TEST_ASSERT(l, "calloc");
	l->nmsrs = 4096;
	TEST_ASSERT(!ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, l), "KVM_GET_MSR_INDEX_LIST");
	for (i = 0; i < l->nmsrs; i++)
		found |= l->indices[i] == msr;
	free(l);
	return found;
}

static uint64_t mig_arm, mig_end;

static void mig_src_guest(void)
{
	st_guest_init();
	cli();
	wrmsr(st_config_msr(0), st_cfg_msg(1, true));
	wrmsr(st_count_msr(0), P10);
	wrmsr(st_config_msr(1), st_cfg_msg(2, false));
	wrmsr(st_count_msr(1), st_now() + 100000 * MS);
	st_sleep(st_now() + ST_BOUND, &st_log()->n, 2);
	GUEST_SYNC(0);
}

static void mig_dst_guest(void)
{
	st_guest_init();
	cli();
	mig_arm = st_now();
	mig_end = mig_arm + 6 * P10 + P10 / 2;
	st_sleep(mig_end, NULL, 0);
	GUEST_SYNC(0);
}

static void test_host(void)
{
	static const uint32_t synic[] = { HV_X64_MSR_SIMP, HV_X64_MSR_SINT0 + 1,
					  HV_X64_MSR_SINT0 + 2 };
	union hv_stimer_config c = { .periodic = 1, .lazy = 1, .apic_vector = 0x77 };
	struct kvm_vcpu *vcpu, *dst;
	struct kvm_vm *vm, *vm2;
	uint64_t v, cfg[4], cnt[4], sy[3];
	char bad[512] = "", msg[512];
	static struct kvm_lapic_state lapic;
	const struct st_event *e;
	struct ucall uc;
	uint32_t n, i;
	bool ok;

	st_require();
	tap_ok(msr_listed(HV_X64_MSR_STIMER0_CONFIG) && !msr_listed(HV_X64_MSR_STIMER0_COUNT),
	       "KVM_GET_MSR_INDEX_LIST has STIMER0_CONFIG (and, as in-tree, not STIMER0_COUNT)");

	vm = st_vm(1, mig_src_guest, NULL, false, true, &vcpu);
	for (n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
		c.sintx = n + 1;
		if (vcpu_set_msr(vcpu, st_config_msr(n), c.as_uint64) != 1 ||
		    vcpu_get_msr(vcpu, st_config_msr(n), &v) != 1 || v != c.as_uint64)
			hvsys_bad_add(bad, sizeof(bad), st_config_msr(n), "config", v);
		if (vcpu_set_msr(vcpu, st_count_msr(n), 12345 + n) != 1 ||
		    vcpu_get_msr(vcpu, st_count_msr(n), &v) != 1 || v != 12345 + n)
			hvsys_bad_add(bad, sizeof(bad), st_count_msr(n), "count", v);
		vcpu_set_msr(vcpu, st_config_msr(n), 0);
		vcpu_set_msr(vcpu, st_count_msr(n), 0);
	}
	tap_ok(!bad[0], "KVM_SET_MSRS then KVM_GET_MSRS: each CONFIG (periodic, lazy, vector 0x77, SINTn+1; not enabled) and COUNT read back as written%s",
	       bad);

	/* Migration: the source's timers, restored by their MSRs. */
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	for (n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
		cfg[n] = vcpu_rdmsr(vcpu, st_config_msr(n));
		cnt[n] = vcpu_rdmsr(vcpu, st_count_msr(n));
	}
	for (i = 0; i < 3; i++)
		sy[i] = vcpu_rdmsr(vcpu, synic[i]);
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic), "KVM_GET_LAPIC");
	vm_free(vm);
	vm2 = st_vm(1, mig_dst_guest, NULL, false, true, &dst);
	ok = true;
	for (i = 0; i < 3; i++)
		ok &= vcpu_set_msr(dst, synic[i], sy[i]) == 1;
	for (n = 0; n < HV_SYNIC_STIMER_COUNT; n++)
		ok &= vcpu_set_msr(dst, st_config_msr(n), cfg[n]) == 1;
	for (n = 0; n < HV_SYNIC_STIMER_COUNT; n++)
		ok &= vcpu_set_msr(dst, st_count_msr(n), cnt[n]) == 1;
	ok &= !ioctl(dst->fd, KVM_SET_LAPIC, &lapic);
	tap_ok(ok && cfg[0] == st_cfg_msg(1, true) && cnt[0] == P10 &&
	       cfg[1] == st_cfg_msg(2, false),
	       "KVM_GET_MSRS on the source (periodic %#lx/%lu, one-shot %#lx/%lu); into a new VM the SynIC MSRs, the CONFIGs, the COUNTs, then the LAPIC (enabled)",
	       cfg[0], cnt[0], cfg[1], cnt[1]);
	TEST_ASSERT_EQ(vcpu_run(dst, &uc), UCALL_SYNC);
	st_fetch(vm2);
	sync_global_from_guest(vm2, mig_arm);
	sync_global_from_guest(vm2, mig_end);
	/* Started before the guest's first instruction: arming time unknown. */
	e = ev_get(0, V_SINT0 + 1, 0);
	ok = e && e->exp <= mig_arm + P10 &&
	     periodic_ok(0, V_SINT0 + 1, 0, P10, e->exp - P10, mig_end, ~0ull, msg, sizeof(msg));
	tap_ok(ok && !ev_count(0, V_SINT0 + 2),
	       "the restored periodic timer runs before the guest touches it, with its period: %s; the one-shot far ahead does not fire",
	       e ? msg : "no tick");
	if (!ok)
		tap_diag("the new VM: %lu interrupts (vectors %#x...), SINT1's slot %#x, from %lu to %lu, first expiration %lu, CONFIG0 %#lx COUNT0 %lu, stimer_expirations %ld",
			 st_logs[0].n, st_logs[0].n ? st_logs[0].ev[0].vector : 0,
			 st_pages[0].sint_message[1].header.message_type, mig_arm, mig_end,
			 e ? e->exp : 0, vcpu_rdmsr(dst, st_config_msr(0)),
			 vcpu_rdmsr(dst, st_count_msr(0)), st_expirations(vm2));
	tap_ok(vcpu_rdmsr(dst, st_config_msr(0)) == cfg[0] &&
	       vcpu_rdmsr(dst, st_count_msr(1)) == cnt[1] &&
	       vcpu_rdmsr(dst, st_config_msr(1)) == cfg[1],
	       "... and the host reads the restored CONFIGs and COUNTs back");
	vm_free(vm2);
}

int main(void)
{
	st_init();
	if (hv_env == HV_PLAIN)
		tap_skip_all("%s", NO_MODULE);
	TEST_RUN("direct mode", test_direct());
	TEST_RUN("a halted vCPU", test_halted());
	TEST_RUN("HLT with interrupts off", test_hlt_cli());
	TEST_RUN("4 timers on each of 2 vCPUs", test_smp());
	TEST_RUN("host round trips, MSR list, migration", test_host());
	return tap_done();
}
