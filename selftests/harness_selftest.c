// SPDX-License-Identifier: GPL-2.0
/*
 * Self-test of the selftest library: every feature other tests rely on
 * gets one check here, including the failure paths (a failed guest
 * assertion, an unhandled exception, a triple fault) that must be
 * reported rather than lost.  The TAP harness itself: harness_tap.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kvm_util.h"

#define NONEXISTENT_MSR		0xdeadbeef
#define MSR_PAT			0x277
#define PM32_PORT		0xe0	/* < 0x100: "out" with an immediate keeps EDX */
#define SMP_VCPUS		4

/* Run once more and check the kind; on a mismatch say what happened. */
static bool run_expect(struct kvm_vcpu *vcpu, uint64_t kind, struct ucall *uc)
{
	uint64_t got = vcpu_run_noabort(vcpu, uc);

	if (got != kind)
		tap_diag("vCPU %u: ucall kind %lu, expected %lu %s", vcpu->id,
			 got, kind, uc->msg);
	return got == kind;
}

/* ---- ucall SYNC / DONE ---- */

static void sync_guest(uint64_t id)
{
	GUEST_SYNC(0x1122334455667788ULL, id, 3, 4, 5, 6);
	GUEST_SYNC(7);
	GUEST_DONE();
}

static void test_sync(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_vcpus(1, sync_guest, &vcpu);
	struct ucall uc;
	bool ok;

	ok = run_expect(vcpu, UCALL_SYNC, &uc) && uc.nargs == 6 &&
	     uc.args[0] == 0x1122334455667788ULL && uc.args[1] == 0 &&
	     uc.args[2] == 3 && uc.args[5] == 6;
	ok = ok && run_expect(vcpu, UCALL_SYNC, &uc) && uc.nargs == 1 &&
	     uc.args[0] == 7;
	ok = ok && run_expect(vcpu, UCALL_DONE, &uc);
	/* DONE repeats instead of running off the end. */
	ok = ok && run_expect(vcpu, UCALL_DONE, &uc);
	tap_ok(ok, "GUEST_SYNC passes 6 and 1 values, GUEST_DONE ends the guest");
	vm_free(vm);
}

/* A guest function that just returns counts as done. */
static void return_guest(void)
{
}

static void test_return(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_vcpus(1, return_guest, &vcpu);
	struct ucall uc;

	tap_ok(run_expect(vcpu, UCALL_DONE, &uc),
	       "returning from the guest function reports DONE");
	vm_free(vm);
}

/* ---- GUEST_ASSERT reporting ---- */

static volatile uint64_t forty_two = 42;
static uint64_t expected_line;	/* set by the guest, read by the host */

static void assert_guest(uint64_t which)
{
	if (which == 0) {
		expected_line = __LINE__ + 1;
		GUEST_ASSERT_EQ(forty_two, 43);
	}
	GUEST_ASSERT(forty_two == 42);
	if (which == 1) {
		expected_line = __LINE__ + 1;
		GUEST_ASSERT(forty_two != 42);
	}
	GUEST_DONE();
}

static void test_assert(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	char where[64];
	bool ok;

	vm = vm_create_with_vcpus(1, assert_guest, &vcpu);
	vcpu_args_set(vcpu, 1, 0);
	ok = vcpu_run_noabort(vcpu, &uc) == UCALL_ABORT;
	sync_global_from_guest(vm, expected_line);
	snprintf(where, sizeof(where), "%s:%lu:", __FILE__, expected_line);
	ok = ok && strstr(uc.msg, where) && strstr(uc.msg, "forty_two, 43") &&
	     strstr(uc.msg, "0x2a (42) vs 0x2b (43)");
	tap_ok(ok, "failed GUEST_ASSERT_EQ is reported: %s", uc.msg);
	vm_free(vm);

	vm = vm_create_with_vcpus(1, assert_guest, &vcpu);
	vcpu_args_set(vcpu, 1, 1);
	ok = vcpu_run_noabort(vcpu, &uc) == UCALL_ABORT;
	sync_global_from_guest(vm, expected_line);
	snprintf(where, sizeof(where), "%s:%lu:", __FILE__, expected_line);
	ok = ok && strstr(uc.msg, where) && strstr(uc.msg, "forty_two != 42");
	tap_ok(ok, "failed GUEST_ASSERT is reported: %s", uc.msg);
	vm_free(vm);

	vm = vm_create_with_vcpus(1, assert_guest, &vcpu);
	vcpu_args_set(vcpu, 1, 2);
	tap_ok(run_expect(vcpu, UCALL_DONE, &uc), "passing assertions are silent");
	vm_free(vm);
}

/* ---- exception fixups ---- */

static void fixup_guest(void)
{
	uint64_t val = 1, err = 0xff;
	uint8_t vec;

	vec = rdmsr_safe(NONEXISTENT_MSR, &val);
	GUEST_SYNC(vec, val);

	vec = wrmsr_safe(NONEXISTENT_MSR, 0);
	GUEST_SYNC(vec);

	vec = rdmsr_safe(MSR_EFER, &val);
	GUEST_SYNC(vec, val);

	vec = asm_safe_err("ud2", &err, (), ());
	GUEST_SYNC(vec, err);

	/* #GP with an error code: a selector beyond the GDT limit. */
	vec = asm_safe_err("movw %[sel], %%fs", &err, (), ([sel] "r"((uint16_t)0xfff8)));
	GUEST_SYNC(vec, err);

	/* Operands flow through: cpuid leaf 0 with outputs. */
	{
		uint32_t a = 0, b, c = 0, d;

		vec = asm_safe("cpuid", ("+a"(a), "=b"(b), "+c"(c), "=d"(d)), ());
		GUEST_SYNC(vec, a, b);
	}
	GUEST_DONE();
}

static void test_fixup(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_vcpus(1, fixup_guest, &vcpu);
	const struct kvm_cpuid_entry2 *leaf0 = vcpu_cpuid_entry(vcpu, 0, 0);
	struct ucall uc;
	bool ok;

	ok = run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == GP_VECTOR && uc.args[1] == 0,
	       "rdmsr_safe(0xdeadbeef) = #GP (%lu)", uc.args[0]);
	ok = run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == GP_VECTOR,
	       "wrmsr_safe(0xdeadbeef) = #GP (%lu)", uc.args[0]);
	ok = run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == 0 &&
	       (uc.args[1] & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA),
	       "rdmsr_safe(EFER) works: vector %lu, EFER %#lx",
	       uc.args[0], uc.args[1]);
	ok = run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == UD_VECTOR && uc.args[1] == 0,
	       "ud2 is caught as #UD (%lu)", uc.args[0]);
	ok = run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == GP_VECTOR && uc.args[1] == 0xfff8,
	       "bad selector load is #GP (%lu) with error code %#lx",
	       uc.args[0], uc.args[1]);
	ok = run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == 0 && leaf0 && uc.args[1] == leaf0->eax &&
	       uc.args[2] == leaf0->ebx,
	       "asm_safe passes operands (cpuid.0 eax %#lx)", uc.args[1]);
	tap_ok(run_expect(vcpu, UCALL_DONE, &uc), "fixup guest finished");
	vm_free(vm);
}

/* ---- unexpected exceptions are reported, not triple faults ---- */

static void unexpected_ud_guest(void)
{
	asm volatile("ud2");
	GUEST_DONE();
}

static void unexpected_pf_user_guest(void)
{
	/* Above the 4 GiB identity map: #PF at CPL3. */
	*(volatile uint64_t *)(8ULL << 30) = 1;
	GUEST_DONE();
}

static void double_fault_guest(void)
{
	/* Pushing to an unmapped stack: #PF, which cannot be delivered -> #DF. */
	asm volatile("movabsq $0x200000000, %%rsp; pushq $0" ::: "memory");
}

static void test_unexpected(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t fn = (uint64_t)unexpected_ud_guest;
	bool ok;

	vm = vm_create_with_vcpus(1, unexpected_ud_guest, &vcpu);
	ok = vcpu_run_noabort(vcpu, &uc) == UCALL_EXCEPTION;
	tap_ok(ok && uc.args[0] == UD_VECTOR && uc.args[2] >= fn &&
	       uc.args[2] < fn + 64 && strstr(uc.msg, "unexpected_ud_guest+"),
	       "unhandled #UD reported: %s", uc.msg);
	vm_free(vm);

	vm = vm_create_with_vcpus(1, unexpected_pf_user_guest, &vcpu);
	vcpu_set_cpl3(vcpu);
	ok = vcpu_run_noabort(vcpu, &uc) == UCALL_EXCEPTION;
	tap_ok(ok && uc.args[0] == PF_VECTOR && uc.args[3] == USER_CS &&
	       uc.args[4] == (8ULL << 30),
	       "unhandled #PF at CPL3 reported: %s", uc.msg);
	vm_free(vm);

	vm = vm_create_with_vcpus(1, double_fault_guest, &vcpu);
	ok = vcpu_run_noabort(vcpu, &uc) == UCALL_EXCEPTION;
	tap_ok(ok && uc.args[0] == DF_VECTOR,
	       "#DF on a broken stack is reported via IST1: %s", uc.msg);
	vm_free(vm);
}

/* ---- handlers for any vector ---- */

static volatile uint64_t handler_sum;

static void sum_handler(struct ex_regs *regs)
{
	handler_sum += regs->vector;
}

static void skip_ud2_handler(struct ex_regs *regs)
{
	handler_sum += 1000;
	regs->rip += 2;
}

static void handler_guest(void)
{
	guest_install_handler(0x40, sum_handler);
	guest_install_handler(UD_VECTOR, skip_ud2_handler);
	asm volatile("int $0x40");
	asm volatile("int $0x41");	/* installed by the host */
	asm volatile("ud2");
	GUEST_ASSERT_EQ(handler_sum, 0x40 + 0x41 + 1000);
	/* An armed fixup still wins over the #UD handler. */
	GUEST_ASSERT_EQ(asm_safe("ud2", (), ()), UD_VECTOR);
	GUEST_ASSERT_EQ(handler_sum, 0x40 + 0x41 + 1000);
	GUEST_DONE();
}

static void test_handlers(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_vcpus(1, handler_guest, &vcpu);
	struct ucall uc;

	vm_install_handler(vm, 0x41, sum_handler);
	tap_ok(run_expect(vcpu, UCALL_DONE, &uc),
	       "guest- and host-installed handlers run");
	vm_free(vm);
}

/* x2APIC self-IPI through the in-kernel irqchip to a vector >= 32. */
#define IPI_VECTOR		0x50
#define X2APIC_EOI		0x80b
#define X2APIC_SVR		0x80f
#define X2APIC_SELF_IPI		0x83f

static volatile uint64_t ipi_count;

static void ipi_handler(struct ex_regs *regs)
{
	(void)regs;
	ipi_count++;
	wrmsr(X2APIC_EOI, 0);
}

static void ipi_guest(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1 << 11) | (1 << 10));
	wrmsr(X2APIC_SVR, 0x1ff);
	guest_install_handler(IPI_VECTOR, ipi_handler);
	wrmsr(X2APIC_SELF_IPI, IPI_VECTOR);
	GUEST_ASSERT_EQ(ipi_count, 0);		/* IF is still clear */
	asm volatile("sti; nop; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(ipi_count, 1);
	GUEST_DONE();
}

static void test_irqchip_ipi(void)
{
	struct kvm_cpuid_entry2 *leaf1;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	if (kvm_check_cap(KVM_CAP_IRQCHIP) <= 0)
		test_skip("no KVM_CAP_IRQCHIP");
	vm = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm, ipi_guest);
	leaf1 = vcpu_cpuid_entry(vcpu, 1, 0);
	if (!leaf1 || !(leaf1->ecx & (1u << 21))) {
		vm_free(vm);
		test_skip("KVM does not offer x2APIC");
	}
	tap_ok(run_expect(vcpu, UCALL_DONE, &uc),
	       "in-kernel irqchip delivers a self-IPI to a vector-0x%x handler",
	       IPI_VECTOR);
	vm_free(vm);
}

/* ---- guest memory seen by the host and vice versa ---- */

static uint64_t shared_buf[64];

static void memory_guest(void)
{
	int i;

	for (i = 0; i < 64; i++)
		shared_buf[i] = 0xabcd0000ULL + i;
	GUEST_SYNC(0);
	/* The host has written shared_buf[0] meanwhile. */
	GUEST_SYNC(shared_buf[0]);
	GUEST_DONE();
}

static void test_memory(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_vcpus(1, memory_guest, &vcpu);
	uint64_t *buf = addr_gpa2hva(vm, (uint64_t)shared_buf, sizeof(shared_buf));
	struct ucall uc;
	bool ok;

	ok = run_expect(vcpu, UCALL_SYNC, &uc) && buf[0] == 0xabcd0000 &&
	     buf[63] == 0xabcd003f;
	/* The host process's own copy is separate from the guest's. */
	ok = ok && shared_buf[0] == 0;
	tap_ok(ok, "guest writes are visible to the host (%#lx)", buf[63]);

	shared_buf[0] = 0x5a5a5a5a;
	sync_global_to_guest(vm, shared_buf);
	ok = run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == 0x5a5a5a5a,
	       "host writes are visible to the guest (%#lx)", uc.args[0]);
	run_expect(vcpu, UCALL_DONE, &uc);
	vm_free(vm);
}

/* ---- host MSR and CPUID helpers ---- */

static void msr_cpuid_guest(void)
{
	uint32_t a, b, c, d;

	GUEST_SYNC(rdmsr(MSR_PAT));
	cpuid_count(0x40000000, 0, &a, &b, &c, &d);
	GUEST_SYNC(a, b, c, d);
	GUEST_DONE();
}

static void test_msr_cpuid(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_vcpus(1, msr_cpuid_guest, &vcpu);
	const uint64_t pat = 0x0007040600070406ULL ^ 0x0100;	/* entry 1: WT -> WP */
	static const char sig[12] = "Microsoft Hv";
	uint32_t s[3];
	struct ucall uc;
	uint64_t val;
	bool ok;
	int r;

	r = vcpu_get_msr(vcpu, NONEXISTENT_MSR, &val);
	tap_ok(r == 0, "KVM_GET_MSRS of a nonexistent MSR returns 0 (%d)", r);

	vcpu_wrmsr(vcpu, MSR_PAT, pat);
	ok = vcpu_rdmsr(vcpu, MSR_PAT) == pat;
	ok = ok && run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == pat,
	       "vcpu_wrmsr(PAT) is seen by the guest (%#lx)", uc.args[0]);

	/* Too late for CPUID now, so use a fresh vCPU. */
	vm_free(vm);
	vm = vm_create_with_vcpus(1, msr_cpuid_guest, &vcpu);
	memcpy(s, sig, sizeof(s));
	vcpu_set_cpuid_leaf(vcpu, 0x40000000, 0x40000005, s[0], s[1], s[2]);
	run_expect(vcpu, UCALL_SYNC, &uc);
	ok = run_expect(vcpu, UCALL_SYNC, &uc);
	tap_ok(ok && uc.args[0] == 0x40000005 &&
	       uc.args[1] == s[0] && uc.args[2] == s[1] && uc.args[3] == s[2],
	       "CPUID leaf 0x40000000 replaced by the host");
	vm_free(vm);
}

/* ---- CPL3 ---- */

static uint64_t user_fn(uint64_t arg)
{
	uint8_t cli_vec = asm_safe("cli", (), ());
	uint64_t val;

	GUEST_SYNC(get_cs(), cli_vec, rdmsr_safe(MSR_EFER, &val));
	return arg * 3;
}

static void run_user_guest(void)
{
	GUEST_ASSERT_EQ(guest_run_user(user_fn, 5), 15);
	GUEST_ASSERT_EQ(get_cs(), KERNEL_CS);
	/* Twice, to show the round trip leaves the kernel side intact. */
	GUEST_ASSERT_EQ(guest_run_user(user_fn, 7), 21);
	GUEST_DONE();
}

static void cpl3_guest(void)
{
	uint64_t val;

	GUEST_SYNC(get_cs(), asm_safe("cli", (), ()), asm_safe("hlt", (), ()),
		   rdmsr_safe(MSR_EFER, &val), vmmcall_safe(0, 0, 0, &val));
	GUEST_DONE();
}

static void test_cpl3(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc, sync1, sync2;
	bool ok;

	vm = vm_create_with_vcpus(1, run_user_guest, &vcpu);
	ok = run_expect(vcpu, UCALL_SYNC, &sync1) &&
	     run_expect(vcpu, UCALL_SYNC, &sync2) &&
	     run_expect(vcpu, UCALL_DONE, &uc);
	tap_ok(ok && sync1.args[0] == USER_CS && sync1.args[1] == GP_VECTOR &&
	       sync1.args[2] == GP_VECTOR && sync2.args[1] == GP_VECTOR,
	       "guest_run_user: CS %#lx, cli #GP (%lu), rdmsr #GP (%lu), results returned",
	       sync1.args[0], sync1.args[1], sync1.args[2]);
	vm_free(vm);

	vm = vm_create_with_vcpus(1, cpl3_guest, &vcpu);
	vcpu_set_cpl3(vcpu);
	ok = run_expect(vcpu, UCALL_SYNC, &sync1) &&
	     run_expect(vcpu, UCALL_DONE, &uc);
	tap_ok(ok && sync1.args[0] == USER_CS && sync1.args[1] == GP_VECTOR &&
	       sync1.args[2] == GP_VECTOR && sync1.args[3] == GP_VECTOR,
	       "vCPU started at CPL3: CS %#lx, cli/hlt/rdmsr #GP (%lu %lu %lu)",
	       sync1.args[0], sync1.args[1], sync1.args[2], sync1.args[3]);
	/* Plain KVM answers vmmcall from CPL3 in RAX; Hyper-V mode gives #UD. */
	tap_diag("vmmcall at CPL3 without Hyper-V setup: vector %lu",
		 sync1.args[4]);
	vm_free(vm);
}

/* ---- 32-bit protected mode ---- */

uint32_t pm32_result;
extern char pm32_blob[], pm32_crash[];

/*
 * EDX:EAX = EBX * ECX + 1 (the +1 through a call, to use the stack),
 * ESI = CR0, the low half also stored to pm32_result, then out to
 * PM32_PORT.  pm32_crash faults with no IDT: a triple fault.
 */
asm(".pushsection .text.pm32, \"ax\"\n"
	".code32\n"
	".globl pm32_blob\n"
	"pm32_blob:\n"
	"	movl %cr0, %esi\n"
	"	movl %ebx, %eax\n"
	"	mull %ecx\n"
	"	call 1f\n"
	"	movl %eax, pm32_result\n"
	"	outl %eax, $" HVL_STR(PM32_PORT) "\n"
	"	hlt\n"
	"1:	addl $1, %eax\n"
	"	adcl $0, %edx\n"
	"	ret\n"
	".globl pm32_crash\n"
	"pm32_crash:\n"
	"	ud2\n"
	".code64\n"
	".popsection\n");

static void test_pm32(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kvm_regs regs;
	uint32_t reason;
	char buf[256];
	bool ok;

	vm = vm_create(0, 0);
	vcpu = vm_vcpu_add(vm, NULL);
	vcpu_set_pm32(vcpu, (uint64_t)pm32_blob);
	vcpu_regs_get(vcpu, &regs);
	regs.rbx = 0x12345678;
	regs.rcx = 0x9abcdef0;
	vcpu_regs_set(vcpu, &regs);
	reason = vcpu_run_raw(vcpu);
	ok = reason == KVM_EXIT_IO && vcpu->run->io.port == PM32_PORT;
	vcpu_regs_get(vcpu, &regs);
	ok = ok && ((regs.rdx << 32) | (uint32_t)regs.rax) ==
		   0x12345678ULL * 0x9abcdef0ULL + 1;
	ok = ok && (regs.rsi & (X86_CR0_PE | X86_CR0_PG)) == X86_CR0_PE;
	ok = ok && *(uint32_t *)addr_gpa2hva(vm, (uint64_t)&pm32_result, 4) ==
		   (uint32_t)regs.rax;
	tap_ok(ok, "32-bit protected mode blob: EDX:EAX %#llx:%#llx, CR0 %#llx (%s)",
	       regs.rdx, regs.rax, regs.rsi, vcpu_exit_str(vcpu, buf, sizeof(buf)));

	reason = vcpu_run_raw(vcpu);
	tap_ok(reason == KVM_EXIT_HLT, "then HLT exits without irqchip: %s",
	       vcpu_exit_str(vcpu, buf, sizeof(buf)));
	vm_free(vm);

	vm = vm_create(0, 0);
	vcpu = vm_vcpu_add(vm, NULL);
	vcpu_set_pm32(vcpu, (uint64_t)pm32_crash);
	reason = vcpu_run_raw(vcpu);
	vcpu_exit_str(vcpu, buf, sizeof(buf));
	tap_ok(reason == KVM_EXIT_SHUTDOWN && strstr(buf, "triple fault"),
	       "exception without IDT is a triple fault: %s", buf);
	vm_free(vm);
}

/* ---- several vCPUs at once ---- */

static uint64_t smp_counter;

static void smp_guest(uint64_t id)
{
	uint32_t a, b, c, d;
	uint64_t val;
	int i;

	cpuid_count(1, 0, &a, &b, &c, &d);
	/* Fixups on all vCPUs at the same time. */
	for (i = 0; i < 20; i++)
		GUEST_ASSERT_EQ(rdmsr_safe(NONEXISTENT_MSR, &val), GP_VECTOR);
	__atomic_add_fetch(&smp_counter, 1, __ATOMIC_SEQ_CST);
	GUEST_SYNC(id, guest_vcpu_id(), b >> 24);
	GUEST_DONE();
}

struct smp_result {
	struct kvm_vcpu *vcpu;
	struct ucall sync;
	bool done;
};

static void *smp_thread(void *arg)
{
	struct smp_result *r = arg;
	struct ucall uc;

	if (!run_expect(r->vcpu, UCALL_SYNC, &r->sync))
		return NULL;
	r->done = run_expect(r->vcpu, UCALL_DONE, &uc);
	return NULL;
}

static void test_smp(void)
{
	struct kvm_vcpu *vcpus[SMP_VCPUS];
	struct smp_result res[SMP_VCPUS] = {};
	pthread_t threads[SMP_VCPUS];
	struct kvm_vm *vm;
	int i, bad = 0;

	vm = vm_create_with_vcpus(SMP_VCPUS, smp_guest, vcpus);
	for (i = 0; i < SMP_VCPUS; i++) {
		res[i].vcpu = vcpus[i];
		TEST_ASSERT(!pthread_create(&threads[i], NULL, smp_thread, &res[i]),
			    "pthread_create");
	}
	for (i = 0; i < SMP_VCPUS; i++) {
		pthread_join(threads[i], NULL);
		if (!res[i].done || res[i].sync.args[0] != (uint64_t)i ||
		    res[i].sync.args[1] != (uint64_t)i ||
		    res[i].sync.args[2] != (uint64_t)i) {
			tap_diag("vCPU %d: done %d, id %lu, gs id %lu, APIC id %lu",
				 i, res[i].done, res[i].sync.args[0],
				 res[i].sync.args[1], res[i].sync.args[2]);
			bad++;
		}
	}
	sync_global_from_guest(vm, smp_counter);
	tap_ok(!bad && smp_counter == SMP_VCPUS,
	       "%d vCPUs in threads each report their own id (counter %lu)",
	       SMP_VCPUS, smp_counter);
	vm_free(vm);
}

int main(void)
{
	kvm_require();

	TEST_RUN("ucall SYNC and DONE", test_sync());
	TEST_RUN("return from the guest function", test_return());
	TEST_RUN("GUEST_ASSERT reporting", test_assert());
	TEST_RUN("exception fixups", test_fixup());
	TEST_RUN("unexpected exceptions", test_unexpected());
	TEST_RUN("handlers for any vector", test_handlers());
	TEST_RUN("in-kernel irqchip self-IPI", test_irqchip_ipi());
	TEST_RUN("guest memory", test_memory());
	TEST_RUN("host MSR and CPUID helpers", test_msr_cpuid());
	TEST_RUN("CPL3", test_cpl3());
	TEST_RUN("32-bit protected mode", test_pm32());
	TEST_RUN("several vCPUs", test_smp());

	return tap_done();
}
