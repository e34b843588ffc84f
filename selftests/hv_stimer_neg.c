// SPDX-License-Identifier: GPL-2.0
/*
 * Synthetic timers, what must fail or stay off (hv_stimer.c and
 * hv_stimer_vcpu.c: what works):
 *   (a) a guest without "Hv#1": every STIMER MSR #GP;
 *   (b) SynIC not active: the guest reads them (0) but any write #GPs; the
 *       host's non-zero writes are refused, its zeros taken (a VMM
 *       restoring state in any order);
 *   (c) KVM_CAP_HYPERV_ENFORCE_CPUID without 0x40000003.EAX bit 3: every
 *       STIMER MSR #GPs for the guest, never for the host;
 *   (d) enforced without 0x40000003.EDX bit 19: a direct-mode CONFIG #GPs,
 *       a message-mode one does not; neither without enforcement;
 *   (e) in-tree stimer_set_config/set_count's rules: enabling an enabled
 *       timer with SINTx 0 and not direct leaves it disabled, a guest's
 *       COUNT 0 disables it, auto-enable on the guest's COUNT write only,
 *       the host's COUNT leaves CONFIG alone, reserved bits are stored;
 *       a timer left disabled that way never fires;
 *   (f) the LAPIC refuses the interrupt (software-disabled): as in-tree,
 *       the expiration stays pending and the one-shot enabled; a message
 *       is delivered again once the guest frees its slot and writes EOM;
 *   (g) VMs freed with armed, expired and periodic timers: no message is
 *       written outside the vCPU's context, nothing fires afterwards, the
 *       next VM starts clean (scripts/vm fails the run on any kernel
 *       warning, KASAN or kmemleak report).
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; plain KVM runs (a) only.
 */
#include "hv_stimer.h"

#define RSVD_BITS	(GENMASK_ULL(15, 13) | GENMASK_ULL(63, 20))
#define FAR		(1ull << 60)	/* a one-shot count that never comes */

/* ---- a list of guest MSR accesses with what each must give ---- */

struct want {
	uint8_t vec;
	bool check;		/* reads: compare the value */
	uint64_t val;
};

static struct want wants[HVSYS_MAX_OPS];

static const char *st_name(uint32_t msr)
{
	static char buf[4][24];
	static int i;
	uint32_t n = (msr - HV_X64_MSR_STIMER0_CONFIG) / 2;

	i = (i + 1) % 4;
	if (msr < HV_X64_MSR_STIMER0_CONFIG || msr > HV_X64_MSR_STIMER3_COUNT)
		snprintf(buf[i], sizeof(buf[i]), "%#x", msr);
	else
		snprintf(buf[i], sizeof(buf[i]), "STIMER%u_%s", n,
			 msr % 2 ? "COUNT" : "CONFIG");
	return buf[i];
}

static void rd(uint32_t msr, uint8_t vec)
{
	wants[hvsys_op_rd(msr)] = (struct want){ .vec = vec };
}

static void rd_is(uint32_t msr, uint64_t val)
{
	wants[hvsys_op_rd(msr)] = (struct want){ .check = true, .val = val };
}

static void wr(uint32_t msr, uint64_t val, uint8_t vec)
{
	wants[hvsys_op_wr(msr, val)] = (struct want){ .vec = vec };
}

/* Run the list; false with every mismatch (or how the guest stopped) in bad. */
static bool ops_ok(struct kvm_vcpu *vcpu, char *bad, size_t len)
{
	char why[256];
	unsigned int i;
	size_t n;

	bad[0] = 0;
	if (!hvsys_ops_run(vcpu, why, sizeof(why))) {
		snprintf(bad, len, " %s", why);
		return false;
	}
	for (i = 0; i < hvsys_nops; i++) {
		const struct hvsys_op *op = &hvsys_ops[i];

		n = strlen(bad);
		if (op->vec != wants[i].vec)
			snprintf(bad + n, len - n, " #%u %s %s(%#lx): vector %u, not %u",
				 i, op->write ? "wrmsr" : "rdmsr", st_name(op->msr),
				 op->write ? op->val : 0, op->vec, wants[i].vec);
		else if (!op->write && wants[i].check && op->val != wants[i].val)
			snprintf(bad + n, len - n, " #%u rdmsr %s: %#lx, not %#lx",
				 i, st_name(op->msr), op->val, wants[i].val);
	}
	return !bad[0];
}

static void ops_clear(void)
{
	hvsys_ops_clear();
	memset(wants, 0, sizeof(wants));
}

/*
 * The host's view of all 8 MSRs: reads work and give 0; a non-zero write
 * gets want_nz (1 taken, 0 refused), a zero write is taken.
 */
static bool host_probe(struct kvm_vcpu *vcpu, int want_get, int want_nz,
		       char *bad, size_t len)
{
	uint32_t msr;
	uint64_t v;
	int r;

	bad[0] = 0;
	for (msr = HV_X64_MSR_STIMER0_CONFIG; msr <= HV_X64_MSR_STIMER3_COUNT; msr++) {
		v = 0xdead;
		r = vcpu_get_msr(vcpu, msr, &v);
		if (r != want_get || (r == 1 && v))
			hvsys_bad_add(bad, len, msr, "get", r == 1 ? v : (uint64_t)r);
		r = vcpu_set_msr(vcpu, msr, msr % 2 ? 1000 : st_cfg_msg(1, false));
		if (r != want_nz)
			hvsys_bad_add(bad, len, msr, "set non-zero", r);
		r = vcpu_set_msr(vcpu, msr, 0);
		if (r != want_get)
			hvsys_bad_add(bad, len, msr, "set 0", r);
	}
	return !bad[0];
}

/* ---- (a) no Hyper-V ---- */

static void test_non_hv(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char bad[1024];
	uint32_t msr;
	bool plain = hv_env == HV_PLAIN;

	vm = vm_create_with_vcpus(1, hvsys_ops_guest, &vcpu);
	ops_clear();
	for (msr = HV_X64_MSR_STIMER0_CONFIG; msr <= HV_X64_MSR_STIMER3_COUNT; msr++) {
		rd(msr, GP_VECTOR);
		wr(msr, 0, GP_VECTOR);
		wr(msr, msr % 2 ? 1000 : st_cfg_msg(1, false), GP_VECTOR);
	}
	tap_ok(ops_ok(vcpu, bad, sizeof(bad)),
	       "guest without \"Hv#1\": rdmsr, wrmsr 0 and wrmsr non-zero of the 8 STIMER MSRs #GP%s",
	       bad);
	if (plain)
		tap_ok(host_probe(vcpu, 0, 0, bad, sizeof(bad)),
		       "plain KVM: KVM_GET/SET_MSRS refuse them all%s", bad);
	else
		tap_ok(host_probe(vcpu, 1, 0, bad, sizeof(bad)),
		       "the host reads them (0), writes 0, is refused non-zero (no SynIC)%s",
		       bad);
	vm_free(vm);
}

/* ---- (b) SynIC not active ---- */

static void test_no_synic(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char bad[1024];
	uint32_t msr;

	st_require();
	vm = st_vm(1, hvsys_ops_guest, NULL, false, false, &vcpu);
	ops_clear();
	for (msr = HV_X64_MSR_STIMER0_CONFIG; msr <= HV_X64_MSR_STIMER3_COUNT; msr++) {
		rd_is(msr, 0);
		wr(msr, msr % 2 ? 1000 : st_cfg_msg(1, false), GP_VECTOR);
		wr(msr, 0, GP_VECTOR);
		rd_is(msr, 0);
	}
	tap_ok(ops_ok(vcpu, bad, sizeof(bad)),
	       "SynIC not active: the guest reads the 8 STIMER MSRs (0, as in-tree), wrmsr non-zero and wrmsr 0 #GP%s",
	       bad);
	tap_ok(host_probe(vcpu, 1, 0, bad, sizeof(bad)),
	       "SynIC not active: KVM_SET_MSRS refuses non-zero values, takes 0; KVM_GET_MSRS reads 0%s",
	       bad);
	vm_free(vm);
}

/* ---- (c) enforcement of the synthetic timers bit ---- */

static void test_enforce_timers(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char bad[1024];
	uint32_t msr;
	uint64_t cfg = st_off(st_cfg_msg(1, true)), v;
	bool ok = true;

	st_require();
	memcpy(leaf, st_sup, sizeof(leaf));
	leaf[LEAF_FEATURES].eax &= ~HV_MSR_SYNTIMER_AVAILABLE;
	vm = st_vm(1, hvsys_ops_guest, leaf, true, true, &vcpu);
	ops_clear();
	for (msr = HV_X64_MSR_STIMER0_CONFIG; msr <= HV_X64_MSR_STIMER3_COUNT; msr++) {
		rd(msr, GP_VECTOR);
		wr(msr, 0, GP_VECTOR);
		wr(msr, msr % 2 ? 1000 : cfg, GP_VECTOR);
	}
	tap_ok(ops_ok(vcpu, bad, sizeof(bad)),
	       "enforced, SynIC active, no 0x40000003.EAX bit 3: rdmsr and wrmsr of the 8 STIMER MSRs #GP%s",
	       bad);
	for (msr = HV_X64_MSR_STIMER0_CONFIG; msr <= HV_X64_MSR_STIMER3_COUNT; msr++) {
		v = msr % 2 ? 1000 + msr : cfg;
		ok = ok && vcpu_set_msr(vcpu, msr, v) == 1 &&
		     vcpu_get_msr(vcpu, msr, &v) == 1 &&
		     v == (msr % 2 ? 1000 + msr : cfg);
	}
	tap_ok(ok, "... the host still writes and reads them back (not gated)");
	vm_free(vm);

	/* The control: with the bit, the same accesses work. */
	vm = st_vm(1, hvsys_ops_guest, NULL, true, true, &vcpu);
	ops_clear();
	for (msr = HV_X64_MSR_STIMER0_CONFIG; msr <= HV_X64_MSR_STIMER3_COUNT; msr++) {
		rd_is(msr, 0);
		wr(msr, msr % 2 ? 1000 : cfg, 0);
		rd_is(msr, msr % 2 ? 1000 : cfg);
		wr(msr, 0, 0);
	}
	tap_ok(ops_ok(vcpu, bad, sizeof(bad)),
	       "enforced with bit 3: the guest reads and writes them (CONFIG %#lx not enabled, COUNT 1000)%s",
	       cfg, bad);
	vm_free(vm);
}

/* ---- (d) enforcement of the direct-mode bit ---- */

/* Direct CONFIGs on a vCPU with these leaves; true if all #GP (gp) or none. */
static bool probe_direct(const struct kvm_cpuid_entry2 *leaf, bool enforce,
			 bool gp, char *bad, size_t len)
{
	uint64_t msgcfg = st_off(st_cfg_msg(1, true));
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint32_t n;
	bool ok;

	vm = st_vm(1, hvsys_ops_guest, leaf, enforce, true, &vcpu);
	ops_clear();
	for (n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
		uint64_t direct = st_cfg_direct(n, false);

		wr(st_config_msr(n), msgcfg, 0);
		wr(st_config_msr(n), st_off(direct), gp ? GP_VECTOR : 0);
		rd_is(st_config_msr(n), gp ? msgcfg : st_off(direct));
		wr(st_config_msr(n), direct, gp ? GP_VECTOR : 0);
		rd_is(st_config_msr(n), gp ? msgcfg : direct);
		wr(st_config_msr(n), 0, 0);
	}
	ok = ops_ok(vcpu, bad, len);
	vm_free(vm);
	return ok;
}

static void test_enforce_direct(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char bad[1024];
	uint64_t v, d = st_cfg_direct(2, true);

	st_require();
	if (!(st_sup[LEAF_FEATURES].edx & HV_STIMER_DIRECT_MODE_AVAILABLE))
		test_skip("KVM_GET_SUPPORTED_HV_CPUID offers no direct mode (0x40000003.EDX bit 19)");
	memcpy(leaf, st_sup, sizeof(leaf));
	leaf[LEAF_FEATURES].edx &= ~HV_STIMER_DIRECT_MODE_AVAILABLE;
	tap_ok(probe_direct(leaf, true, true, bad, sizeof(bad)),
	       "enforced, no 0x40000003.EDX bit 19: a direct-mode CONFIG (enabled or not) #GPs and changes nothing, a message-mode one is taken%s",
	       bad);
	tap_ok(probe_direct(st_sup, true, false, bad, sizeof(bad)),
	       "enforced with bit 19: the same direct-mode CONFIGs are taken%s", bad);
	tap_ok(probe_direct(leaf, false, false, bad, sizeof(bad)),
	       "not enforced, no bit 19: taken too (in-tree gates on enforcement only)%s",
	       bad);

	vm = st_vm(1, NULL, leaf, true, true, &vcpu);
	tap_ok(vcpu_set_msr(vcpu, st_config_msr(2), d) == 1 &&
	       vcpu_get_msr(vcpu, st_config_msr(2), &v) == 1 && v == d,
	       "enforced, no bit 19: the host writes a direct-mode CONFIG %#lx and reads it back",
	       d);
	vm_free(vm);
}

/* ---- (e) in-tree's CONFIG and COUNT rules ---- */

static uint64_t cfg_bits(bool en, bool per, bool lazy, bool autoen, bool direct,
			 uint32_t vec, uint32_t sint)
{
	union hv_stimer_config c = {
		.enable = en, .periodic = per, .lazy = lazy, .auto_enable = autoen,
		.direct_mode = direct, .apic_vector = vec, .sintx = sint,
	};

	return c.as_uint64;
}

static void test_rules(void)
{
	uint64_t on = cfg_bits(1, 1, 1, 0, 0, 0, 2), nosint = cfg_bits(1, 1, 1, 0, 0, 0, 0);
	uint64_t direct = cfg_bits(1, 0, 0, 0, 1, V_DIRECT0, 0);
	uint64_t autoen = cfg_bits(0, 0, 0, 1, 0, 0, 2);
	uint64_t rsvd = RSVD_BITS | cfg_bits(0, 1, 0, 0, 0, 0, 3);
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char bad[1024];
	uint64_t v;
	bool ok;

	st_require();
	vm = st_vm(1, hvsys_ops_guest, NULL, false, true, &vcpu);

	ops_clear();
	wr(st_config_msr(0), on, 0);
	rd_is(st_config_msr(0), on);
	wr(st_config_msr(0), nosint, 0);
	rd_is(st_config_msr(0), st_off(nosint));
	tap_ok(ops_ok(vcpu, bad, sizeof(bad)),
	       "CONFIG %#lx (enabled, SINT2), then %#lx (SINTx 0, not direct): it reads %#lx, disabled%s",
	       on, nosint, st_off(nosint), bad);

	ops_clear();
	wr(st_config_msr(0), nosint, 0);
	rd_is(st_config_msr(0), nosint);
	wr(st_config_msr(0), direct, 0);
	rd_is(st_config_msr(0), direct);
	wr(st_config_msr(0), 0, 0);
	tap_ok(ops_ok(vcpu, bad, sizeof(bad)),
	       "in-tree: only an enabled timer is kept off: a disabled one takes %#lx as written; then direct mode with SINTx 0 (%#lx) stays enabled%s",
	       nosint, direct, bad);

	ops_clear();
	wr(st_config_msr(1), on, 0);
	wr(st_count_msr(1), 0, 0);
	rd_is(st_config_msr(1), st_off(on));
	wr(st_config_msr(2), autoen, 0);
	wr(st_count_msr(2), FAR, 0);
	rd_is(st_config_msr(2), autoen | 1);
	rd_is(st_count_msr(2), FAR);
	wr(st_count_msr(2), 0, 0);
	rd_is(st_config_msr(2), autoen);
	wr(st_config_msr(3), rsvd, 0);
	rd_is(st_config_msr(3), rsvd);
	wr(st_config_msr(3), 0, 0);
	tap_ok(ops_ok(vcpu, bad, sizeof(bad)),
	       "guest COUNT 0 disables an enabled timer; with auto_enable (%#lx) a COUNT write enables it, COUNT 0 disables it again; reserved bits are stored (%#lx)%s",
	       autoen, rsvd, bad);

	ok = vcpu_set_msr(vcpu, st_config_msr(3), autoen) == 1 &&
	     vcpu_set_msr(vcpu, st_count_msr(3), FAR) == 1 &&
	     vcpu_get_msr(vcpu, st_config_msr(3), &v) == 1 && v == autoen;
	tap_ok(ok, "host COUNT write with auto_enable: CONFIG stays %#lx, not enabled (read %#lx)",
	       autoen, v);
	ok = vcpu_set_msr(vcpu, st_config_msr(3), on) == 1 &&
	     vcpu_set_msr(vcpu, st_count_msr(3), 0) == 1 &&
	     vcpu_get_msr(vcpu, st_config_msr(3), &v) == 1 && v == on;
	tap_ok(ok, "host COUNT 0 on an enabled timer: CONFIG stays %#lx (read %#lx)", on, v);
	vcpu_set_msr(vcpu, st_config_msr(3), 0);
	vm_free(vm);
}

/*
 * The control of a scenario where nothing fires: the same vCPU's timer 0,
 * enabled on SINT2, fires once within ST_BOUND. Returns the events before.
 */
static uint64_t control_n[2];

static void control(void)
{
	volatile uint64_t *n = &st_log()->n;
	uint64_t t;

	control_n[0] = *n;
	t = st_now() + MS;
	wrmsr(st_config_msr(0), st_cfg_msg(2, false));
	wrmsr(st_count_msr(0), t);
	st_sleep(t + ST_BOUND, n, control_n[0] + 1);
	st_sleep(st_now() + 5 * MS, NULL, 0);
	control_n[1] = *n;
}

/* A timer left disabled by the SINTx rule, its COUNT written: never fires. */
static uint64_t off_cfg;

static void off_guest(void)
{
	uint64_t t0;

	st_guest_init();
	wrmsr(st_config_msr(0), st_cfg_msg(2, false));
	wrmsr(st_config_msr(0), st_cfg_msg(0, false));
	t0 = st_now();
	wrmsr(st_count_msr(0), t0 + MS);
	st_sleep(t0 + 20 * MS, NULL, 0);
	off_cfg = rdmsr(st_config_msr(0));
	control();
	GUEST_DONE();
}

static void test_off_never_fires(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	bool ran, empty = true;
	int s;

	st_require();
	vm = st_vm(1, off_guest, NULL, false, true, &vcpu);
	ran = st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, off_cfg);
	sync_global_from_guest(vm, control_n);
	for (s = 0; s < HV_SYNIC_SINT_COUNT; s++)
		empty &= !st_pages[0].sint_message[s].header.message_type;
	tap_ok(ran && !control_n[0] && empty && off_cfg == 0,
	       "disabled by SINTx 0, then COUNT = now + 1 ms: 20 ms later no interrupt (%lu), no message, CONFIG %#lx%s",
	       control_n[0], off_cfg, why);
	tap_ok(ran && control_n[1] == 1,
	       "the control: enabled on SINT2, the same timer fires once (%lu)", control_n[1]);
	vm_free(vm);
}

/* ---- (f) the LAPIC refuses the interrupt ---- */

struct refused {
	uint64_t spiv, type0, cfg0, cfg3, n0, type1, n1, cfg0b;
};

static struct refused refused;

/*
 * One-shots due at once while the LAPIC is software-disabled (SPIV bit 8
 * clear, as after reset): in-tree's delivery fails (kvm_apic_set_irq()
 * refuses), so the expiration stays pending (msg_pending) and the timer
 * enabled; a message-mode one is retried when its SINT is acknowledged.
 */
static void refused_guest(void)
{
	volatile struct hv_message *m = st_slot(1);
	struct refused *r = &refused;

	cli();
	r->spiv = apic_read(APIC_SPIV);
	wrmsr(st_config_msr(0), st_cfg_msg(1, false));
	wrmsr(st_count_msr(0), 1);
	r->type0 = m->header.message_type;
	r->cfg0 = rdmsr(st_config_msr(0));
	wrmsr(st_count_msr(3), 1);
	wrmsr(st_config_msr(3), st_cfg_direct(3, false));
	r->cfg3 = rdmsr(st_config_msr(3));
	st_guest_init();
	st_irq_window();
	r->n0 = st_log()->n;
	/* TLFS: free the slot, then EOM */
	m->header.message_type = HVMSG_NONE;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wrmsr(HV_X64_MSR_EOM, 0);
	r->type1 = m->header.message_type;
	st_irq_window();
	r->n1 = st_log()->n;
	r->cfg0b = rdmsr(st_config_msr(0));
	GUEST_DONE();
}

static void test_refused(void)
{
	struct refused *r = &refused;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256];
	bool ran;

	st_require();
	vm = st_vm(1, refused_guest, NULL, false, true, &vcpu);
	ran = st_run(vcpu, why, sizeof(why));
	st_fetch(vm);
	sync_global_from_guest(vm, refused);
	tap_ok(ran && !(r->spiv & 0x100) && r->type0 == HVMSG_TIMER_EXPIRED && !r->n0,
	       "message-mode one-shot due with the LAPIC software-disabled (SPIV %#lx): the message is written (type %#lx), no interrupt comes, not even once the LAPIC is enabled (%lu)%s",
	       r->spiv, r->type0, r->n0, why);
	tap_ok(ran && r->cfg0 == st_cfg_msg(1, false),
	       "in-tree: the SINT not accepted, the expiration stays pending and the one-shot enabled (CONFIG %#lx, want %#lx)",
	       r->cfg0, st_cfg_msg(1, false));
	tap_ok(ran && r->type1 == HVMSG_TIMER_EXPIRED && r->n1 == 1 &&
	       r->cfg0b == st_off(st_cfg_msg(1, false)),
	       "in-tree: the slot freed and EOM written (LAPIC enabled), the message is delivered again (type %#lx) with its SINT (%lu), then the one-shot is disabled (%#lx)",
	       r->type1, r->n1, r->cfg0b);
	tap_ok(ran && r->cfg3 == st_cfg_direct(3, false) && !ev_count(0, V_DIRECT0 + 3),
	       "in-tree: a direct-mode one-shot the disabled LAPIC refused stays enabled (CONFIG %#lx, want %#lx), its vector never comes",
	       r->cfg3, st_cfg_direct(3, false));
	vm_free(vm);
}

/* ---- (g) VMs freed with armed timers ---- */

static void armed_guest(void)
{
	uint64_t t0;

	st_guest_init();
	t0 = st_now();
	wrmsr(st_config_msr(0), st_cfg_msg(1, false));
	wrmsr(st_count_msr(0), t0 + 2 * MS);
	wrmsr(st_config_msr(1), st_cfg_msg(2, true));
	wrmsr(st_count_msr(1), MS);
	wrmsr(st_config_msr(2), st_cfg_direct(2, true));
	wrmsr(st_count_msr(2), MS);
	wrmsr(st_count_msr(3), t0 + 50 * MS);
	wrmsr(st_config_msr(3), st_cfg_msg(3, false));
	GUEST_SYNC(t0);
	for (;;)
		safe_halt();
}

/* A VM whose 2 vCPUs armed 4 timers each and left KVM_RUN. */
static struct kvm_vm *armed_vm(void)
{
	struct kvm_vcpu *vcpus[ST_VCPUS];
	struct kvm_vm *vm;
	struct ucall uc;
	int i;

	vm = st_vm(ST_VCPUS, armed_guest, NULL, false, true, vcpus);
	for (i = 0; i < ST_VCPUS; i++)
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], &uc), UCALL_SYNC);
	return vm;
}

static void clean_guest(void)
{
	st_guest_init();
	st_sleep(st_now() + 20 * MS, NULL, 0);
	control();
	GUEST_DONE();
}

static struct hv_message_page snap[ST_VCPUS];

static void test_freed(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char why[256], bad[512] = "";
	uint32_t msr;
	int64_t exp;
	uint64_t v;
	bool ran;

	st_require();
	/* Freed at once: 2 ms and 50 ms one-shots, 1 ms periodics armed. */
	vm = armed_vm();
	vm_free(vm);

	/*
	 * The timers due meanwhile (the 1 ms periodic ones at least) must
	 * not touch the message pages while the vCPUs are out of KVM_RUN.
	 */
	vm = armed_vm();
	st_fetch(vm);
	memcpy(snap, st_pages, sizeof(snap));
	exp = st_expirations(vm);
	nanosleep(&ts, NULL);
	st_fetch(vm);
	tap_ok(!memcmp(snap, st_pages, sizeof(snap)),
	       "20 ms with the vCPUs out of KVM_RUN after arming: no message written meanwhile (expirations are handled in the vCPU's context)");
	if (exp >= 0)
		tap_ok(st_expirations(vm) == exp, "... the module's stimer_expirations stays at %ld (%ld)",
		       exp, st_expirations(vm));
	else
		tap_skip("stimer_expirations: hvenlight's debugfs counter, module only");
	vm_free(vm);	/* with expirations due and periodic timers armed */

	ts.tv_nsec = 100 * 1000 * 1000;
	nanosleep(&ts, NULL);
	vm = st_vm(1, clean_guest, NULL, false, true, &vcpu);
	for (msr = HV_X64_MSR_STIMER0_CONFIG; msr <= HV_X64_MSR_STIMER3_COUNT; msr++)
		if (vcpu_get_msr(vcpu, msr, &v) != 1 || v)
			hvsys_bad_add(bad, sizeof(bad), msr, "reads", v);
	tap_ok(!bad[0], "100 ms later a new VM's vCPU reads its 8 STIMER MSRs as 0%s", bad);
	exp = st_expirations(vm);
	if (exp >= 0)
		tap_ok(!exp, "... its stimer_expirations starts at 0 (%ld)", exp);
	else
		tap_skip("stimer_expirations: hvenlight's debugfs counter, module only");
	ran = st_run(vcpu, why, sizeof(why));
	sync_global_from_guest(vm, control_n);
	tap_ok(ran && !control_n[0],
	       "... and in 20 ms of its own sees no timer interrupt (%lu)%s",
	       control_n[0], why);
	tap_ok(ran && control_n[1] == 1,
	       "the control: a one-shot of its own fires once (%lu)", control_n[1]);
	vm_free(vm);
}

int main(void)
{
	st_init();
	TEST_RUN("guest without Hyper-V", test_non_hv());
	TEST_RUN("SynIC not active", test_no_synic());
	TEST_RUN("enforcement: synthetic timers bit", test_enforce_timers());
	TEST_RUN("enforcement: direct-mode bit", test_enforce_direct());
	TEST_RUN("CONFIG and COUNT rules", test_rules());
	TEST_RUN("a timer disabled by SINTx 0 never fires", test_off_never_fires());
	TEST_RUN("the LAPIC refuses the interrupt", test_refused());
	TEST_RUN("VMs freed with armed timers", test_freed());
	return tap_done();
}
