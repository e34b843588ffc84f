// SPDX-License-Identifier: GPL-2.0
/*
 * The module's tracepoints (events/hvenlight): enabled through tracefs, a
 * guest's Hyper-V MSR accesses and hypercalls, failed ones first, a host
 * access and the reference TSC page's update show up with what they
 * carried; nothing is recorded while the events are off. In-tree KVM has
 * its own kvm:kvm_hv_* events instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"
#include "overcommit.h"

#define TRACEFS		"/sys/kernel/tracing"
#define GUEST_OS_ID	(0x8100ull << 48)
#define BAD_CODE	0xbeef

static bool trace_write(const char *file, const char *val)
{
	char path[256];
	int fd, n;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return false;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (int)strlen(val);
}

/* The trace buffer as text (it is small: one guest's few accesses). */
static char *trace_read(void)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	TEST_ASSERT(buf, "malloc");
	fd = open(TRACEFS "/trace", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open " TRACEFS "/trace");
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			TEST_ASSERT(buf, "realloc");
		}
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

static bool tracefs_ready(void)
{
	struct stat st;

	if (stat(TRACEFS "/events", &st))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	return !stat(TRACEFS "/events/hvenlight", &st);
}

static void guest_code(uint64_t tsc_page)
{
	uint64_t v;

	/* Refused first: VP_INDEX is read-only to the guest (#GP). */
	GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_VP_INDEX, 5), GP_VECTOR);
	GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, GUEST_OS_ID), 0);
	GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &v), 0);
	GUEST_SYNC(guest_hypercall(BAD_CODE));
	GUEST_SYNC(guest_hypercall(HVCALL_NOTIFY_LONG_SPIN_WAIT));
	/* The page is written before this vCPU next enters the guest. */
	GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_REFERENCE_TSC,
				   tsc_page | HV_X64_MSR_TSC_REFERENCE_ENABLE), 0);
	GUEST_SYNC(0);
	GUEST_DONE();
}

/*
 * One VM running guest_code(), then a host read of GUEST_OS_ID; returns
 * the reference TSC page's GPA.
 */
static uint64_t run_guest(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t gpa;

	vm = vm_create_with_vcpus(1, guest_code, &vcpu);
	gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	vcpu_args_set(vcpu, 1, gpa);
	vcpu_set_hv_cpuid(vcpu);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	TEST_ASSERT_EQ(uc.args[0], HV_STATUS_INVALID_HYPERCALL_CODE);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	TEST_ASSERT_EQ(uc.args[0], HV_STATUS_SUCCESS);
	TEST_ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	TEST_ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	TEST_ASSERT_EQ(vcpu_rdmsr(vcpu, HV_X64_MSR_GUEST_OS_ID), GUEST_OS_ID);
	vm_free(vm);
	return gpa;
}

/* A line ending in "\n" must end there: no further flag after it. */
static void expect(const char *trace, const char *line, const char *what)
{
	tap_ok(strstr(trace, line), "%s: \"%.*s\"", what,
	       (int)strcspn(line, "\n"), line);
}

/* Off: nothing recorded. */
static void test_off(void)
{
	char *trace;

	TEST_ASSERT(trace_write("events/hvenlight/enable", "0") &&
		    trace_write("trace", ""), "resetting tracefs");
	run_guest();
	trace = trace_read();
	tap_ok(!strstr(trace, "hvl_"), "events off: no hvenlight event recorded");
	free(trace);
}

/* On: each event with its fields. */
static void test_on(void)
{
	char line[128];
	uint64_t gpa;
	char *trace;

	TEST_ASSERT(trace_write("events/hvenlight/enable", "1"),
		    "enabling events/hvenlight");
	gpa = run_guest();
	trace = trace_read();
	TEST_ASSERT(trace_write("events/hvenlight/enable", "0"),
		    "disabling events/hvenlight");

	expect(trace, "hvl_msr: vcpu 0 wrmsr msr 0x40000002 data 0x5 failed",
	       "a refused guest write, marked failed");
	snprintf(line, sizeof(line),
		 "hvl_msr: vcpu 0 wrmsr msr 0x40000000 data 0x%llx\n",
		 (unsigned long long)GUEST_OS_ID);
	expect(trace, line, "the guest's GUEST_OS_ID write");
	snprintf(line, sizeof(line),
		 "hvl_msr: vcpu 0 rdmsr msr 0x40000000 data 0x%llx\n",
		 (unsigned long long)GUEST_OS_ID);
	expect(trace, line, "the guest's GUEST_OS_ID read");
	snprintf(line, sizeof(line),
		 "hvl_msr: vcpu 0 rdmsr msr 0x40000000 data 0x%llx host\n",
		 (unsigned long long)GUEST_OS_ID);
	expect(trace, line, "the host's KVM_GET_MSRS of it");
	snprintf(line, sizeof(line),
		 "hvl_hypercall: vcpu 0 code 0x%x slow var_cnt 0 rep_cnt 0 rep_idx 0 status 0x%x",
		 BAD_CODE, HV_STATUS_INVALID_HYPERCALL_CODE);
	expect(trace, line, "an unknown hypercall with its status");
	snprintf(line, sizeof(line),
		 "hvl_hypercall: vcpu 0 code 0x%x slow var_cnt 0 rep_cnt 0 rep_idx 0 status 0x0",
		 HVCALL_NOTIFY_LONG_SPIN_WAIT);
	expect(trace, line, "HvNotifyLongSpinWait, successful");
	/* Sequence 0 (invalid) without a masterclock: either is an update. */
	snprintf(line, sizeof(line), "hvl_tsc_page: vcpu 0 gpa 0x%llx sequence ",
		 (unsigned long long)gpa);
	expect(trace, line, "the reference TSC page written");
	free(trace);
}

int main(void)
{
	kvm_require();
	hv_env_init();
	if (hv_env == HV_STOCK)
		tap_skip_all("in-tree Hyper-V traces with its own kvm:kvm_hv_* events");
	if (hv_env == HV_PLAIN)
		tap_skip_all(NO_MODULE);
	if (!tracefs_ready())
		tap_skip_all("no " TRACEFS "/events/hvenlight (tracefs or CONFIG_EVENT_TRACING missing)");

	TEST_RUN("events off", test_off());
	TEST_RUN("events on", test_on());
	return tap_done();
}
