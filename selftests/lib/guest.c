// SPDX-License-Identifier: GPL-2.0
/*
 * Guest runtime: ucalls and exception dispatch.  Everything here runs
 * inside the guest.
 */
#include <stddef.h>
#include "guest.h"

/*
 * Per-VM handler table.  Each VM has its own copy of the binary's data,
 * so handlers installed in one VM (by its guest or via
 * vm_install_handler()) do not leak into another.
 */
guest_handler_t hvl_handlers[256];

/* guest_entry.S relies on these layouts. */
_Static_assert(offsetof(struct hvl_percpu, id) == HVL_PERCPU_ID, "percpu");
_Static_assert(offsetof(struct hvl_percpu, user_rsp) == HVL_PERCPU_USER_RSP,
	       "percpu");
_Static_assert(offsetof(struct hvl_percpu, saved_rsp) == HVL_PERCPU_SAVED_RSP,
	       "percpu");
_Static_assert(sizeof(struct ex_regs) == 22 * 8, "ex_regs");
_Static_assert(sizeof(struct hvl_tss) == 0x68, "tss");

void hvl_user_return(void);

/* The "memory" clobber makes sure *uc is in memory before the exit. */
static void ucall_out(struct guest_ucall *uc)
{
	asm volatile("outb %%al, %%dx"
		     :: "a"(0), "d"(UCALL_PORT), "D"(uc) : "memory");
}

void ucall(uint64_t kind, uint64_t nargs, const uint64_t *args)
{
	struct guest_ucall uc = { .kind = kind, .nargs = nargs };
	uint64_t i;

	for (i = 0; i < nargs && i < UCALL_MAX_ARGS; i++)
		uc.args[i] = args[i];
	ucall_out(&uc);
}

/* Terminal ucalls repeat forever, so re-running the vCPU cannot go astray. */
void ucall_done(void)
{
	for (;;)
		ucall(UCALL_DONE, 0, NULL);
}

void ucall_assert(const char *file, uint64_t line, const char *expr,
		  uint64_t nvals, uint64_t a, uint64_t b)
{
	struct guest_ucall uc = {
		.kind = UCALL_ABORT,
		.file = (uint64_t)file,
		.line = line,
		.expr = (uint64_t)expr,
		.nvals = nvals,
		.vals = { a, b },
	};

	for (;;)
		ucall_out(&uc);
}

void guest_install_handler(int vector, guest_handler_t handler)
{
	hvl_handlers[vector & 0xff] = handler;
}

static struct hvl_percpu *this_cpu(void)
{
	struct hvl_percpu *pc;

	asm volatile("movq %%gs:0, %0" : "=r"(pc));
	return pc;
}

/* Called by hvl_isr_common with the saved state of the interrupted code. */
void hvl_handle_exception(struct ex_regs *regs)
{
	struct hvl_percpu *pc = this_cpu();
	uint64_t args[6];

	if (regs->vector < 32 && regs->r10 == HVL_FIXUP_MAGIC) {
		regs->rip = regs->r11;
		regs->r10 = regs->vector;
		regs->r11 = regs->error_code;
		return;
	}

	/* int $USER_RET_VECTOR from hvl_user_entry: back to guest_run_user(). */
	if (regs->vector == USER_RET_VECTOR && (regs->cs & 3) == 3) {
		regs->rip = (uint64_t)hvl_user_return;
		regs->cs = KERNEL_CS;
		regs->ss = KERNEL_DS;
		regs->rsp = pc->saved_rsp;
		regs->rflags = X86_EFLAGS_FIXED;	/* popfq restores the rest */
		regs->rax = regs->rdi;
		return;
	}

	if (hvl_handlers[regs->vector]) {
		hvl_handlers[regs->vector](regs);
		return;
	}

	args[0] = regs->vector;
	args[1] = regs->error_code;
	args[2] = regs->rip;
	args[3] = regs->cs;
	args[4] = get_cr2();
	args[5] = regs->rsp;
	for (;;)
		ucall(UCALL_EXCEPTION, 6, args);
}
