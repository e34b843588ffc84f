// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hvsys.h"

#define RW(m, name, feat, wval, wide)	{ m, name, feat, HVSYS_WR_OK, wval, wide }

const struct hvsys_msr hvsys_msrs[] = {
	{ HV_X64_MSR_VP_RUNTIME, "VP_RUNTIME", HV_MSR_VP_RUNTIME_AVAILABLE,
	  HVSYS_WR_GP, 0, false },
	{ HV_X64_MSR_TSC_FREQUENCY, "TSC_FREQUENCY", HV_ACCESS_FREQUENCY_MSRS,
	  HVSYS_WR_GP, 0, false },
	{ HV_X64_MSR_APIC_FREQUENCY, "APIC_FREQUENCY", HV_ACCESS_FREQUENCY_MSRS,
	  HVSYS_WR_GP, 0, false },
	RW(HV_X64_MSR_RESET, "RESET", HV_MSR_RESET_AVAILABLE, 0, true),
	RW(HV_X64_MSR_CRASH_P0, "CRASH_P0", HVSYS_CRASH, 0x1000, true),
	RW(HV_X64_MSR_CRASH_P1, "CRASH_P1", HVSYS_CRASH, 0x1001, true),
	RW(HV_X64_MSR_CRASH_P2, "CRASH_P2", HVSYS_CRASH, 0x1002, true),
	RW(HV_X64_MSR_CRASH_P3, "CRASH_P3", HVSYS_CRASH, 0x1003, true),
	RW(HV_X64_MSR_CRASH_P4, "CRASH_P4", HVSYS_CRASH, 0x1004, true),
	RW(HV_X64_MSR_CRASH_CTL, "CRASH_CTL", HVSYS_CRASH, 0, true),
	RW(HV_X64_MSR_REENLIGHTENMENT_CONTROL, "REENLIGHTENMENT_CONTROL",
	   HV_ACCESS_REENLIGHTENMENT, 0x12, true),
	RW(HV_X64_MSR_TSC_EMULATION_CONTROL, "TSC_EMULATION_CONTROL",
	   HV_ACCESS_REENLIGHTENMENT, 1, true),
	RW(HV_X64_MSR_TSC_EMULATION_STATUS, "TSC_EMULATION_STATUS",
	   HV_ACCESS_REENLIGHTENMENT, 0, true),
	RW(HV_X64_MSR_SYNDBG_OPTIONS, "SYNDBG_OPTIONS", HVSYS_DEBUG, 0, true),
	{ HV_X64_MSR_SYNDBG_CONTROL, "SYNDBG_CONTROL", HVSYS_DEBUG, HVSYS_WR_EXIT, 0, true },
	RW(HV_X64_MSR_SYNDBG_STATUS, "SYNDBG_STATUS", HVSYS_DEBUG, 0, true),
	RW(HV_X64_MSR_SYNDBG_SEND_BUFFER, "SYNDBG_SEND_BUFFER", HVSYS_DEBUG, 0x2000, true),
	RW(HV_X64_MSR_SYNDBG_RECV_BUFFER, "SYNDBG_RECV_BUFFER", HVSYS_DEBUG, 0x3000, true),
	{ HV_X64_MSR_SYNDBG_PENDING_BUFFER, "SYNDBG_PENDING_BUFFER", HVSYS_DEBUG,
	  HVSYS_WR_EXIT, 0, true },
};

const unsigned int hvsys_nr_msrs = ARRAY_SIZE(hvsys_msrs);

uint64_t hvsys_features(const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES])
{
	return leaf[LEAF_FEATURES].eax | HVSYS_EDX(leaf[LEAF_FEATURES].edx);
}

bool hvsys_offers(const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES],
		  uint64_t feature)
{
	if ((hvsys_features(leaf) & feature) != feature)
		return false;
	if (feature & HVSYS_DEBUG)
		return leaf[LEAF_SYNDBG_CAPS].eax & HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING;
	return true;
}

void hvsys_set_features(struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES],
			uint64_t features, bool on)
{
	uint32_t eax = (uint32_t)features, edx = features >> 32;

	if (on) {
		leaf[LEAF_FEATURES].eax |= eax;
		leaf[LEAF_FEATURES].edx |= edx;
	} else {
		leaf[LEAF_FEATURES].eax &= ~eax;
		leaf[LEAF_FEATURES].edx &= ~edx;
	}
}

struct kvm_vm *hvsys_vm(unsigned int flags, unsigned int n, void *guest_code,
			const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES],
			bool enforce, struct kvm_vcpu **vcpus)
{
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_vm *vm = vm_create(0, flags);
	unsigned int i;

	for (i = 0; i < n; i++) {
		vcpus[i] = vm_vcpu_add(vm, guest_code);
		if (flags & VM_IRQCHIP)
			TEST_ASSERT(!ioctl(vcpus[i]->fd, KVM_SET_MP_STATE, &runnable),
				    "KVM_SET_MP_STATE(RUNNABLE)");
		vcpu_set_hv_leaves(vcpus[i], leaf);
		if (enforce)
			TEST_ASSERT(!vcpu_enable_cap(vcpus[i], KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
				    "KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENFORCE_CPUID)");
	}
	return vm;
}

void hvsys_require(const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES],
		   uint64_t feature, const char *what)
{
	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	if (feature && !hvsys_offers(leaf, feature))
		test_skip("KVM_GET_SUPPORTED_HV_CPUID does not offer %s", what);
}

void hvsys_bad_add(char *bad, size_t len, uint32_t msr, const char *what,
		   uint64_t v)
{
	size_t n = strlen(bad);

	snprintf(bad + n, len - n, " %#x(%s %#lx)", msr, what, v);
}

/* ---- a list of guest MSR accesses ---- */

struct hvsys_op hvsys_ops[HVSYS_MAX_OPS];
uint64_t hvsys_nops;

void hvsys_ops_guest(void)
{
	uint64_t i;

	for (;;) {
		for (i = 0; i < hvsys_nops; i++) {
			struct hvsys_op *op = &hvsys_ops[i];

			if (op->write)
				op->vec = wrmsr_safe(op->msr, op->val);
			else
				op->vec = rdmsr_safe(op->msr, &op->val);
		}
		GUEST_SYNC(hvsys_nops);
	}
}

void hvsys_ops_clear(void)
{
	memset(hvsys_ops, 0, sizeof(hvsys_ops));
	hvsys_nops = 0;
}

static unsigned int op_add(uint32_t msr, bool write, uint64_t val)
{
	TEST_ASSERT(hvsys_nops < HVSYS_MAX_OPS, "too many MSR operations");
	hvsys_ops[hvsys_nops] = (struct hvsys_op){
		.msr = msr, .write = write, .val = val, .vec = 0xff,
	};
	return hvsys_nops++;
}

unsigned int hvsys_op_rd(uint32_t msr)
{
	return op_add(msr, false, 0);
}

unsigned int hvsys_op_wr(uint32_t msr, uint64_t val)
{
	return op_add(msr, true, val);
}

bool hvsys_ops_run(struct kvm_vcpu *vcpu, char *why, size_t len)
{
	struct ucall uc;
	uint64_t kind;

	sync_global_to_guest(vcpu->vm, hvsys_ops);
	sync_global_to_guest(vcpu->vm, hvsys_nops);
	vcpu_run_raw(vcpu);
	kind = vcpu_get_ucall(vcpu, &uc);
	if (kind == UCALL_SYNC && uc.args[0] == hvsys_nops) {
		sync_global_from_guest(vcpu->vm, hvsys_ops);
		snprintf(why, len, "ran %lu accesses", hvsys_nops);
		return true;
	}
	if (kind == UCALL_ABORT || kind == UCALL_EXCEPTION)
		snprintf(why, len, "guest: %.200s", uc.msg);
	else
		hvx_exit_str(vcpu, why, len);
	return false;
}

bool hvsys_ops_vec(unsigned int from, unsigned int to, uint8_t vec, char *why,
		   size_t len)
{
	unsigned int i;

	for (i = from; i < to; i++) {
		if (hvsys_ops[i].vec != vec) {
			snprintf(why, len, "%s %#x: vector %u",
				 hvsys_ops[i].write ? "wrmsr" : "rdmsr",
				 hvsys_ops[i].msr, hvsys_ops[i].vec);
			return false;
		}
	}
	snprintf(why, len, "all %u", to - from);
	return true;
}

/* ---- exits ---- */

/*
 * Each blob: its instruction, then "out %al, $HVX_PORT" at its _out label,
 * then HLT. ud2; "kvm" is KVM's forced-emulation prefix (KVM_FEP).
 */
#define OUT_HLT	"\toutb %al, $" HVL_STR(HVX_PORT) "\n1:\thlt\n\tjmp 1b\n"

asm(".pushsection .text\n"
	".globl hvx_wrmsr, hvx_wrmsr_out, hvx_fep_wrmsr, hvx_fep_wrmsr_out, hvx_out\n"
	".globl hvx_vmmcall, hvx_vmmcall_out, hvx_vmcall, hvx_vmcall_out\n"
	"hvx_wrmsr:\n\twrmsr\n"
	"hvx_wrmsr_out:\n" OUT_HLT
	"hvx_fep_wrmsr:\n\tud2\n\t.byte 0x6b, 0x76, 0x6d\n\twrmsr\n"
	"hvx_fep_wrmsr_out:\n" OUT_HLT
	"hvx_out:\n" OUT_HLT
	"hvx_vmmcall:\n\tvmmcall\n"
	"hvx_vmmcall_out:\n" OUT_HLT
	"hvx_vmcall:\n\tvmcall\n"
	"hvx_vmcall_out:\n" OUT_HLT
	".popsection\n");

void vcpu_enter_blob(struct kvm_vcpu *vcpu, const char *blob, uint64_t rax,
		     uint64_t rcx, uint64_t rdx, uint64_t r8)
{
	struct kvm_regs regs;

	vcpu_regs_get(vcpu, &regs);
	regs.rip = (uint64_t)blob;
	regs.rax = rax;
	regs.rcx = rcx;
	regs.rdx = rdx;
	regs.r8 = r8;
	regs.rflags = X86_EFLAGS_FIXED;
	vcpu_regs_set(vcpu, &regs);
}

void vcpu_restart(struct kvm_vcpu *vcpu, void *guest_code)
{
	struct kvm_regs regs;

	vcpu_regs_get(vcpu, &regs);
	regs.rip = (uint64_t)guest_code;
	regs.rsp = vcpu->stack_top - 8;	/* the return slot vm_vcpu_add() set */
	regs.rdi = vcpu->id;
	regs.rflags = X86_EFLAGS_FIXED;
	vcpu_regs_set(vcpu, &regs);
}

void vcpu_enter_wrmsr(struct kvm_vcpu *vcpu, const char *blob, uint32_t msr,
		      uint64_t val)
{
	vcpu_enter_blob(vcpu, blob, (uint32_t)val, msr, val >> 32, 0);
}

int vcpu_run_once(struct kvm_vcpu *vcpu, bool immediate)
{
	int r, err;

	vcpu->run->immediate_exit = immediate;
	r = ioctl(vcpu->fd, KVM_RUN, 0);
	err = errno;
	vcpu->run->immediate_exit = 0;
	return r < 0 ? err : 0;
}

uint64_t vcpu_rip(struct kvm_vcpu *vcpu)
{
	struct kvm_regs regs;

	vcpu_regs_get(vcpu, &regs);
	return regs.rip;
}

bool exit_is_event(struct kvm_vcpu *vcpu, uint32_t type)
{
	struct kvm_run *run = vcpu->run;

	return run->exit_reason == KVM_EXIT_SYSTEM_EVENT &&
	       run->system_event.type == type && run->system_event.ndata == 0;
}

bool exit_is_out(struct kvm_vcpu *vcpu, const char *out)
{
	struct kvm_run *run = vcpu->run;

	return run->exit_reason == KVM_EXIT_IO &&
	       run->io.direction == KVM_EXIT_IO_OUT &&
	       run->io.port == HVX_PORT && run->io.size == 1 &&
	       vcpu_rip(vcpu) == (uint64_t)out;
}

bool exit_is_hyperv(struct kvm_vcpu *vcpu, uint32_t type)
{
	return vcpu->run->exit_reason == KVM_EXIT_HYPERV &&
	       vcpu->run->hyperv.type == type;
}

const char *hvx_exit_str(struct kvm_vcpu *vcpu, char *buf, size_t len)
{
	static const char *const events[] = {
		[KVM_SYSTEM_EVENT_SHUTDOWN] = "SHUTDOWN",
		[KVM_SYSTEM_EVENT_RESET] = "RESET",
		[KVM_SYSTEM_EVENT_CRASH] = "CRASH",
	};
	struct kvm_run *run = vcpu->run;
	struct kvm_hyperv_exit *h = &run->hyperv;
	uint32_t t = run->system_event.type;

	switch (run->exit_reason) {
	case KVM_EXIT_SYSTEM_EVENT:
		snprintf(buf, len, "KVM_EXIT_SYSTEM_EVENT type %u (%s) ndata %u, RIP %#lx",
			 t, t < ARRAY_SIZE(events) && events[t] ? events[t] : "?",
			 run->system_event.ndata, vcpu_rip(vcpu));
		break;
	case KVM_EXIT_HYPERV:
		if (h->type == KVM_EXIT_HYPERV_HCALL)
			snprintf(buf, len, "KVM_EXIT_HYPERV HCALL input %#llx params %#llx %#llx, RIP %#lx",
				 h->u.hcall.input, h->u.hcall.params[0],
				 h->u.hcall.params[1], vcpu_rip(vcpu));
		else if (h->type == KVM_EXIT_HYPERV_SYNDBG)
			snprintf(buf, len, "KVM_EXIT_HYPERV SYNDBG msr %#x control %#llx status %#llx send %#llx recv %#llx pending %#llx, RIP %#lx",
				 h->u.syndbg.msr, h->u.syndbg.control,
				 h->u.syndbg.status, h->u.syndbg.send_page,
				 h->u.syndbg.recv_page, h->u.syndbg.pending_page,
				 vcpu_rip(vcpu));
		else
			snprintf(buf, len, "KVM_EXIT_HYPERV type %u, RIP %#lx",
				 h->type, vcpu_rip(vcpu));
		break;
	case KVM_EXIT_DEBUG:
		snprintf(buf, len, "KVM_EXIT_DEBUG pc %#llx dr6 %#llx, RIP %#lx",
			 run->debug.arch.pc, run->debug.arch.dr6, vcpu_rip(vcpu));
		break;
	default:
		vcpu_exit_str(vcpu, buf, len);
	}
	return buf;
}

int vcpu_guest_debug(struct kvm_vcpu *vcpu, uint32_t control)
{
	struct kvm_guest_debug dbg = { .control = control };

	return ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg);
}

/*
 * Bochs' VMX delivers RFLAGS.TF's #DB at VM entry (with in-tree Hyper-V
 * too): the instruction under the step never reaches KVM then, and a test
 * of what KVM does with it has nothing to check.
 */
bool exit_is_step_before(struct kvm_vcpu *vcpu, uint64_t rip)
{
	return vcpu->run->exit_reason == KVM_EXIT_DEBUG &&
	       (vcpu->run->debug.arch.dr6 & BIT(14)) && vcpu_rip(vcpu) == rip;
}

#define FEP_PARAM	"/sys/module/kvm/parameters/force_emulation_prefix"

int kvm_fep_set(int val)
{
	char buf[16] = "";
	int fd, old, n;

	fd = open(FEP_PARAM, O_RDWR);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	old = n > 0 ? atoi(buf) : -1;
	n = snprintf(buf, sizeof(buf), "%d\n", val);
	if (old < 0 || pwrite(fd, buf, n, 0) != n) {
		close(fd);
		return -1;
	}
	close(fd);
	return old;
}
