// SPDX-License-Identifier: GPL-2.0
/*
 * The hypercall page and the Hyper-V hypercall ABI:
 *   - the page: dropped while GUEST_OS_ID is 0, VMCALL/VMMCALL + RET at
 *     the chosen GPA, disabled (address kept) when GUEST_OS_ID goes to 0,
 *     and a guest "call" through it reaches the dispatcher;
 *   - 64-bit callers (RCX input, RDX/R8 GPAs): unknown code, the input
 *     value checks of HvNotifyLongSpinWait, success, fast calls,
 *     KVM_CAP_HYPERV_ENFORCE_CPUID and the spinlock retry count, #UD from
 *     CPL3 and KVM's own hypercall ABI before GUEST_OS_ID is set;
 *   - 32-bit callers (EDX:EAX in and out) in flat protected mode;
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

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

/* ---- host helpers ---- */

#define OS_ID		0x8100000000001234ull
#define KVM_ENOSYS	1000
#define KVM_HC_UNKNOWN	0xabcdull	/* no such KVM hypercall number */
#define GARBAGE		0xdeadbeefcafef00dull

/* CPU vendor: VMMCALL on AMD and Hygon, VMCALL on Intel.  Host and guest. */
static bool is_amd(void)
{
	uint32_t a, b, c, d;

	cpuid_count(0, 0, &a, &b, &c, &d);
	return b == 0x68747541 /* "Auth" */ || b == 0x6f677948 /* "Hygo" */;
}

static const uint8_t *hc_page_bytes(void)
{
	static const uint8_t vmmcall[] = { 0x0f, 0x01, 0xd9, 0xc3 };
	static const uint8_t vmcall[] = { 0x0f, 0x01, 0xc1, 0xc3 };

	return is_amd() ? vmmcall : vmcall;
}

/* KVM's own count of completed hypercalls (all vCPUs), or -1. */
static int64_t kvm_hypercalls(struct kvm_vm *vm)
{
	uint64_t v;

	return vm_debugfs_read(vm, "hypercalls", NULL, &v) ? (int64_t)v : -1;
}

/* A VM with one Hyper-V vCPU at guest_code, GUEST_OS_ID set by the host. */
static struct kvm_vm *hv_vm(void *guest_code, struct kvm_vcpu **vcpu,
			    bool set_os_id)
{
	struct kvm_vm *vm = vm_create_with_vcpus(1, guest_code, vcpu);

	vcpu_set_hv_cpuid(*vcpu);
	if (set_os_id)
		vcpu_wrmsr(*vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	return vm;
}

/* ---- guest helpers ---- */

/* The hypercall instruction of this CPU, Hyper-V register convention. */
static uint8_t hv_hcall(uint64_t rcx, uint64_t rdx, uint64_t r8, uint64_t *rax)
{
	return is_amd() ? vmmcall_safe(rcx, rdx, r8, rax) :
			  vmcall_safe(rcx, rdx, r8, rax);
}

/* Call through the hypercall page, as Windows and Linux guests do. */
static uint64_t call_page(uint64_t page, uint64_t rcx, uint64_t rax)
{
	uint64_t rdx = 0;
	register uint64_t r8 asm("r8") = 0;

	asm volatile("call *%[page]"
		     : "+a"(rax), "+c"(rcx), "+d"(rdx), "+r"(r8)
		     : [page] "r"(page)
		     : "memory", "rsi", "rdi", "r9", "r10", "r11");
	return rax;
}

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

static void two_calls_guest(uint64_t id, uint64_t rcx1, uint64_t rcx2)
{
	uint64_t rax1 = GARBAGE, rax2 = GARBAGE;
	uint8_t v1, v2;

	(void)id;
	v1 = hv_hcall(rcx1, 0, 0, &rax1);
	v2 = hv_hcall(rcx2, 0, 0, &rax2);
	GUEST_SYNC(v1, rax1, v2, rax2);
	GUEST_DONE();
}

/*
 * One vCPU with 0x40000004.EBX = spin, 0x40000003.EAX = feat (< 0: as
 * supported) and enforcement as given.
 */
static void run_spin(uint32_t spin, int64_t feat, bool enforce, uint64_t rcx1,
		     uint64_t rcx2, struct ucall *uc)
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
	vcpu_args_set(vcpu, 3, 0ul, rcx1, rcx2);
	TEST_ASSERT_EQ(vcpu_run(vcpu, uc), UCALL_SYNC);
	vm_free(vm);
}

static void test_enforce(void)
{
	const uint64_t spin = HVCALL_NOTIFY_LONG_SPIN_WAIT;
	const uint64_t rep = spin | 1ull << HV_HYPERCALL_REP_COMP_OFFSET;
	struct ucall uc;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	run_spin(HVL_SPIN_RETRIES_NEVER, -1, true, spin, spin, &uc);
	tap_ok(!uc.args[0] && uc.args[1] == HV_STATUS_ACCESS_DENIED,
	       "enforced, 0x40000004.EBX 0xffffffff (never notify): HvNotifyLongSpinWait -> ACCESS_DENIED (%#lx)",
	       uc.args[1]);

	run_spin(0, -1, true, spin, rep, &uc);
	tap_ok(!uc.args[0] && uc.args[1] == HV_STATUS_ACCESS_DENIED,
	       "enforced, 0x40000004.EBX 0: HvNotifyLongSpinWait -> ACCESS_DENIED (%#lx)",
	       uc.args[1]);
	tap_ok(!uc.args[2] && uc.args[3] == HV_STATUS_ACCESS_DENIED,
	       "enforced, EBX 0: access is checked before the input (rep count -> %#lx)",
	       uc.args[3]);

	run_spin(0x1fff, -1, true, rep, spin, &uc);
	tap_ok(!uc.args[0] && uc.args[1] == HV_STATUS_INVALID_HYPERCALL_INPUT &&
	       !uc.args[2] && uc.args[3] == HV_STATUS_SUCCESS,
	       "enforced, 0x40000004.EBX 0x1fff: rep count -> %#lx, plain call -> SUCCESS (%#lx)",
	       uc.args[1], uc.args[3]);

	run_spin(0, -1, false, spin, spin | HV_HYPERCALL_FAST_BIT, &uc);
	tap_ok(!uc.args[0] && uc.args[1] == HV_STATUS_SUCCESS &&
	       !uc.args[2] && uc.args[3] == HV_STATUS_SUCCESS,
	       "not enforced, 0x40000004.EBX 0: HvNotifyLongSpinWait -> SUCCESS (%#lx, fast %#lx)",
	       uc.args[1], uc.args[3]);

	/* The 0x40000003.EAX hypercall bit gates the MSRs, not the calls. */
	run_spin(HVL_SPIN_RETRIES_DEFAULT, 0, true, 0x00ff, spin, &uc);
	tap_ok(!uc.args[0] && uc.args[1] == HV_STATUS_INVALID_HYPERCALL_CODE &&
	       !uc.args[2] && uc.args[3] == HV_STATUS_SUCCESS,
	       "enforced, 0x40000003.EAX 0, GUEST_OS_ID set by the host: hypercalls still dispatched (%#lx, %#lx)",
	       uc.args[1], uc.args[3]);
}

/* ---- CPL3 ---- */

static uint64_t ud_rip, ud_count, user_rip, user_rax;

static void ud_handler(struct ex_regs *regs)
{
	ud_rip = regs->rip;
	ud_count++;
	regs->rip += 3;		/* VMCALL and VMMCALL are 3 bytes */
}

static uint64_t user_hypercall(uint64_t amd)
{
	register uint64_t r8 asm("r8") = 0;
	uint64_t rax = GARBAGE, ip;

	if (amd)
		asm volatile("leaq 1f(%%rip), %[ip]\n1: vmmcall"
			     : [ip] "=&r"(ip), "+a"(rax)
			     : "c"((uint64_t)HVCALL_NOTIFY_LONG_SPIN_WAIT), "d"(0ul), "r"(r8)
			     : "memory");
	else
		asm volatile("leaq 1f(%%rip), %[ip]\n1: vmcall"
			     : [ip] "=&r"(ip), "+a"(rax)
			     : "c"((uint64_t)HVCALL_NOTIFY_LONG_SPIN_WAIT), "d"(0ul), "r"(r8)
			     : "memory");
	user_rip = ip;
	user_rax = rax;
	return 0;
}

static void cpl3_guest(void)
{
	guest_install_handler(UD_VECTOR, ud_handler);
	guest_run_user(user_hypercall, is_amd());
	GUEST_SYNC(ud_count, ud_rip, user_rip, user_rax);
	GUEST_DONE();
}

static void test_cpl3(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int64_t before, after;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = hv_vm(cpl3_guest, &vcpu, true);
	before = kvm_hypercalls(vm);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	after = kvm_hypercalls(vm);
	tap_ok(uc.args[0] == 1 && uc.args[1] == uc.args[2] && uc.args[3] == GARBAGE,
	       "hypercall from CPL3 -> #UD once (%lu), RIP not advanced (%#lx, insn at %#lx), RAX untouched",
	       uc.args[0], uc.args[1], uc.args[2]);
	if (before < 0 || after < 0)
		tap_skip("no KVM debugfs statistics");
	else
		tap_ok(after == before, "the #UD is not counted as a hypercall (%ld -> %ld)",
		       before, after);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_DONE);
	vm_free(vm);
}

/* ---- real mode ---- */

#define RM_CODE		0x1000		/* the hypercall, then "no #UD" */
#define RM_UD		0x1100		/* #UD handler (IVT entry 6) */
#define RM_STACK	0x2000
#define RM_PORT		0xe1

/* A Hyper-V vCPU in real mode: a hypercall must raise #UD, not run. */
static void test_real_mode(void)
{
	static const uint8_t after[] = {
		0xb0, 0x01,		/* mov $1, %al */
		0xe6, RM_PORT,		/* out %al, $RM_PORT */
		0xf4,			/* hlt */
	};
	static const uint8_t ud[] = {
		0xb0, UD_VECTOR,	/* mov $6, %al */
		0xe6, RM_PORT,		/* out %al, $RM_PORT */
		0xf4,			/* hlt */
	};
	struct kvm_vcpu *vcpu;
	struct kvm_sregs s;
	struct kvm_regs regs;
	struct kvm_segment seg = {
		.base = 0, .limit = 0xffff, .selector = 0, .type = 3,
		.present = 1, .s = 1,
	};
	struct kvm_vm *vm;
	uint8_t *mem;
	uint16_t *ivt, *frame;
	uint32_t reason;
	char buf[256];
	int64_t before, after_n;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = hv_vm(NULL, &vcpu, true);
	mem = addr_gpa2hva(vm, 0, RM_STACK);
	memcpy(mem + RM_CODE, hc_page_bytes(), 3);
	memcpy(mem + RM_CODE + 3, after, sizeof(after));
	memcpy(mem + RM_UD, ud, sizeof(ud));
	ivt = (uint16_t *)mem;
	ivt[2 * UD_VECTOR] = RM_UD;	/* offset */
	ivt[2 * UD_VECTOR + 1] = 0;	/* segment */

	vcpu_sregs_get(vcpu, &s);
	s.cr0 = X86_CR0_ET;
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	s.ds = s.es = s.fs = s.gs = s.ss = seg;
	seg.type = 11;
	s.cs = seg;
	s.idt.base = 0;
	s.idt.limit = 0x3ff;
	vcpu_sregs_set(vcpu, &s);
	vcpu_regs_get(vcpu, &regs);
	memset(&regs, 0, sizeof(regs));
	regs.rip = RM_CODE;
	regs.rsp = RM_STACK;
	regs.rax = HVCALL_NOTIFY_LONG_SPIN_WAIT;	/* EDX:EAX, were it a call */
	regs.rflags = X86_EFLAGS_FIXED;
	vcpu_regs_set(vcpu, &regs);

	before = kvm_hypercalls(vm);
	reason = vcpu_run_raw(vcpu);
	after_n = kvm_hypercalls(vm);
	vcpu_exit_str(vcpu, buf, sizeof(buf));
	vcpu_regs_get(vcpu, &regs);
	frame = (uint16_t *)(mem + RM_STACK - 6);	/* IP, CS, FLAGS */
	tap_ok(reason == KVM_EXIT_IO && vcpu->run->io.port == RM_PORT &&
	       (uint8_t)regs.rax == UD_VECTOR && frame[0] == RM_CODE &&
	       after_n == before,
	       "hypercall in real mode -> #UD at IP %#x (handler ran: AL %llu), not counted (%ld -> %ld); %s",
	       frame[0], regs.rax & 0xff, before, after_n, buf);
	vm_free(vm);
}

/* ---- 32-bit callers ---- */

#define PM32_PORT	0xe0

extern char hc32_vmmcall[], hc32_vmcall[];

/*
 * The hypercall, then three one-byte increments of EBP: skipping the
 * instruction twice would skip them, not skipping it would loop forever.
 */
asm(".pushsection .text.hc32, \"ax\"\n"
    ".code32\n"
    ".globl hc32_vmmcall\n"
    "hc32_vmmcall:\n"
    "	vmmcall\n"
    "	incl %ebp\n"
    "	incl %ebp\n"
    "	incl %ebp\n"
    "	outl %eax, $" HVL_STR(PM32_PORT) "\n"
    "	hlt\n"
    ".globl hc32_vmcall\n"
    "hc32_vmcall:\n"
    "	vmcall\n"
    "	incl %ebp\n"
    "	incl %ebp\n"
    "	incl %ebp\n"
    "	outl %eax, $" HVL_STR(PM32_PORT) "\n"
    "	hlt\n"
    ".code64\n"
    ".popsection\n");

/* Run the blob with EDX:EAX = input; return EDX:EAX, check the rest. */
static uint64_t run_pm32(struct kvm_vcpu *vcpu, uint64_t input, bool *regs_ok,
			 char *buf, size_t len)
{
	struct kvm_regs regs;
	uint32_t reason;

	vcpu_set_pm32(vcpu, (uint64_t)(is_amd() ? hc32_vmmcall : hc32_vmcall));
	vcpu_regs_get(vcpu, &regs);
	regs.rax = (uint32_t)input;
	regs.rdx = input >> 32;
	regs.rbx = 0x11111111;	/* input GPA, high */
	regs.rcx = 0x22222222;	/* input GPA, low */
	regs.rdi = 0x33333333;	/* output GPA, high */
	regs.rsi = 0x44444444;	/* output GPA, low */
	regs.rbp = 0;
	vcpu_regs_set(vcpu, &regs);
	reason = vcpu_run_raw(vcpu);
	vcpu_exit_str(vcpu, buf, len);
	vcpu_regs_get(vcpu, &regs);
	*regs_ok = reason == KVM_EXIT_IO && vcpu->run->io.port == PM32_PORT &&
		   regs.rbp == 3 && regs.rbx == 0x11111111 &&
		   regs.rcx == 0x22222222 && regs.rdi == 0x33333333 &&
		   regs.rsi == 0x44444444;
	if (!*regs_ok)
		tap_diag("EBP %#llx (3 if the call was skipped exactly once), EBX %#llx ECX %#llx EDI %#llx ESI %#llx",
			 regs.rbp, regs.rbx, regs.rcx, regs.rdi, regs.rsi);
	return regs.rdx << 32 | (uint32_t)regs.rax;
}

static void test_pm32(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char buf[256];
	uint64_t r;
	bool ok;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = hv_vm(NULL, &vcpu, true);

	r = run_pm32(vcpu, 0x00ff, &ok, buf, sizeof(buf));
	tap_ok(ok && r == HV_STATUS_INVALID_HYPERCALL_CODE,
	       "32-bit: EDX:EAX 0:0xff -> EDX:EAX %#lx, skipped once (%s)", r, buf);
	r = run_pm32(vcpu, HVCALL_NOTIFY_LONG_SPIN_WAIT | 1ull << HV_HYPERCALL_REP_COMP_OFFSET,
		     &ok, buf, sizeof(buf));
	tap_ok(ok && r == HV_STATUS_INVALID_HYPERCALL_INPUT,
	       "32-bit: EDX:EAX 1:0x8 (rep count in EDX) -> %#lx (%s)", r, buf);
	r = run_pm32(vcpu, HVCALL_NOTIFY_LONG_SPIN_WAIT, &ok, buf, sizeof(buf));
	tap_ok(ok && r == HV_STATUS_SUCCESS,
	       "32-bit: EDX:EAX 0:0x8 -> %#lx, skipped once (%s)", r, buf);
	vm_free(vm);
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
	GUEST_ASSERT_EQ(rdmsr_safe(0x400000ff, &val), GP_VECTOR);	/* not ours */
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
	TEST_RUN("a hypercall from CPL3", test_cpl3());
	TEST_RUN("a hypercall in real mode", test_real_mode());
	TEST_RUN("32-bit protected mode hypercalls", test_pm32());
	TEST_RUN("a Hyper-V VM beside a plain one", test_concurrent());
	TEST_RUN("the module's debugfs counters", test_counters());

	return tap_done();
}
