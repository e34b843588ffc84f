/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hvenlight's one seam into KVM: everything the module uses that is not an
 * exported function with a public prototype is declared here and
 * implemented in hvl_compat.c (private struct layouts and vcpu->arch /
 * kvm->arch fields whose meaning is KVM-internal, functions found by name,
 * private prototypes, version differences). Each says the KVM version it
 * was checked against; `scripts/lint compat` fails when another module file
 * touches those fields.
 */
#ifndef HVL_COMPAT_H
#define HVL_COMPAT_H

#include <linux/kvm_host.h>
#include <asm/pvclock-abi.h>

/* Exported by kvm.ko, declared only in its private cpuid.h and lapic.h. */
struct kvm_cpuid_entry2 *kvm_find_cpuid_entry(struct kvm_vcpu *vcpu,
					      u32 function);
void kvm_lapic_set_eoi(struct kvm_vcpu *vcpu);
void kvm_apic_send_ipi(struct kvm_lapic *apic, u32 icr_low, u32 icr_high);
void kvm_apic_ack_interrupt(struct kvm_vcpu *vcpu, int vector);

/*
 * KVM's private KVM_MSR_RET_UNSUPPORTED (x86.h; KVM_MSR_RET_INVALID before
 * 6.10, the same value): "an MSR KVM does not know", which KVM turns into a
 * #GP or, with ignore_msrs, into an ignored access.
 */
#define HVL_COMPAT_MSR_UNSUPPORTED	2

/*
 * The hooks are ftrace direct calls (register_ftrace_direct() takes an
 * ftrace_ops since 6.5); x86-64 kernels with ftrace have them unless
 * configured out.
 */
#ifndef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
#error "hvenlight needs CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y"
#endif

/* The base of KVM's own CPUID leaves in a vCPU, kvm_cpuid since 6.2. */
#define HVL_COMPAT_KVM_CPUID_BASE_OFFSET \
	offsetof(struct kvm_vcpu, arch.kvm_cpuid.base)

static inline u32 hvl_compat_kvm_cpuid_base(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.kvm_cpuid.base;
}

/* Where a VM keeps the VMM's Xen hypercall MSR and flags (kvm->arch, 6.12). */
#define HVL_COMPAT_KVM_XEN_MSR_OFFSET \
	offsetof(struct kvm, arch.xen_hvm_config.msr)
#define HVL_COMPAT_KVM_XEN_FLAGS_OFFSET \
	offsetof(struct kvm, arch.xen_hvm_config.flags)

/* Where a vCPU keeps the guest's RCX (vcpu->arch.regs, 6.12). */
#define HVL_COMPAT_VCPU_RCX_OFFSET \
	offsetof(struct kvm_vcpu, arch.regs[VCPU_REGS_RCX])

/*
 * What KVM runs first on the vCPU's next KVM_RUN, before the guest: an
 * exit's completion (vcpu->arch.complete_userspace_io, 6.12). Returning 0
 * from it ends that KVM_RUN with vcpu->run as it leaves it.
 */
typedef int (*hvl_compat_cui_t)(struct kvm_vcpu *vcpu);

static inline hvl_compat_cui_t hvl_compat_cui(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.complete_userspace_io;
}

static inline void hvl_compat_set_cui(struct kvm_vcpu *vcpu,
				      hvl_compat_cui_t cui)
{
	vcpu->arch.complete_userspace_io = cui;
}

/*
 * The accessors on every Hyper-V exit, inline (6.12 layouts).
 * CR0.PE is never guest-owned, so the cached CR0 is always current.
 */
static inline bool hvl_compat_is_protmode(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.cr0 & X86_CR0_PE;
}

/*
 * General-purpose registers other than RSP and RIP are always in
 * vcpu->arch.regs on both VMX and SVM; mark writes dirty and available as
 * kvm_register_write() does.
 */
static inline u64 hvl_compat_reg_read(struct kvm_vcpu *vcpu, int reg)
{
	return vcpu->arch.regs[reg];
}

static inline void hvl_compat_reg_write(struct kvm_vcpu *vcpu, int reg,
					u64 val)
{
	vcpu->arch.regs[reg] = val;
	vcpu->arch.regs_dirty |= BIT(reg);
	vcpu->arch.regs_avail |= BIT(reg);
}

/* KVM gives a userspace-configured Xen hypercall MSR precedence; so do we. */
static inline bool hvl_compat_xen_msr(struct kvm *kvm, u32 msr)
{
	return msr && msr == kvm->arch.xen_hvm_config.msr;
}

static inline bool hvl_compat_xen_hypercall(struct kvm *kvm)
{
	return IS_ENABLED(CONFIG_KVM_XEN) &&
	       (kvm->arch.xen_hvm_config.flags &
		KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL);
}

/* kvm_vcpu_has_run() lives in KVM's private x86.h. */
static inline bool hvl_compat_vcpu_has_run(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.last_vmentry_cpu != -1;
}

/* lapic_in_kernel() lives in a private header; this is its slow path. */
static inline bool hvl_compat_lapic_in_kernel(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic;
}

int hvl_compat_init(void);
int hvl_compat_get_cpl(struct kvm_vcpu *vcpu);
bool hvl_compat_is_64bit(struct kvm_vcpu *vcpu);
u64 hvl_compat_kvmclock_ns(struct kvm *kvm);
int hvl_compat_apic_mmio(struct kvm_vcpu *vcpu, u32 reg, u32 *val, bool write);
int hvl_compat_apic_set_icr2(struct kvm_vcpu *vcpu, u32 val);
bool hvl_compat_x2apic(struct kvm_vcpu *vcpu);
int hvl_compat_pv_eoi_set(struct kvm_vcpu *vcpu, u64 val);
bool hvl_compat_vcpu_ioctl_allowed(struct kvm_vcpu *vcpu);
const struct pvclock_vcpu_time_info *hvl_compat_pvclock(struct kvm_vcpu *vcpu);
s64 hvl_compat_kvmclock_offset(struct kvm *kvm);
u32 hvl_compat_virtual_tsc_khz(struct kvm_vcpu *vcpu);
bool hvl_compat_vcpu_wants_to_run(struct kvm_vcpu *vcpu);
int hvl_compat_apic_fixed(struct kvm_vcpu *vcpu, u32 vector);
void hvl_compat_request_wait(struct kvm *kvm, unsigned int req,
			     const unsigned long *vcpus);
void hvl_compat_read_xmm(u64 halves[12]);
bool hvl_compat_irqchip_in_kernel(struct kvm *kvm);
void hvl_compat_notify_acked_gsi(struct kvm *kvm, int gsi);
void hvl_compat_apicv_inhibit(struct kvm *kvm, bool inhibit);
struct kvm_vcpu *hvl_compat_apic_vcpu(struct kvm_lapic *apic);
void hvl_compat_hv_sint_routes(struct kvm *kvm,
			       void (*fn)(struct kvm *kvm, u32 vp_index,
					  u32 sint, int gsi));
u64 hvl_compat_apic_bus_cycle_ns(struct kvm *kvm);

#endif /* HVL_COMPAT_H */
