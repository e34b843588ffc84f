// SPDX-License-Identifier: GPL-2.0
/*
 * The synthetic MSRs GUEST_OS_ID, HYPERCALL and VP_INDEX, from the guest
 * (rdmsr/wrmsr) and from the host (KVM_GET/SET_MSRS):
 *   (a) a guest without "Hv#1" in CPUID gets KVM's #GP for all of them;
 *   (b) KVM_CAP_HYPERV_ENFORCE_CPUID gates them by 0x40000003.EAX;
 *   (c) VP_INDEX: the vCPU index by default, read-only for the guest,
 *       settable by the host within limits;
 *   (d) HYPERCALL reserved bits 11:2;
 *   (e) host round trips, a migration into a fresh VM, and a host
 *       read/write-back of every Hyper-V MSR KVM_GET_MSR_INDEX_LIST names;
 *   (f) a hypercall page outside guest memory.
 * Error cases come before the successful ones.
 *
 * Environments (HVL_KERNEL, HVL_MODULE_LOADED): "nohv" with hvenlight is
 * the target; "stock" (in-tree Hyper-V) must agree except where the module
 * differs on purpose (those checks SKIP there); "nohv" without the module
 * checks plain KVM where that is meaningful and SKIPs the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

/* ---- guest: probe the three MSRs ---- */

#define OS_ID		0x8100000000001234ull	/* "Linux", some version */
#define OS_ID2		0x0001040a00003839ull	/* Windows-style */

static const char *const msr_names[] = { "GUEST_OS_ID", "HYPERCALL", "VP_INDEX" };
static const uint32_t msrs[] = { HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL, HV_X64_MSR_VP_INDEX };

struct probe {
	uint64_t wval;		/* in: what to write */
	uint64_t rval;		/* out: what rdmsr gave (0 on a fault) */
	uint8_t rvec, wvec;	/* out: vectors of rdmsr and wrmsr */
};

/* Per-VM copies; the host fills in wval and reads the rest back. */
static struct probe probes[3];

static void probe_guest(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		probes[i].rvec = rdmsr_safe(msrs[i], &probes[i].rval);
		probes[i].wvec = wrmsr_safe(msrs[i], probes[i].wval);
	}
	GUEST_DONE();
}

/* Run probe_guest on vcpu and fetch the results into p[]. */
static void run_probe(struct kvm_vcpu *vcpu, struct probe p[3])
{
	struct ucall uc;

	memcpy(probes, p, sizeof(probes));
	sync_global_to_guest(vcpu->vm, probes);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_DONE);
	sync_global_from_guest(vcpu->vm, probes);
	memcpy(p, probes, sizeof(probes));
}

static void probe_defaults(struct probe p[3], uint32_t vcpu_id)
{
	memset(p, 0, 3 * sizeof(*p));
	p[0].wval = OS_ID;
	p[1].wval = 0;		/* HYPERCALL disabled: always a valid value */
	p[2].wval = vcpu_id;	/* VP_INDEX is read-only for the guest anyway */
}

/* ---- (a) a guest without Hyper-V CPUID ---- */

static void test_non_hv_guest(void)
{
	struct kvm_cpuid_entry2 *e;
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	struct probe p[3];
	uint64_t val;
	int i, r;

	vm = vm_create_with_vcpus(1, probe_guest, vcpus);
	probe_defaults(p, 0);
	run_probe(vcpus[0], p);
	for (i = 0; i < 3; i++)
		tap_ok(p[i].rvec == GP_VECTOR && p[i].wvec == GP_VECTOR,
		       "non-Hyper-V guest: rdmsr/wrmsr %s -> #GP (vectors %u/%u)",
		       msr_names[i], p[i].rvec, p[i].wvec);

	/*
	 * The host may still read them (that is how in-tree KVM behaves, and
	 * what a VMM saving state relies on); plain KVM knows no such MSR.
	 */
	for (i = 0; i < 3; i++) {
		r = vcpu_get_msr(vcpus[0], msrs[i], &val);
		if (hv_env == HV_PLAIN)
			tap_ok(r == 0, "plain KVM: host KVM_GET_MSRS(%s) is refused (%d)",
			       msr_names[i], r);
		else
			tap_ok(r == 1 && val == 0,
			       "non-Hyper-V guest: host KVM_GET_MSRS(%s) still works (%d, %#lx)",
			       msr_names[i], r, val);
	}
	vm_free(vm);

	/* Hyper-V is per vCPU: one vCPU with "Hv#1", its sibling without. */
	vm = vm_create(0, 0);
	vcpus[0] = vm_vcpu_add(vm, probe_guest);
	vcpus[1] = vm_vcpu_add(vm, probe_guest);
	if (hv_env != HV_PLAIN)
		vcpu_set_hv_cpuid(vcpus[0]);
	probe_defaults(p, 1);
	run_probe(vcpus[1], p);
	tap_ok(p[0].rvec == GP_VECTOR && p[0].wvec == GP_VECTOR &&
	       p[1].rvec == GP_VECTOR && p[2].rvec == GP_VECTOR,
	       "vCPU without \"Hv#1\" beside one with it: #GP (%u %u %u %u)",
	       p[0].rvec, p[0].wvec, p[1].rvec, p[2].rvec);
	vm_free(vm);

	/*
	 * "Hv#1" in 0x40000001.EAX under KVM's own signature at 0x40000000:
	 * that leaf is KVM's feature leaf, so hvenlight sees no Hyper-V guest
	 * (its hypercall filter reads the same base). In-tree KVM looks at
	 * 0x40000001 alone and enables Hyper-V.
	 */
	vm = vm_create_with_vcpus(1, probe_guest, vcpus);
	e = vcpu_cpuid_entry(vcpus[0], 0x40000000, 0);
	TEST_ASSERT(e && e->ebx == 0x4b4d564b, "KVM's signature at 0x40000000");
	e = vcpu_cpuid_entry(vcpus[0], 0x40000001, 0);
	TEST_ASSERT(e, "KVM's feature leaf at 0x40000001");
	e->eax = HYPERV_CPUID_SIGNATURE_EAX;
	vcpu_set_cpuid(vcpus[0]);
	probe_defaults(p, 0);
	run_probe(vcpus[0], p);
	if (hv_env == HV_STOCK)
		tap_ok(!p[0].rvec && !p[0].wvec,
		       "in-tree: \"Hv#1\" under KVM's signature enables Hyper-V (%u %u)",
		       p[0].rvec, p[0].wvec);
	else
		tap_ok(p[0].rvec == GP_VECTOR && p[0].wvec == GP_VECTOR &&
		       p[1].rvec == GP_VECTOR && p[2].rvec == GP_VECTOR,
		       "\"Hv#1\" under KVM's signature at 0x40000000: #GP (%u %u %u %u)",
		       p[0].rvec, p[0].wvec, p[1].rvec, p[2].rvec);
	vm_free(vm);
}

/* ---- (b) KVM_CAP_HYPERV_ENFORCE_CPUID ---- */

/* A Hyper-V vCPU with 0x40000003.EAX = feat, enforcement on or off. */
static struct kvm_vm *hv_vm_feat(uint32_t feat, bool enforce,
				 struct kvm_vcpu **vcpu)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vm *vm = vm_create_with_vcpus(1, probe_guest, vcpu);

	hv_leaves(leaf);
	leaf[3].eax = feat;
	vcpu_set_hv_leaves(*vcpu, leaf);
	if (enforce)
		TEST_ASSERT(!vcpu_enable_cap(*vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
			    "KVM_ENABLE_CAP(KVM_CAP_HYPERV_ENFORCE_CPUID)");
	return vm;
}

static void test_enforce(void)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_HYPERV_ENFORCE_CPUID, .flags = 1, .args = { 1 },
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct probe p[3];
	uint64_t val;
	int i, r, err;
	bool ok;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);

	/* Negative first: flags must be 0. */
	vm = vm_create_with_vcpus(1, probe_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	r = ioctl(vcpu->fd, KVM_ENABLE_CAP, &cap);
	err = errno;
	tap_ok(r == -1 && err == EINVAL,
	       "KVM_ENABLE_CAP(HYPERV_ENFORCE_CPUID) with flags 1 -> EINVAL (%d, %s)",
	       r, strerror(err));
	vm_free(vm);

	/* Enforced, no features: every access is a #GP ... */
	vm = hv_vm_feat(0, true, &vcpu);
	probe_defaults(p, 0);
	run_probe(vcpu, p);
	for (i = 0; i < 3; i++)
		tap_ok(p[i].rvec == GP_VECTOR && p[i].wvec == GP_VECTOR,
		       "enforced, 0x40000003.EAX 0: rdmsr/wrmsr %s -> #GP (%u/%u)",
		       msr_names[i], p[i].rvec, p[i].wvec);
	/* ... but the host (state save/restore) is never gated. */
	ok = true;
	for (i = 0; i < 2; i++)
		ok = ok && vcpu_set_msr(vcpu, msrs[i], 0) == 1 &&
		     vcpu_get_msr(vcpu, msrs[i], &val) == 1;
	ok = ok && vcpu_get_msr(vcpu, HV_X64_MSR_VP_INDEX, &val) == 1 && val == 0;
	tap_ok(ok, "enforced, 0x40000003.EAX 0: host KVM_GET/SET_MSRS still work");
	vm_free(vm);

	/* Only the hypercall bit: GUEST_OS_ID and HYPERCALL, not VP_INDEX. */
	vm = hv_vm_feat(HV_MSR_HYPERCALL_AVAILABLE, true, &vcpu);
	probe_defaults(p, 0);
	run_probe(vcpu, p);
	tap_ok(!p[0].rvec && !p[0].wvec && !p[1].rvec && !p[1].wvec &&
	       p[2].rvec == GP_VECTOR && p[2].wvec == GP_VECTOR,
	       "enforced, hypercall bit only: GUEST_OS_ID %u/%u, HYPERCALL %u/%u work, VP_INDEX %u/%u #GP",
	       p[0].rvec, p[0].wvec, p[1].rvec, p[1].wvec, p[2].rvec, p[2].wvec);
	vm_free(vm);

	/* Only the VP index bit: the reverse. */
	vm = hv_vm_feat(HV_MSR_VP_INDEX_AVAILABLE, true, &vcpu);
	probe_defaults(p, 0);
	run_probe(vcpu, p);
	tap_ok(p[0].rvec == GP_VECTOR && p[0].wvec == GP_VECTOR &&
	       p[1].rvec == GP_VECTOR && p[1].wvec == GP_VECTOR &&
	       !p[2].rvec && p[2].rval == 0 && p[2].wvec == GP_VECTOR,
	       "enforced, VP index bit only: GUEST_OS_ID %u/%u, HYPERCALL %u/%u #GP, VP_INDEX read %u (%lu)",
	       p[0].rvec, p[0].wvec, p[1].rvec, p[1].wvec, p[2].rvec, p[2].rval);
	vm_free(vm);

	/* Both bits: everything the guest may do works. */
	vm = hv_vm_feat(HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE, true, &vcpu);
	probe_defaults(p, 0);
	run_probe(vcpu, p);
	tap_ok(!p[0].rvec && !p[0].wvec && !p[1].rvec && !p[1].wvec &&
	       !p[2].rvec && p[2].wvec == GP_VECTOR &&
	       vcpu_rdmsr(vcpu, HV_X64_MSR_GUEST_OS_ID) == OS_ID,
	       "enforced, both bits: GUEST_OS_ID and HYPERCALL read/write, VP_INDEX read (%u %u %u %u %u)",
	       p[0].rvec, p[0].wvec, p[1].rvec, p[1].wvec, p[2].rvec);
	vm_free(vm);

	/* Enforcement turned on and off again: no gate. */
	vm = hv_vm_feat(0, true, &vcpu);
	r = vcpu_enable_cap(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID, 0);
	probe_defaults(p, 0);
	run_probe(vcpu, p);
	tap_ok(!r && !p[0].rvec && !p[0].wvec && !p[1].rvec && !p[1].wvec && !p[2].rvec,
	       "enforcement switched off again (%d): 0x40000003.EAX 0 no longer gates (%u %u %u %u %u)",
	       r, p[0].rvec, p[0].wvec, p[1].rvec, p[1].wvec, p[2].rvec);
	vm_free(vm);

	/* Never enforced: 0x40000003.EAX 0 does not restrict anything. */
	vm = hv_vm_feat(0, false, &vcpu);
	probe_defaults(p, 0);
	run_probe(vcpu, p);
	tap_ok(!p[0].rvec && !p[0].wvec && !p[1].rvec && !p[1].wvec && !p[2].rvec &&
	       p[2].wvec == GP_VECTOR,
	       "not enforced, 0x40000003.EAX 0: all reads and writes but VP_INDEX's work (%u %u %u %u %u %u)",
	       p[0].rvec, p[0].wvec, p[1].rvec, p[1].wvec, p[2].rvec, p[2].wvec);
	vm_free(vm);
}

/* ---- (c) VP_INDEX ---- */

#define NR_VP		4

/*
 * What each vCPU saw at its last stop: its read's vector and value, and its
 * write's vector.
 */
struct vp_view {
	uint64_t rd_vec, vp_index, wr_vec;
};

static struct vp_view vp_view[NR_VP];

static void vp_guest(uint64_t id)
{
	struct vp_view *me = &vp_view[id];

	me->rd_vec = rdmsr_safe(HV_X64_MSR_VP_INDEX, &me->vp_index);
	me->wr_vec = wrmsr_safe(HV_X64_MSR_VP_INDEX, id + 100);
	GUEST_SYNC(0);
	me->rd_vec = rdmsr_safe(HV_X64_MSR_VP_INDEX, &me->vp_index);
	GUEST_SYNC(0);
	GUEST_DONE();
}

static void test_vp_index(void)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct kvm_vcpu *vcpus[NR_VP];
	uint64_t seen[NR_VP], val, max;
	struct kvm_vm *vm;
	struct ucall uc;
	bool ok = true, gp = true;
	int i, j, r;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	hv_leaves(leaf);
	max = leaf[5].eax;	/* 0x40000005.EAX: maximum virtual processors */

	vm = vm_create_with_vcpus(NR_VP, vp_guest, vcpus);
	for (i = 0; i < NR_VP; i++)
		vcpu_set_hv_cpuid(vcpus[i]);
	for (i = 0; i < NR_VP; i++) {
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], &uc), UCALL_SYNC);
		sync_global_from_guest(vm, vp_view);
		seen[i] = vp_view[i].vp_index;
		ok = ok && vp_view[i].rd_vec == 0 && seen[i] == (uint64_t)i;
		gp = gp && vp_view[i].wr_vec == GP_VECTOR;
		for (j = 0; j < i; j++)
			ok = ok && seen[j] != seen[i];
	}
	tap_ok(ok, "%d vCPUs read their VP index: %lu %lu %lu %lu", NR_VP,
	       seen[0], seen[1], seen[2], seen[3]);
	tap_ok(gp, "guest wrmsr VP_INDEX -> #GP on every vCPU");

	/* Refused host writes leave the index alone. */
	r = vcpu_set_msr(vcpus[2], HV_X64_MSR_VP_INDEX, max);
	tap_ok(r == 0 && vcpu_rdmsr(vcpus[2], HV_X64_MSR_VP_INDEX) == 2,
	       "host VP_INDEX = %lu (0x40000005.EAX, KVM_MAX_VCPUS) is refused (%d)", max, r);
	r = vcpu_set_msr(vcpus[2], HV_X64_MSR_VP_INDEX, 0xffffffffull);
	tap_ok(r == 0 && vcpu_rdmsr(vcpus[2], HV_X64_MSR_VP_INDEX) == 2,
	       "host VP_INDEX = 0xffffffff is refused (%d)", r);
	r = vcpu_set_msr(vcpus[2], HV_X64_MSR_VP_INDEX, (1ull << 32) | 3);
	val = vcpu_rdmsr(vcpus[2], HV_X64_MSR_VP_INDEX);
	if (hv_env == HV_STOCK) {
		tap_skip(INTENTIONAL("in-tree truncates VP_INDEX to u32 (set %d, now %lu)"),
			 r, val);
		if (val != 2)
			vcpu_wrmsr(vcpus[2], HV_X64_MSR_VP_INDEX, 2);
	} else {
		tap_ok(r == 0 && val == 2,
		       "host VP_INDEX = 0x100000003 (upper bits set) is refused (%d, now %lu)",
		       r, val);
	}

	/* Host sets 7: it reads back exactly and the guest sees it. */
	r = vcpu_set_msr(vcpus[2], HV_X64_MSR_VP_INDEX, 7);
	tap_ok(r == 1 && vcpu_rdmsr(vcpus[2], HV_X64_MSR_VP_INDEX) == 7 &&
	       vcpu_rdmsr(vcpus[1], HV_X64_MSR_VP_INDEX) == 1,
	       "host VP_INDEX = 7 on vCPU 2 (%d) reads back 7; vCPU 1 still 1", r);
	ok = true;
	for (i = 0; i < NR_VP; i++) {
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], &uc), UCALL_SYNC);
		sync_global_from_guest(vm, vp_view);
		seen[i] = vp_view[i].vp_index;
		ok = ok && vp_view[i].rd_vec == 0 &&
		     seen[i] == (i == 2 ? 7u : (uint64_t)i);
	}
	tap_ok(ok, "guests now read %lu %lu %lu %lu", seen[0], seen[1], seen[2], seen[3]);
	vm_free(vm);
}

/* ---- (d) HYPERCALL reserved bits ---- */

/*
 * The guest's three writes with reserved bits (bit 2, bit 11, bits 11:2):
 * each one's vector and the MSR after it; then a clean enable's.
 */
struct rsvd_view {
	uint64_t vec[3], msr[3];
	uint64_t clean_vec, clean_msr;
};

static struct rsvd_view rsvd;

static void rsvd_guest(uint64_t gpa)
{
	const uint64_t bad[3] = {
		gpa | HV_X64_MSR_HYPERCALL_ENABLE | (1 << 2),
		gpa | HV_X64_MSR_HYPERCALL_ENABLE | (1 << 11),
		gpa | HVL_HYPERCALL_RSVD,
	};
	int i;

	wrmsr(HV_X64_MSR_GUEST_OS_ID, OS_ID);
	for (i = 0; i < 3; i++) {
		rsvd.vec[i] = wrmsr_safe(HV_X64_MSR_HYPERCALL, bad[i]);
		rsvd.msr[i] = rdmsr(HV_X64_MSR_HYPERCALL);
	}
	rsvd.clean_vec = wrmsr_safe(HV_X64_MSR_HYPERCALL,
				    gpa | HV_X64_MSR_HYPERCALL_ENABLE);
	rsvd.clean_msr = rdmsr(HV_X64_MSR_HYPERCALL);
	GUEST_DONE();
}

static void test_hypercall_rsvd(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t gpa, vecs, val;
	int r;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = vm_create_with_vcpus(1, rsvd_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	sync_global_from_guest(vm, rsvd);
	/* The vectors as one value, as the messages have always shown them. */
	vecs = rsvd.vec[0] | rsvd.vec[1] << 8 | rsvd.vec[2] << 16 |
	       rsvd.clean_vec << 24;
	if (hv_env == HV_STOCK)
		tap_skip(INTENTIONAL("in-tree stores HYPERCALL bits 11:2 (vectors %#lx, MSR then %#lx %#lx %#lx)"),
			 vecs, rsvd.msr[0], rsvd.msr[1], rsvd.msr[2]);
	else
		tap_ok(vecs == (GP_VECTOR | GP_VECTOR << 8 | GP_VECTOR << 16) &&
		       !rsvd.msr[0] && !rsvd.msr[1] && !rsvd.msr[2] &&
		       rsvd.clean_msr == (gpa | HV_X64_MSR_HYPERCALL_ENABLE),
		       "guest HYPERCALL with bit 2, bit 11, bits 11:2 -> #GP, MSR unchanged (vectors %#lx, %#lx); then a clean enable works (%#lx)",
		       vecs, rsvd.msr[0], rsvd.clean_msr);

	r = vcpu_set_msr(vcpu, HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE | (1 << 5));
	val = vcpu_rdmsr(vcpu, HV_X64_MSR_HYPERCALL);
	if (hv_env == HV_STOCK)
		tap_skip(INTENTIONAL("in-tree host write with bit 5 set: %d, MSR %#lx"), r, val);
	else
		tap_ok(r == 0 && val == (gpa | HV_X64_MSR_HYPERCALL_ENABLE),
		       "host HYPERCALL with bit 5 set is refused (%d), MSR unchanged (%#lx)",
		       r, val);
	vm_free(vm);
}

/* ---- (e) host round trips, migration; (f) a page outside memory ---- */

static const uint8_t *hc_insn(void)
{
	static const uint8_t vmmcall[] = { 0x0f, 0x01, 0xd9, 0xc3 };
	static const uint8_t vmcall[] = { 0x0f, 0x01, 0xc1, 0xc3 };
	uint32_t a, b, c, d;

	cpuid_count(0, 0, &a, &b, &c, &d);
	/* AuthenticAMD and HygonGenuine use VMMCALL. */
	return (b == 0x68747541 || b == 0x6f677948) ? vmmcall : vmcall;
}

static uint64_t migrated_rax;

static void migrated_guest(uint64_t page)
{
	uint64_t rax = 0xdead, rcx = HVCALL_NOTIFY_LONG_SPIN_WAIT, rdx = 0;
	register uint64_t r8 asm("r8") = 0;

	GUEST_SYNC(rdmsr(HV_X64_MSR_GUEST_OS_ID), rdmsr(HV_X64_MSR_HYPERCALL),
		   rdmsr(HV_X64_MSR_VP_INDEX));
	asm volatile("call *%[page]"
		     : "+a"(rax), "+c"(rcx), "+d"(rdx), "+r"(r8)
		     : [page] "r"(page)
		     : "memory", "rsi", "rdi", "r9", "r10", "r11");
	migrated_rax = rax;
	GUEST_DONE();
}

static void test_roundtrip(void)
{
	struct kvm_vcpu *vcpu, *dst;
	struct kvm_vm *vm, *vm2;
	uint64_t gpa, gpa2, hc, val, st[3], st2[3];
	uint8_t *page;
	struct ucall uc;
	int r, i;
	bool ok;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = vm_create_with_vcpus(1, probe_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	page = addr_gpa2hva(vm, gpa, HVL_PAGE_SIZE);
	memset(page, 0xcc, HVL_PAGE_SIZE);

	/* A fresh VM reads its reset values. */
	ok = vcpu_get_msr(vcpu, HV_X64_MSR_GUEST_OS_ID, &st[0]) == 1 && !st[0] &&
	     vcpu_get_msr(vcpu, HV_X64_MSR_HYPERCALL, &st[1]) == 1 && !st[1] &&
	     vcpu_get_msr(vcpu, HV_X64_MSR_VP_INDEX, &st[2]) == 1 && !st[2];
	tap_ok(ok, "fresh VM: GUEST_OS_ID %#lx, HYPERCALL %#lx, VP_INDEX %lu",
	       st[0], st[1], st[2]);

	/* Negative first: enabling the page before GUEST_OS_ID is dropped. */
	r = vcpu_set_msr(vcpu, HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE);
	val = vcpu_rdmsr(vcpu, HV_X64_MSR_HYPERCALL);
	tap_ok(r == 1 && val == 0 && page[0] == 0xcc,
	       "host HYPERCALL enable before GUEST_OS_ID: accepted (%d), dropped (%#lx), page untouched (%#x)",
	       r, val, page[0]);

	/* (f) A page outside guest memory: refused, nothing changes. */
	vcpu_wrmsr(vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	r = vcpu_set_msr(vcpu, HV_X64_MSR_HYPERCALL, vm->mem_size | HV_X64_MSR_HYPERCALL_ENABLE);
	val = vcpu_rdmsr(vcpu, HV_X64_MSR_HYPERCALL);
	tap_ok(r == 0 && val == 0,
	       "host HYPERCALL enable at GPA %#lx (outside memory) fails (%d), MSR %#lx",
	       vm->mem_size, r, val);

	/* Round trips: each value reads back exactly. */
	ok = true;
	for (i = 0; i < 3; i++) {
		const uint64_t v[] = { OS_ID2, 0xfedcba9876543210ull, OS_ID };

		vcpu_wrmsr(vcpu, HV_X64_MSR_GUEST_OS_ID, v[i]);
		ok = ok && vcpu_rdmsr(vcpu, HV_X64_MSR_GUEST_OS_ID) == v[i];
	}
	tap_ok(ok, "host GUEST_OS_ID round trip of arbitrary values");

	hc = gpa | HV_X64_MSR_HYPERCALL_ENABLE;
	r = vcpu_set_msr(vcpu, HV_X64_MSR_HYPERCALL, hc);
	val = vcpu_rdmsr(vcpu, HV_X64_MSR_HYPERCALL);
	tap_ok(r == 1 && val == hc && !memcmp(page, hc_insn(), HVL_HCPAGE_LEN) &&
	       page[HVL_HCPAGE_LEN] == 0xcc,
	       "host HYPERCALL %#lx round trip (%d, %#lx), page written: %02x %02x %02x %02x %02x",
	       hc, r, val, page[0], page[1], page[2], page[3], page[4]);

	r = vcpu_set_msr(vcpu, HV_X64_MSR_VP_INDEX, 5);
	val = vcpu_rdmsr(vcpu, HV_X64_MSR_VP_INDEX);
	tap_ok(r == 1 && val == 5, "host VP_INDEX 5 round trip (%d, %lu)", r, val);

	/* Guest side of (f): #GP and the MSR keeps its value. */
	{
		struct probe p[3];

		probe_defaults(p, 0);
		p[0].wval = OS_ID;
		p[1].wval = (vm->mem_size + HVL_PAGE_SIZE) | HV_X64_MSR_HYPERCALL_ENABLE;
		p[2].wval = 5;
		run_probe(vcpu, p);
		val = vcpu_rdmsr(vcpu, HV_X64_MSR_HYPERCALL);
		tap_ok(p[1].rvec == 0 && p[1].rval == hc && p[1].wvec == GP_VECTOR &&
		       val == hc && p[2].rval == 5,
		       "guest HYPERCALL enable outside memory -> #GP (%u), MSR stays %#lx; guest read VP_INDEX %lu",
		       p[1].wvec, val, p[2].rval);
	}

	/* Migration: save, restore into a fresh VM in QEMU's order. */
	for (i = 0; i < 3; i++)
		st[i] = vcpu_rdmsr(vcpu, msrs[i]);
	vm2 = vm_create_with_vcpus(1, migrated_guest, &dst);
	vcpu_set_hv_cpuid(dst);
	gpa2 = vm_alloc(vm2, HVL_PAGE_SIZE);
	TEST_ASSERT_EQ(gpa2, gpa);	/* same layout, same binary */
	page = addr_gpa2hva(vm2, gpa2, HVL_PAGE_SIZE);
	memset(page, 0xcc, HVL_PAGE_SIZE);
	ok = true;
	for (i = 0; i < 3; i++)
		ok = ok && vcpu_set_msr(dst, msrs[i], st[i]) == 1;
	for (i = 0; i < 3; i++)
		ok = ok && vcpu_rdmsr(dst, msrs[i]) == st[i];
	tap_ok(ok, "migration: GUEST_OS_ID %#lx, HYPERCALL %#lx, VP_INDEX %lu restored and read back",
	       st[0], st[1], st[2]);
	tap_ok(!memcmp(page, hc_insn(), HVL_HCPAGE_LEN),
	       "migration: restoring HYPERCALL rewrites the page in the new VM (%02x %02x %02x %02x)",
	       page[0], page[1], page[2], page[3]);
	vcpu_args_set(dst, 1, gpa2);
	TEST_ASSERT_EQ(vcpu_run(dst, &uc), UCALL_SYNC);
	memcpy(st2, uc.args, sizeof(st2));
	TEST_ASSERT_EQ(vcpu_run(dst, &uc), UCALL_DONE);
	sync_global_from_guest(vm2, migrated_rax);
	tap_ok(!memcmp(st, st2, sizeof(st)) && migrated_rax == HV_STATUS_SUCCESS,
	       "migrated guest reads %#lx %#lx %lu and calls through the page (status %#lx)",
	       st2[0], st2[1], st2[2], migrated_rax);
	vm_free(vm2);
	vm_free(vm);
}

/* ---- (e) every listed Hyper-V MSR survives a host save/restore ---- */

/*
 * What a VMM does for migration: read each synthetic MSR that
 * KVM_GET_MSR_INDEX_LIST names and write the value back.  Both must work
 * (QEMU asserts on a partial KVM_GET/SET_MSRS).
 */
static void save_restore_all(unsigned int vm_flags)
{
	struct kvm_msr_list hdr = { .nmsrs = 0 }, *l;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char bad[512] = "";
	uint32_t i, n = 0;
	uint64_t gpa, val;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, &hdr);
	l = calloc(1, sizeof(*l) + hdr.nmsrs * sizeof(l->indices[0]));
	TEST_ASSERT(l, "calloc");
	l->nmsrs = hdr.nmsrs;
	TEST_ASSERT(!ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, l), "KVM_GET_MSR_INDEX_LIST");

	vm = vm_create(0, vm_flags);
	vcpu = vm_vcpu_add(vm, probe_guest);
	vcpu_set_hv_cpuid(vcpu);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	vcpu_wrmsr(vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	vcpu_wrmsr(vcpu, HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE);
	for (i = 0; i < l->nmsrs; i++) {
		uint32_t msr = l->indices[i];
		int rg, rs = -2;

		if (msr >> 8 != HV_X64_MSR_GUEST_OS_ID >> 8)
			continue;
		n++;
		rg = vcpu_get_msr(vcpu, msr, &val);
		if (rg == 1)
			rs = vcpu_set_msr(vcpu, msr, val);
		if (rg != 1 || rs != 1)
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
				 " %#x(get %d set %d)", msr, rg, rs);
	}
	tap_ok(n >= 3 && !bad[0],
	       "%s: host reads and writes back each of the %u listed Hyper-V MSRs%s%s",
	       vm_flags & VM_IRQCHIP ? "in-kernel irqchip" : "no irqchip",
	       n, bad[0] ? ": failed" : "", bad);
	vm_free(vm);
	free(l);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();

	TEST_RUN("a guest without Hyper-V CPUID", test_non_hv_guest());
	TEST_RUN("KVM_CAP_HYPERV_ENFORCE_CPUID", test_enforce());
	TEST_RUN("VP_INDEX", test_vp_index());
	TEST_RUN("HYPERCALL reserved bits", test_hypercall_rsvd());
	TEST_RUN("host round trips and migration", test_roundtrip());
	TEST_RUN("save/restore of the listed MSRs, no irqchip",
		 save_restore_all(0));
	TEST_RUN("save/restore of the listed MSRs, in-kernel irqchip",
		 save_restore_all(VM_IRQCHIP));

	return tap_done();
}
