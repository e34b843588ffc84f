// SPDX-License-Identifier: GPL-2.0
/*
 * The module finds a vCPU's Hyper-V state through a cache keyed by the
 * vCPU's address (issue #23). KVM allocates vCPUs from a slab, so a freed
 * VM's vCPU address comes back in the next VM: that VM must see fresh
 * state, never the freed one's. Each round makes a Hyper-V VM whose vCPU
 * has the host-set VP index 7 and a guest that has read it (the cache now
 * holds that vCPU), frees it, then checks the next VMs:
 *   (a) a vCPU without Hyper-V CPUID: VP_INDEX is #GP (negative first);
 *   (b) a Hyper-V vCPU: VP_INDEX is its vCPU index, 0, not 7;
 *   (c) that vCPU's VP index set by the host reads back as set.
 * The same in every environment with Hyper-V; plain KVM SKIPs.
 */
#include <stdio.h>
#include <string.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

#define ROUNDS		20

/* The guest's rdmsr of VP_INDEX: the vector (0: none) and the value. */
static void vp_guest(void)
{
	uint64_t val = 0;
	uint8_t vec = rdmsr_safe(HV_X64_MSR_VP_INDEX, &val);

	GUEST_SYNC(vec, val);
	GUEST_DONE();
}

/* Run vp_guest once: *vec and *val as the guest saw them. */
static void vp_read(struct kvm_vcpu *vcpu, uint64_t *vec, uint64_t *val)
{
	struct ucall uc;

	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	*vec = uc.args[0];
	*val = uc.args[1];
}

/* A one-vCPU VM running vp_guest, with Hyper-V CPUID when hv. */
static struct kvm_vm *vp_vm(bool hv, struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_with_vcpus(1, vp_guest, vcpu);

	if (hv)
		vcpu_set_hv_cpuid(*vcpu);
	return vm;
}

/* A Hyper-V VM whose guest read VP index 7, freed: 0 if all went so. */
static int seed_freed_vm(void)
{
	struct kvm_vcpu *vcpu;
	uint64_t vec, val;
	struct kvm_vm *vm;

	vm = vp_vm(true, &vcpu);
	vcpu_set_msr(vcpu, HV_X64_MSR_VP_INDEX, 7);
	vp_read(vcpu, &vec, &val);
	vm_free(vm);
	return vec || val != 7;
}

static void test_plain_after_free(void)
{
	int i, bad_seed = 0, bad = 0;
	struct kvm_vcpu *vcpu;
	uint64_t vec, val;
	struct kvm_vm *vm;

	for (i = 0; i < ROUNDS; i++) {
		bad_seed += seed_freed_vm();
		vm = vp_vm(false, &vcpu);
		vp_read(vcpu, &vec, &val);
		bad += vec != GP_VECTOR;
		vm_free(vm);
	}
	tap_ok(!bad_seed && !bad,
	       "%d rounds: a vCPU without Hyper-V CPUID after a freed Hyper-V VM: VP_INDEX #GP (%d not; %d seeds wrong)",
	       ROUNDS, bad, bad_seed);
}

static void test_hv_after_free(void)
{
	int i, bad_seed = 0, bad = 0, bad_set = 0;
	struct kvm_vcpu *vcpu;
	uint64_t vec, val;
	struct kvm_vm *vm;

	for (i = 0; i < ROUNDS; i++) {
		bad_seed += seed_freed_vm();
		vm = vp_vm(true, &vcpu);
		vp_read(vcpu, &vec, &val);
		bad += vec || val != 0;
		vcpu_set_msr(vcpu, HV_X64_MSR_VP_INDEX, 3);
		bad_set += vcpu_get_msr(vcpu, HV_X64_MSR_VP_INDEX, &val) != 1 ||
			   val != 3;
		vm_free(vm);
	}
	tap_ok(!bad_seed && !bad,
	       "%d rounds: a Hyper-V vCPU after a freed one with VP index 7 reads its own, 0 (%d wrong; %d seeds wrong)",
	       ROUNDS, bad, bad_seed);
	tap_ok(!bad_set, "%d rounds: its VP index set to 3 by the host reads back 3 (%d wrong)",
	       ROUNDS, bad_set);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	if (hv_env == HV_PLAIN)
		tap_skip_all(NO_MODULE);

	TEST_RUN("no stale state for a vCPU without Hyper-V at a freed vCPU's address",
		 test_plain_after_free());
	TEST_RUN("fresh state for a Hyper-V vCPU at a freed vCPU's address",
		 test_hv_after_free());
	return tap_done();
}
