// SPDX-License-Identifier: GPL-2.0
/*
 * Hyper-V hypercalls from the callers other than 64-bit CPL0: #UD from
 * CPL3 and from real mode (the RIP not advanced, not counted as a
 * hypercall), and 32-bit protected-mode callers with EDX:EAX in and out,
 * the instruction skipped exactly once. Error cases come first.
 * Environments as in hv_hypercall.c.
 */
#include <stdio.h>
#include <string.h>

#include "hv_hypercall.h"

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
	GUEST_SYNC(0);
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
	sync_global_from_guest(vm, ud_count);
	sync_global_from_guest(vm, ud_rip);
	sync_global_from_guest(vm, user_rip);
	sync_global_from_guest(vm, user_rax);
	tap_ok(ud_count == 1 && ud_rip == user_rip && user_rax == GARBAGE,
	       "hypercall from CPL3 -> #UD once (%lu), RIP not advanced (%#lx, insn at %#lx), RAX untouched",
	       ud_count, ud_rip, user_rip);
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

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();

	TEST_RUN("a hypercall from CPL3", test_cpl3());
	TEST_RUN("a hypercall in real mode", test_real_mode());
	TEST_RUN("32-bit protected mode hypercalls", test_pm32());

	return tap_done();
}
