// SPDX-License-Identifier: GPL-2.0
/*
 * Per-VM and per-vCPU Hyper-V state. KVM built without Hyper-V has no field
 * for it, so keep it in an RCU hash table keyed by struct kvm, created on
 * first Hyper-V use and removed when KVM frees the VM: KVM reuses addresses.
 * Each VM with state holds a module reference, so rmmod waits for it.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/eventfd.h>
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include "hvl.h"

#define HVL_VM_HASH_BITS	6

static DEFINE_HASHTABLE(hvl_vms, HVL_VM_HASH_BITS);
/* Serializes insertion and removal; lookups are lockless under RCU. */
static DEFINE_SPINLOCK(hvl_vms_lock);

static const char *const hvl_stat_names[HVL_STAT_NR] = {
	[HVL_STAT_MSR_READ] = "msr_reads",
	[HVL_STAT_MSR_WRITE] = "msr_writes",
	[HVL_STAT_MSR_GP] = "msr_gp",
	[HVL_STAT_HYPERCALL] = "hypercalls",
	[HVL_STAT_HYPERCALL_FAILED] = "hypercalls_failed",
	[HVL_STAT_SPIN_WAIT] = "spin_wait_notifications",
	[HVL_STAT_SPIN_YIELDED] = "spin_wait_yields",
	[HVL_STAT_TSC_PAGE_UPDATE] = "tsc_page_updates",
	[HVL_STAT_EXIT] = "exits_to_vmm",
	[HVL_STAT_IPI] = "pv_ipis",
	[HVL_STAT_TLB_FLUSH] = "pv_tlb_flushes",
	[HVL_STAT_STIMER] = "stimer_expirations",
};

static struct hvl_vm *hvl_state_vm_lookup(struct kvm *kvm)
{
	struct hvl_vm *vm;

	hash_for_each_possible_rcu(hvl_vms, vm, node, (unsigned long)kvm)
		if (vm->kvm == kvm)
			return vm;
	return NULL;
}

/*
 * The result stays valid while the caller keeps the VM alive (any vCPU or VM
 * ioctl does) or stays inside an RCU read-side section.
 */
struct hvl_vm *hvl_state_vm_find(struct kvm *kvm)
{
	struct hvl_vm *vm;

	rcu_read_lock();
	vm = hvl_state_vm_lookup(kvm);
	rcu_read_unlock();
	return vm;
}

/* A vCPU's enabled synthetic timers, for a guest whose clock stalls. */
static void hvl_state_show_stimers(struct seq_file *m, unsigned long idx,
				   struct hvl_vcpu *hv)
{
	union hv_stimer_config cfg;
	struct hvl_stimer *t;
	int i;

	seq_printf(m, "vcpu%lu_stimer_pending: 0x%lx\n", idx,
		   READ_ONCE(hv->stimer_pending));
	for (i = 0; i < HV_SYNIC_STIMER_COUNT; i++) {
		t = &hv->stimer[i];
		cfg.as_uint64 = READ_ONCE(t->config.as_uint64);
		if (!cfg.enable)
			continue;
		seq_printf(m, "vcpu%lu_stimer%d: config 0x%llx count %llu expiration %llu%s%s\n",
			   idx, i, cfg.as_uint64,
			   READ_ONCE(t->count), READ_ONCE(t->exp_time),
			   READ_ONCE(t->msg_pending) ? " message_pending" : "",
			   hrtimer_active(&t->timer) ? " armed" : "");
	}
}

static int hvl_state_show(struct seq_file *m, void *unused)
{
	struct hvl_vm *vm = m->private;
	struct hvl_vcpu *hv;
	unsigned long idx;
	int i;

	seq_printf(m, "guest_os_id: 0x%llx\n", READ_ONCE(vm->guest_os_id));
	seq_printf(m, "hypercall: 0x%llx\n", READ_ONCE(vm->hypercall));
	seq_printf(m, "reference_tsc: 0x%llx\n", READ_ONCE(vm->reference_tsc));
	seq_printf(m, "tsc_page_sequence: %u\n", READ_ONCE(vm->tsc_seq));
	for (i = 0; i < ARRAY_SIZE(vm->crash_param); i++)
		seq_printf(m, "crash_p%d: 0x%llx\n", i,
			   READ_ONCE(vm->crash_param[i]));
	seq_printf(m, "crash_ctl: 0x%llx\n", READ_ONCE(vm->crash_ctl));
	seq_printf(m, "reenlightenment_control: 0x%llx\n",
		   READ_ONCE(vm->reenlightenment_control));
	seq_printf(m, "tsc_emulation_control: 0x%llx\n",
		   READ_ONCE(vm->tsc_emulation_control));
	seq_printf(m, "tsc_emulation_status: 0x%llx\n",
		   READ_ONCE(vm->tsc_emulation_status));
	for (i = 0; i < HVL_STAT_NR; i++)
		seq_printf(m, "%s: %lld\n", hvl_stat_names[i],
			   atomic64_read(&vm->stats[i]));
	/* Entries are freed after a grace period: stay inside one. */
	rcu_read_lock();
	xa_for_each(&vm->vcpus, idx, hv) {
		seq_printf(m, "vcpu%lu_vp_index: %u\n", idx, READ_ONCE(hv->vp_index));
		seq_printf(m, "vcpu%lu_vp_assist: 0x%llx\n", idx,
			   READ_ONCE(hv->vp_assist));
		hvl_state_show_stimers(m, idx, hv);
	}
	rcu_read_unlock();
	/* The timer hooks' filter: above 0 while any VM has a timer to process. */
	seq_printf(m, "stimers_pending_all_vms: %d\n",
		   atomic_read(&hvl_stimer_pending_timers));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hvl_state);

/* Allocate on first use; NULL only when memory is short or we are unloading. */
struct hvl_vm *hvl_state_vm_get(struct kvm *kvm)
{
	struct hvl_vm *vm, *new;

	vm = hvl_state_vm_find(kvm);
	if (vm)
		return vm;
	if (!try_module_get(THIS_MODULE))
		return NULL;
	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new) {
		module_put(THIS_MODULE);
		return NULL;
	}
	new->kvm = kvm;
	mutex_init(&new->lock);
	xa_init(&new->vcpus);
	idr_init(&new->conn_to_evt);
	seqcount_mutex_init(&new->tsc_sc, &new->lock);
	spin_lock_init(&new->ref_lock);
	/* The clock's last step, as hv_reftime.c compares it later. */
	new->step_offset = hvl_compat_kvmclock_offset(kvm);

	spin_lock(&hvl_vms_lock);
	vm = hvl_state_vm_lookup(kvm);
	if (!vm)
		hash_add_rcu(hvl_vms, &new->node, (unsigned long)kvm);
	spin_unlock(&hvl_vms_lock);
	if (vm) {
		/* Another vCPU won the race. */
		kfree(new);
		module_put(THIS_MODULE);
		return vm;
	}
	/* KVM removes its per-VM directory, and this file, before freeing. */
	if (!IS_ERR_OR_NULL(kvm->debugfs_dentry))
		debugfs_create_file(HVL_NAME, 0444, kvm->debugfs_dentry, new,
				    &hvl_state_fops);
	return new;
}

/*
 * The state of the vCPUs that made a Hyper-V exit lately, by the vCPU's
 * address: the next exit of the same vCPU finds it with one load instead
 * of a hash walk and an xarray walk. A slot holds state that is not being
 * freed (hvl_state_cache_drop()); readers look under RCU, which the state's
 * kfree_rcu() waits for. Two vCPUs sharing a slot only cost a miss.
 */
struct hvl_vcpu __rcu *hvl_state_cache[1 << HVL_STATE_CACHE_BITS];

static struct hvl_vcpu __rcu **hvl_state_slot(struct kvm_vcpu *vcpu)
{
	return &hvl_state_cache[hash_ptr(vcpu, HVL_STATE_CACHE_BITS)];
}

static void hvl_state_cache_put(struct hvl_vcpu *hv)
{
	struct hvl_vcpu __rcu **slot = hvl_state_slot(hv->vcpu);

	rcu_assign_pointer(*slot, hv);
	/*
	 * Pairs with hvl_state_cache_drop(): either it sees hv in the slot, or
	 * we see hv->dead and take it out again ourselves.
	 */
	smp_mb();
	if (READ_ONCE(hv->dead))
		cmpxchg((struct hvl_vcpu **)slot, hv, NULL);
}

/* Before hv is freed: no slot may keep it past the grace period. */
static void hvl_state_cache_drop(struct hvl_vcpu *hv)
{
	WRITE_ONCE(hv->dead, true);
	/* Pairs with hvl_state_cache_put(): dead before the slot is read. */
	smp_mb();
	cmpxchg((struct hvl_vcpu **)hvl_state_slot(hv->vcpu), hv, NULL);
}

/* For a caller that already looked up its VM's state (or found none). */
struct hvl_vcpu *hvl_state_vcpu_find_in(struct hvl_vm *vm,
					struct kvm_vcpu *vcpu)
{
	struct hvl_vcpu *hv;

	if (!vm)
		return NULL;
	rcu_read_lock();
	hv = xa_load(&vm->vcpus, vcpu->vcpu_idx);
	if (hv)
		hvl_state_cache_put(hv);
	rcu_read_unlock();
	return hv;
}

/*
 * A vCPU's VP index: the vCPU index unless the VMM set another. While no
 * vCPU of the VM has another, that is known without a lookup (in-tree's
 * num_mismatched_vp_indexes).
 */
u32 hvl_state_vp_index(struct hvl_vm *vm, struct kvm_vcpu *vcpu)
{
	struct hvl_vcpu *hv;

	if (!vm || !atomic_read(&vm->vp_index_mismatch))
		return vcpu->vcpu_idx;
	hv = hvl_state_vcpu_find(vcpu);
	return hv ? READ_ONCE(hv->vp_index) : vcpu->vcpu_idx;
}

/* The VMM's KVM_SET_MSRS of VP_INDEX, under vcpu->mutex. */
void hvl_state_set_vp_index(struct hvl_vm *vm, struct hvl_vcpu *hv, u32 vp)
{
	u32 idx = hv->vcpu->vcpu_idx;

	if (vp != idx && hv->vp_index == idx)
		atomic_inc(&vm->vp_index_mismatch);
	else if (vp == idx && hv->vp_index != idx)
		atomic_dec(&vm->vp_index_mismatch);
	WRITE_ONCE(hv->vp_index, vp);
}

/* hvl_state_find() for a vCPU not in the cache. */
struct hvl_vcpu *hvl_state_find_slow(struct kvm_vcpu *vcpu, struct hvl_vm **vm)
{
	*vm = hvl_state_vm_find(vcpu->kvm);
	return hvl_state_vcpu_find_in(*vm, vcpu);
}

struct hvl_vcpu *hvl_state_vcpu_find(struct kvm_vcpu *vcpu)
{
	struct hvl_vm *vm;

	return hvl_state_find(vcpu, &vm);
}

struct hvl_vcpu *hvl_state_vcpu_get(struct kvm_vcpu *vcpu)
{
	struct hvl_vcpu *hv = hvl_state_vcpu_find(vcpu), *old;
	struct hvl_vm *vm;

	if (hv)
		return hv;
	vm = hvl_state_vm_get(vcpu->kvm);
	if (!vm)
		return NULL;
	hv = kzalloc(sizeof(*hv), GFP_KERNEL_ACCOUNT);
	if (!hv)
		return NULL;
	hv->vcpu = vcpu;
	hv->vm = vm;
	/* As in-tree KVM: the VP index starts as the vCPU index. */
	hv->vp_index = vcpu->vcpu_idx;
	hvl_synic_init(&hv->synic);
	hvl_stimer_init(vcpu, hv);
	old = xa_cmpxchg(&vm->vcpus, vcpu->vcpu_idx, NULL, hv,
			 GFP_KERNEL_ACCOUNT);
	if (old) {
		kfree(hv);
		return xa_is_err(old) ? NULL : old;
	}
	hvl_state_cache_put(hv);
	return hv;
}

/* Called from a hook observer, before KVM frees it: must not sleep. */
void hvl_state_vcpu_free(struct kvm_vcpu *vcpu)
{
	struct hvl_vcpu *hv = NULL;
	struct hvl_vm *vm;

	rcu_read_lock();
	vm = hvl_state_vm_lookup(vcpu->kvm);
	if (vm)
		hv = xa_erase(&vm->vcpus, vcpu->vcpu_idx);
	if (hv && hv->vp_index != vcpu->vcpu_idx)
		atomic_dec(&vm->vp_index_mismatch);
	rcu_read_unlock();
	if (hv) {
		hvl_state_cache_drop(hv);
		hvl_synic_free(hv);
		hvl_stimer_free(hv);
		kfree_rcu(hv, rcu);
	}
}

/* After a grace period, in softirq context: kvfree() defers a vfree(). */
static void hvl_state_vm_free_rcu(struct rcu_head *rcu)
{
	struct hvl_vm *vm = container_of(rcu, struct hvl_vm, rcu);

	kvfree(vm->tsc_works);
	kfree(vm);
}

/* Called from a hook observer, before KVM frees it: must not sleep. */
void hvl_state_vm_free(struct kvm *kvm)
{
	struct eventfd_ctx *evt;
	struct hvl_vcpu *hv;
	int id;
	struct hvl_vm *vm;
	unsigned long i;

	spin_lock(&hvl_vms_lock);
	vm = hvl_state_vm_lookup(kvm);
	if (vm)
		hash_del_rcu(&vm->node);
	spin_unlock(&hvl_vms_lock);
	if (!vm)
		return;
	/* vCPUs are normally gone already; free any that KVM never destroyed. */
	xa_for_each(&vm->vcpus, i, hv) {
		hvl_state_cache_drop(hv);
		hvl_synic_free(hv);
		hvl_stimer_free(hv);
		kfree_rcu(hv, rcu);
	}
	idr_for_each_entry(&vm->conn_to_evt, evt, id)
		eventfd_ctx_put(evt);
	idr_destroy(&vm->conn_to_evt);
	xa_destroy(&vm->vcpus);
	call_rcu(&vm->rcu, hvl_state_vm_free_rcu);
	module_put(THIS_MODULE);
}

/* Deferred work queued but not yet finished running module code. */
static atomic_t hvl_state_deferred = ATOMIC_INIT(0);

/*
 * Pin the module's code for deferred work (task work, a timer) that will
 * run it: the work may drop the last reference to a VM, and with it the
 * module reference, and still have instructions of ours to run.
 */
void hvl_state_hold(void)
{
	atomic_inc(&hvl_state_deferred);
}

/* The deferred work's last act. */
void hvl_state_release(void)
{
	atomic_dec(&hvl_state_deferred);
}

/*
 * Every VM with state pins the module, so none is left at exit. Wait for
 * deferred work to finish and leave our text, then for the RCU callbacks
 * that free state, which kfree_rcu() queued.
 */
void hvl_state_exit(void)
{
	while (atomic_read(&hvl_state_deferred))
		msleep(20);
	synchronize_rcu_tasks();
	rcu_barrier();
}
