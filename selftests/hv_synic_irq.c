// SPDX-License-Identifier: GPL-2.0
/*
 * SynIC interrupts: KVM_IRQ_ROUTING_HV_SINT routes raised by irqfds and
 * KVM_IRQ_LINE, counted by the guest's interrupt handlers (xAPIC):
 *   (a) nothing arrives from a masked SINT (and nothing is left pending
 *       for its unmasking), a VP without SynIC, a VP that does not exist
 *       or SINT 16: KVM_IRQ_LINE_STATUS -1;
 *   (b) an irqfd delivers the SINT's vector exactly once per eventfd
 *       write, KVM_IRQ_LINE once per pulse; a reprogrammed SINT its new
 *       vector; masking stops it; EOI through the LAPIC or the EOI MSR;
 *   (c) auto-EOI: the handler runs without EOI, the vector is not in
 *       service, the next interrupt (of that vector, and a lower one of
 *       its class) still arrives; no acknowledgment until EOM; without
 *       the bit again, an ordinary interrupt;
 *   (d) a resampling irqfd is signalled when the guest EOIs the SINT's
 *       vector (whatever raised it) and when it writes EOM, not for other
 *       vectors or a masked SINT's; with two routes on one SINT, the
 *       higher GSI gets the acknowledgments (in-tree's table walk);
 *   (e) two vCPUs with their own SynICs: a route to VP 1 reaches only
 *       vCPU 1, also with VP indices that differ from the vCPU indices;
 *   (f) SINT state restored into a fresh VM keeps firing.
 * The host runs one vCPU at a time; irqfd injection may be asynchronous
 * (the module injects from KVM's irqfd workqueue), so the guest waits
 * for what it expects, then a grace period for anything extra, and an
 * irqfd is deassigned (which waits for its injections) before checking
 * that nothing came.
 *
 * Environments: "nohv" with hvenlight is the target; "stock" (in-tree
 * Hyper-V) must agree; plain KVM has no SynIC (SKIP).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "synic.h"
#include "apic.h"

#define SYNIC2		KVM_CAP_HYPERV_SYNIC2
#define MASKED		HV_SYNIC_SINT_MASKED
#define AEOI		HV_SYNIC_SINT_AUTO_EOI
#define SINT(n)		(HV_X64_MSR_SINT0 + (n))
#define NR		2
#define WAIT_CYCLES	3000000000ull	/* a second or more: only on failure */
#define GRACE_CYCLES	50000000ull	/* tens of ms for anything extra */

static struct kvm_cpuid_entry2 sup[HVL_CPUID_NR_LEAVES];

/* ---- guest ---- */

enum { CMD_WAIT, CMD_WRMSR, CMD_IPI };
enum { EOI_APIC, EOI_HVMSR, EOI_NONE };

struct cmd {
	uint64_t op, a, b;
};

/* Host-written commands; the guest's counts, per vCPU and vector. */
static struct cmd cmds[NR];
static uint8_t eoi_how[256];
static uint64_t cnt[NR][256], in_svc[NR][256];

static bool isr_bit(uint64_t v)
{
	return apic_read(APIC_ISR + (v / 32) * 0x10) & (1u << (v % 32));
}

static uint32_t isr_any(void)
{
	uint32_t any = 0;
	int i;

	for (i = 0; i < 8; i++)
		any |= apic_read(APIC_ISR + i * 0x10);
	return any;
}

static void sint_handler(struct ex_regs *regs)
{
	uint64_t id = guest_vcpu_id(), v = regs->vector & 0xff;

	cnt[id][v]++;
	if (isr_bit(v))
		in_svc[id][v]++;
	if (eoi_how[v] == EOI_APIC)
		apic_write(APIC_EOI, 0);
	else if (eoi_how[v] == EOI_HVMSR)
		wrmsr(HV_X64_MSR_EOI, 0);
}

/* Interrupts on until vector v came want times (bounded), then a grace. */
static void wait_for(uint64_t v, uint64_t want)
{
	uint64_t *n = &cnt[guest_vcpu_id()][v], t0 = rdtsc();

	sti();
	while (__atomic_load_n(n, __ATOMIC_RELAXED) < want &&
	       rdtsc() - t0 < WAIT_CYCLES)
		cpu_relax();
	t0 = rdtsc();
	while (rdtsc() - t0 < GRACE_CYCLES)
		cpu_relax();
	cli();
}

static void irq_guest(uint64_t id)
{
	uint64_t r = 0, op, a, b;

	apic_enable(0);
	for (;;) {
		GUEST_SYNC(r, isr_any());
		op = cmds[id].op;
		a = cmds[id].a;
		b = cmds[id].b;
		if (op == CMD_WRMSR) {
			r = wrmsr_safe(a, b);
			continue;
		}
		if (op == CMD_IPI)
			apic_write(APIC_ICR, ICR_SELF | a);
		wait_for(a, b);
		r = cnt[id][a];
	}
}

/* ---- host ---- */

static uint64_t last_isr;

/* Run the vCPU through one command; its result (a count, a vector). */
static uint64_t step(struct kvm_vcpu *vcpu, uint64_t op, uint64_t a, uint64_t b)
{
	struct ucall uc;

	cmds[vcpu->id] = (struct cmd){ .op = op, .a = a, .b = b };
	sync_global_to_guest(vcpu->vm, cmds);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	sync_global_from_guest(vcpu->vm, cnt);
	sync_global_from_guest(vcpu->vm, in_svc);
	last_isr = uc.args[1];
	return uc.args[0];
}

/* Wait on vCPU for vector v to come `more` more times; its count then. */
static uint64_t expect(struct kvm_vcpu *vcpu, uint64_t v, uint64_t more)
{
	return step(vcpu, CMD_WAIT, v, cnt[vcpu->id][v] + more);
}

static void guest_wrmsr(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t val)
{
	uint64_t vec = step(vcpu, CMD_WRMSR, msr, val);

	TEST_ASSERT(!vec, "guest wrmsr %#x = %#lx: vector %lu", msr, val, vec);
}

/*
 * A VM of n vCPUs with SYNIC2 on those in active, the handler on vectors
 * [lo, hi], each vCPU at its first GUEST_SYNC.
 */
static struct kvm_vm *irq_vm(unsigned int n, uint32_t active, int lo, int hi,
			     struct kvm_vcpu **vcpus)
{
	struct kvm_vm *vm;
	unsigned int i;
	int v;

	memset(cnt, 0, sizeof(cnt));
	memset(in_svc, 0, sizeof(in_svc));
	memset(eoi_how, EOI_APIC, sizeof(eoi_how));
	vm = synic_vm(VM_IRQCHIP, n, irq_guest, sup, false, SYNIC2, active, vcpus);
	sync_global_to_guest(vm, eoi_how);
	for (v = lo; v <= hi; v++)
		vm_install_handler(vm, v, sint_handler);
	for (i = 0; i < n; i++)
		step(vcpus[i], CMD_WAIT, lo, 0);
	return vm;
}

static void set_eoi(struct kvm_vm *vm, int v, int how)
{
	eoi_how[v] = how;
	sync_global_to_guest(vm, eoi_how);
}

/* Deassign and assign the irqfd again: its injections are done. */
static void irqfd_flush(struct kvm_vm *vm, int fd, uint32_t gsi, int resamplefd)
{
	TEST_ASSERT(!vm_irqfd_deassign(vm, fd, gsi), "KVM_IRQFD deassign");
	TEST_ASSERT(!vm_irqfd(vm, fd, gsi, resamplefd), "KVM_IRQFD");
}

/* ---- (a) ---- */

static void test_nothing(void)
{
	static const struct sint_route routes[] = {
		{ 20, 0, 2 }, { 21, 1, 2 }, { 22, 7, 3 }, { 23, 0, 16 }, { 24, 0, 3 },
	};
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	int st[5], e, r, i;
	uint64_t c[4];

	synic_require(sup);
	vm = irq_vm(2, 1, 0x50, 0x51, vcpus);
	vcpu_wrmsr(vcpus[0], SINT(2), MASKED | 0x50);
	vcpu_wrmsr(vcpus[0], SINT(3), 0x51);
	r = vm_sint_routes(vm, routes, ARRAY_SIZE(routes));
	TEST_ASSERT(!r, "KVM_SET_GSI_ROUTING: %s", strerror(r));
	for (i = 0; i < 4; i++)
		st[i] = vm_irq_pulse(vm, 20 + i);
	e = efd_new();
	TEST_ASSERT(!vm_irqfd(vm, e, 20, -1), "KVM_IRQFD");
	efd_signal(e);
	irqfd_flush(vm, e, 20, -1);
	c[0] = expect(vcpus[0], 0x50, 0);
	c[1] = expect(vcpus[0], 0x51, 0);
	c[2] = expect(vcpus[1], 0x50, 0) + expect(vcpus[1], 0x51, 0);
	tap_ok(st[0] == -1 && st[1] == -1 && st[2] == -1 && st[3] == -1 &&
	       !c[0] && !c[1] && !c[2],
	       "KVM_IRQ_LINE_STATUS on routes to a masked SINT, a VP without SynIC, VP 7 (none), SINT 16 -> %d %d %d %d (-1), plus an irqfd write on the masked one: nothing arrives (%lu %lu; vCPU 1 %lu)",
	       st[0], st[1], st[2], st[3], c[0], c[1], c[2]);

	guest_wrmsr(vcpus[0], SINT(2), 0x50);
	c[0] = expect(vcpus[0], 0x50, 0);
	tap_ok(!c[0], "unmasking the SINT then brings nothing: the raises were dropped, not left pending (%lu)",
	       c[0]);

	st[4] = vm_irq_pulse(vm, 24);
	c[1] = expect(vcpus[0], 0x51, 1);
	st[0] = vm_irq_pulse(vm, 20);
	c[0] = expect(vcpus[0], 0x50, 1);
	tap_ok(st[4] == 1 && c[1] == 1 && st[0] == 1 && c[0] == 1,
	       "the unmasked SINT3 and the now unmasked SINT2 deliver once each: status %d %d, counts %lu %lu",
	       st[4], st[0], c[1], c[0]);
	vm_free(vm);
	close(e);
}

/* ---- (b) ---- */

static void test_irqfd(void)
{
	const struct sint_route route = { 30, 0, 1 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char s[128] = "";
	uint64_t c, c2, i, svc;
	int e, st[2];
	bool ok = true;

	synic_require(sup);
	vm = irq_vm(1, 1, 0x60, 0x61, &vcpu);
	vcpu_wrmsr(vcpu, SINT(1), 0x60);
	TEST_ASSERT(!vm_sint_routes(vm, &route, 1), "KVM_SET_GSI_ROUTING");
	e = efd_new();
	TEST_ASSERT(!vm_irqfd(vm, e, 30, -1), "KVM_IRQFD");
	for (i = 1; i <= 3; i++) {
		efd_signal(e);
		c = expect(vcpu, 0x60, 1);
		ok &= c == i;
		snprintf(s + strlen(s), sizeof(s) - strlen(s), " %lu", c);
	}
	svc = in_svc[0][0x60];
	tap_ok(ok && svc == 3 && !last_isr,
	       "irqfd on an HV_SINT route: vector 0x60 exactly once per eventfd write (after each of 3:%s), in service in the handler (%lu), nothing in service after EOI (ISR %#lx)",
	       s, svc, last_isr);

	st[0] = vm_irq_pulse(vm, 30);
	c = expect(vcpu, 0x60, 1);
	st[1] = vm_irq_pulse(vm, 30);
	c2 = expect(vcpu, 0x60, 1);
	tap_ok(st[0] == 1 && st[1] == 1 && c == 4 && c2 == 5,
	       "KVM_IRQ_LINE on the GSI: once per pulse (status %d %d, count %lu then %lu)",
	       st[0], st[1], c, c2);

	guest_wrmsr(vcpu, SINT(1), 0x61);
	efd_signal(e);
	c = expect(vcpu, 0x61, 1);
	tap_ok(c == 1 && cnt[0][0x60] == 5,
	       "the guest reprograms SINT1 to 0x61: the route now delivers 0x61 (%lu), 0x60 no more (%lu)",
	       c, cnt[0][0x60]);

	guest_wrmsr(vcpu, SINT(1), MASKED | 0x61);
	efd_signal(e);
	irqfd_flush(vm, e, 30, -1);
	st[0] = vm_irq_pulse(vm, 30);
	c = expect(vcpu, 0x61, 0);
	guest_wrmsr(vcpu, SINT(1), 0x61);
	c2 = expect(vcpu, 0x61, 0);
	tap_ok(st[0] == -1 && c == 1 && c2 == 1,
	       "masked by the guest: an eventfd write and a pulse (status %d) bring nothing, nor does unmasking (%lu, %lu)",
	       st[0], c, c2);

	set_eoi(vm, 0x61, EOI_HVMSR);
	efd_signal(e);
	c = expect(vcpu, 0x61, 1);
	efd_signal(e);
	c2 = expect(vcpu, 0x61, 1);
	tap_ok(c == 2 && c2 == 3 && !last_isr,
	       "unmasked, EOI through HV_X64_MSR_EOI: one per write again (%lu, %lu), nothing left in service (%#lx)",
	       c, c2, last_isr);
	vm_free(vm);
	close(e);
}

/* ---- (c) ---- */

static void test_auto_eoi(void)
{
	static const struct sint_route routes[] = { { 40, 0, 4 }, { 41, 0, 5 } };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t c1, c2, c3, svc, isr, acks;
	int e, rs;

	synic_require(sup);
	vm = irq_vm(1, 1, 0x61, 0x62, &vcpu);
	set_eoi(vm, 0x62, EOI_NONE);
	vcpu_wrmsr(vcpu, SINT(4), 0x62 | AEOI);
	vcpu_wrmsr(vcpu, SINT(5), 0x61);
	TEST_ASSERT(!vm_sint_routes(vm, routes, 2), "KVM_SET_GSI_ROUTING");
	e = efd_new();
	rs = efd_new();
	TEST_ASSERT(!vm_irqfd(vm, e, 40, rs), "KVM_IRQFD resample");

	efd_signal(e);
	c1 = expect(vcpu, 0x62, 1);
	efd_signal(e);
	c2 = expect(vcpu, 0x62, 1);
	svc = in_svc[0][0x62];
	tap_ok(c1 == 1 && c2 == 2 && !svc,
	       "auto-EOI SINT (0x62): the handler runs without EOI and the vector is not in service there (%lu of %lu); the next write still arrives (counts %lu, %lu)",
	       svc, c2, c1, c2);
	vm_irq_pulse(vm, 41);
	c3 = expect(vcpu, 0x61, 1);
	isr = last_isr;
	tap_ok(c3 == 1 && !isr,
	       "a lower vector of its class (0x61, SINT5, explicit EOI) is not blocked (%lu); nothing in service at the end (ISR %#lx)",
	       c3, isr);
	acks = efd_take(rs);
	guest_wrmsr(vcpu, HV_X64_MSR_EOM, 0);
	tap_ok(!acks && efd_take(rs) == 1,
	       "an auto-EOI is no acknowledgment: the resampling irqfd saw %lu acks for 2 deliveries; EOM acknowledges (1)",
	       acks);

	/* Without the bit again: an ordinary interrupt, EOI and ack. */
	guest_wrmsr(vcpu, SINT(4), 0x62);
	set_eoi(vm, 0x62, EOI_APIC);
	efd_signal(e);
	c1 = expect(vcpu, 0x62, 1);
	svc = in_svc[0][0x62];
	acks = efd_take(rs);
	tap_ok(c1 == 3 && svc == 1 && acks == 1 && !last_isr,
	       "SINT4 rewritten without auto-EOI: the next one is in service in the handler (%lu), its EOI acknowledges (%lu), ISR %#lx after",
	       svc, acks, last_isr);
	vm_free(vm);
	close(e);
	close(rs);
}

/* ---- (d) ---- */

/* The GSIs whose resample eventfd acked() reads, as bits 0-3 of its result. */
#define ACK_50		BIT(0)
#define ACK_71		BIT(1)

/*
 * Read (and reset) the resample eventfds of GSIs 50 (rs) and 71, 70, 80
 * (rf[]): a bit for each one signalled once, "gsi:count" of those in d.
 */
static unsigned int acked(int rs, const int rf[3], char *d, size_t len)
{
	static const uint32_t gsi[4] = { 50, 71, 70, 80 };
	const int fd[4] = { rs, rf[0], rf[1], rf[2] };
	unsigned int i, mask = 0;
	uint64_t n;

	snprintf(d, len, " none");
	for (i = 0; i < 4; i++) {
		n = efd_take(fd[i]);
		if (!n)
			continue;
		if (!mask)
			d[0] = 0;
		mask |= n == 1 ? BIT(i) : BIT(i + 4);
		snprintf(d + strlen(d), len - strlen(d), " %u:%lu", gsi[i], n);
	}
	return mask;
}

/* KVM_SET_GSI_ROUTING: an HV_SINT route on GSI 80, then a bad entry. */
static int set_routes_bad(struct kvm_vm *vm)
{
	struct {
		struct kvm_irq_routing rt;
		struct kvm_irq_routing_entry e[2];
	} t = { .rt.nr = 2 };

	t.e[0].gsi = 80;
	t.e[0].type = KVM_IRQ_ROUTING_HV_SINT;
	t.e[0].u.hv_sint.sint = 6;
	t.e[1].gsi = 81;
	t.e[1].type = 99;
	return ioctl(vm->fd, KVM_SET_GSI_ROUTING, &t) ? errno : 0;
}

static void test_resample(void)
{
	static const struct sint_route route = { 50, 0, 6 };
	static const struct sint_route two[] = { { 71, 0, 6 }, { 70, 0, 6 } };
	static const uint32_t gsis[3] = { 71, 70, 80 };
	struct kvm_vcpu *vcpu, *ovcpus[2];
	struct kvm_vm *vm, *other;
	uint64_t a[8], c;
	int e, rs, ef[3], rf[3], i, r;
	char d[128];

	synic_require(sup);
	vm = irq_vm(1, 1, 0x70, 0x72, &vcpu);
	vcpu_wrmsr(vcpu, SINT(6), 0x70);
	TEST_ASSERT(!vm_sint_routes(vm, &route, 1), "KVM_SET_GSI_ROUTING");
	e = efd_new();
	rs = efd_new();
	TEST_ASSERT(!vm_irqfd(vm, e, 50, rs), "KVM_IRQFD resample");

	efd_signal(e);
	c = expect(vcpu, 0x70, 1);
	a[0] = efd_take(rs);
	set_eoi(vm, 0x70, EOI_HVMSR);
	efd_signal(e);
	c += expect(vcpu, 0x70, 1);
	a[1] = efd_take(rs);
	tap_ok(c == 3 && a[0] == 1 && a[1] == 1,
	       "resampling irqfd: the guest's EOI of the SINT's vector signals the resample eventfd, through the LAPIC (%lu) and the EOI MSR (%lu)",
	       a[0], a[1]);

	guest_wrmsr(vcpu, HV_X64_MSR_EOM, 0);
	a[2] = efd_take(rs);
	guest_wrmsr(vcpu, HV_X64_MSR_EOM, 0);
	a[3] = efd_take(rs);
	tap_ok(a[2] == 1 && a[3] == 1, "each EOM signals it once (%lu, %lu)", a[2], a[3]);

	/* Another VM's SynICs (one activated twice) come and go meanwhile. */
	other = synic_vm(VM_IRQCHIP, 2, NULL, sup, false, SYNIC2, 3, ovcpus);
	TEST_ASSERT(!vcpu_synic_enable(ovcpus[0], KVM_CAP_HYPERV_SYNIC, 0, 0), "SYNIC");
	vm_free(other);

	set_eoi(vm, 0x70, EOI_APIC);
	c = step(vcpu, CMD_IPI, 0x72, cnt[0][0x72] + 1);
	a[4] = efd_take(rs);
	c += step(vcpu, CMD_IPI, 0x70, cnt[0][0x70] + 1);
	a[5] = efd_take(rs);
	tap_ok(c == 4 && !a[4] && a[5] == 1,
	       "a self-IPI of another vector, EOIed: no signal (%lu); a self-IPI of the SINT's vector, EOIed: signalled (%lu), as any EOI of it (after another VM with SynICs was freed)",
	       a[4], a[5]);

	guest_wrmsr(vcpu, SINT(6), MASKED | 0x70);
	c = step(vcpu, CMD_IPI, 0x70, cnt[0][0x70] + 1);
	a[6] = efd_take(rs);
	guest_wrmsr(vcpu, HV_X64_MSR_EOM, 0);
	a[7] = efd_take(rs);
	tap_ok(c == 4 && !a[6] && a[7] == 1,
	       "SINT masked: an EOI of its vector signals nothing (%lu); EOM still does (%lu)",
	       a[6], a[7]);

	/* Two routes on SINT6, listed 71 then 70: in-tree acks the higher. */
	for (i = 0; i < 3; i++) {
		ef[i] = efd_new();
		rf[i] = efd_new();
		TEST_ASSERT(!vm_irqfd(vm, ef[i], gsis[i], rf[i]), "KVM_IRQFD resample");
	}
	TEST_ASSERT(!vm_sint_routes(vm, two, 2), "KVM_SET_GSI_ROUTING (two)");
	guest_wrmsr(vcpu, HV_X64_MSR_EOM, 0);
	tap_ok(acked(rs, rf, d, sizeof(d)) == ACK_71,
	       "two routes on one SINT (GSIs 71, 70 in that order): EOM acknowledges GSI 71, the higher, as in-tree's walk of the table (acked:%s)",
	       d);

	/* A KVM_SET_GSI_ROUTING that fails changes no acknowledgment. */
	TEST_ASSERT(!vm_sint_routes(vm, &route, 1), "KVM_SET_GSI_ROUTING");
	r = set_routes_bad(vm);
	guest_wrmsr(vcpu, HV_X64_MSR_EOM, 0);
	tap_ok(r == EINVAL && acked(rs, rf, d, sizeof(d)) == ACK_50,
	       "back to GSI 50; then KVM_SET_GSI_ROUTING with an HV_SINT route on GSI 80 and an entry of unknown type -> %s: EOM still acknowledges GSI 50 only (acked:%s)",
	       strerror(r), d);
	vm_free(vm);
	close(e);
	close(rs);
	for (i = 0; i < 3; i++) {
		close(ef[i]);
		close(rf[i]);
	}
}

/* ---- (e) ---- */

static void test_two_vcpus(void)
{
	static const struct sint_route routes[] = { { 60, 0, 2 }, { 61, 1, 2 } };
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	uint64_t c0, c1;
	int e, st;

	synic_require(sup);
	vm = irq_vm(2, 3, 0x50, 0x50, vcpus);
	vcpu_wrmsr(vcpus[0], SINT(2), 0x50);
	vcpu_wrmsr(vcpus[1], SINT(2), 0x50);
	TEST_ASSERT(!vm_sint_routes(vm, routes, 2), "KVM_SET_GSI_ROUTING");
	e = efd_new();
	TEST_ASSERT(!vm_irqfd(vm, e, 61, -1), "KVM_IRQFD");
	efd_signal(e);
	c1 = expect(vcpus[1], 0x50, 1);
	c0 = expect(vcpus[0], 0x50, 0);
	tap_ok(c1 == 1 && !c0,
	       "irqfd on a route to VP 1: vCPU 1 gets its SINT2 once (%lu), vCPU 0 nothing (%lu)",
	       c1, c0);
	vm_irq_pulse(vm, 60);
	c0 = expect(vcpus[0], 0x50, 1);
	c1 = expect(vcpus[1], 0x50, 0);
	tap_ok(c0 == 1 && c1 == 1, "a pulse on the route to VP 0: only vCPU 0 (%lu, vCPU 1 still %lu)",
	       c0, c1);

	vcpu_wrmsr(vcpus[1], SINT(2), MASKED | 0x50);
	st = vm_irq_pulse(vm, 61);
	c1 = expect(vcpus[1], 0x50, 0);
	vm_irq_pulse(vm, 60);
	c0 = expect(vcpus[0], 0x50, 1);
	tap_ok(st == -1 && c1 == 1 && c0 == 2,
	       "separate SynICs: vCPU 1's SINT2 masked, its route brings nothing (status %d, %lu); vCPU 0's still works (%lu)",
	       st, c1, c0);
	vm_free(vm);
	close(e);

	/* VP indices swapped by the VMM before the routes. */
	vm = irq_vm(2, 3, 0x50, 0x50, vcpus);
	vcpu_wrmsr(vcpus[0], HV_X64_MSR_VP_INDEX, 1);
	vcpu_wrmsr(vcpus[1], HV_X64_MSR_VP_INDEX, 0);
	vcpu_wrmsr(vcpus[0], SINT(2), 0x50);
	vcpu_wrmsr(vcpus[1], SINT(2), 0x50);
	TEST_ASSERT(!vm_sint_routes(vm, routes, 2), "KVM_SET_GSI_ROUTING");
	vm_irq_pulse(vm, 61);
	c0 = expect(vcpus[0], 0x50, 1);
	c1 = expect(vcpus[1], 0x50, 0);
	tap_ok(c0 == 1 && !c1,
	       "VP_INDEX vCPU 0 = 1, vCPU 1 = 0: the route to VP 1 reaches vCPU 0 (%lu), not vCPU 1 (%lu)",
	       c0, c1);
	vm_free(vm);
}

/* ---- (f) ---- */

static void test_restore(void)
{
	const struct sint_route route = { 33, 0, 9 };
	struct kvm_vcpu *src, *dst;
	struct kvm_vm *vm, *vm2;
	uint64_t v[SYNIC_NR_MSRS], c;
	unsigned int i;
	int e;

	synic_require(sup);
	vm = irq_vm(1, 1, 0x64, 0x64, &src);
	guest_wrmsr(src, SINT(9), 0x64);
	for (i = 0; i < SYNIC_NR_MSRS; i++)
		v[i] = vcpu_rdmsr(src, synic_msrs[i]);
	vm_free(vm);

	vm2 = irq_vm(1, 1, 0x64, 0x64, &dst);
	for (i = 0; i < SYNIC_NR_MSRS; i++)
		if (synic_msrs[i] != HV_X64_MSR_EOM)
			vcpu_wrmsr(dst, synic_msrs[i], v[i]);
	TEST_ASSERT(!vm_sint_routes(vm2, &route, 1), "KVM_SET_GSI_ROUTING");
	e = efd_new();
	TEST_ASSERT(!vm_irqfd(vm2, e, 33, -1), "KVM_IRQFD");
	efd_signal(e);
	c = expect(dst, 0x64, 1);
	tap_ok(c == 1 && v[5 + 9] == 0x64,
	       "SynIC MSRs saved (SINT9 %#lx, set by the guest) and restored into a fresh VM: its irqfd delivers 0x64 once (%lu)",
	       v[5 + 9], c);
	vm_free(vm2);
	close(e);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env != HV_PLAIN)
		hv_leaves(sup);

	TEST_RUN("what raises nothing", test_nothing());
	TEST_RUN("irqfd and KVM_IRQ_LINE", test_irqfd());
	TEST_RUN("auto-EOI", test_auto_eoi());
	TEST_RUN("resampling irqfd: EOI and EOM", test_resample());
	TEST_RUN("two vCPUs", test_two_vcpus());
	TEST_RUN("restored SINTs keep firing", test_restore());

	return tap_done();
}
