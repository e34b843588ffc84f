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

void skip_n(int n, const char *why)
{
	while (n-- > 0)
		tap_skip("%s", why);
}

void hold_kvm_open(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = ioctl(kvm_fd(), KVM_CREATE_VM, 0);
}

static void set_hv_cpuid(struct kvm_vcpu *vcpu, bool set_retries,
			 uint32_t retries)
{
	struct {
		struct kvm_cpuid2 hdr;
		struct kvm_cpuid_entry2 e[16];
	} c = { .hdr.nent = 16 };
	unsigned int i;

	TEST_ASSERT(!ioctl(kvm_fd(), KVM_GET_SUPPORTED_HV_CPUID, &c),
		    "KVM_GET_SUPPORTED_HV_CPUID");
	for (i = 0; i < c.hdr.nent; i++)
		if (set_retries && c.e[i].function == HVL_CPUID_ENLIGHTENMENTS)
			c.e[i].ebx = retries;
	/* Where QEMU puts them: first, before KVM's own leaves. */
	vcpu_set_cpuid_first(vcpu, c.e, c.hdr.nent);
}

void vcpu_set_hv_cpuid(struct kvm_vcpu *vcpu)
{
	set_hv_cpuid(vcpu, false, 0);
}

void vcpu_set_hv_cpuid_retries(struct kvm_vcpu *vcpu, uint32_t retries)
{
	set_hv_cpuid(vcpu, true, retries);
}
