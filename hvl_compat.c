// SPDX-License-Identifier: GPL-2.0
/*
 * Everything hvenlight needs from KVM that KVM does not export, and every
 * kernel-version difference, lives here and nowhere else.
 */
#include <linux/kallsyms.h>
#include <linux/kvm_host.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <asm/apicdef.h>
#include <asm/fpu/api.h>
#include <asm/kvm_para.h>
#include <asm/pvclock.h>
#include <asm/tsc.h>
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
 * KVM's clock for a VM as KVM_GET_CLOCK reads it: get_kvmclock_ns(),
 * which KVM does not export (x86.c; checked against 6.12). On the
 * masterclock, the snapshot (master_cycle_now, master_kernel_ns) extended
 * by the host TSC at the host's tsc_khz; otherwise KVM's base clock, the
 * raw monotonic clock counted from boot. KVM uses a per-CPU TSC rate
 * without a constant TSC; take the base clock there: close, and no
 * masterclock is used on such hosts in practice.
 */
static u32 hvl_compat_div_frac(u32 dividend, u32 divisor)
{
	return div_u64((u64)dividend << 32, divisor);
}

/* kvm_get_time_scale() in x86.c, static there. */
static void hvl_compat_time_scale(u64 scaled_hz, u64 base_hz, s8 *pshift,
				  u32 *pmul)
{
	u64 scaled64 = scaled_hz, tps64 = base_hz;
	s32 shift = 0;
	u32 tps32;

	while (tps64 > scaled64 * 2 || tps64 & 0xffffffff00000000ULL) {
		tps64 >>= 1;
		shift--;
	}
	tps32 = (u32)tps64;
	while (tps32 <= scaled64 || scaled64 & 0xffffffff00000000ULL) {
		if (scaled64 & 0xffffffff00000000ULL || tps32 & 0x80000000)
			scaled64 >>= 1;
		else
			tps32 <<= 1;
		shift++;
	}
	*pshift = shift;
	*pmul = hvl_compat_div_frac(scaled64, tps32);
}

u64 hvl_compat_kvmclock_ns(struct kvm *kvm)
{
	struct pvclock_vcpu_time_info clock = {};
	struct kvm_arch *ka = &kvm->arch;
	unsigned int seq;
	u64 ns;

	if (boot_cpu_has(X86_FEATURE_CONSTANT_TSC))
		hvl_compat_time_scale(NSEC_PER_SEC, tsc_khz * 1000ULL,
				      &clock.tsc_shift,
				      &clock.tsc_to_system_mul);
	do {
		seq = read_seqcount_begin(&ka->pvclock_sc);
		if (ka->use_master_clock &&
		    boot_cpu_has(X86_FEATURE_CONSTANT_TSC)) {
			clock.tsc_timestamp = ka->master_cycle_now;
			clock.system_time = ka->master_kernel_ns +
					    ka->kvmclock_offset;
			ns = __pvclock_read_cycles(&clock, rdtsc());
		} else {
			ns = ktime_get_raw_ns() +
			     ktime_to_ns(ktime_mono_to_any(0, TK_OFFS_BOOT)) +
			     ka->kvmclock_offset;
		}
	} while (read_seqcount_retry(&ka->pvclock_sc, seq));
	return ns;
}

/*
 * The preconditions kvm_vcpu_ioctl() checks before any vCPU ioctl, for an
 * ioctl the module answers in its place (kvm_main.c, checked against 6.12).
 */
bool hvl_compat_vcpu_ioctl_allowed(struct kvm_vcpu *vcpu)
{
	return vcpu->kvm->mm == current->mm && !vcpu->kvm->vm_dead;
}

/* x2APIC mode, as KVM's private apic_x2apic_mode() (lapic.h, 6.12). */
bool hvl_compat_x2apic(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic_base & X2APIC_ENABLE;
}

/*
 * Point KVM's PV EOI at gpa (val as MSR_KVM_PV_EOI_EN takes it), or turn
 * it off (0). That MSR checks that the guest was offered KVM's PV EOI when
 * the VMM enforces KVM's PV CPUID; the Hyper-V assist page riding on it is
 * offered by Hyper-V CPUID instead, so offer it for the write alone
 * (vcpu->arch.pv_cpuid, checked against 6.12).
 */
int hvl_compat_pv_eoi_set(struct kvm_vcpu *vcpu, u64 val)
{
	struct msr_data msr = {
		.index = MSR_KVM_PV_EOI_EN,
		.data = val,
		.host_initiated = true,
	};
	u32 features = vcpu->arch.pv_cpuid.features;
	int r;

	vcpu->arch.pv_cpuid.features |= BIT(KVM_FEATURE_PV_EOI);
	r = kvm_set_msr_common(vcpu, &msr);
	vcpu->arch.pv_cpuid.features = features;
	return r ? -EINVAL : 0;
}

/*
 * The vCPU's kvmclock parameters as KVM last computed them for it
 * (vcpu->arch.hv_clock, checked against 6.12): the guest's TSC to its
 * kvmclock, valid with PVCLOCK_TSC_STABLE_BIT while the masterclock is used.
 */
const struct pvclock_vcpu_time_info *hvl_compat_pvclock(struct kvm_vcpu *vcpu)
{
	return &vcpu->arch.hv_clock;
}

/* What KVM_SET_CLOCK moves (kvm->arch.kvmclock_offset, 6.12). */
s64 hvl_compat_kvmclock_offset(struct kvm *kvm)
{
	return READ_ONCE(kvm->arch.kvmclock_offset);
}

/* The guest's TSC rate as KVM_GET_TSC_KHZ reports it (6.12). */
u32 hvl_compat_virtual_tsc_khz(struct kvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->arch.virtual_tsc_khz);
}

/*
 * The APIC bus cycle the VMM chose (KVM_CAP_X86_APIC_BUS_CYCLES_NS, 6.10);
 * before that KVM's APIC timer ran at 1 GHz (lapic.h APIC_BUS_CYCLE_NS).
 */
u64 hvl_compat_apic_bus_cycle_ns(struct kvm *kvm)
{
#ifdef KVM_CAP_X86_APIC_BUS_CYCLES_NS
	return READ_ONCE(kvm->arch.apic_bus_cycle_ns) ?: 1;
#else
	return 1;
#endif
}

/*
 * KVM_RUN will return -EINTR right after the completion KVM runs first
 * (kvm_run->immediate_exit; vcpu->wants_to_run since 6.10, the release
 * that also brought KVM_CAP_X86_APIC_BUS_CYCLES_NS).
 */
bool hvl_compat_vcpu_wants_to_run(struct kvm_vcpu *vcpu)
{
#ifdef KVM_CAP_X86_APIC_BUS_CYCLES_NS
	return vcpu->wants_to_run;
#else
	return !READ_ONCE(vcpu->run->immediate_exit);
#endif
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

/*
 * struct kvm_lapic up to its register page, with the struct kvm_timer in
 * it (lapic.h, private; checked against 6.12). Only to store the xAPIC
 * ICR2 whole after an ICR MSR write, as in-tree KVM's kvm_x2apic_icr_write()
 * does: the MMIO handler keeps only the destination bits 31:24. Trust the
 * layout only when its vcpu member points back at the vCPU and its page
 * holds the APIC ID the MMIO handler reads.
 */
struct hvl_kvm_timer {
	struct hrtimer timer;
	s64 period;
	ktime_t target_expiration;
	u32 timer_mode;
	u32 timer_mode_mask;
	u64 tscdeadline;
	u64 expired_tscdeadline;
	u32 timer_advance_ns;
	atomic_t pending;
	bool hv_timer_in_use;
};

struct hvl_lapic {
	unsigned long base_address;
	struct kvm_io_device dev;
	struct hvl_kvm_timer lapic_timer;
	u32 divide_count;
	struct kvm_vcpu *vcpu;
	bool apicv_active;
	bool sw_enabled;
	bool irr_pending;
	bool lvt0_in_nmi_mode;
	s16 isr_count;
	int highest_isr_cache;
	void *regs;
};

int hvl_compat_apic_set_icr2(struct kvm_vcpu *vcpu, u32 val)
{
	struct hvl_lapic *apic = (void *)vcpu->arch.apic;
	u32 id, page_id;
	u8 *regs;

	if (READ_ONCE(apic->vcpu) != vcpu)
		goto fail;
	regs = READ_ONCE(apic->regs);
	if (!regs || !PAGE_ALIGNED(regs) ||
	    hvl_compat_apic_mmio(vcpu, APIC_ID, &id, false) ||
	    copy_from_kernel_nofault(&page_id, regs + APIC_ID, sizeof(page_id)) ||
	    page_id != id)
		goto fail;
	WRITE_ONCE(*(u32 *)(regs + APIC_ICR2), val);
	return 0;
fail:
	pr_err_once("cannot find KVM's APIC register page; the ICR MSR in xAPIC mode reads back only destination bits 63:56\n");
	return -EOPNOTSUPP;
}

/*
 * Would the vCPU's LAPIC accept a fixed interrupt: hardware-enabled
 * (APIC_BASE) and software-enabled (SVR), as __apic_accept_irq() checks
 * (lapic.c, 6.12). struct kvm_lapic's sw_enabled is trusted only when the
 * layout's vcpu member points back at the vCPU; otherwise assume it is.
 */
static bool hvl_compat_apic_enabled(struct kvm_vcpu *vcpu)
{
	struct hvl_lapic *apic = (void *)vcpu->arch.apic;

	if (!(vcpu->arch.apic_base & MSR_IA32_APICBASE_ENABLE))
		return false;
	if (READ_ONCE(apic->vcpu) != vcpu) {
		pr_err_once("cannot find KVM's APIC software-enable flag; synthetic interrupts to a disabled APIC count as delivered\n");
		return true;
	}
	return READ_ONCE(apic->sw_enabled);
}

/*
 * A fixed interrupt to the vCPU's in-kernel APIC: 1, or 0 when the APIC is
 * disabled and refuses it. kvm_apic_set_irq() is not exported;
 * kvm_apic_send_ipi() of a self IPI on the target's own APIC delivers
 * there (kvm_irq_delivery_to_apic_fast(), 6.12), from any context another
 * vCPU's IPI may come from.
 */
int hvl_compat_apic_fixed(struct kvm_vcpu *vcpu, u32 vector)
{
	if (!vcpu->arch.apic || !hvl_compat_apic_enabled(vcpu))
		return 0;
	kvm_apic_send_ipi(vcpu->arch.apic, APIC_DEST_SELF | APIC_INT_ASSERT |
			  APIC_DM_FIXED | vector, 0);
	return 1;
}

static void hvl_compat_ack(void *unused)
{
}

/*
 * Make a request of the vCPUs in the bitmap (by vCPU index) and wait until
 * each that was in guest mode has left it, so that none enters the guest
 * again before it sees the request: kvm_make_vcpus_request_mask() for a
 * KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP request (kvm_main.c, 6.12), which
 * KVM does not export. Without memory for the CPU mask, ask every vCPU
 * (a superset that waits for all of them).
 */
void hvl_compat_request_wait(struct kvm *kvm, unsigned int req,
			     const unsigned long *vcpus)
{
	bool have = false, all = false;
	struct kvm_vcpu *vcpu;
	cpumask_var_t cpus;
	unsigned long i;
	int me, cpu;

	me = get_cpu();
	for_each_set_bit(i, vcpus, KVM_MAX_VCPUS) {
		vcpu = kvm_get_vcpu(kvm, i);
		if (!vcpu)
			continue;
		__kvm_make_request(req, vcpu);
		if (kvm_vcpu_exiting_guest_mode(vcpu) == OUTSIDE_GUEST_MODE)
			continue;
		cpu = READ_ONCE(vcpu->cpu);
		if (cpu == -1 || cpu == me || all)
			continue;
		/* The mask only when some target must be waited for. */
		if (!have) {
			if (!zalloc_cpumask_var(&cpus, GFP_ATOMIC)) {
				all = true;
				continue;
			}
			have = true;
		}
		__cpumask_set_cpu(cpu, cpus);
	}
	if (have && !all)
		smp_call_function_many(cpus, hvl_compat_ack, NULL, true);
	put_cpu();
	if (have)
		free_cpumask_var(cpus);
	if (all)
		kvm_make_all_cpus_request(kvm, req);
}

/*
 * XMM0-5 of the guest, as 64-bit halves, for a fast hypercall's input.
 * During KVM_RUN the guest's FPU state is the task's: in the registers, or
 * saved while the task was preempted (TIF_NEED_FPU_LOAD), in which case
 * load it first (KVM's kvm_fpu_get(), private fpu.h, 6.12).
 */
void hvl_compat_read_xmm(u64 halves[12])
{
	struct {
		u64 lo, hi;
	} __aligned(16) xmm[6];

	static_assert(sizeof(xmm) == 12 * sizeof(u64));
	fpregs_lock();
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
	asm volatile("movdqa %%xmm0, %0" : "=m" (xmm[0]));
	asm volatile("movdqa %%xmm1, %0" : "=m" (xmm[1]));
	asm volatile("movdqa %%xmm2, %0" : "=m" (xmm[2]));
	asm volatile("movdqa %%xmm3, %0" : "=m" (xmm[3]));
	asm volatile("movdqa %%xmm4, %0" : "=m" (xmm[4]));
	asm volatile("movdqa %%xmm5, %0" : "=m" (xmm[5]));
	fpregs_unlock();
	memcpy(halves, xmm, sizeof(xmm));
}

/* irqchip_in_kernel(), private irq.h (6.12). */
bool hvl_compat_irqchip_in_kernel(struct kvm *kvm)
{
	int mode = READ_ONCE(kvm->arch.irqchip_mode);

	/* Pairs with KVM's write barrier after setting up the irqchip. */
	smp_rmb();
	return mode != KVM_IRQCHIP_NONE;
}

/*
 * Tell the ack notifiers of gsi (a resampling irqfd) that the guest took
 * its interrupt: kvm_notify_acked_gsi() (eventfd.c, 6.12), not exported.
 */
void hvl_compat_notify_acked_gsi(struct kvm *kvm, int gsi)
{
	struct kvm_irq_ack_notifier *kian;
	int idx = srcu_read_lock(&kvm->irq_srcu);

	hlist_for_each_entry_srcu(kian, &kvm->irq_ack_notifier_list, link,
				  srcu_read_lock_held(&kvm->irq_srcu))
		if (kian->gsi == gsi)
			kian->irq_acked(kian);
	srcu_read_unlock(&kvm->irq_srcu, idx);
}

/*
 * Each KVM_IRQ_ROUTING_HV_SINT entry of the VM's routing table, by GSI,
 * with kvm->irq_lock held (kvm_hv_irq_routing_update(), 6.12).
 */
void hvl_compat_hv_sint_routes(struct kvm *kvm,
			       void (*fn)(struct kvm *kvm, u32 vp_index,
					  u32 sint, int gsi))
{
	struct kvm_kernel_irq_routing_entry *e;
	struct kvm_irq_routing_table *rt;
	u32 gsi;

	rt = srcu_dereference_check(kvm->irq_routing, &kvm->irq_srcu,
				    lockdep_is_held(&kvm->irq_lock));
	for (gsi = 0; rt && gsi < rt->nr_rt_entries; gsi++)
		hlist_for_each_entry(e, &rt->map[gsi], link)
			if (e->type == KVM_IRQ_ROUTING_HV_SINT)
				fn(kvm, e->hv_sint.vcpu, e->hv_sint.sint, gsi);
}

/* APICv off while SynIC needs every SINT's EOI to exit; sleeps. */
void hvl_compat_apicv_inhibit(struct kvm *kvm, bool inhibit)
{
	kvm_set_or_clear_apicv_inhibit(kvm, APICV_INHIBIT_REASON_HYPERV, inhibit);
}

/*
 * The vCPU of a LAPIC (on every EOI of a VM with SynIC), trusted only if
 * it points back at the LAPIC; once one did, the layout is this kernel's
 * and the field is read directly.
 */
static bool hvl_lapic_vcpu_known;

struct kvm_vcpu *hvl_compat_apic_vcpu(struct kvm_lapic *apic)
{
	struct hvl_lapic *a = (void *)apic;
	struct kvm_vcpu *vcpu;
	struct kvm_lapic *back;

	if (likely(READ_ONCE(hvl_lapic_vcpu_known)))
		return a->vcpu;
	if (copy_from_kernel_nofault(&vcpu, &a->vcpu, sizeof(vcpu)) || !vcpu ||
	    copy_from_kernel_nofault(&back, &vcpu->arch.apic, sizeof(back)) ||
	    back != apic)
		return NULL;
	WRITE_ONCE(hvl_lapic_vcpu_known, true);
	return vcpu;
}

int hvl_compat_init(void)
{
	if (IS_ENABLED(CONFIG_KVM_HYPERV)) {
		pr_err("this kernel's KVM already has Hyper-V emulation (CONFIG_KVM_HYPERV=y); use it instead of hvenlight\n");
		return -EOPNOTSUPP;
	}
	return 0;
}
