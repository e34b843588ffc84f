// SPDX-License-Identifier: GPL-2.0
/*
 * Reference time across a VMM's clock step (KVM_SET_CLOCK, the migration
 * path) and across a KVM_RUN that ends for a signal:
 *   (1) a masterclock update on a vCPU whose KVM_RUN then ends with -EINTR
 *       (a signal pending): the page is rewritten only with the vCPU loaded,
 *       so the write shows in the vCPU's dirty ring, and the page is right
 *       once the vCPU runs again;
 *   (2) KVM_SET_CLOCK from the VMM's thread with two vCPUs, of which vCPU 0
 *       stays out of the guest: the host's KVM_GET_MSRS of TIME_REF_COUNT
 *       on either vCPU, and vCPU 1's page and MSR, take the step at once,
 *       forward and back (a backward step is not held up by the
 *       never-backwards rule), in both orders of reading.
 * Every check brackets the value with KVM_GET_CLOCK before and after.
 * In-tree KVM (stock) must pass all of it too.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"
#include "reftime.h"

#define OS_ID		0x8100000000001234ull
#define STEP_NS		5000000000ll		/* 5 s */
/* 1 ms: a read against KVM_GET_CLOCK brackets around it, in 100 ns. */
#define SLACK		10000
#define NO_MASTERCLOCK	"KVM does not run the VM on its masterclock (no TSC clocksource in the host): the page is never valid"

/* ---- guest ---- */

static void sample_guest(uint64_t id, uint64_t gpa)
{
	const struct hv_tsc_page *p = (const void *)gpa;
	struct ref_sample s;

	if (!id)
		wrmsr(HV_X64_MSR_REFERENCE_TSC, gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE);
	for (;;) {
		ref_take_sample(p, &s);
		GUEST_SYNC(s.seq, s.t1, s.m, s.t2);
	}
}

/* ---- host ---- */

struct bracket {
	uint64_t lo, hi;	/* 100 ns units */
};

static bool in_bracket(struct bracket b, uint64_t v)
{
	return v + SLACK >= b.lo && v <= b.hi + SLACK;
}

/* Run the vCPU to its next sample, bracketed by KVM's clock. */
static struct ref_sample run_sample(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
				    struct bracket *b)
{
	struct ref_sample s;
	struct ucall uc;

	b->lo = vm_clock_ns(vm) / 100;
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	b->hi = vm_clock_ns(vm) / 100;
	s.seq = uc.args[0];
	s.t1 = uc.args[1];
	s.m = uc.args[2];
	s.t2 = uc.args[3];
	return s;
}

/* The host's TIME_REF_COUNT on a vCPU, bracketed by KVM's clock. */
static uint64_t host_ref(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			 struct bracket *b)
{
	uint64_t m;

	b->lo = vm_clock_ns(vm) / 100;
	m = vcpu_rdmsr(vcpu, HV_X64_MSR_TIME_REF_COUNT);
	b->hi = vm_clock_ns(vm) / 100;
	return m;
}

static struct kvm_vm *hv_vm(int nr, struct kvm_vcpu **vcpus, uint64_t *gpa,
			    uint32_t ring)
{
	struct kvm_vm *vm = vm_create(0, 0);
	int i;

	if (ring)
		TEST_ASSERT(!vm_enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, ring),
			    "KVM_CAP_DIRTY_LOG_RING");
	*gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	for (i = 0; i < nr; i++) {
		vcpus[i] = vm_vcpu_add(vm, sample_guest);
		vcpu_set_hv_cpuid(vcpus[i]);
		vcpu_args_set(vcpus[i], 2, i, *gpa);
	}
	vcpu_wrmsr(vcpus[0], HV_X64_MSR_GUEST_OS_ID, OS_ID);
	return vm;
}

/* ---- (1) a masterclock update, then KVM_RUN ends for a signal ---- */

#define RING_BYTES	(64 * 1024)
#define RING_ENTRIES	(RING_BYTES / sizeof(struct kvm_dirty_gfn))

static void log_dirty(struct kvm_vm *vm, bool on)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.memory_size = vm->mem_size,
		.userspace_addr = (uint64_t)vm->mem,
	};

	TEST_ASSERT(!ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region),
		    "KVM_SET_USER_MEMORY_REGION");
}

/* Harvest the vCPU's dirty ring; true if gfn was in it. */
static bool ring_harvest(struct kvm_vm *vm, struct kvm_dirty_gfn *ring,
			 uint32_t *next, uint64_t gfn)
{
	struct kvm_dirty_gfn *e;
	bool seen = false;

	for (;;) {
		e = &ring[*next % RING_ENTRIES];
		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		      KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (e->slot == 0 && e->offset == gfn)
			seen = true;
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		(*next)++;
	}
	ioctl(vm->fd, KVM_RESET_DIRTY_RINGS, 0);
	return seen;
}

static void sigusr1(int sig)
{
	(void)sig;
}

/* KVM_RUN with SIGUSR1 pending and unblocked: returns -errno or 0. */
static int run_with_signal(struct kvm_vcpu *vcpu)
{
	struct {
		struct kvm_signal_mask hdr;
		uint64_t set;
	} mask = { .hdr.len = 8, .set = 0 };
	sigset_t usr1, old;
	int r, e;
	siginfo_t si;
	struct timespec zero = {};

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	TEST_ASSERT(!pthread_sigmask(SIG_BLOCK, &usr1, &old), "sigmask");
	TEST_ASSERT(!syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1), "tgkill");
	/* Blocked here, unblocked while in KVM_RUN. */
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, &mask.hdr),
		    "KVM_SET_SIGNAL_MASK");
	r = ioctl(vcpu->fd, KVM_RUN, 0);
	e = r < 0 ? -errno : 0;
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, NULL),
		    "KVM_SET_SIGNAL_MASK off");
	sigtimedwait(&usr1, &si, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

static void test_signal(void)
{
	struct kvm_dirty_gfn *ring;
	struct kvm_vcpu *vcpu;
	struct bracket b;
	struct ref_sample s;
	struct kvm_vm *vm;
	uint32_t next = 0;
	uint64_t gpa;
	bool seen;
	int r;

	if (kvm_check_cap(KVM_CAP_DIRTY_LOG_RING) < RING_BYTES)
		test_skip("no KVM_CAP_DIRTY_LOG_RING of 64 KiB");
	signal(SIGUSR1, sigusr1);
	vm = hv_vm(1, &vcpu, &gpa, RING_BYTES);
	ring = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		    vcpu->fd, KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
	TEST_ASSERT(ring != MAP_FAILED, "mmap dirty ring");
	log_dirty(vm, true);
	s = run_sample(vm, vcpu, &b);
	if (!vm_clock_stable(vm) || !s.seq) {
		log_dirty(vm, false);
		munmap(ring, RING_BYTES);
		vm_free(vm);
		test_skip(NO_MASTERCLOCK);
	}
	ring_harvest(vm, ring, &next, 0);

	/*
	 * The VMM steps the clock: vCPU 0 does a masterclock update when it
	 * next runs, and the page must change. A signal is pending then.
	 */
	vm_set_clock_rel(vm, STEP_NS);
	r = run_with_signal(vcpu);
	tap_ok(r == -EINTR, "KVM_RUN with a signal pending after KVM_SET_CLOCK ends with -EINTR (%d)", r);
	seen = ring_harvest(vm, ring, &next, gpa >> 12);
	s = run_sample(vm, vcpu, &b);
	seen |= ring_harvest(vm, ring, &next, gpa >> 12);
	tap_ok(seen, "the page's rewrite after the step is in the vCPU's dirty ring (written with the vCPU loaded)");
	tap_ok(s.seq && in_bracket(b, s.t1) && in_bracket(b, s.m),
	       "then the page (sequence %#lx, %lu) and TIME_REF_COUNT (%lu) read KVM's clock [%lu, %lu]",
	       s.seq, s.t1, s.m, b.lo, b.hi);
	log_dirty(vm, false);
	munmap(ring, RING_BYTES);
	vm_free(vm);
}

/* ---- (2) KVM_SET_CLOCK with vCPU 0 out of the guest ---- */

static void step_checks(struct kvm_vm *vm, struct kvm_vcpu **vcpus,
			const char *dir, bool guest_first)
{
	struct bracket b0, b1, b2;
	struct ref_sample s;
	uint64_t h0, h1;

	if (guest_first) {
		s = run_sample(vm, vcpus[1], &b1);
		h1 = host_ref(vm, vcpus[1], &b2);
		h0 = host_ref(vm, vcpus[0], &b0);
	} else {
		h0 = host_ref(vm, vcpus[0], &b0);
		h1 = host_ref(vm, vcpus[1], &b2);
		s = run_sample(vm, vcpus[1], &b1);
	}
	tap_ok(in_bracket(b0, h0) && in_bracket(b2, h1),
	       "%s: host KVM_GET_MSRS TIME_REF_COUNT on vCPU 0 %lu [%lu, %lu] and vCPU 1 %lu [%lu, %lu] read KVM's clock",
	       dir, h0, b0.lo, b0.hi, h1, b2.lo, b2.hi);
	tap_ok(s.seq && in_bracket(b1, s.t1) && in_bracket(b1, s.t2),
	       "%s: vCPU 1's page (sequence %#lx) reads KVM's clock: %lu in [%lu, %lu]",
	       dir, s.seq, s.t1, b1.lo, b1.hi);
	tap_ok(in_bracket(b1, s.m),
	       "%s: vCPU 1's TIME_REF_COUNT reads KVM's clock: %lu in [%lu, %lu]",
	       dir, s.m, b1.lo, b1.hi);
}

static void test_step(void)
{
	struct kvm_vcpu *vcpus[2];
	struct bracket b;
	struct ref_sample s;
	struct kvm_vm *vm;
	uint64_t gpa;

	vm = hv_vm(2, vcpus, &gpa, 0);
	run_sample(vm, vcpus[0], &b);
	s = run_sample(vm, vcpus[1], &b);
	if (!vm_clock_stable(vm) || !s.seq) {
		vm_free(vm);
		test_skip(NO_MASTERCLOCK);
	}
	tap_ok(in_bracket(b, s.t1) && in_bracket(b, s.m),
	       "before any step: vCPU 1's page %lu and MSR %lu read KVM's clock [%lu, %lu]",
	       s.t1, s.m, b.lo, b.hi);

	vm_set_clock_rel(vm, 2 * STEP_NS);
	step_checks(vm, vcpus, "forward +10 s, host reads first", false);
	vm_set_clock_rel(vm, -STEP_NS);
	step_checks(vm, vcpus, "back -5 s, guest reads first", true);
	/* Back to KVM's 0, as a VMM restoring a fresh clock. */
	TEST_ASSERT(!vm_set_clock_abs(vm, 0), "KVM_SET_CLOCK(0)");
	step_checks(vm, vcpus, "KVM_SET_CLOCK(0), host reads first", false);
	vm_free(vm);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hvl_set_timeout(600);
	hold_kvm_open();
	if (hv_env == HV_PLAIN)
		tap_skip_all(NO_MODULE);
	TEST_RUN("a masterclock update, then KVM_RUN ends for a signal", test_signal());
	TEST_RUN("KVM_SET_CLOCK with vCPU 0 out of the guest", test_step());
	return tap_done();
}
