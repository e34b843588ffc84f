/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest entry points: the 256 IDT stubs, the common exception path, and
 * the CPL3 round trip of guest_run_user().
 */
#include "x86.h"

	.text

/*
 * Stub N is at hvl_idt_stubs + N * 16, so the host can fill the IDT from
 * one symbol.  Each pushes a zero error code where the CPU pushes none,
 * then the vector.
 */
	.align 16
	.globl hvl_idt_stubs
	.type hvl_idt_stubs, @function
hvl_idt_stubs:
	vec = 0
	.rept 256
	.align 16
	.if vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14 || vec == 17 || vec == 21 || vec == 29 || vec == 30
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	hvl_isr_common
	vec = vec + 1
	.endr
	.size hvl_idt_stubs, . - hvl_idt_stubs

/*
 * The CPU aligned RSP to 16 before its 5-qword frame; with error code,
 * vector and 15 GPRs that is 22 qwords, so RSP is 16-aligned again for
 * fxsave and the C call.  FPU/SSE state is saved because handlers are
 * ordinary C that may use SSE registers of the interrupted code.
 */
	.type hvl_isr_common, @function
hvl_isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	cld
	subq	$512, %rsp
	fxsave64 (%rsp)
	call	hvl_handle_exception
	fxrstor64 (%rsp)
	addq	$512, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector, error code */
	iretq
	.size hvl_isr_common, . - hvl_isr_common

/*
 * uint64_t guest_run_user(uint64_t (*fn)(uint64_t), uint64_t arg)
 *
 * Save callee-saved registers and RFLAGS on the kernel stack, remember
 * RSP in the per-vCPU area and iretq to hvl_user_entry at CPL3.  The
 * USER_RET_VECTOR handler iretqs back to hvl_user_return with that RSP.
 */
	.globl guest_run_user
	.type guest_run_user, @function
guest_run_user:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushfq
	movq	%rsp, %gs:HVL_PERCPU_SAVED_RSP
	movq	(%rsp), %rax
	andq	$~0x47700, %rax		/* clear TF, DF, IOPL, NT, AC */
	pushq	$USER_DS		/* SS */
	pushq	%gs:HVL_PERCPU_USER_RSP	/* RSP */
	pushq	%rax			/* RFLAGS */
	pushq	$USER_CS		/* CS */
	leaq	hvl_user_entry(%rip), %rax
	pushq	%rax			/* RIP */
	iretq
	.size guest_run_user, . - guest_run_user

/* CPL3: rdi = fn, rsi = arg; the user stack top is 16-aligned. */
	.type hvl_user_entry, @function
hvl_user_entry:
	movq	%rdi, %rax
	movq	%rsi, %rdi
	call	*%rax
	movq	%rax, %rdi
	int	$USER_RET_VECTOR
	ud2
	.size hvl_user_entry, . - hvl_user_entry

/* CPL0 again, RSP as saved above, RAX = fn's result. */
	.globl hvl_user_return
	.type hvl_user_return, @function
hvl_user_return:
	popfq
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size hvl_user_return, . - hvl_user_return

/*
 * Return address planted under a vCPU's first frame: a guest function
 * that returns has finished, as if it called GUEST_DONE().
 */
	.globl hvl_guest_return
	.type hvl_guest_return, @function
hvl_guest_return:
	andq	$-16, %rsp
	call	ucall_done
	ud2
	.size hvl_guest_return, . - hvl_guest_return

	.section .note.GNU-stack, "", @progbits
