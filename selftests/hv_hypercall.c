// SPDX-License-Identifier: GPL-2.0
/*
 * The hypercall page and the Hyper-V hypercall ABI:
 *   - the page: dropped while GUEST_OS_ID is 0, VMCALL/VMMCALL + RET at
 *     the chosen GPA, disabled (address kept) when GUEST_OS_ID goes to 0,
 *     and a guest "call" through it reaches the dispatcher;
 *   - 64-bit callers (RCX input, RDX/R8 GPAs): unknown code, the input
 *     value checks of HvNotifyLongSpinWait, success, fast calls,
 *     KVM_CAP_HYPERV_ENFORCE_CPUID and the spinlock retry count, and KVM's
 *     own hypercall ABI before GUEST_OS_ID is set (CPL3, real-mode and
 *     32-bit callers: hv_hypercall_modes.c);
 *   - a VM without Hyper-V running at the same time keeps KVM's behaviour;
 *   - KVM's hypercall exit counter and the module's debugfs counters.
 * Error cases come before the successful ones.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there); "nohv" without the module
 * checks plain KVM where that is meaningful and SKIPs the rest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hv_hypercall.h"

/* ---- the hypercall page ---- */

static void page_guest(uint64_t gpa)
{
	uint64_t rax;
	uint8_t vec;

	/* GUEST_OS_ID is 0: the enable is silently dropped. */
	vec = wrmsr_safe(HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE);
	GUEST_SYNC(vec, rdmsr(HV_X64_MSR_HYPERCALL));

	wrmsr(HV_X64_MSR_GUEST_OS_ID, OS_ID);
	vec = wrmsr_safe(HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE);
	GUEST_SYNC(vec, rdmsr(HV_X64_MSR_HYPERCALL));

	GUEST_SYNC(call_page(gpa, 0x00ff, GARBAGE),
		   call_page(gpa, HVCALL_NOTIFY_LONG_SPIN_WAIT, GARBAGE));

	/* Zeroing GUEST_OS_ID disables the page, keeping its address ... */
	wrmsr(HV_X64_MSR_GUEST_OS_ID, 0);
	GUEST_SYNC(rdmsr(HV_X64_MSR_HYPERCALL));

	/* ... and VMMCALL/VMCALL is KVM's own hypercall again. */
	rax = KVM_HC_UNKNOWN;
	vec = hv_hcall(HVCALL_NOTIFY_LONG_SPIN_WAIT, 0, 0, &rax);
	GUEST_SYNC(vec, rax);
	GUEST_DONE();
}

static bool all_bytes(const uint8_t *p, uint8_t b, size_t n)
{
	while (n--)
		if (*p++ != b)
			return false;
	return true;
}

static void test_page(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t gpa;
	uint8_t *page;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = hv_vm(page_guest, &vcpu, false);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	page = addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE);
	memset(page, 0xcc, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == 0 && uc.args[1] == 0 &&
	       all_bytes(page, 0xcc, HVL_PAGE_SIZE),
	       "enable while GUEST_OS_ID is 0: no fault (%lu), MSR reads %#lx, page untouched",
	       uc.args[0], uc.args[1]);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == 0 && uc.args[1] == (gpa | HV_X64_MSR_HYPERCALL_ENABLE) &&
	       !memcmp(page, hc_page_bytes(), HVL_HCPAGE_LEN) &&
	       all_bytes(page + HVL_HCPAGE_LEN, 0xcc, HVL_PAGE_SIZE - HVL_HCPAGE_LEN),
	       "with GUEST_OS_ID: MSR %#lx, page holds %s + ret (%02x %02x %02x %02x), rest untouched",
	       uc.args[1], is_amd() ? "vmmcall" : "vmcall",
	       page[0], page[1], page[2], page[3]);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == HV_STATUS_INVALID_HYPERCALL_CODE &&
	       uc.args[1] == HV_STATUS_SUCCESS,
	       "call through the page reaches the dispatcher: code 0xff -> %#lx, 0x0008 -> %#lx",
	       uc.args[0], uc.args[1]);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == gpa, "GUEST_OS_ID 0 clears only the enable bit (%#lx)",
	       uc.args[0]);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == 0 && uc.args[1] == (uint64_t)-KVM_ENOSYS,
	       "after GUEST_OS_ID 0 the instruction is KVM's hypercall again (RAX %ld)",
	       (int64_t)uc.args[1]);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_DONE);
	vm_free(vm);
}

/* ---- KVM's hypercall ABI where Hyper-V is not enabled ---- */

static void kvm_abi_guest(void)
{
	uint64_t rax = KVM_HC_UNKNOWN;
	uint8_t vec;

	/* RCX would be HvNotifyLongSpinWait (status 0) under Hyper-V. */
	vec = hv_hcall(HVCALL_NOTIFY_LONG_SPIN_WAIT, 0, 0, &rax);
	GUEST_SYNC(vec, rax);
	GUEST_DONE();
}

static void test_kvm_abi(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int r;

	/* A Hyper-V guest that has not set GUEST_OS_ID yet. */
	vm = vm_create_with_vcpus(1, kvm_abi_guest, &vcpu);
	if (hv_env != HV_PLAIN)
		vcpu_set_hv_cpuid(vcpu);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == 0 && uc.args[1] == (uint64_t)-KVM_ENOSYS,
	       "%s: hypercall is KVM's (RAX %ld = -KVM_ENOSYS)",
	       hv_env == HV_PLAIN ? "plain KVM" : "Hyper-V guest before GUEST_OS_ID",
	       (int64_t)uc.args[1]);
	vm_free(vm);

	/* No "Hv#1", but the host set GUEST_OS_ID: still not Hyper-V. */
	vm = vm_create_with_vcpus(1, kvm_abi_guest, &vcpu);
	r = vcpu_set_msr(vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	tap_ok(uc.args[0] == 0 && uc.args[1] == (uint64_t)-KVM_ENOSYS,
	       "no \"Hv#1\", host set GUEST_OS_ID (%d): hypercall is KVM's (RAX %ld)",
	       r, (int64_t)uc.args[1]);
	vm_free(vm);
}

/* ---- the 64-bit ABI ---- */

struct hc_case {
	uint64_t rcx, rdx, r8;
	uint64_t rax;		/* in: garbage; out: the result */
	uint8_t vec;
};

#define MAX_CASES	32
static struct hc_case hc_cases[MAX_CASES];
static uint64_t hc_ncases;

static void cases_guest(void)
{
	uint64_t i;

	for (i = 0; i < hc_ncases; i++)
		hc_cases[i].vec = hv_hcall(hc_cases[i].rcx, hc_cases[i].rdx,
					   hc_cases[i].r8, &hc_cases[i].rax);
	GUEST_DONE();
}

static void add_case(uint64_t rcx)
{
	TEST_ASSERT(hc_ncases < MAX_CASES, "too many cases");
	hc_cases[hc_ncases++] = (struct hc_case){
		.rcx = rcx, .rdx = 0x1000, .r8 = 0x2000, .rax = GARBAGE,
	};
}

/* All cases [from, to) returned status want with no fault, no rep count. */
static bool cases_ok(uint64_t from, uint64_t to, uint64_t want, char *why, size_t len)
{
	uint64_t i;

	for (i = from; i < to; i++) {
		if (hc_cases[i].vec || hc_cases[i].rax != want) {
			snprintf(why, len, "input %#lx: vector %u, RAX %#lx",
				 hc_cases[i].rcx, hc_cases[i].vec, hc_cases[i].rax);
			return false;
		}
	}
	snprintf(why, len, "%lu calls", to - from);
	return true;
}

static void test_abi64(void)
{
	const uint64_t spin = HVCALL_NOTIFY_LONG_SPIN_WAIT;
	uint64_t idx[10], b;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int64_t before, after;
	char why[128];
	int n = 0;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	hc_ncases = 0;
	idx[n++] = hc_ncases;
	add_case(0x00ff);
	add_case(0xfffe);
	idx[n++] = hc_ncases;
	add_case(spin | 1ull << HV_HYPERCALL_REP_COMP_OFFSET);
	add_case(spin | HVL_HC_REP_MASK << HV_HYPERCALL_REP_COMP_OFFSET);
	idx[n++] = hc_ncases;
	add_case(spin | 1ull << HV_HYPERCALL_REP_START_OFFSET);
	add_case(spin | HVL_HC_REP_MASK << HV_HYPERCALL_REP_START_OFFSET);
	idx[n++] = hc_ncases;
	add_case(spin | 1ull << HV_HYPERCALL_VARHEAD_OFFSET);
	add_case(spin | HV_HYPERCALL_VARHEAD_MASK);
	idx[n++] = hc_ncases;
	for (b = 27; b <= 31; b++)
		add_case(spin | 1ull << b);
	idx[n++] = hc_ncases;
	for (b = 44; b <= 47; b++)
		add_case(spin | 1ull << b);
	idx[n++] = hc_ncases;
	for (b = 60; b <= 63; b++)
		add_case(spin | 1ull << b);
	idx[n++] = hc_ncases;
	add_case(spin);
	idx[n++] = hc_ncases;
	add_case(spin | HV_HYPERCALL_FAST_BIT);
	idx[n++] = hc_ncases;

	vm = hv_vm(cases_guest, &vcpu, true);
	sync_global_to_guest(vm, hc_cases);
	sync_global_to_guest(vm, hc_ncases);
	before = kvm_hypercalls(vm);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_DONE);
	after = kvm_hypercalls(vm);
	sync_global_from_guest(vm, hc_cases);

	tap_ok(cases_ok(idx[0], idx[1], HV_STATUS_INVALID_HYPERCALL_CODE, why, sizeof(why)),
	       "unknown call codes 0x00ff, 0xfffe -> HV_STATUS_INVALID_HYPERCALL_CODE (%s)", why);
	tap_ok(cases_ok(idx[1], idx[2], HV_STATUS_INVALID_HYPERCALL_INPUT, why, sizeof(why)),
	       "HvNotifyLongSpinWait with a rep count -> INVALID_HYPERCALL_INPUT (%s)", why);
	tap_ok(cases_ok(idx[2], idx[3], HV_STATUS_INVALID_HYPERCALL_INPUT, why, sizeof(why)),
	       "HvNotifyLongSpinWait with a rep start -> INVALID_HYPERCALL_INPUT (%s)", why);
	tap_ok(cases_ok(idx[3], idx[4], HV_STATUS_INVALID_HYPERCALL_INPUT, why, sizeof(why)),
	       "HvNotifyLongSpinWait with a variable header size -> INVALID_HYPERCALL_INPUT (%s)", why);
	tap_ok(cases_ok(idx[4], idx[5], HV_STATUS_INVALID_HYPERCALL_INPUT, why, sizeof(why)),
	       "each reserved bit 31:27 -> INVALID_HYPERCALL_INPUT (%s)", why);
	tap_ok(cases_ok(idx[5], idx[6], HV_STATUS_INVALID_HYPERCALL_INPUT, why, sizeof(why)),
	       "each reserved bit 47:44 -> INVALID_HYPERCALL_INPUT (%s)", why);
	tap_ok(cases_ok(idx[6], idx[7], HV_STATUS_INVALID_HYPERCALL_INPUT, why, sizeof(why)),
	       "each reserved bit 63:60 -> INVALID_HYPERCALL_INPUT (%s)", why);
	tap_ok(cases_ok(idx[7], idx[8], HV_STATUS_SUCCESS, why, sizeof(why)),
	       "HvNotifyLongSpinWait -> SUCCESS, whole RAX 0: no reps completed (%s)", why);
	tap_ok(cases_ok(idx[8], idx[9], HV_STATUS_SUCCESS, why, sizeof(why)),
	       "HvNotifyLongSpinWait as a fast call -> SUCCESS (%s)", why);
	if (before < 0 || after < 0)
		tap_skip("no KVM debugfs statistics (%ld %ld)", before, after);
	else
		tap_ok(after - before == (int64_t)hc_ncases,
		       "KVM counts each of the %lu hypercalls once (%ld)", hc_ncases,
		       after - before);
	vm_free(vm);
}

/* ---- KVM_CAP_HYPERV_ENFORCE_CPUID and the spinlock retry count ---- */

/* What the guest saw of its two hypercalls: fault vector and RAX each. */
struct two_calls {
	uint64_t vec1, status1;
	uint64_t vec2, status2;
};

static struct two_calls two;

static void two_calls_guest(uint64_t rcx1, uint64_t rcx2)
{
	uint64_t rax1 = GARBAGE, rax2 = GARBAGE;

	two.vec1 = hv_hcall(rcx1, 0, 0, &rax1);
	two.vec2 = hv_hcall(rcx2, 0, 0, &rax2);
	two.status1 = rax1;
	two.status2 = rax2;
	GUEST_DONE();
}

/*
 * One vCPU with 0x40000004.EBX = spin, 0x40000003.EAX = feat (< 0: as
 * supported) and enforcement as given, making the hypercalls rcx1 and rcx2.
 */
static struct two_calls run_spin(uint32_t spin, int64_t feat, bool enforce,
				 uint64_t rcx1, uint64_t rcx2)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	vm = vm_create_with_vcpus(1, two_calls_guest, &vcpu);
	hv_leaves(leaf);
	leaf[4].ebx = spin;
	if (feat >= 0)
		leaf[3].eax = feat;
	vcpu_set_hv_leaves(vcpu, leaf);
	if (enforce)
		TEST_ASSERT(!vcpu_enable_cap(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
			    "KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENFORCE_CPUID)");
	vcpu_wrmsr(vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	vcpu_args_set(vcpu, 2, rcx1, rcx2);
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	sync_global_from_guest(vm, two);
	vm_free(vm);
	return two;
}

static void test_enforce(void)
{
	const uint64_t spin = HVCALL_NOTIFY_LONG_SPIN_WAIT;
	const uint64_t rep = spin | 1ull << HV_HYPERCALL_REP_COMP_OFFSET;
	struct two_calls r;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	r = run_spin(HVL_SPIN_RETRIES_NEVER, -1, true, spin, spin);
	tap_ok(!r.vec1 && r.status1 == HV_STATUS_ACCESS_DENIED,
	       "enforced, 0x40000004.EBX 0xffffffff (never notify): HvNotifyLongSpinWait -> ACCESS_DENIED (%#lx)",
	       r.status1);

	r = run_spin(0, -1, true, spin, rep);
	tap_ok(!r.vec1 && r.status1 == HV_STATUS_ACCESS_DENIED,
	       "enforced, 0x40000004.EBX 0: HvNotifyLongSpinWait -> ACCESS_DENIED (%#lx)",
	       r.status1);
	tap_ok(!r.vec2 && r.status2 == HV_STATUS_ACCESS_DENIED,
	       "enforced, EBX 0: access is checked before the input (rep count -> %#lx)",
	       r.status2);

	r = run_spin(0x1fff, -1, true, rep, spin);
	tap_ok(!r.vec1 && r.status1 == HV_STATUS_INVALID_HYPERCALL_INPUT &&
	       !r.vec2 && r.status2 == HV_STATUS_SUCCESS,
	       "enforced, 0x40000004.EBX 0x1fff: rep count -> %#lx, plain call -> SUCCESS (%#lx)",
	       r.status1, r.status2);

	r = run_spin(0, -1, false, spin, spin | HV_HYPERCALL_FAST_BIT);
	tap_ok(!r.vec1 && r.status1 == HV_STATUS_SUCCESS &&
	       !r.vec2 && r.status2 == HV_STATUS_SUCCESS,
	       "not enforced, 0x40000004.EBX 0: HvNotifyLongSpinWait -> SUCCESS (%#lx, fast %#lx)",
	       r.status1, r.status2);

	/* The 0x40000003.EAX hypercall bit gates the MSRs, not the calls. */
	r = run_spin(HVL_SPIN_RETRIES_DEFAULT, 0, true, 0x00ff, spin);
	tap_ok(!r.vec1 && r.status1 == HV_STATUS_INVALID_HYPERCALL_CODE &&
	       !r.vec2 && r.status2 == HV_STATUS_SUCCESS,
	       "enforced, 0x40000003.EAX 0, GUEST_OS_ID set by the host: hypercalls still dispatched (%#lx, %#lx)",
	       r.status1, r.status2);
}

/* ---- a VM without Hyper-V at the same time ---- */

#define LOOPS		50

static void plain_guest(void)
{
	uint64_t val, rax;
	int i;

	for (i = 0; i < LOOPS; i++) {
		GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &val), GP_VECTOR);
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, OS_ID), GP_VECTOR);
		GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_HYPERCALL, &val), GP_VECTOR);
		GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_VP_INDEX, &val), GP_VECTOR);
		rax = KVM_HC_UNKNOWN;
		GUEST_ASSERT_EQ(hv_hcall(HVCALL_NOTIFY_LONG_SPIN_WAIT, 0, 0, &rax), 0);
		GUEST_ASSERT_EQ(rax, (uint64_t)-KVM_ENOSYS);
	}
	GUEST_DONE();
}

static void busy_hv_guest(void)
{
	uint64_t rax;
	int i;

	for (i = 0; i < LOOPS; i++) {
		GUEST_ASSERT_EQ(rdmsr(HV_X64_MSR_GUEST_OS_ID), OS_ID);
		rax = GARBAGE;
		GUEST_ASSERT_EQ(hv_hcall(HVCALL_NOTIFY_LONG_SPIN_WAIT, 0, 0, &rax), 0);
		GUEST_ASSERT_EQ(rax, HV_STATUS_SUCCESS);
	}
	GUEST_DONE();
}

struct runner {
	struct kvm_vcpu *vcpu;
	struct ucall uc;
	uint64_t kind;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->kind = vcpu_run_noabort(r->vcpu, &r->uc);
	return NULL;
}

static void test_concurrent(void)
{
	struct runner hv = {}, plain = {};
	struct kvm_vm *vm_hv = NULL, *vm_plain;
	pthread_t t_hv, t_plain;

	vm_plain = vm_create_with_vcpus(1, plain_guest, &plain.vcpu);
	if (hv_env != HV_PLAIN)
		vm_hv = hv_vm(busy_hv_guest, &hv.vcpu, true);

	TEST_ASSERT(!pthread_create(&t_plain, NULL, run_thread, &plain), "pthread_create");
	if (vm_hv)
		TEST_ASSERT(!pthread_create(&t_hv, NULL, run_thread, &hv), "pthread_create");
	pthread_join(t_plain, NULL);
	if (vm_hv)
		pthread_join(t_hv, NULL);

	tap_ok(plain.kind == UCALL_DONE,
	       "VM without Hyper-V%s: %d rounds of #GP on the MSRs and KVM's hypercall ABI %s",
	       vm_hv ? " beside a busy Hyper-V VM" : "", LOOPS, plain.uc.msg);
	if (vm_hv)
		tap_ok(hv.kind == UCALL_DONE,
		       "the Hyper-V VM meanwhile: %d successful HvNotifyLongSpinWait %s",
		       LOOPS, hv.uc.msg);
	if (vm_hv)
		vm_free(vm_hv);
	vm_free(vm_plain);
}

/* ---- the module's debugfs counters ---- */

static const char *const counter_keys[] = {
	"guest_os_id", "hypercall", "msr_reads", "msr_writes", "msr_gp",
	"hypercalls", "hypercalls_failed", "spin_wait_notifications",
	"spin_wait_yields",
};
#define NR_COUNTERS	ARRAY_SIZE(counter_keys)
enum { C_OS_ID, C_HC, C_RD, C_WR, C_GP, C_HCALLS, C_HFAIL, C_SPIN, C_YIELD };

static bool read_counters(struct kvm_vm *vm, uint64_t c[NR_COUNTERS])
{
	unsigned int i;

	for (i = 0; i < NR_COUNTERS; i++)
		if (!vm_debugfs_read(vm, "hvenlight", counter_keys[i], &c[i]))
			return false;
	return true;
}

static void counters_guest(uint64_t id, uint64_t gpa)
{
	uint64_t rax, val;

	(void)id;
	GUEST_SYNC(0);
	wrmsr(HV_X64_MSR_GUEST_OS_ID, OS_ID);
	GUEST_SYNC(1);

	rdmsr(HV_X64_MSR_GUEST_OS_ID);
	rdmsr(HV_X64_MSR_HYPERCALL);
	rdmsr(HV_X64_MSR_VP_INDEX);
	wrmsr(HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE);
	GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_VP_INDEX, 1), GP_VECTOR);
	GUEST_ASSERT_EQ(rdmsr_safe(0x40000119, &val), GP_VECTOR);	/* nobody's */
	GUEST_SYNC(2);

	GUEST_ASSERT_EQ(call_page(gpa, HVCALL_NOTIFY_LONG_SPIN_WAIT, 0), 0);
	GUEST_ASSERT_EQ(call_page(gpa, HVCALL_NOTIFY_LONG_SPIN_WAIT, 0), 0);
	GUEST_ASSERT_EQ(call_page(gpa, 0x00ff, 0), HV_STATUS_INVALID_HYPERCALL_CODE);
	rax = 0;
	GUEST_ASSERT_EQ(hv_hcall(HVCALL_NOTIFY_LONG_SPIN_WAIT | 1ull << 32, 0, 0, &rax), 0);
	GUEST_ASSERT_EQ(rax, HV_STATUS_INVALID_HYPERCALL_INPUT);
	GUEST_SYNC(3);
	GUEST_DONE();
}

static void test_counters(void)
{
	uint64_t c0[NR_COUNTERS] = {}, c1[NR_COUNTERS] = {}, c2[NR_COUNTERS] = {};
	struct kvm_vcpu *vcpu, *pvcpu;
	struct kvm_vm *vm, *vm_plain;
	struct ucall uc;
	uint64_t gpa, dummy, vp = 0, assist = 0;
	bool had, ok;

	if (hv_env != HV_MODULE)
		test_skip("%s", hv_env == HV_PLAIN ? NO_MODULE :
			  INTENTIONAL("the hvenlight debugfs file is the module's own"));
	vm = hv_vm(counters_guest, &vcpu, false);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 2, 0ul, gpa);
	/* A VM without Hyper-V, alive at the same time. */
	vm_plain = vm_create_with_vcpus(1, plain_guest, &pvcpu);
	TEST_ASSERT_EQ(vcpu_run(pvcpu, &uc), UCALL_DONE);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	had = vm_debugfs_read(vm, "hvenlight", "msr_reads", &dummy);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	ok = read_counters(vm, c0);
	tap_ok(ok && !had && c0[C_OS_ID] == OS_ID &&
	       c0[C_WR] == 1 && !c0[C_RD] && !c0[C_GP] && !c0[C_HCALLS],
	       "debugfs hvenlight appears on the first Hyper-V use (before: %s): guest_os_id %#lx, msr_writes %lu",
	       had ? "present" : "absent", c0[C_OS_ID], c0[C_WR]);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	ok = read_counters(vm, c1);
	tap_ok(ok && c1[C_RD] - c0[C_RD] == 3 &&
	       c1[C_WR] - c0[C_WR] == 2 && c1[C_GP] - c0[C_GP] == 1 &&
	       c1[C_HC] == (gpa | HV_X64_MSR_HYPERCALL_ENABLE),
	       "3 reads, 2 writes, 1 refused write: msr_reads +%lu, msr_writes +%lu, msr_gp +%lu, hypercall %#lx",
	       c1[C_RD] - c0[C_RD], c1[C_WR] - c0[C_WR], c1[C_GP] - c0[C_GP], c1[C_HC]);

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	ok = read_counters(vm, c2);
	tap_ok(ok && c2[C_HCALLS] - c1[C_HCALLS] == 4 &&
	       c2[C_HFAIL] - c1[C_HFAIL] == 2 && c2[C_SPIN] - c1[C_SPIN] == 2 &&
	       c2[C_YIELD] <= c2[C_SPIN] && c2[C_RD] == c1[C_RD],
	       "2 good, 2 failed hypercalls: hypercalls +%lu, failed +%lu, spin_wait_notifications +%lu (yields %lu)",
	       c2[C_HCALLS] - c1[C_HCALLS], c2[C_HFAIL] - c1[C_HFAIL],
	       c2[C_SPIN] - c1[C_SPIN], c2[C_YIELD]);

	tap_ok(!vm_debugfs_read(vm_plain, "hvenlight", "msr_reads", &dummy),
	       "the VM without Hyper-V has no hvenlight state (no debugfs file)");

	/* Per-vCPU state, as a VMM restores it after a migration. */
	TEST_ASSERT_EQ(vcpu_set_msr(vcpu, HV_X64_MSR_VP_INDEX, 7), 1);
	ok = vm_debugfs_read(vm, "hvenlight", "vcpu0_vp_index", &vp) &&
	     vm_debugfs_read(vm, "hvenlight", "vcpu0_vp_assist", &assist);
	tap_ok(ok && vp == 7 && !assist,
	       "per-vCPU state in debugfs after a host VP_INDEX write of 7: vcpu0_vp_index %lu, vcpu0_vp_assist %#lx",
	       vp, assist);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_DONE);
	vm_free(vm_plain);
	vm_free(vm);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();

	TEST_RUN("the hypercall page", test_page());
	TEST_RUN("KVM's hypercall ABI where Hyper-V is not enabled", test_kvm_abi());
	TEST_RUN("64-bit hypercall ABI", test_abi64());
	TEST_RUN("KVM_CAP_HYPERV_ENFORCE_CPUID and the spinlock retry count", test_enforce());
	TEST_RUN("a Hyper-V VM beside a plain one", test_concurrent());
	TEST_RUN("the module's debugfs counters", test_counters());

	return tap_done();
}
