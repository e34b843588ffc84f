// SPDX-License-Identifier: GPL-2.0
/* The supported Hyper-V CPUID leaves. */
#include <string.h>
#include "hvl_abi.h"
#include "tap.h"

int main(void)
{
	struct hvl_cpuid_leaf l[HVL_CPUID_NR_LEAVES];
	char vendor[13] = {};
	int i, seq = 1;

	static const u32 order[HVL_CPUID_NR_LEAVES] = {
		0x40000000, 0x40000001, 0x40000002, 0x40000003, 0x40000004,
		0x40000005, 0x40000080, 0x40000081, 0x40000082, 0x4000000a,
	};
	struct hvl_cpuid_offer o = {
		.features_eax = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE,
		.recommend_eax = HV_X64_RELAXED_TIMING_RECOMMENDED,
		.max_vcpus = 4096,
	};

	hvl_cpuid_build(l, &o);
	for (i = 0; i < HVL_CPUID_NR_LEAVES; i++)
		seq &= l[i].function == order[i];
	tap_ok(seq, "in-tree's ten leaves in in-tree's order");
	tap_ok(l[0].eax == 0x40000082, "max leaf 0x40000082");
	memcpy(vendor, &l[0].ebx, 4);
	memcpy(vendor + 4, &l[0].ecx, 4);
	memcpy(vendor + 8, &l[0].edx, 4);
	tap_ok(!strcmp(vendor, "Linux KVM Hv"), "vendor \"%s\"", vendor);
	tap_ok(l[1].eax == 0x31237648 && !l[1].ebx && !l[1].ecx && !l[1].edx,
	       "interface \"Hv#1\"");
	tap_ok(l[2].eax == 0x3839 && l[2].ebx == 0xa0000, "version 10.0.14393");
	tap_ok(l[3].eax == 0x60 && !l[3].ebx && !l[3].ecx && !l[3].edx,
	       "features: exactly hypercall and VP index");
	tap_ok(l[4].eax == 0x20 && l[4].ebx == 0xfff,
	       "relaxed timing recommended, 0xfff spin retries");
	tap_ok(l[5].eax == 4096 && l[5].ebx == 64, "limits");
	tap_ok(!l[6].eax && l[6].ebx == l[0].ebx && l[6].edx == l[0].edx,
	       "SynDbg vendor leaf");
	tap_ok(l[7].eax == 0x31235356, "SynDbg interface \"VS#1\"");
	tap_ok(!l[8].eax, "no kernel debugging without the debug MSRs");
	o.features_edx = HV_FEATURE_DEBUG_MSRS_AVAILABLE;
	hvl_cpuid_build(l, &o);
	tap_ok(l[8].eax == 2 && l[3].edx == 0x800,
	       "kernel debugging allowed with the debug MSRs");
	tap_ok(l[9].eax == (1u << 19) && !l[9].ebx,
	       "nested: only the enlightened MSR bitmap");
	return tap_done();
}
