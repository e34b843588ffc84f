// SPDX-License-Identifier: GPL-2.0
/*
 * Reference TSC page parameters from pvclock parameters, checked against
 * the pvclock formula itself at TSC frequencies from 1 MHz to 10 GHz.
 */
#include <stdlib.h>
#include "hvl_abi.h"
#include "tap.h"

/*
 * pvclock parameters for a TSC frequency: ns = (tsc << shift) * mul >> 32
 * with mul normalized into [2^31, 2^32), as KVM's kvm_get_time_scale().
 */
static void time_scale(u64 hz, u32 *mul, signed char *shift)
{
	u128 m;
	int s = 0;

	for (;;) {
		u128 den = s >= 0 ? (u128)hz << s :
					(u128)hz >> -s;

		m = ((u128)1000000000ull << 32) / den;
		if (m >> 32)
			s++;
		else if (m < (1ull << 31))
			s--;
		else
			break;
	}
	*shift = s;
	*mul = (u32)m;
}

static u64 pvclock_ns(u64 tsc, u64 ts, u64 sys, u32 mul, signed char shift)
{
	u64 d = tsc - ts;

	d = shift >= 0 ? d << shift : d >> -shift;
	return sys + (u64)(((u128)d * mul) >> 32);
}

static void check_freq(u64 hz, int expect_valid)
{
	u64 sys = 123456789000ull, ts = 987654321ull, scale;
	signed char shift;
	int ok = 1, valid;
	s64 offset;
	u32 mul;
	u64 t;

	time_scale(hz, &mul, &shift);
	valid = hvl_tsc_page_params(mul, shift, sys, ts, &scale, &offset);
	tap_ok(valid == expect_valid, "%llu Hz: page %s", (unsigned long long)hz,
	       expect_valid ? "valid" : "invalid (scale overflows)");
	if (!valid || !expect_valid)
		return;
	for (t = ts; t < ts + 100 * hz; t += hz / 7 + 1) {
		u64 want = pvclock_ns(t, ts, sys, mul, shift) / 100;
		u64 got = hvl_tsc_to_ref(t, scale, offset);

		if (got + 1 < want || got > want + 1)
			ok = 0;
	}
	tap_ok(ok, "%llu Hz: page time within 100 ns of pvclock over 100 s",
	       (unsigned long long)hz);
}

int main(void)
{
	u64 scale;
	s64 offset;
	u32 s, i;

	check_freq(1000000ull, 0);
	check_freq(9999999ull, 0);
	check_freq(10000001ull, 1);
	check_freq(100000000ull, 1);
	check_freq(1000000000ull, 1);
	check_freq(2399999999ull, 1);
	check_freq(10000000000ull, 1);

	/* The exact limit: scale = mul * 2^(32 + shift) / 100 must fit. */
	tap_ok(!hvl_tsc_page_params(100u << 25, 7, 0, 0, &scale, &offset),
	       "mul = 100 * 2^(32 - shift) overflows");
	tap_ok(hvl_tsc_page_params((100u << 25) - 1, 7, 0, 0, &scale, &offset) &&
	       scale == ((((u128)((100u << 25) - 1)) << 39) / 100),
	       "one below the limit fits, scale exact");
	tap_ok(!hvl_tsc_page_params(1, 40, 0, 0, &scale, &offset),
	       "absurd shift refused");

	s = 0xfffffffeu;
	s = hvl_tsc_seq_next(s);
	tap_ok(s == 1, "sequence skips 0xFFFFFFFF");
	for (i = 0, s = 0; i < 1000; i++) {
		s = hvl_tsc_seq_next(s);
		if (!s || s == 0xffffffffu)
			break;
	}
	tap_ok(i == 1000, "sequence is never 0 or 0xFFFFFFFF");
	return tap_done();
}
