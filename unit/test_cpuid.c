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

	hvl_cpuid_build(l, HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE,
			HV_X64_RELAXED_TIMING_RECOMMENDED, 4096);
	for (i = 0; i < HVL_CPUID_NR_LEAVES; i++)
		seq &= l[i].function == 0x40000000u + i;
	tap_ok(seq, "leaves 0x40000000-0x40000005 in order");
	tap_ok(l[0].eax == 0x40000005, "max leaf 0x40000005");
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
	return tap_done();
}
