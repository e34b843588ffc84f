// SPDX-License-Identifier: GPL-2.0
/*
 * hvenlight: the Microsoft Hyper-V enlightenments Windows guests rely on,
 * for KVM built without CONFIG_KVM_HYPERV.
 */
#include <linux/module.h>
#include "hvl.h"

#define CREATE_TRACE_POINTS
#include "hvl_trace.h"

u32 hvl_cpuid_features = HVL_FEATURES_IMPLEMENTED;
module_param_named(features, hvl_cpuid_features, uint, 0444);
MODULE_PARM_DESC(features,
		 "Hyper-V features (CPUID 0x40000003.EAX bits) to offer; default and maximum: all this build implements, 0x20 (hypercall) required");

static int __init hvl_init(void)
{
	u32 unhooked;
	int r;

	r = hvl_compat_init();
	if (r)
		return r;
	if ((hvl_cpuid_features & ~HVL_FEATURES_IMPLEMENTED) ||
	    !(hvl_cpuid_features & HV_MSR_HYPERCALL_AVAILABLE)) {
		pr_err("features=0x%x is invalid: use a subset of 0x%x that includes 0x%x\n",
		       hvl_cpuid_features, (u32)HVL_FEATURES_IMPLEMENTED,
		       (u32)HV_MSR_HYPERCALL_AVAILABLE);
		return -EINVAL;
	}
	r = hvl_hook_init(&unhooked);
	if (r)
		return r;
	if (hvl_cpuid_features & unhooked) {
		pr_warn("not offering features 0x%x: this kernel lacks their hook point (above)\n",
			hvl_cpuid_features & unhooked);
		hvl_cpuid_features &= ~unhooked;
	}
	if ((hvl_cpuid_features & HV_MSR_SYNIC_AVAILABLE) && hvl_hook_eoi_init()) {
		pr_warn("not offering SynIC (0x4): EOIs would not acknowledge SINTs\n");
		hvl_cpuid_features &= ~HV_MSR_SYNIC_AVAILABLE;
	}
	hvl_cpuid_offer_init(!(unhooked & HV_MSR_RESET_AVAILABLE));
	hvl_msr_settle();
	r = hvl_hook_start();
	if (r) {
		hvl_hook_eoi_exit();
		return r;
	}
	pr_info("Hyper-V enlightenments for KVM ready (features 0x%x)\n",
		hvl_cpuid_features);
	return 0;
}

static void __exit hvl_exit(void)
{
	hvl_hook_exit();
	hvl_hook_eoi_exit();
	hvl_state_exit();
}

module_init(hvl_init);
module_exit(hvl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hyper-V enlightenments for KVM built without CONFIG_KVM_HYPERV");
MODULE_AUTHOR("hvenlight developers");
/* From debian/changelog, through Kbuild: the package's version too. */
MODULE_VERSION(HVL_VERSION);
