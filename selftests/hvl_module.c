// SPDX-License-Identifier: GPL-2.0
/*
 * The module's lifecycle: its hooks appear and vanish with it, a VM with
 * Hyper-V state pins it, and loading and unloading it 100 times under a
 * running ordinary VM leaves that VM running with KVM's own behaviour.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"

static const char *const hooked[] = {
	"kvm_arch_vcpu_destroy", "kvm_arch_free_vm", "kvm_set_msr_common",
	"kvm_get_msr_common", "kvm_emulate_hypercall",
	"kvm_vm_ioctl_check_extension", "kvm_dev_ioctl", "kvm_vcpu_ioctl",
	"kvm_end_pvclock_update", "kvm_emulate_wrmsr",
	"kvm_cpu_has_pending_timer", "kvm_inject_pending_timer_irqs",
	"kvm_apic_ack_interrupt", "kvm_set_routing_entry", "kvm_arch_vm_ioctl",
	"kvm_arch_irq_routing_update",
};

static const char *ko_path(void)
{
	static char path[4096];
	const char *ko = getenv("HVL_KO");

	if (ko)
		return ko;
	snprintf(path, sizeof(path), "%s/build/%s/hvenlight.ko",
		 getenv("HVL_TOP") ?: ".", getenv("HVL_KERNEL") ?: "nohv");
	return path;
}

static int module_load(void)
{
	int fd = open(ko_path(), O_RDONLY | O_CLOEXEC);
	int r;

	TEST_ASSERT(fd >= 0, "open %s", ko_path());
	r = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return r ? -errno : 0;
}

static int module_unload(void)
{
	return syscall(SYS_delete_module, "hvenlight", O_NONBLOCK) ? -errno : 0;
}

static int module_refcnt(void)
{
	FILE *f = fopen("/sys/module/hvenlight/refcnt", "r");
	int n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* The hooked function a line of enabled_functions starts, or -1. */
static int hooked_at(const char *line)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hooked); i++) {
		size_t n = strlen(hooked[i]);

		if (!strncmp(line, hooked[i], n) &&
		    (line[n] == ' ' || line[n] == '\t'))
			return i;
	}
	return -1;
}

/*
 * How many of the hooked KVM functions ftrace shows calling into us. A
 * function's record starts at column 0; a direct call's target follows on
 * a line of its own ("\tdirect-->hvl_hook_tramp ... [hvenlight]").
 */
static int hooks_active(void)
{
	FILE *f = fopen("/sys/kernel/debug/tracing/enabled_functions", "r");
	char line[1024];
	int found = 0, cur = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] != '\t')
			cur = hooked_at(line);
		if (cur >= 0 && strstr(line, "hvenlight")) {
			found++;
			cur = -1;
		}
	}
	fclose(f);
	return found;
}

/* An ordinary guest: Hyper-V MSRs #GP, VMMCALL is KVM's hypercall. */
static uint64_t guest_stop;

static void ordinary_guest(void)
{
	uint64_t i, val, rax;

	for (i = 0; !*(volatile uint64_t *)&guest_stop; i++) {
		GUEST_ASSERT_EQ(rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &val), 13);
		GUEST_ASSERT_EQ(wrmsr_safe(HV_X64_MSR_HYPERCALL, 1), 13);
		rax = 0x7777;	/* no such KVM hypercall */
		GUEST_ASSERT_EQ(vmmcall_safe(0, 0, 0, &rax), 0);
		GUEST_ASSERT_EQ(rax, (uint64_t)-1000);	/* -KVM_ENOSYS */
		if (!(i % 16))
			GUEST_SYNC(i);
	}
	GUEST_DONE();
}

struct runner {
	struct kvm_vcpu *vcpu;
	volatile uint64_t syncs;
	volatile bool done;
};

static void *run_ordinary(void *arg)
{
	struct runner *r = arg;

	while (vcpu_run(r->vcpu, NULL) == UCALL_SYNC)
		r->syncs++;
	r->done = true;
	return NULL;
}

static void test_pin(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int r;

	vm = vm_create_with_vcpus(1, ordinary_guest, &vcpu);
	tap_ok(module_refcnt() == 0, "an ordinary VM does not pin the module");
	vm_free(vm);

	vm = vm_create_with_vcpus(1, ordinary_guest, &vcpu);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_wrmsr(vcpu, HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48);
	tap_ok(module_refcnt() == 1, "a Hyper-V VM pins the module (refcnt %d)",
	       module_refcnt());
	r = module_unload();
	tap_ok(r == -EWOULDBLOCK || r == -EBUSY,
	       "rmmod refused while the Hyper-V VM lives (%s)", strerror(-r));
	tap_ok(hooks_active() == (int)ARRAY_SIZE(hooked),
	       "all %zu hooks still in place", ARRAY_SIZE(hooked));
	vm_free(vm);
	tap_ok(module_refcnt() == 0, "freeing the VM releases the module");
	r = module_unload();
	tap_ok(!r, "rmmod succeeds after the VM is gone (%s)", strerror(-r));
	tap_ok(hooks_active() == 0, "no hook left after rmmod");
	r = module_load();
	tap_ok(!r, "insmod again (%s)", strerror(-r));
	tap_ok(hooks_active() == (int)ARRAY_SIZE(hooked), "hooks back");
}

static void test_reload(void)
{
	struct runner run = {};
	struct kvm_vm *vm;
	pthread_t thread;
	uint64_t seen;
	int i, bad = 0;

	vm = vm_create_with_vcpus(1, ordinary_guest, &run.vcpu);
	pthread_create(&thread, NULL, run_ordinary, &run);
	for (i = 0; i < 100 && !run.done; i++) {
		if (module_unload() || module_load())
			bad++;
	}
	tap_ok(!bad && i == 100, "100 unload/load cycles (%d failed)", bad);
	/* The guest must keep running, and checking, after the last cycle. */
	seen = run.syncs;
	for (i = 0; i < 600 && run.syncs < seen + 2 && !run.done; i++)
		usleep(100 * 1000);
	tap_ok(!run.done && run.syncs >= seen + 2,
	       "the ordinary VM kept KVM's behaviour throughout (%llu checks)",
	       (unsigned long long)run.syncs * 16);
	guest_stop = 1;
	sync_global_to_guest(vm, guest_stop);
	pthread_join(thread, NULL);
	tap_ok(hooks_active() == (int)ARRAY_SIZE(hooked), "hooks in place");
	vm_free(vm);
}

int main(void)
{
	/* 100 reloads take about 7 s each on the debug kernel under TCG. */
	hvl_set_timeout(1800);
	kvm_require();
	if (!getenv("HVL_MODULE_LOADED") || strcmp(getenv("HVL_MODULE_LOADED"), "1"))
		tap_skip_all("hvenlight is not loaded");
	TEST_RUN("hooks in place",
		 tap_ok(hooks_active() == (int)ARRAY_SIZE(hooked),
			"ftrace lists our hook on all %zu KVM functions",
			ARRAY_SIZE(hooked)));
	TEST_RUN("a Hyper-V VM pins the module", test_pin());
	TEST_RUN("unload and load beside a running VM", test_reload());
	return tap_done();
}
