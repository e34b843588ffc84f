// SPDX-License-Identifier: GPL-2.0
/*
 * Everything hvenlight needs from KVM that KVM does not export, and every
 * kernel-version difference, lives here and nowhere else.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kvm_host.h>
#include <linux/uaccess.h>
#include <kvm/iodev.h>
#include "hvl.h"

/*
 * KVM exports no way to read the guest's CPL. Its instruction emulator keeps
 * one in a static ops table whose address is taken, so the function keeps
 * its ENDBR and is safe to call through a pointer under IBT. The table is
 * reached through vcpu->arch.emulate_ctxt, whose first two members have been
 * { void *vcpu; const struct x86_emulate_ops *ops; } since 2011. Trust the
 * pointer only when kallsyms names it emulator_get_cpl.
 */
#define HVL_EMUL_OPS_SLOTS	64
static int (*hvl_emul_get_cpl)(void *ctxt);

static int hvl_compat_find_cpl(struct kvm_vcpu *vcpu)
{
	void **ctxt = (void **)vcpu->arch.emulate_ctxt;
	char name[KSYM_SYMBOL_LEN];
	void *ops, *fn;
	int i;

	if (!ctxt || copy_from_kernel_nofault(&fn, &ctxt[0], sizeof(fn)) ||
	    fn != vcpu || copy_from_kernel_nofault(&ops, &ctxt[1], sizeof(ops)))
		return -ENOENT;
	for (i = 0; i < HVL_EMUL_OPS_SLOTS; i++) {
		if (copy_from_kernel_nofault(&fn, (void **)ops + i, sizeof(fn)))
			return -ENOENT;
		if (!fn)
			continue;
		sprint_symbol(name, (unsigned long)fn);
		if (!strncmp(name, "emulator_get_cpl+0x0/", 21)) {
			WRITE_ONCE(hvl_emul_get_cpl, fn);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * Return the guest's CPL, or 3 when it cannot be determined: a hypercall
 * then raises #UD instead of running with privileges it may not have.
 */
int hvl_compat_get_cpl(struct kvm_vcpu *vcpu)
{
	int (*get_cpl)(void *ctxt) = READ_ONCE(hvl_emul_get_cpl);

	if (!get_cpl) {
		if (hvl_compat_find_cpl(vcpu)) {
			pr_err_once("cannot find KVM's CPL accessor; hypercalls will raise #UD\n");
			return 3;
		}
		get_cpl = READ_ONCE(hvl_emul_get_cpl);
	}
	return get_cpl(vcpu->arch.emulate_ctxt);
}

/* CR0.PE is never guest-owned, so the cached CR0 is always current. */
bool hvl_compat_is_protmode(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.cr0 & X86_CR0_PE;
}

/* As in-tree is_64_bit_hypercall(): long mode and a 64-bit code segment. */
bool hvl_compat_is_64bit(struct kvm_vcpu *vcpu)
{
	int db, l;

	if (vcpu->arch.guest_state_protected)
		return true;
	if (!(vcpu->arch.efer & EFER_LMA))
		return false;
	kvm_x86_call(get_cs_db_l_bits)(vcpu, &db, &l);
	return l;
}

/*
 * General-purpose registers other than RSP and RIP are always in
 * vcpu->arch.regs on both VMX and SVM; mark writes dirty and available as
 * kvm_register_write() does.
 */
u64 hvl_compat_reg_read(struct kvm_vcpu *vcpu, int reg)
{
	return vcpu->arch.regs[reg];
}

void hvl_compat_reg_write(struct kvm_vcpu *vcpu, int reg, u64 val)
{
	vcpu->arch.regs[reg] = val;
	vcpu->arch.regs_dirty |= BIT(reg);
	vcpu->arch.regs_avail |= BIT(reg);
}

/* KVM gives a userspace-configured Xen hypercall MSR precedence; so do we. */
bool hvl_compat_xen_msr(struct kvm *kvm, u32 msr)
{
	return msr && msr == kvm->arch.xen_hvm_config.msr;
}

bool hvl_compat_xen_hypercall(struct kvm *kvm)
{
	return IS_ENABLED(CONFIG_KVM_XEN) &&
	       (kvm->arch.xen_hvm_config.flags &
		KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL);
}

/* kvm_vcpu_has_run() lives in KVM's private x86.h. */
bool hvl_compat_vcpu_has_run(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.last_vmentry_cpu != -1;
}

/* lapic_in_kernel() lives in a private header; this is its slow path. */
bool hvl_compat_lapic_in_kernel(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic;
}

/*
 * xAPIC registers by the APIC's own MMIO handler. struct kvm_lapic is
 * private but has begun { unsigned long base_address; struct kvm_io_device
 * dev; } since 2009; trust its ops only when kallsyms names them.
 */
struct hvl_lapic_head {
	unsigned long base_address;
	struct kvm_io_device dev;
};

static const struct kvm_io_device_ops *hvl_apic_ops;

static bool hvl_compat_named(const void *fn, const char *name)
{
	char sym[KSYM_SYMBOL_LEN];
	size_t n = strlen(name);

	sprint_symbol(sym, (unsigned long)fn);
	return !strncmp(sym, name, n) && !strncmp(sym + n, "+0x0/", 5);
}

int hvl_compat_apic_mmio(struct kvm_vcpu *vcpu, u32 reg, u32 *val, bool write)
{
	struct hvl_lapic_head *apic = (void *)vcpu->arch.apic;
	const struct kvm_io_device_ops *ops = READ_ONCE(apic->dev.ops);

	if (ops != READ_ONCE(hvl_apic_ops)) {
		if (!hvl_compat_named(ops->read, "apic_mmio_read") ||
		    !hvl_compat_named(ops->write, "apic_mmio_write")) {
			pr_err_once("cannot find KVM's xAPIC access; APIC MSRs in xAPIC mode will #GP\n");
			return -EOPNOTSUPP;
		}
		WRITE_ONCE(hvl_apic_ops, ops);
	}
	if (write)
		return ops->write(vcpu, &apic->dev, apic->base_address + reg,
				  sizeof(*val), val) ? -EINVAL : 0;
	return ops->read(vcpu, &apic->dev, apic->base_address + reg,
			 sizeof(*val), val) ? -EINVAL : 0;
}

int hvl_compat_init(void)
{
	if (IS_ENABLED(CONFIG_KVM_HYPERV)) {
		pr_err("this kernel's KVM already has Hyper-V emulation (CONFIG_KVM_HYPERV=y); use it instead of hvenlight\n");
		return -EOPNOTSUPP;
	}
	return 0;
}
