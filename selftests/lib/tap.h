/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TAP (version 13) output.  Each check is one "ok"/"not ok" line; a check
 * that cannot run is "ok N # SKIP reason", never a silent pass.
 * Thread-safe.
 */
#ifndef HVL_TAP_H
#define HVL_TAP_H

#include <stdbool.h>

#define KSFT_SKIP	4	/* exit status of a test that skipped entirely */

/* Print the header and the plan "1..n"; without it, tap_done() prints it. */
void tap_plan(int n);

/* "ok N - desc" or "not ok N - desc"; returns cond. */
bool __attribute__((format(printf, 2, 3))) tap_ok(bool cond, const char *fmt, ...);

/* "ok N # SKIP reason" */
void __attribute__((format(printf, 1, 2))) tap_skip(const char *fmt, ...);

/* "# text": diagnostics, allowed anywhere. */
void __attribute__((format(printf, 1, 2))) tap_diag(const char *fmt, ...);

/* Nothing can run at all: "1..0 # SKIP reason", exit(KSFT_SKIP). */
void __attribute__((noreturn, format(printf, 1, 2))) tap_skip_all(const char *fmt, ...);

/*
 * Finish: print the plan if none was given and a summary line; return the
 * exit status: 0 if all passed or skipped and the plan was met, else 1
 * (also when nothing ran at all).
 * Use as "return tap_done();" from main().
 */
int tap_done(void);

#endif
