/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hvenlight: Hyper-V enlightenments for KVM built without CONFIG_KVM_HYPERV.
 * Internal interfaces between the module's files. Non-static names carry the
 * prefix hvl_<area>_<verb>.
 */
#ifndef HVL_H
#define HVL_H

#include <linux/kvm_host.h>
#include <linux/hash.h>
#include <linux/rcupdate.h>
#include <linux/seqlock.h>
#include <linux/xarray.h>
#include "hvl_abi.h"
#include "hvl_compat.h"

#define HVL_NAME "hvenlight"

/* The 0x40000003.EAX features this build implements. */
#define HVL_FEATURES_IMPLEMENTED	(HV_MSR_VP_RUNTIME_AVAILABLE | \
					 HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | \
					 HV_MSR_TIME_REF_COUNT_AVAILABLE | \
					 HV_MSR_REFERENCE_TSC_AVAILABLE | \
					 HV_MSR_APIC_ACCESS_AVAILABLE | \
					 HV_MSR_RESET_AVAILABLE | HV_ACCESS_FREQUENCY_MSRS | \
					 HV_ACCESS_REENLIGHTENMENT | HV_MSR_SYNIC_AVAILABLE | \
					 HV_MSR_SYNTIMER_AVAILABLE)

/*
 * What offers an MSR, as one value: a 0x40000003.EAX bit in bits 31:0, or
 * a 0x40000003.EDX bit in 63:32 (HVL_EDX()).
 */
#define HVL_EDX(bit)			((u64)(bit) << 32)

/* Counters shown per VM in debugfs. */
enum hvl_stat {
	HVL_STAT_MSR_READ,
	HVL_STAT_MSR_WRITE,
	HVL_STAT_MSR_GP,
	HVL_STAT_HYPERCALL,
	HVL_STAT_HYPERCALL_FAILED,
	HVL_STAT_SPIN_WAIT,
	HVL_STAT_SPIN_YIELDED,
	HVL_STAT_TSC_PAGE_UPDATE,
	HVL_STAT_EXIT,
	HVL_STAT_IPI,
	HVL_STAT_TLB_FLUSH,
	HVL_STAT_STIMER,
	HVL_STAT_NR,
};

struct hvl_tsc_work;

/* Per-VM (partition-wide) state, allocated on first Hyper-V use. */
struct hvl_vm {
	struct hlist_node node;
	struct kvm *kvm;
	/* Serializes partition-wide MSR writes, like in-tree KVM's hv_lock. */
	struct mutex lock;
	u64 guest_os_id;
	u64 hypercall;
	struct xarray vcpus;
	/* Reference time (hv_reftime.c); the page fields under lock. */
	u64 reference_tsc;
	bool tsc_dirty;		/* the page must be (re)written */
	bool tsc_guest_set;	/* the guest enabled it: compute it afresh */
	u32 tsc_seq;		/* last non-zero sequence written */
	seqcount_mutex_t tsc_sc;	/* readers of the four below */
	bool tsc_valid;
	u32 tsc_gen;		/* the clock_gen the page was computed for */
	u64 tsc_scale;
	s64 tsc_offset;
	atomic_t clock_gen;	/* KVM clock updates seen (the observer) */
	u32 step_gen;		/* the clock_gen of the VMM's latest step */
	s64 step_offset;	/* kvmclock_offset as of that step */
	spinlock_t ref_lock;	/* the two below */
	u32 ref_step;		/* the step_gen of ... */
	u64 ref_last;		/* ... the latest TIME_REF_COUNT returned */
	/* One task work item per vCPU index, once the page was enabled. */
	struct hvl_tsc_work *tsc_works;
	u32 nr_tsc_works;
	/* hv_sysmsr.c: crash, re-enlightenment, the synthetic debugger */
	u64 crash_param[5];
	u64 crash_ctl;
	u64 reenlightenment_control;
	u64 tsc_emulation_control;
	u64 tsc_emulation_status;
	struct hvl_syndbg {
		u64 control, status, send_page, recv_page, pending_page;
		u64 options;
	} syndbg;
	/* hv_synic.c: eventfds by connection ID; vCPUs inhibiting APICv */
	struct idr conn_to_evt;
	int synic_inhibits;
	atomic64_t stats[HVL_STAT_NR];
	/* vCPUs whose VP index is not their vCPU index (in-tree's count). */
	atomic_t vp_index_mismatch;
	struct rcu_head rcu;
};

/* A vCPU's SynIC (hv_synic.c). */
#define HVL_SYNIC_SINTS		16

struct hvl_synic {
	bool active;
	bool dont_zero;		/* SYNIC2: enabling a page keeps its contents */
	bool apicv_inhibit;	/* this vCPU holds its VM's APICv inhibit */
	u64 control, version, evt_page, msg_page;
	atomic64_t sint[HVL_SYNIC_SINTS];
	atomic_t sint_to_gsi[HVL_SYNIC_SINTS];
	DECLARE_BITMAP(vectors, 256);	/* of unmasked SINTs */
	DECLARE_BITMAP(auto_eoi, 256);	/* of those with auto-EOI */
};

/* A synthetic timer (hv_stimer.c). */
struct hvl_stimer {
	struct hrtimer timer;
	struct kvm_vcpu *vcpu;
	union hv_stimer_config config;
	u64 count;
	u64 exp_time;		/* in reference time; 0: not armed */
	bool msg_pending;	/* expired, its message waits for the slot */
	int index;
};

/*
 * An exit to the VMM that a Hyper-V operation asked for: KVM_RUN returns
 * with it once the instruction that caused it retired.
 */
enum hvl_exit_kind {
	HVL_EXIT_NONE,
	HVL_EXIT_RESET,		/* KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_RESET */
	HVL_EXIT_CRASH,		/* KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_CRASH */
	HVL_EXIT_HYPERV,	/* KVM_EXIT_HYPERV with the payload below */
};

struct hvl_exit {
	enum hvl_exit_kind kind;
	struct kvm_hyperv_exit hyperv;
};

/*
 * The vCPU's Hyper-V CPUID, read once it has run (KVM then refuses a
 * different one): the leaves a Hyper-V exit consults, without a walk of
 * the vCPU's CPUID entries each time (in-tree's cpuid_cache).
 */
struct hvl_cpuid_cache {
	bool known;
	bool hv_guest;
	bool nested;		/* VMX or SVM: flushes must cover L2 too */
	u32 features_eax, features_ebx, features_edx;	/* 0x40000003 */
	u32 enlight_eax, enlight_ebx;			/* 0x40000004 */
	u32 syndbg_eax;					/* 0x40000082 */
};

/*
 * Per-vCPU state: allocated on the first Hyper-V access of a Hyper-V guest
 * or on the VMM's first per-vCPU MSR or capability, freed with the vCPU.
 */
struct hvl_vcpu {
	struct kvm_vcpu *vcpu;
	struct hvl_vm *vm;
	/* Being freed: hvl_state.c's lookup cache must not keep it. */
	bool dead;
	u32 vp_index;
	bool enforce_cpuid;
	struct hvl_cpuid_cache cpuid;
	u64 vp_assist;		/* the VP assist page MSR */
	u64 runtime_offset;	/* VP_RUNTIME minus the task's run time */
	struct hvl_synic synic;
	struct hvl_stimer stimer[HV_SYNIC_STIMER_COUNT];
	unsigned long stimer_pending;	/* timers to look at before entry */
	/* Asked for by a Hyper-V operation, not yet handed to the VMM. */
	struct hvl_exit exit;
	/* What the glue delivered, for its completion on re-entry. */
	u32 exit_done_type;
	/* KVM's completion the glue displaced, to run first. */
	int (*exit_prev_cui)(struct kvm_vcpu *vcpu);
	/* The glue's task work that ends KVM_RUN for an exit. */
	struct callback_head exit_kick;
	atomic_t exit_kicked;
	struct kvm_vcpu *exit_kick_vcpu;
	struct rcu_head rcu;
};

/* hvl_state.c: per-VM and per-vCPU state */
void hvl_state_exit(void);
void hvl_state_hold(void);
void hvl_state_release(void);
struct hvl_vm *hvl_state_vm_find(struct kvm *kvm);
struct hvl_vm *hvl_state_vm_get(struct kvm *kvm);
struct hvl_vcpu *hvl_state_vcpu_find(struct kvm_vcpu *vcpu);
struct hvl_vcpu *hvl_state_find_slow(struct kvm_vcpu *vcpu, struct hvl_vm **vm);
struct hvl_vcpu *hvl_state_vcpu_find_in(struct hvl_vm *vm,
					struct kvm_vcpu *vcpu);
struct hvl_vcpu *hvl_state_vcpu_get(struct kvm_vcpu *vcpu);
void hvl_state_vcpu_free(struct kvm_vcpu *vcpu);
void hvl_state_vm_free(struct kvm *kvm);
u32 hvl_state_vp_index(struct hvl_vm *vm, struct kvm_vcpu *vcpu);
void hvl_state_set_vp_index(struct hvl_vm *vm, struct hvl_vcpu *hv, u32 vp);

/* The lookup cache of hvl_state.c, by hash_ptr() of the vCPU. */
#define HVL_STATE_CACHE_BITS	8
extern struct hvl_vcpu __rcu *hvl_state_cache[1 << HVL_STATE_CACHE_BITS];

/*
 * The vCPU's state, or NULL; the VM's state in *vm (NULL if it has none).
 * On every Hyper-V exit: a hit costs a load and a compare. The RCU-sched
 * read side (preemption off) is enough: kfree_rcu() waits for it too.
 */
static inline struct hvl_vcpu *hvl_state_find(struct kvm_vcpu *vcpu,
					      struct hvl_vm **vm)
{
	struct hvl_vcpu *hv;

	rcu_read_lock_sched();
	hv = rcu_dereference_sched(hvl_state_cache[hash_ptr(vcpu, HVL_STATE_CACHE_BITS)]);
	if (likely(hv && hv->vcpu == vcpu)) {
		*vm = hv->vm;
		rcu_read_unlock_sched();
		return hv;
	}
	rcu_read_unlock_sched();
	return hvl_state_find_slow(vcpu, vm);
}

/*
 * Ask for an exit to the VMM; the glue delivers it. hyperv NULL: the
 * caller wrote the KVM_EXIT_HYPERV payload in hv->exit.hyperv itself.
 */
static inline void hvl_state_exit_request(struct hvl_vcpu *hv,
					  enum hvl_exit_kind kind,
					  const struct kvm_hyperv_exit *hyperv)
{
	hv->exit.kind = kind;
	if (hyperv)
		hv->exit.hyperv = *hyperv;
}

static inline void hvl_state_count(struct hvl_vm *vm, enum hvl_stat stat)
{
	if (vm)
		atomic64_inc(&vm->stats[stat]);
}

/* hvl_hook.c: the hook mechanism (ftrace direct calls, the trampoline) */
int hvl_hook_init(u32 *unhooked);
int hvl_hook_eoi_init(void);
void hvl_hook_eoi_exit(void);
int hvl_hook_start(void);
void hvl_hook_exit(void);
/* Asm in hvl_hook.c, entered only by ftrace from the hooked functions. */
void hvl_hook_tramp(void);

/*
 * hvl_glue.c: for each function of include/hvl_hooks.h its decider,
 * replacement or observer, and the framing of KVM's ioctls.
 */
extern atomic_t hvl_glue_inflight;

/* The hook layer is about to enter a replacement: on every owned exit. */
static inline void hvl_glue_enter(void)
{
	atomic_inc(&hvl_glue_inflight);
}

void hvl_glue_drain(void);
extern struct list_head hvl_glue_fwds;
bool hvl_glue_forwarded_slow(const void *target);

/*
 * Is the current task handing the call that target replaces on to KVM
 * (never redirect it)? On every owned exit: nobody forwards almost always.
 */
static inline bool hvl_glue_forwarded(const void *target)
{
	return !list_empty_careful(&hvl_glue_fwds) &&
	       hvl_glue_forwarded_slow(target);
}

bool hvl_glue_want_kvm_vcpu_ioctl(unsigned long filp, unsigned long ioctl);
long hvl_glue_kvm_vcpu_ioctl(struct file *filp, unsigned int ioctl,
			     unsigned long arg);
bool hvl_glue_want_kvm_emulate_hypercall(unsigned long vcpu,
					 unsigned long unused);
int hvl_glue_kvm_emulate_hypercall(struct kvm_vcpu *vcpu);
bool hvl_glue_want_kvm_emulate_wrmsr(unsigned long vcpu, unsigned long unused);
int hvl_glue_kvm_emulate_wrmsr(struct kvm_vcpu *vcpu);
bool hvl_glue_want_kvm_get_msr_common(unsigned long vcpu, unsigned long msr);
int hvl_glue_kvm_get_msr_common(struct kvm_vcpu *vcpu, struct msr_data *msr);
bool hvl_glue_want_kvm_set_msr_common(unsigned long vcpu, unsigned long msr);
int hvl_glue_kvm_set_msr_common(struct kvm_vcpu *vcpu, struct msr_data *msr);
bool hvl_glue_want_kvm_vm_ioctl_check_extension(unsigned long kvm,
						unsigned long ext);
int hvl_glue_kvm_vm_ioctl_check_extension(struct kvm *kvm, long ext);
bool hvl_glue_want_kvm_dev_ioctl(unsigned long filp, unsigned long ioctl);
long hvl_glue_kvm_dev_ioctl(struct file *filp, unsigned int ioctl,
			    unsigned long arg);
void hvl_glue_see_kvm_end_pvclock_update(unsigned long kvm);
bool hvl_glue_want_kvm_set_routing_entry(unsigned long kvm, unsigned long e);
int hvl_glue_kvm_set_routing_entry(struct kvm *kvm,
				   struct kvm_kernel_irq_routing_entry *e,
				   const struct kvm_irq_routing_entry *ue);
bool hvl_glue_want_kvm_arch_vm_ioctl(unsigned long filp, unsigned long ioctl);
int hvl_glue_kvm_arch_vm_ioctl(struct file *filp, unsigned int ioctl,
			       unsigned long arg);
bool hvl_glue_want_kvm_apic_ack_interrupt(unsigned long vcpu,
					  unsigned long vector);
void hvl_glue_kvm_apic_ack_interrupt(struct kvm_vcpu *vcpu, int vector);
void hvl_glue_see_kvm_eoi(struct kvm_lapic *apic, int vector);
void hvl_glue_see_kvm_arch_irq_routing_update(unsigned long kvm);
bool hvl_glue_want_kvm_cpu_has_pending_timer(unsigned long vcpu,
					     unsigned long unused);
int hvl_glue_kvm_cpu_has_pending_timer(struct kvm_vcpu *vcpu);
void hvl_glue_see_kvm_inject_pending_timer_irqs(unsigned long vcpu);
void hvl_glue_see_kvm_arch_vcpu_destroy(unsigned long vcpu);
void hvl_glue_see_kvm_arch_free_vm(unsigned long kvm);

/* hv_cpuid.c: Hyper-V CPUID, guest detection, capabilities */
bool hvl_cpuid_is_hv_guest_slow(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv);

/* Is the vCPU a Hyper-V guest (hv_cpuid.c)? On every Hyper-V exit. */
static inline bool hvl_cpuid_is_hv_guest(struct kvm_vcpu *vcpu,
					 struct hvl_vcpu *hv)
{
	if (hv && hv->cpuid.known)
		return hv->cpuid.hv_guest;
	return hvl_cpuid_is_hv_guest_slow(vcpu, hv);
}

/* Enforcement is per-vCPU state: a vCPU without any (NULL) has it off. */
static inline bool hvl_cpuid_enforced(const struct hvl_vcpu *hv)
{
	return hv && hv->enforce_cpuid;
}

bool hvl_cpuid_has_cap(long ext);
int hvl_cpuid_check_extension(struct kvm *kvm, long ext);
int hvl_cpuid_supported(struct kvm_vcpu *vcpu,
			struct kvm_cpuid_entry2 ent[HVL_CPUID_NR_LEAVES]);
bool hvl_cpuid_allowed(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u64 feature);
bool hvl_cpuid_syndbg_enabled(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv);
bool hvl_cpuid_nested(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv);
bool hvl_cpuid_hypercall_allowed(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv,
				 u16 code);
void hvl_cpuid_offer_init(bool wrmsr_exits);
int hvl_cpuid_set_enforce(struct kvm_vcpu *vcpu, bool on);
extern u32 hvl_cpuid_features;
extern u32 hvl_cpuid_features_ebx;
extern u32 hvl_cpuid_features_edx;

/*
 * A hypercall as the guest made it: the input value, the two GPAs, the
 * XMM input of a fast call (64-bit halves, XMM0.lo first) and where its
 * variable part starts, and the reps the call completed.
 */
struct hvl_hc {
	struct hvl_hc_input in;
	bool longmode;			/* a 64-bit caller: RAX, not EDX:EAX */
	u64 param, ingpa, outgpa;
	u64 xmm[2 * HV_HYPERCALL_MAX_XMM_REGISTERS];
	unsigned int xmm_used;		/* halves the fixed input took */
	unsigned int data_offset;	/* in the input page */
	u16 reps_done;
};

/*
 * A sparse set of VP indices (TLFS "HV_VP_SET"): all of them, or bank n
 * (VPs 64n..64n+63) in the k-th word of banks where bit n is the k-th set
 * bit of valid.
 */
/*
 * The largest VP index KVM can have is below KVM_MAX_VCPUS: banks beyond
 * that are checked for presence but not kept (in-tree
 * KVM_HV_MAX_SPARSE_VCPU_SET_BITS).
 */
#define HVL_VPSET_BANKS_USED	DIV_ROUND_UP(KVM_MAX_VCPUS, HV_VCPUS_PER_SPARSE_BANK)

struct hvl_vpset {
	bool all;
	u64 valid;
	u64 banks[HVL_VPSET_BANKS_USED];
};

/* hv_vpset.c: a hypercall's variable input, VP sets */
int hvl_vpset_read_data(struct kvm_vcpu *vcpu, const struct hvl_hc *hc,
			u16 cnt, u64 *data);
int hvl_vpset_read(struct kvm_vcpu *vcpu, const struct hvl_hc *hc,
		   struct hvl_vpset *set);
bool hvl_vpset_has(const struct hvl_vpset *set, u32 vp_index);
void hvl_vpset_vcpus(struct kvm *kvm, struct hvl_vm *vm,
		     const struct hvl_vpset *set, unsigned long *vcpus);

/* hv_ipi.c: HvCallSendSyntheticClusterIpi(Ex) */
int hvl_ipi_send(struct kvm_vcpu *vcpu, struct hvl_vm *vm, struct hvl_hc *hc);

/* hv_tlbflush.c: HvFlushVirtualAddressSpace/List(Ex) */
int hvl_tlbflush(struct kvm_vcpu *vcpu, struct hvl_vm *vm, struct hvl_hc *hc);

/* hv_msr.c: synthetic MSR dispatch */
extern unsigned long hvl_msr_offered_map[];
void hvl_msr_settle(void);
bool hvl_msr_offered(struct kvm_vcpu *vcpu, u32 msr);
int hvl_msr_set(struct kvm_vcpu *vcpu, struct msr_data *msr,
		struct hvl_vcpu **hvp);
int hvl_msr_get(struct kvm_vcpu *vcpu, struct msr_data *msr);
/* The most MSRs hvl_msr_list() reports. */
#define HVL_MSR_LIST_MAX	64
int hvl_msr_list(u32 indices[HVL_MSR_LIST_MAX]);

/* hv_hypercall.c: the hypercall page and hypercall dispatch */
int hvl_hypercall_set_guest_os_id(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
				  u64 data);
int hvl_hypercall_set_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u64 data);
bool hvl_hypercall_owned(struct kvm_vcpu *vcpu);
int hvl_hypercall_handle(struct kvm_vcpu *vcpu);
int hvl_hypercall_complete(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u64 param,
			   u64 result);

/* hv_reftime.c: TIME_REF_COUNT and the reference TSC page */
int hvl_reftime_set_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u32 msr,
			u64 data, bool host);
int hvl_reftime_get_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm, u32 msr,
			u64 *data);
void hvl_reftime_clock_update(struct kvm *kvm);
u64 hvl_reftime_now(struct kvm_vcpu *vcpu, struct hvl_vm *vm);

/* hv_vapic.c: EOI, ICR, TPR and the VP assist page */
int hvl_vapic_set_msr(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 msr,
		      u64 data, bool host);
int hvl_vapic_get_msr(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 msr,
		      u64 *data);

/* hv_sysmsr.c: run time, frequencies, reset, crash, re-enlightenment, SynDbg */
int hvl_sysmsr_set(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
		   struct hvl_vcpu *hv, u32 msr, u64 data, bool host);
int hvl_sysmsr_get(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
		   struct hvl_vcpu *hv, u32 msr, u64 *data, bool host);
void hvl_sysmsr_syndbg_complete(struct kvm_vcpu *vcpu, u32 msr, u64 status);

/* hv_synic.c: the synthetic interrupt controller */
extern atomic_t hvl_synic_aeoi_users;
extern atomic_t hvl_synic_users;
void hvl_synic_init(struct hvl_synic *s);
void hvl_synic_free(struct hvl_vcpu *hv);
int hvl_synic_activate(struct kvm_vcpu *vcpu, bool dont_zero);
bool hvl_synic_active(const struct hvl_vcpu *hv);
int hvl_synic_set_msr(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
		      struct hvl_vcpu *hv, u32 msr, u64 data, bool host);
int hvl_synic_get_msr(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 msr,
		      u64 *data, bool host);
int hvl_synic_set_irq(struct kvm *kvm, u32 vp_index, u32 sint);
void hvl_synic_route(struct kvm *kvm, u32 vp_index, u32 sint, int gsi);
void hvl_synic_eoi(struct kvm_vcpu *vcpu, int vector);
bool hvl_synic_auto_eoi(struct kvm_vcpu *vcpu, int vector);
int hvl_synic_signal(struct hvl_vm *vm, u32 conn_id);
int hvl_synic_deliver_msg(struct kvm_vcpu *vcpu, u32 sint,
			  const struct hv_message *msg, bool no_retry);

/* hv_stimer.c: synthetic timers */
extern atomic_t hvl_stimer_pending_timers;
void hvl_stimer_init(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv);
void hvl_stimer_free(struct hvl_vcpu *hv);
bool hvl_stimer_pending(struct kvm_vcpu *vcpu);
void hvl_stimer_process(struct kvm_vcpu *vcpu);
void hvl_stimer_acked(struct hvl_vcpu *hv, u32 sint);
int hvl_stimer_set_msr(struct kvm_vcpu *vcpu, struct hvl_vcpu *hv, u32 msr,
		       u64 data, bool host);
int hvl_stimer_get_msr(struct hvl_vcpu *hv, u32 msr, u64 *data);
int hvl_synic_eventfd(struct kvm *kvm, u32 conn_id, int fd, bool deassign);

/* hv_spinlock.c: HvNotifyLongSpinWait */
int hvl_spinlock_notify(struct kvm_vcpu *vcpu, struct hvl_vm *vm,
			const struct hvl_hc_input *in);

#endif /* HVL_H */
