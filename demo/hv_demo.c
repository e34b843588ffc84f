// SPDX-License-Identifier: GPL-2.0
/*
 * make run's guest: four vCPUs go through the handshake a Windows guest
 * makes with Hyper-V (CPUID, guest OS ID, hypercall page, VP index, long
 * spin-wait notifications through the page) and the host prints what the
 * guest saw and what the module counted.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

#define NR_VCPUS	4
#define HCPAGE_GPA	0x200000ull
#define TSCPAGE_GPA	0x201000ull
#define SPIN_CALLS	100
/* Windows 10 as a guest OS ID: vendor Microsoft, OS NT, version 10.0. */
#define WIN10_OS_ID	0x00010a0000003839ull

struct seen {
	uint32_t leaf[HVL_CPUID_NR_LEAVES][4];
	uint64_t vp_index[NR_VCPUS];
	uint64_t hypercall_msr;
	uint64_t spin_status;
	uint32_t spin_ok;
	uint32_t tsc_seq;
	uint64_t page_time, msr_time;
};

/* What the guest sees at TSCPAGE_GPA. */
struct tsc_page {
	volatile uint32_t sequence;
	uint32_t reserved;
	volatile uint64_t scale;
	volatile int64_t offset;
};

/* Read the reference TSC page as the TLFS says; 0 when it is invalid. */
static uint64_t read_tsc_page(uint32_t *seq_out)
{
	struct tsc_page *p = (struct tsc_page *)TSCPAGE_GPA;
	uint32_t seq;
	uint64_t t;

	do {
		seq = p->sequence;
		if (!seq)
			return 0;
		t = hvl_tsc_to_ref(rdtsc(), p->scale, p->offset);
	} while (p->sequence != seq);
	*seq_out = seq;
	return t;
}

static struct seen seen;

static void cpuid(uint32_t fn, uint32_t *r)
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
		     : "a"(fn), "c"(0));
}

/* A call through the hypercall page, as Windows and Linux make it. */
static uint64_t page_hypercall(uint64_t control)
{
	uint64_t status;
	register uint64_t r8 asm("r8") = 0;

	asm volatile("call *%[page]"
		     : "=a"(status)
		     : [page] "r"(HCPAGE_GPA), "c"(control), "d"(0), "r"(r8)
		     : "memory", "cc");
	return status;
}

static void guest_main(uint64_t id)
{
	uint64_t v;
	int i;

	if (id == 0) {
		for (i = 0; i < HVL_CPUID_NR_LEAVES; i++)
			cpuid(HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS + i, seen.leaf[i]);
		GUEST_ASSERT_EQ(seen.leaf[1][0], HYPERV_CPUID_SIGNATURE_EAX);
		GUEST_ASSERT(seen.leaf[3][0] & HV_MSR_HYPERCALL_AVAILABLE);
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, WIN10_OS_ID), 0);
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_HYPERCALL,
					   HCPAGE_GPA | HV_X64_MSR_HYPERCALL_ENABLE), 0);
		GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_HYPERCALL, &v), 0);
		seen.hypercall_msr = v;
		if (seen.leaf[3][0] & HV_MSR_REFERENCE_TSC_AVAILABLE)
			GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_REFERENCE_TSC,
						   TSCPAGE_GPA | HV_X64_MSR_TSC_REFERENCE_ENABLE), 0);
	}
	/* Every vCPU waits for the page, then reads its own VP index. */
	GUEST_SYNC(0);
	GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_VP_INDEX, &v), 0);
	seen.vp_index[id] = v;
	for (i = 0; i < SPIN_CALLS; i++) {
		v = page_hypercall(HVCALL_NOTIFY_LONG_SPIN_WAIT);
		if (v == HV_STATUS_SUCCESS)
			__atomic_fetch_add(&seen.spin_ok, 1, __ATOMIC_RELAXED);
		else
			seen.spin_status = v;
	}
	if (id == 0 && (seen.leaf[3][0] & HV_MSR_REFERENCE_TSC_AVAILABLE)) {
		seen.page_time = read_tsc_page(&seen.tsc_seq);
		GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_TIME_REF_COUNT, &v), 0);
		seen.msr_time = v;
	}
	GUEST_DONE();
}

static struct kvm_vcpu *vcpus[NR_VCPUS];

static void *run_vcpu(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	return NULL;
}

/* The module's per-VM debugfs file, found in KVM's directory for this VM. */
static void print_module_counters(void)
{
	char path[512], line[256];
	struct dirent *d;
	DIR *dir;
	FILE *f;

	dir = opendir("/sys/kernel/debug/kvm");
	if (!dir) {
		printf("  (debugfs not mounted)\n");
		return;
	}
	while ((d = readdir(dir))) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%s/hvenlight",
			 d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		printf("  %s:\n", path);
		while (fgets(line, sizeof(line), f))
			printf("    %s", line);
		fclose(f);
	}
	closedir(dir);
}

static void leaf_str(const uint32_t *r, char *s)
{
	memcpy(s, &r[1], 4);
	memcpy(s + 4, &r[2], 4);
	memcpy(s + 8, &r[3], 4);
	s[12] = 0;
}

int main(void)
{
	pthread_t threads[NR_VCPUS];
	struct kvm_vm *vm;
	char vendor[13];
	unsigned int i;

	kvm_require();
	kvm_require_cap(KVM_CAP_HYPERV_CPUID);
	vm = vm_create_with_vcpus(NR_VCPUS, guest_main, vcpus);
	for (i = 0; i < NR_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 1, (uint64_t)i);
		/* What QEMU's hv_spinlocks=0x1fff puts there. */
		vcpu_set_hv_cpuid_retries(vcpus[i], 0x1fff);
	}
	/* vCPU 0 sets up the partition before the others go on. */
	TEST_ASSERT_EQ(vcpu_run(vcpus[0], NULL), UCALL_SYNC);
	for (i = 1; i < NR_VCPUS; i++)
		TEST_ASSERT_EQ(vcpu_run(vcpus[i], NULL), UCALL_SYNC);
	for (i = 0; i < NR_VCPUS; i++)
		pthread_create(&threads[i], NULL, run_vcpu, vcpus[i]);
	for (i = 0; i < NR_VCPUS; i++)
		pthread_join(threads[i], NULL);
	sync_global_from_guest(vm, seen);

	leaf_str(seen.leaf[0], vendor);
	printf("What the guest sees (CPUID):\n");
	printf("  0x40000000 vendor \"%s\", max leaf 0x%x\n", vendor,
	       seen.leaf[0][0]);
	printf("  0x40000001 interface 0x%08x (%s)\n", seen.leaf[1][0],
	       seen.leaf[1][0] == HYPERV_CPUID_SIGNATURE_EAX ? "Hv#1" : "not Hyper-V");
	printf("  0x40000002 version %u.%u build %u\n", seen.leaf[2][1] >> 16,
	       seen.leaf[2][1] & 0xffff, seen.leaf[2][0]);
	printf("  0x40000003 features 0x%x:%s%s%s%s%s\n", seen.leaf[3][0],
	       seen.leaf[3][0] & HV_MSR_HYPERCALL_AVAILABLE ? " hypercall" : "",
	       seen.leaf[3][0] & HV_MSR_VP_INDEX_AVAILABLE ? " vp-index" : "",
	       seen.leaf[3][0] & HV_MSR_TIME_REF_COUNT_AVAILABLE ? " time-ref-count" : "",
	       seen.leaf[3][0] & HV_MSR_REFERENCE_TSC_AVAILABLE ? " reference-tsc" : "",
	       seen.leaf[3][0] & HV_MSR_APIC_ACCESS_AVAILABLE ? " apic-access" : "");
	printf("  0x40000004 recommendations 0x%x%s, spinlock retries 0x%x\n",
	       seen.leaf[4][0],
	       seen.leaf[4][0] & HV_X64_RELAXED_TIMING_RECOMMENDED ? " (relaxed timing)" : "",
	       seen.leaf[4][1]);
	printf("  0x40000005 max virtual processors %u\n", seen.leaf[5][0]);
	printf("Handshake:\n");
	printf("  HYPERCALL MSR 0x%llx (page at 0x%llx, %s)\n",
	       (unsigned long long)seen.hypercall_msr,
	       (unsigned long long)(seen.hypercall_msr & HV_HYP_PAGE_MASK),
	       seen.hypercall_msr & HV_X64_MSR_HYPERCALL_ENABLE ? "enabled" : "disabled");
	for (i = 0; i < NR_VCPUS; i++)
		printf("  vCPU %u: VP_INDEX %llu\n", i,
		       (unsigned long long)seen.vp_index[i]);
	printf("  HvNotifyLongSpinWait through the page: %u of %u succeeded\n",
	       seen.spin_ok, NR_VCPUS * SPIN_CALLS);
	/* Reference time is in 100 ns units. */
	if (seen.tsc_seq)
		printf("  reference TSC page: sequence %u, time %llu.%07llu s; TIME_REF_COUNT %llu.%07llu s, read %lld us later\n",
		       seen.tsc_seq,
		       (unsigned long long)seen.page_time / 10000000,
		       (unsigned long long)seen.page_time % 10000000,
		       (unsigned long long)seen.msr_time / 10000000,
		       (unsigned long long)seen.msr_time % 10000000,
		       (long long)(seen.msr_time - seen.page_time) / 10);
	else
		printf("  reference TSC page: invalid (sequence 0), so the guest reads TIME_REF_COUNT: %llu.%07llu s\n",
		       (unsigned long long)seen.msr_time / 10000000,
		       (unsigned long long)seen.msr_time % 10000000);
	printf("What hvenlight counted for this VM:\n");
	print_module_counters();
	vm_free(vm);
	return seen.spin_ok == NR_VCPUS * SPIN_CALLS ? 0 : 1;
}
