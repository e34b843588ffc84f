/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86 definitions shared by host and guest code of the selftests:
 * guest memory layout constants, segment selectors, exception frame,
 * and the few privileged instructions guest code needs.
 */
#ifndef HVL_X86_H
#define HVL_X86_H


/* GDT layout; user selectors follow the SYSRET convention (STAR[63:48] = 0x20). */
#define KERNEL_CS		0x08	/* 64-bit code, DPL0 */
#define KERNEL_DS		0x10	/* flat data, DPL0 */
#define KERNEL_CS32		0x18	/* flat 32-bit code, DPL0 (protected-mode vCPUs) */
#define USER_CS32		0x23	/* flat 32-bit code, DPL3 */
#define USER_DS			0x2b	/* flat data, DPL3 */
#define USER_CS			0x33	/* 64-bit code, DPL3 */
#define GDT_TSS_BASE		0x38	/* first 16-byte TSS descriptor, one per vCPU */

/* I/O port the guest writes to for a ucall (allowed at CPL3 by the TSS bitmap). */
#define UCALL_PORT		0x1000

/* Vectors */
#define DE_VECTOR		0
#define DB_VECTOR		1
#define NMI_VECTOR		2
#define BP_VECTOR		3
#define OF_VECTOR		4
#define BR_VECTOR		5
#define UD_VECTOR		6
#define NM_VECTOR		7
#define DF_VECTOR		8
#define TS_VECTOR		10
#define NP_VECTOR		11
#define SS_VECTOR		12
#define GP_VECTOR		13
#define PF_VECTOR		14
#define MF_VECTOR		16
#define AC_VECTOR		17
#define MC_VECTOR		18
#define XM_VECTOR		19
/* Software interrupt that returns from guest_run_user(); reserved. */
#define USER_RET_VECTOR		0x81

/* Control register and EFER bits */
#define X86_CR0_PE		(1ULL << 0)
#define X86_CR0_MP		(1ULL << 1)
#define X86_CR0_ET		(1ULL << 4)
#define X86_CR0_NE		(1ULL << 5)
#define X86_CR0_WP		(1ULL << 16)
#define X86_CR0_PG		(1ULL << 31)
#define X86_CR4_PAE		(1ULL << 5)
#define X86_CR4_OSFXSR		(1ULL << 9)
#define X86_CR4_OSXMMEXCPT	(1ULL << 10)
#define EFER_SCE		(1ULL << 0)
#define EFER_LME		(1ULL << 8)
#define EFER_LMA		(1ULL << 10)
#define X86_EFLAGS_FIXED	(1ULL << 1)
#define X86_EFLAGS_IF		(1ULL << 9)
#define X86_EFLAGS_IOPL		(3ULL << 12)

/* A few MSRs every test uses */
#define MSR_EFER		0xc0000080
#define MSR_GS_BASE		0xc0000101
#define MSR_TSC			0x00000010
#define MSR_APIC_BASE		0x0000001b
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01	/* kvmclock */

#define HVL_PERCPU_ID		8
#define HVL_PERCPU_USER_RSP	16
#define HVL_PERCPU_SAVED_RSP	24

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <stdbool.h>

/*
 * Register state saved by the IDT stubs, lowest address first.  A handler
 * may change any field (e.g. rip) and it is restored by iretq.
 */
struct ex_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

/* Per-vCPU data in guest memory, found through the GS base. */
struct hvl_percpu {
	uint64_t self;		/* GVA of this struct, read as %gs:0 */
	uint64_t id;		/* vCPU id */
	uint64_t user_rsp;	/* top of the CPL3 stack */
	uint64_t saved_rsp;	/* kernel RSP while guest_run_user() runs */
};

/* 64-bit TSS; iomap_base points at the I/O bitmap that follows it. */
struct hvl_tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* The I/O bitmap covers ports up to UCALL_PORT, plus the required 0xff byte. */
#define HVL_IOMAP_BYTES		(UCALL_PORT / 8 + 2)
#define HVL_TSS_LIMIT		(sizeof(struct hvl_tss) + HVL_IOMAP_BYTES - 1)

/* Privileged and plain instructions, for guest code. */
static inline void cpuid_count(uint32_t fn, uint32_t idx, uint32_t *eax,
			       uint32_t *ebx, uint32_t *ecx, uint32_t *edx)
{
	asm volatile("cpuid"
		     : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx)
		     : "a"(fn), "c"(idx) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
	asm volatile("wrmsr"
		     :: "a"((uint32_t)val), "d"((uint32_t)(val >> 32)), "c"(msr)
		     : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t get_cr0(void)
{
	uint64_t v;

	asm volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline uint64_t get_cr2(void)
{
	uint64_t v;

	asm volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t get_cr3(void)
{
	uint64_t v;

	asm volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline uint64_t get_cr4(void)
{
	uint64_t v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline uint16_t get_cs(void)
{
	uint16_t v;

	asm volatile("mov %%cs, %0" : "=r"(v));
	return v;
}

static inline void cli(void)
{
	asm volatile("cli" ::: "memory");
}

static inline void sti(void)
{
	asm volatile("sti" ::: "memory");
}

/* sti's one-instruction shadow makes "sti; hlt" race-free. */
static inline void safe_halt(void)
{
	asm volatile("sti; hlt" ::: "memory");
}

static inline void hlt(void)
{
	asm volatile("hlt" ::: "memory");
}

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

#endif /* __ASSEMBLER__ */
#endif
