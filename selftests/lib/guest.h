/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest-side API.  Guest code is ordinary C in the test binary; it runs
 * in 64-bit long mode at CPL0 with memory identity mapped (GVA == GPA ==
 * the address the host sees for the same symbol).
 *
 * Rules for guest code: no libc calls except the string functions the
 * library overrides (memcpy, memmove, memset, memcmp, strlen, strcmp), no
 * TLS (__thread, errno), no floating-point beyond SSE2.
 */
#ifndef HVL_GUEST_H
#define HVL_GUEST_H

#include <stdint.h>
#include "x86.h"
#include "ucall.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* ---- ucalls ---- */

void ucall(uint64_t kind, uint64_t nargs, const uint64_t *args);
void __attribute__((noreturn)) ucall_done(void);
void __attribute__((noreturn)) ucall_assert(const char *file, uint64_t line,
					    const char *expr, uint64_t nvals,
					    uint64_t a, uint64_t b);

/* GUEST_SYNC(a), GUEST_SYNC(a, b, ...): up to UCALL_MAX_ARGS values. */
#define GUEST_SYNC(...)							\
do {									\
	const uint64_t __ua[] = { __VA_ARGS__ };			\
	_Static_assert(ARRAY_SIZE(__ua) <= UCALL_MAX_ARGS,		\
		       "too many GUEST_SYNC arguments");		\
	ucall(UCALL_SYNC, ARRAY_SIZE(__ua), __ua);			\
} while (0)

/* Tell the host this vCPU is finished; never returns. */
#define GUEST_DONE()	ucall_done()

/* On failure the host test fails with file, line and expression; no return. */
#define GUEST_ASSERT(cond)						\
do {									\
	if (!(cond))							\
		ucall_assert(__FILE__, __LINE__, #cond, 0, 0, 0);	\
} while (0)

#define __GUEST_ASSERT_CMP(a, b, op, name)				\
do {									\
	uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b);		\
	if (!(__a op __b))						\
		ucall_assert(__FILE__, __LINE__,			\
			     name "(" #a ", " #b ")", 2, __a, __b);	\
} while (0)

#define GUEST_ASSERT_EQ(a, b)	__GUEST_ASSERT_CMP(a, b, ==, "GUEST_ASSERT_EQ")
#define GUEST_ASSERT_NE(a, b)	__GUEST_ASSERT_CMP(a, b, !=, "GUEST_ASSERT_NE")

/* Unconditional failure with a string literal as the message. */
#define GUEST_FAIL(msg)	ucall_assert(__FILE__, __LINE__, msg, 0, 0, 0)

/* ---- exception fixups ---- */

/*
 * asm_safe() runs an instruction sequence with a fixup armed.  Before it,
 * R10 holds HVL_FIXUP_MAGIC and R11 the fixup RIP.  If an exception with
 * vector < 32 hits while R10 holds the magic, the IDT handler puts the
 * vector in R10 and the error code in R11 and resumes at the fixup;
 * otherwise R10/R11 are zeroed after the sequence.  All state lives in
 * registers, so any number of vCPUs can do this at once.
 *
 * Usage: vec = asm_safe("insn", (outputs), (inputs), clobbers...);
 * outputs and inputs are parenthesized operand lists, possibly empty "()".
 * Refer to operands by name (%[x]) or use fixed-register constraints: %0
 * and %1 are taken by R10/R11, and the sequence must not touch R10/R11.
 * Evaluates to the vector (uint8_t), 0 if there was no exception -- so a
 * #DE (vector 0) cannot be told from success.
 */
#define HVL_FIXUP_MAGIC	0x70757869666c7668ULL	/* "hvlfixup" */
#define __HVL_LIST(...)	, ##__VA_ARGS__
#define __HVL_OPS(...)	__VA_ARGS__
#define __HVL_STR(x)	#x
#define HVL_STR(x)	__HVL_STR(x)

#define asm_safe_err(insn, errp, outputs, inputs, ...)			\
({									\
	register uint64_t __vec asm("r10");				\
	register uint64_t __err asm("r11");				\
	uint64_t *__errp = (errp);					\
									\
	asm volatile("movabsq $" HVL_STR(HVL_FIXUP_MAGIC) ", %%r10\n\t"	\
		     "leaq .Lhvl_fixup_%=(%%rip), %%r11\n\t"		\
		     insn "\n\t"					\
		     "xorl %%r10d, %%r10d\n\t"				\
		     "xorl %%r11d, %%r11d\n\t"				\
		     ".Lhvl_fixup_%=:"					\
		     : "=&r"(__vec), "=&r"(__err) __HVL_LIST outputs	\
		     : __HVL_OPS inputs					\
		     : "memory" __HVL_LIST(__VA_ARGS__));		\
	if (__errp)							\
		*__errp = __err;					\
	(uint8_t)__vec;							\
})

#define asm_safe(insn, outputs, inputs, ...)				\
	asm_safe_err(insn, NULL, outputs, inputs, ##__VA_ARGS__)

/* rdmsr/wrmsr returning the vector (0, or 13 for #GP); *val is 0 on fault. */
static inline uint8_t rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	uint8_t vec;

	vec = asm_safe("rdmsr", ("+a"(lo), "+d"(hi)), ("c"(msr)));
	*val = vec ? 0 : ((uint64_t)hi << 32) | lo;
	return vec;
}

static inline uint8_t wrmsr_safe(uint32_t msr, uint64_t val)
{
	return asm_safe("wrmsr", (),
			("a"((uint32_t)val), "d"((uint32_t)(val >> 32)),
			 "c"(msr)));
}

/*
 * Hypercall instructions with the Hyper-V register convention: RCX, RDX
 * and R8 in, *rax in and out (the status; unchanged on an exception).
 * Return the vector, e.g. #UD (6) when the hypervisor refuses.
 */
#define __HYPERCALL_SAFE(insn, rcx, rdx, r8, rax)			\
({									\
	register uint64_t __r8 asm("r8") = (r8);			\
	asm_safe(insn, ("+a"(*(rax))), ("c"(rcx), "d"(rdx), "r"(__r8)));	\
})

static inline uint8_t vmmcall_safe(uint64_t rcx, uint64_t rdx, uint64_t r8,
				   uint64_t *rax)
{
	return __HYPERCALL_SAFE("vmmcall", rcx, rdx, r8, rax);
}

static inline uint8_t vmcall_safe(uint64_t rcx, uint64_t rdx, uint64_t r8,
				  uint64_t *rax)
{
	return __HYPERCALL_SAFE("vmcall", rcx, rdx, r8, rax);
}

/* ---- interrupt/exception handlers ---- */

typedef void (*guest_handler_t)(struct ex_regs *regs);

/*
 * Install a handler for a vector (any of 0-255, but USER_RET_VECTOR).  It
 * runs at CPL0 with interrupts off, on the interrupted stack (CPL0) or on
 * the TSS RSP0 stack (CPL3).  An armed asm_safe() fixup takes precedence
 * for vectors < 32.  The host can do the same with vm_install_handler().
 */
void guest_install_handler(int vector, guest_handler_t handler);

/* This vCPU's id (the one given to vm_vcpu_add()). */
static inline uint64_t guest_vcpu_id(void)
{
	uint64_t id;

	asm volatile("movq %%gs:" HVL_STR(HVL_PERCPU_ID) ", %0" : "=r"(id));
	return id;
}

/*
 * Run fn(arg) at CPL3 on this vCPU's user stack and return its result.
 * Exceptions taken at CPL3 go through the TSS RSP0 stack; ucalls work
 * (the TSS I/O bitmap allows UCALL_PORT) and so does asm_safe().
 * RFLAGS.IOPL is 0, so cli/sti/in/out raise #GP.  Not reentrant.
 */
uint64_t guest_run_user(uint64_t (*fn)(uint64_t), uint64_t arg);

#endif
