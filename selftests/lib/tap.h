/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TAP (version 13) output.  Each check is one "ok"/"not ok" line; a check
 * that cannot run is "ok N # SKIP reason", never a silent pass.
 * Thread-safe.
 *
 * Scenarios: a test's main() runs each scenario through TEST_RUN(), which
 * makes it a TAP subtest: "# Subtest: name", its checks indented by four
 * spaces and numbered from 1, their plan, then ONE top-level line for the
 * scenario: "ok N - name", "not ok N - name" (a check in it failed) or
 * "ok N - name # SKIP reason" (test_skip()).  The top-level lines are what
 * scripts/check counts and selftests/run looks at, so how many checks a
 * scenario would have had never needs to be known where it skips.
 */
#ifndef HVL_TAP_H
#define HVL_TAP_H

#include <setjmp.h>
#include <stdbool.h>

#define KSFT_SKIP	4	/* exit status of a test that skipped entirely */

/* Print the header and the plan "1..n"; without it, tap_done() prints it. */
void tap_plan(int n);

/* "ok N - desc" or "not ok N - desc"; returns cond. */
bool __attribute__((format(printf, 2, 3))) tap_ok(bool cond, const char *fmt, ...);

/* "ok N # SKIP reason": one check that does not apply here. */
void __attribute__((format(printf, 1, 2))) tap_skip(const char *fmt, ...);

/* "# text": diagnostics, allowed anywhere. */
void __attribute__((format(printf, 1, 2))) tap_diag(const char *fmt, ...);

/* Nothing can run at all: "1..0 # SKIP reason", exit(KSFT_SKIP). */
void __attribute__((noreturn, format(printf, 1, 2))) tap_skip_all(const char *fmt, ...);

/*
 * TEST_RUN(name, statements): run one scenario, e.g.
 *
 *	TEST_RUN("no irqchip", test_no_irqchip());
 *	TEST_RUN(x2 ? "x2APIC: TPR" : "xAPIC: TPR", test_tpr(x2));
 *
 * The scenario fails if any check in it fails and passes if at least one
 * passed and none failed; one without any check fails too ("no check
 * ran"): a scenario that has nothing to check calls test_skip().
 * $HVL_TEST_ONLY (comma-separated substrings of names) runs only the
 * matching scenarios; the others SKIP.  TEST_ASSERT() failures still end
 * the whole test ("Bail out!").
 */
#define TEST_RUN(name, ...)						\
do {									\
	if (tap_scenario_begin(name)) {					\
		if (!setjmp(tap_scenario_jmp)) {			\
			__VA_ARGS__;					\
		}							\
	}								\
	tap_scenario_end();						\
} while (0)

/*
 * The scenario does not apply here: one "ok N - name # SKIP reason" for all
 * of it, whatever it would have checked.  Only from the thread running the
 * scenario (not a vCPU thread); never returns.  Free what the scenario
 * holds (VMs) first.  After a failed check the scenario stays "not ok".
 */
void __attribute__((noreturn, format(printf, 1, 2))) test_skip(const char *fmt, ...);

/* Used by TEST_RUN(). */
extern jmp_buf tap_scenario_jmp;
bool tap_scenario_begin(const char *name);
void tap_scenario_end(void);

/*
 * Finish: print the plan if none was given and a summary line; return the
 * exit status: 0 if all passed or skipped and the plan was met, else 1
 * (also when nothing ran at all).  With scenarios, the plan and the summary
 * count the top-level (scenario) lines; a second line sums the checks.
 * Use as "return tap_done();" from main().
 */
int tap_done(void);

#endif
