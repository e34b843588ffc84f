/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of the local APIC, in xAPIC (MMIO at 0xfee00000) or x2APIC
 * (MSR) mode: the registers the tests and benchmarks use, and the lazy-EOI
 * bit of the VP assist page. Each including file has its own mode variable,
 * set by apic_enable() in the guest.
 */
#ifndef SELFTEST_APIC_H
#define SELFTEST_APIC_H

#include <stdbool.h>
#include <stdint.h>

#include "x86.h"

#define APIC_MMIO	0xfee00000ull
#define APIC_ID		0x20
#define APIC_TASKPRI	0x80
#define APIC_EOI	0xb0
#define APIC_SPIV	0xf0
#define APIC_ISR	0x100
#define APIC_IRR	0x200
#define APIC_ICR	0x300
#define APIC_ICR2	0x310
#define APIC_LVTT	0x320
#define APIC_TMICT	0x380
#define APIC_TDCR	0x3e0
#define APIC_LVT_MASKED	(1u << 16)
#define APIC_TIMER_PERIODIC (1u << 17)
#define APIC_BASE_EN	(1ull << 11)
#define APIC_BASE_EXTD	(1ull << 10)
#define ICR_SELF	(1ull << 18)	/* destination shorthand "self" */
#define X2APIC_MSR(reg)	(0x800 + ((reg) >> 4))

/* One APIC mode per VM: 0 xAPIC, 1 x2APIC. */
static volatile uint64_t apic_x2;

static inline uint32_t apic_read(uint32_t reg)
{
	if (apic_x2)
		return rdmsr(X2APIC_MSR(reg));
	return *(volatile uint32_t *)(APIC_MMIO + reg);
}

static inline void apic_write(uint32_t reg, uint32_t val)
{
	if (apic_x2)
		wrmsr(X2APIC_MSR(reg), val);
	else
		*(volatile uint32_t *)(APIC_MMIO + reg) = val;
}

/* The architectural 64-bit ICR. */
static inline uint64_t apic_read_icr(void)
{
	if (apic_x2)
		return rdmsr(X2APIC_MSR(APIC_ICR));
	return (uint64_t)apic_read(APIC_ICR2) << 32 | apic_read(APIC_ICR);
}

static inline void apic_enable(uint64_t x2)
{
	uint64_t base = rdmsr(MSR_APIC_BASE) | APIC_BASE_EN;

	apic_x2 = x2;
	if (x2)
		base |= APIC_BASE_EXTD;
	wrmsr(MSR_APIC_BASE, base);
	apic_write(APIC_SPIV, 0x1ff);	/* software enable, spurious 0xff */
	apic_write(APIC_TASKPRI, 0);
}

/* Bit 0 of the APIC-assist dword: "no EOI required"; clear it instead. */
static inline bool test_and_clear_bit0(volatile uint32_t *p)
{
	bool old;

	asm volatile("lock btrl $0, %0" : "+m"(*p), "=@ccc"(old) :: "memory");
	return old;
}

#endif
