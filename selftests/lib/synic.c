// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "synic.h"

const uint32_t synic_msrs[SYNIC_NR_MSRS] = {
	HV_X64_MSR_SCONTROL, HV_X64_MSR_SVERSION, HV_X64_MSR_SIEFP,
	HV_X64_MSR_SIMP, HV_X64_MSR_EOM,
	HV_X64_MSR_SINT0, HV_X64_MSR_SINT0 + 1, HV_X64_MSR_SINT0 + 2,
	HV_X64_MSR_SINT0 + 3, HV_X64_MSR_SINT0 + 4, HV_X64_MSR_SINT0 + 5,
	HV_X64_MSR_SINT0 + 6, HV_X64_MSR_SINT0 + 7, HV_X64_MSR_SINT0 + 8,
	HV_X64_MSR_SINT0 + 9, HV_X64_MSR_SINT0 + 10, HV_X64_MSR_SINT0 + 11,
	HV_X64_MSR_SINT0 + 12, HV_X64_MSR_SINT0 + 13, HV_X64_MSR_SINT0 + 14,
	HV_X64_MSR_SINT15,
};

const char *synic_msr_name(uint32_t msr)
{
	static const char *const names[] = {
		"SCONTROL", "SVERSION", "SIEFP", "SIMP", "EOM",
	};
	static const char *const sints[] = {
		"SINT0", "SINT1", "SINT2", "SINT3", "SINT4", "SINT5", "SINT6",
		"SINT7", "SINT8", "SINT9", "SINT10", "SINT11", "SINT12",
		"SINT13", "SINT14", "SINT15",
	};
	static char other[16];

	if (msr >= HV_X64_MSR_SCONTROL && msr <= HV_X64_MSR_EOM)
		return names[msr - HV_X64_MSR_SCONTROL];
	if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15)
		return sints[msr - HV_X64_MSR_SINT0];
	snprintf(other, sizeof(other), "%#x", msr);
	return other;
}

uint64_t synic_msr_initial(uint32_t msr)
{
	switch (msr) {
	case HV_X64_MSR_SCONTROL:
		return HV_SYNIC_CONTROL_ENABLE;
	case HV_X64_MSR_SVERSION:
		return HV_SYNIC_VERSION_1;
	case HV_X64_MSR_SINT0 ... HV_X64_MSR_SINT15:
		return HV_SYNIC_SINT_MASKED;
	}
	return 0;
}

void synic_require(const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES])
{
	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	if (kvm_check_cap(KVM_CAP_HYPERV_SYNIC) <= 0 ||
	    kvm_check_cap(KVM_CAP_HYPERV_SYNIC2) <= 0 ||
	    kvm_check_cap(KVM_CAP_HYPERV_EVENTFD) <= 0)
		test_skip("KVM_CHECK_EXTENSION: no KVM_CAP_HYPERV_SYNIC, SYNIC2 or EVENTFD");
	if (!hvsys_offers(leaf, HV_MSR_SYNIC_AVAILABLE))
		test_skip("KVM_GET_SUPPORTED_HV_CPUID does not offer SynIC");
}

int vcpu_synic_enable(struct kvm_vcpu *vcpu, uint32_t cap, uint64_t arg0,
		      uint32_t flags)
{
	struct kvm_enable_cap c = { .cap = cap, .flags = flags, .args = { arg0 } };

	return ioctl(vcpu->fd, KVM_ENABLE_CAP, &c) ? errno : 0;
}

struct kvm_vm *synic_vm(unsigned int flags, unsigned int n, void *guest_code,
			const struct kvm_cpuid_entry2 *leaf, bool enforce,
			uint32_t cap, uint32_t active, struct kvm_vcpu **vcpus)
{
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_vm *vm = vm_create(0, flags);
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		vcpus[i] = vm_vcpu_add(vm, guest_code);
		if (flags & VM_IRQCHIP)
			TEST_ASSERT(!ioctl(vcpus[i]->fd, KVM_SET_MP_STATE, &runnable),
				    "KVM_SET_MP_STATE(RUNNABLE)");
		if (active & (1u << i)) {
			r = vcpu_synic_enable(vcpus[i], cap, 0, 0);
			TEST_ASSERT(!r, "KVM_ENABLE_CAP(%s) on vCPU %u: %s",
				    cap == KVM_CAP_HYPERV_SYNIC ? "SYNIC" : "SYNIC2",
				    i, strerror(r));
		}
		if (leaf)
			vcpu_set_hv_leaves(vcpus[i], leaf);
		if (enforce)
			TEST_ASSERT(!vcpu_enable_cap(vcpus[i], KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
				    "KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENFORCE_CPUID)");
	}
	if (n)
		vcpu_wrmsr(vcpus[0], HV_X64_MSR_GUEST_OS_ID, SYNIC_OS_ID);
	return vm;
}

int vm_hv_eventfd(struct kvm_vm *vm, uint32_t conn_id, int fd, uint32_t flags)
{
	struct kvm_hyperv_eventfd ev = { .conn_id = conn_id, .fd = fd, .flags = flags };

	return ioctl(vm->fd, KVM_HYPERV_EVENTFD, &ev) ? errno : 0;
}

int efd_new(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	TEST_ASSERT(fd >= 0, "eventfd");
	return fd;
}

void efd_signal(int fd)
{
	uint64_t one = 1;

	TEST_ASSERT(write(fd, &one, sizeof(one)) == sizeof(one), "eventfd write");
}

uint64_t efd_take(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == sizeof(v))
		return v;
	TEST_ASSERT(errno == EAGAIN, "eventfd read");
	return 0;
}

int vm_sint_routes(struct kvm_vm *vm, const struct sint_route *r, unsigned int n)
{
	struct kvm_irq_routing *rt;
	unsigned int i;
	int ret;

	rt = calloc(1, sizeof(*rt) + n * sizeof(rt->entries[0]));
	TEST_ASSERT(rt, "calloc");
	rt->nr = n;
	for (i = 0; i < n; i++) {
		rt->entries[i].gsi = r[i].gsi;
		rt->entries[i].type = KVM_IRQ_ROUTING_HV_SINT;
		rt->entries[i].u.hv_sint.vcpu = r[i].vp;
		rt->entries[i].u.hv_sint.sint = r[i].sint;
	}
	ret = ioctl(vm->fd, KVM_SET_GSI_ROUTING, rt) ? errno : 0;
	free(rt);
	return ret;
}

int vm_irqfd(struct kvm_vm *vm, int fd, uint32_t gsi, int resamplefd)
{
	struct kvm_irqfd irqfd = { .fd = fd, .gsi = gsi };

	if (resamplefd >= 0) {
		irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = resamplefd;
	}
	return ioctl(vm->fd, KVM_IRQFD, &irqfd) ? errno : 0;
}

int vm_irqfd_deassign(struct kvm_vm *vm, int fd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = { .fd = fd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(vm->fd, KVM_IRQFD, &irqfd) ? errno : 0;
}

int vm_irq_pulse(struct kvm_vm *vm, uint32_t gsi)
{
	struct kvm_irq_level l = { .irq = gsi, .level = 1 };
	int status;

	if (ioctl(vm->fd, KVM_IRQ_LINE_STATUS, &l))
		return -1;
	status = l.status;
	l.irq = gsi;
	l.level = 0;
	TEST_ASSERT(!ioctl(vm->fd, KVM_IRQ_LINE_STATUS, &l), "KVM_IRQ_LINE_STATUS 0");
	return status;
}

bool kvm_msr_listed(uint32_t msr)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;
	bool found = false;
	uint32_t i;

	TEST_ASSERT(ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, &probe) && errno == E2BIG,
		    "KVM_GET_MSR_INDEX_LIST size");
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	TEST_ASSERT(l, "calloc");
	l->nmsrs = probe.nmsrs;
	TEST_ASSERT(!ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, l), "KVM_GET_MSR_INDEX_LIST");
	for (i = 0; i < l->nmsrs; i++)
		found |= l->indices[i] == msr;
	free(l);
	return found;
}

/* ---- a list of hypercalls ---- */

struct synic_hc synic_hcs[SYNIC_MAX_HC];
uint64_t synic_nhc;

/* VMMCALL on AMD and Hygon, VMCALL on Intel; host and guest. */
static bool synic_amd(void)
{
	uint32_t a, b, c, d;

	cpuid_count(0, 0, &a, &b, &c, &d);
	return b == 0x68747541 /* "Auth" */ || b == 0x6f677948 /* "Hygo" */;
}

void synic_hc_guest(void)
{
	bool amd = synic_amd();
	struct synic_hc *hc;
	uint64_t i;

	for (;;) {
		for (i = 0; i < synic_nhc; i++) {
			hc = &synic_hcs[i];
			hc->rax = SYNIC_GARBAGE;
			hc->vec = amd ? vmmcall_safe(hc->rcx, hc->rdx, hc->r8, &hc->rax) :
					vmcall_safe(hc->rcx, hc->rdx, hc->r8, &hc->rax);
		}
		GUEST_SYNC(synic_nhc);
	}
}

void synic_hc_clear(void)
{
	memset(synic_hcs, 0, sizeof(synic_hcs));
	synic_nhc = 0;
}

unsigned int synic_hc_add(uint64_t rcx, uint64_t rdx, uint64_t r8)
{
	TEST_ASSERT(synic_nhc < SYNIC_MAX_HC, "too many hypercalls");
	synic_hcs[synic_nhc] = (struct synic_hc){ .rcx = rcx, .rdx = rdx, .r8 = r8 };
	return synic_nhc++;
}

bool synic_hc_run(struct kvm_vcpu *vcpu, char *why, size_t len)
{
	struct ucall uc;
	uint64_t kind;

	sync_global_to_guest(vcpu->vm, synic_hcs);
	sync_global_to_guest(vcpu->vm, synic_nhc);
	vcpu_run_raw(vcpu);
	kind = vcpu_get_ucall(vcpu, &uc);
	if (kind == UCALL_SYNC && uc.args[0] == synic_nhc) {
		sync_global_from_guest(vcpu->vm, synic_hcs);
		snprintf(why, len, "%lu calls, no exit", synic_nhc);
		return true;
	}
	if (kind == UCALL_ABORT || kind == UCALL_EXCEPTION)
		snprintf(why, len, "guest: %.200s", uc.msg);
	else
		hvx_exit_str(vcpu, why, len);
	return false;
}

bool synic_hc_check(unsigned int from, unsigned int to, uint64_t want,
		    char *why, size_t len)
{
	unsigned int i;

	for (i = from; i < to; i++) {
		if (synic_hcs[i].vec || synic_hcs[i].rax != want) {
			snprintf(why, len, "input %#lx rdx %#lx: vector %lu, RAX %#lx",
				 synic_hcs[i].rcx, synic_hcs[i].rdx,
				 synic_hcs[i].vec, synic_hcs[i].rax);
			return false;
		}
	}
	snprintf(why, len, "%u calls", to - from);
	return true;
}

const char *synic_hc_blob(void)
{
	return synic_amd() ? hvx_vmmcall : hvx_vmcall;
}

const char *synic_hc_blob_out(void)
{
	return synic_amd() ? hvx_vmmcall_out : hvx_vmcall_out;
}
