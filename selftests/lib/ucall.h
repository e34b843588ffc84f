/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ucall: guest -> host calls.  The guest fills a struct guest_ucall on its
 * own stack and does "out %al, $UCALL_PORT" with the struct's address in
 * RDI; the host sees KVM_EXIT_IO, reads RDI with KVM_GET_REGS and copies the
 * struct out of guest memory.  Nothing is shared between vCPUs, so ucalls
 * from several vCPUs at once are safe.
 */
#ifndef HVL_UCALL_H
#define HVL_UCALL_H

#include <stdint.h>

enum ucall_kind {
	UCALL_NONE,		/* host side: the exit was not a ucall */
	UCALL_SYNC,		/* GUEST_SYNC(args...) */
	UCALL_DONE,		/* GUEST_DONE(), or the guest function returned */
	UCALL_ABORT,		/* a GUEST_ASSERT*() failed */
	UCALL_EXCEPTION,	/* an exception nobody handled */
};

#define UCALL_MAX_ARGS	6

/* The layout the guest writes; pointers are guest virtual (== physical). */
struct guest_ucall {
	uint64_t kind;
	uint64_t nargs;
	uint64_t args[UCALL_MAX_ARGS];
	/* UCALL_ABORT: where, what, and the values of GUEST_ASSERT_EQ/NE */
	uint64_t file;		/* const char * */
	uint64_t line;
	uint64_t expr;		/* const char * */
	uint64_t nvals;
	uint64_t vals[2];
};

/*
 * What the host gets back.  args[] are the SYNC arguments; for
 * UCALL_EXCEPTION they are vector, error code, RIP, CS, CR2, RSP.
 * msg is a readable one-line description for ABORT and EXCEPTION.
 */
struct ucall {
	uint64_t kind;
	uint64_t nargs;
	uint64_t args[UCALL_MAX_ARGS];
	char msg[512];
};

#endif
