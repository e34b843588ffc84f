// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's guest: per operation, guest cycles (TSC) and VM exits (KVM's
 * own per-VM "exits" statistic in debugfs). One vCPU; each operation runs
 * in REPS batches of BATCH; prints one JSON object per operation with the
 * median, minimum and maximum over the batches. A benchmark, not a test:
 * it asserts nothing about speed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hvl_abi.h"

#define BATCH		1000
#define REPS		9
#define TSCPAGE_GPA	0x201000ull
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01

enum op { OP_TSC_PAGE, OP_TIME_REF_COUNT, OP_SPIN_WAIT, OP_KVM_MSR,
	  OP_CPUID, OP_NR };

static const char *const op_names[OP_NR] = {
	[OP_TSC_PAGE] = "tsc_page_read",
	[OP_TIME_REF_COUNT] = "time_ref_count_msr_read",
	[OP_SPIN_WAIT] = "hv_notify_long_spin_wait",
	[OP_KVM_MSR] = "kvm_pv_msr_read_unowned",
	[OP_CPUID] = "cpuid_exit",
};

static uint64_t hyperv;	/* set by the host: Hyper-V ops available */

struct tsc_page {
	volatile uint32_t sequence;
	uint32_t reserved;
	volatile uint64_t scale;
	volatile int64_t offset;
};

static inline void do_op(enum op op)
{
	struct tsc_page *p = (struct tsc_page *)TSCPAGE_GPA;
	uint64_t v, status;
	uint32_t seq, a, b, c, d;

	switch (op) {
	case OP_TSC_PAGE:
		do {
			seq = p->sequence;
			v = hvl_tsc_to_ref(rdtsc(), p->scale, p->offset);
		} while (p->sequence != seq);
		break;
	case OP_TIME_REF_COUNT:
		rdmsr_safe(HVL_MSR_TIME_REF_COUNT, &v);
		break;
	case OP_SPIN_WAIT:
		status = 0;
		vmmcall_safe(HVL_HC_NOTIFY_LONG_SPIN_WAIT, 0, 0, &status);
		break;
	case OP_KVM_MSR:
		rdmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, &v);
		break;
	case OP_CPUID:
		asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			     : "a"(0), "c"(0));
		break;
	default:
		break;
	}
}

static void bench_guest(void)
{
	uint64_t t0, t1, v;
	int op, rep, i;

	if (hyperv) {
		GUEST_ASSERT_EQ(wrmsr_safe(HVL_MSR_GUEST_OS_ID, 0x8100ull << 48), 0);
		GUEST_ASSERT_EQ(wrmsr_safe(HVL_MSR_REFERENCE_TSC,
					   TSCPAGE_GPA | HVL_REFTSC_ENABLE), 0);
		/* A first read lets KVM finish the clock update it asked for. */
		rdmsr_safe(HVL_MSR_TIME_REF_COUNT, &v);
	}
	for (op = 0; op < OP_NR; op++) {
		if (!hyperv && op <= OP_SPIN_WAIT)
			continue;
		for (rep = 0; rep < REPS; rep++) {
			GUEST_SYNC(op, rep, 0);	/* host reads exits */
			t0 = rdtsc();
			for (i = 0; i < BATCH; i++)
				do_op(op);
			t1 = rdtsc();
			GUEST_SYNC(op, rep, t1 - t0);
		}
	}
	GUEST_DONE();
}

static uint64_t read_stat(int vmfd, const char *name)
{
	char path[256];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/%s",
		 getpid(), vmfd, name);
	f = fopen(path, "r");
	TEST_ASSERT(f, "open %s", path);
	TEST_ASSERT(fscanf(f, "%lu", &v) == 1, "read %s", path);
	fclose(f);
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void vcpu_set_hv_cpuid(struct kvm_vcpu *vcpu)
{
	struct {
		struct kvm_cpuid2 hdr;
		struct kvm_cpuid_entry2 e[16];
	} c = { .hdr.nent = 16 };
	unsigned int i;

	TEST_ASSERT(!ioctl(kvm_fd(), KVM_GET_SUPPORTED_HV_CPUID, &c),
		    "KVM_GET_SUPPORTED_HV_CPUID");
	for (i = 0; i < c.hdr.nent; i++)
		vcpu_set_cpuid_entry(vcpu, &c.e[i]);
}

int main(void)
{
	uint64_t cycles[OP_NR][REPS], exits[OP_NR][REPS], e0 = 0;
	const char *kernel = getenv("HVL_KERNEL") ?: "?";
	const char *mod = getenv("HVL_MODULE_LOADED") ?: "0";
	int op, rep, have[OP_NR] = {};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	kvm_require();
	hyperv = kvm_check_cap(KVM_CAP_HYPERV_TIME) > 0;
	vm = vm_create_with_vcpus(1, bench_guest, &vcpu);
	sync_global_to_guest(vm, hyperv);
	if (hyperv)
		vcpu_set_hv_cpuid(vcpu);
	while (vcpu_run(vcpu, &uc) == UCALL_SYNC) {
		op = uc.args[0];
		rep = uc.args[1];
		if (!uc.args[2]) {
			e0 = read_stat(vm->fd, "exits");
			continue;
		}
		/* Less the exit of the GUEST_SYNC that ends the batch. */
		exits[op][rep] = read_stat(vm->fd, "exits") - e0 - 1;
		cycles[op][rep] = uc.args[2];
		have[op] = 1;
	}
	for (op = 0; op < OP_NR; op++) {
		if (!have[op])
			continue;
		qsort(cycles[op], REPS, sizeof(uint64_t), cmp_u64);
		qsort(exits[op], REPS, sizeof(uint64_t), cmp_u64);
		printf("{\"kernel\": \"%s\", \"module\": %s, \"op\": \"%s\", \"batch\": %d, \"reps\": %d, "
		       "\"cycles_median\": %lu, \"cycles_min\": %lu, \"cycles_max\": %lu, "
		       "\"batch_exits_median\": %lu, \"batch_exits_min\": %lu, \"batch_exits_max\": %lu}\n",
		       kernel, mod, op_names[op], BATCH, REPS,
		       cycles[op][REPS / 2] / BATCH, cycles[op][0] / BATCH,
		       cycles[op][REPS - 1] / BATCH,
		       exits[op][REPS / 2], exits[op][0], exits[op][REPS - 1]);
	}
	vm_free(vm);
	return 0;
}
