// SPDX-License-Identifier: GPL-2.0
/* Hypercall input decoding and result encoding (TLFS "Hypercall Inputs"). */
#include "hvl_abi.h"
#include "tap.h"

int main(void)
{
	struct hvl_hc_input in;
	u64 v;

	in = hvl_hc_decode(HVCALL_NOTIFY_LONG_SPIN_WAIT);
	tap_ok(in.code == 8 && !in.fast && !in.var_cnt && !in.rep_cnt &&
	       !in.rep_idx && !in.rsvd, "plain call code 8 decodes with no flags");

	in = hvl_hc_decode(0x1234ull | HV_HYPERCALL_FAST_BIT);
	tap_ok(in.code == 0x1234 && in.fast, "fast bit 16");

	in = hvl_hc_decode(0x3ffull << 17);
	tap_ok(in.var_cnt == 0x3ff && !in.rsvd, "variable header size 26:17");

	in = hvl_hc_decode(0xabcull << 32 | 0x123ull << 48);
	tap_ok(in.rep_cnt == 0xabc && in.rep_idx == 0x123 && !in.rsvd,
	       "rep count 43:32 and rep start 59:48");

	for (v = 27; v <= 31; v++)
		tap_ok(hvl_hc_decode(1ull << v).rsvd, "bit %llu is reserved",
		       (unsigned long long)v);
	for (v = 44; v <= 47; v++)
		tap_ok(hvl_hc_decode(1ull << v).rsvd, "bit %llu is reserved",
		       (unsigned long long)v);
	for (v = 60; v <= 63; v++)
		tap_ok(hvl_hc_decode(1ull << v).rsvd, "bit %llu is reserved",
		       (unsigned long long)v);
	tap_ok(!hvl_hc_decode(~HV_HYPERCALL_RSVD_MASK).rsvd,
	       "no defined field is flagged reserved");

	tap_ok(hvl_hc_join32(0x11223344, 0xffffffff55667788ull) ==
	       0x1122334455667788ull, "32-bit callers: EDX:EAX, upper EAX ignored");
	tap_ok(hvl_hc_result(HV_STATUS_INVALID_HYPERCALL_INPUT, 0) == 3,
	       "status in 15:0");
	tap_ok(hvl_hc_result(0, 0xfff) == 0xfffull << 32,
	       "reps completed in 43:32");
	tap_ok(hvl_hc_result(0, 0x1fff) == 0xfffull << 32,
	       "reps completed never spill past bit 43");
	return tap_done();
}
