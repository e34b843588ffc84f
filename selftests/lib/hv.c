// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hv.h"
#include "hvl_abi.h"
#include "tap.h"

enum hv_env hv_env;

void hv_env_init(void)
{
	const char *k = getenv("HVL_KERNEL"), *m = getenv("HVL_MODULE_LOADED");
	static const char *const names[] = {
		[HV_MODULE] = "nohv kernel + hvenlight",
		[HV_PLAIN] = "nohv kernel without hvenlight (plain KVM)",
		[HV_STOCK] = "in-tree Hyper-V (stock or inhv kernel)",
	};

	if (k && (!strcmp(k, "stock") || !strncmp(k, "inhv", 4)))
		hv_env = HV_STOCK;
	else if (m ? !strcmp(m, "1") : !access("/sys/module/hvenlight", F_OK))
		hv_env = HV_MODULE;
	else if (!m && kvm_check_cap(KVM_CAP_HYPERV) > 0)
		hv_env = HV_STOCK;	/* outside the harness: in-tree */
	else
		hv_env = HV_PLAIN;
	tap_diag("environment: %s", names[hv_env]);
}

void hold_kvm_open(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = ioctl(kvm_fd(), KVM_CREATE_VM, 0);
}

int hv_leaves_fd(int fd, struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES])
{
	struct kvm_cpuid2 *c;
	uint32_t i, j;
	int r;

	c = calloc(1, sizeof(*c) + 64 * sizeof(c->entries[0]));
	TEST_ASSERT(c, "calloc");
	c->nent = 64;
	r = ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c);
	for (i = 0; !r && i < HVL_CPUID_NR_LEAVES; i++) {
		for (j = 0; j < c->nent; j++)
			if (c->entries[j].function == hvl_cpuid_function(i))
				break;
		TEST_ASSERT(j < c->nent, "no leaf %#x", hvl_cpuid_function(i));
		leaf[i] = c->entries[j];
	}
	free(c);
	return r;
}

void hv_leaves(struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES])
{
	static struct kvm_cpuid_entry2 supported[HVL_CPUID_NR_LEAVES];
	static bool done;

	if (!done) {
		TEST_ASSERT(!hv_leaves_fd(kvm_fd(), supported),
			    "KVM_GET_SUPPORTED_HV_CPUID on /dev/kvm");
		done = true;
	}
	memcpy(leaf, supported, sizeof(supported));
}

void vcpu_set_hv_leaves(struct kvm_vcpu *vcpu,
			const struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES])
{
	vcpu_set_cpuid_first(vcpu, leaf, HVL_CPUID_NR_LEAVES);
}

static void set_hv_cpuid(struct kvm_vcpu *vcpu, bool set_retries,
			 uint32_t retries)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];

	hv_leaves(leaf);
	if (set_retries)
		leaf[HYPERV_CPUID_ENLIGHTMENT_INFO - HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS].ebx = retries;
	vcpu_set_hv_leaves(vcpu, leaf);
}

void vcpu_set_hv_cpuid(struct kvm_vcpu *vcpu)
{
	set_hv_cpuid(vcpu, false, 0);
}

void vcpu_set_hv_cpuid_retries(struct kvm_vcpu *vcpu, uint32_t retries)
{
	set_hv_cpuid(vcpu, true, retries);
}
