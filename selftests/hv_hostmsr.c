// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM's side of the Hyper-V MSRs, against in-tree KVM:
 *   (1) KVM_GET_MSR_INDEX_LIST with nmsrs one short of the full list, down
 *       to 0: E2BIG and the needed count, with nothing written to the
 *       indices (the buffer ends at an inaccessible page);
 *   (2) without an in-kernel LAPIC, the host's write of 0 to EOI, ICR and
 *       TPR is refused, that to VP_ASSIST_PAGE accepted;
 *   (3) in xAPIC mode, ICR written through the MSR reads back whole,
 *       destination bits 63:32 included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

#define OS_ID	0x8100000000001234ull

/* ---- (1) KVM_GET_MSR_INDEX_LIST too short ---- */

static void test_index_list(void)
{
	struct kvm_msr_list hdr = { .nmsrs = 0 }, *l;
	long page = getpagesize();
	uint32_t total, n, bad = 0, bad_n = 0, bad_count = 0;
	int r, err = 0;
	char *buf;

	r = ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, &hdr);
	tap_ok(r == -1 && errno == E2BIG && hdr.nmsrs > 0,
	       "nmsrs 0: E2BIG (%d, errno %d) and the count %u", r,
	       r ? errno : 0, hdr.nmsrs);
	total = hdr.nmsrs;
	/* Down through everything the module may append (six MSRs). */
	for (n = total - 1; n > 0 && n + 8 > total; n--) {
		/* Room for the header and n - 1 indices, then a page that faults. */
		size_t len = sizeof(*l) + (n - 1) * 4;
		size_t span = (len + page - 1) / page * page;

		buf = mmap(NULL, span + page, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		TEST_ASSERT(buf != MAP_FAILED, "mmap");
		TEST_ASSERT(!mprotect(buf + span, page, PROT_NONE), "mprotect");
		l = (void *)(buf + span - len);
		l->nmsrs = n;
		r = ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, l);
		if (r != -1 || errno != E2BIG || l->nmsrs != total) {
			bad++;
			bad_n = n;
			err = r ? errno : 0;
			bad_count = l->nmsrs;
		}
		munmap(buf, span + page);
	}
	tap_ok(!bad,
	       "nmsrs %u down to %u of %u, room for nmsrs - 1 entries: E2BIG and the count (%u wrong, last at nmsrs %u: errno %d, count %u)",
	       total - 1, n + 1, total, bad, bad_n, err, bad_count);
}

/* ---- (2) host writes of 0 without an in-kernel LAPIC ---- */

static void idle_guest(void)
{
	GUEST_DONE();
}

static void test_no_lapic_zero(void)
{
	static const uint32_t msrs[] = { HV_X64_MSR_EOI, HV_X64_MSR_ICR, HV_X64_MSR_TPR };
	static const char *const names[] = { "EOI", "ICR", "TPR" };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int r[3], ra, i;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = vm_create_with_vcpus(1, idle_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	for (i = 0; i < 3; i++)
		r[i] = vcpu_set_msr(vcpu, msrs[i], 0);
	ra = vcpu_set_msr(vcpu, HV_X64_MSR_VP_ASSIST_PAGE, 0);
	tap_ok(!r[0] && !r[1] && !r[2],
	       "no in-kernel LAPIC: host KVM_SET_MSRS of 0 to %s/%s/%s refused (%d %d %d)",
	       names[0], names[1], names[2], r[0], r[1], r[2]);
	tap_ok(ra == 1, "no in-kernel LAPIC: host KVM_SET_MSRS of 0 to VP_ASSIST_PAGE accepted (%d)",
	       ra);
	vm_free(vm);
}

/* ---- (3) xAPIC ICR read-back ---- */

/* Fixed vector 0x40, physical destination APIC ID 0x7f (nobody). */
#define ICR_VAL		(0x7f345678ull << 32 | 0x40)

static uint64_t icr_guest_val;

static void icr_guest(void)
{
	uint64_t v = 0;

	GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_ICR, ICR_VAL), 0);
	GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_ICR, &v), 0);
	icr_guest_val = v;
	GUEST_DONE();
}

static void test_xapic_icr(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t host;

	if (hv_env == HV_PLAIN)
		test_skip(NO_MODULE);
	vm = vm_create(0, VM_IRQCHIP);
	vcpu = vm_vcpu_add(vm, icr_guest);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_wrmsr(vcpu, HV_X64_MSR_GUEST_OS_ID, OS_ID);
	TEST_ASSERT(!(vcpu_rdmsr(vcpu, 0x1b) & (1 << 10)), "xAPIC mode expected");
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	sync_global_from_guest(vm, icr_guest_val);
	tap_ok(icr_guest_val == ICR_VAL,
	       "xAPIC mode: the guest's ICR MSR reads back %#lx as written (%#llx)",
	       icr_guest_val, ICR_VAL);
	host = 0;
	vcpu_get_msr(vcpu, HV_X64_MSR_ICR, &host);
	tap_ok(host == ICR_VAL,
	       "xAPIC mode: the host's KVM_GET_MSRS of ICR reads %#lx (%#llx)",
	       host, ICR_VAL);
	vm_free(vm);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	hold_kvm_open();
	TEST_RUN("KVM_GET_MSR_INDEX_LIST too short", test_index_list());
	TEST_RUN("zero to EOI, ICR and TPR without an in-kernel LAPIC",
		 test_no_lapic_zero());
	TEST_RUN("xAPIC ICR read-back", test_xapic_icr());
	return tap_done();
}
