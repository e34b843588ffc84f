// SPDX-License-Identifier: GPL-2.0
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
/* Top-level lines: checks outside scenarios, and one per scenario. */
static int planned = -1, count, passed, failed, skipped;
/* The checks inside scenarios, for the summary. */
static int scenarios, sub_passed, sub_failed, sub_skipped;
static bool header_done;

/* The running scenario (TEST_RUN), if any. */
static struct {
	bool active;
	pthread_t thread;
	char name[256];
	int count, passed, failed, skipped;
	bool skip;			/* test_skip() or not selected */
	char why[512];			/* test_skip()'s reason */
	char first_skip[512];		/* the first skipped check's reason */
} scen;

jmp_buf tap_scenario_jmp;

/* Called with tap_lock held. */
static void header(void)
{
	if (!header_done) {
		printf("TAP version 13\n");
		header_done = true;
	}
}

/* A harness misuse: end the test like a failed TEST_ASSERT does. */
static void __attribute__((noreturn)) bail(const char *what)
{
	printf("Bail out! %s\n", what);
	fflush(stdout);
	exit(1);
}

/* Indentation of checks and diagnostics: inside a scenario, a subtest's. */
static const char *indent(void)
{
	return scen.active ? "    " : "";
}

void tap_plan(int n)
{
	pthread_mutex_lock(&tap_lock);
	header();
	planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

/* One check; returns with tap_lock held so the caller can count it. */
static void result(const char *status, const char *directive,
		   const char *fmt, va_list ap)
{
	pthread_mutex_lock(&tap_lock);
	header();
	printf("%s%s %d %s", indent(), status,
	       scen.active ? ++scen.count : ++count, directive);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(cond ? "ok" : "not ok", "- ", fmt, ap);
	va_end(ap);
	if (scen.active) {
		(*(cond ? &scen.passed : &scen.failed))++;
		(*(cond ? &sub_passed : &sub_failed))++;
	} else {
		(*(cond ? &passed : &failed))++;
	}
	pthread_mutex_unlock(&tap_lock);
	return cond;
}

void tap_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result("ok", "# SKIP ", fmt, ap);
	va_end(ap);
	if (scen.active) {
		if (!scen.skipped++) {
			va_start(ap, fmt);
			vsnprintf(scen.first_skip, sizeof(scen.first_skip), fmt, ap);
			va_end(ap);
		}
		sub_skipped++;
	} else {
		skipped++;
	}
	pthread_mutex_unlock(&tap_lock);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	printf("%s# ", indent());
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

void tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	header();
	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(KSFT_SKIP);
}

/* Is this scenario among $HVL_TEST_ONLY's (comma-separated substrings)? */
static bool selected(const char *name)
{
	const char *only = getenv("HVL_TEST_ONLY"), *p, *end;

	if (!only || !*only)
		return true;
	for (p = only; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ',');
		if (end > p && memmem(name, strlen(name), p, end - p))
			return true;
	}
	return false;
}

bool tap_scenario_begin(const char *name)
{
	bool run = selected(name);

	pthread_mutex_lock(&tap_lock);
	if (scen.active)
		bail("TEST_RUN inside a scenario");
	header();
	memset(&scen, 0, sizeof(scen));
	scen.active = true;
	scen.thread = pthread_self();
	snprintf(scen.name, sizeof(scen.name), "%s", name);
	printf("# Subtest: %s\n", name);
	if (!run) {
		scen.skip = true;
		snprintf(scen.why, sizeof(scen.why),
			 "not selected by HVL_TEST_ONLY");
	}
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	return run;
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	if (!scen.active)
		bail("test_skip() outside TEST_RUN");
	/* longjmp() can only go back within the thread that called setjmp(). */
	if (!pthread_equal(scen.thread, pthread_self()))
		bail("test_skip() from a thread other than the scenario's");
	scen.skip = true;
	va_start(ap, fmt);
	vsnprintf(scen.why, sizeof(scen.why), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&tap_lock);
	longjmp(tap_scenario_jmp, 1);
}

void tap_scenario_end(void)
{
	const char *name = scen.name;
	int n;

	pthread_mutex_lock(&tap_lock);
	printf("    1..%d\n", scen.count);
	scen.active = false;
	scenarios++;
	n = ++count;
	if (scen.failed) {
		if (scen.skip)
			printf("    # then skipped: %s\n", scen.why);
		printf("not ok %d - %s\n", n, name);
		failed++;
	} else if (scen.skip) {
		printf("ok %d - %s # SKIP %s\n", n, name, scen.why);
		skipped++;
	} else if (!scen.passed && scen.skipped) {
		/* Every check skipped: so did the scenario. */
		printf("ok %d - %s # SKIP %s\n", n, name, scen.first_skip);
		skipped++;
	} else if (!scen.passed) {
		printf("not ok %d - %s: no check ran\n", n, name);
		failed++;
	} else {
		printf("ok %d - %s\n", n, name);
		passed++;
	}
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

int tap_done(void)
{
	int ret;

	pthread_mutex_lock(&tap_lock);
	header();
	if (scen.active)
		bail("tap_done() inside a scenario");
	if (planned < 0)
		printf("1..%d\n", count);
	else if (planned != count)
		printf("# planned %d tests but ran %d\n", planned, count);
	printf("# %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	if (scenarios)
		printf("# checks in the %d scenarios: %d passed, %d failed, %d skipped\n",
		       scenarios, sub_passed, sub_failed, sub_skipped);
	/* A test that checked nothing has not passed. */
	if (!count)
		printf("# no test ran\n");
	fflush(stdout);
	ret = failed || !count || (planned >= 0 && planned != count);
	pthread_mutex_unlock(&tap_lock);
	return ret;
}
